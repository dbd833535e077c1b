//! Reads over raw HTTP: list selectors, paging and resourceVersions; watch semantics.

use super::*;

#[tokio::test]
async fn list_selectors_paging_and_resource_versions() {
    let s = ssc_server().await;
    s.create_namespace("team-a", &[]).await;
    let mk = |name: &str, team: Option<&str>| {
        let labels = team.map_or(Value::Null, |t| json!({"team": t}));
        ssc_body(
            name,
            labels,
            json!({"userName": name, "serviceName": "codecommit.amazonaws.com"}),
        )
    };
    post(&s, SSC, mk("c", Some("platform"))).await;
    post(&s, SSC, mk("a", Some("data"))).await;
    post(&s, SSC, mk("b", None)).await;
    post(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/namespaces/team-a/servicespecificcredentials",
        mk("a", Some("platform")),
    )
    .await;
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                format!(
                    "{}/{}",
                    i["metadata"]["namespace"].as_str().unwrap(),
                    i["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    for (sel, expected) in [
        ("team%3Dplatform", vec!["default/c"]),
        ("team!%3Dplatform", vec!["default/a", "default/b"]),
        (
            "team%20in%20(data,platform)",
            vec!["default/a", "default/c"],
        ),
        ("team%20notin%20(data)", vec!["default/b", "default/c"]),
        ("team", vec!["default/a", "default/c"]),
        ("!team", vec!["default/b"]),
        ("team%3Dnobody", vec![]),
    ] {
        let (code, v) = get(&s, &format!("{SSC}?labelSelector={sel}")).await;
        assert_eq!(code, 200);
        assert_eq!(names(&v), expected, "selector {sel}");
        assert!(v["items"].is_array(), "items is [] when empty");
    }
    let (_, v) = get(&s, &format!("{SSC}?fieldSelector=metadata.name%3Da")).await;
    assert_eq!(names(&v), vec!["default/a"]);
    let (code, _) = get(&s, &format!("{SSC}?fieldSelector=spec.userName%3Da")).await;
    assert_eq!(code, 400);
    let (code, _) = get(&s, &format!("{SSC}?labelSelector=%3D%3D")).await;
    assert_eq!(code, 400);
    // As kube-apiserver's lexer: any whitespace separates, an empty set is refused.
    let (code, v) = get(&s, &format!("{SSC}?labelSelector=team%09in%20(platform)")).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(names(&v), vec!["default/c"]);
    let (code, v) = get(&s, &format!("{SSC}?labelSelector=team%20in%20()")).await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("values set can't be empty")),
        "{v}"
    );
    // cluster-wide list: sorted by namespace then name; continue keys are namespace/name
    let (_, all) = get(
        &s,
        "/apis/iam.ssc-operator.dev/v1alpha1/servicespecificcredentials?limit=3",
    )
    .await;
    assert_eq!(names(&all), vec!["default/a", "default/b", "default/c"]);
    assert_eq!(all["metadata"]["remainingItemCount"], 1);
    let tok = all["metadata"]["continue"].as_str().unwrap().to_string();
    assert_eq!(decode_token(&tok)["start"], "default/c\u{0}");
    // pages come from the snapshot of the first page
    post(&s, SSC, mk("d", None)).await;
    let (_, rest) = get(
        &s,
        &format!(
            "/apis/iam.ssc-operator.dev/v1alpha1/servicespecificcredentials?limit=3&continue={tok}"
        ),
    )
    .await;
    assert_eq!(names(&rest), vec!["team-a/a"]);
    assert_eq!(
        rest["metadata"]["resourceVersion"],
        all["metadata"]["resourceVersion"]
    );
    assert_eq!(rest["metadata"]["continue"], "");
    let (code, v) = get(&s, &format!("{SSC}?limit=1&continue=garbage")).await;
    assert_eq!(code, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid continue token")
    );
    // exact reads at an older revision; 410 after compaction
    let old_rv = all["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, v) = get(
        &s,
        &format!("{SSC}?resourceVersion={old_rv}&resourceVersionMatch=Exact"),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        names(&v),
        vec!["default/a", "default/b", "default/c"],
        "the state at that revision (no d)"
    );
    s.compact();
    let (code, v) = get(
        &s,
        &format!("{SSC}?resourceVersion={old_rv}&resourceVersionMatch=Exact"),
    )
    .await;
    assert_eq!(code, 410);
    assert_eq!(v["reason"], "Expired");
    let (code, _) = get(&s, &format!("{SSC}?limit=3&continue={tok}")).await;
    assert_eq!(code, 410);
    // resourceVersion=0 ignores limit
    let (_, v) = get(&s, &format!("{SSC}?resourceVersion=0&limit=1")).await;
    assert_eq!(names(&v).len(), 4);
    // list option validation, built-in list shape
    let (code, v) = get(&s, &format!("{SSC}?resourceVersionMatch=Exact")).await;
    assert_eq!(code, 422);
    assert_eq!(v["details"]["kind"], "ListOptions");
    let a = send(&s, "GET", "/api/v1/namespaces", None, None, &[]).await;
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert!(
        a.body.starts_with(
            "{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
        ),
        "{}",
        a.body
    );
    assert!(
        v["items"][0].get("kind").is_none(),
        "built-in list items carry no kind"
    );
    assert!(v["metadata"].get("continue").is_none());
}

