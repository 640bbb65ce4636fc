//! One table's neighbourhood in the schema as a small graph: the table as a box in the middle,
//! the tables whose foreign keys point at it on the left (arrows into the box), the tables it
//! points at on the right (arrows out of it), each arrow labelled with its foreign-key column.
//!
//! ```text
//!                         ┏ users ━━━━━━━━━━┓
//!   projects ─owner_id────▶┃ PK id           ┣─tenant_id──▶ tenants
//!   payments ─created_by──▶┃ 6 columns, 2 FK ┣─role_id────▶ roles
//!   api_keys ─created_by──▶┃ tenant-scoped   ┃
//!  audit_log ─user_id─────▶┃                 ┃
//!                          ┗━━━━━━━━━━━━━━━━━┛
//! ```
//!
//! One row per key keeps every arrow straight (no crossings to untangle). When that does not
//! fit, the same keys come as one line each (`← projects.owner_id`, `→ tenants (tenant_id)`),
//! scrolled to keep the selected one in view.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget};

use super::super::theme::Theme;
use super::fit;
use super::lines::{Grid, set};

/// Narrowest box around the table.
const MIN_BOX_W: u16 = 12;
/// Most extra dashes an arrow gets when there is room to spare.
const MAX_STRETCH: u16 = 8;

/// A foreign key seen from the table in the middle: the other table and the key's column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The other table (the referencing one for incoming keys, the referenced one for outgoing).
    pub table: String,
    /// The foreign-key column (in the referencing table).
    pub column: String,
}

/// The key the user has selected, drawn highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The n-th key pointing at the table.
    Incoming(usize),
    /// The n-th key of the table itself.
    Outgoing(usize),
}

/// The neighbourhood of `table`.
pub struct Neighbourhood<'a> {
    table: &'a str,
    facts: Vec<String>,
    incoming: Vec<Edge>,
    outgoing: Vec<Edge>,
    pick: Option<Pick>,
    theme: &'a Theme,
}

/// Where the parts go, for one area width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    /// Left edge of the whole graph (centred).
    left: u16,
    /// Width of the incoming tables' names (right-aligned).
    in_name_w: u16,
    /// Left edge and width of the box.
    box_x: u16,
    box_w: u16,
    /// Left edge of the outgoing tables' names.
    out_x: u16,
}

impl<'a> Neighbourhood<'a> {
    /// `table` with `facts` (lines in its box), the keys pointing at it and its own keys.
    pub fn new(
        table: &'a str,
        facts: Vec<String>,
        incoming: Vec<Edge>,
        outgoing: Vec<Edge>,
        theme: &'a Theme,
    ) -> Self {
        Self {
            table,
            facts,
            incoming,
            outgoing,
            pick: None,
            theme,
        }
    }

    /// Highlights the key the user has selected.
    pub fn pick(mut self, pick: Option<Pick>) -> Self {
        self.pick = pick;
        self
    }

