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
    r.status = Some(
        serde_json::from_value(json!({
            "observedGeneration": 3,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Available",
                "message": "the Secret holds a working credential", "observedGeneration": 3,
                "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            "credentialId": "ACCA1", "retiringCredentialId": "ACCA2",
            "serviceUserName": "sofia-at-123456789012", "credentialStatus": "Active",
            "expirationDate": "2026-02-01T00:00:00Z", "nextRotationTime": "2026-01-15T00:00:00Z",
            "secretName": "web", "handledRotateRequest": "1", "slotsUsed": 2,
        }))
        .unwrap(),
    );
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

/// The dictionary says what bodies say alike: a typical resource's spec and status are kept in
/// under a third of their JSON (a dictionary left behind by the types would show here).
#[test]
fn a_typical_resource_is_kept_in_under_a_third_of_its_json() {
    let r: ServiceSpecificCredential = serde_json::from_value(json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1",
        "kind": "ServiceSpecificCredential",
        "metadata": {"name": "cred-00017", "namespace": "team-a", "uid": "uid-1"},
        "spec": {"userName": "user-00017", "serviceName": "codecommit.amazonaws.com"},
        "status": {
            "observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Available",
                "message": "the Secret holds a working credential", "observedGeneration": 1,
                "lastTransitionTime": "2026-12-07T23:41:12Z"}],
            "credentialId": "ACCAQWERTYUIOPASDFGH1",
            "serviceUserName": "user-00017-at-123456789012", "credentialStatus": "Active",
            "createDate": "2026-12-07T23:41:11Z", "secretName": "cred-00017", "slotsUsed": 1,
        }
    }))
    .unwrap();
    let json = serde_json::to_vec(&Body {
        spec: &r.spec,
        status: &r.status,
    })
    .unwrap()
    .len();
    let cached = CachedCredential::from(r.clone());
    assert_eq!(cached.expand().unwrap(), r);
    assert!(
        cached.body.len() * 3 < json,
        "{} of {json}",
        cached.body.len()
    );
}
