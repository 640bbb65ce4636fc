//! The bridge between the UI thread and the engine, which runs on its own thread with its own
//! tokio runtime.
//!
//! ```text
//!   UI thread                         engine thread (tokio, live clock)
//!   ─────────                         ─────────────────────────────────
//!   AppState::update ─ EngineCommand ─▶ execute(): send a request, read rows, controls
//!   AppState::apply  ◀─ EngineUpdate ── results; every 250 ms: Snapshot + new events + logs
//! ```
//!
//! The UI never waits on the engine: commands go into an unbounded channel and their results
//! come back as updates, so drawing never sits on the engine's critical path. Tests use the same
//! [`execute`] directly on a virtual-time engine (see [`super::headless`]).

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

use super::log_capture::{LogBuffer, LogLine};
use crate::engine::pacer::{self, TimeScale};
use crate::engine::sim::{EngineEvent, SimOptions, Simulation, Snapshot};
use crate::engine::store::QueryRecord;
use crate::engine::trace::Trace;
use crate::engine::{Engine, Mode};
use crate::scenario::{FaultAction, Scenario};

/// How often the engine thread sends a snapshot with the events and logs gathered meanwhile.
pub const TICK: Duration = Duration::from_millis(250);

/// The first line of the event stream.
pub const READY_MESSAGE: &str = "System ready. Event Broker initialized.";

/// Which view asked for a request, so its result goes back there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The Request lifecycle picker.
    Lifecycle,
    /// The Broker view's "fire a payment".
    Broker,
}

/// What the UI asks the engine to do.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineCommand {
    /// Send the scenario's named request `id` (all its `repeat` copies at once).
    SendNamed {
        /// Request id.
        id: String,
        /// Who asked.
        origin: Origin,
    },
    /// Read the rows of `table`, of one tenant or of all.
    Rows {
        /// Table name.
        table: String,
        /// Tenant id, or `None` for every tenant.
        tenant: Option<i64>,
    },
    /// Set the traffic-rate multiplier (0 pauses the generators).
    SetRate(f64),
    /// Set the engine clock's speed relative to the wall clock (live runs).
    SetTimeScale(f64),
    /// Add a worker to a pool.
    AddWorker(String),
    /// Retire a worker of a pool.
    RemoveWorker(String),
    /// Apply a fault now, reverted after the duration if given.
    Inject(FaultAction, Option<Duration>),
}

/// What the engine tells the UI.
#[derive(Debug, Clone)]
pub enum EngineUpdate {
    /// The state of everything.
    Snapshot(Box<Snapshot>),
    /// Events since the last update, oldest first.
    Events(Vec<EngineEvent>),
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

/// Runs one command on the simulation and returns what the UI should learn from it.
pub async fn execute(sim: &Simulation, command: EngineCommand) -> Vec<EngineUpdate> {
    let engine = sim.engine();
    match command {
        EngineCommand::SendNamed { id, origin } => vec![send_named(engine, id, origin).await],
        EngineCommand::Rows { table, tenant } => {
            let result = engine
                .core()
                .store
                .rows(&table, tenant)
                .map_err(|e| e.to_string());
            vec![EngineUpdate::Rows {
                table,
                tenant,
                result,
            }]
        }
        EngineCommand::SetRate(multiplier) => {
            sim.set_rate_multiplier(multiplier);
            Vec::new()
        }
        EngineCommand::SetTimeScale(_) => vec![EngineUpdate::Notice(
            "the time scale applies to a live engine driven by the pacer".into(),
        )],
        EngineCommand::AddWorker(pool) => {
            if sim.add_worker(&pool) {
                Vec::new()
            } else {
                vec![EngineUpdate::Notice(format!("no worker pool {pool}"))]
            }
        }
        EngineCommand::RemoveWorker(pool) => {
            if sim.remove_worker(&pool) {
                Vec::new()
            } else {
                vec![EngineUpdate::Notice(format!(
                    "{pool} has no live worker left to retire"
                ))]
            }
        }
        EngineCommand::Inject(action, duration) => {
            sim.inject(action, duration);
            Vec::new()
        }
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
}

/// The UI's end of the link.
pub struct EngineLink {
    commands: mpsc::UnboundedSender<EngineCommand>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EngineLink {
    /// Starts the engine thread for `scenario` in live mode. It sends its updates into `inbox`;
    /// returns once the engine has started (or failed to, with the reason).
    pub fn start(
        scenario: Arc<Scenario>,
        inbox: std_mpsc::Sender<Inbox>,
        logs: Option<LogBuffer>,
    ) -> Result<Self, String> {
        let (commands, receiver) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name("archsim-engine".into())
            .spawn(move || engine_thread(scenario, receiver, inbox, logs, ready_tx))
            .map_err(|e| format!("cannot start the engine thread: {e}"))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self {
                commands,
                thread: Some(thread),
            }),
            Ok(Err(reason)) => {
                let _ = thread.join();
                Err(reason)
            }
            Err(_) => {
                let _ = thread.join();
                Err("the engine thread stopped while starting".into())
            }
        }
    }

    /// Sends a command (ignored if the engine has stopped; the UI learns that from its inbox).
    pub fn send(&self, command: EngineCommand) {
        let _ = self.commands.send(command);
    }

    /// Stops the engine thread and waits for it.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        // Closing the channel ends the engine loop.
        let (closed, _) = mpsc::unbounded_channel();
        self.commands = closed;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for EngineLink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn engine_thread(
    scenario: Arc<Scenario>,
    commands: mpsc::UnboundedReceiver<EngineCommand>,
    inbox: std_mpsc::Sender<Inbox>,
    logs: Option<LogBuffer>,
    ready: std_mpsc::Sender<Result<(), String>>,
) {
    // The live clock is tokio's paused clock driven by the pacer, so `<`/`>` can change its
    // speed (see `engine::pacer`).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = ready.send(Err(format!("cannot start the engine runtime: {error}")));
            return;
        }
    };
    let loop_inbox = inbox.clone();
    let scale = Arc::new(TimeScale::new(1.0));
    let started = runtime.block_on(async move {
        tokio::spawn(pacer::drive(scale.clone()));
        let engine = match Engine::start(scenario, Mode::Live) {
            Ok(engine) => engine,
            Err(error) => {
                let _ = ready.send(Err(error.to_string()));
                return false;
            }
        };
        let _ = ready.send(Ok(()));
        let sim = Simulation::start(engine, SimOptions::default());
        serve(sim, commands, &loop_inbox, logs, scale).await;
        true
    });
    if started {
        let _ = inbox.send(Inbox::EngineStopped(None));
    }
}

