//! Worker pools: each pool is a consumer group of one topic, with `concurrency` workers that
//! lease a message, take a modelled service time, fail with the pool's probability (or always,
//! for a poison message), and ack or nack. A successful worker publishes its follow-up events
//! *before* acking, so a refused follow-up makes the message retry instead of vanishing.
//!
//! Workers can be killed (their lease then expires and the message is redelivered), added and
//! removed while running, and slowed down by a fault.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::broker::{Broker, Delivery, MessageId};
use super::clock::EngineClock;
use super::latency::{SeededRng, ms_to_duration};
use crate::scenario::WorkerPool;

/// What a worker is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WorkerState {
    /// Waiting for a message.
    Idle,
    /// Processing a message.
    Busy {
        /// The message.
        message: MessageId,
        /// Its delivery number.
        attempt: u32,
    },
    /// Its last message failed; it is waiting out the pool's pause before polling again.
    BackingOff {
        /// The message that failed.
        message: MessageId,
    },
    /// Killed by a fault; any message it held is redelivered when its lease expires.
    Crashed,
}

/// A worker changed state (for the live event stream).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerChange {
    /// Pool name.
    pub pool: String,
    /// Worker index within the pool.
    pub worker: usize,
    /// Its new state.
    pub state: WorkerState,
}

struct Slot {
    state: Mutex<WorkerState>,
    task: Mutex<Option<JoinHandle<()>>>,
    retire: AtomicBool,
}

/// A running worker pool.
pub struct PoolRuntime {
    /// The pool's configuration.
    pub config: WorkerPool,
    topic: usize,
    group: usize,
    broker: Arc<Broker>,
    rng: Arc<SeededRng>,
    clock: EngineClock,
    slots: Mutex<Vec<Arc<Slot>>>,
    extra_ms_bits: AtomicU64,
    busy_us: AtomicU64,
    processed: AtomicU64,
    failed: AtomicU64,
    changes: broadcast::Sender<WorkerChange>,
}

/// Sleeps `ms` on the engine clock in whole milliseconds, carrying the fraction in `owed_ms`.
async fn sleep_owed(owed_ms: &mut f64, ms: f64) {
    *owed_ms += ms.max(0.0);
    let whole = owed_ms.floor();
    *owed_ms -= whole;
    if whole >= 1.0 {
        tokio::time::sleep(ms_to_duration(whole)).await;
    }
}

/// How long a worker pauses after a failed message before it polls again, in ms: a real worker
/// does not hammer a failing dependency in a tight loop.
pub const FAILURE_PAUSE_MS: f64 = 10.0;

impl std::fmt::Debug for PoolRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolRuntime")
            .field("pool", &self.config.name)
            .finish_non_exhaustive()
    }
}

