//! Least privilege: resources mint through IAMIdentities (roles the operator assumes, in any
//! account), the enforcing emulator holds two accounts, and every test checks which principal
//! made which call in which account (the emulator's journal).

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use ssc_operator::IAMIdentity;
use ssc_operator::ServiceSpecificCredential;

use crate::harness::{self, Harness, NS, Options, status};

const B: &str = "210987654321";
const OPERATOR_KEY: (&str, &str) = ("AKIDOPERATOR0000", "operator-secret");
const ROOT_B_KEY: (&str, &str) = ("AKIDROOTB0000000", "root-b-secret");
const OPERATOR_ARN: &str = "arn:aws:iam::123456789012:user/ssc-operator";
const TENANT_ROLE: &str = "arn:aws:iam::210987654321:role/ssc-tenant-team-b";
const CODECOMMIT: &str = "codecommit.amazonaws.com";

fn key(id: &str, secret: &str, user: &str, account: Option<&str>) -> iam_emulator::AccessKey {
    iam_emulator::AccessKey {
        access_key_id: id.into(),
        secret_access_key: secret.into(),
        user: Some(user.into()),
        account: account.map(str::to_string),
    }
}

/// Two accounts, enforcing: the operator is user `ssc-operator` of A; B holds the tenant role
/// (the README's trust and by-tag permission policies), `team-b-git` (tagged for team-b) and
/// `other-git` (tagged for team-c). Namespace team-b defaults to IAMIdentity team-b.
async fn two_accounts(ambient: &str) -> Harness {
    two_accounts_renewing(ambient, None).await
}

/// [`two_accounts`], the operator renewing sessions `renew_before` their expiry.
async fn two_accounts_renewing(ambient: &str, renew_before: Option<Duration>) -> Harness {
    let h = Harness::start_with(Options {
        session_renew_before: renew_before,
        users: vec!["ssc-operator", "sofia"],
        emulator_accounts: vec![B],
        enforce: true,
        access_keys: vec![
            key(OPERATOR_KEY.0, OPERATOR_KEY.1, "ssc-operator", None),
            key(ROOT_B_KEY.0, ROOT_B_KEY.1, "root", Some(B)),
        ],
        operator_key: Some((OPERATOR_KEY.0.into(), OPERATOR_KEY.1.into())),
        ambient: ambient.parse().unwrap(),
        iam_journal: true,
        ..Options::default()
    })
    .await;
    let root_a = aws_sdk_iam::Client::new(&harness::sdk_config(&h.emulator, None).await);
    let root_b = root_b(&h).await;
    // The operator's own identity: assume the tenant roles, and mint in A for the ambient tests.
    root_a
        .put_user_policy()
        .user_name("ssc-operator")
        .policy_name("operator")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                 "Resource": "arn:aws:iam::*:role/ssc-tenant-*"},
                {"Effect": "Allow", "Action": "iam:*ServiceSpecificCredential*", "Resource": "*"}
            ]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let trust = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": OPERATOR_ARN}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "ext-team-b", "sts:SourceIdentity": "ssc-operator"}}},
        {"Effect": "Allow", "Principal": {"AWS": OPERATOR_ARN}, "Action": "sts:SetSourceIdentity",
         "Condition": {"StringEquals": {"sts:SourceIdentity": "ssc-operator"}}},
        {"Effect": "Allow", "Principal": {"AWS": OPERATOR_ARN}, "Action": "sts:TagSession",
         "Condition": {"StringEqualsIfExists": {"aws:RequestTag/ssc-namespace": ["team-b"]}}}
    ]});
    root_b
        .create_role()
        .role_name("ssc-tenant-team-b")
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    root_b
        .put_role_policy()
        .role_name("ssc-tenant-team-b")
        .policy_name("own-users")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": [
                    "iam:CreateServiceSpecificCredential", "iam:ListServiceSpecificCredentials",
                    "iam:ResetServiceSpecificCredential", "iam:UpdateServiceSpecificCredential",
                    "iam:DeleteServiceSpecificCredential"],
                 "Resource": format!("arn:aws:iam::{B}:user/*"),
                 "Condition": {"StringEquals": {"aws:ResourceTag/ssc-namespace": "${aws:PrincipalTag/ssc-namespace}"}}}
            ]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    for (user, team) in [("team-b-git", "team-b"), ("other-git", "team-c")] {
        root_b
            .create_user()
            .user_name(user)
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("ssc-namespace")
                    .value(team)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    namespace(&h, "team-b", &[("iam.ssc-operator.dev/identity", "team-b")]).await;
    identity(&h, "team-b", "ext-team-b", &["team-b"]).await;
    h
}

