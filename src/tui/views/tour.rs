//! The guided tour on screen: the picker `T` opens, and the narration panel under the view
//! while a tour plays — below what it talks about, never over it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::super::state::AppState;
use super::super::widgets::{centered, fit, hint, pane};

/// Lines the narration panel takes, borders included.
const NARRATION_H: u16 = 5;

/// Splits `body` into the view's area and the narration's when a tour plays (the narration
/// below); the whole body otherwise.
pub fn split(body: Rect, state: &AppState) -> (Rect, Option<Rect>) {
    if state.tour.playing.is_none() || body.height < NARRATION_H + 10 {
        return (body, None);
    }
    let [view, narration] =
        Layout::vertical([Constraint::Min(10), Constraint::Length(NARRATION_H)]).areas(body);
    (view, Some(narration))
}

/// The step's words, where it is in the tour, and the keys that move on.
pub fn draw_narration(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let Some((tour, step, current)) = state.tour.current(&state.scenario) else {
        return;
    };
    let title = format!(
        " Tour · {} · step {}/{} ",
        tour.title,
        step + 1,
        tour.steps.len()
    );
    let block = pane(
        fit(&title, usize::from(area.width.saturating_sub(4))),
        true,
        theme,
    );
    let mut keys = Vec::new();
    keys.extend(hint("n", "next", theme));
    keys.extend(hint("p", "previous", theme));
    keys.extend(hint("T", "end the tour", theme));
    let lines = vec![
        Line::styled(current.say.clone(), theme.text),
        Line::from(keys),
    ];
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        area,
    );
}

/// The list of the scenario's tours, centred over the view.
pub fn draw_picker(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let tours = &state.scenario.tours;
    let width = area.width.min(72);
    let height = (tours.len() as u16 + 4).min(area.height);
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    let block = pane(" Guided tours (↑↓ Enter, Esc) ", true, theme);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let room = usize::from(inner.width);
    let mut lines: Vec<Line> = tours
        .iter()
        .enumerate()
        .map(|(i, tour)| {
            let selected = i == state.tour.selected;
            let marker = if selected { "▶ " } else { "  " };
            let text = fit(
                &format!("{marker}{} ({} steps)", tour.title, tour.steps.len()),
                room,
            );
            Line::styled(
                format!("{text:<room$}"),
                if selected { theme.selected } else { theme.text },
            )
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![Span::styled(
        fit("Each step shows a view and says what to look at.", room),
        theme.dim,
    )]));
    frame.render_widget(Paragraph::new(lines), inner);
}
