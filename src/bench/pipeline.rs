//! One request through every stage in process, against bare axum: the engine's front door
//! (`send_all`, 100 requests a call, so the hop to the engine's thread is shared) carrying a
//! cache-hit `GET /api/v1/projects` through DNS, CDN, WAF, load balancer, gateway, the
//! middleware, controller and cache, against an axum router answering the same bytes from one
//! handler (`Router::oneshot`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, header};
use axum::routing::get;
use tower::ServiceExt;

use super::timing::interleaved;
use super::{Effort, Row, Verdict, client_runtime, could_not_run, rate, unlimited_default};
use crate::engine::{ApiRequest, Clock, Engine, Options};

/// Requests per engine call.
const BATCH: usize = 100;
/// The target: at least this fraction of bare axum's rate.
const TARGET: f64 = 0.35;
const MEASURE: &str = "pipeline in process: cache-hit GET through every stage";

/// The row.
pub fn measure(effort: Effort) -> Vec<Row> {
    match try_measure(effort) {
        Ok(row) => vec![row],
        Err(why) => vec![could_not_run(
            MEASURE,
            "≥ 0.35× bare axum",
            format!("could not run: {why}"),
        )],
    }
}

fn try_measure(effort: Effort) -> Result<Row, String> {
    let (rounds, slice) = match effort {
        Effort::Quick => (5, Duration::from_millis(150)),
        Effort::Full => (9, Duration::from_millis(400)),
    };
    let runtime = client_runtime()?;
    // The system alone in virtual time, with the rate limits out of the way: every request
    // walks every stage and is answered from the cache.
    let relaxed = Arc::new(unlimited_default()?);
    let engine = Engine::spawn_with(relaxed.clone(), Options::quiet(Clock::Virtual))
        .map_err(|e| e.to_string())?;
    let request = ApiRequest::as_persona(&relaxed, "alice", "GET", "/api/v1/projects")
        .map_err(|e| e.to_string())?;
    let first = runtime
        .block_on(engine.send(request.clone()))
        .map_err(|e| e.to_string())?;
    if first.status != 200 {
        return Err(format!("the request answered {}", first.status));
    }
    let body: Bytes = first.body.clone();
    let batch = vec![request; BATCH];
    let mut through_engine = || {
        // Only whole walks count: a refusal part-way would be cheaper than the measure says.
        let answered = runtime
            .block_on(engine.send_all(batch.clone()))
            .map_or(0, |exchanges| {
                exchanges.iter().filter(|e| e.status == 200).count()
            });
        answered as u64
    };
    let bare = Router::new().route(
        "/api/v1/projects",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    let mut through_axum = || {
        for _ in 0..BATCH {
            let request = Request::get("/api/v1/projects")
                .header(header::HOST, "acme.archsim.test")
                .body(Body::empty());
            if let Ok(request) = request {
                let _ = runtime.block_on(bare.clone().oneshot(request));
            }
        }
        BATCH as u64
    };
    let (archsim, axum) = interleaved(rounds, slice, &mut through_engine, &mut through_axum);
    engine.stop();
    let ratio = archsim / axum;
    Ok(Row {
        measure: MEASURE,
        archsim: rate(archsim),
        baseline: format!("bare axum `Router::oneshot`: {}", rate(axum)),
        ratio: format!("{ratio:.3}×"),
        target: "≥ 0.35× bare axum",
        verdict: if ratio >= TARGET {
            Verdict::Met
        } else {
            Verdict::Missed
        },
        note: String::new(),
    })
}