/// A role in B that the operator may assume for any namespace, with IAMFullAccess.
async fn open_role(root_b: &aws_sdk_iam::Client, name: &str) {
    root_b
        .create_role()
        .role_name(name)
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": OPERATOR_ARN},
                 "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]}
            ]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    root_b
        .attach_role_policy()
        .role_name(name)
        .policy_arn("arn:aws:iam::aws:policy/IAMFullAccess")
        .send()
        .await
        .unwrap();
}

/// An IAM client signed by account B's root.
async fn root_b(h: &Harness) -> aws_sdk_iam::Client {
    h.iam_client_as(ROOT_B_KEY).await
}

async fn namespace(h: &Harness, name: &str, annotations: &[(&str, &str)]) {
    let mut all = vec![("iam.ssc-operator.dev/allowed-users", "*")];
    all.extend_from_slice(annotations);
    let annotations: serde_json::Map<String, serde_json::Value> =
        all.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    Api::<Namespace>::all(h.client())
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": name, "annotations": annotations}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
}

async fn identity(h: &Harness, name: &str, external_id: &str, namespaces: &[&str]) {
    identity_of(h, name, TENANT_ROLE, external_id, namespaces).await
}

async fn identity_of(h: &Harness, name: &str, role: &str, external_id: &str, namespaces: &[&str]) {
    h.create_identity(
        name,
        json!({"roleArn": role, "externalId": external_id,
               "allowedNamespaces": {"names": namespaces}}),
    )
    .await;
}

async fn apply_in(h: &Harness, namespace: &str, name: &str, user: &str, extra: serde_json::Value) {
    let mut spec = json!({"userName": user, "serviceName": CODECOMMIT});
    if let Some(more) = extra.as_object() {
        for (k, v) in more {
            spec[k] = v.clone();
        }
    }
    let resource: ServiceSpecificCredential = serde_json::from_value(json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
        "metadata": {"name": name, "namespace": namespace}, "spec": spec
    }))
    .unwrap();
    Api::namespaced(h.client(), namespace)
        .create(&PostParams::default(), &resource)
        .await
        .unwrap();
}

async fn wait_reason(
    h: &Harness,
    namespace: &str,
    name: &str,
    reason: &str,
) -> ServiceSpecificCredential {
    h.wait_for_in(namespace, name, reason, |r| {
        r.ready_condition().is_some_and(|c| c.reason == reason)
    })
    .await
}

/// The journal's (action, caller) pairs of requests answered 200, in order.
fn calls(h: &Harness) -> Vec<(String, String)> {
    h.emulator
        .journal()
        .into_iter()
        .filter(|e| e.status == 200)
        .map(|e| (e.action, e.caller))
        .collect()
}

fn session_of(namespace: &str) -> String {
    format!("arn:aws:sts::{B}:assumed-role/ssc-tenant-team-b/ssc-{namespace}")
}

