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

pub mod group;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use self::group::{Group, GroupCounters, Lease, Tracked};
use super::clock::EngineClock;
use super::latency::SeededRng;
use crate::scenario::{FullPolicy, Scenario, Topic};

pub use self::group::MessageId;

/// Where a dead-lettered message came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetterOrigin {
    /// Original topic.
    pub topic: String,
    /// Group that gave up on it.
    pub group: String,
    /// Original message id.
    pub message: MessageId,
    /// Deliveries made.
    pub attempts: u32,
    /// The last error.
    pub last_error: String,
}

/// A published message (shared by every group of its topic).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Id.
    pub id: MessageId,
    /// Topic.
    pub topic: String,
    /// Event type.
    pub event: String,
    /// Payload.
    pub payload: Value,
    /// Engine time of publication, ms since start.
    pub published_at_ms: u64,
    /// A poison message fails every delivery (fault injection).
    pub poison: bool,
    /// Set on messages in a dead-letter topic.
    pub dead_letter_of: Option<DeadLetterOrigin>,
}

/// A message leased to a worker.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message.
    pub message: Arc<Message>,
    /// Topic index.
    pub topic: usize,
    /// Group index within the topic.
    pub group: usize,
    /// Delivery number, from 1.
    pub attempt: u32,
    /// Lease token.
    pub token: u64,
    /// How long it waited in the ready queue.
    pub waited: Duration,
}

/// Why a publish was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PublishError {
    /// No such topic.
    #[error("no topic `{0}`")]
    UnknownTopic(String),
    /// The topic is at capacity.
    #[error("topic `{topic}` is full ({capacity} messages)")]
    Full {
        /// Topic.
        topic: String,
        /// Its capacity.
        capacity: u32,
        /// A reasonable time to retry after.
        retry_after: Duration,
    },
}

/// What became of a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NackOutcome {
    /// Scheduled again after `delay`.
    Retry {
        /// Backoff before the next delivery.
        delay: Duration,
    },
    /// Attempts used up: moved to the dead-letter topic (or dropped from the group's view, if
    /// the topic has none — still counted as dead-lettered).
    DeadLettered,
    /// The lease was no longer valid (it expired and the message went elsewhere): ignored.
    Stale,
}

/// Something that happened in the broker, for the live event stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BrokerEvent {
    /// A message was published.
    Published {
        /// Topic.
        topic: String,
        /// Message id.
        id: MessageId,
        /// Event type.
        event: String,
    },
    /// A publish was refused.
    Rejected {
        /// Topic.
        topic: String,
        /// Event type.
        event: String,
    },
    /// A message was acknowledged.
    Acked {
        /// Topic.
        topic: String,
        /// Group.
        group: String,
        /// Message id.
        id: MessageId,
        /// Delivery number.
        attempt: u32,
    },
    /// A delivery failed and will be retried.
    Retried {
        /// Topic.
        topic: String,
        /// Group.
        group: String,
        /// Message id.
        id: MessageId,
        /// Delivery number that failed.
        attempt: u32,
        /// Backoff in ms.
        delay_ms: u64,
        /// Why.
        error: String,
    },
    /// A message used up its attempts.
    DeadLettered {
        /// Topic.
        topic: String,
        /// Group.
        group: String,
        /// Message id.
        id: MessageId,
        /// The last error.
        error: String,
    },
    /// A lease ran out and the message was redelivered.
    LeaseExpired {
        /// Topic.
        topic: String,
        /// Group.
        group: String,
        /// Message id.
        id: MessageId,
        /// Worker that held it.
        worker: usize,
    },
}

/// Latency summary in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// A histogram of durations in microseconds.
#[derive(Debug, Clone)]
pub struct DurationHistogram {
    histogram: Histogram<u64>,
}

impl Default for DurationHistogram {
    fn default() -> Self {
        Self {
            // 1 µs to 1 hour, 3 significant digits: constant, valid bounds.
            histogram: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("constant histogram bounds are valid"),
        }
    }
}

impl DurationHistogram {
    /// Records a duration.
    pub fn record(&mut self, duration: Duration) {
        self.histogram
            .saturating_record(duration.as_micros().max(1) as u64);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Summary in milliseconds.
    pub fn summary(&self) -> LatencySummary {
        if self.histogram.is_empty() {
            return LatencySummary::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: self.histogram.len(),
            mean: self.histogram.mean() / 1000.0,
            p50: ms(self.histogram.value_at_quantile(0.5)),
            p95: ms(self.histogram.value_at_quantile(0.95)),
            p99: ms(self.histogram.value_at_quantile(0.99)),
            max: ms(self.histogram.max()),
        }
    }
}

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

/// Per-group numbers of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSnapshot {
    /// Group name.
    pub name: String,
    /// Counters.
    pub counters: GroupCounters,
    /// Ready to deliver.
    pub ready: u64,
    /// Waiting out a backoff.
    pub backing_off: u64,
    /// Leased to workers.
    pub in_flight: u64,
}

