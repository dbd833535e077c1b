//! What the watch cache keeps of a resource: only what the operator reads of it, held compactly.
//!
//! A resource's metadata is the tenant's to fill (up to 256 KiB of annotations, as many labels,
//! kubectl's copy of the last applied manifest, managedFields), and the cache holds every
//! resource for as long as it exists. So before an object enters the cache, everything the
//! operator never reads is dropped: what one namespace can make the operator hold is then its
//! resources' specs (bounded by the schema and the API server's object size limit), their
//! statuses (the operator's own writes) and a few fixed-size fields.
//!
//! Spec and status are then held as compact JSON ([`CachedCredential`]): their Rust types are
//! 800 bytes of mostly empty optional fields inline, their JSON with the defaults left out
//! about 400. A reconcile is handed the cached copy and reads it back whole
//! ([`CachedCredential::expand`]); whatever a pass reads of a resource must be kept here. Its
//! writes do not depend on the rest (status goes through merge patches of the status
//! subresource; the finalizer through JSON patches of `metadata.finalizers`, kept whole).

use std::borrow::Cow;

use jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use super::class::ClassFacts;
use super::packed::{Dictionary, Packed};
use crate::api::{
    ROTATE_ANNOTATION, ServiceSpecificCredential, ServiceSpecificCredentialSpec,
    ServiceSpecificCredentialStatus,
};

/// A resource as the watch cache holds it: the metadata the operator reads (trimmed by
/// [`trim_for_cache`] before it is stored), spec and status as compact JSON, and decoded the few
/// status fields that are read across all resources (claims, the per-credential gauges).
#[derive(Clone, Debug)]
pub struct CachedCredential {
    /// Trimmed, and without the rotate annotation: a one-entry map costs a whole B-tree node
    /// (half a KiB), so the request is kept on its own.
    metadata: ObjectMeta,
    rotate_request: Option<Box<str>>,
    /// `{"spec":…,"status":…}` as the types serialize, fields at their defaults left out,
    /// packed against [`BODY_DICTIONARY`].
    body: Packed,
    /// `status.credentialId` and `status.retiringCredentialId`, when they can be IAM ids.
    held: [Option<Box<str>>; 2],
    /// What the pass's class is told from (see `class`).
    class: ClassFacts,
    ready: bool,
    expiration: Option<Timestamp>,
}

/// What cached bodies say alike: keys, and the values most resources have (see `packed`).
const BODY_DICTIONARY: Dictionary = Dictionary(
    br#"{"spec":{"userName":"","serviceName":"bedrock.amazonaws.com","status":"Inactive","credentialAgeDays":90,"secret":{"name":"","template":{"type":"Opaque","labels":{},"annotations":{},"data":{}}},"rotation":{"interval":"720h","strategy":"Reset","gracePeriod":"1h","beforeExpiry":"24h"},"identityRef":{"name":""},"deletionPolicy":"Retain","adopt":{"credentialId":""},"rolloutRestart":[{"kind":"Deployment","name":""}]},"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":"False","reason":"","message":"","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":1}],"credentialId":"ACCA","serviceUserName":"-at-","serviceCredentialAlias":"","credentialStatus":"Expired","createDate":"2026-01-01T00:00:00Z","expirationDate":"2026-01-01T00:00:00Z","secretName":"","lastRotationTime":"2026-01-01T00:00:00Z","nextRotationTime":"2026-01-01T00:00:00Z","handledRotateRequest":"","retiringCredentialId":"ACCA","retireAfter":"2026-01-01T00:00:00Z","slotsUsed":1,"identity":""}}{"spec":{"userName":"","serviceName":"codecommit.amazonaws.com","status":"Active","secret":{},"deletionPolicy":"Delete"},"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":"True","reason":"Available","message":"the Secret holds a working credential","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":1}],"credentialId":"ACCA","serviceUserName":"-at-","credentialStatus":"Active","createDate":"2026-01-01T00:00:00Z","secretName":"","slotsUsed":1}}"#,
);

#[derive(Serialize)]
struct Body<'a> {
    spec: &'a ServiceSpecificCredentialSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: &'a Option<ServiceSpecificCredentialStatus>,
}

#[derive(Deserialize)]
struct OwnedBody {
    spec: ServiceSpecificCredentialSpec,
    #[serde(default)]
    status: Option<ServiceSpecificCredentialStatus>,
}

impl CachedCredential {
    /// The resource whole, as a reconcile reads it.
    pub fn expand(&self) -> Result<ServiceSpecificCredential, serde_json::Error> {
        let body = self
            .body
            .unpack(&BODY_DICTIONARY)
            .map_err(|e| serde_json::Error::io(std::io::Error::other(e)))?;
        let OwnedBody { spec, status } = serde_json::from_slice(&body)?;
        let mut metadata = self.metadata.clone();
        if let Some(request) = &self.rotate_request {
            metadata
                .annotations
                .get_or_insert_default()
                .insert(ROTATE_ANNOTATION.to_string(), request.to_string());
        }
        Ok(ServiceSpecificCredential {
            metadata,
            spec,
            status,
        })
    }

