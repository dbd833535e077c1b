//! Benchmark at scale: the `ssc-operator` binary as its own process (so RSS and CPU are the
//! operator's alone) against the Kubernetes API stand-in and the IAM emulator, or against a real
//! cluster and IAM endpoint. Applies N resources spread over users and services and prints: time
//! to all Ready against the IAM limiter's physical bound, apply → Secret p50/p99, IAM calls by
//! operation, Kubernetes requests by verb, peak RSS and CPU seconds; then a steady state of two
//! resync intervals with nothing changed; then a rotation of all N.
//!
//! `cargo bench --bench scale` (see BENCHMARKS.md). Settings (environment):
//! - `SSC_BENCH_N` — resource counts to run, comma-separated (default `1000`)
//! - `SSC_BENCH_IAM_RATE` — the operator's IAM limiter, calls/s (default 10000: out of the way)
//! - `SSC_BENCH_RESYNC_SECS` — the resync interval (default 20)
//! - `SSC_BENCH_WRAP` — run the operator under this command (e.g. `heaptrack -o /tmp/ssc` for a
//!   heap profile; RSS and CPU are then the wrapper's process)
//! - `SSC_BENCH_KUBECONFIG` and `SSC_BENCH_IAM_ENDPOINT` — a real cluster (with the CRD
//!   installed) and IAM endpoint (e.g. the chart's emulator, port-forwarded) instead of the
//!   stand-in and the in-process emulator; Kubernetes requests are then not counted.
//! - `SSC_BENCH_BIN` — the operator binary to run (default: this tree's), e.g. an earlier build
//!   to compare against
//! - `SSC_BENCH_IDENTITIES=K` — the resources mint through K IAMIdentities (roles alternately in
//!   two accounts of the emulator, assumed from the operator's own user) instead of the
//!   operator's own identity; AssumeRole calls are reported by account (stand-in only)
//! - `SSC_BENCH_SCENARIO=tenant-bulk` — instead of the scale run: what tenants' bulk in metadata
//!   costs the operator. `SSC_BENCH_BULK_N` resources (default 40) and as many Secrets carrying
//!   the operator's label; then `SSC_BENCH_BULK_KIB` (default 250) of annotations on each
//!   resource, then on each Secret; the operator's RSS growth per MiB of annotations after each.
//! - `SSC_BENCH_SCENARIO=fairness` — instead of the scale run: shares between namespaces at the
//!   IAM limit (`SSC_BENCH_IAM_RATE`, default 50/s), see `scale/fairness.rs`
//! - `SSC_BENCH_CONCURRENCY` — the operator's `--concurrency` (default 16)
//! - `SSC_BENCH_OPERATOR_ARGS` — more flags for the operator (e.g. an earlier binary's own)

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use iam_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use kube_standin::{ApiServer, ApiServerConfig};
use serde_json::json;
use ssc_operator::ServiceSpecificCredential;

#[path = "scale/fairness.rs"]
mod fairness;

const NS: &str = "ssc-bench";
const SERVICES: [&str; 2] = ["codecommit.amazonaws.com", "cassandra.amazonaws.com"];
const BIN: &str = env!("CARGO_BIN_EXE_ssc-operator");
/// With `SSC_BENCH_IDENTITIES`: the two accounts, the operator's own first.
const ACCOUNTS: [&str; 2] = ["123456789012", "210987654321"];
/// The setup keys: each account's root.
const SETUP_KEYS: [(&str, &str); 2] = [("AKIDBENCHSETUP", "bench"), ("AKIDBENCHSETUPB", "bench")];

/// `SSC_BENCH_IDENTITIES`: how many IAMIdentities the resources mint through (0: none).
fn identities() -> usize {
    env_or("SSC_BENCH_IDENTITIES", 0)
}

/// The IAMIdentity of the user with index `user` (users are spread evenly over them).
fn identity_of(user: usize) -> Option<usize> {
    let k = identities();
    (k > 0).then(|| user % k)
}

