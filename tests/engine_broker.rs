//! The broker, worker pools, traffic and faults, in virtual time: accounting, redelivery,
//! dead-lettering on an exact backoff timeline, backpressure, fan-out, determinism, and the
//! measured queues against queueing theory.
//!
//! Everything goes through the engine's front door, [`EngineHandle`]: engine time moves only
//! inside commands (`advance`, `send`), so the timelines below are exact.

mod common;

use std::sync::Arc;
use std::time::Duration;

use archsim::cli::run::run_for;
use archsim::engine::{
    ApiRequest, BrokerEvent, Clock, Command, Engine, EngineError, EngineHandle, Event, EventStream,
    Options, TopicSnapshot, WorkerState,
};
use archsim::scenario::{FaultAction, Scenario, load_or_default, load_str};
use archsim::theory::predict;
use serde_json::json;

fn scenario(body: &str) -> Arc<Scenario> {
    Arc::new(common::scenario_with(11, body))
}

/// `scenario`'s system alone, in virtual time: no generated traffic, no scheduled faults.
fn start(scenario: Arc<Scenario>) -> EngineHandle {
    Engine::spawn_with(scenario, Options::quiet(Clock::Virtual)).expect("engine starts")
}

async fn advance(engine: &EngineHandle, duration: Duration) {
    engine.advance(duration).await.expect("time passes");
}

async fn publish(engine: &EngineHandle, topic: &str, event: &str, payload: serde_json::Value) {
    engine
        .publish(topic, event, payload)
        .await
        .expect("room in the topic");
}

/// The broker events seen so far, each with the engine time (ms) it happened at.
fn broker_events(events: &mut EventStream) -> Vec<(u64, BrokerEvent)> {
    events
        .drain()
        .into_iter()
        .filter_map(|event| match event {
            Event::Broker { at_ms, event } => Some((at_ms, event)),
            _ => None,
        })
        .collect()
}

/// The topic `name` in the engine's latest snapshot.
fn topic(engine: &EngineHandle, name: &str) -> TopicSnapshot {
    engine
        .snapshot()
        .topics
        .iter()
        .find(|t| t.topic.name == name)
        .map(|t| t.topic.clone())
        .unwrap_or_else(|| panic!("no topic {name}"))
}

#[tokio::test]
async fn a_failing_message_is_retried_on_the_exact_backoff_timeline_then_dead_lettered() {
    let engine = start(scenario(
        r#"
[[topics]]
name = "jobs"
capacity = 1000
max_attempts = 4
backoff = { initial_ms = 100, max_ms = 1000, multiplier = 2, jitter = 0 }
dead_letter = "jobs.dlq"

[[topics]]
name = "jobs.dlq"
capacity = 1000

[[workers]]
name = "worker"
topic = "jobs"
concurrency = 1
service_time = { dist = "constant", ms = 10 }
failure_probability = 1.0
"#,
    ));
    let mut stream = engine.subscribe();
    publish(&engine, "jobs", "job.created", json!({ "n": 1 })).await;
    advance(&engine, Duration::from_secs(5)).await;

    let events = broker_events(&mut stream);
    let retries: Vec<(u64, u32, u64)> = events
        .iter()
        .filter_map(|(at, e)| match e {
            BrokerEvent::Retried {
                attempt, delay_ms, ..
            } => Some((*at, *attempt, *delay_ms)),
            _ => None,
        })
        .collect();
    // Delivery 1 at 0 ms fails at 10; +100 → delivery 2 at 110 fails at 120; +200 → 320 fails at
    // 330; +400 → 730 fails at 740: four attempts used, dead-lettered.
    assert_eq!(retries, [(10, 1, 100), (120, 2, 200), (330, 3, 400)]);
    let dead: Vec<u64> = events
        .iter()
        .filter_map(|(at, e)| matches!(e, BrokerEvent::DeadLettered { .. }).then_some(*at))
        .collect();
    assert_eq!(dead, [740]);
    let jobs = topic(&engine, "jobs");
    assert_eq!(
        jobs.groups[0].counters.delivered, 4,
        "exactly max_attempts deliveries"
    );
    assert_eq!(jobs.groups[0].counters.dead_lettered, 1);
    let dlq = engine.messages("jobs.dlq", 10).await.expect("topic");
    assert_eq!(dlq.len(), 1);
    let origin = dlq[0].dead_letter_of.as_ref().expect("origin recorded");
    assert_eq!(origin.attempts, 4);
    assert!(
        origin.last_error.contains("failed"),
        "{}",
        origin.last_error
    );
    assert!(engine.snapshot().no_message_lost);
}