    /// Trims the metadata (see [`trim_for_cache`]) and keeps the rotate request apart from it.
    pub(crate) fn trim(&mut self, label_keys: &[String]) {
        trim_for_cache(&mut self.metadata, label_keys);
        if let Some(mut annotations) = self.metadata.annotations.take() {
            if let Some(request) = annotations.remove(ROTATE_ANNOTATION) {
                self.rotate_request = Some(request.into_boxed_str());
            }
            self.metadata.annotations = Some(annotations).filter(|a| !a.is_empty());
        }
    }

    /// The credential ids its status holds (the current one, a retiring one).
    pub fn held_ids(&self) -> impl Iterator<Item = &str> {
        self.held.iter().flatten().map(|id| &**id)
    }

    /// What its pass's class is told from.
    pub(crate) fn class_facts(&self) -> &ClassFacts {
        &self.class
    }

    /// Whether its `Ready` condition is `True`.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// `status.expirationDate`.
    pub fn expiration(&self) -> Option<Timestamp> {
        self.expiration
    }

    /// `status.nextRotationTime` (kept once, with what the pass's class is told from).
    pub fn next_rotation(&self) -> Option<Timestamp> {
        self.class.next_rotation()
    }
}

/// The longest credential id IAM makes (`ServiceSpecificCredentialId`, 20 to 128 word
/// characters): a longer value a tenant wrote into status can hold nothing, and is not kept
/// twice.
const MAX_CREDENTIAL_ID_LEN: usize = 128;

impl From<ServiceSpecificCredential> for CachedCredential {
    fn from(mut resource: ServiceSpecificCredential) -> Self {
        // As the cache will keep it (see `trim_for_cache`), for the class to compare.
        if let Some(request) = resource
            .metadata
            .annotations
            .as_mut()
            .and_then(|a| a.get_mut(ROTATE_ANNOTATION))
        {
            *request = bounded_rotate_request(std::mem::take(request));
        }
        let status = resource.status.as_ref();
        let id = |id: Option<&String>| {
            id.filter(|id| id.len() <= MAX_CREDENTIAL_ID_LEN)
                .map(|id| Box::from(id.as_str()))
        };
        let held = [
            id(status.and_then(|s| s.credential_id.as_ref())),
            id(status.and_then(|s| s.retiring_credential_id.as_ref())),
        ];
        let body = serde_json::to_vec(&Body {
            spec: &resource.spec,
            status: &resource.status,
        })
        // Plain structs with string keys: serializing them cannot fail (and a body that does
        // not read back makes the pass read the resource from the API server).
        .unwrap_or_default();
        CachedCredential {
            rotate_request: None,
            held,
            class: ClassFacts::of(&resource),
            ready: resource
                .ready_condition()
                .is_some_and(|c| c.status == "True"),
            expiration: status.and_then(|s| s.expiration_date.as_ref()).map(|t| t.0),
            body: Packed::pack(&body, &BODY_DICTIONARY),
            metadata: resource.metadata,
        }
    }
}

/// Read as the resource itself is (see [`read_resource`]), then made compact. A resource whose
/// spec the operator's types cannot read is kept by its metadata alone: one such object must not
/// fail the list or watch page it is in, which would hide every other resource of the scope. Its
/// pass then reads it from the API server and fails on its own.
impl<'de> Deserialize<'de> for CachedCredential {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let unread = match read_resource(value) {
            Ok(resource) => return Ok(CachedCredential::from(resource)),
            Err(unread) => unread,
        };
        #[derive(Deserialize)]
        struct MetadataOnly {
            #[serde(default)]
            metadata: ObjectMeta,
        }
        let MetadataOnly { metadata } =
            MetadataOnly::deserialize(unread).map_err(serde::de::Error::custom)?;
        Ok(CachedCredential::unreadable(metadata))
    }
}

