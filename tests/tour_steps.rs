//! Tour steps that act on the running system, wait, and expect figures: a typo is refused at
//! its line and column with the nearest real name, and `archsim tour --check` plays the steps in
//! virtual time — the queue really grows when the workers are killed, and a condition that
//! never holds fails the step at its position with the figure it saw.

mod common;

use std::process::Command;

use archsim::scenario::load_str;

const BIN: &str = env!("CARGO_BIN_EXE_archsim");

/// A topic with three workers fed by a steady generator, and `tours` after it.
fn with_tours(tours: &str) -> String {
    common::scenario_text(
        5,
        &format!(
            r#"
[[topics]]
name = "jobs"
capacity = 10000
max_attempts = 3
backoff = {{ initial_ms = 100, max_ms = 400, multiplier = 2, jitter = 0 }}
dead_letter = "jobs.dlq"

[[topics]]
name = "jobs.dlq"
capacity = 1000

[[workers]]
name = "crew"
topic = "jobs"
concurrency = 3
service_time = {{ dist = "constant", ms = 100 }}

[[traffic]]
name = "arrivals"
arrival = "poisson"
rate_per_s = 20
publish = {{ topic = "jobs", event = "job" }}
{tours}"#
        ),
    )
}

/// The diagnostics of `text`, which must not load.
fn refused(text: &str) -> String {
    match load_str("tour.toml", text) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(diagnostics) => diagnostics.to_string(),
    }
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("`{needle}` in the text"))
}

#[test]
fn a_misspelt_figure_is_refused_at_its_line_with_the_nearest_name() {
    let text = with_tours(
        r#"
[[tours]]
id = "t"
title = "T"

[[tours.steps]]
view = "broker"
until = "jobs.queud > 10"
say = "x"

[[tours.steps]]
view = "broker"
expect = { that = ["ledger.lots == 0", "requests.999 >= 1", "rows.nothing > 0"] }
say = "y"
"#,
    );
    let errors = refused(&text);
    let line = line_of(&text, "jobs.queud");
    assert!(errors.contains(&format!("tour.toml:{line}:")), "{errors}");
    assert!(
        errors.contains("topic `jobs` has no figure `queud`"),
        "{errors}"
    );
    assert!(errors.contains("did you mean `queued`?"), "{errors}");
    assert!(errors.contains("`ledger.lots` is not a figure"), "{errors}");
    assert!(errors.contains("did you mean `ledger.lost`?"), "{errors}");
    assert!(errors.contains("`999` is not an HTTP status"), "{errors}");
    assert!(
        errors.contains("refers to unknown table `nothing`"),
        "{errors}"
    );
}

#[test]
fn actions_are_checked_like_the_faults_and_keys_they_stand_for() {
    let text = with_tours(
        r#"
[[tours]]
id = "t"
title = "T"

[[tours.steps]]
view = "broker"
do = [
  { action = "kill_workers", pool = "crow", count = 1 },
  { action = "set_rate" },
  { action = "add_workers", pool = "crew", topic = "jobs" },
  { action = "kill_workers", pool = "crew", count = 9 },
]
wait_s = 5
until = "jobs.queued > 1"
say = "x"

[[tours.steps]]
view = "broker"
expect = { status = 200 }
say = "y"
"#,
    );
    let errors = refused(&text);
    assert!(
        errors.contains("refers to unknown worker pool `crow`"),
        "{errors}"
    );
    assert!(errors.contains("did you mean `crew`?"), "{errors}");
    assert!(
        errors.contains("action `set_rate` needs `multiplier`"),
        "{errors}"
    );
    assert!(
        errors.contains("action `add_workers`: `topic` does not apply"),
        "{errors}"
    );
    assert!(errors.contains("from 1 to 3"), "kill count: {errors}");
    assert!(
        errors.contains("`wait_s` and `until` both say how long to wait"),
        "{errors}"
    );
    assert!(
        errors.contains("need a request, and the step sends none"),
        "{errors}"
    );
}

