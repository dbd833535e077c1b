//! The order in which waiters are served, as a pure data structure. Namespaces (flows) take
//! turns, whatever the class of their waiters: a tenant can make its own passes look urgent
//! (they are told from what it may write), so class orders a namespace's own waiters only — most
//! urgent first, first come first served within a class, and one past the starvation bound
//! before the rest. The one order across namespaces: routine checks, which nobody waits for,
//! go after every other namespace's waiters until they are past the bound themselves.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// What a waiter is for, most urgent first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Class {
    /// Cleanup, revocation, repair: a credential that must go, or a Secret that must come back.
    Urgent,
    /// A new credential, or a change someone waits for.
    Create,
    /// A rotation, scheduled or asked for.
    Rotate,
    /// A drift check nobody waits for.
    Routine,
}

impl Class {
    #[cfg(test)]
    pub(crate) const ALL: [Class; 4] =
        [Class::Urgent, Class::Create, Class::Rotate, Class::Routine];

    fn index(self) -> usize {
        self as usize
    }
}

/// Who a waiter belongs to: fairness is between flows (the namespace).
pub(crate) type Flow = Arc<str>;

/// One flow's waiters, a queue per class.
#[derive(Debug)]
struct FlowQueue<T> {
    classes: [VecDeque<(T, Instant)>; 4],
}

impl<T> FlowQueue<T> {
    fn new() -> Self {
        FlowQueue {
            classes: Default::default(),
        }
    }

    fn len(&self) -> usize {
        self.classes.iter().map(VecDeque::len).sum()
    }

    /// The class whose first waiter this flow serves next: one past the bound (the oldest)
    /// before the rest, else the most urgent class's.
    fn next(&self, now: Instant, bound: Duration) -> Option<usize> {
        let fronts = || {
            self.classes
                .iter()
                .enumerate()
                .filter_map(|(class, waiting)| waiting.front().map(|(_, since)| (class, *since)))
        };
        fronts()
            .filter(|(_, since)| now.saturating_duration_since(*since) >= bound)
            .min_by_key(|(class, since)| (*since, *class))
            .or_else(|| fronts().next())
            .map(|(class, _)| class)
    }

    /// Whether someone waits for what this flow serves next: not a routine check, or one
    /// past the bound.
    fn pressing(&self, now: Instant, bound: Duration) -> bool {
        self.next(now, bound).is_some_and(|class| {
            class != Class::Routine.index()
                || self.classes[class]
                    .front()
                    .is_some_and(|(_, since)| now.saturating_duration_since(*since) >= bound)
        })
    }
}

/// The waiters, in the order they are served.
#[derive(Debug)]
pub(crate) struct FairQueue<T> {
    flows: HashMap<Flow, FlowQueue<T>>,
    /// The flows with waiters, in turn.
    ring: VecDeque<Flow>,
    /// A waiter this old goes before its flow's younger ones, whatever its class; a routine one
    /// this old takes its flow's turn like any other.
    starvation_bound: Duration,
    len: usize,
}

impl<T: PartialEq> FairQueue<T> {
    pub(crate) fn new(starvation_bound: Duration) -> Self {
        FairQueue {
            flows: HashMap::new(),
            ring: VecDeque::new(),
            starvation_bound,
            len: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Waiters of `flow` (every class).
    pub(crate) fn queued(&self, flow: &str) -> usize {
        self.flows.get(flow).map_or(0, FlowQueue::len)
    }

    /// Flows with a waiter.
    pub(crate) fn flows(&self) -> usize {
        self.ring.len()
    }

    /// `item` waits from `now` in `flow`'s queue of `class`. A flow that had no waiter takes
    /// its turn after the flows that have.
    pub(crate) fn push(&mut self, flow: &Flow, class: Class, item: T, now: Instant) {
        let waiting = self.flows.entry(flow.clone()).or_insert_with(|| {
            self.ring.push_back(flow.clone());
            FlowQueue::new()
        });
        waiting.classes[class.index()].push_back((item, now));
        self.len += 1;
    }

    /// The waiter served next at `now`.
    pub(crate) fn peek(&self, now: Instant) -> Option<&T> {
        let (flow, class) = self.next(now)?;
        self.flows[&flow].classes[class]
            .front()
            .map(|(item, _)| item)
    }

    /// Takes the waiter served next at `now`; its flow's next turn is after every other's.
    pub(crate) fn pop(&mut self, now: Instant) -> Option<T> {
        let (flow, class) = self.next(now)?;
        let waiting = self.flows.get_mut(&flow)?;
        let (item, _) = waiting.classes[class].pop_front()?;
        let emptied = waiting.len() == 0;
        self.ring.retain(|f| *f != flow);
        if emptied {
            self.flows.remove(&flow);
        } else {
            self.ring.push_back(flow);
        }
        self.len -= 1;
        Some(item)
    }

    /// Drops `item` (its waiter gave up); whether it was there.
    pub(crate) fn remove(&mut self, item: &T) -> bool {
        let found = self.flows.iter_mut().find_map(|(flow, waiting)| {
            waiting.classes.iter_mut().find_map(|queue| {
                let at = queue.iter().position(|(i, _)| i == item)?;
                queue.remove(at);
                Some(flow.clone())
            })
        });
        let Some(flow) = found else {
            return false;
        };
        if self.flows.get(&flow).is_some_and(|w| w.len() == 0) {
            self.flows.remove(&flow);
            self.ring.retain(|f| *f != flow);
        }
        self.len -= 1;
        true
    }

    /// (flow, class index) of the waiter served next: the first flow in turn whose next waiter
    /// someone waits for; only routine checks waiting, the first flow in turn.
    fn next(&self, now: Instant) -> Option<(Flow, usize)> {
        let bound = self.starvation_bound;
        let flow = self
            .ring
            .iter()
            .find(|flow| self.flows[*flow].pressing(now, bound))
            .or_else(|| self.ring.front())?;
        let class = self.flows[flow].next(now, bound)?;
        Some((flow.clone(), class))
    }
}

#[cfg(test)]
mod tests;
