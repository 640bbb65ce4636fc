//! Inputs the `cargo fuzz` targets (`fuzz/`, nightly, not run by CI) produced, kept on the stable
//! toolchain under `cargo test`: each is held to the oracle of the target that found it.
//!
//! - `scenario_loader`: any text either loads, or is refused with diagnostics that lie inside
//!   the text and render as `FILE:LINE:COL: …`; a scenario that loads also runs.
//! - `http_request`: no request gets a 500, every error is the JSON error shape, and no answer
//!   carries internals (SQL, Rust Debug text, source paths).
//!
//! `fuzz/README.md` says which input is a crash the fuzzer found and which is only an
//! interesting input it reached (deep in validation or the pipeline) kept as a guard.

use std::sync::Arc;
use std::time::Duration;

use archsim::engine::{ApiRequest, Clock, Engine, EngineHandle, Exchange, Options};
use archsim::scenario::{DEFAULT_SCENARIO, Diagnostics, load_or_default, load_str};

// ── scenario_loader ──────────────────────────────────────────────────────────────────────────

/// The loader's contract on `text`: refused with positioned, explained diagnostics (returned),
/// or loaded, in which case the engine starts and two virtual seconds pass.
fn load_or_explain(text: &str) -> Option<Diagnostics> {
    match load_str("fuzz.toml", text) {
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty());
            for item in diagnostics.items() {
                assert!(item.span.start <= item.span.end && item.span.end <= text.len());
                assert!(!item.message.trim().is_empty() && !item.help.trim().is_empty());
            }
            let line_count = text.matches('\n').count() + 1;
            for at in diagnostics.located() {
                assert!(
                    at.line >= 1 && at.column >= 1 && at.line <= line_count,
                    "{at:?}"
                );
            }
            assert!(diagnostics.render().starts_with("fuzz.toml:"));
            assert!(!diagnostics.to_string().is_empty());
            Some(diagnostics)
        }
        Ok(scenario) => {
            if let Ok(engine) = Engine::spawn_with(Arc::new(scenario), Options::new(Clock::Virtual))
            {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("runtime");
                let advanced = runtime.block_on(engine.advance(Duration::from_secs(2)));
                assert!(advanced.is_ok(), "the engine stopped: {advanced:?}");
            }
            None
        }
    }
}

// ── http_request ─────────────────────────────────────────────────────────────────────────────

/// Text that must never reach a client.
const INTERNALS: &[&str] = &[
    "sqlite",
    "constraint failed",
    "SELECT ",
    "INSERT INTO",
    "Error(",
    "line: 1, column:",
    "Some(",
    ".rs:",
    "panicked",
    "thread '",
];

fn engine() -> EngineHandle {
    let scenario = load_or_default(None).expect("default scenario");
    Engine::spawn_with(scenario, Options::quiet(Clock::Virtual)).expect("engine starts")
}

