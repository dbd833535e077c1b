//! Operating the operator: leader election with 2 replicas, graceful shutdown, /metrics and
//! probes, against the Kubernetes API stand-in.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use serde_json::json;
use ssc_operator::LeaseConfig;
use ssc_operator::Metrics;
use ssc_operator::controller;
use ssc_operator::{AwsIam, IamLimits};
use ssc_operator::{Election, run_as_leader, serve_http};
use ssc_operator::{WriteFence, fence_iam};
use tokio_util::sync::CancellationToken;

use crate::harness::{Harness, NS, Options, status};

const LEASE_NS: &str = "ssc-system";

struct Replica {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), ssc_operator::commands::RunError>>,
    metrics: Arc<Metrics>,
}

/// A replica wired as `ssc-operator run` wires one: its Kubernetes and IAM clients write only
/// while its election's fence is open.
async fn start_replica(h: &Harness, identity: &str, lease_duration: Duration) -> Replica {
    let metrics = Arc::new(Metrics::new());
    let fence = WriteFence::closed();
    // As `run` builds it: the operator's own client (fenced) and STS, which names its account.
    let sdk_config = crate::harness::sdk_config(&h.emulator, None).await;
    let ambient = Arc::new(AwsIam::new(
        fence_iam(&AwsIam::iam_client(&sdk_config), fence.clone()),
        IamLimits::default(),
        metrics.clone(),
    ));
    let iam: Arc<dyn ssc_operator::Directory> = Arc::new(
        ssc_operator::AwsDirectory::new(
            ambient,
            aws_sdk_sts::Client::new(&sdk_config),
            IamLimits::default(),
            metrics.clone(),
        )
        .await,
    );
    let config = controller::Config {
        instance: Some(identity.to_string()),
        ..controller::Config::default()
    };
    let lease = LeaseConfig {
        name: "ssc-operator".into(),
        namespace: LEASE_NS.into(),
        identity: identity.into(),
        lease_duration,
        renew_deadline: lease_duration * 2 / 3,
        retry_period: lease_duration / 5,
    };
    let shutdown = CancellationToken::new();
    let election = Election {
        client: h.operator_client(),
        lease,
        fence: fence.clone(),
    };
    let task = tokio::spawn(run_as_leader(
        h.operator_client_fenced(fence),
        iam,
        config,
        metrics.clone(),
        election,
        shutdown.clone(),
    ));
    Replica {
        shutdown,
        task,
        metrics,
    }
}

/// The harness without its own operator, and the Lease's namespace: replicas are started by
/// the test.
async fn harness_for_replicas() -> Harness {
    let mut h = Harness::start().await;
    h.stop_operator().await;
    h.kube.create_namespace(LEASE_NS, &[]).await;
    h
}