impl PoolRuntime {
    /// Starts `config.concurrency` workers on the broker. Returns `None` if the pool's topic is
    /// unknown to the broker (validation makes that impossible for scenario pools).
    pub fn start(
        config: &WorkerPool,
        broker: &Arc<Broker>,
        rng: &Arc<SeededRng>,
        clock: EngineClock,
        changes: broadcast::Sender<WorkerChange>,
    ) -> Option<Arc<Self>> {
        let topic = broker.topic_index(&config.topic)?;
        let group = broker.group_index(topic, &config.name)?;
        let pool = Arc::new(Self {
            config: config.clone(),
            topic,
            group,
            broker: broker.clone(),
            rng: rng.clone(),
            clock,
            slots: Mutex::new(Vec::new()),
            extra_ms_bits: AtomicU64::new(0f64.to_bits()),
            busy_us: AtomicU64::new(0),
            processed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            changes,
        });
        for _ in 0..config.concurrency {
            pool.add_worker();
        }
        Some(pool)
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a worker and starts it; returns its index.
    pub fn add_worker(self: &Arc<Self>) -> usize {
        let slot = Arc::new(Slot {
            state: Mutex::new(WorkerState::Idle),
            task: Mutex::new(None),
            retire: AtomicBool::new(false),
        });
        let index = {
            let mut slots = self.slots();
            slots.push(slot.clone());
            slots.len() - 1
        };
        self.spawn(index, slot);
        index
    }

    fn spawn(self: &Arc<Self>, index: usize, slot: Arc<Slot>) {
        let pool = self.clone();
        let task_slot = slot.clone();
        let handle = tokio::spawn(async move { pool.work(index, task_slot).await });
        *slot.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    }

    /// Retires the newest live worker once it finishes its current message; false if none.
    pub fn remove_worker(&self) -> bool {
        let slots = self.slots();
        let live = slots.iter().rev().find(|s| {
            !s.retire.load(Ordering::Relaxed)
                && *s.state.lock().unwrap_or_else(|p| p.into_inner()) != WorkerState::Crashed
        });
        match live {
            Some(slot) => {
                slot.retire.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Kills up to `count` live workers (busy ones first, as a crash would hit). Returns the
    /// indexes killed.
    pub fn kill(&self, count: u32) -> Vec<usize> {
        let slots = self.slots();
        let mut order: Vec<usize> = (0..slots.len()).collect();
        let state_of = |i: usize| *slots[i].state.lock().unwrap_or_else(|p| p.into_inner());
        order.sort_by_key(|&i| match state_of(i) {
            WorkerState::Busy { .. } => 0,
            WorkerState::BackingOff { .. } => 1,
            WorkerState::Idle => 2,
            WorkerState::Crashed => 3,
        });
        let mut killed = Vec::new();
        for i in order.into_iter().filter(|&i| {
            state_of(i) != WorkerState::Crashed && !slots[i].retire.load(Ordering::Relaxed)
        }) {
            if killed.len() as u32 >= count {
                break;
            }
            if let Some(task) = slots[i]
                .task
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                task.abort();
            }
            self.set_state(i, &slots[i], WorkerState::Crashed);
            killed.push(i);
        }
        killed
    }

    /// Restarts every crashed worker.
    pub fn restart_crashed(self: &Arc<Self>) -> usize {
        let crashed: Vec<(usize, Arc<Slot>)> = self
            .slots()
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                *s.state.lock().unwrap_or_else(|p| p.into_inner()) == WorkerState::Crashed
            })
            .map(|(i, s)| (i, s.clone()))
            .collect();
        for (index, slot) in &crashed {
            self.set_state(*index, slot, WorkerState::Idle);
            self.spawn(*index, slot.clone());
        }
        crashed.len()
    }

    /// Adds `ms` to every message's service time (a slow-workers fault); 0 restores.
    pub fn set_extra_ms(&self, ms: f64) {
        self.extra_ms_bits
            .store(ms.max(0.0).to_bits(), Ordering::Relaxed);
    }

    /// The current extra service time in ms.
    pub fn extra_ms(&self) -> f64 {
        f64::from_bits(self.extra_ms_bits.load(Ordering::Relaxed))
    }

    /// Each worker's state (retired workers are left out).
    pub fn states(&self) -> Vec<WorkerState> {
        self.slots()
            .iter()
            .filter(|s| {
                !s.retire.load(Ordering::Relaxed)
                    || *s.state.lock().unwrap_or_else(|p| p.into_inner()) != WorkerState::Idle
            })
            .map(|s| *s.state.lock().unwrap_or_else(|p| p.into_inner()))
            .collect()
    }

    /// Live (not crashed, not retiring) workers.
    pub fn live_workers(&self) -> u32 {
        self.slots()
            .iter()
            .filter(|s| {
                !s.retire.load(Ordering::Relaxed)
                    && *s.state.lock().unwrap_or_else(|p| p.into_inner()) != WorkerState::Crashed
            })
            .count() as u32
    }

    /// Total time workers spent processing, µs (for utilisation).
    pub fn busy_us(&self) -> u64 {
        self.busy_us.load(Ordering::Relaxed)
    }

    /// Messages processed successfully and failed deliveries, by this pool's workers.
    pub fn outcomes(&self) -> (u64, u64) {
        (
            self.processed.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    fn set_state(&self, worker: usize, slot: &Slot, state: WorkerState) {
        let previous = std::mem::replace(
            &mut *slot.state.lock().unwrap_or_else(|p| p.into_inner()),
            state,
        );
        if previous != state {
            // Nobody listening is fine: the stream is for whoever watches.
            let _ = self.changes.send(WorkerChange {
                pool: self.config.name.clone(),
                worker,
                state,
            });
        }
    }

    async fn work(self: Arc<Self>, index: usize, slot: Arc<Slot>) {
        // Modelled time not slept yet (tokio's timer counts whole milliseconds; see
        // `TraceRecorder::delay`): keeps a worker's mean service time exact.
        let mut owed_ms = 0.0;
        loop {
            if slot.retire.load(Ordering::Relaxed) {
                self.set_state(index, &slot, WorkerState::Idle);
                return;
            }
            self.set_state(index, &slot, WorkerState::Idle);
            let delivery = self.broker.next(self.topic, self.group, index).await;
            let message = delivery.message.id;
            self.set_state(
                index,
                &slot,
                WorkerState::Busy {
                    message,
                    attempt: delivery.attempt,
                },
            );
            let succeeded = self.process(&delivery, &mut owed_ms).await;
            if !succeeded {
                self.set_state(index, &slot, WorkerState::BackingOff { message });
                tokio::time::sleep(ms_to_duration(FAILURE_PAUSE_MS)).await;
            }
        }
    }

    /// Processes one delivery; true if it was acked.
    async fn process(&self, delivery: &Delivery, owed_ms: &mut f64) -> bool {
        let started = self.clock.elapsed();
        let service_ms = self.rng.sample_ms(&self.config.service_time) + self.extra_ms();
        let fails = delivery.message.poison || self.rng.unit() < self.config.failure_probability;
        let timeout_ms = self.config.timeout.map(|t| t.as_secs_f64() * 1000.0);
        let outcome = match timeout_ms {
            Some(limit) if service_ms > limit => {
                sleep_owed(owed_ms, limit).await;
                Err(format!("timed out after {limit:.0} ms"))
            }
            _ => {
                sleep_owed(owed_ms, service_ms).await;
                if fails {
                    Err(if delivery.message.poison {
                        "poison message: the handler cannot process it".to_string()
                    } else {
                        format!(
                            "{} handler failed (simulated dependency error)",
                            delivery.message.event
                        )
                    })
                } else {
                    Ok(())
                }
            }
        };
        let busy = self.clock.elapsed().saturating_sub(started);
        self.busy_us
            .fetch_add(busy.as_micros() as u64, Ordering::Relaxed);
        let outcome = match outcome {
            Ok(()) => self.publish_follow_ups(delivery).await,
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => {
                self.processed.fetch_add(1, Ordering::Relaxed);
                self.broker.ack(delivery)
            }
            Err(error) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.broker.nack(delivery, &error);
                false
            }
        }
    }

    async fn publish_follow_ups(&self, delivery: &Delivery) -> Result<(), String> {
        for follow_up in &self.config.publishes {
            let payload = serde_json::json!({ "cause": delivery.message.id, "event": delivery.message.event, "payload": delivery.message.payload });
            if let Err(error) = self
                .broker
                .publish(&follow_up.topic, &follow_up.event, payload)
                .await
            {
                return Err(format!("follow-up {} refused: {error}", follow_up.event));
            }
        }
        Ok(())
    }
}
