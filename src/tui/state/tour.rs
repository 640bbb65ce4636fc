//! Guided tours played in the TUI: `T` lists the scenario's tours, Enter starts one, `n`/`p`
//! move between its steps and `T` stops it. A step is a move the learner could make by hand —
//! switch view, send a sample request and open a stage, select a table or a topic, set the
//! rate, break something — so it goes through the same state changes and engine commands as
//! the keys do. Then it watches the engine's snapshots: how long it waits, and whether what it
//! expects holds, shown live under the narration.

use crate::engine::{Snapshot, probe};
use crate::scenario::{Condition, Metric, Scenario, Tour, TourStep, Wait};

/// The tour being picked or played.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TourState {
    /// The tour picker is open.
    pub picking: bool,
    /// The picker's selected line.
    pub selected: usize,
    /// The tour playing and its step.
    pub playing: Option<Playing>,
}

/// A tour being played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Playing {
    /// Index into the scenario's tours.
    pub tour: usize,
    /// Index of the step shown.
    pub step: usize,
    /// Steps whose actions have run (the first `acted`): going back shows a step again without
    /// killing the workers twice.
    pub acted: usize,
    /// Engine time when the step was shown (`None` until a snapshot says).
    pub since_ms: Option<u64>,
    /// The step's wait is over (its time passed, or its condition held once).
    pub waited: bool,
    /// Engine time the wait ended, when this showing saw it end.
    pub waited_ms: Option<u64>,
    /// The step is shown again (after `p`): it ran earlier and the system has moved on, so a
    /// figure that no longer holds is history, not a failure.
    pub revisit: bool,
}

/// How a line of a step's progress stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Done, or holds.
    Done,
    /// Still waiting.
    Pending,
    /// The wait is over and it does not hold.
    Failing,
    /// Shown again later: it does not hold now, which says nothing about when the step ran.
    Moved,
}

/// One line of a step's progress: its wait, or one thing it expects, with the figure now.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// How it stands.
    pub mark: Mark,
    /// What it says, e.g. `until payments.queued >= 20: now 7`.
    pub text: String,
}

impl Playing {
    /// Step `step` of tour `tour`, shown again: its actions count as done and it does not wait.
    pub fn shown_again(tour: usize, step: usize) -> Self {
        Self {
            tour,
            step,
            acted: step + 1,
            since_ms: None,
            waited: true,
            waited_ms: None,
            revisit: true,
        }
    }
}

