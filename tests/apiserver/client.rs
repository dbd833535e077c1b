//! A real kube::Client and kube-runtime against the stand-in.

use super::*;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, reflector};

fn ssc_api(client: kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(
            "iam.ssc-operator.dev",
            "v1alpha1",
            "ServiceSpecificCredential",
        ),
        "servicespecificcredentials",
    );
    Api::namespaced_with(client, "default", &ar)
}

fn ssc(name: &str) -> DynamicObject {
    serde_json::from_value(ssc_body(
        name,
        Value::Null,
        json!({"userName": name, "serviceName": "codecommit.amazonaws.com"}),
    ))
    .unwrap()
}

fn secret(name: &str, labels: &[(&str, &str)]) -> Secret {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()},
        "stringData": {"password": "p"},
    }))
    .unwrap()
}

fn code(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone()),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn crud_and_conflicts() {
    let s = ssc_server().await;
    let secrets: Api<Secret> = Api::default_namespaced(s.client());
    let created = secrets
        .create(&PostParams::default(), &secret("s1", &[]))
        .await
        .unwrap();
    assert_eq!(created.data.as_ref().unwrap()["password"].0, b"p");
    assert!(created.string_data.is_none());
    // stale replace: 409 Conflict
    let mut stale = created.clone();
    secrets
        .patch(
            "s1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    stale.metadata.labels = Some([("z".to_string(), "1".to_string())].into());
    assert_eq!(
        code(
            secrets
                .replace("s1", &PostParams::default(), &stale)
                .await
                .unwrap_err()
        ),
        (409, "Conflict".into())
    );
    assert_eq!(
        code(
            secrets
                .create(&PostParams::default(), &secret("s1", &[]))
                .await
                .unwrap_err()
        ),
        (409, "AlreadyExists".into())
    );
    assert!(secrets.get_opt("missing").await.unwrap().is_none());
    // custom resources through DynamicObject, status via the subresource
    let api = ssc_api(s.client());
    let obj = api
        .create(&PostParams::default(), &ssc("alice"))
        .await
        .unwrap();
    assert_eq!(obj.data["spec"]["status"], "Active");
    let patched = api
        .patch_status(
            "alice",
            &PatchParams::apply("ssc-operator").force(),
            &Patch::Apply(json!({
                "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
                "status": {"observedGeneration": 1}
            })),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["status"]["observedGeneration"], 1);
    let mut stale = obj.clone();
    stale.data["spec"]["status"] = json!("Inactive");
    assert_eq!(
        code(
            api.replace("alice", &PostParams::default(), &stale)
                .await
                .unwrap_err()
        ),
        (409, "Conflict".into())
    );
    let e = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(ssc_body("x", Value::Null, json!({"userName": "bad name"})))
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), (422, "Invalid".into()));
    let deleted = api.delete("alice", &DeleteParams::default()).await.unwrap();
    assert!(deleted.is_right(), "deleted without finalizers: a Status");
}

#[tokio::test]
async fn watcher_sees_changes_and_reflector_stores_them() {
    let s = ssc_server().await;
    let secrets: Api<Secret> = Api::default_namespaced(s.client());
    secrets
        .create(&PostParams::default(), &secret("before", &[]))
        .await
        .unwrap();
    let (reader, writer) = reflector::store::<Secret>();
    let mut stream = reflector::reflector(
        writer,
        watcher::watcher(secrets.clone(), watcher::Config::default()),
    )
    .boxed();
    let mut seen = Vec::new();
    let mut step = 0;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .map(|r| r.unwrap())
    {
        let label = match &ev {
            Event::Init => "init".to_string(),
            Event::InitApply(o) => {
                format!("init-apply {}", o.metadata.name.as_deref().unwrap())
            }
            Event::InitDone => "init-done".to_string(),
            Event::Apply(o) => format!(
                "apply {} {}",
                o.metadata.name.as_deref().unwrap(),
                o.metadata.labels.as_ref().map_or(0, |l| l.len())
            ),
            Event::Delete(o) => format!("delete {}", o.metadata.name.as_deref().unwrap()),
        };
        seen.push(label);
        match (step, &ev) {
            (0, Event::InitDone) => {
                step = 1;
                secrets
                    .create(&PostParams::default(), &secret("new", &[]))
                    .await
                    .unwrap();
            }
            (1, Event::Apply(_)) => {
                step = 2;
                secrets
                    .patch(
                        "new",
                        &PatchParams::default(),
                        &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
                    )
                    .await
                    .unwrap();
            }
            (2, Event::Apply(_)) => {
                step = 3;
                secrets
                    .delete("new", &DeleteParams::default())
                    .await
                    .unwrap();
            }
            (3, Event::Delete(_)) => break,
            _ => {}
        }
    }
    assert_eq!(
        seen,
        vec![
            "init",
            "init-apply before",
            "init-done",
            "apply new 0",
            "apply new 1",
            "delete new"
        ]
    );
    let names: Vec<String> = reader
        .state()
        .iter()
        .map(|s| s.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, vec!["before"]);
    // the initial list was paged (limit=500) and the watch resumed from its resourceVersion
    let reqs = s.requests();
    let list = reqs
        .iter()
        .find(|r| r.verb == "list" && r.resource == "secrets")
        .unwrap();
    assert_eq!(list.query.get("limit").map(String::as_str), Some("500"));
    let watch = reqs.iter().find(|r| r.verb == "watch").unwrap();
    assert_eq!(
        watch.query.get("allowWatchBookmarks").map(String::as_str),
        Some("true")
    );
}

