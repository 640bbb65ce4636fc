//! The recording layer on every path (pass, reject, answer, skip, panic), and the contract of
//! `trace --json`'s `detail` objects.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::StatusCode;
use serde_json::Value;
use tower::{Layer, ServiceExt};

use super::error::ApiError;
use super::{Decision, Pipeline, Stage, StageCtx};
use crate::engine::clock::EngineClock;
use crate::engine::core::Core;
use crate::engine::store::Store;
use crate::engine::trace::detail::GatewayDetail;
use crate::engine::trace::{Outcome, StageDetail, StageRecord, TraceRecorder, TracedRequest};
use crate::scenario::{DEFAULT_SCENARIO, DEFAULT_SCENARIO_NAME, TokenKind, load_str};

fn core() -> Arc<Core> {
    let scenario = Arc::new(load_str(DEFAULT_SCENARIO_NAME, DEFAULT_SCENARIO).expect("valid"));
    let store = Store::open(scenario.clone()).expect("store");
    Arc::new(Core::new(
        scenario,
        EngineClock::at(crate::engine::clock::Epoch::Fixed),
        store,
    ))
}

/// A stage that always decides the same way.
enum Fixed {
    Pass,
    Skip,
    Answer,
    Reject,
    Panic,
}

fn noted(note: &str) -> StageDetail {
    StageDetail::Gateway(GatewayDetail {
        route: Some(note.to_string()),
        ..GatewayDetail::default()
    })
}

impl Stage for Fixed {
    async fn decide(&self, _: &StageCtx, _: &mut axum::extract::Request) -> Decision {
        match self {
            Fixed::Pass => Decision::Pass(noted("passed")),
            Fixed::Skip => Decision::skip("not for this request"),
            Fixed::Answer => Decision::Answer(
                Outcome::Hit,
                noted("answered"),
                axum::response::Response::new(Body::from("cached")),
            ),
            Fixed::Reject => Decision::Reject(
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", "no"),
                noted("refused"),
            ),
            Fixed::Panic => panic!("a stage with a bug"),
        }
    }
}

/// Runs `stages` (on the scenario's first stages, for their ids) in front of a handler that
/// counts its calls; returns the status, the records in pipeline order and the handler's calls.
async fn run(stages: Vec<Fixed>) -> (Option<StatusCode>, Vec<StageRecord>, usize) {
    let core = core();
    let entries = core
        .topology
        .order()
        .zip(stages)
        .map(|(stage, fixed)| (StageCtx::new(&core, stage), fixed))
        .collect();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let handler = tower::service_fn(move |_request: axum::extract::Request| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(axum::response::Response::new(Body::from("handled"))) }
    });
    let service = Pipeline::new(entries).layer().layer(handler);
    let trace = TraceRecorder::new();
    let mut request = axum::extract::Request::new(Body::empty());
    request.extensions_mut().insert(trace.clone());
    // Spawned, so a panicking stage fails the task and not the test.
    let status = tokio::spawn(service.oneshot(request))
        .await
        .ok()
        .map(|response| match response {
            Ok(response) => response.status(),
            Err(never) => match never {},
        });
    let mut records = trace.records();
    records.sort_by_key(|r| core.stage_position(&r.stage));
    (status, records, calls.load(Ordering::SeqCst))
}

