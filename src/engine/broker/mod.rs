//! The in-process event broker: topics, consumer groups, leases, retries with backoff and
//! dead-letter topics, bounded capacity with a publisher policy.
//!
//! ```text
//!  publish ─▶ topic ─┬─▶ group A: ready ─lease─▶ worker ─ack─▶ done
//!                    │            ▲               │ nack / lease expired
//!                    │            └── backoff ◀───┘ (attempts left)
//!                    │                            └──▶ dead-letter topic (attempts used up)
//!                    └─▶ group B: …  (every group receives every message)
//! ```
//!
//! Nothing is lost: for every topic and group, at every instant,
//! `received = acked + dead_lettered + in_flight + queued + parked`, and a publish the topic has
//! no room for is refused to the caller, never dropped. A message out of attempts whose
//! dead-letter topic is full is *parked* in its group — payload, attempts and last error kept,
//! delivered to no worker — and moves to the dead-letter topic, oldest first, as soon as that
//! has room. A redrive ([`Broker::redrive`]) sends dead letters back to their origin topic as
//! fresh messages; the dead-letter topic counts them as acked (and redriven).
//!
//! ```text
//!  source group ──out of attempts──▶ DLQ has room? ──yes──▶ dead-letter topic ──redrive──┐
//!        ▲                                │ no                       ▲                   │
//!        │                                ▼                          │ room appears      │
//!        │                             parked ───────────────────────┘                   │
//!        └──────────────────── fresh message, attempts from 1 ◀──────────────────────────┘
//! ```
//!
//! Every time the broker reads comes from the engine clock (tokio), so retries, lease expiry and
//! parking run the same in virtual time.
//!
//! This module holds the broker's state and its publish / lease / ack path; the rest lives in:
//!
//! ```text
//!  message    messages, deliveries, publish and nack outcomes, the event stream's events
//!  group      one consumer group's books: ready, backing off, leased, counters
//!  timers     failed deliveries (retry with backoff, dead-letter), lease expiry, paused topics
//!  dead       dead letters: moving into the dead-letter topic, parking, unparking, redrive
//!  snapshot   read-only views: per-topic and per-group snapshots, depths, balance checks
//!  histogram  wait and service-time histograms and their millisecond summaries
//! ```

mod dead;
pub mod group;
mod histogram;
mod ledger;
mod log;
mod message;
mod snapshot;
mod timers;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use smallvec::SmallVec;
use tokio::sync::Notify;
use tokio::time::Instant;

use self::group::{Group, Lease};
use self::ledger::{Fate, Ledger};
use self::log::MessageLog;
use super::clock::EngineClock;
use super::event::{Event, EventOutlet};
use super::latency::SeededRng;
use crate::scenario::{FullPolicy, Scenario, Topic};

pub use self::group::{GivenUp, MessageId};
pub use histogram::{DurationHistogram, LatencySummary};
pub use ledger::LedgerReport;
pub use message::{
    BrokerEvent, DeadLetterOrigin, Delivery, Message, NackOutcome, PublishError, RedriveError,
    RedriveOutcome,
};
pub use snapshot::{DeadLetterSnapshot, GroupSnapshot, TopicSnapshot};

struct TopicState {
    config: Topic,
    /// The topic's name, shared by its messages.
    name: Arc<str>,
    groups: Vec<Group>,
    /// Whether the groups are real consumers (false: one retaining group nobody leases from).
    consumed: bool,
    messages: MessageLog,
    published: u64,
    rejected: u64,
    /// Messages a redrive took out of this topic (a dead-letter topic) back to their origin.
    redriven: u64,
    /// The topics that dead-letter into this one (empty: not a dead-letter topic).
    dead_letter_for: Vec<String>,
    /// Index of this topic's own dead-letter topic, if it has one.
    dead_letter_index: Option<usize>,
    paused_until: Option<Instant>,
    wait: DurationHistogram,
    /// Sum of every wait, µs: windowed means are differences of it.
    wait_total_us: u128,
    service: DurationHistogram,
    ready: Vec<Arc<Notify>>,
    /// Per group: woken when the group gives a message up (see `watch_give_ups`).
    give_up_wake: Vec<Arc<Notify>>,
    space: Arc<Notify>,
}

