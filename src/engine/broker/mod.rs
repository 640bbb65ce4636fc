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
//! `received = acked + dead_lettered + in_flight + queued`, and a publish the topic has no room
//! for is refused to the caller, never dropped. Every time the broker reads comes from the
//! engine clock (tokio), so retries and lease expiry run the same in virtual time.
//!
//! This module holds the broker's state and its publish / lease / ack path; the rest lives in:
//!
//! ```text
//!  message    messages, deliveries, publish and nack outcomes, the event stream's events
//!  group      one consumer group's books: ready, backing off, leased, counters
//!  timers     failed deliveries (retry with backoff, dead-letter), lease expiry, paused topics
//!  snapshot   read-only views: per-topic and per-group snapshots, depths, balance checks
//!  histogram  wait and service-time histograms and their millisecond summaries
//! ```

pub mod group;
mod histogram;
mod message;
mod snapshot;
mod timers;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use self::group::{Group, Lease};
use super::clock::EngineClock;
use super::latency::SeededRng;
use crate::scenario::{FullPolicy, Scenario, Topic};

pub use self::group::MessageId;
pub use histogram::{DurationHistogram, LatencySummary};
pub use message::{BrokerEvent, DeadLetterOrigin, Delivery, Message, NackOutcome, PublishError};
pub use snapshot::{GroupSnapshot, TopicSnapshot};

struct TopicState {
    config: Topic,
    groups: Vec<Group>,
    /// Whether the groups are real consumers (false: one retaining group nobody leases from).
    consumed: bool,
    messages: BTreeMap<MessageId, Arc<Message>>,
    published: u64,
    rejected: u64,
    paused_until: Option<Instant>,
    wait: DurationHistogram,
    service: DurationHistogram,
    ready: Vec<Arc<Notify>>,
    space: Arc<Notify>,
}

impl TopicState {
    fn backlog(&self) -> u64 {
        self.groups.iter().map(Group::backlog).max().unwrap_or(0)
    }

    fn is_paused(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|until| now < until)
    }

    /// Drops the shared copy of a message once no group holds it any more.
    fn release(&mut self, id: MessageId) {
        if self.groups.iter().all(|g| !g.tracked.contains_key(&id)) {
            self.messages.remove(&id);
        }
    }
}

struct State {
    topics: Vec<TopicState>,
    next_id: MessageId,
    next_token: u64,
}

/// The broker. Share it behind an `Arc`.
pub struct Broker {
    state: Mutex<State>,
    started: Instant,
    clock: EngineClock,
    rng: Arc<SeededRng>,
    timers: Notify,
    events: broadcast::Sender<BrokerEvent>,
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
                    config: topic.clone(),
                    groups,
                    consumed,
                    messages: BTreeMap::new(),
                    published: 0,
                    rejected: 0,
                    paused_until: None,
                    wait: DurationHistogram::default(),
                    service: DurationHistogram::default(),
                    space: Arc::new(Notify::new()),
                }
            })
            .collect();
        let (events, _) = broadcast::channel(4096);
        Self {
            state: Mutex::new(State {
                topics,
                next_id: 1,
                next_token: 1,
            }),
            started: Instant::now(),
            clock,
            rng,
            timers: Notify::new(),
            events,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn emit(&self, event: BrokerEvent) {
        // No subscriber is fine: the stream is for whoever watches.
        let _ = self.events.send(event);
    }

    /// Subscribes to the event stream.
    pub fn subscribe(&self) -> broadcast::Receiver<BrokerEvent> {
        self.events.subscribe()
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

    /// Publishes now, or refuses if the topic is full (whatever its policy).
    pub fn try_publish(
        &self,
        topic: &str,
        event: &str,
        payload: Value,
        poison: bool,
    ) -> Result<MessageId, PublishError> {
        self.publish_message(topic, event, payload, poison, None)
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
        let deadline = Instant::now() + timeout;
        loop {
            let notified = space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.publish_inner(topic, event, payload.clone(), false, None, false) {
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

    fn publish_message(
        &self,
        topic: &str,
        event: &str,
        payload: Value,
        poison: bool,
        origin: Option<DeadLetterOrigin>,
    ) -> Result<MessageId, PublishError> {
        self.publish_inner(topic, event, payload, poison, origin, true)
    }

    fn publish_inner(
        &self,
        topic: &str,
        event: &str,
        payload: Value,
        poison: bool,
        origin: Option<DeadLetterOrigin>,
        count_rejection: bool,
    ) -> Result<MessageId, PublishError> {
        let now = Instant::now();
        let mut state = self.lock();
        let id = state.next_id;
        let published_at_ms = self.clock.elapsed().as_millis() as u64;
        let Some(t) = state.topics.iter_mut().find(|t| t.config.name == topic) else {
            return Err(PublishError::UnknownTopic(topic.to_string()));
        };
        let capacity = t.config.capacity;
        if t.backlog() >= u64::from(capacity) {
            if count_rejection {
                t.rejected += 1;
                drop(state);
                self.emit(BrokerEvent::Rejected {
                    topic: topic.to_string(),
                    event: event.to_string(),
                });
            }
            return Err(PublishError::Full {
                topic: topic.to_string(),
                capacity,
                retry_after: Duration::from_secs(1),
            });
        }
        let message = Arc::new(Message {
            id,
            topic: topic.to_string(),
            event: event.to_string(),
            payload,
            published_at_ms,
            poison,
            dead_letter_of: origin,
        });
        t.published += 1;
        t.messages.insert(id, message);
        for group in &mut t.groups {
            group.receive(id, now);
        }
        let notifies: Vec<Arc<Notify>> = if t.consumed {
            t.ready.clone()
        } else {
            Vec::new()
        };
        state.next_id += 1;
        drop(state);
        for notify in notifies {
            notify.notify_one();
        }
        self.emit(BrokerEvent::Published {
            topic: topic.to_string(),
            id,
            event: event.to_string(),
        });
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
        g.leased.insert(
            id,
            Lease {
                token,
                deadline: now + visibility,
                worker,
                leased_at: now,
            },
        );
        let waited = now.saturating_duration_since(ready_at);
        t.wait.record(waited);
        let message = t.messages.get(&id)?.clone();
        state.next_token += 1;
        drop(state);
        self.timers.notify_one();
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
                let group_name = g.name.clone();
                t.service.record(now.saturating_duration_since(leased_at));
                t.release(id);
                let space = t.space.clone();
                let topic = t.config.name.clone();
                drop(state);
                space.notify_one();
                self.emit(BrokerEvent::Acked {
                    topic,
                    group: group_name,
                    id,
                    attempt: delivery.attempt,
                });
                true
            }
            _ => false,
        }
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
