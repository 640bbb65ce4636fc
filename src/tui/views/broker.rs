//! The Broker queue view: the message flow as a graph (see [`FlowView`]), one panel per topic
//! (queue-depth sparkline, counters, wait percentiles, utilisation against M/M/c theory, the
//! worker grid) and the live event stream.
//!
//! ```text
//!  wide                                         narrow
//!  ┌ flow: API ▶ outbox ▶ topics ▶ pools ┐      ┌ topics table ────────────┐
//!  ┌ payments ───────────────┐┌ events ─┐      ├ topic panel (g: flow) ───┤
//!  │ ▁▂▅▇ depth · counters   ││ …       │      ├ events ──────────────────┤
//!  │ wait p50/95/99 · ρ gauge││         │      └──────────────────────────┘
//!  │ theory · ●●○ workers    ││         │
//!  ├ webhooks … analytics …  ┤│         │
//!  └ dead-letter topics ─────┘└─────────┘
//! ```

mod api_line;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LineGauge, Paragraph};

use super::super::state::AppState;
use super::super::state::broker::{KindFilter, Panel, TopicFilter};
use super::super::theme::Theme;
use super::super::widgets::flow::FlowView;
use super::super::widgets::{clock, fit, hint, ms, pad, pane, scrollbar};
use crate::engine::BrokerEvent;
use crate::engine::{Event, Level, Snapshot, TopicView};
use crate::engine::{WorkerChange, WorkerState};

