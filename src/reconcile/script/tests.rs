use super::*;
use crate::reconcile::plan::Observed;
use crate::reconcile::plan::SecretObservation;
use crate::reconcile::plan::tests::{NOW, at, cred};

fn steps(case: &Observed) -> Vec<Step> {
    for_decision(case, case.decide()).steps
}

fn events(steps: &[Step]) -> Vec<&'static str> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Publish(e) => Some(e.reason),
            _ => None,
        })
        .collect()
}

#[test]
fn a_create_records_its_credential_before_the_secret_and_tells_it_once() {
    let case = Observed::test();
    let steps = steps(&case);
    let kinds: Vec<&str> = steps
        .iter()
        .map(|s| match s {
            Step::PreflightSecret => "preflight",
            Step::WriteRecord(edits) if edits.contains(&StatusEdit::IssuedCredential) => {
                "record names it"
            }
            Step::WriteRecord(edits)
                if edits
                    .iter()
                    .any(|e| matches!(e, StatusEdit::RecordIntent { .. })) =>
            {
                "record intent"
            }
            Step::WriteStatus(w) if w.edits.contains(&StatusEdit::IssuedCredential) => {
                "status names it"
            }
            Step::WriteStatus(_) => "status",
            Step::ProveCurrent => "prove current",
            Step::Iam(_) => "iam",
            Step::WriteSecret(_) => "secret",
            Step::Publish(_) => "event",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "prove current",
            "record intent",
            "iam",
            "record names it",
            "secret",
            "status names it",
            "event"
        ]
    );
    assert_eq!(events(&steps), ["CredentialCreated"]);
    // Leaving a failure is told too.
    let mut failing = Observed::test();
    failing.status.conditions = vec![crate::api::Condition {
        type_: "Ready".into(),
        status: "False".into(),
        reason: "Throttled".into(),
        message: "slow down".into(),
        last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(NOW)),
        observed_generation: Some(1),
    }];
    assert_eq!(
        events(&self::steps(&failing)),
        ["Available", "CredentialCreated"]
    );
    // A template may make the API server refuse the Secret: asked first, by a dry run.
    let mut templated = Observed::test();
    templated.resource.spec.secret.template = Some(Default::default());
    assert_eq!(
        self::steps(&templated).first(),
        Some(&Step::PreflightSecret)
    );
}

#[test]
fn only_a_reset_of_the_held_credential_reports_a_failed_secret_write() {
    let mut lost = Observed::test().holding("ACCA1");
    lost.secret = SecretObservation::Missing;
    let fallback = steps(&lost).into_iter().find_map(|s| match s {
        Step::WriteSecret(w) => Some(w.if_failed),
        _ => None,
    });
    let fallback = fallback.expect("a Secret write").expect("a fallback");
    assert_eq!(fallback.reason, Reason::Creating);
    assert!(fallback.message.contains("ACCA1"), "{}", fallback.message);
    // An adoption records the credential first, so nothing it held is lost.
    let mut orphan = Observed::test();
    orphan.status.create_requested_at = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        at(NOW - 10),
    ));
    orphan.credentials = Some(Ok(vec![cred("ACCA9", NOW - 8)]));
    let adopt = steps(&orphan);
    let secret_at = adopt
        .iter()
        .position(|s| matches!(s, Step::WriteSecret(_)))
        .expect("a Secret write");
    let recorded = adopt[..secret_at]
        .iter()
        .rev()
        .find_map(|s| match s {
            Step::WriteRecord(edits) => Some(edits),
            _ => None,
        })
        .expect("a record write before the Secret");
    assert!(
        recorded.contains(&StatusEdit::IssuedCredential),
        "{adopt:?}"
    );
}

