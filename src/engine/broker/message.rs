//! What flows through the broker: messages and their deliveries, the outcomes of a publish and a
//! nack, and the events of the live stream.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::group::MessageId;

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
    /// Topic (shared with the topic: a publish copies no name).
    pub topic: Arc<str>,
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
    /// Idempotency key: the same for every message that announces the same fact (see
    /// [`Broker::try_publish_keyed`](super::Broker::try_publish_keyed)).
    pub key: String,
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
    /// Attempts used up but the dead-letter topic is full: parked in the group, payload kept,
    /// until the dead-letter topic has room.
    Parked,
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
        /// The consumer had already applied this message's idempotency key: it acknowledged it
        /// without doing the work again ("duplicate skipped").
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        duplicate: bool,
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
    /// A message used up its attempts while its dead-letter topic was full: it stays parked in
    /// its group, delivered to no worker, and moves to the dead-letter topic (a `dead_lettered`
    /// event) as soon as that has room.
    Parked {
        /// Topic.
        topic: String,
        /// Group.
        group: String,
        /// Message id.
        id: MessageId,
        /// The full dead-letter topic.
        dead_letter: String,
        /// The last error.
        error: String,
    },
    /// A redrive sent a dead letter back to its origin topic as a fresh message.
    Redriven {
        /// The dead-letter topic it left.
        topic: String,
        /// Its id there.
        id: MessageId,
        /// The origin topic it went back to.
        to: String,
        /// Its new id in the origin topic (attempts start again from 1).
        new_id: MessageId,
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

/// What a redrive did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedriveOutcome {
    /// The dead-letter topic.
    pub topic: String,
    /// Dead letters sent back to their origin topics.
    pub moved: u64,
    /// Dead letters still in the topic afterwards (including parked messages that moved in
    /// when room appeared).
    pub left: u64,
    /// Messages still parked in the source topics, waiting for room in this one.
    pub parked: u64,
    /// Why the redrive stopped before its limit, if it did (an origin topic was full).
    pub stopped: Option<String>,
}

impl RedriveOutcome {
    /// The outcome in a sentence, for notices and the event stream.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "redrive of {}: {} dead letter(s) sent back, {} left",
            self.topic, self.moved, self.left
        );
        if self.parked > 0 {
            text.push_str(&format!(", {} still parked at the source", self.parked));
        }
        if let Some(why) = &self.stopped {
            text.push_str(&format!(" (stopped: {why})"));
        }
        text
    }
}

/// Why a redrive was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveError {
    /// No such topic.
    #[error("no topic `{0}`")]
    UnknownTopic(String),
    /// No topic dead-letters into it.
    #[error("`{0}` is not a dead-letter topic: no topic names it as its `dead_letter`")]
    NotDeadLetterTopic(String),
}
