//! Benchmarks of the engine's hot paths, each beside a baseline measured in the same run so the
//! numbers that matter are ratios (see BENCHMARKS.md).
//!
//! - scenario: parse + validate the default scenario (baseline: TOML parse alone);
//! - pipeline: one request through every stage, cache hit (baseline: the public health check);
//! - broker: publish + lease + ack of one message (baseline: publish alone).

use std::hint::black_box;
use std::sync::Arc;

use archsim::engine::{Engine, Mode};
use archsim::scenario::{DEFAULT_SCENARIO, load_or_default, load_str};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn scenario(c: &mut Criterion) {
    let mut group = c.benchmark_group("scenario");
    group.bench_function("toml_parse_only (baseline)", |b| {
        b.iter(|| toml::de::DeTable::parse(black_box(DEFAULT_SCENARIO)).is_ok())
    });
    group.bench_function("load_and_validate", |b| {
        b.iter(|| load_str("saas.toml", black_box(DEFAULT_SCENARIO)).is_ok())
    });
    group.finish();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime")
}

fn pipeline(c: &mut Criterion) {
    let rt = runtime();
    let scenario = load_or_default(None).expect("default scenario");
    let mut relaxed = (*scenario).clone();
    relaxed.rate_limit.requests_per_second = 1e9;
    relaxed.rate_limit.burst = u32::MAX;
    relaxed.edge.waf_requests_per_minute = u32::MAX;
    let engine = rt
        .block_on(async { Engine::start(Arc::new(relaxed), Mode::Virtual) })
        .expect("engine");
    let mut group = c.benchmark_group("pipeline");
    group.bench_function("health_check (baseline)", |b| {
        b.to_async(&rt).iter(|| async {
            let request = engine
                .request_as("alice", "GET", "/api/v1/health")
                .expect("alice");
            engine.send(request).await.expect("sent").status
        })
    });
    group.bench_function("list_projects_cache_hit", |b| {
        b.to_async(&rt).iter(|| async {
            let request = engine
                .request_as("alice", "GET", "/api/v1/projects")
                .expect("alice");
            engine.send(request).await.expect("sent").status
        })
    });
    group.bench_function("get_project_uncached", |b| {
        b.to_async(&rt).iter(|| async {
            let request = engine
                .request_as("alice", "GET", "/api/v1/payments")
                .expect("alice");
            engine.send(request).await.expect("sent").status
        })
    });
    group.finish();
}

fn broker(c: &mut Criterion) {
    let rt = runtime();
    let scenario = load_or_default(None).expect("default scenario");
    let mut no_workers = (*scenario).clone();
    no_workers.workers.clear();
    let engine = rt
        .block_on(async { Engine::start(Arc::new(no_workers), Mode::Virtual) })
        .expect("engine");
    let broker = engine.core().broker.clone();
    let mut group = c.benchmark_group("broker");
    group.bench_function("publish_to_retained_topic (baseline)", |b| {
        b.iter(|| {
            broker
                .try_publish("payments.dlq", "e", json!(null), false)
                .is_ok()
        })
    });
    group.finish();
    drop(engine);
    let consumed = load_or_default(None).expect("default scenario");
    let mut paused = (*consumed).clone();
    for pool in &mut paused.workers {
        pool.concurrency = 0;
    }
    let engine = rt
        .block_on(async { Engine::start(Arc::new(paused), Mode::Virtual) })
        .expect("engine");
    let broker = engine.core().broker.clone();
    let topic = broker.topic_index("payments").expect("topic");
    let mut group = c.benchmark_group("broker");
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

criterion_group!(benches, scenario, pipeline, broker);
criterion_main!(benches);
