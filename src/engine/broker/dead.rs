//! Dead letters: a message out of attempts moves to its topic's dead-letter topic, or is parked
//! in its group while that is full; parked messages move in, oldest first, on the event that
//! frees room; a redrive sends dead letters back to their origin topic.
//!
//! ```text
//!  give_up ──▶ dead-letter topic has room? ──yes──▶ moved (dead_lettered += 1)
//!                        │ no
//!                        ▼
//!                  parked in the group ── ack / redrive / give-up frees room ──▶ unpark ──▶ moved
//! ```
//!
//! Everything here runs under the broker's lock, so a snapshot never sees a message between two
//! topics: it is parked in its source, or a dead letter in the dead-letter topic, never neither.
//! Wake-ups and events are collected in a [`Deferred`] and fired after the lock is released.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::group::GivenUp;
use super::ledger::Fate;

use super::{
    Broker, BrokerEvent, DeadLetterOrigin, Deferred, Draft, MessageId, NackOutcome, RedriveError,
    RedriveOutcome, State,
};

impl Broker {
    /// Starts keeping the messages group `group` of topic `topic` gives up on; the returned
    /// `Notify` is woken when there are some to [`take_given_up`](Self::take_given_up).
    pub fn watch_give_ups(&self, topic: usize, group: usize) -> Option<Arc<Notify>> {
        let mut state = self.lock();
        let t = state.topics.get_mut(topic)?;
        let g = t.groups.get_mut(group)?;
        g.given_up.get_or_insert_with(Vec::new);
        t.give_up_wake.get(group).cloned()
    }

