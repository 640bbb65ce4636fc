//! The request-stage graph drawn as boxes and arrows, laid out in the topology's layers.
//!
//! ```text
//!  ┌─────────┐   ┌─────────┐   ┌─────────┐
//!  │✓ DNS    │──▶│✓ CDN    │──▶│✗ WAF    │     row 0 runs left → right,
//!  └─────────┘   └hit→Resp…┘   └────┬────┘
//!  ┌─────────┐   ┌─────────┐   ┌────▼────┐
//!  │· Resp…  │◀──│· Gateway│◀──│· LB     │     row 1 right → left (a snake), so every
//!  └─────────┘   └─────────┘   └─────────┘     arrow stays short and the flow never jumps.
//! ```
//!
//! Each box is coloured by what the request did there (outcome colour and symbol), the current
//! stage is drawn thick and highlighted, stages never reached are dim, and an arrow is bright
//! only if the request took it. A stage with a hit short cut names it on its bottom border.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, BorderType, Widget};

use super::super::theme::{Theme, outcome_symbol};
use super::fit;
use crate::engine::Outcome;

/// What the request did at a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStatus {
    /// Never reached.
    Unreached,
    /// Reached, with this outcome.
    Reached(Outcome),
}

/// One box.
#[derive(Debug, Clone)]
pub struct Node {
    /// Stage id.
    pub id: String,
    /// Title shown.
    pub title: String,
    /// What happened there.
    pub status: NodeStatus,
    /// The stage being looked at.
    pub current: bool,
    /// Title of the stage its hit short cut leads to, and whether the request took it.
    pub hit: Option<(String, bool)>,
}

/// The graph: layers of nodes, and which consecutive layers' arrows were taken.
#[derive(Debug, Clone)]
pub struct StageGraph<'a> {
    /// Layers in order; a layer's nodes are stacked in one column.
    pub layers: Vec<Vec<Node>>,
    /// Colours.
    pub theme: &'a Theme,
}

/// Width of the gap holding an arrow between boxes.
const GAP: u16 = 3;
/// Height of a box.
const BOX_H: u16 = 3;

impl StageGraph<'_> {
    /// Box width for `area`: wide enough for the longest title, at most 20.
    fn box_width(&self) -> u16 {
        let longest = self
            .layers
            .iter()
            .flatten()
            .map(|n| n.title.chars().count())
            .max()
            .unwrap_or(4);
        (longest as u16 + 4).clamp(8, 20)
    }

    /// (boxes per row, rows) the graph needs in `width` columns.
    pub fn shape(&self, width: u16) -> (usize, usize) {
        let cell = self.box_width() + GAP;
        let per_row = usize::from(((width + GAP) / cell).max(1));
        let rows = self.layers.len().div_ceil(per_row).max(1);
        (per_row, rows)
    }

    /// Lines needed to draw the graph in `width` columns.
    pub fn height(&self, width: u16) -> u16 {
        let (per_row, _) = self.shape(width);
        self.layers
            .chunks(per_row)
            .map(|row| row.iter().map(Vec::len).max().unwrap_or(1) as u16 * BOX_H)
            .sum()
    }

    fn arrow_style(&self, from: &Node, to: &Node) -> Style {
        let taken = matches!(from.status, NodeStatus::Reached(o) if o != Outcome::Reject && o != Outcome::Error && o != Outcome::Hit)
            && matches!(to.status, NodeStatus::Reached(_));
        if taken {
            self.theme.pass
        } else {
            self.theme.dim
        }
    }

    fn draw_node(&self, node: &Node, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let (style, symbol) = match node.status {
            NodeStatus::Unreached => (theme.dim, "·"),
            NodeStatus::Reached(outcome) => (theme.outcome(outcome), outcome_symbol(outcome)),
        };
        let mut block = Block::bordered()
            .border_type(if node.current {
                BorderType::Thick
            } else {
                BorderType::Rounded
            })
            .border_style(if node.current {
                theme.border_focus
            } else {
                style
            });
        if let Some((target, taken)) = &node.hit {
            let label = fit(
                &format!("hit→{target}"),
                usize::from(area.width.saturating_sub(2)),
            );
            block = block.title_bottom(ratatui::text::Span::styled(
                label,
                if *taken { theme.hit } else { theme.dim },
            ));
        }
        let inner = block.inner(area);
        block.render(area, buf);
        let text = fit(
            &format!("{symbol} {}", node.title),
            usize::from(inner.width),
        );
        let text_style = if node.current { theme.selected } else { style };
        buf.set_stringn(
            inner.x,
            inner.y,
            &text,
            usize::from(inner.width),
            text_style,
        );
    }
}

