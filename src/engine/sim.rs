//! A running simulation: the engine plus its traffic, scheduled faults, a per-second sampler and
//! an event stream — the handle the TUI and `archsim run` hold.
//!
//! ```text
//!   Simulation ── controls (rate, workers, faults) ──▶ engine parts
//!       │  snapshot(): counters, histograms, theory, series
//!       └─ subscribe(): EngineEvent stream (logs, broker events, faults)
//! ```

use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::broker::{BrokerEvent, TopicSnapshot};
use super::cache::CacheStats;
use super::metrics::{RequestReport, SecondSample};
use super::theory::{Prediction, predict};
use super::workers::{WorkerChange, WorkerState};
use super::{Engine, faults, traffic};
use crate::scenario::{Arrival, FaultAction};

/// Something that happened, for the event stream and the Logs view.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A log line.
    Log {
        /// Engine time, ms.
        at_ms: u64,
        /// `info`, `warn` or `error`.
        level: &'static str,
        /// Text.
        message: String,
    },
    /// A broker event.
    Broker {
        /// Engine time, ms.
        at_ms: u64,
        /// What happened.
        event: BrokerEvent,
    },
    /// A worker changed state.
    Worker {
        /// Engine time, ms.
        at_ms: u64,
        /// What changed.
        change: WorkerChange,
    },
    /// A fault was applied or reverted.
    Fault {
        /// Engine time, ms.
        at_ms: u64,
        /// What happened.
        message: String,
    },
}

/// What to start besides the engine.
#[derive(Debug, Clone, Copy)]
pub struct SimOptions {
    /// Run the scenario's traffic generators.
    pub traffic: bool,
    /// Run the scenario's scheduled faults.
    pub faults: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            traffic: true,
            faults: true,
        }
    }
}

/// One topic as the views and reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct TopicView {
    /// Broker counters and histograms.
    pub topic: TopicSnapshot,
    /// The consuming pool, if any.
    pub pool: Option<String>,
    /// Its workers' states.
    pub workers: Vec<WorkerState>,
    /// Deliveries per second (first attempts and retries) since the start.
    pub arrival_rate: f64,
    /// Busy time / (elapsed × workers).
    pub utilization: f64,
    /// The queueing-theory prediction for the configured service time and workers.
    pub theory: Option<Prediction>,
}

/// Everything a view needs, at one instant.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Engine time since start, ms.
    pub elapsed_ms: u64,
    /// Requests answered.
    pub requests: RequestReport,
    /// Read-cache counters.
    pub cache: CacheStats,
    /// Live rate multiplier.
    pub rate_multiplier: f64,
    /// Topics, in scenario order.
    pub topics: Vec<TopicView>,
    /// Per-second history.
    pub series: Vec<SecondSample>,
    /// Whether every message is accounted for.
    pub no_message_lost: bool,
}

/// A running simulation. Dropping it stops its tasks (the engine's workers stop with the
/// runtime or [`Simulation::stop`]).
pub struct Simulation {
    engine: Engine,
    events: broadcast::Sender<EngineEvent>,
    tasks: Vec<JoinHandle<()>>,
    started: Instant,
}

