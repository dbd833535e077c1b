//! What a pass does, as data: the steps that carry a [`Decision`] out, in the order that keeps
//! the one-time secret safe (see [`crate::reconcile::plan`]), with what each failure means.
//! Pure: [`for_decision`] and [`for_cleanup`] only read the observation; `act` runs the steps.
//!
//! What a step cannot know in advance — the credential an IAM call issues, the time of a write,
//! an error's text — it names ([`StatusEdit::IssuedCredential`], [`Note::Created`], …) and `act`
//! fills in.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{DesiredStatus, ServiceSpecificCredentialStatus};
use crate::fair::Class;
use crate::iam::{CredentialMetadata, CredentialStatus};
use crate::reconcile::conditions::Reason;
use crate::reconcile::plan::{
    Decision, Observed, ResetCause, RotationTrigger, SecretObservation, WorkloadRestart,
    intent_settled,
};

/// Everything one pass does after observing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Script {
    pub steps: Vec<Step>,
    /// The Ready reason the pass ends with when every step succeeds.
    pub outcome: Reason,
    /// How urgent its IAM calls are (the order they get their account's budget in).
    pub class: Class,
    /// Whether the pass repairs a Secret that went missing or was edited (a Reset its
    /// resource's repair backoff counts).
    pub repairs_secret: bool,
    /// When something becomes due without any change in Kubernetes (a retirement, a rotation, an
    /// expiry): the pass is repeated then at the latest.
    pub wake_at: Option<Timestamp>,
}

/// One thing a pass does. `act` runs them in order and stops at the first that fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Proves the observed resource current: a no-op status patch conditioned on its
    /// resourceVersion (409 Conflict from a stale cached copy). Skipped once a conditioned
    /// status write of this pass succeeded, which proved it already.
    ProveCurrent,
    /// Sends the Secret this resource would write, with placeholder material, as a server-side
    /// dry run. When the API server refuses it (someone else's Secret took the name, or it is
    /// invalid, too large, immutable, in a terminating namespace), the refusal is reported as
    /// Ready (with its Event when the reason changes) and the pass ends: nothing is asked of IAM.
    PreflightSecret,
    WriteStatus(StatusWrite),
    /// Writes `edits` into the operator's record only (the base of the pass's next status write,
    /// which shows them). The record is what crash safety rests on — an intent before the Create,
    /// the id before the Secret — and the API server costs one write less per step than also
    /// showing each in status.
    WriteRecord(Vec<StatusEdit>),
    Iam(IamStep),
    WriteSecret(SecretWrite),
    /// Deletes our Secret under the name status records (spec.secret.name moved away from it).
    DeleteOldSecret,
    /// `deletionPolicy: Retain`: our Secrets (current and old name) lose our ownerReference and
    /// label, and say where they came from.
    ReleaseSecrets {
        credential_id: String,
    },
    /// Sets each `spec.rolloutRestart` workload's restartedAt to `issued_at`. Missing or invalid
    /// workloads are skipped (told by [`Step::TellRestarts`]); a refusal of the operator's rights
    /// is told at once and fails the pass.
    RestartWorkloads {
        issued_at: String,
    },
    /// Tells what [`Step::RestartWorkloads`] did, once it is recorded.
    TellRestarts {
        issued_at: String,
    },
    Publish(PlannedEvent),
}

/// A status write: `edits` over the status last written in this pass (at first, the observed
/// one), with Ready set to `reason` and `message`. Sent as a merge patch conditioned on the
/// resourceVersion; nothing is sent when the status would not change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StatusWrite {
    pub edits: Vec<StatusEdit>,
    pub reason: Reason,
    pub message: String,
    /// The write records an IAM write already done: it must land. A 409 then only means the
    /// object moved on meanwhile (the decision was proven current before the IAM write), and the
    /// patch is sent again on the current version.
    pub records_iam_write: bool,
}

