//! Repairs that back off: a Secret that keeps going missing (or having its keys edited) is
//! rewritten with a new secret each time — a Reset, an IAM write out of the account's shared
//! budget. So that one resource's churn costs O(log n) IAM writes and not O(n), each repair
//! after the first waits twice as long as the one before, and the count starts over once the
//! Secret has stayed intact for [`QUIET_RESET`]. Pure: the times come from the caller.

use std::time::Duration;

use jiff::Timestamp;

/// The wait after the first repair; it doubles with each one after.
const FIRST_WAIT: Duration = Duration::from_secs(2);
/// The longest wait between two repairs.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Repairs further apart than this start the count over.
const QUIET_RESET: Duration = Duration::from_secs(30 * 60);

/// The repairs of one resource's Secret so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Repairs {
    /// Repairs in the current run (0 once it has been quiet long enough).
    pub count: u32,
    pub last: Option<Timestamp>,
    /// Whether an Event said that the next repair waits.
    pub deferral_told: bool,
}

impl Repairs {
    /// The repairs once one more is made at `now`.
    pub(crate) fn after_one_at(self, now: Timestamp) -> Repairs {
        let count = if self.is_quiet(now) { 0 } else { self.count };
        Repairs {
            count: count.saturating_add(1),
            last: Some(now),
            deferral_told: false,
        }
    }

    /// How long the next repair must still wait at `now`; `None` when it may be made.
    pub(crate) fn wait_at(self, now: Timestamp) -> Option<Duration> {
        let last = self.last?;
        if self.count == 0 || self.is_quiet(now) {
            return None;
        }
        let doublings = (self.count - 1).min(16);
        let wait = FIRST_WAIT.saturating_mul(1 << doublings).min(MAX_WAIT);
        let since = Duration::try_from(now.duration_since(last)).unwrap_or(Duration::ZERO);
        wait.checked_sub(since).filter(|left| !left.is_zero())
    }

    fn is_quiet(self, now: Timestamp) -> bool {
        self.last.is_none_or(|last| {
            Duration::try_from(now.duration_since(last)).unwrap_or(Duration::ZERO) >= QUIET_RESET
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn the_first_repair_is_at_once_and_each_after_waits_twice_as_long() {
        let mut repairs = Repairs::default();
        assert_eq!(repairs.wait_at(at(0)), None);
        repairs = repairs.after_one_at(at(0));
        assert_eq!(repairs.wait_at(at(500)), Some(Duration::from_millis(1500)));
        assert_eq!(repairs.wait_at(at(2000)), None);
        repairs = repairs.after_one_at(at(2000));
        assert_eq!(repairs.wait_at(at(2000)), Some(Duration::from_secs(4)));
        repairs = repairs.after_one_at(at(6000));
        assert_eq!(repairs.wait_at(at(6000)), Some(Duration::from_secs(8)));
    }

    #[test]
    fn a_secret_deleted_every_300_ms_for_40_s_is_repaired_a_handful_of_times() {
        let mut repairs = Repairs::default();
        let mut made = 0;
        for tick in 0..(40_000 / 300) {
            let now = at(tick * 300);
            if repairs.wait_at(now).is_none() {
                repairs = repairs.after_one_at(now);
                made += 1;
            }
        }
        assert!(made <= 6, "{made} repairs");
    }

    #[test]
    fn the_wait_is_capped_and_a_quiet_half_hour_starts_over() {
        let mut repairs = Repairs::default();
        for i in 0..30 {
            repairs = repairs.after_one_at(at(i));
        }
        assert_eq!(
            repairs.wait_at(at(30)),
            Some(MAX_WAIT - Duration::from_millis(1))
        );
        let later = at(29 + QUIET_RESET.as_millis() as i64);
        assert_eq!(repairs.wait_at(later), None);
        assert_eq!(repairs.after_one_at(later).count, 1);
    }
}
