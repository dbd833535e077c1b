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
    /// `{"spec":…,"status":…}` as the types serialize, fields at their defaults left out.
    body: Box<str>,
    /// `status.credentialId` and `status.retiringCredentialId`, when they can be IAM ids.
    held: [Option<Box<str>>; 2],
    /// What the pass's class is told from (see `class`).
    class: ClassFacts,
    ready: bool,
    expiration: Option<Timestamp>,
}

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
        let OwnedBody { spec, status } = serde_json::from_str(&self.body)?;
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
        let body = serde_json::to_string(&Body {
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
            body: body.into_boxed_str(),
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
            body: Box::from(""),
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
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, OwnerReference};
    use kube::ResourceExt;
    use serde_json::json;

    use super::*;
    use crate::api::FINALIZER;

    /// A resource as the watch delivers it, with a tenant's bulk in its metadata.
    fn bulky() -> ServiceSpecificCredential {
        let mut r: ServiceSpecificCredential = serde_json::from_value(json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1",
            "kind": "ServiceSpecificCredential",
            "metadata": {
                "name": "web", "namespace": "team-a", "uid": "uid-1", "resourceVersion": "42",
                "generation": 3, "creationTimestamp": "2026-01-01T00:00:00Z",
                "deletionTimestamp": "2026-01-02T00:00:00Z", "generateName": "w",
                "finalizers": ["example.com/theirs", FINALIZER],
                "annotations": {
                    "tenant.example/bulk": "x".repeat(200 * 1024),
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                    "iam.ssc-operator.dev/not-read": "y".repeat(1024),
                    ROTATE_ANNOTATION: "2026-01-01T00:00:00Z",
                },
                "labels": {"team": "a", "shard": "b", "iam.ssc-operator.dev/not-read": "z"},
            },
            "spec": {
                "userName": "sofia", "serviceName": "codecommit.amazonaws.com",
                "secret": {"template": {"labels": {"app": "web"}, "annotations": {"a": "b"}}}
            },
            "status": {"credentialId": "ACCA1", "handledRotateRequest": "1"}
        }))
        .unwrap();
        r.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
            manager: Some("kubectl".into()),
            ..ManagedFieldsEntry::default()
        }]);
        r.metadata.owner_references = Some(vec![OwnerReference {
            name: "x".repeat(1024),
            ..OwnerReference::default()
        }]);
        r
    }

    #[test]
    fn keeps_what_the_operator_reads() {
        let before = bulky();
        let mut r = before.clone();
        trim_for_cache(&mut r.metadata, &["shard".into()]);
        assert_eq!(r.spec, before.spec);
        assert_eq!(r.status, before.status);
        let (m, b) = (&r.metadata, &before.metadata);
        assert_eq!(
            (
                &m.name,
                &m.namespace,
                &m.uid,
                &m.resource_version,
                m.generation
            ),
            (
                &b.name,
                &b.namespace,
                &b.uid,
                &b.resource_version,
                b.generation
            )
        );
        assert_eq!(m.creation_timestamp, b.creation_timestamp);
        assert_eq!(m.deletion_timestamp, b.deletion_timestamp);
        assert_eq!(r.finalizers(), ["example.com/theirs", FINALIZER]);
        assert_eq!(
            r.annotations(),
            &BTreeMap::from([(ROTATE_ANNOTATION.into(), "2026-01-01T00:00:00Z".into())])
        );
        assert_eq!(r.labels(), &BTreeMap::from([("shard".into(), "b".into())]));
    }

    #[test]
    fn drops_the_tenants_bulk() {
        let mut r = bulky();
        trim_for_cache(&mut r.metadata, &[]);
        assert!(r.labels().is_empty() && r.metadata.labels.is_none());
        assert_eq!(r.annotations().len(), 1);
        assert!(r.metadata.managed_fields.is_none());
        assert!(r.metadata.owner_references.is_none());
        assert!(r.metadata.generate_name.is_none());
        let held = serde_json::to_vec(&r).unwrap().len();
        assert!(held < 1024, "{held} bytes kept");
    }

    #[test]
    fn a_resource_without_metadata_to_drop_is_unchanged() {
        let mut r = bulky();
        r.metadata.annotations = None;
        r.metadata.labels = None;
        r.metadata.managed_fields = None;
        r.metadata.owner_references = None;
        r.metadata.generate_name = None;
        let before = r.clone();
        trim_for_cache(&mut r.metadata, &["shard".into()]);
        assert_eq!(r, before);
    }

    #[test]
    fn a_long_rotate_request_is_kept_as_its_digest() {
        let mut r = bulky();
        let long = "r".repeat(100 * 1024);
        r.annotations_mut()
            .insert(ROTATE_ANNOTATION.into(), long.clone());
        trim_for_cache(&mut r.metadata, &[]);
        let kept = &r.annotations()[ROTATE_ANNOTATION];
        assert_eq!(kept.len(), "sha256:".len() + 64);
        assert!(kept.starts_with("sha256:"), "{kept}");
        // The same request gives the same digest (handled once); another, another.
        let mut again = bulky();
        again
            .annotations_mut()
            .insert(ROTATE_ANNOTATION.into(), long);
        trim_for_cache(&mut again.metadata, &[]);
        assert_eq!(&again.annotations()[ROTATE_ANNOTATION], kept);
        let mut other = bulky();
        other
            .annotations_mut()
            .insert(ROTATE_ANNOTATION.into(), "s".repeat(100 * 1024));
        trim_for_cache(&mut other.metadata, &[]);
        assert_ne!(&other.annotations()[ROTATE_ANNOTATION], kept);
        // At the limit a request is kept as written.
        let mut at_limit = bulky();
        let request = "t".repeat(MAX_ROTATE_REQUEST_LEN);
        at_limit
            .annotations_mut()
            .insert(ROTATE_ANNOTATION.into(), request.clone());
        trim_for_cache(&mut at_limit.metadata, &[]);
        assert_eq!(at_limit.annotations()[ROTATE_ANNOTATION], request);
    }

    #[test]
    fn a_cached_resource_reads_back_as_it_was_and_holds_less() {
        let mut r = bulky();
        trim_for_cache(&mut r.metadata, &["shard".into()]);
        r.status = Some(serde_json::from_value(json!({
            "observedGeneration": 3,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Available",
                "message": "the Secret holds a working credential", "observedGeneration": 3,
                "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            "credentialId": "ACCA1", "retiringCredentialId": "ACCA2",
            "serviceUserName": "sofia-at-123456789012", "credentialStatus": "Active",
            "expirationDate": "2026-02-01T00:00:00Z", "nextRotationTime": "2026-01-15T00:00:00Z",
            "secretName": "web", "handledRotateRequest": "1", "slotsUsed": 2,
        }))
        .unwrap());
        let cached = CachedCredential::from(r.clone());
        assert_eq!(cached.expand().unwrap(), r);
        assert_eq!(cached.held_ids().collect::<Vec<_>>(), ["ACCA1", "ACCA2"]);
        assert!(cached.is_ready());
        let status = r.status.as_ref().unwrap();
        assert_eq!(
            cached.expiration(),
            status.expiration_date.as_ref().map(|t| t.0)
        );
        assert_eq!(
            cached.next_rotation(),
            status.next_rotation_time.as_ref().map(|t| t.0)
        );
        // What it saves: the types' inline size against the JSON of what is set.
        let inline = std::mem::size_of::<ServiceSpecificCredentialSpec>()
            + std::mem::size_of::<Option<ServiceSpecificCredentialStatus>>();
        assert!(
            cached.body.len() < inline,
            "{} ≥ {inline}",
            cached.body.len()
        );
    }

    #[test]
    fn a_cached_resource_keeps_the_rotate_request_apart_and_gives_it_back() {
        let mut cached = CachedCredential::from(bulky());
        cached.trim(&["shard".into()]);
        assert!(cached.metadata.annotations.is_none());
        assert_eq!(cached.rotate_request(), Some("2026-01-01T00:00:00Z"));
        let mut trimmed = bulky();
        trim_for_cache(&mut trimmed.metadata, &["shard".into()]);
        let expanded = cached.expand().unwrap();
        assert_eq!(expanded, trimmed);
        assert_eq!(expanded.rotate_request(), cached.rotate_request());
        // Without a request nothing is added.
        let mut plain = bulky();
        plain.metadata.annotations = None;
        let mut cached = CachedCredential::from(plain.clone());
        cached.trim(&[]);
        assert_eq!(cached.rotate_request(), None);
        assert_eq!(cached.expand().unwrap().metadata.annotations, None);
    }

    #[test]
    fn a_cached_resource_is_read_from_a_watch_event_as_the_kind_itself() {
        let before = bulky();
        let cached: CachedCredential =
            serde_json::from_value(serde_json::to_value(&before).unwrap()).unwrap();
        assert_eq!(cached.expand().unwrap(), before);
        assert_eq!(
            CachedCredential::api_version(&()),
            ServiceSpecificCredential::api_version(&())
        );
        assert_eq!(
            CachedCredential::plural(&()),
            ServiceSpecificCredential::plural(&())
        );
        assert_eq!(cached.held_ids().collect::<Vec<_>>(), ["ACCA1"]);
        assert!(!cached.is_ready());
        // A status id no IAM id can be is not held apart (it is still in the body).
        let mut long = before.clone();
        long.status.as_mut().unwrap().credential_id = Some("A".repeat(129));
        let cached = CachedCredential::from(long.clone());
        assert_eq!(cached.held_ids().count(), 0);
        assert_eq!(cached.expand().unwrap(), long);
        // Without a status.
        let mut bare = before.clone();
        bare.status = None;
        assert_eq!(CachedCredential::from(bare.clone()).expand().unwrap(), bare);
    }

    /// A status a tenant wrote that the API server takes but the operator's types cannot read
    /// (a date past jiff's range, 9999-12-30T22:00Z) must not fail the page it is listed in:
    /// every other resource of the watch would go unseen at each re-list.
    #[test]
    fn an_unreadable_resource_does_not_fail_the_list_it_is_in() {
        let good = serde_json::to_value(bulky()).unwrap();
        let mut bad_status = good.clone();
        bad_status["metadata"]["name"] = "forged-status".into();
        bad_status["metadata"]["uid"] = "uid-2".into();
        bad_status["status"]["expirationDate"] = "9999-12-31T00:00:00Z".into();
        assert!(serde_json::from_value::<ServiceSpecificCredential>(bad_status.clone()).is_err());
        let mut bad_spec = good.clone();
        bad_spec["metadata"]["name"] = "forged-spec".into();
        bad_spec["metadata"]["uid"] = "uid-3".into();
        bad_spec["spec"]["userName"] = json!(5);
        let list: kube::core::ObjectList<CachedCredential> = serde_json::from_value(json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredentialList",
            "metadata": {"resourceVersion": "7"},
            "items": [good, bad_status, bad_spec],
        }))
        .expect("the list reads");
        let [good, forged_status, forged_spec] = &list.items[..] else {
            panic!("{} items", list.items.len())
        };
        assert_eq!(good.expand().unwrap(), bulky());

        // Status the types cannot read: dropped, the rest kept.
        let read = forged_status.expand().expect("read without status");
        assert_eq!(read.metadata.name.as_deref(), Some("forged-status"));
        assert_eq!(read.spec, bulky().spec);
        assert_eq!(read.status, None);
        assert_eq!(forged_status.held_ids().count(), 0);

        // A spec the types cannot read: the metadata alone.
        assert_eq!(forged_spec.metadata.name.as_deref(), Some("forged-spec"));
        assert_eq!(forged_spec.uid().as_deref(), Some("uid-3"));
        assert!(
            forged_spec.expand().is_err(),
            "a pass reads it from the API server"
        );
        assert_eq!(forged_spec.held_ids().count(), 0);
    }
}