/// Draws the view into `area`.
pub fn draw(frame: &mut Frame, area: Rect, state: &AppState) {
    let Some(snapshot) = state.snapshot.as_ref() else {
        frame.render_widget(
            Paragraph::new("waiting for the engine's first snapshot…")
                .style(state.theme.dim)
                .block(pane(" Broker ", false, &state.theme)),
            area,
        );
        return;
    };
    let topics = &snapshot.topics;
    // The API line sits above both layouts; which layout fits is decided on the whole view.
    let wide = area.width >= 120 && area.height >= 30;
    let [api, area] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    api_line::draw_api_line(frame, api, state);
    if state.zoom {
        // `z`: the selected topic alone, its depth chart as tall as the screen allows.
        draw_topic_panel(frame, area, state, state.broker.selected, true);
    } else if wide {
        let area = draw_flow_strip(frame, area, state);
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                .areas(area);
        let consumed: Vec<usize> = (0..topics.len())
            .filter(|&i| topics[i].pool.is_some())
            .collect();
        let others: Vec<usize> = (0..topics.len())
            .filter(|&i| topics[i].pool.is_none())
            .collect();
        let others_h = if others.is_empty() {
            0
        } else {
            others.len() as u16 + 3
        };
        let [panels, rest, keys] = Layout::vertical([
            Constraint::Min(10),
            Constraint::Length(others_h),
            Constraint::Length(2),
        ])
        .areas(left);
        let rows = Layout::vertical(
            consumed
                .iter()
                .map(|_| Constraint::Ratio(1, consumed.len().max(1) as u32)),
        )
        .split(panels);
        for (slot, &index) in consumed.iter().enumerate() {
            draw_topic_panel(frame, rows[slot], state, index, true);
        }
        if others_h > 0 {
            draw_dead_letter_table(frame, rest, state, &others, " Other topics (dead letters) ");
        }
        draw_keys(frame, keys, state);
        draw_events(frame, right, state);
    } else {
        let all: Vec<usize> = (0..topics.len()).collect();
        let table_h = (topics.len() as u16 + 3).min(area.height / 3);
        // `g` puts the flow where the selected topic's panel goes, as tall as it needs while
        // the events keep three rows.
        let panel_h = if state.broker.flow_toggled {
            (flow_view(state).map_or(0, |v| v.height(area.width.saturating_sub(2))) + 2)
                .clamp(3, area.height.saturating_sub(table_h + 4).max(3))
        } else {
            9
        };
        let [table, panel, events, keys] = Layout::vertical([
            Constraint::Length(table_h),
            Constraint::Length(panel_h),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        draw_topic_table(frame, table, state, &all, " Topics (j/k) ");
        if state.broker.flow_toggled {
            draw_flow(frame, panel, state);
        } else {
            draw_topic_panel(frame, panel, state, state.broker.selected, false);
        }
        draw_events(frame, events, state);
        draw_keys(frame, keys, state);
    }
}

/// The flow graph of the scenario with the latest snapshot's figures.
fn flow_view(state: &AppState) -> Option<FlowView<'_>> {
    let snapshot = state.snapshot.as_ref()?;
    Some(FlowView::new(
        &state.scenario,
        snapshot,
        state.broker.selected,
        &state.theme,
    ))
}

/// The flow as a strip across the top of `area`, as tall as the graph (at most a third of the
/// view); returns the rest of `area`. Shown by default when the topic panels below keep every
/// line (160×48 and up), hidden by default when they would lose their wait and theory lines
/// (120×40): `g` flips the default either way.
fn draw_flow_strip(frame: &mut Frame, area: Rect, state: &AppState) -> Rect {
    let Some(view) = flow_view(state) else {
        return area;
    };
    let height = (view.height(area.width.saturating_sub(2)) + 2).min(area.height / 3);
    let snapshot = state.snapshot.as_ref();
    let consumed = snapshot.map_or(0, |s| s.topics.iter().filter(|t| t.pool.is_some()).count());
    let others = snapshot.map_or(0, |s| s.topics.len()) - consumed;
    // Each panel: six lines and its border; the dead-letter table; the key hints.
    let needed = consumed as u16 * 8 + if others > 0 { others as u16 + 3 } else { 0 } + 2;
    let roomy = area.height >= height + needed;
    if roomy == state.broker.flow_toggled {
        return area;
    }
    let [strip, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(area);
    draw_flow(frame, strip, state);
    rest
}

fn draw_flow(frame: &mut Frame, area: Rect, state: &AppState) {
    let Some(view) = flow_view(state) else {
        return;
    };
    let block = pane(" Flow · now (10 s) ", false, &state.theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(&view, inner);
}

fn draw_keys(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    const HINTS: [(&str, &str); 11] = [
        // Enter sends the request that feeds the selected topic (a payment for payments).
        ("Enter", "send"),
        ("g", "flow"),
        // The event panel's keys early: at 80 columns they are what a learner reaches for.
        ("t/e", "filter"),
        ("f", "freeze"),
        ("+/-", "rate"),
        ("w/W", "workers"),
        ("K", "kill"),
        ("d", "slow db"),
        ("c", "flush"),
        ("x", "poison"),
        ("R", "redrive"),
    ];
    const HELP: (&str, &str) = ("?", "all keys");
    let width = |(key, text): (&str, &str)| key.chars().count() + text.chars().count() + 3;
    // On one line, the hints that fit, and always the way to the rest (`?`); wrapped lines
    // have room for all.
    let mut budget = if area.height > 1 {
        usize::MAX
    } else {
        usize::from(area.width).saturating_sub(width(HELP))
    };
    let mut spans = Vec::new();
    for pair in HINTS {
        let needed = width(pair);
        if needed > budget {
            break;
        }
        budget -= needed;
        spans.extend(hint(pair.0, pair.1, theme));
    }
    spans.extend(hint(HELP.0, HELP.1, theme));
    frame.render_widget(
        Paragraph::new(Line::from(spans)).wrap(ratatui::widgets::Wrap { trim: true }),
        area,
    );
}

fn topic_style(state: &AppState, index: usize) -> Style {
    if index == state.broker.selected {
        state.theme.selected
    } else {
        state.theme.text
    }
}

/// A compact table: one line per topic.
fn draw_topic_table(
    frame: &mut Frame,
    area: Rect,
    state: &AppState,
    indexes: &[usize],
    title: &str,
) {
    let theme = &state.theme;
    let Some(snapshot) = state.snapshot.as_ref() else {
        return;
    };
    let block = pane(title.to_string(), false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let mut lines = vec![Line::styled(
        fit(
            &format!(
                "{:<16}{:>7}{:>7}{:>8}{:>7}{:>7}{:>8}  workers",
                "topic", "queued", "flight", "acked", "retry", "dead", "busy"
            ),
            width,
        ),
        theme.dim,
    )];
    let room = usize::from(inner.height).saturating_sub(1).max(1);
    let at = indexes
        .iter()
        .position(|&i| i == state.broker.selected)
        .unwrap_or(0);
    let offset = at.saturating_sub(room - 1);
    for &index in indexes.iter().skip(offset).take(room) {
        let Some(view) = snapshot.topics.get(index) else {
            continue;
        };
        let t = &view.topic;
        let workers = if view.pool.is_some() {
            worker_summary(&view.workers)
        } else {
            "-".into()
        };
        let text = format!(
            "{:<16}{:>7}{:>7}{:>8}{:>7}{:>7}{:>7.0}%  {workers}",
            fit(&t.name, 15),
            t.queued(),
            t.in_flight(),
            t.sum(|g| g.counters.acked),
            t.sum(|g| g.counters.retried),
            t.sum(|g| g.counters.dead_lettered),
            view.window.map_or(view.utilization, |w| w.utilization) * 100.0,
        );
        lines.push(Line::styled(pad(&text, width), topic_style(state, index)));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The topics no pool consumes — the dead-letter topics, mostly: what each holds, how long the
/// oldest has waited, how many wait at the source for room (parked), and the newest last error.
fn draw_dead_letter_table(
    frame: &mut Frame,
    area: Rect,
    state: &AppState,
    indexes: &[usize],
    title: &str,
) {
    let theme = &state.theme;
    let Some(snapshot) = state.snapshot.as_ref() else {
        return;
    };
    let block = pane(title.to_string(), false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let mut lines = vec![Line::styled(
        fit(
            &format!(
                "{:<16}{:>7}{:>10}{:>8}{:>9}  last error (R redrives)",
                "topic", "depth", "oldest", "parked", "redriven"
            ),
            width,
        ),
        theme.dim,
    )];
    let room = usize::from(inner.height).saturating_sub(1).max(1);
    for &index in indexes.iter().take(room) {
        let Some(view) = snapshot.topics.get(index) else {
            continue;
        };
        let t = &view.topic;
        let (depth, oldest, parked, error) = match &t.dead_letters {
            Some(dead) => (
                dead.depth,
                dead.oldest_age_ms.map_or("-".into(), |age| ms(age as f64)),
                dead.parked_at_sources,
                dead.recent_errors.first().cloned().unwrap_or_default(),
            ),
            None => (t.queued(), "-".into(), t.parked(), String::new()),
        };
        let text = format!(
            "{:<16}{depth:>7}{oldest:>10}{parked:>8}{:>9}  {error}",
            fit(&t.name, 15),
            t.redriven,
        );
        let style = if parked > 0 {
            theme.warn
        } else {
            topic_style(state, index)
        };
        lines.push(Line::styled(pad(&text, width), style));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn worker_summary(workers: &[WorkerState]) -> String {
    let count = |f: fn(&WorkerState) -> bool| workers.iter().filter(|w| f(w)).count();
    let busy = count(|w| matches!(w, WorkerState::Busy { .. }));
    let crashed = count(|w| matches!(w, WorkerState::Crashed));
    let mut text = format!("{busy}/{} busy", workers.len());
    if crashed > 0 {
        text.push_str(&format!(", {crashed} crashed"));
    }
    text
}

/// A worker's symbol, style and label.
pub fn worker_cell(worker: &WorkerState, theme: &Theme) -> (String, Style) {
    match worker {
        WorkerState::Idle => ("○ idle".into(), theme.dim),
        WorkerState::Busy { message, attempt } => {
            let retry = if *attempt > 1 {
                format!(" try {attempt}")
            } else {
                String::new()
            };
            (format!("● #{message}{retry}"), theme.pass)
        }
        WorkerState::BackingOff { message } => (format!("◐ #{message} backoff"), theme.warn),
        WorkerState::Crashed => ("✗ crashed".into(), theme.reject),
    }
}

fn draw_topic_panel(frame: &mut Frame, area: Rect, state: &AppState, index: usize, wide: bool) {
    let theme = &state.theme;
    let Some(snapshot) = state.snapshot.as_ref() else {
        return;
    };
    let Some(view) = snapshot.topics.get(index) else {
        return;
    };
    let t = &view.topic;
    let selected = index == state.broker.selected;
    let paused = if t.paused { " · PAUSED" } else { "" };
    let title = format!(
        " {} · {} · {}{paused} ",
        t.name,
        view.pool.as_deref().unwrap_or("no workers"),
        state
            .scenario
            .topic(&t.name)
            .map_or("", |topic| topic.explain.as_str())
    );
    let block = pane(
        fit(&title, usize::from(area.width.saturating_sub(4))),
        selected,
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 2 || inner.width < 20 {
        return;
    }
    let spark_w = if wide {
        inner.width / 3
    } else {
        inner.width / 4
    }
    .max(8);
    let [spark_area, stats_area] = if state.zoom && inner.height >= 16 {
        // Zoomed: the figures on top, the depth chart across the whole width under them.
        let [stats, chart] =
            Layout::vertical([Constraint::Length(7), Constraint::Min(8)]).areas(inner);
        [chart, stats]
    } else {
        Layout::horizontal([Constraint::Length(spark_w), Constraint::Min(10)])
            .spacing(1)
            .areas(inner)
    };
    // Exact only while nothing the model leaves out (retries) has happened.
    let exact = state
        .broker
        .exact_forecast
        .get(index)
        .copied()
        .unwrap_or(false)
        && view.topic.sum(|g| g.counters.retried) == 0;
    draw_depth_chart(frame, spark_area, snapshot, index, exact, theme);

    let counters = format!(
        "published {} · acked {} · retried {} · dead {}{}",
        t.published,
        t.sum(|g| g.counters.acked),
        t.sum(|g| g.counters.retried),
        t.sum(|g| g.counters.dead_lettered),
        if t.rejected > 0 {
            format!(" · refused {}", t.rejected)
        } else {
            String::new()
        }
    );
    // Parked messages are rare and important: shown first, and only when there are some.
    let parked = match t.parked() {
        0 => String::new(),
        n => format!("parked {n} (dead-letter topic full) · "),
    };
    // "Now" is the last 10 s of engine time; until a second has passed, the run so far.
    let window = view.window.as_ref();
    let span = window.map_or_else(|| "so far".to_string(), |w| format!("{:.0} s", w.seconds));
    let arrival_rate = window.map_or(view.arrival_rate, |w| w.arrival_rate);
    // Most telling first: a narrow panel cuts the end of each line, not its point.
    let now = format!(
        "now ({span}): λ {:.1}/s · {parked}queued {} · in flight {} · {}/{} full",
        arrival_rate,
        t.queued(),
        t.in_flight(),
        t.backlog(),
        t.capacity,
    );
    // The tail against Erlang C's, for the same since-start figures, where the model is exact.
    let tail_theory = view
        .theory
        .filter(|p| p.model.contains("exact"))
        .and_then(|p| p.wait_quantile_ms(0.99))
        .map_or_else(String::new, |q| format!(" (M/M/c {})", ms(q)));
    let wait = format!(
        "wait now {} · since start p50 {} · p99 {}{tail_theory}",
        window
            .and_then(|w| w.wait_ms_mean)
            .map_or_else(|| "—".to_string(), ms),
        ms(t.wait_ms.p50),
        ms(t.wait_ms.p99),
    );
    let theory = theory_line(view, arrival_rate);
    let width = usize::from(stats_area.width);
    let [lines_area, gauge_area, workers_area] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(stats_area);
    frame.render_widget(
        Paragraph::new(vec![
            Line::styled(fit(&counters, width), theme.text),
            Line::styled(fit(&now, width), theme.text),
            Line::styled(fit(&wait, width), theme.text),
            Line::styled(fit(&theory, width), theme.dim),
        ]),
        lines_area,
    );
    let utilization = window
        .map_or(view.utilization, |w| w.utilization)
        .clamp(0.0, 1.0);
    let gauge_style = if utilization > 0.85 {
        theme.reject
    } else if utilization > 0.6 {
        theme.warn
    } else {
        theme.pass
    };
    frame.render_widget(
        LineGauge::default()
            .ratio(utilization)
            .label(format!("busy ({span}) {:>3.0}% ", utilization * 100.0))
            .filled_style(gauge_style)
            .unfilled_style(theme.dim),
        gauge_area,
    );
    draw_workers(frame, workers_area, view, theme);
}

/// The theory line: Erlang C (or Allen–Cunneen) while the live workers keep up; past
/// saturation, M/M/c/K — the topic's capacity makes a steady state exist, with refusals —
/// and the refused share beside its prediction whenever publishes are being refused.
fn theory_line(view: &TopicView, arrival_rate: f64) -> String {
    let window = view.window.as_ref();
    let Some(p) = window
        .and_then(|w| w.theory.as_ref())
        .or(view.theory.as_ref())
    else {
        return "no worker pool: messages wait here until someone reads them".into();
    };
    if view.live_workers == 0 {
        return format!(
            "theory: unstable — no live workers, the queue grows by {arrival_rate:.1}/s"
        );
    }
    let finite = window.and_then(|w| w.finite.as_ref());
    let refused = window.map_or(0.0, |w| w.refused_share);
    let workers = view.live_workers;
    match finite {
        // Past saturation Erlang C has no answer; the finite topic does, for the load held
        // forever — the depth chart's expected line shows how fast it gets there.
        Some(f) if p.utilization >= 1.0 => format!(
            "overload ρ {:.2}, {workers} workers · if it lasts (M/M/c/K): wait {}, refused {:.0}% \
             (now {:.0}%)",
            p.utilization,
            ms(f.wait_ms_mean),
            f.p_block * 100.0,
            refused * 100.0,
        ),
        _ => {
            let refusals = match finite {
                Some(f) if refused > 0.0 || f.p_block > 1e-3 => format!(
                    " · refused {:.1}% (M/M/c/K {:.1}%)",
                    refused * 100.0,
                    f.p_block * 100.0
                ),
                _ => String::new(),
            };
            format!(
                "theory {}, {workers} workers: ρ {:.2} · wait {}{refusals}",
                p.model.split(" (").next().unwrap_or(p.model),
                p.utilization,
                ms(p.wait_ms_mean),
            )
        }
    }
}

/// Queue depth per engine second (bars, newest on the right) with the transient forecast's
/// expected depth drawn over it as a line: where they part, something the model leaves out
/// (retries, non-exponential service, an upstream pool) is at work.
fn draw_depth_chart(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    index: usize,
    exact: bool,
    theme: &Theme,
) {
    // Two braille dots per cell across: one second per dot.
    let seconds = usize::from(area.width) * 2;
    let series = &snapshot.series[snapshot.series.len().saturating_sub(seconds)..];
    // Newest on the right edge, as time flows.
    let x = |i: usize| (seconds - series.len() + i) as f64;
    let depth: Vec<(f64, f64)> = series
        .iter()
        .enumerate()
        .map(|(i, s)| (x(i), s.queued.get(index).copied().unwrap_or(0) as f64))
        .collect();
    let expected: Vec<(f64, f64)> = series
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((x(i), *s.expected.get(index)?)))
        .collect();
    let top = depth
        .iter()
        .chain(&expected)
        .map(|(_, y)| *y)
        .fold(1.0, f64::max);
    let last_expected = expected.last().map_or(0.0, |(_, y)| *y);
    let [label, chart] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let max_depth = depth.iter().map(|(_, y)| *y).fold(0.0, f64::max);
    let approx = if exact { "" } else { "≈" };
    let wide = format!("▮ depth ≤{max_depth:.0}  ─ expected {approx}{last_expected:.1}");
    // A narrow chart keeps both numbers: E is the expected depth.
    let text = if wide.chars().count() <= usize::from(area.width) {
        wide
    } else {
        format!("▮ ≤{max_depth:.0} ─ E {approx}{last_expected:.1}")
    };
    frame.render_widget(
        Paragraph::new(fit(&text, usize::from(area.width))).style(theme.dim),
        label,
    );
    let datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Bar)
            .style(theme.accent)
            .data(&depth),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.warn)
            .data(&expected),
    ];
    frame.render_widget(
        Chart::new(datasets)
            .x_axis(Axis::default().bounds([0.0, seconds.saturating_sub(1) as f64]))
            .y_axis(Axis::default().bounds([0.0, top])),
        chart,
    );
}

fn draw_workers(frame: &mut Frame, area: Rect, view: &TopicView, theme: &Theme) {
    if view.pool.is_none() || area.height == 0 {
        return;
    }
    let mut spans = vec![Span::styled("workers ", theme.dim)];
    for worker in &view.workers {
        let (text, style) = worker_cell(worker, theme);
        spans.push(Span::styled(format!("[{text}] "), style));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).wrap(ratatui::widgets::Wrap { trim: true }),
        area,
    );
}

pub use super::super::state::broker::event_topic;

/// One event as a line: time, text, style.
pub fn event_text(event: &Event, theme: &Theme) -> (u64, String, Style) {
    match event {
        Event::Log {
            at_ms,
            level,
            message,
        } => {
            let style = match level {
                Level::Error => theme.error,
                Level::Warn => theme.warn,
                Level::Info => theme.accent,
            };
            (*at_ms, message.clone(), style)
        }
        Event::Fault { at_ms, message } => (*at_ms, format!("FAULT {message}"), theme.warn),
        // Listed only for a followed message (routine transitions stay in the worker grid).
        Event::Worker {
            at_ms,
            change:
                WorkerChange {
                    pool,
                    worker,
                    state: WorkerState::Busy { message, attempt },
                },
        } => (
            *at_ms,
            format!("#{message} leased by {pool} worker {worker} (attempt {attempt})"),
            theme.text,
        ),
        Event::Worker { at_ms, change } => {
            let (text, style) = worker_cell(&change.state, theme);
            (
                *at_ms,
                format!("{} worker {}: {text}", change.pool, change.worker),
                style,
            )
        }
        Event::Broker { at_ms, event } => {
            let (text, style) = match event {
                BrokerEvent::Published { topic, id, event } => {
                    (format!("{topic} #{id} published ({event})"), theme.text)
                }
                BrokerEvent::Rejected { topic, event } => (
                    format!("{topic}: publish of {event} refused (topic full → 503)"),
                    theme.reject,
                ),
                BrokerEvent::Acked {
                    topic,
                    group,
                    id,
                    attempt,
                    duplicate,
                } => (
                    if *duplicate {
                        format!("{topic} #{id} duplicate skipped by {group}: already applied")
                    } else {
                        format!("{topic} #{id} acked by {group} (attempt {attempt})")
                    },
                    theme.pass,
                ),
                BrokerEvent::Retried {
                    topic,
                    id,
                    attempt,
                    delay_ms,
                    error,
                    ..
                } => (
                    format!(
                        "{topic} #{id} failed attempt {attempt}: {error}; retry in {}",
                        ms(*delay_ms as f64)
                    ),
                    theme.warn,
                ),
                BrokerEvent::DeadLettered {
                    topic, id, error, ..
                } => (
                    format!("{topic} #{id} dead-lettered: {error}"),
                    theme.reject,
                ),
                BrokerEvent::Parked {
                    topic,
                    id,
                    dead_letter,
                    error,
                    ..
                } => (
                    format!("{topic} #{id} parked, {dead_letter} is full (kept): {error}"),
                    theme.warn,
                ),
                BrokerEvent::Redriven {
                    topic,
                    id,
                    to,
                    new_id,
                } => (
                    format!("{topic} #{id} redriven to {to} as #{new_id}, attempts from 1"),
                    theme.accent,
                ),
                BrokerEvent::LeaseExpired {
                    topic, id, worker, ..
                } => (
                    format!("{topic} #{id} lease expired (worker {worker} gone): redelivered"),
                    theme.warn,
                ),
            };
            (*at_ms, text, style)
        }
    }
}

/// The panel's title: the freeze first (a panel that is not live must say so even when narrow),
/// then the scope, the kind filter and what the filters hide, then a payment on its way.
/// `scroll`: lines the panel is scrolled back (as drawn).
fn events_title(state: &AppState, panel: &Panel, scroll: usize) -> String {
    let broker = &state.broker;
    // Paused, "PAUSED" takes the place of "Events": the 48 columns at 120×40 hold it all.
    let mut title = String::from(" Events · ");
    if let Some(new) = panel.new {
        let more = if panel.more_new { "+" } else { "" };
        title = format!(" PAUSED · {new}{more} new · ");
        if scroll > 0 {
            title.push_str(&format!("↑{scroll} · "));
        }
    }
    match (
        broker.topic_filter,
        state.scenario.topics.get(broker.selected),
    ) {
        (TopicFilter::Selected, Some(topic)) => title.push_str(&topic.name),
        _ => title.push_str("all topics"),
    }
    if broker.kind_filter != KindFilter::All {
        title.push_str(&format!(" · {}", broker.kind_filter.label()));
    }
    if panel.hidden > 0 {
        title.push_str(&format!(" ({} hidden)", panel.hidden));
    }
    if broker.payment_pending {
        title.push_str(" · paying…");
    }
    title.push(' ');
    title
}

/// A line of the stream: the time, then the text (in `style`).
fn event_line<'a>(event: &Event, style: Option<Style>, width: usize, theme: &Theme) -> Line<'a> {
    let (at_ms, text, own) = event_text(event, theme);
    Line::from(vec![
        Span::styled(format!("{} ", clock(at_ms)), theme.dim),
        Span::styled(fit(&text, width.saturating_sub(8)), style.unwrap_or(own)),
    ])
}

/// A followed message's journey in a word per event, for a panel with room for one line.
fn journey(event: &Event) -> &'static str {
    match event {
        Event::Broker { event, .. } => match event {
            BrokerEvent::Published { .. } => "published",
            BrokerEvent::Rejected { .. } => "refused",
            BrokerEvent::Acked {
                duplicate: true, ..
            } => "duplicate skipped",
            BrokerEvent::Acked { .. } => "acked",
            BrokerEvent::Retried { .. } => "failed",
            BrokerEvent::DeadLettered { .. } => "dead-lettered",
            BrokerEvent::Parked { .. } => "parked",
            BrokerEvent::Redriven { .. } => "redriven",
            BrokerEvent::LeaseExpired { .. } => "lease expired",
        },
        Event::Worker { .. } => "leased",
        _ => "",
    }
}

/// The followed payment, pinned above the stream: its request, then its messages' lines (as
/// many of the newest as `room` allows), or all of it on one line when `room` is 1.
fn pinned_lines<'a>(state: &AppState, room: usize, width: usize) -> Vec<Line<'a>> {
    let theme = &state.theme;
    let broker = &state.broker;
    let Some(followed) = &broker.followed else {
        return Vec::new();
    };
    if room == 0 {
        return Vec::new();
    }
    let ids = followed
        .messages
        .iter()
        .map(|(topic, id, _)| format!("{topic} #{id}"))
        .collect::<Vec<_>>()
        .join(", ");
    if room == 1 {
        let steps: Vec<&str> = broker.pinned.iter().map(journey).collect();
        let text = format!(
            "▸ {} {ids}: {} · Esc unpins",
            followed.status,
            if steps.is_empty() {
                "not published yet".to_string()
            } else {
                steps.join(" → ")
            }
        );
        return vec![Line::styled(fit(&text, width), theme.selected)];
    }
    let lines_room = room - 1;
    let earlier = broker.pinned.len().saturating_sub(lines_room);
    let more = if earlier > 0 {
        format!(" (+{earlier} earlier)")
    } else {
        String::new()
    };
    // The status, the ids and the way out first: a narrow panel cuts the request's path.
    let header = format!(
        "▸ {} {ids}{more} · Esc unpins · {}",
        followed.status, followed.request
    );
    let mut lines = vec![Line::styled(fit(&header, width), theme.accent)];
    lines.extend(
        broker.pinned[earlier..]
            .iter()
            .map(|event| event_line(event, Some(theme.selected), width, theme)),
    );
    lines
}

fn draw_events(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let broker = &state.broker;
    let panel = broker.panel(&state.scenario);
    // The title says how far back the panel is scrolled, known once the lines are laid out:
    // the block's inside does not depend on its title.
    let inner = pane(String::new(), false, theme).inner(area);
    let height = usize::from(inner.height);
    let width = usize::from(inner.width);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(error) = &broker.error {
        lines.push(Line::styled(
            fit(&format!("payment failed: {error}"), width),
            theme.reject,
        ));
    }
    // The pinned payment takes at most a third of a tall panel (with a rule under it) and one
    // line of a short one, so the stream always keeps most of the room.
    let left = height.saturating_sub(lines.len());
    if broker.followed.is_some() && left >= 2 {
        if left >= 12 {
            let room = (broker.pinned.len() + 1).min(left / 3);
            lines.extend(pinned_lines(state, room, width));
            lines.push(Line::styled("─".repeat(width), theme.dim));
        } else {
            lines.extend(pinned_lines(state, 1, width));
        }
    }
    let room = height.saturating_sub(lines.len());
    let shown = &panel.shown;
    // Scrolled back `scroll` lines, but never past the oldest.
    let scroll = broker.scroll.min(shown.len().saturating_sub(room));
    let end = shown.len().saturating_sub(scroll);
    let start = end.saturating_sub(room);
    if shown.is_empty() && room > 0 {
        let why = if panel.hidden > 0 {
            "no event passes the filters (t: topic, e: kind)"
        } else {
            "no events yet"
        };
        lines.push(Line::styled(fit(why, width), theme.dim));
    }
    for event in &shown[start..end] {
        let highlight = broker.is_followed(event).then_some(theme.selected);
        lines.push(event_line(event, highlight, width, theme));
    }
    let block = pane(
        fit(
            &events_title(state, &panel, scroll),
            usize::from(area.width.saturating_sub(4)),
        ),
        false,
        theme,
    );
    frame.render_widget(block, area);
    frame.render_widget(Paragraph::new(lines), inner);
    // Where the stream is: the thumb leaves the bottom as PgUp scrolls back.
    scrollbar(frame, area, shown.len(), start, end - start, theme);
}
