//! Benchmark: the IAM emulator through the real aws-sdk-iam client over HTTP. Prints operations
//! per second and latency percentiles for Create/List/Reset/Delete, sequential and concurrent.
//! `cargo bench --bench emulator` (see BENCHMARKS.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ssc_operator::emulator::{Emulator, EmulatorConfig};

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
    ssc_operator::iam::AwsIam::sdk_client(
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

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}
