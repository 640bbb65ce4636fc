//! The Logs view: the engine's `tracing` events (one `archsim::request` line per request, the
//! middleware's debug lines, faults and controls), with a level filter, a `/` search and follow
//! mode. The title says where the view is among the lines (`543–562 of 562`) and a scrollbar
//! thumb rides the right border, so paging never runs on silently.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tracing::Level;

use super::super::log_capture::LogLine;
use super::super::state::AppState;
use super::super::state::logs::{LogsState, Window};
use super::super::theme::Theme;
use super::super::widgets::{fit, pane, scrollbar};

/// Rows of log lines on a terminal `rows` tall: all but the tab bar, the status bar and the
/// pane's two borders. Paging in the state uses it, so a page is what the view shows.
pub fn body_height(rows: u16) -> usize {
    usize::from(rows.saturating_sub(4))
}

fn level_style(level: Level, theme: &Theme) -> ratatui::style::Style {
    match level {
        Level::ERROR => theme.error,
        Level::WARN => theme.warn,
        Level::INFO => theme.pass,
        _ => theme.dim,
    }
}

/// The pane title, most useful first (a narrow terminal cuts the end): where the view is among
/// the lines, the search and its matches, the level filter, follow mode.
fn title(logs: &LogsState, window: Window) -> String {
    let position = if window.total == 0 {
        "no lines".to_string()
    } else {
        format!("{}–{} of {}", window.start + 1, window.end, window.total)
    };
    let search = if logs.searching || !logs.search.is_empty() {
        let cursor = if logs.searching { "▏" } else { "" };
        format!(
            " · /{}{cursor} {} (Esc clears)",
            logs.search,
            crate::units::count_as(window.total as u64, "match", "matches")
        )
    } else {
        String::new()
    };
    let follow = if logs.follow {
        "following (f)"
    } else {
        "paused (G follows)"
    };
    format!(
        " Logs {position}{search} · level ≥ {} (l) · {follow} ",
        logs.min_level.as_str().to_lowercase()
    )
}

/// What the pane says when nothing passes the filters.
fn empty_message(logs: &LogsState) -> String {
    if logs.search.is_empty() {
        "No log lines yet at this level: send a request (tab 1) or wait for traffic.".to_string()
    } else {
        format!(
            "No line at level ≥ {} contains \"{}\" (Esc clears the search, l changes the level).",
            logs.min_level.as_str().to_lowercase(),
            logs.search
        )
    }
}

/// One log line cut to `width`: time, level, the target when there is room, then the text.
fn render_line<'a>(line: &LogLine, width: usize, theme: &Theme) -> Line<'a> {
    let target_w = if width >= 100 { 18 } else { 0 };
    let secs = line.at_ms as f64 / 1000.0;
    let mut spans = vec![
        Span::styled(format!("{secs:>9.3}s "), theme.dim),
        Span::styled(
            format!("{:<5} ", line.level.as_str()),
            level_style(line.level, theme),
        ),
    ];
    if target_w > 0 {
        spans.push(Span::styled(
            format!("{:<target_w$} ", fit(&line.target, target_w)),
            theme.accent,
        ));
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let text = fit(&line.text, width.saturating_sub(used));
    // A request line's status takes its level's colour: a 403 stands out among the 200s.
    let status = status_len(&text);
    spans.push(Span::styled(
        text[..status].to_string(),
        level_style(line.level, theme),
    ));
    spans.push(Span::styled(text[status..].to_string(), theme.text));
    Line::from(spans)
}

/// Bytes of the HTTP status `text` starts with (`403 POST …`), or 0.
fn status_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let is_status =
        bytes.len() > 3 && bytes[..3].iter().all(u8::is_ascii_digit) && bytes[3] == b' ';
    if is_status { 3 } else { 0 }
}

/// Draws the view into `area`.
pub fn draw(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let logs = &state.logs;
    let visible = logs.visible();
    let height = usize::from(area.height.saturating_sub(2));
    let window = logs.window(visible.len(), height);
    let block = pane(
        fit(
            &title(logs, window),
            usize::from(area.width.saturating_sub(4)),
        ),
        true,
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if visible.is_empty() {
        frame.render_widget(Paragraph::new(empty_message(logs)).style(theme.dim), inner);
        return;
    }
    let width = usize::from(inner.width);
    let lines: Vec<Line> = visible[window.start..window.end]
        .iter()
        .map(|line| render_line(line, width, theme))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
    scrollbar(frame, area, window.total, window.start, height, theme);
}
