//! `archsim serve`: the engine's API over real HTTP until Ctrl-C.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::{EXIT_OK, EXIT_USAGE, report_load_error};
use crate::engine::{self, Clock, Engine, Options};
use crate::scenario;

/// Serves the scenario's API on `listen`, logging one line per request, until Ctrl-C.
pub fn run(file: Option<PathBuf>, listen: &str) -> u8 {
    let scenario = match scenario::load_or_default(file.as_deref()) {
        Ok(scenario) => scenario,
        Err(error) => return report_load_error(&error),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "archsim=info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: a log piped to a file or a test must stay plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    // The engine runs the API on all cores on the wall clock; this thread only waits for
    // Ctrl-C, on a small runtime of its own.
    let engine = match Engine::spawn_with(scenario, Options::quiet(Clock::Wall)) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("archsim serve: {error}");
            return EXIT_USAGE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("archsim serve: cannot start the runtime: {error}");
            return EXIT_USAGE;
        }
    };
    let listener = match std::net::TcpListener::bind(listen) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("archsim serve: cannot listen on {listen}: {error}");
            return EXIT_USAGE;
        }
    };
    runtime.block_on(async move {
        // Listen for Ctrl-C before announcing the address: tokio installs its handler only when
        // the signal is first awaited, and a SIGINT before that would kill the process outright
        // (no clean shutdown) — a script that starts `serve` and stops it at once would see it.
        let interrupted = match interrupt_signal() {
            Ok(interrupted) => interrupted,
            Err(error) => {
                eprintln!("archsim serve: cannot listen for Ctrl-C or SIGTERM: {error}");
                return EXIT_USAGE;
            }
        };
        let address = listener.local_addr().map_or_else(|_| listen.to_string(), |a| a.to_string());
        let scenario = engine.scenario();
        let example_tenant = scenario.personas.first().map(|p| p.tenant.clone()).unwrap_or_default();
        let example_persona = scenario.personas.first().map(|p| p.name.clone()).unwrap_or_default();
        eprintln!("archsim serve: {} on http://{address}", scenario.meta.title);
        eprintln!(
            "  try: curl -H 'Host: {}' -H \"Authorization: Bearer $(archsim token --as {example_persona})\" http://{address}/api/v1/projects",
            scenario.host_of(&example_tenant)
        );
        let edge = &scenario.edge;
        eprintln!(
            "  limits: {} connections at once, {} s of silence, {} s per request head ([edge] in the scenario)",
            edge.max_connections,
            edge.idle_timeout.as_secs_f64(),
            edge.header_timeout.as_secs_f64()
        );
        let shutdown = async {
            interrupted.await;
            eprintln!("archsim serve: shutting down");
        };
        match engine::serve(&engine, listener, shutdown).await {
            Ok(()) => EXIT_OK,
            Err(error) => {
                eprintln!("archsim serve: {error}");
                EXIT_USAGE
            }
        }
    })
}

/// A future that completes on Ctrl-C (SIGINT) or SIGTERM (what `kill`, systemd and container
/// runtimes send), with both handlers installed right away: either one shuts down gracefully.
#[cfg(unix)]
fn interrupt_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// A future that completes on Ctrl-C.
#[cfg(not(unix))]
fn interrupt_signal() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
