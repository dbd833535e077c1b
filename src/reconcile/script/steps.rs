//! The vocabulary of a script: its steps, the status edits, IAM calls, Secret writes
//! and what each failure means.

use super::*;

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
    /// A rotate request this process answered with a Reset at `at`: status records it now (its
    /// status write was lost).
    Answered {
        request: String,
        at: Timestamp,
    },
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
    /// The secret this pass's IAM call issued, issued at `issued_at`; by a Reset that answers the
    /// rotate request `answers`.
    Issued {
        issued_at: String,
        answers: Option<String>,
    },
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