/// Serialized whole, as the resource: only for kube's helpers that name the type of a patch's
/// answer (the finalizer's JSON patches), which never serialize it.
impl Serialize for CachedCredential {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.expand()
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

/// A resource as the API server serves it, read so that what a tenant can write does not stop
/// the operator: a status its types cannot read (a wildcard Role writes status: a date past
/// year 9999, a count past `i32`) is dropped, and the pass decides from the spec and the
/// operator's record, then writes status anew (every field it does not set, nulled). When the
/// rest does not read either, it is given back (without status).
pub(crate) fn read_resource(
    mut value: serde_json::Value,
) -> Result<ServiceSpecificCredential, serde_json::Value> {
    if let Ok(resource) = ServiceSpecificCredential::deserialize(&value) {
        return Ok(resource);
    }
    let status = value.as_object_mut().and_then(|o| o.remove("status"));
    match ServiceSpecificCredential::deserialize(&value) {
        Ok(resource) if status.is_some() => {
            tracing::warn!(
                namespace = resource.metadata.namespace.as_deref().unwrap_or_default(),
                name = resource.metadata.name.as_deref().unwrap_or_default(),
                "the resource's status does not read as the operator writes it; deciding without it, from the spec and the operator's record"
            );
            Ok(resource)
        }
        _ => Err(value),
    }
}

impl CachedCredential {
    /// A resource kept by its metadata alone: it reads back as an error.
    fn unreadable(metadata: ObjectMeta) -> CachedCredential {
        CachedCredential {
            class: ClassFacts::unread(metadata.deletion_timestamp.is_some()),
            metadata,
            rotate_request: None,
            body: Packed::default(),
            held: [None, None],
            ready: false,
            expiration: None,
        }
    }
}

/// A resource in either form, as the API server serves it or as the watch cache holds it: what a
/// user changes to ask for a new attempt.
pub(crate) trait RotateRequested: Resource {
    /// The value of the rotate annotation.
    fn rotate_request(&self) -> Option<&str>;
}

impl RotateRequested for ServiceSpecificCredential {
    fn rotate_request(&self) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()?
            .get(ROTATE_ANNOTATION)
            .map(String::as_str)
    }
}

impl RotateRequested for CachedCredential {
    fn rotate_request(&self) -> Option<&str> {
        self.rotate_request.as_deref()
    }
}

/// The same kind as [`ServiceSpecificCredential`]: a watch of it is a watch of those.
impl Resource for CachedCredential {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        ServiceSpecificCredential::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        ServiceSpecificCredential::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        ServiceSpecificCredential::version(dt)
    }
    fn api_version(dt: &()) -> Cow<'_, str> {
        ServiceSpecificCredential::api_version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        ServiceSpecificCredential::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The annotations of a resource the operator reads.
const READ_ANNOTATIONS: [&str; 1] = [ROTATE_ANNOTATION];

/// The longest rotate request kept as written; a longer one is kept as its digest.
pub(crate) const MAX_ROTATE_REQUEST_LEN: usize = 256;

/// Trims a resource's `metadata` to what the operator reads of it, before the watch cache stores it.
///
/// Kept: name, namespace, uid, resourceVersion,
/// generation, creationTimestamp, deletionTimestamp and finalizers (whole: kube-runtime's
/// finalizer helper patches them by index), the rotate annotation, and the labels under
/// `label_keys` (the shard selector's: the watch selected on them). Dropped: every other
/// annotation and label (kubectl's last-applied-configuration among them), managedFields,
/// ownerReferences, generateName and whatever fields metadata may gain.
///
/// A rotate request longer than [`MAX_ROTATE_REQUEST_LEN`] is replaced by `sha256:<hex>` of it:
/// a new value still asks for one rotation, and the status records the digest as handled.
pub(crate) fn trim_for_cache(metadata: &mut ObjectMeta, label_keys: &[String]) {
    let ObjectMeta {
        name,
        namespace,
        uid,
        resource_version,
        generation,
        creation_timestamp,
        deletion_timestamp,
        finalizers,
        annotations,
        labels,
        ..
    } = std::mem::take(metadata);
    let annotations = annotations
        .map(|annotations| {
            annotations
                .into_iter()
                .filter(|(key, _)| READ_ANNOTATIONS.contains(&key.as_str()))
                .map(|(key, value)| {
                    let value = if key == ROTATE_ANNOTATION {
                        bounded_rotate_request(value)
                    } else {
                        value
                    };
                    (key, value)
                })
                .collect::<std::collections::BTreeMap<_, _>>()
        })
        .filter(|kept| !kept.is_empty());
    let labels = labels
        .map(|labels| {
            labels
                .into_iter()
                .filter(|(key, _)| label_keys.contains(key))
                .collect::<std::collections::BTreeMap<_, _>>()
        })
        .filter(|kept| !kept.is_empty());
    *metadata = ObjectMeta {
        name,
        namespace,
        uid,
        resource_version,
        generation,
        creation_timestamp,
        deletion_timestamp,
        finalizers,
        annotations,
        labels,
        ..ObjectMeta::default()
    };
}

/// `request`, or `sha256:<hex>` of it when longer than [`MAX_ROTATE_REQUEST_LEN`].
fn bounded_rotate_request(request: String) -> String {
    if request.len() <= MAX_ROTATE_REQUEST_LEN {
        return request;
    }
    format!("sha256:{}", hex::encode(Sha256::digest(request.as_bytes())))
}

#[cfg(test)]
mod tests;
