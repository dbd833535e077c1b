//! The sweep: what the operator's records name that no resource will ever clean up.
//!
//! - A record whose resource is gone (matched by uid) — its finalizer removed, deleted while no
//!   replica ran — has its credentials deleted after `--orphan-grace` (with `Retain`, released:
//!   the record goes, the credential stays), then the record itself.
//! - A Create whose answer never came may still be carried out by IAM for
//!   [`record::UNKNOWN_CREATE_WINDOW`]. A credential of that user and service made in that window
//!   that no record holds is settled: deleted when there are no more of them than unanswered
//!   Creates (nobody else can have its password: IAM showed it only to a request whose answer
//!   was lost) and the owning namespace may still use the user; otherwise reported as unclaimed
//!   and never touched (a person's credential made at that moment looks the same).
//!
//! Runs only where this replica leads, over the records its shard wrote.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use tracing::{info, warn};

use crate::api::{ALLOWED_USERS_ANNOTATION, ServiceSpecificCredential};
use crate::iam::{CredentialMetadata, IamError};
use crate::reconcile::plan::ADOPTION_SKEW;
use crate::reconcile::records::RecordPages;
use crate::reconcile::{CachedCredential, Context, Error};
use crate::record::{self, CredentialRecord, Owner, UnknownCreate};
use crate::tenancy;

mod unknown_creates;
pub(crate) use unknown_creates::*;

/// What the sweep remembers between rounds (lost on a restart or a leader change, which only
/// delays it).
#[derive(Default)]
pub(crate) struct SweepState {
    /// Record name → when its resource was first found gone.
    missing_since: HashMap<String, Instant>,
    /// Credential id → when it was first found unexplained.
    unexplained_since: HashMap<String, Instant>,
    /// Unclaimed credential ids already reported (an Event and the counter once each).
    told: HashSet<String>,
}

/// What to do about the credentials of one (user, service) that unanswered Creates may have made.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Settlement {
    /// Nothing unexplained.
    Nothing,
    /// Delete these: no more than the unanswered Creates, so they can only be theirs.
    Remove(Vec<String>),
    /// More than the unanswered Creates explain: someone else made some. Leave them, say so.
    Unclaimed(Vec<String>),
}

/// The credentials `listed` for one (user, service) that none of `held` is and that one of
/// `unknown` (the open unanswered Creates of that user and service) may have made.
pub(crate) fn unexplained<'a>(
    listed: &'a [CredentialMetadata],
    held: &[&str],
    unknown: &[UnknownCreate],
) -> Vec<&'a CredentialMetadata> {
    let skew = jiff::SignedDuration::try_from(ADOPTION_SKEW).unwrap_or_default();
    let window = jiff::SignedDuration::try_from(record::UNKNOWN_CREATE_WINDOW).unwrap_or_default();
    listed
        .iter()
        .filter(|c| !held.contains(&c.id.as_str()))
        .filter(|c| {
            unknown.iter().any(|u| {
                let from = u
                    .requested_at
                    .0
                    .checked_sub(skew)
                    .unwrap_or(u.requested_at.0);
                let until = u
                    .requested_at
                    .0
                    .checked_add(window)
                    .unwrap_or(u.requested_at.0);
                !u.credentials_before.contains(&c.id)
                    && c.create_date >= from
                    && c.create_date <= until
            })
        })
        .collect()
}

/// The settlement of `unexplained` credentials against `unknown_creates` unanswered Creates.
pub(crate) fn settle(unexplained: &[&CredentialMetadata], unknown_creates: usize) -> Settlement {
    let ids: Vec<String> = unexplained.iter().map(|c| c.id.clone()).collect();
    if ids.is_empty() {
        Settlement::Nothing
    } else if ids.len() <= unknown_creates {
        Settlement::Remove(ids)
    } else {
        Settlement::Unclaimed(ids)
    }
}

