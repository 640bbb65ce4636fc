//! `Idempotency-Key` on create routes, end to end in virtual time on the default scenario: a
//! retried payment gets the first response back — one row, one event — and the trace says so.

use std::sync::Arc;

use archsim::engine::{
    ApiRequest, Clock, Command, Engine, EngineHandle, Exchange, Options, Outcome, StageDetail,
};
use archsim::scenario::{FaultAction, PublishMode, Scenario, StageKind, load_or_default};
use serde_json::{Value, json};

const KEY: &str = "pay-acme-2026-002-attempt";

/// The default scenario's system alone: no generated traffic or scheduled faults.
fn engine() -> EngineHandle {
    let scenario = load_or_default(None).expect("default scenario");
    Engine::spawn_with(scenario, Options::quiet(Clock::Virtual)).expect("engine starts")
}

/// Alice's sample payment (invoice 2, 490.00), with `key` if given.
fn payment(engine: &EngineHandle, key: Option<&str>) -> ApiRequest {
    let request = ApiRequest::named(engine.scenario(), "alice-pays-invoice").expect("named");
    match key {
        Some(key) => request.header("Idempotency-Key", key),
        None => request,
    }
}

async fn send(engine: &EngineHandle, request: ApiRequest) -> Exchange {
    engine.send(request).await.expect("request is well-formed")
}

async fn payment_rows(engine: &EngineHandle, tenant: i64) -> usize {
    engine
        .rows("payments", Some(tenant))
        .await
        .expect("rows")
        .rows
        .len()
}

/// Events the payments topic was given, and outbox rows written (relayed or not).
async fn payment_events(engine: &EngineHandle) -> (u64, u64) {
    let snapshot = engine.fresh_snapshot().await.expect("snapshot");
    let published = snapshot
        .topics
        .iter()
        .find(|t| t.topic.name == "payments")
        .map(|t| t.topic.published)
        .expect("payments topic");
    (published, snapshot.outbox.pending + snapshot.outbox.relayed)
}

