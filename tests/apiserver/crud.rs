//! Writes over raw HTTP: the status subresource, optimistic concurrency, validation messages,
//! patch types and apply, finalizers and deletion, garbage collection.

use super::*;

#[tokio::test]
async fn status_subresource_split_and_generation() {
    let s = ssc_server().await;
    let (code, created) = post(&s, SSC, alice()).await;
    assert_eq!(code, 201);
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(
        created["spec"]["status"], "Active",
        "schema default applied on create"
    );
    // metadata-only change: generation stays, resourceVersion moves
    let (_, v) = merge(
        &s,
        &format!("{SSC}/alice"),
        json!({"metadata": {"labels": {"env": "test"}}}),
    )
    .await;
    assert_eq!(v["metadata"]["generation"], 1);
    assert!(rv(&v) > rv(&created));
    // main resource: .status is dropped, spec change bumps generation
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice"),
        json!({"spec": {"status": "Inactive"}, "status": {"phase": "Hacked"}}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(v["metadata"]["generation"], 2);
    assert!(
        v.get("status").is_none(),
        "status written through the main resource: {v}"
    );
    // /status: only .status is kept (spec, labels, finalizers dropped), generation kept
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice/status"),
        json!({"spec": {"userName": "mallory"}, "metadata": {"labels": {"x": "y"}, "finalizers": ["a.b/c"]}, "status": {"observedGeneration": 2}}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(v["status"]["observedGeneration"], 2);
    assert_eq!(v["spec"]["userName"], "alice");
    assert!(v["metadata"]["labels"].get("x").is_none());
    assert!(v["metadata"].get("finalizers").is_none());
    assert_eq!(v["metadata"]["generation"], 2);
    // PUT on the main resource keeps the stored status
    let mut put = v.clone();
    put["status"] = json!({"observedGeneration": 99});
    put["spec"]["status"] = json!("Active");
    let (code, v) = call(
        &s,
        "PUT",
        &format!("{SSC}/alice"),
        Some("application/json"),
        put,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(v["status"]["observedGeneration"], 2);
    assert_eq!(v["metadata"]["generation"], 3);
    // a no-op write does not create a revision
    let before = s.revision();
    let (code, same) = merge(
        &s,
        &format!("{SSC}/alice"),
        json!({"spec": {"status": "Active"}}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(rv(&same), rv(&v));
    assert_eq!(s.revision(), before, "no-op patch must not write");
}

#[tokio::test]
async fn optimistic_concurrency() {
    let s = ssc_server().await;
    let (_, created) = post(&s, SSC, alice()).await;
    // PUT without resourceVersion: 422 with the plural kind (custom resources)
    let mut body = created.clone();
    body["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let (code, v) = call(
        &s,
        "PUT",
        &format!("{SSC}/alice"),
        Some("application/json"),
        body,
    )
    .await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(
        v["message"],
        "servicespecificcredentials.iam.ssc-operator.dev \"alice\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );
    assert_eq!(v["details"]["kind"], "servicespecificcredentials");
    // stale resourceVersion inside a merge patch: 409 Conflict
    merge(
        &s,
        &format!("{SSC}/alice"),
        json!({"metadata": {"labels": {"a": "b"}}}),
    )
    .await;
    let stale = created["metadata"]["resourceVersion"].clone();
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice"),
        json!({"metadata": {"resourceVersion": stale}, "spec": {"status": "Inactive"}}),
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(v["reason"], "Conflict");
    // ... and in a json patch
    let (code, _) = call(
        &s,
        "PATCH",
        &format!("{SSC}/alice"),
        Some("application/json-patch+json"),
        json!([{"op": "replace", "path": "/metadata/resourceVersion", "value": stale}]),
    )
    .await;
    assert_eq!(code, 409);
    // the status subresource checks a resourceVersion in the patch too (before its strategy
    // resets metadata): the operator's status writes are fenced this way
    let (_, current) = get(&s, &format!("{SSC}/alice")).await;
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice/status"),
        json!({"metadata": {"resourceVersion": stale}, "status": {"observedGeneration": 1}}),
    )
    .await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(
        v["message"],
        "Operation cannot be fulfilled on servicespecificcredentials.iam.ssc-operator.dev \"alice\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // a fence with the current resourceVersion and no change is a no-op: no new version
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice/status"),
        json!({"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(rv(&v), rv(&current));
    // Secrets allow unconditional updates; Leases do not
    let (code, _) = post(
        &s,
        "/api/v1/namespaces/default/secrets",
        json!({"metadata": {"name": "s"}, "stringData": {"a": "b"}}),
    )
    .await;
    assert_eq!(code, 201);
    let (code, v) = call(
        &s,
        "PUT",
        "/api/v1/namespaces/default/secrets/s",
        Some("application/json"),
        json!({"metadata": {"name": "s"}, "stringData": {"a": "c"}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["a"], "Yw==");
    let lease = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}});
    let (code, _) = post(
        &s,
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        lease.clone(),
    )
    .await;
    assert_eq!(code, 201);
    let (code, v) = call(
        &s,
        "PUT",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/l",
        Some("application/json"),
        lease,
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(v["details"]["kind"], "leases");
    assert_eq!(v["details"]["group"], "coordination.k8s.io");
}

#[tokio::test]
async fn validation_messages() {
    let s = ssc_server().await;
    // invalid name
    let (code, v) = post(
        &s,
        SSC,
        ssc_body(
            "Bad_Name",
            Value::Null,
            json!({"userName": "a", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(v["details"]["causes"][0]["field"], "metadata.name");
    assert!(
        v["details"]["causes"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain")
    );
    // maxLength (blocking: CEL skipped), minimum, type
    let long = "a".repeat(65);
    let (code, v) = post(
        &s,
        SSC,
        ssc_body(
            "x",
            Value::Null,
            json!({"userName": long, "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["details"]["causes"][0],
        json!({"reason": "FieldValueTooLong", "message": "Too long: may not be longer than 64", "field": "spec.userName"})
    );
    assert_eq!(v["details"]["causes"][1]["field"], "<nil>");
    let (_, v) = post(&s, SSC, ssc_body("x", Value::Null, json!({"userName": "a", "serviceName": "bedrock.amazonaws.com", "credentialAgeDays": 0}))).await;
    assert_eq!(
        v["details"]["causes"][0],
        json!({"reason": "FieldValueInvalid", "message": "Invalid value: 0: spec.credentialAgeDays in body should be greater than or equal to 1", "field": "spec.credentialAgeDays"})
    );
    let (_, v) = post(&s, SSC, ssc_body("x", Value::Null, json!({"userName": "a", "serviceName": "bedrock.amazonaws.com", "credentialAgeDays": "7"}))).await;
    assert_eq!(v["details"]["causes"][0]["reason"], "FieldValueTypeInvalid");
    assert_eq!(
        v["details"]["causes"][0]["message"],
        "Invalid value: \"string\": spec.credentialAgeDays in body must be of type integer: \"string\""
    );
    // \w is ASCII-only (Go RE2): a non-ASCII letter does not match
    let (code, _) = post(
        &s,
        SSC,
        ssc_body(
            "x",
            Value::Null,
            json!({"userName": "jos\u{e9}", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    assert_eq!(code, 422);
    // the CEL rule allows credentialAgeDays on bedrock; unknown fields are pruned with a warning
    let a = send(
        &s,
        "POST",
        SSC,
        Some("application/json"),
        Some(ssc_body("y", Value::Null, json!({"userName": "a", "serviceName": "bedrock.amazonaws.com", "credentialAgeDays": 7, "bogus": 1})).to_string()),
        &[],
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(!a.body.contains("bogus"));
    // strict field validation rejects unknown fields
    let (code, v) = post(
        &s,
        &format!("{SSC}?fieldValidation=Strict"),
        ssc_body(
            "z",
            Value::Null,
            json!({"userName": "a", "serviceName": "bedrock.amazonaws.com", "bogus": 1}),
        ),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        v["message"],
        "strict decoding error: unknown field \"spec.bogus\""
    );
    // namespace must exist
    let (code, v) = post(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/nope/servicespecificcredentials",
        alice(),
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(v["message"], "namespaces \"nope\" not found");
    assert_eq!(v["details"], json!({"name": "nope", "kind": "namespaces"}));
    // fieldManager is at most 128 bytes
    let (code, v) = post(
        &s,
        &format!("{SSC}?fieldManager={}", "m".repeat(129)),
        alice(),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: must have at most 128 bytes"
    );
    // resourceVersion must not be set on create
    let mut b = alice();
    b["metadata"]["resourceVersion"] = json!("5");
    let (code, v) = post(&s, SSC, b).await;
    assert_eq!(code, 500);
    assert_eq!(
        v["message"],
        "resourceVersion should not be set on objects to be created"
    );
    assert!(v.get("reason").is_none());
}

#[tokio::test]
async fn patch_types_and_apply() {
    let s = ssc_server().await;
    post(&s, SSC, alice()).await;
    // strategic merge patch is not supported for custom resources
    let (code, v) = call(
        &s,
        "PATCH",
        &format!("{SSC}/alice"),
        Some("application/strategic-merge-patch+json"),
        json!({}),
    )
    .await;
    assert_eq!(code, 415);
    assert_eq!(
        v["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
    // apply needs a fieldManager
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/alice"),
        Some("application/apply-patch+yaml"),
        Some("apiVersion: iam.ssc-operator.dev/v1alpha1\nkind: ServiceSpecificCredential\n".into()),
        &[],
    )
    .await;
    assert_eq!(a.status, 422);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        v["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    assert_eq!(
        v["details"],
        json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]})
    );
    // apply needs apiVersion and kind
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/alice?fieldManager=x"),
        Some("application/apply-patch+yaml"),
        Some("spec:\n  status: Inactive\n".into()),
        &[],
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body.contains("invalid object type: /, Kind="),
        "{}",
        a.body
    );
    // apply creates, then owns; another manager conflicts unless forced
    let cfg = "apiVersion: iam.ssc-operator.dev/v1alpha1\nkind: ServiceSpecificCredential\nmetadata:\n  name: bob\nspec:\n  userName: bob\n  serviceName: cassandra.amazonaws.com\n";
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/bob?fieldManager=gitops"),
        Some("application/apply-patch+yaml"),
        Some(cfg.into()),
        &[],
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let other = "apiVersion: iam.ssc-operator.dev/v1alpha1\nkind: ServiceSpecificCredential\nmetadata:\n  name: bob\nspec:\n  status: Inactive\n";
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/bob?fieldManager=other"),
        Some("application/apply-patch+yaml"),
        Some(other.into()),
        &[],
    )
    .await;
    assert_eq!(
        a.status, 200,
        "spec.status was defaulted, not owned by gitops: {}",
        a.body
    );
    let mine = "apiVersion: iam.ssc-operator.dev/v1alpha1\nkind: ServiceSpecificCredential\nmetadata:\n  name: bob\nspec:\n  userName: bob\n  serviceName: cassandra.amazonaws.com\n  status: Active\n";
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/bob?fieldManager=gitops"),
        Some("application/apply-patch+yaml"),
        Some(mine.into()),
        &[],
    )
    .await;
    assert_eq!(a.status, 409, "{}", a.body);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        v["message"],
        "Apply failed with 1 conflict: conflict with \"other\": .spec.status"
    );
    let a = send(
        &s,
        "PATCH",
        &format!("{SSC}/bob?fieldManager=gitops&force=true"),
        Some("application/apply-patch+yaml"),
        Some(mine.into()),
        &[],
    )
    .await;
    assert_eq!(a.status, 200);
    // a failing json-patch test is a generic 422
    let (code, v) = call(
        &s,
        "PATCH",
        &format!("{SSC}/bob"),
        Some("application/json-patch+json"),
        json!([{"op": "test", "path": "/spec/userName", "value": "zed"}]),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(v["details"], json!({}));
    // an undecodable json patch is a 400
    let (code, _) = call(
        &s,
        "PATCH",
        &format!("{SSC}/bob"),
        Some("application/json-patch+json"),
        json!({"op": "add"}),
    )
    .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn finalizers_and_deletion() {
    let s = ssc_server().await;
    let mut b = alice();
    b["metadata"]["finalizers"] = json!(["iam.ssc-operator.dev/cleanup"]);
    let (_, created) = post(&s, SSC, b).await;
    let (code, v) = call(&s, "DELETE", &format!("{SSC}/alice"), None, Value::Null).await;
    assert_eq!(code, 200);
    assert_eq!(
        v["kind"], "ServiceSpecificCredential",
        "the object, not a Status"
    );
    assert_eq!(v["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(v["metadata"]["generation"], 2);
    assert!(v["metadata"]["deletionTimestamp"].is_string());
    // deleting again: same object, no write
    let before = s.revision();
    let (code, again) = call(&s, "DELETE", &format!("{SSC}/alice"), None, Value::Null).await;
    assert_eq!(code, 200);
    assert_eq!(again, v);
    assert_eq!(s.revision(), before);
    // no new finalizers while terminating (reported twice, like the real server)
    let (code, e) = call(
        &s,
        "PATCH",
        &format!("{SSC}/alice"),
        Some("application/json-patch+json"),
        json!([{"op": "add", "path": "/metadata/finalizers/-", "value": "x.io/y"}]),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(e["details"]["causes"].as_array().unwrap().len(), 2);
    // removing the last finalizer deletes in the same request
    let (code, v) = call(
        &s,
        "PATCH",
        &format!("{SSC}/alice"),
        Some("application/json-patch+json"),
        json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "iam.ssc-operator.dev/cleanup"}, {"op": "remove", "path": "/metadata/finalizers/0"}]),
    )
    .await;
    assert_eq!(code, 200);
    assert!(v["metadata"].get("finalizers").is_none());
    assert_eq!(get(&s, &format!("{SSC}/alice")).await.0, 404);
    // delete preconditions
    let (_, bob) = post(
        &s,
        SSC,
        ssc_body(
            "bob",
            Value::Null,
            json!({"userName": "bob", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    let (code, v) = call(
        &s,
        "DELETE",
        &format!("{SSC}/bob"),
        Some("application/json"),
        json!({"preconditions": {"uid": created["metadata"]["uid"]}}),
    )
    .await;
    assert_eq!(code, 409);
    // rest.BeforeDelete names the Kind (48 shows it for a Secret)
    assert_eq!(
        v["message"],
        format!(
            "Operation cannot be fulfilled on ServiceSpecificCredential.iam.ssc-operator.dev \"bob\": the UID in the precondition ({}) does not match the UID in record ({}). The object might have been deleted and then recreated",
            created["metadata"]["uid"].as_str().unwrap(),
            bob["metadata"]["uid"].as_str().unwrap()
        )
    );
    assert_eq!(
        v["details"],
        json!({"name": "bob", "group": "iam.ssc-operator.dev", "kind": "ServiceSpecificCredential"})
    );
    let (code, v) = call(
        &s,
        "DELETE",
        &format!("{SSC}/bob"),
        Some("application/json"),
        json!({"preconditions": {"resourceVersion": "1"}}),
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(
        v["message"],
        format!(
            "Operation cannot be fulfilled on ServiceSpecificCredential.iam.ssc-operator.dev \"bob\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({}). The object might have been modified",
            bob["metadata"]["resourceVersion"].as_str().unwrap()
        )
    );
    let (code, v) = call(&s, "DELETE", &format!("{SSC}/bob"), Some("application/json"), json!({"preconditions": {"uid": bob["metadata"]["uid"], "resourceVersion": bob["metadata"]["resourceVersion"]}})).await;
    assert_eq!(code, 200);
    assert_eq!(v["status"], "Success");
    assert_eq!(v["details"]["uid"], bob["metadata"]["uid"]);
    // foreground deletion waits for dependents via the foregroundDeletion finalizer
    let (_, carol) = post(
        &s,
        SSC,
        ssc_body(
            "carol",
            Value::Null,
            json!({"userName": "carol", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    let (code, _) = post(
        &s,
        "/api/v1/namespaces/default/secrets",
        json!({"metadata": {"name": "carol-dep", "ownerReferences": [owner_ref(&carol, true)]}}),
    )
    .await;
    assert_eq!(code, 201);
    let (code, v) = call(
        &s,
        "DELETE",
        &format!("{SSC}/carol"),
        Some("application/json"),
        json!({"propagationPolicy": "Foreground"}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(v["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    wait_gone(&s, "/api/v1/namespaces/default/secrets/carol-dep").await;
    wait_gone(&s, &format!("{SSC}/carol")).await;
}

#[tokio::test]
async fn garbage_collection() {
    let s = ssc_server().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    let (_, owner) = post(&s, SSC, alice()).await;
    // owner only terminating (finalizer): dependents stay
    let mut b = ssc_body(
        "fin",
        Value::Null,
        json!({"userName": "f", "serviceName": "codecommit.amazonaws.com"}),
    );
    b["metadata"]["finalizers"] = json!(["x.io/keep"]);
    let (_, fin) = post(&s, SSC, b).await;
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "a", "ownerReferences": [owner_ref(&owner, true)]}}),
    )
    .await;
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "f", "ownerReferences": [owner_ref(&fin, true)]}}),
    )
    .await;
    // two owners, one of them missing: the dangling reference is removed, the object kept
    let mut ghost = owner_ref(&owner, false);
    ghost["uid"] = json!("00000000-0000-4000-8000-000000000009");
    ghost["name"] = json!("ghost");
    ghost["controller"] = json!(false);
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "two", "ownerReferences": [owner_ref(&fin, false), ghost]}}),
    )
    .await;
    call(&s, "DELETE", &format!("{SSC}/fin"), None, Value::Null).await;
    call(&s, "DELETE", &format!("{SSC}/alice"), None, Value::Null).await;
    wait_gone(&s, &format!("{secrets}/a")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        get(&s, &format!("{secrets}/f")).await.0,
        200,
        "owner terminating with finalizers does not trigger GC"
    );
    let (_, two) = get(&s, &format!("{secrets}/two")).await;
    assert_eq!(
        two["metadata"]["ownerReferences"].as_array().map(Vec::len),
        Some(1),
        "{two}"
    );
    // an owner with the right name but another uid does not count
    let mut wrong = owner_ref(&fin, true);
    wrong["uid"] = json!("11111111-0000-4000-8000-000000000000");
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "w", "ownerReferences": [wrong]}}),
    )
    .await;
    wait_gone(&s, &format!("{secrets}/w")).await;

    // without the garbage collector dependents stay forever
    let s = ApiServer::start_with(ApiServerConfig {
        crds: vec![crd()],
        gc: false,
        ..ApiServerConfig::default()
    })
    .await;
    let (_, owner) = post(&s, SSC, alice()).await;
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "a", "ownerReferences": [owner_ref(&owner, true)]}}),
    )
    .await;
    call(&s, "DELETE", &format!("{SSC}/alice"), None, Value::Null).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(get(&s, &format!("{secrets}/a")).await.0, 200);
}
