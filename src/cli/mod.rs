//! The headless commands behind `archsim`'s subcommands.
//!
//! `main.rs` parses [`Cli`] and calls [`run`]; each command lives in its own module and returns
//! the process exit code, so the commands are testable without spawning a process.

#[macro_use]
mod output;

mod args;
mod bench;
mod check;
pub mod run;
mod serve;
mod token;
mod tour;
pub mod trace;

pub use args::{Cli, Command};

use crate::export::export;
use crate::scenario::{self, LoadError};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the input is invalid (`check`).
pub const EXIT_INVALID: u8 = 1;
/// Exit code: usage or I/O error (including `tui` without a terminal).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: a run broke an invariant (`run`).
pub const EXIT_INVARIANT: u8 = 3;

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> u8 {
    match cli.into_command() {
        Command::Check { files } => check::run(&files),
        Command::Bench { quick, only } => bench::run(quick, &only),
        Command::Schema => {
            print_stdout(&scenario::json_schema_text());
            EXIT_OK
        }
        Command::Export { file, view, format } => {
            match scenario::load_or_default(file.as_deref()) {
                Ok(scenario) => {
                    print_stdout(&export(&scenario, view, format));
                    EXIT_OK
                }
                Err(error) => report_load_error(&error),
            }
        }
        Command::Trace {
            target,
            persona,
            host,
            token,
            headers,
            body,
            json,
        } => {
            let Some((file, method, path)) = args::split_trace_target(&target) else {
                eprintln!("archsim trace: expected [FILE] METHOD PATH");
                return EXIT_USAGE;
            };
            trace::run(trace::TraceArgs {
                file,
                persona,
                host,
                token,
                headers,
                method,
                path,
                body,
                json,
            })
        }
        Command::Token { file, persona, ttl } => token::run(file, &persona, ttl),
        Command::Serve { file, listen } => serve::run(file, &listen),
        Command::Run {
            file,
            duration,
            virtual_time,
            time_scale,
            seed,
            json,
            sabotage,
        } => run::run(run::RunArgs {
            file,
            duration_s: duration,
            virtual_time,
            time_scale,
            seed,
            json,
            sabotage,
        }),
        Command::Tour { files, check, .. } if files.is_empty() => tour::run(None, check),
        // Every file, each on its own: 0 when all hold, 1 if a step does not, 2 if a file
        // cannot be read (the worst wins, as with `check`).
        Command::Tour { files, check, .. } => files
            .into_iter()
            .map(|file| tour::run(Some(file), check))
            .fold(EXIT_OK, u8::max),
        Command::Tui(options) => match scenario::load_or_default(options.file.as_deref()) {
            Ok(scenario)
                if options
                    .tour
                    .as_ref()
                    .is_some_and(|id| !scenario.tours.iter().any(|t| &t.id == id)) =>
            {
                let known: Vec<&str> = scenario.tours.iter().map(|t| t.id.as_str()).collect();
                eprintln!(
                    "archsim tui: no tour `{}` in this scenario; its tours: {}",
                    options.tour.unwrap_or_default(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                );
                EXIT_USAGE
            }
            Ok(scenario) => match crate::tui::run(
                scenario,
                options.theme,
                options.tour.as_deref(),
                options.present,
                options.file.as_deref(),
            ) {
                Ok(()) => EXIT_OK,
                Err(error) => {
                    eprintln!("archsim tui: {error}");
                    EXIT_USAGE
                }
            },
            Err(error) => report_load_error(&error),
        },
    }
}

/// Prints a load error on stderr and returns the matching exit code.
pub fn report_load_error(error: &LoadError) -> u8 {
    eprint!("{error}");
    if !error.to_string().ends_with('\n') {
        eprintln!();
    }
    match error {
        LoadError::Io { .. } => EXIT_USAGE,
        LoadError::Invalid(_) => EXIT_INVALID,
    }
}

fn print_stdout(text: &str) {
    out!("{text}");
}