/// One change to the status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StatusEdit {
    /// Names this credential (id, login, alias, IAM status, dates).
    Credential(CredentialMetadata),
    /// Names the credential this pass's IAM call issued.
    IssuedCredential,
    /// Names no credential (the one named vanished).
    ForgetCredential,
    /// The intent to create, before IAM holds anything: the time of the write and the ids that
    /// exist now, none of which can be the new one (see `plan::adoption_candidates`).
    RecordIntent {
        existing: Vec<String>,
    },
    /// Drops the intent marker and its ids.
    ClearIntent,
    /// Drops the intent's time only: it has nothing left to protect (`plan::intent_settled`).
    SettleIntent,
    SlotsUsed(Option<i32>),
    /// `old` retires `grace` after the IAM call of this pass answered, the rotation's time.
    StartRetirement {
        old: String,
        grace: Duration,
        handled_request: Option<String>,
    },
    /// A rotation by Reset, done when the IAM call of this pass answered.
    Rotated {
        handled_request: Option<String>,
    },
    /// The previous credential does not retire before this time.
    RetireNoEarlierThan(Timestamp),
    /// The previous credential is gone.
    Retired,
    SecretName(String),
    WorkloadsRestartedFor(String),
}

/// An IAM call and what its failures mean.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IamStep {
    pub call: IamCall,
    /// Published right after the call succeeds.
    pub announce: Option<PlannedEvent>,
    pub if_gone: IfGone,
    pub if_failed: IfFailed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IamCall {
    Create {
        user: String,
        service: String,
        age_days: Option<i32>,
    },
    Reset {
        user: String,
        id: String,
    },
    SetStatus {
        user: String,
        id: String,
        active: bool,
    },
    Delete {
        user: String,
        id: String,
    },
}

/// What an answer of "no such credential" (CredentialNotFound) means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IfGone {
    /// A failure like any other ([`IfFailed`]).
    Failed,
    /// The pass ends with this reason and writes nothing: the next pass observes again.
    EndPass(Reason),
    /// What the call was for is done: go on, [`IamStep::announce`] included.
    Done,
    /// Done, also when the user is gone (UserNotFound): go on, without the announcement.
    DoneQuietly,
}

/// What any other failure of the call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IfFailed {
    /// Reports the error as Ready (its reason and text) and ends the pass.
    Report,
    /// A failed Create: reported, and the intent marker is cleared when IAM answered a definite
    /// no (nothing was created; a timeout or a 5xx may hide a Create that took effect). With
    /// `list_on_limit`, LimitExceeded lists the user again and reports who holds the slots.
    ReportCreate { list_on_limit: bool },
    /// Reports Deleting with the error and fails the pass (the finalizer stays).
    FailDeleting,
}

/// The Secret write of a pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SecretWrite {
    pub material: SecretMaterial,
    /// Written (with Ready `Creating`) when the Secret write fails, before the pass fails: a
    /// Reset killed the secret the Secret still holds.
    pub if_failed: Option<StatusWrite>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SecretMaterial {
    /// The secret this pass's IAM call issued, issued at `issued_at`.
    Issued { issued_at: String },
    /// Copied, with its issue time, from our Secret that holds credential `id`. When that Secret
    /// turns out not to hold it, the pass ends as `Creating` and the next one observes again.
    Copy { from: SecretSource, id: String },
}

/// Which of our Secrets holds the material to copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SecretSource {
    /// The one under the current name.
    Current,
    /// The one under the name status records.
    Old,
}

/// An Event a pass publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlannedEvent {
    pub warning: bool,
    pub reason: &'static str,
    pub action: &'static str,
    pub note: Note,
}

/// An Event's text; never secret material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Note {
    Text(String),
    /// "created IAM credential NEW (LOGIN) and wrote Secret `secret`".
    Created {
        secret: String,
    },
    /// "created IAM credential NEW to replace `old` (Recreate); …".
    Replaced {
        old: String,
        grace: Duration,
    },
}

impl Note {
    /// The text, naming `issued` (the credential this pass's IAM call issued) where it says so.
    pub(crate) fn text(&self, issued: Option<&CredentialMetadata>) -> String {
        let id = issued.map_or("?", |c| c.id.as_str());
        match self {
            Note::Text(text) => text.clone(),
            Note::Created { secret } => format!(
                "created IAM credential {id} ({}) and wrote Secret {secret}",
                issued.map_or("?", |c| c.login())
            ),
            Note::Replaced { old, grace } => format!(
                "created IAM credential {id} to replace {old} (Recreate); {old} stays valid for {}s",
                grace.as_secs()
            ),
        }
    }
}

