//! The request pipeline end to end, in process, on the default scenario: every status a user can
//! meet, what each stage recorded, and the cache, CDN, load balancer and modelled latency.

use std::time::Duration;

use archsim::engine::{ApiRequest, Clock, Engine, EngineHandle, Exchange, Options, Outcome};
use archsim::scenario::{StageKind, TokenKind, load_or_default};
use serde_json::{Value, json};

/// The default scenario's system alone, in virtual time: no generated traffic or scheduled
/// faults, so the requests a test sends are the only ones.
fn engine() -> EngineHandle {
    let scenario = load_or_default(None).expect("default scenario");
    Engine::spawn_with(scenario, Options::quiet(Clock::Virtual)).expect("engine starts")
}

async fn send(engine: &EngineHandle, request: ApiRequest) -> Exchange {
    engine.send(request).await.expect("request is well-formed")
}

/// A request from `persona` to its tenant's host; the engine mints its token when it is sent.
fn request_as(engine: &EngineHandle, persona: &str, method: &str, path: &str) -> ApiRequest {
    ApiRequest::as_persona(engine.scenario(), persona, method, path).expect("persona exists")
}

async fn as_persona(engine: &EngineHandle, persona: &str, method: &str, path: &str) -> Exchange {
    send(engine, request_as(engine, persona, method, path)).await
}

async fn token(engine: &EngineHandle, persona: &str, kind: TokenKind) -> String {
    engine
        .token(persona, kind, None)
        .await
        .expect(persona)
        .expect("token")
}