#[tokio::test]
async fn a_crashed_workers_message_is_redelivered_and_acked_exactly_once() {
    let engine = start(scenario(
        r#"
[[topics]]
name = "jobs"
capacity = 1000
visibility_timeout_ms = 2000

[[workers]]
name = "worker"
topic = "jobs"
concurrency = 2
service_time = { dist = "constant", ms = 500 }
"#,
    ));
    publish(&engine, "jobs", "job.created", json!({})).await;
    advance(&engine, Duration::from_millis(100)).await;
    let workers = |engine: &EngineHandle| engine.snapshot().topics[0].workers.clone();
    let busy: Vec<usize> = workers(&engine)
        .iter()
        .enumerate()
        .filter_map(|(i, s)| matches!(s, WorkerState::Busy { .. }).then_some(i))
        .collect();
    assert_eq!(busy.len(), 1, "one worker holds the message");
    engine
        .fault(
            FaultAction::KillWorkers {
                pool: "worker".into(),
                count: 1,
            },
            None,
        )
        .await
        .expect("applied");
    let after = workers(&engine);
    let killed: Vec<usize> = after
        .iter()
        .enumerate()
        .filter_map(|(i, s)| (*s == WorkerState::Crashed).then_some(i))
        .collect();
    assert_eq!(killed, busy, "the busy worker is the one killed");
    let group = &topic(&engine, "jobs").groups[0];
    assert_eq!(
        (group.in_flight, group.counters.acked),
        (1, 0),
        "the dead worker still holds the lease"
    );
    // The lease runs out at 2000 ms; the surviving worker takes the message and acks it.
    advance(&engine, Duration::from_secs(3)).await;
    let group = &topic(&engine, "jobs").groups[0];
    assert_eq!(group.counters.delivered, 2);
    assert_eq!(group.counters.expired, 1);
    assert_eq!(group.counters.acked, 1);
    assert!(engine.snapshot().no_message_lost);
}

#[tokio::test]
async fn a_worker_slower_than_the_visibility_timeout_has_its_late_ack_ignored() {
    let engine = start(scenario(
        r#"
[[topics]]
name = "jobs"
capacity = 1000
visibility_timeout_ms = 300

[[workers]]
name = "worker"
topic = "jobs"
concurrency = 2
service_time = { dist = "constant", ms = 100 }
"#,
    ));
    // 300 ms slower per message for the first 50 ms: the one message taken then needs 400 ms.
    engine
        .fault(
            FaultAction::SlowWorkers {
                pool: "worker".into(),
                extra_ms: 300.0,
            },
            Some(Duration::from_millis(50)),
        )
        .await
        .expect("applied");
    publish(&engine, "jobs", "job.created", json!({})).await;
    advance(&engine, Duration::from_millis(50)).await;
    advance(&engine, Duration::from_secs(2)).await;
    let group = &topic(&engine, "jobs").groups[0];
    // Worker A leases at 0 and needs 400 ms; its lease expires at 300 and worker B takes the
    // message (100 ms) and acks at 400. A's ack at 400 carries a stale lease and is ignored.
    assert_eq!(group.counters.delivered, 2);
    assert_eq!(group.counters.expired, 1);
    assert_eq!(group.counters.acked, 1, "acked exactly once by the group");
    assert!(engine.snapshot().no_message_lost);
}

/// The broker's timer task sleeps until the earliest deadline and is woken only by a lease
/// that expires sooner: a short lease taken after a long one must still expire on time.
#[tokio::test]
async fn a_short_lease_taken_after_a_long_one_expires_on_time() {
    let engine = start(scenario(
        r#"
[[topics]]
name = "slow"
capacity = 1000
visibility_timeout_ms = 60000

[[topics]]
name = "quick"
capacity = 1000
visibility_timeout_ms = 300

[[workers]]
name = "slow-worker"
topic = "slow"
concurrency = 1
service_time = { dist = "constant", ms = 30000 }

[[workers]]
name = "quick-worker"
topic = "quick"
concurrency = 1
service_time = { dist = "constant", ms = 1000 }
"#,
    ));
    let mut events = engine.subscribe();
    publish(&engine, "slow", "job.created", json!({})).await;
    advance(&engine, Duration::from_millis(100)).await;
    publish(&engine, "quick", "job.created", json!({})).await;
    advance(&engine, Duration::from_secs(1)).await;
    let expired: Vec<(u64, String)> = broker_events(&mut events)
        .into_iter()
        .filter_map(|(at_ms, event)| match event {
            BrokerEvent::LeaseExpired { topic, .. } => Some((at_ms, topic)),
            _ => None,
        })
        .collect();
    // Leased at 100 ms for 300 ms: it expires at 400, not when the slow lease's 60 s are up.
    assert_eq!(expired, vec![(400, "quick".to_string())]);
}

#[tokio::test]
async fn a_message_always_slower_than_its_lease_is_dead_lettered_not_acked_twice() {
    let engine = start(scenario(
        r#"
[[topics]]
name = "jobs"
capacity = 1000
visibility_timeout_ms = 300
max_attempts = 3

[[workers]]
name = "worker"
topic = "jobs"
concurrency = 2
service_time = { dist = "constant", ms = 400 }
"#,
    ));
    publish(&engine, "jobs", "job.created", json!({})).await;
    advance(&engine, Duration::from_secs(3)).await;
    let group = &topic(&engine, "jobs").groups[0];
    assert_eq!(
        (
            group.counters.delivered,
            group.counters.acked,
            group.counters.dead_lettered
        ),
        (3, 0, 1)
    );
    assert!(engine.snapshot().no_message_lost);
}