/// Credentials of a user of account B, listed by B's root.
async fn credentials_in_b(h: &Harness, user: &str) -> Vec<String> {
    let root_b = root_b(h).await;
    root_b
        .list_service_specific_credentials()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .service_specific_credentials()
        .iter()
        .map(|c| c.service_specific_credential_id().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_mints_in_another_account_through_the_role_its_identity_names() {
    let h = two_accounts("all").await;
    apply_in(&h, "team-b", "git", "team-b-git", json!({})).await;
    let r = wait_reason(&h, "team-b", "git", "Available").await;
    let s = status(&r);
    let identity = s.identity.expect("status.identity");
    assert_eq!(identity.name.as_deref(), Some("team-b"));
    assert_eq!(identity.account_id.as_deref(), Some(B));
    assert_eq!(identity.role_arn.as_deref(), Some(TENANT_ROLE));
    let id = s.credential_id.unwrap();
    assert_eq!(
        credentials_in_b(&h, "team-b-git").await,
        std::slice::from_ref(&id)
    );
    // The role was assumed by the operator's own user, and the credential made by the session.
    let calls = calls(&h);
    assert!(
        calls.contains(&("AssumeRole".into(), OPERATOR_ARN.into())),
        "{calls:#?}"
    );
    let minted: Vec<&(String, String)> = calls
        .iter()
        .filter(|(a, _)| a == "CreateServiceSpecificCredential")
        .collect();
    assert_eq!(
        minted,
        [&(
            "CreateServiceSpecificCredential".to_string(),
            session_of("team-b")
        )]
    );
    // One session serves the namespace: not one AssumeRole per call.
    let assumed = calls
        .iter()
        .filter(|(a, c)| a == "AssumeRole" && c == OPERATOR_ARN)
        .count();
    assert!(
        assumed <= 2,
        "{assumed} AssumeRoles (one for the namespace, one for the status probe)"
    );
    // The identity reports the session.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = Api::<IAMIdentity>::all(h.client())
            .get("team-b")
            .await
            .unwrap();
        if let Some(st) = found.status.filter(|s| s.account_id.as_deref() == Some(B)) {
            assert_eq!(st.conditions[0].reason, "Assumed");
            assert!(
                st.assumed_role_arn
                    .as_deref()
                    .is_some_and(|a| a
                        .starts_with("arn:aws:sts::210987654321:assumed-role/ssc-tenant-team-b/")),
                "{st:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "IAMIdentity status never set"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Deletion goes through the same identity.
    Api::<ServiceSpecificCredential>::namespaced(h.client(), "team-b")
        .delete("git", &Default::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !credentials_in_b(&h, "team-b-git").await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        self::calls(&h).contains(&(
            "DeleteServiceSpecificCredential".into(),
            session_of("team-b")
        )),
        "deleted through the tenant session"
    );
    assert_no_session_material_in_logs();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_refuses_a_user_the_role_may_not_manage_and_the_operator_does_not_storm() {
    let h = two_accounts("all").await;
    // The namespace annotation allows every user; the role's policy is what refuses.
    apply_in(&h, "team-b", "other", "other-git", json!({})).await;
    let r = wait_reason(&h, "team-b", "other", "AccessDenied").await;
    let message = &r.ready_condition().unwrap().message;
    assert!(message.contains("not authorized"), "{message}");
    assert!(credentials_in_b(&h, "other-git").await.is_empty());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let refused = h
        .emulator
        .journal()
        .iter()
        .filter(|e| e.action == "ListServiceSpecificCredentials" || e.action.starts_with("Create"))
        .filter(|e| e.status == 403)
        .count();
    assert!(
        refused <= 3,
        "{refused} refused calls in 5 s: a retry storm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_that_does_not_allow_the_namespace_is_not_permitted_and_nothing_reaches_aws() {
    let h = two_accounts("all").await;
    // team-a (the harness's namespace) names team-b's identity.
    h.apply(json!({
        "metadata": {"name": "borrowed", "namespace": NS},
        "spec": {"userName": "team-b-git", "serviceName": CODECOMMIT, "identityRef": {"name": "team-b"}}
    }))
    .await;
    let r = h.wait_for_reason("borrowed", "NotPermitted").await;
    let message = &r.ready_condition().unwrap().message;
    assert!(
        message.contains("does not allow namespace team-a"),
        "{message}"
    );
    // A missing identity is refused the same way.
    h.apply(json!({
        "metadata": {"name": "missing", "namespace": NS},
        "spec": {"userName": "sofia", "serviceName": CODECOMMIT, "identityRef": {"name": "nope"}}
    }))
    .await;
    let r = h.wait_for_reason("missing", "NotPermitted").await;
    // Worded as for an identity that exists: a tenant cannot tell which names do.
    assert_eq!(
        r.ready_condition().unwrap().message,
        message.replace("team-b", "nope")
    );
    let tenant_calls: Vec<_> = calls(&h)
        .into_iter()
        .filter(|(a, c)| a != "GetCallerIdentity" && !(a == "AssumeRole" && c == OPERATOR_ARN))
        .filter(|(_, c)| {
            c != "arn:aws:iam::123456789012:root" && c != "arn:aws:iam::210987654321:root"
        })
        .collect();
    assert!(
        tenant_calls.iter().all(|(_, c)| !c.contains("ssc-team-a")),
        "no session for team-a: {tenant_calls:#?}"
    );
    assert!(credentials_in_b(&h, "team-b-git").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_identity_and_with_ambient_none_a_namespace_is_not_permitted() {
    let h = two_accounts("none").await;
    h.apply(json!({
        "metadata": {"name": "ambient", "namespace": NS},
        "spec": {"userName": "sofia", "serviceName": CODECOMMIT}
    }))
    .await;
    let r = h.wait_for_reason("ambient", "NotPermitted").await;
    assert!(
        r.ready_condition()
            .unwrap()
            .message
            .contains("--ambient-identity")
    );
    let minted = h
        .emulator
        .journal()
        .iter()
        .filter(|e| e.action.contains("ServiceSpecificCredential"))
        .count();
    assert_eq!(minted, 0, "no IAM call for a refused namespace");
    // The namespace with an identity still mints.
    apply_in(&h, "team-b", "git", "team-b-git", json!({})).await;
    wait_reason(&h, "team-b", "git", "Available").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_external_id_is_reported_on_the_resource_and_the_identity() {
    let h = two_accounts("all").await;
    namespace(&h, "team-x", &[]).await;
    identity(&h, "wrong-ext", "not-the-one", &["team-x"]).await;
    apply_in(
        &h,
        "team-x",
        "git",
        "team-b-git",
        json!({"identityRef": {"name": "wrong-ext"}}),
    )
    .await;
    let r = wait_reason(&h, "team-x", "git", "AccessDenied").await;
    let message = &r.ready_condition().unwrap().message;
    assert!(message.contains("IAMIdentity wrong-ext"), "{message}");
    assert!(message.contains("sts:AssumeRole"), "{message}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = Api::<IAMIdentity>::all(h.client())
            .get("wrong-ext")
            .await
            .unwrap();
        if let Some(c) = found.status.and_then(|s| s.conditions.first().cloned()) {
            assert_eq!(
                (c.status.as_str(), c.reason.as_str()),
                ("False", "AccessDenied")
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "IAMIdentity status never set"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_moved_to_another_identity_retires_its_credential_through_the_old_one() {
    let h = two_accounts("all").await;
    namespace(&h, "team-m", &[]).await;
    // Minted first through the operator's own identity, in account A.
    apply_in(&h, "team-m", "git", "sofia", json!({})).await;
    let r = wait_reason(&h, "team-m", "git", "Available").await;
    let old = status(&r).credential_id.unwrap();
    assert_eq!(
        status(&r).identity.unwrap().name,
        None,
        "the operator's own"
    );
    // sofia lives in A; team-m's identity mints in B: a user of that name there.
    let root_b = root_b(&h).await;
    root_b
        .create_user()
        .user_name("sofia")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("ssc-namespace")
                .value("team-m")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    open_role(&root_b, "ssc-tenant-team-m").await;
    identity_of(
        &h,
        "team-m",
        "arn:aws:iam::210987654321:role/ssc-tenant-team-m",
        "ext-m",
        &["team-m"],
    )
    .await;
    Api::<ServiceSpecificCredential>::namespaced(h.client(), "team-m")
        .patch(
            "git",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"identityRef": {"name": "team-m"}}})),
        )
        .await
        .unwrap();
    let r = h
        .wait_for_in("team-m", "git", "minted in B", |r| {
            r.status.as_ref().is_some_and(|s| {
                s.identity
                    .as_ref()
                    .is_some_and(|i| i.account_id.as_deref() == Some(B))
                    && s.credential_id.as_deref().is_some_and(|id| id != old)
                    && r.ready_condition().is_some_and(|c| c.reason == "Available")
            })
        })
        .await;
    let new = status(&r).credential_id.unwrap();
    assert_eq!(credentials_in_b(&h, "sofia").await, [new]);
    assert!(
        h.iam_credentials("sofia", CODECOMMIT).await.is_empty(),
        "the old credential in A is retired"
    );
    assert!(
        calls(&h).contains(&(
            "DeleteServiceSpecificCredential".into(),
            OPERATOR_ARN.into()
        )),
        "retired through the operator's own identity, which minted it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_cannot_reach_another_namespaces_identity_nor_define_or_widen_one() {
    let h = two_accounts("all").await;
    let tenant = h.tenant_client();
    // It can name team-b's identity in its own namespace: refused, nothing assumed for it.
    let resource: ServiceSpecificCredential = serde_json::from_value(json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
        "metadata": {"name": "borrowed", "namespace": NS,
                     // Annotations on its own resource name nothing the operator reads.
                     "annotations": {"iam.ssc-operator.dev/identity": "team-b",
                                     "ssc-namespace": "team-b"}},
        "spec": {"userName": "team-b-git", "serviceName": CODECOMMIT, "identityRef": {"name": "team-b"}}
    }))
    .unwrap();
    Api::namespaced(tenant.clone(), NS)
        .create(&PostParams::default(), &resource)
        .await
        .unwrap();
    h.wait_for_reason("borrowed", "NotPermitted").await;
    // A spec field naming a role is not part of the kind: the schema prunes or refuses it.
    let widened = Api::<ServiceSpecificCredential>::namespaced(tenant.clone(), NS)
        .patch(
            "borrowed",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"roleArn": TENANT_ROLE, "sessionTags": {"ssc-namespace": "team-b"}}})),
        )
        .await;
    if let Ok(patched) = widened {
        let spec = serde_json::to_value(&patched.spec).unwrap();
        assert!(
            spec.get("roleArn").is_none() && spec.get("sessionTags").is_none(),
            "{spec}"
        );
    }
    // It cannot define an identity (cluster-scoped) nor set its namespace's default.
    let own: IAMIdentity = serde_json::from_value(json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "IAMIdentity",
        "metadata": {"name": "mine"},
        "spec": {"roleArn": TENANT_ROLE, "allowedNamespaces": {"names": [NS]}}
    }))
    .unwrap();
    let refused = Api::<IAMIdentity>::all(tenant.clone())
        .create(&PostParams::default(), &own)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, kube::Error::Api(e) if e.code == 403),
        "{refused}"
    );
    let refused = Api::<Namespace>::all(tenant)
        .patch(
            NS,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"iam.ssc-operator.dev/identity": "team-b"}}}),
            ),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, kube::Error::Api(e) if e.code == 403),
        "{refused}"
    );
    // Nothing was minted for the tenant, and no session acted for its namespace.
    assert!(credentials_in_b(&h, "team-b-git").await.is_empty());
    assert!(
        calls(&h).iter().all(|(_, c)| !c.ends_with("/ssc-team-a")),
        "{:#?}",
        calls(&h)
    );
}

