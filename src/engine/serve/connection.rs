//! The listener [`serve`](super::serve) accepts from and the connections it hands out: a slot
//! per connection, deadlines for silent and slow clients, and the JSON answer to a head
//! refused by [`HeadScanner`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use super::ServeLimits;
use super::head::{HeadScanner, Refusal};

/// After a refusal, how long the connection keeps reading (and discarding) what the client still
/// sends before it closes: closing with unread bytes would reset the connection, and the client
/// could lose the answer before reading it.
const LINGER: Duration = Duration::from_secs(2);
/// The most bytes discarded while lingering.
const LINGER_BYTES: usize = 4 * 1024 * 1024;
/// The longest any client deadline may be, so adding it to an instant cannot overflow.
const LONGEST_DEADLINE: Duration = Duration::from_secs(24 * 3600);

/// A listener that accepts only while a connection slot is free.
pub struct Guarded {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    limits: ServeLimits,
}

impl Guarded {
    /// Accepts from `inner` within `limits`.
    pub fn new(inner: TcpListener, limits: ServeLimits) -> Self {
        let limits = ServeLimits {
            max_connections: limits.max_connections.max(1),
            idle: limits.idle.min(LONGEST_DEADLINE),
            header_read: limits.header_read.min(LONGEST_DEADLINE),
        };
        Self {
            inner,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            limits,
        }
    }
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
                    return (Watched::new(stream, self.limits, slot), address);
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

/// A connection that watches its client: heads are followed by a [`HeadScanner`], a head that
/// is refused or too slow is answered here, a silent client is dropped, and the slot goes back
/// when the connection is dropped.
pub struct Watched {
    stream: TcpStream,
    limits: ServeLimits,
    scanner: HeadScanner,
    /// When the client last sent a byte.
    last_heard: Instant,
    /// When the head being read began, while one is.
    head_began: Option<Instant>,
    /// Fires at the earliest deadline that applies.
    alarm: Pin<Box<Sleep>>,
    /// The answer being sent, once a head was refused; the connection then reads no further.
    refusing: Option<Refusing>,
    _slot: OwnedSemaphorePermit,
}

/// A refusal on its way out.
struct Refusing {
    response: Vec<u8>,
    written: usize,
    shut_down: bool,
    discarded: usize,
}

impl Watched {
    fn new(stream: TcpStream, limits: ServeLimits, slot: OwnedSemaphorePermit) -> Self {
        let now = Instant::now();
        Self {
            stream,
            limits,
            scanner: HeadScanner::default(),
            last_heard: now,
            head_began: None,
            alarm: Box::pin(tokio::time::sleep_until(now + limits.idle)),
            refusing: None,
            _slot: slot,
        }
    }

    /// The deadline that applies now: the idle limit, or the head's own if it comes first.
    fn deadline(&self) -> Instant {
        let idle = self.last_heard + self.limits.idle;
        self.head_began
            .map_or(idle, |began| idle.min(began + self.limits.header_read))
    }

    /// Follows bytes just read; a refusal starts the answer.
    fn heard(&mut self, bytes: &[u8]) -> Result<(), Refusal> {
        let now = Instant::now();
        self.last_heard = now;
        let heads_before = self.scanner.heads_read();
        let followed = self.scanner.feed(bytes);
        self.head_began = match self.head_began {
            _ if !self.scanner.reading_head() => None,
            Some(began) if self.scanner.heads_read() == heads_before => Some(began),
            _ => Some(now),
        };
        let deadline = self.deadline();
        self.alarm.as_mut().reset(deadline);
        followed
    }

    /// Why the client is too slow, when the alarm fired in the middle of a head.
    fn too_slow(&self) -> Option<Refusal> {
        let began = self.head_began?;
        let now = Instant::now();
        Some(if now >= began + self.limits.header_read {
            Refusal::TooSlow(self.limits.header_read)
        } else {
            Refusal::Silent(self.limits.idle)
        })
    }

    fn refuse(&mut self, refusal: &Refusal) {
        let error = refusal.error();
        // Never reached the pipeline, so the access log would not see it: one WARN line in the
        // same place, `stopped_at="connection"`, so `serve`'s log still accounts for every answer.
        tracing::warn!(
            target: "archsim::request",
            status = error.status.as_u16(),
            code = error.code,
            client = %self.stream.peer_addr().map_or_else(|_| "-".into(), |a| a.to_string()),
            stopped_at = "connection",
            "{}",
            error.message
        );
        self.refusing = Some(Refusing {
            response: refusal.response(),
            written: 0,
            shut_down: false,
            discarded: 0,
        });
        self.alarm.as_mut().reset(Instant::now() + LINGER);
    }

    /// Sends the refusal, closes the sending side and lingers; then tells hyper the client has
    /// finished (end of stream), so it drops the connection without answering again.
    fn poll_refusal(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let end = Poll::Ready(Ok(()));
        let Some(refusing) = self.refusing.as_mut() else {
            return end;
        };
        let stream = Pin::new(&mut self.stream);
        let step = refusing.poll_step(stream, cx);
        match step {
            Poll::Ready(()) => end,
            // Waiting on the client; give up when the linger time is over.
            Poll::Pending => match self.alarm.as_mut().poll(cx) {
                Poll::Ready(()) => end,
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl Refusing {
    /// Writes, shuts down, then discards input until the client closes; ready when done or
    /// when there is nothing more worth waiting for.
    fn poll_step(&mut self, mut stream: Pin<&mut TcpStream>, cx: &mut Context<'_>) -> Poll<()> {
        while self.written < self.response.len() {
            match stream
                .as_mut()
                .poll_write(cx, &self.response[self.written..])
            {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(written)) => self.written += written,
                Poll::Pending => return Poll::Pending,
            }
        }
        if !self.shut_down {
            match stream.as_mut().poll_shutdown(cx) {
                Poll::Ready(_) => self.shut_down = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        let mut scratch = [0u8; 8192];
        loop {
            let mut unread = ReadBuf::new(&mut scratch);
            match stream.as_mut().poll_read(cx, &mut unread) {
                Poll::Ready(Ok(())) if !unread.filled().is_empty() => {
                    self.discarded += unread.filled().len();
                    if self.discarded > LINGER_BYTES {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.refusing.is_some() {
            return this.poll_refusal(cx);
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let bytes = &buf.filled()[before..];
                if bytes.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                if let Err(refusal) = this.heard(bytes) {
                    // hyper never sees the refused bytes.
                    buf.set_filled(before);
                    this.refuse(&refusal);
                    return this.poll_refusal(cx);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match this.alarm.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => match this.too_slow() {
                    Some(refusal) => {
                        this.refuse(&refusal);
                        this.poll_refusal(cx)
                    }
                    None => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client sent nothing for too long",
                    ))),
                },
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