async fn holder(h: &Harness) -> Option<String> {
    Api::<Lease>::namespaced(h.client(), LEASE_NS)
        .get_opt("ssc-operator")
        .await
        .unwrap()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

/// The requests to the replicas' Lease.
fn lease_requests() -> kube_standin::RequestMatcher {
    kube_standin::RequestMatcher::any()
        .resource("leases")
        .name("ssc-operator")
}

/// One replica, once it holds the Lease.
async fn lone_leader(h: &Harness, lease_duration: Duration) -> Replica {
    let a = start_replica(h, "replica-a", lease_duration).await;
    wait_holder(h, "replica-a", lease_duration * 2).await;
    a
}

async fn wait_holder(h: &Harness, identity: &str, within: Duration) -> Duration {
    let started = Instant::now();
    while holder(h).await.as_deref() != Some(identity) {
        assert!(
            started.elapsed() < within,
            "{identity} did not take the Lease within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

async fn reporting_instances(h: &Harness, name: &str) -> Vec<String> {
    h.events()
        .await
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| e.reporting_instance)
        .collect()
}

fn manifest(name: &str) -> serde_json::Value {
    json!({"metadata": {"name": name, "namespace": NS},
           "spec": {"userName": "sofia", "serviceName": "cassandra.amazonaws.com"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_reconciles_and_a_standby_replaces_a_killed_leader() {
    let h = harness_for_replicas().await;
    let lease_duration = Duration::from_secs(2);
    let a = start_replica(&h, "replica-a", lease_duration).await;
    wait_holder(&h, "replica-a", Duration::from_secs(10)).await;
    let b = start_replica(&h, "replica-b", lease_duration).await;

    h.apply(manifest("first")).await;
    h.wait_ready("first").await;
    let instances = reporting_instances(&h, "first").await;
    assert!(!instances.is_empty());
    assert!(instances.iter().all(|i| i == "replica-a"), "{instances:?}");
    assert!(a.metrics.encode().contains("ssc_operator_leader 1"));
    assert!(b.metrics.encode().contains("ssc_operator_leader 0"));

    // Kill the leader without releasing the Lease: the standby takes over once it expires.
    a.task.abort();
    let took = wait_holder(&h, "replica-b", lease_duration * 4).await;
    assert!(took <= lease_duration * 3, "takeover took {took:?}");
    h.apply(manifest("second")).await;
    h.wait_ready("second").await;
    let instances = reporting_instances(&h, "second").await;
    assert!(instances.iter().all(|i| i == "replica-b"), "{instances:?}");
    b.shutdown.cancel();
    let _ = b.task.await;
}

/// A leader whose Lease renewals hang (a stuck connection) stops leading by itself within the
/// renew deadline — before the Lease expires for anyone else — instead of leading on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_renewals_hang_stops_before_its_lease_expires() {
    let h = harness_for_replicas().await;
    let lease_duration = Duration::from_secs(3);
    let a = lone_leader(&h, lease_duration).await;
    h.kube
        .stall_next(lease_requests(), Duration::from_secs(60), usize::MAX);
    let stalled = Instant::now();
    let result = tokio::time::timeout(lease_duration * 2, a.task)
        .await
        .expect("the leader kept leading with its renewals hanging");
    let stopped = stalled.elapsed();
    println!("leader stopped {stopped:?} after its Lease requests began to hang");
    assert!(result.unwrap().is_err(), "it exits to rejoin as a standby");
    assert!(
        stopped < lease_duration,
        "stopped after {stopped:?}, later than the lease duration {lease_duration:?}"
    );
    assert!(a.metrics.encode().contains("\nssc_operator_leader 0"));
    h.kube.clear_faults();
}

/// One renewal losing a race (409: someone else wrote the Lease in between) is not a lost Lease:
/// the leader keeps leading and renews on its next try, instead of exiting and failing over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_renewal_does_not_end_leadership() {
    let h = harness_for_replicas().await;
    let lease_duration = Duration::from_secs(3);
    let a = lone_leader(&h, lease_duration).await;
    h.kube.fail_next(lease_requests().verb("update"), 409, 1);
    tokio::time::sleep(lease_duration).await;
    assert!(!a.task.is_finished(), "the leader gave up after one 409");
    assert!(a.metrics.encode().contains("\nssc_operator_leader 1"));
    h.apply(manifest("after-conflict")).await;
    h.wait_ready("after-conflict").await;
    a.shutdown.cancel();
    let _ = a.task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_releases_the_lease_for_a_fast_handover() {
    let h = harness_for_replicas().await;
    let lease_duration = Duration::from_secs(10);
    let a = start_replica(&h, "replica-a", lease_duration).await;
    wait_holder(&h, "replica-a", Duration::from_secs(10)).await;
    h.apply(manifest("work")).await;
    h.wait_ready("work").await;

    a.shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), a.task)
        .await
        .expect("shutdown finishes")
        .expect("task joins");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(holder(&h).await, None, "released on shutdown");

    // A standby takes over at once instead of waiting out the 10s lease.
    let b = start_replica(&h, "replica-b", lease_duration).await;
    let took = wait_holder(&h, "replica-b", Duration::from_secs(5)).await;
    assert!(took < lease_duration / 2, "{took:?}");
    b.shutdown.cancel();
    let _ = b.task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_probes_are_served_without_secrets() {
    let h = harness_for_replicas().await;
    let a = start_replica(&h, "replica-a", Duration::from_secs(5)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ready = Arc::new(AtomicBool::new(false));
    let server = tokio::spawn(serve_http(listener, ready.clone(), a.metrics.clone()));
    let http = reqwest::Client::new();
    let get = |path: &'static str| {
        let http = http.clone();
        async move {
            http.get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(get("/healthz").await.status(), 200);
    assert_eq!(get("/readyz").await.status(), 503);
    ready.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(get("/readyz").await.status(), 200);

    h.apply(manifest("measured")).await;
    let r = h.wait_ready("measured").await;
    h.apply(json!({"metadata": {"name": "nobody", "namespace": NS},
                   "spec": {"userName": "nobody", "serviceName": "codecommit.amazonaws.com"}}))
        .await;
    h.wait_for_reason("nobody", "UserNotFound").await;
    let needles = [
        "ssc_operator_reconciles_total{result=\"Available\"}",
        "ssc_operator_reconcile_duration_seconds_bucket",
        "ssc_operator_iam_calls_total{account=\"123456789012\",operation=\"CreateServiceSpecificCredential\",code=\"Success\"} 1",
        // A first Create is decided from the service snapshot: IAM's answer to it tells.
        "ssc_operator_iam_calls_total{account=\"123456789012\",operation=\"CreateServiceSpecificCredential\",code=\"UserNotFound\"}",
        "ssc_operator_iam_rate_limiter_wait_seconds_count",
        "ssc_operator_resources{reason=\"Available\"} 1",
        "ssc_operator_resources{reason=\"UserNotFound\"} 1",
        "ssc_operator_leader 1",
        // Per resource, read from the cache: Ready or not, by namespace and name only.
        "ssc_operator_credential_ready{namespace=\"team-a\",name=\"measured\"} 1",
        "ssc_operator_credential_ready{namespace=\"team-a\",name=\"nobody\"} 0",
        "ssc_operator_build_info{version=",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
    ];
    // The metrics are recorded when a reconcile returns, just after its status write is visible.
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let response = get("/metrics").await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        let missing: Vec<_> = needles.iter().filter(|n| !text.contains(*n)).collect();
        if missing.is_empty() {
            break text;
        }
        assert!(Instant::now() < deadline, "missing {missing:?}:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secret = h.secret("measured").await.unwrap();
    let (_, password) = crate::harness::login_and_secret(&secret);
    assert!(!text.contains(&password));
    assert!(
        !text.contains(status(&r).credential_id.as_deref().unwrap()),
        "no ids as labels"
    );
    a.shutdown.cancel();
    let _ = a.task.await;
    server.abort();
}

/// A leader that loses the Lease while a reconcile is under way stops that reconcile before its
/// next write: the new leader may already be acting on the same resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_lease_stops_in_flight_reconciles_before_their_next_write() {
    let h = harness_for_replicas().await;
    let lease_duration = Duration::from_secs(2);
    let a = start_replica(&h, "replica-a", lease_duration).await;
    wait_holder(&h, "replica-a", lease_duration * 3).await;
    // The record's intent write before the Create hangs for 3 s ...
    h.kube.stall_next(
        kube_standin::RequestMatcher::any()
            .resource("credentialrecords")
            .body_contains("createRequestedAt"),
        Duration::from_secs(3),
        1,
    );
    h.apply(manifest("contested")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // ... while someone else takes the Lease over.
    let leases = Api::<Lease>::namespaced(h.client(), LEASE_NS);
    let mut lease = leases.get("ssc-operator").await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(60);
    leases
        .replace("ssc-operator", &Default::default(), &lease)
        .await
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(10), a.task).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        h.iam_credentials("sofia", "cassandra.amazonaws.com")
            .await
            .is_empty(),
        "the old leader created a credential after losing the Lease"
    );
}

/// A shutdown ends within its grace period even while a reconcile hangs on a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_even_with_a_hanging_request() {
    let mut h = Harness::start_with(Options {
        shutdown_grace: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    h.kube.stall_next(
        kube_standin::RequestMatcher::any()
            .resource("servicespecificcredentials")
            .subresource("status"),
        Duration::from_secs(60),
        usize::MAX,
    );
    h.apply(manifest("hangs")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let stopped = h.stop_operator().await;
    println!("stopped: {stopped}, after {:?}", started.elapsed());
    assert!(stopped, "the operator did not stop within 10 s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    h.kube.clear_faults();
}

/// A Deployment `name` in the test namespace, as the stand-in stores it (nothing runs it).
async fn deployment(h: &Harness, name: &str) {
    use k8s_openapi::api::apps::v1::Deployment;
    let object: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "busybox"}]}
            }
        }
    }))
    .unwrap();
    Api::<Deployment>::namespaced(h.client(), NS)
        .create(&kube::api::PostParams::default(), &object)
        .await
        .unwrap();
}

/// The `kubectl.kubernetes.io/restartedAt` of a Deployment's pod template.
async fn restarted_at(h: &Harness, name: &str) -> Option<String> {
    use k8s_openapi::api::apps::v1::Deployment;
    Api::<Deployment>::namespaced(h.client(), NS)
        .get(name)
        .await
        .unwrap()
        .spec?
        .template
        .metadata?
        .annotations?
        .get("kubectl.kubernetes.io/restartedAt")
        .cloned()
}

/// Deployment `web` and the resource `web-git` that restarts it, its first credential recorded.
async fn web_git_restarting_web(h: &Harness) {
    deployment(h, "web").await;
    h.apply(json!({
        "metadata": {"name": "web-git", "namespace": NS},
        "spec": {"userName": "sofia", "serviceName": "codecommit.amazonaws.com",
                 "rolloutRestart": [{"kind": "Deployment", "name": "web"}]}
    }))
    .await;
    h.wait_for("web-git", "first credential recorded", |r| {
        status(r).workloads_restarted_for.is_some()
    })
    .await;
}

fn issued_at_of(secret: &k8s_openapi::api::core::v1::Secret) -> String {
    kube::ResourceExt::annotations(secret)["iam.ssc-operator.dev/issued-at"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_listed_for_rollout_restart_restart_after_each_new_credential() {
    let h = Harness::start_with(crate::harness::Options {
        rollout_restart: true,
        ..crate::harness::Options::default()
    })
    .await;
    deployment(&h, "web").await;
    h.apply(json!({
        "metadata": {"name": "web-git", "namespace": NS},
        "spec": {"userName": "sofia", "serviceName": "codecommit.amazonaws.com",
                 "rolloutRestart": [{"kind": "Deployment", "name": "web"},
                                    {"kind": "StatefulSet", "name": "missing"}]}
    }))
    .await;
    // The first credential is recorded: the workloads started with it.
    let first = h
        .wait_for("web-git", "first credential recorded", |r| {
            status(r).workloads_restarted_for.is_some()
        })
        .await;
    let secret = h.secret("web-git").await.unwrap();
    assert_eq!(
        status(&first).workloads_restarted_for,
        Some(issued_at_of(&secret))
    );
    assert_eq!(
        restarted_at(&h, "web").await,
        None,
        "not restarted for the first"
    );

    // A rotation: restarted with the new credential's issue time, once.
    h.request_rotation("web-git", "1").await;
    let rotated = h
        .wait_secret("web-git", |s| issued_at_of(s) != issued_at_of(&secret))
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while restarted_at(&h, "web").await.as_deref() != Some(issued_at_of(&rotated).as_str()) {
        assert!(Instant::now() < deadline, "web not restarted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.wait_for("web-git", "restart recorded", |r| {
        status(r).workloads_restarted_for.as_deref() == Some(issued_at_of(&rotated).as_str())
    })
    .await;
    let reasons = h.event_reasons("web-git").await;
    assert!(
        reasons.iter().any(|r| r == "WorkloadsRestarted"),
        "{reasons:?}"
    );
    // The missing StatefulSet is reported, the rest still done.
    assert!(
        reasons.iter().any(|r| r == "RolloutRestartFailed"),
        "{reasons:?}"
    );
    assert_eq!(
        h.get("web-git")
            .await
            .unwrap()
            .ready_condition()
            .unwrap()
            .status,
        "True"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_rollout_restart_enabled_workloads_are_left_alone_with_a_warning() {
    let h = Harness::start().await;
    web_git_restarting_web(&h).await;
    let secret = h.wait_secret("web-git", |_| true).await;
    h.request_rotation("web-git", "1").await;
    h.wait_secret("web-git", |s| issued_at_of(s) != issued_at_of(&secret))
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !h
        .event_reasons("web-git")
        .await
        .iter()
        .any(|r| r == "RolloutRestartDisabled")
    {
        assert!(
            Instant::now() < deadline,
            "no RolloutRestartDisabled warning"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(restarted_at(&h, "web").await, None);
    let requests = h.operator_requests();
    assert!(
        requests.iter().all(|r| r.api_group != "apps"),
        "the operator touched workloads"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_issued_at_is_a_secret_to_repair_not_a_restart() {
    let h = Harness::start_with(crate::harness::Options {
        rollout_restart: true,
        ..crate::harness::Options::default()
    })
    .await;
    web_git_restarting_web(&h).await;
    let before = h.secret("web-git").await.unwrap();
    // The tenant writes a time of its choosing into the Secret.
    let forged = "2030-01-01T00:00:00.000Z";
    h.secrets()
        .patch(
            "web-git",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(
                json!({"metadata": {"annotations": {"iam.ssc-operator.dev/issued-at": forged}}}),
            ),
        )
        .await
        .unwrap();
    // Not intact any more: repaired with a new password, and the workloads follow that one.
    let repaired = h
        .wait_secret("web-git", |s| {
            crate::harness::login_and_secret(s) != crate::harness::login_and_secret(&before)
        })
        .await;
    let issued = issued_at_of(&repaired);
    assert_ne!(issued, forged);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let at = restarted_at(&h, "web").await;
        assert_ne!(
            at.as_deref(),
            Some(forged),
            "the forged time reached the workload"
        );
        if at.as_deref() == Some(issued.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "web not restarted: {at:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
