//! The operator's own record: what a tenant can write — status under a namespace-wildcard Role,
//! finalizers, annotations — never decides which credential a resource owns; credentials whose
//! resource is gone are swept; a Create delivered after the operator gave up on it is settled;
//! revoking a namespace's right to a user revokes its credentials.

use std::time::Duration;

use iam_emulator::{FaultKind, InjectedFault};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use ssc_operator::{ALLOWED_USERS_ANNOTATION, ServiceSpecificCredential};

use crate::harness::{Harness, NS, Options, login_and_secret, status};
use crate::hostile::create_by_hand;

const CODECOMMIT: &str = "codecommit.amazonaws.com";
const OTHER_NS: &str = "team-b";

fn codecommit_in(ns: &str, name: &str, user: &str) -> serde_json::Value {
    json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1",
        "kind": "ServiceSpecificCredential",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"userName": user, "serviceName": CODECOMMIT}
    })
}

/// The wildcard tenant's view of its namespace's resources.
fn wildcard(h: &Harness) -> Api<ServiceSpecificCredential> {
    Api::namespaced(h.wildcard_tenant_client(), NS)
}

async fn wildcard_apply(h: &Harness, name: &str, user: &str) -> ServiceSpecificCredential {
    wildcard(h)
        .create(
            &PostParams::default(),
            &serde_json::from_value(codecommit_in(NS, name, user)).unwrap(),
        )
        .await
        .expect("the tenant creates the resource")
}

/// What a namespace-wildcard Role allows: any status, through the status subresource.
async fn forge_status(h: &Harness, name: &str, status: serde_json::Value) {
    wildcard(h)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .expect("a wildcard Role may write status");
}

async fn iam_ids(h: &Harness, user: &str) -> Vec<String> {
    h.iam_credentials(user, CODECOMMIT)
        .await
        .iter()
        .map(|c| c.service_specific_credential_id().to_string())
        .collect()
}

/// Waits up to `secs` for `done`; whether it came.
async fn eventually<F: std::future::Future<Output = bool>>(
    secs: u64,
    mut done: impl FnMut() -> F,
) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// Finding 1: a resource for a user the namespace may not use, its status pointed at another
/// user's credentials, then deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_status_cannot_make_cleanup_delete_another_users_credential() {
    let h = Harness::start_with(Options {
        allowed_users: Some("sofia"),
        ..Options::default()
    })
    .await;
    let (victim, login, password) = create_by_hand(&h, "developer").await;
    let (retiring_victim, _, _) = create_by_hand(&h, "developer").await;
    wildcard_apply(&h, "steal", "developer").await;
    h.wait_for_reason("steal", "NotPermitted").await;
    forge_status(
        &h,
        "steal",
        json!({"credentialId": victim, "retiringCredentialId": retiring_victim,
               "retireAfter": "2020-01-01T00:00:00Z"}),
    )
    .await;
    wildcard(&h)
        .delete("steal", &Default::default())
        .await
        .unwrap();
    h.wait_gone("steal").await;
    let left = iam_ids(&h, "developer").await;
    assert!(
        left.contains(&victim) && left.contains(&retiring_victim),
        "the victim's credentials were deleted: {left:?} left of {victim}, {retiring_victim}"
    );
    assert_eq!(
        h.check(CODECOMMIT, &login, &password).await["valid"],
        json!(true)
    );
    assert_eq!(h.iam_call_count("DeleteServiceSpecificCredential"), 0);
}

