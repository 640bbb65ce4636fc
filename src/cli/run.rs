//! `archsim run`: run the scenario's traffic headless and print a report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{EXIT_INVARIANT, EXIT_OK, EXIT_USAGE, report_load_error};
use crate::engine::{Clock, Engine, EngineError, Options, Report, Sabotage};
use crate::scenario::{self, Scenario};

/// The `run` command's arguments.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// Scenario file, or the default.
    pub file: Option<PathBuf>,
    /// Seconds of traffic.
    pub duration_s: f64,
    /// Virtual time.
    pub virtual_time: bool,
    /// Live time scale (engine seconds per wall second).
    pub time_scale: f64,
    /// Seed override.
    pub seed: Option<u64>,
    /// JSON output.
    pub json: bool,
    /// Test-only deliberate bug, by name.
    pub sabotage: Option<String>,
}

/// Runs the scenario for the requested duration and prints the report. Exit 3 if a message
/// was lost.
pub fn run(args: RunArgs) -> u8 {
    let scenario = match scenario::load_or_default(args.file.as_deref()) {
        Ok(scenario) => scenario,
        Err(error) => return report_load_error(&error),
    };
    if !(args.duration_s.is_finite() && args.duration_s > 0.0) {
        eprintln!("archsim run: --duration must be a positive number of seconds");
        return EXIT_USAGE;
    }
    let scenario = match args.seed {
        Some(seed) => {
            let mut copy = (*scenario).clone();
            copy.meta.seed = seed;
            Arc::new(copy)
        }
        None => scenario,
    };
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        eprintln!("archsim run: --time-scale must be a positive number");
        return EXIT_USAGE;
    }
    let clock = if args.virtual_time {
        Clock::Virtual
    } else {
        Clock::Paced(args.time_scale)
    };
    let mut options = Options::new(clock);
    options.sabotage = match args.sabotage.as_deref() {
        None => None,
        Some("drop-message") => Some(Sabotage::DropMessage),
        Some("apply-twice") => Some(Sabotage::ApplyTwice),
        Some(other) => {
            eprintln!("archsim run: unknown --sabotage `{other}` (drop-message, apply-twice)");
            return EXIT_USAGE;
        }
    };
    // The engine owns its runtime; this one only waits for it.
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("archsim run: cannot start the runtime: {error}");
            return EXIT_USAGE;
        }
    };
    let duration = Duration::from_secs_f64(args.duration_s);
    let report = match runtime.block_on(run_for(scenario, options, duration)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("archsim run: {error}");
            return EXIT_USAGE;
        }
    };
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        out!("{}", report.render_text());
    }
    if report.invariants.no_message_lost {
        EXIT_OK
    } else {
        EXIT_INVARIANT
    }
}

/// Runs `scenario` with its traffic and faults for `duration` of engine time, started with
/// `options`, and builds the report.
pub async fn run_for(
    scenario: Arc<Scenario>,
    options: Options,
    duration: Duration,
) -> Result<Report, EngineError> {
    let engine = Engine::spawn_with(scenario.clone(), options)?;
    engine.advance(duration).await?;
    let report = Report::new(
        &scenario,
        options.clock,
        duration,
        &engine.snapshot(),
        &engine.history(),
    );
    engine.stop();
    Ok(report)
}
