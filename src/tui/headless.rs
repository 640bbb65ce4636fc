//! The whole app without a terminal: the real [`AppState`] driven by keys, its commands run by a
//! virtual-time engine through the same [`EngineHandle`] the terminal app uses. Tests and
//! benchmarks use it to reach any screen deterministically and render it into a `TestBackend`.
//!
//! ```text
//!   press(key) ─▶ AppState::handle_key ─▶ Outgoing ─▶ handle.execute ─▶ into_update ─▶ apply
//!   advance(d)  ─▶ Command::Advance ─▶ snapshot + events + logs ─▶ AppState::apply
//! ```

use std::sync::Arc;
use std::time::Duration;

use super::engine_link::{EngineUpdate, Outgoing, into_update};
use super::keymap::Key;
use super::log_capture::LogBuffer;
use super::state::AppState;
use super::theme::Theme;
use super::views;
use crate::engine::{Clock, Engine, EngineError, EngineHandle, EventStream};
use crate::scenario::Scenario;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

/// An app driven from code.
pub struct Headless {
    /// The UI state, as the terminal app would have it.
    pub state: AppState,
    engine: EngineHandle,
    events: EventStream,
    logs: Option<LogBuffer>,
}

impl Headless {
    /// Starts a virtual-time engine with its traffic and faults.
    pub fn start(scenario: Arc<Scenario>, theme: Theme) -> Result<Self, EngineError> {
        let engine = Engine::spawn(scenario.clone(), Clock::Virtual)?;
        let events = engine.subscribe();
        let mut app = Self {
            state: AppState::new(scenario, theme, Clock::Virtual),
            engine,
            events,
            logs: None,
        };
        app.refresh();
        Ok(app)
    }

    /// Feeds the lines of `buffer` (filled by a [`CaptureLayer`](super::log_capture::CaptureLayer))
    /// to the Logs view.
    pub fn with_logs(mut self, buffer: LogBuffer) -> Self {
        self.logs = Some(buffer);
        self
    }

    /// The scenario file was saved with `scenario` in it (called `from`): a fresh virtual-time
    /// engine runs it and the state moves onto it keeping its place, as the terminal app does.
    pub async fn reload(&mut self, scenario: Arc<Scenario>, from: &str) -> Result<(), EngineError> {
        let engine = Engine::spawn(scenario.clone(), Clock::Virtual)?;
        self.events = engine.subscribe();
        std::mem::replace(&mut self.engine, engine).stop();
        let commands = self.state.reload(scenario, from);
        self.run(commands).await;
        Ok(())
    }

    /// The engine behind the app.
    pub fn engine(&self) -> &EngineHandle {
        &self.engine
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

    /// Runs engine commands one after another and applies their replies.
    pub async fn run(&mut self, commands: Vec<Outgoing>) {
        self.execute(commands).await;
        let follow_ups = self.refresh();
        self.execute(follow_ups).await;
    }

    /// Lets `duration` of engine time pass, then refreshes the state (and, like the live app,
    /// runs what the fresh snapshot calls for, e.g. re-reading the rows on screen).
    pub async fn advance(&mut self, duration: Duration) {
        if let Err(error) = self.engine.advance(duration).await {
            self.state.apply(EngineUpdate::Notice(error.to_string()));
        }
        let follow_ups = self.refresh();
        self.execute(follow_ups).await;
    }

    /// Executes commands and applies their replies (what those call for in turn waits for the
    /// next refresh).
    async fn execute(&mut self, commands: Vec<Outgoing>) {
        for outgoing in commands {
            let result = self.engine.execute(outgoing.command.clone()).await;
            if let Some(update) = into_update(outgoing, result) {
                self.state.apply(scrub(update));
            }
        }
    }

    /// Applies a fresh snapshot and the events and log lines since the last refresh; returns the
    /// commands the state calls for.
    pub fn refresh(&mut self) -> Vec<Outgoing> {
        let events = self.events.drain();
        if !events.is_empty() {
            self.state.apply(EngineUpdate::Events(events));
        }
        if let Some(lines) = self.logs.as_ref().map(LogBuffer::drain) {
            self.state.apply(EngineUpdate::Logs(lines));
        }
        self.state
            .apply(EngineUpdate::Snapshot(self.engine.snapshot()))
    }

    /// Renders the screen at `columns` × `rows`.
    pub fn render(&self, columns: u16, rows: u16) -> Buffer {
        render(&self.state, columns, rows)
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
pub fn render(original: &AppState, columns: u16, rows: u16) -> Buffer {
    let mut state = original.clone();
    state.resize(columns, rows);
    let mut terminal = match Terminal::new(TestBackend::new(columns, rows)) {
        Ok(terminal) => terminal,
        Err(never) => match never {},
    };
    let _ = terminal.draw(|frame| views::draw(frame, &state));
    // What the views learnt while laying out (how far a pane can scroll) goes back to the
    // state that was drawn, as it does in the app's own loop.
    original
        .lifecycle
        .detail_max_scroll
        .set(state.lifecycle.detail_max_scroll.get());
    original
        .erd
        .column_offset_max
        .set(state.erd.column_offset_max.get());
    terminal.backend().buffer().clone()
}
