//! The broker, worker pools, traffic and faults, in virtual time: accounting, redelivery,
//! dead-lettering on an exact backoff timeline, backpressure, fan-out, determinism, and the
//! measured queues against queueing theory.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use archsim::cli::run::run_for;
use archsim::engine::broker::BrokerEvent;
use archsim::engine::sim::{SimOptions, Simulation};
use archsim::engine::theory::predict;
use archsim::engine::{Engine, Mode};
use archsim::scenario::{FaultAction, Scenario, load_or_default, load_str};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution as _, Exp};
use serde_json::json;

const HEADER: &str = r#"
[scenario]
name = "queue"
title = "Queue test"
seed = 11

[auth]
issuer = "https://auth.test"
audience = "test"
signing_key = "0123456789abcdef0123456789abcdef"
"#;

fn scenario(body: &str) -> Arc<Scenario> {
    let text = format!("{HEADER}{body}");
    Arc::new(load_str("test.toml", &text).unwrap_or_else(|d| panic!("invalid test scenario:\n{d}")))
}

fn start(scenario: Arc<Scenario>) -> Engine {
    Engine::start(scenario, Mode::Virtual).expect("engine starts")
}

/// Records every broker event with the engine time (ms) it happened at.
fn record_events(engine: &Engine) -> Arc<Mutex<Vec<(u64, BrokerEvent)>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut events = engine.core().broker.subscribe();
    let (sink, clock) = (log.clone(), engine.core().clock);
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            sink.lock()
                .expect("log")
                .push((clock.elapsed().as_millis() as u64, event));
        }
    });
    log
}

#[tokio::test(start_paused = true)]
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
    let log = record_events(&engine);
    let broker = engine.core().broker.clone();
    broker
        .try_publish("jobs", "job.created", json!({ "n": 1 }), false)
        .expect("room");
    tokio::time::sleep(Duration::from_secs(5)).await;

    let events = log.lock().expect("log").clone();
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
    let snapshot = broker.snapshot();
    let jobs = &snapshot[0];
    assert_eq!(
        jobs.groups[0].counters.delivered, 4,
        "exactly max_attempts deliveries"
    );
    assert_eq!(jobs.groups[0].counters.dead_lettered, 1);
    let dlq = broker.messages("jobs.dlq", 10);
    assert_eq!(dlq.len(), 1);
    let origin = dlq[0].dead_letter_of.as_ref().expect("origin recorded");
    assert_eq!(origin.attempts, 4);
    assert!(
        origin.last_error.contains("failed"),
        "{}",
        origin.last_error
    );
    assert!(broker.balanced());
}

#[tokio::test(start_paused = true)]
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
    let broker = engine.core().broker.clone();
    let pool = engine.pool("worker").expect("pool");
    broker
        .try_publish("jobs", "job.created", json!({}), false)
        .expect("room");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let killed = pool.kill(1);
    assert_eq!(killed.len(), 1, "the busy worker is the one killed");
    let group = &broker.snapshot()[0].groups[0];
    assert_eq!(
        (group.in_flight, group.counters.acked),
        (1, 0),
        "the dead worker still holds the lease"
    );
    // The lease runs out at 2000 ms; the surviving worker takes the message and acks it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let group = &broker.snapshot()[0].groups[0];
    assert_eq!(group.counters.delivered, 2);
    assert_eq!(group.counters.expired, 1);
    assert_eq!(group.counters.acked, 1);
    assert!(broker.balanced());
}

#[tokio::test(start_paused = true)]
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
    let broker = engine.core().broker.clone();
    let pool = engine.pool("worker").expect("pool");
    pool.set_extra_ms(300.0);
    broker
        .try_publish("jobs", "job.created", json!({}), false)
        .expect("room");
    tokio::time::sleep(Duration::from_millis(50)).await;
    pool.set_extra_ms(0.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let group = &broker.snapshot()[0].groups[0];
    // Worker A leases at 0 and needs 400 ms; its lease expires at 300 and worker B takes the
    // message (100 ms) and acks at 400. A's ack at 400 carries a stale lease and is ignored.
    assert_eq!(group.counters.delivered, 2);
    assert_eq!(group.counters.expired, 1);
    assert_eq!(group.counters.acked, 1, "acked exactly once by the group");
    assert!(broker.balanced());
}

