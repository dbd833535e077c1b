use super::*;
use proptest::prelude::*;

const BOUND: Duration = Duration::from_secs(10);

fn flow(name: &str) -> Flow {
    Arc::from(name)
}

/// Pops everything at `now`, naming each waiter's flow.
fn drain(queue: &mut FairQueue<(String, usize)>, now: Instant) -> Vec<String> {
    std::iter::from_fn(|| queue.pop(now).map(|(flow, _)| flow)).collect()
}

#[test]
fn one_flow_alone_is_served_whole_in_order() {
    let now = Instant::now();
    let mut queue = FairQueue::new(BOUND);
    for i in 0..5 {
        queue.push(&flow("a"), Class::Create, ("a".to_string(), i), now);
    }
    let order: Vec<usize> = std::iter::from_fn(|| queue.pop(now).map(|(_, i)| i)).collect();
    assert_eq!(order, [0, 1, 2, 3, 4]);
    assert!(queue.is_empty());
}

#[test]
fn flows_of_a_class_take_turns_and_a_newcomer_waits_one_turn_of_each() {
    let now = Instant::now();
    let mut queue = FairQueue::new(BOUND);
    for i in 0..100 {
        queue.push(&flow("noisy"), Class::Create, ("noisy".into(), i), now);
    }
    queue.push(&flow("other"), Class::Create, ("other".into(), 0), now);
    queue.push(&flow("other"), Class::Create, ("other".into(), 1), now);
    assert_eq!(queue.pop(now).unwrap().0, "noisy");
    queue.push(&flow("quiet"), Class::Create, ("quiet".into(), 0), now);
    let next: Vec<String> = (0..3).map(|_| queue.pop(now).unwrap().0).collect();
    assert_eq!(next, ["other", "noisy", "quiet"]);
}

#[test]
fn a_namespace_serves_its_own_most_urgent_first_until_a_waiter_starves() {
    let start = Instant::now();
    let mut queue = FairQueue::new(BOUND);
    for (class, name) in [
        (Class::Routine, "routine"),
        (Class::Rotate, "rotate"),
        (Class::Urgent, "urgent"),
        (Class::Create, "create"),
    ] {
        queue.push(&flow("a"), class, (name.to_string(), 0), start);
    }
    let order: Vec<String> = std::iter::from_fn(|| queue.pop(start).map(|(n, _)| n)).collect();
    assert_eq!(order, ["urgent", "create", "rotate", "routine"]);
    // A rotation past the bound goes before the namespace's younger creates.
    queue.push(&flow("a"), Class::Rotate, ("rotate".into(), 1), start);
    let later = start + BOUND;
    queue.push(&flow("a"), Class::Create, ("create".into(), 1), later);
    assert_eq!(drain(&mut queue, later), ["rotate", "create"]);
}

#[test]
fn namespaces_take_turns_whatever_the_class_but_routine_checks_wait_their_bound() {
    let start = Instant::now();
    let mut queue = FairQueue::new(BOUND);
    // A tenant that makes all of its passes look urgent gets its turn, no more.
    for i in 0..3 {
        queue.push(&flow("loud"), Class::Urgent, ("loud".into(), i), start);
        queue.push(&flow("calm"), Class::Rotate, ("calm".into(), i), start);
    }
    assert_eq!(
        drain(&mut queue, start),
        ["loud", "calm", "loud", "calm", "loud", "calm"]
    );
    // A drift check nobody waits for goes after the others' waiters...
    queue.push(&flow("idle"), Class::Routine, ("idle".into(), 0), start);
    queue.push(&flow("busy"), Class::Create, ("busy".into(), 0), start);
    queue.push(&flow("busy"), Class::Create, ("busy".into(), 1), start);
    assert_eq!(queue.pop(start).unwrap().0, "busy");
    assert_eq!(queue.pop(start).unwrap().0, "busy");
    assert_eq!(queue.pop(start).unwrap().0, "idle");
    // ...until it has waited past the bound: then it takes its turn.
    queue.push(&flow("idle"), Class::Routine, ("idle".into(), 1), start);
    for i in 2..5 {
        queue.push(
            &flow("busy"),
            Class::Create,
            ("busy".into(), i),
            start + BOUND,
        );
    }
    let later = start + BOUND;
    assert_eq!(queue.pop(later).unwrap().0, "idle");
    assert_eq!(drain(&mut queue, later), ["busy", "busy", "busy"]);
}