/// The dual write (`publish = "direct"`): a full topic refuses the publish and the API says so
/// with a 503 — the event is never dropped silently (the orphaned row is the outbox's lesson,
/// see `engine_outbox.rs`).
#[tokio::test]
async fn a_full_topic_refuses_direct_publishers_with_503_and_loses_nothing() {
    let text = load_or_default(None).expect("default");
    let mut scenario = (*text).clone();
    if let Some(topic) = scenario.topics.iter_mut().find(|t| t.name == "payments") {
        topic.capacity = 3;
    }
    for route in &mut scenario.routes {
        route.publish_mode = archsim::scenario::PublishMode::Direct;
    }
    let engine = start(Arc::new(scenario));
    engine
        .fault(
            FaultAction::PauseTopic {
                topic: "payments".into(),
            },
            None,
        )
        .await
        .expect("applied");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let request = ApiRequest::named(engine.scenario(), "alice-pays-invoice").expect("named");
        let exchange = engine.send(request).await.expect("sent");
        if exchange.status == 503 {
            assert!(exchange.header("retry-after").is_some());
            assert_eq!(
                exchange.json().expect("json")["error"]["code"],
                "queue_full"
            );
        }
        statuses.push(exchange.status);
    }
    assert_eq!(statuses, [201, 201, 201, 503, 503]);
    let payments = topic(&engine, "payments");
    assert_eq!((payments.published, payments.rejected), (3, 2));
    assert!(payments.balanced());
}

/// A publisher that blocks is a producer inside the engine: the `producer` pool publishes its
/// follow-up to `jobs` with the topic's policy, so it waits for room (up to the topic's timeout)
/// before it acks its own message. Its service takes 0 ms: it publishes the instant it takes a
/// request.
#[tokio::test]
async fn a_blocking_publisher_waits_for_room_up_to_its_timeout() {
    let engine = start(scenario(
        r#"
[[topics]]
name = "jobs"
capacity = 1
on_full = "block"
block_timeout_ms = 250

[[workers]]
name = "worker"
topic = "jobs"
concurrency = 1
service_time = { dist = "constant", ms = 200 }
"#,
    ));
    let blocking = |event: &str| Command::Publish {
        topic: "jobs".to_string(),
        event: event.to_string(),
        payload: json!({}),
        block: true,
    };
    publish(&engine, "jobs", "a", json!({})).await;
    // The worker acks "a" at 200 ms: a blocking publish asked for at 0 gets in after waiting
    // 200 ms.
    let asked = engine.now();
    engine
        .execute(blocking("b"))
        .await
        .expect("room after 200 ms");
    assert_eq!(engine.now() - asked, Duration::from_millis(200));
    // Now the worker holds "b" until 400 ms: a plain publish is refused at once…
    let refused = engine.publish("jobs", "c", json!({})).await;
    assert!(
        matches!(refused, Err(EngineError::Refused(_))),
        "full while b is in flight: {refused:?}"
    );
    // …and a blocking one waits, here for the 200 ms until "b" is acked (within its 250 ms).
    let asked = engine.now();
    engine
        .execute(blocking("d"))
        .await
        .expect("room within 250 ms");
    assert_eq!(engine.now() - asked, Duration::from_millis(200));
    // A worker busy for longer than the timeout: the blocking publish gives up after 250 ms.
    engine
        .fault(
            FaultAction::SlowWorkers {
                pool: "worker".to_string(),
                extra_ms: 1000.0,
            },
            None,
        )
        .await
        .expect("slows the worker");
    // ("d" may have been taken after the fault: wait until it is surely done.)
    advance(&engine, Duration::from_millis(1300)).await;
    publish(&engine, "jobs", "e", json!({})).await;
    let asked = engine.now();
    let refused = engine.execute(blocking("f")).await;
    assert!(
        matches!(refused, Err(EngineError::Refused(_))),
        "{refused:?}"
    );
    assert_eq!(engine.now() - asked, Duration::from_millis(250));
    assert!(engine.snapshot().no_message_lost);
}

#[tokio::test]
async fn every_consumer_group_of_a_topic_receives_every_message() {
    let engine = start(scenario(
        r#"
[[topics]]
name = "orders"
capacity = 1000

[[workers]]
name = "billing"
topic = "orders"
concurrency = 2
service_time = { dist = "constant", ms = 5 }

[[workers]]
name = "shipping"
topic = "orders"
concurrency = 1
service_time = { dist = "constant", ms = 20 }
"#,
    ));
    for n in 0..50 {
        publish(&engine, "orders", "order.placed", json!({ "n": n })).await;
    }
    advance(&engine, Duration::from_secs(5)).await;
    let orders = topic(&engine, "orders");
    let acked: Vec<(&str, u64)> = orders
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.counters.acked))
        .collect();
    assert_eq!(acked, [("billing", 50), ("shipping", 50)]);
    assert!(orders.balanced());
}

