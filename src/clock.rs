//! The operator's wall clock: `Timestamp::now()`, plus an offset that only the chaos suite sets
//! (`--test-clock-offset`, hidden, off by default) to run a replica whose clock is wrong, as a
//! node with a drifting clock would be. Timers and deadlines use the monotonic clock instead.

use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

static OFFSET_MILLIS: AtomicI64 = AtomicI64::new(0);

/// Shifts this process's wall clock (tests only).
pub(crate) fn set_offset(offset: SignedDuration) {
    let millis = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
    OFFSET_MILLIS.store(millis, Ordering::SeqCst);
}

/// The wall-clock time as this process sees it.
pub(crate) fn now() -> Timestamp {
    let offset = SignedDuration::from_millis(OFFSET_MILLIS.load(Ordering::SeqCst));
    let now = Timestamp::now();
    now.checked_add(offset).unwrap_or(now)
}

/// Where a reconcile pass reads the time: [`now`] in the operator, a clock the test sets in
/// tests of `act`.
#[derive(Clone)]
pub(crate) struct Clock(std::sync::Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// This process's wall clock ([`now`]).
    pub(crate) fn system() -> Self {
        Clock(std::sync::Arc::new(now))
    }

    /// A clock that reads whatever `read` says.
    #[cfg(test)]
    pub(crate) fn from_fn(read: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Clock(std::sync::Arc::new(read))
    }

    pub(crate) fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}
