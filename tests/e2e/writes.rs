//! What a credential costs the API server: the writes (creates, patches, updates, deletes, dry
//! runs and Events) the operator sends for one new credential and for one rotation, counted from
//! the stand-in's request log. At scale these writes, not IAM, set the pace. (Before: 11 for a
//! new credential — two status patches and two Events of progress, a Secret dry run — and 5 for
//! a rotation.)

use std::time::Duration;

use kube_standin::RecordedRequest;
use serde_json::json;

use crate::harness::{Harness, NS, status};

const CODECOMMIT: &str = "codecommit.amazonaws.com";

fn codecommit(name: &str, user: &str) -> serde_json::Value {
    json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"userName": user, "serviceName": CODECOMMIT}
    })
}

/// The operator's writes, leader-election leases aside.
fn writes(h: &Harness) -> Vec<RecordedRequest> {
    h.operator_requests()
        .into_iter()
        .filter(|r| !matches!(r.verb.as_str(), "get" | "list" | "watch"))
        .filter(|r| r.resource != "leases")
        .collect()
}

fn describe(requests: &[RecordedRequest]) -> String {
    requests
        .iter()
        .map(|r| {
            let dry = if r.query.contains_key("dryRun") {
                " (dry run)"
            } else {
                ""
            };
            let sub = r
                .subresource
                .as_deref()
                .map(|s| format!("/{s}"))
                .unwrap_or_default();
            format!("{} {}{sub}{dry}", r.verb, r.resource)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Waits until the operator has sent no write for a while: the pass and any follow-up are done.
async fn settled(h: &Harness) -> Vec<RecordedRequest> {
    let mut seen = writes(h).len();
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let now = writes(h);
        if now.len() == seen {
            return now;
        }
        seen = now.len();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_credential_costs_at_most_six_writes_and_a_rotation_two_and_its_event() {
    let h = Harness::start().await;
    // The first resource also makes what the operator makes once (its epoch record).
    h.apply(codecommit("warm-up", "sofia")).await;
    h.wait_ready("warm-up").await;
    let before = settled(&h).await.len();

    h.apply(codecommit("app-git", "anika")).await;
    let ready = h.wait_ready("app-git").await;
    let after_create = settled(&h).await;
    let create = &after_create[before..];
    println!(
        "new credential: {} writes: {}",
        create.len(),
        describe(create)
    );
    assert!(
        create.len() <= 6,
        "a new credential took {} writes: {}",
        create.len(),
        describe(create)
    );

    assert!(status(&ready).credential_id.is_some());
    h.request_rotation("app-git", "1").await;
    h.wait_for("app-git", "the rotation handled", |r| {
        status(r).handled_rotate_request.as_deref() == Some("1")
            && r.ready_condition().is_some_and(|c| c.reason == "Available")
    })
    .await;
    let after_rotation = settled(&h).await;
    let rotation = &after_rotation[after_create.len()..];
    println!(
        "rotation: {} writes: {}",
        rotation.len(),
        describe(rotation)
    );
    // One Event per issuance, as for a new credential (cert-manager and External Secrets tell
    // each issuance once); besides it, the Secret and the status.
    let (events, objects): (Vec<_>, Vec<_>) = rotation
        .iter()
        .cloned()
        .partition(|r| r.resource == "events");
    assert!(
        objects.len() <= 2 && events.len() <= 1,
        "a rotation took {} writes: {}",
        rotation.len(),
        describe(rotation)
    );
}
