//! Cache stampedes, end to end in virtual time on `scenarios/cache-stampede.toml`: fifty
//! concurrent readers of one expired hot key make one database read with `single_flight`, fifty
//! without; the waiting requests' cache stage says whom they waited for; `ttl_jitter` spreads the
//! TTLs it gives, deterministically per seed.

use std::sync::Arc;
use std::time::Duration;

use archsim::engine::{ApiRequest, Clock, Engine, EngineHandle, Exchange, Options, Outcome};
use archsim::scenario::{StageKind, load_str};
use serde_json::Value;

const SCENARIO: &str = include_str!("../scenarios/cache-stampede.toml");
const SINGLE_FLIGHT_ON: &str = "single_flight = true";
const NO_JITTER: &str = "ttl_jitter = 0.0";

/// The lesson's scenario with its two switches set, and no generated traffic.
fn engine(single_flight: bool, jitter: f64, seed: Option<u64>) -> EngineHandle {
    assert!(SCENARIO.contains(SINGLE_FLIGHT_ON) && SCENARIO.contains(NO_JITTER));
    let mut text = SCENARIO
        .replace(
            SINGLE_FLIGHT_ON,
            &format!("single_flight = {single_flight}"),
        )
        .replace(NO_JITTER, &format!("ttl_jitter = {jitter}"));
    if let Some(seed) = seed {
        text = text.replace("seed = 21", &format!("seed = {seed}"));
    }
    let scenario = load_str("cache-stampede.toml", &text).unwrap_or_else(|d| panic!("{d}"));
    Engine::spawn_with(Arc::new(scenario), Options::quiet(Clock::Virtual)).expect("engine starts")
}

fn reader(engine: &EngineHandle) -> ApiRequest {
    ApiRequest::named(engine.scenario(), "reader").expect("named request")
}

/// `n` readers of the hot key at the same engine instant.
async fn herd(engine: &EngineHandle, n: usize) -> Vec<Exchange> {
    let requests = (0..n).map(|_| reader(engine)).collect();
    engine.send_all(requests).await.expect("sent")
}

/// How many of `exchanges` ran a database query.
fn database_reads(exchanges: &[Exchange]) -> usize {
    exchanges
        .iter()
        .filter(|e| e.trace.stage(StageKind::Database).is_some())
        .count()
}

fn cache_detail(exchange: &Exchange) -> Value {
    exchange
        .trace
        .stage(StageKind::Cache)
        .expect("cache stage ran")
        .detail_json()
}

/// Fills the hot key, then lets it expire (the route's TTL is 2 s).
async fn warm_then_expire(engine: &EngineHandle) {
    let first = engine.send(reader(engine)).await.expect("sent");
    assert_eq!(first.status, 200);
    engine
        .advance(Duration::from_secs(3))
        .await
        .expect("time passes");
}

#[tokio::test]
async fn fifty_readers_of_an_expired_hot_key_make_one_database_read_with_single_flight() {
    let engine = engine(true, 0.0, None);
    warm_then_expire(&engine).await;
    let before = engine.fresh_snapshot().await.expect("snapshot").cache;

    let exchanges = herd(&engine, 50).await;
    assert!(exchanges.iter().all(|e| e.status == 200));
    assert_eq!(database_reads(&exchanges), 1, "one load for fifty readers");
    let bodies: Vec<_> = exchanges.iter().map(|e| e.body.clone()).collect();
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "all got the same page"
    );

    let leaders: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| e.trace.stage(StageKind::Cache).map(|s| s.outcome) == Some(Outcome::Miss))
        .collect();
    let [leader] = leaders.as_slice() else {
        panic!("exactly one miss loads, got {}", leaders.len());
    };
    let leader_id = leader
        .header("x-request-id")
        .expect("request id")
        .to_string();
    assert_eq!(cache_detail(leader)["expired"], true);

    let waiters: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| cache_detail(e)["coalesced"] == true)
        .collect();
    assert_eq!(waiters.len(), 49);
    for waiter in &waiters {
        let cache = waiter.trace.stage(StageKind::Cache).expect("cache");
        assert_eq!(cache.outcome, Outcome::Hit, "answered by the fill");
        let detail = cache.detail_json();
        assert_eq!(detail["leader"], leader_id.as_str());
        assert!(detail["waited_ms"].as_f64().is_some_and(|ms| ms > 0.0));
        assert!(
            cache.summary().starts_with("coalesced: ") && cache.summary().contains(&leader_id),
            "{}",
            cache.summary()
        );
    }

    let after = engine.fresh_snapshot().await.expect("snapshot").cache;
    assert_eq!(after.coalesced - before.coalesced, 49);
    assert_eq!(
        after.misses - before.misses,
        50,
        "every one of them missed…"
    );
    assert_eq!(
        (after.misses - after.coalesced) - (before.misses - before.coalesced),
        1,
        "…but only one miss read the database"
    );
}