/// The spec of a resource of user `user` for `service`, through the user's identity if any.
fn spec_for(users: &[String], user: usize, service: &str) -> serde_json::Value {
    let mut spec = json!({"userName": users[user], "serviceName": service});
    if let Some(k) = identity_of(user) {
        spec["identityRef"] = json!({"name": format!("bench-id-{k}")});
    }
    spec
}

/// `SSC_BENCH_CONCURRENCY`: the operator's `--concurrency` (default 16).
fn concurrency() -> u16 {
    env_or("SSC_BENCH_CONCURRENCY", 16)
}

/// The operator binary: `SSC_BENCH_BIN`, or this tree's.
fn bin() -> String {
    std::env::var("SSC_BENCH_BIN").unwrap_or_else(|_| BIN.to_string())
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Where the operator runs against.
enum Cluster {
    StandIn {
        kube: ApiServer,
        _iam: EmulatorHandle,
    },
    Real,
}

struct Target {
    cluster: Cluster,
    client: Client,
    kubeconfig: std::path::PathBuf,
    iam_endpoint: String,
    _dir: tempfile::TempDir,
}

async fn target() -> Target {
    let dir = tempfile::tempdir().unwrap();
    if let (Ok(kubeconfig), Ok(iam_endpoint)) = (
        std::env::var("SSC_BENCH_KUBECONFIG"),
        std::env::var("SSC_BENCH_IAM_ENDPOINT"),
    ) {
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        return Target {
            cluster: Cluster::Real,
            client: Client::try_from(config).unwrap(),
            kubeconfig: kubeconfig.into(),
            iam_endpoint,
            _dir: dir,
        };
    }
    // The stand-in's garbage collector scans every object after each change; real
    // kube-controller-manager works from its informers. At 10,000 resources a scan per write
    // would make the stand-in, not the operator, what is measured.
    let kube = ApiServer::start_with(ApiServerConfig {
        crds: ssc_operator::all_crds(),
        gc_delay: Duration::from_secs(2),
        ..ApiServerConfig::default()
    })
    .await;
    let iam = Emulator::start(if identities() > 0 {
        // Signed requests, so that each session acts in its role's account.
        let key = |id: &str, user: &str, account: &str| iam_emulator::AccessKey {
            access_key_id: id.into(),
            secret_access_key: "bench".into(),
            user: Some(user.into()),
            account: Some(account.into()),
        };
        EmulatorConfig {
            users: vec!["ssc-operator".into()],
            extra_accounts: vec![ACCOUNTS[1].into()],
            access_keys: vec![
                key("AKIDBENCHOPERATOR", "ssc-operator", ACCOUNTS[0]),
                key(SETUP_KEYS[0].0, "root", ACCOUNTS[0]),
                key(SETUP_KEYS[1].0, "root", ACCOUNTS[1]),
            ],
            ..EmulatorConfig::default()
        }
    } else {
        EmulatorConfig::default()
    })
    .await
    .unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: s, cluster: {{server: \"{}\"}}}}]\nusers: [{{name: u, user: {{token: \"{}\"}}}}]\ncontexts: [{{name: c, context: {{cluster: s, user: u, namespace: default}}}}]\ncurrent-context: c\n",
            kube.url(),
            kube.admin_token()
        ),
    )
    .unwrap();
    Target {
        client: kube.client(),
        iam_endpoint: iam.endpoint_url(),
        cluster: Cluster::StandIn { kube, _iam: iam },
        kubeconfig,
        _dir: dir,
    }
}

/// The operator process; killed when dropped.
struct Operator {
    child: Child,
    metrics: String,
}

impl Drop for Operator {
    fn drop(&mut self) {
        // Its own process group: a wrapper's child (SSC_BENCH_WRAP) goes with it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Operator {
    fn start(target: &Target, iam_rate: u32, resync_secs: u64) -> Operator {
        Operator::start_in(target, iam_rate, resync_secs, &[NS])
    }

    /// The operator watching `namespaces`, with `SSC_BENCH_CONCURRENCY` seats (default 16).
    fn start_in(target: &Target, iam_rate: u32, resync_secs: u64, namespaces: &[&str]) -> Operator {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // `SSC_BENCH_WRAP`: a command to run the operator under, e.g. `heaptrack -o /tmp/ssc`.
        let wrap: Vec<String> = std::env::var("SSC_BENCH_WRAP")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let mut command = match wrap.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(bin());
                command
            }
            None => Command::new(bin()),
        };
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .args(["run", "--policy", "permissive", "--leader-elect", "false"])
            .args(["--watch-namespace", &namespaces.join(",")])
            .args(["--concurrency", &concurrency().to_string()])
            .args(["--iam-endpoint-url", &target.iam_endpoint])
            .args(["--iam-rate-limit", &iam_rate.to_string()])
            .args(["--iam-burst", &iam_rate.min(1000).to_string()])
            .args(["--resync-interval", &format!("{resync_secs}s")])
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .args(["--log-level", "warn"])
            // `SSC_BENCH_OPERATOR_ARGS`: more flags, e.g. for an earlier binary's own.
            .args(
                std::env::var("SSC_BENCH_OPERATOR_ARGS")
                    .unwrap_or_default()
                    .split_whitespace(),
            )
            .env("KUBECONFIG", &target.kubeconfig)
            .env("AWS_ACCESS_KEY_ID", "AKIDBENCHOPERATOR")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ssc-operator");
        Operator {
            child,
            metrics: format!("http://127.0.0.1:{port}/metrics"),
        }
    }

    fn proc_field(&self, file: &str, key: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(key))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0)
    }

    /// Resident memory split: (file-backed — the binary's own pages —, anonymous — the heap).
    fn rss_split_mib(&self) -> (f64, f64) {
        let file = self.proc_field("smaps_rollup", "Rss:") as f64
            - self.proc_field("smaps_rollup", "Anonymous:") as f64;
        (
            file / 1024.0,
            self.proc_field("smaps_rollup", "Anonymous:") as f64 / 1024.0,
        )
    }

    fn peak_rss_mib(&self) -> f64 {
        self.proc_field("status", "VmHWM:") as f64 / 1024.0
    }

    fn rss_mib(&self) -> f64 {
        self.proc_field("status", "VmRSS:") as f64 / 1024.0
    }

    /// User + system CPU seconds so far (clock ticks of 1/100 s, Linux's USER_HZ).
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // After the command: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        (ticks(11) + ticks(12)) as f64 / 100.0
    }

    /// IAM calls by operation, from the operator's own metrics.
    async fn iam_calls(&self) -> BTreeMap<String, u64> {
        let text = reqwest::get(&self.metrics)
            .await
            .and_then(|r| r.error_for_status())
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut calls = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| l.starts_with("ssc_operator_iam_calls_total{"))
        {
            let op = line
                .split("operation=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("?");
            let n: u64 = line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            *calls
                .entry(op.trim_end_matches("ServiceSpecificCredential").to_string())
                .or_default() += n;
        }
        calls
    }
}

