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
