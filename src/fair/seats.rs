//! Reconcile passes running at once (`--concurrency` seats), handed out in [`FairQueue`] order.
//!
//! A pass asks for a seat before it reads or writes anything. A namespace with many passes
//! waiting does not queue more than one per seat: the rest are told when to come
//! back (requeued, holding no memory but the controller's schedule entry), so a namespace that
//! arrives later is queued beside it, not behind it. As kube-apiserver's API Priority and
//! Fairness does with seats and queues, without rejecting anything.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::queue::{Class, FairQueue, Flow};

/// Waiters one flow may have queued, per seat; more are told to come back later (urgent ones
/// queue anyway, bounded by the controller's window, [`runner_window`]).
const QUEUED_PER_FLOW_PER_SEAT: usize = 1;

/// Passes the controller runs at once for `seats` seats: those seated and those waiting for a
/// seat. Wider than any one namespace's queue, so that a namespace arriving later finds room
/// beside a busy one; bounded, so that 10,000 resources due at once wait in the controller's
/// schedule (a few bytes each), not as passes.
pub(crate) fn runner_window(seats: u16) -> u16 {
    seats.saturating_mul(4)
}
/// A waiter this old goes first, whatever its class.
pub(crate) const STARVATION_BOUND: Duration = Duration::from_secs(10);
/// The soonest and latest a pass told to come back is rescheduled.
const COME_BACK_MIN: Duration = Duration::from_millis(50);
const COME_BACK_MAX: Duration = Duration::from_secs(60);

/// Seats for reconcile passes.
pub(crate) struct Seats {
    capacity: usize,
    /// Waiters one flow may have queued.
    max_queued: usize,
    state: Mutex<State>,
}

struct State {
    in_use: usize,
    queue: FairQueue<u64>,
    next_ticket: u64,
    /// Per queued ticket: how its waiter is handed its seat.
    handoffs: HashMap<u64, oneshot::Sender<()>>,
    /// How long a pass held its seat, averaged (for telling waiters when to come back).
    mean_hold: Duration,
    /// Per flow: the times passes were told to come back at, those not yet past (each next
    /// one comes after them, so that a namespace's backlog comes back spread over the time it
    /// takes to serve, not all at once).
    deferred: HashMap<Flow, VecDeque<Instant>>,
}

/// What a pass gets.
pub(crate) enum Admission {
    Seated(Seat),
    /// Its namespace has enough passes waiting: come back after this long.
    Later(Duration),
}

/// A seat; handed to the next waiter when dropped.
pub(crate) struct Seat {
    seats: Arc<Seats>,
    since: Instant,
}

impl Seats {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        let capacity = capacity.max(1);
        Arc::new(Seats {
            capacity,
            max_queued: (capacity * QUEUED_PER_FLOW_PER_SEAT).max(4),
            state: Mutex::new(State {
                in_use: 0,
                queue: FairQueue::new(STARVATION_BOUND),
                next_ticket: 0,
                handoffs: HashMap::new(),
                mean_hold: Duration::from_millis(100),
                deferred: HashMap::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A seat for a pass of `flow` and `class`: at once when one is free and nobody waits,
    /// else in turn; or, with its flow's queue full, when to come back.
    pub(crate) async fn admit(self: &Arc<Self>, flow: &Flow, class: Class) -> Admission {
        let (ticket, handed) = {
            let mut state = self.lock();
            if state.in_use < self.capacity && state.queue.is_empty() {
                state.in_use += 1;
                return Admission::Seated(self.seat());
            }
            if class != Class::Urgent && state.queue.queued(flow) >= self.max_queued {
                let now = Instant::now();
                let per_pass = pass_interval(state.queue.flows(), self.capacity, state.mean_hold);
                if state.deferred.len() > 4096 {
                    state
                        .deferred
                        .retain(|_, times| times.back().is_some_and(|t| *t > now));
                }
                let times = state.deferred.entry(flow.clone()).or_default();
                while times.front().is_some_and(|t| *t <= now) {
                    times.pop_front();
                }
                let ahead = (self.max_queued + times.len() + 1) as u32;
                let after = spread(per_pass * ahead);
                times.push_back(now + after);
                return Admission::Later(after);
            }
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.queue.push(flow, class, ticket, Instant::now());
            let (handoff, handed) = oneshot::channel();
            state.handoffs.insert(ticket, handoff);
            (ticket, handed)
        };
        let mut waiting = Waiting {
            seats: self,
            ticket,
            handed,
        };
        // Seats change hands only in `release`, which sends to the waiter it picks.
        match (&mut waiting.handed).await {
            Ok(()) => {
                waiting.handed.close();
                Admission::Seated(self.seat())
            }
            // Never: the sender is only dropped with the seat handed over or the ticket gone.
            Err(_) => Admission::Later(COME_BACK_MIN),
        }
    }

    fn seat(self: &Arc<Self>) -> Seat {
        Seat {
            seats: self.clone(),
            since: Instant::now(),
        }
    }

    /// A seat comes free: the next waiter gets it, or it is free.
    fn release(&self, held: Option<Duration>) {
        let mut state = self.lock();
        if let Some(held) = held {
            // An exponential average over the last few dozen passes.
            state.mean_hold = (state.mean_hold * 31 + held) / 32;
        }
        while let Some(next) = state.queue.pop(Instant::now()) {
            if let Some(handoff) = state.handoffs.remove(&next)
                && handoff.send(()).is_ok()
            {
                return;
            }
        }
        state.in_use = state.in_use.saturating_sub(1);
    }

    /// Seats held and passes waiting.
    #[cfg(test)]
    pub(crate) fn load(&self) -> (usize, usize) {
        let state = self.lock();
        (state.in_use, state.queue.len())
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.seats.release(Some(self.since.elapsed()));
    }
}

/// A waiter that gives up (its pass dropped) leaves the queue, or passes on a seat it was
/// handed but did not take.
struct Waiting<'a> {
    seats: &'a Arc<Seats>,
    ticket: u64,
    handed: oneshot::Receiver<()>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let queued = {
            let mut state = self.seats.lock();
            state.handoffs.remove(&self.ticket);
            state.queue.remove(&self.ticket)
        };
        // Handed a seat it never took (closed once taken, so then this is an error).
        if !queued && self.handed.try_recv().is_ok() {
            self.seats.release(None);
        }
    }
}

/// How often one flow gets a seat when `flows` flows share `capacity` seats that each take
/// `mean_hold` a pass.
fn pass_interval(flows: usize, capacity: usize, mean_hold: Duration) -> Duration {
    mean_hold.mul_f64(flows.max(1) as f64 / capacity.max(1) as f64)
}

/// `after`, spread ±20 % (passes told together do not all come back together), within bounds.
fn spread(after: Duration) -> Duration {
    after
        .mul_f64(0.8 + 0.4 * rand::random::<f64>())
        .clamp(COME_BACK_MIN, COME_BACK_MAX)
}

/// A map of flow names kept small: one `Arc<str>` per namespace seen.
#[derive(Default)]
pub(crate) struct FlowNames(Mutex<HashMap<String, Flow>>);

impl FlowNames {
    pub(crate) fn of(&self, namespace: &str) -> Flow {
        let mut names = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if names.len() > 4096 {
            names.retain(|_, flow| Arc::strong_count(flow) > 1);
        }
        names
            .entry(namespace.to_string())
            .or_insert_with(|| Arc::from(namespace))
            .clone()
    }
}

#[cfg(test)]
mod tests;
