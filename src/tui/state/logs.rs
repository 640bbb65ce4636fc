//! State of the Logs view: the kept lines, the level filter and follow mode.

use std::collections::VecDeque;

use tracing::Level;

use super::super::action::Action;
use super::super::log_capture::LogLine;
use crate::engine::{self, Event};

/// Lines the view keeps.
pub const LINES_KEPT: usize = 2_000;

const PAGE: usize = 10;

/// The Logs view's state.
#[derive(Debug, Clone)]
pub struct LogsState {
    /// Kept lines, oldest first.
    pub lines: VecDeque<LogLine>,
    /// Least severe level shown.
    pub min_level: Level,
    /// Keep the newest line in view.
    pub follow: bool,
    /// First line shown (index into the filtered lines) when not following.
    pub scroll: usize,
}

impl Default for LogsState {
    fn default() -> Self {
        Self {
            lines: VecDeque::new(),
            min_level: Level::INFO,
            follow: true,
            scroll: 0,
        }
    }
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
    /// Appends lines, keeping the newest [`LINES_KEPT`].
    pub fn push(&mut self, lines: impl IntoIterator<Item = LogLine>) {
        for line in lines {
            if self.lines.len() == LINES_KEPT {
                self.lines.pop_front();
                self.scroll = self.scroll.saturating_sub(1);
            }
            self.lines.push_back(line);
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

    /// The lines the level filter lets through.
    pub fn visible(&self) -> Vec<&LogLine> {
        // tracing orders levels by verbosity: ERROR < WARN < INFO < DEBUG.
        self.lines
            .iter()
            .filter(|l| l.level <= self.min_level)
            .collect()
    }

    /// Applies an action. `height` is the number of lines the view shows.
    pub fn update(&mut self, action: Action, height: usize) {
        let total = self.visible().len();
        let bottom = total.saturating_sub(height.max(1));
        let current = if self.follow {
            bottom
        } else {
            self.scroll.min(bottom)
        };
        match action {
            Action::Up => self.scroll_to(current.saturating_sub(1), bottom),
            Action::Down => self.scroll_to(current + 1, bottom),
            Action::PageUp => self.scroll_to(current.saturating_sub(PAGE), bottom),
            Action::PageDown => self.scroll_to(current + PAGE, bottom),
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

    fn scroll_to(&mut self, line: usize, bottom: usize) {
        self.scroll = line.min(bottom);
        // Scrolling to the bottom resumes following; anything else pauses it.
        self.follow = line >= bottom && self.follow;
    }
}
