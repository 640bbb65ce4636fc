//! How an engine is started: its clock, the Unix time it starts at, and whether the scenario's
//! traffic and scheduled faults run.

use super::clock::{Clock, Epoch};

/// How to start an engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Which clock it runs on.
    pub clock: Clock,
    /// The Unix time its clock starts at (default: fixed for virtual time, now otherwise).
    pub epoch: Epoch,
    /// Run the scenario's traffic generators.
    pub traffic: bool,
    /// Run the scenario's scheduled faults.
    pub faults: bool,
    /// Test-only: a deliberate bug, to prove the per-message ledger catches it.
    #[doc(hidden)]
    pub sabotage: Option<Sabotage>,
}

/// A deliberate bug the engine can be started with, so tests (and `run --sabotage`) can prove
/// that the ledger's `no_message_lost` turns false when delivery breaks. Not for lessons.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sabotage {
    /// The first delivery each worker pool takes is forgotten by the broker: never acked, never
    /// retried.
    DropMessage,
    /// Every worker effect runs twice in its transaction.
    ApplyTwice,
}

impl Options {
    /// Everything on (traffic and scheduled faults), on `clock`.
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            epoch: match clock {
                Clock::Virtual => Epoch::Fixed,
                Clock::Paced(_) | Clock::Wall => Epoch::Now,
            },
            traffic: true,
            faults: true,
            sabotage: None,
        }
    }

    /// Only the system: no generated traffic, no scheduled faults (requests and faults come
    /// from commands).
    pub fn quiet(clock: Clock) -> Self {
        Self {
            traffic: false,
            faults: false,
            ..Self::new(clock)
        }
    }

    /// The same options with the clock starting at `epoch`.
    pub fn epoch(self, epoch: Epoch) -> Self {
        Self { epoch, ..self }
    }
}
