use super::*;

fn config(identity: &str) -> LeaseConfig {
    LeaseConfig {
        name: "ssc-operator".into(),
        namespace: "ssc-system".into(),
        identity: identity.into(),
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_secs(2),
    }
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

#[test]
fn creates_when_missing() {
    match decide(None, Duration::ZERO, &config("a"), at(100)) {
        LeaseAction::Create(spec) => {
            assert_eq!(spec.holder_identity.as_deref(), Some("a"));
            assert_eq!(spec.lease_duration_seconds, Some(15));
            assert_eq!(spec.lease_transitions, Some(0));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn holder_renews_others_wait_until_expiry() {
    let LeaseAction::Create(held) = decide(None, Duration::ZERO, &config("a"), at(100)) else {
        panic!()
    };
    match decide(Some(&held), Duration::from_secs(5), &config("a"), at(105)) {
        LeaseAction::Update(spec) => {
            assert_eq!(spec.renew_time, Some(MicroTime(at(105))));
            assert_eq!(spec.acquire_time, Some(MicroTime(at(100))));
            assert_eq!(spec.lease_transitions, Some(0));
        }
        other => panic!("{other:?}"),
    }
    // Expiry counts on the standby's own clock, from when it first saw this record.
    assert_eq!(
        decide(Some(&held), Duration::from_secs(14), &config("b"), at(114)),
        LeaseAction::Wait
    );
    match decide(Some(&held), Duration::from_secs(15), &config("b"), at(115)) {
        LeaseAction::Update(spec) => {
            assert_eq!(spec.holder_identity.as_deref(), Some("b"));
            assert_eq!(spec.lease_transitions, Some(1));
            assert_eq!(spec.acquire_time, Some(MicroTime(at(115))));
        }
        other => panic!("{other:?}"),
    }
}

/// A standby whose clock runs 60 s ahead of the leader's must not see a live Lease as expired.
#[test]
fn a_standby_with_a_clock_ahead_waits_for_the_lease_to_expire() {
    let LeaseAction::Create(held) = decide(None, Duration::ZERO, &config("a"), at(100)) else {
        panic!()
    };
    assert_eq!(
        decide(Some(&held), Duration::ZERO, &config("b"), at(100 + 60)),
        LeaseAction::Wait,
        "took a Lease renewed a moment ago"
    );
    // ... nor one whose holder's clock ran ahead: renewTime in the future changes nothing.
    let mut ahead = held.clone();
    ahead.renew_time = Some(MicroTime(at(100 + 3600)));
    assert!(matches!(
        decide(Some(&ahead), Duration::from_secs(15), &config("b"), at(115)),
        LeaseAction::Update(_)
    ));
}

#[test]
fn unchanged_for_is_measured_from_the_first_sight_of_a_record() {
    let start = std::time::Instant::now();
    let LeaseAction::Create(held) = decide(None, Duration::ZERO, &config("a"), at(100)) else {
        panic!()
    };
    let mut seen = Observation::default();
    assert_eq!(seen.see(Some(&held), start), Duration::ZERO);
    let later = start + Duration::from_secs(7);
    assert_eq!(seen.see(Some(&held), later), Duration::from_secs(7));
    let mut renewed = held.clone();
    renewed.renew_time = Some(MicroTime(at(107)));
    assert_eq!(
        seen.see(Some(&renewed), later),
        Duration::ZERO,
        "a renewal resets it"
    );
}

#[test]
fn timing_relations_are_checked() {
    assert!(config("a").check().is_ok());
    let mut c = config("a");
    c.renew_deadline = c.lease_duration;
    assert!(matches!(
        c.check(),
        Err(TimingError::LeaseNotLongerThanDeadline { .. })
    ));
    let mut c = config("a");
    c.retry_period = Duration::from_secs(9);
    assert!(matches!(
        c.check(),
        Err(TimingError::DeadlineTooCloseToRetry { .. })
    ));
    let mut c = config("a");
    c.renew_deadline = Duration::from_millis(13_500);
    let refused = c.check().unwrap_err();
    assert!(matches!(
        refused,
        TimingError::StuckLeaderOutlivesLease { .. }
    ));
    assert!(
        refused
            .to_string()
            .contains("shorter than the lease duration")
    );
}

#[test]
fn released_lease_is_taken_at_once() {
    let released = LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        renew_time: Some(MicroTime(at(100))),
        lease_transitions: Some(3),
        ..LeaseSpec::default()
    };
    assert!(matches!(
        decide(Some(&released), Duration::ZERO, &config("b"), at(100)),
        LeaseAction::Update(_)
    ));
}
