//! Line drawing shared by the graph widgets (the broker's flow, the schema's neighbourhood):
//! a grid of line directions that turns into box-drawing characters, so crossings and merges
//! become `┼ ┬ ┴` by themselves, and clipped text placed relative to an area.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

/// Writes `text` at (`x`, `y`) relative to `area`, clipped to it.
pub fn set(buf: &mut Buffer, area: Rect, x: u16, y: u16, text: &str, style: Style) {
    if x >= area.width || y >= area.height {
        return;
    }
    let room = usize::from(area.width - x);
    buf.set_stringn(area.x + x, area.y + y, text, room, style);
}

/// Line directions per cell; each cell becomes the box-drawing character of its directions.
pub struct Grid {
    width: u16,
    height: u16,
    cells: Vec<u8>,
}

const UP: u8 = 1;
const DOWN: u8 = 2;
const LEFT: u8 = 4;
const RIGHT: u8 = 8;

impl Grid {
    /// An empty grid `width` × `height`.
    pub fn new(width: u16, height: u16) -> Self {
        Self {
            width,
            height,
            cells: vec![0; usize::from(width) * usize::from(height)],
        }
    }

    fn add(&mut self, x: u16, y: u16, bits: u8) {
        if x < self.width && y < self.height {
            self.cells[usize::from(y) * usize::from(self.width) + usize::from(x)] |= bits;
        }
    }

    /// A horizontal line from `x1` to `x2` (inclusive) at `y`.
    pub fn hline(&mut self, y: u16, x1: u16, x2: u16) {
        let (a, b) = (x1.min(x2), x1.max(x2));
        for x in a..=b {
            let mut bits = 0;
            if x > a {
                bits |= LEFT;
            }
            if x < b {
                bits |= RIGHT;
            }
            self.add(x, y, bits);
        }
    }

    /// A vertical line from `y1` to `y2` (inclusive) at `x`.
    pub fn vline(&mut self, x: u16, y1: u16, y2: u16) {
        let (a, b) = (y1.min(y2), y1.max(y2));
        for y in a..=b {
            let mut bits = 0;
            if y > a {
                bits |= UP;
            }
            if y < b {
                bits |= DOWN;
            }
            self.add(x, y, bits);
        }
    }

    /// Draws the lines into `area` (from its top left) in `style`.
    pub fn render(&self, area: Rect, buf: &mut Buffer, style: Style) {
        for y in 0..self.height.min(area.height) {
            for x in 0..self.width.min(area.width) {
                let bits = self.cells[usize::from(y) * usize::from(self.width) + usize::from(x)];
                if let Some(symbol) = line_symbol(bits) {
                    buf[(area.x + x, area.y + y)]
                        .set_symbol(symbol)
                        .set_style(style);
                }
            }
        }
    }
}

fn line_symbol(bits: u8) -> Option<&'static str> {
    let horizontal = bits & (LEFT | RIGHT) != 0;
    let vertical = bits & (UP | DOWN) != 0;
    Some(match bits {
        0 => return None,
        b if b == UP | DOWN | LEFT | RIGHT => "┼",
        b if b == UP | DOWN | RIGHT => "├",
        b if b == UP | DOWN | LEFT => "┤",
        b if b == LEFT | RIGHT | DOWN => "┬",
        b if b == LEFT | RIGHT | UP => "┴",
        b if b == DOWN | RIGHT => "┌",
        b if b == DOWN | LEFT => "┐",
        b if b == UP | RIGHT => "└",
        b if b == UP | LEFT => "┘",
        _ if horizontal && !vertical => "─",
        _ => "│",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_directions_become_box_drawing_characters() {
        let mut grid = Grid::new(5, 3);
        grid.hline(0, 0, 2);
        grid.vline(2, 0, 2);
        grid.hline(2, 2, 4);
        grid.hline(1, 2, 4);
        let area = Rect::new(0, 0, 5, 3);
        let mut buf = Buffer::empty(area);
        grid.render(area, &mut buf, Style::default());
        let rows: Vec<String> = (0..3)
            .map(|y| (0..5).map(|x| buf[(x, y)].symbol().to_string()).collect())
            .collect();
        assert_eq!(rows, vec!["──┐  ", "  ├──", "  └──"]);
    }
}