fn error_code(exchange: &Exchange) -> String {
    exchange
        .json()
        .and_then(|b| b["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn rejected_at(exchange: &Exchange) -> Option<StageKind> {
    exchange.trace.rejected_at().map(|s| s.kind)
}

/// The stage that decides is the stage that rejects: the query found no row, so the database
/// refused, and the controller that asked it passed.
fn assert_decided_by_the_database(exchange: &Exchange) {
    assert_eq!(rejected_at(exchange), Some(StageKind::Database));
    let controller = exchange.trace.stage(StageKind::Controller);
    assert_eq!(controller.map(|s| s.outcome), Some(Outcome::Pass));
}

#[tokio::test]
async fn alice_lists_only_acme_projects_through_every_stage() {
    let engine = engine();
    let exchange = as_persona(&engine, "alice", "GET", "/api/v1/projects").await;
    assert_eq!(exchange.status, 200);
    let body = exchange.json().expect("json");
    let rows = body["data"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["tenant_id"] == 1));
    let kinds: Vec<StageKind> = exchange.trace.stages.iter().map(|s| s.kind).collect();
    use StageKind::*;
    assert_eq!(
        kinds,
        [
            Dns,
            Cdn,
            Waf,
            LoadBalancer,
            Gateway,
            RequestId,
            Sanitize,
            Auth,
            Tenant,
            RateLimit,
            Rbac,
            Validate,
            Controller,
            Cache,
            Database,
            BrokerPublish,
            Response
        ]
        .iter()
        .copied()
        .filter(|k| *k != BrokerPublish)
        .collect::<Vec<_>>(),
        "a read passes every stage except publishing"
    );
    let database = exchange.trace.stage(Database).expect("database ran");
    let detail = database.detail_json();
    let sql = detail["sql"].as_str().expect("sql");
    assert!(sql.contains("\"tenant_id\" = ?1"), "{sql}");
    assert_eq!(detail["params"][0], 1);
    let plan = detail["plan"].to_string();
    assert!(
        plan.contains("INDEX") || plan.contains("PRIMARY KEY"),
        "{plan}"
    );
    assert_eq!(
        exchange.trace.stage(Cache).map(|s| s.outcome),
        Some(Outcome::Miss)
    );
    assert!(
        exchange
            .header("x-request-id")
            .is_some_and(|id| id.starts_with("req-"))
    );
}

#[tokio::test]
async fn a_second_read_is_a_cache_hit_that_skips_the_database() {
    let engine = engine();
    as_persona(&engine, "alice", "GET", "/api/v1/projects").await;
    let again = as_persona(&engine, "alice", "GET", "/api/v1/projects").await;
    assert_eq!(again.status, 200);
    let cache = again.trace.stage(StageKind::Cache).expect("cache ran");
    assert_eq!(cache.outcome, Outcome::Hit);
    assert_eq!(cache.detail_json()["key"], "t1:projects:list");
    assert!(
        cache.detail_json()["ttl_left_s"]
            .as_f64()
            .is_some_and(|t| t > 0.0 && t <= 30.0)
    );
    assert!(
        again.trace.stage(StageKind::Database).is_none(),
        "a hit never reaches the database"
    );
    // Another tenant's identical read is its own key: a miss.
    let carol = as_persona(&engine, "carol", "GET", "/api/v1/projects").await;
    assert_eq!(
        carol.trace.stage(StageKind::Cache).map(|s| s.outcome),
        Some(Outcome::Miss)
    );
}

#[tokio::test]
async fn a_write_invalidates_the_tenants_cached_reads() {
    let engine = engine();
    as_persona(&engine, "alice", "GET", "/api/v1/projects").await;
    let create = request_as(&engine, "alice", "POST", "/api/v1/projects")
        .json(&json!({ "name": "Moon base" }));
    let created = send(&engine, create).await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let row = &created.json().expect("json")["data"];
    assert_eq!(row["tenant_id"], 1);
    assert_eq!(row["owner_id"], 1, "owner set by the server from the token");
    assert_eq!(row["status"], "active", "column default applied");
    let cache = created.trace.stage(StageKind::Cache).expect("cache stage");
    assert_eq!(
        cache.detail_json()["invalidated"],
        json!(["t1:projects:list"])
    );
    let after = as_persona(&engine, "alice", "GET", "/api/v1/projects").await;
    assert_eq!(
        after.trace.stage(StageKind::Cache).map(|s| s.outcome),
        Some(Outcome::Miss)
    );
    assert_eq!(after.json().expect("json")["count"], 4);
}

#[tokio::test]
async fn bob_the_viewer_is_refused_by_rbac_with_the_missing_bit() {
    let engine = engine();
    let request =
        request_as(&engine, "bob", "POST", "/api/v1/projects").json(&json!({ "name": "Nope" }));
    let exchange = send(&engine, request).await;
    assert_eq!(exchange.status, 403);
    assert_eq!(error_code(&exchange), "forbidden");
    assert_eq!(
        exchange.json().expect("json")["error"]["missing_permissions"],
        json!(["projects.write"])
    );
    assert_eq!(rejected_at(&exchange), Some(StageKind::Rbac));
    let rbac = exchange.trace.stage(StageKind::Rbac).expect("rbac");
    assert_eq!(rbac.detail_json()["role_mask"], "0b0000_0101");
    assert_eq!(rbac.detail_json()["required_mask"], "0b0000_0010");
    assert_eq!(rbac.detail_json()["missing_mask"], "0b0000_0010");
    assert!(exchange.trace.stage(StageKind::Database).is_none());
}

#[tokio::test]
async fn mallory_with_a_globex_token_on_acmes_host_is_refused_at_the_tenant_check() {
    let engine = engine();
    let mut request = request_as(&engine, "mallory", "GET", "/api/v1/projects/1");
    request.host = engine.scenario().host_of("acme");
    let exchange = send(&engine, request).await;
    assert_eq!(exchange.status, 403);
    assert_eq!(error_code(&exchange), "tenant_mismatch");
    assert_eq!(rejected_at(&exchange), Some(StageKind::Tenant));
    assert_eq!(
        exchange.trace.stage(StageKind::Auth).map(|s| s.outcome),
        Some(Outcome::Pass)
    );
}

#[tokio::test]
async fn another_tenants_row_id_is_not_found_without_a_leak() {
    let engine = engine();
    let exchange = as_persona(&engine, "carol", "GET", "/api/v1/projects/1").await;
    assert_eq!(exchange.status, 404);
    assert_eq!(error_code(&exchange), "not_found");
    let database = exchange
        .trace
        .stage(StageKind::Database)
        .expect("query ran");
    assert_eq!(database.detail_json()["params"], json!([2, 1]));
    assert_eq!(database.detail_json()["rows"], 0);
    // The query decided, so the database stage refuses — not the controller that asked it.
    assert_decided_by_the_database(&exchange);
    // The same answer as for an id that exists nowhere.
    let nowhere = as_persona(&engine, "carol", "GET", "/api/v1/projects/999").await;
    assert_eq!(
        nowhere.json().map(|b| b["error"]["code"].clone()),
        exchange.json().map(|b| b["error"]["code"].clone())
    );
}

#[tokio::test]
async fn an_unknown_subdomain_ends_at_dns_with_404() {
    let engine = engine();
    let token = token(&engine, "alice", TokenKind::Valid).await;
    let request = ApiRequest::new("GET", "/api/v1/projects", "hooli.archsim.test").bearer(&token);
    let exchange = send(&engine, request).await;
    assert_eq!(exchange.status, 404);
    assert_eq!(error_code(&exchange), "unknown_tenant");
    assert_eq!(rejected_at(&exchange), Some(StageKind::Dns));
    assert_eq!(
        exchange.trace.stages.len(),
        2,
        "dns and the response only: {:?}",
        exchange.trace.stages
    );
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_with_allow() {
    let engine = engine();
    let missing = as_persona(&engine, "alice", "GET", "/api/v1/nothing-here").await;
    assert_eq!(missing.status, 404);
    assert_eq!(error_code(&missing), "no_route");
    assert_eq!(rejected_at(&missing), Some(StageKind::Gateway));
    let unversioned = as_persona(&engine, "alice", "GET", "/projects").await;
    assert_eq!(unversioned.status, 404);
    let wrong = as_persona(&engine, "alice", "PUT", "/api/v1/projects").await;
    assert_eq!(wrong.status, 405);
    assert_eq!(error_code(&wrong), "method_not_allowed");
    assert_eq!(wrong.header("allow"), Some("GET, POST"));
    assert_eq!(rejected_at(&wrong), Some(StageKind::Gateway));
}

#[tokio::test]
async fn every_bad_token_is_401_with_a_challenge() {
    let engine = engine();
    let host = engine.scenario().host_of("acme");
    let missing = send(&engine, ApiRequest::new("GET", "/api/v1/projects", &host)).await;
    assert_eq!(missing.status, 401);
    assert_eq!(error_code(&missing), "missing_token");
    assert!(
        missing
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer realm="))
    );
    for (kind, code) in [
        (TokenKind::Expired, "token_expired"),
        (TokenKind::BadSignature, "invalid_signature"),
        (TokenKind::AlgNone, "unsupported_algorithm"),
        (TokenKind::WrongAudience, "invalid_audience"),
    ] {
        let token = token(&engine, "alice", kind).await;
        let exchange = send(
            &engine,
            ApiRequest::new("GET", "/api/v1/projects", &host).bearer(&token),
        )
        .await;
        assert_eq!(exchange.status, 401, "{kind:?}");
        assert_eq!(error_code(&exchange), code, "{kind:?}");
        assert!(
            exchange
                .header("www-authenticate")
                .is_some_and(|h| h.contains("invalid_token"))
        );
        assert_eq!(rejected_at(&exchange), Some(StageKind::Auth));
        let auth = exchange.trace.stage(StageKind::Auth).expect("auth");
        assert!(
            auth.detail_json()["header"].is_object(),
            "the decoded header is shown for {kind:?}"
        );
    }
}

#[tokio::test]
async fn malformed_json_is_400_and_bad_fields_are_422_listing_each() {
    let engine = engine();
    let malformed =
        request_as(&engine, "alice", "POST", "/api/v1/projects").raw_body("{\"name\": ");
    let exchange = send(&engine, malformed).await;
    assert_eq!(exchange.status, 400);
    assert_eq!(error_code(&exchange), "malformed_json");
    assert_eq!(rejected_at(&exchange), Some(StageKind::Validate));

    let bad = request_as(&engine, "alice", "POST", "/api/v1/projects")
        .json(&json!({ "name": 42, "colour": "red", "tenant_id": 2 }));
    let exchange = send(&engine, bad).await;
    assert_eq!(exchange.status, 422);
    let fields = exchange.json().expect("json")["error"]["fields"].clone();
    let named: Vec<&str> = fields
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(named, ["name", "colour", "tenant_id"], "{fields}");

    let too_long = request_as(&engine, "alice", "POST", "/api/v1/projects")
        .json(&json!({ "name": "x".repeat(81) }));
    let exchange = send(&engine, too_long).await;
    assert_eq!(exchange.status, 422);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_at_the_waf() {
    let engine = engine();
    let huge = "y".repeat(20_000);
    let request =
        request_as(&engine, "alice", "POST", "/api/v1/projects").json(&json!({ "name": huge }));
    let exchange = send(&engine, request).await;
    assert_eq!(exchange.status, 413);
    assert_eq!(rejected_at(&exchange), Some(StageKind::Waf));
}

#[tokio::test]
async fn a_burst_beyond_the_quota_is_429_with_retry_after_then_recovers() {
    let engine = engine();
    // The scenario's burst: 40 copies of Bob's invoice list, sent all at once.
    let burst = engine.scenario().request("bob-burst").expect("bob-burst");
    assert_eq!(
        (
            burst.persona.as_str(),
            burst.method.as_str(),
            burst.path.as_str(),
            burst.token,
            burst.repeat
        ),
        ("bob", "GET", "/api/v1/invoices", TokenKind::Valid, 40)
    );
    // Its 40 copies at the same engine instant, as responses (a trace has no headers).
    let copies = (0..burst.repeat)
        .map(|_| ApiRequest::named(engine.scenario(), "bob-burst").expect("named"))
        .collect();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for exchange in engine.send_all(copies).await.expect("well-formed") {
        if exchange.status == 429 {
            let limiter = exchange.trace.rejected_at().expect("rejected");
            assert_eq!(limiter.kind, StageKind::RateLimit);
            retry_after = exchange
                .header("retry-after")
                .and_then(|s| s.parse::<u64>().ok());
            assert_eq!(
                limiter.detail_json()["retry_after_s"].as_u64(),
                retry_after,
                "the header says what the stage decided"
            );
        }
        statuses.push(exchange.status);
    }
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        limited, 10,
        "a burst of 30 passes, the other 10 wait: {statuses:?}"
    );
    assert!(retry_after.is_some_and(|s| s >= 1));
    // Alice has her own quota.
    assert_eq!(
        as_persona(&engine, "alice", "GET", "/api/v1/invoices")
            .await
            .status,
        200
    );
    // Time refills the bucket.
    engine
        .advance(Duration::from_secs(2))
        .await
        .expect("time passes");
    assert_eq!(
        as_persona(&engine, "bob", "GET", "/api/v1/invoices")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn static_assets_miss_then_hit_at_the_cdn_without_reaching_the_app() {
    let engine = engine();
    let first = as_persona(&engine, "alice", "GET", "/static/app.js").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body.len(), 48213);
    assert_eq!(first.header("x-cache"), Some("MISS"));
    assert_eq!(
        first.trace.stage(StageKind::Cdn).map(|s| s.outcome),
        Some(Outcome::Miss)
    );
    assert!(
        first.trace.stage(StageKind::LoadBalancer).is_some(),
        "a miss is fetched from the origin"
    );
    let second = as_persona(&engine, "alice", "GET", "/static/app.js").await;
    assert_eq!(second.header("x-cache"), Some("HIT"));
    assert_eq!(second.body, first.body);
    assert_eq!(
        second.trace.stage(StageKind::Cdn).map(|s| s.outcome),
        Some(Outcome::Hit)
    );
    assert!(
        second.trace.stage(StageKind::LoadBalancer).is_none(),
        "a hit never reaches the app"
    );
}

#[tokio::test]
async fn sql_injection_strings_are_inert_in_path_query_and_body() {
    let engine = engine();
    let path = as_persona(&engine, "alice", "GET", "/api/v1/projects/1%20OR%201=1").await;
    assert_eq!(path.status, 404);
    let query = as_persona(
        &engine,
        "alice",
        "GET",
        "/api/v1/projects?id=1%27%20OR%20%271%27=%271",
    )
    .await;
    assert_eq!(query.status, 200);
    assert_eq!(
        query.json().expect("json")["count"],
        3,
        "the query string selects nothing extra"
    );
    let evil = "x'); DROP TABLE projects; --";
    let request =
        request_as(&engine, "alice", "POST", "/api/v1/projects").json(&json!({ "name": evil }));
    let created = send(&engine, request).await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.json().expect("json")["data"]["name"],
        evil,
        "stored verbatim"
    );
    let list = as_persona(&engine, "alice", "GET", "/api/v1/projects").await;
    assert_eq!(list.status, 200, "the table is intact");
    assert_eq!(list.json().expect("json")["count"], 4);
    let other = as_persona(&engine, "carol", "GET", "/api/v1/projects").await;
    assert_eq!(
        other.json().expect("json")["count"],
        2,
        "other tenants untouched"
    );
}

#[tokio::test]
async fn a_payment_is_created_pending_and_publishes_its_event() {
    let engine = engine();
    let trace = engine
        .send_named("alice-pays-invoice")
        .await
        .expect("named request")
        .remove(0);
    assert_eq!(trace.status, 201, "{}", trace.response);
    assert_eq!(trace.response["data"]["status"], "pending");
    let publish = trace
        .stage(StageKind::BrokerPublish)
        .expect("publish stage");
    assert_eq!(publish.outcome, Outcome::Pass);
    assert_eq!(
        publish.detail_json()["published"][0]["event"],
        "payment.requested"
    );
    assert_eq!(publish.detail_json()["published"][0]["topic"], "payments");
    let snapshot = engine.snapshot();
    let payments = snapshot
        .topics
        .iter()
        .map(|t| &t.topic)
        .find(|t| t.name == "payments")
        .expect("payments topic");
    assert_eq!(payments.published, 1, "the event is really in the broker");
}

#[tokio::test]
async fn paying_another_tenants_invoice_is_refused() {
    let engine = engine();
    let request = request_as(&engine, "carol", "POST", "/api/v1/payments")
        .json(&json!({ "invoice_id": 2, "amount_cents": 100 }));
    let exchange = send(&engine, request).await;
    assert_eq!(exchange.status, 422);
    assert_eq!(
        exchange.json().expect("json")["error"]["fields"][0]["field"],
        "invoice_id"
    );
    // The tenant check on the invoice ran at the database: that is where it is refused.
    assert_eq!(rejected_at(&exchange), Some(StageKind::Database));
}

#[tokio::test]
async fn deleting_a_row_that_is_not_in_this_tenant_is_refused_by_the_database() {
    let engine = engine();
    let exchange = as_persona(&engine, "alice", "DELETE", "/api/v1/projects/999").await;
    assert_eq!(exchange.status, 404);
    assert_decided_by_the_database(&exchange);
}

/// Alice's (acme's) payments, as the database holds them.
async fn acme_payments(engine: &EngineHandle) -> usize {
    engine
        .rows("payments", Some(1))
        .await
        .expect("payments readable")
        .rows
        .len()
}

fn pay(engine: &EngineHandle, body: Value) -> ApiRequest {
    request_as(engine, "alice", "POST", "/api/v1/payments").json(&body)
}

#[tokio::test]
async fn a_payment_that_sets_its_own_status_is_refused_at_validate_and_nothing_is_written() {
    let engine = engine();
    let before = acme_payments(&engine).await;
    let body = json!({ "invoice_id": 3, "amount_cents": 125000, "status": "completed" });
    let exchange = send(&engine, pay(&engine, body)).await;
    assert_eq!(exchange.status, 422);
    let error = &exchange.json().expect("json")["error"];
    assert_eq!(error["code"], "server_owned_field");
    assert_eq!(
        error["message"],
        "`status` is set by the server; leave it out"
    );
    assert_eq!(error["fields"][0]["field"], "status");
    assert_eq!(rejected_at(&exchange), Some(StageKind::Validate));
    let validate = exchange.trace.stage(StageKind::Validate).expect("validate");
    let detail = validate.detail_json();
    assert_eq!(detail["errors"][0]["field"], "status");
    assert_eq!(
        detail["server_owned"],
        json!([
            "id",
            "tenant_id",
            "status",
            "settled_at",
            "created_by",
            "created_at"
        ]),
        "the trace says which columns the server owns"
    );
    assert!(exchange.trace.stage(StageKind::Database).is_none());
    assert_eq!(acme_payments(&engine).await, before, "no row written");
}

#[tokio::test]
async fn ids_tenants_and_timestamps_in_a_body_are_server_owned_too() {
    let engine = engine();
    let body = json!({ "invoice_id": 3, "amount_cents": 100, "tenant_id": 2, "created_at": "2020-01-01T00:00:00Z" });
    let exchange = send(&engine, pay(&engine, body)).await;
    assert_eq!(exchange.status, 422);
    assert_eq!(error_code(&exchange), "server_owned_field");
    assert_eq!(
        exchange.json().expect("json")["error"]["message"],
        "`tenant_id` and `created_at` are set by the server; leave them out"
    );
    assert_eq!(rejected_at(&exchange), Some(StageKind::Validate));
}

#[tokio::test]
async fn a_negative_or_zero_amount_is_refused_with_its_minimum() {
    let engine = engine();
    let before = acme_payments(&engine).await;
    for amount in [-5, 0] {
        let body = json!({ "invoice_id": 3, "amount_cents": amount });
        let exchange = send(&engine, pay(&engine, body)).await;
        assert_eq!(exchange.status, 422, "{amount}");
        assert_eq!(error_code(&exchange), "validation_failed");
        assert_eq!(
            exchange.json().expect("json")["error"]["fields"],
            json!([{ "field": "amount_cents", "problem": "must be at least 1" }])
        );
        assert_eq!(rejected_at(&exchange), Some(StageKind::Validate));
    }
    assert_eq!(acme_payments(&engine).await, before, "no row written");
}

#[tokio::test]
async fn a_payment_may_not_exceed_what_is_still_open_on_its_invoice() {
    let engine = engine();
    let before = acme_payments(&engine).await;
    // ACME-2026-003 is 125000 with nothing paid: 100000 fits.
    let first = send(
        &engine,
        pay(&engine, json!({ "invoice_id": 3, "amount_cents": 100000 })),
    )
    .await;
    assert_eq!(first.status, 201, "{:?}", first.json());
    let check = &first
        .trace
        .stage(StageKind::Database)
        .expect("database")
        .detail_json()["limit_checks"][0];
    assert_eq!(check["field"], "amount_cents");
    assert_eq!(
        (&check["total"], &check["used"], &check["passed"]),
        (&json!(125000), &json!(0), &json!(true))
    );
    let sql = check["sql"].as_str().expect("the check is a real query");
    // The used part is a running total kept by triggers, read in one lookup.
    assert!(
        sql.contains("\"_used_payments_amount_cents\"") && sql.contains("\"invoices\""),
        "{sql}"
    );
    assert_eq!(check["params"], json!([1, 3]));

    // The pending 100000 now counts: 25000 is open, 30000 is too much.
    let over = send(
        &engine,
        pay(&engine, json!({ "invoice_id": 3, "amount_cents": 30000 })),
    )
    .await;
    assert_eq!(over.status, 422);
    let error = &over.json().expect("json")["error"];
    assert_eq!(error["code"], "limit_exceeded");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("`amount_cents` must be at most 25000"),
        "{message}"
    );
    assert!(
        !message.contains("SELECT"),
        "no SQL in an HTTP error: {message}"
    );
    assert_eq!(error["fields"][0]["field"], "amount_cents");
    // The controller's action failed, and the stage that refused inside it is the database's.
    let database = over.trace.stage(StageKind::Database).expect("database");
    assert_eq!(database.outcome, Outcome::Reject);
    assert_eq!(database.error.as_deref(), Some("limit_exceeded"));
    assert_eq!(database.detail_json()["error"], "limit_exceeded");
    let check = &database.detail_json()["limit_checks"][0];
    assert_eq!(
        (&check["remaining"], &check["passed"]),
        (&json!(25000), &json!(false))
    );

    // Exactly what is open still fits.
    let rest = send(
        &engine,
        pay(&engine, json!({ "invoice_id": 3, "amount_cents": 25000 })),
    )
    .await;
    assert_eq!(rest.status, 201, "{:?}", rest.json());
    assert_eq!(
        acme_payments(&engine).await,
        before + 2,
        "the refused one left no row"
    );
}

#[tokio::test]
async fn completed_payments_count_against_the_invoice() {
    let engine = engine();
    // ACME-2026-001 (490000) has the seed payment of 490000, completed: nothing is open.
    let exchange = send(
        &engine,
        pay(&engine, json!({ "invoice_id": 1, "amount_cents": 1 })),
    )
    .await;
    assert_eq!(exchange.status, 422);
    assert_eq!(error_code(&exchange), "limit_exceeded");
    assert!(
        exchange.json().expect("json")["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 0")),
        "{:?}",
        exchange.json()
    );
}

