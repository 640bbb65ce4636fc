//! `archsim run`: run the scenario's traffic headless and print a report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::{EXIT_INVARIANT, EXIT_OK, EXIT_USAGE, report_load_error};
use crate::engine::pacer::{self, TimeScale};
use crate::engine::sim::{SimOptions, Simulation, Snapshot};
use crate::engine::{Engine, Mode};
use crate::scenario::{self, Scenario};

/// The `run` command's arguments.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// Scenario file, or the default.
    pub file: Option<PathBuf>,
    /// Seconds of traffic.
    pub duration_s: f64,
    /// Virtual time.
    pub virtual_time: bool,
    /// Live time scale (engine seconds per wall second).
    pub time_scale: f64,
    /// Seed override.
    pub seed: Option<u64>,
    /// JSON output.
    pub json: bool,
}

/// Runs the scenario for the requested duration and prints the report. Exit 3 if a message
/// was lost.
pub fn run(args: RunArgs) -> u8 {
    let scenario = match scenario::load_or_default(args.file.as_deref()) {
        Ok(scenario) => scenario,
        Err(error) => return report_load_error(&error),
    };
    if !(args.duration_s.is_finite() && args.duration_s > 0.0) {
        eprintln!("archsim run: --duration must be a positive number of seconds");
        return EXIT_USAGE;
    }
    let scenario = match args.seed {
        Some(seed) => {
            let mut copy = (*scenario).clone();
            copy.meta.seed = seed;
            Arc::new(copy)
        }
        None => scenario,
    };
    let mode = if args.virtual_time {
        Mode::Virtual
    } else {
        Mode::Live
    };
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        eprintln!("archsim run: --time-scale must be a positive number");
        return EXIT_USAGE;
    }
    // Only the timer: the run does no I/O, and without an I/O driver wake-ups avoid a syscall.
    // Both modes use tokio's paused clock: virtual time jumps ahead whenever everything is
    // idle; live time is driven by the pacer at `time_scale` × the wall clock.
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_time().start_paused(true);
    let runtime = match builder.build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("archsim run: cannot start the runtime: {error}");
            return EXIT_USAGE;
        }
    };
    let duration = Duration::from_secs_f64(args.duration_s);
    let scale = Arc::new(TimeScale::new(args.time_scale));
    let report = runtime.block_on(async move {
        if mode == Mode::Live {
            tokio::spawn(pacer::drive(scale));
        }
        run_for(scenario, mode, duration).await
    });
    let report = match report {
        Ok(report) => report,
        Err(message) => {
            eprintln!("archsim run: {message}");
            return EXIT_USAGE;
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", render_text(&report));
    }
    if report.invariants.no_message_lost {
        EXIT_OK
    } else {
        EXIT_INVARIANT
    }
}

/// Runs `scenario` for `duration` on the current runtime and builds the report.
pub async fn run_for(
    scenario: Arc<Scenario>,
    mode: Mode,
    duration: Duration,
) -> Result<Report, String> {
    let engine = Engine::start(scenario.clone(), mode).map_err(|e| e.to_string())?;
    let mut sim = Simulation::start(engine, SimOptions::default());
    tokio::time::sleep(duration).await;
    let snapshot = sim.snapshot();
    sim.stop();
    Ok(Report::new(&scenario, mode, duration, &snapshot))
}

/// Accounting over every topic and group.
#[derive(Debug, Clone, Serialize)]
pub struct BrokerTotals {
    /// Messages received by groups (a message fanned out to two groups counts twice).
    pub published: u64,
    /// Acknowledged.
    pub acked: u64,
    /// Failed deliveries scheduled again.
    pub retried: u64,
    /// Dead-lettered.
    pub dead_lettered: u64,
    /// Leased to workers now.
    pub in_flight: u64,
    /// Waiting now (ready or backing off).
    pub queued: u64,
    /// Publishes refused because a topic was full.
    pub rejected: u64,
}

/// Invariants checked at the end of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Invariants {
    /// For every topic and group: received = acked + dead_lettered + in_flight + queued.
    pub no_message_lost: bool,
}

/// The report of a run (the `run --json` contract).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// `live` or `virtual`.
    pub mode: &'static str,
    /// Seconds run.
    pub duration_s: f64,
    /// Requests.
    pub requests: Value,
    /// Read cache.
    pub cache: Value,
    /// Broker totals.
    pub broker: BrokerTotals,
    /// Per topic.
    pub topics: Vec<Value>,
    /// Invariants.
    pub invariants: Invariants,
}

fn round(value: f64, digits: i32) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let factor = 10f64.powi(digits);
    (value * factor).round() / factor
}

