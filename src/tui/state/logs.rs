//! State of the Logs view: the kept lines, the level filter, the search and follow mode.

use tracing::Level;

use super::super::action::Action;
use super::super::log_capture::{LevelRings, LogLine};
use crate::engine::{self, Event};

/// Lines the view keeps of each of INFO and DEBUG.
pub const LINES_KEPT: usize = 2_000;

/// Lines the view keeps of each of WARN and ERROR: in their own rings, so INFO traffic never
/// pushes them out, and more of them, so they match the status bar's error count for longer
/// (at one failed request a second, over two hours).
pub const SEVERE_LINES_KEPT: usize = 10_000;

/// The Logs view's state.
#[derive(Debug, Clone)]
pub struct LogsState {
    /// Kept lines, one ring per level.
    pub lines: LevelRings,
    /// Least severe level shown.
    pub min_level: Level,
    /// Keep the newest line in view.
    pub follow: bool,
    /// First line shown (index into the filtered lines) when not following.
    pub scroll: usize,
    /// Only lines containing this (case-insensitively) are shown; empty: all.
    pub search: String,
    /// The search is being typed (`/` … Enter or Esc).
    pub searching: bool,
}

impl Default for LogsState {
    fn default() -> Self {
        Self {
            lines: LevelRings::with_capacities(SEVERE_LINES_KEPT, LINES_KEPT),
            min_level: Level::INFO,
            follow: true,
            scroll: 0,
            search: String::new(),
            searching: false,
        }
    }
}

/// The lines shown in a view `height` rows tall, and where they sit among the visible ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Index of the first line shown.
    pub start: usize,
    /// One past the last line shown.
    pub end: usize,
    /// Lines the filters let through.
    pub total: usize,
}

/// The level after `level` in the filter cycle (debug → info → warn → error → debug).
pub fn next_level(level: Level) -> Level {
    match level {
        Level::TRACE | Level::DEBUG => Level::INFO,
        Level::INFO => Level::WARN,
        Level::WARN => Level::ERROR,
        Level::ERROR => Level::DEBUG,
    }
}

impl LogsState {
    /// Appends lines, keeping the newest [`LINES_KEPT`] of each level.
    pub fn push(&mut self, lines: impl IntoIterator<Item = LogLine>) {
        for line in lines {
            let dropped = self.lines.push(line);
            // A paused view stays on the same lines while older ones it would show go.
            if dropped.is_some_and(|d| self.shows(&d)) {
                self.scroll = self.scroll.saturating_sub(1);
            }
        }
    }

    /// Adds the simulation's own log and fault events as lines.
    pub fn push_events<'a>(&mut self, events: impl IntoIterator<Item = &'a Event>) {
        let lines: Vec<LogLine> = events
            .into_iter()
            .filter_map(|event| match event {
                Event::Log {
                    at_ms,
                    level,
                    message,
                } => Some(LogLine {
                    at_ms: *at_ms,
                    level: match level {
                        engine::Level::Error => Level::ERROR,
                        engine::Level::Warn => Level::WARN,
                        engine::Level::Info => Level::INFO,
                    },
                    target: "archsim::sim".into(),
                    text: message.clone(),
                }),
                Event::Fault { at_ms, message } => Some(LogLine {
                    at_ms: *at_ms,
                    level: Level::WARN,
                    target: "archsim::fault".into(),
                    text: message.clone(),
                }),
                _ => None,
            })
            .collect();
        self.push(lines);
    }

    /// Whether the level filter and the search let `line` through.
    fn shows(&self, line: &LogLine) -> bool {
        // tracing orders levels by verbosity: ERROR < WARN < INFO < DEBUG.
        line.level <= self.min_level && matches(line, &self.search.to_lowercase())
    }

    /// The lines the level filter and the search let through, oldest first.
    pub fn visible(&self) -> Vec<&LogLine> {
        let needle = self.search.to_lowercase();
        self.lines
            .merged(self.min_level)
            .into_iter()
            .filter(|line| matches(line, &needle))
            .collect()
    }

    /// The part of `total` visible lines a view `height` rows tall shows.
    pub fn window(&self, total: usize, height: usize) -> Window {
        let bottom = total.saturating_sub(height);
        let start = if self.follow {
            bottom
        } else {
            self.scroll.min(bottom)
        };
        Window {
            start,
            end: (start + height).min(total),
            total,
        }
    }

    /// Applies an action. `height` is the number of lines the view shows.
    pub fn update(&mut self, action: Action, height: usize) {
        if self.edit_search(action) {
            return;
        }
        let height = height.max(1);
        let total = self.visible().len();
        let bottom = total.saturating_sub(height);
        let current = self.window(total, height).start;
        // A page keeps one line of the previous one in view, for reading across.
        let page = height.saturating_sub(1).max(1);
        match action {
            Action::Up => self.scroll_to(current.saturating_sub(1), bottom),
            Action::Down => self.scroll_to(current + 1, bottom),
            Action::PageUp => self.scroll_to(current.saturating_sub(page), bottom),
            Action::PageDown => self.scroll_to(current + page, bottom),
            Action::First => self.scroll_to(0, bottom),
            Action::Last => self.follow = true,
            Action::ToggleFollow => {
                self.follow = !self.follow;
                self.scroll = current;
            }
            Action::CycleLevel => {
                self.min_level = next_level(self.min_level);
                self.scroll = 0;
            }
            _ => {}
        }
    }

    /// The search keys: `/` starts typing, letters and Backspace edit, Enter keeps the search,
    /// Esc clears it (also when no longer typing). Returns whether `action` was one of them.
    fn edit_search(&mut self, action: Action) -> bool {
        let before = self.search.len();
        match action {
            Action::StartFilter => self.searching = true,
            Action::FilterChar(c) => self.search.push(c),
            Action::FilterBackspace => {
                self.search.pop();
            }
            Action::FilterDone => self.searching = false,
            Action::FilterCancel | Action::CloseOverlay => {
                self.searching = false;
                self.search.clear();
            }
            _ => return false,
        }
        // New matches: start again from the newest. (Only then: Esc with no search, or Enter,
        // leaves a paused view where it was.)
        if self.search.len() != before {
            self.follow = true;
            self.scroll = 0;
        }
        true
    }

    fn scroll_to(&mut self, line: usize, bottom: usize) {
        self.scroll = line.min(bottom);
        // Scrolling away from the bottom pauses following (End / G resumes it).
        self.follow = line >= bottom && self.follow;
    }
}