    /// Rows the graph takes: a box with one inner row per key on its busier side.
    pub fn graph_height(&self) -> u16 {
        let rows = self
            .incoming
            .len()
            .max(self.outgoing.len())
            .max(self.facts.len())
            .max(1);
        u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2)
    }

    /// Lines of the one-line-per-key form.
    pub fn list_height(&self) -> u16 {
        u16::try_from((self.incoming.len() + self.outgoing.len()).max(1)).unwrap_or(u16::MAX)
    }

    /// Whether the graph fits into `width` × `height` (otherwise the list is drawn).
    pub fn fits_as_graph(&self, width: u16, height: u16) -> bool {
        self.geometry(width).is_some() && self.graph_height() <= height
    }

    /// First line the list form shows in `height` lines: the picked key stays in view.
    pub fn list_offset(&self, height: usize) -> usize {
        let at = match self.pick {
            Some(Pick::Incoming(i)) => i,
            Some(Pick::Outgoing(i)) => self.incoming.len() + i,
            None => 0,
        };
        let total = usize::from(self.list_height());
        at.saturating_sub(height.saturating_sub(1))
            .min(total.saturating_sub(height))
    }

    fn widest(names: impl Iterator<Item = usize>) -> u16 {
        u16::try_from(names.max().unwrap_or(0)).unwrap_or(u16::MAX)
    }

    /// Lays the graph out `width` wide; `None` when it does not fit.
    fn geometry(&self, width: u16) -> Option<Geometry> {
        let chars = |s: &String| s.chars().count();
        let in_name_w = Self::widest(self.incoming.iter().map(|e| chars(&e.table)));
        let in_label_w = Self::widest(self.incoming.iter().map(|e| chars(&e.column)));
        let out_name_w = Self::widest(self.outgoing.iter().map(|e| chars(&e.table)));
        let out_label_w = Self::widest(self.outgoing.iter().map(|e| chars(&e.column)));
        let box_w = Self::widest(
            self.facts
                .iter()
                .map(|f| chars(f) + 4)
                .chain([self.table.chars().count() + 4]),
        )
        .max(MIN_BOX_W);
        // An arrow is `─label─…▶`: at least two dashes after its label and the head.
        let in_arrow = if self.incoming.is_empty() {
            0
        } else {
            in_label_w + 4
        };
        let out_arrow = if self.outgoing.is_empty() {
            0
        } else {
            out_label_w + 4
        };
        let in_w = if self.incoming.is_empty() {
            0
        } else {
            in_name_w + 1 + in_arrow
        };
        let out_w = if self.outgoing.is_empty() {
            0
        } else {
            out_arrow + 1 + out_name_w
        };
        let least = in_w + box_w + out_w;
        let spare = width.checked_sub(least)?;
        // Room to spare lengthens the arrows a little; the box goes to the middle when both
        // sides leave room for it, else as near as they let it.
        let stretch = (spare / 4).min(MAX_STRETCH);
        let in_w = if in_w > 0 { in_w + stretch } else { 0 };
        let out_w = if out_w > 0 { out_w + stretch } else { 0 };
        let box_x =
            ((width - box_w) / 2).clamp(in_w, width.saturating_sub(box_w + out_w).max(in_w));
        let left = box_x - in_w;
        let out_x = box_x + box_w + out_w - out_name_w;
        Some(Geometry {
            left,
            in_name_w,
            box_x,
            box_w,
            out_x,
        })
    }

    /// Styles of an edge's table name and column label. They start from a reset: written over
    /// the dim arrow line, a style without its own colour would take the line's.
    fn edge_styles(&self, pick: Pick) -> (Style, Style) {
        let (name, label) = if self.pick == Some(pick) {
            (self.theme.selected, self.theme.selected)
        } else {
            (self.theme.accent, self.theme.text)
        };
        (Style::reset().patch(name), Style::reset().patch(label))
    }

    fn render_graph(&self, g: Geometry, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let mut grid = Grid::new(area.width, area.height);
        let box_right = g.box_x + g.box_w;
        for (i, _) in self.incoming.iter().enumerate() {
            let y = 1 + i as u16;
            grid.hline(y, g.left + g.in_name_w + 1, g.box_x.saturating_sub(2));
        }
        for (i, _) in self.outgoing.iter().enumerate() {
            let y = 1 + i as u16;
            grid.hline(y, box_right, g.out_x.saturating_sub(3));
        }
        grid.render(area, buf, theme.dim);
        let block = Block::bordered()
            .border_type(BorderType::Thick)
            .border_style(theme.border_focus)
            .title(fit(
                &format!(" {} ", self.table),
                usize::from(g.box_w.saturating_sub(2)),
            ))
            .title_style(theme.accent);
        let outer = Rect::new(
            area.x + g.box_x,
            area.y,
            g.box_w,
            self.graph_height().min(area.height),
        )
        .intersection(area);
        let inner = block.inner(outer);
        block.render(outer, buf);
        let facts: Vec<Line> = self
            .facts
            .iter()
            .map(|f| Line::styled(fit(&format!(" {f}"), usize::from(inner.width)), theme.text))
            .collect();
        Paragraph::new(facts).render(inner, buf);
        for (i, edge) in self.incoming.iter().enumerate() {
            let y = 1 + i as u16;
            let (name_style, label_style) = self.edge_styles(Pick::Incoming(i));
            let name = format!("{:>w$}", edge.table, w = usize::from(g.in_name_w));
            set(buf, area, g.left, y, &name, name_style);
            set(
                buf,
                area,
                g.left + g.in_name_w + 2,
                y,
                &edge.column,
                label_style,
            );
            set(buf, area, g.box_x.saturating_sub(1), y, "▶", theme.dim);
        }
        for (i, edge) in self.outgoing.iter().enumerate() {
            let y = 1 + i as u16;
            let (name_style, label_style) = self.edge_styles(Pick::Outgoing(i));
            // The arrow leaves through the box's border, as in the broker's flow.
            set(buf, area, box_right - 1, y, "┣", theme.border_focus);
            set(buf, area, box_right + 1, y, &edge.column, label_style);
            set(buf, area, g.out_x.saturating_sub(2), y, "▶", theme.dim);
            set(buf, area, g.out_x, y, &edge.table, name_style);
        }
    }

    /// The one-line-per-key form, scrolled to keep the picked key in view.
    fn render_list(&self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let mut lines: Vec<(Pick, Line)> = Vec::new();
        for (i, edge) in self.incoming.iter().enumerate() {
            let (_, style) = self.edge_styles(Pick::Incoming(i));
            let text = fit(
                &format!("← {}.{}", edge.table, edge.column),
                usize::from(area.width),
            );
            lines.push((Pick::Incoming(i), Line::styled(text, style)));
        }
        for (i, edge) in self.outgoing.iter().enumerate() {
            let (_, style) = self.edge_styles(Pick::Outgoing(i));
            lines.push((
                Pick::Outgoing(i),
                Line::from(vec![
                    Span::styled(format!("→ {}", edge.table), style),
                    Span::styled(format!(" ({})", edge.column), theme.dim),
                ]),
            ));
        }
        if lines.is_empty() {
            Paragraph::new(Line::styled("no foreign key in or out", theme.dim)).render(area, buf);
            return;
        }
        let height = usize::from(area.height);
        let offset = self.list_offset(height);
        let shown: Vec<Line> = lines
            .into_iter()
            .skip(offset)
            .take(height)
            .map(|(_, line)| line)
            .collect();
        Paragraph::new(shown).render(area, buf);
    }
}

