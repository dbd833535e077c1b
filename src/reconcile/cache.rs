//! What the watch cache keeps of a resource: only what the operator reads of it.
//!
//! A resource's metadata is the tenant's to fill (up to 256 KiB of annotations, as many labels,
//! kubectl's copy of the last applied manifest, managedFields), and the cache holds every
//! resource for as long as it exists. So before an object enters the cache, everything the
//! operator never reads is dropped: what one namespace can make the operator hold is then its
//! resources' specs (bounded by the schema and the API server's object size limit), their
//! statuses (the operator's own writes) and a few fixed-size fields.
//!
//! Reconciles are handed the cached copy: whatever a pass reads of a resource must be kept here.
//! Its writes do not depend on the rest (status goes through merge patches of the status
//! subresource; the finalizer through JSON patches of `metadata.finalizers`, kept whole).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha256};

use crate::api::{ROTATE_ANNOTATION, ServiceSpecificCredential};

/// The annotations of a resource the operator reads.
const READ_ANNOTATIONS: [&str; 1] = [ROTATE_ANNOTATION];

/// The longest rotate request kept as written; a longer one is kept as its digest.
pub(crate) const MAX_ROTATE_REQUEST_LEN: usize = 256;

/// Trims `resource` to what the operator reads of it, before the watch cache stores it.
///
/// Kept: `spec` and `status` whole; of the metadata name, namespace, uid, resourceVersion,
/// generation, creationTimestamp, deletionTimestamp and finalizers (whole: kube-runtime's
/// finalizer helper patches them by index), the rotate annotation, and the labels under
/// `label_keys` (the shard selector's: the watch selected on them). Dropped: every other
/// annotation and label (kubectl's last-applied-configuration among them), managedFields,
/// ownerReferences, generateName and whatever fields metadata may gain.
///
/// A rotate request longer than [`MAX_ROTATE_REQUEST_LEN`] is replaced by `sha256:<hex>` of it:
/// a new value still asks for one rotation, and the status records the digest as handled.
pub(crate) fn trim_for_cache(resource: &mut ServiceSpecificCredential, label_keys: &[String]) {
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
    } = std::mem::take(&mut resource.metadata);
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
    resource.metadata = ObjectMeta {
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
        trim_for_cache(&mut r, &["shard".into()]);
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
        trim_for_cache(&mut r, &[]);
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
        trim_for_cache(&mut r, &["shard".into()]);
        assert_eq!(r, before);
    }

    #[test]
    fn a_long_rotate_request_is_kept_as_its_digest() {
        let mut r = bulky();
        let long = "r".repeat(100 * 1024);
        r.annotations_mut()
            .insert(ROTATE_ANNOTATION.into(), long.clone());
        trim_for_cache(&mut r, &[]);
        let kept = &r.annotations()[ROTATE_ANNOTATION];
        assert_eq!(kept.len(), "sha256:".len() + 64);
        assert!(kept.starts_with("sha256:"), "{kept}");
        // The same request gives the same digest (handled once); another, another.
        let mut again = bulky();
        again
            .annotations_mut()
            .insert(ROTATE_ANNOTATION.into(), long);
        trim_for_cache(&mut again, &[]);
        assert_eq!(&again.annotations()[ROTATE_ANNOTATION], kept);
        let mut other = bulky();
        other
            .annotations_mut()
            .insert(ROTATE_ANNOTATION.into(), "s".repeat(100 * 1024));
        trim_for_cache(&mut other, &[]);
        assert_ne!(&other.annotations()[ROTATE_ANNOTATION], kept);
        // At the limit a request is kept as written.
        let mut at_limit = bulky();
        let request = "t".repeat(MAX_ROTATE_REQUEST_LEN);
        at_limit
            .annotations_mut()
            .insert(ROTATE_ANNOTATION.into(), request.clone());
        trim_for_cache(&mut at_limit, &[]);
        assert_eq!(at_limit.annotations()[ROTATE_ANNOTATION], request);
    }
}
