//! The JSON contracts other tools read (DESIGN.md §4): every documented key of `run --json` and
//! `trace --json` is there with the right type, and a virtual run is reproducible byte for byte.
//! A renamed or dropped key fails here, not in someone's dashboard.

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;

/// `archsim ARGS` as a process; its stdout.
fn stdout_of(args: &[&str]) -> String {
    let output = cargo_bin_cmd!("archsim").args(args).output().expect("runs");
    assert!(
        output.status.success(),
        "archsim {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// The value at a `/`-separated path; `*` means "every element of this array".
fn at<'a>(value: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![value];
    for key in path.split('/') {
        current = current
            .into_iter()
            .flat_map(|v| match (key, v) {
                ("*", Value::Array(items)) => items.iter().collect::<Vec<_>>(),
                (key, Value::Object(map)) => map.get(key).into_iter().collect(),
                _ => Vec::new(),
            })
            .collect();
    }
    current
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Number,
    Text,
    Bool,
    Object,
    Array,
    /// A number, or null where theory has no answer (ρ ≥ 1).
    NumberOrNull,
}

fn check(document: &Value, contract: &[(&str, Kind)]) {
    for &(path, kind) in contract {
        let found = at(document, path);
        assert!(!found.is_empty(), "documented key `{path}` is missing");
        for value in found {
            let ok = match kind {
                Kind::Number => value.is_number(),
                Kind::Text => value.is_string(),
                Kind::Bool => value.is_boolean(),
                Kind::Object => value.is_object(),
                Kind::Array => value.is_array(),
                Kind::NumberOrNull => value.is_number() || value.is_null(),
            };
            assert!(ok, "`{path}` should be {kind:?}, is {value}");
        }
    }
}

#[test]
fn run_json_keeps_every_documented_key_and_replays_byte_for_byte() {
    use Kind::*;
    let args = ["run", "--virtual", "--duration", "30", "--json"];
    let first = stdout_of(&args);
    assert_eq!(
        first,
        stdout_of(&args),
        "same scenario and seed, same report"
    );
    let report: Value = serde_json::from_str(&first).expect("JSON");
    check(
        &report,
        &[
            ("scenario", Text),
            ("seed", Number),
            ("mode", Text),
            ("duration_s", Number),
            ("requests/sent", Number),
            ("requests/by_status", Object),
            ("requests/latency_ms/p50", Number),
            ("requests/latency_ms/p95", Number),
            ("requests/latency_ms/p99", Number),
            ("requests/latency_ms/max", Number),
            ("requests/late", Number),
            ("requests/goodput", Number),
            ("cache/hits", Number),
            ("cache/misses", Number),
            ("cache/hit_ratio", Number),
            ("broker/published", Number),
            ("broker/acked", Number),
            ("broker/retried", Number),
            ("broker/dead_lettered", Number),
            ("broker/in_flight", Number),
            ("broker/queued", Number),
            ("broker/rejected", Number),
            ("topics", Array),
            ("topics/*/name", Text),
            ("topics/*/published", Number),
            ("topics/*/acked", Number),
            ("topics/*/dead_lettered", Number),
            ("topics/*/workers", Number),
            ("topics/*/arrival_rate", Number),
            ("topics/*/wait_ms/mean", Number),
            ("topics/*/wait_ms/p50", Number),
            ("topics/*/wait_ms/p99", Number),
            ("topics/*/service_ms/mean", Number),
            ("topics/*/utilization", Number),
            ("topics/*/littles_law/mean_queue_length", Number),
            ("topics/*/refused_share", Number),
            ("topics/*/steady_state/used_s", Number),
            ("topics/*/steady_state/disturbed_s", Number),
            ("topics/*/steady_state/warmup_s", Number),
            ("topics/*/steady_state/verdict", Text),
            ("topics/*/steady_state/notes", Array),
            ("topics/*/series/depth", Array),
            ("topics/*/series/expected_depth", Array),
            ("broker/parked", Number),
            ("broker/redriven", Number),
            ("broker/duplicates_skipped", Number),
            ("outbox/pending", Number),
            ("outbox/relayed", Number),
            ("outbox/relay_lag_ms", Number),
            ("orphaned_writes", Number),
            ("invariants/no_message_lost", Bool),
            ("invariants/ledger/open", Number),
            ("invariants/ledger/settled", Number),
            ("invariants/ledger/lost", Number),
            ("invariants/ledger/duplicated", Number),
            ("invariants/ledger/violations", Number),
            ("invariants/effects/keys", Number),
            ("invariants/effects/repeated", Number),
            ("invariants/effects/duplicates_skipped", Number),
        ],
    );
    assert_eq!(report["mode"], "virtual");
    assert_eq!(report["duration_s"], 30.0);
    // A topic with a pool has a prediction, with its model named.
    let payments = at(&report, "topics/*")
        .into_iter()
        .find(|t| t["name"] == "payments")
        .expect("payments topic");
    check(
        payments,
        &[
            ("theory/model", Text),
            ("theory/wait_ms_mean", NumberOrNull),
            ("theory/wait_ms_p99", NumberOrNull),
            ("theory/p_refused", NumberOrNull),
            ("steady_state/arrival_rate", Number),
        ],
    );
    // One depth and one forecast per engine second.
    assert_eq!(
        payments["series"]["depth"].as_array().map(Vec::len),
        Some(30)
    );
    assert_eq!(
        payments["series"]["expected_depth"]
            .as_array()
            .map(Vec::len),
        Some(30)
    );
    // The text form shows the same figures as the JSON.
    let text = stdout_of(&["run", "--virtual", "--duration", "30"]);
    let sent = report["requests"]["sent"].to_string();
    assert!(text.contains(&format!("requests  {sent} sent")), "{text}");
    let goodput = &report["requests"]["goodput"];
    let late = &report["requests"]["late"];
    assert!(
        text.contains(&format!(
            "goodput   {goodput} successes on time, {late} late"
        )),
        "{text}"
    );
}

#[test]
fn trace_json_keeps_every_documented_key() {
    use Kind::*;
    let trace: Value = serde_json::from_str(&stdout_of(&[
        "trace",
        "--as",
        "alice",
        "GET",
        "/api/v1/projects",
        "--json",
    ]))
    .expect("JSON");
    check(
        &trace,
        &[
            ("request/method", Text),
            ("request/path", Text),
            ("request/host", Text),
            ("request/persona", Text),
            ("request/request_id", Text),
            ("status", Number),
            ("stages", Array),
            ("stages/*/stage", Text),
            ("stages/*/kind", Text),
            ("stages/*/outcome", Text),
            ("stages/*/detail", Object),
            ("stages/*/modelled_ms", Number),
            ("stages/*/measured_us", Number),
            ("response", Object),
        ],
    );
    let outcomes = ["pass", "hit", "miss", "reject", "error", "skip"];
    for outcome in at(&trace, "stages/*/outcome") {
        assert!(
            outcomes.contains(&outcome.as_str().unwrap_or_default()),
            "{outcome}"
        );
    }
}