/// No session credential (an `ASIA…` key id, a session token) in what the operator logged.
fn assert_no_session_material_in_logs() {
    let logs = harness::captured_logs();
    let ids = regex::Regex::new(r"ASIA[A-Z0-9]{16}").unwrap();
    let found: Vec<&str> = logs.lines().filter(|l| ids.is_match(l)).take(3).collect();
    assert!(found.is_empty(), "a session key id in the logs: {found:#?}");
    assert!(
        !logs.contains("SessionToken"),
        "a session token in the logs"
    );
}

/// More namespaces than the SDK's shared credential cache holds (64): each session is still
/// assumed once, however many calls it signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_namespace_session_is_assumed_once_past_the_sdks_shared_cache() {
    const NAMESPACES: usize = 70;
    let h = two_accounts("all").await;
    let root_b = root_b(&h).await;
    open_role(&root_b, "ssc-tenant-many").await;
    let names: Vec<String> = (0..NAMESPACES).map(|i| format!("many-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    identity_of(
        &h,
        "many",
        "arn:aws:iam::210987654321:role/ssc-tenant-many",
        "ext-many",
        &refs,
    )
    .await;
    for name in &names {
        namespace(&h, name, &[("iam.ssc-operator.dev/identity", "many")]).await;
        root_b.create_user().user_name(name).send().await.unwrap();
        apply_in(&h, name, "git", name, json!({})).await;
    }
    for name in &names {
        wait_reason(&h, name, "git", "Available").await;
    }
    // A second round of calls in every namespace: rotations sign with the same sessions.
    for name in &names {
        h.request_rotation_in(name, "git", "1").await;
    }
    for name in &names {
        h.wait_for_in(name, "git", "rotated", |r| {
            r.status
                .as_ref()
                .is_some_and(|s| s.handled_rotate_request.as_deref() == Some("1"))
        })
        .await;
    }
    let assumed = h
        .emulator
        .journal()
        .iter()
        .filter(|e| e.action == "AssumeRole" && e.caller == OPERATOR_ARN)
        .count();
    // One per namespace, one for the identity's status, a few for the other identity's.
    assert!(
        assumed <= NAMESPACES + 4,
        "{assumed} AssumeRoles for {NAMESPACES} namespace sessions"
    );
}

