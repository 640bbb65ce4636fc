//! Every duration, rate and count has an upper bound `check` enforces at its position, so a
//! scenario that passes `check` is one the engine can run: the values below once passed and
//! then panicked the engine (a TTL added to the clock, a backoff of 1e30 ms), starved it of
//! memory (1e12 requests a second) or ran nothing (a latency of 1e300 ms).

mod common;

use std::process::Command;

use archsim::scenario::{DEFAULT_SCENARIO, load_str};

const BIN: &str = env!("CARGO_BIN_EXE_archsim");

/// The default scenario with `from` replaced by `to`; its diagnostics, which must exist.
fn refused(from: &str, to: &str) -> (String, usize) {
    assert!(
        DEFAULT_SCENARIO.contains(from),
        "`{from}` is in the scenario"
    );
    let text = DEFAULT_SCENARIO.replacen(from, to, 1);
    let line = text
        .lines()
        .position(|l| l.contains(to))
        .map(|i| i + 1)
        .expect("the edit");
    match load_str("saas.toml", &text) {
        Ok(_) => panic!("`{to}` was accepted"),
        Err(diagnostics) => (diagnostics.to_string(), line),
    }
}

#[test]
fn values_the_engine_cannot_run_are_refused_where_they_are_written() {
    let cases = [
        ("cache_ttl_s = 30", "cache_ttl_s = 1e300", "up to 31536000"),
        ("cdn_ttl_s = 300", "cdn_ttl_s = 1e300", "up to 31536000"),
        (
            "initial_ms = 200, max_ms = 10000",
            "initial_ms = 1e30, max_ms = 1e30",
            "up to 86400000",
        ),
        ("mean_ms = 300 }", "mean_ms = 1e300 }", "up to 3600000"),
        ("rate_per_s = 20", "rate_per_s = 1e12", "up to 10000"),
        ("rate_per_s = 8", "rate_per_s = inf", "up to 10000"),
        ("multiplier = 3 }", "multiplier = 1e12 }", "up to 100"),
        (
            "token_ttl_s = 900",
            "token_ttl_s = 9223372036854775807",
            "31536000",
        ),
    ];
    for (from, to, help) in cases {
        let (errors, line) = refused(from, to);
        assert!(
            errors.contains(&format!("saas.toml:{line}:")),
            "{to}:\n{errors}"
        );
        assert!(
            errors.contains("is too large") || errors.contains("not a number the engine"),
            "{to}:\n{errors}"
        );
        assert!(
            errors.contains(help),
            "{to}: the help gives the bound:\n{errors}"
        );
    }
}

fn archsim(args: &[&str]) -> (i32, String) {
    let output = Command::new(BIN).args(args).output().expect("runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn command_line_durations_are_bounded_too() {
    let (code, err) = archsim(&["run", "--virtual", "--duration", "1e20"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at most 31536000 (a year)"), "{err}");
    let (code, err) = archsim(&["run", "--virtual", "--duration", "nan"]);
    assert_eq!(code, 2, "{err}");
    let (code, err) = archsim(&["token", "--as", "alice", "--ttl", "18446744073709551615"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("1..=31536000"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Found by the loader fuzz test: a seed row whose `id` is `i64::MAX` overflowed the next
/// generated id inside `check`. It loads now, and the API still creates rows after it (SQLite
/// picks a free id when the largest is taken).
#[tokio::test]
async fn a_seed_id_at_the_integer_limit_loads_and_leaves_room_to_create() {
    use archsim::engine::{ApiRequest, Clock, Engine, Options};
    use std::sync::Arc;

    let text = DEFAULT_SCENARIO.replacen(
        "{ id = 6, tenant_id = 3",
        "{ id = 9223372036854775807, tenant_id = 3",
        1,
    );
    assert_ne!(text, DEFAULT_SCENARIO, "the edit applies");
    let scenario = Arc::new(load_str("saas.toml", &text).unwrap_or_else(|d| panic!("{d}")));
    let engine = Engine::spawn_with(scenario.clone(), Options::quiet(Clock::Virtual))
        .expect("engine starts");
    let request = ApiRequest::as_persona(&scenario, "alice", "POST", "/api/v1/projects")
        .expect("alice")
        .json(&serde_json::json!({ "name": "After the limit" }));
    let exchange = engine.send(request).await.expect("sent");
    assert_eq!(exchange.status, 201, "{:?}", exchange.json());
}
