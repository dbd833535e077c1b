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
    let _ = tokio::time::timeout(Duration::from_millis(1), limiter.admit(Priority::Urgent)).await;
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