/// Kubernetes requests of the operator by verb (stand-in only).
fn kube_requests(target: &Target) -> BTreeMap<String, u64> {
    let mut by_verb = BTreeMap::new();
    if let Cluster::StandIn { kube, .. } = &target.cluster {
        for r in kube.requests() {
            if r.user_agent
                .as_deref()
                .is_some_and(|ua| ua.starts_with("ssc-operator/"))
            {
                *by_verb.entry(r.verb.clone()).or_default() += 1;
            }
        }
    }
    by_verb
}

fn difference(
    after: &BTreeMap<String, u64>,
    before: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn show(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn writes(by_verb: &BTreeMap<String, u64>) -> u64 {
    by_verb
        .iter()
        .filter(|(verb, _)| !matches!(verb.as_str(), "get" | "list" | "watch"))
        .map(|(_, n)| n)
        .sum()
}

/// When each Secret and each Ready condition (with a given rotate request handled) was first seen.
#[derive(Default)]
struct Seen {
    secrets: HashMap<String, Instant>,
    ready: HashMap<String, Instant>,
    rotated: HashMap<String, Instant>,
}

fn watch(client: &Client, seen: Arc<Mutex<Seen>>) {
    let secrets = watcher(
        Api::<Secret>::namespaced(client.clone(), NS),
        watcher::Config::default(),
    );
    let seen_secrets = seen.clone();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(secrets.applied_objects());
        while let Some(Ok(secret)) = stream.next().await {
            seen_secrets
                .lock()
                .unwrap()
                .secrets
                .entry(secret.name_any())
                .or_insert_with(Instant::now);
        }
    });
    let resources = watcher(
        Api::<ServiceSpecificCredential>::namespaced(client.clone(), NS),
        watcher::Config::default(),
    );
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(resources.applied_objects());
        while let Some(Ok(r)) = stream.next().await {
            let ready = r.ready_condition().is_some_and(|c| c.status == "True");
            let rotated = r
                .status
                .as_ref()
                .and_then(|s| s.handled_rotate_request.as_deref())
                == Some("bench");
            let mut seen = seen.lock().unwrap();
            if ready {
                seen.ready.entry(r.name_any()).or_insert_with(Instant::now);
                if rotated {
                    seen.rotated
                        .entry(r.name_any())
                        .or_insert_with(Instant::now);
                }
            }
        }
    });
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn wait_until(what: &str, limit: Duration, done: impl Fn() -> usize, n: usize) -> Duration {
    let started = Instant::now();
    loop {
        let count = done();
        if count >= n {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{what}: only {count}/{n} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// An IAM client signed by the root of `ACCOUNTS[account]`.
async fn setup_client(iam_endpoint: &str, account: usize) -> aws_sdk_iam::Client {
    let (id, secret) = SETUP_KEYS[account];
    ssc_operator::AwsIam::sdk_client(
        Some(iam_endpoint),
        Some("us-east-1"),
        Some(aws_credential_types::Credentials::new(
            id, secret, None, None, "bench",
        )),
    )
    .await
}

/// Makes the users, each in the account of its identity.
async fn create_users(iam_endpoint: &str, users: &[String]) {
    let sdks = [
        setup_client(iam_endpoint, 0).await,
        setup_client(iam_endpoint, 1).await,
    ];
    futures::stream::iter(users.iter().enumerate())
        .for_each_concurrent(16, |(i, user)| {
            let sdk = sdks[identity_of(i).unwrap_or(0) % 2].clone();
            async move {
                let _ = sdk.create_user().user_name(user).send().await;
            }
        })
        .await;
}

/// With `SSC_BENCH_IDENTITIES`: K roles alternately in the two accounts, trusting the operator's
/// user, and an IAMIdentity for each allowing the benchmark's namespace.
async fn create_identities(target: &Target) {
    let k = identities();
    let sdks = [
        setup_client(&target.iam_endpoint, 0).await,
        setup_client(&target.iam_endpoint, 1).await,
    ];
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:user/ssc-operator", ACCOUNTS[0])},
        "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}]});
    for i in 0..k {
        let _ = sdks[i % 2]
            .create_role()
            .role_name(format!("ssc-bench-{i}"))
            .assume_role_policy_document(trust.to_string())
            .send()
            .await;
        let identity: ssc_operator::IAMIdentity = serde_json::from_value(json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "IAMIdentity",
            "metadata": {"name": format!("bench-id-{i}")},
            "spec": {"roleArn": format!("arn:aws:iam::{}:role/ssc-bench-{i}", ACCOUNTS[i % 2]),
                     "allowedNamespaces": {"names": [NS]}}
        }))
        .unwrap();
        let _ = Api::<ssc_operator::IAMIdentity>::all(target.client.clone())
            .create(&PostParams::default(), &identity)
            .await;
    }
}

/// The benchmark's namespace (already there on a reused cluster).
async fn make_namespace(client: &Client) {
    make_namespace_named(client, NS).await;
}

async fn make_namespace_named(client: &Client, name: &str) {
    let _ = Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
        )
        .await;
}

