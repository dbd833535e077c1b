//! Scripts that issue a credential: create, recreate and reset, and the delivery of
//! its one-time secret to the Secret before status names it.

use super::*;

/// Proven current → intent in the record → IAM Create → the record names it → Secret → status
/// names it, Ready (see `plan`'s crash safety).
pub(super) fn create(
    steps: &mut Steps,
    observed: &Observed,
    replaces: Option<String>,
    existing: Vec<String>,
) -> Reason {
    let mut intent = Vec::new();
    if replaces.is_some() {
        intent.push(StatusEdit::ForgetCredential);
    }
    intent.push(StatusEdit::RecordIntent { existing });
    steps.push(Step::ProveCurrent);
    steps.push(Step::WriteRecord(intent));
    if let Some(old) = &replaces {
        steps.publish(PlannedEvent::warning(
            "CredentialRecreated",
            "CreateCredential",
            format!(
                "IAM credential {old} no longer exists (deleted out of band); creating a new one"
            ),
        ));
    }
    steps.push(Step::Iam(IamStep {
        call: create_call(observed),
        announce: None,
        if_gone: IfGone::Failed,
        if_failed: IfFailed::ReportCreate {
            list_on_limit: true,
        },
    }));
    let recorded = vec![
        StatusEdit::IssuedCredential,
        StatusEdit::ClearIntent,
        StatusEdit::SlotsUsed(slots_after_create(observed)),
    ];
    deliver_issued(steps, observed, recorded);
    steps.publish(PlannedEvent {
        warning: false,
        reason: "CredentialCreated",
        action: "CreateCredential",
        note: Note::Created {
            secret: observed.secret_name.to_string(),
        },
    });
    Reason::Available
}

/// For a credential not yet in status (created or adopted): the record names it first, so it
/// is this resource's before its secret goes anywhere; then the Secret, and status names it.
/// A rotation's record of what it handled (the request, the retirement) is no ownership the
/// record keeps: status says it before the Secret too, or a crash in between would rotate
/// again for the same request.
pub(super) fn deliver_issued(steps: &mut Steps, observed: &Observed, recorded: Vec<StatusEdit>) {
    if recorded
        .iter()
        .any(|edit| matches!(edit, StatusEdit::StartRetirement { .. }))
    {
        let writing = format!("writing Secret {}", observed.secret_name);
        steps.status(record(recorded, Reason::Rotating, writing));
    } else {
        steps.push(Step::WriteRecord(recorded));
    }
    // The Secret refused (a quota, an admission policy): status says so, naming the credential
    // the record holds; the next pass repairs it, with backoff.
    let if_failed = write(
        Vec::new(),
        Reason::Creating,
        format!(
            "issued a new secret but could not write Secret {}; retrying",
            observed.secret_name
        ),
    );
    deliver(steps, observed, Vec::new(), Some(if_failed), None);
}

/// The Secret with the issued secret (the rotate request it `answers`, if any, noted by `act`
/// for a pass after a lost status write), then the status naming the credential, Ready.
pub(super) fn deliver(
    steps: &mut Steps,
    observed: &Observed,
    adjust: Vec<StatusEdit>,
    if_failed: Option<StatusWrite>,
    answers: Option<String>,
) {
    steps.push(Step::WriteSecret(SecretWrite {
        material: SecretMaterial::Issued {
            issued_at: crate::secret::format_issued_at(observed.now),
            answers,
        },
        if_failed,
    }));
    if observed.old_secret {
        steps.push(Step::DeleteOldSecret);
    }
    let mut edits = vec![StatusEdit::IssuedCredential];
    edits.extend(adjust);
    edits.push(StatusEdit::SecretName(observed.secret_name.to_string()));
    steps.status(record(edits, Reason::Available, String::new()));
}

/// Recreate rotation: a new credential in the free slot, then the Secret, then status naming
/// the new one and `old` as retiring. Crash-safe like `create` (see
/// `plan::resume_interrupted_rotation`).
pub(super) fn recreate(
    steps: &mut Steps,
    observed: &Observed,
    old: &CredentialMetadata,
    existing: Vec<String>,
) -> Reason {
    steps.push(Step::ProveCurrent);
    steps.push(Step::WriteRecord(vec![StatusEdit::RecordIntent {
        existing,
    }]));
    steps.push(Step::Iam(IamStep {
        call: create_call(observed),
        announce: None,
        if_gone: IfGone::Failed,
        if_failed: IfFailed::ReportCreate {
            list_on_limit: false,
        },
    }));
    let grace = grace_period(observed);
    // A requested rotation is the rotate annotation's value: recorded as handled with it.
    let recorded = vec![
        StatusEdit::IssuedCredential,
        StatusEdit::ClearIntent,
        StatusEdit::StartRetirement {
            old: old.id.clone(),
            grace,
            handled_request: observed.rotate_request().map(str::to_string),
        },
        StatusEdit::SlotsUsed(slots_after_create(observed)),
    ];
    deliver_issued(steps, observed, recorded);
    steps.publish(PlannedEvent {
        warning: false,
        reason: "CredentialRotated",
        action: "CreateCredential",
        note: Note::Replaced {
            old: old.id.clone(),
            grace,
        },
    });
    Reason::Available
}

pub(super) fn reset(
    steps: &mut Steps,
    observed: &Observed,
    credential: &CredentialMetadata,
    cause: &ResetCause,
) -> Reason {
    let spec = observed.spec();
    steps.push(Step::Iam(IamStep {
        call: IamCall::Reset {
            user: spec.user_name.clone(),
            id: credential.id.clone(),
        },
        announce: None,
        // Vanished between List and Reset: observe again right away.
        if_gone: IfGone::EndPass(Reason::Creating),
        if_failed: IfFailed::Report,
    }));
    let mut adjust = vec![StatusEdit::ClearIntent];
    match cause {
        ResetCause::Rotate(trigger) => adjust.push(StatusEdit::Rotated {
            handled_request: match trigger {
                RotationTrigger::Requested(request) => Some(request.clone()),
                RotationTrigger::Schedule => None,
            },
        }),
        ResetCause::AdoptRotation { old } => adjust.push(StatusEdit::StartRetirement {
            old: old.clone(),
            grace: grace_period(observed),
            handled_request: observed.rotate_request().map(str::to_string),
        }),
        ResetCause::Adopt | ResetCause::AdoptRequested | ResetCause::SecretLost => {}
    }
    if reset_adopts(cause) {
        let mut recorded = vec![StatusEdit::IssuedCredential];
        recorded.extend(adjust);
        deliver_issued(steps, observed, recorded);
    } else {
        // The Reset killed the secret the Secret still holds: until the new one is there, the
        // resource is not Ready (the retry resets again; this secret reached no one).
        let killed_held = observed.status.credential_id.as_deref() == Some(credential.id.as_str());
        let if_failed = killed_held.then(|| {
            write(
                Vec::new(),
                Reason::Creating,
                format!(
                    "reset IAM credential {} but could not write Secret {}; retrying",
                    credential.id, observed.secret_name
                ),
            )
        });
        let answers = match cause {
            ResetCause::Rotate(RotationTrigger::Requested(request)) => Some(request.clone()),
            _ => None,
        };
        deliver(steps, observed, adjust, if_failed, answers);
    }
    steps.publish(reset_event(cause, &credential.id, &observed.secret_name));
    Reason::Available
}
