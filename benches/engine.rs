//! Benchmarks of the engine's hot paths, each beside a baseline measured in the same run so the
//! numbers that matter are ratios (see BENCHMARKS.md).
//!
//! - scenario: parse + validate the default scenario (baseline: TOML parse alone);
//! - pipeline: one request through every stage via the engine handle, as every client sends it
//!   (baseline: the public health check through the same handle);
//! - the broker's own micro-benchmarks are in `benches/broker.rs` (feature `internals`).

use std::hint::black_box;
use std::sync::Arc;

use archsim::engine::{ApiRequest, Clock, Engine, Options};
use archsim::scenario::{DEFAULT_SCENARIO, load_or_default, load_str};
use criterion::{Criterion, criterion_group, criterion_main};

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

fn pipeline(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let scenario = load_or_default(None).expect("default scenario");
    let mut relaxed = (*scenario).clone();
    relaxed.rate_limit.requests_per_second = 1e9;
    relaxed.rate_limit.burst = u32::MAX;
    relaxed.edge.waf_requests_per_minute = u32::MAX;
    let relaxed = Arc::new(relaxed);
    let engine =
        Engine::spawn_with(relaxed.clone(), Options::quiet(Clock::Virtual)).expect("engine");
    let request =
        |path: &str| ApiRequest::as_persona(&relaxed, "alice", "GET", path).expect("alice");
    let mut group = c.benchmark_group("pipeline");
    for (name, path) in [
        ("health_check (baseline)", "/api/v1/health"),
        ("list_projects_cache_hit", "/api/v1/projects"),
        ("get_project_uncached", "/api/v1/payments"),
    ] {
        let request = request(path);
        group.bench_function(name, |b| {
            b.to_async(&rt)
                .iter(|| async { engine.send(request.clone()).await.expect("sent").status })
        });
    }
    group.finish();
}

criterion_group!(benches, scenario, pipeline);
criterion_main!(benches);
