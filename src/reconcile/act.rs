//! Carries a [`Decision`] out: IAM calls, the Secret write, the status write and Events, in the
//! order that keeps the one-time secret safe (see [`crate::reconcile::plan`]).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use tracing::{info, warn};

use crate::api::{ServiceSpecificCredential, ServiceSpecificCredentialStatus};
use crate::iam::{CredentialMetadata, IamError, IssuedCredential, SecretValue};
use crate::reconcile::conditions::{Reason, ready_condition, reason_for};
use crate::reconcile::observe::Snapshot;
use crate::reconcile::plan::{self, Decision, ResetCause};
use crate::reconcile::{Context, Error, FIELD_MANAGER};
use crate::secret;

/// What a reconcile ended with: the reason now reported.
pub struct Outcome {
    pub reason: Reason,
}

pub async fn act(ctx: &Context, snapshot: &Snapshot, decision: Decision) -> Result<Outcome, Error> {
    let resource = &snapshot.resource;
    // A write decided from a stale cached copy must not happen: Create and Recreate are fenced
    // by their intent-marker status write (or check when it was a no-op), every other write is
    // checked here first.
    if matches!(
        decision,
        Decision::Reset { .. }
            | Decision::UpdateStatus { .. }
            | Decision::RewriteSecret { .. }
            | Decision::Retire { .. }
    ) {
        ensure_current(ctx, snapshot).await?;
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
        Decision::Create { replaces } => create(ctx, snapshot, replaces).await,
        Decision::Recreate { old, cause } => recreate(ctx, snapshot, old, cause).await,
        Decision::CompleteRotation { new, old } => {
            let mut status = snapshot.status.clone();
            apply_credential(&mut status, &new);
            start_retirement(&mut status, snapshot, &old.id, Timestamp::now());
            let outcome = available(ctx, snapshot, status).await?;
            publish(
                ctx,
                resource,
                EventType::Normal,
                "CredentialRotated",
                "CreateCredential",
                format!(
                    "completed an interrupted rotation: IAM credential {} replaces {}",
                    new.id, old.id
                ),
            )
            .await;
            Ok(outcome)
        }
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
            let source = match &snapshot.secret_observation {
                plan::SecretObservation::Owned { intact: true, .. } => snapshot.secret.as_ref(),
                _ => snapshot.old_secret.as_ref(),
            };
            let kind = resource.spec.service_name.kind();
            let Some((_, login, value)) = source.and_then(|s| secret::read_back(s, kind)) else {
                // Nothing intact to copy from: the next observation resets.
                return Ok(Outcome {
                    reason: Reason::Creating,
                });
            };
            write_secret(ctx, snapshot, &credential.id, &login, &value).await?;
            delete_old_secret(ctx, snapshot).await?;
            mark_available(ctx, snapshot, &credential).await
        }
    }
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

