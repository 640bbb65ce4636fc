//! `archsim bench`: every performance measure of the project beside a baseline measured in the
//! same run, printed as one table of ratios. Absolute times depend on the machine; the ratios
//! are what to compare between changes (see BENCHMARKS.md). Nothing here is asserted by the
//! test suite: a benchmark is not a test.
//!
//! Each measure alternates the archsim side and its baseline in short rounds and keeps each
//! side's median, so a burst of noise from elsewhere on the machine hits both.

mod broker;
mod http;
mod live;
mod pipeline;
mod queue;
mod timing;
mod tui;
mod virtual_hour;

use std::fmt::Write as _;

/// How long to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// A few seconds per measure, smaller workloads: a quick look.
    Quick,
    /// The workloads the targets are stated for.
    Full,
}

/// Whether a measure met its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The target is met.
    Met,
    /// The target is missed.
    Missed,
    /// The baseline could not run here (the note says why).
    Skipped,
    /// A row with no target, shown beside one that has (the note says what it adds).
    Information,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What is measured.
    pub measure: &'static str,
    /// archsim's figure, with its unit.
    pub archsim: String,
    /// The baseline's figure, with what the baseline is.
    pub baseline: String,
    /// archsim against the baseline, in the direction the target is stated.
    pub ratio: String,
    /// The target.
    pub target: &'static str,
    /// Whether it is met.
    pub verdict: Verdict,
    /// What else the measure found (accuracy, determinism, why it was skipped).
    pub note: String,
}

/// A measure `archsim bench` can run, by name.
pub const MEASURES: &[(&str, &str)] = &[
    (
        "broker",
        "broker publish + lease + ack against a tokio mpsc channel",
    ),
    (
        "pipeline",
        "a cache-hit GET through every stage against bare axum, in process",
    ),
    (
        "http",
        "serve over HTTP against bare axum, both loaded by wrk (skipped without wrk)",
    ),
    (
        "live",
        "a request's wall time on the live clock against its modelled latency",
    ),
    ("queue", "an M/M/4 queue in virtual time against SimPy"),
    ("virtual-hour", "the default scenario for a virtual hour"),
    (
        "tui",
        "each view's draw at 160×48 against a blank frame, and the first frame",
    ),
];

/// Runs the measures named in `only` (all when empty), in table order.
pub fn run(effort: Effort, only: &[String]) -> Vec<Row> {
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let mut rows = Vec::new();
    if wanted("broker") {
        rows.extend(broker::measure(effort));
    }
    if wanted("pipeline") {
        rows.extend(pipeline::measure(effort));
    }
    if wanted("http") {
        rows.extend(http::measure(effort));
    }
    if wanted("live") {
        rows.extend(live::measure(effort));
    }
    if wanted("queue") {
        rows.extend(queue::measure(effort));
    }
    if wanted("virtual-hour") {
        rows.extend(virtual_hour::measure(effort));
    }
    if wanted("tui") {
        rows.extend(tui::measure(effort));
    }
    rows
}

/// The default scenario with every rate limit out of the way (per user, per tenant and plan,
/// per client address), so each of a measure's requests walks every stage to its answer.
fn unlimited_default() -> Result<crate::scenario::Scenario, String> {
    let scenario = crate::scenario::load_or_default(None).map_err(|e| format!("{e:?}"))?;
    let mut unlimited = (*scenario).clone();
    unlimited.rate_limit.requests_per_second = 1e9;
    unlimited.rate_limit.burst = u32::MAX;
    unlimited.rate_limit.tenant = None;
    unlimited.rate_limit.plans.clear();
    unlimited.edge.waf_requests_per_minute = u32::MAX;
    Ok(unlimited)
}

/// `scenario` with every stage's modelled latency off: what is measured is the code.
fn unhurried(mut scenario: crate::scenario::Scenario) -> std::sync::Arc<crate::scenario::Scenario> {
    for stage in &mut scenario.stages {
        stage.latency = None;
    }
    std::sync::Arc::new(scenario)
}

/// The runtime a measure drives the engine (or waits for a server) from: one thread, with
/// timers and I/O, apart from the engine's own runtime.
fn client_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))
}

/// The row of a measure that could not run, and why.
fn could_not_run(measure: &'static str, target: &'static str, why: String) -> Row {
    Row {
        measure,
        archsim: "—".into(),
        baseline: "—".into(),
        ratio: "—".into(),
        target,
        verdict: Verdict::Skipped,
        note: why,
    }
}

/// The rows as a Markdown table (pastes into BENCHMARKS.md), notes below it.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| measure | archsim | baseline (same run) | ratio | target | met |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let met = match row.verdict {
            Verdict::Met => "yes",
            Verdict::Missed => "no",
            Verdict::Skipped | Verdict::Information => "—",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {met} |",
            row.measure, row.archsim, row.baseline, row.ratio, row.target
        );
    }
    let notes: Vec<&Row> = rows.iter().filter(|r| !r.note.is_empty()).collect();
    if !notes.is_empty() {
        out.push('\n');
        for row in notes {
            let _ = writeln!(out, "- {}: {}", row.measure, row.note);
        }
    }
    out
}

/// `12.3 µs`, `491 ns`, `1.20 ms`: a duration in seconds at a readable scale.
fn time(seconds: f64) -> String {
    match seconds {
        s if s >= 1.0 => format!("{s:.2} s"),
        s if s >= 1e-3 => format!("{:.2} ms", s * 1e3),
        s if s >= 1e-6 => format!("{:.1} µs", s * 1e6),
        s => format!("{:.0} ns", s * 1e9),
    }
}

/// `12,400/s`: a rate with thousands separated.
fn rate(per_second: f64) -> String {
    let whole = per_second.round() as u64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{grouped}/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_at_their_scale() {
        assert_eq!(time(491e-9), "491 ns");
        assert_eq!(time(12.34e-6), "12.3 µs");
        assert_eq!(time(0.0012), "1.20 ms");
        assert_eq!(time(13.4), "13.40 s");
        assert_eq!(rate(12_400.4), "12,400/s");
        assert_eq!(rate(966.0), "966/s");
        assert_eq!(rate(1_000_000.0), "1,000,000/s");
    }

    #[test]
    fn the_table_marks_each_verdict_and_lists_notes() {
        let row = |verdict, note: &str| Row {
            measure: "m",
            archsim: "1 ns".into(),
            baseline: "2 ns".into(),
            ratio: "0.5×".into(),
            target: "≤ 2×",
            verdict,
            note: note.into(),
        };
        let table = render(&[row(Verdict::Met, ""), row(Verdict::Skipped, "no SimPy")]);
        assert!(
            table.contains("| m | 1 ns | 2 ns | 0.5× | ≤ 2× | yes |"),
            "{table}"
        );
        assert!(table.contains("| — |"), "{table}");
        assert!(table.ends_with("- m: no SimPy\n"), "{table}");
    }
}