/// The same class on a resource the namespace may use: its status pointed at the credential
/// another namespace holds for the same user, then a rotation asked for and the resource
/// deleted. The operator must neither Reset the other credential (its new password would land
/// in the tenant's Secret) nor delete it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_status_cannot_rotate_or_delete_another_namespaces_credential() {
    let h = Harness::start().await;
    h.kube
        .create_namespace(OTHER_NS, &[(ALLOWED_USERS_ANNOTATION, "*")])
        .await;
    Api::<ServiceSpecificCredential>::namespaced(h.client(), OTHER_NS)
        .create(
            &PostParams::default(),
            &serde_json::from_value(codecommit_in(OTHER_NS, "theirs", "sofia")).unwrap(),
        )
        .await
        .unwrap();
    let theirs = h
        .wait_for_in(OTHER_NS, "theirs", "Ready", |r| {
            r.ready_condition().is_some_and(|c| c.status == "True")
        })
        .await;
    let their_id = status(&theirs).credential_id.unwrap();
    let their_secret = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(h.client(), OTHER_NS)
        .get("theirs")
        .await
        .unwrap();
    let (their_login, their_password) = login_and_secret(&their_secret);

    wildcard_apply(&h, "mine", "sofia").await;
    let mine = h.wait_ready("mine").await;
    let my_id = status(&mine).credential_id.unwrap();
    forge_status(&h, "mine", json!({"credentialId": their_id})).await;
    wildcard(&h)
        .patch(
            "mine",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"iam.ssc-operator.dev/rotate": "1"}}}),
            ),
        )
        .await
        .unwrap();
    h.wait_for("mine", "the rotation handled", |r| {
        status(r).handled_rotate_request.as_deref() == Some("1")
            && r.ready_condition().is_some_and(|c| c.status == "True")
    })
    .await;
    assert_eq!(
        h.check(CODECOMMIT, &their_login, &their_password).await["valid"],
        json!(true),
        "the other namespace's password was reset"
    );
    let mine = h.get("mine").await.unwrap();
    assert_eq!(
        status(&mine).credential_id.as_deref(),
        Some(my_id.as_str()),
        "status says what the record says again"
    );
    wildcard(&h)
        .delete("mine", &Default::default())
        .await
        .unwrap();
    h.wait_gone("mine").await;
    let left = iam_ids(&h, "sofia").await;
    assert_eq!(
        left,
        vec![their_id],
        "only the tenant's own credential is deleted"
    );
}

/// A sweep every half second, with a second's grace for a resource gone.
fn quick_sweep() -> ssc_operator::controller::SweepConfig {
    ssc_operator::controller::SweepConfig {
        interval: Duration::from_millis(500),
        orphan_grace: Duration::from_secs(1),
        ..Default::default()
    }
}

/// Finding 3: the finalizer removed while no replica ran, the resource deleted: its credential
/// is swept when the operator comes back. Run as the tenant whose Role is like the aggregated
/// `edit` (resources and Secrets, no status).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_whose_resource_went_without_cleanup_is_swept() {
    let mut h = Harness::start_with(Options {
        sweep: quick_sweep(),
        ..Options::default()
    })
    .await;
    h.apply(codecommit_in(NS, "kept", "sofia")).await;
    h.wait_ready("kept").await;
    h.apply(codecommit_in(NS, "gone", "sofia")).await;
    let gone = h.wait_ready("gone").await;
    let gone_id = status(&gone).credential_id.unwrap();
    assert!(h.stop_operator().await);
    let tenant = Api::<ServiceSpecificCredential>::namespaced(h.tenant_client(), NS);
    tenant
        .patch(
            "gone",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    tenant.delete("gone", &Default::default()).await.unwrap();
    h.wait_gone("gone").await;
    assert!(iam_ids(&h, "sofia").await.contains(&gone_id));
    h.start_operator().await;
    let swept = eventually(30, || async {
        !iam_ids(&h, "sofia").await.contains(&gone_id)
    })
    .await;
    let left = iam_ids(&h, "sofia").await;
    assert!(
        swept,
        "the credential of the vanished resource lives on: {left:?}"
    );
    let kept = h.get("kept").await.unwrap();
    assert_eq!(left, vec![status(&kept).credential_id.unwrap()], "{left:?}");
    assert!(kept.ready_condition().is_some_and(|c| c.status == "True"));
}

