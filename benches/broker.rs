//! Micro-benchmarks of the broker itself, below the engine's front door (feature `internals`):
//! publish + lease + ack of one message, beside publishing alone as the baseline.
//! `cargo bench --features internals --bench broker`.

use std::sync::Arc;

use archsim::engine::Epoch;
use archsim::engine::internals::{Broker, EngineClock, SeededRng};
use archsim::scenario::load_or_default;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn broker(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let _entered = rt.enter();
    let scenario = load_or_default(None).expect("default scenario");
    let broker = Broker::new(
        &scenario,
        EngineClock::at(Epoch::Fixed),
        Arc::new(SeededRng::new(1)),
    );
    let topic = broker.topic_index("payments").expect("topic");
    let mut group = c.benchmark_group("broker");
    group.bench_function("publish_to_retained_topic (baseline)", |b| {
        b.iter(|| {
            broker
                .try_publish("payments.dlq", "e", json!(null), false)
                .is_ok()
        })
    });
    group.bench_function("publish_lease_ack", |b| {
        b.iter(|| {
            broker
                .try_publish("payments", "e", json!(null), false)
                .expect("room");
            let delivery = broker.lease(topic, 0, 0).expect("ready");
            broker.ack(&delivery)
        })
    });
    group.finish();
}

criterion_group!(benches, broker);
criterion_main!(benches);
