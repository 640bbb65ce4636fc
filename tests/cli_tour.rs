//! `archsim tour`: the shipped scenarios' tours hold against the engine, and a tour whose
//! narration drifts from what the code does fails at the step's line and column.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_archsim");

fn tour(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BIN)
        .arg("tour")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("archsim runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_shipped_scenarios_tours_hold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    assert!(
        files.len() >= 8,
        "the shipped scenarios were found: {files:?}"
    );
    // One process per file, all at once: the long tours play in virtual time, CPU-bound.
    std::thread::scope(|scope| {
        let checks: Vec<_> = files
            .iter()
            .map(|file| (file, scope.spawn(|| tour(&["--check", file]))))
            .collect();
        for (file, check) in checks {
            let (code, out, err) = check.join().expect("the check ran");
            assert_eq!(code, 0, "{file}:\n{out}{err}");
            assert!(out.contains("step(s) played against the engine"), "{out}");
        }
    });
}

#[test]
fn a_step_that_says_what_the_code_does_not_do_fails_at_its_position() {
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/saas.toml"))
            .expect("saas.toml");
    // The narration blames the controller's pass for Carol's 404: the database refuses it.
    let needle = r#"expect = { status = 404, outcome = "reject" }"#;
    assert!(shipped.contains(needle), "the tour step to break is there");
    let drifted = shipped.replace(needle, r#"expect = { status = 404, outcome = "pass" }"#);
    let file = std::env::temp_dir().join(format!("archsim-drift-{}.toml", std::process::id()));
    std::fs::write(&file, &drifted).expect("temp file");
    let (code, _, err) = tour(&["--check", &file.to_string_lossy()]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, 1, "{err}");
    let line = drifted
        .lines()
        .position(|l| l.contains(r#"outcome = "pass" }, say = "On her own host"#))
        .map(|i| i + 1)
        .expect("the drifted step");
    assert!(
        err.contains(&format!(".toml:{line}:")),
        "names the step's line {line}:\n{err}"
    );
    assert!(
        err.contains(
            "tour `tenant-isolation` step 4: expects `pass` at `database`, it was `reject`"
        ),
        "{err}"
    );
}

#[test]
fn list_prints_each_tour_and_its_steps() {
    let (code, out, _) = tour(&[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("tenant-isolation  How tenants are kept apart (4 steps)"),
        "{out}"
    );
    assert!(
        out.contains("   4. On her own host, Acme's id simply isn't found"),
        "{out}"
    );
}

#[test]
fn several_files_are_checked_each_on_its_own_and_the_worst_exit_wins() {
    let (code, out, err) = tour(&[
        "--check",
        "scenarios/harsh-payments.toml",
        "scenarios/noisy-neighbor.toml",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("harsh-payments.toml: ok"), "{out}");
    assert!(out.contains("noisy-neighbor.toml: ok"), "{out}");
    let (code, _, err) = tour(&["--check", "scenarios/harsh-payments.toml", "no-such.toml"]);
    assert_eq!(code, 2, "an unreadable file: {err}");
}
