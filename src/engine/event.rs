//! The engine's event stream: what happened, in order, for any number of subscribers.
//!
//! Events published while the engine starts (the "system ready" line, anything the scenario's
//! start-up does) are kept and replayed to every subscriber, so a client that subscribes after
//! [`Engine::spawn`](super::Engine::spawn) returns misses nothing. After start-up the stream is
//! live only: a subscriber that falls behind by more than [`CAPACITY`] events is told how many
//! it missed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use tokio::sync::broadcast;

use super::broker::BrokerEvent;
use super::clock::EngineClock;
use super::workers::WorkerChange;

/// How many live events a subscriber may fall behind before it misses some.
pub const CAPACITY: usize = 4096;

/// How serious a log event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Normal operation.
    Info,
    /// Something a learner should notice (a refused publish, a skipped event).
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// `info`, `warn` or `error`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Something that happened in the engine, stamped with the engine time it happened at.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A log line: the engine's own narration (start-up, controls applied).
    Log {
        /// Engine time, ms.
        at_ms: u64,
        /// Severity.
        level: Level,
        /// Text.
        message: String,
    },
    /// A broker event.
    Broker {
        /// Engine time, ms.
        at_ms: u64,
        /// What happened.
        event: BrokerEvent,
    },
    /// A worker changed state.
    Worker {
        /// Engine time, ms.
        at_ms: u64,
        /// What changed.
        change: WorkerChange,
    },
    /// A fault was applied or reverted.
    Fault {
        /// Engine time, ms.
        at_ms: u64,
        /// What happened.
        message: String,
    },
}

impl Event {
    /// Engine time of the event, ms.
    pub fn at_ms(&self) -> u64 {
        match self {
            Event::Log { at_ms, .. }
            | Event::Broker { at_ms, .. }
            | Event::Worker { at_ms, .. }
            | Event::Fault { at_ms, .. } => *at_ms,
        }
    }
}

/// Publishes events to every subscriber; keeps the start-up events for late subscribers.
#[derive(Debug, Clone)]
pub(crate) struct EventBus {
    live: broadcast::Sender<Event>,
    /// The start-up events, kept for replay until sealed.
    startup: Arc<Mutex<StartUp>>,
    /// Whether start-up is over, readable without the lock (see [`EventBus::listening`]).
    sealed: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
struct StartUp {
    events: Vec<Event>,
    sealed: bool,
}

impl EventBus {
    /// An empty bus in start-up mode.
    pub(crate) fn new() -> Self {
        Self {
            live: broadcast::channel(CAPACITY).0,
            startup: Arc::new(Mutex::new(StartUp::default())),
            sealed: Arc::default(),
        }
    }

    /// Whether an event published now reaches anyone: a subscriber, or the start-up replay.
    /// Publishers whose events cost to build (one per message and worker state) ask first.
    pub(crate) fn listening(&self) -> bool {
        !self.sealed.load(Ordering::Acquire) || self.live.receiver_count() > 0
    }

    fn startup(&self) -> std::sync::MutexGuard<'_, StartUp> {
        self.startup
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Publishes `event` (kept for replay while the engine is starting).
    pub(crate) fn publish(&self, event: Event) {
        // Hold the start-up lock while sending, so a subscriber never sees an event both in its
        // replay and live, nor misses one between the two.
        let mut startup = self.startup();
        if !startup.sealed {
            startup.events.push(event.clone());
        }
        let _ = self.live.send(event);
    }

    /// Ends start-up: later events are live only.
    pub(crate) fn seal(&self) {
        self.startup().sealed = true;
        self.sealed.store(true, Ordering::Release);
    }

    /// A new subscriber: the start-up events first, then everything live from now on.
    pub(crate) fn subscribe(&self) -> EventStream {
        let startup = self.startup();
        EventStream {
            replay: startup.events.iter().cloned().collect(),
            live: self.live.subscribe(),
        }
    }
}

/// The event stream as the broker and the worker pools see it: they are built before the
/// stream exists, so they hold an outlet that [`EventOutlet::connect`] joins to it once the
/// simulation starts. Until then, and whenever nobody listens, publishing builds nothing.
///
/// Publishing goes straight into the stream, at the moment it happens, rather than through a
/// forwarding task per source: events keep their causal order, and a run nobody watches (a
/// virtual run, the bench) does not wake a task for every message.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventOutlet(Arc<OnceLock<Connected>>);

#[derive(Debug)]
struct Connected {
    bus: EventBus,
    clock: EngineClock,
}

impl EventOutlet {
    /// Joins the outlet to `bus`, stamping events with engine time from `clock`. Only the
    /// first connection counts.
    pub(crate) fn connect(&self, bus: EventBus, clock: EngineClock) {
        let _ = self.0.set(Connected { bus, clock });
    }