impl TopicState {
    fn backlog(&self) -> u64 {
        self.groups.iter().map(Group::backlog).max().unwrap_or(0)
    }

    fn has_room(&self) -> bool {
        self.backlog() < u64::from(self.config.capacity)
    }

    fn is_paused(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|until| now < until)
    }

    /// Drops the shared copy of a message once no group holds it any more.
    fn release(&mut self, id: MessageId) {
        if self.groups.iter().all(|g| !g.tracked.contains_key(&id)) {
            self.messages.remove(id);
        }
    }
}

struct State {
    topics: Vec<TopicState>,
    next_id: MessageId,
    next_token: u64,
    /// Parking order, broker-wide.
    next_park: u64,
    /// Every message's state per group, checked against the books (see `ledger`).
    ledger: Ledger,
    /// The instant the timer task sleeps until (`None`: until woken), so a lease wakes it only
    /// when the lease expires sooner — not once per message.
    timers_due: Option<Instant>,
}

/// A message about to be inserted.
struct Draft<'a> {
    event: &'a str,
    payload: Value,
    poison: bool,
    origin: Option<DeadLetterOrigin>,
    /// `None`: `msg:<id>`.
    key: Option<String>,
}

/// What to do once the lock is released: wake waiters, then publish events, in order.
#[derive(Default)]
struct Deferred {
    /// Inline: nearly every publish, ack and nack wakes one to three waiters, and a heap
    /// allocation for them was a tenth of an ack's cost.
    wake: SmallVec<[Arc<Notify>; 4]>,
    events: Vec<BrokerEvent>,
}

impl Deferred {
    fn fire(self, broker: &Broker) {
        for notify in self.wake {
            notify.notify_one();
        }
        for event in self.events {
            broker.emit(event);
        }
    }
}

/// `msg:<id>`, the key of a message that announces no fact of its own. (Written without
/// `format!`, whose machinery was a third of a publish's cost.)
fn own_key(id: MessageId) -> String {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(id);
    let mut key = String::with_capacity("msg:".len() + digits.len());
    key.push_str("msg:");
    key.push_str(digits);
    key
}

/// The broker. Share it behind an `Arc`.
pub struct Broker {
    state: Mutex<State>,
    started: Instant,
    clock: EngineClock,
    rng: Arc<SeededRng>,
    timers: Notify,
    /// Where its events go: the engine's event stream once the simulation connects it.
    events: EventOutlet,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").finish_non_exhaustive()
    }
}