#[tokio::test]
async fn a_completed_payment_fans_out_to_webhooks_and_analytics() {
    let mut scenario = (*load_or_default(None).expect("default")).clone();
    for pool in &mut scenario.workers {
        pool.failure_probability = 0.0;
    }
    let engine = start(Arc::new(scenario));
    let trace = engine
        .send_named("alice-pays-invoice")
        .await
        .expect("sent")
        .remove(0);
    assert_eq!(trace.status, 201);
    advance(&engine, Duration::from_secs(10)).await;
    let snapshot = engine.snapshot();
    let acked = |name: &str| {
        snapshot
            .topics
            .iter()
            .find(|t| t.topic.name == name)
            .map(|t| t.topic.sum(|g| g.counters.acked))
    };
    assert_eq!(acked("payments"), Some(1));
    assert_eq!(acked("webhooks"), Some(1));
    assert_eq!(acked("analytics"), Some(1));
}

async fn run_report(seed: u64, seconds: u64) -> String {
    let mut scenario = (*load_or_default(None).expect("default")).clone();
    scenario.meta.seed = seed;
    let report = run_for(
        Arc::new(scenario),
        Options::new(Clock::Virtual),
        Duration::from_secs(seconds),
    )
    .await
    .expect("runs");
    serde_json::to_string(&report).expect("serialises")
}

#[tokio::test]
async fn the_same_seed_gives_the_same_report_byte_for_byte() {
    let first = run_report(7, 120).await;
    assert_eq!(first, run_report(7, 120).await);
    assert_ne!(first, run_report(8, 120).await, "another seed, another run");
}

/// Poisson arrivals into one topic consumed by `servers` workers with exponential service
/// (400 000 messages keep the sampling error of the mean wait near ±2.5% at ρ = 0.8):
/// returns (measured mean wait ms, predicted mean wait ms, mean queue length, λ·W).
///
/// The arrivals come from a `[[traffic]]` generator with `publish`: inside the engine, so the run
/// takes a handful of commands, and on an absolute schedule, so no arrival is lost to the timer's
/// millisecond rounding.
async fn measure_queue(
    servers: u32,
    service_ms: f64,
    utilization: f64,
    messages: u64,
    seed: u64,
) -> (f64, f64, f64, f64) {
    let lambda = utilization * f64::from(servers) * 1000.0 / service_ms;
    // A queue with nothing in front: a Poisson generator publishing straight to the topic, on
    // its exact schedule (sub-millisecond gaps carried, not rounded).
    let mut scenario = (*scenario(&format!(
        r#"
[[topics]]
name = "jobs"
capacity = 1000000
visibility_timeout_ms = 3600000

[[workers]]
name = "worker"
topic = "jobs"
concurrency = {servers}
service_time = {{ dist = "exponential", mean_ms = {service_ms} }}

[[traffic]]
name = "arrivals"
arrival = "poisson"
rate_per_s = {lambda}
publish = {{ topic = "jobs", event = "job" }}
"#
    )))
    .clone();
    scenario.meta.seed = seed;
    let engine = Engine::spawn_with(Arc::new(scenario), Options::new(Clock::Virtual))
        .expect("engine starts");
    // Run until the generator has made every arrival: `messages` gaps of 1/λ on average.
    let arrived = |engine: &EngineHandle| topic(engine, "jobs").published;
    while arrived(&engine) < messages {
        let left = (messages - arrived(&engine)) as f64;
        advance(
            &engine,
            Duration::from_secs_f64(left / lambda).max(Duration::from_millis(1)),
        )
        .await;
    }
    let topic = topic(&engine, "jobs");
    let wait = topic.wait_ms.mean;
    let measured_lambda = topic.sum(|g| g.counters.delivered) as f64 / engine.now().as_secs_f64();
    let predicted = predict(lambda, service_ms, servers, 1.0, 1.0).wait_ms_mean;
    (
        wait,
        predicted,
        topic.mean_queue_length,
        measured_lambda * wait / 1000.0,
    )
}

#[tokio::test]
async fn an_mm1_queue_at_utilisation_0_8_waits_as_erlang_c_predicts() {
    let (wait, predicted, queue_length, little) = measure_queue(1, 100.0, 0.8, 400_000, 1).await;
    let error = (wait - predicted).abs() / predicted;
    assert!(
        error < 0.05,
        "M/M/1: measured {wait:.1} ms vs Erlang C {predicted:.1} ms ({:.1}% off)",
        error * 100.0
    );
    let little_error = (queue_length - little).abs() / little;
    assert!(
        little_error < 0.02,
        "Little: Lq {queue_length:.3} vs λW {little:.3}"
    );
}

