//! A running simulation: the system plus its traffic, scheduled faults, a per-second sampler and
//! the event stream — what the engine loop executes commands on.
//!
//! ```text
//!   Simulation ── controls (rate, workers, faults) ──▶ system parts
//!       │  snapshot(): counters, histograms, theory, series
//!       └─ EventBus: logs, broker events, worker changes, faults
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::broker::LedgerReport;
use super::broker::TopicSnapshot;
use super::cache::CacheStats;
use super::event::{Event, EventBus, Level};
use super::metrics::{RequestReport, SecondSample};
use super::pacer::TimeScale;
use super::store::OutboxStats;
use super::system::System;
use super::window::{TopicTotals, WindowView, Windows};
use super::workers::{EffectTally, WorkerState};
use super::{faults, traffic};
use crate::scenario::{Arrival, FaultAction};
use crate::theory::{Prediction, predict};

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
    /// Workers able to take a message now (not crashed, not retiring).
    pub live_workers: u32,
    /// Messages its workers processed successfully, and deliveries that failed.
    pub outcomes: (u64, u64),
    /// Deliveries per second (first attempts and retries) since the start.
    pub arrival_rate: f64,
    /// Busy worker-time / available worker-time (live workers × time), at most 1.
    pub utilization: f64,
    /// The queueing-theory prediction for the service time (with any slow-down) and the workers
    /// live now, at the arrival rate since the start.
    pub theory: Option<Prediction>,
    /// The same figures over the last [`WINDOW`](super::window::WINDOW) of engine time ("now");
    /// `None` before the first second.
    pub window: Option<WindowView>,
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
    /// Whether every message is accounted for: the ledger holds (each message in exactly one
    /// place per group), the group counters balance, and no effect was applied twice.
    pub no_message_lost: bool,
    /// The per-message ledger's verdict.
    pub ledger: LedgerReport,
    /// Worker effects: keys applied, any applied twice, duplicates skipped.
    pub effects: EffectTally,
    /// The transactional outbox: pending and relayed events, and how far the relay lags.
    pub outbox: OutboxStats,
    /// Rows written without their event (direct, dual-write routes whose publish was refused).
    pub orphaned_writes: u64,
}

/// The first line of the event stream.
pub const READY_MESSAGE: &str = "System ready. Event Broker initialized.";

/// A running simulation. Its tasks run on the engine's runtime and end with it.
pub(crate) struct Simulation {
    engine: System,
    events: EventBus,
    scale: Option<Arc<TimeScale>>,
    started: Instant,
    /// Per-second totals for the "now" window.
    windows: Arc<Windows>,
}

impl Simulation {
    /// Starts traffic, faults, the sampler and the event forwarders on the current runtime.
    pub(crate) fn start(
        engine: System,
        options: SimOptions,
        events: EventBus,
        scale: Option<Arc<TimeScale>>,
    ) -> Self {
        let started = Instant::now();
        let sim = Self {
            engine,
            events,
            scale,
            started,
            windows: Arc::new(Windows::default()),
        };
        sim.log(Level::Info, READY_MESSAGE.to_string());
        sim.spawn_forwarder();
        sim.spawn_worker_forwarder();
        sim.spawn_sampler();
        if options.traffic {
            for generator in sim.engine.scenario().traffic.clone() {
                tokio::spawn(traffic::run_generator(
                    sim.engine.clone(),
                    generator,
                    started,
                ));
            }
        }
        if options.faults {
            sim.spawn_fault_schedule();
        }
        sim
    }

    /// The system.
    pub(crate) fn engine(&self) -> &System {
        &self.engine
    }

    /// The pacer's time scale (paced clocks only).
    pub(crate) fn time_scale(&self) -> Option<&TimeScale> {
        self.scale.as_deref()
    }

    /// Engine time since start.
    pub(crate) fn elapsed(&self) -> Duration {
        self.engine.core().clock.elapsed()
    }

    fn now_ms(&self) -> u64 {
        self.elapsed().as_millis() as u64
    }

    /// Publishes a log line on the event stream.
    pub(crate) fn log(&self, level: Level, message: String) {
        self.events.publish(Event::Log {
            at_ms: self.now_ms(),
            level,
            message,
        });
    }

