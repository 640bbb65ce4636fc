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

/// Narrowest box the graph shrinks to before it falls back to one-line chips.
const MIN_BOX_W: u16 = 10;

/// How the graph is drawn in an area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Bordered boxes `box_w` wide, `per_row` layers to a row, snaking.
    Boxes { box_w: u16, per_row: usize },
    /// One line per row of `✓ title → ✓ title …` chips: every stage stays visible when boxes
    /// would not fit.
    Chips,
}

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

    /// (boxes per row, rows) the graph needs in `width` columns with its natural box width.
    pub fn shape(&self, width: u16) -> (usize, usize) {
        let per_row = Self::per_row(self.box_width(), width);
        let rows = self.layers.len().div_ceil(per_row).max(1);
        (per_row, rows)
    }

    fn per_row(box_w: u16, width: u16) -> usize {
        usize::from(((width + GAP) / (box_w + GAP)).max(1))
    }

    /// Lines needed to draw the graph in `width` columns with its natural box width.
    pub fn height(&self, width: u16) -> u16 {
        self.boxes_height(Self::per_row(self.box_width(), width))
    }

    fn boxes_height(&self, per_row: usize) -> u16 {
        self.layers
            .chunks(per_row)
            .map(|row| row.iter().map(Vec::len).max().unwrap_or(1) as u16 * BOX_H)
            .sum()
    }

    /// The widest boxes with which every stage fits in `area`; chips when none do.
    fn fit_shape(&self, area: Rect) -> Shape {
        let natural = self.box_width().min(area.width);
        (MIN_BOX_W.min(natural)..=natural)
            .rev()
            .map(|box_w| (box_w, Self::per_row(box_w, area.width)))
            .find(|&(_, per_row)| self.boxes_height(per_row) <= area.height)
            .map_or(Shape::Chips, |(box_w, per_row)| Shape::Boxes {
                box_w,
                per_row,
            })
    }

    fn status_look(&self, node: &Node) -> (Style, &'static str) {
        match node.status {
            NodeStatus::Unreached => (self.theme.dim, "·"),
            NodeStatus::Reached(outcome) => (self.theme.outcome(outcome), outcome_symbol(outcome)),
        }
    }

    /// Every node as `✓ title`, joined by arrows and wrapped at the area's width; the current
    /// stage highlighted. Layers of several nodes show them side by side, split by `|`.
    fn render_chips(&self, area: Rect, buf: &mut Buffer) {
        let (mut x, mut y) = (area.x, area.y);
        let nodes: Vec<&Node> = self.layers.iter().flatten().collect();
        for (i, node) in nodes.iter().enumerate() {
            let (style, symbol) = self.status_look(node);
            let chip = format!("{symbol} {}", node.title);
            let arrow = if i + 1 < nodes.len() { " → " } else { "" };
            let needed = (chip.chars().count() + arrow.chars().count()) as u16;
            if x > area.x && x + needed > area.right() {
                x = area.x;
                y += 1;
            }
            if y >= area.bottom() {
                return;
            }
            let room = usize::from(area.right().saturating_sub(x));
            let chip = fit(&chip, room);
            let chip_style = if node.current {
                self.theme.selected
            } else {
                style
            };
            let (after, _) = buf.set_stringn(x, y, &chip, room, chip_style);
            let room = usize::from(area.right().saturating_sub(after));
            let (after, _) = buf.set_stringn(after, y, arrow, room, self.theme.dim);
            x = after;
        }
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
        let (style, symbol) = self.status_look(node);
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
        if area.width < 8 || area.height == 0 {
            return;
        }
        let (box_w, per_row) = match self.fit_shape(area) {
            Shape::Boxes { box_w, per_row } => (box_w, per_row),
            Shape::Chips => return self.render_chips(area, buf),
        };
        let cell = box_w + GAP;
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

    fn rendered(graph: &StageGraph, width: u16, height: u16) -> Vec<String> {
        let area = Rect::new(0, 0, width, height);
        let mut buf = Buffer::empty(area);
        graph.render(area, &mut buf);
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_stage_stays_visible_when_the_area_is_short() {
        let theme = Theme::new(Name::Dark);
        let ids = [
            "dns", "cdn", "waf", "lb", "gateway", "auth", "rbac", "database", "response",
        ];
        let mut layers: Vec<Vec<Node>> = ids
            .iter()
            .map(|id| vec![node(id, NodeStatus::Reached(Outcome::Pass))])
            .collect();
        layers[8][0].current = true;
        let graph = StageGraph {
            layers,
            theme: &theme,
        };
        // Natural boxes (12 wide) need 3 rows of boxes = 9 lines in 40 columns; 6 lines make
        // the boxes shrink to fit 5 a row, and the last stage is still drawn.
        let text = rendered(&graph, 60, 6).join("\n");
        assert!(text.contains("RESP"), "{text}");
        assert!(text.contains("DNS"), "{text}");
        // Too short for any boxes: one-line chips, every stage named in full.
        let text = rendered(&graph, 60, 3).join("\n");
        for id in ids {
            assert!(text.contains(&id.to_uppercase()), "{id} missing:\n{text}");
        }
        assert!(text.contains("→"), "{text}");
    }
}
