//! The guided tour on screen: the picker `T` opens, and the narration panel under the view
//! while a tour plays — below what it talks about, never over it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::super::state::AppState;
use super::super::state::tour::Mark;
use super::super::widgets::{centered, fit, hint, pane};

/// Rows the view keeps, at least, under a narration panel: the narration talks about the view
/// and must never hide it.
const VIEW_MIN_H: u16 = 10;

/// The narration panel while a tour plays: where it goes and what it says, built once per frame
/// (its progress lines check the step's expectations against the snapshot).
pub struct Narration {
    area: Rect,
    text: Paragraph<'static>,
}

/// Splits `body` into the view's area and the narration's when a tour plays (the narration
/// below, as tall as its words and progress need, within what the view can spare); the whole
/// body otherwise.
pub fn split(body: Rect, state: &AppState) -> (Rect, Option<Narration>) {
    if state.tour.playing.is_none() || body.height < VIEW_MIN_H + 5 {
        return (body, None);
    }
    let width = body.width.saturating_sub(2);
    let Some(text) = narration(state, width) else {
        return (body, None);
    };
    let wanted = text.line_count(width) as u16 + 2;
    let height = wanted.clamp(5, body.height - VIEW_MIN_H);
    let [view, area] =
        Layout::vertical([Constraint::Min(VIEW_MIN_H), Constraint::Length(height)]).areas(body);
    (view, Some(Narration { area, text }))
}

/// The step's words, its wait and expectations as they stand now, and the keys that move on.
fn narration(state: &AppState, width: u16) -> Option<Paragraph<'static>> {
    let theme = &state.theme;
    let (tour, step, current) = state.tour.current(&state.scenario)?;
    let say = if state.presenter {
        theme.text.add_modifier(Modifier::BOLD)
    } else {
        theme.text
    };
    let mut lines = vec![Line::styled(current.say.clone(), say)];
    for progress in state
        .tour
        .progress(&state.scenario, state.snapshot.as_deref())
    {
        let (mark, style) = match progress.mark {
            Mark::Done => ("✓ ", theme.pass),
            Mark::Pending => ("… ", theme.warn),
            Mark::Failing => ("✗ ", theme.error),
            Mark::Moved => ("· ", theme.dim),
        };
        lines.push(Line::from(vec![
            Span::styled(mark, style),
            Span::styled(
                fit(&progress.text, usize::from(width).saturating_sub(2)),
                theme.dim,
            ),
        ]));
    }
    let mut keys = Vec::new();
    let last = step + 1 == tour.steps.len();
    if !last {
        keys.extend(hint("n", "next", theme));
    }
    keys.extend(hint("p", "previous", theme));
    keys.extend(hint("T", "end the tour", theme));
    lines.push(Line::from(keys));
    Some(Paragraph::new(lines).wrap(Wrap { trim: true }))
}

/// The narration panel: where the step is in the tour, its words and its progress.
pub fn draw_narration(frame: &mut Frame, narration: Narration, state: &AppState) {
    let theme = &state.theme;
    let Some((tour, step, _)) = state.tour.current(&state.scenario) else {
        return;
    };
    let Narration { area, text } = narration;
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
    frame.render_widget(text.block(block), area);
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
