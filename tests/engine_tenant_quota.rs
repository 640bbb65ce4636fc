//! Noisy neighbours, end to end in virtual time on `scenarios/noisy-neighbor.toml`: a tenant-wide
//! quota refuses one tenant's excess with a 429 that names the tenant quota while another
//! tenant passes; a small connection pool lets one tenant's flood hurt another (503
//! `database_busy`), unless the tenant quota stops the flood before the database.

use std::sync::Arc;

use archsim::engine::{ApiRequest, Clock, Engine, EngineHandle, Exchange, Options, Outcome};
use archsim::scenario::{StageKind, load_str};
use serde_json::Value;

const SCENARIO: &str = include_str!("../scenarios/noisy-neighbor.toml");
const TENANT_QUOTA: &str = "tenant_requests_per_second = 10\ntenant_burst = 20\n";

/// The lesson's scenario (with or without its tenant quota), no generated traffic.
fn engine(tenant_quota: bool) -> EngineHandle {
    assert!(SCENARIO.contains(TENANT_QUOTA));
    let text = if tenant_quota {
        SCENARIO.to_string()
    } else {
        SCENARIO.replace(TENANT_QUOTA, "")
    };
    let scenario = load_str("noisy-neighbor.toml", &text).unwrap_or_else(|d| panic!("{d}"));
    Engine::spawn_with(Arc::new(scenario), Options::quiet(Clock::Virtual)).expect("engine starts")
}

fn list(engine: &EngineHandle, persona: &str) -> ApiRequest {
    ApiRequest::as_persona(engine.scenario(), persona, "GET", "/api/v1/projects").expect("request")
}

/// `flood` lists from Alice (Acme) and then one from Carol (Globex), all at the same instant.
async fn flood_then_globex(engine: &EngineHandle, flood: usize) -> (Vec<Exchange>, Exchange) {
    let mut requests: Vec<ApiRequest> = (0..flood).map(|_| list(engine, "alice")).collect();
    requests.push(list(engine, "carol"));
    let mut exchanges = engine.send_all(requests).await.expect("sent");
    let globex = exchanges.pop().expect("carol's");
    (exchanges, globex)
}

fn code(exchange: &Exchange) -> String {
    exchange
        .json()
        .and_then(|b| b["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn detail(exchange: &Exchange, kind: StageKind) -> Value {
    exchange.trace.stage(kind).expect("stage ran").detail_json()
}

#[tokio::test]
async fn a_tenant_over_its_quota_gets_429_naming_the_tenant_quota_while_another_passes() {
    let engine = engine(true);
    let (acme, globex) = flood_then_globex(&engine, 30).await;
    let passed = acme.iter().filter(|e| e.status == 200).count();
    assert_eq!(passed, 20, "Acme's tenant burst");
    let refused: Vec<&Exchange> = acme.iter().filter(|e| e.status == 429).collect();
    assert_eq!(refused.len(), 10);
    for exchange in &refused {
        assert_eq!(code(exchange), "rate_limited");
        let body = exchange.json().expect("JSON error");
        assert_eq!(body["error"]["quota"], "tenant");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("tenant `acme`"), "{message}");
        assert!(exchange.header("retry-after").is_some());
        let limit = exchange
            .trace
            .stage(StageKind::RateLimit)
            .expect("rate limit");
        assert_eq!(limit.outcome, Outcome::Reject);
        let detail = limit.detail_json();
        assert_eq!(detail["refused_by"], "tenant");
        assert_eq!(detail["burst"], 20);
        assert_eq!(detail["refill_per_s"], 10.0);
        assert_eq!(detail["tenant_quota"]["key"], "acme:tenant");
        assert!(
            limit.summary().contains("tenant quota"),
            "{}",
            limit.summary()
        );
        assert!(
            exchange.trace.stage(StageKind::Database).is_none(),
            "refused before the database"
        );
    }
    assert_eq!(globex.status, 200, "Globex has its own bucket");
    let globex_limit = detail(&globex, StageKind::RateLimit);
    assert_eq!(globex_limit["tenant_quota"]["key"], "globex:tenant");
    assert_eq!(globex_limit["tenant_quota"]["remaining"], 19);
}

#[tokio::test]
async fn a_user_over_their_own_quota_is_refused_by_the_user_quota_not_the_tenants() {
    let text = SCENARIO.replace(
        "requests_per_second = 1000\nburst = 1000",
        "requests_per_second = 1\nburst = 2",
    );
    let scenario = load_str("noisy-neighbor.toml", &text).unwrap_or_else(|d| panic!("{d}"));
    let engine = Engine::spawn_with(Arc::new(scenario), Options::quiet(Clock::Virtual))
        .expect("engine starts");
    let requests = (0..3).map(|_| list(&engine, "alice")).collect();
    let exchanges = engine.send_all(requests).await.expect("sent");
    let refused = exchanges
        .iter()
        .find(|e| e.status == 429)
        .expect("one refused");
    assert_eq!(refused.json().expect("JSON")["error"]["quota"], "user");
    let limit = detail(refused, StageKind::RateLimit);
    assert_eq!(limit["refused_by"], "user");
    assert_eq!(limit["key"], "acme:user:alice");
    assert!(
        limit.get("tenant_quota").is_none(),
        "the tenant was not charged"
    );
}

#[tokio::test]
async fn without_tenant_quotas_one_tenants_flood_takes_the_pool_and_the_other_gets_503() {
    let engine = engine(false);
    let (acme, globex) = flood_then_globex(&engine, 60).await;
    // Two connections × 100 ms of queueing ÷ 5 ms a query: about 40 queries get through.
    let busy = acme.iter().filter(|e| e.status == 503).count();
    assert!(busy > 0, "the flood overflowed the pool");
    assert_eq!(globex.status, 503, "Globex queued behind Acme's flood");
    assert_eq!(code(&globex), "database_busy");
    let body = globex.json().expect("JSON error");
    assert_eq!(body["error"]["status"], 503);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("semaphore") && !message.contains("permit"),
        "{message}"
    );
    let database = globex.trace.stage(StageKind::Database).expect("database");
    assert_eq!(database.outcome, Outcome::Error);
    let pool = &database.detail_json()["pool"];
    assert_eq!(pool["timed_out"], true);
    assert_eq!(pool["waited_ms"], 100.0);
    assert_eq!(pool["connections"], 2);
    assert!(
        database.summary().contains("no free connection"),
        "{}",
        database.summary()
    );

    let stats = engine.fresh_snapshot().await.expect("snapshot").database;
    assert_eq!(stats.connections, Some(2));
    assert_eq!(stats.timeouts, busy as u64 + 1);
    assert_eq!(stats.acquired, (60 - busy) as u64);
    assert_eq!((stats.in_use, stats.waiting), (0, 0), "all returned");
    assert_eq!(stats.max_wait_ms, 100.0);
}

