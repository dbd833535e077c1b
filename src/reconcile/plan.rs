//! The decision: given what was observed in Kubernetes and IAM, what to do next. Pure, no I/O.
//!
//! One reconcile carries out at most one IAM write; the status write it causes brings the next
//! reconcile, which observes again. Crash safety follows from the order of writes in `act`: the
//! record's `createRequestedAt` (with the ids that already exist) → IAM Create → the record's
//! `credentialId` → Secret → status naming it, Ready. Whatever step a crash interrupts, the next
//! observation finds either the id in the record, or — the crash between Create and the record
//! write — the one credential that is provably that Create's (see [`adoption_candidates`]), which
//! is adopted with a Reset (its first password was lost with the crash).
//!
//! Which credential a resource holds is only ever what the operator recorded in its record
//! (`crate::record`, which status is read through): never what a Secret or status says, since
//! tenants can write those.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;

use crate::api::{
    CREDENTIALS_PER_USER_PER_SERVICE, DeletionPolicy, DesiredStatus, InvalidSpec, RotationStrategy,
    ServiceSpecificCredentialSpec, ServiceSpecificCredentialStatus,
};
use crate::fair::Class;
use crate::iam::{CredentialMetadata, CredentialStatus, IamError};
use crate::reconcile::Revocation;
use crate::reconcile::conditions::{Reason, reason_for};
use crate::reconcile::schedule;
use crate::reconcile::script::{self, Script};
use crate::secret::RenderError;
use crate::tenancy::NotPermitted;

mod adoption;
mod cleanup;
mod decision;
mod holding;
mod observed;
pub(crate) use adoption::*;
pub(crate) use cleanup::*;
pub(crate) use decision::*;
pub(crate) use holding::*;
pub(crate) use observed::{Answered, Observed};

/// Clock skew tolerated between the operator and IAM when matching an orphan to
/// `createRequestedAt`.
pub(crate) const ADOPTION_SKEW: Duration = Duration::from_secs(5);
/// Reported while the watch caches that tell who holds which credential are still filling.
const WAITING_FOR_CACHES: &str = "waiting for the caches of all watched namespaces before adopting";
/// How long after `createRequestedAt` the Create it announced can have taken effect: the Create
/// call's own timeout, with room to spare. A credential made later is not that Create's.
pub(crate) const ADOPTION_WINDOW: Duration = Duration::from_secs(60);

/// The Secret as observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SecretObservation {
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

/// What a pass does next, decided on what it observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Nothing now: look again after `after`.
    Wait { after: Duration, why: &'static str },
    /// Carry these steps out.
    Act(Script),
}

/// A decision made on a service snapshot that rests on what the snapshot may not show yet
/// ([`Decision::needs_exact_listing`]): list the user, then [`plan_listed_exactly`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NeedsExactListing(pub(crate) Box<Decision>);

/// The plan of a pass for a resource that is not being deleted.
pub(crate) fn plan(observed: &Observed) -> Result<Plan, NeedsExactListing> {
    let decision = decide(observed);
    if observed.listed_from_snapshot && decision.needs_exact_listing() {
        return Err(NeedsExactListing(Box::new(decision)));
    }
    Ok(plan_decided(observed, decision))
}

/// The plan once the user was listed exactly (it is not sent back for another listing).
pub(crate) fn plan_listed_exactly(observed: &Observed) -> Plan {
    plan_decided(observed, decide(observed))
}

/// The plan for `decision`: a wait (with shards), or its steps.
fn plan_decided(observed: &Observed, decision: Decision) -> Plan {
    if observed.sharded
        && let Some(after) = shard_wait(observed, &decision)
    {
        return Plan::Wait {
            after,
            why: "another shard may still be recording or creating a credential for this user",
        };
    }
    Plan::Act(script::for_decision(observed, decision))
}

/// The plan of a pass for a resource being deleted; an IAM failure to list (other than a user
/// that no longer exists) fails the pass.
pub(crate) fn plan_cleanup(observed: &Observed) -> Result<Plan, IamError> {
    let credentials = match &observed.credentials {
        Some(Ok(list)) => Some(list.as_slice()),
        Some(Err(IamError::UserNotFound { .. })) | None => None,
        Some(Err(error)) => return Err(error.clone()),
    };
    let Cleanup { delete, retain } = decide_cleanup(observed, credentials);
    if observed.sharded
        && let Some(after) = credentials
            .into_iter()
            .flatten()
            .filter(|c| delete.contains(&c.id) && !recorded(observed, &c.id))
            .find_map(|orphan| orphan_settling(orphan.create_date, observed.now))
    {
        return Ok(Plan::Wait {
            after,
            why: "another shard may have just created the orphan to delete",
        });
    }
    Ok(Plan::Act(script::for_cleanup(observed, retain, delete)))
}