#[tokio::test]
async fn an_mmc_queue_at_utilisation_0_8_waits_as_erlang_c_predicts() {
    let (wait, predicted, queue_length, little) = measure_queue(4, 200.0, 0.8, 400_000, 1).await;
    let error = (wait - predicted).abs() / predicted;
    assert!(
        error < 0.05,
        "M/M/4: measured {wait:.1} ms vs Erlang C {predicted:.1} ms ({:.1}% off)",
        error * 100.0
    );
    let little_error = (queue_length - little).abs() / little;
    assert!(
        little_error < 0.02,
        "Little: Lq {queue_length:.3} vs λW {little:.3}"
    );
}

/// The edges: sub-10 ms service at ρ = 0.9, one server and eight, 100 000 customers each.
///
/// Tolerances, from what was measured: at ρ = 0.9 one run's mean wait has a relative standard
/// deviation of about 6% for M/M/1 at 100k customers (2ρ(1+ρ)/(1−ρ)⁴ asymptotic variance), so
/// M/M/1 allows 15%. M/M/8 varies less, but at 5 ms service the engine's millisecond timer
/// lattice (tokio fires timers on whole milliseconds; arrivals land on the next one, service
/// times carry their fraction) shows: over six seeds its waits ran 2.7–7.6% above Erlang C
/// (mean +5%), where at 10, 20 and 50 ms service the same runs scatter both sides of it
/// (−6.2…+3.6%). So M/M/8 at 5 ms allows 10%, and Little's law — which the lattice cannot
/// bend — must hold to 1% in both.
#[tokio::test]
async fn queues_with_millisecond_service_at_utilisation_0_9_wait_as_erlang_c_predicts() {
    for (servers, service_ms, tolerance) in [(1, 3.0, 0.15), (8, 5.0, 0.10)] {
        let (wait, predicted, queue_length, little) =
            measure_queue(servers, service_ms, 0.9, 100_000, 1).await;
        let error = (wait - predicted).abs() / predicted;
        assert!(
            error < tolerance,
            "M/M/{servers}, {service_ms} ms: measured {wait:.2} ms vs Erlang C {predicted:.2} ms \
             ({:.1}% off)",
            error * 100.0
        );
        let little_error = (queue_length - little).abs() / little;
        assert!(
            little_error < 0.01,
            "Little: Lq {queue_length:.3} vs λW {little:.3}"
        );
    }
}

fn fault(kind: usize) -> FaultAction {
    match kind {
        0 => FaultAction::KillWorkers {
            pool: "payment-processor".into(),
            count: 2,
        },
        1 => FaultAction::KillWorkers {
            pool: "webhook-sender".into(),
            count: 1,
        },
        2 => FaultAction::PoisonMessage {
            topic: "payments".into(),
        },
        3 => FaultAction::PauseTopic {
            topic: "webhooks".into(),
        },
        4 => FaultAction::SlowDatabase { extra_ms: 50.0 },
        5 => FaultAction::SlowWorkers {
            pool: "payment-processor".into(),
            extra_ms: 400.0,
        },
        6 => FaultAction::FlushCache,
        7 => FaultAction::Redrive {
            topic: "payments.dlq".into(),
        },
        _ => FaultAction::TrafficSpike { multiplier: 3.0 },
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 10, ..proptest::prelude::ProptestConfig::default() })]

    /// Whatever faults hit the system and whenever, every message stays accounted for — checked
    /// every engine second, not only at the end.
    #[test]
    fn no_message_is_lost_under_random_fault_schedules(
        faults in proptest::collection::vec((0u64..40, 0usize..9, 1u64..15), 0..6),
        seed in 0u64..1000,
    ) {
        let mut scenario = (*load_or_default(None).expect("default")).clone();
        scenario.meta.seed = seed;
        // Small dead-letter topics, so that dead letters park and redrives make room.
        for topic in &mut scenario.topics {
            let cap = if topic.name.ends_with(".dlq") { 2 } else { 40 };
            topic.capacity = topic.capacity.min(cap);
        }
        // The scenario's traffic, and only the faults below.
        let options = Options { faults: false, ..Options::new(Clock::Virtual) };
        let engine = Engine::spawn_with(Arc::new(scenario), options).expect("engine starts");
        // Outside any runtime: each command's reply is waited for.
        for second in 0..45 {
            for (at, kind, duration) in &faults {
                if *at == second {
                    engine
                        .execute(Command::Fault { action: fault(*kind), duration_ms: Some(duration * 1000) })
                        .wait()
                        .expect("applied");
                }
            }
            engine.execute(Command::Advance { ms: 1000 }).wait().expect("time passes");
            assert!(engine.snapshot().no_message_lost, "books do not balance at {second} s with faults {faults:?}");
        }
        let snapshot = engine.snapshot();
        assert!(snapshot.no_message_lost);
        assert!(snapshot.topics.iter().any(|t| t.topic.published > 0), "traffic produced messages");
    }
}

