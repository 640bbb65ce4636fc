//! `scenarios/harsh-payments.toml` in virtual time: tiny topics, full dead-letter topics, short
//! leases, killed workers and poison messages — and still no orphan row, no message lost, no
//! effect applied twice, and every payment's status where the ledger says.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use archsim::engine::{Clock, Engine, EngineHandle};
use archsim::scenario::load_file;
use serde_json::Value;

fn harsh() -> EngineHandle {
    let scenario = load_file(Path::new("scenarios/harsh-payments.toml")).expect("valid scenario");
    Engine::spawn(Arc::new(scenario), Clock::Virtual).expect("starts")
}

async fn rows(engine: &EngineHandle, table: &str) -> Vec<serde_json::Map<String, Value>> {
    engine.rows(table, None).await.expect("rows").rows
}

#[tokio::test]
async fn harsh_payments_loses_nothing_and_applies_nothing_twice() {
    let engine = harsh();
    // Past the first spike (40–70 s), kills, a poison message and the first redrives.
    engine
        .advance(Duration::from_secs(150))
        .await
        .expect("runs");
    let snapshot = engine.snapshot();
    assert_eq!(snapshot.orphaned_writes, 0, "the outbox leaves no orphan");
    assert!(snapshot.ledger.holds(), "{:?}", snapshot.ledger);
    assert_eq!(snapshot.effects.repeated, 0, "{:?}", snapshot.effects);
    assert!(snapshot.no_message_lost);
    // The harshness is real: leases ran out under slow charges, so duplicates were delivered
    // — and skipped — and the tiny topics made events wait in the outbox.
    assert!(
        snapshot.effects.duplicates_skipped > 0,
        "{:?}",
        snapshot.effects
    );
    assert!(snapshot.outbox.relayed > 0);

    // Each payment settled at most once: at most one analytics row per completed payment.
    let analytics = rows(&engine, "analytics_events").await;
    let mut per_payment = std::collections::BTreeMap::<i64, u32>::new();
    for row in analytics
        .iter()
        .filter(|r| r["event"] == "payment.completed")
    {
        *per_payment
            .entry(row["subject_id"].as_i64().expect("id"))
            .or_default() += 1;
    }
    assert!(
        per_payment.values().all(|&n| n == 1),
        "a payment announced twice"
    );
    // Payment rows agree with the workers: completed and failed ones carry the time they were
    // settled, pending ones none; and every payment analytics saw as completed is completed.
    let payments = rows(&engine, "payments").await;
    let status_of = |id: i64| {
        payments
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["status"].clone())
    };
    for payment in &payments {
        let settled = !payment["settled_at"].is_null();
        match payment["status"].as_str() {
            Some("completed") | Some("failed") => {
                assert!(settled || payment["id"] == 1, "{payment:?}")
            }
            Some("pending") => assert!(!settled, "{payment:?}"),
            other => panic!("unexpected status {other:?}"),
        }
    }
    for id in per_payment.keys() {
        assert_eq!(
            status_of(*id),
            Some(Value::from("completed")),
            "payment {id}"
        );
    }
    let completed = payments
        .iter()
        .filter(|p| p["status"] == "completed")
        .count();
    assert!(completed > 100, "only {completed} payments completed");
}

#[tokio::test]
async fn the_same_schedule_with_a_dual_write_leaves_orphaned_payments() {
    let text = std::fs::read_to_string("scenarios/harsh-payments.toml").expect("readable");
    let marker = r#"publishes = [{ topic = "payments", event = "payment.requested" }]"#;
    assert!(text.contains(marker), "the payments route publishes");
    let direct = text.replacen(marker, &format!("{marker}\npublish = \"direct\""), 1);
    let scenario = archsim::scenario::load_str("harsh-direct.toml", &direct).expect("valid");
    let engine = Engine::spawn(Arc::new(scenario), Clock::Virtual).expect("starts");
    engine
        .advance(Duration::from_secs(150))
        .await
        .expect("runs");
    let snapshot = engine.snapshot();
    // Written, then refused by the full topic: rows no message will ever settle.
    assert!(snapshot.orphaned_writes > 0, "{}", snapshot.orphaned_writes);
    let pending = rows(&engine, "payments")
        .await
        .into_iter()
        .filter(|p| p["status"] == "pending")
        .count() as u64;
    assert!(pending >= snapshot.orphaned_writes);
}
