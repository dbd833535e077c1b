//! Fairness at the IAM limit (`SSC_BENCH_SCENARIO=fairness`, issue 20), each scenario on a fresh
//! stand-in, emulator and operator process, with the operator's default `--concurrency` unless
//! `SSC_BENCH_CONCURRENCY` says otherwise:
//! - alone: 1,000 resources in one namespace: time to all Ready against the IAM-bound minimum
//!   (what one namespace gets with nobody else);
//! - equal demand: 4 namespaces of 250, applied one namespace after the other: each namespace's
//!   share of the credentials made while all four wait, against a quarter;
//! - noisy neighbour: a namespace rotating (and, in a second run, deleting the Secrets of) its
//!   100 resources in a loop while a quiet namespace creates 10: the noisy one's rate alone, the
//!   quiet ones' apply → Ready, and the shares meanwhile;
//! - repair churn: one resource whose Secret is deleted every 0.3 s for 40 s: the Resets made.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use ssc_operator::ServiceSpecificCredential;

use super::{
    Operator, SERVICES, Target, create_users, make_namespace_named, percentile, show, target,
};

pub(super) async fn run(iam_rate: u32) {
    println!(
        "\nfairness at the IAM limit: limiter {iam_rate}/s, concurrency {}",
        super::concurrency()
    );
    // `SSC_BENCH_FAIRNESS`: which of them (default all), e.g. `alone` against an earlier binary.
    let only = std::env::var("SSC_BENCH_FAIRNESS").unwrap_or_default();
    let runs = |name: &str| only.is_empty() || only.split(',').any(|o| o.trim() == name);
    if runs("alone") {
        alone(iam_rate).await;
    }
    if runs("equal") {
        equal_demand(iam_rate).await;
    }
    if runs("noisy") {
        noisy_neighbour(iam_rate, true).await;
        noisy_neighbour(iam_rate, false).await;
    }
    if runs("churn") {
        repair_churn(iam_rate).await;
    }
}

/// `count` resources in `namespace`, two services per user, applied 16 at a time; their names.
async fn apply(target: &Target, namespace: &str, count: usize) -> Vec<String> {
    make_namespace_named(&target.client, namespace).await;
    let users: Vec<String> = (0..count.div_ceil(SERVICES.len()))
        .map(|i| format!("{namespace}-user-{i}"))
        .collect();
    create_users(&target.iam_endpoint, &users).await;
    let api: Api<ServiceSpecificCredential> = Api::namespaced(target.client.clone(), namespace);
    let names: Vec<String> = (0..count).map(|i| format!("{namespace}-{i}")).collect();
    futures::StreamExt::for_each_concurrent(
        futures::stream::iter(names.iter().enumerate()),
        16,
        |(i, name)| {
            let api = api.clone();
            let spec = json!({"userName": users[i / SERVICES.len()], "serviceName": SERVICES[i % SERVICES.len()]});
            async move {
                let r: ServiceSpecificCredential = serde_json::from_value(json!({
                    "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": spec
                }))
                .unwrap();
                api.create(&PostParams::default(), &r).await.unwrap();
            }
        },
    )
    .await;
    names
}

