//! `archsim bench` as a user runs it: an unknown measure is a usage error naming the real ones,
//! and a measure prints its row in the table. No figure is asserted — a benchmark is not a test.

use std::process::Command;

fn bench(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_archsim"))
        .arg("bench")
        .args(args)
        .output()
        .expect("archsim runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn an_unknown_measure_names_the_real_ones() {
    let (code, _, stderr) = bench(&["--only", "brokr"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "unknown measure `brokr`; the measures are broker, pipeline, http, live, queue, \
             virtual-hour, tui"
        ),
        "{stderr}"
    );
}

#[test]
fn a_measure_prints_its_rows_beside_the_baseline() {
    let (code, stdout, stderr) = bench(&["--quick", "--only", "broker"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("| measure | archsim | baseline (same run) | ratio | target | met |"),
        "{stdout}"
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| broker:"))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    for row in rows {
        assert!(row.contains("tokio mpsc"), "{row}");
        assert!(row.contains("× the cost"), "{row}");
        assert!(row.ends_with("| yes |") || row.ends_with("| no |"), "{row}");
    }
}