#[tokio::test]
async fn watcher_relists_after_410() {
    let s = ssc_server().await;
    let secrets: Api<Secret> = Api::default_namespaced(s.client());
    let mut stream = watcher::watcher(secrets.clone(), watcher::Config::default()).boxed();
    let mut inits = 0;
    let mut errors = 0;
    let mut compacted = false;
    let mut relisted = Vec::new();
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
        match ev {
            Ok(Event::InitApply(o)) if inits == 1 => relisted.push(o.metadata.name.unwrap()),
            Ok(Event::InitDone) => {
                inits += 1;
                if inits == 2 {
                    break;
                }
                // A write elsewhere moves the revision past the watcher's resourceVersion; the
                // watch cache is then reset: the watch ends and resuming it gets 410.
                ssc_api(s.client())
                    .create(&PostParams::default(), &ssc("elsewhere"))
                    .await
                    .unwrap();
                secrets
                    .create(&PostParams::default(), &secret("unseen", &[]))
                    .await
                    .ok();
                s.compact();
                compacted = true;
            }
            Ok(_) => {}
            Err(watcher::Error::WatchError(e)) => {
                assert_eq!(e.code, 410);
                errors += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(compacted);
    assert_eq!(errors, 1, "one 410 ERROR event");
    assert_eq!(inits, 2, "relisted after 410");
    assert_eq!(relisted, vec!["unseen"]);
    let lists = s
        .requests()
        .iter()
        .filter(|r| r.verb == "list" && r.resource == "secrets")
        .count();
    assert_eq!(lists, 2);
}

#[tokio::test]
async fn label_selected_secret_watch() {
    let s = ssc_server().await;
    let secrets: Api<Secret> = Api::default_namespaced(s.client());
    let label = "app.kubernetes.io/managed-by=ssc-operator";
    let cfg = watcher::Config::default().labels(label);
    let mut stream = watcher::watcher(secrets.clone(), cfg)
        .applied_objects()
        .boxed();
    secrets
        .create(&PostParams::default(), &secret("unlabelled", &[]))
        .await
        .unwrap();
    secrets
        .create(
            &PostParams::default(),
            &secret(
                "labelled",
                &[("app.kubernetes.io/managed-by", "ssc-operator")],
            ),
        )
        .await
        .unwrap();
    secrets
        .create(
            &PostParams::default(),
            &secret("other", &[("app.kubernetes.io/managed-by", "someone-else")]),
        )
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("labelled"));
    secrets
        .patch(
            "unlabelled",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"x": "eA=="}})),
        )
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), stream.try_next())
            .await
            .is_err(),
        "unlabelled secrets are not seen"
    );
    let reqs = s.requests();
    assert!(
        reqs.iter()
            .filter(|r| r.resource == "secrets" && (r.verb == "list" || r.verb == "watch"))
            .all(|r| r.query.get("labelSelector").map(String::as_str) == Some(label))
    );
}

