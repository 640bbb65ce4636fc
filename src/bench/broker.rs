//! The broker against the cheapest queue there is: publish, lease and ack through the broker
//! (with its ledger, retries and accounting) against a bounded tokio mpsc channel's send and
//! receive, for one message and for a batch of 1,000.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::timing::interleaved;
use super::{Effort, Row, Verdict, time};
use crate::engine::Epoch;
use crate::engine::broker::Broker;
use crate::engine::clock::EngineClock;
use crate::engine::latency::SeededRng;
use crate::scenario::load_or_default;

/// Messages in a batch.
const BATCH: usize = 1000;
/// The topic measured: the default scenario's largest (10,000 messages), so a batch fits.
const TOPIC: &str = "analytics";
/// The target: at most this many times a channel's cost per message.
const TARGET: f64 = 2.0;

/// Both rows: one message, then a batch.
pub fn measure(effort: Effort) -> Vec<Row> {
    let (rounds, slice) = match effort {
        Effort::Quick => (5, Duration::from_millis(100)),
        Effort::Full => (11, Duration::from_millis(300)),
    };
    // The broker reads the engine clock, which is tokio's: a paused runtime keeps it still.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return vec![failed("broker", &error.to_string())],
    };
    let _entered = runtime.enter();
    let scenario = match load_or_default(None) {
        Ok(scenario) => scenario,
        Err(error) => return vec![failed("broker", &format!("{error:?}"))],
    };
    let broker = Broker::new(
        &scenario,
        EngineClock::at(Epoch::Fixed),
        Arc::new(SeededRng::new(1)),
    );
    // A topic with room for a whole batch: a publish refused as full would cost less than one
    // carried, and must not count as one.
    let Some(topic) = broker.topic_index(TOPIC) else {
        return vec![failed(
            "broker",
            "the default scenario has no `analytics` topic",
        )];
    };
    let (sender, mut receiver) = mpsc::channel::<Value>(BATCH);

    let mut round_trip = || {
        if broker
            .try_publish(TOPIC, "bench", Value::Null, false)
            .is_ok()
            && let Some(delivery) = broker.lease(topic, 0, 0)
            && broker.ack(&delivery)
        {
            1
        } else {
            0
        }
    };
    let mut channel_round_trip = || {
        let _ = sender.try_send(Value::Null);
        let _ = receiver.try_recv();
        1
    };
    let (one, one_base) = interleaved(rounds, slice, &mut round_trip, &mut channel_round_trip);

    let mut batch = || {
        for _ in 0..BATCH {
            let _ = broker.try_publish(TOPIC, "bench", Value::Null, false);
        }
        // Only messages carried all the way count.
        let mut acked = 0;
        while let Some(delivery) = broker.lease(topic, 0, 0) {
            acked += u64::from(broker.ack(&delivery));
        }
        acked
    };
    let mut channel_batch = || {
        for _ in 0..BATCH {
            let _ = sender.try_send(Value::Null);
        }
        while receiver.try_recv().is_ok() {}
        BATCH as u64
    };
    let (many, many_base) = interleaved(rounds, slice, &mut batch, &mut channel_batch);
    vec![
        cost_row(
            "broker: publish + lease + ack, one message",
            one,
            one_base,
            "tokio mpsc send + recv",
        ),
        cost_row(
            "broker: publish 1,000 then drain, per message",
            many,
            many_base,
            "tokio mpsc, 1,000 then drain",
        ),
    ]
}

/// A row comparing costs per message (the inverse of the rates).
fn cost_row(measure: &'static str, rate: f64, base_rate: f64, baseline: &str) -> Row {
    let times = base_rate / rate;
    Row {
        measure,
        archsim: time(1.0 / rate),
        baseline: format!("{baseline}: {}", time(1.0 / base_rate)),
        ratio: format!("{times:.1}× the cost"),
        target: "≤ 2× the cost",
        verdict: if times <= TARGET {
            Verdict::Met
        } else {
            Verdict::Missed
        },
        note: String::new(),
    }
}

fn failed(measure: &'static str, why: &str) -> Row {
    Row {
        measure,
        archsim: "—".into(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: "≤ 2× the cost",
        verdict: Verdict::Skipped,
        note: format!("could not run: {why}"),
    }
}
