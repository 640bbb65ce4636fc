//! Error fixtures for scenario validation.
//!
//! `tests/fixtures/valid/minimal.toml` is a small scenario that uses every section once. Each file
//! in `tests/fixtures/invalid/` is a copy of it with exactly one deliberate mistake, described by
//! its first line (`# expect: ...`). Every fixture must fail to load, and what `archsim check`
//! prints for it is pinned by an insta snapshot (`tests/snapshots/`), so a change of message,
//! position or help shows up in review. A few representative fixtures are also asserted by hand.

use std::path::{Path, PathBuf};

use archsim::scenario::{Located, load_str};

const FIXTURES: &str = "tests/fixtures";

/// The invalid fixtures, sorted by file name, as (name, path relative to the crate, text).
fn invalid_fixtures() -> Vec<(String, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURES)
        .join("invalid");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("readable fixture");
            (
                name.clone(),
                format!("{FIXTURES}/invalid/{name}.toml"),
                text,
            )
        })
        .collect()
}

/// Loads an invalid fixture by name and returns its located diagnostics.
fn located(name: &str) -> Vec<Located> {
    let file = format!("{FIXTURES}/invalid/{name}.toml");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(&file))
        .expect("fixture exists");
    match load_str(&file, &text) {
        Ok(_) => panic!("{file} loaded, but it has a deliberate mistake"),
        Err(diagnostics) => diagnostics.located(),
    }
}

/// Asserts that `name` reports exactly one diagnostic, at `line:column`, with `message`, and a help
/// text containing `help`.
fn assert_single(name: &str, line: usize, column: usize, message: &str, help: &str) {
    let all = located(name);
    let [only] = all.as_slice() else {
        panic!("{name}: expected one diagnostic, got {all:#?}");
    };
    assert_eq!(
        (only.line, only.column, only.message.as_str()),
        (line, column, message),
        "{name}"
    );
    assert!(
        only.help.contains(help),
        "{name}: help {:?} lacks {help:?}",
        only.help
    );
}

#[test]
fn the_valid_fixture_loads() {
    let text = include_str!("fixtures/valid/minimal.toml");
    match load_str("tests/fixtures/valid/minimal.toml", text) {
        Ok(scenario) => {
            assert_eq!(scenario.meta.name, "minimal");
            assert_eq!(scenario.stages.len(), 9);
            assert_eq!(scenario.routes.len(), 3);
        }
        Err(diagnostics) => panic!("the valid fixture is invalid:\n{diagnostics}"),
    }
}

#[test]
fn every_invalid_fixture_fails_with_the_snapshotted_diagnostics() {
    let fixtures = invalid_fixtures();
    assert!(
        fixtures.len() >= 30,
        "only {} invalid fixtures",
        fixtures.len()
    );
    for (name, file, text) in fixtures {
        let expect = text
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{file}: the first line must be `# expect: ...`"))
            .to_string();
        let diagnostics = match load_str(&file, &text) {
            Ok(_) => panic!("{file} loaded, but it should fail: {expect}"),
            Err(diagnostics) => diagnostics,
        };
        assert!(
            !diagnostics.is_empty(),
            "{file}: failed without a diagnostic"
        );
        for at in diagnostics.located() {
            // Line 1 is the `# expect` comment: a diagnostic there points at nothing useful,
            // except for a whole section that is missing, which has no better place.
            assert!(
                at.line > 1 || name == "missing_section",
                "{file}: diagnostic on line 1: {at:?}"
            );
        }
        insta::with_settings!({ description => expect, omit_expression => true }, {
            insta::assert_snapshot!(name, diagnostics.render());
        });
    }
}

#[test]
fn representative_fixtures_point_at_the_mistake() {
    assert_single(
        "toml_syntax_error",
        5,
        9,
        "TOML syntax: string values must be quoted, expected literal string",
        "strings need quotes",
    );
    assert_single(
        "unknown_key_did_you_mean",
        152,
        1,
        "unknown key `lattency` in `stages`",
        "did you mean `latency`?",
    );
    assert_single(
        "invalid_enum_value",
        142,
        8,
        "`cahce` is not a valid value in `stages.kind`",
        "did you mean \"cache\"?",
    );
    assert_single(
        "missing_required_key",
        148,
        1,
        "missing key `title` in `stages`",
        "add `title = ...`",
    );
    assert_single(
        "negative_unsigned",
        191,
        12,
        "the value in `topics.capacity` cannot be negative, found -5",
        "from 0 to 4294967295",
    );
    assert_single(
        "persona_unknown_tenant",
        50,
        10,
        "persona `bob` refers to unknown tenant `globx`",
        "did you mean `globex`?",
    );
    assert_single(
        "fk_type_mismatch",
        98,
        68,
        "foreign key `projects.lead` is integer but `users.email` is text",
        "make `lead` of type text",
    );
    assert_single(
        "seed_duplicate_composite_unique",
        104,
        35,
        "unique index `projects_tenant_name` of `projects`: (`tenant_id`, `name`) = (1, \"Website\") \
         is already used",
        "line 103",
    );
    assert_single(
        "stage_cycle",
        156,
        6,
        "the stage graph has a cycle through `publish`",
        "DAG",
    );
    assert_single(
        "lognormal_p99_below_p50",
        152,
        54,
        "latency of stage `database`: `p99_ms` (3) is below `p50_ms` (4)",
        "p99 ≥ p50",
    );
    assert_single(
        "route_unknown_permission",
        186,
        14,
        "route POST /api/v1/projects refers to unknown permission `projects.create`",
        "expected one of `projects.read`, `projects.write`",
    );
    assert_single(
        "worker_publish_loop",
        217,
        24,
        "worker pools publish in a loop through topic `audit`",
        "must not lead back",
    );
}