    /// The messages group `group` of topic `topic` gave up on since the last call.
    pub fn take_given_up(&self, topic: usize, group: usize) -> Vec<GivenUp> {
        let mut state = self.lock();
        state
            .topics
            .get_mut(topic)
            .and_then(|t| t.groups.get_mut(group))
            .and_then(|g| g.given_up.as_mut())
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// A delivery of message `id` in group `group` of `topic` used up its attempts: moves it to
    /// the dead-letter topic, or parks it when that topic is full. A topic without a dead-letter
    /// topic gives the message up (counted as dead-lettered, payload dropped), as configured.
    pub(super) fn give_up(
        &self,
        state: &mut State,
        topic: usize,
        group: usize,
        id: MessageId,
        deferred: &mut Deferred,
    ) -> NackOutcome {
        let now = Instant::now();
        let Some(t) = state.topics.get_mut(topic) else {
            return NackOutcome::Stale;
        };
        // Tell the group's consumer first, whichever way the message goes next.
        if let (Some(g), Some(message)) = (t.groups.get_mut(group), t.messages.get(id))
            && let Some(given_up) = g.given_up.as_mut()
        {
            let tracked = g.tracked.get(&id);
            given_up.push(GivenUp {
                message: message.clone(),
                attempts: tracked.map_or(0, |t| t.deliveries),
                error: tracked
                    .and_then(|t| t.last_error.clone())
                    .unwrap_or_default(),
            });
            if let Some(wake) = t.give_up_wake.get(group) {
                deferred.wake.push(wake.clone());
            }
        }
        let Some(dead_letter) = t.dead_letter_index else {
            let Some(g) = t.groups.get_mut(group) else {
                return NackOutcome::Stale;
            };
            let error = last_error(g, id);
            g.dead_letter(id);
            let group_name = g.name.clone();
            t.release(id);
            deferred.wake.push(t.space.clone());
            deferred.events.push(BrokerEvent::DeadLettered {
                topic: t.config.name.clone(),
                group: group_name,
                id,
                error,
            });
            state.ledger.settle(id, group, Fate::DeadLettered);
            return NackOutcome::DeadLettered;
        };
        if self.move_to_dead_letter(state, topic, group, id, dead_letter, deferred) {
            return NackOutcome::DeadLettered;
        }
        let seq = state.next_park;
        let dead_letter_name = state
            .topics
            .get(dead_letter)
            .map(|d| d.config.name.clone())
            .unwrap_or_default();
        let Some(t) = state.topics.get_mut(topic) else {
            return NackOutcome::Stale;
        };
        let topic_name = t.config.name.clone();
        let Some(g) = t.groups.get_mut(group) else {
            return NackOutcome::Stale;
        };
        g.park(id, seq, now);
        state.next_park += 1;
        deferred.events.push(BrokerEvent::Parked {
            topic: topic_name,
            group: g.name.clone(),
            id,
            dead_letter: dead_letter_name,
            error: last_error(g, id),
        });
        NackOutcome::Parked
    }

    /// Moves message `id` of group `group` of `topic` (out of attempts, maybe parked) into
    /// topic `dead_letter`, with its origin recorded; false, changing nothing, if that topic
    /// has no room.
    fn move_to_dead_letter(
        &self,
        state: &mut State,
        topic: usize,
        group: usize,
        id: MessageId,
        dead_letter: usize,
        deferred: &mut Deferred,
    ) -> bool {
        let Some(t) = state.topics.get(topic) else {
            return false;
        };
        let Some(g) = t.groups.get(group) else {
            return false;
        };
        let (Some(message), Some(tracked)) = (t.messages.get(id).cloned(), g.tracked.get(&id))
        else {
            return false;
        };
        let error = tracked.last_error.clone().unwrap_or_default();
        let origin = DeadLetterOrigin {
            topic: t.config.name.clone(),
            group: g.name.clone(),
            message: id,
            attempts: tracked.deliveries,
            last_error: error.clone(),
        };
        let draft = Draft {
            event: &message.event,
            payload: message.payload.clone(),
            poison: false,
            origin: Some(origin),
            key: Some(message.key.clone()),
        };
        let moved = self.insert(state, dead_letter, draft, deferred);
        if moved.is_err() {
            return false;
        }
        let Some(t) = state.topics.get_mut(topic) else {
            return false;
        };
        let Some(g) = t.groups.get_mut(group) else {
            return false;
        };
        g.dead_letter(id);
        let group_name = g.name.clone();
        t.release(id);
        deferred.wake.push(t.space.clone());
        deferred.events.push(BrokerEvent::DeadLettered {
            topic: t.config.name.clone(),
            group: group_name,
            id,
            error,
        });
        state.ledger.settle(id, group, Fate::DeadLettered);
        true
    }

    /// Moves parked messages into their dead-letter topics while those have room, oldest first
    /// (broker-wide parking order, so the outcome does not depend on topic order). Call after
    /// anything that may free room in a topic.
    pub(super) fn unpark(&self, state: &mut State, deferred: &mut Deferred) {
        loop {
            let mut oldest: Option<(u64, usize, usize, MessageId, usize)> = None;
            for (ti, t) in state.topics.iter().enumerate() {
                let Some(dead_letter) = t.dead_letter_index else {
                    continue;
                };
                for (gi, g) in t.groups.iter().enumerate() {
                    let Some(parked) = g.parked.front() else {
                        continue;
                    };
                    let room = state.topics.get(dead_letter).is_some_and(|d| d.has_room());
                    if room && oldest.is_none_or(|o| parked.seq < o.0) {
                        oldest = Some((parked.seq, ti, gi, parked.id, dead_letter));
                    }
                }
            }
            let Some((_, topic, group, id, dead_letter)) = oldest else {
                return;
            };
            if !self.move_to_dead_letter(state, topic, group, id, dead_letter, deferred) {
                return;
            }
        }
    }

    /// Sends the dead letters of dead-letter topic `topic` back to their origin topics, oldest
    /// first, at most `limit` (all if `None`): each becomes a fresh message there (attempts
    /// start again from 1; every group of the origin topic receives it, as on its first
    /// publish), and leaves the dead-letter topic counted as acked and redriven. Stops at the
    /// first origin topic that is full. Messages a worker of the dead-letter topic holds, and
    /// messages with no recorded origin, stay. Parked messages then move into the room made.
    pub fn redrive(
        &self,
        topic: &str,
        limit: Option<usize>,
    ) -> Result<RedriveOutcome, RedriveError> {
        let now = Instant::now();
        let mut state = self.lock();
        let Some(index) = state.topics.iter().position(|t| t.config.name == topic) else {
            return Err(RedriveError::UnknownTopic(topic.to_string()));
        };
        let Some(dlq) = state.topics.get(index) else {
            return Err(RedriveError::UnknownTopic(topic.to_string()));
        };
        if dlq.dead_letter_for.is_empty() {
            return Err(RedriveError::NotDeadLetterTopic(topic.to_string()));
        }
        let candidates: Vec<_> = dlq
            .messages
            .iter()
            .filter(|m| m.dead_letter_of.is_some())
            .filter(|m| !dlq.groups.iter().any(|g| g.leased.contains_key(&m.id)))
            .take(limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        let mut deferred = Deferred::default();
        let mut moved = 0;
        let mut stopped = None;
        for message in candidates {
            let Some(origin) = &message.dead_letter_of else {
                continue;
            };
            let Some(to) = state
                .topics
                .iter()
                .position(|t| t.config.name == origin.topic)
            else {
                continue;
            };
            // The same fact as before: the same key, so a consumer that did apply it (its
            // inbox has the key) skips it instead of applying it twice.
            let draft = Draft {
                event: &message.event,
                payload: message.payload.clone(),
                poison: false,
                origin: None,
                key: Some(message.key.clone()),
            };
            let new_id = match self.insert(&mut state, to, draft, &mut deferred) {
                Ok(new_id) => new_id,
                Err(full) => {
                    stopped = Some(full.to_string());
                    break;
                }
            };
            let Some(dlq) = state.topics.get_mut(index) else {
                break;
            };
            let mut redriven_from = Vec::new();
            for (g, group) in dlq.groups.iter_mut().enumerate() {
                if group.redrive(message.id, now) {
                    redriven_from.push(g);
                }
            }
            dlq.redriven += 1;
            dlq.release(message.id);
            deferred.wake.push(dlq.space.clone());
            deferred.events.push(BrokerEvent::Redriven {
                topic: topic.to_string(),
                id: message.id,
                to: origin.topic.clone(),
                new_id,
            });
            for g in redriven_from {
                state.ledger.settle(message.id, g, Fate::Redriven);
            }
            moved += 1;
        }
        self.unpark(&mut state, &mut deferred);
        let left = state
            .topics
            .get(index)
            .map_or(0, |t| t.messages.len() as u64);
        let parked = state
            .topics
            .iter()
            .filter(|t| t.dead_letter_index == Some(index))
            .flat_map(|t| &t.groups)
            .map(|g| g.parked())
            .sum();
        drop(state);
        deferred.fire(self);
        Ok(RedriveOutcome {
            topic: topic.to_string(),
            moved,
            left,
            parked,
            stopped,
        })
    }
}

fn last_error(group: &super::Group, id: MessageId) -> String {
    group
        .tracked
        .get(&id)
        .and_then(|t| t.last_error.clone())
        .unwrap_or_default()
}
