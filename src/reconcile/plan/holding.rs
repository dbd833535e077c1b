//! Deciding for a resource that holds a credential: repair, expiry, rotation and its
//! schedule.

use super::*;

pub(super) fn decide_with_credential(
    observed: &Observed,
    credential: &CredentialMetadata,
    credentials: &[CredentialMetadata],
) -> Decision {
    let slots_used = credentials.len();
    let report = |reason, message: String| Decision::Report {
        reason,
        message,
        credential: Some(credential.clone()),
        slots_used: Some(slots_used),
    };
    if let Some(resume) = resume_interrupted_rotation(observed, credential, credentials) {
        return resume;
    }
    let status = &observed.status;

    let rotation = rotation_trigger(observed, credential);
    let recreate = rotation.as_ref().is_some_and(|(_, recreate)| *recreate);
    if let Some(message) = expiry(observed, credential)
        && !recreate
    {
        return report(Reason::Expired, message);
    }

    let secret_holds_it = secret_holds(observed, credential);
    let movable = observed.old_secret_credential.as_deref() == Some(credential.id.as_str());
    // Workloads follow the credential the Secret holds before anything else happens, the
    // retirement of the one they may still use included.
    if secret_holds_it && let Some(follow) = follow_credential(observed, credential, slots_used) {
        return follow;
    }
    // The previous credential retires only once the Secret holds the current one: until then it
    // may be the only one that works.
    if let Some(retiring) = &status.retiring_credential_id
        && secret_holds_it
        && status
            .retire_after
            .as_ref()
            .is_none_or(|after| after.0 <= observed.now)
    {
        return Decision::Retire {
            id: retiring.clone(),
        };
    }
    // The Secret does not hold the current credential. A Recreate due now would replace it
    // outright, unless it cannot run: a retirement under way waits for the Secret to hold the
    // current credential (a Recreate cut off after the record named its credential, before
    // status or the Secret did), and without a free slot it waits for one. The current one's
    // secret reached no one: a Reset delivers it, and answers a requested rotation too. A
    // scheduled one stays a repair (an API key's renewal stays due after a Reset), so its
    // backoff holds against a Secret deleted over and over.
    let recreate_blocked = status.retiring_credential_id.is_some()
        || credentials.len() >= CREDENTIALS_PER_USER_PER_SERVICE;
    if !secret_holds_it && !movable && (!recreate || recreate_blocked) {
        return Decision::Reset {
            credential: credential.clone(),
            cause: match rotation {
                Some((cause @ ResetCause::Rotate(RotationTrigger::Requested(_)), _)) => cause,
                _ => ResetCause::SecretLost,
            },
        };
    }

    if let Some((cause, recreate)) = rotation {
        return decide_rotation(observed, credential, credentials, cause, recreate);
    }

    if credential.status.as_str() != observed.spec().status.as_str() {
        return Decision::UpdateStatus {
            credential: credential.clone(),
            desired: observed.spec().status,
        };
    }

    let up_to_date = matches!(
        observed.secret,
        SecretObservation::Owned {
            up_to_date: true,
            ..
        }
    );
    if !secret_holds_it || !up_to_date {
        return Decision::RewriteSecret {
            credential: credential.clone(),
        };
    }
    let message = match (&status.retiring_credential_id, &status.retire_after) {
        (Some(id), Some(after)) => format!("previous credential {id} is deleted at {}", after.0),
        _ => String::new(),
    };
    report(Reason::Available, message)
}

/// Why an API key no longer works, when it expired. Never "fixed" by setting it Active: an
/// expired key stays expired.
pub(super) fn expiry(observed: &Observed, credential: &CredentialMetadata) -> Option<String> {
    let expired = credential.status == CredentialStatus::Expired
        || credential
            .expiration_date
            .is_some_and(|e| e <= observed.now);
    expired.then(|| {
        format!(
            "API key {} expired at {}; set spec.rotation.beforeExpiry to renew keys automatically, or delete the credential to get a new one",
            credential.id,
            credential
                .expiration_date
                .map(|e| e.to_string())
                .unwrap_or_else(|| "an unknown time".into())
        )
    })
}

