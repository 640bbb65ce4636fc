//! The `archsim` binary: parses the command line and dispatches to the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: the engine allocates per request and per message,
/// and the allocator was a third of a virtual run's samples (BENCHMARKS.md has the A/B).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    avoid_transparent_huge_pages();
    let cli = archsim::cli::Cli::parse();
    ExitCode::from(archsim::cli::run(cli))
}

/// Where the kernel backs every large mapping with 2 MiB pages (transparent huge pages set to
/// `always`), mimalloc's arenas fault in whole huge pages for a few bytes each: the TUI held
/// 48 MB, and 26 MB with huge pages off (glibc's allocator: 32 MB). Allocation speed is the same
/// either way (BENCHMARKS.md).
#[cfg(target_os = "linux")]
fn avoid_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a flag on this process.
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[cfg(not(target_os = "linux"))]
fn avoid_transparent_huge_pages() {}
