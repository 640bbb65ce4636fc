//! The whole app without a terminal: the real [`AppState`] driven by keys, its commands run on a
//! virtual-time engine in the current (paused) runtime. Tests and benchmarks use it to reach any
//! screen deterministically and render it into a `TestBackend`.
//!
//! ```text
//!   press(key) ─▶ AppState::handle_key ─▶ commands ─▶ engine_link::execute ─▶ AppState::apply
//!   advance(d)  ─▶ virtual time passes ─▶ snapshot + events + logs ─▶ AppState::apply
//! ```

use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use tokio::sync::broadcast;

use super::engine_link::{self, EngineCommand, EngineUpdate, READY_MESSAGE};
use super::keymap::Key;
use super::log_capture::LogBuffer;
use super::state::AppState;
use super::theme::Theme;
use super::views;
use crate::engine::sim::{EngineEvent, SimOptions, Simulation};
use crate::engine::{Engine, EngineError, Mode};
use crate::scenario::Scenario;

/// An app driven from code.
pub struct Headless {
    /// The UI state, as the terminal app would have it.
    pub state: AppState,
    sim: Simulation,
    events: broadcast::Receiver<EngineEvent>,
    logs: Option<LogBuffer>,
}

impl Headless {
    /// Starts a virtual-time engine with its traffic and faults; call inside a `start_paused`
    /// current-thread runtime.
    pub fn start(scenario: Arc<Scenario>, theme: Theme) -> Result<Self, EngineError> {
        let engine = Engine::start(scenario.clone(), Mode::Virtual)?;
        let sim = Simulation::start(engine, SimOptions::default());
        let events = sim.subscribe();
        let mut state = AppState::new(scenario, theme, Mode::Virtual);
        state.apply(EngineUpdate::Events(vec![EngineEvent::Log {
            at_ms: 0,
            level: "info",
            message: READY_MESSAGE.to_string(),
        }]));
        Ok(Self {
            state,
            sim,
            events,
            logs: None,
        })
    }

    /// Feeds the lines of `buffer` (filled by a [`CaptureLayer`](super::log_capture::CaptureLayer))
    /// to the Logs view.
    pub fn with_logs(mut self, buffer: LogBuffer) -> Self {
        self.logs = Some(buffer);
        self
    }

    /// The running simulation.
    pub fn sim(&self) -> &Simulation {
        &self.sim
    }

    /// Presses `key` and runs the commands it produced to completion.
    pub async fn press(&mut self, key: Key) {
        let commands = self.state.handle_key(key);
        self.run(commands).await;
    }

    /// Presses each key in turn.
    pub async fn press_all(&mut self, keys: &[Key]) {
        for &key in keys {
            self.press(key).await;
        }
    }

    /// Runs engine commands and applies their results.
    pub async fn run(&mut self, commands: Vec<EngineCommand>) {
        for command in commands {
            for update in engine_link::execute(&self.sim, command).await {
                self.state.apply(scrub(update));
            }
        }
        self.refresh();
    }

    /// Lets `duration` of engine time pass, then refreshes the state.
    pub async fn advance(&mut self, duration: Duration) {
        tokio::time::sleep(duration).await;
        self.refresh();
    }

    /// Applies a fresh snapshot and the events and log lines since the last refresh.
    pub fn refresh(&mut self) {
        let mut events = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            events.push(event);
        }
        if !events.is_empty() {
            self.state.apply(EngineUpdate::Events(events));
        }
        if let Some(lines) = self.logs.as_ref().map(LogBuffer::drain) {
            self.state.apply(EngineUpdate::Logs(lines));
        }
        self.state
            .apply(EngineUpdate::Snapshot(Box::new(self.sim.snapshot())));
    }

    /// Renders the screen at `columns` × `rows`.
    pub fn render(&self, columns: u16, rows: u16) -> Buffer {
        render(&self.state, columns, rows)
    }
}

impl Drop for Headless {
    fn drop(&mut self) {
        self.sim.stop();
    }
}

/// Wall-clock measurements differ run to run: zero them so renders are reproducible.
fn scrub(update: EngineUpdate) -> EngineUpdate {
    match update {
        EngineUpdate::Sent {
            id,
            origin,
            result: Ok(mut traces),
        } => {
            for stage in traces.iter_mut().flat_map(|t| t.stages.iter_mut()) {
                stage.measured_us = 0;
            }
            EngineUpdate::Sent {
                id,
                origin,
                result: Ok(traces),
            }
        }
        other => other,
    }
}

/// Renders `state` at `columns` × `rows` into a buffer.
pub fn render(state: &AppState, columns: u16, rows: u16) -> Buffer {
    let mut state = state.clone();
    state.resize(columns, rows);
    let mut terminal = match Terminal::new(TestBackend::new(columns, rows)) {
        Ok(terminal) => terminal,
        Err(never) => match never {},
    };
    let _ = terminal.draw(|frame| views::draw(frame, &state));
    terminal.backend().buffer().clone()
}
