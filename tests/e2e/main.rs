//! End-to-end: the operator against the Kubernetes API stand-in and the IAM emulator.
//! Each test reads as a specification of one behaviour a user relies on.

mod binary;
mod cli;
#[cfg(feature = "demo")]
mod demo;
mod examples;
use ssc_test_harness as harness;
mod hostile;
mod iam_client;
mod identities;
mod operations;
mod record;
mod scale;
mod sharding;
mod writes;

use std::time::Duration;

use harness::{Harness, NS, Options, data, login_and_secret, status};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube_standin::RequestMatcher;
use serde_json::json;
use ssc_operator::CredentialRecord;
use ssc_operator::PolicyMode;
use ssc_operator::ServiceSpecificCredential;

const CODECOMMIT: &str = "codecommit.amazonaws.com";
const BEDROCK: &str = "bedrock.amazonaws.com";

fn codecommit(name: &str, user: &str) -> serde_json::Value {
    json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"userName": user, "serviceName": CODECOMMIT}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_writes_the_secret_and_reports_status() {
    let h = Harness::start().await;
    h.apply(codecommit("sofia-git", "sofia")).await;
    let r = h.wait_ready("sofia-git").await;

    let st = status(&r);
    let id = st.credential_id.clone().expect("credentialId");
    assert!(id.starts_with("ACCA") && id.len() == 21, "{id}");
    assert_eq!(
        st.service_user_name.as_deref(),
        Some("sofia-at-123456789012")
    );
    assert_eq!(st.credential_status.as_deref(), Some("Active"));
    assert!(st.create_date.is_some());
    assert_eq!(st.secret_name.as_deref(), Some("sofia-git"));
    assert_eq!(st.observed_generation, r.metadata.generation);
    assert_eq!(st.slots_used, Some(1));
    assert!(st.create_requested_at.is_none(), "intent marker cleared");
    let ready = r.ready_condition().unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Available")
    );
    assert!(
        r.finalizers()
            .contains(&ssc_operator::FINALIZER.to_string())
    );

    let secret = h.secret("sofia-git").await.expect("Secret written");
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    let d = data(&secret);
    assert_eq!(d["username"], "sofia-at-123456789012");
    assert_eq!(d["password"].len(), 60);
    assert_eq!(
        secret.labels()["app.kubernetes.io/managed-by"],
        "ssc-operator"
    );
    assert_eq!(
        secret.annotations()["iam.ssc-operator.dev/credential-id"],
        id
    );
    assert_eq!(
        secret.annotations()["iam.ssc-operator.dev/owner"],
        "team-a/sofia-git"
    );
    let owner = &secret.owner_references()[0];
    assert_eq!(
        (owner.uid.as_str(), owner.controller),
        (r.uid().unwrap().as_str(), Some(true))
    );
    assert!(
        h.secret_works(&secret, CODECOMMIT).await,
        "the Secret holds a working password"
    );

    assert_eq!(h.iam_credentials("sofia", CODECOMMIT).await.len(), 1);
    assert!(
        h.event_reasons("sofia-git")
            .await
            .contains(&"CredentialCreated".to_string())
    );
    h.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_credentials_land_as_alias_and_secret_with_expiry() {
    let h = Harness::start().await;
    h.apply(json!({
        "metadata": {"name": "bot-bedrock", "namespace": NS},
        "spec": {"userName": "bot", "serviceName": BEDROCK, "credentialAgeDays": 30}
    }))
    .await;
    let r = h.wait_ready("bot-bedrock").await;
    let st = status(&r);
    assert_eq!(
        st.service_credential_alias.as_deref(),
        Some("bot-at-123456789012")
    );
    assert!(st.service_user_name.is_none());
    let created = st.create_date.unwrap().0;
    let expires = st.expiration_date.expect("expirationDate").0;
    assert_eq!(expires.as_second() - created.as_second(), 30 * 86400);

    let secret = h.secret("bot-bedrock").await.unwrap();
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    let d = data(&secret);
    assert_eq!(d["alias"], "bot-at-123456789012");
    assert!(d["secret"].starts_with("ABSK"));
    assert!(!d.contains_key("password"));
    assert!(h.secret_works(&secret, BEDROCK).await);
    h.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_api_key_is_reported_and_not_reactivated() {
    let h = Harness::start_with(Options {
        resync: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    h.apply(json!({
        "metadata": {"name": "short", "namespace": NS},
        "spec": {"userName": "bot", "serviceName": BEDROCK, "credentialAgeDays": 1}
    }))
    .await;
    h.wait_ready("short").await;
    h.emulator.advance_clock(Duration::from_secs(2 * 86400));
    let r = h.wait_for_reason("short", "Expired").await;
    assert_eq!(status(&r).credential_status.as_deref(), Some("Expired"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let creds = h.iam_credentials("bot", BEDROCK).await;
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].status().as_str(), "Expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_renders_extra_keys() {
    let h = Harness::start().await;
    h.apply(json!({
        "metadata": {"name": "tpl", "namespace": NS},
        "spec": {
            "userName": "sofia", "serviceName": CODECOMMIT,
            "secret": {"name": "git-creds", "template": {
                "type": "Opaque",
                "labels": {"team": "a"},
                "data": {".git-credentials": "https://{{ username | urlencode }}:{{ password | urlencode }}@git-codecommit.eu-west-1.amazonaws.com"}
            }}
        }
    }))
    .await;
    h.wait_ready("tpl").await;
    let secret = h
        .secret("git-creds")
        .await
        .expect("Secret under spec.secret.name");
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    assert_eq!(secret.labels()["team"], "a");
    let d = data(&secret);
    let expected = format!(
        "https://{}:{}@git-codecommit.eu-west-1.amazonaws.com",
        d["username"],
        d["password"]
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    assert_eq!(d[".git-credentials"], expected);
    h.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_the_secret_moves_the_credential_without_a_reset() {
    let h = Harness::start().await;
    h.apply(codecommit("moving", "sofia")).await;
    h.wait_ready("moving").await;
    let before = h.secret("moving").await.unwrap();
    h.patch_spec("moving", json!({"spec": {"secret": {"name": "moved"}}}))
        .await;
    let r = h
        .wait_for("moving", "secretName moved", |r| {
            status(r).secret_name.as_deref() == Some("moved")
                && status(r).observed_generation == Some(2)
        })
        .await;
    assert_eq!(r.ready_condition().unwrap().status, "True");
    let after = h.wait_secret("moved", |_| true).await;
    assert_eq!(
        login_and_secret(&after),
        login_and_secret(&before),
        "no reset"
    );
    assert!(h.secret_works(&after, CODECOMMIT).await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.secret("moving").await.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "old Secret not deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A template type change replaces the Secret (type is immutable) without a reset.
    h.patch_spec(
        "moving",
        json!({"spec": {"secret": {"template": {"type": "Opaque"}}}}),
    )
    .await;
    let opaque = h
        .wait_secret("moved", |s| s.type_.as_deref() == Some("Opaque"))
        .await;
    assert_eq!(login_and_secret(&opaque), login_and_secret(&before));
}

/// The Secret's `issued-at` annotation, parsed.
fn issued_at(secret: &Secret) -> jiff::Timestamp {
    let value = secret
        .annotations()
        .get("iam.ssc-operator.dev/issued-at")
        .unwrap_or_else(|| panic!("no issued-at: {:?}", secret.annotations()));
    value.parse().unwrap_or_else(|e| panic!("{value}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_says_when_its_credential_was_issued_and_only_a_new_one_changes_it() {
    let h = Harness::start().await;
    h.apply(codecommit("issued", "sofia")).await;
    h.wait_ready("issued").await;
    let first = h.secret("issued").await.unwrap();
    let issued = issued_at(&first);
    let age = jiff::Timestamp::now().duration_since(issued);
    assert!(
        age >= jiff::SignedDuration::ZERO && age < jiff::SignedDuration::from_secs(60),
        "issued {issued}, {age:?} ago"
    );
    // A re-render of the same credential keeps it.
    h.patch_spec(
        "issued",
        json!({"spec": {"secret": {"template": {"labels": {"team": "a"}}}}}),
    )
    .await;
    let relabeled = h
        .wait_secret("issued", |s| s.labels().get("team").is_some())
        .await;
    assert_eq!(login_and_secret(&relabeled), login_and_secret(&first));
    assert_eq!(issued_at(&relabeled), issued);
    // A rotation changes it.
    h.request_rotation("issued", "1").await;
    let rotated = h
        .wait_secret("issued", |s| {
            login_and_secret(s) != login_and_secret(&first)
        })
        .await;
    assert!(issued_at(&rotated) > issued, "{:?}", rotated.annotations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_credential_reports_limit_exceeded_without_hot_looping() {
    let h = Harness::start().await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let out = h
            .iam_sdk
            .create_service_specific_credential()
            .user_name("developer")
            .service_name(CODECOMMIT)
            .send()
            .await
            .unwrap();
        held.push(
            out.service_specific_credential()
                .unwrap()
                .service_specific_credential_id()
                .to_string(),
        );
    }
    h.apply(codecommit("dev-git", "developer")).await;
    let r = h.wait_for_reason("dev-git", "LimitExceeded").await;
    let message = &r.ready_condition().unwrap().message;
    for id in &held {
        assert!(
            message.contains(id.as_str()),
            "message names {id}: {message}"
        );
    }
    assert_eq!(status(&r).slots_used, Some(2));
    assert!(h.secret("dev-git").await.is_none());
    // No hot loop: over three seconds, at most one more look.
    h.kube.clear_requests();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status_writes = h
        .kube
        .requests()
        .into_iter()
        .filter(|q| q.resource == "servicespecificcredentials")
        .count();
    assert!(status_writes <= 2, "{status_writes} requests in 3s");
    assert_eq!(h.iam_credentials("developer", CODECOMMIT).await.len(), 2);
    assert!(
        h.event_reasons("dev-git")
            .await
            .contains(&"LimitExceeded".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_user_reports_user_not_found() {
    let h = Harness::start().await;
    h.apply(codecommit("ghost", "nobody")).await;
    let r = h.wait_for_reason("ghost", "UserNotFound").await;
    assert_eq!(r.ready_condition().unwrap().status, "False");
    assert!(r.ready_condition().unwrap().message.contains("nobody"));
    assert!(h.secret("ghost").await.is_none());
    assert!(
        h.event_reasons("ghost")
            .await
            .contains(&"UserNotFound".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_service_is_rejected_by_the_schema() {
    let h = Harness::start().await;
    let bad: ssc_operator::ServiceSpecificCredential = serde_json::from_value(json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
        "metadata": {"name": "bad", "namespace": NS},
        "spec": {"userName": "sofia", "serviceName": "codecommit.amazonaws.com"}
    }))
    .unwrap();
    let mut raw = serde_json::to_value(&bad).unwrap();
    raw["spec"]["serviceName"] = json!("lambda.amazonaws.com");
    let api = h.untyped_resources(h.client());
    let obj: kube::api::DynamicObject = serde_json::from_value(raw).unwrap();
    let err = api.create(&PostParams::default(), &obj).await.unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 422);
            assert!(
                status.message.contains("spec.serviceName"),
                "{}",
                status.message
            );
            assert!(
                status.message.contains("codecommit.amazonaws.com"),
                "{}",
                status.message
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_iam_does_not_offer_reports_service_not_supported() {
    let h = Harness::start_with(Options {
        disabled_services: vec!["logs.amazonaws.com"],
        ..Options::default()
    })
    .await;
    h.apply(json!({
        "metadata": {"name": "logs-key", "namespace": NS},
        "spec": {"userName": "bot", "serviceName": "logs.amazonaws.com"}
    }))
    .await;
    let r = h.wait_for_reason("logs-key", "ServiceNotSupported").await;
    assert!(
        r.ready_condition()
            .unwrap()
            .message
            .contains("logs.amazonaws.com")
    );
    assert!(h.secret("logs-key").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_outage_reports_iam_unavailable_then_recovers() {
    let h = Harness::start().await;
    h.emulator.inject(iam_emulator::InjectedFault {
        action: None,
        kind: iam_emulator::FaultKind::ServerError(503),
        count: 6,
    });
    h.apply(codecommit("outage", "sofia")).await;
    h.wait_for_reason("outage", "IamUnavailable").await;
    h.wait_ready("outage").await;
    assert_eq!(h.iam_credentials("sofia", CODECOMMIT).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_with_delete_policy_removes_the_iam_credential() {
    let h = Harness::start().await;
    h.apply(codecommit("gone", "anika")).await;
    h.wait_ready("gone").await;
    assert_eq!(h.iam_credentials("anika", CODECOMMIT).await.len(), 1);
    h.delete("gone").await;
    h.wait_gone("gone").await;
    assert!(h.iam_credentials("anika", CODECOMMIT).await.is_empty());
    // The Secret goes with its owner (garbage collection).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.secret("gone").await.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Secret not garbage-collected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_with_retain_policy_keeps_the_iam_credential() {
    let h = Harness::start().await;
    let mut m = codecommit("kept", "anika");
    m["spec"]["deletionPolicy"] = json!("Retain");
    h.apply(m).await;
    let r = h.wait_ready("kept").await;
    let id = status(&r).credential_id.unwrap();
    h.delete("kept").await;
    h.wait_gone("kept").await;
    let creds = h.iam_credentials("anika", CODECOMMIT).await;
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].service_specific_credential_id(), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_status_inactive_is_applied_in_iam() {
    let h = Harness::start().await;
    h.apply(codecommit("toggle", "sofia")).await;
    h.wait_ready("toggle").await;
    let secret = h.secret("toggle").await.unwrap();
    h.patch_spec("toggle", json!({"spec": {"status": "Inactive"}}))
        .await;
    let r = h
        .wait_for("toggle", "credentialStatus Inactive", |r| {
            status(r).credential_status.as_deref() == Some("Inactive")
                && r.ready_condition().is_some_and(|c| c.status == "True")
                && status(r).observed_generation == Some(2)
        })
        .await;
    assert_eq!(r.metadata.generation, Some(2));
    let (login, password) = login_and_secret(&secret);
    assert_eq!(
        h.check(CODECOMMIT, &login, &password).await["reason"],
        "inactive"
    );
    h.patch_spec("toggle", json!({"spec": {"status": "Active"}}))
        .await;
    h.wait_for("toggle", "Active again", |r| {
        status(r).credential_status.as_deref() == Some("Active")
            && status(r).observed_generation == Some(3)
    })
    .await;
    assert!(
        h.secret_works(&secret, CODECOMMIT).await,
        "same password works again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_deleted_out_of_band_is_recreated() {
    // Drift is found at the next resync, from the service's snapshot (a watch event of the
    // resource alone does not list IAM again).
    let h = Harness::start_with(Options {
        resync: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    h.apply(codecommit("oob", "sofia")).await;
    h.wait_ready("oob").await;
    let r = h.delete_credential_and_wait_for_a_new_one("oob").await;
    let second = status(&r).credential_id.unwrap();
    let secret = h
        .wait_secret("oob", |s| {
            s.annotations().get("iam.ssc-operator.dev/credential-id") == Some(&second)
        })
        .await;
    assert!(h.secret_works(&secret, CODECOMMIT).await);
    assert_eq!(h.iam_credentials("sofia", CODECOMMIT).await.len(), 1);
    assert!(
        h.event_reasons("oob")
            .await
            .contains(&"CredentialRecreated".to_string())
    );
    h.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_status_changed_out_of_band_is_set_back() {
    let h = Harness::start_with(Options {
        resync: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    h.apply(codecommit("drift", "sofia")).await;
    let id = status(&h.wait_ready("drift").await).credential_id.unwrap();
    h.iam_sdk
        .update_service_specific_credential()
        .user_name("sofia")
        .service_specific_credential_id(&id)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let creds = h.iam_credentials("sofia", CODECOMMIT).await;
        if creds[0].status().as_str() == "Active" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "status not set back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        h.event_reasons("drift")
            .await
            .contains(&"CredentialStatusUpdated".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_or_edited_secret_is_repaired_with_a_reset() {
    let h = Harness::start().await;
    h.apply(codecommit("repair", "sofia")).await;
    let id = status(&h.wait_ready("repair").await).credential_id.unwrap();
    let original = h.secret("repair").await.unwrap();

    h.secrets()
        .delete("repair", &Default::default())
        .await
        .unwrap();
    let rewritten = h
        .wait_secret("repair", |s| {
            login_and_secret(s).1 != login_and_secret(&original).1
        })
        .await;
    assert!(h.secret_works(&rewritten, CODECOMMIT).await);
    assert!(
        !h.secret_works(&original, CODECOMMIT).await,
        "the old password is gone"
    );
    assert_eq!(
        h.iam_credentials("sofia", CODECOMMIT).await.len(),
        1,
        "same credential, reset"
    );
    assert_eq!(
        rewritten.annotations()["iam.ssc-operator.dev/credential-id"],
        id
    );

    // Edit the password key.
    let mut edited = rewritten.clone();
    edited.data.as_mut().unwrap().insert(
        "password".into(),
        k8s_openapi::ByteString(b"hunter2".to_vec()),
    );
    h.secrets()
        .replace("repair", &PostParams::default(), &edited)
        .await
        .unwrap();
    let repaired = h
        .wait_secret("repair", |s| {
            let p = login_and_secret(s).1;
            p != "hunter2" && p != login_and_secret(&rewritten).1
        })
        .await;
    assert!(h.secret_works(&repaired, CODECOMMIT).await);
    assert!(
        h.event_reasons("repair")
            .await
            .contains(&"SecretRepaired".to_string())
    );
    h.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_secret_is_never_overwritten() {
    let h = Harness::start().await;
    h.create_foreign_secret("taken", json!({"password": "not-yours"}))
        .await;
    h.apply(codecommit("taken", "sofia")).await;
    let r = h.wait_for_reason("taken", "SecretConflict").await;
    assert_eq!(r.ready_condition().unwrap().status, "False");
    assert!(
        h.iam_credentials("sofia", CODECOMMIT).await.is_empty(),
        "no IAM call made"
    );
    assert_eq!(
        data(&h.secret("taken").await.unwrap())["password"],
        "not-yours"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenancy_blocks_users_the_namespace_does_not_allow() {
    let h = Harness::start_with(Options {
        allowed_users: Some("team-a-*, SOFIA"),
        ..Options::default()
    })
    .await;
    h.apply(codecommit("not-mine", "developer")).await;
    let r = h.wait_for_reason("not-mine", "NotPermitted").await;
    assert!(r.ready_condition().unwrap().message.contains("developer"));
    assert!(h.iam_credentials("developer", CODECOMMIT).await.is_empty());
    // Case-insensitive, as IAM user names are.
    h.apply(codecommit("mine", "sofia")).await;
    h.wait_ready("mine").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenancy_without_annotation_denies_and_permissive_allows() {
    let h = Harness::start_with(Options {
        allowed_users: None,
        ..Options::default()
    })
    .await;
    h.apply(codecommit("denied", "sofia")).await;
    h.wait_for_reason("denied", "NotPermitted").await;
    drop(h);
    let h = Harness::start_with(Options {
        allowed_users: None,
        policy: PolicyMode::Permissive,
        ..Options::default()
    })
    .await;
    h.apply(codecommit("allowed", "sofia")).await;
    h.wait_ready("allowed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_backs_off_and_recovers() {
    let h = Harness::start().await;
    // More throttles than the SDK's own retries.
    h.emulator.inject(iam_emulator::InjectedFault {
        action: Some("ListServiceSpecificCredentials".into()),
        kind: iam_emulator::FaultKind::Throttle,
        count: 4,
    });
    h.apply(codecommit("slow", "sofia")).await;
    h.wait_for_reason("slow", "Throttled").await;
    h.wait_ready("slow").await;
    assert!(
        h.event_reasons("slow")
            .await
            .contains(&"Throttled".to_string())
    );
    assert_eq!(h.iam_credentials("sofia", CODECOMMIT).await.len(), 1);
}

/// The crash window the order of writes leaves: after Create, before the operator's record
/// names the id (the record is written before status, so status does not name it either).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_create_and_recording_the_id_adopts_instead_of_duplicating() {
    let mut h = Harness::start().await;
    // Every record write naming the credential fails: the first operator dies with the password
    // only in its memory.
    h.kube.fail_next(
        RequestMatcher::any()
            .verb("update")
            .resource("credentialrecords")
            .body_contains("credentialId"),
        500,
        usize::MAX,
    );
    h.apply(codecommit("crashy", "sofia")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while h.iam_credentials("sofia", CODECOMMIT).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Create never happened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = h.get("crashy").await.unwrap();
    let holding = record_of(&h, &r).await.spec.holding;
    assert!(holding.create_requested_at.is_some(), "the intent recorded");
    assert!(holding.credential_id.is_none(), "the record write failed");
    assert!(status(&r).credential_id.is_none(), "status never named it");
    assert!(
        h.secret("crashy").await.is_none(),
        "no Secret before status"
    );
    h.kill_operator().await;
    h.kube.clear_faults();
    h.start_operator().await;
    let r = h.wait_ready("crashy").await;
    let creds = h.iam_credentials("sofia", CODECOMMIT).await;
    assert_eq!(creds.len(), 1, "at most one credential per resource");
    assert_eq!(
        status(&r).credential_id.as_deref(),
        Some(creds[0].service_specific_credential_id())
    );
    let secret = h.secret("crashy").await.unwrap();
    assert!(
        h.secret_works(&secret, CODECOMMIT).await,
        "the password is not lost"
    );
    assert!(
        h.event_reasons("crashy")
            .await
            .contains(&"CredentialAdopted".to_string())
    );
    let r = h
        .wait_for("crashy", "intent marker cleared", |r| {
            status(r).create_requested_at.is_none()
        })
        .await;
    assert!(status(&r).credentials_before_create.is_empty());
    h.assert_no_secret_leaks().await;
}

/// The crash windows of the record: after the record announces the Create and before IAM takes
/// it (an answer that never came: the Create is in doubt), and after the record names the new
/// credential and its Secret is written but before status names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_the_record_and_status_loses_nothing_and_leaves_one_credential() {
    for window in ["the intent recorded", "the credential recorded"] {
        let mut h = Harness::start_with(Options {
            iam_journal: true,
            ..Options::default()
        })
        .await;
        if window == "the intent recorded" {
            h.emulator.inject(iam_emulator::InjectedFault {
                action: Some("CreateServiceSpecificCredential".into()),
                kind: iam_emulator::FaultKind::ServerError(500),
                count: u32::MAX,
            });
        } else {
            h.kube.fail_next(
                RequestMatcher::any()
                    .verb("patch")
                    .resource("servicespecificcredentials")
                    .subresource("status")
                    .body_contains("credentialId"),
                500,
                usize::MAX,
            );
        }
        h.apply(codecommit("between", "sofia")).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let kube_failed = h
                .kube
                .requests()
                .iter()
                .any(|r| r.resource == "servicespecificcredentials" && r.status == 500);
            let create_failed = h
                .emulator
                .journal()
                .iter()
                .any(|e| e.action == "CreateServiceSpecificCredential" && e.status == 500);
            if kube_failed || create_failed {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{window}: no failed write"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        h.kill_operator().await;
        h.kube.clear_faults();
        reqwest::Client::new()
            .delete(format!(
                "{}/_emulator/faults/inject",
                h.emulator.endpoint_url()
            ))
            .send()
            .await
            .expect("clear the injected faults");
        h.start_operator().await;
        let r = h.wait_ready("between").await;
        let creds = h.iam_credentials("sofia", CODECOMMIT).await;
        assert_eq!(creds.len(), 1, "{window}: {creds:?}");
        assert_eq!(
            status(&r).credential_id.as_deref(),
            Some(creds[0].service_specific_credential_id()),
            "{window}"
        );
        let secret = h.secret("between").await.unwrap();
        assert!(h.secret_works(&secret, CODECOMMIT).await, "{window}");
        h.assert_no_secret_leaks().await;
    }
}

/// The operator's record of `resource` (what ownership and crash recovery rest on).
async fn record_of(h: &Harness, resource: &ServiceSpecificCredential) -> CredentialRecord {
    let uid = resource.uid().expect("a uid");
    Api::<CredentialRecord>::all(h.client())
        .get(&ssc_operator::record_name(&uid))
        .await
        .expect("the record")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_recording_the_id_and_the_secret_write_repairs_the_secret() {
    let mut h = Harness::start().await;
    h.kube.fail_next(
        RequestMatcher::any()
            .verb("create")
            .resource("secrets")
            .not_dry_run(),
        500,
        usize::MAX,
    );
    h.apply(codecommit("no-secret", "sofia")).await;
    let r = h
        .wait_for("no-secret", "id recorded", |r| {
            status(r).credential_id.is_some()
        })
        .await;
    let id = status(&r).credential_id.unwrap();
    h.kill_operator().await;
    h.kube.clear_faults();
    h.start_operator().await;
    let r = h.wait_ready("no-secret").await;
    assert_eq!(status(&r).credential_id.as_deref(), Some(id.as_str()));
    assert_eq!(h.iam_credentials("sofia", CODECOMMIT).await.len(), 1);
    let secret = h.secret("no-secret").await.unwrap();
    assert!(h.secret_works(&secret, CODECOMMIT).await);
    h.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_secret_write_and_status_write_keeps_the_first_password() {
    let mut h = Harness::start().await;
    // The status write that reports Ready fails, then the operator dies.
    h.kube.fail_next(
        RequestMatcher::any()
            .verb("patch")
            .resource("servicespecificcredentials")
            .subresource("status")
            .body_contains("\"reason\":\"Available\""),
        500,
        usize::MAX,
    );
    h.apply(codecommit("halfway", "sofia")).await;
    let secret = h.wait_secret("halfway", |_| true).await;
    let r = h.get("halfway").await.unwrap();
    assert!(
        record_of(&h, &r).await.spec.holding.credential_id.is_some(),
        "recorded before the Secret"
    );
    h.kill_operator().await;
    h.kube.clear_faults();
    h.start_operator().await;
    let r = h.wait_ready("halfway").await;
    let creds = h.iam_credentials("sofia", CODECOMMIT).await;
    assert_eq!(creds.len(), 1);
    assert_eq!(
        status(&r).credential_id.as_deref(),
        Some(creds[0].service_specific_credential_id())
    );
    assert!(status(&r).create_requested_at.is_none());
    let now = h.secret("halfway").await.unwrap();
    assert_eq!(
        login_and_secret(&now),
        login_and_secret(&secret),
        "no reset was needed"
    );
    assert!(h.secret_works(&now, CODECOMMIT).await);
    let reasons = h.event_reasons("halfway").await;
    assert!(
        !reasons.contains(&"CredentialAdopted".to_string()),
        "{reasons:?}"
    );
    assert!(
        !reasons.contains(&"SecretRepaired".to_string()),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_annotation_resets_once() {
    let h = Harness::start().await;
    h.apply(codecommit("rot", "sofia")).await;
    h.wait_ready("rot").await;
    let before = h.secret("rot").await.unwrap();
    h.request_rotation("rot", "1732280000").await;
    let r = h
        .wait_for("rot", "rotation handled", |r| {
            status(r).handled_rotate_request.as_deref() == Some("1732280000")
        })
        .await;
    assert!(status(&r).last_rotation_time.is_some());
    let after = h
        .wait_secret("rot", |s| login_and_secret(s) != login_and_secret(&before))
        .await;
    assert!(h.secret_works(&after, CODECOMMIT).await);
    assert!(!h.secret_works(&before, CODECOMMIT).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        login_and_secret(&h.secret("rot").await.unwrap()),
        login_and_secret(&after),
        "once per value"
    );
    h.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_template_reports_invalid_spec_without_leaking() {
    let h = Harness::start().await;
    h.apply(json!({
        "metadata": {"name": "badtpl", "namespace": NS},
        "spec": {"userName": "sofia", "serviceName": CODECOMMIT,
                 "secret": {"template": {"data": {"x": "{{ password | nosuchfilter }}"}}}}
    }))
    .await;
    let r = h.wait_for_reason("badtpl", "InvalidSpec").await;
    assert!(r.ready_condition().unwrap().message.contains("\"x\""));
    assert!(h.iam_credentials("sofia", CODECOMMIT).await.is_empty());
}

async fn wait_iam_count(h: &Harness, user: &str, service: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while h.iam_credentials(user, service).await.len() != n {
        if tokio::time::Instant::now() > deadline {
            let resources = h.resources().list(&Default::default()).await.unwrap();
            panic!(
                "{user} never held {n} credentials; resources: {}; events: {:?}",
                serde_json::to_string(
                    &resources
                        .items
                        .iter()
                        .map(|r| &r.status)
                        .collect::<Vec<_>>()
                )
                .unwrap(),
                h.events()
                    .await
                    .iter()
                    .map(|e| (e.reason.clone(), e.note.clone()))
                    .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_rotation_keeps_the_old_credential_for_the_grace_period() {
    let h = Harness::start().await;
    let mut m = codecommit("blue-green", "sofia");
    m["spec"]["rotation"] = json!({"strategy": "Recreate", "gracePeriod": "3s"});
    h.apply(m).await;
    let old_id = status(&h.wait_ready("blue-green").await)
        .credential_id
        .unwrap();
    let old_secret = h.secret("blue-green").await.unwrap();
    h.request_rotation("blue-green", "1").await;
    let r = h
        .wait_for(
            "blue-green",
            "a new credential with the old one retiring",
            |r| {
                status(r)
                    .credential_id
                    .as_deref()
                    .is_some_and(|id| id != old_id)
                    && status(r).retiring_credential_id.as_deref() == Some(old_id.as_str())
            },
        )
        .await;
    assert_eq!(status(&r).handled_rotate_request.as_deref(), Some("1"));
    assert_eq!(r.ready_condition().unwrap().status, "True");
    let new_id = status(&r).credential_id.unwrap();
    let new_secret = h
        .wait_secret("blue-green", |s| {
            s.annotations().get("iam.ssc-operator.dev/credential-id") == Some(&new_id)
        })
        .await;
    assert_eq!(
        data(&new_secret)["username"],
        "sofia+1-at-123456789012",
        "the second slot"
    );
    assert!(h.secret_works(&new_secret, CODECOMMIT).await);
    assert!(
        h.secret_works(&old_secret, CODECOMMIT).await,
        "the old password works during the grace period"
    );
    assert_eq!(h.iam_credentials("sofia", CODECOMMIT).await.len(), 2);

    // After the grace period the old credential is deleted, on time.
    wait_iam_count(&h, "sofia", CODECOMMIT, 1).await;
    assert!(!h.secret_works(&old_secret, CODECOMMIT).await);
    assert!(h.secret_works(&new_secret, CODECOMMIT).await);
    let r = h
        .wait_for("blue-green", "retirement recorded", |r| {
            status(r).retiring_credential_id.is_none()
        })
        .await;
    assert_eq!(status(&r).credential_id.as_deref(), Some(new_id.as_str()));
    let reasons = h.event_reasons("blue-green").await;
    assert!(
        reasons.contains(&"CredentialRotated".to_string()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"CredentialRetired".to_string()),
        "{reasons:?}"
    );
    h.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_renewed_before_they_expire() {
    let h = Harness::start().await;
    // A 1-day key renewed 23h59m52s before it expires: due 8 s after creation.
    h.apply(json!({
        "metadata": {"name": "renewing", "namespace": NS},
        "spec": {"userName": "bot", "serviceName": BEDROCK, "credentialAgeDays": 1,
                 "rotation": {"beforeExpiry": "23h59m52s", "gracePeriod": "1s"}}
    }))
    .await;
    let first = status(&h.wait_ready("renewing").await);
    let first_id = first.credential_id.clone().unwrap();
    // status says when: expiry minus beforeExpiry.
    let expires = first.expiration_date.clone().unwrap().0;
    assert_eq!(
        first.next_rotation_time.map(|t| t.0),
        expires
            .checked_sub(jiff::SignedDuration::from_secs(23 * 3600 + 59 * 60 + 52))
            .ok()
    );
    let old_secret = h.secret("renewing").await.unwrap();
    let r = h
        .wait_for("renewing", "a renewed key", |r| {
            status(r)
                .credential_id
                .as_deref()
                .is_some_and(|id| id != first_id)
        })
        .await;
    let renewed = status(&r);
    assert!(renewed.expiration_date.unwrap().0 > first.expiration_date.unwrap().0);
    let secret = h
        .wait_secret("renewing", |s| {
            s.annotations().get("iam.ssc-operator.dev/credential-id")
                == renewed.credential_id.as_ref()
        })
        .await;
    assert!(h.secret_works(&secret, BEDROCK).await);
    // The old key retires after its 1 s grace period.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.secret_works(&old_secret, BEDROCK).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "old key never retired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_during_recreate_rotation_leaves_one_credential_and_a_working_secret() {
    let mut h = Harness::start().await;
    let mut m = codecommit("rot-crash", "sofia");
    m["spec"]["rotation"] = json!({"strategy": "Recreate", "gracePeriod": "2s"});
    h.apply(m).await;
    let old_id = status(&h.wait_ready("rot-crash").await)
        .credential_id
        .unwrap();
    // The Secret update of the rotation fails; the operator dies after creating the new credential.
    h.kube.fail_next(
        RequestMatcher::any()
            .verb("update")
            .resource("secrets")
            .not_dry_run(),
        500,
        usize::MAX,
    );
    h.request_rotation("rot-crash", "1").await;
    wait_iam_count(&h, "sofia", CODECOMMIT, 2).await;
    h.kill_operator().await;
    h.kube.clear_faults();
    h.start_operator().await;
    let r = h
        .wait_for("rot-crash", "rotation completed", |r| {
            status(r)
                .credential_id
                .as_deref()
                .is_some_and(|id| id != old_id)
                && r.ready_condition().is_some_and(|c| c.status == "True")
        })
        .await;
    let new_id = status(&r).credential_id.unwrap();
    let secret = h
        .wait_secret("rot-crash", |s| {
            s.annotations().get("iam.ssc-operator.dev/credential-id") == Some(&new_id)
        })
        .await;
    assert!(
        h.secret_works(&secret, CODECOMMIT).await,
        "the new password is not lost"
    );
    assert!(
        h.iam_credentials("sofia", CODECOMMIT).await.len() <= 2,
        "never a third"
    );
    wait_iam_count(&h, "sofia", CODECOMMIT, 1).await;
    let remaining = h.iam_credentials("sofia", CODECOMMIT).await;
    assert_eq!(remaining[0].service_specific_credential_id(), new_id);
}

/// The status write naming a Recreate's new credential fails once (an API server error) after
/// the record took it: the record is ahead of status, which never said the request was handled,
/// and the Secret still holds the old credential. The rotation completes all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreate_whose_status_write_failed_completes_its_rotation() {
    let h = Harness::start().await;
    let mut m = codecommit("rot-lost", "sofia");
    m["spec"]["rotation"] = json!({"strategy": "Recreate", "gracePeriod": "2s"});
    h.apply(m).await;
    let old_id = status(&h.wait_ready("rot-lost").await)
        .credential_id
        .unwrap();
    h.kube.fail_next(
        RequestMatcher::any()
            .verb("patch")
            .resource("servicespecificcredentials")
            .subresource("status")
            .name("rot-lost"),
        500,
        1,
    );
    h.request_rotation("rot-lost", "1").await;
    let r = h
        .wait_for("rot-lost", "rotation handled and delivered", |r| {
            let st = status(r);
            st.handled_rotate_request.as_deref() == Some("1")
                && st.credential_id.as_deref().is_some_and(|id| id != old_id)
                && r.ready_condition()
                    .is_some_and(|c| c.status == "True" && c.message.is_empty())
        })
        .await;
    let new_id = status(&r).credential_id.unwrap();
    let secret = h
        .wait_secret("rot-lost", |s| {
            s.annotations().get("iam.ssc-operator.dev/credential-id") == Some(&new_id)
        })
        .await;
    assert!(h.secret_works(&secret, CODECOMMIT).await);
    wait_iam_count(&h, "sofia", CODECOMMIT, 1).await;
    let remaining = h.iam_credentials("sofia", CODECOMMIT).await;
    assert_eq!(remaining[0].service_specific_credential_id(), new_id);
    assert_eq!(
        h.iam_call_count("CreateServiceSpecificCredential"),
        2,
        "one Create for the rotation, no second one"
    );
}

/// A lagging watch hands the controller stale copies of the resource right after its own writes.
/// Acting on one must neither undo a newer status nor repeat an IAM mutation already done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_cache_neither_undoes_status_nor_repeats_iam_changes() {
    let h = Harness::start_with(Options {
        watch_lag: Duration::from_millis(400),
        ..Options::default()
    })
    .await;
    h.apply(codecommit("lagged", "sofia")).await;
    h.wait_ready("lagged").await;
    // Long enough for every stale requeue to have run.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = h.get("lagged").await.unwrap();
    let st = status(&r);
    assert!(st.create_requested_at.is_none(), "intent marker cleared");
    assert_eq!(r.ready_condition().unwrap().reason, "Available");
    assert_eq!(h.iam_call_count("CreateServiceSpecificCredential"), 1);
    assert_eq!(
        h.iam_call_count("ResetServiceSpecificCredential"),
        0,
        "no adoption of its own fresh credential"
    );
    let first = h.secret("lagged").await.unwrap();
    assert!(h.secret_works(&first, CODECOMMIT).await);

    h.request_rotation("lagged", "r1").await;
    h.wait_for("lagged", "rotation handled", |r| {
        status(r).handled_rotate_request.as_deref() == Some("r1")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.iam_call_count("ResetServiceSpecificCredential"),
        1,
        "one rotation per request"
    );
    let rotated = h.secret("lagged").await.unwrap();
    assert_ne!(login_and_secret(&rotated), login_and_secret(&first));
    assert!(h.secret_works(&rotated, CODECOMMIT).await);
    assert!(
        status(&h.get("lagged").await.unwrap())
            .create_requested_at
            .is_none()
    );
    assert_eq!(h.iam_credentials("sofia", CODECOMMIT).await.len(), 1);
    h.assert_no_secret_leaks().await;
}

/// `--watch-namespace team-a,team-b`: both are reconciled, another namespace is left alone, and
/// every request stays inside the two (tests/deploy checks them against the chart's Roles).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_namespaces_scope_the_operator() {
    let h = Harness::start_with(Options {
        watch_namespaces: vec![NS, "team-b"],
        ..Options::default()
    })
    .await;
    let allow_all = [(ssc_operator::ALLOWED_USERS_ANNOTATION, "*")];
    h.kube.create_namespace("team-b", &allow_all).await;
    h.kube.create_namespace("team-c", &allow_all).await;
    let in_namespace =
        |ns: &str| kube::Api::<ssc_operator::ServiceSpecificCredential>::namespaced(h.client(), ns);
    for (ns, name, user) in [
        (NS, "a", "sofia"),
        ("team-b", "b", "developer"),
        ("team-c", "c", "anika"),
    ] {
        let manifest = json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1",
            "kind": "ServiceSpecificCredential",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"userName": user, "serviceName": CODECOMMIT}
        });
        in_namespace(ns)
            .create(
                &PostParams::default(),
                &serde_json::from_value(manifest).unwrap(),
            )
            .await
            .unwrap();
    }
    h.wait_ready("a").await;
    h.wait_for_in("team-b", "b", "Ready", |r| {
        r.ready_condition().is_some_and(|c| c.status == "True")
    })
    .await;
    let secret = kube::Api::<Secret>::namespaced(h.client(), "team-b")
        .get("b")
        .await
        .unwrap();
    assert!(h.secret_works(&secret, CODECOMMIT).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c = in_namespace("team-c").get("c").await.unwrap();
    assert!(c.status.is_none(), "team-c is not watched");
    assert!(c.finalizers().is_empty());
    assert!(h.iam_credentials("anika", CODECOMMIT).await.is_empty());
    let outside: Vec<String> = h
        .operator_requests()
        .into_iter()
        .filter(|r| !r.resource.is_empty())
        .filter(|r| {
            let scoped = r
                .namespace
                .as_deref()
                .is_some_and(|ns| ns == NS || ns == "team-b");
            // GET of the Namespace object itself is authorized inside that namespace.
            let own_namespace = r.resource == "namespaces"
                && r.name.as_deref().is_some_and(|n| n == NS || n == "team-b");
            // The operator's own records and the identities are cluster-scoped, whatever it
            // watches.
            let records = r.resource == "credentialrecords" || r.resource == "iamidentities";
            !(scoped || own_namespace || records)
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        outside.is_empty(),
        "requests outside the watched namespaces: {outside:?}"
    );
}

/// A requested Reset whose status write failed (a partition after the Secret write): the Secret
/// already holds the new password, and the next pass records the request as handled rather than
/// resetting again, which would kill the password workloads just got from the Secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_rotation_whose_status_write_failed_is_not_done_twice() {
    let h = Harness::start().await;
    h.apply(codecommit("reset-lost", "sofia")).await;
    h.wait_ready("reset-lost").await;
    let before = h.secret("reset-lost").await.unwrap();
    h.kube.fail_next(
        RequestMatcher::any()
            .verb("patch")
            .resource("servicespecificcredentials")
            .subresource("status")
            .name("reset-lost"),
        500,
        1,
    );
    h.request_rotation("reset-lost", "1").await;
    let r = h
        .wait_for("reset-lost", "rotation handled", |r| {
            status(r).handled_rotate_request.as_deref() == Some("1")
                && r.ready_condition()
                    .is_some_and(|c| c.status == "True" && c.message.is_empty())
        })
        .await;
    // Long enough for any second pass to have reset again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        h.iam_call_count("ResetServiceSpecificCredential"),
        1,
        "one Reset for one request"
    );
    // The fault hit the status write that followed the Reset's Secret write.
    let requests = h.kube.requests();
    let failed = requests
        .iter()
        .position(|r| r.subresource.as_deref() == Some("status") && r.status == 500)
        .expect("the status write failed");
    let asked = requests[..failed]
        .iter()
        .rposition(|r| {
            r.resource == "servicespecificcredentials"
                && r.subresource.is_none()
                && r.verb == "patch"
        })
        .expect("the rotation was asked before");
    assert!(
        requests[asked..failed]
            .iter()
            .any(|r| r.resource == "secrets" && r.verb == "update" && r.status == 200),
        "no Secret write between the request and the failed status write"
    );
    let after = h.secret("reset-lost").await.unwrap();
    assert_ne!(data(&after)["password"], data(&before)["password"]);
    assert!(h.secret_works(&after, CODECOMMIT).await);
    assert!(status(&r).last_rotation_time.is_some());
}
