//! The engine's command vocabulary: everything a client can ask of a running engine, as plain
//! data.
//!
//! A [`Command`] is serde data with no handles inside, so a guided-tour step, a recorded session
//! (a seed plus `(engine time, Command)` pairs) and a scripted lesson are all just lists of
//! commands, replayable in virtual time. Every command answers with one [`Reply`] (or an
//! [`EngineError`]) once it has taken effect.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::broker::{Message, MessageId, RedriveOutcome};
use super::error::EngineError;
use super::event::Level;
use super::request::{ApiRequest, Exchange};
use super::sim::{Simulation, Snapshot};
use super::store::QueryRecord;
use super::trace::Trace;
use crate::scenario::{FaultAction, TokenKind};

/// Something to ask of the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Let `ms` of engine time pass, then reply. In virtual time this is what moves the clock
    /// (as fast as the CPU allows); on a live clock it waits.
    Advance {
        /// Engine milliseconds.
        ms: u64,
    },
    /// Send one request through the whole pipeline. Replies [`Reply::Response`].
    Send {
        /// The request.
        request: ApiRequest,
    },
    /// Send `requests` all at once (concurrently, at the same engine instant), e.g. a burst.
    /// Replies [`Reply::Responses`], in the same order.
    SendAll {
        /// The requests.
        requests: Vec<ApiRequest>,
    },
    /// Send the scenario's named request `id` as it describes, all its `repeat` copies at once.
    /// Replies [`Reply::Traces`], one trace per copy.
    SendNamed {
        /// Request id from the scenario's `[[requests]]`.
        id: String,
    },
    /// Mint a token for `persona` on the engine clock. Replies [`Reply::Token`].
    Token {
        /// Persona name.
        persona: String,
        /// Which token (valid, expired, tampered, …).
        kind: TokenKind,
        /// Lifetime in seconds (default: the scenario's).
        ttl_s: Option<u64>,
    },
    /// Read the rows of `table`, of one tenant or of all. Replies [`Reply::Rows`].
    Rows {
        /// Table name.
        table: String,
        /// Tenant id, or `None` for every tenant.
        tenant: Option<i64>,
    },
    /// The newest messages still held by `topic` (e.g. a dead-letter topic's contents).
    /// Replies [`Reply::Messages`].
    Messages {
        /// Topic name.
        topic: String,
        /// At most this many, newest first.
        limit: usize,
    },
    /// Publish an event straight to a topic, as a producer outside the API would. Replies
    /// [`Reply::Published`], or [`EngineError::Refused`] when the topic is full.
    Publish {
        /// Topic name.
        topic: String,
        /// Event type.
        event: String,
        /// Payload.
        payload: Value,
        /// Follow the topic's full policy (`block` waits for room up to its timeout) instead of
        /// refusing at once when the topic is full.
        #[serde(default)]
        block: bool,
    },
    /// Send the dead letters of dead-letter topic `topic` back to their origin topics, oldest
    /// first, each as a fresh message (attempts from 1); at most `limit` (all if `None`), stopping
    /// at the first full origin topic. Parked messages then move into the room made. Replies
    /// [`Reply::Redriven`], or [`EngineError::Refused`] for a topic that is not a dead-letter
    /// topic.
    Redrive {
        /// Dead-letter topic name.
        topic: String,
        /// At most this many.
        #[serde(default)]
        limit: Option<usize>,
    },
    /// Multiply every traffic generator's rate (0 stops generated traffic; workers keep
    /// draining).
    SetRate {
        /// Multiplier, clamped to 0–100.
        multiplier: f64,
    },
    /// Set how many engine seconds pass per wall second (paced clocks only; 1/8 … 64).
    SetTimeScale {
        /// The scale.
        scale: f64,
    },
    /// Freeze engine time (paced clocks only): nothing moves until [`Command::Resume`].
    Pause,
    /// Let engine time move again after [`Command::Pause`].
    Resume,
    /// Add a worker to a pool.
    AddWorker {
        /// Pool name.
        pool: String,
    },
    /// Retire one worker of a pool after its current message.
    RetireWorker {
        /// Pool name.
        pool: String,
    },
    /// Apply a fault now (kill or slow workers, slow the database, flush the cache, a traffic
    /// spike, a poison message, pause a topic, redrive a dead-letter topic), reverted after
    /// `duration_ms` if given.
    /// Replies [`Reply::Applied`].
    Fault {
        /// What to break.
        action: FaultAction,
        /// How long, in engine ms (`None`: until changed).
        duration_ms: Option<u64>,
    },
    /// Take a snapshot of everything now (a live engine otherwise publishes one every 100 ms).
    /// Replies [`Reply::Snapshot`].
    Snapshot,
    /// Stop the engine: every task ends, nothing fires afterwards.
    Stop,
}

