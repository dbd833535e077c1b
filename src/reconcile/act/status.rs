//! The pass's status writes: the record first, then status, each conditioned on the
//! resourceVersion the pass decided on (the write fence).

use super::*;

impl Run<'_> {
    /// Writes `new` with Ready `reason` through the status subresource: a merge patch over the
    /// last status written (it also clears removed fields), conditioned on the fence's
    /// resourceVersion, so that a pass working from a stale cached copy gets 409 Conflict instead
    /// of writing old fields back over newer ones. Nothing is sent when nothing changes.
    pub(super) async fn write_status(
        &mut self,
        mut new: ServiceSpecificCredentialStatus,
        reason: Reason,
        message: &str,
    ) -> Result<(), Error> {
        let resource = &self.snapshot.observed.resource;
        let previous = self.written.ready();
        let generation = resource.meta().generation;
        let condition = ready_condition(
            previous,
            reason,
            message.to_string(),
            generation,
            self.ctx.clock.now(),
        );
        new.conditions.retain(|c| c.type_ != "Ready");
        new.conditions.insert(0, condition);
        new.observed_generation = generation;
        new.identity = self.snapshot.acting.clone();
        new.next_rotation_time = schedule::next_rotation_at(&resource.spec, &new)
            .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time);
        // The record first: it never knows less than status says.
        self.record
            .keep(self.ctx, self.snapshot, &new, self.ctx.clock.now())
            .await?;
        self.note_landed(&new);
        if new != self.live {
            self.fenced_status_patch(status_merge_patch(&new)).await?;
        }
        self.live = new.clone();
        self.written = new;
        Ok(())
    }

    /// [`Run::write_status`] for a status that records an IAM write already done: it must land.
    /// A 409 here does not mean the decision was stale (that was checked before the IAM write),
    /// only that the object moved on meanwhile, so the patch is sent again on the current version.
    pub(super) async fn record_status(
        &mut self,
        new: ServiceSpecificCredentialStatus,
        reason: Reason,
        message: &str,
    ) -> Result<(), Error> {
        self.note_recorded(&new);
        let mut attempt = 0;
        loop {
            match self.write_status(new.clone(), reason, message).await {
                Err(Error::WriteStatus {
                    source: kube::Error::Api(e),
                }) if e.code == 409 && attempt < 3 => {
                    attempt += 1;
                    let current = self.server_metadata().await?;
                    if current.uid() != self.snapshot.observed.resource.uid() {
                        return Err(Error::WriteStatus {
                            source: kube::Error::Api(e),
                        });
                    }
                    self.fence.resource_version = current.resource_version();
                    info!(
                        attempt,
                        "status moved on meanwhile; recording the IAM write again"
                    );
                }
                other => return other,
            }
        }
    }

    /// The record write of `status` returned (see [`Tracked::note_landed`]).
    pub(super) fn note_landed(&self, status: &ServiceSpecificCredentialStatus) {
        self.ctx.tracked.note_landed(
            &self.snapshot.observed.resource.uid().unwrap_or_default(),
            held_ids(status),
        );
    }

    /// Remembers the ids `status` names as this resource's, before the write that records them,
    /// so no other reconcile of this process can take them for unclaimed while caches catch up.
    pub(super) fn note_recorded(&self, status: &ServiceSpecificCredentialStatus) {
        self.ctx.tracked.note_recorded(
            &self.snapshot.observed.resource.uid().unwrap_or_default(),
            &self.snapshot.observed.namespace,
            held_ids(status),
        );
    }

    /// The resource's metadata as the API server has it: what the fence compares, and no
    /// status a tenant wrote to read.
    async fn server_metadata(
        &self,
    ) -> Result<kube::core::PartialObjectMeta<crate::reconcile::CachedCredential>, Error> {
        self.resources()
            .get_metadata(&self.snapshot.observed.resource.name_any())
            .await
            .map_err(|source| Error::ReadResource { source })
    }

    /// Proves the snapshot current before an IAM write: the API server's copy (a read, not a
    /// write) has its resourceVersion, so the cache did not serve a stale one. Skipped when a
    /// conditioned status write of this pass already proved it.
    pub(super) async fn ensure_current(&mut self) -> Result<(), Error> {
        if self.fence.confirmed {
            return Ok(());
        }
        let current = self.server_metadata().await?;
        if current.uid() != self.snapshot.observed.resource.uid()
            || current.resource_version() != self.fence.resource_version
        {
            return Err(Error::StaleCopy);
        }
        self.fence.confirmed = true;
        Ok(())
    }

    /// Read through the cache's type: a write's answer that carries a status the types do not
    /// read (a field this write leaves to the server) still tells its resourceVersion.
    pub(super) fn resources(&self) -> Api<crate::reconcile::CachedCredential> {
        Api::namespaced(self.ctx.client.clone(), &self.snapshot.observed.namespace)
    }

    /// Sends `patch` to the status subresource with the fence's resourceVersion, and moves the
    /// fence to the version written.
    pub(super) async fn fenced_status_patch(
        &mut self,
        mut patch: serde_json::Value,
    ) -> Result<(), Error> {
        let resource = &self.snapshot.observed.resource;
        let version = self.fence.resource_version.clone();
        if let Some(version) = &version {
            patch["metadata"] = serde_json::json!({ "resourceVersion": version });
        }
        let written = patch_status(&self.resources(), &resource.name_any(), &patch).await?;
        // A patch that changed nothing leaves the version as it was: that one is still current.
        if let (Some(uid), Some(replaced)) = (resource.uid(), version)
            && written.resource_version().as_ref() != Some(&replaced)
        {
            self.ctx.tracked.note_superseded(&uid, replaced);
        }
        self.fence.resource_version = written.resource_version();
        self.fence.confirmed = true;
        Ok(())
    }
}

