//! One consumer group's view of a topic: its ready queue, its retries waiting out their backoff,
//! its leases, and the counters that account for every message it was given.
//!
//! Invariant, at every instant: `received = acked + dead_lettered + in_flight + queued`, where
//! `queued` counts ready messages and messages waiting to be retried.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// A message id, unique across the broker, increasing in publication order. (Defined here, with
/// the consumer groups that track messages by it, so this module needs nothing from its parent.)
pub type MessageId = u64;

/// A lease: one worker holds one message until it acks, nacks or the deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Identifies this delivery; a late ack for an older delivery carries an older token.
    pub token: u64,
    /// When the lease expires and the message is redelivered.
    pub deadline: Instant,
    /// The worker holding it.
    pub worker: usize,
    /// When it was leased.
    pub leased_at: Instant,
}

/// Per-group state of one message.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// Deliveries so far.
    pub deliveries: u32,
    /// The error of the last failed delivery.
    pub last_error: Option<String>,
}

/// Counters of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GroupCounters {
    /// Messages the group received from the topic.
    pub received: u64,
    /// Deliveries to workers (first attempts and retries).
    pub delivered: u64,
    /// Messages processed successfully.
    pub acked: u64,
    /// Deliveries that failed and were scheduled again.
    pub retried: u64,
    /// Messages moved to the dead-letter topic.
    pub dead_lettered: u64,
    /// Leases that ran out (the worker crashed or was too slow).
    pub expired: u64,
}

/// A consumer group.
#[derive(Debug)]
pub struct Group {
    /// Group (worker pool) name.
    pub name: String,
    /// Ready messages with the instant they became ready.
    pub ready: VecDeque<(MessageId, Instant)>,
    /// Messages waiting out a retry backoff, by the instant they become ready.
    pub delayed: BTreeMap<(Instant, MessageId), ()>,
    /// Messages leased to workers.
    pub leased: BTreeMap<MessageId, Lease>,
    /// Per-message state, for messages not yet acked or dead-lettered.
    pub tracked: BTreeMap<MessageId, Tracked>,
    /// Counters.
    pub counters: GroupCounters,
    /// ∫ ready-queue length dt, in message·µs (for the time-average queue length).
    queue_area_us: u128,
    /// When the ready-queue length last changed.
    area_since: Option<Instant>,
}

impl Group {
    /// An empty group.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ready: VecDeque::new(),
            delayed: BTreeMap::new(),
            leased: BTreeMap::new(),
            tracked: BTreeMap::new(),
            counters: GroupCounters::default(),
            queue_area_us: 0,
            area_since: None,
        }
    }

    /// Accumulates the queue-length integral up to `now`; call before the ready queue changes.
    pub fn touch(&mut self, now: Instant) {
        if let Some(since) = self.area_since {
            let dt = now.saturating_duration_since(since).as_micros();
            self.queue_area_us += dt * self.ready.len() as u128;
        }
        self.area_since = Some(now);
    }

    /// Time-average length of the ready queue since the group started, up to `now`.
    pub fn mean_queue_length(&self, started: Instant, now: Instant) -> f64 {
        let open = self.area_since.map_or(0, |since| {
            now.saturating_duration_since(since).as_micros() * self.ready.len() as u128
        });
        let total = now.saturating_duration_since(started).as_micros();
        if total == 0 {
            0.0
        } else {
            (self.queue_area_us + open) as f64 / total as f64
        }
    }

    /// Messages waiting: ready plus backing off.
    pub fn queued(&self) -> u64 {
        (self.ready.len() + self.delayed.len()) as u64
    }

    /// Messages leased to workers.
    pub fn in_flight(&self) -> u64 {
        self.leased.len() as u64
    }

    /// Messages the group still holds (not acked, not dead-lettered).
    pub fn backlog(&self) -> u64 {
        self.queued() + self.in_flight()
    }

    /// Takes a message the topic publishes.
    pub fn receive(&mut self, id: MessageId, now: Instant) {
        self.counters.received += 1;
        self.tracked.insert(
            id,
            Tracked {
                deliveries: 0,
                last_error: None,
            },
        );
        self.touch(now);
        self.ready.push_back((id, now));
    }

    /// Moves retries whose backoff is over to the ready queue; returns how many.
    pub fn promote_due(&mut self, now: Instant) -> usize {
        let due: Vec<(Instant, MessageId)> = self
            .delayed
            .range(..=(now, MessageId::MAX))
            .map(|(k, _)| *k)
            .collect();
        if !due.is_empty() {
            self.touch(now);
        }
        for key in &due {
            self.delayed.remove(key);
            self.ready.push_back((key.1, key.0));
        }
        due.len()
    }

    /// The earliest pending deadline: a retry becoming ready or a lease expiring.
    pub fn next_deadline(&self) -> Option<Instant> {
        let retry = self.delayed.keys().next().map(|k| k.0);
        let lease = self.leased.values().map(|l| l.deadline).min();
        match (retry, lease) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Takes the next ready message, if any.
    pub fn pop_ready(&mut self, now: Instant) -> Option<(MessageId, Instant)> {
        self.touch(now);
        self.ready.pop_front()
    }

    /// Puts a message back at the end of the ready queue now (lease expired: redeliver).
    pub fn requeue(&mut self, id: MessageId, now: Instant) {
        self.counters.retried += 1;
        self.touch(now);
        self.ready.push_back((id, now));
    }

    /// Schedules `id` for another delivery after `delay`.
    pub fn schedule_retry(&mut self, id: MessageId, now: Instant, delay: Duration) {
        self.counters.retried += 1;
        self.delayed.insert((now + delay, id), ());
    }
}
