//! `serve` over real HTTP against a bare axum server, both loaded by `wrk` on loopback: a
//! cache-hit `GET /api/v1/projects` through every stage, with the modelled latencies off (so
//! what is measured is the code) and the rate limits out of the way, against one axum handler
//! answering the same bytes. Skipped, with the reason, when `wrk` is not installed.

use std::net::{SocketAddr, TcpListener};
use std::process::Command;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;

use super::{
    Effort, Row, Verdict, client_runtime, could_not_run, rate, time, unhurried, unlimited_default,
};
use crate::engine::{ApiRequest, Clock, Engine, EngineHandle, Options, ServeLimits, serve_with};
use crate::scenario::TokenKind;

const MEASURE: &str = "serve over HTTP: cache-hit GET, modelled latency off";
const TARGET: &str = "≥ 0.5× bare axum, p99 ≤ 2×";
/// The target: at least this fraction of bare axum's requests per second.
const RATE_TARGET: f64 = 0.5;
/// wrk's connections.
const CONNECTIONS: u32 = 32;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
struct Load {
    per_second: f64,
    p50_s: f64,
    p99_s: f64,
}

/// The row.
pub fn measure(effort: Effort) -> Vec<Row> {
    match try_measure(effort) {
        Ok(row) => vec![row],
        Err(why) => vec![could_not_run(MEASURE, TARGET, why)],
    }
}

fn try_measure(effort: Effort) -> Result<Row, String> {
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk is not installed (apt-get install wrk)".into());
    }
    let (rounds, seconds) = match effort {
        Effort::Quick => (1, 2),
        Effort::Full => (3, 5),
    };
    let scenario = unhurried(unlimited_default()?);
    let engine = Engine::spawn_with(scenario.clone(), Options::quiet(Clock::Wall))
        .map_err(|e| e.to_string())?;
    let client = client_runtime()?;
    let token = client
        .block_on(engine.token("alice", TokenKind::Valid, Some(3600)))
        .map_err(|e| e.to_string())?
        .ok_or("no token for alice")?;
    // One request in process first, so the cache holds the answer and the body is known.
    let request = ApiRequest::as_persona(&scenario, "alice", "GET", "/api/v1/projects")
        .map_err(|e| e.to_string())?;
    let host = request.host.clone();
    let first = client
        .block_on(engine.send(request))
        .map_err(|e| e.to_string())?;
    if first.status != 200 {
        return Err(format!("the request answered {}", first.status));
    }
    let archsim_at = start_archsim(&engine, &client)?;
    let (bare_at, _bare) = start_bare(first.body.clone())?;
    let headers = [
        format!("Host: {host}"),
        format!("Authorization: Bearer {token}"),
    ];
    let mut archsim_runs = Vec::new();
    let mut bare_runs = Vec::new();
    for _ in 0..rounds {
        archsim_runs.push(wrk(archsim_at, &headers, seconds)?);
        bare_runs.push(wrk(bare_at, &headers, seconds)?);
    }
    engine.stop();
    let (archsim, bare) = (median_load(&mut archsim_runs), median_load(&mut bare_runs));
    let ratio = archsim.per_second / bare.per_second;
    let p99_ratio = archsim.p99_s / bare.p99_s;
    Ok(Row {
        measure: MEASURE,
        archsim: format!(
            "{}, p50 {}, p99 {}",
            rate(archsim.per_second),
            time(archsim.p50_s),
            time(archsim.p99_s)
        ),
        baseline: format!(
            "bare axum: {}, p50 {}, p99 {}",
            rate(bare.per_second),
            time(bare.p50_s),
            time(bare.p99_s)
        ),
        ratio: format!("{ratio:.3}×, p99 {p99_ratio:.1}×"),
        target: TARGET,
        verdict: if ratio >= RATE_TARGET && p99_ratio <= 2.0 {
            Verdict::Met
        } else {
            Verdict::Missed
        },
        note: format!(
            "wrk -t1 -c{CONNECTIONS} -d{seconds}s, {rounds} alternating round(s) each, medians; \
             loopback on the same 2 cores as the servers"
        ),
    })
}

/// Serves the engine on a free loopback port until the engine stops.
fn start_archsim(
    engine: &EngineHandle,
    client: &tokio::runtime::Runtime,
) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let limits = ServeLimits {
        max_connections: 4096,
        ..ServeLimits::default()
    };
    let engine = engine.clone();
    std::thread::spawn({
        let handle = client.handle().clone();
        move || {
            let _ = handle.block_on(serve_with(
                &engine,
                listener,
                limits,
                std::future::pending::<()>(),
            ));
        }
    });
    Ok(address)
}

/// A bare axum server answering `body` on every core, on a free loopback port; it runs as long
/// as the returned runtime is kept.
fn start_bare(body: Bytes) -> Result<(SocketAddr, tokio::runtime::Runtime), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let router = Router::new().route(
        "/api/v1/projects",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    runtime.spawn(async move {
        if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
            let _ = axum::serve(listener, router).await;
        }
    });
    Ok((address, runtime))
}

/// One wrk run against `address`.
fn wrk(address: SocketAddr, headers: &[String], seconds: u32) -> Result<Load, String> {
    let mut command = Command::new("wrk");
    command.args([
        "-t1",
        &format!("-c{CONNECTIONS}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    for header in headers {
        command.args(["-H", header]);
    }
    command.arg(format!("http://{address}/api/v1/projects"));
    let output = command.output().map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") {
        return Err(format!("some answers were not 2xx:\n{text}"));
    }
    parse_wrk(&text).ok_or_else(|| format!("unreadable wrk output:\n{text}"))
}

/// Requests per second and the 50th and 99th latency percentiles from wrk's `--latency` report.
fn parse_wrk(text: &str) -> Option<Load> {
    let per_second = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))?
        .trim()
        .parse()
        .ok()?;
    let percentile = |label: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .and_then(|value| wrk_duration(value.trim()))
    };
    Some(Load {
        per_second,
        p50_s: percentile("50%")?,
        p99_s: percentile("99%")?,
    })
}

/// `251.00us`, `1.20ms`, `2.00s` in seconds.
fn wrk_duration(value: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = value.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = value.strip_suffix("m") {
        (n, 60.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// The run with the median rate.
fn median_load(runs: &mut [Load]) -> Load {
    runs.sort_by(|a, b| a.per_second.total_cmp(&b.per_second));
    runs[runs.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 2s test @ http://127.0.0.1:1/api/v1/projects
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   310.12us  100.00us   2.10ms   90.00%
  Latency Distribution
     50%  251.00us
     75%  300.00us
     90%  400.00us
     99%    1.20ms
  200000 requests in 2.00s, 50.00MB read
Requests/sec: 100000.50
Transfer/sec:     25.00MB
";

    #[test]
    fn wrk_reports_are_read_in_seconds() {
        let load = parse_wrk(REPORT).expect("a wrk report");
        assert_eq!(load.per_second, 100000.5);
        assert!((load.p50_s - 251e-6).abs() < 1e-12);
        assert!((load.p99_s - 1.2e-3).abs() < 1e-12);
        assert!(parse_wrk("Running 2s test").is_none());
    }
}
