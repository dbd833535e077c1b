//! Scripts for a held credential and its end: status, a Secret rewrite, retirement,
//! revocation, following another credential, and cleanup on deletion.

use super::*;

pub(super) fn update_status(
    steps: &mut Steps,
    observed: &Observed,
    credential: &CredentialMetadata,
    desired: DesiredStatus,
) -> Reason {
    steps.push(Step::Iam(IamStep {
        call: IamCall::SetStatus {
            user: observed.spec().user_name.clone(),
            id: credential.id.clone(),
            active: desired == DesiredStatus::Active,
        },
        announce: Some(PlannedEvent::normal(
            "CredentialStatusUpdated",
            "UpdateCredential",
            format!(
                "set IAM credential {} to {} (IAM reported {})",
                credential.id,
                desired.as_str(),
                credential.status.as_str()
            ),
        )),
        if_gone: IfGone::EndPass(Reason::Creating),
        if_failed: IfFailed::Report,
    }));
    let mut updated = credential.clone();
    updated.status = match desired {
        DesiredStatus::Active => CredentialStatus::Active,
        DesiredStatus::Inactive => CredentialStatus::Inactive,
    };
    steps.status(write(
        naming(observed, &updated),
        Reason::Available,
        String::new(),
    ));
    Reason::Available
}

/// The Secret again from the credential it already holds (template or name changed).
pub(super) fn rewrite_secret(
    steps: &mut Steps,
    observed: &Observed,
    credential: &CredentialMetadata,
) -> Reason {
    let in_current = crate::reconcile::plan::secret_holds(observed, credential);
    steps.push(Step::WriteSecret(SecretWrite {
        material: SecretMaterial::Copy {
            from: if in_current {
                SecretSource::Current
            } else {
                SecretSource::Old
            },
            id: credential.id.clone(),
        },
        if_failed: None,
    }));
    if observed.old_secret {
        steps.push(Step::DeleteOldSecret);
    }
    let mut edits = naming(observed, credential);
    edits.push(StatusEdit::SecretName(observed.secret_name.to_string()));
    steps.status(write(edits, Reason::Available, String::new()));
    Reason::Available
}

pub(super) fn retire(steps: &mut Steps, observed: &Observed, id: String) -> Reason {
    let told = format!("deleted the previous IAM credential {id} after its grace period");
    steps.push(deletion(
        observed,
        &id,
        ("CredentialRetired", told),
        IfGone::Done,
        IfFailed::Report,
    ));
    steps.status(write(
        vec![StatusEdit::Retired],
        Reason::Available,
        String::new(),
    ));
    Reason::Available
}

/// The namespace lost the right to the user: the credential is made Inactive (or deleted), and
/// the resource reports NotPermitted saying so.
pub(super) fn revoke(
    steps: &mut Steps,
    observed: &Observed,
    credential: &CredentialMetadata,
    delete: bool,
    refusal: String,
) -> Reason {
    let id = &credential.id;
    let retiring = observed.status.retiring_credential_id.as_ref() == Some(id);
    let (call, done, edits) = if delete {
        let edits = if retiring {
            vec![StatusEdit::Retired]
        } else {
            vec![StatusEdit::ForgetCredential]
        };
        let call = IamCall::Delete {
            user: observed.spec().user_name.clone(),
            id: id.clone(),
        };
        (call, "deleted", edits)
    } else {
        let mut updated = credential.clone();
        updated.status = CredentialStatus::Inactive;
        let edits = if retiring {
            Vec::new()
        } else {
            vec![StatusEdit::Credential(updated)]
        };
        let call = IamCall::SetStatus {
            user: observed.spec().user_name.clone(),
            id: id.clone(),
            active: false,
        };
        (call, "made Inactive", edits)
    };
    steps.push(Step::Iam(IamStep {
        call,
        announce: Some(PlannedEvent::warning(
            "CredentialRevoked",
            "RevokeCredential",
            format!(
                "the namespace may no longer use IAM user {}: credential {id} {done}",
                observed.spec().user_name
            ),
        )),
        if_gone: IfGone::Done,
        if_failed: IfFailed::Report,
    }));
    let message = if delete {
        format!("{refusal}; IAM credential {id} was deleted")
    } else {
        format!(
            "{refusal}; IAM credential {id} is Inactive until the namespace may use the user again"
        )
    };
    steps.status(record(edits, Reason::NotPermitted, message));
    Reason::NotPermitted
}

