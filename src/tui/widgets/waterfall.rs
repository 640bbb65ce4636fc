//! A waterfall of modelled time per stage, like a browser's network timeline: each stage's bar
//! starts where the previous stages' time ends.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use super::super::theme::Theme;
use super::{fit, ms};
use crate::engine::StageRecord;

/// The waterfall of one trace.
#[derive(Debug)]
pub struct Waterfall<'a> {
    /// The stages, in order.
    pub stages: &'a [StageRecord],
    /// The stage looked at.
    pub current: usize,
    /// First stage drawn (scrolled so the current one is visible).
    pub offset: usize,
    /// Colours.
    pub theme: &'a Theme,
}

/// Columns of the stage-name column.
const LABEL: u16 = 12;
/// Columns of the milliseconds column.
const VALUE: u16 = 9;

impl Widget for &Waterfall<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < LABEL + VALUE + 4 || area.height == 0 {
            return;
        }
        let total: f64 = self.stages.iter().map(|s| s.modelled_ms.max(0.0)).sum();
        let bar_w = f64::from(area.width - LABEL - VALUE - 1);
        let scale = if total > 0.0 { bar_w / total } else { 0.0 };
        let mut start = 0.0;
        for (i, stage) in self.stages.iter().enumerate() {
            let value = stage.modelled_ms.max(0.0);
            let row = i.checked_sub(self.offset).map(|r| r as u16);
            if let Some(row) = row.filter(|r| *r < area.height) {
                let y = area.y + row;
                let style = if i == self.current {
                    self.theme.selected
                } else {
                    self.theme.text
                };
                buf.set_stringn(
                    area.x,
                    y,
                    format!(
                        "{:<w$}",
                        fit(&stage.stage, usize::from(LABEL - 1)),
                        w = usize::from(LABEL)
                    ),
                    usize::from(LABEL),
                    style,
                );
                let from = (start * scale).round() as u16;
                let len = ((value * scale).round() as u16).max(u16::from(value > 0.0));
                let bar: String = "█".repeat(usize::from(len));
                let bar_x = area.x + LABEL + from.min(bar_w as u16);
                let room =
                    usize::from((area.x + LABEL + bar_w as u16).saturating_sub(bar_x)).max(1);
                buf.set_stringn(bar_x, y, &bar, room, self.theme.outcome(stage.outcome));
                buf.set_stringn(
                    area.right() - VALUE,
                    y,
                    format!("{:>w$}", ms(value), w = usize::from(VALUE)),
                    usize::from(VALUE),
                    self.theme.dim,
                );
            }
            start += value;
        }
    }
}