impl Widget for &StageGraph<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < 8 || area.height < BOX_H {
            return;
        }
        let box_w = self.box_width().min(area.width);
        let cell = box_w + GAP;
        let (per_row, _) = self.shape(area.width);
        let mut y = area.y;
        let mut previous: Option<(&Node, u16, u16)> = None; // (node, x, y) of the last layer's first box
        for (row_index, row) in self.layers.chunks(per_row).enumerate() {
            let row_h = row.iter().map(Vec::len).max().unwrap_or(1) as u16 * BOX_H;
            if y + BOX_H > area.bottom() {
                break;
            }
            let reversed = row_index % 2 == 1;
            for (i, layer) in row.iter().enumerate() {
                let column = if reversed { per_row - 1 - i } else { i } as u16;
                let x = area.x + column * cell;
                for (k, node) in layer.iter().enumerate() {
                    let node_y = y + k as u16 * BOX_H;
                    if node_y + BOX_H > area.bottom() {
                        break;
                    }
                    self.draw_node(node, Rect::new(x, node_y, box_w, BOX_H), buf);
                }
                let Some(first) = layer.first() else { continue };
                if let Some((prev, px, py)) = previous {
                    let style = self.arrow_style(prev, first);
                    if py == y {
                        // Same row: a horizontal arrow in the gap.
                        let mid = y + 1;
                        let (gx, arrow) = if reversed {
                            (x + box_w, "◀──")
                        } else {
                            (px + box_w, "──▶")
                        };
                        buf.set_stringn(gx, mid, arrow, usize::from(GAP), style);
                    } else {
                        // Next row, same column: mark the bottom and top borders.
                        let cx = px + box_w / 2;
                        buf.set_stringn(cx, py + BOX_H - 1, "┬", 1, style);
                        buf.set_stringn(cx, y, "▼", 1, style);
                    }
                }
                previous = Some((first, x, y));
            }
            y += row_h;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::ThemeName as Name;

    fn node(id: &str, status: NodeStatus) -> Node {
        Node {
            id: id.into(),
            title: id.to_uppercase(),
            status,
            current: false,
            hit: None,
        }
    }

    #[test]
    fn wraps_as_a_snake() {
        let theme = Theme::new(Name::Dark);
        let layers: Vec<Vec<Node>> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| vec![node(id, NodeStatus::Reached(Outcome::Pass))])
            .collect();
        let graph = StageGraph {
            layers,
            theme: &theme,
        };
        // Boxes are 8 wide, cells 11: 3 fit in 30 columns.
        assert_eq!(graph.shape(30), (3, 2));
        let area = Rect::new(0, 0, 30, 6);
        let mut buf = Buffer::empty(area);
        (&graph).render(area, &mut buf);
        let text: Vec<String> = (0..6)
            .map(|y| (0..30).map(|x| buf[(x, y)].symbol().to_string()).collect())
            .collect();
        assert!(text[1].contains("──▶"), "{text:#?}");
        assert!(text[3].starts_with("                      ╭"), "{text:#?}");
        assert!(text[3].contains('▼'), "{text:#?}");
    }
}
