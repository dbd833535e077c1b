//! What a pass decides: the decision, and why a credential is reset or rotated.

use super::*;

/// Why a Reset is done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ResetCause {
    /// An orphan of an interrupted create is adopted.
    Adopt,
    /// `spec.adopt` asked to take over this existing credential.
    AdoptRequested,
    /// The Secret is gone or its credential keys were edited.
    SecretLost,
    /// Rotation, by the schedule or on request.
    Rotate(RotationTrigger),
    /// The orphan of an interrupted Recreate rotation is adopted; `old` then retires.
    AdoptRotation { old: String },
}

/// What asked for a rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RotationTrigger {
    /// `rotation.interval` elapsed, or an API key's `beforeExpiry` came.
    Schedule,
    /// A new value of the rotate annotation (recorded as handled once done).
    Requested(String),
}

/// The one next step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No IAM write: report this reason (and the credential if there is one).
    Report {
        reason: Reason,
        message: String,
        credential: Option<CredentialMetadata>,
        slots_used: Option<usize>,
    },
    /// Create a new credential. `replaces` names a credential that vanished out of band;
    /// `existing` are the user's credential ids for the service now (recorded with the intent).
    Create {
        replaces: Option<String>,
        existing: Vec<String>,
    },
    /// Reset this credential and write the new secret to the Secret.
    Reset {
        credential: CredentialMetadata,
        cause: ResetCause,
    },
    /// Set the IAM status of this credential.
    UpdateStatus {
        credential: CredentialMetadata,
        desired: DesiredStatus,
    },
    /// Rewrite the Secret from the credential it already holds (template or name changed).
    RewriteSecret { credential: CredentialMetadata },
    /// Recreate rotation: create a new credential in the free slot, write it to the Secret, and
    /// let `old` retire after the grace period. `cause` is a `Rotate` cause; `existing` as for
    /// `Create`.
    Recreate {
        old: CredentialMetadata,
        cause: ResetCause,
        existing: Vec<String>,
    },
    /// Delete the previous credential: its grace period is over.
    Retire { id: String },
    /// The namespace lost the right to the user (`refusal` says why): make this credential it
    /// holds Inactive, or delete it (`delete`).
    Revoke {
        credential: CredentialMetadata,
        delete: bool,
        refusal: String,
    },
    /// The Secret holds a credential issued at `issued_at` that the `rolloutRestart` workloads
    /// have not been restarted for: do as `restart` says, then record `issued_at` in status
    /// (Ready stays Available).
    FollowCredential {
        credential: CredentialMetadata,
        slots_used: usize,
        issued_at: String,
        restart: WorkloadRestart,
    },
}

/// What a [`Decision::FollowCredential`] does to the workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkloadRestart {
    /// Restart each of them.
    Restart,
    /// Nothing: this is the first credential they were started with (or the list is new).
    FirstCredential,
    /// Nothing, with a Warning: this installation does not restart workloads.
    Disabled,
}

impl Decision {
    /// How urgent its IAM calls are, among its namespace's (see `crate::fair`): what must go or
    /// come back first (revocation, retirement, a lost Secret), then what someone asked for (a
    /// new credential, an adoption, a status change), then rotations.
    pub(crate) fn class(&self) -> Class {
        match self {
            Decision::Revoke { .. }
            | Decision::Retire { .. }
            | Decision::Reset {
                cause: ResetCause::SecretLost,
                ..
            } => Class::Urgent,
            Decision::Create { .. }
            | Decision::UpdateStatus { .. }
            | Decision::Reset {
                cause:
                    ResetCause::Adopt | ResetCause::AdoptRequested | ResetCause::AdoptRotation { .. },
                ..
            } => Class::Create,
            Decision::Reset {
                cause: ResetCause::Rotate(_),
                ..
            }
            | Decision::Recreate { .. } => Class::Rotate,
            // No IAM write: the class only orders a List, if any.
            Decision::Report { .. }
            | Decision::RewriteSecret { .. }
            | Decision::FollowCredential { .. } => Class::Create,
        }
    }

    /// Whether the snapshot must be proven current before this is carried out: a write decided
    /// from a stale cached copy must not happen. Create and Recreate prove it before they
    /// record their intent.
    pub(crate) fn needs_freshness_check(&self) -> bool {
        matches!(
            self,
            Decision::Reset { .. }
                | Decision::UpdateStatus { .. }
                | Decision::RewriteSecret { .. }
                | Decision::Retire { .. }
                | Decision::Revoke { .. }
        )
    }

    /// Whether this was decided on what a service snapshot may not show yet, so that it must
    /// be decided again from a List of the user: a credential gone that may only be newer than
    /// the snapshot, an orphan to adopt, a quota found full.
    pub(crate) fn needs_exact_listing(&self) -> bool {
        matches!(
            self,
            Decision::Create {
                replaces: Some(_),
                ..
            } | Decision::Reset {
                cause: ResetCause::Adopt
                    | ResetCause::AdoptRequested
                    | ResetCause::AdoptRotation { .. },
                ..
            } | Decision::Report {
                reason: Reason::LimitExceeded,
                ..
            }
        )
    }

    /// Whether this writes the Secret. Such a write is first tried as a server-side dry run: a
    /// Secret the API server rejects must not cost an IAM write (whose one-time secret would then
    /// be discarded), nor the live Secret.
    pub(crate) fn writes_secret(&self) -> bool {
        matches!(
            self,
            Decision::Create { .. }
                | Decision::Recreate { .. }
                | Decision::Reset { .. }
                | Decision::RewriteSecret { .. }
        )
    }
}
