//! `archsim tour [FILE] --list | --check`: the scenario's guided tours, listed or played
//! headless so their narration cannot drift from what the code does.
//!
//! `--check` plays every step that sends a request on a quiet engine in virtual time and
//! holds it to the step: the request must reach the step's `stage`, and answer what its
//! `expect` says (`status`, the `outcome` at the stage). A failure names the step as
//! `FILE:LINE:COL`, like `check` does.

use std::path::{Path, PathBuf};

use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE, report_load_error};
use crate::engine::{Clock, Command, Engine, EngineHandle, Options, Reply, Trace};
use crate::scenario::span::SourceMap;
use crate::scenario::{self, DEFAULT_SCENARIO, DEFAULT_SCENARIO_NAME, Scenario, TourStep};

/// Lists (`check` false) or checks the tours of `file` (the built-in scenario by default).
pub fn run(file: Option<PathBuf>, check: bool) -> u8 {
    let scenario = match scenario::load_or_default(file.as_deref()) {
        Ok(scenario) => scenario,
        Err(error) => return report_load_error(&error),
    };
    if !check {
        list(&scenario);
        return EXIT_OK;
    }
    let (name, text) = match source(file.as_deref()) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("archsim tour: {message}");
            return EXIT_USAGE;
        }
    };
    let map = SourceMap::new(&text);
    let mut failures = 0;
    let mut checked = 0;
    for tour in &scenario.tours {
        // Each tour on a fresh system, as a class would start it: no cache or rows left over
        // from another tour.
        let engine = match Engine::spawn_with(scenario.clone(), Options::quiet(Clock::Virtual)) {
            Ok(engine) => engine,
            Err(error) => {
                eprintln!("archsim tour: {error}");
                return EXIT_USAGE;
            }
        };
        // Consecutive steps naming the same request walk one trace, as the TUI does; a new
        // request id sends again.
        let mut last: Option<(String, Trace)> = None;
        for (index, step) in tour.steps.iter().enumerate() {
            let Some(id) = &step.request else { continue };
            let trace = match &last {
                Some((sent, trace)) if sent == id => Ok(trace.clone()),
                _ => send(&engine, id),
            };
            checked += 1;
            let problem = match trace {
                Ok(trace) => {
                    let problem = check_step(step, id, &trace);
                    last = Some((id.clone(), trace));
                    problem
                }
                Err(problem) => Some(problem),
            };
            let Some(problem) = problem else { continue };
            failures += 1;
            let at = map.line_col(step.at.start);
            eprintln!(
                "{name}:{}:{}: error: tour `{}` step {}: {problem}",
                at.line,
                at.column,
                tour.id,
                index + 1
            );
            eprintln!("  says: {}", step.say);
        }
    }
    if failures > 0 {
        eprintln!("{name}: {failures} tour step(s) do not hold");
        return EXIT_INVALID;
    }
    println!(
        "{name}: ok — {} tour(s), {checked} step(s) played against the engine",
        scenario.tours.len()
    );
    EXIT_OK
}

/// The file's name and text as the diagnostics show them.
fn source(file: Option<&Path>) -> Result<(String, String), String> {
    match file {
        Some(path) => std::fs::read_to_string(path)
            .map(|text| (path.display().to_string(), text))
            .map_err(|error| format!("cannot read {}: {error}", path.display())),
        None => Ok((
            DEFAULT_SCENARIO_NAME.to_string(),
            DEFAULT_SCENARIO.to_string(),
        )),
    }
}

fn list(scenario: &Scenario) {
    if scenario.tours.is_empty() {
        println!("{} has no tours.", scenario.meta.title);
        return;
    }
    for tour in &scenario.tours {
        println!("{}  {} ({} steps)", tour.id, tour.title, tour.steps.len());
        for (index, step) in tour.steps.iter().enumerate() {
            println!("  {:>2}. {}", index + 1, step.say);
        }
    }
}

/// Sends request `id` and returns its first copy's trace.
fn send(engine: &EngineHandle, id: &str) -> Result<Trace, String> {
    match engine
        .execute(Command::SendNamed { id: id.to_string() })
        .wait()
    {
        Ok(Reply::Traces(traces)) => traces
            .into_iter()
            .next()
            .ok_or_else(|| format!("request `{id}` got no traces back")),
        Ok(_) => Err(format!("request `{id}` got no traces back")),
        Err(error) => Err(format!("request `{id}` could not be sent: {error}")),
    }
}

/// What is wrong with `step`, whose request `id` left `trace`, if anything.
fn check_step(step: &TourStep, id: &str, trace: &Trace) -> Option<String> {
    let mut problems = Vec::new();
    if let Some(expected) = step.expect.as_ref().and_then(|e| e.status)
        && trace.status != expected
    {
        problems.push(format!(
            "expects status {expected}, the request answered {}",
            trace.status
        ));
    }
    if let Some(stage) = &step.stage {
        match trace.stages.iter().find(|s| &s.stage == stage) {
            None => problems.push(format!(
                "request `{id}` never reaches stage `{stage}` ({})",
                stopped(trace)
            )),
            Some(record) => {
                if let Some(expected) = step.expect.as_ref().and_then(|e| e.outcome.as_ref())
                    && record.outcome.as_str() != expected
                {
                    problems.push(format!(
                        "expects `{expected}` at `{stage}`, it was `{}` ({})",
                        record.outcome.as_str(),
                        stopped(trace)
                    ));
                }
            }
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Where a trace ended, in words.
fn stopped(trace: &Trace) -> String {
    match trace.rejected_at() {
        Some(record) => format!(
            "{} {} at `{}`",
            trace.status,
            record.outcome.as_str(),
            record.stage
        ),
        None => format!("answered {}", trace.status),
    }
}
