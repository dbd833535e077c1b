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
mod tests;