#[tokio::test]
async fn the_event_stream_starts_ready_and_reports_faults_and_worker_crashes() {
    let engine = start(load_or_default(None).expect("default"));
    let mut events = engine.subscribe();
    engine
        .fault(
            FaultAction::KillWorkers {
                pool: "payment-processor".into(),
                count: 1,
            },
            Some(Duration::from_secs(1)),
        )
        .await
        .expect("applied");
    advance(&engine, Duration::from_secs(2)).await;
    let seen: Vec<serde_json::Value> = events
        .drain()
        .iter()
        .map(|event| serde_json::to_value(event).expect("serialises"))
        .collect();
    let kinds: Vec<&str> = seen.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"fault"), "{seen:?}");
    let crashed = seen
        .iter()
        .any(|e| e["kind"] == "worker" && e["change"]["state"]["state"] == "crashed");
    let restarted = seen
        .iter()
        .any(|e| e["kind"] == "worker" && e["change"]["state"]["state"] == "idle");
    assert!(
        crashed && restarted,
        "a crash and the restart after 1 s: {seen:?}"
    );
    assert!(seen.iter().any(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("restarted"))
    }));
}

/// A topic whose every delivery fails (two attempts, 100 ms apart), dead-lettering into a
/// dead-letter topic with room for one message. `jobs` holds `capacity` messages.
fn dead_letter_scenario(capacity: u32) -> Arc<Scenario> {
    scenario(&format!(
        r#"
[[topics]]
name = "jobs"
capacity = {capacity}
max_attempts = 2
backoff = {{ initial_ms = 100, max_ms = 1000, multiplier = 2, jitter = 0 }}
dead_letter = "jobs.dlq"

[[topics]]
name = "jobs.dlq"
capacity = 1

[[workers]]
name = "worker"
topic = "jobs"
concurrency = 1
service_time = {{ dist = "constant", ms = 10 }}
failure_probability = 1.0
"#
    ))
}

/// Every topic's books balance in the engine's latest snapshot.
fn assert_balanced(engine: &EngineHandle, when: &str) {
    let snapshot = engine.snapshot();
    for view in &snapshot.topics {
        assert!(
            view.topic.balanced(),
            "{when}: {} unbalanced: {:?}",
            view.topic.name,
            view.topic.groups
        );
    }
    assert!(snapshot.no_message_lost, "{when}");
}

/// The payloads' `n` of `messages`, sorted.
fn numbers(messages: &[archsim::engine::Message]) -> Vec<i64> {
    let mut numbers: Vec<i64> = messages
        .iter()
        .filter_map(|m| m.payload["n"].as_i64())
        .collect();
    numbers.sort_unstable();
    numbers
}

