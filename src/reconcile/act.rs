//! Carries a [`Decision`] out: IAM calls, the Secret write, the status write and Events, in the
//! order that keeps the one-time secret safe (see [`crate::reconcile::plan`]).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use tracing::{info, warn};

use crate::api::{ServiceSpecificCredential, ServiceSpecificCredentialStatus};
use crate::iam::{CredentialMetadata, IamError, IssuedCredential, SecretValue};
use crate::reconcile::conditions::{Reason, ready_condition, reason_for};
use crate::reconcile::observe::Snapshot;
use crate::reconcile::plan::{self, Decision, ResetCause, RotationTrigger};
use crate::reconcile::{Context, Error, FIELD_MANAGER};
use crate::secret;

/// What a reconcile ended with: the reason now reported.
pub struct Outcome {
    pub reason: Reason,
}

pub async fn act(ctx: &Context, snapshot: &Snapshot, decision: Decision) -> Result<Outcome, Error> {
    let resource = &snapshot.resource;
    if decision.needs_freshness_check() {
        ensure_current(ctx, snapshot).await?;
    }
    if decision.writes_secret()
        && let Some((reason, message)) = preflight_secret(ctx, snapshot).await?
    {
        write_status(
            ctx,
            snapshot,
            &snapshot.status,
            snapshot.status.clone(),
            reason,
            message,
        )
        .await?;
        return Ok(Outcome { reason });
    }
    match decision {
        Decision::Report {
            reason,
            message,
            credential,
            slots_used,
        } => {
            let mut status = snapshot.status.clone();
            if let Some(c) = &credential {
                apply_credential(&mut status, c);
                settle_intent(&mut status, snapshot, c);
            }
            if let Some(n) = slots_used {
                status.slots_used = Some(n as i32);
            }
            write_status(ctx, snapshot, &snapshot.status, status, reason, message).await?;
            Ok(Outcome { reason })
        }
        Decision::Create { replaces, existing } => create(ctx, snapshot, replaces, existing).await,
        Decision::FollowCredential {
            credential,
            slots_used,
            issued_at,
            restart,
        } => {
            let mut status = snapshot.status.clone();
            let report = match restart {
                plan::WorkloadRestart::Restart => {
                    let report = restart_workloads(ctx, snapshot, &issued_at).await?;
                    // The previous credential (Recreate) stays valid for the grace period after
                    // the restart, not only after the swap: the new pods need it to come up.
                    if status.retiring_credential_id.is_some() {
                        let grace = jiff::SignedDuration::try_from(grace_period(resource))
                            .unwrap_or(jiff::SignedDuration::ZERO);
                        let until = snapshot.now.checked_add(grace).unwrap_or(snapshot.now);
                        if status.retire_after.as_ref().is_none_or(|t| t.0 < until) {
                            status.retire_after = Some(Time(until));
                        }
                    }
                    report
                }
                plan::WorkloadRestart::Disabled => RestartReport::disabled(),
                plan::WorkloadRestart::FirstCredential => RestartReport::default(),
            };
            apply_credential(&mut status, &credential);
            settle_intent(&mut status, snapshot, &credential);
            status.slots_used = Some(slots_used as i32);
            status.workloads_restarted_for = Some(issued_at.clone());
            let outcome = available(ctx, snapshot, status).await?;
            // Told once it is recorded: a pass repeated on a stale copy patches again (the same
            // value, no new rollout) but does not say so twice.
            report.publish(ctx, resource, &issued_at).await;
            Ok(outcome)
        }
        Decision::Recreate {
            old,
            cause,
            existing,
        } => recreate(ctx, snapshot, old, cause, existing).await,
        Decision::Retire { id } => {
            match ctx.iam.delete(&resource.spec.user_name, &id).await {
                Ok(()) | Err(IamError::CredentialNotFound { .. }) => {}
                Err(error) => return report_iam_error(ctx, snapshot, error).await,
            }
            publish(
                ctx,
                resource,
                EventType::Normal,
                "CredentialRetired",
                "DeleteCredential",
                format!("deleted the previous IAM credential {id} after its grace period"),
            )
            .await;
            let mut status = snapshot.status.clone();
            status.retiring_credential_id = None;
            status.retire_after = None;
            available(ctx, snapshot, status).await
        }
        Decision::Reset { credential, cause } => reset(ctx, snapshot, credential, cause).await,
        Decision::UpdateStatus {
            credential,
            desired,
        } => {
            let user = &resource.spec.user_name;
            let active = desired == crate::api::DesiredStatus::Active;
            if let Err(error) = ctx.iam.update_status(user, &credential.id, active).await {
                return report_iam_error(ctx, snapshot, error).await;
            }
            publish(
                ctx,
                resource,
                EventType::Normal,
                "CredentialStatusUpdated",
                "UpdateCredential",
                format!(
                    "set IAM credential {} to {} (IAM reported {})",
                    credential.id,
                    desired.as_str(),
                    credential.status.as_str()
                ),
            )
            .await;
            let mut updated = credential.clone();
            updated.status = match desired {
                crate::api::DesiredStatus::Active => crate::iam::CredentialStatus::Active,
                crate::api::DesiredStatus::Inactive => crate::iam::CredentialStatus::Inactive,
            };
            mark_available(ctx, snapshot, &updated).await
        }
        Decision::RewriteSecret { credential } => {
            // Copied only from a Secret that holds this very credential.
            let kind = resource.spec.service_name.kind();
            let copy = [snapshot.secret.as_ref(), snapshot.old_secret.as_ref()]
                .into_iter()
                .flatten()
                .filter(|s| secret::is_owned_by(s, &resource.uid().unwrap_or_default()))
                .filter_map(|s| secret::read_back(s, kind).map(|read| (read, secret::issued_at(s))))
                .find(|((id, _, _), _)| *id == credential.id);
            let Some(((_, login, value), issued_at)) = copy else {
                // Nothing intact to copy from: the next observation resets.
                return Ok(Outcome {
                    reason: Reason::Creating,
                });
            };
            write_secret(ctx, snapshot, &credential.id, &login, &value, issued_at).await?;
            delete_old_secret(ctx, snapshot).await?;
            let mut status = snapshot.status.clone();
            apply_credential(&mut status, &credential);
            settle_intent(&mut status, snapshot, &credential);
            status.secret_name = Some(resource.secret_name());
            available(ctx, snapshot, status).await
        }
    }
}

