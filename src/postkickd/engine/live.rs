//! One rule at work, as its sources, its kicker and the control side
//! share it: its [`Pending`] flag and its record ([`RuleStats`]), side by
//! side. Raising it is the one place a trigger both sets the flag and is
//! counted (folded or not), so the two cannot disagree.

use super::pending::Pending;
use super::stats::RuleStats;

/// A rule's flag and record.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pending: Pending,
    stats: RuleStats,
}

impl Live {
    /// The rule's pending kick.
    pub(crate) fn pending(&self) -> &Pending {
        &self.pending
    }

    /// The rule's record.
    pub(crate) fn stats(&self) -> &RuleStats {
        &self.stats
    }

    /// Records a trigger (`cause`: a file, a slot, `start`) and raises the
    /// flag. Returns the number of the last kick that took the flag
    /// before: the kick that carries this trigger has a higher one.
    pub(crate) fn raise(&self, cause: impl FnOnce() -> String) -> u64 {
        self.pending
            .raise(|raised| self.stats.triggered(cause(), raised.folded))
            .taken
    }
}
