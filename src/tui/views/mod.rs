//! Drawing: a pure function of [`AppState`]. No I/O, no engine calls — so every screen can be
//! rendered into ratatui's `TestBackend` and snapshot-tested.
//!
//! ```text
//!  ┌ tab bar ─────────────────────────────────────────┐  1 line
//!  │ the current view (lifecycle / erd / broker / logs)│
//!  └ status bar ──────────────────────────────────────┘  1 line
//!    + the `?` overlay on top when open, else the errors of a broken save
//! ```

pub mod broker;
pub mod erd;
pub mod help;
pub mod lifecycle;
pub mod logs;
pub mod reload;
pub mod stage_detail;
pub mod tour;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::action::Tab;
use super::state::AppState;
use super::widgets::{clock, fit};

/// Below this width tabs use their short titles.
const WIDE_TABS: u16 = 100;

/// The smallest terminal every view is laid out for: below it panels would overlap, so the
/// screen says so instead.
pub const MIN_WIDTH: u16 = 80;
/// See [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 24;

/// Says the terminal is too small, in the longest wording that fits (every line whole).
fn draw_too_small(frame: &mut Frame, area: Rect, state: &AppState) {
    let size = format!("{}×{}", area.width, area.height);
    let need = format!("{MIN_WIDTH}×{MIN_HEIGHT}");
    let wordings: [Vec<String>; 3] = [
        vec![
            format!("archsim needs a terminal of at least {need};"),
            format!("this one is {size}."),
            "Enlarge the window, or press q to quit.".to_string(),
        ],
        vec![
            format!("archsim needs {need}"),
            format!("(this is {size})"),
            "q quits".to_string(),
        ],
        vec![format!("need {need}"), "q quits".to_string()],
    ];
    let fits = |lines: &Vec<String>| {
        lines.len() <= usize::from(area.height)
            && lines
                .iter()
                .all(|l| l.chars().count() <= usize::from(area.width))
    };
    let lines: Vec<Line> = wordings.iter().find(|lines| fits(lines)).map_or_else(
        // Not even that fits: as much of the shortest as the space takes.
        || {
            vec![Line::raw(fit(
                &format!("need {need}"),
                usize::from(area.width),
            ))]
        },
        |lines| lines.iter().map(|l| Line::raw(l.clone())).collect(),
    );
    frame.render_widget(Paragraph::new(lines).style(state.theme.text), area);
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, state: &AppState) {
    let area = frame.area();
    let theme = &state.theme;
    frame.buffer_mut().set_style(area, theme.text);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area, state);
        return;
    }
    let [tabs, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_tabs(frame, tabs, state);
    let (view, narration) = tour::split(body, state);
    match state.tab {
        Tab::Lifecycle => lifecycle::draw(frame, view, state),
        Tab::Erd => erd::draw(frame, view, state),
        Tab::Broker => broker::draw(frame, view, state),
        Tab::Logs => logs::draw(frame, view, state),
    }
    if let Some(narration) = narration {
        tour::draw_narration(frame, narration, state);
    }
    draw_status(frame, status, state);
    if state.tour.picking {
        tour::draw_picker(frame, body, state);
    } else if state.help {
        help::draw(frame, body, state);
    } else {
        reload::draw(frame, body, state);
    }
}

fn draw_tabs(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let mut spans = vec![Span::styled(" archsim ", theme.accent)];
    for tab in Tab::ALL {
        let title = if area.width >= WIDE_TABS {
            tab.title()
        } else {
            tab.short_title()
        };
        let style = if tab == state.tab {
            theme.tab_active
        } else {
            theme.text
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            format!(" {} {title} ", tab.index() + 1),
            style,
        ));
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let hint = "  ? keys  q quit ";
    if usize::from(area.width) >= used + hint.len() {
        spans.push(Span::raw(
            " ".repeat(usize::from(area.width) - used - hint.len()),
        ));
        spans.push(Span::styled(hint, theme.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    frame.buffer_mut().set_style(area, theme.status);
    let snapshot = state.snapshot.as_ref();
    let elapsed = snapshot.map_or(0, |s| s.elapsed_ms);
    let running = if state.paused {
        "⏸ paused".to_string()
    } else {
        format!("▶ ×{:.2}", state.rate)
    };
    let running = if state.time_scale == 1.0 {
        running
    } else {
        format!(
            "{running} · time ×{}",
            crate::tui::state::format_scale(state.time_scale)
        )
    };
    let errors = state.error_count();
    let mut parts: Vec<(String, Style)> = vec![
        (format!(" {} ", state.scenario.meta.title), theme.status),
        (
            format!("│ {} {} ", state.clock.mode(), clock(elapsed)),
            theme.status,
        ),
        (format!("│ {running} "), theme.status),
        (
            format!("│ {} req/s ", state.requests_per_second()),
            theme.status,
        ),
        (
            format!("│ {} ", crate::units::count(errors, "error")),
            theme.status,
        ),
    ];
    // The outbox only shows when it holds something: events waiting for room in their topic
    // (and how long the oldest has waited), or rows a dual-write route left without an event.
    if let Some(snapshot) = snapshot {
        let outbox = &snapshot.outbox;
        if outbox.pending > 0 {
            parts.push((
                format!(
                    "│ outbox {} waiting, lag {} ",
                    outbox.pending,
                    crate::tui::widgets::ms(outbox.relay_lag_ms as f64)
                ),
                theme.warn,
            ));
        }
        if snapshot.orphaned_writes > 0 {
            parts.push((
                format!("│ {} orphaned writes ", snapshot.orphaned_writes),
                theme.error,
            ));
        }
    }
    let width = usize::from(area.width);
    let mut spans: Vec<Span> = Vec::new();
    let mut used = 0;
    // Drop the title first when narrow: the numbers matter more.
    let fixed: usize = parts[1..].iter().map(|(t, _)| t.chars().count()).sum();
    let title_room = width.saturating_sub(fixed).min(40);
    for (i, (text, style)) in parts.into_iter().enumerate() {
        let text = if i == 0 { fit(&text, title_room) } else { text };
        used += text.chars().count();
        spans.push(Span::styled(text, style));
    }
    if state.presenter && !state.keycast.is_empty() {
        let keys = state
            .keycast
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        let cast = format!("│ keys: {keys} ");
        used += cast.chars().count();
        spans.push(Span::styled(cast, theme.accent));
    }
    // A broken save says so until it is fixed, even with its overlay hidden.
    let broken = state.reload_problem.as_ref().map(|p| &p.problem.summary);
    let message = match (&state.engine_stopped, &state.notice, broken) {
        (Some(reason), _, _) => Some(format!("│ engine stopped: {reason}")),
        (None, Some(notice), _) => Some(format!("│ {notice}")),
        (None, None, Some(summary)) => Some(format!("│ {summary}: the old scenario runs on")),
        (None, None, None) => None,
    };
    if let Some(message) = message {
        let room = width.saturating_sub(used);
        spans.push(Span::styled(fit(&message, room), theme.status));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.status), area);
}
