//! State of the Request lifecycle view: the sample-request picker and the trace being stepped.

use std::sync::atomic::{AtomicU16, Ordering};

use crate::engine::{Outcome, Trace};
use crate::scenario::Scenario;

use super::super::action::Action;
use super::super::engine_link::{Origin, Outgoing};
use crate::engine::Command;

/// A request the picker offers.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Request id.
    pub id: String,
    /// Picker line.
    pub title: String,
    /// What to notice.
    pub explain: String,
    /// `METHOD path`.
    pub line: String,
    /// Copies sent at once.
    pub repeat: u32,
}

/// The result of the last request sent from the picker.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Request id.
    pub id: String,
    /// One trace per copy, in sending order.
    pub traces: Vec<Trace>,
    /// The copy shown.
    pub copy: usize,
    /// The stage shown (index into the copy's stages).
    pub stage: usize,
}

impl Sent {
    /// The copy shown.
    pub fn trace(&self) -> Option<&Trace> {
        self.traces.get(self.copy)
    }
}

/// The Request lifecycle view's state.
#[derive(Debug, Clone, Default)]
pub struct LifecycleState {
    /// The picker's requests (those marked `sample`).
    pub samples: Vec<Sample>,
    /// Selected picker line.
    pub selected: usize,
    /// A request on its way (its id).
    pub pending: Option<String>,
    /// The last result.
    pub sent: Option<Sent>,
    /// Why the last request could not be sent.
    pub error: Option<String>,
    /// Lines the detail pane is scrolled down.
    pub detail_scroll: u16,
    /// A tour step's stage to open when its request's trace arrives.
    pub pending_stage: Option<String>,
    /// The request on its way was sent by a tour step: its first copy is shown, the one
    /// `archsim tour --check` holds the step to (not the first refused one a learner's own
    /// send shows).
    pub pending_for_tour: bool,
    /// Why a tour step's stage is not shown: this run of the request never reached it (the
    /// live system differs from a fresh one, e.g. a warm cache answered).
    pub tour_note: Option<String>,
    /// The furthest the detail pane could scroll when it was last drawn (its lines less its
    /// height): the view writes it, as ratatui's list state keeps its offset, so PgDn stops at
    /// the last line instead of running into blank space.
    pub detail_max_scroll: DrawnLimit,
}

/// A number the view learns while it draws (how far a pane can scroll) and keys read after:
/// shared, because drawing only borrows the state; atomic, because the state crosses threads.
#[derive(Debug, Default)]
pub struct DrawnLimit(AtomicU16);

impl DrawnLimit {
    /// The value last drawn (0 before the first frame).
    pub fn get(&self) -> u16 {
        self.0.load(Ordering::Relaxed)
    }

    /// Records what the view laid out.
    pub fn set(&self, value: u16) {
        self.0.store(value, Ordering::Relaxed);
    }
}

impl Clone for DrawnLimit {
    fn clone(&self) -> Self {
        Self(AtomicU16::new(self.get()))
    }
}

/// A tour's note when this run of a request skipped the step's stage.
fn not_reached(trace: &Trace, stage: &str) -> String {
    let hit = trace
        .stages
        .iter()
        .find(|s| s.outcome == Outcome::Hit)
        .map(|s| format!(" — `{}` answered it (a hit: the system is warm)", s.stage));
    let refused = trace
        .rejected_at()
        .map(|s| format!(" — it was refused at `{}`", s.stage));
    format!(
        "This run of the request never reached `{stage}`{}. A fresh system would; the tour's \
         words describe that path.",
        hit.or(refused).unwrap_or_default()
    )
}

/// Lines one PgUp/PgDn moves the details.
const PAGE: u16 = 8;

impl LifecycleState {
    /// The picker of `scenario`.
    pub fn new(scenario: &Scenario) -> Self {
        let samples = scenario
            .requests
            .iter()
            .filter(|r| r.sample)
            .map(|r| Sample {
                id: r.id.clone(),
                title: r.title.clone(),
                explain: r.explain.clone(),
                line: format!("{} {}", r.method, r.path),
                repeat: r.repeat.max(1),
            })
            .collect();
        Self {
            samples,
            ..Self::default()
        }
    }

    /// The selected sample.
    pub fn selected_sample(&self) -> Option<&Sample> {
        self.samples.get(self.selected)
    }

