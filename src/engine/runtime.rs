//! The engine thread: builds the runtime the clock asks for, starts the system on it, and runs
//! the one engine loop every client goes through.
//!
//! ```text
//!   Clock::Virtual   current-thread, paused clock. Between commands the thread waits outside
//!                    the runtime, so nothing runs and engine time stands still; a command runs
//!                    inside `block_on`, where the clock jumps ahead whenever every task idles.
//!   Clock::Paced(s)  current-thread, paused clock, moved by the pacer on wall-clock ticks.
//!   Clock::Wall      multi-threaded, the real clock.
//! ```
//!
//! Virtual time is deterministic because commands run one at a time, in order, each to its end.
//! On live clocks commands run as tasks beside the loop (a request takes modelled time), so the
//! loop keeps the clock and the snapshots moving meanwhile.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot, watch};

use super::clock::{self, Clock, EngineClock};
use super::command::{Command, Reply};
use super::error::EngineError;
use super::event::EventBus;
use super::history::History;
use super::options::Options;
use super::pacer::{self, Pacer, TimeScale};
use super::sim::{SimOptions, Simulation, Snapshot};
use super::system::System;
use crate::scenario::Scenario;

/// How often a live engine publishes a snapshot between commands (wall time), while someone
/// reads them: a snapshot nobody read since the last one was published is not rebuilt (see
/// [`Shared::snapshot_read`]).
pub const SNAPSHOT_EVERY: Duration = Duration::from_millis(100);

/// How often a wall-clock engine's loop wakes to publish (it has no clock to pace).
const WALL_TICK: Duration = Duration::from_millis(50);

/// How long stopping waits for the runtime's blocking tasks (the pacer's ticker ends within one
/// tick).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A command on its way to the engine, with where its reply goes.
pub(crate) struct Envelope {
    pub(crate) command: Command,
    pub(crate) reply: oneshot::Sender<Result<Reply, EngineError>>,
}

/// What the engine thread shares with every handle.
pub(crate) struct Shared {
    pub(crate) scenario: Arc<Scenario>,
    pub(crate) options: Options,
    pub(crate) events: EventBus,
    pub(crate) snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Engine time, µs, as of the last command or clock step.
    pub(crate) now_us: AtomicU64,
    /// Whether a handle read the latest snapshot since it was published. Building one costs
    /// (every topic's percentiles and theory, the outbox counted): a live engine nobody watches,
    /// or whose watcher asks for fresh ones (the TUI), builds none between commands.
    pub(crate) snapshot_read: AtomicBool,
    /// The engine's runtime, for [`serve`](super::serve()) to run connections on.
    pub(crate) runtime: tokio::runtime::Handle,
    /// The whole HTTP service (edge, balancer, app instances).
    pub(crate) router: axum::Router,
    /// Every topic's per-second history, written by the sampler.
    pub(crate) history: Arc<History>,
}