/// The credential ids `status` names (the current one, a retiring one): what its record holds.
fn held_ids(status: &ServiceSpecificCredentialStatus) -> impl Iterator<Item = &String> {
    [&status.credential_id, &status.retiring_credential_id]
        .into_iter()
        .flatten()
}

/// `{"status": new}` with an explicit null for every status field `new` leaves out (a JSON merge
/// patch only removes what it sets to null). Every field, not only those the copy read held: a
/// status the types could not read was dropped from the copy (see `cache::read_resource`), and
/// this write is what replaces it.
pub(super) fn status_merge_patch(new: &ServiceSpecificCredentialStatus) -> serde_json::Value {
    let mut new = serde_json::to_value(new).unwrap_or_default();
    if let Some(new) = new.as_object_mut() {
        null_absent(new, &STATUS_FIELDS);
        // The one object inside status: merged key by key, so its absent keys are nulled too.
        if let Some(identity) = new.get_mut("identity").and_then(|i| i.as_object_mut()) {
            null_absent(identity, &IDENTITY_FIELDS);
        }
    }
    serde_json::json!({ "status": new })
}

fn null_absent(object: &mut serde_json::Map<String, serde_json::Value>, fields: &[String]) {
    for field in fields {
        object
            .entry(field.clone())
            .or_insert(serde_json::Value::Null);
    }
}

/// The fields of status, and of its identity, as the CRD's schema names them.
static STATUS_FIELDS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(fields_of::<ServiceSpecificCredentialStatus>);
static IDENTITY_FIELDS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(fields_of::<crate::identity::IdentityBinding>);

fn fields_of<T: schemars::JsonSchema>() -> Vec<String> {
    schemars::SchemaGenerator::default()
        .into_root_schema_for::<T>()
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// Sends `patch` to the status subresource as the operator's field manager; the answer read
/// through the cache's type (a status field it leaves to the server may not read).
pub(crate) async fn patch_status(
    api: &Api<crate::reconcile::CachedCredential>,
    name: &str,
    patch: &serde_json::Value,
) -> Result<crate::reconcile::CachedCredential, Error> {
    api.patch_status(
        name,
        &PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        },
        &Patch::Merge(patch),
    )
    .await
    .map_err(|source| Error::WriteStatus { source })
}