async fn scenario(n: usize, iam_rate: u32, resync_secs: u64) {
    let target = target().await;
    make_namespace(&target.client).await;
    let users: Vec<String> = (0..n.div_ceil(SERVICES.len()))
        .map(|i| format!("bench-user-{i}"))
        .collect();
    create_users(&target.iam_endpoint, &users).await;
    if identities() > 0 {
        create_identities(&target).await;
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    watch(&target.client, seen.clone());
    let operator = Operator::start(&target, iam_rate, resync_secs);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (file, anon) = operator.rss_split_mib();
    println!(
        "\nscale n={n} ({} users x {} services), IAM limiter {iam_rate}/s, resync {resync_secs}s, concurrency {}, {}",
        users.len(),
        SERVICES.len(),
        concurrency(),
        match identities() {
            0 => "the operator's own identity".to_string(),
            k => format!("{k} IAMIdentities in 2 accounts (a limiter of {iam_rate}/s per account)"),
        }
    );
    println!(
        "  operator idle: RSS {:.1} MiB ({file:.1} of it the binary's pages, {anon:.1} heap)",
        operator.rss_mib()
    );

    // 1. Apply all N, at most 16 at a time; the clock runs from the first apply.
    let api: Api<ServiceSpecificCredential> = Api::namespaced(target.client.clone(), NS);
    let applied: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let started = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(16, |i| {
            let (api, applied) = (api.clone(), applied.clone());
            let spec = spec_for(&users, i / SERVICES.len(), SERVICES[i % SERVICES.len()]);
            async move {
                let name = format!("bench-{i}");
                let r: ServiceSpecificCredential = serde_json::from_value(json!({
                    "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
                    "metadata": {"name": name, "namespace": NS},
                    "spec": spec
                }))
                .unwrap();
                applied.lock().unwrap().insert(name, Instant::now());
                api.create(&PostParams::default(), &r).await.unwrap();
            }
        })
        .await;
    let applying = started.elapsed();
    let limit = Duration::from_secs(3600);
    let to_ready =
        wait_until("Ready", limit, || seen.lock().unwrap().ready.len(), n).await + applying;
    let calls = operator.iam_calls().await;
    let total: u64 = calls.values().sum();
    let mut latencies: Vec<Duration> = {
        let (seen, applied) = (seen.lock().unwrap(), applied.lock().unwrap());
        applied
            .iter()
            .filter_map(|(name, at)| {
                seen.secrets
                    .get(name)
                    .map(|s| s.saturating_duration_since(*at))
            })
            .collect()
    };
    latencies.sort();
    let bound = total as f64 / iam_rate as f64;
    println!(
        "  converge: {n} Ready in {:.1} s ({:.0}/s; applying took {:.1} s); IAM-bound minimum {:.1} s ({total} calls / {iam_rate}/s), {:+.0}%",
        to_ready.as_secs_f64(),
        n as f64 / to_ready.as_secs_f64(),
        applying.as_secs_f64(),
        bound,
        (to_ready.as_secs_f64() / bound.max(f64::EPSILON) - 1.0) * 100.0
    );
    println!(
        "  apply -> Secret: p50 {:.0} ms, p99 {:.0} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0
    );
    println!(
        "  IAM calls: {total} ({:.3} per resource): {}",
        total as f64 / n as f64,
        show(&calls)
    );
    if identities() > 0 {
        let assumed = calls.get("AssumeRole").copied().unwrap_or(0);
        println!(
            "  AssumeRole: {assumed} ({:.1} per identity; one session per identity and namespace, renewed once per sessionDuration, 1 h)",
            assumed as f64 / identities() as f64
        );
    }
    let kube_converge = kube_requests(&target);
    println!(
        "  Kubernetes requests: {} ({:.2} writes per new credential)",
        show(&kube_converge),
        writes(&kube_converge) as f64 / n as f64
    );
    println!(
        "  operator: peak RSS {:.1} MiB (now {:.1}), CPU {:.1} s",
        operator.peak_rss_mib(),
        operator.rss_mib(),
        operator.cpu_seconds()
    );

    // 2. Steady state: one interval to settle, then two measured, nothing changing.
    tokio::time::sleep(Duration::from_secs(resync_secs)).await;
    let (iam_before, kube_before, cpu_before) = (
        operator.iam_calls().await,
        kube_requests(&target),
        operator.cpu_seconds(),
    );
    tokio::time::sleep(Duration::from_secs(2 * resync_secs)).await;
    let iam_steady = difference(&operator.iam_calls().await, &iam_before);
    let kube_steady = difference(&kube_requests(&target), &kube_before);
    println!(
        "  steady state, per resync: IAM calls {:.1} ({}), Kubernetes requests {:.0}, of them writes {:.0}; CPU {:.2} s",
        iam_steady.values().sum::<u64>() as f64 / 2.0,
        show(&iam_steady),
        kube_steady.values().sum::<u64>() as f64 / 2.0,
        writes(&kube_steady) as f64 / 2.0,
        (operator.cpu_seconds() - cpu_before) / 2.0
    );

    // 3. One at a time while nothing else happens: what a single `kubectl apply` waits.
    let mut single = Vec::new();
    for i in 0..20 {
        let name = format!("bench-single-{i}");
        let r: ServiceSpecificCredential = serde_json::from_value(json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
            "metadata": {"name": name, "namespace": NS},
            "spec": spec_for(&users, i % users.len(), "bedrock.amazonaws.com")
        }))
        .unwrap();
        let at = Instant::now();
        api.create(&PostParams::default(), &r).await.unwrap();
        wait_until(
            "single Secret",
            limit,
            || usize::from(seen.lock().unwrap().secrets.contains_key(&name)),
            1,
        )
        .await;
        single.push(at.elapsed());
    }
    single.sort();
    println!(
        "  single apply -> Secret, one at a time: p50 {:.0} ms, p99 {:.0} ms",
        percentile(&single, 0.5).as_secs_f64() * 1000.0,
        percentile(&single, 0.99).as_secs_f64() * 1000.0
    );

    // 4. Rotate all N.
    let iam_before = operator.iam_calls().await;
    let started = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(16, |i| {
            let api = api.clone();
            async move {
                let patch =
                    json!({"metadata": {"annotations": {"iam.ssc-operator.dev/rotate": "bench"}}});
                api.patch(
                    &format!("bench-{i}"),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .unwrap();
            }
        })
        .await;
    let rotated = wait_until("rotated", limit, || seen.lock().unwrap().rotated.len(), n).await;
    let iam_rotate = difference(&operator.iam_calls().await, &iam_before);
    let rotate_total: u64 = iam_rotate.values().sum();
    println!(
        "  rotate all: {n} in {:.1} s ({:.0}/s; IAM-bound minimum {:.1} s); IAM calls {rotate_total} ({:.3} per resource): {}",
        (started.elapsed().max(rotated)).as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64(),
        rotate_total as f64 / iam_rate as f64,
        rotate_total as f64 / n as f64,
        show(&iam_rotate)
    );
    let (file, anon) = operator.rss_split_mib();
    println!(
        "  operator at the end: peak RSS {:.1} MiB, now {:.1} MiB ({file:.1} binary, {anon:.1} heap), CPU {:.1} s",
        operator.peak_rss_mib(),
        operator.rss_mib(),
        operator.cpu_seconds()
    );
    drop(operator);
}