/// Sweeps every `config.sweep.interval` while this replica leads, until the process stops.
pub(crate) async fn run(ctx: Arc<Context>) {
    let mut state = SweepState::default();
    let mut tick = tokio::time::interval(ctx.config.sweep.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(leading) = &ctx.config.leading
            && !*leading.borrow()
        {
            state = SweepState::default();
            continue;
        }
        // The leader makes the epoch record at start, before tenants' resources can be
        // reconciled, if no earlier operator did.
        if let Err(error) = ctx.epoch().await {
            warn!(%error, "could not read or make the epoch record");
        }
        if let Err(error) = sweep_once(&ctx, &mut state).await {
            warn!(%error, "sweeping the records failed; trying again at the next round");
        }
    }
}

/// One round over every record.
async fn sweep_once(ctx: &Context, state: &mut SweepState) -> Result<(), Error> {
    // The resources the caches hold, read once a round (not once a record: that was O(N²)).
    let cached: HashSet<String> = ctx
        .stores
        .iter()
        .flat_map(|s| s.state())
        .filter_map(|r| r.uid())
        .collect();
    let ambient = ctx.directory.account(&crate::identity::Resolved::Ambient);
    let mut round = Round::default();
    let mut pages = RecordPages::new(ctx);
    while let Some(page) = pages.next().await? {
        for record in page {
            round.take(ctx, &cached, ambient.as_deref(), record.into());
        }
    }
    state
        .missing_since
        .retain(|name, _| round.missing.contains(name));
    settle_unknown_creates(ctx, state, &round).await;
    // One record that cannot be swept now holds up none of the others.
    for record in &round.missing_owner {
        if let Err(error) = sweep_if_orphaned(ctx, state, &cached, record).await {
            warn!(%error, record = %record.name_any(), "could not sweep a record; trying again at the next round");
        }
    }
    Ok(())
}

/// What one round keeps of the records, taken a page at a time: the records of this shard
/// whose resource the caches do not hold, those with unanswered Creates, and of all records
/// the ids they hold and the (user, service, account)s with a Create under way.
#[derive(Default)]
struct Round {
    /// Records of this shard whose resource is not in the caches: gone, or too new for them.
    missing_owner: Vec<CredentialRecord>,
    /// Their names.
    missing: HashSet<String>,
    /// Records of this shard with unanswered Creates still open, by (user, service, account).
    unknown_creates: BTreeMap<(String, String, String), Vec<CredentialRecord>>,
    /// Every id any record holds.
    held: HashSet<String>,
    /// Every (user, service, account) with a Create announced and not yet answered.
    creating: HashSet<(String, String, String)>,
}

impl Round {
    fn take(
        &mut self,
        ctx: &Context,
        cached: &HashSet<String>,
        ambient: Option<&str>,
        record: CredentialRecord,
    ) {
        self.held
            .extend(record.spec.holding.ids().map(str::to_string));
        if record.spec.holding.create_requested_at.is_some() {
            self.creating.insert(user_service(&record, ambient));
        }
        let Some(owner) = &record.spec.owner else {
            return;
        };
        let mine = record.spec.shard == ctx.config.shard_selector
            && (ctx.config.watch_namespaces.is_empty()
                || ctx.config.watch_namespaces.contains(&owner.namespace));
        if !mine {
            return;
        }
        let owner_cached = cached.contains(&owner.uid);
        if !record::unknown_creates_open(&record.spec.unknown_creates, ctx.clock.now()).is_empty() {
            let group = self
                .unknown_creates
                .entry(user_service(&record, ambient))
                .or_default();
            if owner_cached {
                group.push(record);
                return;
            }
            group.push(record.clone());
        }
        if !owner_cached {
            self.missing.insert(record.name_any());
            self.missing_owner.push(record);
        }
    }
}

/// Whether the resource `owner` names still exists (the same object: its uid): in the
/// caches' uids `cached`, or else as the API server answers.
async fn owner_exists(
    ctx: &Context,
    cached: &HashSet<String>,
    owner: &Owner,
) -> Result<bool, Error> {
    if cached.contains(&owner.uid) {
        return Ok(true);
    }
    // Its metadata alone: a tenant may have written a status the types do not read.
    let found = Api::<ServiceSpecificCredential>::namespaced(ctx.client.clone(), &owner.namespace)
        .get_metadata_opt(&owner.name)
        .await
        .map_err(|source| Error::ReadResource { source })?;
    Ok(found.is_some_and(|r| r.uid().as_deref() == Some(owner.uid.as_str())))
}

