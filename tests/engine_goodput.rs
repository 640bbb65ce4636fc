//! Route deadlines and goodput, end to end in virtual time on the default scenario: a slow
//! database leaves the successes as they were but answers them late, so goodput falls — in the
//! lifetime counters and in the API's 10 s "now" window the broker view shows.

use std::time::Duration;

use archsim::engine::{ApiWindow, Clock, Engine, EngineHandle, Options, Snapshot};
use archsim::scenario::{FaultAction, load_or_default};

/// The default scenario with its traffic running, but none of its scheduled faults.
fn engine() -> EngineHandle {
    let scenario = load_or_default(None).expect("default scenario");
    let options = Options {
        faults: false,
        ..Options::new(Clock::Virtual)
    };
    Engine::spawn_with(scenario, options).expect("engine starts")
}

async fn advance(engine: &EngineHandle, seconds: u64) -> std::sync::Arc<Snapshot> {
    engine
        .advance(Duration::from_secs(seconds))
        .await
        .expect("time passes");
    engine.fresh_snapshot().await.expect("snapshot")
}

fn window(snapshot: &Snapshot) -> ApiWindow {
    snapshot
        .api
        .window
        .expect("a window after the first second")
}

fn successes(snapshot: &Snapshot) -> u64 {
    snapshot.requests.late + snapshot.requests.goodput
}

#[tokio::test]
async fn a_slow_database_makes_successes_late_and_goodput_fall() {
    let engine = engine();
    assert!(
        engine.snapshot().api.routes_with_deadline > 0,
        "the default scenario gives its routes deadlines"
    );
    let healthy = advance(&engine, 30).await;
    let before = window(&healthy);
    assert_eq!(before.seconds, 10.0, "the window is the last 10 s");
    assert!(before.request_rate > 20.0, "traffic runs: {before:?}");
    assert!(
        before.late_share.is_some_and(|share| share < 0.05),
        "a healthy system meets its deadlines: {before:?}"
    );

    // +50 ms per query (the `d` key of the broker view) for the next 20 s.
    engine
        .fault(
            FaultAction::SlowDatabase { extra_ms: 50.0 },
            Some(Duration::from_secs(20)),
        )
        .await
        .expect("fault applied");
    let slow = advance(&engine, 15).await;
    let during = window(&slow);

    // The same traffic gets answered, and as successfully...
    let ratio = during.request_rate / before.request_rate;
    assert!((0.8..1.25).contains(&ratio), "{before:?} → {during:?}");
    assert!(
        during.error_share.unwrap_or(0.0) <= before.error_share.unwrap_or(0.0) + 0.02,
        "{before:?} → {during:?}"
    );
    // ...but late: every write pays the slow query, so goodput falls and p99 rises.
    assert!(
        during.late_rate > 1.0 && during.late_rate > 10.0 * before.late_rate,
        "{before:?} → {during:?}"
    );
    assert!(
        during.goodput < before.goodput * 0.9,
        "{before:?} → {during:?}"
    );
    assert!(
        during.latency_p99_ms > before.latency_p99_ms.map(|p99| p99 + 40.0),
        "{before:?} → {during:?}"
    );

    // Lifetime: every success is either on time or late, and the late ones came with the fault.
    let late_during = slow.requests.late - healthy.requests.late;
    let successes_during = successes(&slow) - successes(&healthy);
    assert!(
        late_during * 5 > successes_during,
        "over 20% of the successes in the slow 15 s were late: {late_during} of {successes_during}"
    );
    let ok: u64 = slow
        .requests
        .by_status
        .iter()
        .filter(|(status, _)| matches!(status.parse::<u16>(), Ok(200..400)))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(successes(&slow), ok, "late + goodput = every 2xx/3xx");

    // Ten seconds after the database recovers, the window is healthy again.
    let recovered = window(&*advance(&engine, 20).await);
    assert!(
        recovered.late_share.is_some_and(|share| share < 0.05),
        "{recovered:?}"
    );
}
