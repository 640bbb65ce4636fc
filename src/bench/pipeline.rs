//! One request through every stage in process, against bare axum, both through
//! `ServiceExt::oneshot`: the engine's whole HTTP service (the router `serve` runs: DNS, CDN,
//! WAF, load balancer, gateway, the middleware, controller and cache) carrying a cache-hit
//! `GET /api/v1/projects` with a bearer token, against an axum router answering the same bytes
//! from one handler. Modelled latency is off, as over HTTP: what is measured is the code, not
//! the model's sleeps. The engine's requests run on its own runtime, 100 to a hop, as `serve`'s
//! connections do; the bare router's run on the calling thread, 100 to a `block_on`.
//!
//! A second row, for information, measures the engine's front door (`EngineHandle::send_all`),
//! which also mints a token for every request and reads each answer back into a full trace.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, header};
use axum::routing::get;
use tower::ServiceExt;

use super::timing::interleaved;
use super::{
    Effort, Row, Verdict, client_runtime, could_not_run, rate, unhurried, unlimited_default,
};
use crate::engine::{ApiRequest, Clock, Engine, EngineHandle, Options};
use crate::scenario::TokenKind;

/// Requests per hop to the engine's thread (and per `block_on` for the baseline).
const BATCH: usize = 100;
/// The target: at least this fraction of bare axum's rate.
const TARGET: f64 = 0.35;
const MEASURE: &str = "pipeline in process (`oneshot`): cache-hit GET through every stage";
const FRONT_DOOR: &str = "front door `send_all`: the same GET, minted token and full trace";

/// The rows: the pipeline against its target, then the front door for information.
pub fn measure(effort: Effort) -> Vec<Row> {
    match try_measure(effort) {
        Ok(rows) => rows,
        Err(why) => vec![could_not_run(
            MEASURE,
            "≥ 0.35× bare axum",
            format!("could not run: {why}"),
        )],
    }
}

fn try_measure(effort: Effort) -> Result<Vec<Row>, String> {
    let (rounds, slice) = match effort {
        Effort::Quick => (5, Duration::from_millis(150)),
        Effort::Full => (9, Duration::from_millis(400)),
    };
    let runtime = client_runtime()?;
    // The system alone on the wall clock (as `serve` runs it), with the rate limits out of the
    // way: every request walks every stage and is answered from the cache.
    let relaxed = unhurried(unlimited_default()?);
    let engine = Engine::spawn_with(relaxed.clone(), Options::quiet(Clock::Wall))
        .map_err(|e| e.to_string())?;
    let request = ApiRequest::as_persona(&relaxed, "alice", "GET", "/api/v1/projects")
        .map_err(|e| e.to_string())?;
    let first = runtime
        .block_on(engine.send(request.clone()))
        .map_err(|e| e.to_string())?;
    if first.status != 200 {
        return Err(format!("the request answered {}", first.status));
    }
    let token = runtime
        .block_on(engine.token("alice", TokenKind::Valid, Some(3600)))
        .map_err(|e| e.to_string())?
        .ok_or("no token for alice")?;
    let host = request.host.clone();
    let get_projects = move || {
        Request::get("/api/v1/projects")
            .header(header::HOST, host.as_str())
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
    };
    // Checked once outside the measure, so a refusal cannot pass for a cheap answer.
    let answered = runtime.block_on(through_service(&engine, get_projects.clone(), 1));
    if answered != 1 {
        return Err("the pipeline refused the bearer request".into());
    }
    let mut through_pipeline =
        || runtime.block_on(through_service(&engine, get_projects.clone(), BATCH));

    let body: Bytes = first.body.clone();
    let bare = Router::new().route(
        "/api/v1/projects",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    let get_bare = get_projects.clone();
    let mut through_axum = || {
        runtime.block_on(async {
            let mut answered = 0;
            for _ in 0..BATCH {
                if let Ok(request) = get_bare()
                    && let Ok(response) = bare.clone().oneshot(request).await
                    && axum::body::to_bytes(response.into_body(), usize::MAX)
                        .await
                        .is_ok()
                {
                    answered += 1;
                }
            }
            answered
        })
    };
    let (archsim, axum) = interleaved(rounds, slice, &mut through_pipeline, &mut through_axum);

    let batch = vec![request; BATCH];
    let mut through_front_door = || {
        // Only whole walks count: a refusal part-way would be cheaper than the measure says.
        runtime
            .block_on(engine.send_all(batch.clone()))
            .map_or(0, |exchanges| {
                exchanges.iter().filter(|e| e.status == 200).count() as u64
            })
    };
    let (front_door, axum_again) =
        interleaved(rounds, slice, &mut through_front_door, &mut through_axum);
    engine.stop();

    let ratio = archsim / axum;
    let door_ratio = front_door / axum_again;
    Ok(vec![
        Row {
            measure: MEASURE,
            archsim: rate(archsim),
            baseline: format!("bare axum `oneshot`: {}", rate(axum)),
            ratio: format!("{ratio:.3}×"),
            target: "≥ 0.35× bare axum",
            verdict: if ratio >= TARGET {
                Verdict::Met
            } else {
                Verdict::Missed
            },
            note: "modelled latency off; the engine's runtime, 100 requests a hop".into(),
        },
        Row {
            measure: FRONT_DOOR,
            archsim: rate(front_door),
            baseline: format!("bare axum `oneshot`: {}", rate(axum_again)),
            ratio: format!("{door_ratio:.3}×"),
            target: "—",
            verdict: Verdict::Information,
            note: "mints a token per request and parses every answer into its trace".into(),
        },
    ])
}

/// Runs `count` requests from `request` through the engine's whole HTTP service on the
/// engine's runtime, one after another, and returns how many were answered 200 with their
/// bodies read.
async fn through_service<F>(engine: &EngineHandle, request: F, count: usize) -> u64
where
    F: Fn() -> axum::http::Result<Request<Body>> + Send + 'static,
{
    let shared = engine.shared();
    let router = shared.router.clone();
    let walks = shared.runtime.spawn(async move {
        let mut answered = 0;
        for _ in 0..count {
            let Ok(request) = request() else { continue };
            let Ok(response) = router.clone().oneshot(request).await;
            let ok = response.status() == 200;
            if axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .is_ok()
                && ok
            {
                answered += 1;
            }
        }
        answered
    });
    walks.await.unwrap_or(0)
}
