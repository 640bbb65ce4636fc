//! The engine's API over real HTTP, embeddable: `archsim serve` and the HTTP tests both call
//! [`serve`] with a listener and a shutdown signal (the mini-redis `server::run` shape).
//!
//! Slow clients cannot starve it: at most [`ServeLimits::max_connections`] connections are
//! served at once (the rest wait in the kernel's backlog), a request head must arrive within
//! [`ServeLimits::header_read`] (408 otherwise), and a connection that sends nothing for
//! [`ServeLimits::idle`] is closed, which frees its slot. Heads too large or malformed for
//! HTTP's parser are answered in the JSON error shape before it sees them ([`head`]).

mod connection;
pub mod head;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;

use self::connection::Guarded;
use super::clock::Clock;
use super::handle::EngineHandle;
use crate::scenario::EdgeConfig;

/// Serves `handle`'s API on `listener`, within its scenario's [`ServeLimits`], until `shutdown` completes, then lets the requests in
/// progress finish. Connections run on the engine's own runtime, so every stage sees the engine
/// clock; `shutdown` stays with the caller. The engine must run on a live clock (a virtual clock
/// moves only inside commands, so a connection would wait for ever).
pub async fn serve(
    handle: &EngineHandle,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = ServeLimits::of(&handle.scenario().edge);
    serve_with(handle, listener, limits, shutdown).await
}

/// How many connections [`serve`] holds at once, and how long a client may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Connections served at once; more wait to be accepted. Default 512, well under a
    /// typical file-descriptor limit of 1024.
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed (a head begun and left
    /// unfinished is answered 408 first). Default 10 s.
    pub idle: Duration,
    /// A request head must arrive whole within this long of its first byte, however steadily
    /// it trickles in; otherwise 408. Default 10 s.
    pub header_read: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            idle: Duration::from_secs(10),
            header_read: Duration::from_secs(10),
        }
    }
}

impl ServeLimits {
    /// The limits a scenario's `[edge]` sets (`max_connections`, `idle_timeout_s`,
    /// `header_timeout_s`).
    pub fn of(edge: &EdgeConfig) -> Self {
        Self {
            max_connections: edge.max_connections as usize,
            idle: edge.idle_timeout,
            header_read: edge.header_timeout,
        }
    }
}

/// [`serve`] with explicit [`ServeLimits`].
pub async fn serve_with(
    handle: &EngineHandle,
    listener: std::net::TcpListener,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    if handle.options().clock == Clock::Virtual {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "an engine on virtual time cannot serve HTTP: start it on the wall clock",
        ));
    }
    listener.set_nonblocking(true)?;
    let shared = handle.shared();
    let service = shared
        .router
        .clone()
        .into_make_service_with_connect_info::<ClientAddr>();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = shared.runtime.spawn(async move {
        // Registered with the engine runtime's reactor: this runs on it.
        let listener = Guarded::new(tokio::net::TcpListener::from_std(listener)?, limits);
        axum::serve(listener, service)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    tokio::pin!(server);
    tokio::pin!(shutdown);
    let joined = tokio::select! {
        joined = &mut server => joined,
        () = &mut shutdown => {
            let _ = stop.send(());
            server.await
        }
    };
    joined.unwrap_or_else(|error| Err(std::io::Error::other(error.to_string())))
}

/// The client's address, as [`serve`]'s connections carry it (`ConnectInfo<ClientAddr>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Guarded>>
    for ClientAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, Guarded>) -> Self {
        Self(*stream.remote_addr())
    }
}