/// Per-topic numbers of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicSnapshot {
    /// Topic name.
    pub name: String,
    /// Messages published.
    pub published: u64,
    /// Publishes refused because the topic was full.
    pub rejected: u64,
    /// Capacity.
    pub capacity: u32,
    /// Whether deliveries are paused.
    pub paused: bool,
    /// Whether worker pools consume it.
    pub consumed: bool,
    /// Consumer groups (one retaining group for an unconsumed topic).
    pub groups: Vec<GroupSnapshot>,
    /// Wait in the ready queue, ms.
    pub wait_ms: LatencySummary,
    /// Time-average number of messages in the ready queue (summed over groups).
    pub mean_queue_length: f64,
    /// Lease to ack, ms.
    pub service_ms: LatencySummary,
}

impl TopicSnapshot {
    /// Sum of a counter over groups.
    pub fn sum(&self, f: impl Fn(&GroupSnapshot) -> u64) -> u64 {
        self.groups.iter().map(f).sum()
    }

    /// Messages waiting (ready + backing off), over groups.
    pub fn queued(&self) -> u64 {
        self.sum(|g| g.ready + g.backing_off)
    }

    /// Messages leased, over groups.
    pub fn in_flight(&self) -> u64 {
        self.sum(|g| g.in_flight)
    }

    /// Whether every group's books balance.
    pub fn balanced(&self) -> bool {
        self.groups.iter().all(|g| {
            let c = &g.counters;
            c.received == c.acked + c.dead_lettered + g.in_flight + g.ready + g.backing_off
                && c.received == self.published
        })
    }
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
            waited,
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

    /// Shared path of a failed delivery (nack or expired lease); consumes the lock.
    fn fail(
        &self,
        mut state: MutexGuard<'_, State>,
        topic: usize,
        group: usize,
        id: MessageId,
        error: &str,
        expired_worker: Option<usize>,
    ) -> NackOutcome {
        let now = Instant::now();
        let jitter_draw = self.rng.unit();
        let Some(t) = state.topics.get_mut(topic) else {
            return NackOutcome::Stale;
        };
        let config = t.config.clone();
        let topic_name = config.name.clone();
        let Some(g) = t.groups.get_mut(group) else {
            return NackOutcome::Stale;
        };
        let group_name = g.name.clone();
        let Some(tracked) = g.tracked.get_mut(&id) else {
            return NackOutcome::Stale;
        };
        tracked.last_error = Some(error.to_string());
        let attempts = tracked.deliveries;
        if let Some(worker) = expired_worker {
            g.counters.expired += 1;
            self.emit(BrokerEvent::LeaseExpired {
                topic: topic_name.clone(),
                group: group_name.clone(),
                id,
                worker,
            });
        }
        if attempts >= config.max_attempts {
            g.tracked.remove(&id);
            g.counters.dead_lettered += 1;
            let message = t.messages.get(&id).cloned();
            t.release(id);
            let space = t.space.clone();
            drop(state);
            space.notify_one();
            if let (Some(message), Some(dlq)) = (message, config.dead_letter.as_deref()) {
                let origin = DeadLetterOrigin {
                    topic: topic_name.clone(),
                    group: group_name.clone(),
                    message: id,
                    attempts,
                    last_error: error.to_string(),
                };
                // A full dead-letter topic refuses like any other; the message is still
                // accounted as dead-lettered by its group (and rejected by the DLQ).
                let _ = self.publish_message(
                    dlq,
                    &message.event,
                    message.payload.clone(),
                    false,
                    Some(origin),
                );
            }
            self.emit(BrokerEvent::DeadLettered {
                topic: topic_name,
                group: group_name,
                id,
                error: error.to_string(),
            });
            return NackOutcome::DeadLettered;
        }
        if expired_worker.is_some() {
            // Like a visibility timeout: the message is visible again at once.
            g.requeue(id, now);
            let notify = t.ready.get(group).cloned();
            drop(state);
            if let Some(notify) = notify {
                notify.notify_one();
            }
            return NackOutcome::Retry {
                delay: Duration::ZERO,
            };
        }
        let base = config.backoff.delay(attempts);
        let spread = config.backoff.jitter * (2.0 * jitter_draw - 1.0);
        let delay =
            Duration::try_from_secs_f64(base.as_secs_f64() * (1.0 + spread)).unwrap_or(base);
        g.schedule_retry(id, now, delay);
        drop(state);
        self.timers.notify_one();
        self.emit(BrokerEvent::Retried {
            topic: topic_name,
            group: group_name,
            id,
            attempt: attempts,
            delay_ms: delay.as_millis() as u64,
            error: error.to_string(),
        });
        NackOutcome::Retry { delay }
    }

