use super::*;

#[test]
fn messages_fit_the_condition_schema() {
    let t = Timestamp::from_second(1_000).unwrap();
    let long = "é".repeat(MAX_MESSAGE_BYTES);
    let c = ready_condition(None, Reason::IamRejected, long, None, t);
    assert!(c.message.len() <= MAX_MESSAGE_BYTES);
    assert!(c.message.ends_with("[…]"));
    let short = ready_condition(None, Reason::IamRejected, "short".into(), None, t);
    assert_eq!(short.message, "short");
}

#[test]
fn transition_time_moves_only_on_change() {
    let t0 = Timestamp::from_second(1_000).unwrap();
    let t1 = Timestamp::from_second(2_000).unwrap();
    let first = ready_condition(None, Reason::Throttled, "a".into(), Some(1), t0);
    let same = ready_condition(Some(&first), Reason::Throttled, "b".into(), Some(2), t1);
    assert_eq!(same.last_transition_time, Time(t0));
    assert_eq!(same.message, "b");
    assert_eq!(same.observed_generation, Some(2));
    let other = ready_condition(Some(&same), Reason::IamUnavailable, "c".into(), Some(2), t1);
    assert_eq!(other.last_transition_time, Time(t1));
    assert_eq!(other.status, "False");
    let ready = ready_condition(Some(&other), Reason::Available, "".into(), Some(2), t1);
    assert_eq!(ready.status, "True");
}

#[test]
fn backoff_grows_is_capped_and_jittered() {
    let resync = Duration::from_secs(600);
    let t = |attempt, jitter| {
        Reason::Throttled
            .retry_after(attempt, resync, jitter)
            .unwrap()
    };
    assert!(t(0, 0.5) < t(1, 0.5));
    assert!(t(1, 0.5) < t(3, 0.5));
    assert_eq!(t(30, 0.5), Duration::from_secs(300));
    assert!(t(0, 0.0) < t(0, 0.99));
    assert!(t(0, 0.0) >= Duration::from_millis(1600));
    // LimitExceeded never hot-loops.
    assert!(Reason::LimitExceeded.retry_after(0, resync, 0.0).unwrap() >= Duration::from_secs(48));
    assert_eq!(Reason::InvalidSpec.retry_after(0, resync, 0.0), None);
}

/// Resources created together must not resync together (a thundering herd on IAM every
/// interval): the resync is spread over the last fifth of the interval, never beyond it.
#[test]
fn resyncs_of_many_resources_spread_apart_within_the_interval() {
    let resync = Duration::from_secs(600);
    for reason in [Reason::Available, Reason::Expired] {
        let early = reason.retry_after(5, resync, 0.0).unwrap();
        let late = reason.retry_after(5, resync, 0.999).unwrap();
        assert!(late <= resync, "{late:?} is beyond the resync interval");
        assert!(early >= resync * 4 / 5, "{early:?}");
        assert!(
            late - early >= Duration::from_secs(110),
            "{reason:?}: {early:?}..{late:?} is not spread"
        );
    }
}

/// The names are an API (condition reasons, Event reasons, metric labels, the README's
/// list): a renamed variant must show here.
#[test]
fn reason_names_are_the_documented_ones() {
    let names: Vec<&str> = Reason::all().map(Reason::as_str).collect();
    assert_eq!(
        names,
        [
            "Available",
            "Creating",
            "UserNotFound",
            "ServiceNotSupported",
            "LimitExceeded",
            "Throttled",
            "NotPermitted",
            "SecretConflict",
            "Expired",
            "InvalidSpec",
            "IamUnavailable",
            "AccessDenied",
            "IamRejected",
            "Rotating",
            "Deleting",
            "AdoptionAmbiguous",
        ]
    );
    let readme = include_str!("../../../README.md");
    for name in names {
        assert!(
            readme.contains(&format!("`{name}`")),
            "{name} is not in README"
        );
    }
    assert_eq!(Reason::IamRejected.to_string(), "IamRejected");
    assert_eq!(Reason::from_name("NoSuchReason"), None);
}

#[test]
fn reasons_round_trip() {
    for r in Reason::all() {
        assert_eq!(Reason::from_name(r.as_str()), Some(r));
    }
    assert!(Reason::LimitExceeded.is_warning());
    assert!(!Reason::Available.is_warning());
}
