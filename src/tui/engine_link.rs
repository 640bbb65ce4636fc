//! The bridge between the UI thread and the engine, which runs on its own thread behind an
//! [`EngineHandle`].
//!
//! ```text
//!   UI thread                    bridge thread                  engine (paced clock)
//!   ─────────                    ─────────────                  ────────────────────
//!   AppState::update ─ Outgoing ─▶ handle.execute(Command) ───▶ engine loop
//!   AppState::apply  ◀─ EngineUpdate ─ replies; every 250 ms: a fresh snapshot + new events + logs
//! ```
//!
//! The UI never waits on the engine: commands go into an unbounded channel and their replies
//! come back as updates, so drawing never sits on the engine's critical path. Tests drive the
//! same engine commands on a virtual-time engine (see [`super::headless`]), and both turn
//! replies into updates with [`into_update`].

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::log_capture::{LogBuffer, LogLine};
use crate::engine::{
    Clock, Command, Engine, EngineError, EngineHandle, Event, QueryRecord, Reply, Snapshot, Trace,
};
use crate::scenario::FaultAction;
use crate::scenario::Scenario;

/// How often the engine thread sends a snapshot with the events and logs gathered meanwhile.
pub const TICK: Duration = Duration::from_millis(250);

/// Which part of the UI asked, so the reply goes back there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The Request lifecycle picker.
    Lifecycle,
    /// The Broker view's "fire a payment".
    Broker,
    /// The Tenant schema view (rows).
    Schema,
    /// A control (rate, workers, faults, clock): only a refusal comes back.
    Controls,
}

/// A command for the engine, tagged with the view that wants its reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Who asked.
    pub origin: Origin,
    /// What to do.
    pub command: Command,
}

impl Outgoing {
    /// A control whose reply nobody waits for (only a refusal is shown, as a notice).
    pub fn control(command: Command) -> Self {
        Self {
            origin: Origin::Controls,
            command,
        }
    }
}

/// What the engine tells the UI.
#[derive(Debug, Clone)]
pub enum EngineUpdate {
    /// The state of everything.
    Snapshot(Arc<Snapshot>),
    /// Events since the last update, oldest first.
    Events(Vec<Event>),
    /// Log lines since the last update, oldest first.
    Logs(Vec<LogLine>),
    /// The traces of a sent request (one per copy), or why it could not be sent.
    Sent {
        /// Request id.
        id: String,
        /// Who asked.
        origin: Origin,
        /// The traces.
        result: Result<Vec<Trace>, String>,
    },
    /// Rows of a table.
    Rows {
        /// Table name.
        table: String,
        /// Tenant id, or `None` for all.
        tenant: Option<i64>,
        /// The query that ran and its rows.
        result: Result<QueryRecord, String>,
    },
    /// A control was refused (no such pool, …).
    Notice(String),
}

/// What the UI learns from the reply to `outgoing`: traces go to the view that sent the
/// request, rows to the schema view, a refusal to the status bar; a plain "done" changes nothing
/// (its effect shows in the next snapshot and events).
pub fn into_update(outgoing: Outgoing, result: Result<Reply, EngineError>) -> Option<EngineUpdate> {
    let Outgoing { origin, command } = outgoing;
    match (command, result) {
        (Command::SendNamed { id }, result) => Some(EngineUpdate::Sent {
            id,
            origin,
            result: match result {
                Ok(Reply::Traces(traces)) => Ok(traces),
                Ok(_) => Err("the engine sent an unexpected reply".into()),
                Err(error) => Err(error.to_string()),
            },
        }),
        (Command::Rows { table, tenant }, result) => Some(EngineUpdate::Rows {
            table,
            tenant,
            result: match result {
                Ok(Reply::Rows(rows)) => Ok(rows),
                Ok(_) => Err("the engine sent an unexpected reply".into()),
                Err(error) => Err(error.to_string()),
            },
        }),
        (Command::Redrive { .. }, Ok(Reply::Redriven(outcome))) => {
            Some(EngineUpdate::Notice(outcome.describe()))
        }
        // Published or refused (a full topic): what happened, not what was hoped for.
        (
            Command::Fault {
                action: FaultAction::PoisonMessage { .. },
                ..
            },
            Ok(Reply::Applied(sentence)),
        ) => Some(EngineUpdate::Notice(sentence)),
        (_, Ok(_)) => None,
        (_, Err(error)) => Some(EngineUpdate::Notice(error.to_string())),
    }
}

