//! Keeps the operator's record of a resource ahead of its status: every status write that
//! changes what the resource holds is preceded by the record write that says the same.

use jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};
use tracing::info;

use crate::api::ServiceSpecificCredentialStatus;
use crate::reconcile::observe::Snapshot;
use crate::reconcile::{Context, Error};
use crate::record::{
    self, CredentialRecord, CredentialRecordSpec, Holding, Owner, unanswered_create,
};

/// The record of one resource during a pass.
pub(super) struct Keeper {
    /// As last read or written; `None` before the first write.
    current: Option<CredentialRecord>,
    /// What the resource was known to hold before this pass, when no record says it.
    observed: Holding,
    /// The resource predates the records: its record is written even when it holds nothing.
    migrating: bool,
    /// This pass's Create got an answer (a credential or a definite refusal).
    create_answered: bool,
    /// The intent the record is known to carry: only such an intent was followed by a Create
    /// (it is written after the pass proved itself current, right before the Create).
    announced: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}

/// At most this many unanswered Creates are kept per record: IAM holds at most two credentials
/// of a user for a service, so more cannot all have made one that still exists.
const MAX_UNKNOWN_CREATES: usize = 2;

impl Keeper {
    pub(super) fn new(snapshot: &Snapshot) -> Self {
        Keeper {
            current: snapshot.record.clone(),
            observed: Holding::of(&snapshot.observed.status),
            migrating: snapshot.migrating,
            create_answered: false,
            announced: snapshot.observed.status.create_requested_at.clone(),
        }
    }

    pub(super) fn create_answered(&mut self) {
        self.create_answered = true;
    }

    /// The record as it must be for a resource whose status is `status`: `None` when it
    /// already is.
    fn desired(
        &self,
        ctx: &Context,
        snapshot: &Snapshot,
        status: &ServiceSpecificCredentialStatus,
        now: Timestamp,
    ) -> Option<CredentialRecordSpec> {
        let holding = Holding::of(status);
        let before = self
            .current
            .as_ref()
            .map_or(&self.observed, |r| &r.spec.holding);
        let resource = &snapshot.observed.resource;
        let mut spec = self
            .current
            .as_ref()
            .map(|r| r.spec.clone())
            .unwrap_or_default();
        spec.unknown_creates.extend(unanswered_create(
            before,
            &holding,
            self.create_answered,
            self.announced.as_ref(),
        ));
        spec.unknown_creates = record::unknown_creates_open(&spec.unknown_creates, now);
        spec.unknown_creates.sort_by_key(|c| c.requested_at.0);
        let excess = spec
            .unknown_creates
            .len()
            .saturating_sub(MAX_UNKNOWN_CREATES);
        spec.unknown_creates.drain(..excess);
        spec.holding = holding;
        spec.owner = Some(Owner {
            namespace: snapshot.observed.namespace.clone(),
            name: resource.name_any(),
            uid: resource.uid().unwrap_or_default(),
        });
        spec.user_name = resource.spec.user_name.clone();
        spec.service_name = resource.spec.service_name.as_str().to_string();
        spec.deletion_policy = resource.spec.deletion_policy;
        if let Some(acting) = &snapshot.acting {
            spec.identity = acting.clone();
        }
        spec.shard = ctx.config.shard_selector.clone();
        match &self.current {
            Some(current) if current.spec == spec => None,
            None if spec.holding.is_empty()
                && spec.unknown_creates.is_empty()
                && !self.migrating =>
            {
                None
            }
            _ => Some(spec),
        }
    }

    /// Writes the record for `status` if it does not say the same yet. A write that records
    /// what IAM did must land, over whatever another pass wrote meanwhile; one that only
    /// announces (an intent, before the Create) gives way: someone else acted on the resource,
    /// and the pass decides again ([`Error::StaleCopy`]).
    pub(super) async fn keep(
        &mut self,
        ctx: &Context,
        snapshot: &Snapshot,
        status: &ServiceSpecificCredentialStatus,
        now: Timestamp,
    ) -> Result<(), Error> {
        self.write(ctx, snapshot, status, now, true).await
    }

