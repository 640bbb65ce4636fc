//! `archsim tour [FILE] --list | --check`: the scenario's guided tours, listed or played
//! headless so their narration cannot drift from what the code does.
//!
//! `--check` plays every tour on a fresh engine in virtual time, with its traffic running as in
//! the TUI, and each step as the TUI plays it: its actions (rate, faults, workers, sends), its
//! wait (`wait_s`, or `until` a condition holds `within_s`), its request. Then it holds the step
//! to what it expects: the request reaches the step's `stage`, answers `expect.status` with
//! `expect.outcome` at the stage, and every `expect.that` condition holds. A failure names the
//! step as `FILE:LINE:COL`, like `check` does.

use std::path::{Path, PathBuf};

use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE, report_load_error};
use crate::engine::{Clock, Command, Engine, EngineHandle, Options, Reply, Trace, probe};
use crate::scenario::span::SourceMap;
use crate::scenario::{
    self, DEFAULT_SCENARIO, DEFAULT_SCENARIO_NAME, Metric, Scenario, TourStep, Wait,
};
use crate::units;

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
        // from another tour. Traffic and scheduled faults run as they do in the TUI, so what a
        // step expects is what a learner sees.
        let engine = match Engine::spawn_with(scenario.clone(), Options::new(Clock::Virtual)) {
            Ok(engine) => engine,
            Err(error) => {
                eprintln!("archsim tour: {error}");
                return EXIT_USAGE;
            }
        };
        let mut player = Player { engine, last: None };
        outln!("{name}: tour `{}` ({})", tour.id, tour.title);
        for (index, step) in tour.steps.iter().enumerate() {
            checked += 1;
            let Played { problems, seen } = player.play(step);
            outln!(
                "  {} {:>2}  {:<11} {}",
                if problems.is_empty() { "✓" } else { "✗" },
                index + 1,
                player.clock(),
                if seen.is_empty() {
                    "-".to_string()
                } else {
                    seen.join(" · ")
                }
            );
            if problems.is_empty() {
                continue;
            }
            failures += 1;
            for problem in problems {
                let at = map.line_col(problem.at.unwrap_or(step.at.clone()).start);
                eprintln!(
                    "{name}:{}:{}: error: tour `{}` step {}: {}",
                    at.line,
                    at.column,
                    tour.id,
                    index + 1,
                    problem.message
                );
            }
            eprintln!("  says: {}", step.say);
        }
    }
    if failures > 0 {
        eprintln!("{name}: {failures} tour step(s) do not hold");
        return EXIT_INVALID;
    }
    outln!(
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
        outln!("{} has no tours.", scenario.meta.title);
        return;
    }
    for tour in &scenario.tours {
        outln!("{}  {} ({} steps)", tour.id, tour.title, tour.steps.len());
        for (index, step) in tour.steps.iter().enumerate() {
            outln!("  {:>2}. {}", index + 1, step.say);
        }
    }
}

/// Engine time between two looks at the figures while a step waits `until` a condition: the
/// TUI's snapshot period (four a second), so a condition the TUI would see is not stepped over
/// — and each look costs a full snapshot, so looking more often only slows the check.
const POLL_MS: u64 = 250;

/// Something a step expects that does not hold.
struct Problem {
    /// Where it is written (a condition's text); the step's `view` line when `None`.
    at: Option<std::ops::Range<usize>>,
    /// What went wrong, in words.
    message: String,
}

impl From<String> for Problem {
    fn from(message: String) -> Self {
        Self { at: None, message }
    }
}

/// What playing a step showed.
struct Played {
    /// What does not hold of what the step expects.
    problems: Vec<Problem>,
    /// What the step saw, for the author: the figures it waited for and expected, the answer.
    seen: Vec<String>,
}

/// Plays a tour's steps, in order, on one engine in virtual time.
struct Player {
    engine: EngineHandle,
    /// The request the last step sent and its trace: consecutive steps naming the same request
    /// walk one trace, as the TUI does; a new request id sends again.
    last: Option<(String, Trace)>,
}