/// What reaches the UI thread's single inbox.
#[derive(Debug)]
pub enum Inbox {
    /// A terminal event from the input thread.
    Input(ratatui::crossterm::event::Event),
    /// Something from the engine.
    Engine(EngineUpdate),
    /// The engine thread stopped (with the reason, if it failed).
    EngineStopped(Option<String>),
    /// The scenario file was saved (once per burst of saves): read it again.
    ScenarioChanged,
}

/// The UI's end of the link: the engine (on a paced clock) and a bridge thread that forwards
/// commands to it and its replies, snapshots, events and log lines to the UI's inbox.
pub struct EngineLink {
    outgoing: Option<mpsc::UnboundedSender<Outgoing>>,
    engine: EngineHandle,
    bridge: Option<std::thread::JoinHandle<()>>,
}

impl EngineLink {
    /// Starts the engine for `scenario` on the live clock and the bridge that feeds `inbox`;
    /// returns once the engine runs (or failed to start, with the reason).
    pub fn start(
        scenario: Arc<Scenario>,
        inbox: std_mpsc::Sender<Inbox>,
        logs: Option<LogBuffer>,
    ) -> Result<Self, String> {
        // A paced clock, so `<`/`>` can change its speed and Space can pause it.
        let engine = Engine::spawn(scenario, Clock::Paced(1.0)).map_err(|e| e.to_string())?;
        let (outgoing, receiver) = mpsc::unbounded_channel();
        let bridge_engine = engine.clone();
        let bridge = std::thread::Builder::new()
            .name("archsim-bridge".into())
            .spawn(move || bridge(bridge_engine, receiver, inbox, logs))
            .map_err(|e| format!("cannot start the bridge thread: {e}"))?;
        Ok(Self {
            outgoing: Some(outgoing),
            engine,
            bridge: Some(bridge),
        })
    }

    /// Sends a command (ignored if the engine has stopped; the UI learns that from its inbox).
    pub fn send(&self, outgoing: Outgoing) {
        if let Some(sender) = &self.outgoing {
            let _ = sender.send(outgoing);
        }
    }

    /// Stops the bridge and the engine and waits for both.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        // Closing the channel ends the bridge.
        self.outgoing = None;
        if let Some(bridge) = self.bridge.take() {
            let _ = bridge.join();
        }
        self.engine.stop();
    }
}

impl Drop for EngineLink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The bridge thread: a small runtime of its own (on the real clock) that waits on the engine
/// so the UI thread never does.
fn bridge(
    engine: EngineHandle,
    outgoing: mpsc::UnboundedReceiver<Outgoing>,
    inbox: std_mpsc::Sender<Inbox>,
    logs: Option<LogBuffer>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = inbox.send(Inbox::EngineStopped(Some(format!(
                "cannot start the bridge runtime: {error}"
            ))));
            return;
        }
    };
    let stopped = runtime.block_on(forward(engine, outgoing, inbox.clone(), logs));
    if stopped {
        let _ = inbox.send(Inbox::EngineStopped(None));
    }
}

/// Forwards until the UI closes the channel (returns false) or the engine stops (true).
async fn forward(
    engine: EngineHandle,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    inbox: std_mpsc::Sender<Inbox>,
    logs: Option<LogBuffer>,
) -> bool {
    let mut events = engine.subscribe();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            next = outgoing.recv() => {
                let Some(next) = next else { return false };
                // Requests take modelled time: wait for each reply beside the loop.
                let (pending, inbox) = (engine.execute(next.command.clone()), inbox.clone());
                tokio::spawn(async move {
                    if let Some(update) = into_update(next, pending.await) {
                        let _ = inbox.send(Inbox::Engine(update));
                    }
                });
            }
            _ = ticker.tick() => {
                // Taken now rather than the last one published: fresher on screen, and the
                // engine builds only the snapshots shown (see `Shared::snapshot_read`).
                // A stopped engine answers no more; its last published snapshot is shown.
                let snapshot = engine
                    .fresh_snapshot()
                    .await
                    .unwrap_or_else(|_| engine.snapshot());
                let mut out = vec![EngineUpdate::Snapshot(snapshot)];
                let fresh = events.drain();
                if !fresh.is_empty() {
                    out.push(EngineUpdate::Events(fresh));
                }
                if let Some(lines) = logs.as_ref().map(LogBuffer::drain).filter(|l| !l.is_empty()) {
                    out.push(EngineUpdate::Logs(lines));
                }
                for update in out {
                    if inbox.send(Inbox::Engine(update)).is_err() {
                        return false;
                    }
                }
                if !engine.is_running() {
                    return true;
                }
            }
        }
    }
}
