//! Small drawing helpers shared by the views: panes, text fitting, number formats, and the
//! bigger widgets in their own modules.

pub mod flow;
pub mod json_lines;
pub mod lines;
pub mod neighbourhood;
pub mod stage_graph;
pub mod waterfall;

use ratatui::Frame;
use ratatui::layout::{Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Scrollbar, ScrollbarOrientation, ScrollbarState};

use super::theme::Theme;

/// A bordered pane titled `title`; the focused pane's border stands out.
pub fn pane<'a>(title: impl Into<Line<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(if focused {
            theme.border_focus
        } else {
            theme.border
        })
        .title(title)
        .title_style(theme.accent)
}

/// `text` cut to `width` display columns, with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// `text` cut or padded to exactly `width` columns.
pub fn pad(text: &str, width: usize) -> String {
    format!("{:<width$}", fit(text, width))
}

/// Durations for people, on the crate-wide rule (see [`crate::units`]).
pub use crate::units::ms;

/// Engine time as `h:mm:ss`.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// A key hint: the key highlighted, then its meaning.
pub fn hint<'a>(key: &'a str, text: &'a str, theme: &Theme) -> Vec<Span<'a>> {
    vec![
        Span::styled(key, theme.accent),
        Span::styled(format!(" {text}  "), theme.dim),
    ]
}

/// A scrollbar on the right border of `pane` (a bordered pane) when its `total` lines do not
/// fit the `shown` ones, the thumb where lines `offset..offset + shown` are; nothing when they
/// fit, so a list that does not scroll does not pretend to. Every scrolled panel uses it, so
/// position reads the same everywhere.
pub fn scrollbar(
    frame: &mut Frame,
    pane: Rect,
    total: usize,
    offset: usize,
    shown: usize,
    theme: &Theme,
) {
    if total <= shown || shown == 0 || pane.height < 3 {
        return;
    }
    // Positions run over the first lines a screen can start at, so the thumb reaches the end
    // of the track on the last screen.
    let mut state = ScrollbarState::new(total - shown + 1)
        .position(offset)
        .viewport_content_length(shown);
    let bar = Scrollbar::new(ScrollbarOrientation::VerticalRight)
        .begin_symbol(None)
        .end_symbol(None)
        .track_symbol(Some("│"))
        .track_style(theme.border)
        .thumb_style(theme.accent);
    frame.render_stateful_widget(
        bar,
        pane.inner(Margin {
            vertical: 1,
            horizontal: 0,
        }),
        &mut state,
    );
}

/// A `width` × `height` rectangle centred in `area` (clamped to it), for overlays.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let (width, height) = (width.min(area.width), height.min(area.height));
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

/// Whether `area` can hold anything at all.
pub fn usable(area: Rect) -> bool {
    area.width >= 3 && area.height >= 1
}

/// Where a scrolled panel is: which lines of how many it shows, e.g. `lines 9–26 of 58` (empty
/// when everything fits, so a panel that does not scroll says nothing).
pub fn scroll_position(offset: usize, visible: usize, total: usize) -> String {
    if total <= visible {
        return String::new();
    }
    let last = (offset + visible).min(total);
    format!("lines {}–{last} of {total}", offset + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_text() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(pad("ab", 4), "ab  ");
    }

    #[test]
    fn engine_clock_format() {
        assert_eq!(clock(3_723_000), "1:02:03");
    }
}
