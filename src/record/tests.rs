use super::*;

fn t(secs: i64) -> Time {
    Time(Timestamp::from_second(secs).unwrap())
}

fn intent(at: i64, before: &[&str]) -> Holding {
    Holding {
        create_requested_at: Some(t(at)),
        credentials_before_create: before.iter().map(|s| s.to_string()).collect(),
        ..Holding::default()
    }
}

#[test]
fn an_intent_replaced_before_its_answer_came_is_an_unknown_create() {
    let announced = Some(t(100));
    let unknown = unanswered_create(
        &intent(100, &["A"]),
        &intent(200, &["A"]),
        false,
        announced.as_ref(),
    );
    assert_eq!(
        unknown,
        Some(UnknownCreate {
            requested_at: t(100),
            credentials_before: vec!["A".into()]
        })
    );
}

#[test]
fn an_intent_that_never_reached_status_was_never_followed_by_a_create() {
    let other = Some(t(50));
    for announced in [None, other.as_ref()] {
        let unknown = unanswered_create(&intent(100, &[]), &intent(200, &[]), false, announced);
        assert_eq!(unknown, None);
    }
}

#[test]
fn times_compare_in_whole_seconds() {
    let precise =
        Time(Timestamp::from_second(100).unwrap() + jiff::SignedDuration::from_millis(250));
    let status = ServiceSpecificCredentialStatus {
        create_requested_at: Some(precise.clone()),
        ..Default::default()
    };
    assert_eq!(Holding::of(&status), intent(100, &[]));
    let unknown = unanswered_create(&intent(100, &[]), &intent(100, &[]), false, Some(&precise));
    assert_eq!(
        unknown, None,
        "the same intent, read back without its fraction"
    );
}

#[test]
fn an_answered_or_adopted_intent_is_not() {
    let held = Holding {
        credential_id: Some("B".into()),
        ..Holding::default()
    };
    let announced = Some(t(100));
    let a = announced.as_ref();
    assert_eq!(unanswered_create(&intent(100, &[]), &held, true, a), None);
    // Adopted after a crash: a credential came into the resource's hands.
    assert_eq!(unanswered_create(&intent(100, &[]), &held, false, a), None);
    // Kept as it is.
    let same = unanswered_create(&intent(100, &[]), &intent(100, &[]), false, a);
    assert_eq!(same, None);
    // No intent at all.
    assert_eq!(
        unanswered_create(&held, &Holding::default(), false, a),
        None
    );
}

#[test]
fn an_intent_dropped_without_an_answer_is_an_unknown_create() {
    let announced = Some(t(100));
    let unknown = unanswered_create(
        &intent(100, &[]),
        &Holding::default(),
        false,
        announced.as_ref(),
    );
    assert!(unknown.is_some());
}

#[test]
fn migration_keeps_only_listed_unclaimed_ids_of_a_permitted_user() {
    let status = ServiceSpecificCredentialStatus {
        credential_id: Some("MINE".into()),
        retiring_credential_id: Some("FORGED".into()),
        retire_after: Some(t(5)),
        create_requested_at: Some(t(4)),
        ..Default::default()
    };
    let unclaimed = |_: &str| false;
    let migrated = migrate(&status, &["MINE", "OTHER"], &unclaimed, true);
    assert_eq!(migrated.credential_id.as_deref(), Some("MINE"));
    assert_eq!(migrated.retiring_credential_id, None);
    assert_eq!(migrated.retire_after, None);
    assert_eq!(migrated.create_requested_at, None, "no intent is migrated");
    let held_elsewhere = |id: &str| id == "MINE";
    assert!(migrate(&status, &["MINE"], &held_elsewhere, true).is_empty());
    assert!(migrate(&status, &["MINE"], &unclaimed, false).is_empty());
    assert!(migrate(&status, &[], &unclaimed, true).is_empty());
}

#[test]
fn only_resources_older_than_the_epoch_migrate() {
    let at = |s| Some(Timestamp::from_second(s).unwrap());
    assert!(predates_records(at(10), at(20)));
    assert!(!predates_records(at(20), at(20)));
    assert!(!predates_records(at(30), at(20)));
    assert!(!predates_records(at(10), None));
}

#[test]
fn a_released_record_keeps_only_creates_that_may_still_take_effect() {
    let now = Timestamp::from_second(2_000).unwrap();
    let held = CredentialRecordSpec {
        holding: Holding {
            credential_id: Some("A".into()),
            ..Holding::default()
        },
        ..Default::default()
    };
    assert_eq!(released(&held, now), None);
    let pending = CredentialRecordSpec {
        holding: intent(1_900, &["A"]),
        ..held.clone()
    };
    let tombstone = released(&pending, now).expect("kept for the sweep");
    assert!(tombstone.holding.is_empty());
    assert_eq!(tombstone.unknown_creates[0].requested_at, t(1_900));
    let later = Timestamp::from_second(1_900 + 20 * 60).unwrap();
    assert_eq!(released(&pending, later), None, "the window closed");
}

#[test]
fn an_orphan_under_retain_keeps_its_credential_but_not_the_retiring_one() {
    let holding = Holding {
        credential_id: Some("NEW".into()),
        retiring_credential_id: Some("OLD".into()),
        ..Holding::default()
    };
    assert_eq!(
        orphaned(&holding, DeletionPolicy::Retain),
        (vec!["OLD".to_string()], vec!["NEW".to_string()])
    );
    assert_eq!(
        orphaned(&holding, DeletionPolicy::Delete),
        (vec!["NEW".to_string(), "OLD".to_string()], vec![])
    );
}

#[test]
fn unknown_creates_close_after_the_window() {
    let created = UnknownCreate {
        requested_at: t(1_000),
        credentials_before: vec![],
    };
    let window = UNKNOWN_CREATE_WINDOW.as_secs() as i64;
    let now = |s| Timestamp::from_second(s).unwrap();
    assert_eq!(
        unknown_creates_open(std::slice::from_ref(&created), now(1_000 + window - 1)).len(),
        1
    );
    assert!(unknown_creates_open(&[created], now(1_000 + window)).is_empty());
}