#[tokio::test]
async fn watch_semantics() {
    let s = ssc_server().await;
    let secrets = "/api/v1/namespaces/default/secrets";
    post(
        &s,
        secrets,
        json!({"metadata": {"name": "pre", "labels": {"app": "x"}}}),
    )
    .await;
    let rv0 = s.revision();
    // collect a watch for `secs` seconds
    async fn watch(
        s: &ApiServer,
        query: &str,
        secs: u64,
        during: impl std::future::Future<Output = ()>,
    ) -> Vec<Value> {
        let url = format!(
            "{}/api/v1/namespaces/default/secrets?watch=true&timeoutSeconds={secs}&{query}",
            s.url()
        );
        let token = s.admin_token();
        let h = tokio::spawn(async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        during.await;
        h.await
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    let summary = |evs: &[Value]| -> Vec<String> {
        evs.iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["type"].as_str().unwrap(),
                    e["object"]["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    // resourceVersion=0: synthetic ADDED for what exists
    let evs = watch(&s, "resourceVersion=0", 1, async {}).await;
    assert_eq!(summary(&evs), vec!["ADDED pre"]);
    // a label-selected watch: objects entering/leaving the selection are ADDED/DELETED
    let evs = watch(
        &s,
        &format!("resourceVersion={rv0}&labelSelector=app%3Dx"),
        2,
        async {
            post(&s, secrets, json!({"metadata": {"name": "other"}})).await;
            merge(
                &s,
                &format!("{secrets}/other"),
                json!({"metadata": {"labels": {"app": "x"}}}),
            )
            .await;
            merge(
                &s,
                &format!("{secrets}/pre"),
                json!({"metadata": {"labels": {"app": "y"}}}),
            )
            .await;
            merge(
                &s,
                &format!("{secrets}/other"),
                json!({"data": {"k": "dg=="}}),
            )
            .await;
            call(&s, "DELETE", &format!("{secrets}/other"), None, Value::Null).await;
        },
    )
    .await;
    assert_eq!(
        summary(&evs),
        vec![
            "ADDED other",
            "DELETED pre",
            "MODIFIED other",
            "DELETED other"
        ]
    );
    let deleted_rv: u64 = evs[3]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let modified_rv: u64 = evs[2]["object"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        deleted_rv > modified_rv,
        "DELETED carries a new resourceVersion"
    );
    assert_eq!(
        evs[1]["object"]["metadata"]["labels"]["app"], "x",
        "DELETED on leaving the selection shows the previous state"
    );
    assert_eq!(
        evs[0]["object"]["kind"], "Secret",
        "watch objects carry kind/apiVersion"
    );
    // bookmarks only when asked for, never when idle
    let evs = watch(
        &s,
        &format!("resourceVersion={}&allowWatchBookmarks=true", s.revision()),
        3,
        async {},
    )
    .await;
    assert!(evs.is_empty(), "idle watch: {evs:?}");
    // too old: one ERROR event
    let evs = watch(&s, "resourceVersion=1", 5, async {}).await;
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["type"], "ERROR");
    assert_eq!(evs[0]["object"]["code"], 410);
    // compaction (a reset watch cache) ends live watches
    let started = std::time::Instant::now();
    let evs = watch(
        &s,
        &format!("resourceVersion={}", s.revision()),
        30,
        async { s.compact() },
    )
    .await;
    assert!(
        evs.is_empty() && started.elapsed() < Duration::from_secs(5),
        "{evs:?}"
    );
    // sendInitialEvents is off in 1.28
    let (code, v) = get(
        &s,
        &format!("{secrets}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"),
    )
    .await;
    assert_eq!(code, 422, "{v}");
}