impl PlannedEvent {
    fn normal(reason: &'static str, action: &'static str, note: String) -> Self {
        PlannedEvent {
            warning: false,
            reason,
            action,
            note: Note::Text(note),
        }
    }

    pub(crate) fn warning(reason: &'static str, action: &'static str, note: String) -> Self {
        PlannedEvent {
            warning: true,
            ..PlannedEvent::normal(reason, action, note)
        }
    }
}

/// The Event of a status write that changes the Ready reason from `previous` into a failure or
/// out of one; none otherwise.
pub(crate) fn ready_transition(
    previous: Option<&str>,
    reason: Reason,
    message: &str,
) -> Option<PlannedEvent> {
    if previous == Some(reason.as_str()) {
        return None;
    }
    // Progress (Creating, Rotating, Available after either) is what status and the pass's own
    // Event (CredentialCreated, CredentialRotated, …) tell: an Event of its own only repeats it.
    let recovering = previous
        .and_then(Reason::from_name)
        .is_some_and(Reason::is_warning);
    if !reason.is_warning() && !recovering {
        return None;
    }
    let note = if message.is_empty() {
        format!("Ready: {reason}")
    } else {
        message.to_string()
    };
    Some(PlannedEvent {
        warning: reason.is_warning(),
        reason: reason.as_str(),
        action: "Reconcile",
        note: Note::Text(note),
    })
}

/// What a Reset for `cause` tells (`credential` is the one reset, `secret` the Secret's name).
pub(crate) fn reset_event(cause: &ResetCause, credential: &str, secret: &str) -> PlannedEvent {
    let action = "ResetCredential";
    match cause {
        ResetCause::Adopt => PlannedEvent::normal(
            "CredentialAdopted",
            action,
            format!(
                "adopted IAM credential {credential} left by an interrupted create and reset its secret"
            ),
        ),
        ResetCause::AdoptRequested => PlannedEvent::normal(
            "CredentialAdopted",
            action,
            format!(
                "took over IAM credential {credential} as spec.adopt asked and reset its secret"
            ),
        ),
        ResetCause::SecretLost => PlannedEvent::warning(
            "SecretRepaired",
            action,
            format!(
                "Secret {secret} was missing or its credential keys were edited; reset IAM credential {credential} and rewrote it"
            ),
        ),
        ResetCause::Rotate(_) => PlannedEvent::normal(
            "CredentialRotated",
            action,
            format!("rotated IAM credential {credential} (reset)"),
        ),
        ResetCause::AdoptRotation { old } => PlannedEvent::normal(
            "CredentialRotated",
            action,
            format!(
                "adopted IAM credential {credential} left by an interrupted rotation (reset); {old} retires after the grace period"
            ),
        ),
    }
}

/// Whether a Reset for `cause` takes over a credential status does not name yet: status then
/// names it before its secret goes anywhere.
pub(crate) fn reset_adopts(cause: &ResetCause) -> bool {
    matches!(
        cause,
        ResetCause::Adopt | ResetCause::AdoptRequested | ResetCause::AdoptRotation { .. }
    )
}

/// Collects the steps of one pass, tracking the Ready reason each status write leaves so that a
/// write that changes it is followed by its Event.
struct Steps {
    steps: Vec<Step>,
    ready: Option<String>,
}

impl Steps {
    fn new(observed: &Observed<'_>) -> Self {
        Steps {
            steps: Vec::new(),
            ready: observed.status.ready().map(|c| c.reason.clone()),
        }
    }

    fn push(&mut self, step: Step) -> &mut Self {
        self.steps.push(step);
        self
    }

    fn publish(&mut self, event: PlannedEvent) -> &mut Self {
        self.push(Step::Publish(event))
    }

    /// The Event is decided here, not when the write runs: every write a pass makes that the
    /// plan does not foresee (a refusal, a failure) ends it, so the reason each planned write
    /// follows is known now.
    fn status(&mut self, write: StatusWrite) -> &mut Self {
        let event = ready_transition(self.ready.as_deref(), write.reason, &write.message);
        self.ready = Some(write.reason.as_str().to_string());
        self.push(Step::WriteStatus(write));
        if let Some(event) = event {
            self.publish(event);
        }
        self
    }