/// Workloads follow the credential the Secret holds; `issued_at` is then recorded. Told once it
/// is recorded: a pass repeated on a stale copy patches again (the same value, no new rollout)
/// but does not say so twice.
pub(super) fn follow_credential(
    steps: &mut Steps,
    observed: &Observed,
    credential: &CredentialMetadata,
    slots_used: usize,
    issued_at: String,
    restart: WorkloadRestart,
) -> Reason {
    let mut edits = Vec::new();
    let mut tell = None;
    match restart {
        WorkloadRestart::Restart => {
            steps.push(Step::RestartWorkloads {
                issued_at: issued_at.clone(),
            });
            // The previous credential (Recreate) stays valid for the grace period after the
            // restart, not only after the swap: the new pods need it to come up.
            if observed.status.retiring_credential_id.is_some() {
                let grace =
                    jiff::SignedDuration::try_from(grace_period(observed)).unwrap_or_default();
                let until = observed.now.checked_add(grace).unwrap_or(observed.now);
                if observed
                    .status
                    .retire_after
                    .as_ref()
                    .is_none_or(|t| t.0 < until)
                {
                    edits.push(StatusEdit::RetireNoEarlierThan(until));
                }
            }
            tell = Some(Step::TellRestarts {
                issued_at: issued_at.clone(),
            });
        }
        WorkloadRestart::Disabled => {
            tell = Some(Step::Publish(PlannedEvent::warning(
                "RolloutRestartDisabled",
                "RolloutRestart",
                "spec.rolloutRestart lists workloads, but this installation does not restart workloads (the operator runs without --rollout-restart): restart them yourself to pick up the new credential".into(),
            )));
        }
        WorkloadRestart::FirstCredential => {}
    }
    let mut named = naming(observed, credential);
    named.append(&mut edits);
    named.push(StatusEdit::SlotsUsed(Some(slots_used as i32)));
    named.push(StatusEdit::WorkloadsRestartedFor(issued_at));
    steps.status(write(named, Reason::Available, String::new()));
    if let Some(tell) = tell {
        steps.push(tell);
    }
    Reason::Available
}

/// The steps of a deletion: the Secrets of a retained credential released, then each credential
/// [`crate::reconcile::plan::decide_cleanup`] names deleted (the observation proven current
/// first: deleting what a stale copy names could leak the credential a newer status holds).
pub(crate) fn for_cleanup(
    observed: &Observed,
    retain: Option<String>,
    delete: Vec<String>,
) -> Script {
    let mut steps = Steps::new(observed);
    if let Some(id) = retain {
        steps.push(Step::ReleaseSecrets {
            credential_id: id.clone(),
        });
        steps.publish(PlannedEvent::normal(
            "CredentialRetained",
            "DeleteCredential",
            format!(
                "deletionPolicy Retain: IAM credential {id} is kept, and Secret {} with it",
                observed.secret_name
            ),
        ));
    }
    if !delete.is_empty() {
        steps.push(Step::ProveCurrent);
    }
    for id in delete {
        let told = format!("deleted IAM credential {id}");
        steps.push(deletion(
            observed,
            &id,
            ("CredentialDeleted", told),
            IfGone::DoneQuietly,
            IfFailed::FailDeleting,
        ));
    }
    let mut script = steps.finish(observed, Reason::Deleting, Class::Urgent);
    script.wake_at = None;
    script
}
