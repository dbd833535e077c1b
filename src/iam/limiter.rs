//! The client-side limit on one AWS account's IAM calls: a token bucket at the rate IAM allows
//! (governor), and the calls waiting for a token served in [`FairQueue`] order — the most
//! urgent class first, namespaces in turn within a class, any call waiting past
//! [`STARVATION_BOUND`] first. A namespace alone gets every token; namespaces that compete get
//! equal shares.
//!
//! Which namespace and class a call is for is set by the reconcile pass around its work
//! ([`tagged`]); a call outside any pass (the sweep, identity probes) counts as the operator's
//! own, urgent.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::fair::{Class, FairQueue, Flow};

/// Which class an IAM call belongs to, as its caller sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Someone waits for it: served as its pass's class.
    Urgent,
    /// A drift check: nobody waits for it.
    Routine,
}

/// A call waiting this long goes before any that waited less, whatever its class.
pub(super) const STARVATION_BOUND: Duration = Duration::from_secs(2);
/// How often a waiter that is not next looks again (who is next changes as waiters age).
const RECHECK: Duration = Duration::from_millis(250);

/// The namespace and class of the IAM calls a pass makes.
#[derive(Clone, Debug)]
pub(crate) struct CallTag {
    pub(crate) flow: Flow,
    pub(crate) class: Class,
}

tokio::task_local! {
    static TAG: CallTag;
}

/// Runs `work` with its IAM calls counted to `tag`'s namespace and served as its class.
pub(crate) async fn tagged<F: Future>(tag: CallTag, work: F) -> F::Output {
    TAG.scope(tag, work).await
}

/// Runs `work` with its IAM calls served as `class`, for the namespace they are already for.
pub(crate) async fn as_class<F: Future>(class: Class, work: F) -> F::Output {
    let (flow, _) = current(Priority::Urgent);
    tagged(CallTag { flow, class }, work).await
}

/// The tag of the calls of the task now running.
fn current(priority: Priority) -> (Flow, Class) {
    let (flow, class) = TAG
        .try_with(|tag| (tag.flow.clone(), tag.class))
        .unwrap_or_else(|_| (Flow::from(""), Class::Urgent));
    match priority {
        Priority::Routine => (flow, Class::Routine),
        Priority::Urgent => (flow, class),
    }
}

pub(super) struct Limiter {
    bucket: DefaultDirectRateLimiter,
    clock: DefaultClock,
    waiting: Mutex<FairQueue<u64>>,
    next_ticket: AtomicU64,
    /// Woken when a call takes its token: the next one may be another.
    turn: Notify,
}

impl Limiter {
    pub(super) fn new(rate_per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Limiter {
            bucket: RateLimiter::direct(Quota::per_second(rate_per_second).allow_burst(burst)),
            clock: DefaultClock::default(),
            waiting: Mutex::new(FairQueue::new(STARVATION_BOUND)),
            next_ticket: AtomicU64::new(0),
            turn: Notify::new(),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, FairQueue<u64>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a token in turn; how long it waited.
    pub(super) async fn admit(&self, priority: Priority) -> Duration {
        let started = Instant::now();
        let (flow, class) = current(priority);
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        self.queue().push(&flow, class, ticket, started);
        let mut waiting = Waiting {
            limiter: self,
            ticket,
            served: false,
        };
        loop {
            let turn = self.turn.notified();
            tokio::pin!(turn);
            turn.as_mut().enable();
            let wait = {
                let mut queue = self.queue();
                let now = Instant::now();
                if queue.peek(now) == Some(&ticket) {
                    match self.bucket.check() {
                        Ok(()) => {
                            queue.pop(now);
                            waiting.served = true;
                            drop(queue);
                            self.turn.notify_waiters();
                            return started.elapsed();
                        }
                        Err(not_until) => not_until.wait_time_from(self.clock.now()),
                    }
                } else {
                    RECHECK
                }
            };
            tokio::select! {
                () = &mut turn => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// A call that gives up waiting (its pass dropped) leaves the queue.
struct Waiting<'a> {
    limiter: &'a Limiter,
    ticket: u64,
    served: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.served && self.limiter.queue().remove(&self.ticket) {
            self.limiter.turn.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn per_second(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("non-zero")
    }

    fn tag(namespace: &str, class: Class) -> CallTag {
        CallTag {
            flow: Flow::from(namespace),
            class,
        }
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
        let waited = tokio::time::timeout(STARVATION_BOUND * 3, limiter.admit(Priority::Routine))
            .await
            .expect("the routine call is admitted despite steady urgent demand");
        assert!(
            waited >= STARVATION_BOUND,
            "it did wait behind them: {waited:?}"
        );
        busy.abort();
    }

    #[tokio::test]
    async fn a_dropped_wait_does_not_hold_others_back() {
        let limiter = Limiter::new(per_second(10), per_second(1));
        limiter.admit(Priority::Urgent).await;
        let _ =
            tokio::time::timeout(Duration::from_millis(1), limiter.admit(Priority::Urgent)).await;
        let waited = tokio::time::timeout(Duration::from_secs(2), limiter.admit(Priority::Routine))
            .await
            .expect("admitted once the rate allows");
        assert!(waited < Duration::from_secs(1));
    }

    /// Counts each namespace's tokens while `demand` calls per namespace wait at once.
    async fn shares(limiter: Arc<Limiter>, demand: &[(&'static str, usize)]) -> Vec<usize> {
        let served = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (namespace, n) in demand {
            for _ in 0..*n {
                let (limiter, served) = (limiter.clone(), served.clone());
                let namespace = *namespace;
                tasks.push(tokio::spawn(tagged(
                    tag(namespace, Class::Create),
                    async move {
                        limiter.admit(Priority::Urgent).await;
                        served.lock().unwrap().push(namespace);
                    },
                )));
            }
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
        for task in &tasks {
            task.abort();
        }
        let served = served.lock().unwrap();
        demand
            .iter()
            .map(|(namespace, _)| served.iter().filter(|s| *s == namespace).count())
            .collect()
    }

    #[tokio::test]
    async fn namespaces_that_compete_share_the_rate_and_one_alone_gets_all_of_it() {
        let limiter = Arc::new(Limiter::new(per_second(40), per_second(1)));
        let alone = shares(limiter, &[("noisy", 200)]).await;
        assert!(alone[0] >= 40, "alone: {alone:?} in 1.1 s at 40/s");

        let limiter = Arc::new(Limiter::new(per_second(40), per_second(1)));
        let both = shares(limiter, &[("noisy", 200), ("quiet", 40)]).await;
        assert!(
            both[0].abs_diff(both[1]) <= 2,
            "a namespace with 40 calls waiting gets half beside one with 200: {both:?}"
        );
    }
}
