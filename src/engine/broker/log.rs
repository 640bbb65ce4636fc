//! A topic's messages still held by some group, in publication order.
//!
//! Messages arrive in increasing id order (ids are handed out under the broker's lock) and
//! leave in any order, as each is settled in every group. So they sit in one contiguous
//! deque, found by binary search; a message that leaves mid-queue leaves a hole, holes at the
//! front are dropped at once, and the deque is compacted when holes outnumber messages. A
//! B-tree did the same job at a cost of a fifth of every ack (its search and rebalancing);
//! here the cost is a binary search over memory that is already in the cache.

use std::collections::VecDeque;
use std::sync::Arc;

use super::Message;
use super::group::MessageId;

/// Holes tolerated before compacting, beyond one per message held.
const SLACK: usize = 64;

/// See the module docs.
#[derive(Debug, Default)]
pub struct MessageLog {
    /// In increasing id order; `None` marks a message that left.
    slots: VecDeque<(MessageId, Option<Arc<Message>>)>,
    /// Slots holding a message.
    held: usize,
}

impl MessageLog {
    /// Appends `message`, whose id must be above every id appended so far (it is dropped, and
    /// false returned, otherwise: the log stays ordered).
    pub fn push(&mut self, message: Arc<Message>) -> bool {
        if self
            .slots
            .back()
            .is_some_and(|(last, _)| *last >= message.id)
        {
            return false;
        }
        self.slots.push_back((message.id, Some(message)));
        self.held += 1;
        true
    }

    /// Message `id`, if held.
    pub fn get(&self, id: MessageId) -> Option<&Arc<Message>> {
        let at = self.position(id)?;
        self.slots.get(at)?.1.as_ref()
    }

    /// Takes message `id` out, if held.
    pub fn remove(&mut self, id: MessageId) -> Option<Arc<Message>> {
        let at = self.position(id)?;
        let removed = self.slots.get_mut(at)?.1.take()?;
        self.held -= 1;
        while self.slots.front().is_some_and(|(_, slot)| slot.is_none()) {
            self.slots.pop_front();
        }
        if self.slots.len() > 2 * self.held + SLACK {
            self.slots.retain(|(_, slot)| slot.is_some());
        }
        Some(removed)
    }

    /// Messages held.
    pub fn len(&self) -> usize {
        self.held
    }

    /// Whether no message is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// The messages held, oldest first (reverse it for newest first).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<Message>> {
        self.slots.iter().filter_map(|(_, slot)| slot.as_ref())
    }

    fn position(&self, id: MessageId) -> Option<usize> {
        self.slots
            .binary_search_by_key(&id, |(slot_id, _)| *slot_id)
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: MessageId) -> Arc<Message> {
        Arc::new(Message {
            id,
            topic: Arc::from("t"),
            event: "e".into(),
            payload: serde_json::Value::Null,
            published_at_ms: id,
            poison: false,
            dead_letter_of: None,
            key: format!("msg:{id}"),
        })
    }

    fn ids(log: &MessageLog) -> Vec<MessageId> {
        log.iter().map(|m| m.id).collect()
    }

    #[test]
    fn messages_leave_in_any_order_and_the_rest_stay_in_publication_order() {
        let mut log = MessageLog::default();
        for id in [2, 3, 5, 8, 13] {
            assert!(log.push(message(id)));
        }
        assert_eq!(log.remove(5).map(|m| m.id), Some(5));
        assert_eq!(log.remove(5), None, "a message leaves once");
        assert_eq!(log.remove(4), None, "never held");
        assert_eq!(log.remove(2).map(|m| m.id), Some(2));
        assert_eq!(ids(&log), [3, 8, 13]);
        assert_eq!(
            log.iter().rev().map(|m| m.id).collect::<Vec<_>>(),
            [13, 8, 3]
        );
        assert_eq!(log.get(8).map(|m| m.id), Some(8));
        assert!(log.get(5).is_none());
        assert_eq!(log.len(), 3);
        assert!(!log.push(message(13)), "ids only increase");
        assert!(!log.push(message(1)));
        assert_eq!(log.len(), 3);
    }

    #[test]
    fn holes_are_reclaimed_however_long_the_oldest_message_stays() {
        let mut log = MessageLog::default();
        assert!(log.push(message(1)));
        // The oldest message stays (parked, say) while 10,000 others come and go.
        for id in 2..10_002 {
            assert!(log.push(message(id)));
            assert!(log.remove(id).is_some());
        }
        assert_eq!(ids(&log), [1]);
        assert!(log.slots.len() <= 2 + SLACK, "{} slots", log.slots.len());
        assert!(log.remove(1).is_some());
        assert!(log.is_empty());
        assert!(log.slots.is_empty());
    }
}
