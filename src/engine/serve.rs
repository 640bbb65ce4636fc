//! The engine's API over real HTTP, embeddable: `archsim serve` and the HTTP tests both call
//! [`serve`] with a listener and a shutdown signal (the mini-redis `server::run` shape).

use std::future::Future;
use std::net::SocketAddr;

use tokio::sync::oneshot;

use super::clock::Clock;
use super::handle::EngineHandle;

/// Serves `handle`'s API on `listener` until `shutdown` completes, then lets the requests in
/// progress finish. Connections run on the engine's own runtime, so every stage sees the engine
/// clock; `shutdown` stays with the caller. The engine must run on a live clock (a virtual clock
/// moves only inside commands, so a connection would wait for ever).
pub async fn serve(
    handle: &EngineHandle,
    listener: std::net::TcpListener,
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
        .into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = shared.runtime.spawn(async move {
        // Registered with the engine runtime's reactor: this runs on it.
        let listener = tokio::net::TcpListener::from_std(listener)?;
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