/// Finding 4: a network holds the Create for longer than the operator waits for it and
/// delivers it late. IAM's clock runs 90 s ahead of the operator's here, so the credential's
/// CreateDate falls outside the adoption window (60 s after the intent), as a Create held for
/// 90 s would: the operator recovers with a second Create. The credential IAM made late, which
/// nobody holds and whose password nobody has, is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_delivered_after_the_operator_gave_up_is_removed() {
    let h = Harness::start_with(Options {
        sweep: ssc_operator::controller::SweepConfig {
            interval: Duration::from_millis(500),
            settle: Duration::from_secs(1),
            ..Default::default()
        },
        ..Options::default()
    })
    .await;
    h.emulator.inject(InjectedFault {
        action: Some("CreateServiceSpecificCredential".into()),
        kind: FaultKind::DeliverLate(Duration::from_secs(15)),
        count: 1,
    });
    h.emulator.advance_clock(Duration::from_secs(90));
    h.apply(codecommit_in(NS, "late", "sofia")).await;
    // The held Create is carried out 15 s after it was sent; the operator gives up on it after
    // 30 s and creates again.
    let appeared = eventually(60, || async { iam_ids(&h, "sofia").await.len() == 2 }).await;
    assert!(appeared, "the late Create never arrived");
    let r = h.wait_ready("late").await;
    let held = status(&r).credential_id.unwrap();
    let settled = eventually(30, || async {
        iam_ids(&h, "sofia").await == vec![held.clone()]
    })
    .await;
    let left = iam_ids(&h, "sofia").await;
    assert!(
        settled,
        "the late Create's credential is left: {left:?} (held: {held})"
    );
    let secret = h.secret("late").await.unwrap();
    assert!(h.secret_works(&secret, CODECOMMIT).await);
}

/// Finding 2: removing the user from the namespace's allowance makes the credential Inactive
/// within one resync; restoring it makes it Active again with the same password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_namespaces_right_deactivates_and_restoring_it_reactivates() {
    let h = Harness::start_with(Options {
        allowed_users: Some("sofia"),
        resync: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    h.apply(codecommit_in(NS, "revoked", "sofia")).await;
    h.wait_ready("revoked").await;
    let secret = h.secret("revoked").await.unwrap();
    assert!(h.secret_works(&secret, CODECOMMIT).await);
    let set_allowed = |users: &'static str| {
        let client = h.client();
        async move {
            Api::<Namespace>::all(client)
                .patch(
                    NS,
                    &PatchParams::default(),
                    &Patch::Merge(
                        json!({"metadata": {"annotations": {ALLOWED_USERS_ANNOTATION: users}}}),
                    ),
                )
                .await
                .unwrap();
        }
    };
    set_allowed("anika").await;
    h.wait_for_reason("revoked", "NotPermitted").await;
    let revoked = eventually(10, || async { !h.secret_works(&secret, CODECOMMIT).await }).await;
    assert!(
        revoked,
        "the password still logs in after the right was revoked"
    );
    let listed = h.iam_credentials("sofia", CODECOMMIT).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status().as_str(), "Inactive");
    let r = h.get("revoked").await.unwrap();
    let message = r.ready_condition().unwrap().message.clone();
    assert!(message.contains("Inactive"), "{message}");

    set_allowed("sofia").await;
    h.wait_ready("revoked").await;
    let back = eventually(10, || async { h.secret_works(&secret, CODECOMMIT).await }).await;
    assert!(
        back,
        "the password does not work again after the right was restored"
    );
    assert_eq!(h.iam_call_count("ResetServiceSpecificCredential"), 0);
    h.assert_no_secret_leaks().await;
}