#[tokio::test(start_paused = true)]
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
    let broker = engine.core().broker.clone();
    broker
        .try_publish("jobs", "job.created", json!({}), false)
        .expect("room");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let group = &broker.snapshot()[0].groups[0];
    assert_eq!(
        (
            group.counters.delivered,
            group.counters.acked,
            group.counters.dead_lettered
        ),
        (3, 0, 1)
    );
    assert!(broker.balanced());
}

#[tokio::test(start_paused = true)]
async fn a_full_topic_refuses_publishers_with_503_and_loses_nothing() {
    let text = load_or_default(None).expect("default");
    let mut scenario = (*text).clone();
    if let Some(topic) = scenario.topics.iter_mut().find(|t| t.name == "payments") {
        topic.capacity = 3;
    }
    let engine = start(Arc::new(scenario));
    let sim = Simulation::start(
        engine.clone(),
        SimOptions {
            traffic: false,
            faults: false,
        },
    );
    sim.inject(
        FaultAction::PauseTopic {
            topic: "payments".into(),
        },
        None,
    );
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let exchange = engine
            .send_named("alice-pays-invoice")
            .await
            .expect("sent")
            .remove(0);
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
    let payments = engine
        .core()
        .broker
        .snapshot()
        .into_iter()
        .find(|t| t.name == "payments")
        .expect("topic");
    assert_eq!((payments.published, payments.rejected), (3, 2));
    assert!(payments.balanced());
}

#[tokio::test(start_paused = true)]
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
    let broker = engine.core().broker.clone();
    broker
        .try_publish("jobs", "a", json!({}), false)
        .expect("room");
    let started = tokio::time::Instant::now();
    // The worker acks the first at 200 ms: the second publish gets in after waiting 200 ms.
    broker
        .publish("jobs", "b", json!({}))
        .await
        .expect("room after the ack");
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    // Now the worker holds "b" for 200 ms; a third publish waits 250 ms… and gets room at 400.
    tokio::time::sleep(Duration::from_millis(1)).await;
    broker
        .try_publish("jobs", "c", json!({}), false)
        .expect_err("full while b is in flight");
    let waited = tokio::time::Instant::now();
    broker
        .publish("jobs", "d", json!({}))
        .await
        .expect("room within 250 ms");
    assert!(waited.elapsed() <= Duration::from_millis(250));
    assert!(broker.balanced());
}

#[tokio::test(start_paused = true)]
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
    let broker = engine.core().broker.clone();
    for n in 0..50 {
        broker
            .try_publish("orders", "order.placed", json!({ "n": n }), false)
            .expect("room");
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let orders = &broker.snapshot()[0];
    let acked: Vec<(&str, u64)> = orders
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.counters.acked))
        .collect();
    assert_eq!(acked, [("billing", 50), ("shipping", 50)]);
    assert!(orders.balanced());
}

#[tokio::test(start_paused = true)]
async fn a_completed_payment_fans_out_to_webhooks_and_analytics() {
    let mut scenario = (*load_or_default(None).expect("default")).clone();
    for pool in &mut scenario.workers {
        pool.failure_probability = 0.0;
    }
    let engine = start(Arc::new(scenario));
    let exchange = engine
        .send_named("alice-pays-invoice")
        .await
        .expect("sent")
        .remove(0);
    assert_eq!(exchange.status, 201);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let topics = engine.core().broker.snapshot();
    let acked = |name: &str| {
        topics
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.sum(|g| g.counters.acked))
    };
    assert_eq!(acked("payments"), Some(1));
    assert_eq!(acked("webhooks"), Some(1));
    assert_eq!(acked("analytics"), Some(1));
}

fn run_report(seed: u64, seconds: u64) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let mut scenario = (*load_or_default(None).expect("default")).clone();
    scenario.meta.seed = seed;
    let report = runtime
        .block_on(run_for(
            Arc::new(scenario),
            Mode::Virtual,
            Duration::from_secs(seconds),
        ))
        .expect("runs");
    serde_json::to_string(&report).expect("serialises")
}