/// Resources of `namespace` Ready now.
async fn ready(target: &Target, namespace: &str) -> usize {
    Api::<ServiceSpecificCredential>::namespaced(target.client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map(|list| {
            list.items
                .iter()
                .filter(|r| r.ready_condition().is_some_and(|c| c.status == "True"))
                .count()
        })
        .unwrap_or(0)
}

async fn wait_ready(target: &Target, namespace: &str, n: usize) {
    let limit = Instant::now() + Duration::from_secs(1800);
    while ready(target, namespace).await < n {
        assert!(Instant::now() < limit, "{namespace}: not all Ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn iam_total(calls: &std::collections::BTreeMap<String, u64>) -> u64 {
    calls.values().sum()
}

async fn alone(iam_rate: u32) {
    let target = target().await;
    let operator = Operator::start_in(&target, iam_rate, 600, &["alone"]);
    let started = Instant::now();
    apply(&target, "alone", 1000).await;
    wait_ready(&target, "alone", 1000).await;
    let took = started.elapsed();
    let calls = operator.iam_calls().await;
    let bound = iam_total(&calls) as f64 / f64::from(iam_rate);
    println!(
        "  alone: 1000 resources in one namespace Ready in {:.1} s; IAM-bound minimum {bound:.1} s ({} calls: {}), {:+.0}%",
        took.as_secs_f64(),
        iam_total(&calls),
        show(&calls),
        (took.as_secs_f64() / bound - 1.0) * 100.0
    );
}

async fn equal_demand(iam_rate: u32) {
    let target = target().await;
    let namespaces = ["team-0", "team-1", "team-2", "team-3"];
    let operator = Operator::start_in(&target, iam_rate, 600, &namespaces);
    let started = Instant::now();
    for namespace in namespaces {
        apply(&target, namespace, 250).await;
    }
    let applied = started.elapsed();
    // The window: from all applied until the first namespace is done.
    let mut at_start = Vec::new();
    for namespace in namespaces {
        at_start.push(ready(&target, namespace).await);
    }
    let at_end = loop {
        let mut now = Vec::new();
        for namespace in namespaces {
            now.push(ready(&target, namespace).await);
        }
        if now.iter().any(|n| *n >= 250) {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let window = started.elapsed() - applied;
    let made: Vec<usize> = at_end.iter().zip(&at_start).map(|(e, s)| e - s).collect();
    let total: usize = made.iter().sum();
    let shares: Vec<String> = namespaces
        .iter()
        .zip(&made)
        .map(|(ns, m)| format!("{ns} {m} ({:.1}%)", 100.0 * *m as f64 / total.max(1) as f64))
        .collect();
    println!(
        "  equal demand: 4 namespaces x 250, applied one after the other in {:.1} s (Ready by then: {at_start:?}); over the next {:.1} s, until the first was done, credentials made: {}",
        applied.as_secs_f64(),
        window.as_secs_f64(),
        shares.join(", ")
    );
    for namespace in namespaces {
        wait_ready(&target, namespace, 250).await;
    }
    println!(
        "    all 1000 Ready in {:.1} s; IAM calls {}",
        started.elapsed().as_secs_f64(),
        iam_total(&operator.iam_calls().await)
    );
}

/// With `delete_secrets`, the noisy namespace also deletes each Secret after asking for its
/// rotation (its repairs then back off, and its rotations wait for them).
async fn noisy_neighbour(iam_rate: u32, delete_secrets: bool) {
    let target = target().await;
    let operator = Operator::start_in(&target, iam_rate, 600, &["noisy", "quiet"]);
    let noisy = apply(&target, "noisy", 100).await;
    wait_ready(&target, "noisy", 100).await;
    make_namespace_named(&target.client, "quiet").await;
    let quiet_users: Vec<String> = (0..10).map(|i| format!("quiet-user-{i}")).collect();
    create_users(&target.iam_endpoint, &quiet_users).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let noise = tokio::spawn({
        let (client, stop) = (target.client.clone(), stop.clone());
        async move {
            let resources: Api<ServiceSpecificCredential> =
                Api::namespaced(client.clone(), "noisy");
            let secrets: Api<Secret> = Api::namespaced(client, "noisy");
            let mut round = 0u64;
            let mut asks = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                round += 1;
                for name in &noisy {
                    let patch = json!({"metadata": {"annotations": {"iam.ssc-operator.dev/rotate": round.to_string()}}});
                    let _ = resources
                        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await;
                    asks += 1;
                    if delete_secrets {
                        let _ = secrets.delete(name, &DeleteParams::default()).await;
                        asks += 1;
                    }
                }
            }
            asks
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let alone_from = operator.iam_calls().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = operator.iam_calls().await;
    let noisy_alone = iam_total(&super::difference(&before, &alone_from)) as f64 / 5.0;
    let window = Instant::now();
    let quiet: Api<ServiceSpecificCredential> = Api::namespaced(target.client.clone(), "quiet");
    let mut applied_at = Vec::new();
    for (i, user) in quiet_users.iter().enumerate() {
        let r: ServiceSpecificCredential = serde_json::from_value(json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
            "metadata": {"name": format!("quiet-{i}"), "namespace": "quiet"},
            "spec": {"userName": user, "serviceName": SERVICES[0]}
        }))
        .unwrap();
        applied_at.push((format!("quiet-{i}"), Instant::now()));
        quiet.create(&PostParams::default(), &r).await.unwrap();
    }
    let mut latencies = Vec::new();
    let limit = Instant::now() + Duration::from_secs(600);
    for (name, at) in &applied_at {
        loop {
            let done = quiet
                .get(name)
                .await
                .ok()
                .is_some_and(|r| r.ready_condition().is_some_and(|c| c.status == "True"));
            if done {
                latencies.push(at.elapsed());
                break;
            }
            assert!(Instant::now() < limit, "{name} never Ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let span = window.elapsed();
    let during = super::difference(&operator.iam_calls().await, &before);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let asks = noise.await.unwrap();
    latencies.sort();
    let total = iam_total(&during);
    let quiet_creates = 10;
    println!(
        "  noisy neighbour ({}): the noisy namespace alone made {noisy_alone:.1} IAM calls/s ({asks} requests of the noise in all); 10 new in a quiet namespace: apply -> Ready p50 {:.0} ms, max {:.0} ms; in those {:.1} s, {total} IAM calls: the quiet namespace's {quiet_creates} Creates ({:.0}%), the noisy one's the rest: {}",
        if delete_secrets {
            "rotations and Secret deletions"
        } else {
            "rotations"
        },
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        span.as_secs_f64(),
        100.0 * quiet_creates as f64 / total.max(1) as f64,
        show(&during)
    );
}

async fn repair_churn(iam_rate: u32) {
    let target = target().await;
    let operator = Operator::start_in(&target, iam_rate, 600, &["churn"]);
    apply(&target, "churn", 1).await;
    wait_ready(&target, "churn", 1).await;
    let before = operator.iam_calls().await;
    let secrets: Api<Secret> = Api::namespaced(target.client.clone(), "churn");
    let started = Instant::now();
    let mut deletes = 0;
    while started.elapsed() < Duration::from_secs(40) {
        if secrets
            .delete("churn-0", &DeleteParams::default())
            .await
            .is_ok()
        {
            deletes += 1;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let during = super::difference(&operator.iam_calls().await, &before);
    println!(
        "  repair churn: Secret deleted {deletes} times in 40 s (every 0.3 s while it was there): {} Resets ({})",
        during.get("Reset").copied().unwrap_or(0),
        show(&during)
    );
}