#[tokio::test]
async fn a_full_dead_letter_topic_parks_the_rest_and_loses_nothing() {
    let engine = start(dead_letter_scenario(100));
    let mut stream = engine.subscribe();
    for n in 1..=3 {
        publish(&engine, "jobs", "job.created", json!({ "n": n })).await;
    }
    // One worker, 10 ms a delivery and a 10 ms pause after each failure: first deliveries at 0,
    // 20, 40 fail (retries due at 110, 130, 150); the retries fail for good at 120, 140, 160.
    // The first fills the dead-letter topic, the other two are parked. The books balance at
    // every step of the way.
    for step in 0..50 {
        advance(&engine, Duration::from_millis(5)).await;
        assert_balanced(&engine, &format!("at {} ms", (step + 1) * 5));
    }
    advance(&engine, Duration::from_secs(1)).await;

    let events = broker_events(&mut stream);
    let outcomes: Vec<(u64, &str, u64)> = events
        .iter()
        .filter_map(|(at, e)| match e {
            BrokerEvent::DeadLettered { id, .. } => Some((*at, "dead-lettered", *id)),
            BrokerEvent::Parked {
                id, dead_letter, ..
            } => {
                assert_eq!(dead_letter, "jobs.dlq");
                Some((*at, "parked", *id))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (120, "dead-lettered", 1),
            (140, "parked", 2),
            (160, "parked", 3)
        ]
    );

    let jobs = topic(&engine, "jobs");
    let g = &jobs.groups[0];
    assert_eq!(g.counters.received, 3);
    assert_eq!(g.counters.dead_lettered, 1, "only what reached the DLQ");
    assert_eq!(
        (g.parked, g.ready, g.backing_off, g.in_flight),
        (2, 0, 0, 0)
    );
    assert_eq!(
        g.counters.delivered, 6,
        "parked messages are not redelivered"
    );
    assert_eq!(jobs.parked(), 2);
    let dlq = topic(&engine, "jobs.dlq");
    assert_eq!(dlq.rejected, 0, "parking is not a refused publish");
    let dead = dlq.dead_letters.as_ref().expect("a dead-letter topic");
    assert_eq!(dead.sources, ["jobs"]);
    assert_eq!(dead.depth, 1);
    assert_eq!(dead.parked_at_sources, 2);
    assert_eq!(dead.oldest_age_ms, Some(1250 - 120));
    assert_eq!(dead.recent_errors.len(), 1);
    assert!(
        jobs.dead_letters.is_none(),
        "jobs is nobody's dead-letter topic"
    );

    // Payloads intact: the dead letter in the DLQ, the parked ones still held by `jobs`.
    let in_dlq = engine.messages("jobs.dlq", 10).await.expect("topic");
    assert_eq!(numbers(&in_dlq), [1]);
    let origin = in_dlq[0].dead_letter_of.as_ref().expect("origin");
    assert_eq!(
        (origin.topic.as_str(), origin.message, origin.attempts),
        ("jobs", 1, 2)
    );
    let parked = engine.messages("jobs", 10).await.expect("topic");
    assert_eq!(numbers(&parked), [2, 3], "parked payloads are kept");
    assert_balanced(&engine, "at the end");
}

#[tokio::test]
async fn a_redrive_sends_the_dead_letter_back_and_a_parked_one_takes_its_place() {
    let engine = start(dead_letter_scenario(100));
    for n in 1..=3 {
        publish(&engine, "jobs", "job.created", json!({ "n": n })).await;
    }
    advance(&engine, Duration::from_secs(1)).await;
    let mut stream = engine.subscribe();
    stream.drain();

    let outcome = engine.redrive("jobs.dlq", None).await.expect("redriven");
    assert_eq!((outcome.moved, outcome.left, outcome.parked), (1, 1, 1));
    assert_eq!(outcome.stopped, None);
    // Let the event forwarder run (no time passes).
    advance(&engine, Duration::ZERO).await;
    assert_balanced(&engine, "right after the redrive");

    let events = broker_events(&mut stream);
    let redriven: Vec<&BrokerEvent> = events
        .iter()
        .map(|(_, e)| e)
        .filter(|e| matches!(e, BrokerEvent::Redriven { .. }))
        .collect();
    assert_eq!(
        redriven,
        [&BrokerEvent::Redriven {
            topic: "jobs.dlq".into(),
            id: 4,
            to: "jobs".into(),
            new_id: 5,
        }],
        "the dead letter (#4 in the DLQ, #1 at first) goes back as a fresh #5"
    );
    // The oldest parked message (#2) moved into the room made.
    let moved_in: Vec<u64> = events
        .iter()
        .filter_map(|(_, e)| match e {
            BrokerEvent::DeadLettered { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(moved_in, [2]);
    let in_dlq = engine.messages("jobs.dlq", 10).await.expect("topic");
    assert_eq!(numbers(&in_dlq), [2]);
    let origin = in_dlq[0].dead_letter_of.as_ref().expect("origin");
    assert_eq!((origin.message, origin.attempts), (2, 2));
    let in_jobs = engine.messages("jobs", 10).await.expect("topic");
    assert_eq!(
        numbers(&in_jobs),
        [1, 3],
        "#1 back as a fresh message, #3 parked"
    );
    let back = in_jobs.iter().find(|m| m.payload["n"] == 1).expect("#1");
    assert_eq!((back.id, back.dead_letter_of.as_ref()), (5, None));

    let dlq = topic(&engine, "jobs.dlq");
    assert_eq!(dlq.redriven, 1);
    assert_eq!(dlq.groups[0].counters.redriven, 1);
    assert_eq!(
        dlq.groups[0].counters.acked, 1,
        "a redrive settles the dead letter"
    );

    // The fresh message gets its attempts again (two deliveries), then waits parked behind #3.
    advance(&engine, Duration::from_secs(1)).await;
    assert_balanced(&engine, "after the redrive's retries");
    let jobs = topic(&engine, "jobs");
    assert_eq!(jobs.groups[0].counters.delivered, 8);
    assert_eq!(jobs.parked(), 2);
    let report = serde_json::to_value(run_report_of(&engine)).expect("serialises");
    assert_eq!(report["broker"]["parked"], 2);
    assert_eq!(report["broker"]["redriven"], 1);
}

/// The report of `engine`'s run so far, from its latest snapshot.
fn run_report_of(engine: &EngineHandle) -> archsim::engine::Report {
    archsim::engine::Report::new(
        engine.scenario(),
        Clock::Virtual,
        engine.now(),
        &engine.snapshot(),
        &engine.history(),
    )
}

#[tokio::test]
async fn a_redrive_stops_at_a_full_origin_and_parked_messages_hold_their_room() {
    let engine = start(dead_letter_scenario(3));
    for n in 1..=3 {
        publish(&engine, "jobs", "job.created", json!({ "n": n })).await;
    }
    advance(&engine, Duration::from_secs(1)).await;
    // Two parked messages still take room in `jobs`: one more fits, then it refuses.
    publish(&engine, "jobs", "job.created", json!({ "n": 4 })).await;
    let refused = engine
        .publish("jobs", "job.created", json!({ "n": 5 }))
        .await;
    assert!(
        matches!(refused, Err(EngineError::Refused(_))),
        "{refused:?}"
    );

    let outcome = engine.redrive("jobs.dlq", None).await.expect("answered");
    assert_eq!((outcome.moved, outcome.left, outcome.parked), (0, 1, 2));
    let why = outcome.stopped.as_deref().unwrap_or_default();
    assert!(why.contains("jobs") && why.contains("full"), "{why}");
    assert!(outcome.describe().contains("0 dead letter(s) sent back"));
    assert_balanced(&engine, "after the refused redrive");

    let not_dead = engine.redrive("jobs", None).await;
    assert!(
        matches!(&not_dead, Err(EngineError::Refused(why)) if why.contains("not a dead-letter topic")),
        "{not_dead:?}"
    );
    let limited = engine.redrive("jobs.dlq", Some(0)).await.expect("answered");
    assert_eq!(
        (limited.moved, limited.stopped),
        (0, None),
        "a limit of 0 moves nothing"
    );
}

#[tokio::test]
async fn a_scheduled_redrive_fault_sends_dead_letters_back() {
    let engine = start(dead_letter_scenario(100));
    publish(&engine, "jobs", "job.created", json!({ "n": 1 })).await;
    advance(&engine, Duration::from_secs(1)).await;
    let said = engine
        .fault(
            FaultAction::Redrive {
                topic: "jobs.dlq".into(),
            },
            None,
        )
        .await
        .expect("applied");
    assert!(said.contains("1 dead letter(s) sent back"), "{said}");
    assert_eq!(topic(&engine, "jobs.dlq").redriven, 1);

    let text = common::scenario_text(
        11,
        r#"
[[topics]]
name = "jobs"
capacity = 10
dead_letter = "jobs.dlq"

[[topics]]
name = "jobs.dlq"
capacity = 10

[[faults]]
at_s = 5
kind = "redrive"
topic = "jobs.dlq"

[[faults]]
at_s = 6
kind = "redrive"
topic = "jobs"
"#,
    );
    let errors = load_str("test.toml", &text)
        .err()
        .map(|d| d.to_string())
        .unwrap_or_default();
    assert!(
        errors.contains("redrives `jobs`, which is not a dead-letter topic"),
        "{errors}"
    );
}

#[tokio::test]
async fn theory_and_utilisation_follow_the_live_workers() {
    let engine = Engine::spawn_with(
        scenario(
            r#"
[[topics]]
name = "jobs"
capacity = 100000

[[workers]]
name = "worker"
topic = "jobs"
concurrency = 4
service_time = { dist = "constant", ms = 100 }

[[traffic]]
name = "arrivals"
arrival = "constant"
rate_per_s = 20
publish = { topic = "jobs", event = "job" }
"#,
        ),
        Options::new(Clock::Virtual),
    )
    .expect("starts");
    let view = |engine: &EngineHandle| {
        engine
            .snapshot()
            .topics
            .iter()
            .find(|t| t.topic.name == "jobs")
            .cloned()
            .expect("jobs")
    };
    advance(&engine, Duration::from_secs(60)).await;
    let before = view(&engine);
    assert_eq!(before.live_workers, 4);
    let rho = before.theory.expect("theory").utilization;
    assert!(
        (rho - 0.5).abs() < 0.02,
        "20/s × 0.1 s over 4 workers: ρ {rho}"
    );
    assert!(
        (before.utilization - 0.5).abs() < 0.02,
        "measured {}",
        before.utilization
    );
    // Two workers die: the theory is for the two that serve, and the measured utilisation is
    // busy time over the worker time that was there — it rises, and never passes 100%.
    engine
        .fault(
            FaultAction::KillWorkers {
                pool: "worker".into(),
                count: 2,
            },
            None,
        )
        .await
        .expect("killed");
    advance(&engine, Duration::from_secs(60)).await;
    let after = view(&engine);
    assert_eq!(after.live_workers, 2);
    let rho = after.theory.expect("theory").utilization;
    assert!(
        (rho - 1.0).abs() < 0.03,
        "20/s × 0.1 s over 2 workers: ρ {rho}"
    );
    assert!(
        after.utilization > before.utilization + 0.15 && after.utilization <= 1.0,
        "{} → {}",
        before.utilization,
        after.utilization
    );
    // "Now" is the last 10 s: the two workers are saturated now, while the figure since the
    // start still averages in the first minute.
    let window = after.window.expect("a window");
    assert_eq!(window.seconds, 10.0);
    assert!(window.utilization > 0.97, "busy now {}", window.utilization);
    assert!(
        after.utilization < 0.85,
        "since start {}",
        after.utilization
    );
    assert!(
        (window.arrival_rate - 20.0).abs() < 1.0,
        "λ now {}",
        window.arrival_rate
    );
    let now_theory = window.theory.expect("theory now");
    assert!(
        now_theory.utilization >= 0.97,
        "ρ now {}",
        now_theory.utilization
    );
}