/// Publishes an Event the plan made.
async fn publish_planned(
    ctx: &Context,
    resource: &ServiceSpecificCredential,
    event: plan::PlannedEvent,
    action: &str,
) {
    let type_ = if event.warning {
        EventType::Warning
    } else {
        EventType::Normal
    };
    publish(ctx, resource, type_, event.reason, action, event.note).await;
}

/// Records `credential` in status with Ready=True.
async fn mark_available(
    ctx: &Context,
    snapshot: &Snapshot,
    credential: &CredentialMetadata,
) -> Result<Outcome, Error> {
    let mut status = snapshot.status.clone();
    apply_credential(&mut status, credential);
    settle_intent(&mut status, snapshot, credential);
    available(ctx, snapshot, status).await
}

/// Writes `status` over the snapshot's with Ready=True, reason Available.
async fn available(
    ctx: &Context,
    snapshot: &Snapshot,
    status: ServiceSpecificCredentialStatus,
) -> Result<Outcome, Error> {
    write_status(
        ctx,
        snapshot,
        &snapshot.status,
        status,
        Reason::Available,
        String::new(),
    )
    .await?;
    Ok(Outcome {
        reason: Reason::Available,
    })
}

/// The Ready reason and message while an IAM write is attempted: `Creating`/`Rotating` at
/// first, but a failure being retried keeps its own (no flip back and forth, no Event per retry).
fn attempt_condition(snapshot: &Snapshot, reason: Reason, message: String) -> (Reason, String) {
    snapshot
        .resource
        .ready_condition()
        .filter(|c| c.status == "False")
        .and_then(|c| {
            Reason::from_name(&c.reason)
                .filter(|failing| *failing != Reason::Creating && !failing.is_ready())
                .map(|failing| (failing, c.message.clone()))
        })
        .unwrap_or((reason, message))
}

/// Records the intent to create before IAM holds anything: the time and the ids that exist now,
/// none of which can be the new one (see `plan::adoption_candidates`).
fn record_intent(status: &mut ServiceSpecificCredentialStatus, existing: Vec<String>) {
    status.create_requested_at = Some(Time(crate::clock::now()));
    status.credentials_before_create = existing;
}

fn clear_intent(status: &mut ServiceSpecificCredentialStatus) {
    status.create_requested_at = None;
    status.credentials_before_create = Vec::new();
}