/// What a command produced.
#[derive(Debug, Clone)]
pub enum Reply {
    /// The command took effect; it has nothing to return.
    Done,
    /// The response to [`Command::Send`] and its trace.
    Response(Box<Exchange>),
    /// The responses to [`Command::SendAll`], in order.
    Responses(Vec<Exchange>),
    /// The traces of [`Command::SendNamed`], one per copy.
    Traces(Vec<Trace>),
    /// A token (`None` for [`TokenKind::Missing`]).
    Token(Option<String>),
    /// The query that ran and its rows.
    Rows(QueryRecord),
    /// Messages held by a topic, newest first.
    Messages(Vec<Message>),
    /// The id of a published message.
    Published(MessageId),
    /// What a fault did, in a sentence (also on the event stream).
    Applied(String),
    /// What a [`Command::Redrive`] did: how many moved, how many are left.
    Redriven(RedriveOutcome),
    /// The state of everything when the command ran.
    Snapshot(Arc<Snapshot>),
}

impl Command {
    /// A short name for logs and errors, e.g. `send_named`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Advance { .. } => "advance",
            Command::Send { .. } => "send",
            Command::SendAll { .. } => "send_all",
            Command::SendNamed { .. } => "send_named",
            Command::Token { .. } => "token",
            Command::Rows { .. } => "rows",
            Command::Messages { .. } => "messages",
            Command::Publish { .. } => "publish",
            Command::Redrive { .. } => "redrive",
            Command::SetRate { .. } => "set_rate",
            Command::SetTimeScale { .. } => "set_time_scale",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::AddWorker { .. } => "add_worker",
            Command::RetireWorker { .. } => "retire_worker",
            Command::Fault { .. } => "fault",
            Command::Snapshot => "snapshot",
            Command::Stop => "stop",
        }
    }
}

