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

/// Everything the decision needs.
#[derive(Clone, Debug)]
pub(crate) struct Observed<'a> {
    pub spec: &'a ServiceSpecificCredentialSpec,
    pub status: &'a ServiceSpecificCredentialStatus,
    /// `metadata.generation`: which spec this is.
    pub generation: Option<i64>,
    /// Value of the rotate annotation, if any.
    pub rotate_request: Option<&'a str>,
    /// `Err(message)` when the spec is invalid beyond what the schema checks.
    pub validity: Result<(), InvalidSpec>,
    /// `Err(message)` when tenancy forbids this user here.
    pub permission: Result<(), NotPermitted>,
    pub secret: SecretObservation,
    /// Present when the Secret lives under another name than status says (spec.secret.name
    /// changed) and the old one is ours and intact: the credential id it holds, which can be moved
    /// without a Reset when it is the one status records.
    pub old_secret_credential: Option<String>,
    /// Why the template cannot render, if it cannot.
    pub template: Result<(), RenderError>,
    /// The user's credentials for this service; `None` when IAM was not asked (a gate failed).
    pub credentials: Option<Result<Vec<CredentialMetadata>, IamError>>,
    /// Credential ids held by other resources, with the namespace of the holder.
    pub claimed_elsewhere: &'a HashMap<String, String>,
    /// Whether every watched cache had synced when the claims were read: until then an id
    /// missing from `claimed_elsewhere` may still be held by a resource not yet seen.
    pub claims_complete: bool,
    /// This resource's namespace.
    pub namespace: &'a str,
    /// The `issued-at` annotation of our intact Secret, when it has one.
    pub secret_issued_at: Option<&'a str>,
    /// Whether this installation may restart workloads (`--rollout-restart`).
    pub rollout_restart_enabled: bool,
    /// The name of the Secret the resource writes.
    pub secret_name: &'a str,
    /// Whether our Secret under the name status records (spec.secret.name moved away from it)
    /// is there, to be deleted once the new one is written.
    pub old_secret: bool,
    /// The Secret under the name is immutable: the API server refuses any write to it.
    pub secret_immutable: bool,
    /// Whether `credentials` came from a service snapshot rather than a List of the user now.
    pub listed_from_snapshot: bool,
    /// Whether replicas split the resources into shards (`--shard-selector`).
    pub sharded: bool,
    /// What losing the right to the user does to the credentials held (`--revocation`).
    pub revocation: Revocation,
    pub now: Timestamp,
}

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
pub(crate) fn plan(observed: &Observed<'_>) -> Result<Plan, NeedsExactListing> {
    let decision = decide(observed);
    if observed.listed_from_snapshot && decision.needs_exact_listing() {
        return Err(NeedsExactListing(Box::new(decision)));
    }
    Ok(plan_decided(observed, decision))
}

/// The plan once the user was listed exactly (it is not sent back for another listing).
pub(crate) fn plan_listed_exactly(observed: &Observed<'_>) -> Plan {
    plan_decided(observed, decide(observed))
}