impl Report {
    /// Builds the report from the final snapshot.
    pub fn new(scenario: &Scenario, mode: Mode, duration: Duration, snapshot: &Snapshot) -> Self {
        let mut totals = BrokerTotals {
            published: 0,
            acked: 0,
            retried: 0,
            dead_lettered: 0,
            in_flight: 0,
            queued: 0,
            rejected: 0,
        };
        for view in &snapshot.topics {
            let t = &view.topic;
            totals.published += t.sum(|g| g.counters.received);
            totals.acked += t.sum(|g| g.counters.acked);
            totals.retried += t.sum(|g| g.counters.retried);
            totals.dead_lettered += t.sum(|g| g.counters.dead_lettered);
            totals.in_flight += t.in_flight();
            totals.queued += t.queued();
            totals.rejected += t.rejected;
        }
        let latency = &snapshot.requests.latency_ms;
        let topics = snapshot
            .topics
            .iter()
            .map(|view| {
                let t = &view.topic;
                let workers = scenario.workers.iter().find(|w| w.topic == t.name).map_or(0, |w| w.concurrency);
                let lambda = view.arrival_rate;
                let littles = json!({
                    "mean_queue_length": round(t.mean_queue_length, 4),
                    "arrival_rate_x_mean_wait": round(lambda * t.wait_ms.mean / 1000.0, 4),
                });
                json!({
                    "name": t.name,
                    "published": t.published,
                    "acked": t.sum(|g| g.counters.acked),
                    "retried": t.sum(|g| g.counters.retried),
                    "dead_lettered": t.sum(|g| g.counters.dead_lettered),
                    "rejected": t.rejected,
                    "workers": workers,
                    "arrival_rate": round(lambda, 4),
                    "wait_ms": { "mean": round(t.wait_ms.mean, 3), "p50": round(t.wait_ms.p50, 3), "p99": round(t.wait_ms.p99, 3) },
                    "service_ms": { "mean": round(t.service_ms.mean, 3) },
                    "utilization": round(view.utilization, 4),
                    "theory": view.theory.map(|p| json!({ "model": p.model, "utilization": round(p.utilization, 4), "p_wait": round(p.p_wait, 4), "wait_ms_mean": round(p.wait_ms_mean, 3) })),
                    "littles_law": littles,
                })
            })
            .collect();
        Self {
            scenario: scenario.meta.name.clone(),
            seed: scenario.meta.seed,
            mode: mode.as_str(),
            duration_s: duration.as_secs_f64(),
            requests: json!({
                "sent": snapshot.requests.sent,
                "by_status": snapshot.requests.by_status,
                "latency_ms": { "p50": round(latency.p50, 3), "p95": round(latency.p95, 3), "p99": round(latency.p99, 3), "max": round(latency.max, 3) },
            }),
            cache: json!({ "hits": snapshot.cache.hits, "misses": snapshot.cache.misses, "hit_ratio": round(snapshot.cache.hit_ratio(), 4) }),
            broker: totals,
            topics,
            invariants: Invariants {
                no_message_lost: snapshot.no_message_lost,
            },
        }
    }
}

/// The report as text.
pub fn render_text(report: &Report) -> String {
    let mut out = format!(
        "{} — {} s ({}), seed {}\n\n",
        report.scenario, report.duration_s, report.mode, report.seed
    );
    let r = &report.requests;
    out.push_str(&format!(
        "requests  {} sent   by status {}   latency p50 {} ms  p95 {} ms  p99 {} ms\n",
        r["sent"],
        r["by_status"],
        r["latency_ms"]["p50"],
        r["latency_ms"]["p95"],
        r["latency_ms"]["p99"]
    ));
    out.push_str(&format!(
        "cache     {} hits, {} misses (hit ratio {})\n",
        report.cache["hits"], report.cache["misses"], report.cache["hit_ratio"]
    ));
    let b = &report.broker;
    out.push_str(&format!(
        "broker    published {}  acked {}  retried {}  dead-lettered {}  in flight {}  queued {}  rejected {}\n\n",
        b.published, b.acked, b.retried, b.dead_lettered, b.in_flight, b.queued, b.rejected
    ));
    out.push_str(&format!(
        "  {:<14} {:>8} {:>8} {:>6} {:>3} {:>7} {:>5} {:>10} {:>10}  model\n",
        "topic", "publ.", "acked", "DLQ", "c", "λ/s", "ρ", "wait ms", "theory ms"
    ));
    for t in &report.topics {
        let number = |v: &Value| v.as_u64().unwrap_or_default();
        let float = |v: &Value| v.as_f64().unwrap_or_default();
        let theory = &t["theory"];
        out.push_str(&format!(
            "  {:<14} {:>8} {:>8} {:>6} {:>3} {:>7.2} {:>5.2} {:>10.1} {:>10}  {}\n",
            t["name"].as_str().unwrap_or_default(),
            number(&t["published"]),
            number(&t["acked"]),
            number(&t["dead_lettered"]),
            number(&t["workers"]),
            float(&t["arrival_rate"]),
            float(&t["utilization"]),
            float(&t["wait_ms"]["mean"]),
            theory["wait_ms_mean"]
                .as_f64()
                .map_or_else(|| "—".to_string(), |w| format!("{w:.1}")),
            theory["model"].as_str().unwrap_or("")
        ));
    }
    out.push_str(&format!(
        "\ninvariant: no message lost — {}\n",
        if report.invariants.no_message_lost {
            "holds"
        } else {
            "BROKEN"
        }
    ));
    out
}
