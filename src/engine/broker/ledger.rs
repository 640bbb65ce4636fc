//! The per-message ledger: where every published message is, per consumer group, checked
//! message by message rather than by counter arithmetic.
//!
//! Each transition is recorded as it happens and must start from the state the ledger holds
//! (a message is acked or dead-lettered only while it is open); a message settled in every
//! group leaves the ledger (its count stays), so memory follows the live messages. At a check,
//! every open message must be tracked by its group — queued, backing off, leased or parked — no
//! settled one may still be, and each group's places must add up to what it tracks.
//!
//! ```text
//!  published ─▶ open ─┬─▶ acked            (settled)
//!                     ├─▶ dead-lettered    (settled; its copy is a new message in the DLQ)
//!                     └─▶ redriven         (settled, in a dead-letter topic)
//!  open = queued | backing off | in flight | parked, as the group's books say
//! ```

use std::collections::HashMap;

use serde::Serialize;

use super::MessageId;
use super::group::Group;

/// One message's state in one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Open,
    Acked,
    DeadLettered,
    Redriven,
}

/// The ledger of one broker.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// Messages not yet settled in every group: (topic index, fate per group).
    open: HashMap<MessageId, (usize, Vec<Fate>)>,
    /// Messages settled in every group.
    settled: u64,
    /// Transitions that did not start from `Open` (a double ack, a dead letter of an acked
    /// message, or of one the ledger never saw).
    violations: u64,
}

impl Ledger {
    /// Message `id` was published to topic `topic`, which has `groups` groups.
    pub(super) fn published(&mut self, id: MessageId, topic: usize, groups: usize) {
        self.open.insert(id, (topic, vec![Fate::Open; groups]));
    }

    /// Message `id` reached `fate` in group `group`.
    pub(super) fn settle(&mut self, id: MessageId, group: usize, fate: Fate) {
        let Some((_, fates)) = self.open.get_mut(&id) else {
            self.violations += 1;
            return;
        };
        match fates.get_mut(group) {
            Some(slot) if *slot == Fate::Open => *slot = fate,
            _ => {
                self.violations += 1;
                return;
            }
        }
        if fates.iter().all(|f| *f != Fate::Open) {
            self.open.remove(&id);
            self.settled += 1;
        }
    }

    /// Checks every open message against the books of `groups_of(topic)`: an open message
    /// must be tracked by its group, a settled one must not, and each group's places (ready,
    /// backing off, leased, parked) must add up to what it tracks — so no message sits in two.
    /// Linear in the open messages, without allocating: it runs with every snapshot.
    pub(super) fn check<'a>(
        &self,
        topics: usize,
        groups_of: impl Fn(usize) -> &'a [Group],
    ) -> LedgerReport {
        let mut report = LedgerReport {
            settled: self.settled,
            violations: self.violations,
            ..LedgerReport::default()
        };
        for (&id, (topic, fates)) in &self.open {
            let groups = groups_of(*topic);
            for (group, fate) in fates.iter().enumerate() {
                let tracked = groups
                    .get(group)
                    .is_some_and(|g| g.tracked.contains_key(&id));
                match (fate, tracked) {
                    (Fate::Open, true) => report.open += 1,
                    (Fate::Open, false) => report.lost += 1,
                    (_, true) => report.duplicated += 1,
                    (_, false) => {}
                }
            }
        }
        for topic in 0..topics {
            for group in groups_of(topic) {
                let places = group.ready.len()
                    + group.delayed.len()
                    + group.leased.len()
                    + group.parked.len();
                // A message in two places, or a place holding one the group no longer tracks.
                report.duplicated += places.abs_diff(group.tracked.len()) as u64;
            }
        }
        report
    }
}

/// The ledger's verdict at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LedgerReport {
    /// Message × group entries still open and found in exactly one place of the group's books.
    pub open: u64,
    /// Messages settled in every group (acked, dead-lettered or redriven).
    pub settled: u64,
    /// Open entries the books have lost: nowhere to be found.
    pub lost: u64,
    /// Entries found in two places, or still in the books after they settled.
    pub duplicated: u64,
    /// Transitions that did not start from an open message (e.g. acked twice).
    pub violations: u64,
}

impl LedgerReport {
    /// Whether every message is where the ledger says, exactly once.
    pub fn holds(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.violations == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settled_message_leaves_and_a_second_ack_is_a_violation() {
        let mut ledger = Ledger::default();
        ledger.published(1, 0, 2);
        ledger.settle(1, 0, Fate::Acked);
        assert_eq!(ledger.open.len(), 1, "still open in group 1");
        ledger.settle(1, 1, Fate::DeadLettered);
        assert!(ledger.open.is_empty());
        assert_eq!(ledger.settled, 1);
        ledger.settle(1, 0, Fate::Acked);
        assert_eq!(ledger.violations, 1);
    }

    #[test]
    fn an_open_message_missing_from_the_books_is_lost() {
        let mut ledger = Ledger::default();
        ledger.published(7, 0, 1);
        let groups = [Group::new("g")];
        let report = ledger.check(1, |_| &groups[..]);
        assert_eq!(report.lost, 1);
        assert!(!report.holds());
    }
}
