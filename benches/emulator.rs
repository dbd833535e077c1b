//! Benchmark: the IAM emulator through the real aws-sdk-iam client over HTTP. Prints operations
//! per second and latency percentiles for Create/List/Reset/Delete, sequential and concurrent;
//! then the same CreateUser/GetUser load against moto's server (`moto[server]` from PyPI, what a
//! user would pick instead), which answers every service-specific-credential operation with
//! HTTP 500. `cargo bench --bench emulator` (see BENCHMARKS.md); set `SSC_BENCH_MOTO=skip` to
//! leave moto out, or `SSC_BENCH_MOTO_SERVER` to a `moto_server` to use instead of installing
//! one into `target/bench-venv`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_emulator::{Emulator, EmulatorConfig};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn report(name: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    println!(
        "emulator/{name:<28} {:>6} ops in {:>6.2} s  {:>8.0} ops/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        latencies.len(),
        wall.as_secs_f64(),
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    );
}

async fn client(endpoint: &str) -> aws_sdk_iam::Client {
    ssc_operator::AwsIam::sdk_client(
        Some(endpoint),
        Some("us-east-1"),
        Some(aws_credential_types::Credentials::new(
            "AKIDBENCH",
            "bench",
            None,
            None,
            "bench",
        )),
    )
    .await
}

