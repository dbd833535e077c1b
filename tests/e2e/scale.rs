//! What the operator costs IAM as resources and users grow: one snapshot per service answers the
//! drift checks of every user; a bulk create costs about one call per resource.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Harness, NS, Options, status};

const CODECOMMIT: &str = "codecommit.amazonaws.com";
const LIST: &str = "ListServiceSpecificCredentials";
const CREATE: &str = "CreateServiceSpecificCredential";

/// `n` IAM users, `user-0` …
fn users(n: usize) -> Vec<&'static str> {
    (0..n)
        .map(|i| &*Box::leak(format!("user-{i}").into_boxed_str()))
        .collect()
}

/// A harness whose emulator has `n` users, started with `options` otherwise.
async fn harness_with_users(n: usize, options: Options) -> (Harness, Vec<&'static str>) {
    let users = users(n);
    let h = Harness::start_with(Options {
        users: users.clone(),
        ..options
    })
    .await;
    (h, users)
}

/// A resync of `seconds`.
fn resync(seconds: u64) -> Options {
    Options {
        resync: Duration::from_secs(seconds),
        ..Options::default()
    }
}

/// One CodeCommit resource per user, all applied at once; waits until all are Ready.
async fn one_resource_per_user(h: &Harness, users: &[&str]) {
    for (i, user) in users.iter().enumerate() {
        h.apply(json!({
            "metadata": {"name": format!("r-{i}"), "namespace": NS},
            "spec": {"userName": user, "serviceName": CODECOMMIT}
        }))
        .await;
    }
    for i in 0..users.len() {
        h.wait_ready(&format!("r-{i}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_create_costs_about_one_iam_call_per_resource() {
    let (h, users) = harness_with_users(20, Options::default()).await;
    one_resource_per_user(&h, &users).await;
    let (lists, creates) = (h.iam_call_count(LIST), h.iam_call_count(CREATE));
    println!("20 resources of 20 users: {creates} Creates, {lists} Lists");
    assert_eq!(creates, 20);
    assert!(
        lists <= 2,
        "{lists} List calls for 20 new resources: the service snapshot should answer them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_checks_cost_one_list_per_service_per_resync_not_one_per_user() {
    let (h, users) = harness_with_users(20, resync(2)).await;
    one_resource_per_user(&h, &users).await;
    let before = h.iam_call_count(LIST);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let lists = h.iam_call_count(LIST) - before;
    println!("20 Ready resources of 20 users, 6 s at a 2 s resync: {lists} List calls");
    // One per user and resync would be 60.
    assert!(
        lists <= 6,
        "{lists} List calls in three resyncs of 20 users: should be about one per resync"
    );
    // Nothing needed writing meanwhile.
    assert_eq!(h.iam_call_count(CREATE), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_still_found_from_the_snapshot() {
    let (h, users) = harness_with_users(3, resync(2)).await;
    one_resource_per_user(&h, &users).await;
    let r = h.delete_credential_and_wait_for_a_new_one("r-1").await;
    let in_iam = h.iam_credentials("user-1", CODECOMMIT).await;
    assert_eq!(in_iam.len(), 1);
    assert_eq!(
        Some(in_iam[0].service_specific_credential_id()),
        status(&r).credential_id.as_deref()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_permission_to_list_all_users_checks_fall_back_to_per_user_lists() {
    let (h, users) = harness_with_users(
        3,
        Options {
            deny_all_users_listing: true,
            ..resync(2)
        },
    )
    .await;
    one_resource_per_user(&h, &users).await;
    h.delete_credential_and_wait_for_a_new_one("r-2").await;
    assert!(
        crate::harness::captured_logs()
            .contains("could not list the credentials of all users (AllUsers needs"),
        "the fallback is logged"
    );
}

/// A resync shorter than one pass over all resources: routine checks must not keep new
/// resources from their first reconcile (they once spent the whole IAM budget on per-user Lists).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_resources_are_not_starved_by_a_resync_shorter_than_one_pass() {
    let (h, users) = harness_with_users(40, resync(1)).await;
    // 30 creates at the default 5 IAM calls/s take 6 s: six resyncs.
    let started = std::time::Instant::now();
    one_resource_per_user(&h, &users[..30]).await;
    println!("30 Ready in {:?} at a 1 s resync", started.elapsed());
    let started = std::time::Instant::now();
    for (i, user) in users[30..].iter().enumerate() {
        h.apply(json!({
            "metadata": {"name": format!("late-{i}"), "namespace": NS},
            "spec": {"userName": user, "serviceName": CODECOMMIT}
        }))
        .await;
    }
    for i in 0..10 {
        h.wait_ready(&format!("late-{i}")).await;
    }
    println!(
        "10 more Ready in {:?} while 30 resync every second",
        started.elapsed()
    );
}

/// Memory stays flat with many Secrets: the operator lists and watches only its own Secrets,
/// and only their metadata (it GETs the one a reconcile needs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_watched_as_metadata_only_and_by_label() {
    let (h, users) = harness_with_users(2, Options::default()).await;
    one_resource_per_user(&h, &users).await;
    let secret_lists: Vec<_> = h
        .operator_requests()
        .into_iter()
        .filter(|r| r.resource == "secrets" && matches!(r.verb.as_str(), "list" | "watch"))
        .collect();
    assert!(!secret_lists.is_empty());
    for r in secret_lists {
        let accept = r.accept.clone().unwrap_or_default();
        assert!(
            accept.contains("as=PartialObjectMetadata"),
            "{} {} asked for whole Secrets: {accept}",
            r.verb,
            r.path
        );
        assert_eq!(
            r.query.get("labelSelector").map(String::as_str),
            Some("app.kubernetes.io/managed-by=ssc-operator"),
            "{} {}",
            r.verb,
            r.path
        );
    }
}
