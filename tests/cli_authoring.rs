//! The authoring commands as a user runs them: `check`, `export`, `schema`, as real processes.

use std::io::Write;
use std::process::{Command, Stdio};

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;

/// Writes `text` to a temporary `.toml` file named after `name` (removed on drop).
fn write_temp(name: &str, text: &str) -> tempfile::TempPath {
    let mut file = tempfile::Builder::new()
        .prefix(name)
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    file.write_all(text.as_bytes()).expect("write temp file");
    file.into_temp_path()
}

#[test]
fn check_accepts_every_shipped_scenario() {
    let mut files: Vec<_> = std::fs::read_dir("scenarios")
        .expect("scenarios/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    cargo_bin_cmd!("archsim")
        .arg("check")
        .args(&files)
        .assert()
        .success()
        .stdout(predicate::str::contains("saas.toml: ok"));
}

#[test]
fn check_reports_every_error_with_position_and_help_and_exits_1() {
    let broken = archsim::scenario::DEFAULT_SCENARIO
        .replacen("kind = \"cache\"", "kind = \"cahce\"", 1)
        .replacen("next = [\"cdn\"]", "nxt = [\"cdn\"]", 1);
    let file = write_temp("broken.toml", &broken);
    let output = cargo_bin_cmd!("archsim")
        .arg("check")
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let name = file.display().to_string();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), 2, "{stderr}");
    // In file order: the `nxt` key comes before the `cahce` kind.
    assert!(
        errors[0].starts_with(&format!("{name}:"))
            && errors[0].ends_with("unknown key `nxt` in `stages`"),
        "{stderr}"
    );
    assert!(
        errors[1].contains("`cahce` is not a valid value"),
        "{stderr}"
    );
    // Each error line is followed by its help line.
    let lines: Vec<&str> = stderr.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.contains(": error: ") {
            assert!(lines[i + 1].starts_with("  help: "), "{stderr}");
        }
    }
    assert!(stderr.contains("help: did you mean `next`?"));
    assert!(stderr.contains("help: did you mean \"cache\"?"));
}

#[test]
fn check_positions_are_line_and_column_of_the_offending_token() {
    let broken = archsim::scenario::DEFAULT_SCENARIO.replacen(
        "permission = \"audit.read\"",
        "permission = \"audit.reed\"",
        1,
    );
    let line = broken
        .lines()
        .position(|l| l.contains("audit.reed"))
        .expect("edited line")
        + 1;
    let file = write_temp("position.toml", &broken);
    cargo_bin_cmd!("archsim")
        .arg("check")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "{}:{line}:14: error: route GET /api/v1/audit_log refers to unknown permission `audit.reed`",
            file.display()
        )));
}

#[test]
fn check_of_a_missing_file_is_an_io_error_exit_2() {
    cargo_bin_cmd!("archsim")
        .args(["check", "does/not/exist.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "does/not/exist.toml: error: cannot read the file",
        ));
}

#[test]
fn check_without_files_is_a_usage_error_exit_2() {
    cargo_bin_cmd!("archsim").arg("check").assert().code(2);
}

#[test]
fn export_lifecycle_mermaid_is_a_flowchart_of_every_stage() {
    let scenario = archsim::scenario::load_or_default(None).expect("default scenario");
    let output = cargo_bin_cmd!("archsim")
        .args(["export", "--view", "lifecycle", "--format", "mermaid"])
        .output()
        .expect("runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("flowchart LR"));
    for stage in &scenario.stages {
        assert!(text.contains(&stage.title), "missing stage {}", stage.id);
    }
}

#[test]
fn export_erd_mermaid_names_every_table_and_relationship() {
    let output = cargo_bin_cmd!("archsim")
        .args([
            "export",
            "scenarios/saas.toml",
            "--view",
            "erd",
            "--format",
            "mermaid",
        ])
        .output()
        .expect("runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("erDiagram"));
    assert!(text.contains("tenants ||--o{ projects : \"tenant_id\""));
    assert!(
        text.contains("users |o--o{ audit_log : \"user_id\""),
        "nullable FK is optional on the parent side"
    );
}

#[test]
fn export_of_an_invalid_file_prints_diagnostics_and_exits_1() {
    let file = write_temp("invalid-export.toml", "[scenario]\nname = \"x\"\n");
    cargo_bin_cmd!("archsim")
        .arg("export")
        .arg(&file)
        .args(["--view", "erd", "--format", "dot"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing key `title`"));
}

/// `archsim export … --format dot | dot -Tsvg` renders: checked when Graphviz is installed.
#[test]
fn export_dot_renders_with_graphviz_when_available() {
    if Command::new("dot").arg("-V").output().is_err() {
        eprintln!("skipped: Graphviz `dot` is not installed");
        return;
    }
    for view in ["lifecycle", "erd"] {
        let output = cargo_bin_cmd!("archsim")
            .args(["export", "--view", view, "--format", "dot"])
            .output()
            .expect("runs");
        assert!(output.status.success());
        let mut dot = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dot starts");
        dot.stdin
            .take()
            .expect("stdin")
            .write_all(&output.stdout)
            .expect("write");
        let rendered = dot.wait_with_output().expect("dot runs");
        assert!(
            rendered.status.success(),
            "{view}: {}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        assert!(String::from_utf8_lossy(&rendered.stdout).contains("<svg"));
    }
}

#[test]
fn schema_command_matches_the_committed_schema_file() {
    let output = cargo_bin_cmd!("archsim")
        .arg("schema")
        .output()
        .expect("runs");
    assert!(output.status.success());
    let committed = std::fs::read_to_string("assets/scenario.schema.json")
        .expect("assets/scenario.schema.json exists");
    assert!(
        String::from_utf8_lossy(&output.stdout) == committed,
        "assets/scenario.schema.json is stale: run `cargo run -- schema > assets/scenario.schema.json`"
    );
}

#[test]
fn scenario_files_point_editors_at_the_schema() {
    for entry in std::fs::read_dir("scenarios").expect("scenarios/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(&path).expect("readable");
            assert!(
                text.starts_with("#:schema ../assets/scenario.schema.json"),
                "{} must start with the #:schema directive",
                path.display()
            );
        }
    }
}

#[test]
fn the_tui_without_a_terminal_fails_cleanly_with_a_message() {
    for args in [&["tui"][..], &[][..]] {
        cargo_bin_cmd!("archsim")
            .args(args)
            .write_stdin("")
            .assert()
            .code(2)
            .stderr(predicate::str::contains("needs an interactive terminal"))
            .stderr(predicate::str::contains("panicked").not());
    }
}
