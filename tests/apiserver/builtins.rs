//! The built-in kinds over raw HTTP: Secrets, Events, Leases, Namespaces (and their termination),
//! dry runs, metadata-only answers.

use super::*;

#[tokio::test]
async fn secrets_events_leases_namespaces() {
    let s = ssc_server().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    let (code, v) = post(
        &s,
        secrets,
        json!({"metadata": {"name": "b64"}, "data": {"k": "not base64!"}}),
    )
    .await;
    assert_eq!(code, 400, "{v}");
    let (code, v) = post(
        &s,
        secrets,
        json!({"metadata": {"name": "key"}, "stringData": {"bad key": "v"}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(v["details"]["causes"][0]["field"], "data[bad key]");
    let big = "x".repeat(1024 * 1024 + 1);
    let (code, v) = post(
        &s,
        secrets,
        json!({"metadata": {"name": "big"}, "stringData": {"k": big}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["details"]["causes"][0],
        json!({"reason": "FieldValueTooLong", "message": "Too long: must have at most 1048576 bytes", "field": "data"})
    );
    // only password is enough for basic-auth
    let (code, _) = post(&s, secrets, json!({"metadata": {"name": "pw"}, "type": "kubernetes.io/basic-auth", "stringData": {"password": "p"}})).await;
    assert_eq!(code, 201);
    let (code, v) = merge(&s, &format!("{secrets}/pw"), json!({"type": "Opaque"})).await;
    assert_eq!(code, 422);
    assert_eq!(
        v["details"]["causes"][0]["message"],
        "Invalid value: \"Opaque\": field is immutable"
    );
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "frozen"}, "immutable": true, "stringData": {"a": "b"}}),
    )
    .await;
    let (code, v) = merge(
        &s,
        &format!("{secrets}/frozen"),
        json!({"stringData": {"a": "c"}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["details"]["causes"][0],
        json!({"reason": "FieldValueForbidden", "message": "Forbidden: field is immutable when `immutable` is set", "field": "data"})
    );
    // events.k8s.io: Recorder-style series patch; immutable fields
    let ev = json!({
        "metadata": {"name": "e1"}, "eventTime": "2026-11-22T14:01:53.934194Z", "reason": "R", "action": "A",
        "type": "Normal", "reportingController": "ssc-operator", "reportingInstance": "i",
        "regarding": {"kind": "ServiceSpecificCredential", "namespace": "default", "name": "x"}
    });
    let (code, v) = post(
        &s,
        "/apis/events.k8s.io/v1/namespaces/default/events",
        ev.clone(),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let (code, v) = merge(
        &s,
        "/apis/events.k8s.io/v1/namespaces/default/events/e1",
        json!({"series": {"count": 2, "lastObservedTime": "2026-11-22T14:02:00.000000Z"}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["series"]["count"], 2);
    let (code, _) = merge(
        &s,
        "/apis/events.k8s.io/v1/namespaces/default/events/e1",
        json!({"series": {"count": 1, "lastObservedTime": "2026-11-22T14:02:00.000000Z"}}),
    )
    .await;
    assert_eq!(code, 422);
    let (code, _) = merge(
        &s,
        "/apis/events.k8s.io/v1/namespaces/default/events/e1",
        json!({"reason": "Other"}),
    )
    .await;
    assert_eq!(code, 422);
    let mut bad = ev.clone();
    bad["metadata"]["name"] = json!("e2");
    bad["eventTime"] = json!("2026-11-22T14:01:53Z");
    let (code, _) = post(&s, "/apis/events.k8s.io/v1/namespaces/default/events", bad).await;
    assert_eq!(code, 400, "MicroTime needs six fractional digits");
    // leases
    let (code, v) = post(
        &s,
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["details"]["causes"][0]["message"],
        "Invalid value: 0: must be greater than 0"
    );
    let (code, v) = call(
        &s,
        "DELETE",
        "/api/v1/namespaces/default",
        None,
        Value::Null,
    )
    .await;
    assert_eq!(code, 403);
    assert_eq!(
        v["message"],
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
    // namespaces: annotations, terminating namespaces refuse new content
    s.create_namespace("team-b", &[("iam.ssc-operator.dev/allowed-users", "bob*")])
        .await;
    let (_, ns) = get(&s, "/api/v1/namespaces/team-b").await;
    assert_eq!(
        ns["metadata"]["annotations"]["iam.ssc-operator.dev/allowed-users"],
        "bob*"
    );
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team-b"
    );
    assert_eq!(ns["status"]["phase"], "Active");
    let mut b = ssc_body(
        "keep",
        Value::Null,
        json!({"userName": "k", "serviceName": "codecommit.amazonaws.com"}),
    );
    b["metadata"]["finalizers"] = json!(["x.io/keep"]);
    post(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/team-b/servicespecificcredentials",
        b,
    )
    .await;
    let (code, v) = call(&s, "DELETE", "/api/v1/namespaces/team-b", None, Value::Null).await;
    assert_eq!(code, 200);
    assert_eq!(v["status"]["phase"], "Terminating");
    let (code, v) = post(
        &s,
        "/api/v1/namespaces/team-b/secrets",
        json!({"metadata": {"name": "late"}}),
    )
    .await;
    assert_eq!(code, 403);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("because it is being terminated")
    );
    // the namespace controller marks the content deleting; the namespace waits for the finalizer
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, keep) = get(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/team-b/servicespecificcredentials/keep",
    )
    .await;
    assert!(keep["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(get(&s, "/api/v1/namespaces/team-b").await.0, 200);
    merge(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/team-b/servicespecificcredentials/keep",
        json!({"metadata": {"finalizers": null}}),
    )
    .await;
    wait_gone(&s, "/api/v1/namespaces/team-b").await;
}

#[tokio::test]
async fn dry_run_writes_store_nothing() {
    let s = ssc_server().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    let start = s.revision();
    // create with generateName: the would-be name, uid and creationTimestamp, no resourceVersion
    let (code, v) = post(
        &s,
        &format!("{secrets}?dryRun=All"),
        json!({"metadata": {"generateName": "gen-"}, "stringData": {"k": "v"}}),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    let name = v["metadata"]["name"].as_str().unwrap();
    assert!(
        regex::Regex::new("^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$")
            .unwrap()
            .is_match(name),
        "{name}"
    );
    assert_eq!(v["metadata"]["generateName"], "gen-");
    assert!(v["metadata"]["uid"].is_string());
    assert!(v["metadata"].get("resourceVersion").is_none());
    assert_eq!(get(&s, &format!("{secrets}/{name}")).await.0, 404);
    let (_, list) = get(&s, secrets).await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(s.revision(), start, "a dry run writes nothing");
    // a real generateName create
    let (code, v) = post(
        &s,
        secrets,
        json!({"metadata": {"generateName": "gen-"}, "stringData": {"k": "v"}}),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert!(v["metadata"]["name"].as_str().unwrap().starts_with("gen-"));
    assert_eq!(v["metadata"]["name"].as_str().unwrap().len(), 9);
    // dry-run create of an existing name: AlreadyExists
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}),
    )
    .await;
    let (code, v) = post(
        &s,
        &format!("{secrets}?dryRun=All"),
        json!({"metadata": {"name": "s"}}),
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(v["reason"], "AlreadyExists");
    let (_, stored) = get(&s, &format!("{secrets}/s")).await;
    let at = s.revision();
    // PUT, merge patch and apply: the updated object, stored unchanged
    let mut put = stored.clone();
    put["data"]["k"] = json!("d2Vy");
    let (code, v) = call(
        &s,
        "PUT",
        &format!("{secrets}/s?dryRun=All"),
        Some("application/json"),
        put,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["k"], "d2Vy");
    assert_eq!(
        v["metadata"]["resourceVersion"],
        stored["metadata"]["resourceVersion"]
    );
    let (code, v) = merge(
        &s,
        &format!("{secrets}/s?dryRun=All"),
        json!({"metadata": {"labels": {"a": "b"}}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["metadata"]["labels"]["a"], "b");
    let (code, v) = call(
        &s,
        "PATCH",
        &format!("{secrets}/s?dryRun=All&fieldManager=applier"),
        Some("application/apply-patch+yaml"),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {"x": "y"}}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["metadata"]["annotations"]["x"], "y");
    assert_eq!(get(&s, &format!("{secrets}/s")).await.1, stored);
    // DELETE, with ?dryRun or DeleteOptions.dryRun: the answer of a delete, nothing deleted
    for (path, body) in [
        (format!("{secrets}/s?dryRun=All"), Value::Null),
        (format!("{secrets}/s"), json!({"dryRun": ["All"]})),
    ] {
        let (code, v) = call(&s, "DELETE", &path, Some("application/json"), body).await;
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["status"], "Success");
        assert_eq!(v["details"]["uid"], stored["metadata"]["uid"]);
    }
    assert_eq!(get(&s, &format!("{secrets}/s")).await.1, stored);
    assert_eq!(s.revision(), at, "dry runs write nothing");
    // validation of the option, reported for each verb's options kind
    let bad = "Unsupported value: []string{\"Yes\"}: supported values: \"All\"";
    let (code, v) = post(
        &s,
        &format!("{secrets}?dryRun=Yes"),
        json!({"metadata": {"name": "x"}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["message"],
        format!("CreateOptions.meta.k8s.io \"\" is invalid: dryRun: {bad}")
    );
    let (code, v) = call(
        &s,
        "PUT",
        &format!("{secrets}/s?dryRun=Yes"),
        Some("application/json"),
        stored.clone(),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(v["details"]["kind"], "UpdateOptions");
    let (code, v) = call(
        &s,
        "DELETE",
        &format!("{secrets}/s"),
        Some("application/json"),
        json!({"dryRun": ["Yes"]}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        v["message"],
        format!("DeleteOptions.meta.k8s.io \"\" is invalid: dryRun: {bad}")
    );
    // a delete's body wins over its query (the handler decodes one or the other)
    let (code, v) = call(
        &s,
        "DELETE",
        &format!("{secrets}/s?dryRun=All"),
        Some("application/json"),
        json!({"kind": "DeleteOptions", "apiVersion": "v1"}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(get(&s, &format!("{secrets}/s")).await.0, 404);
}

#[tokio::test]
async fn metadata_only_answers() {
    let s = ssc_server().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "m", "labels": {"a": "b"}}, "stringData": {"k": "v"}}),
    )
    .await;
    post(&s, SSC, alice()).await;
    let accept = |as_: &str| {
        vec![(
            "accept",
            format!("application/json;as={as_};g=meta.k8s.io;v=v1,application/json"),
        )]
    };
    let ask = |method: &'static str, path: String, as_: &'static str, body: Option<Value>| {
        let s = s.clone();
        async move {
            let ct = match method {
                "PATCH" => Some("application/merge-patch+json"),
                _ => None,
            };
            let a = send(
                &s,
                method,
                &path,
                ct,
                body.map(|b| b.to_string()),
                &accept(as_),
            )
            .await;
            (a.status, a.json().to_json())
        }
    };
    let (code, v) = ask("GET", format!("{secrets}/m"), "PartialObjectMetadata", None).await;
    assert_eq!(code, 200);
    assert_eq!(v["kind"], "PartialObjectMetadata");
    assert_eq!(v["apiVersion"], "meta.k8s.io/v1");
    assert!(v.get("data").is_none());
    // a list conversion for one object, an object conversion for a list: 406
    let (code, v) = ask(
        "GET",
        format!("{secrets}/m"),
        "PartialObjectMetadataList",
        None,
    )
    .await;
    assert_eq!(code, 406);
    assert_eq!(
        v,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "you requested PartialObjectMetadataList, but the requested object is not a list (*core.Secret)", "reason": "NotAcceptable", "code": 406})
    );
    let (code, v) = ask("GET", secrets.to_string(), "PartialObjectMetadata", None).await;
    assert_eq!(code, 406);
    assert_eq!(
        v["message"],
        "you requested PartialObjectMetadata, but the requested object is a list (*core.SecretList)"
    );
    let (code, v) = ask(
        "GET",
        format!("{SSC}/alice"),
        "PartialObjectMetadataList",
        None,
    )
    .await;
    assert_eq!(code, 406);
    assert_eq!(
        v["message"],
        "you requested PartialObjectMetadataList, but the requested object is not a list (*unstructured.Unstructured)"
    );
    let (code, v) = ask("GET", SSC.to_string(), "PartialObjectMetadataList", None).await;
    assert_eq!(code, 200);
    assert_eq!(v["kind"], "PartialObjectMetadataList");
    assert_eq!(v["items"][0]["kind"], "PartialObjectMetadata");
    assert!(v["items"][0].get("spec").is_none());
    // writes answer the converted object too (kube's Api::patch_metadata)
    let (code, v) = ask(
        "PATCH",
        format!("{secrets}/m"),
        "PartialObjectMetadata",
        Some(json!({"metadata": {"labels": {"c": "d"}}})),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["kind"], "PartialObjectMetadata");
    assert_eq!(v["metadata"]["labels"]["c"], "d");
    let (code, v) = ask(
        "DELETE",
        format!("{secrets}/m"),
        "PartialObjectMetadata",
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["kind"], "Status", "a Status is never converted");
    // a conversion the stand-in does not serve is skipped for the next acceptable type
    let a = send(
        &s,
        "GET",
        &format!("{SSC}/alice"),
        None,
        None,
        &[(
            "accept",
            "application/json;as=Table;g=meta.k8s.io;v=v1beta1,application/json".into(),
        )],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json().to_json()["kind"], "ServiceSpecificCredential");
}

#[tokio::test]
async fn namespace_termination() {
    let s = ssc_server().await;
    // a namespace with a foreign spec finalizer stays Terminating once emptied
    let (code, v) = post(
        &s,
        "/api/v1/namespaces",
        json!({"metadata": {"name": "held"}, "spec": {"finalizers": ["example.com/wait"]}}),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(
        v["spec"]["finalizers"],
        json!(["example.com/wait", "kubernetes"])
    );
    // spec.finalizers change only through /finalize
    let (code, v) = merge(
        &s,
        "/api/v1/namespaces/held",
        json!({"spec": {"finalizers": null}}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        v["spec"]["finalizers"],
        json!(["example.com/wait", "kubernetes"])
    );
    let (code, _) = call(&s, "DELETE", "/api/v1/namespaces/held", None, Value::Null).await;
    assert_eq!(code, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let ns = loop {
        let (_, ns) = get(&s, "/api/v1/namespaces/held").await;
        if ns["spec"]["finalizers"] == json!(["example.com/wait"]) {
            break ns;
        }
        assert!(std::time::Instant::now() < deadline, "not finalized: {ns}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(ns["status"]["phase"], "Terminating");
    let mut fin = ns.clone();
    fin["spec"]["finalizers"] = json!([]);
    let (code, v) = call(
        &s,
        "PUT",
        "/api/v1/namespaces/held/finalize",
        Some("application/json"),
        fin,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(get(&s, "/api/v1/namespaces/held").await.0, 404);

    // the helper: Terminating until released; content is deleted meanwhile
    s.create_namespace("t", &[]).await;
    post(
        &s,
        "/api/v1/namespaces/t/secrets",
        json!({"metadata": {"name": "doomed"}}),
    )
    .await;
    let tssc = "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/t/servicespecificcredentials";
    let mut keep = ssc_body(
        "keep",
        Value::Null,
        json!({"userName": "k", "serviceName": "codecommit.amazonaws.com"}),
    );
    keep["metadata"]["finalizers"] = json!(["iam.ssc-operator.dev/cleanup"]);
    post(&s, tssc, keep).await;
    s.terminate_namespace("t").await;
    let (_, ns) = get(&s, "/api/v1/namespaces/t").await;
    assert_eq!(ns["status"]["phase"], "Terminating");
    assert!(ns["metadata"]["deletionTimestamp"].is_string());
    wait_gone(&s, "/api/v1/namespaces/t/secrets/doomed").await;
    let (code, v) = post(
        &s,
        "/api/v1/namespaces/t/secrets",
        json!({"metadata": {"name": "late"}}),
    )
    .await;
    assert_eq!(code, 403);
    assert_eq!(v["details"]["causes"][0]["reason"], "NamespaceTerminating");
    let (_, k) = get(&s, &format!("{tssc}/keep")).await;
    assert!(k["metadata"]["deletionTimestamp"].is_string());
    merge(
        &s,
        &format!("{tssc}/keep"),
        json!({"metadata": {"finalizers": null}}),
    )
    .await;
    wait_gone(&s, &format!("{tssc}/keep")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, ns) = get(&s, "/api/v1/namespaces/t").await;
    assert_eq!(code, 200, "held by the helper");
    assert_eq!(
        ns["spec"]["finalizers"],
        json!([kube_standin::NAMESPACE_HOLD_FINALIZER])
    );
    s.release_namespace("t").await;
    wait_gone(&s, "/api/v1/namespaces/t").await;
    // an empty namespace: held the same way
    s.create_namespace("empty", &[]).await;
    s.terminate_namespace("empty").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(get(&s, "/api/v1/namespaces/empty").await.0, 200);
    s.release_namespace("empty").await;
    assert_eq!(get(&s, "/api/v1/namespaces/empty").await.0, 404);
}
