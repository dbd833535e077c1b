use super::*;
use crate::api::{RotationSpec, RotationStrategy, SecretSpec, ServiceName};
use crate::reconcile::schedule::next_rotation_at;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub(crate) const NOW: i64 = 1_800_000_000;

pub(crate) fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

pub(crate) fn spec() -> ServiceSpecificCredentialSpec {
    ServiceSpecificCredentialSpec {
        user_name: "sofia".into(),
        service_name: ServiceName::CodeCommit,
        status: DesiredStatus::Active,
        credential_age_days: None,
        secret: SecretSpec::default(),
        rotation: None,
        identity_ref: None,
        deletion_policy: DeletionPolicy::Delete,
        adopt: None,
        rollout_restart: Vec::new(),
    }
}

pub(crate) fn cred(id: &str, created: i64) -> CredentialMetadata {
    CredentialMetadata {
        id: id.into(),
        user_name: "sofia".into(),
        service_name: "codecommit.amazonaws.com".into(),
        service_user_name: Some("sofia-at-123456789012".into()),
        alias: None,
        status: CredentialStatus::Active,
        create_date: at(created),
        expiration_date: None,
    }
}

fn owned(id: &str) -> SecretObservation {
    SecretObservation::Owned {
        credential_id: Some(id.into()),
        intact: true,
        up_to_date: true,
    }
}

fn reason(d: &Decision) -> Reason {
    match d {
        Decision::Report { reason, .. } => *reason,
        other => panic!("expected a report, got {other:?}"),
    }
}

#[test]
fn a_snapshot_serves_routine_checks_and_first_creates_only() {
    let mut c = Observed::test().holding("ACCA1");
    c.status.observed_generation = Some(1);
    assert!(snapshot_may_serve(&c), "a routine check");
    assert!(snapshot_may_serve(&Observed::test()), "a first Create");
    c = c.generation_at(2);
    assert!(!snapshot_may_serve(&c), "a spec change");
    let mut c = Observed::test();
    c.status.create_requested_at = Some(Time(at(NOW - 10)));
    assert!(!snapshot_may_serve(&c), "an interrupted Create");
    let mut c = Observed::test();
    c.resource.spec.adopt = Some(crate::api::AdoptSpec {
        credential_id: "ACCA1".into(),
    });
    assert!(!snapshot_may_serve(&c), "spec.adopt");
}

#[test]
fn only_checks_of_a_ready_resource_nobody_changed_are_routine() {
    let mut c = Observed::test().holding("ACCA1");
    c.status.observed_generation = Some(1);
    assert!(!is_routine_check(&c), "not Ready yet");
    c.status.conditions = vec![crate::reconcile::conditions::ready_condition(
        None,
        Reason::Available,
        String::new(),
        Some(1),
        at(NOW),
    )];
    assert!(is_routine_check(&c));
    c = c.rotate("now");
    assert!(!is_routine_check(&c), "a rotation asked for");
    c.status.handled_rotate_request = Some("now".into());
    assert!(is_routine_check(&c), "handled already");
    c = c.generation_at(2);
    assert!(!is_routine_check(&c), "a spec change");
    assert!(!is_routine_check(&Observed::test()), "a first Create");
}

#[test]
fn with_shards_a_create_waits_out_a_create_another_shard_announced() {
    let mut c = Observed::test();
    c.status.create_requested_at = Some(Time(at(NOW - 20)));
    let create = c.decide();
    assert!(matches!(create, Decision::Create { .. }), "{create:?}");
    assert_eq!(shard_wait(&c, &create), Some(Duration::from_secs(45)));
    c.status.create_requested_at = Some(Time(at(NOW - 70)));
    assert_eq!(shard_wait(&c, &c.decide()), None);
    assert_eq!(
        shard_wait(&Observed::test(), &Observed::test().decide()),
        None
    );
}

#[test]
fn with_shards_an_orphan_settles_before_it_is_taken() {
    assert_eq!(
        orphan_settling(at(NOW - 5), at(NOW)),
        Some(Duration::from_secs(10))
    );
    assert_eq!(orphan_settling(at(NOW - 15), at(NOW)), None);
    assert_eq!(orphan_settling(at(NOW - 60), at(NOW)), None);
}

#[test]
fn decisions_on_what_a_snapshot_may_miss_are_confirmed() {
    let mut gone = Observed::test().holding("ACCA1");
    gone.credentials = Some(Ok(vec![]));
    assert!(gone.decide().needs_exact_listing(), "a credential gone");
    let mut full = Observed::test();
    full.credentials = Some(Ok(vec![cred("ACCA1", NOW - 100), cred("ACCA2", NOW - 90)]));
    assert!(full.decide().needs_exact_listing(), "the quota full");
    assert!(
        !Observed::test().decide().needs_exact_listing(),
        "a first Create"
    );
    assert!(
        !Observed::test()
            .holding("ACCA1")
            .decide()
            .needs_exact_listing(),
        "nothing to do"
    );
}

#[test]
fn fresh_resource_creates() {
    assert_eq!(
        Observed::test().decide(),
        Decision::Create {
            replaces: None,
            existing: vec![]
        }
    );
}

fn revoked(mut c: Observed) -> Observed {
    c.permission = Err(NotPermitted::NoUserAllowed {
        namespace: "team-a".into(),
    });
    c
}