    fn finish(self, observed: &Observed<'_>, outcome: Reason, class: Class) -> Script {
        Script {
            steps: self.steps,
            outcome,
            class,
            repairs_secret: false,
            wake_at: crate::reconcile::plan::wake_at(observed),
        }
    }
}

fn write(edits: Vec<StatusEdit>, reason: Reason, message: String) -> StatusWrite {
    StatusWrite {
        edits,
        reason,
        message,
        records_iam_write: false,
    }
}

fn record(edits: Vec<StatusEdit>, reason: Reason, message: String) -> StatusWrite {
    StatusWrite {
        records_iam_write: true,
        ..write(edits, reason, message)
    }
}

/// The edits that name `held` (a credential IAM reported) and drop an intent marker it settles.
fn naming(observed: &Observed<'_>, held: &CredentialMetadata) -> Vec<StatusEdit> {
    let mut edits = vec![StatusEdit::Credential(held.clone())];
    if observed.status.create_requested_at.is_some() && intent_settled(observed, held) {
        edits.push(StatusEdit::SettleIntent);
    }
    edits
}

fn grace_period(observed: &Observed<'_>) -> Duration {
    observed
        .spec
        .rotation
        .as_ref()
        .map_or(crate::api::DEFAULT_GRACE_PERIOD, |r| r.grace())
}

fn create_call(observed: &Observed<'_>) -> IamCall {
    IamCall::Create {
        user: observed.spec.user_name.clone(),
        service: observed.spec.service_name.as_str().to_string(),
        age_days: observed.spec.credential_age_days,
    }
}