/// The plan for `decision`: a wait (with shards), or its steps.
fn plan_decided(observed: &Observed<'_>, decision: Decision) -> Plan {
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
pub(crate) fn plan_cleanup(observed: &Observed<'_>) -> Result<Plan, IamError> {
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
pub(crate) fn gate(observed: &Observed<'_>) -> Option<Decision> {
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
pub(crate) fn snapshot_may_serve(observed: &Observed<'_>) -> bool {
    observed.status.create_requested_at.is_none()
        && observed.spec.adopt.is_none()
        && (observed.status.credential_id.is_none()
            || observed.status.observed_generation == observed.generation)
}

/// Whether this pass is a routine check: a resource that holds its credential, Ready at its
/// current spec, with no rotation asked for. Nobody waits for it, so its IAM calls go last.
pub(crate) fn is_routine_check(observed: &Observed<'_>) -> bool {
    observed.status.credential_id.is_some()
        && observed.status.observed_generation == observed.generation
        && observed.status.ready().is_some_and(|c| c.status == "True")
        && observed.rotate_request.is_none_or(|request| {
            observed.status.handled_rotate_request.as_deref() == Some(request)
        })
}

/// Whether `id` is one this resource's status records (held or retiring).
pub(crate) fn recorded(observed: &Observed<'_>, id: &str) -> bool {
    owned_id(observed) == Some(id) || observed.status.retiring_credential_id.as_deref() == Some(id)
}

/// The credential id this resource holds: what the operator recorded in its status, nothing else.
pub(crate) fn owned_id<'a>(observed: &'a Observed<'_>) -> Option<&'a str> {
    observed.status.credential_id.as_deref()
}

pub(crate) fn decide(observed: &Observed<'_>) -> Decision {
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
    observed: &Observed<'_>,
    credentials: &[CredentialMetadata],
    vanished: Option<String>,
) -> Decision {
    let report = |reason, message: String| Decision::Report {
        reason,
        message,
        credential: None,
        slots_used: Some(credentials.len()),
    };
    if let Some(adopt) = &observed.spec.adopt
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
    observed: &Observed<'_>,
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
                observed.spec.user_name, observed.spec.service_name
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

/// With shards: how old an orphan must be before it is adopted or deleted, so that a credential
/// another shard has just created is recorded in its resource's status (and so claimed) first.
pub(crate) const SHARD_ORPHAN_SETTLE: Duration = Duration::from_secs(15);

/// With shards: how long to wait before taking over `orphan`, created at `created`.
pub(crate) fn orphan_settling(created: Timestamp, now: Timestamp) -> Option<Duration> {
    let settled = created
        .checked_add(jiff::SignedDuration::try_from(SHARD_ORPHAN_SETTLE).unwrap_or_default())
        .unwrap_or(created);
    let wait = now.duration_until(settled);
    Duration::try_from(wait).ok().filter(|w| !w.is_zero())
}

/// With shards: how long `decision` must wait. Taking over an orphan waits until it is
/// [`SHARD_ORPHAN_SETTLE`] old (whoever made it has recorded it by then); a Create while this
/// resource's status still announces one ([`ADOPTION_WINDOW`]) waits for that window to pass,
/// since the shard that announced it may still be making it (a relabel moves a resource between
/// shards at any time).
pub(crate) fn shard_wait(observed: &Observed<'_>, decision: &Decision) -> Option<Duration> {
    match decision {
        Decision::Reset { credential, cause }
            if matches!(cause, ResetCause::Adopt | ResetCause::AdoptRotation { .. })
                && !recorded(observed, &credential.id) =>
        {
            orphan_settling(credential.create_date, observed.now)
        }
        Decision::Create { .. } | Decision::Recreate { .. } => {
            let announced = observed.status.create_requested_at.as_ref()?.0;
            let window = jiff::SignedDuration::try_from(ADOPTION_WINDOW + ADOPTION_SKEW).ok()?;
            let until = announced.checked_add(window).ok()?;
            Duration::try_from(observed.now.duration_until(until))
                .ok()
                .filter(|w| !w.is_zero())
        }
        _ => None,
    }
}

/// The credentials that can only be the work of this resource's interrupted Create: new since
/// the ids recorded with the intent, created inside the intent's window (`createRequestedAt`
/// minus the clock skew, plus [`ADOPTION_WINDOW`]), held by no other resource, and not in
/// `exclude`. None without the intent marker. Adopt only when there is exactly one.
pub(crate) fn adoption_candidates<'a>(
    observed: &'a Observed<'_>,
    credentials: &'a [CredentialMetadata],
    exclude: &[&str],
) -> Vec<&'a CredentialMetadata> {
    let Some(requested) = observed.status.create_requested_at.as_ref().map(|t| t.0) else {
        return Vec::new();
    };
    let skew = jiff::SignedDuration::try_from(ADOPTION_SKEW).unwrap_or_default();
    let window =
        jiff::SignedDuration::try_from(ADOPTION_WINDOW + ADOPTION_SKEW).unwrap_or_default();
    let from = requested.checked_sub(skew).unwrap_or(requested);
    let until = requested.checked_add(window).unwrap_or(requested);
    let before = &observed.status.credentials_before_create;
    credentials
        .iter()
        .filter(|c| {
            c.create_date >= from
                && c.create_date <= until
                && !before.contains(&c.id)
                && !observed.claimed_elsewhere.contains_key(&c.id)
                && !exclude.contains(&c.id.as_str())
        })
        .collect()
}

/// Whether the `createRequestedAt` marker has served its purpose while the resource holds `held`
/// (recovered from our Secret after a crash, or named in status): no other credential created
/// since the marker is waiting to be adopted. A marker left behind would later let the resource
/// adopt a credential someone else created.
pub(crate) fn intent_settled(observed: &Observed<'_>, held: &CredentialMetadata) -> bool {
    let Some(Ok(credentials)) = &observed.credentials else {
        return false;
    };
    let mut exclude = vec![held.id.as_str()];
    exclude.extend(observed.status.retiring_credential_id.as_deref());
    adoption_candidates(observed, credentials, &exclude).is_empty()
}

/// The LimitExceeded message. It names the ids holding the slots that a tenant of this
/// namespace may know about (held here, or by no resource at all), counts the ones held by
/// resources of other namespaces without naming them, and never holds a secret.
pub(crate) fn limit_message(observed: &Observed<'_>, credentials: &[CredentialMetadata]) -> String {
    let (elsewhere, visible): (Vec<&CredentialMetadata>, Vec<&CredentialMetadata>) =
        credentials.iter().partition(|c| {
            !observed.claims_complete
                || observed
                    .claimed_elsewhere
                    .get(&c.id)
                    .is_some_and(|ns| ns != observed.namespace)
        });
    let mut held: Vec<String> = visible.iter().map(|c| c.id.clone()).collect();
    if !elsewhere.is_empty() {
        held.push(format!(
            "{} held in other namespaces or not yet known",
            elsewhere.len()
        ));
    }
    format!(
        "IAM user {} already holds {} credentials for {} ({}), the most IAM allows; delete one of them or use another IAM user",
        observed.spec.user_name,
        credentials.len(),
        observed.spec.service_name,
        held.join(", ")
    )
}

fn decide_with_credential(
    observed: &Observed<'_>,
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
    let status = observed.status;

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
    if !secret_holds_it && !movable && !recreate {
        return Decision::Reset {
            credential: credential.clone(),
            cause: ResetCause::SecretLost,
        };
    }

    if let Some((cause, recreate)) = rotation {
        return decide_rotation(observed, credential, credentials, cause, recreate);
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
    let message = match (&status.retiring_credential_id, &status.retire_after) {
        (Some(id), Some(after)) => format!("previous credential {id} is deleted at {}", after.0),
        _ => String::new(),
    };
    report(Reason::Available, message)
}

/// Why an API key no longer works, when it expired. Never "fixed" by setting it Active: an
/// expired key stays expired.
fn expiry(observed: &Observed<'_>, credential: &CredentialMetadata) -> Option<String> {
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
pub(crate) fn secret_holds(observed: &Observed<'_>, credential: &CredentialMetadata) -> bool {
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
fn decide_rotation(
    observed: &Observed<'_>,
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
fn follow_credential(
    observed: &Observed<'_>,
    credential: &CredentialMetadata,
    slots_used: usize,
) -> Option<Decision> {
    if observed.spec.rollout_restart.is_empty() {
        return None;
    }
    let recorded = observed.status.workloads_restarted_for.as_deref();
    let issued_at = match observed.secret_issued_at {
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
fn resume_interrupted_rotation(
    observed: &Observed<'_>,
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
fn rotation_trigger(
    observed: &Observed<'_>,
    credential: &CredentialMetadata,
) -> Option<(ResetCause, bool)> {
    let rotation = observed.spec.rotation.as_ref();
    let recreate = rotation.is_some_and(|r| r.strategy == RotationStrategy::Recreate);
    if let Some(request) = observed.rotate_request
        && observed.status.handled_rotate_request.as_deref() != Some(request)
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

/// What the schedule reads of a pass's observation, `credential` the one held as IAM lists it.
fn schedule_facts<'a>(
    observed: &Observed<'a>,
    credential: Option<&CredentialMetadata>,
) -> schedule::Facts<'a> {
    schedule::Facts {
        spec: observed.spec,
        last_rotation: observed.status.last_rotation_time.as_ref().map(|t| t.0),
        retire_after: observed.status.retire_after.as_ref().map(|t| t.0),
        held: credential.map(|c| schedule::Held {
            created: c.create_date,
            expires: c.expiration_date,
        }),
    }
}

/// The next moment something becomes due without any change in Kubernetes (see
/// [`schedule::due`]). The reconcile loop looks again then, rather than at the next resync.
pub(crate) fn wake_at(observed: &Observed<'_>) -> Option<Timestamp> {
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

/// What deletion does with the IAM credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cleanup {
    /// Delete these (ours, a retiring one, or an unclaimed orphan of an interrupted create).
    pub delete: Vec<String>,
    /// deletionPolicy Retain: leave this one in IAM.
    pub retain: Option<String>,
}

/// Decides the cleanup on deletion. `credentials` is needed only to find the orphan of an
/// interrupted create; pass `None` when IAM was not listed. A credential retiring after a
/// Recreate rotation is deleted under either policy: it was going to be deleted anyway.
///
/// Ids the operator recorded in status are deleted whatever tenancy says now (they are this
/// resource's own). Anything else — the orphan of an interrupted create — only when tenancy
/// allows the user and the orphan is provably this resource's.
pub(crate) fn decide_cleanup(
    observed: &Observed<'_>,
    credentials: Option<&[CredentialMetadata]>,
) -> Cleanup {
    let id = owned_id(observed).map(str::to_string);
    let mut cleanup = Cleanup {
        delete: observed
            .status
            .retiring_credential_id
            .iter()
            .cloned()
            .collect(),
        retain: None,
    };
    if observed.spec.deletion_policy == DeletionPolicy::Retain {
        cleanup.retain = id;
        return cleanup;
    }
    if let Some(id) = id {
        cleanup.delete.insert(0, id);
        return cleanup;
    }
    if let Some(list) = credentials
        && observed.permission.is_ok()
        && observed.claims_complete
        && let [orphan] = adoption_candidates(observed, list, &[]).as_slice()
        && !cleanup.delete.contains(&orphan.id)
    {
        cleanup.delete.push(orphan.id.clone());
    }
    cleanup
}

/// Whether the pass must list the user although the gate stops it: the namespace may not use
/// the user, and the resource holds credentials to revoke.
pub(crate) fn revocation_needs_list(observed: &Observed<'_>) -> bool {
    // Whatever else the spec gets wrong: an invalid spec must not keep a revoked credential
    // alive (userName and serviceName are all a List needs, and they are immutable).
    observed.permission.is_err()
        && observed.revocation != Revocation::Keep
        && (observed.status.credential_id.is_some()
            || observed.status.retiring_credential_id.is_some())
}

/// For a resource whose namespace may not use its user: the credential it holds to revoke
/// next, or the NotPermitted report that says they are revoked. `None` when there is nothing to
/// revoke (or IAM was not asked).
fn revocation(observed: &Observed<'_>) -> Option<Decision> {
    let refusal = observed.permission.as_ref().err()?.to_string();
    if !revocation_needs_list(observed) {
        return None;
    }
    let Some(Ok(listed)) = &observed.credentials else {
        return None;
    };
    let held: Vec<&CredentialMetadata> = [
        &observed.status.credential_id,
        &observed.status.retiring_credential_id,
    ]
    .into_iter()
    .flatten()
    .filter_map(|id| listed.iter().find(|c| &c.id == id))
    .collect();
    let delete = observed.revocation == Revocation::Delete;
    if let Some(credential) = held
        .iter()
        .find(|c| delete || c.status == CredentialStatus::Active)
    {
        return Some(Decision::Revoke {
            credential: (*credential).clone(),
            delete,
            refusal,
        });
    }
    // None is Active any more: each as IAM reports it (Inactive, or an API key Expired).
    let revoked: Vec<String> = held
        .iter()
        .map(|c| format!("{} is {}", c.id, c.status.as_str()))
        .collect();
    (!revoked.is_empty()).then(|| Decision::Report {
        reason: Reason::NotPermitted,
        message: format!(
            "{refusal}; IAM credential {} until the namespace may use the user again",
            revoked.join(", ")
        ),
        credential: None,
        slots_used: None,
    })
}

/// Whether cleanup needs an IAM List (only to find the orphan of an interrupted create, which
/// tenancy must allow).
pub(crate) fn cleanup_needs_list(observed: &Observed<'_>) -> bool {
    observed.spec.deletion_policy == DeletionPolicy::Delete
        && owned_id(observed).is_none()
        && observed.status.create_requested_at.is_some()
        && observed.permission.is_ok()
}

#[cfg(test)]
pub(crate) mod tests;
