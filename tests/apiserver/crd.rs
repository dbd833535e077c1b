//! The project's own CRD: served strictly, installable, refusing bad manifests readably.

use super::*;

/// The project's own CRD (`crds/`) is served with its defaults, formats and CEL rules.
#[tokio::test]
async fn project_crd_is_served_strictly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds");
    let Some(path) = std::fs::read_dir(&dir)
        .ok()
        .and_then(|mut d| d.find_map(|e| e.ok().map(|e| e.path())))
    else {
        return;
    };
    let crd =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).expect("crds/ holds a CRD");
    let s = ApiServer::start(vec![crd]).await;
    let (code, v) = post(
        &s,
        SSC,
        ssc_body(
            "a",
            Value::Null,
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com"}),
        ),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["spec"]["status"], "Active");
    let cond = json!({"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "yesterday"});
    let (code, v) = merge(
        &s,
        &format!("{SSC}/a/status"),
        json!({"status": {"conditions": [cond]}}),
    )
    .await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["details"]["causes"][0]["reason"], "FieldValueTypeInvalid");
    assert_eq!(
        v["details"]["causes"][0]["message"],
        "Invalid value: \"yesterday\": status.conditions[0].lastTransitionTime in body must be of type date-time: \"yesterday\""
    );
    let cond = json!({"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": "2026-11-22T14:00:00Z"});
    let (code, v) = merge(
        &s,
        &format!("{SSC}/a/status"),
        json!({"status": {"conditions": [cond], "bogus": 1}}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert!(
        v["status"].get("bogus").is_none(),
        "unknown status fields are pruned"
    );
    let (code, _) = merge(
        &s,
        &format!("{SSC}/a"),
        json!({"spec": {"serviceName": "bedrock.amazonaws.com"}}),
    )
    .await;
    assert_eq!(code, 422, "serviceName is immutable");
}

/// The CRD `ssc-operator crd` prints must be accepted by a real kube-apiserver: every CEL rule
/// compiles, uses only variables of CRD validation and stays within the apiserver's estimated-cost
/// budget; and bad manifests are rejected with readable messages.
#[tokio::test]
async fn project_crd_rules_are_installable_and_reject_bad_manifests() {
    use kube::CustomResourceExt;
    let crd = ssc_operator::ServiceSpecificCredential::crd();
    let schema = serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .unwrap(),
    )
    .unwrap();
    let compiled = kube_cel::compile_schema(&schema);
    assert!(
        !compiled.has_errors(),
        "{:?}",
        compiled.compilation_errors()
    );
    fn rules(v: &Value, out: &mut Vec<String>) {
        if let Some(list) = v.get("x-kubernetes-validations").and_then(Value::as_array) {
            out.extend(
                list.iter()
                    .filter_map(|r| r["rule"].as_str().map(str::to_string)),
            );
        }
        for key in ["properties", "additionalProperties", "items"] {
            match v.get(key) {
                Some(Value::Object(m)) if key == "properties" => {
                    m.values().for_each(|c| rules(c, out))
                }
                Some(child @ Value::Object(_)) => rules(child, out),
                _ => {}
            }
        }
    }
    let mut found = Vec::new();
    rules(&schema, &mut found);
    assert!(found.len() >= 4, "{found:?}");
    let spec_schema = kube_cel::compile_schema(&schema["properties"]["spec"]);
    for rule in &found {
        let warnings: Vec<_> =
            kube_cel::analyze_rule(rule, &spec_schema, kube_cel::ScopeContext::CrdValidation)
                .into_iter()
                .filter(|w| w.kind != kube_cel::WarningKind::MissingBounds)
                .collect();
        assert!(warnings.is_empty(), "{rule}: {warnings:?}");
    }

    let s = ApiServer::start(vec![crd]).await;
    for (spec, field, needle) in [
        (
            json!({"userName": "a b", "serviceName": "codecommit.amazonaws.com"}),
            "spec.userName",
            "should match",
        ),
        (
            json!({"userName": "x".repeat(65), "serviceName": "codecommit.amazonaws.com"}),
            "spec.userName",
            "may not be longer than 64",
        ),
        (
            json!({"userName": "alice", "serviceName": "lambda.amazonaws.com"}),
            "spec.serviceName",
            "supported values",
        ),
        (
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com", "credentialAgeDays": 30}),
            "spec",
            "credentialAgeDays applies only to API-key services",
        ),
        (
            json!({"userName": "alice", "serviceName": "bedrock.amazonaws.com", "credentialAgeDays": 0}),
            "spec.credentialAgeDays",
            "greater than or equal to 1",
        ),
        (
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com", "status": "Expired"}),
            "spec.status",
            "supported values",
        ),
        (
            json!({"serviceName": "codecommit.amazonaws.com"}),
            "spec.userName",
            "Required value",
        ),
        (
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com", "secret": {"name": "Bad_Name"}}),
            "spec.secret.name",
            "should match",
        ),
        (
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com", "rotation": {"interval": "1d"}}),
            "spec.rotation.interval",
            "should match",
        ),
        (
            json!({"userName": "alice", "serviceName": "codecommit.amazonaws.com", "deletionPolicy": "Orphan"}),
            "spec.deletionPolicy",
            "supported values",
        ),
    ] {
        let (code, v) = post(&s, SSC, ssc_body("bad", Value::Null, spec.clone())).await;
        assert_eq!(code, 422, "{spec}: {v}");
        let causes = v["details"]["causes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            causes.iter().any(|c| c["field"] == field
                && c["message"].as_str().is_some_and(|m| m.contains(needle))),
            "{spec}: expected {field} / {needle:?} in {v}"
        );
    }
    let (code, v) = post(
        &s,
        SSC,
        ssc_body("good", Value::Null, json!({"userName": "alice", "serviceName": "bedrock.amazonaws.com", "credentialAgeDays": 30})),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["spec"]["deletionPolicy"], "Delete");
    let (code, v) = merge(
        &s,
        &format!("{SSC}/good"),
        json!({"spec": {"userName": "bob"}}),
    )
    .await;
    assert_eq!(code, 422, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("userName is immutable"),
        "{v}"
    );
}