async fn create(
    ctx: &Context,
    snapshot: &Snapshot,
    replaces: Option<String>,
    existing: Vec<String>,
) -> Result<Outcome, Error> {
    let resource = &snapshot.resource;
    let spec = &resource.spec;
    // 1. Record the intent before IAM holds anything: a crash from here on is recoverable.
    let mut status = snapshot.status.clone();
    if replaces.is_some() {
        status.credential_id = None;
    }
    record_intent(&mut status, existing);
    let (reason, message) = attempt_condition(
        snapshot,
        Reason::Creating,
        format!(
            "creating a credential for IAM user {} and {}",
            spec.user_name, spec.service_name
        ),
    );
    let base = write_status(ctx, snapshot, &snapshot.status, status, reason, message).await?;
    ensure_current(ctx, snapshot).await?;
    if let Some(old) = &replaces {
        publish(
            ctx,
            resource,
            EventType::Warning,
            "CredentialRecreated",
            "CreateCredential",
            format!(
                "IAM credential {old} no longer exists (deleted out of band); creating a new one"
            ),
        )
        .await;
    }

    // 2. IAM Create: from here the one-time secret exists only in this process.
    let issued = match ctx
        .iam
        .create(
            &spec.user_name,
            spec.service_name.as_str(),
            spec.credential_age_days,
        )
        .await
    {
        Ok(issued) => issued,
        Err(IamError::LimitExceeded { .. }) => {
            // A definite no (Create is never retried by the SDK): nothing was created, and the
            // marker must not outlive this attempt.
            let list = ctx
                .iam
                .list(&spec.user_name, spec.service_name.as_str())
                .await
                .unwrap_or_default();
            let mut status = base.clone();
            clear_intent(&mut status);
            status.slots_used = Some(list.len() as i32);
            // The claims were read for the listing this pass decided on, not this one: an id
            // not looked up is not named.
            let mut observed = snapshot.observed();
            observed.claims_complete = false;
            let message = plan::limit_message(&observed, &list);
            write_status(ctx, snapshot, &base, status, Reason::LimitExceeded, message).await?;
            return Ok(Outcome {
                reason: Reason::LimitExceeded,
            });
        }
        Err(error) => return report_failed_create(ctx, snapshot, &base, error).await,
    };
    info!(credential_id = %issued.metadata.id, "created IAM credential");

    // 3. Status names the credential: from here on it is this resource's, whatever happens.
    // 4. The Secret, then Ready.
    record_then_deliver(ctx, snapshot, &base, &issued, Reason::Creating, |status| {
        clear_intent(status);
        status.slots_used = slots_after_create(snapshot);
    })
    .await?;
    publish(
        ctx,
        resource,
        EventType::Normal,
        "CredentialCreated",
        "CreateCredential",
        format!(
            "created IAM credential {} ({}) and wrote Secret {}",
            issued.metadata.id,
            issued.metadata.login(),
            resource.secret_name()
        ),
    )
    .await;
    Ok(Outcome {
        reason: Reason::Available,
    })
}

async fn reset(
    ctx: &Context,
    snapshot: &Snapshot,
    credential: CredentialMetadata,
    cause: ResetCause,
) -> Result<Outcome, Error> {
    let resource = &snapshot.resource;
    let issued = match ctx
        .iam
        .reset(&resource.spec.user_name, &credential.id)
        .await
    {
        Ok(issued) => issued,
        Err(error) => return report_iam_error(ctx, snapshot, error).await,
    };
    let event = plan::reset_event(&cause, &credential.id, &resource.secret_name());
    let now = crate::clock::now();
    let adjust = |status: &mut ServiceSpecificCredentialStatus| {
        clear_intent(status);
        match &cause {
            ResetCause::Rotate(trigger) => {
                status.last_rotation_time = Some(Time(now));
                if let RotationTrigger::Requested(request) = trigger {
                    status.handled_rotate_request = Some(request.clone());
                }
            }
            ResetCause::AdoptRotation { old } => start_retirement(status, snapshot, old, now),
            ResetCause::Adopt | ResetCause::AdoptRequested | ResetCause::SecretLost => {}
        }
    };
    if plan::reset_adopts(&cause) {
        // Status names an adopted credential before its secret goes anywhere.
        record_then_deliver(
            ctx,
            snapshot,
            &snapshot.status,
            &issued,
            Reason::Creating,
            adjust,
        )
        .await?;
    } else {
        deliver(ctx, snapshot, &snapshot.status, &issued, adjust).await?;
    }
    publish_planned(ctx, resource, event, "ResetCredential").await;
    Ok(Outcome {
        reason: Reason::Available,
    })
}