    /// Whether an event published now would reach anyone ([`EventBus::listening`]).
    pub(crate) fn listening(&self) -> bool {
        self.0
            .get()
            .is_some_and(|connected| connected.bus.listening())
    }

    /// Publishes the event `build` makes from the engine time in ms — built only if someone
    /// listens.
    pub(crate) fn publish(&self, build: impl FnOnce(u64) -> Event) {
        if let Some(connected) = self.0.get().filter(|c| c.bus.listening()) {
            let at_ms = connected.clock.elapsed().as_millis() as u64;
            connected.bus.publish(build(at_ms));
        }
    }
}

/// One subscriber's view of the event stream.
#[derive(Debug)]
pub struct EventStream {
    replay: VecDeque<Event>,
    live: broadcast::Receiver<Event>,
}

/// What a subscriber gets instead of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The subscriber fell behind and `0` events were dropped for it; the next ones follow.
    #[error("the subscriber fell behind and missed {0} events")]
    Lagged(u64),
    /// The engine has stopped and every event has been read.
    #[error("the engine has stopped")]
    Closed,
}

impl EventStream {
    /// The next event, waiting for one.
    pub async fn recv(&mut self) -> Result<Event, StreamError> {
        if let Some(event) = self.replay.pop_front() {
            return Ok(event);
        }
        self.live.recv().await.map_err(|error| match error {
            broadcast::error::RecvError::Lagged(missed) => StreamError::Lagged(missed),
            broadcast::error::RecvError::Closed => StreamError::Closed,
        })
    }

    /// The next event if one is ready, `Ok(None)` if none is yet.
    pub fn try_recv(&mut self) -> Result<Option<Event>, StreamError> {
        if let Some(event) = self.replay.pop_front() {
            return Ok(Some(event));
        }
        match self.live.try_recv() {
            Ok(event) => Ok(Some(event)),
            Err(broadcast::error::TryRecvError::Empty) => Ok(None),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => Err(StreamError::Lagged(missed)),
            Err(broadcast::error::TryRecvError::Closed) => Err(StreamError::Closed),
        }
    }

    /// Every event ready now, oldest first; a gap is reported as a warning log line in place.
    pub fn drain(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            match self.try_recv() {
                Ok(Some(event)) => events.push(event),
                Ok(None) | Err(StreamError::Closed) => return events,
                Err(StreamError::Lagged(missed)) => events.push(Event::Log {
                    at_ms: events.last().map_or(0, Event::at_ms),
                    level: Level::Warn,
                    message: format!("this view skipped {missed} events (too many to show)"),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: u64) -> Event {
        Event::Log {
            at_ms: n,
            level: Level::Info,
            message: format!("event {n}"),
        }
    }

    #[test]
    fn late_subscribers_get_the_start_up_events_then_live_ones_once() {
        let bus = EventBus::new();
        bus.publish(log(1));
        bus.publish(log(2));
        bus.seal();
        let mut early_after_seal = bus.subscribe();
        bus.publish(log(3));
        let mut late = bus.subscribe();
        bus.publish(log(4));
        let ats = |s: &mut EventStream| s.drain().iter().map(Event::at_ms).collect::<Vec<_>>();
        assert_eq!(ats(&mut early_after_seal), [1, 2, 3, 4]);
        // Event 3 happened after start-up and before this subscriber: not replayed.
        assert_eq!(ats(&mut late), [1, 2, 4]);
    }

    #[test]
    fn a_lagging_subscriber_is_told_how_many_it_missed() {
        let bus = EventBus::new();
        bus.seal();
        let mut stream = bus.subscribe();
        for n in 0..(CAPACITY as u64 + 10) {
            bus.publish(log(n));
        }
        let events = stream.drain();
        let Event::Log { level, message, .. } = &events[0] else {
            panic!("expected the gap first, got {:?}", events[0]);
        };
        assert_eq!(*level, Level::Warn);
        assert!(message.contains("skipped 10 events"), "{message}");
        assert_eq!(events.len(), CAPACITY + 1);
    }
}