/// Deletes (or releases) what `record` names once its resource has been gone for the grace
/// period, then the record (or keeps it, holding nothing, while a Create may still take effect).
async fn sweep_if_orphaned(
    ctx: &Context,
    state: &mut SweepState,
    cached: &HashSet<String>,
    record: &CredentialRecord,
) -> Result<(), Error> {
    let Some(owner) = &record.spec.owner else {
        return Ok(());
    };
    let name = record.name_any();
    if owner_exists(ctx, cached, owner).await? {
        state.missing_since.remove(&name);
        return Ok(());
    }
    let since = *state
        .missing_since
        .entry(name.clone())
        .or_insert_with(Instant::now);
    if since.elapsed() < ctx.config.sweep.orphan_grace {
        return Ok(());
    }
    // Acted on as it is now, not as the round's list showed it.
    let api = Api::<CredentialRecord>::all(ctx.client.clone());
    ctx.records.forget(&name);
    let Some(record) = api
        .get_opt(&name)
        .await
        .map_err(|source| Error::ReadRecord { source })?
    else {
        state.missing_since.remove(&name);
        return Ok(());
    };
    let spec = &record.spec;
    let (delete, release) = record::orphaned(&spec.holding, spec.deletion_policy);
    for id in &release {
        info!(credential_id = %id, user = %spec.user_name, namespace = %owner.namespace,
            resource = %owner.name,
            "released a credential whose resource is gone (deletionPolicy Retain): kept in IAM");
        ctx.observer.swept("released");
    }
    // Through the identity that minted them, acting for the namespace that asked.
    let iam = if delete.is_empty() {
        None
    } else {
        Some(super::observe::iam_of_binding(ctx, &spec.identity, &owner.namespace).await?)
    };
    for id in &delete {
        let Some(iam) = &iam else { break };
        match iam.delete(&spec.user_name, id).await {
            Ok(()) | Err(IamError::CredentialNotFound { .. } | IamError::UserNotFound { .. }) => {
                info!(credential_id = %id, user = %spec.user_name, namespace = %owner.namespace,
                    resource = %owner.name, "swept a credential whose resource went without cleanup");
                ctx.observer.swept("orphaned");
            }
            Err(error) => return Err(error.into()),
        }
    }
    match record::released(spec, ctx.clock.now()) {
        Some(tombstone) => {
            if tombstone != *spec {
                let mut next = record.clone();
                next.spec = tombstone;
                let written = api.replace(&name, &PostParams::default(), &next).await;
                // A pass may have read it meanwhile: what it remembered is old now.
                ctx.records.forget(&name);
                written.map_err(|source| Error::WriteRecord { source })?;
            }
        }
        None => {
            let precondition = kube::api::DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    uid: record.uid(),
                    resource_version: record.resource_version(),
                }),
                ..Default::default()
            };
            match api.delete(&name, &precondition).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => return Err(Error::DeleteRecord { source: e }),
            }
            state.missing_since.remove(&name);
        }
    }
    Ok(())
}

/// A Warning Event on the record's resource, when it still exists.
async fn tell_unclaimed(ctx: &Context, record: &CredentialRecord, ids: &[String]) {
    let Some(owner) = &record.spec.owner else {
        return;
    };
    // Read as the cache reads it: a tenant may have written a status the types do not read.
    let Ok(Some(resource)) =
        Api::<CachedCredential>::namespaced(ctx.client.clone(), &owner.namespace)
            .get_opt(&owner.name)
            .await
    else {
        return;
    };
    // A resource made since under the same name is not the record's.
    if resource.uid().as_deref() != Some(owner.uid.as_str()) {
        return;
    }
    let note = format!(
        "IAM credentials {} of user {} appeared while a Create's outcome was unknown and nobody holds them; they may be someone else's, so they are left alone: delete them by hand if they are not",
        ids.join(", "),
        record.spec.user_name
    );
    super::act::publish_warning(ctx, &resource, "UnclaimedCredential", "SweepRecords", note).await;
}

#[cfg(test)]
mod tests;
