//! The default scenario — its traffic, workers and scheduled faults — for a virtual hour, as
//! `archsim run --virtual --duration 3600` runs it: the wall time, and whether a second run's
//! report is byte for byte the same.

use std::time::{Duration, Instant};

use super::{Effort, Row, Verdict, client_runtime};
use crate::cli::run::run_for;
use crate::engine::{Clock, Options};
use crate::scenario::load_or_default;

/// The target: an hour in at most this many wall seconds.
const TARGET_S: f64 = 3.0;
const MEASURE: &str = "default scenario, one virtual hour";

/// The row.
pub fn measure(effort: Effort) -> Vec<Row> {
    // Quick: five minutes, scaled to the hour (an estimate, said so in the note).
    let (virtual_s, runs) = match effort {
        Effort::Quick => (300, 1),
        Effort::Full => (3600, 2),
    };
    match timed_runs(virtual_s, runs) {
        Ok(Runs {
            fastest: wall,
            reports,
            counts,
        }) => {
            let per_hour = wall.as_secs_f64() * 3600.0 / virtual_s as f64;
            let identical = reports.windows(2).all(|pair| pair[0] == pair[1]);
            let mut note = format!("{} requests and {} messages per run", counts.0, counts.1);
            if runs > 1 {
                note.push_str(if identical {
                    "; the two runs' reports are byte-identical"
                } else {
                    "; the two runs' reports DIFFER"
                });
            } else {
                note.push_str(&format!(
                    "; measured over {virtual_s} virtual s and scaled to the hour"
                ));
            }
            vec![Row {
                measure: MEASURE,
                archsim: format!("{per_hour:.2} s wall"),
                baseline: "— (target only)".into(),
                ratio: format!("{:.0}× real time", 3600.0 / per_hour),
                target: "≤ 3 s wall",
                verdict: if per_hour <= TARGET_S && identical {
                    Verdict::Met
                } else {
                    Verdict::Missed
                },
                note,
            }]
        }
        Err(why) => vec![Row {
            measure: MEASURE,
            archsim: "—".into(),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "≤ 3 s wall",
            verdict: Verdict::Skipped,
            note: format!("could not run: {why}"),
        }],
    }
}

/// What the runs measured.
struct Runs {
    /// The fastest run's wall time.
    fastest: Duration,
    /// Every run's JSON report.
    reports: Vec<String>,
    /// Requests sent and messages published in the last run.
    counts: (u64, u64),
}

fn timed_runs(virtual_s: u64, runs: usize) -> Result<Runs, String> {
    let scenario = load_or_default(None).map_err(|e| format!("{e:?}"))?;
    let runtime = client_runtime()?;
    let mut fastest = Duration::MAX;
    let mut reports = Vec::with_capacity(runs);
    let mut counts = (0, 0);
    for _ in 0..runs {
        let started = Instant::now();
        let report = runtime
            .block_on(run_for(
                scenario.clone(),
                Options::new(Clock::Virtual),
                Duration::from_secs(virtual_s),
            ))
            .map_err(|e| e.to_string())?;
        fastest = fastest.min(started.elapsed());
        counts = (report.requests.sent, report.broker.published);
        reports.push(serde_json::to_string(&report).map_err(|e| e.to_string())?);
    }
    Ok(Runs {
        fastest,
        reports,
        counts,
    })
}
