//! The `?` overlay: every key of the current view and the keys that work everywhere, read from
//! the keymap tables themselves.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::super::keymap;
use super::super::state::AppState;
use super::super::widgets::pane;

/// Draws the overlay centred in `area`.
pub fn draw(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let sections = keymap::help_for(state.key_context());
    let mut lines: Vec<Line> = Vec::new();
    for (title, bindings) in &sections {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(*title, theme.accent));
        for binding in *bindings {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<11}", binding.label), theme.accent),
                Span::styled(binding.help, theme.text),
            ]));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("any key closes this help", theme.dim));
    let width = area.width.min(84);
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .style(theme.text)
            .wrap(Wrap { trim: false })
            .block(pane(" Keys ", true, theme)),
        popup,
    );
}
