//! The overlay a broken save brings up: each error where `archsim check` would put it
//! (`FILE:LINE:COL`, the message, its help, the line with the offending text underlined), over
//! the view while the old scenario keeps running underneath. Esc hides it; a valid save takes
//! it away.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Padding, Paragraph, Wrap};

use super::super::reload::Problem;
use super::super::state::AppState;
use super::super::theme::Theme;
use super::super::widgets::{centered, fit, pane};

/// Widest the overlay grows (lines of a scenario file are rarely longer).
const MAX_WIDTH: u16 = 110;

/// The problem's lines grouped by error: a group starts at its `FILE:LINE:COL: error:` line
/// (the lines under it are indented).
fn groups(lines: &[String]) -> Vec<&[String]> {
    let mut starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(i, line)| *i == 0 || !line.starts_with(' '))
        .map(|(i, _)| i)
        .collect();
    starts.push(lines.len());
    starts.windows(2).map(|w| &lines[w[0]..w[1]]).collect()
}

fn styled<'a>(line: &'a str, theme: &Theme) -> Line<'a> {
    let trimmed = line.trim_start();
    let style = if !line.starts_with(' ') {
        theme.error
    } else if trimmed.starts_with("help:") {
        theme.accent
    } else if trimmed.trim_start_matches('|').trim().starts_with('^') {
        theme.error
    } else {
        theme.text
    };
    Line::styled(line, style)
}

/// The errors that fit `width` × `height` (wrapped), whole errors only, and a last line saying
/// how many did not fit.
fn body<'a>(problem: &'a Problem, width: u16, height: u16, theme: &Theme) -> Paragraph<'a> {
    let groups = groups(&problem.lines);
    let paragraph = |shown: usize| {
        let mut lines: Vec<Line> = Vec::new();
        for (i, group) in groups.iter().take(shown).enumerate() {
            if i > 0 {
                lines.push(Line::raw(""));
            }
            lines.extend(group.iter().map(|l| styled(l, theme)));
        }
        let hidden = groups.len() - shown;
        if hidden > 0 {
            lines.push(Line::styled(
                format!(
                    "… and {} more: `archsim check` lists every one",
                    crate::units::count(hidden as u64, "error")
                ),
                theme.dim,
            ));
        }
        Paragraph::new(lines).wrap(Wrap { trim: false })
    };
    // The most whole errors that fit; at least the first, cut by the frame if it must be.
    let shown = (1..=groups.len())
        .rev()
        .find(|&n| paragraph(n).line_count(width) <= usize::from(height))
        .unwrap_or(1.min(groups.len()));
    paragraph(shown)
}

/// Draws the overlay of `state`'s reload problem centred in `area`, if it is shown.
pub fn draw(frame: &mut Frame, area: Rect, state: &AppState) {
    let Some(problem) = state.shown_reload_problem() else {
        return;
    };
    let theme = &state.theme;
    let width = area.width.min(MAX_WIDTH);
    // Borders and a column of padding on each side.
    let inner_width = width.saturating_sub(4);
    let needed = body(problem, inner_width, u16::MAX, theme).line_count(inner_width);
    let height = u16::try_from(needed)
        .unwrap_or(u16::MAX)
        .saturating_add(2)
        .min(area.height);
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    let room = usize::from(width.saturating_sub(4));
    let block = pane(format!(" {} ", fit(&problem.title, room)), true, theme)
        .border_style(theme.error)
        .padding(Padding::horizontal(1))
        .title_bottom(Line::styled(
            fit(" Esc hides · save a fixed file to reload ", room),
            theme.dim,
        ));
    let inner = block.inner(popup);
    frame.render_widget(block.style(theme.text), popup);
    frame.render_widget(body(problem, inner.width, inner.height, theme), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_grouped_by_their_positioned_line() {
        let lines: Vec<String> = [
            "a.toml:1:1: error: one",
            "  help: fix one",
            "    1 | x",
            "      | ^",
            "a.toml:3:2: error: two",
            "  help: fix two",
        ]
        .map(String::from)
        .to_vec();
        let groups = groups(&lines);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].len(), 4);
        assert_eq!(groups[1][0], "a.toml:3:2: error: two");
        assert!(super::groups(&[]).is_empty());
    }
}
