//! The Secret writes of a pass: ours created or replaced (a type change recreates it), its dry
//! run before an IAM write, the one under an old name deleted, and a retained credential's
//! Secrets released.

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use tracing::info;

use crate::iam::SecretValue;
use crate::reconcile::conditions::Reason;
use crate::reconcile::observe::Snapshot;
use crate::reconcile::{Context, Error, FIELD_MANAGER};
use crate::reconcile::{plan, script};
use crate::secret;

/// Creates or replaces our Secret. Labels and annotations others added to it are kept; a type
/// change (immutable in Kubernetes) deletes and recreates it.
pub(super) async fn write_secret(
    ctx: &Context,
    snapshot: &Snapshot,
    credential_id: &str,
    login: &str,
    value: &SecretValue,
    issued_at: Option<&str>,
) -> Result<(), Error> {
    let resource = &snapshot.observed.resource;
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
    let existing = match &snapshot.observed.secret {
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
            api.replace(&desired.name_any(), &pp, &desired)
                .await
                .map_err(|source| Error::WriteSecret { source })?;
        }
        Some(_) if dry_run => {
            desired.metadata.generate_name = desired.metadata.name.take().map(|n| {
                let base: String = n.chars().take(57).collect();
                format!("{base}-")
            });
            api.create(&pp, &desired)
                .await
                .map_err(|source| Error::WriteSecret { source })?;
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
            .await
            .map_err(|source| Error::DeleteSecret { source })?;
            api.create(&pp, &desired)
                .await
                .map_err(|source| Error::WriteSecret { source })?;
        }
        None => {
            api.create(&pp, &desired)
                .await
                .map_err(|source| Error::WriteSecret { source })?;
        }
    }
    Ok(())
}

/// The Secrets of the resource's namespace.
fn secrets(ctx: &Context, snapshot: &Snapshot) -> Api<Secret> {
    Api::namespaced(ctx.client.clone(), &snapshot.observed.namespace)
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
pub(super) async fn release_secrets(
    ctx: &Context,
    snapshot: &Snapshot,
    id: &str,
) -> Result<(), Error> {
    let current = match &snapshot.observed.secret {
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
    let resource = &snapshot.observed.resource;
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
        Err(e) => Err(Error::WriteSecret { source: e }),
    }
}

/// After spec.secret.name changed: removes our Secret under the old name.
pub(super) async fn delete_old_secret(ctx: &Context, snapshot: &Snapshot) -> Result<(), Error> {
    let Some(old) = &snapshot.old_secret else {
        return Ok(());
    };
    match secrets(ctx, snapshot)
        .delete(&old.name_any(), &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(Error::DeleteSecret { source: e }),
    }
}

/// Sends the Secret this resource would write, with placeholder material, as a server-side dry
/// run (`dryRun=All`). `Some((reason, message))` when the API server refuses it: InvalidSpec with
/// its message (invalid type or labels, too large, immutable, a terminating namespace), or
/// SecretConflict when someone else's Secret took the name meanwhile.
pub(super) async fn preflight_secret(
    ctx: &Context,
    snapshot: &Snapshot,
) -> Result<Option<(Reason, String)>, Error> {
    let resource = &snapshot.observed.resource;
    let desired = secret::render_placeholder(resource)?;
    match send_secret(ctx, snapshot, desired, true).await {
        Ok(()) => Ok(None),
        Err(Error::WriteSecret {
            source: kube::Error::Api(e),
        }) => {
            match script::secret_refusal(e.code, &e.reason, &e.message, &resource.secret_name()) {
                Some(refusal) => Ok(Some(refusal)),
                None => Err(Error::WriteSecret {
                    source: kube::Error::Api(e),
                }),
            }
        }
        Err(other) => Err(other),
    }
}