/// Whether our Secret under the current name holds `credential`, intact.
pub(crate) fn secret_holds(observed: &Observed, credential: &CredentialMetadata) -> bool {
    matches!(
        &observed.secret,
        SecretObservation::Owned {
            credential_id: Some(secret_id),
            intact: true,
            ..
        } if *secret_id == credential.id
    )
}

/// A rotation is due for `credential`: a Reset, or a Recreate once the previous credential has
/// retired and a slot is free.
pub(super) fn decide_rotation(
    observed: &Observed,
    credential: &CredentialMetadata,
    credentials: &[CredentialMetadata],
    cause: ResetCause,
    recreate: bool,
) -> Decision {
    let report = |reason, message: String| Decision::Report {
        reason,
        message,
        credential: Some(credential.clone()),
        slots_used: Some(credentials.len()),
    };
    if !recreate {
        return Decision::Reset {
            credential: credential.clone(),
            cause,
        };
    }
    if let Some(retiring) = &observed.status.retiring_credential_id {
        return report(
            Reason::Available,
            format!("rotation waits until the previous credential {retiring} retires"),
        );
    }
    if credentials.len() >= CREDENTIALS_PER_USER_PER_SERVICE {
        return report(
            Reason::LimitExceeded,
            format!(
                "rotation by Recreate needs a free slot: {}",
                limit_message(observed, credentials)
            ),
        );
    }
    Decision::Recreate {
        old: credential.clone(),
        cause,
        existing: credentials.iter().map(|c| c.id.clone()).collect(),
    }
}

/// What `status.workloadsRestartedFor` records for a Secret written before the issued-at
/// existed: the next credential is then a new one for the workloads.
pub(crate) const ISSUED_BEFORE_RECORDED: &str = "unknown";

/// Whether the `rolloutRestart` workloads must follow the credential the Secret holds. Only a
/// time in the operator's own format is ever written into a workload (and the digest covers it:
/// an edited issued-at is a Secret to repair, not a restart).
pub(super) fn follow_credential(
    observed: &Observed,
    credential: &CredentialMetadata,
    slots_used: usize,
) -> Option<Decision> {
    if observed.spec().rollout_restart.is_empty() {
        return None;
    }
    let recorded = observed.status.workloads_restarted_for.as_deref();
    let issued_at = match observed.secret_issued_at.as_deref() {
        Some(at) if crate::secret::is_issued_at(at) => at,
        Some(_) => return None,
        None if recorded.is_none() => ISSUED_BEFORE_RECORDED,
        None => return None,
    };
    if recorded == Some(issued_at) {
        return None;
    }
    let restart = if recorded.is_none() {
        WorkloadRestart::FirstCredential
    } else if observed.rollout_restart_enabled {
        WorkloadRestart::Restart
    } else {
        WorkloadRestart::Disabled
    };
    Some(Decision::FollowCredential {
        credential: credential.clone(),
        slots_used,
        issued_at: issued_at.to_string(),
        restart,
    })
}