fn error_code(exchange: &Exchange) -> String {
    exchange
        .json()
        .and_then(|b| b["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The controller stage's `idempotency` detail (`Value::Null` when it has none).
fn idempotency(exchange: &Exchange) -> Value {
    let controller = exchange
        .trace
        .stage(StageKind::Controller)
        .expect("controller ran");
    controller.detail_json()["idempotency"].clone()
}

#[tokio::test]
async fn a_retry_with_the_same_key_gets_the_first_response_and_pays_once() {
    let engine = engine();
    let rows = payment_rows(&engine, 1).await;
    let (published, outboxed) = payment_events(&engine).await;

    let first = send(&engine, payment(&engine, Some(KEY))).await;
    assert_eq!(first.status, 201, "{:?}", first.json());
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(
        idempotency(&first),
        json!({ "key": KEY, "outcome": "first" })
    );

    let retry = send(&engine, payment(&engine, Some(KEY))).await;
    assert_eq!(retry.status, first.status);
    assert_eq!(retry.body, first.body, "the stored body, byte for byte");
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(retry.header("content-type"), Some("application/json"));
    assert_eq!(
        idempotency(&retry),
        json!({ "key": KEY, "outcome": "replayed", "replayed_status": 201 })
    );
    let controller = retry.trace.stage(StageKind::Controller).expect("ran");
    assert_eq!(controller.outcome, Outcome::Hit);
    assert!(
        controller.summary().contains("replayed"),
        "{}",
        controller.summary()
    );
    assert!(
        retry.trace.stage(StageKind::Database).is_none()
            && retry.trace.stage(StageKind::BrokerPublish).is_none(),
        "a replay runs nothing after the controller"
    );

    assert_eq!(payment_rows(&engine, 1).await, rows + 1, "one payment row");
    assert_eq!(
        payment_events(&engine).await,
        (published + 1, outboxed + 1),
        "one outbox row, one broker message"
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused_naming_the_key() {
    let engine = engine();
    let first = send(&engine, payment(&engine, Some(KEY))).await;
    assert_eq!(first.status, 201);
    let rows = payment_rows(&engine, 1).await;

    let other = ApiRequest::as_persona(engine.scenario(), "alice", "POST", "/api/v1/payments")
        .expect("persona")
        .header("Idempotency-Key", KEY)
        .json(&json!({ "invoice_id": 2, "amount_cents": 100, "method": "card" }));
    let reused = send(&engine, other).await;
    assert_eq!(reused.status, 422);
    assert_eq!(error_code(&reused), "idempotency_key_reused");
    let body = reused.json().expect("json");
    assert_eq!(body["error"]["status"], 422);
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains(KEY), "{message}");
    assert_eq!(reused.header("idempotent-replayed"), None);
    assert_eq!(idempotency(&reused)["outcome"], "reused");
    assert_eq!(
        reused.trace.rejected_at().map(|s| s.kind),
        Some(StageKind::Controller)
    );
    assert_eq!(payment_rows(&engine, 1).await, rows, "nothing written");

    // The same fields in another order are the same request.
    let reordered = ApiRequest::as_persona(engine.scenario(), "alice", "POST", "/api/v1/payments")
        .expect("persona")
        .header("Idempotency-Key", KEY)
        .json(&json!({ "method": "card", "amount_cents": 49000, "invoice_id": 2 }));
    let replayed = send(&engine, reordered).await;
    assert_eq!(replayed.status, 201);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn tenants_with_the_same_key_are_independent() {
    let engine = engine();
    let acme_rows = payment_rows(&engine, 1).await;
    let globex_rows = payment_rows(&engine, 2).await;
    let acme = send(&engine, payment(&engine, Some(KEY))).await;
    let globex_payment =
        ApiRequest::as_persona(engine.scenario(), "carol", "POST", "/api/v1/payments")
            .expect("persona")
            .header("Idempotency-Key", KEY)
            .json(&json!({ "invoice_id": 4, "amount_cents": 1000, "method": "card" }));
    let globex = send(&engine, globex_payment).await;
    assert_eq!(
        (acme.status, globex.status),
        (201, 201),
        "{:?}",
        globex.json()
    );
    assert_eq!(globex.header("idempotent-replayed"), None);
    assert_eq!(idempotency(&globex)["outcome"], "first");
    assert_eq!(globex.json().expect("json")["data"]["tenant_id"], 2);
    assert_eq!(payment_rows(&engine, 1).await, acme_rows + 1);
    assert_eq!(payment_rows(&engine, 2).await, globex_rows + 1);
}

#[tokio::test]
async fn a_request_without_a_key_is_unaffected() {
    let engine = engine();
    let rows = payment_rows(&engine, 1).await;
    let (published, _) = payment_events(&engine).await;
    for _ in 0..2 {
        let exchange = send(&engine, payment(&engine, None)).await;
        assert_eq!(exchange.status, 201);
        assert_eq!(exchange.header("idempotent-replayed"), None);
        assert_eq!(idempotency(&exchange), Value::Null, "no idempotency detail");
        assert_eq!(
            exchange
                .trace
                .stage(StageKind::Controller)
                .map(|s| s.outcome),
            Some(Outcome::Pass)
        );
    }
    assert_eq!(payment_rows(&engine, 1).await, rows + 2, "two payments");
    assert_eq!(payment_events(&engine).await.0, published + 2);
}

#[tokio::test]
async fn an_invalid_key_is_a_400_and_nothing_is_written() {
    let engine = engine();
    let rows = payment_rows(&engine, 1).await;
    let too_long = "k".repeat(256);
    for bad in ["", "two words", too_long.as_str()] {
        let exchange = send(&engine, payment(&engine, Some(bad))).await;
        assert_eq!(exchange.status, 400, "{bad:?}");
        let body = exchange.json().expect("json");
        assert_eq!(body["error"]["status"], 400);
        assert_eq!(body["error"]["code"], "invalid_idempotency_key");
        assert!(body["error"]["message"].is_string());
        assert_eq!(
            exchange.trace.rejected_at().map(|s| s.kind),
            Some(StageKind::Controller)
        );
    }
    assert_eq!(payment_rows(&engine, 1).await, rows);
}

#[tokio::test]
async fn a_key_on_a_read_is_ignored() {
    let engine = engine();
    let request = ApiRequest::as_persona(engine.scenario(), "alice", "GET", "/api/v1/payments")
        .expect("persona")
        .header("Idempotency-Key", "not looked at on reads");
    let exchange = send(&engine, request).await;
    assert_eq!(exchange.status, 200);
    assert_eq!(idempotency(&exchange), Value::Null);
}

#[tokio::test]
async fn a_concurrent_twin_is_refused_while_the_first_runs() {
    let engine = engine();
    let rows = payment_rows(&engine, 1).await;
    // A slow database keeps the first request inside its write while the twin arrives.
    engine
        .execute(Command::Fault {
            action: FaultAction::SlowDatabase { extra_ms: 5_000.0 },
            duration_ms: None,
        })
        .await
        .expect("fault applied");
    let twins = vec![payment(&engine, Some(KEY)), payment(&engine, Some(KEY))];
    let exchanges = engine.send_all(twins).await.expect("sent");
    let mut statuses: Vec<u16> = exchanges.iter().map(|e| e.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409]);
    let refused = exchanges.iter().find(|e| e.status == 409).expect("a 409");
    assert_eq!(error_code(refused), "idempotency_in_progress");
    assert_eq!(idempotency(refused)["outcome"], "in_progress");
    assert_eq!(payment_rows(&engine, 1).await, rows + 1, "written once");

    // Once the first has finished, the retry gets its response.
    let created = exchanges.iter().find(|e| e.status == 201).expect("a 201");
    let retry = send(&engine, payment(&engine, Some(KEY))).await;
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.body, created.body);
}

#[tokio::test]
async fn a_4xx_is_kept_and_replayed() {
    let engine = engine();
    let overpay = || {
        ApiRequest::named(engine.scenario(), "alice-overpays")
            .expect("named")
            .header("Idempotency-Key", "overpay-1")
    };
    let first = send(&engine, overpay()).await;
    assert_eq!(first.status, 422);
    let retry = send(&engine, overpay()).await;
    assert_eq!(retry.status, 422);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
}

/// The default scenario with the dual write and a payments topic of 2 nobody drains, so a third
/// payment is answered 503 after its row was written.
fn full_topic() -> Arc<Scenario> {
    let mut scenario = (*load_or_default(None).expect("default scenario")).clone();
    for topic in &mut scenario.topics {
        if topic.name == "payments" {
            topic.capacity = 2;
        }
    }
    for pool in &mut scenario.workers {
        if pool.topic == "payments" {
            pool.concurrency = 0;
        }
    }
    for route in &mut scenario.routes {
        route.publish_mode = PublishMode::Direct;
    }
    Arc::new(scenario)
}

#[tokio::test]
async fn a_5xx_is_not_kept_so_a_retry_runs_again() {
    let engine = Engine::spawn_with(full_topic(), Options::quiet(Clock::Virtual)).expect("starts");
    for _ in 0..2 {
        assert_eq!(send(&engine, payment(&engine, None)).await.status, 201);
    }
    let failed = send(&engine, payment(&engine, Some(KEY))).await;
    assert_eq!(failed.status, 503);
    assert_eq!(idempotency(&failed)["outcome"], "first");
    let retry = send(&engine, payment(&engine, Some(KEY))).await;
    assert_eq!(retry.status, 503);
    assert_eq!(
        retry.header("idempotent-replayed"),
        None,
        "a 5xx is not replayed"
    );
    assert_eq!(idempotency(&retry)["outcome"], "first", "the retry ran");
    let publish = retry.trace.stage(StageKind::BrokerPublish).expect("ran");
    assert!(matches!(publish.detail, StageDetail::BrokerPublish(_)));
}
