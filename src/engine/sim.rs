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
use tokio::time::Instant;

use super::api_window::ApiView;
use super::broker::LedgerReport;
use super::broker::TopicSnapshot;
use super::cache::CacheStats;
use super::event::{Event, EventBus, Level};
use super::forecast::{Forecast, ForecastInput};
use super::history::{History, TopicSecond};
use super::metrics::{RequestReport, SecondSample};
use super::pacer::TimeScale;
use super::store::OutboxStats;
use super::system::System;
use super::window::{TopicTotals, WindowView, Windows};
use super::workers::{EffectTally, WorkerState};
use super::{faults, traffic};
use crate::scenario::{Arrival, FaultAction};
use crate::theory::{Prediction, mmck, predict};

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
    /// Arrivals per second (publishes accepted and retries) since the start.
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
    /// The API "now": rates, error share, goodput and p99 over the last
    /// [`WINDOW`](super::window::WINDOW) of engine time.
    pub api: ApiView,
    /// Read-cache counters.
    pub cache: CacheStats,
    /// The database's connection pool (`connections: None` when it is unbounded).
    pub database: super::db_pool::PoolStats,
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
    /// Every topic's seconds since the start (for reports and the forecast line).
    history: Arc<History>,
}

impl Simulation {
    /// Connects the broker's and the workers' events to `events`, and starts traffic, faults
    /// and the sampler on the current runtime.
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
            history: Arc::new(History::default()),
        };
        sim.log(Level::Info, READY_MESSAGE.to_string());
        let core = sim.engine.core();
        core.events.connect(sim.events.clone(), core.clock);
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

    fn spawn_sampler(&self) {
        let core = self.engine.core().clone();
        let (engine, windows, started) = (self.engine.clone(), self.windows.clone(), self.started);
        let history = self.history.clone();
        let first = measure(&engine);
        windows.record(Duration::ZERO, first.iter().map(|m| m.totals).collect());
        core.metrics.close_second(Duration::ZERO);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            ticker.tick().await;
            let mut forecast = Forecast::new(engine.scenario());
            let (mut last_requests, mut last_errors) = (0, 0);
            let (mut last_at, mut last) = (Duration::ZERO, first);
            let mut recovery: Vec<Recovery> = Vec::new();
            let mut second = 0;
            loop {
                ticker.tick().await;
                second += 1;
                let at = started.elapsed();
                let now = measure(&engine);
                let (multiplier, spike) = (core.traffic.multiplier(), core.traffic.spike());
                let inputs: Vec<ForecastInput> = now
                    .iter()
                    .zip(&last)
                    .map(|(now, before)| ForecastInput {
                        arrived: now.totals.arrived,
                        available_us: now
                            .totals
                            .available_us
                            .saturating_sub(before.totals.available_us),
                        live_workers: now.live_workers,
                        extra_ms: now.extra_ms,
                    })
                    .collect();
                let expected = forecast.step(last_at, at, multiplier, spike, &inputs);
                let traffic_changed = forecast.burst_during(last_at, at)
                    || (multiplier - 1.0).abs() > 1e-9
                    || (spike - 1.0).abs() > 1e-9;
                let h_us = at.saturating_sub(last_at).as_micros() as u64;
                recovery.resize(now.len(), Recovery::default());
                let records: Vec<TopicSecond> = now
                    .iter()
                    .zip(&last)
                    .zip(&inputs)
                    .zip(&expected)
                    .zip(recovery.iter_mut())
                    .map(|((((now, before), input), expected), recovery)| {
                        // The pool as configured for the whole second (1% slack for timer
                        // rounding), at full speed, delivering.
                        let configured = now.configured_workers;
                        let workers_changed = now.live_workers != configured
                            || input.available_us.abs_diff(u64::from(configured) * h_us)
                                > h_us / 100;
                        let pool_disturbed =
                            now.has_pool && (workers_changed || now.extra_ms > 0.0 || now.paused);
                        let disturbed = traffic_changed || pool_disturbed;
                        TopicSecond {
                            depth: now.queued,
                            expected_depth: *expected,
                            arrivals: now.totals.arrived - before.totals.arrived,
                            waits: now.totals.waits.0 - before.totals.waits.0,
                            wait_sum_ms: now.totals.waits.1 - before.totals.waits.1,
                            live_workers: now.live_workers,
                            disturbed,
                            recovering: recovery.second(disturbed, *expected),
                        }
                    })
                    .collect();
                history.push(second, records);
                let (requests, errors) = core.metrics.counts();
                core.metrics.push_second(SecondSample {
                    second,
                    requests: requests - last_requests,
                    errors: errors - last_errors,
                    queued: now.iter().map(|m| m.queued).collect(),
                    acked: now
                        .iter()
                        .zip(&last)
                        .map(|(now, before)| now.acked - before.acked)
                        .collect(),
                    expected,
                    published: now
                        .iter()
                        .zip(&last)
                        .map(|(now, before)| now.totals.published - before.totals.published)
                        .collect(),
                });
                last_requests = requests;
                last_errors = errors;
                // Both windows close at the same instant, so the API and the topics cover the
                // same seconds.
                windows.record(at, now.iter().map(|m| m.totals).collect());
                core.metrics.close_second(at);
                (last_at, last) = (at, now);
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

    /// Every topic's per-second history, shared with the engine's handles.
    pub(crate) fn history(&self) -> Arc<History> {
        self.history.clone()
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

/// Whether a topic is still recovering from a disturbance: after a burst or a kill the queue
/// drains for a while (minutes at ρ = 0.85), and those seconds say nothing about the steady
/// state. The forecast knows how long: recovery lasts until its expected depth is back within
/// 25% (+0.5 message) of where it stood before the disturbance.
#[derive(Debug, Clone, Copy, Default)]
struct Recovery {
    /// The expected depth in the last calm second.
    calm_level: f64,
    /// Disturbed, or not yet back to the calm level.
    active: bool,
}

impl Recovery {
    /// Takes one second; returns whether it is a recovery second (calm, but still draining).
    fn second(&mut self, disturbed: bool, expected: f64) -> bool {
        if disturbed {
            self.active = true;
            return false;
        }
        if self.active && expected > self.calm_level * 1.25 + 0.5 {
            return true;
        }
        self.active = false;
        self.calm_level = expected;
        false
    }
}

/// One topic measured at one instant by the sampler.
#[derive(Debug, Clone, Copy)]
struct Measure {
    /// Cumulative totals ("now" windows are differences of them).
    totals: TopicTotals,
    /// Waiting now.
    queued: u64,
    /// Acknowledged so far.
    acked: u64,
    /// Deliveries paused now.
    paused: bool,
    /// Whether a pool reads the topic.
    has_pool: bool,
    /// Its workers as configured.
    configured_workers: u32,
    /// Its workers live now.
    live_workers: u32,
    /// Its extra service time now (slow-workers fault), ms.
    extra_ms: f64,
}

/// Every topic measured now (scenario order). Cheap: sampled every engine second, for hours of
/// virtual time.
fn measure(engine: &System) -> Vec<Measure> {
    let scenario = engine.scenario();
    engine
        .core()
        .broker
        .second_totals()
        .into_iter()
        .zip(&scenario.topics)
        .map(|(broker, topic)| {
            let pool = scenario.workers.iter().find(|w| w.topic == topic.name);
            let runtime = pool.and_then(|p| engine.pool(&p.name));
            let (processed, failed) = runtime.as_ref().map_or((0, 0), |r| r.outcomes());
            Measure {
                totals: TopicTotals {
                    arrived: broker.arrived,
                    delivered: broker.delivered,
                    waits: broker.waits,
                    busy_us: runtime.as_ref().map_or(0, |r| r.busy_us()),
                    available_us: runtime.as_ref().map_or(0, |r| r.available_us()),
                    completed: processed + failed,
                    published: broker.published,
                    rejected: broker.rejected,
                },
                queued: broker.queued,
                acked: broker.acked,
                paused: broker.paused,
                has_pool: pool.is_some(),
                configured_workers: pool.map_or(0, |p| p.concurrency),
                live_workers: runtime.as_ref().map_or(0, |r| r.live_workers()),
                extra_ms: runtime.as_ref().map_or(0.0, |r| r.extra_ms()),
            }
        })
        .collect()
}

/// Every topic's cumulative totals now (scenario order), what windows are differences of.
fn totals(engine: &System) -> Vec<TopicTotals> {
    measure(engine).into_iter().map(|m| m.totals).collect()
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
            let arrived = topic.published + topic.sum(|g| g.counters.retried);
            let arrival_rate = arrived as f64 / elapsed_s;
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
                view.finite = pool.and_then(|p| {
                    let extra = runtime.as_ref().map_or(0.0, |r| r.extra_ms());
                    mmck(
                        view.offered_rate,
                        p.service_time.mean_ms() + extra,
                        live_workers,
                        u64::from(topic.capacity),
                    )
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
        api: ApiView {
            window: core.metrics.api_window(elapsed),
            routes_with_deadline: core.metrics.routes_with_deadline(),
        },
        cache: core.cache.stats(),
        database: core
            .db_pool
            .as_ref()
            .map(super::db_pool::DbPool::stats)
            .unwrap_or_default(),
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
