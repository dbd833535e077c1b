//! The one client-side limit on IAM calls, with two classes: work someone waits for (creates,
//! rotations, repairs, the Lists they decide on) goes first; routine snapshot fetches for drift
//! checks take what that work leaves, but never wait longer than [`ROUTINE_MAX_WAIT`] for it (a
//! fetch others queue behind must not starve while one namespace keeps the budget busy).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Which class an IAM call belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Someone waits for it.
    Urgent,
    /// A drift check: nobody waits for it.
    Routine,
}

/// How often a routine call looks again while urgent ones wait.
const ROUTINE_POLL: Duration = Duration::from_millis(50);
/// After this long behind urgent calls, a routine call queues with them.
pub(super) const ROUTINE_MAX_WAIT: Duration = Duration::from_secs(2);

pub(super) struct Limiter {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
    urgent_waiting: AtomicUsize,
}

impl Limiter {
    pub(super) fn new(rate_per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Limiter {
            limiter: RateLimiter::direct(Quota::per_second(rate_per_second).allow_burst(burst)),
            clock: DefaultClock::default(),
            urgent_waiting: AtomicUsize::new(0),
        }
    }

    /// Waits for a permit; how long it waited.
    pub(super) async fn admit(&self, priority: Priority) -> Duration {
        let started = Instant::now();
        match priority {
            Priority::Urgent => {
                self.urgent_waiting.fetch_add(1, Ordering::SeqCst);
                let _done = Decrement(&self.urgent_waiting);
                self.limiter.until_ready().await;
            }
            Priority::Routine => loop {
                if started.elapsed() >= ROUTINE_MAX_WAIT {
                    self.limiter.until_ready().await;
                    break;
                }
                if self.urgent_waiting.load(Ordering::SeqCst) > 0 {
                    tokio::time::sleep(ROUTINE_POLL).await;
                    continue;
                }
                match self.limiter.check() {
                    Ok(()) => break,
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(self.clock.now());
                        tokio::time::sleep(wait.min(ROUTINE_POLL)).await;
                    }
                }
            },
        }
        started.elapsed()
    }
}

/// Counts an urgent waiter out however its wait ends (a dropped reconcile included).
struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn per_second(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("non-zero")
    }

    #[tokio::test]
    async fn urgent_calls_are_admitted_before_routine_ones_that_waited_longer() {
        let limiter = Arc::new(Limiter::new(per_second(10), per_second(1)));
        limiter.admit(Priority::Urgent).await;
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let routine = tokio::spawn({
            let (limiter, order) = (limiter.clone(), order.clone());
            async move {
                limiter.admit(Priority::Routine).await;
                order.lock().unwrap().push("routine");
            }
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let urgent = (0..3)
            .map(|_| {
                let (limiter, order) = (limiter.clone(), order.clone());
                tokio::spawn(async move {
                    limiter.admit(Priority::Urgent).await;
                    order.lock().unwrap().push("urgent");
                })
            })
            .collect::<Vec<_>>();
        for task in urgent {
            task.await.unwrap();
        }
        routine.await.unwrap();
        assert_eq!(
            *order.lock().unwrap(),
            ["urgent", "urgent", "urgent", "routine"]
        );
    }

    #[tokio::test]
    async fn a_routine_call_waits_behind_urgent_ones_only_so_long() {
        let limiter = Arc::new(Limiter::new(per_second(20), per_second(1)));
        let busy = tokio::spawn({
            let limiter = limiter.clone();
            async move {
                // Urgent demand above the rate, for longer than the routine call may wait.
                for _ in 0..140 {
                    let limiter = limiter.clone();
                    tokio::spawn(async move { limiter.admit(Priority::Urgent).await });
                    tokio::time::sleep(Duration::from_millis(45)).await;
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waited = tokio::time::timeout(ROUTINE_MAX_WAIT * 3, limiter.admit(Priority::Routine))
            .await
            .expect("the routine call is admitted despite steady urgent demand");
        assert!(
            waited >= ROUTINE_MAX_WAIT,
            "it did wait behind them: {waited:?}"
        );
        busy.abort();
    }

    #[tokio::test]
    async fn a_dropped_urgent_wait_does_not_hold_routine_calls_back() {
        let limiter = Limiter::new(per_second(10), per_second(1));
        limiter.admit(Priority::Urgent).await;
        let _ =
            tokio::time::timeout(Duration::from_millis(1), limiter.admit(Priority::Urgent)).await;
        let waited = tokio::time::timeout(Duration::from_secs(2), limiter.admit(Priority::Routine))
            .await
            .expect("admitted once the rate allows");
        assert!(waited < Duration::from_secs(1));
    }
}
