//! Who else holds a credential: the claims of other resources (the caches, the records,
//! and across shards) that a decision to adopt or delete depends on.

use super::*;

/// How long a reconcile waits for the watch caches to sync before it reads claims from them.
pub(super) const CACHE_SYNC_WAIT: Duration = Duration::from_secs(5);

/// Which of `ids` other resources hold (id → their namespace), and whether that is known
/// completely. Who holds what is what the operator's records say (never a status a tenant may
/// have written), plus — for resources that predate the records and have none yet — what their
/// status says, from every controller's cache (after a start or a leader change they fill up
/// while reconciles already run), plus the ids this process recorded a moment ago. Only read
/// when a decision may depend on it (see [`needs_claims`]).
pub(super) async fn claims(
    ctx: &Context,
    resource: &ServiceSpecificCredential,
    recorded: &mut RecordedClaims,
    ids: &[&str],
) -> (HashMap<String, String>, bool) {
    let uid = resource.uid().unwrap_or_default();
    let mut claimed = std::mem::take(&mut recorded.claimed);
    let recorded = &recorded.owners;
    let synced = tokio::time::timeout(
        CACHE_SYNC_WAIT,
        futures::future::join_all(ctx.stores.iter().map(|s| s.wait_until_ready())),
    )
    .await
    .is_ok_and(|all| all.iter().all(Result::is_ok));
    let Ok(epoch) = ctx.epoch().await else {
        return (claimed, false);
    };
    let epoch = Some(epoch);
    for store in &ctx.stores {
        for other in store.state() {
            let created = other.meta().creation_timestamp.as_ref().map(|t| t.0);
            let other_uid = other.uid().unwrap_or_default();
            if other.uid() == resource.uid()
                || !unrecorded_and_predating(&other_uid, created, recorded, epoch)
            {
                continue;
            }
            for id in other.held_ids().filter(|id| ids.contains(id)) {
                claimed.insert(id.to_string(), other.namespace().unwrap_or_default());
            }
        }
    }
    // Ids this process recorded in other resources' status: the caches may not show them yet.
    for id in ids {
        if let Some(ns) = ctx.tracked.recorded_elsewhere(id, &uid) {
            claimed.entry(id.to_string()).or_insert(ns);
        }
    }
    (claimed, synced)
}

/// What the records say, for one pass.
#[derive(Default)]
pub(super) struct RecordedClaims {
    /// The uids of the resources that have a record.
    pub(super) owners: HashSet<String>,
    /// Of the ids asked about: id → the namespace of another resource whose record holds it.
    pub(super) claimed: HashMap<String, String>,
}

/// Reads every record, a page at a time, keeping only what [`RecordedClaims`] holds about
/// `ids` for the resource `uid`.
pub(super) async fn read_recorded_claims(
    ctx: &Context,
    uid: &str,
    ids: &[&str],
) -> Result<RecordedClaims, Error> {
    let mut recorded = RecordedClaims::default();
    let mut pages = crate::reconcile::records::RecordPages::new(ctx);
    while let Some(page) = pages.next().await? {
        for record in page.into_iter().map(CredentialRecord::from) {
            let Some(owner) = record.spec.owner else {
                continue;
            };
            if owner.uid != uid {
                for id in record.spec.holding.ids().filter(|id| ids.contains(id)) {
                    recorded
                        .claimed
                        .insert(id.to_string(), owner.namespace.clone());
                }
            }
            recorded.owners.insert(owner.uid);
        }
    }
    Ok(recorded)
}

/// A resource whose status alone may say what it holds: no record yet, and made before the
/// records were kept.
pub(super) fn unrecorded_and_predating(
    uid: &str,
    created: Option<Timestamp>,
    recorded: &HashSet<String>,
    epoch: Option<Timestamp>,
) -> bool {
    !recorded.contains(uid) && record::predates_records(created, epoch)
}

/// Whether a decision may depend on who else holds the listed credentials: adoption (an
/// interrupted Create's marker, `spec.adopt`), deletion, or a full quota for a resource that
/// needs a slot (its message names the holders a tenant may know). Not for the routine check
/// of a resource that holds its credential, whatever the quota: that would be a scan per check.
pub(super) fn needs_claims(snapshot: &Snapshot, listed: usize) -> bool {
    let (resource, status) = (&snapshot.observed.resource, &snapshot.observed.status);
    snapshot.migrating
        || status.create_requested_at.is_some()
        || resource.spec.adopt.is_some()
        || resource.metadata.deletion_timestamp.is_some()
        || (listed >= crate::api::CREDENTIALS_PER_USER_PER_SERVICE
            && status.credential_id.is_none())
}

/// With shards: adds the credential ids held by unrecorded resources that predate the records
/// in every shard (the records themselves cover every shard; this replica's cache holds only
/// its own), read from the API server without the shard selector. Paged; needed only before
/// an adoption or an orphan's deletion.
pub(crate) async fn claims_across_shards(
    ctx: &Context,
    snapshot: &mut Snapshot,
    recorded: &HashSet<String>,
) -> Result<(), Error> {
    let uid = snapshot.observed.resource.uid();
    let epoch = Some(ctx.epoch().await?);
    for scope in crate::reconcile::scopes(&ctx.config.watch_namespaces) {
        let api: Api<ServiceSpecificCredential> = match scope {
            Some(ns) => Api::namespaced(ctx.client.clone(), ns),
            None => Api::all(ctx.client.clone()),
        };
        // A tenant may put up to the object size limit of annotations on each resource: the
        // parser skips them, and a small page bounds the response held at once.
        let mut pages =
            crate::reconcile::records::Pages::<ListedResource>::of(&api, SHARD_CLAIMS_PAGE);
        while let Some(page) = pages.next().await? {
            for other in page.iter().filter(|o| o.metadata.uid != uid) {
                let created = other.metadata.creation_timestamp.as_ref().map(|t| t.0);
                let other_uid = other.metadata.uid.as_deref().unwrap_or_default();
                if !unrecorded_and_predating(other_uid, created, recorded, epoch) {
                    continue;
                }
                let ns = other.metadata.namespace.clone().unwrap_or_default();
                let ids = other
                    .status
                    .iter()
                    .flat_map(|s| [&s.credential_id, &s.retiring_credential_id])
                    .flatten();
                for id in ids {
                    snapshot
                        .observed
                        .claimed_elsewhere
                        .entry(id.clone())
                        .or_insert(ns.clone());
                }
            }
        }
    }
    Ok(())
}

/// Resources per page when reading every shard's.
pub(super) const SHARD_CLAIMS_PAGE: u32 = 100;