    fn spawn_forwarder(&self) {
        let mut broker_events = self.engine.core().broker.subscribe();
        let events = self.events.clone();
        let core = self.engine.core().clone();
        tokio::spawn(async move {
            loop {
                let at_ms = || core.clock.elapsed().as_millis() as u64;
                match broker_events.recv().await {
                    Ok(event) => events.publish(Event::Broker {
                        at_ms: at_ms(),
                        event,
                    }),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        events.publish(Event::Log {
                            at_ms: at_ms(),
                            level: Level::Warn,
                            message: format!("event stream skipped {missed} broker events"),
                        })
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    fn spawn_worker_forwarder(&self) {
        let mut changes = self.engine.subscribe_workers();
        let events = self.events.clone();
        let core = self.engine.core().clone();
        tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(change) => events.publish(Event::Worker {
                        at_ms: core.clock.elapsed().as_millis() as u64,
                        change,
                    }),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    fn spawn_sampler(&self) {
        let core = self.engine.core().clone();
        let (engine, windows, started) = (self.engine.clone(), self.windows.clone(), self.started);
        windows.record(Duration::ZERO, totals(&engine));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            ticker.tick().await;
            let (mut last_requests, mut last_errors) = (0, 0);
            let mut last_acked: Vec<u64> = Vec::new();
            let mut last_published: Vec<u64> = Vec::new();
            let mut second = 0;
            // Counters only grow; saturating keeps a per-second figure sane regardless.
            let per_second = |now: &[u64], before: &[u64]| -> Vec<u64> {
                now.iter()
                    .enumerate()
                    .map(|(i, n)| n.saturating_sub(before.get(i).copied().unwrap_or(0)))
                    .collect()
            };
            loop {
                ticker.tick().await;
                second += 1;
                let (requests, errors) = core.metrics.counts();
                let depths = core.broker.depths();
                let acked: Vec<u64> = depths.iter().map(|d| d.1).collect();
                let published: Vec<u64> = depths.iter().map(|d| d.2).collect();
                core.metrics.push_second(SecondSample {
                    second,
                    requests: requests - last_requests,
                    errors: errors - last_errors,
                    queued: depths.iter().map(|d| d.0).collect(),
                    acked: per_second(&acked, &last_acked),
                    published: per_second(&published, &last_published),
                });
                last_requests = requests;
                last_errors = errors;
                last_acked = acked;
                last_published = published;
                windows.record(started.elapsed(), totals(&engine));
            }
        });
    }

    fn spawn_fault_schedule(&self) {
        let faults = self.engine.scenario().faults.clone();
        if faults.is_empty() {
            return;
        }
        let (engine, events, started) = (self.engine.clone(), self.events.clone(), self.started);
        tokio::spawn(async move {
            for fault in faults {
                tokio::time::sleep_until(started + fault.at).await;
                apply_fault(&engine, &events, fault.action, fault.duration);
            }
        });
    }

    /// Applies a fault now (live control); reverts it after `duration` if given. Returns what
    /// it did, in a sentence (also published as a fault event).
    pub(crate) fn inject(&self, action: FaultAction, duration: Option<Duration>) -> String {
        apply_fault(&self.engine, &self.events, action, duration)
    }

    /// Sets the live traffic-rate multiplier.
    pub(crate) fn set_rate_multiplier(&self, multiplier: f64) {
        self.engine.core().traffic.set_multiplier(multiplier);
        self.log(
            Level::Info,
            format!(
                "traffic rate ×{:.2}",
                self.engine.core().traffic.multiplier()
            ),
        );
    }

    /// Adds a worker to `pool`.
    pub(crate) fn add_worker(&self, pool: &str) -> bool {
        let added = self.engine.pool(pool).map(|p| p.add_worker()).is_some();
        if added {
            self.log(Level::Info, format!("{pool}: one worker added"));
        }
        added
    }

    /// Retires a worker of `pool`.
    pub(crate) fn remove_worker(&self, pool: &str) -> bool {
        let removed = self.engine.pool(pool).is_some_and(|p| p.remove_worker());
        if removed {
            self.log(
                Level::Info,
                format!("{pool}: one worker retiring after its current message"),
            );
        }
        removed
    }

    /// The state of everything, now.
    pub(crate) fn snapshot(&self) -> Snapshot {
        snapshot(&self.engine, self.started, &self.windows)
    }
}

/// Applies `action` to `engine`, publishes what happened, and schedules the revert after
/// `duration` on a task of the engine's runtime (so a revert never fires after the engine stops).
fn apply_fault(
    engine: &System,
    events: &EventBus,
    action: FaultAction,
    duration: Option<Duration>,
) -> String {
    let message = faults::apply(engine, &action, duration);
    let at_ms = engine.core().clock.elapsed().as_millis() as u64;
    events.publish(Event::Fault {
        at_ms,
        message: message.clone(),
    });
    if let Some(duration) = duration {
        let (engine, events) = (engine.clone(), events.clone());
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            if let Some(message) = faults::revert(&engine, &action) {
                let at_ms = engine.core().clock.elapsed().as_millis() as u64;
                events.publish(Event::Fault { at_ms, message });
            }
        });
    }
    message
}

/// Every topic's cumulative totals now (scenario order), what windows are differences of.
/// Cheap: sampled every engine second, for hours of virtual time.
fn totals(engine: &System) -> Vec<TopicTotals> {
    let scenario = engine.scenario();
    engine
        .core()
        .broker
        .window_totals()
        .into_iter()
        .zip(&scenario.topics)
        .map(|((delivered, waits), topic)| {
            let runtime = scenario
                .workers
                .iter()
                .find(|w| w.topic == topic.name)
                .and_then(|p| engine.pool(&p.name));
            let (processed, failed) = runtime.as_ref().map_or((0, 0), |r| r.outcomes());
            TopicTotals {
                delivered,
                waits,
                busy_us: runtime.as_ref().map_or(0, |r| r.busy_us()),
                available_us: runtime.as_ref().map_or(0, |r| r.available_us()),
                completed: processed + failed,
            }
        })
        .collect()
}

/// The snapshot of `engine`, with lifetime rates over the time since `started` and "now" rates
/// over the last [`WINDOW`](super::window::WINDOW) of `windows`.
pub(crate) fn snapshot(engine: &System, started: Instant, windows: &Windows) -> Snapshot {
    let core = engine.core();
    let elapsed = started.elapsed();
    let elapsed_s = elapsed.as_secs_f64().max(1e-9);
    let scenario = engine.scenario();
    let all_poisson = scenario
        .traffic
        .iter()
        .all(|t| t.arrival == Arrival::Poisson);
    let broker_topics = core.broker.snapshot();
    let now_totals = totals(engine);
    let window_start = windows.start(elapsed);
    let topics: Vec<TopicView> = broker_topics
        .into_iter()
        .enumerate()
        .map(|(index, topic)| {
            let pool = scenario.workers.iter().find(|w| w.topic == topic.name);
            let runtime = pool.and_then(|p| engine.pool(&p.name));
            let delivered = topic.sum(|g| g.counters.delivered);
            let arrival_rate = delivered as f64 / elapsed_s;
            let workers = runtime.as_ref().map(|r| r.states()).unwrap_or_default();
            // Busy worker-time over the worker-time that was there (live workers × time):
            // never above 100%, and it follows kills and added workers.
            let utilization = match &runtime {
                Some(r) if r.available_us() > 0 => {
                    (r.busy_us() as f64 / r.available_us() as f64).min(1.0)
                }
                _ => 0.0,
            };
            let live_workers = runtime.as_ref().map_or(0, |r| r.live_workers());
            let theory = pool.map(|p| {
                // Arrivals at a topic are the merge of many request streams: treat them as
                // Poisson (ca² = 1); the label says when the traffic itself is not Poisson.
                let ca2 = 1.0;
                let extra = runtime.as_ref().map_or(0.0, |r| r.extra_ms());
                // The workers there now, not the configured count: after a kill the theory
                // is for the pool that is actually serving.
                let mut prediction = predict(
                    arrival_rate,
                    p.service_time.mean_ms() + extra,
                    live_workers,
                    ca2,
                    p.service_time.scv(),
                );
                if !all_poisson {
                    prediction.model = "G/G/c (Allen–Cunneen approximation)";
                }
                prediction
            });
            let window = window_start.as_ref().and_then(|(from, start)| {
                let (start, now) = (start.get(index)?, now_totals.get(index)?);
                let mut view = WindowView::between(*from, start, elapsed, now)?;
                view.theory = pool.map(|p| {
                    let extra = runtime.as_ref().map_or(0.0, |r| r.extra_ms());
                    let mut prediction = predict(
                        view.arrival_rate,
                        p.service_time.mean_ms() + extra,
                        live_workers,
                        1.0,
                        p.service_time.scv(),
                    );
                    if !all_poisson {
                        prediction.model = "G/G/c (Allen–Cunneen approximation)";
                    }
                    prediction
                });
                Some(view)
            });
            TopicView {
                pool: pool.map(|p| p.name.clone()),
                window,
                live_workers,
                outcomes: runtime.as_ref().map_or((0, 0), |r| r.outcomes()),
                workers,
                arrival_rate,
                utilization,
                theory,
                topic,
            }
        })
        .collect();
    let ledger = core.broker.ledger();
    let mut effects = EffectTally::default();
    for pool in &scenario.workers {
        if let Some(runtime) = engine.pool(&pool.name) {
            effects.add(runtime.effect_tally());
        }
    }
    let no_message_lost =
        topics.iter().all(|t| t.topic.balanced()) && ledger.holds() && effects.repeated == 0;
    Snapshot {
        elapsed_ms: elapsed.as_millis() as u64,
        requests: RequestReport::from(&core.metrics.totals()),
        cache: core.cache.stats(),
        rate_multiplier: core.traffic.multiplier(),
        topics,
        series: core.metrics.series(),
        no_message_lost,
        ledger,
        effects,
        outbox: core
            .store
            .outbox_stats(core.clock.elapsed().as_millis() as u64)
            .unwrap_or_default(),
        orphaned_writes: core.metrics.orphans(),
    }
}
