//! Guided tours played in the TUI: `T` lists the scenario's tours, Enter starts one, `n`/`p`
//! move between its steps and `T` stops it. A step is a move the learner could make by hand —
//! switch view, send a sample request and open a stage, select a table or a topic — so it goes
//! through the same state changes and engine commands as the keys do.

use crate::scenario::{Scenario, Tour, TourStep};

/// The tour being picked or played.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TourState {
    /// The tour picker is open.
    pub picking: bool,
    /// The picker's selected line.
    pub selected: usize,
    /// The tour playing and its step.
    pub playing: Option<Playing>,
}

/// A tour being played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Playing {
    /// Index into the scenario's tours.
    pub tour: usize,
    /// Index of the step shown.
    pub step: usize,
}

impl TourState {
    /// The tour and step playing, if any.
    pub fn current<'s>(&self, scenario: &'s Scenario) -> Option<(&'s Tour, usize, &'s TourStep)> {
        let playing = self.playing?;
        let tour = scenario.tours.get(playing.tour)?;
        Some((tour, playing.step, tour.steps.get(playing.step)?))
    }

    /// Starts tour `index` at its first step; false if there is no such tour or it has no steps.
    pub fn start(&mut self, scenario: &Scenario, index: usize) -> bool {
        self.picking = false;
        let playable = scenario
            .tours
            .get(index)
            .is_some_and(|t| !t.steps.is_empty());
        self.playing = playable.then_some(Playing {
            tour: index,
            step: 0,
        });
        playable
    }

    /// Moves `delta` steps (clamped to the tour); true if the step changed.
    pub fn advance(&mut self, scenario: &Scenario, delta: isize) -> bool {
        let Some(playing) = self.playing.as_mut() else {
            return false;
        };
        let steps = scenario
            .tours
            .get(playing.tour)
            .map_or(0, |t| t.steps.len());
        let next = playing
            .step
            .saturating_add_signed(delta)
            .min(steps.saturating_sub(1));
        let moved = next != playing.step;
        playing.step = next;
        moved
    }
}
