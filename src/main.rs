//! The `archsim` binary: parses the command line and dispatches to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = archsim::cli::Cli::parse();
    ExitCode::from(archsim::cli::run(cli))
}