    /// Applies a navigation action; returns the engine commands it needs.
    pub fn update(&mut self, action: Action) -> Vec<Outgoing> {
        let last = self.samples.len().saturating_sub(1);
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::Enter => {
                if let Some(sample) = self.selected_sample() {
                    let id = sample.id.clone();
                    self.pending = Some(id.clone());
                    // A learner's own send: the usual copy, at the first stage.
                    self.pending_for_tour = false;
                    self.pending_stage = None;
                    self.error = None;
                    return vec![Outgoing {
                        origin: Origin::Lifecycle,
                        command: Command::SendNamed { id },
                    }];
                }
            }
            Action::Left => self.step(|stage, _| stage.saturating_sub(1)),
            Action::Right => self.step(|stage, last| (stage + 1).min(last)),
            Action::First => self.step(|_, _| 0),
            Action::Last => self.step(|_, last| last),
            Action::PageUp => {
                self.detail_scroll = self
                    .detail_scroll
                    .min(self.detail_max_scroll.get())
                    .saturating_sub(PAGE);
            }
            Action::PageDown => {
                self.detail_scroll = self
                    .detail_scroll
                    .saturating_add(PAGE)
                    .min(self.detail_max_scroll.get());
            }
            Action::PrevCopy => self.pick_copy(|copy, _| copy.saturating_sub(1)),
            Action::NextCopy => self.pick_copy(|copy, last| (copy + 1).min(last)),
            _ => {}
        }
        Vec::new()
    }

    fn step(&mut self, to: impl Fn(usize, usize) -> usize) {
        if let Some(sent) = &mut self.sent {
            let last = sent.trace().map_or(0, |t| t.stages.len().saturating_sub(1));
            let stage = to(sent.stage, last);
            if stage != sent.stage {
                sent.stage = stage;
                self.detail_scroll = 0;
            }
        }
    }

    /// Shows another copy at the same stage (by id, not by position: copies refused early
    /// have fewer stages). A copy that never reached it shows the last stage it reached before
    /// it, usually the one that refused it.
    fn pick_copy(&mut self, to: impl Fn(usize, usize) -> usize) {
        let Some(sent) = &mut self.sent else { return };
        let seen: Vec<String> = sent.trace().map_or_else(Vec::new, |t| {
            t.stages
                .iter()
                .take(sent.stage + 1)
                .map(|s| s.stage.clone())
                .collect()
        });
        let last = sent.traces.len().saturating_sub(1);
        sent.copy = to(sent.copy, last);
        if let (Some(trace), Some(current)) = (sent.trace(), seen.last()) {
            sent.stage = trace
                .stages
                .iter()
                .position(|s| &s.stage == current)
                .or_else(|| trace.stages.iter().rposition(|s| seen.contains(&s.stage)))
                .unwrap_or(0);
        }
        self.detail_scroll = 0;
    }

    /// A tour step: shows request `id` at `stage` — the trace already shown when it is that
    /// request's, else the request sent again (the stage opens when its trace arrives).
    pub fn show(&mut self, id: &str, stage: Option<&str>) -> Vec<Outgoing> {
        if let Some(index) = self.samples.iter().position(|s| s.id == id) {
            self.selected = index;
        }
        self.tour_note = None;
        let shown = self.sent.as_mut().filter(|sent| sent.id == id);
        if let Some(sent) = shown {
            if let Some(want) = stage {
                match sent
                    .trace()
                    .and_then(|t| t.stages.iter().position(|s| s.stage == want))
                {
                    Some(index) => sent.stage = index,
                    None => self.tour_note = sent.trace().map(|t| not_reached(t, want)),
                }
                self.detail_scroll = 0;
            }
            return Vec::new();
        }
        self.pending = Some(id.to_string());
        self.pending_stage = stage.map(str::to_string);
        self.pending_for_tour = true;
        self.error = None;
        vec![Outgoing {
            origin: Origin::Lifecycle,
            command: Command::SendNamed { id: id.to_string() },
        }]
    }

    /// Takes the traces of a request sent from the picker. Of a repeated request it shows the
    /// first copy that was refused (the interesting one), else the last — or, sent by a tour
    /// step, the first copy, the one the step's `expect` is checked on; it starts at the first
    /// stage (or the step's), so the learner walks the request from the edge in.
    pub fn receive(&mut self, id: String, result: Result<Vec<Trace>, String>) {
        if self.pending.as_deref() == Some(id.as_str()) {
            self.pending = None;
        }
        match result {
            Ok(traces) if !traces.is_empty() => {
                let copy = if std::mem::take(&mut self.pending_for_tour) {
                    0
                } else {
                    traces
                        .iter()
                        .position(|t| t.rejected_at().is_some() || t.status >= 400)
                        .unwrap_or(traces.len() - 1)
                };
                let stage = match self.pending_stage.take() {
                    Some(want) => {
                        let found = traces[copy].stages.iter().position(|s| s.stage == want);
                        if found.is_none() {
                            self.tour_note = Some(not_reached(&traces[copy], &want));
                        }
                        found.unwrap_or(0)
                    }
                    None => 0,
                };
                self.sent = Some(Sent {
                    id,
                    traces,
                    copy,
                    stage,
                });
                self.error = None;
                self.detail_scroll = 0;
            }
            Ok(_) => self.error = Some(format!("{id}: the engine returned no response")),
            Err(error) => self.error = Some(format!("{id}: {error}")),
        }
    }

    /// Outcome counts of the copies, for a repeated request: (status, count) in status order.
    pub fn status_counts(&self) -> Vec<(u16, usize)> {
        let mut counts: Vec<(u16, usize)> = Vec::new();
        if let Some(sent) = &self.sent {
            for trace in &sent.traces {
                match counts.iter_mut().find(|(s, _)| *s == trace.status) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((trace.status, 1)),
                }
            }
        }
        counts.sort();
        counts
    }
}

/// Whether the outcome ended the request.
pub fn is_refusal(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Reject | Outcome::Error)
}