impl TourState {
    /// The tour and step playing, if any.
    pub fn current<'s>(&self, scenario: &'s Scenario) -> Option<(&'s Tour, usize, &'s TourStep)> {
        let playing = self.playing?;
        let tour = scenario.tours.get(playing.tour)?;
        Some((tour, playing.step, tour.steps.get(playing.step)?))
    }

    /// Starts tour `index` at its first step; false if there is no such tour or it has no steps.
    pub fn start(&mut self, scenario: &Scenario, index: usize) -> bool {
        self.picking = false;
        let playable = scenario
            .tours
            .get(index)
            .is_some_and(|t| !t.steps.is_empty());
        self.playing = playable.then_some(Playing {
            tour: index,
            step: 0,
            acted: 0,
            since_ms: None,
            waited: false,
            waited_ms: None,
            revisit: false,
        });
        playable
    }

    /// Moves `delta` steps (clamped to the tour); true if the step changed.
    pub fn advance(&mut self, scenario: &Scenario, delta: isize) -> bool {
        let Some(playing) = self.playing.as_mut() else {
            return false;
        };
        let steps = scenario
            .tours
            .get(playing.tour)
            .map_or(0, |t| t.steps.len());
        let next = playing
            .step
            .saturating_add_signed(delta)
            .min(steps.saturating_sub(1));
        let moved = next != playing.step;
        playing.step = next;
        moved
    }

    /// Marks the current step as shown at engine time `now_ms`; returns whether its actions
    /// are still to run (the first time it is shown).
    pub fn enter(&mut self, now_ms: Option<u64>) -> bool {
        let Some(playing) = self.playing.as_mut() else {
            return false;
        };
        let first_time = playing.step >= playing.acted;
        playing.acted = playing.acted.max(playing.step + 1);
        playing.since_ms = now_ms;
        // A step shown again does not wait again: its figures are shown as they stand.
        playing.waited = !first_time;
        playing.waited_ms = None;
        playing.revisit = !first_time;
        first_time
    }

    /// Takes a snapshot in: starts the step's clock if it had none, and ends its wait once its
    /// time has passed or its condition holds.
    pub fn observe(&mut self, scenario: &Scenario, snapshot: &Snapshot) {
        let step = self.current(scenario).map(|(_, _, step)| step.wait.clone());
        let Some(playing) = self.playing.as_mut() else {
            return;
        };
        let since = *playing.since_ms.get_or_insert(snapshot.elapsed_ms);
        if playing.waited {
            return;
        }
        let over = match step.flatten() {
            None => true,
            Some(Wait::For(duration)) => {
                snapshot.elapsed_ms.saturating_sub(since) >= duration.as_millis() as u64
            }
            Some(Wait::Until { condition, .. }) => {
                probe::read(snapshot, &condition.metric).is_some_and(|f| condition.holds(f))
            }
        };
        if over {
            playing.waited = true;
            playing.waited_ms = Some(snapshot.elapsed_ms);
        }
    }

    /// The current step's wait and expectations, as they stand in `snapshot`.
    pub fn progress(&self, scenario: &Scenario, snapshot: Option<&Snapshot>) -> Vec<Progress> {
        let (Some(playing), Some((_, _, step))) = (self.playing, self.current(scenario)) else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        let now = snapshot.map(|s| s.elapsed_ms);
        match &step.wait {
            Some(Wait::For(duration)) => {
                let left = match (now, playing.since_ms) {
                    (Some(now), Some(since)) => {
                        (duration.as_millis() as u64).saturating_sub(now.saturating_sub(since))
                    }
                    _ => duration.as_millis() as u64,
                };
                let seconds = crate::units::figure(duration.as_secs_f64());
                lines.push(if playing.waited {
                    Progress {
                        mark: Mark::Done,
                        text: format!("{seconds} s of engine time passed"),
                    }
                } else {
                    Progress {
                        mark: Mark::Pending,
                        text: format!(
                            "letting {seconds} s of engine time pass: {} s to go",
                            left.div_ceil(1000)
                        ),
                    }
                });
            }
            Some(Wait::Until { condition, .. }) => {
                let held = match (playing.waited_ms, playing.since_ms) {
                    (Some(at), Some(since)) => format!(
                        "held after {:.1} s, ",
                        at.saturating_sub(since) as f64 / 1000.0
                    ),
                    _ => String::new(),
                };
                lines.push(Progress {
                    mark: if playing.waited {
                        Mark::Done
                    } else {
                        Mark::Pending
                    },
                    text: format!(
                        "until {condition}: {held}{}",
                        figure_now(snapshot, condition)
                    ),
                });
            }
            None => {}
        }
        for condition in step.expect.iter().flat_map(|e| &e.that) {
            let holds = snapshot
                .and_then(|s| probe::read(s, &condition.metric))
                .is_some_and(|f| condition.holds(f));
            let mark = match (holds, playing.waited) {
                (true, _) => Mark::Done,
                (false, _) if playing.revisit => Mark::Moved,
                (false, false) => Mark::Pending,
                (false, true) => Mark::Failing,
            };
            lines.push(Progress {
                mark,
                text: format!("expects {condition}: {}", figure_now(snapshot, condition)),
            });
        }
        lines
    }
}

/// `now 7`, or why there is no figure (row counts need a query: `tour --check` reads them).
fn figure_now(snapshot: Option<&Snapshot>, condition: &Condition) -> String {
    if let Metric::Rows { .. } = condition.metric {
        return "row counts are checked by archsim tour --check".into();
    }
    match snapshot.and_then(|s| probe::read(s, &condition.metric)) {
        Some(figure) => format!("now {}", crate::units::figure(figure)),
        None => "no figure yet".into(),
    }
}
