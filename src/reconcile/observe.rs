//! Reads the state a decision needs: the Namespace (tenancy), the Secret, the other resources'
//! claims and — only when the gates pass — the user's credentials in IAM.

mod identity;

pub(crate) use identity::iam_of_binding;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::Api;
use kube::{Resource, ResourceExt};
use tracing::warn;

use crate::api::{ALLOWED_USERS_ANNOTATION, ServiceSpecificCredential};
use crate::iam::{IamError, Listing, Priority, SecretValue};
use crate::identity::IdentityBinding;
use crate::reconcile::cache::RotateRequested;
use crate::reconcile::plan::{self, Observed, SecretObservation};
use crate::reconcile::records::ListedResource;
use crate::reconcile::{Context, Error};
use crate::record::{self, CredentialRecord, Holding};
use crate::secret;
use crate::tenancy;

mod claims;
pub(crate) use claims::*;

/// One pass's observations: what the decision reads ([`Observed`]), and beside it what only
/// `act` uses.
pub(crate) struct Snapshot {
    pub observed: Observed,
    /// The Secret under the name the resource writes, as read.
    pub secret: Option<Secret>,
    /// Our Secret under the name status records, when spec.secret.name moved away from it.
    pub old_secret: Option<Secret>,
    /// The operator's record of what this resource holds, as read (absent before the first
    /// write that records anything).
    pub record: Option<CredentialRecord>,
    /// The status the object carries, which a tenant may have written: `observed.status` is it
    /// with the ownership fields the record says.
    pub raw_status: crate::api::ServiceSpecificCredentialStatus,
    /// No record, and the resource predates the records: what its status says it holds is
    /// taken into the record once IAM confirms it ([`Snapshot::settle_ownership`]).
    pub migrating: bool,
    /// The IAM client of the identity this pass acts through: the one the record's credentials
    /// were minted through while it holds any, else the one the resource resolves to.
    pub iam: std::sync::Arc<dyn crate::iam::Iam>,
    /// That identity, as the record and status name it (`None`: no identity may be used).
    pub acting: Option<IdentityBinding>,
    /// The record holds credentials of another identity than the one the resource resolves
    /// to now: they are retired first.
    pub moving: bool,
    /// The identity the resource resolves to now (`None`: refused).
    pub current_identity: Option<IdentityBinding>,
}

impl Snapshot {
    /// Ends a migration once IAM was listed exactly and the claims are complete: the ids status
    /// names that pass [`record::migrate`]'s guard become the resource's. `false` when that
    /// cannot be decided yet (nothing is then taken, nor written).
    pub(crate) fn settle_ownership(&mut self) -> bool {
        if !self.migrating {
            return true;
        }
        let observed = &mut self.observed;
        let listed: Vec<&str> = match &observed.credentials {
            // A user IAM does not have holds nothing.
            Some(Err(IamError::UserNotFound { .. })) => Vec::new(),
            Some(Ok(list)) if observed.claims_complete && !observed.listed_from_snapshot => {
                list.iter().map(|c| c.id.as_str()).collect()
            }
            _ => return false,
        };
        let claimed = |id: &str| observed.claimed_elsewhere.contains_key(id);
        let holding = record::migrate(
            &self.raw_status,
            &listed,
            &claimed,
            observed.permission.is_ok(),
        );
        holding.apply_to(&mut observed.status);
        true
    }
}

