//! Reading every record (or every resource), one page at a time.
//!
//! A reader of all records (the sweep, and a pass whose decision depends on who else holds a
//! credential) folds each page into the little it needs and drops it: at 10,000 records, a list
//! collected whole and parsed whole (managedFields as JSON trees) held 10–20 MiB per reader.
//! Each item is parsed into the fields its reader uses; the parser skips the rest (managedFields,
//! a tenant's annotations) without allocating.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, ListParams};
use kube::core::{ObjectList, Request};
use serde::Deserialize;

use crate::reconcile::{Context, Error};
use crate::record::{CredentialRecord, CredentialRecordSpec};

/// Records per page.
const PAGE: u32 = 500;

/// The pages of a list, each item parsed as `T`.
pub(crate) struct Pages<T> {
    client: kube::Client,
    request: Request,
    params: ListParams,
    done: bool,
    item: std::marker::PhantomData<T>,
}

/// The pages of a list of every record.
pub(crate) type RecordPages = Pages<ListedRecord>;

impl RecordPages {
    pub(crate) fn new(ctx: &Context) -> Self {
        Pages::of(&Api::<CredentialRecord>::all(ctx.client.clone()), PAGE)
    }
}

impl<T: serde::de::DeserializeOwned + Clone> Pages<T> {
    /// The pages of what `api` lists, `page` items each.
    pub(crate) fn of<K: kube::Resource + Clone>(api: &Api<K>, page: u32) -> Self {
        Pages {
            client: api.clone().into_client(),
            request: Request::new(api.resource_url().to_string()),
            params: ListParams::default().limit(page),
            done: false,
            item: std::marker::PhantomData,
        }
    }

    /// The next page; `None` after the last.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<T>>, Error> {
        if self.done {
            return Ok(None);
        }
        let mut request = self
            .request
            .list(&self.params)
            .map_err(kube::Error::BuildRequest)?;
        request.extensions_mut().insert("list");
        let page: ObjectList<T> = self.client.request(request).await?;
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => {
                self.params = self.params.clone().continue_token(&token);
            }
            _ => self.done = true,
        }
        Ok(Some(page.items))
    }
}

/// A record as a page parses it: the spec and the metadata a reader uses or a writer of the
/// listed copy must carry over (the sweep replaces records it settled: labels, annotations,
/// finalizers and owner references survive that). Every other field (managedFields above
/// all) is skipped by the parser, never allocated.
#[derive(Deserialize, Clone)]
pub(crate) struct ListedRecord {
    metadata: ListedMetadata,
    spec: CredentialRecordSpec,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ListedMetadata {
    name: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    creation_timestamp: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    finalizers: Option<Vec<String>>,
    owner_references: Option<Vec<OwnerReference>>,
}

impl From<ListedRecord> for CredentialRecord {
    fn from(listed: ListedRecord) -> Self {
        let meta = listed.metadata;
        let mut record = CredentialRecord::new(&meta.name.unwrap_or_default(), listed.spec);
        record.metadata = ObjectMeta {
            name: record.metadata.name,
            uid: meta.uid,
            resource_version: meta.resource_version,
            creation_timestamp: meta.creation_timestamp,
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: meta.owner_references,
            ..ObjectMeta::default()
        };
        record
    }
}

/// A resource as a page parses it for the claims of other shards: whose it is, when it was
/// made, and the ids its status names.
#[derive(Deserialize, Clone)]
pub(crate) struct ListedResource {
    pub(crate) metadata: ListedResourceMetadata,
    #[serde(default)]
    pub(crate) status: Option<ListedResourceStatus>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListedResourceMetadata {
    pub(crate) namespace: Option<String>,
    pub(crate) uid: Option<String>,
    pub(crate) creation_timestamp: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListedResourceStatus {
    pub(crate) credential_id: Option<String>,
    pub(crate) retiring_credential_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_record_keeps_its_spec_and_what_a_replace_carries_over_and_skips_managed_fields() {
        let page: ObjectList<ListedRecord> = serde_json::from_value(serde_json::json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1",
            "kind": "CredentialRecordList",
            "metadata": {"resourceVersion": "9"},
            "items": [{
                "apiVersion": "iam.ssc-operator.dev/v1alpha1",
                "kind": "CredentialRecord",
                "metadata": {
                    "name": "uid-1", "uid": "r-1", "resourceVersion": "8",
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                    "managedFields": [{"manager": "ssc-operator", "fieldsV1": {"f:spec": {}}}],
                    "labels": {"app.kubernetes.io/managed-by": "ssc-operator"},
                    "annotations": {"note": "an admin's"},
                    "finalizers": ["example.com/backup"]
                },
                "spec": {
                    "owner": {"namespace": "team-a", "name": "web", "uid": "uid-1"},
                    "userName": "alice",
                    "serviceName": "codecommit.amazonaws.com",
                    "holding": {"credentialId": "ACCA1"}
                }
            }]
        }))
        .expect("a page parses");
        let record = CredentialRecord::from(page.items[0].clone());
        assert_eq!(record.metadata.name.as_deref(), Some("uid-1"));
        assert_eq!(record.metadata.uid.as_deref(), Some("r-1"));
        assert_eq!(record.metadata.resource_version.as_deref(), Some("8"));
        assert!(record.metadata.creation_timestamp.is_some());
        assert_eq!(record.metadata.managed_fields, None);
        // The sweep replaces a settled record from its listed copy: nothing of this is lost.
        assert_eq!(
            record.metadata.labels,
            Some([("app.kubernetes.io/managed-by".into(), "ssc-operator".into())].into())
        );
        assert_eq!(
            record.metadata.annotations,
            Some([("note".into(), "an admin's".into())].into())
        );
        assert_eq!(
            record.metadata.finalizers,
            Some(vec!["example.com/backup".to_string()])
        );
        assert_eq!(record.spec.user_name, "alice");
        assert_eq!(record.spec.holding.ids().collect::<Vec<_>>(), ["ACCA1"]);
        assert_eq!(record.spec.owner.map(|o| o.uid).as_deref(), Some("uid-1"));
    }

    #[test]
    fn a_listed_resource_keeps_whose_it_is_and_its_ids_and_skips_a_tenants_bulk() {
        let page: ObjectList<ListedResource> = serde_json::from_value(serde_json::json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1",
            "kind": "ServiceSpecificCredentialList",
            "metadata": {},
            "items": [{
                "metadata": {
                    "name": "web", "namespace": "team-a", "uid": "uid-1",
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                    "annotations": {"bulk": "x".repeat(64 * 1024)}
                },
                "spec": {"userName": "alice", "serviceName": "codecommit.amazonaws.com"},
                "status": {"credentialId": "ACCA1", "retiringCredentialId": "ACCA0",
                           "conditions": []}
            }, {
                "metadata": {"namespace": "team-b", "uid": "uid-2"},
                "spec": {"userName": "bob", "serviceName": "codecommit.amazonaws.com"}
            }]
        }))
        .expect("a page parses");
        let [first, second] = &page.items[..] else {
            panic!("two items")
        };
        assert_eq!(first.metadata.namespace.as_deref(), Some("team-a"));
        assert_eq!(first.metadata.uid.as_deref(), Some("uid-1"));
        assert!(first.metadata.creation_timestamp.is_some());
        let status = first.status.as_ref().expect("status");
        assert_eq!(status.credential_id.as_deref(), Some("ACCA1"));
        assert_eq!(status.retiring_credential_id.as_deref(), Some("ACCA0"));
        assert!(second.status.is_none());
    }
}