async fn create(
    ctx: &Context,
    snapshot: &Snapshot,
    replaces: Option<String>,
) -> Result<Outcome, Error> {
    let resource = &snapshot.resource;
    let spec = &resource.spec;
    // 1. Record the intent before IAM holds anything: a crash from here on is recoverable.
    let mut status = snapshot.status.clone();
    if replaces.is_some() {
        status.credential_id = None;
    }
    if status.create_requested_at.is_none() || replaces.is_some() {
        status.create_requested_at = Some(Time(Timestamp::now()));
    }
    let base = write_status(
        ctx,
        snapshot,
        &snapshot.status,
        status.clone(),
        Reason::Creating,
        format!(
            "creating a credential for IAM user {} and {}",
            spec.user_name, spec.service_name
        ),
    )
    .await?;
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
            let ids = match ctx
                .iam
                .list(&spec.user_name, spec.service_name.as_str())
                .await
            {
                Ok(list) => list.into_iter().map(|c| c.id).collect::<Vec<_>>(),
                Err(_) => Vec::new(),
            };
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let mut status = base.clone();
            status.slots_used = Some(ids.len() as i32);
            write_status(
                ctx,
                snapshot,
                &base,
                status,
                Reason::LimitExceeded,
                plan::limit_message(spec, &refs),
            )
            .await?;
            return Ok(Outcome {
                reason: Reason::LimitExceeded,
            });
        }
        Err(error) => return report_failed_create(ctx, snapshot, &base, error).await,
    };
    info!(credential_id = %issued.metadata.id, "created IAM credential");

    // 3. The Secret, annotated with the credential id.
    deliver(ctx, snapshot, &base, &issued, |status| {
        status.create_requested_at = None;
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
    let (event_type, reason, note) = match &cause {
        ResetCause::Adopt => (
            EventType::Normal,
            "CredentialAdopted",
            format!(
                "adopted IAM credential {} left by an interrupted create and reset its secret",
                credential.id
            ),
        ),
        ResetCause::SecretLost => (
            EventType::Warning,
            "SecretRepaired",
            format!(
                "Secret {} was missing or its credential keys were edited; reset IAM credential {} and rewrote it",
                resource.secret_name(),
                credential.id
            ),
        ),
        ResetCause::Rotate(_) => (
            EventType::Normal,
            "CredentialRotated",
            format!("rotated IAM credential {} (reset)", credential.id),
        ),
        ResetCause::AdoptRotation { old } => (
            EventType::Normal,
            "CredentialRotated",
            format!(
                "adopted IAM credential {} left by an interrupted rotation (reset); {old} retires after the grace period",
                credential.id
            ),
        ),
    };
    let now = Timestamp::now();
    deliver(ctx, snapshot, &snapshot.status, &issued, |status| {
        status.create_requested_at = None;
        match &cause {
            ResetCause::Rotate(request) => {
                status.last_rotation_time = Some(Time(now));
                if let Some(request) = request {
                    status.handled_rotate_request = Some(request.clone());
                }
            }
            ResetCause::AdoptRotation { old } => start_retirement(status, snapshot, old, now),
            ResetCause::Adopt | ResetCause::SecretLost => {}
        }
    })
    .await?;
    publish(ctx, resource, event_type, reason, "ResetCredential", note).await;
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
) -> Result<Outcome, Error> {
    let resource = &snapshot.resource;
    let spec = &resource.spec;
    let mut status = snapshot.status.clone();
    if status.create_requested_at.is_none() {
        status.create_requested_at = Some(Time(Timestamp::now()));
    }
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
    let now = Timestamp::now();
    deliver(ctx, snapshot, &base, &issued, |status| {
        start_retirement(status, snapshot, &old.id, now);
        status.slots_used = slots_after_create(snapshot);
        if let ResetCause::Rotate(Some(request)) = &cause {
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
    status.create_requested_at = None;
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

/// Writes the Secret for a freshly issued secret, then the status naming the credential.
async fn deliver(
    ctx: &Context,
    snapshot: &Snapshot,
    base: &ServiceSpecificCredentialStatus,
    issued: &IssuedCredential,
    adjust: impl FnOnce(&mut ServiceSpecificCredentialStatus),
) -> Result<(), Error> {
    write_secret(
        ctx,
        snapshot,
        &issued.metadata.id,
        issued.metadata.login(),
        &issued.secret,
    )
    .await?;
    delete_old_secret(ctx, snapshot).await?;
    let mut status = base.clone();
    apply_credential(&mut status, &issued.metadata);
    adjust(&mut status);
    write_status(
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

/// Reports a failed Create. The intent marker stays: even after an error answer, an SDK retry
/// may hide an earlier attempt that IAM did carry out, and that credential must be adopted.
async fn report_failed_create(
    ctx: &Context,
    snapshot: &Snapshot,
    base: &ServiceSpecificCredentialStatus,
    error: IamError,
) -> Result<Outcome, Error> {
    let reason = reason_for(&error);
    write_status(ctx, snapshot, base, base.clone(), reason, error.to_string()).await?;
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
) -> Result<(), Error> {
    let resource = &snapshot.resource;
    let namespace = resource.namespace().ok_or(Error::NoNamespace)?;
    let api = Api::<Secret>::namespaced(ctx.client.clone(), &namespace);
    let mut desired = secret::render(
        resource,
        &secret::Material {
            kind: resource.spec.service_name.kind(),
            credential_id,
            login,
            secret: value,
        },
    )?;
    let pp = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
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

/// After spec.secret.name changed: removes our Secret under the old name.
async fn delete_old_secret(ctx: &Context, snapshot: &Snapshot) -> Result<(), Error> {
    let Some(old) = &snapshot.old_secret else {
        return Ok(());
    };
    let namespace = snapshot.resource.namespace().ok_or(Error::NoNamespace)?;
    let api = Api::<Secret>::namespaced(ctx.client.clone(), &namespace);
    match api.delete(&old.name_any(), &DeleteParams::default()).await {
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
        Timestamp::now(),
    );
    new.conditions.retain(|c| c.type_ != "Ready");
    new.conditions.insert(0, condition);
    new.observed_generation = generation;
    new.secret_name = Some(resource.secret_name());
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
    if let Some(version) = version {
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
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    };
    if let Err(error) = ctx
        .recorder
        .publish(&event, &resource.object_ref(&()))
        .await
    {
        warn!(%error, reason, "could not publish Event");
    }
}