fn outcomes(records: &[StageRecord]) -> Vec<(Outcome, Option<&str>)> {
    records
        .iter()
        .map(|r| (r.outcome, r.error.as_deref()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn passing_stages_are_recorded_once_the_response_is_back() {
    let (status, records, calls) = run(vec![Fixed::Pass, Fixed::Skip, Fixed::Pass]).await;
    assert_eq!(status, Some(StatusCode::OK));
    assert_eq!(calls, 1, "the handler ran");
    assert_eq!(
        outcomes(&records),
        [
            (Outcome::Pass, None),
            (Outcome::Skip, None),
            (Outcome::Pass, None)
        ]
    );
    assert_eq!(records[0].detail, noted("passed"));
    assert!(records[0].modelled_ms > 0.0, "the stage's modelled latency");
}

#[tokio::test(start_paused = true)]
async fn a_rejection_ends_the_request_and_every_stage_it_reached_is_recorded() {
    let (status, records, calls) = run(vec![Fixed::Pass, Fixed::Reject, Fixed::Pass]).await;
    assert_eq!(status, Some(StatusCode::FORBIDDEN));
    assert_eq!(calls, 0, "the handler never ran");
    assert_eq!(
        outcomes(&records),
        [(Outcome::Pass, None), (Outcome::Reject, Some("forbidden"))],
        "the stage after the rejection never ran"
    );
    let json = serde_json::to_value(&records[1]).expect("serialises");
    assert_eq!(json["detail"]["error"], "forbidden", "{json}");
    assert_eq!(json["detail"]["route"], "refused", "{json}");
}

#[tokio::test(start_paused = true)]
async fn an_answer_ends_the_request_with_its_outcome() {
    let (status, records, calls) = run(vec![Fixed::Pass, Fixed::Answer, Fixed::Pass]).await;
    assert_eq!(status, Some(StatusCode::OK));
    assert_eq!(calls, 0);
    assert_eq!(
        outcomes(&records),
        [(Outcome::Pass, None), (Outcome::Hit, None)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_stage_is_still_recorded_as_an_error() {
    let (status, records, calls) = run(vec![Fixed::Pass, Fixed::Panic, Fixed::Pass]).await;
    assert_eq!(status, None, "the request's task panicked");
    assert_eq!(calls, 0);
    assert_eq!(
        outcomes(&records),
        [
            (Outcome::Error, Some("panicked")),
            (Outcome::Error, Some("panicked"))
        ],
        "the panicking stage, and the stage the panic unwound through"
    );
    assert!(matches!(records[1].detail, StageDetail::Aborted(_)));
    assert!(
        records[1].summary().contains("panic"),
        "{}",
        records[1].summary()
    );
}

/// Sends `request` through the whole service and returns the trace as `trace --json` prints
/// it.
async fn traced(core: &Arc<Core>, request: axum::extract::Request) -> Value {
    let trace = TraceRecorder::new();
    let mut request = request;
    request.extensions_mut().insert(trace.clone());
    let response = crate::engine::api::service(core)
        .oneshot(request)
        .await
        .expect("infallible");
    let traced = TracedRequest::default();
    let finished = trace.finish(traced, response.status().as_u16(), Value::Null, &|id| {
        core.stage_position(id)
    });
    serde_json::to_value(&finished).expect("serialises")
}

fn request(core: &Core, method: &str, path: &str, persona: Option<&str>) -> axum::extract::Request {
    let mut builder = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("acme.{}", core.scenario.meta.domain));
    if let Some(name) = persona {
        let persona = core
            .scenario
            .personas
            .iter()
            .find(|p| p.name == name)
            .expect("persona");
        let claims = core
            .tokens
            .claims_for(&core.scenario, persona, core.clock.unix_secs(), 600);
        let token = core.tokens.mint(TokenKind::Valid, claims).expect("token");
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder
        .header("content-type", "application/json")
        .body(Body::from(if method == "POST" {
            r#"{"name": "Contract"}"#
        } else {
            ""
        }))
        .expect("request")
}

fn detail_keys(trace: &Value, kind: &str) -> Vec<String> {
    trace["stages"]
        .as_array()
        .and_then(|stages| stages.iter().find(|s| s["kind"] == kind))
        .and_then(|stage| stage["detail"].as_object())
        .map(|detail| detail.keys().cloned().collect())
        .unwrap_or_default()
}

/// The `detail` objects of `archsim trace --json` are a documented interface: their keys (and
/// their order) stay what they were when details were untyped JSON.
#[tokio::test(start_paused = true)]
async fn trace_json_detail_keys_are_a_stable_contract() {
    let core = core();
    let read = traced(
        &core,
        request(&core, "GET", "/api/v1/projects", Some("alice")),
    )
    .await;
    assert_eq!(read["status"], 200, "{read}");
    assert_eq!(
        detail_keys(&read, "rbac"),
        [
            "role",
            "role_mask",
            "required_mask",
            "and",
            "missing_mask",
            "granted",
            "required",
            "missing",
            "rule"
        ]
    );
    assert_eq!(
        detail_keys(&read, "database"),
        ["sql", "params", "rows", "rows_affected", "plan", "result"]
    );
    assert_eq!(
        detail_keys(&read, "auth"),
        ["header", "claims", "checks", "now", "verdict"]
    );
    let checks = &read["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["kind"] == "auth"))
        .expect("auth")["detail"]["checks"];
    let check_keys: Vec<&String> = checks[0].as_object().expect("check").keys().collect();
    assert_eq!(check_keys, ["check", "ok", "detail"]);

    let forbidden = traced(
        &core,
        request(&core, "POST", "/api/v1/projects", Some("bob")),
    )
    .await;
    assert_eq!(forbidden["status"], 403, "{forbidden}");
    assert_eq!(
        detail_keys(&forbidden, "rbac"),
        [
            "role",
            "role_mask",
            "required_mask",
            "and",
            "missing_mask",
            "granted",
            "required",
            "missing",
            "rule",
            "error"
        ]
    );

    let anonymous = traced(&core, request(&core, "GET", "/api/v1/projects", None)).await;
    assert_eq!(anonymous["status"], 401, "{anonymous}");
    assert_eq!(detail_keys(&anonymous, "auth"), ["authorization", "error"]);
    let auth = anonymous["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["kind"] == "auth"))
        .expect("auth");
    assert_eq!(auth["detail"]["authorization"], Value::Null);
}

fn request_id(trace: &Value) -> Value {
    trace["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["kind"] == "request_id"))
        .map(|s| s["detail"]["request_id"].clone())
        .unwrap_or_default()
}

/// Ids do not shift when other draws do (another stage's latency, more traffic), and the trace's
/// request record carries the id.
#[tokio::test(start_paused = true)]
async fn request_ids_have_their_own_random_stream() {
    let plain = core();
    let first = traced(
        &plain,
        request(&plain, "GET", "/api/v1/projects", Some("alice")),
    )
    .await;
    let id = request_id(&first);
    assert!(id.as_str().is_some_and(|id| id.starts_with("req-")), "{id}");
    assert_eq!(
        first["request"]["request_id"], id,
        "the request record has it"
    );

    let shifted = core();
    for _ in 0..5 {
        shifted.rng.next_u64();
    }
    let again = traced(
        &shifted,
        request(&shifted, "GET", "/api/v1/projects", Some("alice")),
    )
    .await;
    assert_eq!(request_id(&again), id);
}

/// The stage that refused `trace`, and the trace's status.
fn refused_at(trace: &Value) -> (Value, Option<String>) {
    let stage = trace["stages"].as_array().and_then(|stages| {
        stages
            .iter()
            .find(|s| s["outcome"] == "reject")
            .and_then(|s| s["kind"].as_str().map(str::to_string))
    });
    (trace["status"].clone(), stage)
}

#[tokio::test(start_paused = true)]
async fn two_hosts_a_lower_case_scheme_and_id_aliases_answer_as_the_rfcs_say() {
    let core = core();
    // Two Host headers: one request could reach two tenants, so DNS refuses it.
    let mut twice = request(&core, "GET", "/api/v1/projects", Some("alice"));
    twice.headers_mut().append(
        "host",
        format!("globex.{}", core.scenario.meta.domain)
            .parse()
            .expect("header"),
    );
    let trace = traced(&core, twice).await;
    assert_eq!(
        refused_at(&trace),
        (400.into(), Some("dns".into())),
        "{trace}"
    );

    // The Bearer scheme is case-insensitive.
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        let mut request = request(&core, "GET", "/api/v1/projects", Some("alice"));
        let header = request.headers()["authorization"]
            .to_str()
            .expect("ascii")
            .replacen("Bearer", scheme, 1);
        request
            .headers_mut()
            .insert("authorization", header.parse().expect("header"));
        let trace = traced(&core, request).await;
        assert_eq!(trace["status"], 200, "{scheme}: {trace}");
    }

    // `+1` and `01` are not project 1.
    let one = traced(
        &core,
        request(&core, "GET", "/api/v1/projects/1", Some("alice")),
    )
    .await;
    assert_eq!(one["status"], 200, "{one}");
    for alias in ["+1", "01"] {
        let path = format!("/api/v1/projects/{alias}");
        let trace = traced(&core, request(&core, "GET", &path, Some("alice"))).await;
        assert_eq!(trace["status"], 404, "{alias}: {trace}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_oversized_target_or_header_block_is_refused_in_the_json_error_shape() {
    let core = core();
    let long = format!(
        "/api/v1/projects?q={}",
        "a".repeat(crate::scenario::WAF_MAX_URI_BYTES)
    );
    let trace = traced(&core, request(&core, "GET", &long, Some("alice"))).await;
    assert_eq!(
        refused_at(&trace),
        (414.into(), Some("waf".into())),
        "{trace}"
    );
    let mut heavy = request(&core, "GET", "/api/v1/projects", Some("alice"));
    let value = "x".repeat(8 * 1024);
    for n in 0..9 {
        heavy.headers_mut().insert(
            axum::http::HeaderName::from_bytes(format!("x-pad-{n}").as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    let trace = traced(&core, heavy).await;
    assert_eq!(
        refused_at(&trace),
        (431.into(), Some("waf".into())),
        "{trace}"
    );
    // And the response itself is the API's error shape.
    let response = crate::engine::api::service(&core)
        .oneshot(request(&core, "GET", &long, Some("alice")))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::URI_TOO_LONG);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let json: Value = serde_json::from_slice(&body).expect("a JSON body");
    assert_eq!(json["error"]["code"], "uri_too_long", "{json}");
}
