//! The decision: given what was observed in Kubernetes and IAM, what to do next. Pure, no I/O.
//!
//! One reconcile carries out at most one IAM write; the status write it causes brings the next
//! reconcile, which observes again. Crash safety follows from the order of writes in `act`:
//! status `createRequestedAt` → IAM Create → Secret (annotated with the credential id) → status
//! `credentialId`. Whatever step a crash interrupts, the next observation finds either the id in
//! status, the id in our Secret, or an unclaimed credential created after `createRequestedAt`,
//! which is adopted with a Reset (its first password was lost with the crash).

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;

use crate::api::{
    CREDENTIALS_PER_USER_PER_SERVICE, DeletionPolicy, DesiredStatus, ServiceSpecificCredentialSpec,
    ServiceSpecificCredentialStatus,
};
use crate::iam::{CredentialMetadata, CredentialStatus, IamError};
use crate::reconcile::conditions::{Reason, reason_for};

/// Clock skew tolerated between the operator and IAM when matching an orphan to
/// `createRequestedAt`.
pub const ADOPTION_SKEW: Duration = Duration::from_secs(5);

/// The Secret as observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretObservation {
    /// No Secret of that name.
    Missing,
    /// A Secret of that name that this resource does not control.
    Foreign,
    /// Our Secret. `credential_id` is its annotation; `intact` says its credential keys still
    /// match the digest; `up_to_date` says it equals what the current spec renders.
    Owned {
        credential_id: Option<String>,
        intact: bool,
        up_to_date: bool,
    },
}

/// Everything the decision needs.
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    pub spec: &'a ServiceSpecificCredentialSpec,
    pub status: &'a ServiceSpecificCredentialStatus,
    /// Value of the rotate annotation, if any.
    pub rotate_request: Option<&'a str>,
    /// `Err(message)` when the spec is invalid beyond what the schema checks.
    pub validity: Result<(), String>,
    /// `Err(message)` when tenancy forbids this user here.
    pub permission: Result<(), String>,
    pub secret: SecretObservation,
    /// Present when the Secret lives under another name than status says (spec.secret.name
    /// changed) and the old one is ours and intact: its credential can be moved without a Reset.
    pub old_secret_intact: Option<String>,
    /// `Err(message)` when the template cannot render.
    pub template: Result<(), String>,
    /// The user's credentials for this service; `None` when IAM was not asked (a gate failed).
    pub credentials: Option<Result<Vec<CredentialMetadata>, IamError>>,
    /// Credential ids held by other resources.
    pub claimed_elsewhere: &'a HashSet<String>,
    pub now: Timestamp,
}

/// Why a Reset is done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResetCause {
    /// An orphan of an interrupted create is adopted.
    Adopt,
    /// The Secret is gone or its credential keys were edited.
    SecretLost,
    /// Rotation: the value of the rotate annotation, or `None` for interval rotation.
    Rotate(Option<String>),
}

/// The one next step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No IAM write: report this reason (and the credential if there is one).
    Report {
        reason: Reason,
        message: String,
        credential: Option<CredentialMetadata>,
        slots_used: Option<usize>,
    },
    /// Create a new credential. `replaces` names a credential that vanished out of band.
    Create { replaces: Option<String> },
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
}

/// Checks that need no IAM call. `Some` stops the reconcile before IAM is asked anything.
pub fn gate(observed: &Observed<'_>) -> Option<Decision> {
    let report = |reason, message: &String| Decision::Report {
        reason,
        message: message.clone(),
        credential: None,
        slots_used: None,
    };
    if let Err(message) = &observed.validity {
        return Some(report(Reason::InvalidSpec, message));
    }
    if let Err(message) = &observed.template {
        return Some(report(Reason::InvalidSpec, message));
    }
    if let Err(message) = &observed.permission {
        return Some(report(Reason::NotPermitted, message));
    }
    if observed.secret == SecretObservation::Foreign {
        return Some(report(
            Reason::SecretConflict,
            &"a Secret of that name exists and is not owned by this resource; it is never overwritten: delete it or set spec.secret.name".to_string(),
        ));
    }
    None
}

/// The credential id this resource holds: from status, else from our Secret's annotation (a
/// crash after the Secret write and before the status write).
pub fn owned_id<'a>(observed: &'a Observed<'_>) -> Option<&'a str> {
    observed.status.credential_id.as_deref().or(match &observed.secret {
        SecretObservation::Owned {
            credential_id: Some(id),
            ..
        } => Some(id.as_str()),
        _ => observed.old_secret_intact.as_deref(),
    })
}

pub fn decide(observed: &Observed<'_>) -> Decision {
    if let Some(stop) = gate(observed) {
        return stop;
    }
    let credentials = match &observed.credentials {
        Some(Ok(list)) => list,
        Some(Err(error)) => {
            return Decision::Report {
                reason: reason_for(error),
                message: error.to_string(),
                credential: None,
                slots_used: None,
            };
        }
        None => {
            return Decision::Report {
                reason: Reason::IamUnavailable,
                message: "IAM was not consulted".into(),
                credential: None,
                slots_used: None,
            };
        }
    };

    let Some(id) = owned_id(observed) else {
        return decide_without_credential(observed, credentials, None);
    };
    let Some(credential) = credentials.iter().find(|c| c.id == id) else {
        // Deleted out of band: make a new one.
        return decide_without_credential(observed, credentials, Some(id.to_string()));
    };
    decide_with_credential(observed, credential, credentials.len())
}