#[test]
fn an_intent_is_stamped_at_its_write_and_a_rotation_when_iam_answered() {
    let times = EditTimes {
        write: at(NOW + 7),
        answered: at(NOW),
    };
    let mut status = ServiceSpecificCredentialStatus::default();
    for edit in [
        StatusEdit::RecordIntent {
            existing: vec!["ACCA1".into()],
        },
        StatusEdit::Rotated {
            handled_request: Some("1".into()),
        },
    ] {
        apply_edit(&mut status, &edit, None, times);
    }
    assert_eq!(
        status.create_requested_at.as_ref().map(|t| t.0),
        Some(at(NOW + 7))
    );
    assert_eq!(
        status.last_rotation_time.as_ref().map(|t| t.0),
        Some(at(NOW))
    );
    assert_eq!(status.handled_rotate_request.as_deref(), Some("1"));
    let retiring = StatusEdit::StartRetirement {
        old: "ACCA0".into(),
        grace: Duration::from_secs(60),
        handled_request: None,
    };
    apply_edit(&mut status, &retiring, None, times);
    assert_eq!(status.retire_after.map(|t| t.0), Some(at(NOW + 60)));
}

#[test]
fn the_api_servers_answers_mean_what_they_say() {
    assert_eq!(
        secret_refusal(409, "AlreadyExists", "exists", "git").map(|r| r.0),
        Some(Reason::SecretConflict)
    );
    assert_eq!(
        secret_refusal(422, "Invalid", "bad label", "git"),
        Some((
            Reason::InvalidSpec,
            "the API server rejects the Secret this resource would write: bad label".into()
        ))
    );
    assert_eq!(secret_refusal(409, "Conflict", "changed", "git"), None);
    assert_eq!(secret_refusal(500, "InternalError", "down", "git"), None);
    assert_eq!(
        restart_refusal("Deployment/web", 404, "not found"),
        RestartRefusal::Skip("not found".into())
    );
    assert!(matches!(
        restart_refusal("Deployment/web", 403, "forbidden"),
        RestartRefusal::Forbidden(PlannedEvent { warning: true, .. })
    ));
    assert_eq!(
        restart_refusal("Deployment/web", 503, "down"),
        RestartRefusal::Fail
    );
}

#[test]
fn a_reset_tells_why_and_adoptions_are_recorded_first() {
    let event = reset_event(&ResetCause::SecretLost, "ACCA1", "git");
    assert!(event.warning);
    assert_eq!(event.reason, "SecretRepaired");
    let note = event.note.text(None);
    assert!(note.contains("Secret git") && note.contains("ACCA1"));
    let rotated = reset_event(
        &ResetCause::Rotate(RotationTrigger::Schedule),
        "ACCA1",
        "git",
    );
    assert_eq!(
        (rotated.warning, rotated.reason),
        (false, "CredentialRotated")
    );
    assert!(reset_adopts(&ResetCause::AdoptRequested));
    assert!(reset_adopts(&ResetCause::AdoptRotation {
        old: "ACCA0".into()
    }));
    assert!(!reset_adopts(&ResetCause::SecretLost));
    assert!(!reset_adopts(&ResetCause::Rotate(
        RotationTrigger::Requested("1".into())
    )));
}

/// A pass whose status write naming the Secret failed (after the Secret got the credential)
/// leaves `status.secretName` behind; the next pass, finding the Secret holding it, says it.
/// Otherwise a later rename finds no old Secret to move from, and resets the password in use.
#[test]
fn a_report_names_the_secret_that_holds_the_credential() {
    let case = Observed::test().holding("ACCA1");
    assert!(case.status.secret_name.is_none());
    let names_secret = |steps: &[Step]| {
        steps.iter().any(|s| {
            matches!(s, Step::WriteStatus(w)
                if w.edits.contains(&StatusEdit::SecretName("git".into())))
        })
    };
    assert!(names_secret(&steps(&case)), "{:?}", steps(&case));
    // Our Secret under the name status gives is still there (a move cut off before it was
    // deleted): status keeps naming it, or nothing would find it again.
    let mut moving = case.clone();
    moving.status.secret_name = Some("old".into());
    moving = moving.old_secret_holding("ACCA1");
    assert!(!names_secret(&steps(&moving)), "{:?}", steps(&moving));
}