fn check(text: &str) -> (i32, String, String) {
    let file = std::env::temp_dir().join(format!(
        "archsim-tour-steps-{}-{:x}.toml",
        std::process::id(),
        text.len()
    ));
    std::fs::write(&file, text).expect("temp file");
    let output = Command::new(BIN)
        .args(["tour", "--check"])
        .arg(&file)
        .output()
        .expect("archsim runs");
    let _ = std::fs::remove_file(&file);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn killing_workers_makes_the_queue_grow_and_adding_them_drains_it() {
    // 20 jobs/s of 100 ms: three workers are 67% busy, one is overloaded (capacity 10/s).
    let text = with_tours(
        r#"
[[tours]]
id = "overload"
title = "Overload and recovery"

[[tours.steps]]
view = "broker"
topic = "jobs"
wait_s = 30
expect = { that = ["jobs.acked >= 500", "jobs.queued < 20", "jobs.live_workers == 3"] }
say = "Three workers keep up."

[[tours.steps]]
view = "broker"
topic = "jobs"
do = [{ action = "kill_workers", pool = "crew", count = 2 }]
until = "jobs.queued >= 100"
within_s = 60
expect = { that = ["jobs.live_workers == 1", "ledger.lost == 0"] }
say = "One worker cannot: the queue grows by about ten a second."

[[tours.steps]]
view = "broker"
topic = "jobs"
do = [{ action = "add_workers", pool = "crew", count = 3 }]
until = "jobs.queued <= 1"
within_s = 120
expect = { that = ["jobs.live_workers == 4", "effects.repeated == 0"] }
say = "Four workers drain it."
"#,
    );
    let (code, out, err) = check(&text);
    assert_eq!(code, 0, "{out}{err}");
    // The kill step really waited for the queue: about ten seconds at ten jobs/s of growth,
    // not at once and not never.
    let kill = out
        .lines()
        .find(|l| l.contains("until jobs.queued >= 100"))
        .unwrap_or_else(|| panic!("the kill step's line:\n{out}"));
    let after: f64 = kill
        .split("after ")
        .nth(1)
        .and_then(|rest| rest.split(" s").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("seconds in `{kill}`"));
    assert!((5.0..=20.0).contains(&after), "{kill}");
    assert!(out.contains("ok — 1 tour(s), 3 step(s)"), "{out}");
}

#[test]
fn a_condition_that_never_holds_fails_its_step_with_the_figure_seen() {
    let text = with_tours(
        r#"
[[tours]]
id = "calm"
title = "Nothing happens"

[[tours.steps]]
view = "broker"
topic = "jobs"
until = "jobs.dead_lettered >= 1"
within_s = 20
say = "No job ever fails, so nothing is dead-lettered."

[[tours.steps]]
view = "broker"
topic = "jobs"
expect = { that = ["jobs.live_workers == 5"] }
say = "Five workers? There are three."
"#,
    );
    let (code, out, err) = check(&text);
    assert_eq!(code, 1, "{out}{err}");
    // Each failure points at the condition that failed, not just at its step.
    let until = line_of(&text, "until = \"jobs.dead_lettered");
    let expect = line_of(&text, "jobs.live_workers == 5");
    assert!(
        err.contains(&format!(":{until}:")) && err.contains(&format!(":{expect}:")),
        "each at its condition's line ({until}, {expect}):\n{err}"
    );
    assert!(
        err.contains("waited 20 s for `jobs.dead_lettered >= 1`: it never held"),
        "{err}"
    );
    assert!(
        err.contains("expects `jobs.live_workers == 5`, jobs.live_workers is 3"),
        "{err}"
    );
    assert!(err.contains("2 tour step(s) do not hold"), "{err}");
}

#[test]
fn the_noisy_neighbour_lesson_fails_its_own_check_without_tenant_quotas() {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/noisy-neighbor.toml"),
    )
    .expect("noisy-neighbor.toml");
    assert_eq!(check(&shipped).0, 0, "the lesson holds as shipped");
    // The fix removed, as the lesson invites: the flood reaches the two connections.
    let without = shipped
        .replace(
            "\ntenant_requests_per_second =",
            "\n# tenant_requests_per_second =",
        )
        .replace("\ntenant_burst =", "\n# tenant_burst =");
    assert_ne!(without, shipped);
    let (code, _, err) = check(&without);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("expects `database.timeouts == 0`"), "{err}");
}

#[test]
fn schema_step_fields_name_real_columns_and_keys() {
    let text = with_tours(
        r#"
[[tables]]
name = "tenants"
columns = [{ name = "id", type = "integer", primary_key = true }, { name = "name", type = "text" }]

[[tours]]
id = "t"
title = "T"

[[tours.steps]]
view = "erd"
table = "tenants"
column = "nmae"
say = "x"

[[tours.steps]]
view = "erd"
table = "tenants"
column = "name"
follow = true
row = 0
say = "y"

[[tours.steps]]
view = "broker"
column = "name"
say = "z"
"#,
    );
    let errors = refused(&text);
    assert!(
        errors.contains("table `tenants` has no column `nmae`"),
        "{errors}"
    );
    assert!(errors.contains("did you mean `name`?"), "{errors}");
    assert!(
        errors.contains("`tenants.name` has no foreign key to follow"),
        "{errors}"
    );
    assert!(errors.contains("`row` counts from 1"), "{errors}");
    assert!(
        errors.contains("`column` needs a schema step with a `table`"),
        "{errors}"
    );
}
