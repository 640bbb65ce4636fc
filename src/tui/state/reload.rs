//! The scenario file was saved: the state moves onto the new scenario keeping the user's place,
//! or shows why the file cannot be used while the old scenario keeps running.
//!
//! A place is kept by name, never by position: the selected request by its id, the stage by its
//! id, the table, topic and tenant by name, a playing tour by its id (its step clamped). What no
//! longer exists falls back to what a fresh start shows (the first request, table, topic).

use std::sync::Arc;

use super::broker::BrokerState;
use super::erd::ErdState;
use super::lifecycle::LifecycleState;
use super::logs::LogsState;
use super::tour::Playing;
use super::{AppState, Outgoing};
use crate::engine::Command;
use crate::scenario::Scenario;
use crate::topology::Topology;
use crate::tui::action::Tab;
use crate::tui::log_capture::LogLine;
use crate::tui::reload::Problem;

/// The last save could not be used: what is wrong, and whether the user put it aside (Esc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadProblem {
    /// What is wrong with the file, ready to show.
    pub problem: Problem,
    /// Esc hid the overlay; the status bar still says the file is wrong.
    pub hidden: bool,
}

impl AppState {
    /// Moves onto `scenario`, just read from the file called `from`, for an engine that has
    /// just started on it; returns the commands that put the user back where they were (the
    /// request shown sent again, the rows read again, the rate and clock speed chosen).
    pub fn reload(&mut self, scenario: Arc<Scenario>, from: &str) -> Vec<Outgoing> {
        let old = std::mem::replace(&mut self.scenario, scenario.clone());
        self.topology = Arc::new(Topology::new(&scenario));
        self.snapshot = None;
        self.engine_stopped = None;
        self.reload_problem = None;
        let mut commands = Vec::new();

        // Lifecycle: the selected request, and the trace shown sent again to the new engine
        // with the same stage open (a stage the new scenario lacks: the first).
        let lifecycle = std::mem::replace(&mut self.lifecycle, LifecycleState::new(&scenario));
        if let Some(id) = lifecycle.selected_sample().map(|s| s.id.clone()) {
            self.lifecycle.selected = self
                .lifecycle
                .samples
                .iter()
                .position(|s| s.id == id)
                .unwrap_or(0);
        }
        let shown = lifecycle.sent.as_ref().map(|sent| {
            let stage = sent
                .trace()
                .and_then(|t| t.stages.get(sent.stage))
                .map(|s| s.stage.clone());
            (sent.id.clone(), stage)
        });
        if let Some((id, stage)) = shown.or(lifecycle.pending.map(|id| (id, None)))
            && self.lifecycle.samples.iter().any(|s| s.id == id)
        {
            let stage = stage.filter(|want| scenario.stages.iter().any(|s| &s.id == want));
            commands.extend(self.lifecycle.show(&id, stage.as_deref()));
        }

        // Schema: the table, whether its schema or rows, the focus and the tenant.
        let erd = std::mem::replace(&mut self.erd, ErdState::new(scenario.clone()));
        if scenario.table(erd.current_name()).is_some() {
            self.erd.show(erd.current_name());
            self.erd.focus = erd.focus;
        }
        self.erd.mode = erd.mode;
        self.erd.tenant = erd
            .tenant
            .and_then(|id| old.tenant_by_id(id))
            .and_then(|t| scenario.tenant(&t.subdomain))
            .map(|t| t.id);
        if self.tab == Tab::Erd {
            commands.extend(self.erd.rows_request());
        }

        // Broker: the topic and the event panel's filters; the old engine's events go.
        let broker = std::mem::replace(&mut self.broker, BrokerState::new(&scenario));
        if let Some(name) = old.topics.get(broker.selected).map(|t| &t.name) {
            self.broker.selected = scenario
                .topics
                .iter()
                .position(|t| &t.name == name)
                .unwrap_or(0);
        }
        self.broker.topic_filter = broker.topic_filter;
        self.broker.kind_filter = broker.kind_filter;
        self.broker.flow_toggled = broker.flow_toggled;

        // Logs: the filters; the lines start again with the new engine's clock.
        let logs = std::mem::take(&mut self.logs);
        self.logs = LogsState {
            min_level: logs.min_level,
            search: logs.search,
            ..LogsState::default()
        };
        self.logs.push([LogLine {
            at_ms: 0,
            level: tracing::Level::INFO,
            target: "archsim::reload".into(),
            text: format!("{from} reloaded: a new engine runs the saved scenario"),
        }]);

        // Tour: the one playing, by id, at the same step or its last.
        let playing = self
            .tour
            .playing
            .and_then(|p| Some((old.tours.get(p.tour)?.id.clone(), p.step)));
        self.tour.picking = false;
        self.tour.selected = self
            .tour
            .selected
            .min(scenario.tours.len().saturating_sub(1));
        self.tour.playing = playing.and_then(|(id, step)| {
            let tour = scenario.tours.iter().position(|t| t.id == id)?;
            let steps = scenario.tours[tour].steps.len();
            // The new engine has not seen the earlier steps' actions: the step is shown as `p`
            // then `n` shows one, without acting again (the presenter moves on with `n`).
            (steps > 0).then(|| Playing::shown_again(tour, step.min(steps - 1)))
        });

        // The new engine starts at ×1 and full speed: give it the rate and clock chosen.
        if self.effective_rate() != 1.0 {
            commands.push(Outgoing::control(Command::SetRate {
                multiplier: self.effective_rate(),
            }));
        }
        if self.time_scale != 1.0 {
            commands.push(Outgoing::control(Command::SetTimeScale {
                scale: self.time_scale,
            }));
        }
        self.notice = Some(format!("reloaded {from}"));
        commands
    }

    /// The saved file cannot be used: shows `problem` over the view (the old engine runs on).
    pub fn reload_failed(&mut self, problem: Problem) {
        self.notice = Some(format!("{}: the old scenario runs on", problem.summary));
        self.reload_problem = Some(ReloadProblem {
            problem,
            hidden: false,
        });
    }

    /// The problem overlay, when it is on screen.
    pub fn shown_reload_problem(&self) -> Option<&Problem> {
        self.reload_problem
            .as_ref()
            .filter(|p| !p.hidden)
            .map(|p| &p.problem)
    }
}