/// `SSC_BENCH_SCENARIO=tenant-bulk`: RSS growth of the operator per MiB of annotations tenants
/// put on its resources and on Secrets carrying its label (issue 17, finding 5).
async fn tenant_bulk(n: usize, kib: usize) {
    let target = target().await;
    make_namespace(&target.client).await;
    let users: Vec<String> = (0..n).map(|i| format!("bulk-user-{i}")).collect();
    create_users(&target.iam_endpoint, &users).await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    watch(&target.client, seen.clone());
    // A resync longer than the run: what is measured is what the operator holds, not a pass.
    let operator = Operator::start(&target, 10_000, 3600);
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "\ntenant bulk: {n} resources and {n} Secrets labelled {}={}, {kib} KiB of annotations on each (binary {})",
        ssc_operator::MANAGED_BY_LABEL,
        ssc_operator::MANAGED_BY_VALUE,
        bin()
    );
    println!("  operator idle: RSS {:.1} MiB", operator.rss_mib());

    let resources: Api<ServiceSpecificCredential> = Api::namespaced(target.client.clone(), NS);
    let secrets: Api<Secret> = Api::namespaced(target.client.clone(), NS);
    for (i, user) in users.iter().enumerate() {
        let r: ServiceSpecificCredential = serde_json::from_value(json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "ServiceSpecificCredential",
            "metadata": {"name": format!("bulk-{i}"), "namespace": NS},
            "spec": {"userName": user, "serviceName": SERVICES[0]}
        }))
        .unwrap();
        resources.create(&PostParams::default(), &r).await.unwrap();
        let s: Secret = serde_json::from_value(json!({
            "metadata": {"name": format!("tenant-{i}"), "namespace": NS, "labels": {
                ssc_operator::MANAGED_BY_LABEL: ssc_operator::MANAGED_BY_VALUE
            }},
            "stringData": {"note": "a tenant's own Secret, carrying the operator's label"}
        }))
        .unwrap();
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    wait_until(
        "Ready",
        Duration::from_secs(300),
        || seen.lock().unwrap().ready.len(),
        n,
    )
    .await;
    let settle = Duration::from_secs(10);
    tokio::time::sleep(settle).await;
    let (_, heap) = operator.rss_split_mib();
    let baseline = (operator.rss_mib(), heap);
    println!(
        "  {n} Ready, {n} labelled Secrets, no bulk: RSS {:.1} MiB ({:.1} heap)",
        baseline.0, baseline.1
    );

    let bulk = "x".repeat(kib * 1024);
    let patch = json!({"metadata": {"annotations": {"tenant.example/bulk": bulk}}});
    let mib = (n * kib) as f64 / 1024.0;
    let mut before = baseline;
    for (what, api_name) in [("resources", "bulk"), ("Secrets", "tenant")] {
        for i in 0..n {
            let name = format!("{api_name}-{i}");
            if what == "resources" {
                resources
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .unwrap();
            } else {
                secrets
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .unwrap();
            }
        }
        tokio::time::sleep(settle).await;
        let (_, heap) = operator.rss_split_mib();
        let now = (operator.rss_mib(), heap);
        println!(
            "  + {mib:.1} MiB of annotations on the {what}: RSS {:.1} MiB ({:.1} heap), {:+.2} MiB = {:.3} MiB per MiB ({:+.2} MiB heap)",
            now.0,
            now.1,
            now.0 - before.0,
            (now.0 - before.0) / mib,
            now.1 - before.1
        );
        before = now;
    }
    println!(
        "  in all: {:.1} MiB of annotations, RSS {:.1} -> {:.1} MiB = {:.3} MiB per MiB; peak RSS {:.1} MiB",
        2.0 * mib,
        baseline.0,
        before.0,
        (before.0 - baseline.0) / (2.0 * mib),
        operator.peak_rss_mib()
    );
    drop(operator);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match std::env::var("SSC_BENCH_SCENARIO").as_deref() {
        Ok("tenant-bulk") => {
            runtime.block_on(tenant_bulk(
                env_or("SSC_BENCH_BULK_N", 40),
                env_or("SSC_BENCH_BULK_KIB", 250),
            ));
            return;
        }
        Ok("fairness") => {
            runtime.block_on(fairness::run(env_or("SSC_BENCH_IAM_RATE", 50u32)));
            return;
        }
        _ => {}
    }
    let counts: String = env_or("SSC_BENCH_N", "1000".to_string());
    let rate = env_or("SSC_BENCH_IAM_RATE", 10_000u32);
    let resync = env_or("SSC_BENCH_RESYNC_SECS", 20u64);
    for n in counts.split(',').filter_map(|n| n.trim().parse().ok()) {
        runtime.block_on(scenario(n, rate, resync));
    }
}
