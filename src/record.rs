//! The operator's own record of every credential it minted: a cluster-scoped `CredentialRecord`
//! per resource (named by the resource's uid), which no namespaced Role can reach.
//!
//! Status is a report for people: a namespace-wildcard Role includes `/status`, so a tenant can
//! write anything there. Which credential a resource holds, which one retires, and which Create
//! is under way are what the record says; status is made to agree with it on every pass
//! ([`Holding::apply_to`]). The record is written before the status write that reports the same
//! change, so it never knows less than status ever said, and a crash between the two leaves the
//! record ahead — never behind — of what reached a Secret.

// Every item here is the crate's API (tests and the CRD printer use it); kube's derive re-emits
// types in a way `unreachable_pub` misreads.
#![allow(unreachable_pub)]

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::{DeletionPolicy, ServiceSpecificCredentialStatus};

/// The record that marks when the operator started keeping records: resources created before it
/// may carry ownership in status only, which is taken into a record once (see [`migrate`]).
/// Its `creationTimestamp` is set by the API server, so no tenant can move it.
pub(crate) const EPOCH_RECORD: &str = "ssc-operator-epoch";

/// How long a Create whose outcome the operator never learned can still take effect in IAM.
/// A SigV4-signed request is refused once its `X-Amz-Date` is more than 15 minutes from IAM's
/// clock ("Signature expired"), however long a network held it; 5 more minutes cover the skew
/// between the operator's clock and IAM's.
pub(crate) const UNKNOWN_CREATE_WINDOW: Duration = Duration::from_secs(20 * 60);

/// What the operator minted (or adopted) for one `ServiceSpecificCredential`, and for whom.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "iam.ssc-operator.dev",
    version = "v1alpha1",
    kind = "CredentialRecord",
    plural = "credentialrecords",
    singular = "credentialrecord",
    shortname = "sscrecord",
    derive = "PartialEq",
    doc = "ssc-operator's own record of the IAM credentials it minted for one ServiceSpecificCredential (written by the operator only; cluster-scoped so that no namespaced Role reaches it).",
    printcolumn = r#"{"name":"Namespace","type":"string","jsonPath":".spec.owner.namespace"}"#,
    printcolumn = r#"{"name":"Resource","type":"string","jsonPath":".spec.owner.name"}"#,
    printcolumn = r#"{"name":"User","type":"string","jsonPath":".spec.userName"}"#,
    printcolumn = r#"{"name":"Service","type":"string","jsonPath":".spec.serviceName"}"#,
    printcolumn = r#"{"name":"Credential ID","type":"string","jsonPath":".spec.holding.credentialId"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRecordSpec {
    /// The resource the credentials were minted for. Unset only on the epoch record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// The IAM user.
    #[serde(default)]
    pub user_name: String,
    /// The service.
    #[serde(default)]
    pub service_name: String,
    /// The owner's deletionPolicy when last seen: what happens to the credentials if the owner
    /// disappears without the operator's cleanup.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// The `--shard-selector` of the replicas that wrote this record (unset without shards):
    /// only they sweep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// The AWS identity the credentials were minted through (unset: the operator's own): what
    /// retires them, whatever identity the owner names later.
    #[serde(default, skip_serializing_if = "is_ambient_unknown")]
    pub identity: crate::identity::IdentityBinding,
    /// What the owner holds now.
    #[serde(default)]
    pub holding: Holding,
    /// Creates whose outcome the operator never learned, kept for [`UNKNOWN_CREATE_WINDOW`]: a
    /// network may still deliver them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_creates: Vec<UnknownCreate>,
}

fn is_ambient_unknown(binding: &crate::identity::IdentityBinding) -> bool {
    *binding == crate::identity::IdentityBinding::default()
}

/// The owning resource.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Owner {
    /// The resource's namespace.
    pub namespace: String,
    /// The resource's name.
    pub name: String,
    /// The resource's uid: a resource of the same name made later is another owner.
    pub uid: String,
}

/// The ownership fields of a resource's status, as the operator recorded them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Holding {
    /// The credential the resource holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    /// Recreate rotation: the previous credential, deleted after `retireAfter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_credential_id: Option<String>,
    /// When the retiring credential is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_after: Option<Time>,
    /// A Create announced and not yet answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_requested_at: Option<Time>,
    /// The user's credential ids just before that Create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials_before_create: Vec<String>,
}

/// A Create sent whose answer never came.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnknownCreate {
    /// When it was announced (the intent's time).
    pub requested_at: Time,
    /// The ids that existed before it: none of them can be its credential.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials_before: Vec<String>,
}

impl Holding {
    /// The ownership fields of `status`, times in whole seconds as the API server stores them
    /// (a time kept in memory with its fraction would never equal the one read back).
    pub fn of(status: &ServiceSpecificCredentialStatus) -> Holding {
        Holding {
            credential_id: status.credential_id.clone(),
            retiring_credential_id: status.retiring_credential_id.clone(),
            retire_after: status.retire_after.as_ref().map(whole_seconds),
            create_requested_at: status.create_requested_at.as_ref().map(whole_seconds),
            credentials_before_create: status.credentials_before_create.clone(),
        }
    }

    /// Makes `status`'s ownership fields say what this holding says.
    pub fn apply_to(&self, status: &mut ServiceSpecificCredentialStatus) {
        status.credential_id = self.credential_id.clone();
        status.retiring_credential_id = self.retiring_credential_id.clone();
        status.retire_after = self.retire_after.clone();
        status.create_requested_at = self.create_requested_at.clone();
        status.credentials_before_create = self.credentials_before_create.clone();
    }