impl Simulation {
    /// Carries out `command` on the running system. [`Command::Stop`] is the engine loop's to
    /// handle; here it only replies.
    pub(crate) async fn execute(&self, command: Command) -> Result<Reply, EngineError> {
        let system = self.engine();
        match command {
            Command::Advance { ms } => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                settle().await;
                Ok(Reply::Done)
            }
            Command::SendAll { requests } => {
                let exchanges = system.send_all(requests).await;
                Ok(Reply::Responses(
                    exchanges.into_iter().collect::<Result<_, _>>()?,
                ))
            }
            Command::Send { request } => {
                let exchange = system.send(request).await?;
                Ok(Reply::Response(Box::new(exchange)))
            }
            Command::SendNamed { id } => {
                let exchanges = system.send_named(&id).await?;
                Ok(Reply::Traces(
                    exchanges.into_iter().map(|e| e.trace).collect(),
                ))
            }
            Command::Token {
                persona,
                kind,
                ttl_s,
            } => Ok(Reply::Token(system.token(&persona, kind, ttl_s)?)),
            Command::Rows { table, tenant } => system
                .core()
                .store
                .rows(&table, tenant)
                .map(Reply::Rows)
                .map_err(|e| EngineError::Refused(e.to_string())),
            Command::Messages { topic, limit } => Ok(Reply::Messages(
                system
                    .core()
                    .broker
                    .messages(&topic, limit)
                    .into_iter()
                    .map(|m| (*m).clone())
                    .collect(),
            )),
            Command::Publish {
                topic,
                event,
                payload,
                block,
            } => {
                let broker = &system.core().broker;
                let published = if block {
                    broker.publish(&topic, &event, payload).await
                } else {
                    broker.try_publish(&topic, &event, payload, false)
                };
                published
                    .map(Reply::Published)
                    .map_err(|e| EngineError::Refused(format!("{topic}: {e}")))
            }
            Command::Redrive { topic, limit } => {
                let outcome = system
                    .core()
                    .broker
                    .redrive(&topic, limit)
                    .map_err(|e| EngineError::Refused(e.to_string()))?;
                self.log(Level::Info, outcome.describe());
                Ok(Reply::Redriven(outcome))
            }
            Command::SetRate { multiplier } => {
                self.set_rate_multiplier(multiplier);
                Ok(Reply::Done)
            }
            Command::SetTimeScale { scale } => {
                let pacer = self.time_scale().ok_or_else(not_paced)?;
                let set = pacer.set(scale);
                self.log(Level::Info, format!("engine time ×{set} of the wall clock"));
                Ok(Reply::Done)
            }
            Command::Pause | Command::Resume => {
                let pacer = self.time_scale().ok_or_else(not_paced)?;
                let pause = matches!(command, Command::Pause);
                pacer.set_paused(pause);
                let what = if pause { "paused" } else { "resumed" };
                self.log(Level::Info, format!("engine time {what}"));
                Ok(Reply::Done)
            }
            Command::AddWorker { pool } => {
                if self.add_worker(&pool) {
                    Ok(Reply::Done)
                } else {
                    Err(EngineError::Refused(format!("no worker pool {pool}")))
                }
            }
            Command::RetireWorker { pool } => {
                if self.remove_worker(&pool) {
                    Ok(Reply::Done)
                } else {
                    Err(EngineError::Refused(format!(
                        "{pool} has no live worker left to retire"
                    )))
                }
            }
            Command::Fault {
                action,
                duration_ms,
            } => Ok(Reply::Applied(
                self.inject(action, duration_ms.map(Duration::from_millis)),
            )),
            Command::Snapshot => Ok(Reply::Snapshot(Arc::new(self.snapshot()))),
            Command::Stop => Ok(Reply::Done),
        }
    }
}

/// How many times [`settle`] lets the ready tasks run.
const SETTLE_ROUNDS: usize = 64;

/// Lets the tasks woken at this instant run before a command replies: a timer due exactly at
/// the end of an [`Command::Advance`] fires with it, so "advance 200 ms" includes what happens
/// at 200 ms. Yielding never moves the clock (this task stays ready), and the current-thread
/// scheduler runs tasks in a fixed order, so this stays deterministic. A chain longer than
/// [`SETTLE_ROUNDS`] hand-offs finishes at the next command, still at the same engine time.
async fn settle() {
    for _ in 0..SETTLE_ROUNDS {
        tokio::task::yield_now().await;
    }
}

fn not_paced() -> EngineError {
    EngineError::Refused(
        "the time scale applies to a paced clock; virtual time runs as fast as the CPU and the \
         wall clock cannot be paced"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_plain_data_that_round_trip_through_json() {
        let commands = vec![
            Command::Advance { ms: 1500 },
            Command::SendNamed {
                id: "alice-lists-projects".into(),
            },
            Command::Fault {
                action: FaultAction::KillWorkers {
                    pool: "payment-processor".into(),
                    count: 2,
                },
                duration_ms: Some(30_000),
            },
            Command::Send {
                request: ApiRequest::new("GET", "/api/v1/projects", "acme.archsim.test"),
            },
            Command::Pause,
            Command::Redrive {
                topic: "payments.dlq".into(),
                limit: Some(10),
            },
        ];
        let text = serde_json::to_string(&commands).expect("serialize");
        assert!(
            text.contains(r#"{"command":"advance","ms":1500}"#),
            "{text}"
        );
        assert!(
            text.contains(r#"{"command":"redrive","topic":"payments.dlq","limit":10}"#),
            "{text}"
        );
        let back: Vec<Command> = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(back, commands);
    }
}