/// An upgrade from a version without records: the ids status names are taken into the record
/// once, only where IAM lists them for the user and no other resource holds them; nothing is
/// created or reset for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_older_than_the_records_is_taken_into_its_record_once() {
    let mut h = Harness::start().await;
    h.apply(codecommit_in(NS, "old", "sofia")).await;
    let old = h.wait_ready("old").await;
    let held = status(&old).credential_id.unwrap();
    let (by_hand, _, _) = create_by_hand(&h, "developer").await;
    wildcard_apply(&h, "forger", "anika").await;
    h.wait_ready("forger").await;
    assert!(h.stop_operator().await);
    // As a version without records left them: none.
    let records = Api::<ssc_operator::CredentialRecord>::all(h.client());
    for r in records.list(&Default::default()).await.unwrap() {
        records
            .delete(&r.metadata.name.unwrap(), &Default::default())
            .await
            .unwrap();
    }
    // Before the upgrade, the tenant wrote another user's credential into its status.
    forge_status(&h, "forger", json!({"credentialId": by_hand})).await;
    let resets = h.iam_call_count("ResetServiceSpecificCredential");
    // The upgrade comes later than the resources (creation times are whole seconds).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    h.start_operator().await;
    let uid = old.metadata.uid.clone().unwrap();
    let recorded = eventually(20, || async {
        records
            .get_opt(&uid)
            .await
            .unwrap()
            .is_some_and(|r| r.spec.holding.credential_id.as_deref() == Some(held.as_str()))
    })
    .await;
    assert!(
        recorded,
        "the held credential was not taken into the record"
    );
    let old = h.wait_ready("old").await;
    assert_eq!(status(&old).credential_id.as_deref(), Some(held.as_str()));
    let forger = h
        .wait_for("forger", "its own credential again", |r| {
            status(r)
                .credential_id
                .as_deref()
                .is_some_and(|id| id != by_hand)
                && r.ready_condition().is_some_and(|c| c.status == "True")
        })
        .await;
    assert_eq!(forger.spec.user_name, "anika");
    assert_eq!(
        h.iam_call_count("ResetServiceSpecificCredential"),
        resets,
        "nothing was reset: the by-hand credential is another user's, never taken"
    );
    assert!(iam_ids(&h, "developer").await.contains(&by_hand));
}

/// The wildcard tenant's view through untyped objects, which read whatever status holds.
fn wildcard_untyped(h: &Harness) -> Api<kube::api::DynamicObject> {
    h.untyped_resources(h.wildcard_tenant_client())
}

/// What a wildcard Role may write into status but the operator's types cannot read: a date
/// the schema's `date-time` takes and jiff does not (past 9999-12-30T22:00Z).
async fn forge_unreadable_status(h: &Harness, name: &str) {
    wildcard_untyped(h)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "expirationDate": "9999-12-31T00:00:00Z",
                "lastRotationTime": "9999-12-31T23:59:59Z"
            }})),
        )
        .await
        .expect("a wildcard Role may write status");
}

/// A status the operator cannot read is no shield: the pass decides from the spec and the
/// operator's record, revokes what the namespace may no longer use, writes status anew, and
/// cleans up on deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_status_shields_nothing_from_revocation_or_cleanup() {
    let h = Harness::start_with(Options {
        allowed_users: Some("sofia"),
        resync: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    wildcard_apply(&h, "shield", "sofia").await;
    h.wait_ready("shield").await;
    let secret = h.secret("shield").await.unwrap();
    assert!(h.secret_works(&secret, CODECOMMIT).await);
    forge_unreadable_status(&h, "shield").await;
    Api::<Namespace>::all(h.client())
        .patch(
            NS,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {ALLOWED_USERS_ANNOTATION: "anika"}}}),
            ),
        )
        .await
        .unwrap();
    let revoked = eventually(15, || async { !h.secret_works(&secret, CODECOMMIT).await }).await;
    assert!(
        revoked,
        "the password still logs in after the right was revoked behind an unreadable status"
    );
    // Status is the operator's again: readable, and saying why.
    let rewritten = eventually(10, || async {
        let status = &wildcard_untyped(&h).get("shield").await.unwrap().data["status"];
        status["expirationDate"].is_null()
            && status["lastRotationTime"].is_null()
            && status["conditions"].as_array().is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c["type"] == "Ready" && c["reason"] == "NotPermitted")
            })
    })
    .await;
    let status = &wildcard_untyped(&h).get("shield").await.unwrap().data["status"];
    assert!(rewritten, "status was not rewritten: {status}");

    forge_unreadable_status(&h, "shield").await;
    wildcard_untyped(&h)
        .delete("shield", &Default::default())
        .await
        .expect("delete accepted");
    let gone = eventually(15, || async {
        wildcard_untyped(&h)
            .get_opt("shield")
            .await
            .unwrap()
            .is_none()
    })
    .await;
    assert!(gone, "the resource was never let go");
    assert_eq!(iam_ids(&h, "sofia").await, Vec::<String>::new());
    h.assert_no_secret_leaks().await;
}