/// Observes everything but IAM.
pub(crate) async fn observe_kubernetes(
    ctx: &Context,
    resource: &ServiceSpecificCredential,
) -> Result<Snapshot, Error> {
    let namespace = resource.namespace().ok_or(Error::NoNamespace)?;
    let uid = resource.uid().unwrap_or_default();
    let kind = resource.spec.service_name.kind();

    let validity = resource.spec.validate();
    let ns = Api::<Namespace>::all(ctx.client.clone())
        .get_opt(&namespace)
        .await
        .map_err(|source| Error::ReadNamespace { source })?;
    let user_permission = if ctx.config.policy == tenancy::PolicyMode::Permissive {
        Ok(())
    } else {
        let annotation = ns
            .as_ref()
            .and_then(|n| n.annotations().get(ALLOWED_USERS_ANNOTATION).cloned());
        tenancy::check_user(
            ctx.config.policy,
            &namespace,
            annotation.as_deref(),
            &resource.spec.user_name,
        )
    };
    let resolved = identity::resolve_for(ctx, resource, &namespace, ns.as_ref()).await?;
    let permission =
        user_permission.and_then(|()| resolved.as_ref().map(|_| ()).map_err(Clone::clone));
    // Nothing of a resource the namespace may not use is rendered, not even with placeholders
    // (not checked then: the gate stops at the earlier failure).
    let template = if validity.is_ok() && permission.is_ok() {
        check_template(resource)
    } else {
        Ok(())
    };

    let secrets = Api::<Secret>::namespaced(ctx.client.clone(), &namespace);
    let secret_name = resource.secret_name();
    let secret = secrets
        .get_opt(&secret_name)
        .await
        .map_err(|source| Error::ReadSecret { source })?;
    let secret_observation = match &secret {
        None => SecretObservation::Missing,
        Some(s) if !secret::is_owned_by(s, &uid) => SecretObservation::Foreign,
        Some(s) => {
            let read = secret::read_back(s, kind);
            // Rendered with real material only for a resource that passed every gate.
            let up_to_date = match &read {
                Some((id, login, value)) if template.is_ok() => {
                    rendered_matches(resource, s, id, login, value)
                }
                _ => false,
            };
            SecretObservation::Owned {
                credential_id: s
                    .annotations()
                    .get(secret::CREDENTIAL_ID_ANNOTATION)
                    .cloned(),
                intact: read.is_some(),
                up_to_date,
            }
        }
    };

    let raw_status = resource.status.clone().unwrap_or_default();
    let name = record::record_name(&uid);
    let record = match ctx.records.get(&name) {
        Some(known) => Some(known),
        None => {
            let read = Api::<CredentialRecord>::all(ctx.client.clone())
                .get_opt(&name)
                .await
                .map_err(|source| Error::ReadRecord { source })?;
            if let Some(read) = &read {
                ctx.records.put(&name, read);
            }
            read
        }
    };
    let mut status = raw_status.clone();
    let migrating = match &record {
        Some(record) => {
            record.spec.holding.apply_to(&mut status);
            false
        }
        None => {
            // Never on deletion: a cleanup that ran once (and dropped the record) must not
            // take what status says a second time.
            let created = resource.metadata.creation_timestamp.as_ref().map(|t| t.0);
            let predates = resource.metadata.deletion_timestamp.is_none()
                && record::predates_records(created, Some(ctx.epoch().await?));
            Holding::default().apply_to(&mut status);
            predates
        }
    };
    let identity::Acting {
        iam,
        acting,
        moving,
        current,
    } = identity::acting(
        ctx,
        record.as_ref(),
        &resolved,
        permission.is_ok() && validity.is_ok(),
        migrating,
        &namespace,
    )
    .await?;
    let (old_secret, old_secret_credential) = match status.secret_name.as_deref() {
        Some(old) if old != secret_name => match secrets
            .get_opt(old)
            .await
            .map_err(|source| Error::ReadSecret { source })?
        {
            Some(s) if secret::is_owned_by(&s, &uid) => {
                let intact = secret::read_back(&s, kind).map(|(id, _, _)| id);
                (Some(s), intact)
            }
            _ => (None, None),
        },
        _ => (None, None),
    };

    let secret_issued_at = match &secret_observation {
        SecretObservation::Owned { intact: true, .. } => secret
            .as_ref()
            .and_then(secret::issued_at)
            .map(str::to_string),
        _ => None,
    };
    let answered = ctx
        .tracked
        .answered(&uid, &status, resource.rotate_request());
    Ok(Snapshot {
        observed: Observed {
            resource: resource.clone(),
            status,
            validity,
            permission,
            template,
            secret: secret_observation,
            secret_issued_at,
            answered,
            secret_immutable: secret.as_ref().is_some_and(|s| s.immutable == Some(true)),
            old_secret: old_secret.is_some(),
            old_secret_credential,
            credentials: None,
            listed_from_snapshot: false,
            claimed_elsewhere: HashMap::new(),
            claims_complete: false,
            namespace,
            rollout_restart_enabled: ctx.config.rollout_restart,
            sharded: ctx.config.shard_selector.is_some(),
            revocation: ctx.config.revocation,
            secret_name,
            now: ctx.clock.now(),
        },
        secret,
        old_secret,
        record,
        raw_status,
        migrating,
        iam,
        acting,
        moving,
        current_identity: current,
    })
}

