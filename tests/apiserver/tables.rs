//! `kubectl get`: Table answers for custom resources.

use super::*;

/// What `kubectl get` sends for one object, a list and a watch.
const KUBECTL_TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// `kubectl get ssc`: custom resources are answered as `meta.k8s.io/v1` Tables with the CRD's
/// printer columns, computed as kube-apiserver's CRD table convertor does.
#[tokio::test]
async fn custom_resource_tables_for_kubectl_get() {
    use kube::CustomResourceExt;
    let s = ApiServer::start(vec![ssc_operator::ServiceSpecificCredential::crd()]).await;
    s.set_time(Some(at("2026-11-22T14:00:00Z")));
    let (code, v) = post(&s, SSC, alice()).await;
    assert_eq!(code, 201, "{v}");
    let cond = json!({"type": "Ready", "status": "True", "reason": "Available", "message": "ok", "lastTransitionTime": "2026-11-22T14:00:00Z"});
    let (code, v) = merge(
        &s,
        &format!("{SSC}/alice/status"),
        json!({"status": {"conditions": [cond], "secretName": "alice-credentials", "credentialId": "ACCA1EXAMPLE", "expirationDate": "2026-12-22T14:00:00Z"}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let alice_rv = rv(&v);
    let (code, v) = post(
        &s,
        SSC,
        ssc_body(
            "bob",
            Value::Null,
            json!({"userName": "bob", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    s.set_time(Some(at("2026-11-22T14:03:10Z")));
    let table = |path: String| {
        let s = s.clone();
        async move {
            let a = send(
                &s,
                "GET",
                &path,
                None,
                None,
                &[("accept", KUBECTL_TABLE_ACCEPT.to_string())],
            )
            .await;
            (a.status, a.content_type.clone(), a.json())
        }
    };

    // one object
    let (code, content_type, t) = table(format!("{SSC}/alice")).await;
    assert_eq!(code, 200, "{}", t.to_json());
    assert_eq!(content_type, "application/json");
    let keys: Vec<String> = match &t {
        OValue::Object(m) => m.iter().map(|(k, _)| k.clone()).collect(),
        other => panic!("not an object: {other:?}"),
    };
    assert_eq!(
        keys,
        [
            "kind",
            "apiVersion",
            "metadata",
            "columnDefinitions",
            "rows"
        ],
        "Go's field order"
    );
    let t = t.to_json();
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(
        t["metadata"],
        json!({"resourceVersion": alice_rv.to_string()})
    );
    let columns = t["columnDefinitions"].as_array().expect("columns");
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Name",
            "Ready",
            "Reason",
            "User",
            "Service",
            "Secret",
            "Expires",
            "Age",
            "Credential ID",
            "Next Rotation",
            "Message"
        ]
    );
    assert_eq!(
        columns[0],
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", "priority": 0})
    );
    assert_eq!(
        columns[1],
        json!({"name": "Ready", "type": "string", "format": "", "description": "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type==\"Ready\")].status", "priority": 0})
    );
    // A string: a `date` column would print a time ahead ("Expires") as "<invalid>".
    assert_eq!(columns[6]["type"], "string");
    assert_eq!(columns[7]["type"], "date");
    assert_eq!(columns[8]["priority"], 1, "Credential ID is for -o wide");
    let rows = t["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["cells"],
        json!([
            "alice",
            "True",
            "Available",
            "alice",
            "codecommit.amazonaws.com",
            "alice-credentials",
            "2026-12-22T14:00:00Z",
            "3m10s",
            "ACCA1EXAMPLE",
            null,
            "ok"
        ])
    );
    let object = &rows[0]["object"];
    assert_eq!(object["kind"], "PartialObjectMetadata");
    assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(object["metadata"]["name"], "alice");
    assert_eq!(object["metadata"]["labels"]["team"], "platform");
    assert!(object.get("spec").is_none(), "{object}");

    // a list: every object, missing fields are null cells
    let (code, _, t) = table(format!("{SSC}?limit=500")).await;
    assert_eq!(code, 200);
    let t = t.to_json();
    assert_eq!(t["kind"], "Table");
    assert_eq!(
        t["metadata"],
        json!({"resourceVersion": s.revision().to_string()})
    );
    let rows = t["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["cells"][0], "alice");
    assert_eq!(
        rows[1]["cells"],
        json!([
            "bob",
            null,
            null,
            "bob",
            "codecommit.amazonaws.com",
            null,
            null,
            "3m10s",
            null,
            null,
            null
        ])
    );
    // a page: continue and remainingItemCount as in the list's metadata
    let (code, _, t) = table(format!("{SSC}?limit=1")).await;
    assert_eq!(code, 200);
    let t = t.to_json();
    assert_eq!(t["rows"].as_array().map(Vec::len), Some(1));
    assert!(
        t["metadata"]["continue"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{t}"
    );
    assert_eq!(t["metadata"]["remainingItemCount"], 1);

    // includeObject
    let (code, _, t) = table(format!("{SSC}?includeObject=None")).await;
    assert_eq!(code, 200);
    let t = t.to_json();
    assert!(t["rows"][0]["object"].is_null(), "{t}");
    assert_eq!(t["rows"][0]["cells"][0], "alice");
    let (code, _, t) = table(format!("{SSC}/alice?includeObject=Object")).await;
    assert_eq!(code, 200);
    let t = t.to_json();
    assert_eq!(t["rows"][0]["object"]["kind"], "ServiceSpecificCredential");
    assert_eq!(t["rows"][0]["object"]["spec"]["userName"], "alice");
    let (code, _, t) = table(format!("{SSC}?includeObject=Everything")).await;
    assert_eq!(code, 400);
    let t = t.to_json();
    assert_eq!(t["reason"], "BadRequest");
    assert_eq!(
        t["message"],
        "Unable to convert to Table as requested: includeObject: Invalid value: \"Everything\": must be 'Metadata', 'Object', 'None', or empty"
    );
    // a missing object is still 404
    let (code, _, t) = table(format!("{SSC}/nobody")).await;
    assert_eq!(code, 404, "{}", t.to_json());

    // plain JSON still gets the object itself
    let a = send(
        &s,
        "GET",
        &format!("{SSC}/alice"),
        None,
        None,
        &[("accept", "application/json".to_string())],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json().to_json()["kind"], "ServiceSpecificCredential");
    // built-in kinds and watches skip the Table clauses (kubectl falls back to NAME/AGE)
    let (code, _, t) = table("/api/v1/namespaces/default/secrets".to_string()).await;
    assert_eq!(code, 200);
    assert_eq!(t.to_json()["kind"], "SecretList");
    let a = send(
        &s,
        "GET",
        &format!("{SSC}?watch=true&timeoutSeconds=1"),
        None,
        None,
        &[("accept", KUBECTL_TABLE_ACCEPT.to_string())],
    )
    .await;
    assert_eq!(a.status, 200);
    let first: Value =
        serde_json::from_str(a.body.lines().next().expect("a watch event")).expect("JSON event");
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["kind"], "ServiceSpecificCredential");
}
