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
            // xterm's bright blue (92, 92, 255) is too dark on black for text: a lighter blue.
            hit: Style::new()
                .fg(Color::Rgb(120, 160, 255))
                .add_modifier(bold),
            miss: Style::new().fg(Color::Yellow),
            reject: Style::new().fg(Color::LightRed).add_modifier(bold),
            error: Style::new().fg(Color::LightMagenta).add_modifier(bold),
            warn: Style::new().fg(Color::Yellow),
            tab_active: Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(bold),
            // Dark enough that the warnings and errors drawn on it keep 4.5:1.
            status: Style::new().fg(Color::White).bg(Color::Rgb(40, 40, 40)),
            tenants: [
                Style::new().fg(Color::LightGreen),
                Style::new().fg(Color::LightMagenta),
                Style::new().fg(Color::LightYellow),
                Style::new().fg(Color::LightCyan),
            ],
        }
    }

    /// On a white background the palette's light colours (grey 7, green 2, yellow 3) fall far
    /// below 4.5:1, so secondary text, greens and ambers are darker RGB shades here.
    fn light() -> Self {
        let bold = Modifier::BOLD;
        let grey = Color::Rgb(96, 96, 96);
        let green = Color::Rgb(0, 128, 0);
        let amber = Color::Rgb(130, 75, 0);
        let purple = Color::Rgb(160, 0, 160);
        Self {
            name: ThemeName::Light,
            text: Style::new().fg(Color::Black),
            dim: Style::new().fg(grey),
            accent: Style::new().fg(Color::Blue).add_modifier(bold),
            border: Style::new().fg(Color::Rgb(128, 128, 128)),
            border_focus: Style::new().fg(Color::Blue),
            selected: Style::new()
                .fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(bold),
            pass: Style::new().fg(green),
            hit: Style::new().fg(Color::Blue).add_modifier(bold),
            miss: Style::new().fg(amber),
            reject: Style::new().fg(Color::Red).add_modifier(bold),
            error: Style::new().fg(purple).add_modifier(bold),
            warn: Style::new().fg(amber),
            tab_active: Style::new()
                .fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(bold),
            status: Style::new().fg(Color::Black).bg(Color::Gray),
            tenants: [
                Style::new().fg(green),
                Style::new().fg(purple),
                Style::new().fg(amber),
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

#[cfg(test)]
mod contrast {
    //! WCAG 2.1 contrast of every style a view draws, against what it is drawn on.
    //!
    //! Named colours follow the terminal's palette, which the user may have changed; the check
    //! uses xterm's default palette as the reference, with the terminal's default background
    //! black under the dark theme and white under the light one.

    use super::*;

    /// An sRGB colour.
    type Rgb = (u8, u8, u8);

    /// xterm's default palette.
    fn palette(color: Color) -> Option<Rgb> {
        Some(match color {
            Color::Black => (0, 0, 0),
            Color::Red => (205, 0, 0),
            Color::Green => (0, 205, 0),
            Color::Yellow => (205, 205, 0),
            Color::Blue => (0, 0, 238),
            Color::Magenta => (205, 0, 205),
            Color::Cyan => (0, 205, 205),
            Color::Gray => (229, 229, 229),
            Color::DarkGray => (127, 127, 127),
            Color::LightRed => (255, 0, 0),
            Color::LightGreen => (0, 255, 0),
            Color::LightYellow => (255, 255, 0),
            Color::LightBlue => (92, 92, 255),
            Color::LightMagenta => (255, 0, 255),
            Color::LightCyan => (0, 255, 255),
            Color::White => (255, 255, 255),
            Color::Rgb(r, g, b) => (r, g, b),
            _ => return None,
        })
    }

    fn luminance((r, g, b): Rgb) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }

    fn ratio(a: Rgb, b: Rgb) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    /// (foreground, background) of `style` drawn over `under` (a style's own colours win).
    fn colours(theme: &Theme, style: Style, under: Option<Style>) -> Option<(Rgb, Rgb)> {
        let (default_fg, default_bg) = match theme.name {
            ThemeName::Light => ((0, 0, 0), (255, 255, 255)),
            _ => ((229, 229, 229), (0, 0, 0)),
        };
        let fg = style.fg.or(under.and_then(|u| u.fg));
        let bg = style.bg.or(under.and_then(|u| u.bg));
        // Both left to the terminal: its own pair, not ours to check.
        if fg.is_none() && bg.is_none() {
            return None;
        }
        let fg = fg.and_then(palette).unwrap_or(default_fg);
        let bg = bg.and_then(palette).unwrap_or(default_bg);
        Some((fg, bg))
    }

    #[test]
    fn every_theme_meets_wcag_aa() {
        for name in [ThemeName::Dark, ThemeName::Light, ThemeName::HighContrast] {
            let t = Theme::new(name);
            // Text needs 4.5:1; borders, like other non-text marks, 3:1.
            let mut pairs: Vec<(&str, Style, Option<Style>, f64)> = vec![
                ("text", t.text, None, 4.5),
                ("dim", t.dim, None, 4.5),
                ("accent", t.accent, None, 4.5),
                ("selected", t.selected, None, 4.5),
                ("pass", t.pass, None, 4.5),
                ("hit", t.hit, None, 4.5),
                ("miss", t.miss, None, 4.5),
                ("reject", t.reject, None, 4.5),
                ("error", t.error, None, 4.5),
                ("warn", t.warn, None, 4.5),
                ("tab_active", t.tab_active, None, 4.5),
                ("status", t.status, None, 4.5),
                // The status bar shows warnings and errors on its own background.
                ("warn on the status bar", t.warn, Some(t.status), 4.5),
                ("error on the status bar", t.error, Some(t.status), 4.5),
                ("border", t.border, None, 3.0),
                ("border_focus", t.border_focus, None, 3.0),
            ];
            for (i, tenant) in t.tenants.iter().enumerate() {
                pairs.push((
                    ["tenant 1", "tenant 2", "tenant 3", "tenant 4"][i],
                    *tenant,
                    None,
                    4.5,
                ));
            }
            for (what, style, under, needed) in pairs {
                let Some((fg, bg)) = colours(&t, style, under) else {
                    continue;
                };
                let contrast = ratio(fg, bg);
                assert!(
                    contrast >= needed,
                    "{name:?} theme: {what} is {contrast:.2}:1 ({fg:?} on {bg:?}), needs {needed}:1"
                );
            }
        }
    }

    #[test]
    fn the_ratio_matches_known_values() {
        assert!((ratio((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 1e-9);
        assert!((ratio((119, 119, 119), (255, 255, 255)) - 4.48).abs() < 0.01);
    }
}