/// Recreate rotation: a new credential in the free slot, then the Secret, then status naming the
/// new one and the old one as retiring. Crash-safe like `create` (see
/// `plan::resume_interrupted_rotation`).
async fn recreate(
    ctx: &Context,
    snapshot: &Snapshot,
    old: CredentialMetadata,
    cause: ResetCause,
    existing: Vec<String>,
) -> Result<Outcome, Error> {
    let resource = &snapshot.resource;
    let spec = &resource.spec;
    let mut status = snapshot.status.clone();
    record_intent(&mut status, existing);
    let base = write_status(
        ctx,
        snapshot,
        &snapshot.status,
        status,
        Reason::Rotating,
        format!("creating a new credential to replace {}", old.id),
    )
    .await?;
    ensure_current(ctx, snapshot).await?;
    let issued = match ctx
        .iam
        .create(
            &spec.user_name,
            spec.service_name.as_str(),
            spec.credential_age_days,
        )
        .await
    {
        Ok(issued) => issued,
        Err(error) => return report_failed_create(ctx, snapshot, &base, error).await,
    };
    info!(credential_id = %issued.metadata.id, replaces = %old.id, "created IAM credential (rotation)");
    let now = crate::clock::now();
    record_then_deliver(ctx, snapshot, &base, &issued, Reason::Rotating, |status| {
        start_retirement(status, snapshot, &old.id, now);
        status.slots_used = slots_after_create(snapshot);
        if let ResetCause::Rotate(RotationTrigger::Requested(request)) = &cause {
            status.handled_rotate_request = Some(request.clone());
        }
    })
    .await?;
    let grace = grace_period(resource);
    publish(
        ctx,
        resource,
        EventType::Normal,
        "CredentialRotated",
        "CreateCredential",
        format!(
            "created IAM credential {} to replace {} (Recreate); {} stays valid for {}s",
            issued.metadata.id,
            old.id,
            old.id,
            grace.as_secs()
        ),
    )
    .await;
    Ok(Outcome {
        reason: Reason::Available,
    })
}

/// The user's slots for the service once a Create succeeded: the ones listed plus the new one.
fn slots_after_create(snapshot: &Snapshot) -> Option<i32> {
    match &snapshot.credentials {
        Some(Ok(list)) => Some(list.len() as i32 + 1),
        _ => None,
    }
}

fn grace_period(resource: &ServiceSpecificCredential) -> std::time::Duration {
    resource
        .spec
        .rotation
        .as_ref()
        .map_or(crate::api::DEFAULT_GRACE_PERIOD, |r| r.grace())
}

/// Records `old` as retiring after the grace period, and the rotation as done.
fn start_retirement(
    status: &mut ServiceSpecificCredentialStatus,
    snapshot: &Snapshot,
    old: &str,
    now: Timestamp,
) {
    let grace = jiff::SignedDuration::try_from(grace_period(&snapshot.resource))
        .unwrap_or(jiff::SignedDuration::ZERO);
    clear_intent(status);
    status.retiring_credential_id = Some(old.to_string());
    status.retire_after = Some(Time(now.checked_add(grace).unwrap_or(now)));
    status.last_rotation_time = Some(Time(now));
    if let Some(request) = snapshot
        .resource
        .annotations()
        .get(crate::api::ROTATE_ANNOTATION)
    {
        status.handled_rotate_request = Some(request.clone());
    }
}

/// For a credential not yet in status (created or adopted): records it in status first (with
/// `adjust`, Ready still `reason`), so it is this resource's before its secret goes anywhere,
/// then delivers it.
async fn record_then_deliver(
    ctx: &Context,
    snapshot: &Snapshot,
    base: &ServiceSpecificCredentialStatus,
    issued: &IssuedCredential,
    reason: Reason,
    adjust: impl FnOnce(&mut ServiceSpecificCredentialStatus),
) -> Result<(), Error> {
    let mut recorded = base.clone();
    apply_credential(&mut recorded, &issued.metadata);
    adjust(&mut recorded);
    let recorded = record_status(
        ctx,
        snapshot,
        base,
        recorded,
        reason,
        format!("writing Secret {}", snapshot.resource.secret_name()),
    )
    .await?;
    deliver(ctx, snapshot, &recorded, issued, |_| {}).await
}

/// Writes the Secret for a freshly issued secret, then the status naming the credential.
async fn deliver(
    ctx: &Context,
    snapshot: &Snapshot,
    base: &ServiceSpecificCredentialStatus,
    issued: &IssuedCredential,
    adjust: impl FnOnce(&mut ServiceSpecificCredentialStatus),
) -> Result<(), Error> {
    let issued_at = secret::format_issued_at(snapshot.now);
    let written = write_secret(
        ctx,
        snapshot,
        &issued.metadata.id,
        issued.metadata.login(),
        &issued.secret,
        Some(&issued_at),
    )
    .await;
    if let Err(error) = written {
        // A Reset of the credential the resource held killed the secret the Secret still has:
        // until the new one is there, the resource is not Ready. (The retry resets again; this
        // secret reached no one.) After a Create or Recreate the previous state still holds.
        if snapshot.status.credential_id.as_deref() == Some(issued.metadata.id.as_str()) {
            write_status(
                ctx,
                snapshot,
                base,
                base.clone(),
                Reason::Creating,
                format!(
                    "reset IAM credential {} but could not write Secret {}; retrying",
                    issued.metadata.id,
                    snapshot.resource.secret_name()
                ),
            )
            .await?;
        }
        return Err(error);
    }
    delete_old_secret(ctx, snapshot).await?;
    let mut status = base.clone();
    apply_credential(&mut status, &issued.metadata);
    adjust(&mut status);
    status.secret_name = Some(snapshot.resource.secret_name());
    record_status(
        ctx,
        snapshot,
        base,
        status,
        Reason::Available,
        String::new(),
    )
    .await?;
    Ok(())
}

