//! One consumer group's view of a topic: its ready queue, its retries waiting out their backoff,
//! its leases, its parked messages, and the counters that account for every message it was
//! given.
//!
//! Invariant, at every instant: `received = acked + dead_lettered + in_flight + queued + parked`,
//! where `queued` counts ready messages and messages waiting to be retried, and `parked` counts
//! messages that used up their attempts while the dead-letter topic had no room: the group keeps
//! them (payload, attempts, last error) and delivers them to no worker until they move on.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::FxHashMap;
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

/// A message parked in its group: out of attempts, waiting for room in the dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parked {
    /// Broker-wide parking order: the lowest moves first when room appears.
    pub seq: u64,
    /// The message.
    pub id: MessageId,
    /// When it was parked.
    pub at: Instant,
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
    /// Messages moved to the dead-letter topic (counted when they arrive there, not when they
    /// are parked waiting for room).
    pub dead_lettered: u64,
    /// Messages a redrive took out of this (dead-letter) topic and sent back to their origin.
    /// They are also counted in `acked`: the redrive is the reader that handled them.
    pub redriven: u64,
    /// Leases that ran out (the worker crashed or was too slow).
    pub expired: u64,
}

/// A message a group gave up on (out of attempts), as its consumer sees it.
#[derive(Debug, Clone)]
pub struct GivenUp {
    /// The message.
    pub message: std::sync::Arc<super::Message>,
    /// Deliveries made.
    pub attempts: u32,
    /// The last delivery's error.
    pub error: String,
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
    /// Messages leased to workers. (A hash map, not an ordered one: leases come and go with
    /// every message, and a B-tree's search and rebalancing were a tenth of the broker's cost;
    /// the one walk that needs an order, lease expiry, takes the lowest id itself.)
    pub leased: FxHashMap<MessageId, Lease>,
    /// Messages out of attempts that wait for room in the dead-letter topic, oldest first.
    pub parked: VecDeque<Parked>,
    /// Per-message state, for messages not yet acked or dead-lettered (parked ones included).
    pub tracked: FxHashMap<MessageId, Tracked>,
    /// Counters.
    pub counters: GroupCounters,
    /// Messages this group gave up on, for its consumer to react to (`None`: nobody asked, so
    /// nothing is kept). See [`Broker::watch_give_ups`](super::Broker::watch_give_ups).
    pub given_up: Option<Vec<GivenUp>>,
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
            leased: FxHashMap::default(),
            parked: VecDeque::new(),
            tracked: FxHashMap::default(),
            counters: GroupCounters::default(),
            given_up: None,
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

    /// Messages parked, waiting for room in the dead-letter topic.
    pub fn parked(&self) -> u64 {
        self.parked.len() as u64
    }

    /// Messages the group still holds (not acked, not dead-lettered). Parked messages count: they
    /// take room in the topic, so a full dead-letter topic backs up into its source.
    pub fn backlog(&self) -> u64 {
        self.queued() + self.in_flight() + self.parked()
    }

    /// Parks `id` (out of attempts, no room in the dead-letter topic); `seq` orders parked
    /// messages broker-wide, oldest first.
    pub fn park(&mut self, id: MessageId, seq: u64, now: Instant) {
        self.parked.push_back(Parked { seq, id, at: now });
    }

    /// Settles a message that left the group for the dead-letter topic (directly or from the
    /// parked list).
    pub fn dead_letter(&mut self, id: MessageId) {
        self.parked.retain(|p| p.id != id);
        self.tracked.remove(&id);
        self.counters.dead_lettered += 1;
    }

    /// Takes a waiting message out of the group because a redrive sent it back to its origin:
    /// settled as acked (and counted as redriven). False, changing nothing, if the group does not
    /// hold it waiting (it is leased, or was never here).
    pub fn redrive(&mut self, id: MessageId, now: Instant) -> bool {
        if self.leased.contains_key(&id) || !self.tracked.contains_key(&id) {
            return false;
        }
        if let Some(at) = self.ready.iter().position(|(ready, _)| *ready == id) {
            self.touch(now);
            self.ready.remove(at);
        }
        self.delayed.retain(|(_, delayed), ()| *delayed != id);
        self.parked.retain(|p| p.id != id);
        self.tracked.remove(&id);
        self.counters.acked += 1;
        self.counters.redriven += 1;
        true
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
        self.delayed
            .insert((crate::engine::clock::deadline_after(now, delay), id), ());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Group {
        /// Whether the books balance: every message received is acked, dead-lettered, in
        /// flight, queued or parked.
        fn balanced(&self) -> bool {
            let c = &self.counters;
            c.received
                == c.acked + c.dead_lettered + self.in_flight() + self.queued() + self.parked()
        }
    }

    fn lease(group: &mut Group, now: Instant) -> MessageId {
        let (id, _) = group.pop_ready(now).expect("a ready message");
        if let Some(tracked) = group.tracked.get_mut(&id) {
            tracked.deliveries += 1;
        }
        group.leased.insert(
            id,
            Lease {
                token: id,
                deadline: now + Duration::from_secs(30),
                worker: 0,
                leased_at: now,
            },
        );
        id
    }

    #[test]
    fn every_message_is_in_exactly_one_state_through_park_dead_letter_and_redrive() {
        let now = Instant::now();
        let mut group = Group::new("pool");
        for id in 1..=4 {
            group.receive(id, now);
            assert!(group.balanced());
        }
        assert_eq!((group.queued(), group.backlog()), (4, 4));

        // 1 is acked; 2 and 3 run out of attempts: 2 is parked (no room in the dead-letter
        // topic), 3 is dead-lettered; 4 stays queued.
        let one = lease(&mut group, now);
        group.leased.remove(&one);
        group.tracked.remove(&one);
        group.counters.acked += 1;
        assert!(group.balanced());
        let two = lease(&mut group, now);
        group.leased.remove(&two);
        group.park(two, 1, now);
        assert!(group.balanced(), "parked counts as held");
        assert_eq!(group.parked(), 1);
        assert_eq!(
            group.backlog(),
            3,
            "a parked message keeps its room in the topic"
        );
        assert!(
            group.tracked.contains_key(&two),
            "attempts and last error kept"
        );
        assert!(
            !group.ready.iter().any(|(id, _)| *id == two),
            "not redelivered"
        );
        let three = lease(&mut group, now);
        group.leased.remove(&three);
        group.dead_letter(three);
        assert!(group.balanced());

        // Room appears: the parked message moves on and is counted once, as dead-lettered.
        group.dead_letter(two);
        assert!(group.balanced());
        assert_eq!(group.parked(), 0);
        assert_eq!(group.counters.dead_lettered, 2);

        // A redrive settles a waiting message as acked (and redriven); a leased one stays.
        let four = lease(&mut group, now);
        assert!(!group.redrive(four, now), "leased: a worker holds it");
        group.leased.remove(&four);
        group.requeue(four, now);
        assert!(group.redrive(four, now));
        assert!(!group.redrive(four, now), "gone already");
        assert!(group.balanced());
        let c = group.counters;
        assert_eq!(
            (c.received, c.acked, c.redriven, c.dead_lettered),
            (4, 2, 1, 2)
        );
        assert_eq!(group.backlog(), 0);
        assert!(group.tracked.is_empty());
    }
}