    /// [`Keeper::keep`] for a write that only announces (see there).
    pub(super) async fn announce(
        &mut self,
        ctx: &Context,
        snapshot: &Snapshot,
        status: &ServiceSpecificCredentialStatus,
        now: Timestamp,
    ) -> Result<(), Error> {
        self.write(ctx, snapshot, status, now, false).await
    }

    async fn write(
        &mut self,
        ctx: &Context,
        snapshot: &Snapshot,
        status: &ServiceSpecificCredentialStatus,
        now: Timestamp,
        must_land: bool,
    ) -> Result<(), Error> {
        let api = Api::<CredentialRecord>::all(ctx.client.clone());
        let uid = snapshot.observed.resource.uid().unwrap_or_default();
        let name = record::record_name(&uid);
        for _ in 0..3 {
            let Some(spec) = self.desired(ctx, snapshot, status, now) else {
                self.announced = status.create_requested_at.clone();
                return Ok(());
            };
            let written = match &self.current {
                Some(current) => {
                    let mut next = current.clone();
                    next.spec = spec;
                    api.replace(&name, &PostParams::default(), &next).await
                }
                None => {
                    let mut next = CredentialRecord::new(&name, spec);
                    next.meta_mut().labels = Some(
                        [(
                            crate::secret::MANAGED_BY_LABEL.to_string(),
                            crate::secret::MANAGED_BY_VALUE.to_string(),
                        )]
                        .into(),
                    );
                    api.create(&PostParams::default(), &next).await
                }
            };
            match written {
                Ok(written) => {
                    ctx.records.put(&name, &written);
                    self.announced = status.create_requested_at.clone();
                    self.current = Some(written);
                    self.migrating = false;
                    return Ok(());
                }
                // Another pass (an earlier leader's, or this process's before a restart) wrote
                // it meanwhile: read it again and write over it.
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    ctx.records.forget(&name);
                    if !must_land {
                        return Err(Error::StaleCopy);
                    }
                    let fresh = api
                        .get_opt(&name)
                        .await
                        .map_err(|source| Error::ReadRecord { source })?;
                    if let Some(fresh) = &fresh
                        && fresh.spec.owner.as_ref().is_some_and(|o| o.uid != uid)
                    {
                        return Err(Error::RecordOfAnother(name));
                    }
                    info!("the record moved on meanwhile; writing it again");
                    self.current = fresh;
                }
                Err(e) => return Err(Error::WriteRecord { source: e }),
            }
        }
        Err(Error::RecordConflict(name))
    }
}

/// Drops what the record of a resource whose cleanup is done holds (deleted, or with Retain
/// released to whoever keeps it). The record itself goes too, unless a Create may still take
/// effect (an intent not answered, or unanswered Creates inside their window): then it stays,
/// holding nothing, for the sweep to settle and delete.
pub(crate) async fn forget(ctx: &Context, snapshot: &Snapshot) -> Result<(), Error> {
    let uid = snapshot.observed.resource.uid().unwrap_or_default();
    let api = Api::<CredentialRecord>::all(ctx.client.clone());
    let name = record::record_name(&uid);
    ctx.records.forget(&name);
    let Some(current) = api
        .get_opt(&name)
        .await
        .map_err(|source| Error::ReadRecord { source })?
    else {
        return Ok(());
    };
    match record::released(&current.spec, ctx.clock.now()) {
        Some(tombstone) => {
            let mut next = current.clone();
            next.spec = tombstone;
            api.replace(&name, &PostParams::default(), &next)
                .await
                .map_err(|source| Error::WriteRecord { source })?;
        }
        None => match api.delete(&name, &Default::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(Error::DeleteRecord { source: e }),
        },
    }
    Ok(())
}
