//! The `archsim` binary: parses the command line and dispatches to the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: the engine allocates per request and per message,
/// and the allocator was a third of a virtual run's samples (BENCHMARKS.md has the A/B).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = archsim::cli::Cli::parse();
    ExitCode::from(archsim::cli::run(cli))
}
