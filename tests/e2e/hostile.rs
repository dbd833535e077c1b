//! A hostile tenant: everything a namespace can write (its resources, their annotations, any
//! Secret in it, templates, durations) tried against the operator. None of it may make the
//! operator touch a credential the resource does not own, leak a secret, or burn IAM's budget.

use std::time::Duration;

use iam_emulator::{FaultKind, InjectedFault};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use ssc_operator::ALLOWED_USERS_ANNOTATION;

use crate::harness::{Harness, NS, Options, login_and_secret, status};
use kube_standin::RequestMatcher;

const CODECOMMIT: &str = "codecommit.amazonaws.com";
const OTHER_NS: &str = "team-b";

fn codecommit_in(ns: &str, name: &str, user: &str) -> serde_json::Value {
    json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"userName": user, "serviceName": CODECOMMIT}
    })
}

async fn apply_in(h: &Harness, ns: &str, manifest: serde_json::Value) {
    let mut manifest = manifest;
    manifest["apiVersion"] = json!("iam.ssc-operator.dev/v1alpha1");
    manifest["kind"] = json!("ServiceSpecificCredential");
    let resource: ssc_operator::ServiceSpecificCredential =
        serde_json::from_value(manifest).unwrap();
    Api::namespaced(h.client(), ns)
        .create(&PostParams::default(), &resource)
        .await
        .expect("resource created");
}

/// A credential of user sofia held by resource `theirs` in namespace team-b: its id.
async fn credential_of_another_namespace(h: &Harness) -> String {
    h.kube
        .create_namespace(OTHER_NS, &[(ALLOWED_USERS_ANNOTATION, "*")])
        .await;
    apply_in(h, OTHER_NS, codecommit_in(OTHER_NS, "theirs", "sofia")).await;
    let theirs = h
        .wait_for_in(OTHER_NS, "theirs", "Ready", |r| {
            r.ready_condition().is_some_and(|c| c.status == "True")
        })
        .await;
    status(&theirs).credential_id.unwrap()
}

/// A credential made outside the operator (by a person, another tool or another tenant).
pub(crate) async fn create_by_hand(h: &Harness, user: &str) -> (String, String, String) {
    let out = h
        .iam_sdk
        .create_service_specific_credential()
        .user_name(user)
        .service_name(CODECOMMIT)
        .send()
        .await
        .unwrap();
    let c = out.service_specific_credential().unwrap();
    (
        c.service_specific_credential_id().to_string(),
        c.service_user_name().to_string(),
        c.service_password().to_string(),
    )
}

/// What a tenant can write into its own namespace: a Secret that claims to be the resource's
/// own (controller ownerReference with its uid, our label and annotations) naming `id`.
async fn forge_secret(h: &Harness, name: &str, owner_uid: &str, id: &str) {
    let forged: Secret = serde_json::from_value(json!({
        "metadata": {
            "name": name, "namespace": NS,
            "labels": {"app.kubernetes.io/managed-by": "ssc-operator"},
            "annotations": {
                "iam.ssc-operator.dev/credential-id": id,
                "iam.ssc-operator.dev/credential-digest": "0".repeat(64),
                "iam.ssc-operator.dev/owner": format!("{NS}/{name}")
            },
            "ownerReferences": [{
                "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
                "name": name, "uid": owner_uid, "controller": true
            }]
        },
        "type": "kubernetes.io/basic-auth",
        "stringData": {"username": "forged", "password": "forged-password-0123456789"}
    }))
    .unwrap();
    Api::<Secret>::namespaced(h.tenant_client(), NS)
        .create(&PostParams::default(), &forged)
        .await
        .expect("the tenant creates the forged Secret");
}

/// The tenant's view of its namespace's resources.
fn tenant_resources(h: &Harness) -> Api<ssc_operator::ServiceSpecificCredential> {
    Api::namespaced(h.tenant_client(), NS)
}