/// The epoch record's creation time; the first operator that keeps records makes it. Never
/// made again while records of resources exist: a new epoch would make every resource older
/// than it, and what their status says would be taken again.
pub(crate) async fn read_or_make_epoch(client: &kube::Client) -> Result<Timestamp, Error> {
    let api = Api::<CredentialRecord>::all(client.clone());
    let created = |epoch: CredentialRecord| {
        epoch
            .metadata
            .creation_timestamp
            .map(|t| t.0)
            .ok_or(Error::NoEpoch)
    };
    if let Some(epoch) = api
        .get_opt(record::EPOCH_RECORD)
        .await
        .map_err(|source| Error::ReadRecord { source })?
    {
        return created(epoch);
    }
    let kept = api
        .list(&kube::api::ListParams::default().limit(500))
        .await
        .map_err(|source| Error::List { source })?;
    if kept.items.iter().any(|r| r.spec.owner.is_some()) {
        return Err(Error::EpochLost);
    }
    let epoch = CredentialRecord::new(record::EPOCH_RECORD, Default::default());
    let made = match api.create(&Default::default(), &epoch).await {
        Ok(made) => made,
        Err(kube::Error::Api(e)) if e.code == 409 => api
            .get(record::EPOCH_RECORD)
            .await
            .map_err(|source| Error::ReadRecord { source })?,
        Err(e) => return Err(Error::WriteRecord { source: e }),
    };
    created(made)
}

/// How current the IAM observation must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// A service snapshot up to one resync old will do, where `plan::snapshot_may_serve`.
    Recent,
    /// A List of the user, or its answer of the last few seconds kept exact for this process's
    /// own writes (the List cache, `IamLimits::list_cache_ttl`).
    Exact,
}

/// Asks IAM for the user's credentials of this service (through the rate limiter, the List
/// cache and the service snapshots).
///
/// Also reads the claims: called with the (user, service) lock held, so every id another
/// reconcile of this process recorded before is known (see `tracked::Tracked`).
pub(crate) async fn observe_iam(ctx: &Context, snapshot: &mut Snapshot, freshness: Freshness) {
    let observed = &snapshot.observed;
    let recent = freshness == Freshness::Recent && plan::snapshot_may_serve(observed);
    let priority = if plan::is_routine_check(observed) {
        Priority::Routine
    } else {
        Priority::Urgent
    };
    let spec = &snapshot.observed.resource.spec;
    let (user, service) = (&spec.user_name, spec.service_name.as_str());
    let listed = if recent {
        snapshot
            .iam
            .list_recent(user, service, ctx.config.resync, priority)
            .await
    } else {
        snapshot.iam.list(user, service).await.map(Listing::exact)
    };
    let ids: Vec<&str> = listed
        .as_ref()
        .map(|l| l.credentials.iter().map(|c| c.id.as_str()).collect())
        .unwrap_or_default();
    // Without the scan, no claim is known: a decision that would need one waits (reported as
    // waiting for the caches) instead of taking a credential someone else holds.
    // Who holds what is what the records say (one LIST, for every shard): read only when a
    // decision depends on it.
    let mut recorded = if needs_claims(snapshot, ids.len()) {
        let uid = snapshot.observed.resource.uid().unwrap_or_default();
        read_recorded_claims(ctx, &uid, &ids).await.ok()
    } else {
        None
    };
    (
        snapshot.observed.claimed_elsewhere,
        snapshot.observed.claims_complete,
    ) = match &mut recorded {
        Some(recorded) => claims(ctx, &snapshot.observed.resource, recorded, &ids).await,
        None => (HashMap::new(), false),
    };
    // With shards, another shard's resources are not in this cache: the status of those that
    // predate the records is read from all of them whenever it matters.
    if let Some(recorded) = recorded.filter(|_| ctx.config.shard_selector.is_some()) {
        match claims_across_shards(ctx, snapshot, &recorded.owners).await {
            Ok(()) => {}
            Err(error) => {
                warn!(%error, "could not read the claims of other shards");
                snapshot.observed.claims_complete = false;
            }
        }
    }
    snapshot.observed.listed_from_snapshot = listed.as_ref().is_ok_and(|l| l.from_snapshot);
    snapshot.observed.credentials = Some(listed.map(|l| l.credentials));
}

/// Renders the template with placeholder material: syntax errors and unknown variables show up
/// here, before any credential exists.
fn check_template(resource: &ServiceSpecificCredential) -> Result<(), secret::RenderError> {
    if resource.spec.secret.template.is_none() {
        return Ok(());
    }
    let mut probe = resource.clone();
    if probe.metadata.uid.is_none() {
        probe.metadata.uid = Some("placeholder".into());
    }
    secret::render_placeholder(&probe).map(|_| ())
}

fn rendered_matches(
    resource: &ServiceSpecificCredential,
    existing: &Secret,
    id: &str,
    login: &str,
    value: &SecretValue,
) -> bool {
    let material = secret::Material {
        kind: resource.spec.service_name.kind(),
        credential_id: id,
        login,
        secret: value,
        issued_at: secret::issued_at(existing),
    };
    secret::render(resource, &material)
        .is_ok_and(|desired| secret::is_up_to_date(existing, &desired))
}
