//! Live mode: how much longer a request takes on the wall clock than the latency its stages
//! model. A cache-hit `GET /api/v1/projects` is sent one at a time through the engine's front
//! door on the wall clock; each one's measured time is set against its trace's modelled total.

use std::time::{Duration, Instant};

use super::{
    Effort, Row, Verdict, client_runtime, could_not_run, timing::median, unlimited_default,
};
use crate::engine::{ApiRequest, Clock, Engine, Options};

const MEASURE: &str = "live mode: a request's wall time against its modelled latency";
const TARGET: &str = "p50 within 5%";
/// The target: the median request takes at most this much longer than modelled.
const TARGET_INFLATION: f64 = 0.05;

/// The row.
pub fn measure(effort: Effort) -> Vec<Row> {
    match try_measure(effort) {
        Ok(row) => vec![row],
        Err(why) => vec![could_not_run(
            MEASURE,
            TARGET,
            format!("could not run: {why}"),
        )],
    }
}

fn try_measure(effort: Effort) -> Result<Row, String> {
    let requests = match effort {
        Effort::Quick => 60,
        Effort::Full => 300,
    };
    let relaxed = std::sync::Arc::new(unlimited_default()?);
    let engine = Engine::spawn_with(relaxed.clone(), Options::quiet(Clock::Wall))
        .map_err(|e| e.to_string())?;
    let client = client_runtime()?;
    let request = ApiRequest::as_persona(&relaxed, "alice", "GET", "/api/v1/projects")
        .map_err(|e| e.to_string())?;
    let mut measured = Vec::with_capacity(requests);
    let mut modelled = Vec::with_capacity(requests);
    let mut inflation = Vec::with_capacity(requests);
    // The first request fills the cache; the rest are the same cache hit.
    client
        .block_on(engine.send(request.clone()))
        .map_err(|e| e.to_string())?;
    for _ in 0..requests {
        let started = Instant::now();
        let exchange = client
            .block_on(engine.send(request.clone()))
            .map_err(|e| e.to_string())?;
        let wall_ms = started.elapsed().as_secs_f64() * 1e3;
        let model_ms = exchange.trace.total_modelled_ms;
        if exchange.status != 200 || model_ms <= 0.0 {
            return Err(format!(
                "the request answered {} with {model_ms} ms modelled",
                exchange.status
            ));
        }
        measured.push(wall_ms);
        modelled.push(model_ms);
        inflation.push(wall_ms / model_ms - 1.0);
        // A pause between requests, as a person clicking would leave.
        std::thread::sleep(Duration::from_millis(2));
    }
    engine.stop();
    let (wall, model, over) = (
        median(&mut measured),
        median(&mut modelled),
        median(&mut inflation),
    );
    Ok(Row {
        measure: MEASURE,
        archsim: format!("p50 {wall:.2} ms measured"),
        baseline: format!("p50 {model:.2} ms modelled"),
        ratio: format!("{:+.1}%", over * 100.0),
        target: TARGET,
        verdict: if over <= TARGET_INFLATION {
            Verdict::Met
        } else {
            Verdict::Missed
        },
        note: format!(
            "{requests} cache-hit GETs one at a time through the front door on the wall clock; \
             the ratio is the median of each request's measured over modelled time"
        ),
    })
}