#[test]
fn a_lost_right_makes_the_held_credential_inactive() {
    let c = revoked(Observed::test().holding("ACCAHELD"));
    assert!(revocation_needs_list(&c));
    match c.decide() {
        Decision::Revoke {
            credential, delete, ..
        } => {
            assert_eq!(credential.id, "ACCAHELD");
            assert!(!delete);
        }
        other => panic!("{other:?}"),
    }
    let script = script::for_decision(&c, c.decide());
    assert_eq!(script.outcome, Reason::NotPermitted);
    assert!(
        script
            .steps
            .iter()
            .any(|s| matches!(s, script::Step::Iam(_)))
    );
}

#[test]
fn a_revoked_credential_already_inactive_is_reported_not_touched() {
    let mut c = revoked(Observed::test().holding("ACCAHELD"));
    c.credentials = Some(Ok(vec![CredentialMetadata {
        status: CredentialStatus::Inactive,
        ..cred("ACCAHELD", NOW - 100)
    }]));
    match c.decide() {
        Decision::Report {
            reason: Reason::NotPermitted,
            message,
            ..
        } => assert!(message.contains("ACCAHELD is Inactive"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn revocation_by_policy_deletes_or_keeps() {
    let mut c = revoked(Observed::test().holding("ACCAHELD"));
    c.revocation = Revocation::Delete;
    assert!(matches!(c.decide(), Decision::Revoke { delete: true, .. }));
    c.revocation = Revocation::Keep;
    assert!(!revocation_needs_list(&c));
    assert_eq!(reason(&c.decide()), Reason::NotPermitted);
    assert!(matches!(c.decide(), Decision::Report { .. }));
}

#[test]
fn an_invalid_spec_does_not_keep_a_revoked_credential_alive() {
    let mut c = revoked(Observed::test().holding("ACCAHELD"));
    c.validity = Err(InvalidSpec("reserved key".into()));
    assert!(revocation_needs_list(&c));
    assert!(matches!(c.decide(), Decision::Revoke { .. }));
}

#[test]
fn nothing_held_nothing_revoked() {
    let c = revoked(Observed::test());
    assert!(!revocation_needs_list(&c));
    assert!(matches!(c.decide(), Decision::Report { .. }));
    // A credential of the user the resource does not hold is never touched.
    let mut c = revoked(Observed::test());
    c.credentials = Some(Ok(vec![cred("ACCAOTHER", NOW - 100)]));
    assert!(matches!(c.decide(), Decision::Report { .. }));
}

#[test]
fn gates_stop_before_iam_in_order() {
    let mut c = Observed::test();
    c.credentials = None;
    c.validity = Err(InvalidSpec("bad".into()));
    c.permission = Err(NotPermitted::NoUserAllowed {
        namespace: "team-a".into(),
    });
    c.secret = SecretObservation::Foreign;
    assert_eq!(reason(&c.decide()), Reason::InvalidSpec);
    assert!(gate(&c).is_some());
    c.validity = Ok(());
    c.template = Err(RenderError::NoUid);
    // Tenancy comes before the template.
    assert_eq!(reason(&c.decide()), Reason::NotPermitted);
    c.permission = Ok(());
    assert_eq!(reason(&c.decide()), Reason::InvalidSpec);
    c.template = Ok(());
    assert_eq!(reason(&c.decide()), Reason::SecretConflict);
    c.secret = SecretObservation::Missing;
    assert!(gate(&c).is_none());
}

#[test]
fn secret_conflict_never_touches_iam_even_with_a_credential() {
    let mut c = Observed::test().holding("ACCA1");
    c.secret = SecretObservation::Foreign;
    assert_eq!(reason(&c.decide()), Reason::SecretConflict);
}

#[test]
fn iam_errors_are_reported_typed() {
    for (error, expected) in [
        (
            IamError::UserNotFound {
                user: "sofia".into(),
            },
            Reason::UserNotFound,
        ),
        (
            IamError::ServiceNotSupported {
                service: "x".into(),
            },
            Reason::ServiceNotSupported,
        ),
        (
            IamError::Throttled {
                message: "Rate exceeded".into(),
            },
            Reason::Throttled,
        ),
        (
            IamError::Unavailable {
                message: "down".into(),
            },
            Reason::IamUnavailable,
        ),
        (
            IamError::AccessDenied {
                message: "no".into(),
            },
            Reason::AccessDenied,
        ),
    ] {
        let mut c = Observed::test();
        c.credentials = Some(Err(error));
        assert_eq!(reason(&c.decide()), expected);
    }
}

#[test]
fn full_quota_reports_limit_exceeded_with_the_ids() {
    let mut c = Observed::test();
    c.credentials = Some(Ok(vec![cred("ACCA1", NOW - 10), cred("ACCA2", NOW - 5)]));
    match c.decide() {
        Decision::Report {
            reason,
            message,
            slots_used,
            ..
        } => {
            assert_eq!(reason, Reason::LimitExceeded);
            assert!(
                message.contains("ACCA1") && message.contains("ACCA2"),
                "{message}"
            );
            assert_eq!(slots_used, Some(2));
        }
        other => panic!("{other:?}"),
    }
    // Held by a resource of another namespace: counted, never named.
    c.claimed_elsewhere.insert("ACCA2".into(), "team-b".into());
    match c.decide() {
        Decision::Report { message, .. } => {
            assert!(!message.contains("ACCA2"), "{message}");
            assert!(
                message.contains("ACCA1")
                    && message.contains("1 held in other namespaces or not yet known"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    // One slot held by someone else: we still create, recording that it existed.
    c.credentials = Some(Ok(vec![cred("ACCA1", NOW - 10)]));
    assert_eq!(
        c.decide(),
        Decision::Create {
            replaces: None,
            existing: vec!["ACCA1".into()]
        }
    );
}

#[test]
fn orphan_of_interrupted_create_is_adopted_not_duplicated() {
    let mut c = Observed::test();
    c.status.create_requested_at = Some(Time(at(NOW - 60)));
    c.credentials = Some(Ok(vec![cred("OLD", NOW - 3600), cred("ORPHAN", NOW - 59)]));
    assert_eq!(
        c.decide(),
        Decision::Reset {
            credential: cred("ORPHAN", NOW - 59),
            cause: ResetCause::Adopt
        }
    );
    // Claimed by another resource: not ours.
    c.claimed_elsewhere.insert("ORPHAN".into(), "team-b".into());
    assert!(matches!(
        c.decide(),
        Decision::Report {
            reason: Reason::LimitExceeded,
            ..
        }
    ));
    // Older than the request (minus skew): not ours.
    let mut c = Observed::test();
    c.status.create_requested_at = Some(Time(at(NOW - 60)));
    c.credentials = Some(Ok(vec![cred("OLD", NOW - 120)]));
    assert_eq!(
        c.decide(),
        Decision::Create {
            replaces: None,
            existing: vec!["OLD".into()]
        }
    );
    // Within the skew: ours.
    c.credentials = Some(Ok(vec![cred("SKEW", NOW - 63)]));
    assert!(matches!(
        c.decide(),
        Decision::Reset {
            cause: ResetCause::Adopt,
            ..
        }
    ));
}

#[test]
fn without_request_marker_nothing_is_adopted() {
    let mut c = Observed::test();
    c.credentials = Some(Ok(vec![cred("HUMAN", NOW - 1)]));
    assert_eq!(
        c.decide(),
        Decision::Create {
            replaces: None,
            existing: vec!["HUMAN".into()]
        }
    );
}

#[test]
fn only_a_provable_orphan_is_adopted() {
    let mut c = Observed::test();
    c.status.create_requested_at = Some(Time(at(NOW - 60)));
    // Listed just before the Create: whoever made it, not that Create.
    c.status.credentials_before_create = vec!["HUMAN".into()];
    c.credentials = Some(Ok(vec![cred("HUMAN", NOW - 59)]));
    assert_eq!(
        c.decide(),
        Decision::Create {
            replaces: None,
            existing: vec!["HUMAN".into()]
        }
    );
    // Made after the window the Create could have taken effect in.
    c.status.create_requested_at = Some(Time(at(NOW - 600)));
    c.credentials = Some(Ok(vec![cred("LATE", NOW - 100)]));
    assert!(matches!(c.decide(), Decision::Create { .. }));
    // Two candidates: which one is ours cannot be proven; nothing is touched.
    c.status.create_requested_at = Some(Time(at(NOW - 60)));
    c.status.credentials_before_create = vec![];
    c.credentials = Some(Ok(vec![cred("A", NOW - 59), cred("B", NOW - 58)]));
    match c.decide() {
        Decision::Report {
            reason, message, ..
        } => {
            assert_eq!(reason, Reason::AdoptionAmbiguous);
            assert!(message.contains('A') && message.contains('B'), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // One candidate, but the caches that say who holds what are not complete yet: wait.
    c.credentials = Some(Ok(vec![cred("A", NOW - 59)]));
    c.claims_complete = false;
    assert_eq!(reason(&c.decide()), Reason::Creating);
    c.claims_complete = true;
    assert!(matches!(
        c.decide(),
        Decision::Reset {
            cause: ResetCause::Adopt,
            ..
        }
    ));
}

#[test]
fn a_secret_naming_an_id_never_makes_it_the_resources() {
    // Anyone who can write Secrets in the namespace can write the annotation.
    let mut c = Observed::test();
    c.secret = owned("VICTIM");
    c.credentials = Some(Ok(vec![cred("VICTIM", NOW - 59)]));
    assert_eq!(owned_id(&c), None);
    assert!(matches!(c.decide(), Decision::Create { .. }));
    assert_eq!(decide_cleanup(&c, None), Cleanup::default());
}

#[test]
fn the_intent_marker_settles_once_nothing_waits_for_adoption() {
    let mut c = Observed::test().holding("ACCA9");
    c.status.create_requested_at = Some(Time(at(NOW - 60)));
    c.credentials = Some(Ok(vec![cred("ACCA9", NOW - 59)]));
    assert!(intent_settled(&c, &cred("ACCA9", NOW - 59)));
    c.credentials = Some(Ok(vec![cred("ACCA9", NOW - 59), cred("ACCA8", NOW - 58)]));
    assert!(!intent_settled(&c, &cred("ACCA9", NOW - 59)));
    // A credential older than the marker is not waiting for anything.
    c.credentials = Some(Ok(vec![cred("ACCA9", NOW - 59), cred("OLD", NOW - 3600)]));
    assert!(intent_settled(&c, &cred("ACCA9", NOW - 59)));
    // Without a listing nothing is known.
    c.credentials = None;
    assert!(!intent_settled(&c, &cred("ACCA9", NOW - 59)));
}

#[test]
fn spec_adopt_takes_over_an_unclaimed_credential_only() {
    let mut c = Observed::test();
    c.resource.spec.adopt = Some(crate::api::AdoptSpec {
        credential_id: "KEPT".into(),
    });
    c.credentials = Some(Ok(vec![cred("KEPT", NOW - 9999)]));
    assert_eq!(
        c.decide(),
        Decision::Reset {
            credential: cred("KEPT", NOW - 9999),
            cause: ResetCause::AdoptRequested
        }
    );
    c.claimed_elsewhere.insert("KEPT".into(), "team-a".into());
    assert_eq!(reason(&c.decide()), Reason::InvalidSpec);
    c.claimed_elsewhere.clear();
    c.credentials = Some(Ok(vec![]));
    assert_eq!(reason(&c.decide()), Reason::InvalidSpec);
}

#[test]
fn healthy_credential_is_available() {
    let c = Observed::test().holding("ACCA1");
    match c.decide() {
        Decision::Report {
            reason, credential, ..
        } => {
            assert_eq!(reason, Reason::Available);
            assert_eq!(credential.unwrap().id, "ACCA1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn credential_deleted_out_of_band_is_recreated() {
    let mut c = Observed::test().holding("ACCA1");
    c.credentials = Some(Ok(vec![]));
    assert_eq!(
        c.decide(),
        Decision::Create {
            replaces: Some("ACCA1".into()),
            existing: vec![]
        }
    );
}

#[test]
fn lost_or_edited_secret_resets() {
    for secret in [
        SecretObservation::Missing,
        SecretObservation::Owned {
            credential_id: Some("ACCA1".into()),
            intact: false,
            up_to_date: false,
        },
        SecretObservation::Owned {
            credential_id: Some("OTHER".into()),
            intact: true,
            up_to_date: true,
        },
    ] {
        let mut c = Observed::test().holding("ACCA1");
        c.secret = secret;
        assert!(
            matches!(
                c.decide(),
                Decision::Reset {
                    cause: ResetCause::SecretLost,
                    ..
                }
            ),
            "{:?}",
            c.secret
        );
    }
}

#[test]
fn template_change_rewrites_without_reset() {
    let mut c = Observed::test().holding("ACCA1");
    c.secret = SecretObservation::Owned {
        credential_id: Some("ACCA1".into()),
        intact: true,
        up_to_date: false,
    };
    assert!(matches!(c.decide(), Decision::RewriteSecret { .. }));
}

#[test]
fn renamed_secret_moves_without_reset() {
    let mut c = Observed::test().holding("ACCA1");
    c.secret = SecretObservation::Missing;
    c = c.old_secret_holding("ACCA1");
    assert!(matches!(c.decide(), Decision::RewriteSecret { .. }));
}

#[test]
fn status_drift_is_set_back() {
    let mut c = Observed::test().holding("ACCA1");
    let mut inactive = cred("ACCA1", NOW - 100);
    inactive.status = CredentialStatus::Inactive;
    c.credentials = Some(Ok(vec![inactive.clone()]));
    assert_eq!(
        c.decide(),
        Decision::UpdateStatus {
            credential: inactive,
            desired: DesiredStatus::Active
        }
    );
    let mut c = Observed::test().holding("ACCA1");
    c.resource.spec.status = DesiredStatus::Inactive;
    assert!(matches!(
        c.decide(),
        Decision::UpdateStatus {
            desired: DesiredStatus::Inactive,
            ..
        }
    ));
}

#[test]
fn expired_is_reported_never_reactivated() {
    let mut c = Observed::test().holding("ACCA1");
    c.resource.spec.service_name = ServiceName::Bedrock;
    let mut expired = cred("ACCA1", NOW - 100);
    expired.status = CredentialStatus::Expired;
    c.credentials = Some(Ok(vec![expired]));
    assert_eq!(reason(&c.decide()), Reason::Expired);
    // Past its date even if IAM still says Active.
    let mut late = cred("ACCA1", NOW - 100);
    late.expiration_date = Some(at(NOW - 1));
    c.credentials = Some(Ok(vec![late]));
    assert_eq!(reason(&c.decide()), Reason::Expired);
    // Missing Secret does not bring a reset of an expired key either.
    c.secret = SecretObservation::Missing;
    assert_eq!(reason(&c.decide()), Reason::Expired);
}

#[test]
fn rotate_annotation_resets_once_per_value() {
    let mut c = Observed::test().holding("ACCA1");
    c = c.rotate("1732280000");
    assert_eq!(
        c.decide(),
        Decision::Reset {
            credential: cred("ACCA1", NOW - 100),
            cause: ResetCause::Rotate(RotationTrigger::Requested("1732280000".into()))
        }
    );
    c.status.handled_rotate_request = Some("1732280000".into());
    assert_eq!(reason(&c.decide()), Reason::Available);
}

#[test]
fn next_rotation_is_the_earlier_of_interval_and_renewal() {
    let mut c = Observed::test().holding("ACCA1");
    c.status.credential_id = Some("ACCA1".into());
    c.status.create_date = Some(Time(at(NOW - 100)));
    assert_eq!(
        next_rotation_at(&c.resource.spec, &c.status),
        None,
        "no schedule"
    );
    c.resource.spec.rotation = Some(RotationSpec {
        interval: Some("1h".into()),
        strategy: RotationStrategy::Reset,
        grace_period: None,
        before_expiry: Some("10m".into()),
    });
    assert_eq!(
        next_rotation_at(&c.resource.spec, &c.status),
        Some(at(NOW - 100 + 3600))
    );
    c.status.last_rotation_time = Some(Time(at(NOW - 60)));
    assert_eq!(
        next_rotation_at(&c.resource.spec, &c.status),
        Some(at(NOW - 60 + 3600))
    );
    c.status.expiration_date = Some(Time(at(NOW + 1200)));
    assert_eq!(
        next_rotation_at(&c.resource.spec, &c.status),
        Some(at(NOW + 600)),
        "renewal before expiry comes first"
    );
    c.status.credential_id = None;
    assert_eq!(
        next_rotation_at(&c.resource.spec, &c.status),
        None,
        "nothing held"
    );
}

#[test]
fn interval_rotation_when_due() {
    let mut c = Observed::test().holding("ACCA1");
    c.resource.spec.rotation = Some(RotationSpec {
        interval: Some("1h".into()),
        strategy: RotationStrategy::Reset,
        grace_period: None,
        before_expiry: None,
    });
    assert_eq!(reason(&c.decide()), Reason::Available, "created 100s ago");
    c.credentials = Some(Ok(vec![cred("ACCA1", NOW - 3601)]));
    assert!(matches!(
        c.decide(),
        Decision::Reset {
            cause: ResetCause::Rotate(RotationTrigger::Schedule),
            ..
        }
    ));
    c.status.last_rotation_time = Some(Time(at(NOW - 60)));
    assert_eq!(
        reason(&c.decide()),
        Reason::Available,
        "rotated a minute ago"
    );
}

#[test]
fn cleanup_follows_deletion_policy() {
    let c = Observed::test().holding("ACCA1");
    assert_eq!(
        decide_cleanup(&c, None),
        Cleanup {
            delete: vec!["ACCA1".into()],
            retain: None
        }
    );
    let mut c = Observed::test().holding("ACCA1");
    c.resource.spec.deletion_policy = DeletionPolicy::Retain;
    assert_eq!(
        decide_cleanup(&c, None),
        Cleanup {
            delete: vec![],
            retain: Some("ACCA1".into())
        }
    );
    let c = Observed::test();
    assert!(!cleanup_needs_list(&c));
    assert_eq!(decide_cleanup(&c, None), Cleanup::default());
}

#[test]
fn cleanup_deletes_a_retiring_credential_under_both_policies() {
    let mut c = Observed::test().holding("NEW");
    c.status.retiring_credential_id = Some("OLD".into());
    assert_eq!(decide_cleanup(&c, None).delete, vec!["NEW", "OLD"]);
    c.resource.spec.deletion_policy = DeletionPolicy::Retain;
    let cleanup = decide_cleanup(&c, None);
    assert_eq!(
        (cleanup.delete, cleanup.retain),
        (vec!["OLD".to_string()], Some("NEW".to_string()))
    );
}

/// Deleted under Retain while a Recreate had not yet reached the Secret (it still holds OLD):
/// the Secret released with the credential keeps working, so OLD is kept and NEW, whose secret
/// reached no one, is deleted.
#[test]
fn retain_keeps_the_credential_the_secret_holds_mid_rotation() {
    let mut c = Observed::test().holding("NEW");
    c.status.retiring_credential_id = Some("OLD".into());
    c.resource.spec.deletion_policy = DeletionPolicy::Retain;
    c.secret = owned("OLD");
    let cleanup = decide_cleanup(&c, None);
    assert_eq!(
        (cleanup.delete, cleanup.retain),
        (vec!["NEW".to_string()], Some("OLD".to_string()))
    );
    // A Secret whose credential keys no longer match its digest: the current one is kept, as
    // before. (The digest is no signature: a tenant who forges one only chooses which of its own
    // resource's two credentials survives.)
    c.secret = SecretObservation::Owned {
        credential_id: Some("OLD".into()),
        intact: false,
        up_to_date: false,
    };
    assert_eq!(decide_cleanup(&c, None).retain.as_deref(), Some("NEW"));
}

#[test]
fn cleanup_touches_nothing_unrecorded_that_tenancy_forbids() {
    let mut c = Observed::test().holding("MINE");
    c.permission = Err(NotPermitted::NoUserAllowed {
        namespace: "team-a".into(),
    });
    // Recorded in status by the operator: still this resource's to delete.
    assert_eq!(decide_cleanup(&c, None).delete, vec!["MINE"]);
    let mut c = Observed::test();
    c.permission = Err(NotPermitted::NoUserAllowed {
        namespace: "team-a".into(),
    });
    c.status.create_requested_at = Some(Time(at(NOW - 60)));
    assert!(!cleanup_needs_list(&c));
    let list = vec![cred("ORPHAN", NOW - 30)];
    assert!(decide_cleanup(&c, Some(&list)).delete.is_empty());
}

#[test]
fn cleanup_deletes_the_orphan_of_an_interrupted_create() {
    let mut c = Observed::test();
    c.status.create_requested_at = Some(Time(at(NOW - 60)));
    assert!(cleanup_needs_list(&c));
    let list = vec![cred("OLD", NOW - 3600), cred("ORPHAN", NOW - 30)];
    assert_eq!(decide_cleanup(&c, Some(&list)).delete, vec!["ORPHAN"]);
}

fn recreate(c: &mut Observed) {
    c.resource.spec.rotation = Some(RotationSpec {
        interval: None,
        strategy: RotationStrategy::Recreate,
        grace_period: None,
        before_expiry: None,
    });
}

#[test]
fn recreate_rotation_creates_in_the_free_slot() {
    let mut c = Observed::test().holding("ACCA1");
    recreate(&mut c);
    c = c.rotate("1");
    assert_eq!(
        c.decide(),
        Decision::Recreate {
            old: cred("ACCA1", NOW - 100),
            cause: ResetCause::Rotate(RotationTrigger::Requested("1".into())),
            existing: vec!["ACCA1".into()]
        }
    );
    // Both slots taken: blocked, visibly, and nothing is reset.
    c.credentials = Some(Ok(vec![cred("ACCA1", NOW - 100), cred("OTHER", NOW - 50)]));
    match c.decide() {
        Decision::Report {
            reason, message, ..
        } => {
            assert_eq!(reason, Reason::LimitExceeded);
            assert!(
                message.contains("needs a free slot") && message.contains("OTHER"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn retiring_credential_is_deleted_after_its_grace_period_only() {
    let mut c = Observed::test().holding("NEW");
    c.credentials = Some(Ok(vec![cred("NEW", NOW - 10), cred("OLD", NOW - 1000)]));
    c.status.retiring_credential_id = Some("OLD".into());
    c.status.retire_after = Some(Time(at(NOW + 60)));
    match c.decide() {
        Decision::Report {
            reason, message, ..
        } => {
            assert_eq!(reason, Reason::Available);
            assert!(message.contains("OLD"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // A new rotation request waits for the retirement.
    recreate(&mut c);
    c = c.rotate("2");
    assert!(matches!(
        c.decide(),
        Decision::Report {
            reason: Reason::Available,
            ..
        }
    ));
    c.status.retire_after = Some(Time(at(NOW)));
    assert_eq!(c.decide(), Decision::Retire { id: "OLD".into() });
}

#[test]
fn interrupted_recreate_resumes_without_a_third_credential() {
    // Crash between the Create and the status write naming the new credential: its secret
    // is lost; adopt it (whatever the Secret says).
    let mut c = Observed::test().holding("OLD");
    recreate(&mut c);
    c = c.rotate("1");
    c.status.create_requested_at = Some(Time(at(NOW - 30)));
    c.status.credentials_before_create = vec!["OLD".into()];
    c.credentials = Some(Ok(vec![cred("OLD", NOW - 1000), cred("NEW", NOW - 29)]));
    c.secret = owned("NEW");
    assert_eq!(
        c.decide(),
        Decision::Reset {
            credential: cred("NEW", NOW - 29),
            cause: ResetCause::AdoptRotation { old: "OLD".into() }
        }
    );
    // Crash before Create: nothing to resume; the rotation is still due.
    c.credentials = Some(Ok(vec![cred("OLD", NOW - 1000)]));
    assert!(matches!(c.decide(), Decision::Recreate { .. }));
}

/// A Recreate cut off after the record named the new credential and before status said so (or
/// the Secret got it): the record holds NEW with OLD retiring, status never recorded the request
/// as handled, the Secret still holds OLD. The retirement waits for the Secret to hold NEW, so
/// waiting for the retirement before rotating waits forever: NEW's secret, which reached no
/// one, is reset and delivered, and that answers the request.
#[test]
fn a_recreate_cut_off_before_its_secret_write_delivers_the_new_credential() {
    let mut c = Observed::test().holding("NEW");
    recreate(&mut c);
    c = c.rotate("1");
    c.credentials = Some(Ok(vec![cred("OLD", NOW - 1000), cred("NEW", NOW - 5)]));
    c.status.retiring_credential_id = Some("OLD".into());
    c.status.retire_after = Some(Time(at(NOW - 1)));
    c.secret = owned("OLD");
    assert_eq!(
        c.decide(),
        Decision::Reset {
            credential: cred("NEW", NOW - 5),
            cause: ResetCause::Rotate(RotationTrigger::Requested("1".into())),
        }
    );
    // No request pending (its handling reached status): the Secret's repair, as before.
    c.status.handled_rotate_request = Some("1".into());
    assert_eq!(
        c.decide(),
        Decision::Reset {
            credential: cred("NEW", NOW - 5),
            cause: ResetCause::SecretLost,
        }
    );
    // The Secret holds NEW: the retirement goes ahead, then a new request recreates.
    c.secret = owned("NEW");
    assert_eq!(c.decide(), Decision::Retire { id: "OLD".into() });
}

/// The Secret lost (or never got: a Create cut off after its record write) the credential while
/// a Recreate is due and both slots are taken: a Recreate cannot run, so waiting for one would
/// never write the Secret. The credential is reset and delivered, answering the request.
#[test]
fn a_lost_secret_is_delivered_when_a_due_recreate_has_no_free_slot() {
    let mut c = Observed::test().holding("NEW");
    recreate(&mut c);
    c = c.rotate("1");
    c.credentials = Some(Ok(vec![cred("NEW", NOW - 5), cred("OTHER", NOW - 1000)]));
    c.secret = SecretObservation::Missing;
    assert_eq!(
        c.decide(),
        Decision::Reset {
            credential: cred("NEW", NOW - 5),
            cause: ResetCause::Rotate(RotationTrigger::Requested("1".into())),
        }
    );
    // A scheduled rotation (an API key's renewal among them) stays a repair, with its backoff:
    // a Reset does not make it less due.
    c.resource.metadata.annotations = None;
    c.resource.spec.rotation.as_mut().unwrap().interval = Some("1h".into());
    c.status.last_rotation_time = Some(Time(at(NOW - 7200)));
    c.credentials = Some(Ok(vec![cred("NEW", NOW - 7200), cred("OTHER", NOW - 1000)]));
    assert_eq!(
        c.decide(),
        Decision::Reset {
            credential: cred("NEW", NOW - 7200),
            cause: ResetCause::SecretLost,
        }
    );
    // A free slot: the Recreate (due by the schedule) replaces it outright, as before.
    c.credentials = Some(Ok(vec![cred("NEW", NOW - 7200)]));
    assert!(
        matches!(
            c.decide(),
            Decision::Recreate {
                cause: ResetCause::Rotate(RotationTrigger::Schedule),
                ..
            }
        ),
        "{:?}",
        c.decide()
    );
}

/// The rotation decision, the wake-up and `status.nextRotationTime` read one list
/// (`schedule::due`): over every combination of the schedule's inputs, each agrees with it.
#[test]
fn the_decision_the_wake_up_and_next_rotation_time_read_one_schedule() {
    let options = |v: [Option<i64>; 3]| v;
    for interval in [None, Some("10m"), Some("1h")] {
        for before_expiry in [None, Some("15m")] {
            for expires in options([None, Some(NOW + 600), Some(NOW + 7200)]) {
                for last_rotation in options([None, Some(NOW - 3000), Some(NOW - 30)]) {
                    for retire_after in options([None, Some(NOW - 5), Some(NOW + 50)]) {
                        let mut c = Observed::test().holding("KEY");
                        let mut key = cred("KEY", NOW - 900);
                        key.expiration_date = expires.map(at);
                        c.credentials = Some(Ok(vec![key.clone()]));
                        c.resource.spec.rotation = Some(RotationSpec {
                            interval: interval.map(Into::into),
                            strategy: RotationStrategy::Reset,
                            grace_period: None,
                            before_expiry: before_expiry.map(Into::into),
                        });
                        c.status.last_rotation_time = last_rotation.map(|t| Time(at(t)));
                        c.status.retire_after = retire_after.map(|t| Time(at(t)));
                        c.status.create_date = Some(Time(key.create_date));
                        c.status.expiration_date = key.expiration_date.map(Time);
                        let observed = &c;
                        let due = schedule::due(&schedule_facts(observed, Some(&key)));
                        let case = format!(
                            "{interval:?} {before_expiry:?} {expires:?} {last_rotation:?} {retire_after:?}: {due:?}"
                        );
                        assert_eq!(
                            wake_at(observed),
                            due.iter().map(|d| d.at).filter(|t| *t > at(NOW)).min(),
                            "{case}"
                        );
                        assert_eq!(
                            next_rotation_at(&c.resource.spec, &c.status),
                            due.iter().filter(|d| d.cause.rotates()).map(|d| d.at).min(),
                            "{case}"
                        );
                        let rotating_now = due.iter().any(|d| d.cause.rotates() && d.at <= at(NOW));
                        assert_eq!(
                            rotation_trigger(observed, &key).is_some(),
                            rotating_now,
                            "{case}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn wakes_up_for_what_becomes_due() {
    let mut c = Observed::test().holding("KEY");
    assert_eq!(wake_at(&c), None);
    let mut key = cred("KEY", NOW - 100);
    key.expiration_date = Some(at(NOW + 1000));
    c.credentials = Some(Ok(vec![key]));
    assert_eq!(wake_at(&c), Some(at(NOW + 1000)));
    c.resource.spec.rotation = Some(RotationSpec {
        interval: Some("10m".into()),
        strategy: RotationStrategy::Reset,
        grace_period: None,
        before_expiry: Some("900s".into()),
    });
    assert_eq!(wake_at(&c), Some(at(NOW + 100)), "renewal before expiry");
    c.status.retire_after = Some(Time(at(NOW + 50)));
    assert_eq!(wake_at(&c), Some(at(NOW + 50)));
    c.status.retire_after = Some(Time(at(NOW - 5)));
    assert_eq!(
        wake_at(&c),
        Some(at(NOW + 100)),
        "past times are not waited for"
    );
}

#[test]
fn api_keys_renew_before_expiry_by_recreating() {
    let mut c = Observed::test().holding("KEY");
    c.resource.spec.service_name = ServiceName::Bedrock;
    c.resource.spec.rotation = Some(RotationSpec {
        interval: None,
        strategy: RotationStrategy::Reset,
        grace_period: None,
        before_expiry: Some("72h".into()),
    });
    let mut key = cred("KEY", NOW - 1000);
    key.expiration_date = Some(at(NOW + 73 * 3600));
    c.credentials = Some(Ok(vec![key.clone()]));
    assert_eq!(reason(&c.decide()), Reason::Available);
    key.expiration_date = Some(at(NOW + 71 * 3600));
    c.credentials = Some(Ok(vec![key.clone()]));
    assert!(
        matches!(c.decide(), Decision::Recreate { .. }),
        "Reset would not extend the expiry"
    );
    // Already expired (the operator was down): renewed too, not "fixed".
    key.status = CredentialStatus::Expired;
    key.expiration_date = Some(at(NOW - 1));
    c.credentials = Some(Ok(vec![key]));
    assert!(matches!(c.decide(), Decision::Recreate { .. }));
}

#[test]
fn workloads_listed_in_the_same_edit_as_a_rotate_request_follow_that_rotation() {
    let mut c = Observed::test().holding("ACCA1");
    c.rollout_restart_enabled = true;
    c.resource.spec.rollout_restart = vec![crate::api::WorkloadRef {
        kind: crate::api::WorkloadKind::Deployment,
        name: "web".into(),
    }];
    c = c.rotate("1");
    c.secret_issued_at = Some("2026-12-01T10:00:00.000Z".into());
    // First the credential they run with now is recorded...
    assert!(matches!(
        c.decide(),
        Decision::FollowCredential {
            restart: WorkloadRestart::FirstCredential,
            ..
        }
    ));
    c.status.workloads_restarted_for = Some("2026-12-01T10:00:00.000Z".into());
    // ...then the rotation, and the workloads follow the new one.
    assert!(matches!(
        c.decide(),
        Decision::Reset {
            cause: ResetCause::Rotate(RotationTrigger::Requested(_)),
            ..
        }
    ));
    c.status.handled_rotate_request = Some("1".into());
    c.secret_issued_at = Some("2026-12-01T10:00:05.000Z".into());
    assert!(matches!(
        c.decide(),
        Decision::FollowCredential {
            restart: WorkloadRestart::Restart,
            ..
        }
    ));
}

#[test]
fn workloads_follow_each_new_credential_but_not_the_first() {
    let mut c = Observed::test().holding("ACCA1");
    c.resource.spec.rollout_restart = vec![crate::api::WorkloadRef {
        kind: crate::api::WorkloadKind::Deployment,
        name: "web".into(),
    }];
    // The first credential the workloads see: recorded, not restarted.
    c.secret_issued_at = Some("2026-12-01T10:00:00.000Z".into());
    let follow = |c: &Observed| match c.decide() {
        Decision::FollowCredential {
            issued_at, restart, ..
        } => Some((issued_at, restart)),
        _ => None,
    };
    assert_eq!(
        follow(&c),
        Some((
            "2026-12-01T10:00:00.000Z".into(),
            WorkloadRestart::FirstCredential
        ))
    );
    c.status.workloads_restarted_for = Some("2026-12-01T10:00:00.000Z".into());
    assert_eq!(reason(&c.decide()), Reason::Available, "already followed");
    // A new credential: restarted where enabled, a warning where not.
    c.secret_issued_at = Some("2026-12-01T11:00:00.000Z".into());
    assert_eq!(follow(&c).unwrap().1, WorkloadRestart::Disabled);
    c.rollout_restart_enabled = true;
    assert_eq!(follow(&c).unwrap().1, WorkloadRestart::Restart);
    // What the namespace wrote into the annotation is never copied into a workload (the
    // digest makes such a Secret one to repair; this is the second line of defence).
    for forged in [
        "not a time; rm -rf /",
        "2026-12-01T11:00:00Z[a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]",
        "2026-12-01T11:00:00+00:00",
    ] {
        c.secret_issued_at = Some(forged.into());
        assert_eq!(reason(&c.decide()), Reason::Available, "{forged}");
    }
    // A Recreate's old credential retires only after the workloads followed the new one.
    c.secret_issued_at = Some("2026-12-01T13:00:00.000Z".into());
    c.status.retiring_credential_id = Some("ACCA0".into());
    c.status.retire_after = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(
        NOW - 1,
    )));
    assert_eq!(follow(&c).unwrap().1, WorkloadRestart::Restart);
    c.status.workloads_restarted_for = Some("2026-12-01T13:00:00.000Z".into());
    assert!(matches!(c.decide(), Decision::Retire { .. }));
    c.status.retiring_credential_id = None;
    // A Secret from before issued-at: recorded as unknown, so the next one restarts.
    c.status.workloads_restarted_for = None;
    c.secret_issued_at = None;
    assert_eq!(
        follow(&c),
        Some((
            ISSUED_BEFORE_RECORDED.into(),
            WorkloadRestart::FirstCredential
        ))
    );
    c.status.workloads_restarted_for = Some(ISSUED_BEFORE_RECORDED.into());
    assert_eq!(reason(&c.decide()), Reason::Available);
    c.secret_issued_at = Some("2026-12-01T14:00:00.000Z".into());
    assert_eq!(follow(&c).unwrap().1, WorkloadRestart::Restart);
    // Without workloads to restart, nothing happens.
    c.secret_issued_at = Some("2026-12-01T12:00:00.000Z".into());
    c.resource.spec.rollout_restart.clear();
    assert_eq!(reason(&c.decide()), Reason::Available);
}