/// Sessions are renewed ahead of their expiry: with 15-minute sessions and a renewal lead of
/// 1,796 s (the SDK's cache jitters the lead by up to half of it, so a session is renewed at
/// most 2 s after it is issued), a call 3 s later assumes the role again first, and no call is
/// ever refused for an expired token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_renewed_before_it_expires_without_a_failed_call() {
    let h = two_accounts_renewing("all", Some(Duration::from_secs(1796))).await;
    Api::<IAMIdentity>::all(h.client())
        .patch(
            "team-b",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"sessionDuration": "15m"}})),
        )
        .await
        .unwrap();
    apply_in(&h, "team-b", "git", "team-b-git", json!({})).await;
    wait_reason(&h, "team-b", "git", "Available").await;
    let assumed = |h: &Harness| {
        h.emulator
            .journal()
            .iter()
            .filter(|e| e.action == "AssumeRole")
            .count()
    };
    let before = assumed(&h);
    tokio::time::sleep(Duration::from_secs(3)).await;
    h.request_rotation_in("team-b", "git", "1").await;
    h.wait_for_in("team-b", "git", "rotated", |r| {
        r.status
            .as_ref()
            .is_some_and(|s| s.handled_rotate_request.as_deref() == Some("1"))
            && r.ready_condition().is_some_and(|c| c.reason == "Available")
    })
    .await;
    assert!(assumed(&h) > before, "the session was not renewed");
    // The one refusal expected: the role may not list all users (the snapshot falls back to
    // per-user Lists).
    let refused: Vec<_> = h
        .emulator
        .journal()
        .into_iter()
        .filter(|e| e.status != 200)
        .filter(|e| !(e.action == "ListServiceSpecificCredentials" && e.code == "AccessDenied"))
        .map(|e| (e.action, e.caller, e.code))
        .collect();
    assert!(refused.is_empty(), "refused calls: {refused:#?}");
}
