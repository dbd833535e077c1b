//! Authentication, impersonation, RBAC, discovery, routing and injected faults.

use super::*;

#[tokio::test]
async fn auth_discovery_routing_and_faults() {
    let s = ssc_server().await;
    let no_token = reqwest::Client::new()
        .get(format!("{}{SSC}", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status().as_u16(), 403);
    let v: Value = no_token.json().await.unwrap();
    assert_eq!(
        v["message"],
        "servicespecificcredentials.iam.ssc-operator.dev is forbidden: User \"system:anonymous\" cannot list resource \"servicespecificcredentials\" in API group \"iam.ssc-operator.dev\" in the namespace \"default\""
    );
    let version = reqwest::Client::new()
        .get(format!("{}/version", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(version.status().as_u16(), 200, "/version is public");
    let (code, v) = get(&s, "/api").await;
    assert_eq!(code, 200);
    assert_eq!(v["versions"], json!(["v1"]));
    let (_, v) = get(&s, "/apis").await;
    let groups: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(groups.contains(&"iam.ssc-operator.dev") && groups.contains(&"coordination.k8s.io"));
    let (code, v) = get(&s, "/apis/nope.example.com/v1/things").await;
    assert_eq!(code, 404);
    assert_eq!(
        v["message"],
        "the server could not find the requested resource"
    );
    let (code, _) = get(&s, "/api/v1/namespaces/default/secrets/x/status").await;
    assert_eq!(code, 404);
    let (code, _) = call(&s, "PUT", SSC, Some("application/json"), json!({})).await;
    assert_eq!(code, 405);
    // injected failures, then normal service; requests are recorded with RBAC verbs
    s.clear_requests();
    s.fail_next(
        RequestMatcher::default()
            .verb("get")
            .resource("servicespecificcredentials")
            .name("x"),
        500,
        1,
    );
    let (code, v) = get(&s, &format!("{SSC}/x")).await;
    assert_eq!(code, 500);
    assert_eq!(v["kind"], "Status");
    assert_eq!(get(&s, &format!("{SSC}/x")).await.0, 404);
    get(&s, &format!("{SSC}?watch=true&timeoutSeconds=1")).await;
    merge(&s, &format!("{SSC}/x/status"), json!({})).await;
    let reqs = s.requests();
    let verbs: Vec<(String, Option<String>, u16)> = reqs
        .iter()
        .map(|r| (r.verb.clone(), r.subresource.clone(), r.status))
        .collect();
    assert_eq!(
        verbs,
        vec![
            ("get".into(), None, 500),
            ("get".into(), None, 404),
            ("watch".into(), None, 200),
            ("patch".into(), Some("status".into()), 404)
        ]
    );
    assert_eq!(reqs[0].api_group, "iam.ssc-operator.dev");
    assert_eq!(reqs[0].namespace.as_deref(), Some("default"));
    assert_eq!(reqs[0].user_agent.as_deref(), Some(UA));
}

#[tokio::test]
async fn rbac_rules_and_owner_reference_enforcement() {
    use k8s_openapi::api::rbac::v1::PolicyRule;
    use kube_standin::TokenUser;
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let operator = vec![
        rule(
            &["iam.ssc-operator.dev"],
            &["servicespecificcredentials"],
            &["get", "list", "watch", "patch"],
        ),
        rule(
            &["iam.ssc-operator.dev"],
            &["servicespecificcredentials/status"],
            &["patch"],
        ),
        rule(
            &[""],
            &["secrets"],
            &["create", "get", "list", "watch", "patch", "delete"],
        ),
    ];
    let mut cfg = ApiServerConfig {
        crds: vec![crd()],
        owner_references_permission_enforcement: true,
        ..ApiServerConfig::default()
    };
    cfg.tokens.push(TokenUser::with_rules(
        "op-token",
        "system:serviceaccount:ssc:ssc-operator",
        operator,
    ));
    let s = ApiServer::start_with(cfg).await;
    let (_, owner) = post(&s, SSC, alice()).await;
    let as_op = |method: &'static str, path: String, body: Value| {
        let s = s.clone();
        async move {
            let a = send(
                &s,
                method,
                &path,
                Some("application/json"),
                (!body.is_null()).then(|| body.to_string()),
                &[("authorization", "Bearer op-token".into())],
            )
            .await;
            (
                a.status,
                serde_json::from_str::<Value>(&a.body).unwrap_or(Value::Null),
            )
        }
    };
    assert_eq!(as_op("GET", SSC.into(), Value::Null).await.0, 200);
    let (code, v) = as_op("DELETE", format!("{SSC}/alice"), Value::Null).await;
    assert_eq!(code, 403);
    assert_eq!(
        v["message"],
        "servicespecificcredentials.iam.ssc-operator.dev \"alice\" is forbidden: User \"system:serviceaccount:ssc:ssc-operator\" cannot delete resource \"servicespecificcredentials\" in API group \"iam.ssc-operator.dev\" in the namespace \"default\""
    );
    assert_eq!(
        v["details"],
        json!({"name": "alice", "group": "iam.ssc-operator.dev", "kind": "servicespecificcredentials"})
    );
    let (code, v) = as_op("PUT", format!("{SSC}/alice/status"), owner.clone()).await;
    assert_eq!(code, 403);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("cannot update resource \"servicespecificcredentials/status\"")
    );
    let (code, _) = as_op("GET", "/api/v1/namespaces/default".into(), Value::Null).await;
    assert_eq!(code, 403);
    // blockOwnerDeletion needs update on servicespecificcredentials/finalizers
    let secret = json!({"metadata": {"name": "owned", "ownerReferences": [owner_ref(&owner, true)]}, "stringData": {"a": "b"}});
    let (code, v) = as_op("POST", "/api/v1/namespaces/default/secrets".into(), secret).await;
    assert_eq!(code, 403, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("cannot set blockOwnerDeletion")
    );
    let secret = json!({"metadata": {"name": "owned", "ownerReferences": [owner_ref(&owner, false)]}, "stringData": {"a": "b"}});
    assert_eq!(
        as_op("POST", "/api/v1/namespaces/default/secrets".into(), secret)
            .await
            .0,
        201
    );
    // impersonating the operator as admin applies its rules
    let a = send(
        &s,
        "DELETE",
        &format!("{SSC}/alice"),
        None,
        None,
        &[(
            "impersonate-user",
            "system:serviceaccount:ssc:ssc-operator".into(),
        )],
    )
    .await;
    assert_eq!(a.status, 403);
    let a = send(
        &s,
        "GET",
        SSC,
        None,
        None,
        &[(
            "impersonate-user",
            "system:serviceaccount:ssc:ssc-operator".into(),
        )],
    )
    .await;
    assert_eq!(a.status, 200);
    // the operator itself may not impersonate
    let a = send(
        &s,
        "GET",
        SSC,
        None,
        None,
        &[
            ("authorization", "Bearer op-token".into()),
            ("impersonate-user", "admin".into()),
        ],
    )
    .await;
    assert_eq!(a.status, 403);
}
