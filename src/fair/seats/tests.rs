use super::*;

fn flow(name: &str) -> Flow {
    Arc::from(name)
}

#[tokio::test(start_paused = true)]
async fn seats_are_handed_in_turn_between_namespaces() {
    let seats = Seats::new(1);
    let Admission::Seated(first) = seats.admit(&flow("noisy"), Class::Create).await else {
        panic!("a free seat");
    };
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (name, n) in [("noisy", 4), ("quiet", 1)] {
        for _ in 0..n {
            let (seats, order) = (seats.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let Admission::Seated(_seat) = seats.admit(&flow(name), Class::Create).await else {
                    panic!("queued");
                };
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }));
            tokio::task::yield_now().await;
        }
    }
    drop(first);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        *order.lock().unwrap(),
        ["noisy", "quiet", "noisy", "noisy", "noisy"]
    );
    assert_eq!(seats.load(), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_tells_when_to_come_back_and_a_dropped_waiter_passes_its_seat_on() {
    let seats = Seats::new(1);
    let Admission::Seated(held) = seats.admit(&flow("a"), Class::Create).await else {
        panic!("a free seat");
    };
    let mut waiters = Vec::new();
    for _ in 0..seats.max_queued {
        let seats = seats.clone();
        waiters.push(tokio::spawn(async move {
            matches!(
                seats.admit(&flow("a"), Class::Create).await,
                Admission::Seated(_)
            )
        }));
        tokio::task::yield_now().await;
    }
    let Admission::Later(after) = seats.admit(&flow("a"), Class::Create).await else {
        panic!("the namespace's queue is full");
    };
    assert!(
        after >= COME_BACK_MIN && after <= COME_BACK_MAX,
        "{after:?}"
    );
    // Another namespace still queues.
    let other = {
        let seats = seats.clone();
        tokio::spawn(async move {
            matches!(
                seats.admit(&flow("b"), Class::Create).await,
                Admission::Seated(_)
            )
        })
    };
    tokio::task::yield_now().await;
    waiters.remove(0).abort();
    drop(held);
    for waiter in waiters {
        assert!(waiter.await.unwrap());
    }
    assert!(other.await.unwrap());
    assert_eq!(seats.load(), (0, 0));
}