    /// The credential ids held (current and retiring).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        [&self.credential_id, &self.retiring_credential_id]
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    pub fn holds(&self, id: &str) -> bool {
        self.ids().any(|held| held == id)
    }

    pub fn is_empty(&self) -> bool {
        *self == Holding::default()
    }
}

/// `time` as the API server stores it: RFC 3339 in whole seconds.
pub(crate) fn whole_seconds(time: &Time) -> Time {
    Time(Timestamp::from_second(time.0.as_second()).unwrap_or(time.0))
}

/// The Create `before` announced that `after` forgets without its answer having come: replaced
/// by a new intent, or dropped, while no credential came into the resource's hands. `answered`
/// says whether this pass's Create got an answer (a credential, or a definite refusal);
/// `announced` is the intent status is known to have carried: only an intent that reached
/// status was followed by a Create (the status write is what proves the pass current).
pub(crate) fn unanswered_create(
    before: &Holding,
    after: &Holding,
    answered: bool,
    announced: Option<&Time>,
) -> Option<UnknownCreate> {
    let requested_at = before.create_requested_at.clone()?;
    if announced.map(whole_seconds).as_ref() != Some(&requested_at) {
        return None;
    }
    let forgotten = after.create_requested_at.as_ref() != Some(&requested_at);
    let credential_came =
        after.credential_id.is_some() && after.credential_id != before.credential_id;
    (forgotten && !answered && !credential_came).then(|| UnknownCreate {
        requested_at,
        credentials_before: before.credentials_before_create.clone(),
    })
}

/// The ownership a resource created before the epoch carried in status, taken into the record
/// once, with the guard `spec.adopt` has: only ids IAM lists for its user and service
/// (`listed`, an exact List), that no other resource holds (`claimed`), for a user the
/// namespace may use (else nothing). No intent: a Create interrupted at the very upgrade is
/// not adopted (its credential shows as unclaimed), and a forged one opens no window.
pub(crate) fn migrate(
    status: &ServiceSpecificCredentialStatus,
    listed: &[&str],
    claimed: &dyn Fn(&str) -> bool,
    permitted: bool,
) -> Holding {
    let keep = |id: &Option<String>| {
        id.clone()
            .filter(|id| permitted && listed.contains(&id.as_str()) && !claimed(id))
    };
    let mut holding = Holding {
        credential_id: keep(&status.credential_id),
        retiring_credential_id: keep(&status.retiring_credential_id),
        ..Holding::default()
    };
    if holding.retiring_credential_id.is_some() {
        holding.retire_after = status.retire_after.as_ref().map(whole_seconds);
    }
    holding
}

/// Whether a resource created at `created` predates the records (`epoch`: the epoch record's
/// creation), so that its status may carry ownership no record holds yet. Both are whole
/// seconds: one made in the epoch's own second counts as new (trusted for nothing its status
/// says), as resources made right after a fresh install are.
pub(crate) fn predates_records(created: Option<Timestamp>, epoch: Option<Timestamp>) -> bool {
    match (created, epoch) {
        (Some(created), Some(epoch)) => created < epoch,
        // Without an epoch record nothing is trusted from status.
        _ => false,
    }
}

/// The unknown Creates still inside their window at `now`.
pub(crate) fn unknown_creates_open(
    creates: &[UnknownCreate],
    now: Timestamp,
) -> Vec<UnknownCreate> {
    creates
        .iter()
        .filter(|c| {
            let window = jiff::SignedDuration::try_from(UNKNOWN_CREATE_WINDOW).unwrap_or_default();
            c.requested_at
                .0
                .checked_add(window)
                .is_ok_and(|end| end > now)
        })
        .cloned()
        .collect()
}

/// What is left of a record once what it held is deleted or released: `None` when nothing
/// (the record can go), else the record holding nothing, with every Create that may still take
/// effect (an unanswered intent becomes one) for the sweep to settle.
pub(crate) fn released(
    spec: &CredentialRecordSpec,
    now: Timestamp,
) -> Option<CredentialRecordSpec> {
    let mut open = unknown_creates_open(&spec.unknown_creates, now);
    if let Some(requested_at) = &spec.holding.create_requested_at {
        open.push(UnknownCreate {
            requested_at: requested_at.clone(),
            credentials_before: spec.holding.credentials_before_create.clone(),
        });
        open = unknown_creates_open(&open, now);
    }
    (!open.is_empty()).then(|| CredentialRecordSpec {
        holding: Holding::default(),
        unknown_creates: open,
        ..spec.clone()
    })
}

/// Which of what `holding` names the sweep deletes when its resource went without cleanup,
/// and which it releases (kept in IAM): with Retain the current credential is kept, as
/// deletion would have kept it; a retiring one is deleted either way.
pub(crate) fn orphaned(holding: &Holding, policy: DeletionPolicy) -> (Vec<String>, Vec<String>) {
    let mut delete: Vec<String> = holding.retiring_credential_id.iter().cloned().collect();
    let mut release = Vec::new();
    if let Some(id) = &holding.credential_id {
        match policy {
            DeletionPolicy::Delete => delete.insert(0, id.clone()),
            DeletionPolicy::Retain => release.push(id.clone()),
        }
    }
    (delete, release)
}

/// The record's CRD as YAML, exactly what `crds/credentialrecords.iam.ssc-operator.dev.yaml` holds.
pub(crate) fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    serde_yaml::to_string(&CredentialRecord::crd()).expect("a CRD always serializes to YAML")
}

/// The record's name for the resource with this uid.
pub fn record_name(uid: &str) -> String {
    uid.to_string()
}

#[cfg(test)]
mod tests;