#[test]
fn the_same_seed_gives_the_same_report_byte_for_byte() {
    let first = run_report(7, 120);
    assert_eq!(first, run_report(7, 120));
    assert_ne!(first, run_report(8, 120), "another seed, another run");
}

/// Poisson arrivals into one topic consumed by `servers` workers with exponential service
/// (400 000 messages keep the sampling error of the mean wait near ±2.5% at ρ = 0.8; seeds 1–3
/// measured −1.9%, −0.8%, +2.1% for M/M/1 and −2.5%, −0.7%, +2.1% for M/M/4):
/// returns (measured mean wait ms, predicted mean wait ms, mean queue length, λ·W).
async fn measure_queue(
    servers: u32,
    service_ms: f64,
    utilization: f64,
    messages: u64,
    seed: u64,
) -> (f64, f64, f64, f64) {
    let engine = start(scenario(&format!(
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
"#
    )));
    let broker = engine.core().broker.clone();
    let lambda = utilization * f64::from(servers) * 1000.0 / service_ms;
    let mut rng = StdRng::seed_from_u64(seed);
    let gaps = Exp::new(lambda).expect("rate");
    // Arrival instants are accumulated exactly; only each wake-up is rounded to the timer's
    // millisecond, so the arrival rate stays λ.
    let origin = tokio::time::Instant::now();
    let mut at = 0.0;
    for _ in 0..messages {
        at += gaps.sample(&mut rng);
        tokio::time::sleep_until(origin + Duration::from_secs_f64(at)).await;
        broker
            .try_publish("jobs", "job", json!(null), false)
            .expect("room");
    }
    let topic = &broker.snapshot()[0];
    let wait = topic.wait_ms.mean;
    let measured_lambda =
        topic.sum(|g| g.counters.delivered) as f64 / engine.core().clock.elapsed().as_secs_f64();
    let predicted = predict(lambda, service_ms, servers, 1.0, 1.0).wait_ms_mean;
    (
        wait,
        predicted,
        topic.mean_queue_length,
        measured_lambda * wait / 1000.0,
    )
}

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
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
        _ => FaultAction::TrafficSpike { multiplier: 3.0 },
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 10, ..proptest::prelude::ProptestConfig::default() })]

    /// Whatever faults hit the system and whenever, every message stays accounted for — checked
    /// every engine second, not only at the end.
    #[test]
    fn no_message_is_lost_under_random_fault_schedules(
        faults in proptest::collection::vec((0u64..40, 0usize..8, 1u64..15), 0..6),
        seed in 0u64..1000,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("runtime");
        runtime.block_on(async {
            let mut scenario = (*load_or_default(None).expect("default")).clone();
            scenario.meta.seed = seed;
            for topic in &mut scenario.topics {
                topic.capacity = topic.capacity.min(40);
            }
            let engine = start(Arc::new(scenario));
            let sim = Simulation::start(engine.clone(), SimOptions { traffic: true, faults: false });
            for second in 0..45 {
                for (at, kind, duration) in &faults {
                    if *at == second {
                        sim.inject(fault(*kind), Some(Duration::from_secs(*duration)));
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                assert!(engine.core().broker.balanced(), "books do not balance at {second} s with faults {faults:?}");
            }
            let snapshot = sim.snapshot();
            assert!(snapshot.no_message_lost);
            assert!(snapshot.topics.iter().any(|t| t.topic.published > 0), "traffic produced messages");
        });
    }
}

#[tokio::test(start_paused = true)]
async fn the_event_stream_starts_ready_and_reports_faults_and_worker_crashes() {
    let engine = start(load_or_default(None).expect("default"));
    let sim = Simulation::start(
        engine.clone(),
        SimOptions {
            traffic: false,
            faults: false,
        },
    );
    let mut events = sim.subscribe();
    sim.inject(
        FaultAction::KillWorkers {
            pool: "payment-processor".into(),
            count: 1,
        },
        Some(Duration::from_secs(1)),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(serde_json::to_value(&event).expect("serialises"));
    }
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
