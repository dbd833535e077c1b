//! Benchmark (issue #20 f): the emulator's state file under write load, as it grows. CreateUser +
//! CreateServiceSpecificCredential pairs from 8 concurrent aws-sdk-iam clients over HTTP, against an emulator whose
//! SQLite state file on disk already holds 0, 10,000 and 50,000 credentials (written straight into the file, not
//! through HTTP); the time to start on each file; and, for comparison, what one write cost on the old JSON state
//! file at the same sizes (the old `Store::mutate` + `Persister::save`: clone the state, encode it whole, write a
//! temp file, fsync, rename, fsync the directory).
//!
//! `cargo bench --bench emulator_state` (see BENCHMARKS.md). `SSC_BENCH_STATE_DIR` picks the directory the files go
//! in (default: the system temp dir); fsync costs depend on its disk.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use iam_emulator::store::{Credential, State, StoredStatus, User};
use iam_emulator::{Emulator, EmulatorConfig, EmulatorHandle};

const ACCOUNT: &str = "123456789012";
/// The preloads, in stored credentials.
const SIZES: [usize; 3] = [0, 10_000, 50_000];
/// Every service, two slots each: 12 credentials per preloaded user. (IAM's quota of 5,000 users per account
/// leaves the load room for its own users only if no more than about 4,200 are preloaded.)
const SERVICES: [&str; 6] = [
    "codecommit.amazonaws.com",
    "cassandra.amazonaws.com",
    "bedrock.amazonaws.com",
    "logs.amazonaws.com",
    "cloudwatch.amazonaws.com",
    "aws-external-anthropic.amazonaws.com",
];
/// User + credential pairs per measured run, and the clients sending them.
const PAIRS: usize = 800;
const CLIENTS: usize = 8;
/// Measured runs per size.
const ROUNDS: usize = 3;

/// `credentials` credentials, 12 per user, with users to hold them.
fn preloaded(credentials: usize) -> State {
    preloaded_by(credentials, SERVICES.len() * 2)
}

/// `credentials` credentials, `per_user` (1 to 12) per user.
fn preloaded_by(credentials: usize, per_user: usize) -> State {
    let users = credentials.div_ceil(per_user);
    let mut state = State::new(ACCOUNT);
    state.users = (0..users)
        .map(|u| {
            let name = format!("preloaded-{u}");
            let user = User {
                name: name.clone(),
                id: format!("AIDAPRELOAD{u:010}"),
                path: "/".into(),
                create_date: 1_767_225_600,
                permissions_boundary: None,
                tags: vec![],
                inline_policies: Default::default(),
                attached_policies: vec![],
            };
            (name, user)
        })
        .collect();
    state.credentials = (0..credentials)
        .map(|i| {
            let service = SERVICES[(i % per_user) / 2];
            let credential = Credential {
                id: format!("ACCAPRELOAD{i:010}"),
                user_key: format!("preloaded-{}", i / per_user),
                service_name: service.into(),
                slot: (i % 2) as u8,
                create_date: 1_767_225_600,
                expiration_date: None,
                status: StoredStatus::Active,
                secret_sha256: iam_emulator::ids::digest(&format!("preloaded password {i}")),
                seq: i as u64 + 1,
            };
            (credential.id.clone(), credential)
        })
        .collect();
    state.next_seq = credentials as u64 + 1;
    state
}