/// `minimal.toml` with several edits, each `(old, new)` replacing exactly one occurrence.
fn minimal_with(edits: &[(&str, &str)]) -> String {
    let mut text = include_str!("fixtures/valid/minimal.toml").to_string();
    for (old, new) in edits {
        assert_eq!(text.matches(old).count(), 1, "{old:?} must occur once");
        text = text.replace(old, new);
    }
    text
}

fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    text[..at].matches('\n').count() + 1
}

#[test]
fn independent_semantic_errors_are_all_reported_in_file_order() {
    // Edits listed out of file order on purpose: the report must sort them.
    let text = minimal_with(&[
        ("stage = \"cache\"", "stage = \"caching\""),
        ("tenant = \"globex\"", "tenant = \"globx\""),
        (
            "topic = \"audit\"\nconcurrency",
            "topic = \"audits\"\nconcurrency",
        ),
        ("references = \"users.id\"", "references = \"user.id\""),
        ("next = [\"controller\"]", "next = [\"controler\"]"),
        (
            "signing_key = \"demo-signing-key-0123456789abcdef\"",
            "signing_key = \"short\"",
        ),
    ]);
    let diagnostics = load_str("multi.toml", &text).expect_err("six mistakes");
    let found: Vec<(usize, String)> = diagnostics
        .located()
        .into_iter()
        .map(|d| (d.line, d.message))
        .collect();
    let expected = vec![
        (
            line_of(&text, "signing_key = \"short\""),
            "the signing key is 5 bytes long; HS256 needs at least 32".to_string(),
        ),
        (
            line_of(&text, "tenant = \"globx\""),
            "persona `bob` refers to unknown tenant `globx`".to_string(),
        ),
        (
            line_of(&text, "references = \"user.id\""),
            "foreign key `projects.created_by` refers to unknown table `user`".to_string(),
        ),
        (
            line_of(&text, "next = [\"controler\"]"),
            "stage `rbac` refers to unknown stage `controler`".to_string(),
        ),
        (
            line_of(&text, "topic = \"audits\""),
            "worker pool `auditor` refers to unknown topic `audits`".to_string(),
        ),
        (
            line_of(&text, "stage = \"caching\""),
            "tour `basics` step 1 refers to unknown stage `caching`".to_string(),
        ),
    ];
    assert_eq!(found, expected, "\n{diagnostics}");
}

#[test]
fn independent_structural_errors_are_all_reported_in_file_order() {
    let text = minimal_with(&[
        ("concurrency = 2", "concurrency = \"2\""),
        ("kind = \"cache\"", "kind = \"cahce\""),
        ("title = \"Minimal SaaS\"", "titel = \"Minimal SaaS\""),
    ]);
    let diagnostics = load_str("multi.toml", &text).expect_err("three mistakes");
    let found: Vec<(usize, String)> = diagnostics
        .located()
        .into_iter()
        .map(|d| (d.line, d.message))
        .collect();
    let scenario_header = line_of(&text, "[scenario]");
    let expected = vec![
        // The unknown `titel` and the missing `title` it leaves behind.
        (
            scenario_header,
            "missing key `title` in `scenario`".to_string(),
        ),
        (
            line_of(&text, "titel = "),
            "unknown key `titel` in `scenario`".to_string(),
        ),
        (
            line_of(&text, "kind = \"cahce\""),
            "`cahce` is not a valid value in `stages.kind`".to_string(),
        ),
        (
            line_of(&text, "concurrency = \"2\""),
            "expected an integer in `workers.concurrency`, found a string".to_string(),
        ),
    ];
    assert_eq!(found, expected, "\n{diagnostics}");
}

#[test]
fn lesson_switches_out_of_range_point_at_the_value_with_the_allowed_range() {
    assert_single(
        "cache_ttl_jitter_above_half",
        284,
        14,
        "`cache.ttl_jitter` must be from 0 to 0.5, not 0.9",
        "0.1 gives each entry 90 %–110 %",
    );
    assert_single(
        "rate_limit_tenant_burst_without_rate",
        285,
        16,
        "`tenant_burst` without `tenant_requests_per_second`",
        "add e.g. `tenant_requests_per_second = 50`",
    );
}