#[tokio::test]
async fn concurrent_payments_cannot_both_spend_the_same_open_amount() {
    let engine = engine();
    // Two payments of 70000 against 125000 open, in flight together: the check runs beside the
    // write, so exactly one fits.
    let requests = (0..2)
        .map(|_| pay(&engine, json!({ "invoice_id": 3, "amount_cents": 70000 })))
        .collect();
    let exchanges = engine.send_all(requests).await.expect("sent");
    let mut statuses: Vec<u16> = exchanges.iter().map(|e| e.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 422]);
}

#[tokio::test]
async fn login_exchanges_email_and_password_for_a_working_token() {
    let engine = engine();
    let host = engine.scenario().host_of("acme");
    let login = ApiRequest::new("POST", "/api/v1/auth/token", &host)
        .json(&json!({ "email": "alice@acme.test", "password": "alice-wonderland" }));
    let exchange = send(&engine, login).await;
    assert_eq!(exchange.status, 200, "{:?}", exchange.json());
    let token = exchange.json().expect("json")["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let use_it = send(
        &engine,
        ApiRequest::new("GET", "/api/v1/projects", &host).bearer(&token),
    )
    .await;
    assert_eq!(use_it.status, 200);
    let wrong = ApiRequest::new("POST", "/api/v1/auth/token", &host)
        .json(&json!({ "email": "alice@acme.test", "password": "guess" }));
    let refused = send(&engine, wrong).await;
    assert_eq!(refused.status, 401);
    assert_eq!(error_code(&refused), "invalid_credentials");
    // An unknown email gets the same answer after the same work: a dummy hash is checked, so
    // timing cannot tell real emails from unknown ones.
    let unknown = ApiRequest::new("POST", "/api/v1/auth/token", &host)
        .json(&json!({ "email": "nobody@acme.test", "password": "guess" }));
    let unknown = send(&engine, unknown).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(error_code(&unknown), "invalid_credentials");
    let database = unknown
        .trace
        .stage(StageKind::Database)
        .expect("the lookup")
        .detail_json();
    assert!(
        database["password"]
            .as_str()
            .is_some_and(|p| p.contains("a dummy argon2id hash was checked")),
        "{database}"
    );
}

