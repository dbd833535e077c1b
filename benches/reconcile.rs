//! Benchmark: the operator end to end (API stand-in + IAM emulator over HTTP, in one process).
//! Prints how long N resources take to become Ready, IAM calls per resource, the cost of a
//! steady-state resync, and the process's memory. `cargo bench --bench reconcile` (see BENCHMARKS.md).

#[path = "../tests/support/mod.rs"]
mod support;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::CustomResourceExt;
use kube::api::{Api, ListParams, PostParams};
use ssc_operator::api::ServiceSpecificCredential;
use ssc_operator::emulator::{Emulator, EmulatorConfig};
use ssc_operator::iam::{AwsIam, IamLimits};
use ssc_operator::metrics::Metrics;
use ssc_operator::policy::PolicyMode;
use ssc_operator::reconcile;
use support::apiserver::ApiServer;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn iam_calls(metrics: &Metrics) -> u64 {
    metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with("ssc_operator_iam_calls_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn scenario(n: usize, rate: u32, burst: u32) {
    let users: Vec<String> = (0..n).map(|i| format!("user{i}")).collect();
    let kube = ApiServer::start(vec![ServiceSpecificCredential::crd()]).await;
    kube.create_namespace("bench", &[]).await;
    let emulator = Emulator::start(EmulatorConfig {
        users: users.clone(),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let metrics = Arc::new(Metrics::new());
    let sdk = AwsIam::sdk_client(
        Some(&emulator.endpoint_url()),
        Some("us-east-1"),
        Some(aws_credential_types::Credentials::new(
            "AKIDBENCH",
            "bench",
            None,
            None,
            "bench",
        )),
    )
    .await;
    let iam = Arc::new(AwsIam::new(
        sdk,
        IamLimits {
            rate_per_second: NonZeroU32::new(rate).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
            ..IamLimits::default()
        },
        metrics.clone(),
    ));
    let config = reconcile::Config {
        policy: PolicyMode::Permissive,
        resync: Duration::from_secs(3600),
        concurrency: 8,
        // The namespace's share follows the scenario's IAM rate: all resources live in one
        // namespace, and the first scenarios measure the operator's own cost.
        namespace_writes: governor::Quota::per_second(NonZeroU32::new(rate).unwrap())
            .allow_burst(NonZeroU32::new(burst).unwrap()),
        ..reconcile::Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(reconcile::run(
        kube.client(),
        iam,
        config,
        Some(metrics.clone()),
        async move {
            let _ = stopped.await;
        },
    ));
    let api = Api::<ServiceSpecificCredential>::namespaced(kube.client(), "bench");
    let rss_before = rss_kib("VmRSS:");
    let started = Instant::now();
    for (i, user) in users.iter().enumerate() {
        let r: ServiceSpecificCredential = serde_json::from_value(serde_json::json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
            "metadata": {"name": format!("ssc-{i}"), "namespace": "bench"},
            "spec": {"userName": user, "serviceName": "codecommit.amazonaws.com"}
        }))
        .unwrap();
        api.create(&PostParams::default(), &r).await.unwrap();
    }
    loop {
        let ready = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|r| r.ready_condition().is_some_and(|c| c.status == "True"))
            .count();
        if ready == n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {ready}/{n} Ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let calls = iam_calls(&metrics);
    println!(
        "reconcile/create   n={n:<4} iam-rate={rate:>5}/s  all Ready in {:>7.2} s  {:>7.1} resources/s  {:.2} IAM calls/resource  RSS +{} KiB (now {} KiB, peak {} KiB)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        calls as f64 / n as f64,
        rss_kib("VmRSS:").saturating_sub(rss_before),
        rss_kib("VmRSS:"),
        rss_kib("VmHWM:"),
    );
    let _ = stop.send(());
    let _ = controller.await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Unthrottled: the operator's own cost. Default limiter: what an account sees.
    runtime.block_on(scenario(100, 10_000, 10_000));
    runtime.block_on(scenario(500, 10_000, 10_000));
    runtime.block_on(scenario(100, 5, 10));
}