/// Reports a failed Create. The intent marker stays only when the failure may hide a Create that
/// took effect (a timeout, a lost answer, a 5xx): that credential must then be adopted.
async fn report_failed_create(
    ctx: &Context,
    snapshot: &Snapshot,
    base: &ServiceSpecificCredentialStatus,
    error: IamError,
) -> Result<Outcome, Error> {
    let reason = reason_for(&error);
    let mut status = base.clone();
    if error.is_definite() {
        // IAM answered no, and Create is never retried by the SDK: nothing was created, so the
        // marker has nothing to protect and must not let a later credential look like ours.
        clear_intent(&mut status);
    }
    write_status(ctx, snapshot, base, status, reason, error.to_string()).await?;
    Ok(Outcome { reason })
}

async fn report_iam_error(
    ctx: &Context,
    snapshot: &Snapshot,
    error: IamError,
) -> Result<Outcome, Error> {
    if let IamError::CredentialNotFound { .. } = error {
        // Vanished between List and this call: observe again right away.
        return Ok(Outcome {
            reason: Reason::Creating,
        });
    }
    let reason = reason_for(&error);
    write_status(
        ctx,
        snapshot,
        &snapshot.status,
        snapshot.status.clone(),
        reason,
        error.to_string(),
    )
    .await?;
    Ok(Outcome { reason })
}

/// Drops the intent marker once it has nothing left to protect (see `plan::intent_settled`).
fn settle_intent(
    status: &mut ServiceSpecificCredentialStatus,
    snapshot: &Snapshot,
    held: &CredentialMetadata,
) {
    if status.create_requested_at.is_some() && plan::intent_settled(&snapshot.observed(), held) {
        status.create_requested_at = None;
    }
}

fn apply_credential(status: &mut ServiceSpecificCredentialStatus, c: &CredentialMetadata) {
    status.credential_id = Some(c.id.clone());
    status.service_user_name = c.service_user_name.clone();
    status.service_credential_alias = c.alias.clone();
    status.credential_status = Some(c.status.as_str().to_string());
    status.create_date = Some(Time(c.create_date));
    status.expiration_date = c.expiration_date.map(Time);
}

/// Creates or replaces our Secret. Labels and annotations others added to it are kept; a type
/// change (immutable in Kubernetes) deletes and recreates it.
async fn write_secret(
    ctx: &Context,
    snapshot: &Snapshot,
    credential_id: &str,
    login: &str,
    value: &SecretValue,
    issued_at: Option<&str>,
) -> Result<(), Error> {
    let resource = &snapshot.resource;
    let desired = secret::render(
        resource,
        &secret::Material {
            kind: resource.spec.service_name.kind(),
            credential_id,
            login,
            secret: value,
            issued_at,
        },
    )?;
    send_secret(ctx, snapshot, desired, false).await
}

/// Writes `desired` over what the snapshot saw (or, with `dry_run`, asks whether the API server
/// would take it). For a type change the dry run creates under a generated name: the real write
/// deletes the live Secret only once the new one is known to be acceptable.
async fn send_secret(
    ctx: &Context,
    snapshot: &Snapshot,
    mut desired: Secret,
    dry_run: bool,
) -> Result<(), Error> {
    let api = secrets(ctx, snapshot);
    let pp = post_params(dry_run);
    // Only a Secret we own is ever replaced; a foreign one stopped us at the gate.
    let existing = match &snapshot.secret_observation {
        plan::SecretObservation::Owned { .. } => snapshot.secret.as_ref(),
        _ => None,
    };
    match existing {
        Some(existing) if existing.type_ == desired.type_ => {
            for (mine, theirs) in [
                (&mut desired.metadata.labels, &existing.metadata.labels),
                (
                    &mut desired.metadata.annotations,
                    &existing.metadata.annotations,
                ),
            ] {
                let merged = mine.get_or_insert_with(Default::default);
                for (k, v) in theirs.iter().flatten() {
                    merged.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            desired.metadata.resource_version = existing.resource_version();
            api.replace(&desired.name_any(), &pp, &desired).await?;
        }
        Some(_) if dry_run => {
            desired.metadata.generate_name = desired.metadata.name.take().map(|n| {
                let base: String = n.chars().take(57).collect();
                format!("{base}-")
            });
            api.create(&pp, &desired).await?;
        }
        Some(existing) => {
            api.delete(
                &existing.name_any(),
                &DeleteParams {
                    preconditions: Some(kube::api::Preconditions {
                        uid: existing.uid(),
                        resource_version: existing.resource_version(),
                    }),
                    ..DeleteParams::default()
                },
            )
            .await?;
            api.create(&pp, &desired).await?;
        }
        None => {
            api.create(&pp, &desired).await?;
        }
    }
    Ok(())
}

/// The Secrets of the resource's namespace.
fn secrets(ctx: &Context, snapshot: &Snapshot) -> Api<Secret> {
    Api::namespaced(ctx.client.clone(), &snapshot.namespace)
}

fn post_params(dry_run: bool) -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        dry_run,
    }
}