async fn run() {
    let users: Vec<String> = (0..1000).map(|i| format!("user{i}")).collect();
    let emulator = Emulator::start(EmulatorConfig {
        users: users.clone(),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let iam = client(&emulator.endpoint_url()).await;

    // Sequential create, one per user.
    let mut lat = Vec::new();
    let mut ids = Vec::new();
    let wall = Instant::now();
    for user in &users {
        let t = Instant::now();
        let out = iam
            .create_service_specific_credential()
            .user_name(user)
            .service_name("codecommit.amazonaws.com")
            .send()
            .await
            .unwrap();
        lat.push(t.elapsed());
        ids.push((
            user.clone(),
            out.service_specific_credential()
                .unwrap()
                .service_specific_credential_id()
                .to_string(),
        ));
    }
    report("create (sequential)", lat, wall.elapsed());

    let mut lat = Vec::new();
    let wall = Instant::now();
    for user in &users {
        let t = Instant::now();
        iam.list_service_specific_credentials()
            .user_name(user)
            .service_name("codecommit.amazonaws.com")
            .send()
            .await
            .unwrap();
        lat.push(t.elapsed());
    }
    report("list by user (sequential)", lat, wall.elapsed());

    let t = Instant::now();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let out = iam
            .list_service_specific_credentials()
            .all_users(true)
            .service_name("codecommit.amazonaws.com")
            .set_marker(marker)
            .max_items(100)
            .send()
            .await
            .unwrap();
        pages += 1;
        if !out.is_truncated() {
            break;
        }
        marker = out.marker().map(str::to_string);
    }
    println!(
        "emulator/list AllUsers 1000 creds         {pages} pages in {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    // Concurrent reset: 8 clients in parallel.
    let ids = Arc::new(ids);
    let wall = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let iam = iam.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for (user, id) in ids.iter().skip(worker).step_by(8) {
                let t = Instant::now();
                iam.reset_service_specific_credential()
                    .user_name(user)
                    .service_specific_credential_id(id)
                    .send()
                    .await
                    .unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    report("reset (8 concurrent)", lat, wall.elapsed());

    let mut lat = Vec::new();
    let wall = Instant::now();
    for (user, id) in ids.iter() {
        let t = Instant::now();
        iam.delete_service_specific_credential()
            .user_name(user)
            .service_specific_credential_id(id)
            .send()
            .await
            .unwrap();
        lat.push(t.elapsed());
    }
    report("delete (sequential)", lat, wall.elapsed());
    emulator.shutdown().await;
}

/// The moto release compared against.
const MOTO: &str = "moto[server]==5.2.5";

/// A `moto_server` executable: the one named, or one installed into `target/bench-venv`.
fn moto_server() -> Option<std::path::PathBuf> {
    if let Ok(path) = std::env::var("SSC_BENCH_MOTO_SERVER") {
        return Some(path.into());
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-venv");
    let server = venv.join("bin/moto_server");
    if !server.exists() {
        let ok = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && std::process::Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", MOTO])
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("could not install {MOTO}; moto comparison skipped");
            return None;
        }
    }
    Some(server)
}

/// 2,000 GetUser calls from 8 concurrent clients; their latencies and the wall time.
async fn get_users_concurrently(
    iam: &aws_sdk_iam::Client,
    users: &Arc<Vec<String>>,
) -> (Vec<Duration>, Duration) {
    let wall = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|worker| {
            let (iam, users) = (iam.clone(), users.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                for user in users.iter().cycle().skip(worker).step_by(8).take(250) {
                    let t = Instant::now();
                    iam.get_user().user_name(user).send().await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    (lat, wall.elapsed())
}

/// CreateUser (sequential) and GetUser (sequential and 8 concurrent) against `endpoint`.
async fn user_load(name: &str, endpoint: &str) -> f64 {
    let iam = client(endpoint).await;
    let users: Vec<String> = (0..500).map(|i| format!("load{i}")).collect();
    let mut lat = Vec::new();
    let wall = Instant::now();
    for user in &users {
        let t = Instant::now();
        iam.create_user().user_name(user).send().await.unwrap();
        lat.push(t.elapsed());
    }
    report(&format!("{name} CreateUser (seq)"), lat, wall.elapsed());
    let mut lat = Vec::new();
    let wall = Instant::now();
    for user in &users {
        let t = Instant::now();
        iam.get_user().user_name(user).send().await.unwrap();
        lat.push(t.elapsed());
    }
    report(&format!("{name} GetUser (seq)"), lat, wall.elapsed());
    let users = Arc::new(users);
    let (lat, wall) = get_users_concurrently(&iam, &users).await;
    let ops = lat.len() as f64 / wall.as_secs_f64();
    report(&format!("{name} GetUser (8 conc.)"), lat, wall);
    let ssc = iam
        .create_service_specific_credential()
        .user_name("load0")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await;
    println!(
        "{name}: CreateServiceSpecificCredential -> {}",
        match &ssc {
            Ok(_) => "a credential".to_string(),
            Err(e) => format!(
                "HTTP {}",
                e.raw_response().map_or(0, |r| r.status().as_u16())
            ),
        }
    );
    ops
}

async fn compare_with_moto() {
    if std::env::var("SSC_BENCH_MOTO").as_deref() == Ok("skip") {
        return;
    }
    let Some(server) = moto_server() else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut moto = std::process::Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start moto_server");
    let endpoint = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while reqwest::get(&endpoint).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ours = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    println!("\nagainst {MOTO} (same client, same load):");
    let ours_ops = user_load("ours", &ours.endpoint_url()).await;
    let moto_ops = user_load("moto", &endpoint).await;
    println!(
        "GetUser, 8 concurrent: ours {ours_ops:.0} ops/s, moto {moto_ops:.0} ops/s: {:.1}x",
        ours_ops / moto_ops
    );
    let _ = moto.kill();
    let _ = moto.wait();
    ours.shutdown().await;
}

/// The policy the enforcing run evaluates on every call: README's "Scoping what the operator may mint" policy, plus
/// GetUser, under a boundary and a guardrail (three documents, six statements, conditions on Create).
const MINT_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Passwords","Effect":"Allow","Action":"iam:CreateServiceSpecificCredential","Resource":"arn:aws:iam::123456789012:user/*",
  "Condition":{"StringEquals":{"iam:ServiceSpecificCredentialServiceName":["codecommit.amazonaws.com"]}}},
 {"Sid":"ApiKeysOfAtMost90Days","Effect":"Allow","Action":"iam:CreateServiceSpecificCredential","Resource":"arn:aws:iam::123456789012:user/*",
  "Condition":{"StringEquals":{"iam:ServiceSpecificCredentialServiceName":["bedrock.amazonaws.com"]},"NumericLessThanEquals":{"iam:ServiceSpecificCredentialAgeDays":"90"}}},
 {"Sid":"ManageWhatExists","Effect":"Allow","Action":["iam:GetUser","iam:ListServiceSpecificCredentials","iam:ResetServiceSpecificCredential",
  "iam:UpdateServiceSpecificCredential","iam:DeleteServiceSpecificCredential"],"Resource":"arn:aws:iam::123456789012:user/*"}]}"#;
const BOUNDARY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*ServiceSpecificCredential*","iam:GetUser"],"Resource":"*"}]}"#;
const GUARDRAIL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
 {"Effect":"Deny","Action":"iam:CreateServiceSpecificCredential","Resource":"*","Condition":{"NumericGreaterThan":{"iam:ServiceSpecificCredentialAgeDays":"365"}}}]}"#;

/// GetUser (8 concurrent) and CreateServiceSpecificCredential (sequential) as a user with [`MINT_POLICY`], SigV4
/// verified, with enforcement on or off; returns (GetUser ops/s, Create ops/s).
async fn policy_load(enforce: bool) -> (f64, f64) {
    let users: Vec<String> = (0..500).map(|i| format!("load{i}")).collect();
    let emulator = Emulator::start(EmulatorConfig {
        users: users.clone(),
        access_keys: vec![
            "AKIDBENCHROOT:root-secret:root".parse().unwrap(),
            "AKIDBENCH:bench:operator".parse().unwrap(),
        ],
        enforce: if enforce {
            iam_emulator::Enforce::All
        } else {
            iam_emulator::Enforce::Off
        },
        guardrails: [("123456789012".to_string(), GUARDRAIL.to_string())].into(),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let endpoint = emulator.endpoint_url();
    let root = ssc_operator::AwsIam::sdk_client(
        Some(&endpoint),
        Some("us-east-1"),
        Some(aws_credential_types::Credentials::new(
            "AKIDBENCHROOT",
            "root-secret",
            None,
            None,
            "bench",
        )),
    )
    .await;
    root.put_user_policy()
        .user_name("operator")
        .policy_name("mint")
        .policy_document(MINT_POLICY)
        .send()
        .await
        .unwrap();
    let boundary = root
        .create_policy()
        .policy_name("boundary")
        .policy_document(BOUNDARY)
        .send()
        .await
        .unwrap();
    root.put_user_permissions_boundary()
        .user_name("operator")
        .permissions_boundary(boundary.policy().unwrap().arn().unwrap())
        .send()
        .await
        .unwrap();
    let iam = client(&endpoint).await;
    let label = if enforce {
        "enforce on "
    } else {
        "enforce off"
    };
    let users = Arc::new(users);
    let (lat, wall) = get_users_concurrently(&iam, &users).await;
    let get_ops = lat.len() as f64 / wall.as_secs_f64();
    report(&format!("{label} GetUser (8 conc.)"), lat, wall);
    let mut lat = Vec::new();
    let wall = Instant::now();
    for user in users.iter() {
        let t = Instant::now();
        iam.create_service_specific_credential()
            .user_name(user)
            .service_name("bedrock.amazonaws.com")
            .credential_age_days(30)
            .send()
            .await
            .unwrap();
        lat.push(t.elapsed());
    }
    let wall = wall.elapsed();
    let create_ops = lat.len() as f64 / wall.as_secs_f64();
    report(&format!("{label} Create (seq)"), lat, wall);
    emulator.shutdown().await;
    (get_ops, create_ops)
}

/// What `--enforce` costs: the same signed load with evaluation off and on, twice each, interleaved.
async fn enforcement_cost() {
    println!(
        "\n--enforce (a user with a policy, a boundary and an account guardrail; SigV4 verified in both):"
    );
    let mut off = (0.0f64, 0.0f64);
    let mut on = (0.0f64, 0.0f64);
    for _ in 0..2 {
        let o = policy_load(false).await;
        let e = policy_load(true).await;
        off = (off.0.max(o.0), off.1.max(o.1));
        on = (on.0.max(e.0), on.1.max(e.1));
    }
    println!(
        "--enforce costs {:.1} % of GetUser throughput ({:.0} -> {:.0} ops/s) and {:.1} % of Create ({:.0} -> {:.0} ops/s); best of two runs each",
        (1.0 - on.0 / off.0) * 100.0,
        off.0,
        on.0,
        (1.0 - on.1 / off.1) * 100.0,
        off.1,
        on.1
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
    runtime.block_on(enforcement_cost());
    runtime.block_on(compare_with_moto());
}
