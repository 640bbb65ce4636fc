//! Read-only views of the broker: consistent per-topic and per-group snapshots for reports and
//! the TUI, cheap queue depths, the balance check, and per-message inspection.

use std::sync::Arc;

use serde::Serialize;
use tokio::time::Instant;

use super::group::{Group, GroupCounters};
use super::{Broker, LatencySummary, Message};

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
    /// Out of attempts, waiting for room in the dead-letter topic (delivered to no worker).
    pub parked: u64,
}

/// How many of a dead-letter topic's newest last errors a snapshot carries.
pub const RECENT_ERRORS: usize = 3;

/// What a dead-letter topic holds, for the views.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetterSnapshot {
    /// The topics that dead-letter into it.
    pub sources: Vec<String>,
    /// Dead letters held now.
    pub depth: u64,
    /// How long the oldest has been here, engine ms (`None` when empty).
    pub oldest_age_ms: Option<u64>,
    /// The last errors of the newest dead letters, newest first (at most [`RECENT_ERRORS`]).
    pub recent_errors: Vec<String>,
    /// Messages parked in the source topics, waiting for room here.
    pub parked_at_sources: u64,
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
    /// Deliveries whose wait was measured, and the sum of their waits in ms (windowed means are
    /// differences of these).
    pub waits: (u64, f64),
    /// Time-average number of messages in the ready queue (summed over groups).
    pub mean_queue_length: f64,
    /// Lease to ack, ms.
    pub service_ms: LatencySummary,
    /// Messages a redrive took out of it (a dead-letter topic) back to their origin.
    pub redriven: u64,
    /// What it holds as a dead-letter topic (`None`: no topic dead-letters into it).
    pub dead_letters: Option<DeadLetterSnapshot>,
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

    /// Messages parked (out of attempts, the dead-letter topic full), over groups.
    pub fn parked(&self) -> u64 {
        self.sum(|g| g.parked)
    }

    /// What counts against the capacity: the fullest group's queued, in-flight and parked
    /// messages (a publish is refused when this reaches `capacity`).
    pub fn backlog(&self) -> u64 {
        self.groups
            .iter()
            .map(|g| g.ready + g.backing_off + g.in_flight + g.parked)
            .max()
            .unwrap_or(0)
    }

    /// Whether every group's books balance: each received every message published, and
    /// `received = acked + dead_lettered + in_flight + queued + parked`.
    pub fn balanced(&self) -> bool {
        self.groups.iter().all(|g| {
            let c = &g.counters;
            c.received
                == c.acked + c.dead_lettered + g.in_flight + g.ready + g.backing_off + g.parked
                && c.received == self.published
        })
    }
}

impl Broker {
    /// The newest messages of `topic` still held (e.g. a dead-letter topic's contents).
    pub fn messages(&self, topic: &str, limit: usize) -> Vec<Arc<Message>> {
        let state = self.lock();
        state
            .topics
            .iter()
            .find(|t| t.config.name == topic)
            .map(|t| t.messages.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default()
    }

    /// A consistent snapshot of every topic.
    pub fn snapshot(&self) -> Vec<TopicSnapshot> {
        let now = Instant::now();
        let now_ms = self.clock.elapsed().as_millis() as u64;
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
                        parked: g.parked(),
                    })
                    .collect(),
                wait_ms: t.wait.summary(),
                waits: (t.wait.count(), t.wait_total_us as f64 / 1000.0),
                mean_queue_length: t
                    .groups
                    .iter()
                    .map(|g| g.mean_queue_length(self.started, now))
                    .sum(),
                service_ms: t.service.summary(),
                redriven: t.redriven,
                dead_letters: (!t.dead_letter_for.is_empty()).then(|| DeadLetterSnapshot {
                    sources: t.dead_letter_for.clone(),
                    depth: t.messages.len() as u64,
                    oldest_age_ms: t
                        .messages
                        .iter()
                        .next()
                        .map(|m| now_ms.saturating_sub(m.published_at_ms)),
                    recent_errors: t
                        .messages
                        .iter()
                        .rev()
                        .filter_map(|m| m.dead_letter_of.as_ref())
                        .take(RECENT_ERRORS)
                        .map(|origin| origin.last_error.clone())
                        .collect(),
                    parked_at_sources: state
                        .topics
                        .iter()
                        .filter(|s| t.dead_letter_for.contains(&s.config.name))
                        .flat_map(|s| &s.groups)
                        .map(Group::parked)
                        .sum(),
                }),
            })
            .collect()
    }

    /// Per topic (scenario order), the cumulative counters the engine samples every second —
    /// cheap enough for hours of virtual time (no histogram summaries, one lock).
    pub fn second_totals(&self) -> Vec<SecondTotals> {
        let now = Instant::now();
        self.lock()
            .topics
            .iter()
            .map(|t| SecondTotals {
                queued: t.groups.iter().map(Group::queued).sum(),
                acked: t.groups.iter().map(|g| g.counters.acked).sum(),
                arrived: t.published + t.groups.iter().map(|g| g.counters.retried).sum::<u64>(),
                delivered: t.groups.iter().map(|g| g.counters.delivered).sum(),
                waits: (t.wait.count(), t.wait_total_us as f64 / 1000.0),
                paused: t.is_paused(now),
                published: t.published,
                rejected: t.rejected,
            })
            .collect()
    }
}

/// One topic's cumulative counters at one instant (see [`Broker::second_totals`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SecondTotals {
    /// Messages waiting now (ready + backing off), over groups.
    pub queued: u64,
    /// Acknowledged so far, over groups.
    pub acked: u64,
    /// Arrivals at the queue so far: publishes accepted plus failed deliveries queued again
    /// (retries). Unlike deliveries (leases), this counts what arrived even while no worker
    /// is free to take it, so it is λ in overload too.
    pub arrived: u64,
    /// Deliveries so far (leases to workers: first attempts and retries), over groups.
    pub delivered: u64,
    /// Waits measured so far, and their sum in ms.
    pub waits: (u64, f64),
    /// Whether deliveries are paused now.
    pub paused: bool,
    /// Publishes accepted so far.
    pub published: u64,
    /// Publishes refused so far (the topic was full).
    pub rejected: u64,
}