/// `deletionPolicy: Retain`: our Secrets stay with the credential they hold — the one under
/// the current name, and the one under the name status records when a rename had not happened
/// yet. Our ownerReference goes (so the garbage collector leaves them), and with it our label
/// (they are no longer managed); an annotation says where they came from.
pub async fn release_secrets(ctx: &Context, snapshot: &Snapshot, id: &str) -> Result<(), Error> {
    let current = match &snapshot.secret_observation {
        plan::SecretObservation::Owned { .. } => snapshot.secret.as_ref(),
        _ => None,
    };
    for secret in current.into_iter().chain(snapshot.old_secret.as_ref()) {
        release_secret(ctx, snapshot, secret, id).await?;
    }
    Ok(())
}

async fn release_secret(
    ctx: &Context,
    snapshot: &Snapshot,
    secret: &Secret,
    id: &str,
) -> Result<(), Error> {
    let resource = &snapshot.resource;
    let uid = resource.uid().unwrap_or_default();
    let mut released = secret.clone();
    released.metadata.managed_fields = None;
    if let Some(owners) = released.metadata.owner_references.as_mut() {
        owners.retain(|o| o.uid != uid);
    }
    if let Some(labels) = released.metadata.labels.as_mut() {
        labels.remove(secret::MANAGED_BY_LABEL);
    }
    released.annotations_mut().insert(
        secret::RETAINED_FROM_ANNOTATION.into(),
        secret::owner_of(resource),
    );
    match secrets(ctx, snapshot)
        .replace(&secret.name_any(), &post_params(false), &released)
        .await
    {
        Ok(_) => {
            info!(credential_id = %id, secret = %secret.name_any(), "released the Secret of a retained credential");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// After spec.secret.name changed: removes our Secret under the old name.
async fn delete_old_secret(ctx: &Context, snapshot: &Snapshot) -> Result<(), Error> {
    let Some(old) = &snapshot.old_secret else {
        return Ok(());
    };
    match secrets(ctx, snapshot)
        .delete(&old.name_any(), &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Writes status through the status subresource (a merge patch that also clears removed
/// fields) and publishes an Event when the Ready reason changes. Returns the status written.
///
/// The patch is fenced with the resourceVersion the snapshot was taken at (then the one this
/// reconcile last wrote): a reconcile working from a stale cached copy gets 409 Conflict instead
/// of writing old fields back over newer ones.
pub async fn write_status(
    ctx: &Context,
    snapshot: &Snapshot,
    old: &ServiceSpecificCredentialStatus,
    mut new: ServiceSpecificCredentialStatus,
    reason: Reason,
    message: String,
) -> Result<ServiceSpecificCredentialStatus, Error> {
    let resource = &snapshot.resource;
    let previous = old.conditions.iter().find(|c| c.type_ == "Ready");
    let generation = resource.meta().generation;
    let condition = ready_condition(
        previous,
        reason,
        message.clone(),
        generation,
        crate::clock::now(),
    );
    new.conditions.retain(|c| c.type_ != "Ready");
    new.conditions.insert(0, condition);
    new.observed_generation = generation;
    new.next_rotation_time = plan::next_rotation_at(&resource.spec, &new).map(Time);
    if new == *old {
        return Ok(new);
    }
    fenced_status_patch(ctx, snapshot, status_merge_patch(old, &new)).await?;
    let reason_changed = previous.map(|c| c.reason.as_str()) != Some(reason.as_str());
    if reason_changed {
        let event_type = if reason.is_warning() {
            EventType::Warning
        } else {
            EventType::Normal
        };
        let note = if message.is_empty() {
            format!("Ready: {reason}")
        } else {
            message
        };
        publish(
            ctx,
            resource,
            event_type,
            reason.as_str(),
            "Reconcile",
            note,
        )
        .await;
    }
    Ok(new)
}

/// [`write_status`] for a status that records an IAM write already done: it must land. A 409
/// here does not mean the decision was stale (that was checked before the IAM write), only that
/// the object moved on meanwhile, so the patch is sent again on the current version.
async fn record_status(
    ctx: &Context,
    snapshot: &Snapshot,
    old: &ServiceSpecificCredentialStatus,
    new: ServiceSpecificCredentialStatus,
    reason: Reason,
    message: String,
) -> Result<ServiceSpecificCredentialStatus, Error> {
    note_recorded(ctx, snapshot, &new);
    let mut attempt = 0;
    loop {
        match write_status(ctx, snapshot, old, new.clone(), reason, message.clone()).await {
            Err(Error::Kube(kube::Error::Api(e))) if e.code == 409 && attempt < 3 => {
                attempt += 1;
                let resource = &snapshot.resource;
                let namespace = resource.namespace().ok_or(Error::NoNamespace)?;
                let current =
                    Api::<ServiceSpecificCredential>::namespaced(ctx.client.clone(), &namespace)
                        .get(&resource.name_any())
                        .await?;
                if current.uid() != resource.uid() {
                    return Err(Error::Kube(kube::Error::Api(e)));
                }
                snapshot.fence.lock().expect("fence lock").resource_version =
                    current.resource_version();
                info!(
                    attempt,
                    "status moved on meanwhile; recording the IAM write again"
                );
            }
            other => return other,
        }
    }
}

/// Remembers the ids `status` names as this resource's, before the write that records them, so
/// no other reconcile of this process can take them for unclaimed while caches catch up.
fn note_recorded(ctx: &Context, snapshot: &Snapshot, status: &ServiceSpecificCredentialStatus) {
    ctx.tracked.note_recorded(
        &snapshot.resource.uid().unwrap_or_default(),
        &snapshot.namespace,
        [&status.credential_id, &status.retiring_credential_id]
            .into_iter()
            .flatten(),
    );
}

/// Sends the Secret this resource would write, with placeholder material, as a server-side dry
/// run (`dryRun=All`). `Some((reason, message))` when the API server refuses it: InvalidSpec with
/// its message (invalid type or labels, too large, immutable, a terminating namespace), or
/// SecretConflict when someone else's Secret took the name meanwhile.
async fn preflight_secret(
    ctx: &Context,
    snapshot: &Snapshot,
) -> Result<Option<(Reason, String)>, Error> {
    let resource = &snapshot.resource;
    let desired = secret::render_placeholder(resource)?;
    match send_secret(ctx, snapshot, desired, true).await {
        Ok(()) => Ok(None),
        Err(Error::Kube(kube::Error::Api(e))) if e.code == 409 && e.reason == "AlreadyExists" => {
            Ok(Some((
                Reason::SecretConflict,
                format!(
                    "a Secret named {} was created by someone else; it is never overwritten",
                    resource.secret_name()
                ),
            )))
        }
        Err(Error::Kube(kube::Error::Api(e))) if matches!(e.code, 400 | 403 | 413 | 422) => {
            Ok(Some((
                Reason::InvalidSpec,
                format!(
                    "the API server rejects the Secret this resource would write: {}",
                    e.message
                ),
            )))
        }
        Err(other) => Err(other),
    }
}

/// Proves the snapshot current before an IAM write: a no-op status patch fenced with its
/// resourceVersion (409 Conflict when the cache served a stale copy). Skipped when a fenced status
/// write of this reconcile already proved it.
pub async fn ensure_current(ctx: &Context, snapshot: &Snapshot) -> Result<(), Error> {
    if snapshot.fence.lock().expect("fence lock").confirmed {
        return Ok(());
    }
    fenced_status_patch(ctx, snapshot, serde_json::json!({})).await
}

/// Sends `patch` to the status subresource with the fence's resourceVersion, and moves the fence
/// to the version written.
async fn fenced_status_patch(
    ctx: &Context,
    snapshot: &Snapshot,
    mut patch: serde_json::Value,
) -> Result<(), Error> {
    let resource = &snapshot.resource;
    let version = snapshot
        .fence
        .lock()
        .expect("fence lock")
        .resource_version
        .clone();
    if let Some(version) = &version {
        patch["metadata"] = serde_json::json!({ "resourceVersion": version });
    }
    let namespace = resource.namespace().ok_or(Error::NoNamespace)?;
    let written = Api::<ServiceSpecificCredential>::namespaced(ctx.client.clone(), &namespace)
        .patch_status(
            &resource.name_any(),
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..PatchParams::default()
            },
            &Patch::Merge(&patch),
        )
        .await?;
    // A patch that changed nothing leaves the version as it was: that one is still current.
    if let (Some(uid), Some(replaced)) = (resource.uid(), version)
        && written.resource_version().as_ref() != Some(&replaced)
    {
        ctx.tracked.note_superseded(&uid, replaced);
    }
    let mut fence = snapshot.fence.lock().expect("fence lock");
    fence.resource_version = written.resource_version();
    fence.confirmed = true;
    Ok(())
}

/// `{"status": new}` plus explicit nulls for fields `new` no longer has (a JSON merge patch
/// only removes what it sets to null).
pub fn status_merge_patch(
    old: &ServiceSpecificCredentialStatus,
    new: &ServiceSpecificCredentialStatus,
) -> serde_json::Value {
    let old = serde_json::to_value(old).unwrap_or_default();
    let mut new = serde_json::to_value(new).unwrap_or_default();
    if let (Some(old), Some(new)) = (old.as_object(), new.as_object_mut()) {
        for key in old.keys() {
            new.entry(key.clone()).or_insert(serde_json::Value::Null);
        }
    }
    serde_json::json!({ "status": new })
}

/// Publishes an Event; a failure is logged, never fatal. Notes never hold secret material.
pub async fn publish(
    ctx: &Context,
    resource: &ServiceSpecificCredential,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    if let Err(error) = ctx
        .events
        .publish(&resource.object_ref(&()), type_, reason, action, note)
        .await
    {
        warn!(%error, reason, "could not publish Event");
    }
}

/// The pod-template annotation `kubectl rollout restart` sets.
const RESTARTED_AT_ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";

/// What a restart did, told in Events once recorded.
#[derive(Default)]
struct RestartReport {
    restarted: Vec<String>,
    /// Workloads skipped for good (missing, or refused as invalid), with why.
    skipped: Vec<(String, String)>,
    disabled: bool,
}

impl RestartReport {
    fn disabled() -> Self {
        RestartReport {
            disabled: true,
            ..RestartReport::default()
        }
    }

    async fn publish(&self, ctx: &Context, resource: &ServiceSpecificCredential, issued_at: &str) {
        if self.disabled {
            publish(
                ctx,
                resource,
                EventType::Warning,
                "RolloutRestartDisabled",
                "RolloutRestart",
                "spec.rolloutRestart lists workloads, but this installation does not restart workloads (the operator runs without --rollout-restart): restart them yourself to pick up the new credential".into(),
            )
            .await;
        }
        for (what, why) in &self.skipped {
            publish(
                ctx,
                resource,
                EventType::Warning,
                "RolloutRestartFailed",
                "RolloutRestart",
                format!("could not restart {what}: {why}"),
            )
            .await;
        }
        if !self.restarted.is_empty() {
            publish(
                ctx,
                resource,
                EventType::Normal,
                "WorkloadsRestarted",
                "RolloutRestart",
                format!(
                    "restarted {} for the credential issued at {issued_at}",
                    self.restarted.join(", ")
                ),
            )
            .await;
        }
    }
}

/// Restarts each `spec.rolloutRestart` workload as `kubectl rollout restart` does, with the
/// credential's issue time as the value, so that doing it twice starts one rollout. A workload
/// that is missing or refuses the patch as invalid is skipped (and reported); a refusal of the
/// operator's rights (RBAC not granted yet) or any other failure fails the pass, which is
/// retried with backoff.
async fn restart_workloads(
    ctx: &Context,
    snapshot: &Snapshot,
    issued_at: &str,
) -> Result<RestartReport, Error> {
    let resource = &snapshot.resource;
    let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
        RESTARTED_AT_ANNOTATION: issued_at
    }}}}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    let mut report = RestartReport::default();
    for workload in &resource.spec.rollout_restart {
        let client = ctx.client.clone();
        let ns = snapshot.namespace.as_str();
        let name = workload.name.as_str();
        // apps/v1, plural the lowercased kind + "s": deployments, statefulsets, daemonsets.
        let kind = kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "apps",
            "v1",
            workload.kind.as_str(),
        ));
        let result = Api::<kube::api::DynamicObject>::namespaced_with(client, ns, &kind)
            .patch(name, &params, &Patch::Merge(&patch))
            .await
            .map(|_| ());
        let what = format!("{}/{name}", workload.kind.as_str());
        match result {
            Ok(()) => report.restarted.push(what),
            Err(kube::Error::Api(e)) if matches!(e.code, 400 | 404 | 422) => {
                report.skipped.push((what, e.message));
            }
            Err(kube::Error::Api(e)) if e.code == 403 => {
                publish(
                    ctx,
                    resource,
                    EventType::Warning,
                    "RolloutRestartForbidden",
                    "RolloutRestart",
                    format!(
                        "the operator may not patch {what} ({}); grant it patch on apps workloads (Helm rolloutRestart.enabled, kustomize deploy/rollout-restart); retrying",
                        e.message
                    ),
                )
                .await;
                return Err(kube::Error::Api(e).into());
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(report)
}
