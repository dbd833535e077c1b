//! The order in which waiters are served, as a pure data structure: classes by priority, flows
//! (namespaces) round-robin within a class, first come first served within a flow, and a bound
//! past which a waiter of any class goes first, so that nothing starves.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// What a waiter is for, most urgent first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Class {
    /// Cleanup, revocation, repair: a credential that must go, or a Secret that must come back.
    Urgent,
    /// A new credential someone waits for.
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

/// Waiters of one class: a queue per flow, and the flows with waiters in the order they are
/// served next.
#[derive(Debug)]
struct ClassQueue<T> {
    flows: HashMap<Flow, VecDeque<(T, Instant)>>,
    ring: VecDeque<Flow>,
}

impl<T> Default for ClassQueue<T> {
    fn default() -> Self {
        ClassQueue {
            flows: HashMap::new(),
            ring: VecDeque::new(),
        }
    }
}

/// The waiters, in the order they are served.
#[derive(Debug)]
pub(crate) struct FairQueue<T> {
    classes: [ClassQueue<T>; 4],
    /// A waiter this old is served before any younger one, whatever its class.
    starvation_bound: Duration,
    len: usize,
}

impl<T: PartialEq + Clone> FairQueue<T> {
    pub(crate) fn new(starvation_bound: Duration) -> Self {
        FairQueue {
            classes: Default::default(),
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
        self.classes
            .iter()
            .filter_map(|c| c.flows.get(flow))
            .map(VecDeque::len)
            .sum()
    }

    /// Flows with a waiter (every class).
    pub(crate) fn flows(&self) -> usize {
        let mut flows: Vec<&Flow> = self.classes.iter().flat_map(|c| c.ring.iter()).collect();
        flows.sort();
        flows.dedup();
        flows.len()
    }

    /// `item` waits from `now` in `flow`'s queue of `class`. A flow that had no waiter in the
    /// class is served after the flows that have.
    pub(crate) fn push(&mut self, flow: &Flow, class: Class, item: T, now: Instant) {
        let queue = &mut self.classes[class.index()];
        let waiting = queue.flows.entry(flow.clone()).or_default();
        if waiting.is_empty() {
            queue.ring.push_back(flow.clone());
        }
        waiting.push_back((item, now));
        self.len += 1;
    }

    /// The waiter served next at `now`.
    pub(crate) fn peek(&self, now: Instant) -> Option<&T> {
        let (class, flow) = self.next(now)?;
        self.classes[class].flows[&flow]
            .front()
            .map(|(item, _)| item)
    }

    /// Takes the waiter served next at `now`; its flow goes to the back of its class's turn.
    pub(crate) fn pop(&mut self, now: Instant) -> Option<T> {
        let (class, flow) = self.next(now)?;
        let queue = &mut self.classes[class];
        let waiting = queue.flows.get_mut(&flow)?;
        let (item, _) = waiting.pop_front()?;
        queue.ring.retain(|f| *f != flow);
        if waiting.is_empty() {
            queue.flows.remove(&flow);
        } else {
            queue.ring.push_back(flow);
        }
        self.len -= 1;
        Some(item)
    }

    /// Drops `item` (its waiter gave up); whether it was there.
    pub(crate) fn remove(&mut self, item: &T) -> bool {
        for queue in &mut self.classes {
            let found = queue.flows.iter_mut().find_map(|(flow, waiting)| {
                let at = waiting.iter().position(|(i, _)| i == item)?;
                waiting.remove(at);
                Some((flow.clone(), waiting.is_empty()))
            });
            if let Some((flow, emptied)) = found {
                if emptied {
                    queue.flows.remove(&flow);
                    queue.ring.retain(|f| *f != flow);
                }
                self.len -= 1;
                return true;
            }
        }
        false
    }

    /// (class index, flow) of the waiter served next: the one that waited longest once any has
    /// waited past the bound; else the first flow in turn of the most urgent class.
    fn next(&self, now: Instant) -> Option<(usize, Flow)> {
        let starving = self
            .classes
            .iter()
            .enumerate()
            .flat_map(|(class, queue)| {
                queue.ring.iter().filter_map(move |flow| {
                    let (_, since) = queue.flows.get(flow)?.front()?;
                    Some((*since, class, flow))
                })
            })
            .filter(|(since, _, _)| now.saturating_duration_since(*since) >= self.starvation_bound)
            .min_by_key(|(since, class, _)| (*since, *class));
        if let Some((_, class, flow)) = starving {
            return Some((class, flow.clone()));
        }
        self.classes
            .iter()
            .enumerate()
            .find_map(|(class, queue)| queue.ring.front().map(|flow| (class, flow.clone())))
    }
}

#[cfg(test)]
mod tests;