impl Widget for &Neighbourhood<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < 3 || area.height == 0 {
            return;
        }
        match self
            .geometry(area.width)
            .filter(|_| self.graph_height() <= area.height)
        {
            Some(geometry) => self.render_graph(geometry, area, buf),
            None => self.render_list(area, buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::ThemeName;

    fn edge(table: &str, column: &str) -> Edge {
        Edge {
            table: table.into(),
            column: column.into(),
        }
    }

    fn screen(view: &Neighbourhood, width: u16, height: u16) -> Vec<String> {
        let area = Rect::new(0, 0, width, height);
        let mut buf = Buffer::empty(area);
        view.render(area, &mut buf);
        (0..height)
            .map(|y| {
                let row: String = (0..width).map(|x| buf[(x, y)].symbol()).collect();
                row.trim_end().to_string()
            })
            .collect()
    }

    fn users(theme: &Theme) -> Neighbourhood<'_> {
        Neighbourhood::new(
            "users",
            vec!["PK id".into()],
            vec![edge("projects", "owner_id"), edge("audit_log", "user_id")],
            vec![edge("tenants", "tenant_id")],
            theme,
        )
    }

    #[test]
    fn the_table_sits_in_a_box_between_what_points_at_it_and_what_it_points_at() {
        let theme = Theme::new(ThemeName::Dark);
        let rows = screen(&users(&theme), 60, 4);
        assert_eq!(
            rows,
            vec![
                "                        ┏ users ━━━┓",
                "  projects ─owner_id───▶┃ PK id    ┣─tenant_id───▶ tenants",
                " audit_log ─user_id────▶┃          ┃",
                "                        ┗━━━━━━━━━━┛",
            ]
        );
    }

    #[test]
    fn the_selected_key_stands_out() {
        let theme = Theme::new(ThemeName::Dark);
        let area = Rect::new(0, 0, 60, 4);
        let mut buf = Buffer::empty(area);
        (&users(&theme).pick(Some(Pick::Outgoing(0)))).render(area, &mut buf);
        let label: String = (37..46).map(|x| buf[(x, 1)].symbol()).collect();
        assert_eq!(label, "tenant_id");
        assert_eq!(buf[(37, 1)].style().fg, theme.selected.fg);
        let other = buf[(12, 1)].style().fg;
        assert_ne!(other, theme.selected.fg, "owner_id is not picked");
        assert_ne!(
            other, theme.dim.fg,
            "a label reads as text, not as the dim line"
        );
    }

    #[test]
    fn too_small_for_the_graph_it_lists_the_keys() {
        let theme = Theme::new(ThemeName::Dark);
        let view = users(&theme);
        assert!(!view.fits_as_graph(30, 4));
        let rows = screen(&view, 30, 3);
        assert_eq!(
            rows,
            vec![
                "← projects.owner_id",
                "← audit_log.user_id",
                "→ tenants (tenant_id)"
            ]
        );
        // Two lines: the picked key scrolls into view.
        let rows = screen(&users(&theme).pick(Some(Pick::Outgoing(0))), 30, 2);
        assert_eq!(rows, vec!["← audit_log.user_id", "→ tenants (tenant_id)"]);
    }
}
