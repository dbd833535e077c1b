//! The real binary: `ssc-operator run` in dev mode (the README's first command) against the API
//! stand-in through a kubeconfig, its probes, JSON logs, SIGTERM, and the message it gives without
//! a cluster.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use serde_json::json;

use crate::harness::{Harness, NS, Options, data};
use ssc_operator::PolicyMode;

const BIN: &str = env!("CARGO_BIN_EXE_ssc-operator");

/// Sends SIGTERM to `child` and waits (at most 15 s) for it to exit.
pub(crate) fn sigterm_and_wait(child: &mut std::process::Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn run_without_a_cluster_says_how_to_point_it_at_one() {
    let out = Command::new(BIN)
        .args(["run", "--log-format", "text"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("KUBECONFIG"), "{stderr}");
    assert!(stderr.contains("kind create cluster"), "{stderr}");
}

/// Runs `ssc-operator run` with `args` where no cluster is reachable; its stderr, after
/// checking that it refused to start.
fn refused_at_start(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["run", "--log-format", "text"])
        .args(args)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("SSC_ALLOW_TEST_CLOCK_OFFSET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn leader_timings_that_cannot_hold_are_refused_at_start() {
    let stderr = refused_at_start(&["--lease-duration", "3s", "--leader-renew-deadline", "3s"]);
    assert!(
        stderr.contains("must be longer than the renew deadline")
            && stderr.contains("--leader-renew-deadline"),
        "{stderr}"
    );
}

#[test]
fn the_test_clock_offset_is_refused_without_its_opt_in() {
    let stderr = refused_at_start(&["--test-clock-offset=60s"]);
    assert!(
        stderr.contains("SSC_ALLOW_TEST_CLOCK_OFFSET=yes"),
        "{stderr}"
    );
}

fn kubeconfig_for(dir: &std::path::Path, url: &str, token: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    crate::harness::write_kubeconfig(&path, url, token);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_without_the_crd_says_how_to_install_it() {
    let kube = kube_standin::ApiServer::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(dir.path(), &kube.url(), &kube.admin_token());
    let out = tokio::process::Command::new(BIN)
        .args(["run", "--log-format", "text", "--http-addr", "127.0.0.1:0"])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("are not both installed"), "{stderr}");
    assert!(
        stderr.contains("ssc-operator crd | kubectl apply -f -"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_reconciles_logs_json_and_stops_on_sigterm() {
    let (h, _dir, kubeconfig) = cluster_without_operator().await;
    let DevMode {
        mut child,
        port,
        lines,
        reader,
    } = DevMode::start(&kubeconfig).await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    h.apply(json!({
        "metadata": {"name": "alice-git", "namespace": NS},
        "spec": {"userName": "alice", "serviceName": "codecommit.amazonaws.com"}
    }))
    .await;
    h.wait_ready("alice-git").await;
    let secret = h.secret("alice-git").await.unwrap();
    assert_eq!(data(&secret)["username"], "alice-at-123456789012");
    let password = data(&secret)["password"].clone();
    let metrics = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("ssc_operator_leader 1"), "{metrics}");
    assert!(!metrics.contains(&password));

    // SIGTERM: finish, release the Lease, exit 0.
    let status = sigterm_and_wait(&mut child);
    reader.join().unwrap();
    let lines = lines.lock().unwrap().clone();
    assert!(status.success(), "exit {status:?}: {lines:?}");
    let lease = Api::<Lease>::namespaced(h.client(), "ssc-system")
        .get("ssc-operator")
        .await
        .unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity,
        None,
        "released on SIGTERM"
    );

    // Logs: flat JSON lines, as log pipelines index them: `timestamp`, `level`, `message` and
    // every field at the top level; every line inside a reconcile names the resource (`namespace`,
    // `name`) and its pass (`reconcile_id`); no secret anywhere.
    let mut reconcile_ids = std::collections::BTreeSet::new();
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(!line.contains(&password), "password in the logs");
        for key in ["timestamp", "level", "message", "target"] {
            assert!(value[key].is_string(), "no {key}: {line}");
        }
        for nested in ["span", "spans", "fields"] {
            assert!(value.get(nested).is_none(), "nested {nested}: {line}");
        }
        if let Some(id) = value.get("reconcile_id") {
            reconcile_ids.insert(id.as_str().expect("a string").to_string());
            assert_eq!(value["namespace"], NS, "{line}");
            assert_eq!(value["name"], "alice-git", "{line}");
        }
    }
    assert!(
        !reconcile_ids.is_empty(),
        "no reconcile log lines: {lines:?}"
    );
    assert!(
        reconcile_ids
            .iter()
            .all(|id| id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit())),
        "{reconcile_ids:?}"
    );
}

/// The stand-in with the CRD and no operator running, and a kubeconfig for it (in the returned
/// directory, which must outlive the test).
async fn cluster_without_operator() -> (Harness, tempfile::TempDir, std::path::PathBuf) {
    let mut h = Harness::start_with(Options {
        policy: PolicyMode::Permissive,
        ..Options::default()
    })
    .await;
    h.stop_operator().await;
    h.kube.create_namespace("ssc-system", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(dir.path(), &h.kube.url(), &h.kube.admin_token());
    (h, dir, kubeconfig)
}

/// `run --embedded-emulator` (dev mode) as its own process, its stderr collected line by line.
struct DevMode {
    child: std::process::Child,
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    reader: std::thread::JoinHandle<()>,
}

impl DevMode {
    /// Starts it against the cluster of `kubeconfig` and waits until it is ready.
    async fn start(kubeconfig: &std::path::Path) -> DevMode {
        let port = free_port();
        let mut child = Command::new(BIN)
            .args([
                "run",
                "--embedded-emulator",
                "--emulator-user",
                "alice",
                "--policy",
                "permissive",
                "--http-addr",
                &format!("127.0.0.1:{port}"),
                "--lease-duration",
                "5s",
            ])
            .env("KUBECONFIG", kubeconfig)
            .env_remove("RUST_LOG")
            .env("POD_NAME", "dev-replica")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let reader = {
            let lines = lines.clone();
            let stderr = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            })
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let ready = http
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .map(|r| r.status() == 200)
                .unwrap_or(false);
            if ready {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never ready: {:?}",
                lines.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        DevMode {
            child,
            port,
            lines,
            reader,
        }
    }

    /// The embedded emulator's URL, from its start-up log line.
    fn emulator_endpoint(&self) -> String {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find_map(|line| line["endpoint"].as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("no emulator endpoint logged: {lines:?}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_emulator_answers_only_the_operator() {
    let (h, _dir, kubeconfig) = cluster_without_operator().await;
    let mut dev = DevMode::start(&kubeconfig).await;
    let endpoint = dev.emulator_endpoint();
    h.apply(json!({
        "metadata": {"name": "alice-git", "namespace": NS},
        "spec": {"userName": "alice", "serviceName": "codecommit.amazonaws.com"}
    }))
    .await;
    h.wait_ready("alice-git").await;

    // Anyone else on the machine: an unsigned IAM request, and one signed with a key of their own
    // (the fixed key dev mode once used included), are refused; so is the admin API.
    let http = reqwest::Client::new();
    let unsigned = http
        .post(&endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=ListServiceSpecificCredentials&Version=2010-05-08&UserName=alice")
        .send()
        .await
        .unwrap();
    let status = unsigned.status();
    let body = unsigned.text().await.unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>"), "an AWS error: {body}");
    let forged = ssc_operator::AwsIam::sdk_client(
        Some(&endpoint),
        None,
        Some(aws_credential_types::Credentials::new(
            "AKIDEMBEDDEDEMULATOR",
            "embedded-emulator-secret",
            None,
            None,
            "someone-else",
        )),
    )
    .await;
    let refused = forged
        .list_service_specific_credentials()
        .user_name("alice")
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    for admin in ["/_emulator/faults", "/_emulator/clock"] {
        let answer = http.get(format!("{endpoint}{admin}")).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{admin}");
    }
    let status = sigterm_and_wait(&mut dev.child);
    assert!(status.success(), "exit {status:?}");
}

/// A resource whose status a tenant made unreadable to the operator's types (a wildcard Role
/// writes status) does not stop the operator from starting: its start-up checks read no status,
/// and the resource itself is reconciled, its status written anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_status_does_not_stop_the_operator_starting() {
    let (h, _dir, kubeconfig) = cluster_without_operator().await;
    h.apply(json!({
        "metadata": {"name": "alice-git", "namespace": NS},
        "spec": {"userName": "alice", "serviceName": "codecommit.amazonaws.com"}
    }))
    .await;
    let untyped = h.untyped_resources(h.client());
    untyped
        .patch_status(
            "alice-git",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"status": {"expirationDate": "9999-12-31T00:00:00Z"}})),
        )
        .await
        .unwrap();
    let mut dev = DevMode::start(&kubeconfig).await;
    let started = Instant::now();
    loop {
        let status = &untyped.get("alice-git").await.unwrap().data["status"];
        let ready = status["conditions"].as_array().is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
        if ready && status["expirationDate"].is_null() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "status never rewritten: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.wait_ready("alice-git").await;
    let status = sigterm_and_wait(&mut dev.child);
    assert!(status.success(), "exit {status:?}");
    dev.reader.join().unwrap();
    let lines = dev.lines.lock().unwrap();
    let warned: Vec<_> = lines
        .iter()
        .filter(|line| line.contains("could not check"))
        .collect();
    assert!(warned.is_empty(), "{warned:?}");
}
