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