#[tokio::test]
async fn metadata_watcher_dry_runs_and_preconditions() {
    let s = ssc_server().await;
    let secrets: Api<Secret> = Api::default_namespaced(s.client());
    let label = "app.kubernetes.io/managed-by=ssc-operator";
    secrets
        .create(
            &PostParams::default(),
            &secret("m1", &[("app.kubernetes.io/managed-by", "ssc-operator")]),
        )
        .await
        .unwrap();
    let cfg = watcher::Config::default().labels(label);
    // Api<PartialObjectMeta<K>> asks for metadata-only lists and watches
    let metas: Api<kube::core::PartialObjectMeta<Secret>> = Api::default_namespaced(s.client());
    let mut stream = watcher::watcher(metas.clone(), cfg)
        .applied_objects()
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("m1"));
    assert_eq!(first.types.as_ref().unwrap().kind, "PartialObjectMetadata");
    secrets
        .create(
            &PostParams::default(),
            &secret("m2", &[("app.kubernetes.io/managed-by", "ssc-operator")]),
        )
        .await
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(second.metadata.name.as_deref(), Some("m2"));
    let meta = secrets.get_metadata("m1").await.unwrap();
    assert_eq!(meta.types.unwrap().kind, "PartialObjectMetadata");
    let patched = secrets
        .patch_metadata(
            "m1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.types.unwrap().kind, "PartialObjectMetadata");
    // dry runs through kube's PostParams/PatchParams/DeleteParams
    let dry = secrets
        .create(
            &PostParams {
                dry_run: true,
                field_manager: Some("ssc-operator".into()),
            },
            &secret("dry", &[]),
        )
        .await
        .unwrap();
    assert!(dry.metadata.uid.is_some());
    assert!(dry.metadata.resource_version.is_none());
    assert!(secrets.get_opt("dry").await.unwrap().is_none());
    let pp = PatchParams {
        dry_run: true,
        ..PatchParams::default()
    };
    let p = secrets
        .patch("m1", &pp, &Patch::Merge(json!({"data": {"x": "eA=="}})))
        .await
        .unwrap();
    assert!(p.data.unwrap().contains_key("x"));
    assert!(
        !secrets
            .get("m1")
            .await
            .unwrap()
            .data
            .unwrap()
            .contains_key("x")
    );
    let dp = DeleteParams {
        dry_run: true,
        ..DeleteParams::default()
    };
    secrets.delete("m1", &dp).await.unwrap();
    assert!(secrets.get_opt("m1").await.unwrap().is_some());
    // a uid precondition of another object: 409, nothing deleted
    let err = secrets
        .delete(
            "m1",
            &DeleteParams::default().preconditions(kube::api::Preconditions {
                uid: Some("00000000-0000-0000-0000-000000000000".into()),
                resource_version: None,
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(code(err), (409, "Conflict".to_string()));
    assert!(secrets.get_opt("m1").await.unwrap().is_some());
}

#[tokio::test]
async fn gc_removes_owned_secret() {
    let s = ssc_server().await;
    let api = ssc_api(s.client());
    let owner = api
        .create(&PostParams::default(), &ssc("owner"))
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::default_namespaced(s.client());
    let mut sec = secret("owned", &[]);
    sec.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "iam.ssc-operator.dev/v1alpha1".into(),
            kind: "ServiceSpecificCredential".into(),
            name: "owner".into(),
            uid: owner.metadata.uid.clone().unwrap(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        },
    ]);
    secrets.create(&PostParams::default(), &sec).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        secrets.get_opt("owned").await.unwrap().is_some(),
        "owner exists: kept"
    );
    api.delete("owner", &DeleteParams::default()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while secrets.get_opt("owned").await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "owned secret not collected"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn recorder_creates_then_patches_series() {
    let s = ssc_server().await;
    let api = ssc_api(s.client());
    let obj = api
        .create(&PostParams::default(), &ssc("alice"))
        .await
        .unwrap();
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("iam.ssc-operator.dev/v1alpha1".into()),
        kind: Some("ServiceSpecificCredential".into()),
        name: obj.metadata.name.clone(),
        namespace: obj.metadata.namespace.clone(),
        uid: obj.metadata.uid.clone(),
        ..Default::default()
    };
    let recorder = kube::runtime::events::Recorder::new(
        s.client(),
        kube::runtime::events::Reporter {
            controller: "ssc-operator".into(),
            instance: Some("pod-1".into()),
        },
    );
    let ev = kube::runtime::events::Event {
        type_: kube::runtime::events::EventType::Warning,
        reason: "UserNotFound".into(),
        note: Some("no such user".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::default_namespaced(s.client());
    let list = events.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].series.as_ref().map(|s| s.count), Some(2));
    let verbs: Vec<String> = s
        .requests()
        .iter()
        .filter(|r| r.resource == "events")
        .map(|r| r.verb.clone())
        .collect();
    assert_eq!(verbs, vec!["create", "patch", "list"]);
}

#[tokio::test]
async fn finalizer_helper_round_trip() {
    use kube::runtime::controller::Action;
    use kube::runtime::finalizer::{Event as FEvent, finalizer};
    let s = ssc_server().await;
    let api = ssc_api(s.client());
    api.create(&PostParams::default(), &ssc("alice"))
        .await
        .unwrap();
    let name = "iam.ssc-operator.dev/cleanup";
    let reconcile = |ev: FEvent<DynamicObject>| async move {
        Ok::<_, std::io::Error>(match ev {
            FEvent::Apply(_) => Action::await_change(),
            FEvent::Cleanup(_) => Action::await_change(),
        })
    };
    // first call adds the finalizer (json patch with a test op)
    let obj = std::sync::Arc::new(api.get("alice").await.unwrap());
    finalizer(&api, name, obj, reconcile).await.unwrap();
    let obj = api.get("alice").await.unwrap();
    assert_eq!(
        obj.metadata.finalizers.as_deref(),
        Some(&[name.to_string()][..])
    );
    // a second add from a stale copy fails the test op (422) instead of duplicating
    let mut stale = obj.clone();
    stale.metadata.finalizers = None;
    assert!(
        finalizer(&api, name, std::sync::Arc::new(stale), reconcile)
            .await
            .is_err()
    );
    // deletion: the object stays terminating until cleanup removes the finalizer
    api.delete("alice", &DeleteParams::default()).await.unwrap();
    let obj = api.get("alice").await.unwrap();
    assert!(obj.metadata.deletion_timestamp.is_some());
    finalizer(&api, name, std::sync::Arc::new(obj), reconcile)
        .await
        .unwrap();
    assert!(api.get_opt("alice").await.unwrap().is_none());
}
