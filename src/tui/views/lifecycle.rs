//! The Request lifecycle view: pick a sample request, send it through the real engine, and walk
//! its trace stage by stage on the stage graph.
//!
//! ```text
//!  wide (≥ 120×30)                          narrow
//!  ┌ requests ┐┌ stage graph (boxes) ┐      ┌ requests ┐┌ stage detail ┐
//!  └──────────┘└─────────────────────┘      ├ stages   ┤│              │
//!  ┌ stage detail ───────┐┌ waterfall ┐     │ (top→down│└──────────────┘
//!  └─────────────────────┘└───────────┘     └ list)    ┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::state::AppState;
use super::super::state::lifecycle::Sent;
use super::super::theme::outcome_symbol;
use super::super::widgets::stage_graph::{Node, NodeStatus, StageGraph};
use super::super::widgets::waterfall::Waterfall;
use super::super::widgets::{fit, hint, ms, pane, scroll_position, scrollbar};
use super::stage_detail;
use crate::engine::{Outcome, Trace};
use crate::topology::EdgeKind;

/// Draws the view into `area`.
pub fn draw(frame: &mut Frame, area: Rect, state: &AppState) {
    if state.zoom {
        draw_zoomed(frame, area, state);
    } else if area.width >= 120 && area.height >= 30 {
        draw_wide(frame, area, state);
    } else {
        draw_narrow(frame, area, state);
    }
}

fn draw_wide(frame: &mut Frame, area: Rect, state: &AppState) {
    let graph = graph(state);
    let picker_w = (area.width / 3).clamp(46, 64);
    let graph_h = graph.height(area.width - picker_w - 2) + 2;
    let picker_h = state.lifecycle.samples.len() as u16 + 5;
    // The graph takes what it needs, leaving the detail and waterfall at least 12 lines; when
    // that is less than it needs, it shrinks its boxes (or draws chips), so every stage shows.
    let top_h = graph_h.max(picker_h).min(area.height.saturating_sub(12));
    let [top, bottom] =
        Layout::vertical([Constraint::Length(top_h), Constraint::Min(5)]).areas(area);
    let [picker_area, graph_area] =
        Layout::horizontal([Constraint::Length(picker_w), Constraint::Min(20)]).areas(top);
    let [detail_area, waterfall_area] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(bottom);
    draw_picker(frame, picker_area, state);
    let block = pane(graph_title(state), false, &state.theme);
    let inner = block.inner(graph_area);
    frame.render_widget(block, graph_area);
    frame.render_widget(&graph, inner);
    draw_detail(frame, detail_area, state);
    draw_waterfall(frame, waterfall_area, state);
}

/// `z`: the stage graph across the whole width and the stage detail under it — what a class
/// looks at on a projector.
fn draw_zoomed(frame: &mut Frame, area: Rect, state: &AppState) {
    let graph = graph(state);
    let graph_h = (graph.height(area.width.saturating_sub(2)) + 2).min(area.height / 2);
    let [graph_area, detail_area] =
        Layout::vertical([Constraint::Length(graph_h), Constraint::Min(5)]).areas(area);
    let block = pane(graph_title(state), false, &state.theme);
    let inner = block.inner(graph_area);
    frame.render_widget(block, graph_area);
    frame.render_widget(&graph, inner);
    draw_detail(frame, detail_area, state);
}

fn draw_narrow(frame: &mut Frame, area: Rect, state: &AppState) {
    let left_w = (area.width / 2).clamp(24, 40);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(10)]).areas(area);
    let picker_h = (state.lifecycle.samples.len() as u16 + 2)
        .min(left.height / 3)
        .max(3);
    let [picker_area, stages_area] =
        Layout::vertical([Constraint::Length(picker_h), Constraint::Min(3)]).areas(left);
    draw_picker(frame, picker_area, state);
    draw_stage_list(frame, stages_area, state);
    draw_detail(frame, right, state);
}

fn shown(state: &AppState) -> Option<(&Sent, &Trace)> {
    let sent = state.lifecycle.sent.as_ref()?;
    Some((sent, sent.trace()?))
}

fn graph_title(state: &AppState) -> Line<'static> {
    let theme = &state.theme;
    let mut spans = vec![Span::styled(" Stage graph ", theme.accent)];
    if let Some(id) = &state.lifecycle.pending {
        spans.push(Span::styled(format!("· sending {id}… "), theme.warn));
    } else if let Some((sent, trace)) = shown(state) {
        spans.push(Span::styled(
            format!(
                "· {} {} as {} → ",
                trace.request.method,
                trace.request.path,
                trace.request.persona.as_deref().unwrap_or("?")
            ),
            theme.text,
        ));
        spans.push(Span::styled(
            trace.status.to_string(),
            theme.status_code(trace.status),
        ));
        spans.push(Span::styled(
            format!(" · {} modelled ", ms(trace.total_modelled_ms)),
            theme.dim,
        ));
        if sent.traces.len() > 1 {
            spans.push(Span::styled(
                format!("· copy {}/{} ([ ]) ", sent.copy + 1, sent.traces.len()),
                theme.warn,
            ));
        }
    }
    Line::from(spans)
}

