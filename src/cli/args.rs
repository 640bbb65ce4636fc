//! Command-line arguments (clap derive), exactly as DESIGN §4 specifies them.

use std::path::PathBuf;

use crate::tui::ThemeName;
use clap::{Args, Parser, Subcommand};

use crate::export::{DiagramFormat, DiagramView};

/// archsim — a real multi-tenant SaaS backend you can step through in your terminal.
#[derive(Debug, Parser)]
#[command(name = "archsim", version, about, long_about = None)]
// `archsim --theme light` and `archsim my.toml` open the TUI like `archsim tui …` does: the
// bare command takes the TUI's options, and a subcommand takes its own.
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; the TUI when left out.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The TUI's options, for the bare command.
    #[command(flatten)]
    pub tui: TuiArgs,
}

impl Cli {
    /// The command to run: the subcommand given, else the TUI with the bare command's options.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Tui(self.tui))
    }
}

/// Options of the TUI.
#[derive(Debug, Clone, Default, Args)]
pub struct TuiArgs {
    /// Scenario file (default: the built-in SaaS scenario).
    pub file: Option<PathBuf>,
    /// Colour theme.
    #[arg(long, value_enum, default_value_t)]
    pub theme: ThemeName,
    /// Start on this guided tour (`archsim tour` lists them).
    #[arg(long, value_name = "ID")]
    pub tour: Option<String>,
    /// Start in presenter mode: the main panel zoomed, the keys pressed shown (`P` toggles).
    #[arg(long)]
    pub present: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the TUI on FILE or the built-in default scenario (the default command).
    Tui(TuiArgs),
    /// Validate scenario files; print each error as FILE:LINE:COL with a hint.
    Check {
        /// Scenario files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Send one request through the real pipeline and print every stage.
    #[command(override_usage = "archsim trace [FILE] --as PERSONA [OPTIONS] METHOD PATH")]
    Trace {
        /// `[FILE] METHOD PATH`: an optional scenario file (default: the built-in scenario), the
        /// HTTP method and the request path.
        #[arg(num_args = 1.., value_names = ["FILE", "METHOD", "PATH"], required = true, action = clap::ArgAction::Append)]
        target: Vec<String>,
        /// Persona sending the request.
        #[arg(long = "as")]
        persona: String,
        /// Host header (default: the persona's tenant).
        #[arg(long)]
        host: Option<String>,
        /// Bearer token (default: a fresh valid one; `--token ''` sends none).
        #[arg(long)]
        token: Option<String>,
        /// Extra header, `'Name: value'` (repeatable).
        #[arg(long = "header")]
        headers: Vec<String>,
        /// JSON body.
        #[arg(long)]
        body: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a signed access token for a persona.
    Token {
        /// Scenario file (default: the built-in scenario).
        file: Option<PathBuf>,
        /// Persona the token is for.
        #[arg(long = "as")]
        persona: String,
        /// Lifetime in seconds (default: the scenario's), 1 to 31536000 (a year).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_SECONDS))]
        ttl: Option<u64>,
    },
    /// Run the scenario's traffic headless and print a report.
    Run {
        /// Scenario file (default: the built-in scenario).
        file: Option<PathBuf>,
        /// Seconds of traffic, above 0 and at most 31536000 (a year).
        #[arg(long, default_value_t = 60.0, value_parser = seconds)]
        duration: f64,
        /// Run in virtual time (deterministic, as fast as possible).
        #[arg(long = "virtual")]
        virtual_time: bool,
        /// Live runs only: engine seconds per wall second (2 = twice as fast).
        #[arg(long, default_value_t = 1.0, conflicts_with = "virtual_time")]
        time_scale: f64,
        /// Seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Test-only: run with a deliberate bug (`drop-message` or `apply-twice`) to see the
        /// ledger catch it (exit 3).
        #[arg(long, hide = true)]
        sabotage: Option<String>,
    },
    /// Serve the scenario's API over HTTP until Ctrl-C.
    Serve {
        /// Scenario file (default: the built-in scenario).
        file: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Print a diagram of the stage graph or the schema.
    Export {
        /// Scenario file (default: the built-in scenario).
        file: Option<PathBuf>,
        /// Which diagram.
        #[arg(long, value_enum)]
        view: DiagramView,
        /// Diagram language.
        #[arg(long, value_enum)]
        format: DiagramFormat,
    },
    /// List the scenario's guided tours, or play them headless to check every step holds.
    Tour {
        /// Scenario files (default: the built-in scenario), e.g. `scenarios/*.toml`.
        files: Vec<PathBuf>,
        /// Play every tour in virtual time; fail with the step's FILE:LINE:COL when a step's
        /// stage or `expect` does not hold.
        #[arg(long, conflicts_with = "list")]
        check: bool,
        /// Print each tour and its steps (the default).
        #[arg(long)]
        list: bool,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
    /// Measure archsim beside a baseline in the same run (bare axum, a tokio channel, SimPy and
    /// wrk when installed) and print the table of ratios. Build with `--release` for figures
    /// worth keeping.
    Bench {
        /// Smaller workloads and shorter rounds: under a minute instead of about four.
        #[arg(long)]
        quick: bool,
        /// Only these measures (broker, pipeline, http, live, queue, virtual-hour, tui); all when
        /// left out.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
}

/// `[FILE] METHOD PATH` of `trace`, split: (file, method, path).
pub fn split_trace_target(target: &[String]) -> Option<(Option<PathBuf>, String, String)> {
    match target {
        [method, path] => Some((None, method.clone(), path.clone())),
        [file, method, path] => Some((Some(PathBuf::from(file)), method.clone(), path.clone())),
        _ => None,
    }
}

impl Command {
    /// The subcommand's name.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Tui(_) => "tui",
            Command::Check { .. } => "check",
            Command::Trace { .. } => "trace",
            Command::Token { .. } => "token",
            Command::Run { .. } => "run",
            Command::Serve { .. } => "serve",
            Command::Export { .. } => "export",
            Command::Tour { .. } => "tour",
            Command::Schema => "schema",
            Command::Bench { .. } => "bench",
        }
    }

    /// The issue that builds the command.
    pub fn issue(&self) -> u32 {
        match self {
            Command::Trace { .. } | Command::Token { .. } | Command::Serve { .. } => 3,
            Command::Run { .. } => 4,
            Command::Tui(_) => 5,
            Command::Check { .. } | Command::Export { .. } | Command::Schema => 2,
            Command::Tour { .. } => 12,
            Command::Bench { .. } => 14,
        }
    }
}

/// The longest duration a command accepts, in seconds: a year of engine time.
pub const MAX_SECONDS: u64 = 31_536_000;

/// A number of seconds above 0 and at most [`MAX_SECONDS`]: what a clock can add.
fn seconds(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if value.is_finite() && value > 0.0 && value <= MAX_SECONDS as f64 {
        Ok(value)
    } else {
        Err(format!(
            "{text} s is not a duration archsim can run: use more than 0 and at most \
             {MAX_SECONDS} (a year)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_bare_command_takes_the_tuis_options() {
        let tui = |args: &[&str]| match Cli::try_parse_from(args).map(Cli::into_command) {
            Ok(Command::Tui(options)) => options,
            other => panic!("{args:?}: unexpected parse: {other:?}"),
        };
        assert_eq!(
            tui(&["archsim", "--theme", "light"]).theme,
            ThemeName::Light
        );
        assert_eq!(
            tui(&["archsim", "tui", "--theme", "light"]).theme,
            ThemeName::Light
        );
        let options = tui(&["archsim", "my.toml", "--theme", "high-contrast"]);
        assert_eq!(options.file, Some(PathBuf::from("my.toml")));
        assert_eq!(options.theme, ThemeName::HighContrast);
        assert_eq!(tui(&["archsim"]).theme, ThemeName::Dark);
        // A subcommand keeps its own options: the TUI's are refused after it.
        assert!(Cli::try_parse_from(["archsim", "check", "x.toml", "--theme", "light"]).is_err());
    }

    #[test]
    fn trace_takes_an_optional_file_before_method_and_path() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|cli| cli.command);
        match parse(&[
            "archsim",
            "trace",
            "--as",
            "alice",
            "GET",
            "/api/v1/projects",
        ]) {
            Ok(Some(Command::Trace { target, .. })) => {
                assert_eq!(
                    split_trace_target(&target),
                    Some((None, "GET".into(), "/api/v1/projects".into()))
                );
            }
            other => panic!("unexpected parse: {other:?}"),
        }
        match parse(&[
            "archsim", "trace", "s.toml", "--as", "bob", "POST", "/x", "--json",
        ]) {
            Ok(Some(Command::Trace { target, json, .. })) => {
                assert!(json);
                assert_eq!(
                    split_trace_target(&target),
                    Some((Some(PathBuf::from("s.toml")), "POST".into(), "/x".into()))
                );
            }
            other => panic!("unexpected parse: {other:?}"),
        }
        match parse(&["archsim", "trace", "--as", "alice", "GET"]) {
            Ok(Some(Command::Trace { target, .. })) => {
                assert_eq!(split_trace_target(&target), None, "a path is required")
            }
            other => panic!("unexpected parse: {other:?}"),
        }
    }
}