/// A resource the tenant applies.
async fn tenant_apply(
    h: &Harness,
    manifest: serde_json::Value,
) -> ssc_operator::ServiceSpecificCredential {
    let mut manifest = manifest;
    manifest["apiVersion"] = json!("iam.ssc-operator.dev/v1alpha1");
    manifest["kind"] = json!("ServiceSpecificCredential");
    tenant_resources(h)
        .create(
            &PostParams::default(),
            &serde_json::from_value(manifest).unwrap(),
        )
        .await
        .expect("the tenant creates the resource")
}

/// The tenant of these tests holds rights in its namespace only: no status, nothing elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_can_write_only_its_own_namespace() {
    let h = Harness::start().await;
    h.kube
        .create_namespace(OTHER_NS, &[(ALLOWED_USERS_ANNOTATION, "*")])
        .await;
    let elsewhere: Secret = serde_json::from_value(json!({
        "metadata": {"name": "x", "namespace": OTHER_NS}, "stringData": {"a": "b"}
    }))
    .unwrap();
    let err = Api::<Secret>::namespaced(h.tenant_client(), OTHER_NS)
        .create(&PostParams::default(), &elsewhere)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("forbidden"), "{err}");
    let r = tenant_apply(&h, codecommit_in(NS, "own", "sofia")).await;
    let err = tenant_resources(&h)
        .patch_status(
            &r.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"credentialId": "ACCAFORGED0000000000"}})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("forbidden"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_secret_cannot_make_cleanup_delete_a_credential_the_resource_never_held() {
    let h = Harness::start_with(Options {
        allowed_users: Some("sofia"),
        ..Options::default()
    })
    .await;
    let (victim_id, login, password) = create_by_hand(&h, "developer").await;
    let r = tenant_apply(&h, codecommit_in(NS, "steal", "developer")).await;
    h.wait_for_reason("steal", "NotPermitted").await;
    forge_secret(&h, "steal", &r.uid().unwrap(), &victim_id).await;
    tenant_resources(&h)
        .delete("steal", &Default::default())
        .await
        .unwrap();
    h.wait_gone("steal").await;
    let left = h.iam_credentials("developer", CODECOMMIT).await;
    assert_eq!(
        left.len(),
        1,
        "the victim's credential {victim_id} was deleted"
    );
    assert_eq!(
        h.check(CODECOMMIT, &login, &password).await["valid"],
        json!(true)
    );
    assert_eq!(h.iam_call_count("DeleteServiceSpecificCredential"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_secret_cannot_adopt_another_namespaces_credential() {
    let h = Harness::start().await;
    let their_id = credential_of_another_namespace(&h).await;
    let their_secret = Api::<Secret>::namespaced(h.client(), OTHER_NS)
        .get("theirs")
        .await
        .unwrap();
    // The tenant's resource waits on an invalid template, so its Secret can be forged first.
    let r = tenant_apply(
        &h,
        json!({
            "metadata": {"name": "mine", "namespace": NS},
            "spec": {"userName": "sofia", "serviceName": CODECOMMIT,
                     "secret": {"template": {"data": {"x": "{{ nope }}"}}}}
        }),
    )
    .await;
    h.wait_for_reason("mine", "InvalidSpec").await;
    forge_secret(&h, "mine", &r.uid().unwrap(), &their_id).await;
    tenant_resources(&h)
        .patch(
            "mine",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"secret": {"template": null}}})),
        )
        .await
        .unwrap();
    let mine = h
        .wait_for("mine", "settled", |r| {
            r.ready_condition()
                .is_some_and(|c| c.reason != "InvalidSpec" && c.reason != "Creating")
        })
        .await;
    assert_ne!(
        status(&mine).credential_id.as_deref(),
        Some(their_id.as_str()),
        "took over team-b's credential"
    );
    assert_eq!(h.iam_call_count("ResetServiceSpecificCredential"), 0);
    assert!(
        h.secret_works(&their_secret, CODECOMMIT).await,
        "team-b's password was reset"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adoption_never_captures_a_credential_a_person_created() {
    let h = Harness::start().await;
    let (first, _, _) = create_by_hand(&h, "sofia").await;
    create_by_hand(&h, "sofia").await;
    h.apply(codecommit_in(NS, "waiting", "sofia")).await;
    h.wait_for_reason("waiting", "LimitExceeded").await;
    // A person frees a slot and takes it again by hand while the resource waits.
    h.iam_sdk
        .delete_service_specific_credential()
        .user_name("sofia")
        .service_specific_credential_id(&first)
        .send()
        .await
        .unwrap();
    let (human_id, login, password) = create_by_hand(&h, "sofia").await;
    // Any event makes the resource look again.
    h.resources()
        .patch(
            "waiting",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"poke": "1"}}})),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = h.get("waiting").await.unwrap();
    assert_ne!(
        status(&r).credential_id.as_deref(),
        Some(human_id.as_str()),
        "adopted the person's credential"
    );
    assert_eq!(
        h.check(CODECOMMIT, &login, &password).await["valid"],
        json!(true),
        "the person's password was reset"
    );
}

