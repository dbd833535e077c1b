//! The operator's wall clock: `Timestamp::now()`, plus an offset that only the chaos suite sets
//! (`--test-clock-offset`, hidden, off by default) to run a replica whose clock is wrong, as a
//! node with a drifting clock would be. Timers and deadlines use the monotonic clock instead.

use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

static OFFSET_MILLIS: AtomicI64 = AtomicI64::new(0);

/// Shifts this process's wall clock (tests only).
pub fn set_offset(offset: SignedDuration) {
    let millis = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
    OFFSET_MILLIS.store(millis, Ordering::SeqCst);
}

/// The wall-clock time as this process sees it.
pub fn now() -> Timestamp {
    let offset = SignedDuration::from_millis(OFFSET_MILLIS.load(Ordering::SeqCst));
    let now = Timestamp::now();
    now.checked_add(offset).unwrap_or(now)
}