/// The IAM Delete of credential `id`, told by `event` (reason, text) once done.
fn deletion(
    observed: &Observed<'_>,
    id: &str,
    event: (&'static str, String),
    if_gone: IfGone,
    if_failed: IfFailed,
) -> Step {
    Step::Iam(IamStep {
        call: IamCall::Delete {
            user: observed.spec.user_name.clone(),
            id: id.to_string(),
        },
        announce: Some(PlannedEvent::normal(event.0, "DeleteCredential", event.1)),
        if_gone,
        if_failed,
    })
}

/// The user's slots once a Create succeeded: the ones listed plus the new one.
fn slots_after_create(observed: &Observed<'_>) -> Option<i32> {
    match &observed.credentials {
        Some(Ok(list)) => Some(list.len() as i32 + 1),
        _ => None,
    }
}

/// The steps that carry `decision` out.
pub(crate) fn for_decision(observed: &Observed<'_>, decision: Decision) -> Script {
    let class = decision.class();
    let repairs_secret = matches!(
        decision,
        Decision::Reset {
            cause: ResetCause::SecretLost,
            ..
        }
    );
    let mut steps = Steps::new(observed);
    if decision.needs_freshness_check() {
        steps.push(Step::ProveCurrent);
    }
    if decision.writes_secret() && secret_may_be_refused(observed) {
        steps.push(Step::PreflightSecret);
    }
    let outcome = match decision {
        Decision::Report {
            reason,
            message,
            credential,
            slots_used,
        } => {
            let mut edits = credential.map_or_else(Vec::new, |c| naming(observed, &c));
            if let Some(n) = slots_used {
                edits.push(StatusEdit::SlotsUsed(Some(n as i32)));
            }
            steps.status(write(edits, reason, message));
            reason
        }
        Decision::Create { replaces, existing } => create(&mut steps, observed, replaces, existing),
        Decision::Recreate { old, existing, .. } => recreate(&mut steps, observed, &old, existing),
        Decision::Reset { credential, cause } => reset(&mut steps, observed, &credential, &cause),
        Decision::UpdateStatus {
            credential,
            desired,
        } => update_status(&mut steps, observed, &credential, desired),
        Decision::RewriteSecret { credential } => rewrite_secret(&mut steps, observed, &credential),
        Decision::Retire { id } => retire(&mut steps, observed, id),
        Decision::Revoke {
            credential,
            delete,
            refusal,
        } => revoke(&mut steps, observed, &credential, delete, refusal),
        Decision::FollowCredential {
            credential,
            slots_used,
            issued_at,
            restart,
        } => follow_credential(
            &mut steps,
            observed,
            &credential,
            slots_used,
            issued_at,
            restart,
        ),
    };
    Script {
        repairs_secret,
        ..steps.finish(observed, outcome, class)
    }
}

/// Whether the API server may refuse the Secret for its shape, so that a dry run must ask before
/// IAM issues a secret that would have nowhere to go: a template (type, labels, annotations,
/// rendered keys), a Secret of ours that differs from what is written now (its type cannot
/// change), or an immutable one. The operator's plain Secret skips the dry run (one write less
/// per credential); what can still refuse it (a Secret quota, an admission policy) then shows
/// as Ready=Creating naming the credential, and each retry is a repair, counted in the repair
/// backoff, so the IAM writes it costs grow with the log of the time it lasts.
fn secret_may_be_refused(observed: &Observed<'_>) -> bool {
    let templated = observed.spec.secret.template.is_some();
    let reshaped = matches!(
        observed.secret,
        SecretObservation::Owned {
            up_to_date: false,
            ..
        }
    );
    templated || reshaped || observed.secret_immutable
}

/// Proven current → intent in the record → IAM Create → the record names it → Secret → status
/// names it, Ready (see `plan`'s crash safety).
fn create(
    steps: &mut Steps,
    observed: &Observed<'_>,
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
fn deliver_issued(steps: &mut Steps, observed: &Observed<'_>, recorded: Vec<StatusEdit>) {
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
    deliver(steps, observed, Vec::new(), Some(if_failed));
}

/// The Secret with the issued secret, then the status naming the credential, Ready.
fn deliver(
    steps: &mut Steps,
    observed: &Observed<'_>,
    adjust: Vec<StatusEdit>,
    if_failed: Option<StatusWrite>,
) {
    steps.push(Step::WriteSecret(SecretWrite {
        material: SecretMaterial::Issued {
            issued_at: crate::secret::format_issued_at(observed.now),
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
fn recreate(
    steps: &mut Steps,
    observed: &Observed<'_>,
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
            handled_request: observed.rotate_request.map(str::to_string),
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

fn reset(
    steps: &mut Steps,
    observed: &Observed<'_>,
    credential: &CredentialMetadata,
    cause: &ResetCause,
) -> Reason {
    let spec = observed.spec;
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
            handled_request: observed.rotate_request.map(str::to_string),
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
        deliver(steps, observed, adjust, if_failed);
    }
    steps.publish(reset_event(cause, &credential.id, observed.secret_name));
    Reason::Available
}

fn update_status(
    steps: &mut Steps,
    observed: &Observed<'_>,
    credential: &CredentialMetadata,
    desired: DesiredStatus,
) -> Reason {
    steps.push(Step::Iam(IamStep {
        call: IamCall::SetStatus {
            user: observed.spec.user_name.clone(),
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
fn rewrite_secret(
    steps: &mut Steps,
    observed: &Observed<'_>,
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

fn retire(steps: &mut Steps, observed: &Observed<'_>, id: String) -> Reason {
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
fn revoke(
    steps: &mut Steps,
    observed: &Observed<'_>,
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
            user: observed.spec.user_name.clone(),
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
            user: observed.spec.user_name.clone(),
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
                observed.spec.user_name
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
fn follow_credential(
    steps: &mut Steps,
    observed: &Observed<'_>,
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
    observed: &Observed<'_>,
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

/// What the API server's refusal of the Secret's dry run (`code`, `reason`, `message`) means:
/// the Ready reason and message to report, or `None` when it is no verdict on the Secret (the
/// pass fails and is retried).
pub(crate) fn secret_refusal(
    code: u16,
    reason: &str,
    message: &str,
    secret: &str,
) -> Option<(Reason, String)> {
    match code {
        409 if reason == "AlreadyExists" => Some((
            Reason::SecretConflict,
            format!("a Secret named {secret} was created by someone else; it is never overwritten"),
        )),
        400 | 403 | 413 | 422 => Some((
            Reason::InvalidSpec,
            format!("the API server rejects the Secret this resource would write: {message}"),
        )),
        _ => None,
    }
}

/// What a refused restart of workload `what` means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RestartRefusal {
    /// Missing, or refused as invalid: skipped for good, with why (told once recorded).
    Skip(String),
    /// The operator may not patch it (RBAC not granted yet): told at once, and the pass fails
    /// (retried with backoff).
    Forbidden(PlannedEvent),
    /// Any other failure fails the pass.
    Fail,
}

pub(crate) fn restart_refusal(what: &str, code: u16, message: &str) -> RestartRefusal {
    match code {
        400 | 404 | 422 => RestartRefusal::Skip(message.to_string()),
        403 => RestartRefusal::Forbidden(PlannedEvent::warning(
            "RolloutRestartForbidden",
            "RolloutRestart",
            format!(
                "the operator may not patch {what} ({message}); grant it patch on apps workloads (Helm rolloutRestart.enabled, kustomize deploy/rollout-restart); retrying"
            ),
        )),
        _ => RestartRefusal::Fail,
    }
}

/// The Events telling what a restart for the credential issued at `issued_at` did.
pub(crate) fn restart_events(
    restarted: &[String],
    skipped: &[(String, String)],
    issued_at: &str,
) -> Vec<PlannedEvent> {
    let mut events: Vec<PlannedEvent> = skipped
        .iter()
        .map(|(what, why)| {
            PlannedEvent::warning(
                "RolloutRestartFailed",
                "RolloutRestart",
                format!("could not restart {what}: {why}"),
            )
        })
        .collect();
    if !restarted.is_empty() {
        events.push(PlannedEvent::normal(
            "WorkloadsRestarted",
            "RolloutRestart",
            format!(
                "restarted {} for the credential issued at {issued_at}",
                restarted.join(", ")
            ),
        ));
    }
    events
}

/// The times a status edit is stamped with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EditTimes {
    /// Of the write: an intent must not look older than it is (that would widen the adoption
    /// window backwards).
    pub(crate) write: Timestamp,
    /// When this pass's IAM Create or Reset answered (else the write's): a rotation happened then,
    /// whatever Secret writes came between.
    pub(crate) answered: Timestamp,
}

/// Applies `edit` to `status`; `issued` is the credential this pass's IAM call issued (if any).
pub(crate) fn apply_edit(
    status: &mut ServiceSpecificCredentialStatus,
    edit: &StatusEdit,
    issued: Option<&CredentialMetadata>,
    times: EditTimes,
) {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    match edit {
        StatusEdit::Credential(c) => name_credential(status, c),
        StatusEdit::IssuedCredential => {
            if let Some(c) = issued {
                name_credential(status, c);
            }
        }
        StatusEdit::ForgetCredential => status.credential_id = None,
        StatusEdit::RecordIntent { existing } => {
            status.create_requested_at = Some(Time(times.write));
            status.credentials_before_create = existing.clone();
        }
        StatusEdit::ClearIntent => {
            status.create_requested_at = None;
            status.credentials_before_create = Vec::new();
        }
        StatusEdit::SettleIntent => status.create_requested_at = None,
        StatusEdit::SlotsUsed(n) => status.slots_used = *n,
        StatusEdit::StartRetirement {
            old,
            grace,
            handled_request,
        } => {
            let grace = jiff::SignedDuration::try_from(*grace).unwrap_or_default();
            let at = times.answered;
            status.retiring_credential_id = Some(old.clone());
            status.retire_after = Some(Time(at.checked_add(grace).unwrap_or(at)));
            status.last_rotation_time = Some(Time(at));
            if let Some(request) = handled_request {
                status.handled_rotate_request = Some(request.clone());
            }
        }
        StatusEdit::Rotated { handled_request } => {
            status.last_rotation_time = Some(Time(times.answered));
            if let Some(request) = handled_request {
                status.handled_rotate_request = Some(request.clone());
            }
        }
        StatusEdit::RetireNoEarlierThan(at) => status.retire_after = Some(Time(*at)),
        StatusEdit::Retired => {
            status.retiring_credential_id = None;
            status.retire_after = None;
        }
        StatusEdit::SecretName(name) => status.secret_name = Some(name.clone()),
        StatusEdit::WorkloadsRestartedFor(at) => status.workloads_restarted_for = Some(at.clone()),
    }
}

fn name_credential(status: &mut ServiceSpecificCredentialStatus, c: &CredentialMetadata) {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    status.credential_id = Some(c.id.clone());
    status.service_user_name = c.service_user_name.clone();
    status.service_credential_alias = c.alias.clone();
    status.credential_status = Some(c.status.as_str().to_string());
    status.create_date = Some(Time(c.create_date));
    status.expiration_date = c.expiration_date.map(Time);
}

#[cfg(test)]
mod tests;
