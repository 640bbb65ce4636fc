//! Time-driven redelivery: a failed delivery is retried after a jittered backoff or, out of
//! attempts, handed to the dead-letter path (`dead`: moved, or parked while the dead-letter topic
//! is full); expired leases are redelivered; due retries are promoted; paused topics resume.
//! [`Broker::run_timers`] drives it all from the engine clock.

use std::sync::MutexGuard;
use std::time::Duration;

use tokio::time::Instant;

use super::{Broker, BrokerEvent, Deferred, MessageId, NackOutcome, State};

impl Broker {
    /// Shared path of a failed delivery (nack or expired lease); consumes the lock.
    pub(super) fn fail(
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
            let mut deferred = Deferred::default();
            let outcome = self.give_up(&mut state, topic, group, id, &mut deferred);
            self.unpark(&mut state, &mut deferred);
            drop(state);
            deferred.fire(self);
            return outcome;
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
                    // The oldest expired lease first, so a run is the same whatever the
                    // map's order.
                    g.leased
                        .iter()
                        .filter(|(_, l)| l.deadline <= now)
                        .min_by_key(|(id, _)| **id)
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
        // The timer task sleeps until `next` from here on (its only caller that sleeps).
        state.timers_due = next;
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
}