impl Simulation {
    /// Starts traffic, faults, the sampler and the event forwarder on the current runtime.
    pub fn start(engine: Engine, options: SimOptions) -> Self {
        let (events, _) = broadcast::channel(4096);
        let started = Instant::now();
        let mut sim = Self {
            engine,
            events,
            tasks: Vec::new(),
            started,
        };
        sim.log(
            "info",
            "System ready. Event Broker initialized.".to_string(),
        );
        sim.spawn_forwarder();
        sim.spawn_worker_forwarder();
        sim.spawn_sampler();
        if options.traffic {
            for generator in sim.engine.scenario().traffic.clone() {
                let engine = sim.engine.clone();
                sim.tasks.push(tokio::spawn(traffic::run_generator(
                    engine, generator, started,
                )));
            }
        }
        if options.faults {
            sim.spawn_fault_schedule();
        }
        sim
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Subscribes to the event stream.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    fn now_ms(&self) -> u64 {
        self.engine.core().clock.elapsed().as_millis() as u64
    }

    fn log(&self, level: &'static str, message: String) {
        let _ = self.events.send(EngineEvent::Log {
            at_ms: self.now_ms(),
            level,
            message,
        });
    }

    fn spawn_forwarder(&mut self) {
        let mut broker_events = self.engine.core().broker.subscribe();
        let events = self.events.clone();
        let core = self.engine.core().clone();
        self.tasks.push(tokio::spawn(async move {
            loop {
                match broker_events.recv().await {
                    Ok(event) => {
                        let at_ms = core.clock.elapsed().as_millis() as u64;
                        let _ = events.send(EngineEvent::Broker { at_ms, event });
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        let at_ms = core.clock.elapsed().as_millis() as u64;
                        let _ = events.send(EngineEvent::Log {
                            at_ms,
                            level: "warn",
                            message: format!("event stream skipped {missed} broker events"),
                        });
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }));
    }

    fn spawn_worker_forwarder(&mut self) {
        let mut changes = self.engine.subscribe_workers();
        let events = self.events.clone();
        let core = self.engine.core().clone();
        self.tasks.push(tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(change) => {
                        let at_ms = core.clock.elapsed().as_millis() as u64;
                        let _ = events.send(EngineEvent::Worker { at_ms, change });
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }));
    }

    fn spawn_sampler(&mut self) {
        let engine = self.engine.clone();
        self.tasks.push(tokio::spawn(async move {
            let core = engine.core().clone();
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            ticker.tick().await;
            let (mut last_requests, mut last_errors) = (0, 0);
            let mut last_acked: Vec<u64> = Vec::new();
            let mut second = 0;
            loop {
                ticker.tick().await;
                second += 1;
                let (requests, errors) = core.metrics.counts();
                let depths = core.broker.depths();
                let acked: Vec<u64> = depths.iter().map(|d| d.1).collect();
                last_acked.resize(acked.len(), 0);
                core.metrics.push_second(SecondSample {
                    second,
                    requests: requests - last_requests,
                    errors: errors - last_errors,
                    queued: depths.iter().map(|d| d.0).collect(),
                    acked: acked
                        .iter()
                        .zip(&last_acked)
                        .map(|(now, before)| now - before)
                        .collect(),
                });
                last_requests = requests;
                last_errors = errors;
                last_acked = acked;
            }
        }));
    }

    fn spawn_fault_schedule(&mut self) {
        let faults = self.engine.scenario().faults.clone();
        if faults.is_empty() {
            return;
        }
        let engine = self.engine.clone();
        let events = self.events.clone();
        let started = self.started;
        self.tasks.push(tokio::spawn(async move {
            for fault in faults {
                tokio::time::sleep_until(started + fault.at).await;
                let message = faults::apply(&engine, &fault.action, fault.duration);
                let at_ms = engine.core().clock.elapsed().as_millis() as u64;
                let _ = events.send(EngineEvent::Fault { at_ms, message });
                if let Some(duration) = fault.duration {
                    let (engine, events, action) =
                        (engine.clone(), events.clone(), fault.action.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(duration).await;
                        if let Some(message) = faults::revert(&engine, &action) {
                            let at_ms = engine.core().clock.elapsed().as_millis() as u64;
                            let _ = events.send(EngineEvent::Fault { at_ms, message });
                        }
                    });
                }
            }
        }));
    }

    /// Applies a fault now (live control); reverts it after `duration` if given.
    pub fn inject(&self, action: FaultAction, duration: Option<Duration>) {
        let message = faults::apply(&self.engine, &action, duration);
        let _ = self.events.send(EngineEvent::Fault {
            at_ms: self.now_ms(),
            message,
        });
        if let Some(duration) = duration {
            let (engine, events) = (self.engine.clone(), self.events.clone());
            tokio::spawn(async move {
                tokio::time::sleep(duration).await;
                if let Some(message) = faults::revert(&engine, &action) {
                    let at_ms = engine.core().clock.elapsed().as_millis() as u64;
                    let _ = events.send(EngineEvent::Fault { at_ms, message });
                }
            });
        }
    }

    /// Sets the live traffic-rate multiplier.
    pub fn set_rate_multiplier(&self, multiplier: f64) {
        self.engine.core().traffic.set_multiplier(multiplier);
        self.log(
            "info",
            format!(
                "traffic rate ×{:.2}",
                self.engine.core().traffic.multiplier()
            ),
        );
    }

    /// Adds a worker to `pool`.
    pub fn add_worker(&self, pool: &str) -> bool {
        let added = self.engine.pool(pool).map(|p| p.add_worker()).is_some();
        if added {
            self.log("info", format!("{pool}: one worker added"));
        }
        added
    }

    /// Retires a worker of `pool`.
    pub fn remove_worker(&self, pool: &str) -> bool {
        let removed = self.engine.pool(pool).is_some_and(|p| p.remove_worker());
        if removed {
            self.log(
                "info",
                format!("{pool}: one worker retiring after its current message"),
            );
        }
        removed
    }

    /// Stops every task of the simulation and the engine's workers.
    pub fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.engine.stop();
    }

    /// The state of everything, now.
    pub fn snapshot(&self) -> Snapshot {
        snapshot(&self.engine, self.started)
    }
}

impl Drop for Simulation {
    fn drop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

/// The snapshot of `engine`, with rates over the time since `started`.
pub fn snapshot(engine: &Engine, started: Instant) -> Snapshot {
    let core = engine.core();
    let elapsed = started.elapsed();
    let elapsed_s = elapsed.as_secs_f64().max(1e-9);
    let scenario = engine.scenario();
    let all_poisson = scenario
        .traffic
        .iter()
        .all(|t| t.arrival == Arrival::Poisson);
    let topics: Vec<TopicView> = core
        .broker
        .snapshot()
        .into_iter()
        .map(|topic| {
            let pool = scenario.workers.iter().find(|w| w.topic == topic.name);
            let runtime = pool.and_then(|p| engine.pool(&p.name));
            let delivered = topic.sum(|g| g.counters.delivered);
            let arrival_rate = delivered as f64 / elapsed_s;
            let workers = runtime.as_ref().map(|r| r.states()).unwrap_or_default();
            let utilization = match (&runtime, pool) {
                (Some(r), Some(p)) if p.concurrency > 0 => {
                    r.busy_us() as f64 / 1e6 / elapsed_s / f64::from(p.concurrency)
                }
                _ => 0.0,
            };
            let theory = pool.map(|p| {
                // Arrivals at a topic are the merge of many request streams: treat them as
                // Poisson (ca² = 1); the label says when the traffic itself is not Poisson.
                let ca2 = 1.0;
                let extra = runtime.as_ref().map_or(0.0, |r| r.extra_ms());
                let mut prediction = predict(
                    arrival_rate,
                    p.service_time.mean_ms() + extra,
                    p.concurrency,
                    ca2,
                    p.service_time.scv(),
                );
                if !all_poisson {
                    prediction.model = "G/G/c (Allen–Cunneen approximation)";
                }
                prediction
            });
            TopicView {
                pool: pool.map(|p| p.name.clone()),
                workers,
                arrival_rate,
                utilization,
                theory,
                topic,
            }
        })
        .collect();
    let no_message_lost = topics.iter().all(|t| t.topic.balanced());
    Snapshot {
        elapsed_ms: elapsed.as_millis() as u64,
        requests: RequestReport::from(&core.metrics.totals()),
        cache: core.cache.stats(),
        rate_multiplier: core.traffic.multiplier(),
        topics,
        series: core.metrics.series(),
        no_message_lost,
    }
}