/// The stage graph of the topology with the shown trace's outcomes.
fn graph(state: &AppState) -> StageGraph<'_> {
    let topology = &state.topology;
    let trace = shown(state).map(|(_, t)| t);
    let current = shown(state).and_then(|(sent, t)| t.stages.get(sent.stage));
    let outcome_of = |id: &str| {
        trace
            .and_then(|t| t.stages.iter().find(|s| s.stage == id))
            .map(|s| s.outcome)
    };
    let hits: Vec<(String, String)> = topology
        .edges()
        .into_iter()
        .filter(|(_, _, kind)| *kind == EdgeKind::Hit)
        .map(|(a, b, _)| (a.to_string(), b.to_string()))
        .collect();
    let layers = topology
        .layers()
        .into_iter()
        .map(|layer| {
            layer
                .into_iter()
                .map(|stage| {
                    let outcome = outcome_of(&stage.id);
                    let hit = hits
                        .iter()
                        .find(|(from, _)| *from == stage.id)
                        .map(|(_, to)| {
                            let title = state
                                .scenario
                                .stage(to)
                                .map_or(to.clone(), |s| s.title.clone());
                            (title, outcome == Some(Outcome::Hit))
                        });
                    Node {
                        id: stage.id.clone(),
                        title: stage.title.clone(),
                        status: outcome.map_or(NodeStatus::Unreached, NodeStatus::Reached),
                        current: current.is_some_and(|c| c.stage == stage.id),
                        hit,
                    }
                })
                .collect()
        })
        .collect();
    StageGraph {
        layers,
        theme: &state.theme,
    }
}