#[tokio::test]
async fn a_smaller_flood_makes_the_other_tenant_wait_for_a_connection() {
    let engine = engine(false);
    let (_, globex) = flood_then_globex(&engine, 20).await;
    assert_eq!(globex.status, 200);
    let database = globex.trace.stage(StageKind::Database).expect("database");
    let waited = database.detail_json()["pool"]["waited_ms"]
        .as_f64()
        .expect("waited_ms");
    // Twenty 5 ms queries on two connections ahead of it.
    assert!(waited >= 45.0, "Globex waited {waited} ms behind Acme");
    assert!(
        database.summary().contains("for a connection"),
        "{}",
        database.summary()
    );

    let alone = engine.send(list(&engine, "carol")).await.expect("sent");
    assert_eq!(
        detail(&alone, StageKind::Database)["pool"]["waited_ms"],
        0.0
    );
}

#[tokio::test]
async fn with_tenant_quotas_the_flood_never_reaches_the_pool_and_the_other_tenant_is_served() {
    let engine = engine(true);
    let (acme, globex) = flood_then_globex(&engine, 60).await;
    assert_eq!(acme.iter().filter(|e| e.status == 429).count(), 40);
    assert!(acme.iter().all(|e| e.status != 503), "nobody timed out");
    assert_eq!(globex.status, 200);
    let stats = engine.fresh_snapshot().await.expect("snapshot").database;
    assert_eq!(stats.timeouts, 0);
    assert_eq!(stats.acquired, 21);
}

#[tokio::test]
async fn a_plan_with_its_own_tenant_quota_overrides_the_default_for_its_tenants_only() {
    // Acme is on `pro`; Globex stays on the scenario's default tenant quota (burst 20).
    let text = format!(
        "{SCENARIO}\n[[rate_limit.plans]]\nplan = \"pro\"\ntenant_requests_per_second = 100\ntenant_burst = 50\n"
    );
    let scenario = load_str("noisy-neighbor.toml", &text).unwrap_or_else(|d| panic!("{d}"));
    let engine = Engine::spawn_with(Arc::new(scenario), Options::quiet(Clock::Virtual))
        .expect("engine starts");
    let (acme, _) = flood_then_globex(&engine, 30).await;
    assert!(
        acme.iter().all(|e| e.status == 200),
        "30 fit in pro's burst of 50"
    );
    let pro = detail(&acme[0], StageKind::RateLimit);
    assert_eq!(pro["tenant_quota"]["plan"], "pro");
    assert_eq!(pro["tenant_quota"]["burst"], 50);

    let requests = (0..25).map(|_| list(&engine, "carol")).collect();
    let globex = engine.send_all(requests).await.expect("sent");
    // Carol's first list (with the flood) took one of Globex's 20: 19 left for these 25.
    assert_eq!(globex.iter().filter(|e| e.status == 429).count(), 6);
    let refused = globex.iter().find(|e| e.status == 429).expect("refused");
    let limit = detail(refused, StageKind::RateLimit);
    assert_eq!(limit["refused_by"], "tenant");
    assert_eq!(limit["burst"], 20);
    assert!(
        limit["tenant_quota"].get("plan").is_none(),
        "the default quota"
    );
}
