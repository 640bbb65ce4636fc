//! The engine's API over real HTTP, embeddable: `archsim serve` and the HTTP tests both call
//! [`serve`] with a listener and a shutdown signal (the mini-redis `server::run` shape).
//!
//! Slow clients cannot starve it: at most [`ServeLimits::max_connections`] connections are
//! served at once (the rest wait in the kernel's backlog), and a connection that sends nothing
//! for [`ServeLimits::idle`] — half a header, or an idle keep-alive — is closed, which frees
//! its slot.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::{Instant, Sleep};

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
    serve_with(handle, listener, ServeLimits::default(), shutdown).await
}

/// How many connections [`serve`] holds at once, and how long one may stay silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Connections served at once; more wait to be accepted. Default 512, well under a
    /// typical file-descriptor limit of 1024.
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed. Default 10 s.
    pub idle: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            idle: Duration::from_secs(10),
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
        let listener = Guarded {
            inner: tokio::net::TcpListener::from_std(listener)?,
            slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            idle: limits.idle,
        };
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

/// A listener that accepts only while a connection slot is free, and hands out connections
/// that close themselves after `idle` without a byte from the client.
struct Guarded {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    idle: Duration,
}

impl axum::serve::Listener for Guarded {
    type Io = Watched;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so acquiring only waits.
        let Ok(slot) = self.slots.clone().acquire_owned().await else {
            unreachable!("the connection semaphore is never closed")
        };
        loop {
            match self.inner.accept().await {
                Ok((stream, address)) => {
                    let _ = stream.set_nodelay(true);
                    let io = Watched {
                        stream,
                        idle: self.idle,
                        deadline: Box::pin(tokio::time::sleep(self.idle)),
                        _slot: slot,
                    };
                    return (io, address);
                }
                // Out of descriptors or a connection reset before it was accepted: wait a
                // little and go on, as axum's own listener does.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that fails its next read once the client has been silent for `idle`, and
/// gives its slot back when dropped.
struct Watched {
    stream: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    let next = Instant::now() + self.idle;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(result)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the client sent nothing for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
