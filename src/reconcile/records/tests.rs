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
