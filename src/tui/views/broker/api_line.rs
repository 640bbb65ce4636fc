//! The API line at the top of the broker view: what the queues do to the requests, over the same
//! 10 s window as the topic panels.
//!
//! ```text
//!  API now (10 s): 41 req/s · p99 38.2 ms · goodput 39/s (late 1.2/s) · errors 2.1% · 503 0.4/s
//!  └ label ──────┘ └ most telling first: a narrow terminal drops whole figures from the end ┘
//! ```
//!
//! A slow database shows as p99 up and goodput down while the request rate stays; a spike that
//! fills a topic shows as 503s and errors.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::engine::ApiView;
use crate::tui::state::AppState;
use crate::tui::theme::Theme;
use crate::tui::widgets::ms;

/// Error share from which the errors figure is a warning, and from which it is alarming. Not
/// lower: the default scenario's own probes (mallory's cross-tenant reads, refused with 403) keep
/// 2–5% of the answers errors on a healthy system.
const ERRORS_WARN: f64 = 0.1;
const ERRORS_ALARM: f64 = 0.25;
/// Share of successes answered late from which goodput is a warning, and alarming.
const LATE_WARN: f64 = 0.05;
const LATE_ALARM: f64 = 0.25;

/// Draws the API line into `area` (one row).
pub(super) fn draw_api_line(frame: &mut Frame, area: Rect, state: &AppState) {
    let Some(snapshot) = state.snapshot.as_ref() else {
        return;
    };
    let line = api_line(&snapshot.api, &state.theme, usize::from(area.width));
    frame.render_widget(Paragraph::new(line), area);
}

/// A rate per second for people: `0`, `0.4`, `41`.
fn per_s(value: f64) -> String {
    if value == 0.0 {
        "0".into()
    } else if value < 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// `style` when `value` reaches neither threshold, else the theme's warning or alarm style.
fn graded(value: Option<f64>, warn: f64, alarm: f64, style: Style, theme: &Theme) -> Style {
    match value {
        Some(v) if v >= alarm => theme.reject,
        Some(v) if v >= warn => theme.warn,
        _ => style,
    }
}

/// The line, cut to `width` by whole figures.
fn api_line<'a>(api: &ApiView, theme: &Theme, width: usize) -> Line<'a> {
    let Some(window) = api.window else {
        return Line::styled("API now: no engine second has passed yet", theme.dim);
    };
    let label = format!("API now ({:.0} s): ", window.seconds);
    let mut figures: Vec<(String, Style)> =
        vec![(format!("{} req/s", per_s(window.request_rate)), theme.text)];
    if let Some(p99) = window.latency_p99_ms {
        figures.push((format!("p99 {}", ms(p99)), theme.text));
    }
    let late = if api.routes_with_deadline == 0 {
        "no deadlines".to_string()
    } else {
        format!("late {}/s", per_s(window.late_rate))
    };
    figures.push((
        format!("goodput {}/s ({late})", per_s(window.goodput)),
        graded(window.late_share, LATE_WARN, LATE_ALARM, theme.text, theme),
    ));
    if let Some(share) = window.error_share {
        figures.push((
            format!("errors {:.1}%", share * 100.0),
            graded(Some(share), ERRORS_WARN, ERRORS_ALARM, theme.text, theme),
        ));
    }
    // Refusals are shown only when there are some, like parked messages in the topic panels.
    if window.unavailable_rate > 0.0 {
        figures.push((
            format!("503 {}/s", per_s(window.unavailable_rate)),
            theme.reject,
        ));
    }
    if window.throttled_rate > 0.0 {
        figures.push((
            format!("429 {}/s", per_s(window.throttled_rate)),
            theme.warn,
        ));
    }
    const SEPARATOR: &str = " · ";
    let mut used = label.chars().count();
    let mut spans = vec![Span::styled(label, theme.accent)];
    for (index, (text, style)) in figures.into_iter().enumerate() {
        let separator = if index == 0 { "" } else { SEPARATOR };
        let needed = separator.chars().count() + text.chars().count();
        if used + needed > width {
            break;
        }
        used += needed;
        spans.push(Span::styled(separator, theme.dim));
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ApiWindow;
    use crate::tui::theme::ThemeName;

    fn view(late_share: f64) -> ApiView {
        ApiView {
            window: Some(ApiWindow {
                seconds: 10.0,
                request_rate: 41.0,
                error_share: Some(0.021),
                unavailable_rate: 0.4,
                throttled_rate: 0.0,
                late_rate: 1.2,
                late_share: Some(late_share),
                goodput: 39.3,
                latency_p99_ms: Some(38.24),
            }),
            routes_with_deadline: 3,
        }
    }

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn the_line_reads_most_telling_first_and_drops_whole_figures() {
        let theme = Theme::new(ThemeName::Dark);
        let wide = api_line(&view(0.03), &theme, 200);
        assert_eq!(
            text(&wide),
            "API now (10 s): 41 req/s · p99 38.2 ms · goodput 39/s (late 1.2/s) · errors 2.1% · \
             503 0.4/s"
        );
        let narrow = api_line(&view(0.03), &theme, 70);
        assert_eq!(
            text(&narrow),
            "API now (10 s): 41 req/s · p99 38.2 ms · goodput 39/s (late 1.2/s)"
        );
    }

    #[test]
    fn many_late_answers_colour_goodput() {
        let theme = Theme::new(ThemeName::Dark);
        let style_of = |late_share: f64| {
            let line = api_line(&view(late_share), &theme, 200);
            line.spans
                .iter()
                .find(|s| s.content.starts_with("goodput"))
                .map(|s| s.style)
        };
        assert_eq!(style_of(0.01), Some(theme.text));
        assert_eq!(style_of(0.1), Some(theme.warn));
        assert_eq!(style_of(0.5), Some(theme.reject));
    }
}
