//! The headless commands' text shows durations on the one rule of `archsim::units` (about three
//! significant figures: `13.0 ms`, not `13.007 ms`), while `--json` keeps the raw numbers.

use assert_cmd::cargo::cargo_bin_cmd;

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

/// Digits that carry information: leading zeros and the decimal point left out.
fn significant_digits(number: &str) -> usize {
    number
        .chars()
        .filter(char::is_ascii_digit)
        .skip_while(|c| *c == '0')
        .count()
}

/// Every number written just before `ms` or `µs` in `text`, with the line it is on.
fn durations(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for pair in words.windows(2) {
            let unit = pair[1].trim_end_matches([',', ']', ')']);
            if unit == "ms" || unit == "µs" {
                let number = pair[0].trim_start_matches(['[', '(', '<']);
                if number.parse::<f64>().is_ok() {
                    found.push((number.to_string(), line.to_string()));
                }
            }
        }
    }
    found
}

fn assert_three_figures_at_most(text: &str) {
    let durations = durations(text);
    assert!(durations.len() > 5, "durations are shown:\n{text}");
    for (number, line) in durations {
        assert!(
            significant_digits(&number) <= 3,
            "`{number}` has more than three figures in {line:?}"
        );
    }
}

#[test]
fn run_text_shows_latencies_with_three_figures() {
    let text = stdout_of(&["run", "--virtual", "--duration", "20"]);
    let latency = text
        .lines()
        .find(|l| l.starts_with("requests"))
        .expect("a requests line");
    assert!(
        !latency.contains(".007 ms"),
        "histogram bucket edges are not worth a learner's attention: {latency}"
    );
    assert_three_figures_at_most(&text);
    assert!(text.contains("hit ratio "), "{text}");
    assert!(
        !text.contains("hit ratio 0."),
        "the hit ratio reads as a percentage: {text}"
    );
}

#[test]
fn trace_text_shows_modelled_and_measured_times_with_three_figures() {
    let text = stdout_of(&["trace", "--as", "alice", "GET", "/api/v1/projects"]);
    assert_three_figures_at_most(&text);
    assert!(text.contains("total modelled "), "{text}");
}

#[test]
fn json_keeps_the_raw_numbers_the_text_rounds() {
    let args = ["run", "--virtual", "--duration", "20"];
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(&[&args[..], &["--json"]].concat())).expect("JSON");
    let p50 = json["requests"]["latency_ms"]["p50"]
        .as_f64()
        .expect("p50 is a number in JSON");
    let text = stdout_of(&args);
    assert!(
        text.contains(&format!("latency p50 {}  ", archsim::units::ms(p50))),
        "the text shows JSON's p50 ({p50}) rounded:\n{text}"
    );
}

#[test]
fn significant_digits_counts_what_carries_information() {
    assert_eq!(significant_digits("13.007"), 5);
    assert_eq!(significant_digits("0.42"), 2);
    assert_eq!(significant_digits("476"), 3);
}
