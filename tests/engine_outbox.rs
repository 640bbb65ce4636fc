//! The transactional outbox against the dual write, in virtual time: with the outbox a full
//! topic never fails a payment nor leaves a row without its event, and the relay publishes the
//! deferred events once there is room; with `publish = "direct"` the same load leaves orphan
//! rows and 503s.

use std::sync::Arc;
use std::time::Duration;

use archsim::engine::{ApiRequest, Clock, Engine, EngineHandle, Options, StageDetail};
use archsim::scenario::{PublishMode, Scenario, StageKind, load_or_default};

/// The default scenario with a payments topic of 2 and no payment worker yet, so it fills.
fn tight(mode: PublishMode) -> Arc<Scenario> {
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
        route.publish_mode = mode;
    }
    Arc::new(scenario)
}

async fn pay(engine: &EngineHandle, times: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..times {
        let request = ApiRequest::named(engine.scenario(), "alice-pays-invoice").expect("named");
        statuses.push(engine.send(request).await.expect("sent").status);
    }
    statuses
}

async fn payment_rows(engine: &EngineHandle) -> usize {
    engine
        .rows("payments", Some(1))
        .await
        .expect("rows")
        .rows
        .len()
}

#[tokio::test]
async fn with_the_outbox_a_full_topic_defers_events_and_the_relay_publishes_them_later() {
    let engine = Engine::spawn_with(tight(PublishMode::Outbox), Options::quiet(Clock::Virtual))
        .expect("starts");
    let before = payment_rows(&engine).await;
    assert_eq!(
        pay(&engine, 5).await,
        [201; 5],
        "a full topic fails no payment"
    );
    assert_eq!(payment_rows(&engine).await, before + 5);
    let snapshot = engine.fresh_snapshot().await.expect("snapshot");
    assert_eq!(
        snapshot.outbox.pending, 3,
        "two fit in the topic, three wait in the outbox"
    );
    assert_eq!(snapshot.outbox.relayed, 2);
    assert_eq!(snapshot.orphaned_writes, 0);

    // The trace shows the outbox row inside the database stage and the deferral at publish.
    let request = ApiRequest::named(engine.scenario(), "alice-pays-invoice").expect("named");
    let exchange = engine.send(request).await.expect("sent");
    let database = exchange
        .trace
        .stage(StageKind::Database)
        .expect("database stage");
    let StageDetail::Database(detail) = &database.detail else {
        panic!("database detail");
    };
    assert_eq!(detail.outbox.len(), 1);
    assert!(detail.outbox[0].sql.starts_with("INSERT INTO \"_outbox\""));
    let publish = exchange
        .trace
        .stage(StageKind::BrokerPublish)
        .expect("publish stage");
    let StageDetail::BrokerPublish(detail) = &publish.detail else {
        panic!("publish detail");
    };
    assert!(detail.published.is_empty());
    assert_eq!(detail.deferred.len(), 1);
    assert!(
        publish.summary().contains("relay later"),
        "{}",
        publish.summary()
    );

    // Workers arrive, the topic drains, and the relay catches up.
    engine
        .execute(archsim::engine::Command::AddWorker {
            pool: "payment-processor".into(),
        })
        .await
        .expect("a worker");
    engine.advance(Duration::from_secs(30)).await.expect("time");
    let snapshot = engine.fresh_snapshot().await.expect("snapshot");
    assert_eq!(snapshot.outbox.pending, 0, "{:?}", snapshot.outbox);
    // The 6 payment events, and the 2 follow-ups (webhook, analytics) of each settled payment:
    // the workers publish theirs through the outbox too.
    assert_eq!(snapshot.outbox.relayed, 6 + 2 * 6);
    let payments = snapshot
        .topics
        .iter()
        .find(|t| t.topic.name == "payments")
        .expect("payments");
    assert_eq!(payments.topic.published, 6, "every payment's event, once");
    assert!(snapshot.no_message_lost);
}

#[tokio::test]
async fn the_dual_write_leaves_orphan_rows_and_503s_under_the_same_load() {
    let engine = Engine::spawn_with(tight(PublishMode::Direct), Options::quiet(Clock::Virtual))
        .expect("starts");
    let before = payment_rows(&engine).await;
    let statuses = pay(&engine, 5).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 2);
    assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 3);
    // Every attempt wrote its row, answered or not: three rows have no event.
    assert_eq!(payment_rows(&engine).await, before + 5);
    let snapshot = engine.fresh_snapshot().await.expect("snapshot");
    assert_eq!(snapshot.orphaned_writes, 3);
    assert_eq!(snapshot.outbox.pending + snapshot.outbox.relayed, 0);
}