#[test]
fn a_waiter_that_gives_up_leaves_no_trace() {
    let now = Instant::now();
    let mut queue = FairQueue::new(BOUND);
    queue.push(&flow("a"), Class::Create, ("a".into(), 0), now);
    queue.push(&flow("b"), Class::Create, ("b".into(), 0), now);
    assert!(queue.remove(&("a".into(), 0)));
    assert!(!queue.remove(&("a".into(), 0)));
    assert_eq!(queue.queued("a"), 0);
    assert_eq!(queue.flows(), 1);
    assert_eq!(drain(&mut queue, now), ["b"]);
}

/// An arrival: (flow index, class index, time step it arrives at).
fn arrivals() -> impl Strategy<Value = Vec<(usize, usize, u64)>> {
    prop::collection::vec((0usize..5, 0usize..4, 0u64..200), 1..300)
}

proptest! {
    /// Served one per time step, whatever arrives: every waiter is served (none lost), within a
    /// flow and class in arrival order, and none waits much past the bound while others are
    /// served (one per step: at most the waiters that starved before it go first).
    #[test]
    fn nobody_starves_and_order_within_a_flow_holds(arrivals in arrivals()) {
        let bound_steps = 20u64;
        let start = Instant::now();
        let step = |i: u64| start + Duration::from_millis(100 * i);
        let mut queue = FairQueue::new(Duration::from_millis(100 * bound_steps));
        let mut sorted = arrivals.clone();
        sorted.sort_by_key(|a| a.2);
        let total = sorted.len();
        let mut next = 0;
        let mut served: Vec<(usize, usize, usize, u64)> = Vec::new();
        let mut t = 0u64;
        while served.len() < total {
            while next < total && sorted[next].2 <= t {
                let (f, c, _) = sorted[next];
                queue.push(&flow(&f.to_string()), Class::ALL[c], (f, c, next, t), step(t));
                next += 1;
            }
            if let Some(item) = queue.pop(step(t)) {
                served.push((item.0, item.1, item.2, t - item.3));
            }
            t += 1;
            prop_assert!(t < 10_000, "the queue stalled");
        }
        for f in 0..5 {
            for c in 0..4 {
                let order: Vec<usize> = served.iter().filter(|s| s.0 == f && s.1 == c).map(|s| s.2).collect();
                let mut sorted_order = order.clone();
                sorted_order.sort();
                prop_assert_eq!(order, sorted_order);
            }
        }
        // A waiter of any class waits at most the bound plus one step per waiter present.
        let worst = served.iter().map(|s| s.3).max().unwrap_or(0);
        prop_assert!(worst <= bound_steps + total as u64, "waited {worst} steps");
    }

    /// k flows that keep their queues full are served in turns, whatever class each flow's
    /// waiters claim (but routine checks): in every window of k pops each flow is served once.
    #[test]
    fn backlogged_flows_share_equally(
        k in 1usize..8,
        depth in 1usize..20,
        classes in prop::collection::vec(0usize..3, 8),
    ) {
        let now = Instant::now();
        let mut queue = FairQueue::new(BOUND);
        for d in 0..depth {
            for (f, class) in classes.iter().take(k).enumerate() {
                queue.push(&flow(&f.to_string()), Class::ALL[*class], (f, d), now);
            }
        }
        let order: Vec<usize> = std::iter::from_fn(|| queue.pop(now).map(|(f, _)| f)).collect();
        for window in order.chunks(k) {
            let mut seen = window.to_vec();
            seen.sort();
            prop_assert_eq!(seen, (0..k).collect::<Vec<_>>());
        }
    }

    /// A flow that arrives while others are backlogged is served within one turn of each.
    #[test]
    fn a_quiet_flow_waits_one_turn_per_active_flow(k in 1usize..8, served_before in 0usize..20) {
        let now = Instant::now();
        let mut queue = FairQueue::new(BOUND);
        for d in 0..50 {
            for f in 0..k {
                queue.push(&flow(&f.to_string()), Class::Create, (f, d), now);
            }
        }
        for _ in 0..served_before {
            queue.pop(now);
        }
        queue.push(&flow("quiet"), Class::Create, (usize::MAX, 0), now);
        let position = std::iter::from_fn(|| queue.pop(now))
            .position(|(f, _)| f == usize::MAX)
            .expect("served");
        prop_assert!(position <= k, "served after {position} others with {k} active flows");
    }
}
