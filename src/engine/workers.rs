//! Worker pools: each pool is a consumer group of one topic, with `concurrency` workers that
//! lease a message, take a modelled service time, fail with the pool's probability (or always,
//! for a poison message), and ack or nack.
//!
//! A pool with an effect or follow-ups is an *idempotent consumer*:
//!
//! ```text
//!  lease ─▶ key in inbox? ──yes──▶ ack ("duplicate skipped"), nothing done again
//!              │ no
//!              ▼
//!          work (service time) ─ fails ─▶ [on_attempt row] ─▶ nack (retry / give up)
//!              │ succeeds
//!              ▼
//!          [on_attempt row]; BEGIN inbox key + effect + follow-ups in the pool's outbox COMMIT
//!              ▼
//!          ack ─▶ publish the follow-ups now (the relay takes any a full topic refuses)
//! ```
//!
//! So a follow-up refused by a full topic never makes the message retry (which would charge a
//! card twice): it waits in the outbox. A message the pool gives up on (out of attempts, however
//! that happened: a failure or a lease that ran out) gets the pool's `on_give_up` effect, once
//! per key.
//!
//! Workers can be killed (their lease then expires and the message is redelivered), added and
//! removed while running, and slowed down by a fault.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::task::JoinHandle;

use serde_json::json;

use super::broker::{Delivery, GivenUp, Message, MessageId};
use super::clock::EngineClock;
use super::core::Core;
use super::effects::{EffectInput, message_tenant, statement};
use super::event::Event;
use super::latency::ms_to_duration;
use super::options::Sabotage;
use super::store::{Consumed, Consumption, OUTBOX_LEASE_MS, OutboxEvent};
use crate::scenario::{Effect, WorkerPool};

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
    core: Arc<Core>,
    slots: Mutex<Vec<Arc<Slot>>>,
    extra_ms_bits: AtomicU64,
    busy_us: AtomicU64,
    processed: AtomicU64,
    failed: AtomicU64,
    duplicates: AtomicU64,
    give_up_errors: AtomicU64,
    /// Effects committed, per idempotency key (`on_success` and `on_give_up` keys apart): the
    /// ledger's evidence that each was applied at most once, kept apart from the inbox that
    /// enforces it.
    applied: Mutex<std::collections::HashMap<String, u32>>,
    sabotaged: AtomicBool,
    /// Worker time that was there to use (live workers × time), for utilisation.
    capacity: Mutex<CapacityClock>,
}

/// ∫ live workers dt: accumulated whenever the live count changes.
#[derive(Debug, Default)]
struct CapacityClock {
    /// Engine time of the last change.
    since: std::time::Duration,
    /// Live workers since then.
    live: u32,
    /// Worker-µs accumulated before `since`.
    area_us: u128,
}

/// Worker effects, for the ledger: each key applied at most once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EffectTally {
    /// Idempotency keys whose effect was committed.
    pub keys: u64,
    /// Keys whose effect was committed more than once (must be 0).
    pub repeated: u64,
    /// Deliveries acknowledged as duplicates (key already applied).
    pub duplicates_skipped: u64,
    /// `on_give_up` effects that could not be written.
    pub give_up_errors: u64,
}

impl EffectTally {
    /// Adds another pool's tally.
    pub fn add(&mut self, other: EffectTally) {
        self.keys += other.keys;
        self.repeated += other.repeated;
        self.duplicates_skipped += other.duplicates_skipped;
        self.give_up_errors += other.give_up_errors;
    }
}