fn draw_picker(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let lifecycle = &state.lifecycle;
    let block = pane(" Sample requests (↑↓ Enter) ", true, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let explain_h = if inner.height as usize > lifecycle.samples.len() + 2 {
        inner.height as usize - lifecycle.samples.len()
    } else {
        0
    };
    let list_h = usize::from(inner.height).saturating_sub(explain_h).max(1);
    let offset = lifecycle.selected.saturating_sub(list_h - 1);
    let mut lines: Vec<Line> = lifecycle
        .samples
        .iter()
        .enumerate()
        .skip(offset)
        .take(list_h)
        .map(|(i, sample)| {
            let selected = i == lifecycle.selected;
            let marker = if selected { "▶ " } else { "  " };
            let text = format!(
                "{marker}{}",
                keep_outcome(&sample.title, width.saturating_sub(2))
            );
            Line::styled(
                format!("{text:<width$}"),
                if selected { theme.selected } else { theme.text },
            )
        })
        .collect();
    if let Some(sample) = lifecycle.selected_sample().filter(|_| explain_h > 0) {
        lines.push(Line::styled(
            format!("{} ×{}", sample.line, sample.repeat),
            theme.dim,
        ));
        lines.push(Line::styled(sample.explain.clone(), theme.dim));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// `title` in `width` columns, cutting the story rather than its expected outcome: "Bob
/// (viewer) tries to create a project → 403" becomes "Bob (viewer) tries to… → 403". A long
/// outcome ("201 + events") keeps its first word.
fn keep_outcome(title: &str, width: usize) -> String {
    if title.chars().count() <= width {
        return title.to_string();
    }
    let Some((story, outcome)) = title.rsplit_once(" → ") else {
        return fit(title, width);
    };
    let first_word = outcome.split_whitespace().next().unwrap_or(outcome);
    [outcome, first_word]
        .into_iter()
        .map(|outcome| (outcome, width.checked_sub(outcome.chars().count() + 3)))
        .find(|(_, room)| room.is_some_and(|room| room >= 12))
        .and_then(|(outcome, room)| Some(format!("{} → {outcome}", fit(story, room?))))
        .unwrap_or_else(|| fit(title, width))
}

/// The narrow screen's top→down graph: one line per stage, in pipeline order.
fn draw_stage_list(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let block = pane(" Stages (←→) ", false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let graph = graph(state);
    let nodes: Vec<&Node> = graph.layers.iter().flatten().collect();
    let current = nodes.iter().position(|n| n.current).unwrap_or(0);
    let height = usize::from(inner.height);
    let offset = current
        .saturating_sub(height / 2)
        .min(nodes.len().saturating_sub(height));
    let trace = shown(state).map(|(_, t)| t);
    let width = usize::from(inner.width);
    let lines: Vec<Line> = nodes
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, node)| {
            let (symbol, style) = match node.status {
                NodeStatus::Unreached => ("·", theme.dim),
                NodeStatus::Reached(o) => (outcome_symbol(o), theme.outcome(o)),
            };
            let arrow = if i == 0 { " " } else { "↓" };
            let took_hit = node.hit.as_ref().is_some_and(|(_, taken)| *taken);
            let modelled = trace
                .and_then(|t| t.stages.iter().find(|s| s.stage == node.id))
                .map(|s| ms(s.modelled_ms))
                .unwrap_or_default();
            let suffix = if took_hit { " ⤳hit" } else { "" };
            let name_w = width.saturating_sub(4 + 9 + suffix.chars().count());
            let text = format!(
                "{arrow}{symbol} {:<name_w$}{suffix}{:>9}",
                fit(&node.title, name_w),
                modelled
            );
            Line::styled(
                fit(&text, width),
                if node.current { theme.selected } else { style },
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_detail(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let lifecycle = &state.lifecycle;
    let title = match shown(state) {
        Some((sent, trace)) => format!(
            " Stage {}/{} (←→ step, PgUp/PgDn scroll) ",
            sent.stage + 1,
            trace.stages.len()
        ),
        None => " Stage detail ".to_string(),
    };
    let mut lines: Vec<Line> = Vec::new();
    if let Some(note) = &lifecycle.tour_note {
        lines.push(Line::styled(note.clone(), theme.warn));
        lines.push(Line::raw(""));
    }
    if let Some(error) = &lifecycle.error {
        lines.push(Line::styled(
            format!("Could not send: {error}"),
            theme.reject,
        ));
        lines.push(Line::raw(""));
    }
    match shown(state) {
        Some((sent, trace)) => {
            if let Some(record) = trace.stages.get(sent.stage) {
                if sent.traces.len() > 1 {
                    let counts = lifecycle
                        .status_counts()
                        .iter()
                        .map(|(status, n)| format!("{n}× {status}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    lines.push(Line::styled(
                        format!(
                            "{} copies sent at once: {counts}. Showing copy {} ([ ] for others).",
                            sent.traces.len(),
                            sent.copy + 1
                        ),
                        theme.warn,
                    ));
                }
                lines.extend(stage_detail::lines(&state.scenario, trace, record, theme));
            }
        }
        None => {
            if let Some(sample) = lifecycle.selected_sample() {
                lines.push(Line::styled(sample.title.clone(), theme.accent));
                lines.push(Line::styled(sample.line.clone(), theme.text));
                lines.push(Line::styled(sample.explain.clone(), theme.text));
                lines.push(Line::raw(""));
            }
            let mut keys = vec![Span::styled("Press ", theme.dim)];
            keys.extend(hint(
                "Enter",
                "to send it through the real engine, then",
                theme,
            ));
            keys.extend(hint("← →", "to walk its stages.", theme));
            lines.push(Line::from(keys));
            lines.push(Line::styled(
                "Every stage is real code: the numbers are what it really did.",
                theme.dim,
            ));
        }
    }
    // Laid out first, so the pane knows how far it can scroll and says where it is.
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    let inner_w = area.width.saturating_sub(2);
    let visible = usize::from(area.height.saturating_sub(2));
    let total = paragraph.line_count(inner_w);
    let max_scroll = u16::try_from(total.saturating_sub(visible)).unwrap_or(u16::MAX);
    lifecycle.detail_max_scroll.set(max_scroll);
    let scroll = lifecycle.detail_scroll.min(max_scroll);
    let position = scroll_position(usize::from(scroll), visible, total);
    let mut block = pane(title, false, theme);
    if !position.is_empty() {
        block =
            block.title_bottom(Line::styled(format!(" {position} "), theme.dim).right_aligned());
    }
    frame.render_widget(paragraph.block(block).scroll((scroll, 0)), area);
    scrollbar(frame, area, total, usize::from(scroll), visible, theme);
}

fn draw_waterfall(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let block = pane(" Waterfall (modelled time) ", false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match shown(state) {
        Some((sent, trace)) => {
            let height = usize::from(inner.height);
            let offset = sent.stage.saturating_sub(height.saturating_sub(1));
            frame.render_widget(
                &Waterfall {
                    stages: &trace.stages,
                    current: sent.stage,
                    offset,
                    theme,
                },
                inner,
            );
        }
        None => frame.render_widget(
            Paragraph::new("Send a request to see where its time goes.").style(theme.dim),
            inner,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::keep_outcome;

    #[test]
    fn a_cut_title_keeps_its_outcome() {
        let title = "Bob (viewer) tries to create a project → 403";
        assert_eq!(keep_outcome(title, 60), title);
        let cut = keep_outcome(title, 30);
        assert!(cut.ends_with("… → 403"), "{cut}");
        assert_eq!(cut.chars().count(), 30);
        // A long outcome keeps its first word.
        let cut = keep_outcome("Alice pays invoice ACME-2026-002 → 201 + events", 26);
        assert!(cut.ends_with(" → 201"), "{cut}");
        // No outcome: a plain cut.
        assert_eq!(
            keep_outcome("The browser loads /static/app.js", 10),
            "The brows…"
        );
    }
}
