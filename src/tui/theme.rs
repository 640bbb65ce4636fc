//! Colour themes: every style a view uses, by meaning (a stage that passed, a rejected request,
//! the selected row…), for dark, light and high-contrast terminals.
//!
//! Views never name a colour; they ask the theme for `pass`, `reject`, `dim`… so a theme is one
//! table here and colour always carries the same meaning on every screen.

use clap::ValueEnum;
use ratatui::style::{Color, Modifier, Style};

use crate::engine::Outcome;

/// The colour themes of the TUI, by name (`--theme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ThemeName {
    /// Light text on a dark terminal.
    #[default]
    Dark,
    /// Dark text on a light terminal.
    Light,
    /// Maximum contrast, for projectors.
    HighContrast,
}

/// The styles of one theme.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    /// Which theme this is.
    pub name: ThemeName,
    /// Normal text.
    pub text: Style,
    /// Secondary text: hints, unreached stages, units.
    pub dim: Style,
    /// Headings and names that matter.
    pub accent: Style,
    /// Pane borders.
    pub border: Style,
    /// The border of the pane that has the keyboard.
    pub border_focus: Style,
    /// The selected row or the current stage.
    pub selected: Style,
    /// A stage that passed the request on / a healthy number.
    pub pass: Style,
    /// A cache or CDN hit.
    pub hit: Style,
    /// A cache miss.
    pub miss: Style,
    /// A refused request / a crashed worker / a dead letter.
    pub reject: Style,
    /// An unexpected failure.
    pub error: Style,
    /// Something to watch: retries, backoff, slow-downs.
    pub warn: Style,
    /// The active tab.
    pub tab_active: Style,
    /// The status bar.
    pub status: Style,
    /// Per-tenant colours (tenant id 1 → index 0, wrapping), to make isolation visible.
    pub tenants: [Style; 4],
}

impl Theme {
    /// The theme called `name`.
    pub fn new(name: ThemeName) -> Self {
        match name {
            ThemeName::Dark => Self::dark(),
            ThemeName::Light => Self::light(),
            ThemeName::HighContrast => Self::high_contrast(),
        }
    }

    fn dark() -> Self {
        let bold = Modifier::BOLD;
        Self {
            name: ThemeName::Dark,
            text: Style::new(),
            dim: Style::new().fg(Color::DarkGray),
            accent: Style::new().fg(Color::Cyan).add_modifier(bold),
            border: Style::new().fg(Color::DarkGray),
            border_focus: Style::new().fg(Color::Cyan),
            selected: Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(bold),
            pass: Style::new().fg(Color::Green),
            hit: Style::new().fg(Color::LightBlue).add_modifier(bold),
            miss: Style::new().fg(Color::Yellow),
            reject: Style::new().fg(Color::LightRed).add_modifier(bold),
            error: Style::new().fg(Color::Magenta).add_modifier(bold),
            warn: Style::new().fg(Color::Yellow),
            tab_active: Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(bold),
            status: Style::new().fg(Color::White).bg(Color::DarkGray),
            tenants: [
                Style::new().fg(Color::LightGreen),
                Style::new().fg(Color::LightMagenta),
                Style::new().fg(Color::LightYellow),
                Style::new().fg(Color::LightCyan),
            ],
        }
    }

    fn light() -> Self {
        let bold = Modifier::BOLD;
        Self {
            name: ThemeName::Light,
            text: Style::new().fg(Color::Black),
            dim: Style::new().fg(Color::Gray),
            accent: Style::new().fg(Color::Blue).add_modifier(bold),
            border: Style::new().fg(Color::Gray),
            border_focus: Style::new().fg(Color::Blue),
            selected: Style::new()
                .fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(bold),
            pass: Style::new().fg(Color::Green),
            hit: Style::new().fg(Color::Blue).add_modifier(bold),
            miss: Style::new().fg(Color::Rgb(176, 112, 0)),
            reject: Style::new().fg(Color::Red).add_modifier(bold),
            error: Style::new().fg(Color::Magenta).add_modifier(bold),
            warn: Style::new().fg(Color::Rgb(176, 112, 0)),
            tab_active: Style::new()
                .fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(bold),
            status: Style::new().fg(Color::Black).bg(Color::Gray),
            tenants: [
                Style::new().fg(Color::Green),
                Style::new().fg(Color::Magenta),
                Style::new().fg(Color::Rgb(176, 112, 0)),
                Style::new().fg(Color::Blue),
            ],
        }
    }

    fn high_contrast() -> Self {
        let bold = Modifier::BOLD;
        let on_black = |c: Color| Style::new().fg(c).bg(Color::Black).add_modifier(bold);
        Self {
            name: ThemeName::HighContrast,
            text: Style::new().fg(Color::White).bg(Color::Black),
            dim: Style::new().fg(Color::Gray).bg(Color::Black),
            accent: on_black(Color::LightCyan),
            border: Style::new().fg(Color::White).bg(Color::Black),
            border_focus: on_black(Color::LightYellow),
            selected: Style::new()
                .fg(Color::Black)
                .bg(Color::LightYellow)
                .add_modifier(bold),
            pass: on_black(Color::LightGreen),
            hit: on_black(Color::LightCyan),
            miss: on_black(Color::LightYellow),
            reject: on_black(Color::LightRed),
            error: on_black(Color::LightMagenta),
            warn: on_black(Color::LightYellow),
            tab_active: Style::new()
                .fg(Color::Black)
                .bg(Color::White)
                .add_modifier(bold),
            status: Style::new().fg(Color::Black).bg(Color::White),
            tenants: [
                on_black(Color::LightGreen),
                on_black(Color::LightMagenta),
                on_black(Color::LightYellow),
                on_black(Color::LightCyan),
            ],
        }
    }

    /// The style of a stage outcome.
    pub fn outcome(&self, outcome: Outcome) -> Style {
        match outcome {
            Outcome::Pass => self.pass,
            Outcome::Hit => self.hit,
            Outcome::Miss => self.miss,
            Outcome::Reject => self.reject,
            Outcome::Error => self.error,
            Outcome::Skip => self.dim,
        }
    }

    /// The style of an HTTP status.
    pub fn status_code(&self, status: u16) -> Style {
        match status {
            0..=299 => self.pass,
            300..=399 => self.hit,
            400..=499 => self.reject,
            _ => self.error,
        }
    }

    /// The colour of tenant `id` (database ids start at 1).
    pub fn tenant(&self, id: i64) -> Style {
        let index = usize::try_from(id.saturating_sub(1)).unwrap_or(0) % self.tenants.len();
        self.tenants[index]
    }
}

/// A one-character symbol for an outcome, so meaning survives without colour.
pub fn outcome_symbol(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "✓",
        Outcome::Hit => "◆",
        Outcome::Miss => "○",
        Outcome::Reject => "✗",
        Outcome::Error => "!",
        Outcome::Skip => "·",
    }
}