/// Sends the named request `id` and packs its traces as an update.
async fn send_named(engine: &Engine, id: String, origin: Origin) -> EngineUpdate {
    let result = engine
        .send_named(&id)
        .await
        .map(|exchanges| exchanges.into_iter().map(|e| e.trace).collect())
        .map_err(|e| e.to_string());
    EngineUpdate::Sent { id, origin, result }
}

/// The engine thread's loop: commands, events and the snapshot tick. Returns when the UI closes
/// the command channel or stops reading.
async fn serve(
    mut sim: Simulation,
    mut commands: mpsc::UnboundedReceiver<EngineCommand>,
    inbox: &std_mpsc::Sender<Inbox>,
    logs: Option<LogBuffer>,
    scale: Arc<TimeScale>,
) {
    let mut events = sim.subscribe();
    // The simulation logs its ready line before anyone can subscribe: say it here.
    let mut pending = vec![EngineEvent::Log {
        at_ms: 0,
        level: "info",
        message: READY_MESSAGE.to_string(),
    }];
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (results_tx, mut results_rx) = mpsc::unbounded_channel::<EngineUpdate>();
    loop {
        let mut out: Vec<EngineUpdate> = Vec::new();
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                None => break,
                // Requests take modelled time: run them beside the loop.
                Some(EngineCommand::SendNamed { id, origin }) => {
                    let engine = sim.engine().clone();
                    let results = results_tx.clone();
                    tokio::spawn(async move {
                        let _ = results.send(send_named(&engine, id, origin).await);
                    });
                }
                Some(EngineCommand::SetTimeScale(value)) => scale.set(value),
                Some(other) => out = execute(&sim, other).await,
            },
            Some(update) = results_rx.recv() => out.push(update),
            event = events.recv() => match event {
                Ok(EngineEvent::Log { message, .. }) if message == READY_MESSAGE => {}
                Ok(event) => pending.push(event),
                Err(broadcast::error::RecvError::Lagged(missed)) => pending.push(EngineEvent::Log {
                    at_ms: sim.engine().core().clock.elapsed().as_millis() as u64,
                    level: "warn",
                    message: format!("the view skipped {missed} events (too many to show)"),
                }),
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = ticker.tick() => {
                out.push(EngineUpdate::Snapshot(Box::new(sim.snapshot())));
                if !pending.is_empty() {
                    out.push(EngineUpdate::Events(std::mem::take(&mut pending)));
                }
                if let Some(lines) = logs.as_ref().map(LogBuffer::drain).filter(|l| !l.is_empty()) {
                    out.push(EngineUpdate::Logs(lines));
                }
            }
        }
        for update in out {
            if inbox.send(Inbox::Engine(update)).is_err() {
                sim.stop();
                return;
            }
        }
    }
    sim.stop();
}