impl Player {
    /// Plays `step` as the TUI does — its actions, its wait, its request — and holds it to
    /// what it expects.
    fn play(&mut self, step: &TourStep) -> Played {
        let mut problems = Vec::new();
        let mut seen = Vec::new();
        for action in &step.actions {
            for command in probe::commands(action) {
                // Virtual time runs as fast as it can: a time scale means nothing here.
                if matches!(command, Command::SetTimeScale { .. }) {
                    continue;
                }
                let name = command.name();
                if let Err(error) = self.engine.execute(command).wait() {
                    problems.push(format!("action `{name}` was refused: {error}").into());
                }
            }
        }
        match step.wait.as_ref().map(|wait| self.wait(wait)) {
            Some(Ok(Some(reached))) => seen.push(reached),
            Some(Err(problem)) => problems.push(problem),
            Some(Ok(None)) | None => {}
        }
        if let Some(id) = &step.request {
            let trace = match &self.last {
                Some((sent, trace)) if sent == id => Ok(trace.clone()),
                _ => send(&self.engine, id),
            };
            match trace {
                Ok(trace) => {
                    seen.push(answer(step, &trace));
                    problems.extend(check_step(step, id, &trace).into_iter().map(Problem::from));
                    self.last = Some((id.clone(), trace));
                }
                Err(problem) => problems.push(problem.into()),
            }
        }
        if let Some(expect) = &step.expect {
            for condition in &expect.that {
                let figure = self.read(&condition.metric);
                seen.push(format!(
                    "{} = {}",
                    condition.name,
                    figure.map_or("no value".to_string(), units::figure)
                ));
                match figure {
                    Some(figure) if condition.holds(figure) => {}
                    Some(figure) => problems.push(Problem {
                        at: Some(condition.at.clone()),
                        message: format!(
                            "expects `{condition}`, {} is {} at {}",
                            condition.name,
                            units::figure(figure),
                            self.clock()
                        ),
                    }),
                    None => problems.push(Problem {
                        at: Some(condition.at.clone()),
                        message: format!(
                            "expects `{condition}`, {} has no value yet at {}",
                            condition.name,
                            self.clock()
                        ),
                    }),
                }
            }
        }
        Played { problems, seen }
    }

    /// Lets engine time pass as `wait` says; for `until`, what it waited for and when it held.
    fn wait(&self, wait: &Wait) -> Result<Option<String>, Problem> {
        match wait {
            Wait::For(duration) => self
                .advance(duration.as_millis() as u64)
                .map(|()| None)
                .map_err(Problem::from),
            Wait::Until { condition, within } => {
                let start = self.elapsed_ms();
                let deadline = start + within.as_millis() as u64;
                loop {
                    let figure = self.read(&condition.metric);
                    if let Some(figure) = figure.filter(|f| condition.holds(*f)) {
                        return Ok(Some(format!(
                            "until {condition}: {} = {} after {} s",
                            condition.name,
                            units::figure(figure),
                            units::figure((self.elapsed_ms() - start) as f64 / 1000.0)
                        )));
                    }
                    if self.elapsed_ms() >= deadline {
                        let now = figure.map_or("no value".to_string(), units::figure);
                        return Err(Problem {
                            at: Some(condition.at.clone()),
                            message: format!(
                                "waited {} s for `{condition}`: it never held ({} is {now} at \
                                 {})",
                                within.as_secs_f64(),
                                condition.name,
                                self.clock()
                            ),
                        });
                    }
                    self.advance(POLL_MS).map_err(Problem::from)?;
                }
            }
        }
    }

    fn advance(&self, ms: u64) -> Result<(), String> {
        self.engine
            .execute(Command::Advance { ms })
            .wait()
            .map(|_| ())
            .map_err(|error| format!("engine time could not move: {error}"))
    }

    /// The figure `metric` names, now.
    fn read(&self, metric: &Metric) -> Option<f64> {
        if let Metric::Rows { table } = metric {
            return match self
                .engine
                .execute(Command::Rows {
                    table: table.clone(),
                    tenant: None,
                })
                .wait()
            {
                Ok(Reply::Rows(record)) => Some(record.rows.len() as f64),
                _ => None,
            };
        }
        probe::read(&self.engine.snapshot(), metric)
    }

    fn elapsed_ms(&self) -> u64 {
        self.engine.snapshot().elapsed_ms
    }

    /// Engine time, for messages: `t = 93.4 s`.
    fn clock(&self) -> String {
        format!("t = {:.1} s", self.elapsed_ms() as f64 / 1000.0)
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
fn check_step(step: &TourStep, id: &str, trace: &Trace) -> Vec<String> {
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
    problems
}

/// What the request answered, and at the step's stage: `201; publish pass`.
fn answer(step: &TourStep, trace: &Trace) -> String {
    let at_stage = step.stage.as_ref().and_then(|stage| {
        trace
            .stages
            .iter()
            .find(|s| &s.stage == stage)
            .map(|record| format!("; {stage} {}", record.outcome.as_str()))
    });
    format!("{}{}", trace.status, at_stage.unwrap_or_default())
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