    /// Expires due leases, promotes due retries, wakes the workers that can now take them, and
    /// returns the next instant anything is due.
    pub fn process_due(&self) -> Option<Instant> {
        let now = Instant::now();
        loop {
            let mut state = self.lock();
            let expired = state.topics.iter().enumerate().find_map(|(ti, t)| {
                t.groups.iter().enumerate().find_map(|(gi, g)| {
                    g.leased
                        .iter()
                        .find(|(_, l)| l.deadline <= now)
                        .map(|(id, l)| (ti, gi, *id, l.worker))
                })
            });
            let Some((ti, gi, id, worker)) = expired else {
                break;
            };
            if let Some(g) = state.topics.get_mut(ti).and_then(|t| t.groups.get_mut(gi)) {
                g.leased.remove(&id);
            }
            self.fail(
                state,
                ti,
                gi,
                id,
                "lease expired: the worker crashed or took longer than the visibility timeout",
                Some(worker),
            );
        }
        let mut state = self.lock();
        let mut wake = Vec::new();
        let mut next: Option<Instant> = None;
        for t in &mut state.topics {
            let paused = t.is_paused(now);
            if let Some(until) = t.paused_until.filter(|u| *u > now) {
                next = Some(next.map_or(until, |n| n.min(until)));
            } else if t.paused_until.take().is_some() {
                wake.extend(t.ready.iter().cloned());
            }
            for (gi, g) in t.groups.iter_mut().enumerate() {
                if g.promote_due(now) > 0 && t.consumed && !paused {
                    wake.extend(t.ready.get(gi).cloned());
                }
                if let Some(deadline) = g.next_deadline() {
                    next = Some(next.map_or(deadline, |n| n.min(deadline)));
                }
            }
        }
        drop(state);
        for notify in wake {
            notify.notify_one();
        }
        next
    }

    /// Runs the broker's timers (retries and lease expiry) until the task is dropped.
    pub async fn run_timers(&self) {
        loop {
            let notified = self.timers.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.process_due() {
                Some(deadline) => {
                    tokio::select! {
                        biased;
                        () = &mut notified => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Stops deliveries of `topic` until `until` (publishing still works).
    pub fn pause(&self, topic: &str, until: Instant) -> bool {
        let mut state = self.lock();
        let Some(t) = state.topics.iter_mut().find(|t| t.config.name == topic) else {
            return false;
        };
        t.paused_until = Some(until);
        drop(state);
        self.timers.notify_one();
        true
    }

    /// Resumes deliveries of `topic` now.
    pub fn resume(&self, topic: &str) -> bool {
        let mut state = self.lock();
        let Some(t) = state.topics.iter_mut().find(|t| t.config.name == topic) else {
            return false;
        };
        t.paused_until = None;
        let notifies = t.ready.clone();
        drop(state);
        for notify in notifies {
            notify.notify_one();
        }
        true
    }

    /// The newest messages of `topic` still held (e.g. a dead-letter topic's contents).
    pub fn messages(&self, topic: &str, limit: usize) -> Vec<Arc<Message>> {
        let state = self.lock();
        state
            .topics
            .iter()
            .find(|t| t.config.name == topic)
            .map(|t| t.messages.values().rev().take(limit).cloned().collect())
            .unwrap_or_default()
    }

    /// A consistent snapshot of every topic.
    pub fn snapshot(&self) -> Vec<TopicSnapshot> {
        let now = Instant::now();
        let state = self.lock();
        state
            .topics
            .iter()
            .map(|t| TopicSnapshot {
                name: t.config.name.clone(),
                published: t.published,
                rejected: t.rejected,
                capacity: t.config.capacity,
                paused: t.is_paused(now),
                consumed: t.consumed,
                groups: t
                    .groups
                    .iter()
                    .map(|g| GroupSnapshot {
                        name: g.name.clone(),
                        counters: g.counters,
                        ready: g.ready.len() as u64,
                        backing_off: g.delayed.len() as u64,
                        in_flight: g.in_flight(),
                    })
                    .collect(),
                wait_ms: t.wait.summary(),
                mean_queue_length: t
                    .groups
                    .iter()
                    .map(|g| g.mean_queue_length(self.started, now))
                    .sum(),
                service_ms: t.service.summary(),
            })
            .collect()
    }

    /// Per topic, in order: messages queued (ready + backing off) and acked, over groups. Cheap
    /// enough to call every second (no histogram summaries).
    pub fn depths(&self) -> Vec<(u64, u64)> {
        self.lock()
            .topics
            .iter()
            .map(|t| {
                (
                    t.groups.iter().map(Group::queued).sum(),
                    t.groups.iter().map(|g| g.counters.acked).sum(),
                )
            })
            .collect()
    }

    /// Whether every group of every topic balances its books right now.
    pub fn balanced(&self) -> bool {
        let state = self.lock();
        state.topics.iter().all(|t| {
            t.groups
                .iter()
                .all(|g| g.balanced() && g.counters.received == t.published)
        })
    }

    /// Per-message state of a group, for inspection in tests and views.
    pub fn tracked(&self, topic: usize, group: usize, id: MessageId) -> Option<Tracked> {
        self.lock()
            .topics
            .get(topic)?
            .groups
            .get(group)?
            .tracked
            .get(&id)
            .cloned()
    }
}
