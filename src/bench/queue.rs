//! An M/M/4 queue at utilisation 0.9 in virtual time, against SimPy running the same model:
//! customers per wall second, and the mean wait against Erlang C for both.
//!
//! archsim's queue is the real broker and worker pool fed by a Poisson generator publishing
//! straight to the topic (no HTTP in front), in virtual time. SimPy runs through
//! `python3` when it and the `simpy` package are installed, and is skipped with a message
//! otherwise.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Effort, Row, Verdict, client_runtime, rate};
use crate::engine::{Clock, Engine, EngineHandle, Options};
use crate::scenario::load_str;
use crate::theory::predict;

const SERVERS: u32 = 4;
const UTILIZATION: f64 = 0.9;
const SERVICE_MS: f64 = 100.0;
const SEED: u64 = 1;
/// The target: at least this many times SimPy's customers per wall second.
const TARGET: f64 = 5.0;
const MEASURE: &str = "queue: M/M/4 at ρ = 0.9, virtual time";
const SIMPY: &str = include_str!("simpy_mmc.py");

/// What the SimPy script prints.
#[derive(Debug, Deserialize)]
struct SimpyRun {
    wall_s: f64,
    mean_wait_s: f64,
}

/// The row.
pub fn measure(effort: Effort) -> Vec<Row> {
    let customers: u64 = match effort {
        Effort::Quick => 100_000,
        Effort::Full => 1_000_000,
    };
    let lambda = UTILIZATION * f64::from(SERVERS) * 1000.0 / SERVICE_MS;
    let predicted = predict(lambda, SERVICE_MS, SERVERS, 1.0, 1.0).wait_ms_mean;
    let archsim = match run_archsim(customers, lambda) {
        Ok(run) => run,
        Err(why) => return vec![skipped(format!("archsim could not run: {why}"))],
    };
    let off = |wait_ms: f64| (wait_ms - predicted) / predicted * 100.0;
    let archsim_rate = customers as f64 / archsim.0.as_secs_f64();
    let mut note = format!(
        "{customers} customers; mean wait {:.1} ms in archsim ({:+.1}% from Erlang C's {predicted:.1} ms)",
        archsim.1,
        off(archsim.1)
    );
    let row = match run_simpy(customers, lambda) {
        Ok(simpy) => {
            let simpy_rate = customers as f64 / simpy.wall_s;
            let times = archsim_rate / simpy_rate;
            note.push_str(&format!(
                ", {:.1} ms in SimPy ({:+.1}%)",
                simpy.mean_wait_s * 1000.0,
                off(simpy.mean_wait_s * 1000.0)
            ));
            Row {
                measure: MEASURE,
                archsim: format!("{} customers", rate(archsim_rate)),
                baseline: format!("SimPy: {} customers", rate(simpy_rate)),
                ratio: format!("{times:.2}×"),
                target: "≥ 5× SimPy",
                verdict: if times >= TARGET {
                    Verdict::Met
                } else {
                    Verdict::Missed
                },
                note: String::new(),
            }
        }
        Err(why) => {
            let mut row = skipped(format!("SimPy skipped: {why}"));
            row.archsim = format!("{} customers", rate(archsim_rate));
            row
        }
    };
    vec![Row {
        note: if row.note.is_empty() {
            note
        } else {
            format!("{}; {note}", row.note)
        },
        ..row
    }]
}

/// The wall time to serve `customers` and their mean wait in ms.
fn run_archsim(customers: u64, lambda: f64) -> Result<(Duration, f64), String> {
    let text = format!(
        r#"
[scenario]
name = "bench-queue"
title = "M/M/c queue for archsim bench"
seed = {SEED}

[auth]
issuer = "https://auth.bench"
audience = "bench"
signing_key = "0123456789abcdef0123456789abcdef"

[[topics]]
name = "jobs"
capacity = 10000000
visibility_timeout_ms = 3600000

[[workers]]
name = "desk"
topic = "jobs"
concurrency = {SERVERS}
service_time = {{ dist = "exponential", mean_ms = {SERVICE_MS} }}

[[traffic]]
name = "arrivals"
arrival = "poisson"
rate_per_s = {lambda}
publish = {{ topic = "jobs", event = "job" }}
"#
    );
    let scenario = load_str("bench-queue.toml", &text).map_err(|d| d.to_string())?;
    let runtime = client_runtime()?;
    let started = Instant::now();
    let engine = Engine::spawn_with(Arc::new(scenario), Options::new(Clock::Virtual))
        .map_err(|e| e.to_string())?;
    let published = |engine: &EngineHandle| {
        engine
            .snapshot()
            .topics
            .iter()
            .find(|t| t.topic.name == "jobs")
            .map_or(0, |t| t.topic.published)
    };
    // Advance by the time the remaining arrivals need on average, until all have arrived.
    while published(&engine) < customers {
        let left = (customers - published(&engine)) as f64;
        let step = Duration::from_secs_f64(left / lambda).max(Duration::from_millis(1));
        runtime
            .block_on(engine.advance(step))
            .map_err(|e| e.to_string())?;
    }
    let wall = started.elapsed();
    let wait = engine
        .snapshot()
        .topics
        .iter()
        .find(|t| t.topic.name == "jobs")
        .map_or(f64::NAN, |t| t.topic.wait_ms.mean);
    engine.stop();
    Ok((wall, wait))
}

/// SimPy's run of the same model, or why it cannot run here.
fn run_simpy(customers: u64, lambda: f64) -> Result<SimpyRun, String> {
    let output = Command::new("python3")
        .args(["-c", SIMPY])
        .arg(customers.to_string())
        .arg(SERVERS.to_string())
        .arg(lambda.to_string())
        .arg((SERVICE_MS / 1000.0).to_string())
        .arg(SEED.to_string())
        .output()
        .map_err(|_| "python3 is not installed".to_string())?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(if stderr.contains("No module named 'simpy'") {
            "the simpy package is not installed (pip install simpy)".into()
        } else {
            format!(
                "python3 failed: {}",
                stderr.lines().last().unwrap_or_default()
            )
        });
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("unreadable SimPy output: {e}"))
}

fn skipped(why: String) -> Row {
    Row {
        measure: MEASURE,
        archsim: "—".into(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "≥ 5× SimPy",
        verdict: Verdict::Skipped,
        note: why,
    }
}
