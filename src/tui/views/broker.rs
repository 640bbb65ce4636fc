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

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph, Sparkline};

use super::super::state::AppState;
use super::super::theme::Theme;
use super::super::widgets::flow::FlowView;
use super::super::widgets::{clock, fit, hint, ms, pad, pane};
use crate::engine::BrokerEvent;
use crate::engine::WorkerState;
use crate::engine::{Event, Level, TopicView};

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
    if area.width >= 120 && area.height >= 30 {
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
/// view), unless `g` hid it; returns the rest of `area`.
fn draw_flow_strip(frame: &mut Frame, area: Rect, state: &AppState) -> Rect {
    let Some(view) = flow_view(state).filter(|_| !state.broker.flow_toggled) else {
        return area;
    };
    let height = (view.height(area.width.saturating_sub(2)) + 2).min(area.height / 3);
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
    const HINTS: [(&str, &str); 9] = [
        // Enter sends the request that feeds the selected topic (a payment for payments).
        ("Enter", "send"),
        ("g", "flow"),
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
    let [spark_area, stats_area] =
        Layout::horizontal([Constraint::Length(spark_w), Constraint::Min(10)]).areas(inner);
    // Queue depth per second, newest on the right.
    let depth: Vec<u64> = snapshot
        .series
        .iter()
        .map(|s| s.queued.get(index).copied().unwrap_or(0))
        .collect();
    let shown = &depth[depth.len().saturating_sub(usize::from(spark_w))..];
    let [spark_label, spark] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(spark_area);
    frame.render_widget(
        Paragraph::new(fit(
            &format!("depth/s, max {}", shown.iter().max().copied().unwrap_or(0)),
            usize::from(spark_w),
        ))
        .style(theme.dim),
        spark_label,
    );
    frame.render_widget(Sparkline::default().data(shown).style(theme.accent), spark);

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
    let wait = format!(
        "wait now {} · since start p50 {} · p99 {}",
        window
            .and_then(|w| w.wait_ms_mean)
            .map_or_else(|| "—".to_string(), ms),
        ms(t.wait_ms.p50),
        ms(t.wait_ms.p99),
    );
    let theory = match window
        .and_then(|w| w.theory.as_ref())
        .or(view.theory.as_ref())
    {
        Some(_) if view.live_workers == 0 => {
            format!("theory: unstable — no live workers, the queue grows by {arrival_rate:.1}/s")
        }
        Some(p) => format!(
            "theory {}, {} workers: ρ {:.2} · wait {}",
            p.model.split(" (").next().unwrap_or(p.model),
            view.live_workers,
            p.utilization,
            ms(p.wait_ms_mean),
        ),
        None => "no worker pool: messages wait here until someone reads them".into(),
    };
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

/// The topic a broker event is about.
pub fn event_topic(event: &BrokerEvent) -> &str {
    match event {
        BrokerEvent::Published { topic, .. }
        | BrokerEvent::Rejected { topic, .. }
        | BrokerEvent::Acked { topic, .. }
        | BrokerEvent::Retried { topic, .. }
        | BrokerEvent::DeadLettered { topic, .. }
        | BrokerEvent::Parked { topic, .. }
        | BrokerEvent::Redriven { topic, .. }
        | BrokerEvent::LeaseExpired { topic, .. } => topic,
    }
}

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
                        "{topic} #{id} failed attempt {attempt}: {error}; retry in {delay_ms} ms"
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

fn draw_events(frame: &mut Frame, area: Rect, state: &AppState) {
    let theme = &state.theme;
    let broker = &state.broker;
    let mut title = match state.scenario.topics.get(broker.selected) {
        Some(topic) => format!(" Events · {} ", topic.name),
        None => " Events ".to_string(),
    };
    if broker.payment_pending {
        title.push_str("· paying… ");
    } else if let Some(followed) = &broker.followed {
        let ids = followed
            .messages
            .iter()
            .map(|(topic, id, _)| format!("{topic} #{id}"))
            .collect::<Vec<_>>()
            .join(", ");
        title.push_str(&format!(
            "· payment → {} · following {ids} ",
            followed.status
        ));
    }
    let block = pane(
        fit(&title, usize::from(area.width.saturating_sub(4))),
        false,
        theme,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height);
    let width = usize::from(inner.width);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(error) = &broker.error {
        lines.push(Line::styled(
            fit(&format!("payment failed: {error}"), width),
            theme.reject,
        ));
    }
    let room = height.saturating_sub(lines.len());
    let selected = state.scenario.topics.get(broker.selected);
    let pool = selected.and_then(|t| state.scenario.workers.iter().find(|w| w.topic == t.name));
    let concerns = |event: &Event| match event {
        Event::Broker { event, .. } => selected.is_none_or(|t| event_topic(event) == t.name),
        Event::Worker { change, .. } => pool.is_some_and(|p| p.name == change.pool),
        _ => true,
    };
    let shown: Vec<&Event> = broker
        .events
        .iter()
        .filter(|e| concerns(e) || broker.is_followed(e))
        .collect();
    let start = shown.len().saturating_sub(room);
    for event in shown.into_iter().skip(start) {
        let (at_ms, text, style) = event_text(event, theme);
        let style = if broker.is_followed(event) {
            theme.selected
        } else {
            style
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", clock(at_ms)), theme.dim),
            Span::styled(fit(&text, width.saturating_sub(8)), style),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