/// A Recreate rotation was interrupted between its Create and the status write naming the new
/// credential (status still names the current one, with the intent marker). The credential that
/// is provably that Create's is adopted with a Reset, and the current one then retires; when
/// the proof fails the ambiguity is reported and nothing is touched. Without a candidate the
/// Create never happened.
pub(super) fn resume_interrupted_rotation(
    observed: &Observed,
    current: &CredentialMetadata,
    credentials: &[CredentialMetadata],
) -> Option<Decision> {
    observed.status.create_requested_at.as_ref()?;
    let mut exclude = vec![current.id.as_str()];
    exclude.extend(observed.status.retiring_credential_id.as_deref());
    match adoption_candidates(observed, credentials, &exclude).as_slice() {
        [] => None,
        _ if !observed.claims_complete => Some(Decision::Report {
            reason: Reason::Rotating,
            message: WAITING_FOR_CACHES.into(),
            credential: Some(current.clone()),
            slots_used: Some(credentials.len()),
        }),
        [orphan] => Some(Decision::Reset {
            credential: (*orphan).clone(),
            cause: ResetCause::AdoptRotation {
                old: current.id.clone(),
            },
        }),
        several => Some(Decision::Report {
            reason: Reason::AdoptionAmbiguous,
            message: format!(
                "an interrupted rotation may have made one of {}, but which one cannot be proven; none is touched",
                several
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            credential: Some(current.clone()),
            slots_used: Some(credentials.len()),
        }),
    }
}

/// Whether a rotation is due, with its cause and whether it recreates (strategy Recreate, or an
/// API key nearing its expiry, which a Reset would not extend).
pub(super) fn rotation_trigger(
    observed: &Observed,
    credential: &CredentialMetadata,
) -> Option<(ResetCause, bool)> {
    let rotation = observed.spec().rotation.as_ref();
    let recreate = rotation.is_some_and(|r| r.strategy == RotationStrategy::Recreate);
    if let Some(request) = observed.rotate_request()
        && observed.status.handled_rotate_request.as_deref() != Some(request)
        && answered_unrecorded(observed).is_none()
    {
        return Some((
            ResetCause::Rotate(RotationTrigger::Requested(request.to_string())),
            recreate,
        ));
    }
    let due = schedule::due(&schedule_facts(observed, Some(credential)));
    match schedule::rotation_due(&due, observed.now)? {
        schedule::Cause::Renewal => Some((ResetCause::Rotate(RotationTrigger::Schedule), true)),
        _ => Some((ResetCause::Rotate(RotationTrigger::Schedule), recreate)),
    }
}

/// A rotate request this process answered with a Reset of the credential status names, whose
/// password our intact Secret holds (its issued-at is that Reset's), while status does not record
/// it as handled: the status write after it was lost (a partition, an error; or the answer to
/// the Secret write, though it landed). Recorded with the next status write, not answered again:
/// a second Reset would kill the password the workloads just got. Kept in the process's memory
/// only, nothing a tenant can write: after a restart or a change of leader such a request is
/// answered a second time.
pub(crate) fn answered_unrecorded(observed: &Observed) -> Option<&Answered> {
    let answered = observed.answered.as_ref()?;
    (answered.unrecorded_in(&observed.status, observed.rotate_request())
        && observed.secret_issued_at.as_deref() == Some(answered.issued_at.as_str()))
    .then_some(answered)
}

/// What the schedule reads of a pass's observation, `credential` the one held as IAM lists it.
pub(super) fn schedule_facts<'a>(
    observed: &'a Observed,
    credential: Option<&'a CredentialMetadata>,
) -> schedule::Facts<'a> {
    schedule::Facts {
        spec: observed.spec(),
        // A rotation status does not show yet counts (it would be due again at once).
        last_rotation: observed
            .status
            .last_rotation_time
            .as_ref()
            .map(|t| t.0)
            .max(answered_unrecorded(observed).map(|a| a.at)),
        retire_after: observed.status.retire_after.as_ref().map(|t| t.0),
        held: credential.map(|c| schedule::Held {
            created: c.create_date,
            expires: c.expiration_date,
        }),
    }
}

/// The next moment something becomes due without any change in Kubernetes (see
/// [`schedule::due`]). The reconcile loop looks again then, rather than at the next resync.
pub(crate) fn wake_at(observed: &Observed) -> Option<Timestamp> {
    let id = owned_id(observed);
    let credential = match &observed.credentials {
        Some(Ok(list)) => list.iter().find(|c| Some(c.id.as_str()) == id),
        _ => None,
    };
    schedule::next_wake(
        &schedule::due(&schedule_facts(observed, credential)),
        observed.now,
    )
}