/// That Reset's status write was lost (a partition, an error, or only the answer to the Secret
/// write): this process answered request "1" with a Reset of ACCA1 whose password the Secret
/// holds (its issued-at is that Reset's), status never recorded it. The request is recorded as
/// handled (at the time of that Reset) by the next status write, whatever the pass does, and is
/// not answered again; the schedule counts that rotation: a second Reset would kill the password
/// the workloads just got.
#[test]
fn a_reset_whose_status_write_was_lost_is_recorded_not_repeated() {
    use crate::reconcile::plan::{Answered, answered_unrecorded};
    let mut case = Observed::test().holding("ACCA1").rotate("1");
    // A scheduled rotation would be due by what status says (the Reset kept the create date).
    case.credentials = Some(Ok(vec![cred("ACCA1", NOW - 10_000)]));
    case.resource.spec.rotation =
        Some(serde_json::from_value(serde_json::json!({"interval": "1h"})).unwrap());
    case.status.last_rotation_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        at(NOW - 7200),
    ));
    case.secret_issued_at = Some("2026-12-01T10:00:00.000Z".into());
    let answered = Answered {
        request: "1".into(),
        credential_id: "ACCA1".into(),
        issued_at: "2026-12-01T10:00:00.000Z".into(),
        at: at(NOW - 5),
    };
    case.answered = Some(answered.clone());
    // The first edit of the first status write.
    let recorded_in = |steps: &[Step]| {
        steps.iter().find_map(|s| match s {
            Step::WriteStatus(w) => w.edits.first().cloned(),
            _ => None,
        })
    };
    let expected = Some(StatusEdit::Answered {
        request: "1".into(),
        at: at(NOW - 5),
    });
    let planned = steps(&case);
    assert!(
        !planned
            .iter()
            .any(|s| matches!(s, Step::Iam(_) | Step::WriteSecret(_))),
        "{planned:?}"
    );
    assert_eq!(recorded_in(&planned), expected);
    // Another decision first (the Secret to re-render): its status write records it.
    let mut rewrite = case.clone();
    rewrite.secret = SecretObservation::Owned {
        credential_id: Some("ACCA1".into()),
        intact: true,
        up_to_date: false,
    };
    let planned = steps(&rewrite);
    assert!(!planned.iter().any(|s| matches!(s, Step::Iam(_))));
    assert_eq!(recorded_in(&planned), expected);
    // A newer request is a new rotation.
    let newer = case.clone().rotate("2");
    assert!(steps(&newer).iter().any(|s| matches!(s, Step::Iam(_))));
    // The Secret does not hold that Reset's password (its write never landed, or the Secret was
    // replaced since), the Reset was of another credential than status names, or status shows
    // it already: not this case.
    let mut unwritten = case.clone();
    unwritten.secret_issued_at = Some("2026-12-01T09:00:00.000Z".into());
    assert_eq!(answered_unrecorded(&unwritten), None);
    assert!(steps(&unwritten).iter().any(|s| matches!(s, Step::Iam(_))));
    let mut other = case.clone();
    other.answered = Some(Answered {
        credential_id: "ACCA9".into(),
        ..answered.clone()
    });
    assert_eq!(answered_unrecorded(&other), None);
    let mut recorded = case.clone();
    recorded.status.handled_rotate_request = Some("1".into());
    assert_eq!(answered_unrecorded(&recorded), None);
}

/// The rotate request each issued secret's Secret write answers.
fn answers(case: &Observed) -> Vec<Option<String>> {
    steps(case)
        .into_iter()
        .filter_map(|s| match s {
            Step::WriteSecret(SecretWrite {
                material: SecretMaterial::Issued { answers, .. },
                ..
            }) => Some(answers),
            _ => None,
        })
        .collect()
}

/// A requested Reset answers its request (noted before its Secret write, recorded in status
/// after it); a scheduled one, or a repair, answers none.
#[test]
fn only_a_requested_reset_answers_a_request() {
    let requested = Observed::test().holding("ACCA1").rotate("1");
    assert_eq!(answers(&requested), [Some("1".to_string())]);
    let mut scheduled = Observed::test().holding("ACCA1");
    scheduled.credentials = Some(Ok(vec![cred("ACCA1", NOW - 10_000)]));
    scheduled.resource.spec.rotation =
        Some(serde_json::from_value(serde_json::json!({"interval": "1h"})).unwrap());
    let mut lost = Observed::test().holding("ACCA1");
    lost.secret = SecretObservation::Missing;
    for case in [scheduled, lost] {
        assert_eq!(answers(&case), [None]);
    }
}