/// A newer CRD than this replica (as while an upgrade rolls out): a rotation strategy this
/// version does not know. The schema lets such a spec through; the operator reports it as
/// InvalidSpec with no AWS call, and deleting the resource is not held up: its record's
/// credential is swept once the resource is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_this_version_cannot_read_is_invalid_and_does_not_hold_its_deletion() {
    let mut crds = ssc_operator::all_crds();
    for crd in crds
        .iter_mut()
        .filter(|c| c.spec.names.kind == "ServiceSpecificCredential")
    {
        let mut value = serde_json::to_value(&*crd).unwrap();
        value
            .pointer_mut(
                "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/rotation/properties/strategy/enum",
            )
            .and_then(|e| e.as_array_mut())
            .expect("the strategy enum")
            .push(json!("BlueGreen"));
        *crd = serde_json::from_value(value).unwrap();
    }
    let h = Harness::start_with(Options {
        crds: Some(crds),
        sweep: quick_sweep(),
        ..Options::default()
    })
    .await;
    h.apply(codecommit_in(NS, "newer", "sofia")).await;
    let id = status(&h.wait_ready("newer").await).credential_id.unwrap();
    h.apply(codecommit_in(NS, "retained", "anika")).await;
    let retained_id = status(&h.wait_ready("retained").await)
        .credential_id
        .unwrap();
    let untyped = h.untyped_resources(h.client());
    untyped
        .patch(
            "newer",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"rotation": {"strategy": "BlueGreen"}}})),
        )
        .await
        .expect("the newer CRD takes it");
    // Retain asked for in the same edit that made the spec unreadable: the record still says
    // Delete, the spec says Retain.
    untyped
        .patch(
            "retained",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {
                "deletionPolicy": "Retain", "rotation": {"strategy": "BlueGreen"}
            }})),
        )
        .await
        .expect("the newer CRD takes it");
    let writes = [
        "CreateServiceSpecificCredential",
        "ResetServiceSpecificCredential",
        "DeleteServiceSpecificCredential",
    ]
    .map(|op| h.iam_call_count(op));
    let reported = eventually(10, || async {
        let status = &untyped.get("newer").await.unwrap().data["status"];
        status["conditions"].as_array().is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c["type"] == "Ready" && c["reason"] == "InvalidSpec" && c["observedGeneration"] == 2
            })
        })
    })
    .await;
    let status = &untyped.get("newer").await.unwrap().data["status"];
    assert!(reported, "not reported as InvalidSpec: {status}");
    assert_eq!(
        status["observedGeneration"], 1,
        "status claims a generation the operator never decided on"
    );
    // Said once: the report's own write does not make another.
    let version = untyped
        .get("newer")
        .await
        .unwrap()
        .metadata
        .resource_version;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        untyped
            .get("newer")
            .await
            .unwrap()
            .metadata
            .resource_version,
        version,
        "the InvalidSpec report keeps rewriting status"
    );
    assert_eq!(
        [
            "CreateServiceSpecificCredential",
            "ResetServiceSpecificCredential",
            "DeleteServiceSpecificCredential"
        ]
        .map(|op| h.iam_call_count(op)),
        writes,
        "an IAM write for a spec the operator cannot read"
    );

    untyped
        .delete("newer", &Default::default())
        .await
        .expect("delete accepted");
    let gone = eventually(15, || async {
        untyped.get_opt("newer").await.unwrap().is_none()
    })
    .await;
    assert!(gone, "the resource's deletion is held up");
    let swept = eventually(30, || async { !iam_ids(&h, "sofia").await.contains(&id) }).await;
    assert!(swept, "the record's credential {id} was never swept");

    // Retained: deletion waits for a replica that reads the spec (the Secret's release needs
    // it), and the credential and its Secret stay.
    untyped
        .delete("retained", &Default::default())
        .await
        .expect("delete accepted");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waiting = untyped.get_opt("retained").await.unwrap();
    assert!(
        waiting.is_some_and(|r| r.metadata.deletion_timestamp.is_some()),
        "a retained credential's resource went before its Secret was released"
    );
    assert!(iam_ids(&h, "anika").await.contains(&retained_id));
    assert!(h.secret("retained").await.is_some());
}