#[tokio::test]
async fn without_single_flight_every_concurrent_miss_reads_the_database() {
    let engine = engine(false, 0.0, None);
    warm_then_expire(&engine).await;
    let exchanges = herd(&engine, 50).await;
    assert!(exchanges.iter().all(|e| e.status == 200));
    assert_eq!(database_reads(&exchanges), 50, "the stampede");
    assert!(
        exchanges
            .iter()
            .all(|e| cache_detail(e).get("coalesced").is_none())
    );
    let stats = engine.fresh_snapshot().await.expect("snapshot").cache;
    assert_eq!(stats.coalesced, 0);
}

#[tokio::test]
async fn a_failed_load_releases_its_waiters_who_then_read_for_themselves() {
    let engine = engine(true, 0.0, None);
    // Project 3 is Globex's: from Acme the load finds no row (404), a failed load.
    let requests = (0..5)
        .map(|_| {
            ApiRequest::as_persona(engine.scenario(), "alice", "GET", "/api/v1/projects/3")
                .expect("request")
        })
        .collect();
    let exchanges = engine.send_all(requests).await.expect("sent");
    assert!(exchanges.iter().all(|e| e.status == 404), "nobody stuck");
    let released: Vec<Value> = exchanges
        .iter()
        .map(cache_detail)
        .filter(|d| d["coalesced"] == false)
        .collect();
    assert_eq!(released.len(), 4, "the four waiters were released");
    assert!(released.iter().all(|d| d["stored"] == false));
    assert_eq!(
        database_reads(&exchanges),
        5,
        "each then asked the database"
    );
    let stats = engine.fresh_snapshot().await.expect("snapshot").cache;
    assert_eq!(stats.coalesced, 0, "nobody was answered by another's load");
}

/// The TTLs the cache gave when filling `keys` projects once each.
async fn ttls_given(engine: &EngineHandle) -> Vec<f64> {
    let mut ttls = Vec::new();
    for id in 1..=2 {
        let request = ApiRequest::as_persona(
            engine.scenario(),
            "alice",
            "GET",
            &format!("/api/v1/projects/{id}"),
        )
        .expect("request");
        let exchange = engine.send(request).await.expect("sent");
        let detail = cache_detail(&exchange);
        assert_eq!(detail["stored"], true);
        ttls.push(detail["ttl_s"].as_f64().expect("ttl_s"));
    }
    ttls
}

#[tokio::test]
async fn ttl_jitter_spreads_expiries_within_bounds_and_the_same_seed_gives_the_same_ttls() {
    let mut seen = Vec::new();
    for seed in 1..=10 {
        let ttls = ttls_given(&engine(false, 0.25, Some(seed))).await;
        for ttl in &ttls {
            assert!((1.5..=2.5).contains(ttl), "2 s ± 25 %: {ttl}");
        }
        assert_eq!(
            ttls,
            ttls_given(&engine(false, 0.25, Some(seed))).await,
            "seed {seed} again: the same TTLs"
        );
        seen.extend(ttls);
    }
    seen.sort_by(f64::total_cmp);
    seen.dedup();
    assert!(seen.len() > 10, "spread, not one value: {seen:?}");

    let exact = ttls_given(&engine(false, 0.0, None)).await;
    assert_eq!(exact, vec![2.0, 2.0], "no jitter: the route's TTL exactly");
}

#[tokio::test]
async fn a_jittered_fill_says_what_ttl_it_gave_and_why() {
    let engine = engine(false, 0.5, None);
    let exchange = engine.send(reader(&engine)).await.expect("sent");
    let cache = exchange.trace.stage(StageKind::Cache).expect("cache");
    let detail = cache.detail_json();
    assert_eq!(detail["ttl_base_s"], 2.0);
    let given = detail["ttl_s"].as_f64().expect("ttl_s");
    assert!((1.0..=3.0).contains(&given));
    assert!(cache.summary().contains("jittered"), "{}", cache.summary());
    // The entry really lives that long: a hit just before, a miss just after.
    engine
        .advance(Duration::from_secs_f64(given - 0.1))
        .await
        .expect("time passes");
    let before = engine.send(reader(&engine)).await.expect("sent");
    assert_eq!(
        before.trace.stage(StageKind::Cache).map(|s| s.outcome),
        Some(Outcome::Hit)
    );
    engine
        .advance(Duration::from_millis(200))
        .await
        .expect("time passes");
    let after = engine.send(reader(&engine)).await.expect("sent");
    assert_eq!(cache_detail(&after)["expired"], true);
}