fn client(endpoint: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDBENCH", "bench", None, None, "bench"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

async fn start(state_file: Option<&Path>) -> EmulatorHandle {
    Emulator::start(EmulatorConfig {
        state_file: state_file.map(Path::to_path_buf),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// [`PAIRS`] CreateUser + CreateServiceSpecificCredential pairs from [`CLIENTS`] clients; pairs per second.
async fn load(emulator: &EmulatorHandle, label: &str) -> f64 {
    let iam = client(&emulator.endpoint_url());
    let next = Arc::new(AtomicUsize::new(0));
    let wall = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (iam, next) = (iam.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= PAIRS {
                        return latencies;
                    }
                    let user = format!("load-{i}");
                    let t = Instant::now();
                    iam.create_user().user_name(&user).send().await.unwrap();
                    iam.create_service_specific_credential()
                        .user_name(&user)
                        .service_name("codecommit.amazonaws.com")
                        .send()
                        .await
                        .unwrap();
                    latencies.push(t.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let wall = wall.elapsed();
    latencies.sort();
    let rate = PAIRS as f64 / wall.as_secs_f64();
    println!(
        "emulator_state/{label:<34} {PAIRS} pairs in {:>5.2} s  {rate:>6.0} pairs/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        wall.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    );
    rate
}

/// One write of the old JSON state file, as its `Store::mutate` and `Persister::save` did it.
fn old_json_write(state: &State, path: &Path) -> Duration {
    let t = Instant::now();
    let copy = state.clone();
    let bytes = serde_json::to_vec_pretty(&copy).unwrap();
    let dir = path.parent().unwrap();
    let tmp = dir.join(format!(
        ".{}.tmp-bench",
        path.file_name().unwrap().to_string_lossy()
    ));
    let mut f = std::fs::File::create(&tmp).unwrap();
    f.write_all(&bytes).unwrap();
    f.sync_all().unwrap();
    std::fs::rename(&tmp, path).unwrap();
    std::fs::File::open(dir).unwrap().sync_all().unwrap();
    t.elapsed()
}

async fn run() {
    let base = std::env::var_os("SSC_BENCH_STATE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base).unwrap();
    println!("state files in {}", dir.path().display());

    let emulator = start(None).await;
    load(&emulator, "no state file (memory only)").await;
    emulator.shutdown().await;

    // Rounds over the sizes, each run on a freshly written file: fsync times drift, the median of 3 does not.
    let states: Vec<State> = SIZES.iter().map(|&size| preloaded(size)).collect();
    let mut rates = vec![Vec::new(); SIZES.len()];
    let mut starts = vec![Vec::new(); SIZES.len()];
    for round in 1..=ROUNDS {
        for (i, (size, state)) in SIZES.iter().zip(&states).enumerate() {
            let path = dir.path().join(format!("state-{size}.db"));
            let t = Instant::now();
            iam_emulator::persist::write_new(&path, state).unwrap();
            let written = t.elapsed();
            let t = Instant::now();
            let emulator = start(Some(&path)).await;
            let started = t.elapsed();
            println!(
                "emulator_state/round {round}, preload {size:>6} credentials: file written in {:>6.1} ms ({:.1} MB), emulator started on it in {:>6.1} ms",
                written.as_secs_f64() * 1e3,
                std::fs::metadata(&path).unwrap().len() as f64 / 1e6,
                started.as_secs_f64() * 1e3,
            );
            rates[i].push(load(&emulator, &format!("SQLite, {size} stored")).await);
            starts[i].push(started);
            emulator.shutdown().await;
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = rates.iter_mut().map(median).collect();
    for ((size, rate), starts) in SIZES.iter().zip(&medians).zip(&mut starts) {
        starts.sort();
        println!(
            "emulator_state/median of {ROUNDS}, {size:>6} stored: {rate:>6.0} pairs/s, start {:>6.1} ms",
            starts[starts.len() / 2].as_secs_f64() * 1e3
        );
    }
    println!(
        "emulator_state/throughput at {} stored ÷ empty: {:.2}",
        SIZES[2],
        medians[2] / medians[0]
    );

    // What one write cost before: the whole state cloned, encoded and fsynced (median of 5). 4,000 as in the
    // issue's boto3 figures: 4,000 users with a credential each; the others as above.
    for (size, per_user) in [(0, 1), (4_000, 1), (10_000, 12), (50_000, 12)] {
        let state = preloaded_by(size, per_user);
        let path = dir.path().join(format!("old-{size}.json"));
        let mut times: Vec<Duration> = (0..5).map(|_| old_json_write(&state, &path)).collect();
        times.sort();
        let per_write = times[2];
        println!(
            "emulator_state/old JSON write, {size:>6} stored ({per_user}/user): {:>7.2} ms per write ({:.1} MB) -> at most {:>5.0} pairs/s (2 writes a pair)",
            per_write.as_secs_f64() * 1e3,
            std::fs::metadata(&path).unwrap().len() as f64 / 1e6,
            1.0 / (2.0 * per_write.as_secs_f64()),
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}