/// Checks that need no IAM call. `Some` stops the reconcile before IAM is asked anything.
pub(crate) fn gate(observed: &Observed) -> Option<Decision> {
    let report = |reason, message: String| Decision::Report {
        reason,
        message,
        credential: None,
        slots_used: None,
    };
    if let Err(invalid) = &observed.validity {
        return Some(report(Reason::InvalidSpec, invalid.to_string()));
    }
    // Tenancy before the template: a namespace that may not use this user gets nothing rendered.
    if let Err(refusal) = &observed.permission {
        return Some(report(Reason::NotPermitted, refusal.to_string()));
    }
    if let Err(error) = &observed.template {
        return Some(report(Reason::InvalidSpec, error.to_string()));
    }
    if observed.secret == SecretObservation::Foreign {
        return Some(report(
            Reason::SecretConflict,
            "a Secret of that name exists and is not owned by this resource; it is never overwritten: delete it or set spec.secret.name".to_string(),
        ));
    }
    None
}

/// Whether a service snapshot (up to one resync old) may stand in for a List of the user: for a
/// routine check, a rotation, or a first Create. Not while an interrupted Create may have left an
/// orphan (`createRequestedAt`), for `spec.adopt`, or after a spec change of a resource holding a
/// credential (the user changed what it wants: that is decided on IAM's answer of now). What a
/// snapshot may miss is confirmed anyway before it is acted on (`needs_exact_listing`).
pub(crate) fn snapshot_may_serve(observed: &Observed) -> bool {
    observed.status.create_requested_at.is_none()
        && observed.spec().adopt.is_none()
        && (observed.status.credential_id.is_none()
            || observed.status.observed_generation == observed.generation())
}

/// Whether this pass is a routine check: a resource that holds its credential, Ready at its
/// current spec, with no rotation asked for. Nobody waits for it, so its IAM calls go last.
pub(crate) fn is_routine_check(observed: &Observed) -> bool {
    observed.status.credential_id.is_some()
        && observed.status.observed_generation == observed.generation()
        && observed.status.ready().is_some_and(|c| c.status == "True")
        && observed.rotate_request().is_none_or(|request| {
            observed.status.handled_rotate_request.as_deref() == Some(request)
        })
}

/// Whether `id` is one this resource's status records (held or retiring).
pub(crate) fn recorded(observed: &Observed, id: &str) -> bool {
    owned_id(observed) == Some(id) || observed.status.retiring_credential_id.as_deref() == Some(id)
}

/// The credential id this resource holds: what the operator recorded in its status, nothing else.
pub(crate) fn owned_id(observed: &Observed) -> Option<&str> {
    observed.status.credential_id.as_deref()
}

pub(crate) fn decide(observed: &Observed) -> Decision {
    if let Some(revoke) = revocation(observed) {
        return revoke;
    }
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
    decide_with_credential(observed, credential, credentials)
}

fn decide_without_credential(
    observed: &Observed,
    credentials: &[CredentialMetadata],
    vanished: Option<String>,
) -> Decision {
    let report = |reason, message: String| Decision::Report {
        reason,
        message,
        credential: None,
        slots_used: Some(credentials.len()),
    };
    if let Some(adopt) = &observed.spec().adopt
        && vanished.is_none()
    {
        return decide_requested_adoption(observed, credentials, &adopt.credential_id);
    }
    let exclude: Vec<&str> = vanished.iter().map(String::as_str).collect();
    match adoption_candidates(observed, credentials, &exclude).as_slice() {
        [] => {}
        _ if !observed.claims_complete => {
            return report(Reason::Creating, WAITING_FOR_CACHES.into());
        }
        [orphan] => {
            return Decision::Reset {
                credential: (*orphan).clone(),
                cause: ResetCause::Adopt,
            };
        }
        several => {
            let ids: Vec<&str> = several.iter().map(|c| c.id.as_str()).collect();
            return report(
                Reason::AdoptionAmbiguous,
                format!(
                    "an interrupted create may have made one of {}, but which one cannot be proven; none is touched. Delete the one that is not in use (or name it in spec.adopt.credentialId)",
                    ids.join(", ")
                ),
            );
        }
    }
    if credentials.len() >= CREDENTIALS_PER_USER_PER_SERVICE {
        return report(Reason::LimitExceeded, limit_message(observed, credentials));
    }
    Decision::Create {
        replaces: vanished,
        existing: credentials.iter().map(|c| c.id.clone()).collect(),
    }
}

/// `spec.adopt`: take over the named credential, if it exists and nobody else holds it.
fn decide_requested_adoption(
    observed: &Observed,
    credentials: &[CredentialMetadata],
    id: &str,
) -> Decision {
    let report = |reason, message: String| Decision::Report {
        reason,
        message,
        credential: None,
        slots_used: Some(credentials.len()),
    };
    let Some(credential) = credentials.iter().find(|c| c.id == id) else {
        return report(
            Reason::InvalidSpec,
            format!(
                "spec.adopt.credentialId: IAM user {} has no credential {id} for {}",
                observed.spec().user_name,
                observed.spec().service_name
            ),
        );
    };
    if observed.claimed_elsewhere.contains_key(id) {
        return report(
            Reason::InvalidSpec,
            format!("spec.adopt.credentialId: credential {id} is held by another resource"),
        );
    }
    if !observed.claims_complete {
        return report(Reason::Creating, WAITING_FOR_CACHES.into());
    }
    Decision::Reset {
        credential: credential.clone(),
        cause: ResetCause::AdoptRequested,
    }
}

#[cfg(test)]
pub(crate) mod tests;
