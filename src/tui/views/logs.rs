//! The Logs view: the engine's `tracing` events (one `archsim::request` line per request, the
//! middleware's debug lines, faults and controls), with a level filter and follow mode.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tracing::Level;

use super::super::state::AppState;
use super::super::theme::Theme;
use super::super::widgets::{fit, pane};

fn level_style(level: Level, theme: &Theme) -> ratatui::style::Style {
    match level {
        Level::ERROR => theme.error,
        Level::WARN => theme.warn,
        Level::INFO => theme.pass,
        _ => theme.dim,
    }
}

/// Draws the view into `area`.
pub fn draw(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let logs = &state.logs;
    let visible = logs.visible();
    let follow = if logs.follow {
        "following"
    } else {
        "paused (G follows)"
    };
    let title = format!(
        " Logs · level ≥ {} (l) · {follow} (f) · {} of {} lines ",
        logs.min_level.as_str().to_lowercase(),
        visible.len(),
        logs.lines.len()
    );
    let block = pane(
        fit(&title, usize::from(area.width.saturating_sub(4))),
        true,
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height);
    let width = usize::from(inner.width);
    if visible.is_empty() {
        frame.render_widget(
            Paragraph::new(
                "No log lines yet at this level: send a request (tab 1) or wait for traffic.",
            )
            .style(theme.dim),
            inner,
        );
        return;
    }
    let bottom = visible.len().saturating_sub(height);
    let start = if logs.follow {
        bottom
    } else {
        logs.scroll.min(bottom)
    };
    let target_w = if width >= 100 { 18 } else { 0 };
    let lines: Vec<Line> = visible
        .iter()
        .skip(start)
        .take(height)
        .map(|line| {
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
            spans.push(Span::styled(
                fit(&line.text, width.saturating_sub(used)),
                theme.text,
            ));
            Line::from(spans)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