impl Shared {
    pub(crate) fn set_now(&self, elapsed: Duration) {
        self.now_us
            .store(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
}

/// What [`spawn`] hands to the new handle: the command sender, the shared state, the thread.
pub(crate) type Started = (
    mpsc::UnboundedSender<Envelope>,
    Arc<Shared>,
    std::thread::JoinHandle<()>,
);

/// Starts the engine thread and waits until the system runs (or failed to start).
pub(crate) fn spawn(scenario: Arc<Scenario>, options: Options) -> Result<Started, EngineError> {
    let (commands, receiver) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    // The engine logs where its spawner logs: a subscriber set for the calling thread only (a
    // test's, the TUI's capture) follows the engine onto its thread.
    let dispatch = tracing::dispatcher::get_default(|dispatch| dispatch.clone());
    let thread = std::thread::Builder::new()
        .name("archsim-engine".into())
        .spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                engine_thread(scenario, options, receiver, ready_tx)
            })
        })
        .map_err(|e| EngineError::Start(format!("cannot start the engine thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(shared)) => Ok((commands, shared, thread)),
        Ok(Err(error)) => {
            let _ = thread.join();
            Err(error)
        }
        Err(_) => {
            let _ = thread.join();
            Err(EngineError::Start(
                "the engine thread stopped while starting".into(),
            ))
        }
    }
}

/// The runtime the clock asks for, and on the wall clock the instant its timer's millisecond
/// grid starts at (read just before building it: see [`EngineClock::timer_deadline`]).
fn build_runtime(
    clock: Clock,
    engine_clock: &Arc<OnceLock<EngineClock>>,
) -> std::io::Result<(Runtime, Option<std::time::Instant>)> {
    let grid = (clock == Clock::Wall).then(std::time::Instant::now);
    let runtime = match clock {
        // Only the timer: the engine does no I/O of its own on these clocks, and without an I/O
        // driver a wake-up costs no syscall.
        Clock::Virtual | Clock::Paced(_) => tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build(),
        Clock::Wall => {
            let engine_clock = engine_clock.clone();
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("archsim-engine-worker")
                .on_thread_start(move || clock::adopt_thread(engine_clock.clone()))
                .build()
        }
    }?;
    Ok((runtime, grid))
}

fn engine_thread(
    scenario: Arc<Scenario>,
    options: Options,
    commands: mpsc::UnboundedReceiver<Envelope>,
    ready: std::sync::mpsc::Sender<Result<Arc<Shared>, EngineError>>,
) {
    let engine_clock = Arc::new(OnceLock::new());
    clock::adopt_thread(engine_clock.clone());
    let (runtime, timer_grid) = match build_runtime(options.clock, &engine_clock) {
        Ok(built) => built,
        Err(error) => {
            let _ = ready.send(Err(EngineError::Start(format!(
                "cannot start the engine runtime: {error}"
            ))));
            return;
        }
    };
    let events = EventBus::new();
    let scale = match options.clock {
        Clock::Paced(scale) => Some(Arc::new(TimeScale::new(scale))),
        Clock::Virtual | Clock::Wall => None,
    };
    let started = runtime.block_on(async {
        let start = EngineClock::at(options.epoch).with_timer_grid(timer_grid);
        let _ = engine_clock.set(start);
        let system = System::start(scenario.clone(), start, options.sabotage)?;
        let router = system.router();
        let sim_options = SimOptions {
            traffic: options.traffic,
            faults: options.faults,
        };
        let sim = Simulation::start(system, sim_options, events.clone(), scale.clone());
        let snapshot = Arc::new(sim.snapshot());
        Ok::<_, EngineError>((Arc::new(sim), router, snapshot))
    });
    let (sim, router, snapshot) = match started {
        Ok(started) => started,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    events.seal();
    let (snapshots, snapshot_rx) = watch::channel(snapshot);
    let shared = Arc::new(Shared {
        scenario,
        options,
        events,
        snapshots: snapshot_rx,
        history: sim.history(),
        now_us: AtomicU64::new(0),
        snapshot_read: AtomicBool::new(false),
        runtime: runtime.handle().clone(),
        router,
    });
    if ready.send(Ok(shared.clone())).is_err() {
        return;
    }
    let publisher = Publisher {
        sim,
        snapshots,
        shared,
    };
    match options.clock {
        Clock::Virtual => stepped_loop(&runtime, &publisher, commands),
        Clock::Paced(_) | Clock::Wall => runtime.block_on(live_loop(publisher, commands, scale)),
    }
    // Dropping the runtime drops every task the engine started (workers, generators, fault
    // reverts, connections): nothing fires after stop.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
}

/// Publishes the engine's state to the handles.
#[derive(Clone)]
struct Publisher {
    sim: Arc<Simulation>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    shared: Arc<Shared>,
}

impl Publisher {
    /// Publishes a fresh snapshot and the engine time; call inside the engine's runtime.
    fn publish(&self) {
        self.publish_built(Arc::new(self.sim.snapshot()));
    }

    /// Publishes what a command answered: the snapshot it built if it was
    /// [`Command::Snapshot`] (not building a second one the same instant), else a fresh one.
    fn publish_after(&self, result: &Result<Reply, EngineError>) {
        match result {
            Ok(Reply::Snapshot(snapshot)) => self.publish_built(snapshot.clone()),
            _ => self.publish(),
        }
    }

    fn publish_built(&self, snapshot: Arc<Snapshot>) {
        self.shared.set_now(self.sim.elapsed());
        self.shared.snapshot_read.store(false, Ordering::Relaxed);
        self.snapshots.send_replace(snapshot);
    }

    /// Whether a handle read the last snapshot published (and so wants the next).
    fn wanted(&self) -> bool {
        self.shared.snapshot_read.load(Ordering::Relaxed)
    }
}

/// Virtual time: one command at a time, each inside `block_on`, time frozen in between.
fn stepped_loop(
    runtime: &Runtime,
    publisher: &Publisher,
    mut commands: mpsc::UnboundedReceiver<Envelope>,
) {
    while let Some(Envelope { command, reply }) = commands.blocking_recv() {
        if command == Command::Stop {
            let _ = reply.send(Ok(Reply::Done));
            return;
        }
        let result = runtime.block_on(publisher.sim.execute(command));
        let _entered = runtime.enter();
        publisher.publish_after(&result);
        let _ = reply.send(result);
    }
}

/// Live clocks: commands run as tasks beside the loop; the loop paces the clock (paced) and
/// publishes snapshots on wall-clock ticks.
async fn live_loop(
    publisher: Publisher,
    mut commands: mpsc::UnboundedReceiver<Envelope>,
    scale: Option<Arc<TimeScale>>,
) {
    let mut ticks = pacer::ticker(if scale.is_some() {
        pacer::TICK
    } else {
        WALL_TICK
    });
    let mut pacer = scale.map(Pacer::new);
    let mut last_published = std::time::Instant::now();
    loop {
        tokio::select! {
            biased;
            envelope = commands.recv() => {
                let Some(Envelope { command, reply }) = envelope else { return };
                if command == Command::Stop {
                    let _ = reply.send(Ok(Reply::Done));
                    return;
                }
                let publisher = publisher.clone();
                tokio::spawn(async move {
                    let result = publisher.sim.execute(command).await;
                    publisher.publish_after(&result);
                    let _ = reply.send(result);
                });
            }
            tick = ticks.recv() => {
                if tick.is_none() {
                    return;
                }
                if let Some(pacer) = pacer.as_mut() {
                    pacer.catch_up().await;
                    publisher.shared.set_now(publisher.sim.elapsed());
                }
                if last_published.elapsed() >= SNAPSHOT_EVERY && publisher.wanted() {
                    last_published = std::time::Instant::now();
                    publisher.publish();
                }
            }
        }
    }
}
