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

use rustc_hash::FxHashMap;

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

/// Groups whose fates a message keeps inline; a topic with more spills to the heap.
const INLINE_GROUPS: usize = 6;

/// One message's fate in each group of its topic. Almost every topic has one or two groups, so
/// the fates sit inline: recording a publish allocates nothing.
#[derive(Debug, Clone)]
enum Fates {
    Inline {
        len: u8,
        fates: [Fate; INLINE_GROUPS],
    },
    Spilled(Vec<Fate>),
}

impl Fates {
    /// `groups` fates, every one open.
    fn open(groups: usize) -> Self {
        match u8::try_from(groups) {
            Ok(len) if groups <= INLINE_GROUPS => Self::Inline {
                len,
                fates: [Fate::Open; INLINE_GROUPS],
            },
            _ => Self::Spilled(vec![Fate::Open; groups]),
        }
    }

    fn as_slice(&self) -> &[Fate] {
        match self {
            Self::Inline { len, fates } => &fates[..usize::from(*len)],
            Self::Spilled(fates) => fates,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Fate] {
        match self {
            Self::Inline { len, fates } => &mut fates[..usize::from(*len)],
            Self::Spilled(fates) => fates,
        }
    }
}

/// The ledger of one broker.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// Messages not yet settled in every group: (topic index, fate per group).
    open: FxHashMap<MessageId, (usize, Fates)>,
    /// Messages settled in every group.
    settled: u64,
    /// Transitions that did not start from `Open` (a double ack, a dead letter of an acked
    /// message, or of one the ledger never saw).
    violations: u64,
}

impl Ledger {
    /// Message `id` was published to topic `topic`, which has `groups` groups.
    pub(super) fn published(&mut self, id: MessageId, topic: usize, groups: usize) {
        self.open.insert(id, (topic, Fates::open(groups)));
    }

    /// Message `id` reached `fate` in group `group`.
    pub(super) fn settle(&mut self, id: MessageId, group: usize, fate: Fate) {
        let Some((_, fates)) = self.open.get_mut(&id) else {
            self.violations += 1;
            return;
        };
        match fates.as_mut_slice().get_mut(group) {
            Some(slot) if *slot == Fate::Open => *slot = fate,
            _ => {
                self.violations += 1;
                return;
            }
        }
        if fates.as_slice().iter().all(|f| *f != Fate::Open) {
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
            for (group, fate) in fates.as_slice().iter().enumerate() {
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
    fn a_topic_with_more_groups_than_fit_inline_keeps_every_fate() {
        let groups = INLINE_GROUPS + 2;
        let mut ledger = Ledger::default();
        ledger.published(3, 0, groups);
        for group in 0..groups - 1 {
            ledger.settle(3, group, Fate::Acked);
        }
        assert_eq!(ledger.open.len(), 1, "the last group still holds it");
        ledger.settle(3, groups - 1, Fate::Acked);
        assert!(ledger.open.is_empty());
        assert_eq!((ledger.settled, ledger.violations), (1, 0));
        ledger.settle(3, groups - 1, Fate::Acked);
        assert_eq!(ledger.violations, 1, "a second ack of a settled message");
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