/// Sleeps `ms` on the engine clock in whole milliseconds, carrying the fraction in `owed_ms`; on
/// the wall clock the sleep ends at the timer tick nearest its due instant, as a request's do
/// ([`EngineClock::timer_deadline`]), so service times are not half a millisecond long on
/// average.
async fn sleep_owed(owed_ms: &mut f64, ms: f64, clock: &EngineClock) {
    *owed_ms += ms.max(0.0);
    let whole = owed_ms.floor();
    *owed_ms -= whole;
    if whole >= 1.0 {
        let due = tokio::time::Instant::now() + ms_to_duration(whole);
        tokio::time::sleep_until(clock.timer_deadline(due)).await;
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
    pub fn start(config: &WorkerPool, core: &Arc<Core>) -> Option<Arc<Self>> {
        let topic = core.broker.topic_index(&config.topic)?;
        let group = core.broker.group_index(topic, &config.name)?;
        let pool = Arc::new(Self {
            config: config.clone(),
            topic,
            group,
            core: core.clone(),
            slots: Mutex::new(Vec::new()),
            extra_ms_bits: AtomicU64::new(0f64.to_bits()),
            busy_us: AtomicU64::new(0),
            processed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            give_up_errors: AtomicU64::new(0),
            applied: Mutex::new(std::collections::HashMap::new()),
            sabotaged: AtomicBool::new(false),
            capacity: Mutex::new(CapacityClock::default()),
        });
        for _ in 0..config.concurrency {
            pool.add_worker();
        }
        if config.effects.on_give_up.is_some()
            && let Some(wake) = core.broker.watch_give_ups(topic, group)
        {
            let watcher = pool.clone();
            tokio::spawn(async move {
                loop {
                    wake.notified().await;
                    for given_up in watcher.core.broker.take_given_up(topic, group) {
                        watcher.give_up(&given_up);
                    }
                }
            });
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
        self.note_capacity();
        index
    }

    /// Records a change of the live worker count in the capacity integral.
    fn note_capacity(&self) {
        let now = self.core.clock.elapsed();
        let live = self.live_workers();
        let mut clock = self.capacity.lock().unwrap_or_else(|p| p.into_inner());
        let dt = now.saturating_sub(clock.since).as_micros();
        clock.area_us += dt * u128::from(clock.live);
        clock.since = now;
        clock.live = live;
    }

    /// Worker time available so far, µs: each moment's live workers (not crashed, not retiring)
    /// times its length. Utilisation is busy time over this, so killing workers raises it and
    /// adding workers lowers it, as it does on a real pool.
    pub fn available_us(&self) -> u64 {
        let now = self.core.clock.elapsed();
        let clock = self.capacity.lock().unwrap_or_else(|p| p.into_inner());
        let dt = now.saturating_sub(clock.since).as_micros();
        (clock.area_us + dt * u128::from(clock.live)).min(u128::from(u64::MAX)) as u64
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
        let retired = match live {
            Some(slot) => {
                slot.retire.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        };
        drop(slots);
        self.note_capacity();
        retired
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
        drop(slots);
        self.note_capacity();
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
        self.note_capacity();
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
            self.core.events.publish(|at_ms| Event::Worker {
                at_ms,
                change: WorkerChange {
                    pool: self.config.name.clone(),
                    worker,
                    state,
                },
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
            let delivery = self.core.broker.next(self.topic, self.group, index).await;
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

    /// Whether the pool records keys in its inbox: it changes something (a row, or follow-ups)
    /// that must not happen twice.
    fn idempotent(&self) -> bool {
        self.config.effects.on_success.is_some() || !self.config.publishes.is_empty()
    }

    /// Processes one delivery; true if it was acked.
    async fn process(&self, delivery: &Delivery, owed_ms: &mut f64) -> bool {
        let core = &self.core;
        let message = &delivery.message;
        if self.core.sabotage == Some(Sabotage::DropMessage)
            && !self.sabotaged.swap(true, Ordering::Relaxed)
        {
            core.broker.forget(delivery);
            return false;
        }
        if self.idempotent()
            && core
                .store
                .inbox_contains(&self.config.name, &message.key)
                .unwrap_or(false)
        {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return core.broker.ack_duplicate(delivery);
        }
        let started = core.clock.elapsed();
        let service_ms = core.rng.sample_ms(&self.config.service_time) + self.extra_ms();
        let fails = message.poison || core.rng.unit() < self.config.failure_probability;
        let timeout_ms = self.config.timeout.map(|t| t.as_secs_f64() * 1000.0);
        let outcome = match timeout_ms {
            Some(limit) if service_ms > limit => {
                sleep_owed(owed_ms, limit, &core.clock).await;
                Err(format!("timed out after {limit:.0} ms"))
            }
            _ => {
                sleep_owed(owed_ms, service_ms, &core.clock).await;
                if fails {
                    Err(if message.poison {
                        "poison message: the handler cannot process it".to_string()
                    } else {
                        format!(
                            "{} handler failed (simulated dependency error)",
                            message.event
                        )
                    })
                } else {
                    Ok(())
                }
            }
        };
        let busy = core.clock.elapsed().saturating_sub(started);
        self.busy_us
            .fetch_add(busy.as_micros() as u64, Ordering::Relaxed);
        let failure = outcome.as_ref().err().cloned();
        let input = EffectInput {
            message,
            attempt: delivery.attempt,
            delivered: Some(outcome.is_ok()),
            error: failure.as_deref(),
            latency_ms: busy.as_secs_f64() * 1000.0,
            now_unix_secs: core.clock.unix_secs(),
        };
        let attempt_logged = match &self.config.effects.on_attempt {
            Some(effect) => self.run_plain(effect, &input),
            None => Ok(()),
        };
        let outcome = outcome.and(attempt_logged).and_then(|()| {
            self.commit(
                &self.config.name,
                self.config.effects.on_success.as_ref(),
                &input,
                self.follow_ups(message),
            )
        });
        match outcome {
            Ok(Some(outbox)) => {
                self.processed.fetch_add(1, Ordering::Relaxed);
                let acked = core.broker.ack(delivery);
                super::relay::publish_now(core, outbox);
                acked
            }
            Ok(None) => {
                self.duplicates.fetch_add(1, Ordering::Relaxed);
                core.broker.ack_duplicate(delivery)
            }
            Err(error) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                core.broker.nack(delivery, &error);
                false
            }
        }
    }

    /// The follow-up events of a processed message: each carries the row the cause was about
    /// (so the next pool's effects can use `$row.…`) and a key derived from the cause's, so a
    /// re-run of the cause announces the same facts.
    fn follow_ups(&self, cause: &Message) -> Vec<OutboxEvent> {
        self.config
            .publishes
            .iter()
            .map(|follow_up| OutboxEvent {
                topic: follow_up.topic.clone(),
                event: follow_up.event.clone(),
                payload: json!({
                    "tenant": cause.payload.get("tenant"),
                    "table": cause.payload.get("table"),
                    "row": cause.payload.get("row"),
                    "cause": { "message": cause.id, "key": cause.key, "event": cause.event },
                }),
                key: Some(format!(
                    "{}>{}/{}",
                    cause.key, follow_up.topic, follow_up.event
                )),
            })
            .collect()
    }

    /// Records the key, runs `effect` and writes `follow_ups`, in one transaction. `Ok(None)`:
    /// the key was already applied (a duplicate); `Ok(Some(rows))`: committed, with the outbox
    /// rows to publish.
    fn commit(
        &self,
        consumer: &str,
        effect: Option<&Effect>,
        input: &EffectInput<'_>,
        follow_ups: Vec<OutboxEvent>,
    ) -> Result<Option<Vec<super::store::OutboxRow>>, String> {
        let core = &self.core;
        if effect.is_none() && follow_ups.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let effect = match effect {
            Some(effect) => {
                let table = core
                    .scenario
                    .table(&effect.table)
                    .ok_or_else(|| format!("no table `{}`", effect.table))?;
                let sql = statement(effect, table, input)
                    .map_err(|e| format!("effect on `{}` failed: {e}", effect.table))?;
                Some((table, sql))
            }
            None => None,
        };
        let now_ms = core.clock.elapsed().as_millis() as u64;
        let has_effect = effect.is_some();
        let work = Consumption {
            consumer,
            key: &input.message.key,
            message_id: input.message.id,
            now_ms,
            effect,
            follow_ups,
            tenant_id: message_tenant(input.message),
            lease_until_ms: now_ms + OUTBOX_LEASE_MS,
            apply_twice: core.sabotage == Some(Sabotage::ApplyTwice),
        };
        match core.store.consume(work) {
            Ok(Consumed::Duplicate) => Ok(None),
            Ok(Consumed::Applied { outbox, .. }) => {
                if has_effect {
                    let times = if core.sabotage == Some(Sabotage::ApplyTwice) {
                        2
                    } else {
                        1
                    };
                    let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
                    *applied
                        .entry(format!("{consumer}\u{0}{}", input.message.key))
                        .or_default() += times;
                }
                Ok(Some(outbox.into_iter().map(|insert| insert.row).collect()))
            }
            Err(error) => Err(format!("effect not applied: {error}")),
        }
    }

    /// Runs an effect that is not keyed (one row per attempt).
    fn run_plain(&self, effect: &Effect, input: &EffectInput<'_>) -> Result<(), String> {
        let core = &self.core;
        let table = core
            .scenario
            .table(&effect.table)
            .ok_or_else(|| format!("no table `{}`", effect.table))?;
        let sql = statement(effect, table, input)
            .map_err(|e| format!("attempt log on `{}` failed: {e}", effect.table))?;
        core.store
            .run_effect(sql)
            .map(|_| ())
            .map_err(|e| format!("attempt log on `{}` failed: {e}", effect.table))
    }

    /// Applies the pool's `on_give_up` effect to a message it gave up on, once per key.
    fn give_up(&self, given_up: &GivenUp) {
        let Some(effect) = &self.config.effects.on_give_up else {
            return;
        };
        let input = EffectInput {
            message: &given_up.message,
            attempt: given_up.attempts,
            delivered: Some(false),
            error: Some(&given_up.error),
            latency_ms: 0.0,
            now_unix_secs: self.core.clock.unix_secs(),
        };
        let consumer = format!("{}:give_up", self.config.name);
        // The message is dead-lettered (or parked) whatever happens here; a failed give-up
        // write is counted, and the row keeps its old value for everyone to see.
        if self
            .commit(&consumer, Some(effect), &input, Vec::new())
            .is_err()
        {
            self.give_up_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The pool's effect counts, for the ledger.
    pub fn effect_tally(&self) -> EffectTally {
        let applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        EffectTally {
            keys: applied.len() as u64,
            repeated: applied.values().filter(|&&n| n > 1).count() as u64,
            duplicates_skipped: self.duplicates.load(Ordering::Relaxed),
            give_up_errors: self.give_up_errors.load(Ordering::Relaxed),
        }
    }
}