/// Two resources for one user applied at once, with one slot free: one gets it, the other
/// reports LimitExceeded; neither takes the other's credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_resources_racing_for_one_slot_never_share_it() {
    let h = Harness::start().await;
    let (_, login, password) = create_by_hand(&h, "sofia").await;
    h.apply(codecommit_in(NS, "first", "sofia")).await;
    h.apply(codecommit_in(NS, "second", "sofia")).await;
    let settled = |r: &ssc_operator::ServiceSpecificCredential| {
        r.ready_condition()
            .is_some_and(|c| c.reason == "Available" || c.reason == "LimitExceeded")
    };
    let a = h.wait_for("first", "settled", settled).await;
    let b = h.wait_for("second", "settled", settled).await;
    let mut reasons = [
        a.ready_condition().unwrap().reason.clone(),
        b.ready_condition().unwrap().reason.clone(),
    ];
    reasons.sort();
    assert_eq!(reasons, ["Available", "LimitExceeded"]);
    assert_eq!(h.iam_call_count("ResetServiceSpecificCredential"), 0);
    assert_eq!(
        h.check(CODECOMMIT, &login, &password).await["valid"],
        json!(true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_not_even_checked_before_the_tenancy_gate() {
    let h = Harness::start_with(Options {
        allowed_users: Some("sofia"),
        ..Options::default()
    })
    .await;
    h.apply(json!({
        "metadata": {"name": "denied", "namespace": NS},
        "spec": {"userName": "developer", "serviceName": CODECOMMIT,
                 "secret": {"template": {"data": {"x": "{{ nope }}"}}}}
    }))
    .await;
    h.wait_for_reason("denied", "NotPermitted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_failing_only_on_the_real_password_makes_no_iam_call() {
    let h = Harness::start().await;
    h.apply(json!({
        "metadata": {"name": "sneaky", "namespace": NS},
        "spec": {"userName": "sofia", "serviceName": CODECOMMIT,
                 "secret": {"template": {"data": {
                     "x": "{% if password != 'placeholder' %}{% include password[1:] %}{% endif %}"
                 }}}}
    }))
    .await;
    let r = h.wait_for_reason("sneaky", "InvalidSpec").await;
    let message = &r.ready_condition().unwrap().message;
    assert!(message.contains("\"x\""), "{message}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.iam_call_count("CreateServiceSpecificCredential"), 0);
    assert_eq!(h.iam_call_count("ResetServiceSpecificCredential"), 0);
}

/// Calls of `operation` the operator makes over `window` while IAM fails it permanently.
async fn calls_during(h: &Harness, operation: &str, window: Duration) -> usize {
    let before = h.iam_call_count(operation);
    tokio::time::sleep(window).await;
    h.iam_call_count(operation) - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_create_failure_backs_off_and_keeps_its_condition() {
    let h = Harness::start().await;
    h.emulator.inject(InjectedFault {
        action: Some("CreateServiceSpecificCredential".into()),
        kind: FaultKind::ServerError(503),
        count: u32::MAX,
    });
    h.apply(codecommit_in(NS, "failing", "sofia")).await;
    h.wait_for_reason("failing", "IamUnavailable").await;
    let calls = calls_during(
        &h,
        "CreateServiceSpecificCredential",
        Duration::from_secs(20),
    )
    .await;
    println!("CreateServiceSpecificCredential calls in 20 s of permanent 503: {calls}");
    assert!(calls <= 4, "{calls} Create calls in 20 s: no backoff");
    let reasons = h.event_reasons("failing").await;
    let creating = reasons.iter().filter(|r| *r == "Creating").count();
    assert!(
        creating <= 1,
        "the condition flips back to Creating: {reasons:?}"
    );
    let r = h.get("failing").await.unwrap();
    assert_eq!(r.ready_condition().unwrap().reason, "IamUnavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_reset_failure_during_rotation_backs_off() {
    let h = Harness::start().await;
    h.apply(codecommit_in(NS, "rot-fail", "sofia")).await;
    h.wait_ready("rot-fail").await;
    h.emulator.inject(InjectedFault {
        action: Some("ResetServiceSpecificCredential".into()),
        kind: FaultKind::ServerError(503),
        count: u32::MAX,
    });
    h.request_rotation("rot-fail", "1").await;
    h.wait_for_reason("rot-fail", "IamUnavailable").await;
    let calls = calls_during(
        &h,
        "ResetServiceSpecificCredential",
        Duration::from_secs(15),
    )
    .await;
    println!("ResetServiceSpecificCredential calls in 15 s of permanent 503: {calls}");
    assert!(calls <= 4, "{calls} Reset calls in 15 s: no backoff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_the_api_server_rejects_are_invalid_spec_before_any_iam_call() {
    let h = Harness::start().await;
    for (name, template) in [
        ("tls", json!({"type": "kubernetes.io/tls"})),
        (
            "badlabel",
            json!({"labels": {"team": "not a valid label value!"}}),
        ),
    ] {
        h.apply(json!({
            "metadata": {"name": name, "namespace": NS},
            "spec": {"userName": "sofia", "serviceName": CODECOMMIT,
                     "secret": {"template": template}}
        }))
        .await;
        let r = h.wait_for_reason(name, "InvalidSpec").await;
        println!("{name}: {}", r.ready_condition().unwrap().message);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.iam_call_count("CreateServiceSpecificCredential"), 0);
    assert!(h.iam_credentials("sofia", CODECOMMIT).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_change_the_api_server_rejects_keeps_the_live_secret() {
    let h = Harness::start().await;
    h.apply(codecommit_in(NS, "retype", "sofia")).await;
    h.wait_ready("retype").await;
    let live = h.secret("retype").await.unwrap();
    h.patch_spec(
        "retype",
        json!({"spec": {"secret": {"template": {"type": "kubernetes.io/tls"}}}}),
    )
    .await;
    h.wait_for_reason("retype", "InvalidSpec").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let now = h
        .secret("retype")
        .await
        .expect("the live Secret was deleted");
    assert_eq!(login_and_secret(&now), login_and_secret(&live));
    assert!(h.secret_works(&now, CODECOMMIT).await);
    assert_eq!(h.iam_call_count("ResetServiceSpecificCredential"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_interval_under_a_minute_is_rejected_by_the_schema() {
    let h = Harness::start().await;
    for rotation in [
        json!({"interval": "0s"}),
        json!({"interval": "59s"}),
        json!({"strategy": "Recreate", "gracePeriod": "0s"}),
    ] {
        let mut m = codecommit_in(NS, "churn", "sofia");
        m["apiVersion"] = json!("iam.ssc-operator.dev/v1alpha1");
        m["kind"] = json!("ServiceSpecificCredential");
        m["spec"]["rotation"] = rotation.clone();
        let resource: ssc_operator::ServiceSpecificCredential = serde_json::from_value(m).unwrap();
        let err = h
            .resources()
            .create(&PostParams::default(), &resource)
            .await
            .expect_err(&format!("{rotation} was accepted"));
        println!("{rotation}: {err}");
        assert!(err.to_string().contains("at least"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_keeps_the_secret_and_a_new_resource_adopts_the_credential_only_when_asked() {
    let h = Harness::start().await;
    let mut m = codecommit_in(NS, "kept", "anika");
    m["spec"]["deletionPolicy"] = json!("Retain");
    h.apply(m).await;
    let id = status(&h.wait_ready("kept").await).credential_id.unwrap();
    h.delete("kept").await;
    h.wait_gone("kept").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept = h
        .secret("kept")
        .await
        .expect("the Secret of a retained credential was garbage-collected");
    assert!(kept.owner_references().is_empty());
    assert!(
        kept.annotations()
            .contains_key("iam.ssc-operator.dev/retained-from"),
        "{:?}",
        kept.annotations()
    );
    assert!(h.secret_works(&kept, CODECOMMIT).await, "password survives");

    // Without being asked, a new resource never takes the retained credential.
    h.apply(codecommit_in(NS, "fresh", "anika")).await;
    let fresh = h.wait_ready("fresh").await;
    assert_ne!(status(&fresh).credential_id.as_deref(), Some(id.as_str()));
    h.delete("fresh").await;
    h.wait_gone("fresh").await;

    // Asked by id: adopted, and its secret reset (the old one is unrecoverable).
    h.apply(json!({
        "metadata": {"name": "heir", "namespace": NS},
        "spec": {"userName": "anika", "serviceName": CODECOMMIT, "adopt": {"credentialId": id}}
    }))
    .await;
    let heir = h.wait_ready("heir").await;
    assert_eq!(status(&heir).credential_id.as_deref(), Some(id.as_str()));
    let secret = h.secret("heir").await.unwrap();
    assert!(h.secret_works(&secret, CODECOMMIT).await);
    assert_eq!(h.iam_credentials("anika", CODECOMMIT).await.len(), 1);
    h.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopting_a_credential_another_resource_holds_is_refused() {
    let h = Harness::start().await;
    h.apply(codecommit_in(NS, "holder", "anika")).await;
    let id = status(&h.wait_ready("holder").await).credential_id.unwrap();
    let secret = h.secret("holder").await.unwrap();
    h.apply(json!({
        "metadata": {"name": "grabber", "namespace": NS},
        "spec": {"userName": "anika", "serviceName": CODECOMMIT, "adopt": {"credentialId": id}}
    }))
    .await;
    let r = h
        .wait_for("grabber", "refused", |r| {
            r.ready_condition()
                .is_some_and(|c| c.reason == "InvalidSpec" || c.reason == "Available")
        })
        .await;
    assert_eq!(r.ready_condition().unwrap().reason, "InvalidSpec");
    assert!(h.secret_works(&secret, CODECOMMIT).await);
    assert_eq!(h.iam_call_count("ResetServiceSpecificCredential"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_on_the_status_write_after_a_reset_does_not_repeat_it() {
    let h = Harness::start().await;
    h.apply(codecommit_in(NS, "once", "sofia")).await;
    h.wait_ready("once").await;
    h.kube.fail_next(
        RequestMatcher::any()
            .verb("patch")
            .subresource("status")
            .body_contains("handledRotateRequest"),
        409,
        1,
    );
    h.request_rotation("once", "7").await;
    h.wait_for("once", "rotation recorded", |r| {
        status(r).handled_rotate_request.as_deref() == Some("7")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(h.iam_call_count("ResetServiceSpecificCredential"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_exceeded_names_no_credential_of_another_namespace() {
    let h = Harness::start().await;
    let their_id = credential_of_another_namespace(&h).await;
    h.apply(codecommit_in(NS, "one", "sofia")).await;
    h.wait_ready("one").await;
    h.apply(codecommit_in(NS, "two", "sofia")).await;
    let r = h.wait_for_reason("two", "LimitExceeded").await;
    let message = &r.ready_condition().unwrap().message;
    assert!(!message.contains(&their_id), "{message}");
    assert!(!message.contains(OTHER_NS), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_secret_name_changes_only_once_the_new_secret_is_written() {
    let h = Harness::start().await;
    h.apply(codecommit_in(NS, "mover", "sofia")).await;
    h.wait_ready("mover").await;
    h.create_foreign_secret("occupied", json!({"x": "y"})).await;
    h.patch_spec("mover", json!({"spec": {"secret": {"name": "occupied"}}}))
        .await;
    let r = h.wait_for_reason("mover", "SecretConflict").await;
    assert_eq!(
        status(&r).secret_name.as_deref(),
        Some("mover"),
        "status forgot where the credential lives"
    );
    assert!(h.secret("mover").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immutable_secret_stops_a_rotation_before_any_iam_call() {
    let h = Harness::start().await;
    h.apply(codecommit_in(NS, "frozen", "sofia")).await;
    h.wait_ready("frozen").await;
    let live = h.secret("frozen").await.unwrap();
    h.secrets()
        .patch(
            "frozen",
            &PatchParams::default(),
            &Patch::Merge(json!({"immutable": true})),
        )
        .await
        .unwrap();
    h.request_rotation("frozen", "1").await;
    let r = h.wait_for_reason("frozen", "InvalidSpec").await;
    println!("{}", r.ready_condition().unwrap().message);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(h.iam_call_count("ResetServiceSpecificCredential"), 0);
    assert!(
        h.secret_works(&h.secret("frozen").await.unwrap(), CODECOMMIT)
            .await
    );
    assert_eq!(
        login_and_secret(&h.secret("frozen").await.unwrap()),
        login_and_secret(&live)
    );
}

/// A tenant asking for rotation after rotation gets each handled in turn, and holds no other
/// namespace back: one resource has at most one pass (one seat, one IAM call) at a time, and
/// namespaces take turns for seats and IAM tokens (`crate::fair`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_spam_holds_no_other_namespace_back() {
    let h = Harness::start().await;
    h.apply(codecommit_in(NS, "spam", "sofia")).await;
    h.wait_ready("spam").await;
    h.kube
        .create_namespace(OTHER_NS, &[(ALLOWED_USERS_ANNOTATION, "*")])
        .await;
    for value in 1..=20 {
        h.request_rotation("spam", &value.to_string()).await;
        if value == 10 {
            apply_in(&h, OTHER_NS, codecommit_in(OTHER_NS, "neighbour", "anika")).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    h.wait_for_in(OTHER_NS, "neighbour", "Ready", |r| {
        r.ready_condition().is_some_and(|c| c.status == "True")
    })
    .await;
    let resets = h.iam_call_count("ResetServiceSpecificCredential");
    println!("ResetServiceSpecificCredential calls for 20 rotate requests in 6 s: {resets}");
    assert!(resets <= 20, "{resets} Resets: more than one per request");
    // The last request is carried out.
    let r = h
        .wait_for("spam", "the last rotation request handled", |r| {
            status(r).handled_rotate_request.as_deref() == Some("20")
        })
        .await;
    assert_eq!(r.ready_condition().unwrap().reason, "Available");
    assert!(
        h.secret_works(&h.secret("spam").await.unwrap(), CODECOMMIT)
            .await
    );
}

/// Retain keeps the Secret that holds the credential, also when a rename to another Secret had
/// not happened yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_keeps_the_secret_holding_the_credential_during_a_rename() {
    let h = Harness::start().await;
    let mut m = codecommit_in(NS, "moving", "anika");
    m["spec"]["deletionPolicy"] = json!("Retain");
    h.apply(m).await;
    h.wait_ready("moving").await;
    h.create_foreign_secret("taken-name", json!({"x": "y"}))
        .await;
    h.patch_spec(
        "moving",
        json!({"spec": {"secret": {"name": "taken-name"}}}),
    )
    .await;
    h.wait_for_reason("moving", "SecretConflict").await;
    h.delete("moving").await;
    h.wait_gone("moving").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept = h
        .secret("moving")
        .await
        .expect("the Secret holding the retained credential was garbage-collected");
    assert!(kept.owner_references().is_empty());
    assert!(h.secret_works(&kept, CODECOMMIT).await);
}

/// A Secret template whose labels or annotations the API server refuses (here: annotations over
/// its 256 KiB limit) is found by the dry run, before any IAM call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_secret_metadata_is_refused_by_the_schema_before_any_iam_call() {
    let h = Harness::start().await;
    let manifest: ssc_operator::ServiceSpecificCredential = serde_json::from_value(json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1",
        "kind": "ServiceSpecificCredential",
        "metadata": {"name": "huge", "namespace": NS},
        "spec": {"userName": "sofia", "serviceName": CODECOMMIT,
                 "secret": {"template": {"annotations": {"big": "x".repeat(300 * 1024)}}}}
    }))
    .unwrap();
    let err = tenant_resources(&h)
        .create(&PostParams::default(), &manifest)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("spec.secret.template.annotations.big: Too long"),
        "{err}"
    );
    assert_eq!(h.iam_call_count("CreateServiceSpecificCredential"), 0);
}

/// Deleting a namespace deletes its resources: each one's credential is deleted once, and the
/// operator neither creates nor resets anything on the way (the namespace refuses new Secrets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminating_namespace_costs_no_create_or_reset() {
    let h = Harness::start().await;
    let ns = "team-c";
    h.kube
        .create_namespace(ns, &[(ALLOWED_USERS_ANNOTATION, "*")])
        .await;
    for name in ["one", "two"] {
        let user = if name == "one" { "sofia" } else { "anika" };
        apply_in(&h, ns, codecommit_in(ns, name, user)).await;
        h.wait_for_in(ns, name, "Ready", |r| {
            r.ready_condition().is_some_and(|c| c.status == "True")
        })
        .await;
    }
    h.kube.terminate_namespace(ns).await;
    let api = Api::<ssc_operator::ServiceSpecificCredential>::namespaced(h.client(), ns);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "resources were not deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h.iam_call_count("CreateServiceSpecificCredential"), 2);
    assert_eq!(h.iam_call_count("ResetServiceSpecificCredential"), 0);
    assert!(h.iam_credentials("sofia", CODECOMMIT).await.is_empty());
    assert!(h.iam_credentials("anika", CODECOMMIT).await.is_empty());
}

/// After a Reset the old password is dead: while the new one cannot be written to the Secret,
/// the resource must not claim Ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_whose_secret_write_fails_is_not_ready() {
    let h = Harness::start().await;
    h.apply(codecommit_in(NS, "stuck", "sofia")).await;
    h.wait_ready("stuck").await;
    h.kube.fail_next(
        RequestMatcher::any()
            .verb("update")
            .resource("secrets")
            .not_dry_run(),
        500,
        usize::MAX,
    );
    h.request_rotation("stuck", "1").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while h.iam_call_count("ResetServiceSpecificCredential") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no Reset happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = h.get("stuck").await.unwrap();
    let secret = h.secret("stuck").await.unwrap();
    let ready = r.ready_condition().unwrap();
    assert!(
        ready.status == "False" || h.secret_works(&secret, CODECOMMIT).await,
        "Ready {} ({}) while the Secret holds a dead password",
        ready.status,
        ready.reason
    );
    h.kube.clear_faults();
    let r = h
        .wait_for("stuck", "rotation recorded", |r| {
            status(r).handled_rotate_request.as_deref() == Some("1")
                && r.ready_condition().is_some_and(|c| c.status == "True")
        })
        .await;
    assert_eq!(r.ready_condition().unwrap().reason, "Available");
    assert!(
        h.secret_works(&h.secret("stuck").await.unwrap(), CODECOMMIT)
            .await
    );
}

/// What a tenant piles into a resource's metadata (annotations, labels, kubectl's copy of the last
/// applied manifest) is not what the operator holds: its cache keeps the metadata it reads (the
/// rotate annotation, the finalizer) and drops the rest, and it still works from that copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_bulk_in_a_resources_metadata_is_not_cached() {
    let h = Harness::start().await;
    let mut manifest = codecommit_in(NS, "bulky", "sofia");
    let bulk = "x".repeat(200 * 1024);
    manifest["metadata"]["annotations"] = json!({
        "tenant.example/bulk": bulk,
        "kubectl.kubernetes.io/last-applied-configuration": "{\"kind\":\"ServiceSpecificCredential\"}",
        "iam.ssc-operator.dev/not-read": "y".repeat(1024),
    });
    manifest["metadata"]["labels"] = json!({"team": "a"});
    h.apply(manifest).await;
    h.wait_ready("bulky").await;
    h.request_rotation("bulky", "now").await;
    let rotated = h
        .wait_for("bulky", "the rotate request handled", |r| {
            r.status
                .as_ref()
                .and_then(|s| s.handled_rotate_request.as_deref())
                == Some("now")
        })
        .await;
    assert!(rotated.annotations().contains_key("tenant.example/bulk"));

    // The cache catches up with the last status write.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let cached = loop {
        let cached = h.cached("bulky").expect("bulky is cached");
        if cached.resource_version() == rotated.resource_version()
            || tokio::time::Instant::now() > deadline
        {
            break cached;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let held = serde_json::to_vec(&cached).unwrap().len();
    println!(
        "cached copy of bulky: {held} bytes as JSON; annotations {:?}; labels {:?}",
        cached.annotations().keys().collect::<Vec<_>>(),
        cached.labels()
    );
    assert_eq!(
        cached.annotations().keys().collect::<Vec<_>>(),
        [ssc_operator::ROTATE_ANNOTATION],
        "only the annotation the operator reads"
    );
    assert!(cached.labels().is_empty(), "{:?}", cached.labels());
    assert!(cached.metadata.managed_fields.is_none());
    assert_eq!(cached.finalizers(), [ssc_operator::FINALIZER]);
    assert_eq!(cached.spec, rotated.spec);
    assert_eq!(cached.status, rotated.status);
    assert!(held < 8 * 1024, "the cache holds {held} bytes of bulky");
}

/// A tenant deleting its own Secret over and over makes the operator repair it with backoff:
/// each repair is a Reset (an IAM write out of the account's shared budget), so one resource's
/// churn costs O(log n) of them, and its Event says the next repair waits. (Before: a Reset per
/// deletion, 97 in 40 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_deleted_over_and_over_is_repaired_with_backoff() {
    let h = Harness::start().await;
    h.apply(codecommit_in(NS, "churn", "sofia")).await;
    h.wait_ready("churn").await;
    let mut deletes = 0;
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(12) {
        if h.secrets()
            .delete("churn", &Default::default())
            .await
            .is_ok()
        {
            deletes += 1;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let resets = h.iam_call_count("ResetServiceSpecificCredential");
    println!("Secret deleted {deletes} times in 12 s: {resets} Resets");
    // Repairs at 0, 2, 6 and 14 s at most: four, whatever the deletions.
    assert!(resets <= 4, "{resets} Resets for {deletes} deletions");
    assert!(
        h.event_reasons("churn")
            .await
            .contains(&"RepairBackoff".to_string()),
        "the backoff is told"
    );
    // Left alone, the Secret comes back with a working secret.
    let secret = h.wait_secret("churn", |_| true).await;
    assert!(h.secret_works(&secret, CODECOMMIT).await);
}
