//! The engine's front door: [`Engine::spawn`] starts an engine on its own thread and returns an
//! [`EngineHandle`], the only way in.
//!
//! ```text
//!   client thread(s)                          engine thread (owns its tokio runtime)
//!   ────────────────                          ──────────────────────────────────────
//!   handle.execute(Command) ──── mpsc ──────▶ engine loop ─▶ Simulation::execute
//!        Pending ◀──────────── oneshot ─────  Reply | EngineError
//!   handle.subscribe() ◀─────── broadcast ──  Event (start-up events replayed first)
//!   handle.snapshot()  ◀─────── watch ──────  Arc<Snapshot> (after each command, and every
//!                                             100 ms of wall time on a live clock while read)
//! ```
//!
//! The handle is cheap to clone and usable from any thread, async or not: a [`Pending`] reply
//! can be awaited (from any runtime) or waited for with [`Pending::wait`] (outside one). When the
//! last clone is dropped, or on [`EngineHandle::stop`], the engine's runtime shuts down, and with
//! it every task the engine ever started — so nothing fires after stop.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::broker::{Message, MessageId, RedriveOutcome};
use super::clock::Clock;
use super::command::{Command, Reply};
use super::error::EngineError;
use super::event::EventStream;
use super::history::HistoryView;
use super::options::Options;
use super::request::{ApiRequest, Exchange};
use super::runtime::{Envelope, Shared};
use super::sim::Snapshot;
use super::store::QueryRecord;
use super::trace::Trace;
use crate::scenario::{FaultAction, Scenario, TokenKind};

/// Starts engines. (A namespace: the running engine is reached through its [`EngineHandle`].)
#[derive(Debug)]
pub struct Engine;

impl Engine {
    /// Starts `scenario` on `clock` with its traffic and scheduled faults. Returns once the
    /// database is created and seeded and every part is running.
    pub fn spawn(scenario: Arc<Scenario>, clock: Clock) -> Result<EngineHandle, EngineError> {
        Self::spawn_with(scenario, Options::new(clock))
    }

    /// Starts `scenario` as `options` say.
    pub fn spawn_with(
        scenario: Arc<Scenario>,
        options: Options,
    ) -> Result<EngineHandle, EngineError> {
        let (commands, shared, thread) = super::runtime::spawn(scenario, options)?;
        Ok(EngineHandle::new(commands, shared, thread))
    }
}

struct Inner {
    commands: mpsc::UnboundedSender<Envelope>,
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Inner {
    fn stop(&self) {
        let (reply, _) = oneshot::channel();
        let _ = self.commands.send(Envelope {
            command: Command::Stop,
            reply,
        });
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread {
            // A handle dropped on the engine's own thread (it should not be there) must not
            // wait for itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running engine. Cheap to clone; the engine stops when the last clone is dropped.
#[derive(Clone)]
pub struct EngineHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineHandle")
            .field("scenario", &self.inner.shared.scenario.meta.name)
            .field("clock", &self.inner.shared.options.clock)
            .finish_non_exhaustive()
    }
}

/// A reply on its way: `.await` it (from any runtime) or [`wait`](Pending::wait) for it.
#[derive(Debug)]
#[must_use = "a command's reply says whether it took effect"]
pub struct Pending {
    reply: oneshot::Receiver<Result<Reply, EngineError>>,
}

impl Pending {
    /// Blocks the current thread until the reply arrives. Do not call it inside an async
    /// runtime (await the `Pending` there); it would panic.
    pub fn wait(self) -> Result<Reply, EngineError> {
        self.reply
            .blocking_recv()
            .unwrap_or(Err(EngineError::Stopped))
    }
}

impl Future for Pending {
    type Output = Result<Reply, EngineError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.reply)
            .poll(cx)
            .map(|received| received.unwrap_or(Err(EngineError::Stopped)))
    }
}

impl EngineHandle {
    fn new(
        commands: mpsc::UnboundedSender<Envelope>,
        shared: Arc<Shared>,
        thread: std::thread::JoinHandle<()>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                commands,
                shared,
                thread: Mutex::new(Some(thread)),
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// Sends `command`; the reply comes back through the returned [`Pending`]. Commands start
    /// in the order they are sent.
    pub fn execute(&self, command: Command) -> Pending {
        let (reply, receiver) = oneshot::channel();
        // If the engine has stopped, the envelope is dropped and the Pending answers Stopped.
        let _ = self.inner.commands.send(Envelope { command, reply });
        Pending { reply: receiver }
    }

    /// Subscribes to the event stream (start-up events first).
    pub fn subscribe(&self) -> EventStream {
        self.inner.shared.events.subscribe()
    }

    /// The latest snapshot of everything: at most about 100 ms old on a live clock while it is
    /// read (reading it asks for the next), and as of the last command otherwise. For one taken
    /// now, see [`EngineHandle::fresh_snapshot`].
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner
            .shared
            .snapshot_read
            .store(true, Ordering::Relaxed);
        self.inner.shared.snapshots.borrow().clone()
    }

    /// A snapshot taken now, after every command sent before it ([`Command::Snapshot`]).
    pub async fn fresh_snapshot(&self) -> Result<Arc<Snapshot>, EngineError> {
        match self.execute(Command::Snapshot).await? {
            Reply::Snapshot(snapshot) => Ok(snapshot),
            _ => Err(EngineError::UnexpectedReply("snapshot")),
        }
    }

