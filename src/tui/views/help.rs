//! The `?` overlay: every key of the current view and the keys that work everywhere, read from
//! the keymap tables themselves. When one column does not fit, the sections sit side by side.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::super::keymap::{self, Binding};
use super::super::state::AppState;
use super::super::theme::Theme;
use super::super::widgets::{centered, pane};

fn section(title: &'static str, bindings: &[Binding], theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(title, theme.accent)];
    for binding in bindings {
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<10}", binding.label), theme.accent),
            Span::styled(binding.help, theme.text),
        ]));
    }
    lines
}

/// Draws the overlay centred in `area`.
pub fn draw(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let sections: Vec<Vec<Line>> = keymap::help_for(state.key_context())
        .into_iter()
        .map(|(title, bindings)| section(title, bindings, theme))
        .collect();
    let stacked: usize = sections.iter().map(Vec::len).sum::<usize>() + sections.len() + 2;
    let side_by_side = stacked > usize::from(area.height) && sections.len() > 1;
    let tallest = sections.iter().map(Vec::len).max().unwrap_or(0) + 4;
    let (width, height) = if side_by_side {
        (area.width.min(150), area.height.min(tallest as u16 + 1))
    } else {
        (area.width.min(84), (stacked as u16 + 1).min(area.height))
    };
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    let block = pane(" Keys · any key closes ", true, theme);
    let inner = block.inner(popup);
    frame.render_widget(block.style(theme.text), popup);
    if side_by_side {
        let columns = Layout::horizontal(
            [Constraint::Percentage(55), Constraint::Percentage(45)]
                .into_iter()
                .take(sections.len()),
        )
        .spacing(1)
        .split(inner);
        for (lines, column) in sections.into_iter().zip(columns.iter()) {
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), *column);
        }
    } else {
        let mut lines = Vec::new();
        for section in sections {
            if !lines.is_empty() {
                lines.push(Line::raw(""));
            }
            lines.extend(section);
        }
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }
}
