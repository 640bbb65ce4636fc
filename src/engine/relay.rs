//! The outbox relay: publishes the events that requests wrote to the outbox but could not hand
//! to the broker at once (their topic was full), oldest first, backing off while the broker has
//! no room.
//!
//! ```text
//!  wait for a wake-up (a request deferred an event) or the next row's time
//!    └▶ claim due rows (lease) ─▶ publish each ─ ok ─▶ mark relayed
//!                                      └─ full ─▶ give that topic's rows back, sleep a backoff
//!                                                 (doubling from 50 ms to 2 s), then go on
//! ```
//!
//! It sleeps on a `Notify` while the outbox is empty, so an engine whose topics keep up pays
//! nothing for it.

use std::sync::Arc;
use std::time::Duration;

use super::core::Core;
use super::store::{OUTBOX_LEASE_MS, OutboxRow};

/// Rows claimed per round.
const BATCH: usize = 64;

/// First backoff after the broker refused (engine ms).
const BACKOFF_MIN_MS: u64 = 50;

/// Longest backoff (engine ms).
const BACKOFF_MAX_MS: u64 = 2_000;

/// Runs the relay until the engine stops.
pub(crate) async fn run(core: Arc<Core>) {
    let mut backoff_ms = BACKOFF_MIN_MS;
    loop {
        let now_ms = core.clock.elapsed().as_millis() as u64;
        let claimed = core
            .store
            .claim_outbox(now_ms, BATCH, now_ms + OUTBOX_LEASE_MS)
            .unwrap_or_default();
        if claimed.is_empty() {
            let next = core.store.next_outbox_available().ok().flatten();
            let wait = next.map(|at| Duration::from_millis(at.saturating_sub(now_ms).max(1)));
            match wait {
                Some(wait) => {
                    tokio::select! {
                        biased;
                        () = core.outbox_wake.notified() => {}
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                None => core.outbox_wake.notified().await,
            }
            continue;
        }
        // A topic that refuses is skipped for the rest of the round: rows for other topics
        // still go out (no head-of-line blocking across topics).
        let mut full: Vec<String> = Vec::new();
        for row in claimed {
            if full.contains(&row.topic) {
                let _ = core.store.release_outbox(row.id, now_ms + backoff_ms);
                continue;
            }
            match core
                .broker
                .try_publish_keyed(&row.topic, &row.event, row.payload, row.key)
            {
                Ok(id) => {
                    let _ = core.store.mark_relayed(row.id, now_ms, id);
                }
                Err(_) => {
                    let _ = core.store.release_outbox(row.id, now_ms + backoff_ms);
                    full.push(row.topic);
                }
            }
        }
        if full.is_empty() {
            backoff_ms = BACKOFF_MIN_MS;
        } else {
            // Back off for real: neither the rest of the backlog nor the requests that defer
            // events meanwhile (their wake-ups wait) make the relay hammer a full topic.
            tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
            backoff_ms = (backoff_ms * 2).min(BACKOFF_MAX_MS);
        }
    }
}

/// Publishes outbox rows the caller just committed (and holds the lease of), oldest first; the
/// first one the broker refuses, and every row after it, are given back to the relay, which is
/// woken. For a worker's follow-ups: nothing waits on this, and nothing is lost when a topic is
/// full.
pub(crate) fn publish_now(core: &Core, rows: Vec<OutboxRow>) {
    let now_ms = core.clock.elapsed().as_millis() as u64;
    let mut refused = false;
    for row in rows {
        // First in, first out: never ahead of older events of the topic still in the outbox.
        if !refused
            && core
                .store
                .older_pending(&row.topic, row.id)
                .unwrap_or(false)
        {
            refused = true;
        }
        if !refused {
            match core
                .broker
                .try_publish_keyed(&row.topic, &row.event, row.payload, row.key)
            {
                Ok(id) => {
                    // If marking fails the relay publishes it again: same key, skipped.
                    let _ = core.store.mark_relayed(row.id, now_ms, id);
                    continue;
                }
                Err(_) => refused = true,
            }
        }
        let _ = core.store.release_outbox(row.id, now_ms);
    }
    if refused {
        core.outbox_wake.notify_one();
    }
}