fn decide_without_credential(
    observed: &Observed<'_>,
    credentials: &[CredentialMetadata],
    vanished: Option<String>,
) -> Decision {
    if let Some(requested_at) = observed.status.create_requested_at.as_ref() {
        let since = requested_at.0 - ADOPTION_SKEW;
        let orphan = credentials
            .iter()
            .filter(|c| c.create_date >= since)
            .filter(|c| !observed.claimed_elsewhere.contains(&c.id))
            .filter(|c| Some(c.id.as_str()) != vanished.as_deref())
            .max_by_key(|c| c.create_date);
        if let Some(orphan) = orphan {
            return Decision::Reset {
                credential: orphan.clone(),
                cause: ResetCause::Adopt,
            };
        }
    }
    if credentials.len() >= CREDENTIALS_PER_USER_PER_SERVICE {
        let ids: Vec<&str> = credentials.iter().map(|c| c.id.as_str()).collect();
        return Decision::Report {
            reason: Reason::LimitExceeded,
            message: limit_message(observed.spec, &ids),
            credential: None,
            slots_used: Some(credentials.len()),
        };
    }
    Decision::Create { replaces: vanished }
}

/// The LimitExceeded message: names the ids holding the slots, never a secret.
pub fn limit_message(spec: &ServiceSpecificCredentialSpec, ids: &[&str]) -> String {
    format!(
        "IAM user {} already holds {} credentials for {} ({}), the most IAM allows; delete one of them or use another IAM user",
        spec.user_name,
        ids.len(),
        spec.service_name,
        ids.join(", ")
    )
}

fn decide_with_credential(
    observed: &Observed<'_>,
    credential: &CredentialMetadata,
    slots_used: usize,
) -> Decision {
    let report = |reason, message: String| Decision::Report {
        reason,
        message,
        credential: Some(credential.clone()),
        slots_used: Some(slots_used),
    };
    let expired = credential.status == CredentialStatus::Expired
        || credential.expiration_date.is_some_and(|e| e <= observed.now);
    if expired {
        // Never "fixed" by setting it Active: an expired key stays expired.
        return report(
            Reason::Expired,
            format!(
                "API key {} expired at {}; delete this resource's credential or recreate the resource to get a new key",
                credential.id,
                credential
                    .expiration_date
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "an unknown time".into())
            ),
        );
    }

    let secret_holds_it = match &observed.secret {
        SecretObservation::Owned {
            credential_id: Some(secret_id),
            intact: true,
            ..
        } => secret_id == &credential.id,
        _ => false,
    };
    let movable = observed.old_secret_intact.as_deref() == Some(credential.id.as_str());
    if !secret_holds_it && !movable {
        return Decision::Reset {
            credential: credential.clone(),
            cause: ResetCause::SecretLost,
        };
    }

    if let Some(request) = observed.rotate_request
        && observed.status.handled_rotate_request.as_deref() != Some(request)
    {
        return Decision::Reset {
            credential: credential.clone(),
            cause: ResetCause::Rotate(Some(request.to_string())),
        };
    }
    if rotation_due(observed, credential) {
        return Decision::Reset {
            credential: credential.clone(),
            cause: ResetCause::Rotate(None),
        };
    }

    if credential.status.as_str() != observed.spec.status.as_str() {
        return Decision::UpdateStatus {
            credential: credential.clone(),
            desired: observed.spec.status,
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
    report(Reason::Available, String::new())
}

/// Whether the rotation interval has passed since the last rotation (or creation).
fn rotation_due(observed: &Observed<'_>, credential: &CredentialMetadata) -> bool {
    let Some(interval) = observed
        .spec
        .rotation
        .as_ref()
        .and_then(|r| r.interval.as_deref())
        .and_then(|i| crate::api::parse_duration(i).ok())
    else {
        return false;
    };
    let since = observed
        .status
        .last_rotation_time
        .as_ref()
        .map(|t| t.0)
        .unwrap_or(credential.create_date)
        .max(credential.create_date);
    let Ok(interval) = jiff::SignedDuration::try_from(interval) else {
        return false;
    };
    since
        .checked_add(interval)
        .is_ok_and(|due| due <= observed.now)
}

/// What deletion does with the IAM credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// Nothing in IAM to do.
    Nothing,
    /// deletionPolicy Retain: leave it.
    Retain { id: String },
    /// Delete these credentials (ours, plus an unclaimed orphan of an interrupted create).
    Delete { ids: Vec<String> },
}

/// Decides the cleanup on deletion. `credentials` is needed only to find the orphan of an
/// interrupted create; pass `None` when IAM was not listed.
pub fn decide_cleanup(
    observed: &Observed<'_>,
    credentials: Option<&[CredentialMetadata]>,
) -> Cleanup {
    let id = owned_id(observed).map(str::to_string);
    if observed.spec.deletion_policy == DeletionPolicy::Retain {
        return id.map_or(Cleanup::Nothing, |id| Cleanup::Retain { id });
    }
    if let Some(id) = id {
        return Cleanup::Delete { ids: vec![id] };
    }
    match (observed.status.create_requested_at.as_ref(), credentials) {
        (Some(requested_at), Some(list)) => {
            let since = requested_at.0 - ADOPTION_SKEW;
            let ids: Vec<String> = list
                .iter()
                .filter(|c| c.create_date >= since && !observed.claimed_elsewhere.contains(&c.id))
                .map(|c| c.id.clone())
                .collect();
            if ids.is_empty() {
                Cleanup::Nothing
            } else {
                Cleanup::Delete { ids }
            }
        }
        _ => Cleanup::Nothing,
    }
}

/// Whether cleanup needs an IAM List (only to find the orphan of an interrupted create).
pub fn cleanup_needs_list(observed: &Observed<'_>) -> bool {
    observed.spec.deletion_policy == DeletionPolicy::Delete
        && owned_id(observed).is_none()
        && observed.status.create_requested_at.is_some()
}