    /// The scenario the engine runs.
    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.inner.shared.scenario
    }

    /// How the engine was started.
    pub fn options(&self) -> Options {
        self.inner.shared.options
    }

    /// Every topic's per-second history so far: depth against the forecast, arrivals, waits,
    /// live workers and which seconds were disturbed (what steady-state estimates use).
    pub fn history(&self) -> HistoryView {
        self.inner.shared.history.read()
    }

    /// Engine time since start, as of the last command (virtual) or clock step (live).
    pub fn now(&self) -> Duration {
        Duration::from_micros(self.inner.shared.now_us.load(Ordering::Relaxed))
    }

    /// Whether the engine thread is still running (false after stop, or if it died).
    pub fn is_running(&self) -> bool {
        self.inner
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
    }

    /// Stops the engine and waits for its thread: every task ends; commands sent afterwards
    /// answer [`EngineError::Stopped`].
    pub fn stop(&self) {
        self.inner.stop();
    }

    // Typed shorthands: each sends one command and unpacks its reply.

    /// Lets `duration` of engine time pass ([`Command::Advance`]).
    pub async fn advance(&self, duration: Duration) -> Result<(), EngineError> {
        let ms = duration.as_millis().min(u128::from(u64::MAX)) as u64;
        self.execute(Command::Advance { ms }).await.map(|_| ())
    }

    /// Sends `request` through the pipeline ([`Command::Send`]).
    pub async fn send(&self, request: ApiRequest) -> Result<Exchange, EngineError> {
        match self.execute(Command::Send { request }).await? {
            Reply::Response(exchange) => Ok(*exchange),
            _ => Err(EngineError::UnexpectedReply("send")),
        }
    }

    /// Sends `requests` all at once ([`Command::SendAll`]); the responses in the same order.
    pub async fn send_all(&self, requests: Vec<ApiRequest>) -> Result<Vec<Exchange>, EngineError> {
        match self.execute(Command::SendAll { requests }).await? {
            Reply::Responses(exchanges) => Ok(exchanges),
            _ => Err(EngineError::UnexpectedReply("send_all")),
        }
    }

    /// Sends the scenario's named request `id` ([`Command::SendNamed`]); one trace per copy.
    pub async fn send_named(&self, id: &str) -> Result<Vec<Trace>, EngineError> {
        let command = Command::SendNamed { id: id.to_string() };
        match self.execute(command).await? {
            Reply::Traces(traces) => Ok(traces),
            _ => Err(EngineError::UnexpectedReply("send_named")),
        }
    }

    /// A token for `persona`, minted on the engine clock ([`Command::Token`]).
    pub async fn token(
        &self,
        persona: &str,
        kind: TokenKind,
        ttl_s: Option<u64>,
    ) -> Result<Option<String>, EngineError> {
        let command = Command::Token {
            persona: persona.to_string(),
            kind,
            ttl_s,
        };
        match self.execute(command).await? {
            Reply::Token(token) => Ok(token),
            _ => Err(EngineError::UnexpectedReply("token")),
        }
    }

    /// The rows of `table`, of one tenant or all ([`Command::Rows`]).
    pub async fn rows(&self, table: &str, tenant: Option<i64>) -> Result<QueryRecord, EngineError> {
        let command = Command::Rows {
            table: table.to_string(),
            tenant,
        };
        match self.execute(command).await? {
            Reply::Rows(rows) => Ok(rows),
            _ => Err(EngineError::UnexpectedReply("rows")),
        }
    }

    /// The newest `limit` messages held by `topic` ([`Command::Messages`]).
    pub async fn messages(&self, topic: &str, limit: usize) -> Result<Vec<Message>, EngineError> {
        let command = Command::Messages {
            topic: topic.to_string(),
            limit,
        };
        match self.execute(command).await? {
            Reply::Messages(messages) => Ok(messages),
            _ => Err(EngineError::UnexpectedReply("messages")),
        }
    }

    /// Publishes straight to `topic` ([`Command::Publish`]).
    pub async fn publish(
        &self,
        topic: &str,
        event: &str,
        payload: Value,
    ) -> Result<MessageId, EngineError> {
        let command = Command::Publish {
            topic: topic.to_string(),
            event: event.to_string(),
            payload,
            block: false,
        };
        match self.execute(command).await? {
            Reply::Published(id) => Ok(id),
            _ => Err(EngineError::UnexpectedReply("publish")),
        }
    }

    /// Sends the dead letters of `topic` back to their origin topics, at most `limit`
    /// ([`Command::Redrive`]); says how many moved and how many are left.
    pub async fn redrive(
        &self,
        topic: &str,
        limit: Option<usize>,
    ) -> Result<RedriveOutcome, EngineError> {
        let command = Command::Redrive {
            topic: topic.to_string(),
            limit,
        };
        match self.execute(command).await? {
            Reply::Redriven(outcome) => Ok(outcome),
            _ => Err(EngineError::UnexpectedReply("redrive")),
        }
    }

    /// Applies a fault now, reverted after `duration` if given ([`Command::Fault`]); returns
    /// what it did, in a sentence.
    pub async fn fault(
        &self,
        action: FaultAction,
        duration: Option<Duration>,
    ) -> Result<String, EngineError> {
        let command = Command::Fault {
            action,
            duration_ms: duration.map(|d| d.as_millis().min(u128::from(u64::MAX)) as u64),
        };
        match self.execute(command).await? {
            Reply::Applied(message) => Ok(message),
            _ => Err(EngineError::UnexpectedReply("fault")),
        }
    }
}