#[tokio::test]
async fn the_load_balancer_spreads_requests_round_robin() {
    let engine = engine();
    let mut instances = Vec::new();
    for _ in 0..6 {
        let exchange = as_persona(&engine, "alice", "GET", "/api/v1/health").await;
        let lb = exchange.trace.stage(StageKind::LoadBalancer).expect("lb");
        instances.push(
            lb.detail_json()["instance"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(
        instances,
        ["app-1", "app-2", "app-3", "app-1", "app-2", "app-3"]
    );
}

#[tokio::test]
async fn modelled_latency_is_real_time_on_the_engine_clock() {
    let engine = engine();
    let before = engine.now();
    let exchange = as_persona(&engine, "alice", "GET", "/api/v1/projects").await;
    let elapsed_ms = (engine.now() - before).as_secs_f64() * 1000.0;
    let modelled = exchange.trace.total_modelled_ms;
    assert!(modelled > 1.0);
    assert!(
        (elapsed_ms - modelled).abs() < 1.0,
        "engine clock moved {elapsed_ms} ms for {modelled} ms modelled (whole-ms timer)"
    );
}

/// Every sample request of the default scenario answers as its title promises, with a trace of
/// the documented shape.
#[tokio::test]
async fn every_sample_request_has_the_documented_trace_shape() {
    let engine = engine();
    let expected = [
        ("alice-lists-projects", 200),
        ("alice-lists-projects-again", 200),
        ("bob-creates-project", 403),
        ("mallory-reads-acme", 403),
        ("carol-guesses-an-id", 404),
        ("alice-expired-token", 401),
        ("alg-none-token", 401),
        ("bob-burst", 429),
        ("alice-bad-body", 422),
        ("static-asset", 200),
        ("alice-pays-invoice", 201),
        ("alice-pays-with-key", 201),
        ("alice-sets-status", 422),
        ("alice-overpays", 422),
        ("alice-logs-in", 200),
        ("health", 200),
    ];
    let scenario = engine.scenario().clone();
    let samples: Vec<&str> = scenario
        .requests
        .iter()
        .filter(|r| r.sample)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(samples, expected.iter().map(|e| e.0).collect::<Vec<_>>());
    for (id, status) in expected {
        // A repeated request (a burst) shows the repeat that ended as its title says.
        let traces = engine.send_named(id).await.expect("named request");
        let sent = traces
            .iter()
            .find(|t| t.status == status)
            .or(traces.last())
            .expect("sent at least once");
        assert_eq!(sent.status, status, "{id}: {}", sent.response);
        let trace = serde_json::to_value(sent).expect("serialises");
        for key in ["request", "status", "stages", "response"] {
            assert!(trace.get(key).is_some(), "{id}: trace lacks {key}");
        }
        for stage in trace["stages"].as_array().expect("stages") {
            for key in [
                "stage",
                "kind",
                "outcome",
                "detail",
                "modelled_ms",
                "measured_us",
            ] {
                assert!(stage.get(key).is_some(), "{id}: stage lacks {key}: {stage}");
            }
            let outcome = stage["outcome"].as_str().unwrap_or_default();
            assert!(["pass", "hit", "miss", "reject", "error", "skip"].contains(&outcome));
            assert!(stage["detail"].is_object());
        }
        assert_eq!(
            trace["stages"]
                .as_array()
                .and_then(|s| s.last())
                .map(|s| s["kind"].clone()),
            Some(Value::from("response")),
            "{id}"
        );
        assert_eq!(trace["status"], status);
    }
}
