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
        let mut request = self.request.list(&self.params).map_err(|e| Error::List {
            source: kube::Error::BuildRequest(e),
        })?;
        request.extensions_mut().insert("list");
        let page: ObjectList<T> = self
            .client
            .request(request)
            .await
            .map_err(|source| Error::List { source })?;
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
mod tests;