/// Whether `line` contains `needle` (already lower-case), in its text or its target.
fn matches(line: &LogLine, needle: &str) -> bool {
    needle.is_empty()
        || line.text.to_lowercase().contains(needle)
        || line.target.to_lowercase().contains(needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(at_ms: u64, level: Level, text: &str) -> LogLine {
        LogLine {
            at_ms,
            level,
            target: "archsim::request".into(),
            text: text.into(),
        }
    }

    fn texts(logs: &LogsState) -> Vec<&str> {
        logs.visible().iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn warnings_survive_a_flood_of_info_lines() {
        let mut logs = LogsState::default();
        logs.push([line(0, Level::WARN, "403 POST /api/v1/projects")]);
        logs.push((1..=10 * LINES_KEPT as u64).map(|t| line(t, Level::INFO, "200 GET /")));
        logs.update(Action::CycleLevel, 20); // warn and above
        assert_eq!(texts(&logs), vec!["403 POST /api/v1/projects"]);
    }

    #[test]
    fn the_search_filters_case_insensitively_enter_keeps_it_and_esc_clears_it() {
        let mut logs = LogsState::default();
        logs.push([
            line(1, Level::INFO, "200 GET /api/v1/Projects"),
            line(2, Level::WARN, "403 POST /api/v1/payments"),
            line(3, Level::INFO, "200 GET /static/app.js"),
        ]);
        logs.update(Action::StartFilter, 20);
        for c in "PROJ".chars() {
            logs.update(Action::FilterChar(c), 20);
        }
        assert!(logs.searching);
        assert_eq!(texts(&logs), vec!["200 GET /api/v1/Projects"]);
        logs.update(Action::FilterDone, 20);
        assert!(!logs.searching);
        assert_eq!(texts(&logs).len(), 1, "Enter keeps the search");
        logs.update(Action::StartFilter, 20);
        logs.update(Action::FilterCancel, 20);
        assert_eq!(texts(&logs).len(), 3, "Esc clears it");
    }

    #[test]
    fn esc_without_a_search_leaves_a_paused_view_where_it_was() {
        let mut logs = LogsState::default();
        logs.push((0..100).map(|t| line(t, Level::INFO, "200 GET /")));
        logs.update(Action::PageUp, 20);
        let paused = logs.window(100, 20);
        logs.update(Action::CloseOverlay, 20);
        assert!(!logs.follow);
        assert_eq!(logs.window(100, 20), paused);
    }

    #[test]
    fn a_page_is_the_view_height_and_the_window_never_runs_past_the_lines() {
        let mut logs = LogsState::default();
        logs.push((0..100).map(|t| line(t, Level::INFO, "200 GET /")));
        let height = 20;
        assert_eq!(
            logs.window(100, height),
            Window {
                start: 80,
                end: 100,
                total: 100
            }
        );
        logs.update(Action::PageUp, height);
        assert!(!logs.follow);
        assert_eq!(logs.window(100, height).start, 61, "one line of overlap");
        for _ in 0..10 {
            logs.update(Action::PageUp, height);
        }
        assert_eq!(logs.window(100, height).start, 0);
        for _ in 0..10 {
            logs.update(Action::PageDown, height);
        }
        let bottom = logs.window(100, height);
        assert_eq!(
            (bottom.start, bottom.end),
            (80, 100),
            "no blank space after the last line"
        );
    }
}