/// The `http_request` target's oracle on one answer.
fn assert_answer_is_clean(exchange: &Exchange) {
    let body = String::from_utf8_lossy(&exchange.body);
    assert_ne!(exchange.status, 500, "{body}");
    for needle in INTERNALS {
        assert!(!body.contains(needle), "{needle:?} in {body}");
        for (name, value) in &exchange.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(!value.contains(needle), "{needle:?} in {name}: {value}");
        }
    }
    if exchange.status >= 400 {
        let json = exchange.json().unwrap_or_default();
        let error = &json["error"];
        assert_eq!(error["status"], exchange.status, "{body}");
        assert!(
            error["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{body}"
        );
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
}

/// The default scenario still loads and runs (the base every loader input is an edit of).
#[test]
fn the_default_scenario_loads_and_runs() {
    assert!(load_or_explain(DEFAULT_SCENARIO).is_none());
}

#[tokio::test]
async fn a_plain_health_check_is_clean() {
    let engine = engine();
    let request = ApiRequest::new("GET", "/api/v1/health", "acme.archsim.test");
    let exchange = engine.send(request).await.expect("sent");
    assert_answer_is_clean(&exchange);
}

/// Crash found by `http_request` (its first minutes): `HEAD /api/v1/health` answered 500 with an
/// empty body. axum serves HEAD with the GET handler, but the gateway looked the route up by the
/// literal method, found none, took the request for a static asset (public: no authentication)
/// and the controller, given no route, failed. HEAD is now served by the GET route.
#[tokio::test]
async fn head_is_served_by_the_get_route_not_a_500() {
    let engine = engine();
    let health = ApiRequest::new("HEAD", "/api/v1/health", "acme.archsim.test");
    let exchange = engine.send(health).await.expect("sent");
    assert_eq!(exchange.status, 200);
    assert!(exchange.body.is_empty(), "a HEAD answer has no body");

    // Not public because it is HEAD: the GET route's authentication applies.
    let anonymous = ApiRequest::new("HEAD", "/api/v1/projects", "acme.archsim.test");
    let exchange = engine.send(anonymous).await.expect("sent");
    assert_eq!(exchange.status, 401);

    let alice =
        ApiRequest::as_persona(engine.scenario(), "alice", "HEAD", "/api/v1/projects/1").unwrap();
    let exchange = engine.send(alice).await.expect("sent");
    assert_eq!(exchange.status, 200);
    assert!(exchange.body.is_empty());
}

// Not crashes: inputs `scenario_loader` reached (edits of the default scenario) whose answer is
// a refusal deep in validation, kept so each stays a positioned error and never a panic.

/// The default scenario with each `(from, to)` replaced once.
fn edited(edits: &[(&str, &str)]) -> String {
    edits
        .iter()
        .fold(DEFAULT_SCENARIO.to_string(), |text, (from, to)| {
            assert!(text.contains(from), "`{from}` is in the scenario");
            text.replacen(from, to, 1)
        })
}

/// The first diagnostic's `LINE:COL` and message.
fn first(diagnostics: &Diagnostics) -> (String, String) {
    let at = &diagnostics.located()[0];
    (
        format!("{}:{}", at.line, at.column),
        diagnostics.items()[0].message.clone(),
    )
}

#[test]
fn a_stage_latency_of_3e180_ms_is_refused_at_its_value() {
    let text = edited(&[(
        "latency = { dist = \"constant\", ms = 0.5 }\nnext = [\"cache\"]",
        "latency = { dist = \"constant\", ms = 3.1709582338609964e180}\nnext = [\"cache\"]",
    )]);
    let diagnostics = load_or_explain(&text).expect("refused");
    let (at, message) = first(&diagnostics);
    assert_eq!(at, "503:37");
    assert!(
        message.contains("is too large in `stages.latency.ms`"),
        "{message}"
    );
}

#[test]
fn a_seed_row_with_a_float_tenant_id_is_refused_at_the_row() {
    let text = edited(&[(
        "{ id = 3, tenant_id = 1, name = \"Anvil logistics\"",
        "{ id = 3, tenant_id = 0.0, name = \"Anvil logistics\"",
    )]);
    let diagnostics = load_or_explain(&text).expect("refused");
    let (at, message) = first(&diagnostics);
    assert_eq!(at, "225:25");
    assert_eq!(
        message,
        "`projects.tenant_id` is integer, but this row gives it a float"
    );
}

/// Two values swapped across the file (a column's name and a stage id): the seed rows now lack
/// the renamed column, and the stage graph points at a stage id that moved.
#[test]
fn a_column_name_swapped_with_a_stage_id_is_refused_at_the_first_row() {
    let text = edited(&[
        (
            "{ name = \"due_at\", type = \"timestamp\" }",
            "{ name = \"response\", type = \"timestamp\" }",
        ),
        ("id = \"response\"", "id = \"due_at\""),
    ]);
    let diagnostics = load_or_explain(&text).expect("refused");
    let (at, message) = first(&diagnostics);
    assert_eq!(at, "249:3");
    assert_eq!(
        message,
        "row of `invoices` has no value for required column `response`"
    );
}

/// The file cut off after `[cache]`: no tenants, personas, tables, routes or stages. It is a
/// valid scenario, and the engine runs it (nothing to do, nothing to crash).
#[test]
fn the_default_scenario_cut_before_its_tenants_loads_and_runs() {
    let cut = DEFAULT_SCENARIO
        .find("# ── Tenants")
        .expect("the tenants section");
    assert!(load_or_explain(&DEFAULT_SCENARIO[..cut]).is_none());
}