impl Broker {
    /// A broker with the scenario's topics; each worker pool is a consumer group of its topic.
    pub fn new(scenario: &Scenario, clock: EngineClock, rng: Arc<SeededRng>) -> Self {
        let topics = scenario
            .topics
            .iter()
            .map(|topic| {
                let pools: Vec<&str> = scenario
                    .workers
                    .iter()
                    .filter(|w| w.topic == topic.name)
                    .map(|w| w.name.as_str())
                    .collect();
                let consumed = !pools.is_empty();
                let groups: Vec<Group> = if consumed {
                    pools.iter().map(|p| Group::new(p)).collect()
                } else {
                    vec![Group::new("(retained)")]
                };
                TopicState {
                    ready: groups.iter().map(|_| Arc::new(Notify::new())).collect(),
                    give_up_wake: groups.iter().map(|_| Arc::new(Notify::new())).collect(),
                    config: topic.clone(),
                    name: Arc::from(topic.name.as_str()),
                    groups,
                    consumed,
                    messages: MessageLog::default(),
                    published: 0,
                    rejected: 0,
                    redriven: 0,
                    dead_letter_for: scenario
                        .topics
                        .iter()
                        .filter(|t| t.dead_letter.as_deref() == Some(topic.name.as_str()))
                        .map(|t| t.name.clone())
                        .collect(),
                    dead_letter_index: topic
                        .dead_letter
                        .as_deref()
                        .and_then(|d| scenario.topics.iter().position(|t| t.name == d)),
                    paused_until: None,
                    wait: DurationHistogram::default(),
                    wait_total_us: 0,
                    service: DurationHistogram::default(),
                    space: Arc::new(Notify::new()),
                }
            })
            .collect();
        Self {
            state: Mutex::new(State {
                topics,
                next_id: 1,
                next_token: 1,
                timers_due: None,
                next_park: 1,
                ledger: Ledger::default(),
            }),
            started: Instant::now(),
            clock,
            rng,
            timers: Notify::new(),
            events: EventOutlet::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn emit(&self, event: BrokerEvent) {
        // Nobody listening is fine: the stream is for whoever watches.
        self.events.publish(|at_ms| Event::Broker { at_ms, event });
    }

    /// Whether anyone watches the event stream: the per-message events (published, acked,
    /// rejected) are built only then, since each copies its names into new strings.
    fn listened(&self) -> bool {
        self.events.listening()
    }

    /// The broker with its events going through `outlet` (by default they go nowhere).
    pub(crate) fn with_events(mut self, outlet: EventOutlet) -> Self {
        self.events = outlet;
        self
    }

    /// The index of topic `name`.
    pub fn topic_index(&self, name: &str) -> Option<usize> {
        self.lock()
            .topics
            .iter()
            .position(|t| t.config.name == name)
    }

    /// The index of group `pool` within topic `topic`.
    pub fn group_index(&self, topic: usize, pool: &str) -> Option<usize> {
        self.lock()
            .topics
            .get(topic)?
            .groups
            .iter()
            .position(|g| g.name == pool)
    }

    /// Publishes now, or refuses if the topic is full (whatever its policy). The message's
    /// idempotency key is `msg:<id>`: unique, so no consumer ever skips it.
    pub fn try_publish(
        &self,
        topic: &str,
        event: &str,
        payload: Value,
        poison: bool,
    ) -> Result<MessageId, PublishError> {
        let draft = Draft {
            event,
            payload,
            poison,
            origin: None,
            key: None,
        };
        self.publish_inner(topic, draft, true)
    }

    /// [`Broker::try_publish`] with the idempotency key of the fact the message announces: every
    /// publish of the same fact (an outbox row relayed twice, a follow-up of a redelivered
    /// message) carries the same key, so an idempotent consumer applies it once.
    pub fn try_publish_keyed(
        &self,
        topic: &str,
        event: &str,
        payload: Value,
        key: String,
    ) -> Result<MessageId, PublishError> {
        let draft = Draft {
            event,
            payload,
            poison: false,
            origin: None,
            key: Some(key),
        };
        self.publish_inner(topic, draft, true)
    }

    /// Publishes with the topic's policy: `reject` refuses at once when full; `block` waits for
    /// room up to the topic's `block_timeout`, then refuses.
    pub async fn publish(
        &self,
        topic: &str,
        event: &str,
        payload: Value,
    ) -> Result<MessageId, PublishError> {
        let (policy, timeout, space) = {
            let state = self.lock();
            let t = state
                .topics
                .iter()
                .find(|t| t.config.name == topic)
                .ok_or_else(|| PublishError::UnknownTopic(topic.to_string()))?;
            (t.config.on_full, t.config.block_timeout, t.space.clone())
        };
        if policy == FullPolicy::Reject {
            return self.try_publish(topic, event, payload, false);
        }
        let deadline = crate::engine::clock::deadline_after(Instant::now(), timeout);
        loop {
            let notified = space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let draft = Draft {
                event,
                payload: payload.clone(),
                poison: false,
                origin: None,
                key: None,
            };
            match self.publish_inner(topic, draft, false) {
                Err(PublishError::Full { .. }) if Instant::now() < deadline => {
                    tokio::select! {
                        biased;
                        () = &mut notified => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                }
                Err(PublishError::Full { .. }) => {
                    return self.try_publish(topic, event, payload, false);
                }
                other => return other,
            }
        }
    }

    fn publish_inner(
        &self,
        topic: &str,
        draft: Draft<'_>,
        count_rejection: bool,
    ) -> Result<MessageId, PublishError> {
        let mut state = self.lock();
        let Some(index) = state.topics.iter().position(|t| t.config.name == topic) else {
            return Err(PublishError::UnknownTopic(topic.to_string()));
        };
        let mut deferred = Deferred::default();
        let event = draft.event;
        let published = self.insert(&mut state, index, draft, &mut deferred);
        if published.is_err()
            && count_rejection
            && let Some(t) = state.topics.get_mut(index)
        {
            t.rejected += 1;
            if self.listened() {
                deferred.events.push(BrokerEvent::Rejected {
                    topic: topic.to_string(),
                    event: event.to_string(),
                });
            }
        }
        drop(state);
        deferred.fire(self);
        published
    }

    /// Appends a message to topic `index` under the lock (every group receives it), or refuses
    /// if the topic is full. Wake-ups and the `published` event go to `deferred`.
    fn insert(
        &self,
        state: &mut State,
        index: usize,
        draft: Draft<'_>,
        deferred: &mut Deferred,
    ) -> Result<MessageId, PublishError> {
        let Draft {
            event,
            payload,
            poison,
            origin,
            key,
        } = draft;
        let now = Instant::now();
        let id = state.next_id;
        let published_at_ms = self.clock.elapsed_at(now).as_millis() as u64;
        let Some(t) = state.topics.get_mut(index) else {
            return Err(PublishError::UnknownTopic(format!("#{index}")));
        };
        if !t.has_room() {
            return Err(PublishError::Full {
                topic: t.config.name.clone(),
                capacity: t.config.capacity,
                retry_after: Duration::from_secs(1),
            });
        }
        let message = Arc::new(Message {
            id,
            topic: t.name.clone(),
            event: event.to_string(),
            payload,
            published_at_ms,
            poison,
            dead_letter_of: origin,
            key: key.unwrap_or_else(|| own_key(id)),
        });
        t.published += 1;
        // Ids only increase, under this lock: the log takes every message.
        let appended = t.messages.push(message);
        debug_assert!(appended, "message {id} arrived out of order");
        let groups = t.groups.len();
        for group in &mut t.groups {
            group.receive(id, now);
        }
        if t.consumed {
            deferred.wake.extend(t.ready.iter().cloned());
        }
        if self.listened() {
            deferred.events.push(BrokerEvent::Published {
                topic: t.config.name.clone(),
                id,
                event: event.to_string(),
            });
        }
        state.next_id += 1;
        state.ledger.published(id, index, groups);
        Ok(id)
    }

    /// Leases the next ready message of group `group` of topic `topic` to `worker`, if any.
    pub fn lease(&self, topic: usize, group: usize, worker: usize) -> Option<Delivery> {
        let now = Instant::now();
        let mut state = self.lock();
        let token = state.next_token;
        let t = state.topics.get_mut(topic)?;
        if !t.consumed || t.is_paused(now) {
            return None;
        }
        let visibility = t.config.visibility_timeout;
        let g = t.groups.get_mut(group)?;
        g.promote_due(now);
        let (id, ready_at) = g.pop_ready(now)?;
        let tracked = g.tracked.get_mut(&id)?;
        tracked.deliveries += 1;
        let attempt = tracked.deliveries;
        g.counters.delivered += 1;
        let deadline = crate::engine::clock::deadline_after(now, visibility);
        g.leased.insert(
            id,
            Lease {
                token,
                deadline,
                worker,
                leased_at: now,
            },
        );
        let waited = now.saturating_duration_since(ready_at);
        t.wait.record(waited);
        t.wait_total_us += waited.as_micros();
        let message = t.messages.get(id)?.clone();
        state.next_token += 1;
        let sooner = state.timers_due.is_none_or(|due| deadline < due);
        drop(state);
        if sooner {
            self.timers.notify_one();
        }
        Some(Delivery {
            message,
            topic,
            group,
            attempt,
            token,
        })
    }

    /// Waits for the next message of a group (forever if none comes; cancel by dropping).
    pub async fn next(&self, topic: usize, group: usize, worker: usize) -> Delivery {
        let notify = {
            let state = self.lock();
            state
                .topics
                .get(topic)
                .and_then(|t| t.ready.get(group).cloned())
        };
        let Some(notify) = notify else {
            return std::future::pending().await;
        };
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(delivery) = self.lease(topic, group, worker) {
                // Another message may be ready for another idle worker.
                notify.notify_one();
                return delivery;
            }
            notified.await;
        }
    }

    /// Acknowledges a delivery; false if its lease had already expired (the ack is ignored, so a
    /// message is acked at most once per group).
    pub fn ack(&self, delivery: &Delivery) -> bool {
        self.ack_as(delivery, false)
    }

    /// Acknowledges a delivery whose idempotency key the consumer had already applied: the same
    /// as [`Broker::ack`], and the event stream says "duplicate skipped".
    pub fn ack_duplicate(&self, delivery: &Delivery) -> bool {
        self.ack_as(delivery, true)
    }

    fn ack_as(&self, delivery: &Delivery, duplicate: bool) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        let Some(t) = state.topics.get_mut(delivery.topic) else {
            return false;
        };
        let Some(g) = t.groups.get_mut(delivery.group) else {
            return false;
        };
        let id = delivery.message.id;
        match g.leased.get(&id) {
            Some(lease) if lease.token == delivery.token => {
                let leased_at = lease.leased_at;
                g.leased.remove(&id);
                g.tracked.remove(&id);
                g.counters.acked += 1;
                let acked = self.listened().then(|| BrokerEvent::Acked {
                    topic: t.config.name.clone(),
                    group: g.name.clone(),
                    id,
                    attempt: delivery.attempt,
                    duplicate,
                });
                t.service.record(now.saturating_duration_since(leased_at));
                t.release(id);
                let is_dead_letter_topic = !t.dead_letter_for.is_empty();
                let mut deferred = Deferred::default();
                deferred.wake.push(t.space.clone());
                deferred.events.extend(acked);
                state.ledger.settle(id, delivery.group, Fate::Acked);
                // Room in a dead-letter topic lets parked messages in; room anywhere else lets
                // nothing parked in (parked messages wait only for their dead-letter topic), so
                // the scan of every topic's parked queue is skipped on an ordinary ack.
                if is_dead_letter_topic {
                    self.unpark(&mut state, &mut deferred);
                }
                drop(state);
                deferred.fire(self);
                true
            }
            _ => false,
        }
    }

    /// Test-only sabotage ([`Sabotage::DropMessage`](crate::engine::Sabotage)): the broker
    /// forgets a leased message as a buggy broker would — no ack, no retry, no dead letter, no
    /// counter. Only the per-message ledger can notice.
    pub(crate) fn forget(&self, delivery: &Delivery) {
        let mut state = self.lock();
        if let Some(g) = state
            .topics
            .get_mut(delivery.topic)
            .and_then(|t| t.groups.get_mut(delivery.group))
        {
            g.leased.remove(&delivery.message.id);
            g.tracked.remove(&delivery.message.id);
        }
    }

    /// The per-message ledger checked against every group's books now.
    pub fn ledger(&self) -> LedgerReport {
        let state = self.lock();
        state.ledger.check(state.topics.len(), |topic| {
            state.topics.get(topic).map_or(&[][..], |t| &t.groups[..])
        })
    }

    /// Reports a failed delivery: retried after a backoff, or dead-lettered when out of attempts.
    pub fn nack(&self, delivery: &Delivery, error: &str) -> NackOutcome {
        let now = Instant::now();
        let mut state = self.lock();
        let Some(t) = state.topics.get_mut(delivery.topic) else {
            return NackOutcome::Stale;
        };
        let id = delivery.message.id;
        let Some(g) = t.groups.get_mut(delivery.group) else {
            return NackOutcome::Stale;
        };
        let valid = g
            .leased
            .get(&id)
            .is_some_and(|lease| lease.token == delivery.token);
        if !valid {
            return NackOutcome::Stale;
        }
        if let Some(lease) = g.leased.remove(&id) {
            t.service
                .record(now.saturating_duration_since(lease.leased_at));
        }
        self.fail(state, delivery.topic, delivery.group, id, error, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Epoch;

    #[tokio::test(start_paused = true)]
    async fn a_message_without_a_fact_of_its_own_is_keyed_by_its_id() {
        let scenario = crate::scenario::load_or_default(None).expect("the built-in scenario");
        let broker = Broker::new(
            &scenario,
            EngineClock::at(Epoch::Fixed),
            Arc::new(SeededRng::new(7)),
        );
        let topic = broker.topic_index("payments").expect("a payments topic");
        let mut keys = Vec::new();
        for _ in 0..3 {
            let id = broker
                .try_publish("payments", "payment.captured", Value::Null, false)
                .expect("room in the topic");
            let delivery = broker.lease(topic, 0, 0).expect("the message, ready");
            assert_eq!(delivery.message.id, id);
            keys.push(delivery.message.key.clone());
        }
        assert_eq!(keys, ["msg:1", "msg:2", "msg:3"]);
        assert_eq!(own_key(u64::MAX), format!("msg:{}", u64::MAX));
    }
}
