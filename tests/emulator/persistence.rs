//! State file (SQLite): survives restarts and `kill -9`, commits each change before answering, and a failed or
//! torn write never corrupts it. The migration of the old JSON files is in `migration.rs`.

use std::path::{Path, PathBuf};

use iam_emulator::{Emulator, EmulatorConfig, EmulatorError};
use serde_json::json;

use crate::support::*;

/// The bytes of the state file and of its write-ahead log, where committed changes may still sit.
fn on_disk_bytes(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    bytes.extend(std::fs::read(PathBuf::from(wal)).unwrap_or_default());
    bytes
}

fn on_disk(path: &Path) -> iam_emulator::store::State {
    iam_emulator::persist::read(path)
        .unwrap()
        .expect("a state file")
}

fn with_state(path: &Path, users: &[&str]) -> EmulatorConfig {
    EmulatorConfig {
        state_file: Some(path.to_path_buf()),
        ..config(users)
    }
}

#[tokio::test]
async fn restart_keeps_users_credentials_and_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let h = start_with(with_state(&path, &["dev"])).await;
    let iam = sdk(&h);
    iam.create_user()
        .user_name("Other")
        .path("/team/")
        .send()
        .await
        .unwrap();
    let cc = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap();
    let key = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name("bedrock.amazonaws.com")
        .credential_age_days(7)
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap();
    let password = cc.service_password().to_string();
    let secret = key.service_credential_secret().unwrap().to_string();
    h.shutdown().await;

    let bytes = on_disk_bytes(&path);
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        !contains(&password),
        "the state file holds digests, never passwords"
    );
    assert!(!contains(&secret));
    iam_emulator::persist::integrity_check(&path).unwrap();

    let h = start_with(with_state(&path, &["dev"])).await;
    let iam = sdk(&h);
    let other = iam.get_user().user_name("other").send().await.unwrap();
    assert_eq!(other.user().unwrap().path(), "/team/");
    let listed = iam
        .list_service_specific_credentials()
        .user_name("dev")
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = listed
        .service_specific_credentials()
        .iter()
        .map(|c| c.service_specific_credential_id())
        .collect();
    assert_eq!(
        ids,
        [
            cc.service_specific_credential_id(),
            key.service_specific_credential_id()
        ]
    );
    assert_eq!(
        listed.service_specific_credentials()[1].expiration_date(),
        key.expiration_date()
    );
    let ok = check(&h, json!({ "serviceName": "codecommit.amazonaws.com", "username": "dev-at-123456789012", "password": password })).await;
    assert_eq!(ok["valid"], true);
    let ok = check(
        &h,
        json!({ "serviceName": "bedrock.amazonaws.com", "secret": secret }),
    )
    .await;
    assert_eq!(ok["valid"], true);
    // The quota counts the persisted credentials.
    iam.create_service_specific_credential()
        .user_name("dev")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap();
    let e = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_limit_exceeded_exception());
}

#[tokio::test]
async fn leftover_temp_files_from_a_crash_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let h = start_with(with_state(&path, &["dev"])).await;
    sdk(&h)
        .create_user()
        .user_name("kept")
        .send()
        .await
        .unwrap();
    h.shutdown().await;
    let before = std::fs::read(&path).unwrap();

    // A crash while a new state file was built: a torn temp database, and a complete one never renamed (an
    // empty state, which must not replace the real file).
    let torn = dir.path().join(".state.db.tmp-1-torn");
    std::fs::write(&torn, &before[..before.len() / 2]).unwrap();
    let unrenamed = dir.path().join(".state.db.tmp-2-complete");
    iam_emulator::persist::write_new(&unrenamed, &iam_emulator::store::State::new(ACCOUNT))
        .unwrap();

    let h = start_with(with_state(&path, &[])).await;
    sdk(&h).get_user().user_name("kept").send().await.unwrap();
    assert!(
        !torn.exists() && !unrenamed.exists(),
        "stale temp files are cleaned up"
    );
    h.shutdown().await;
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "starting without changes does not rewrite the file"
    );
}

#[tokio::test]
async fn corrupt_state_file_refuses_to_start_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::write(&path, b"{\"version\":1,\"accountId\":\"1234").unwrap();
    let err = Emulator::start(with_state(&path, &["dev"]))
        .await
        .err()
        .expect("start fails");
    assert!(matches!(err, EmulatorError::State(_)), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"{\"version\":1,\"accountId\":\"1234"
    );
}

#[tokio::test]
async fn missing_file_is_an_empty_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let h = start_with(with_state(&path, &[])).await;
    assert!(
        sdk(&h)
            .list_users()
            .send()
            .await
            .unwrap()
            .users()
            .is_empty()
    );
    assert!(!path.exists(), "nothing written until something changes");
    sdk(&h).create_user().user_name("x").send().await.unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn failed_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("state.db");
    let h = start_with(with_state(&path, &["dev"])).await;
    let iam = sdk(&h);
    std::fs::remove_dir_all(&sub).unwrap();

    let e = iam
        .create_user()
        .user_name("lost")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wire(&e).0, "InternalFailure");
    assert_eq!(status(&e), 500);
    let e = iam.get_user().user_name("lost").send().await.unwrap_err();
    assert!(
        e.as_service_error().unwrap().is_no_such_entity_exception(),
        "memory matches disk"
    );

    // The file is written anew, whole, once it can be.
    std::fs::create_dir(&sub).unwrap();
    iam.create_user().user_name("saved").send().await.unwrap();
    let state = on_disk(&path);
    assert!(state.users.contains_key("saved") && state.users.contains_key("dev"));
    assert!(!state.users.contains_key("lost"));
}

#[tokio::test]
async fn concurrent_mutations_leave_a_complete_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let h = start_with(with_state(&path, &[])).await;
    let iam = sdk(&h);
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let iam = iam.clone();
            tokio::spawn(async move { iam.create_user().user_name(format!("u{i}")).send().await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(on_disk(&path).users.len(), 12);
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !["state.db", "state.db-wal", "state.db-shm"].contains(&n.as_str()))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temp files left behind: {leftovers:?}"
    );
}

/// `kill -9` of the `ssc-operator emulator` process while 8 clients create users and credentials: after a
/// restart on the same file every acknowledged credential is there with its user, and the file is whole (no
/// credential without its user, no sequence number twice, SQLite's integrity check passes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_concurrent_writes_loses_nothing_acknowledged() {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const SERVICES: [&str; 2] = ["codecommit.amazonaws.com", "cassandra.amazonaws.com"];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let file = path.to_str().unwrap();
    let args = ["--listen", "127.0.0.1:0", "--state-file", file];
    let mut run = crate::cli::spawn(&[], &args);
    let iam = sdk_as(
        &run.endpoint,
        "AKIDANY",
        "any",
        aws_sdk_iam::config::retry::RetryConfig::disabled(),
    );
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (iam, acked) = (iam.clone(), Arc::clone(&acked));
            tokio::spawn(async move {
                for i in 0.. {
                    let user = format!("w{w}-u{i}");
                    if iam.create_user().user_name(&user).send().await.is_err() {
                        return;
                    }
                    for service in SERVICES {
                        let Ok(out) = iam
                            .create_service_specific_credential()
                            .user_name(&user)
                            .service_name(service)
                            .send()
                            .await
                        else {
                            return;
                        };
                        let id = out
                            .service_specific_credential()
                            .unwrap()
                            .service_specific_credential_id()
                            .to_string();
                        acked.lock().unwrap().push((user.clone(), id));
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    // 400 credentials and 200 users: enough commits for SQLite to checkpoint its log into the file mid-load.
    while acked.lock().unwrap().len() < 400 {
        assert!(Instant::now() < deadline, "the load did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    run.child.kill().unwrap(); // SIGKILL, mid-load: requests are in flight
    run.child.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    let run = crate::cli::spawn(&[], &args);
    let iam = sdk_as(
        &run.endpoint,
        "AKIDANY",
        "any",
        aws_sdk_iam::config::retry::RetryConfig::disabled(),
    );
    let mut listed = std::collections::BTreeMap::new();
    let mut marker = None;
    loop {
        let page = iam
            .list_service_specific_credentials()
            .all_users(true)
            .set_marker(marker)
            .max_items(1000)
            .send()
            .await
            .unwrap();
        for c in page.service_specific_credentials() {
            listed.insert(
                c.service_specific_credential_id().to_string(),
                c.user_name().to_string(),
            );
        }
        marker = page.marker().map(str::to_string);
        if !page.is_truncated() {
            break;
        }
    }
    for (user, id) in &acked {
        assert_eq!(
            listed.get(id),
            Some(user),
            "acknowledged credential {id} of {user}"
        );
    }
    // The restarted emulator takes writes on the recovered file.
    iam.create_user().user_name("after").send().await.unwrap();
    drop(run); // SIGKILL again: the check below reads the file as a crash left it

    iam_emulator::persist::integrity_check(&path).unwrap();
    let state = iam_emulator::persist::read(&path)
        .unwrap()
        .expect("a state");
    assert!(state.users.contains_key("after"));
    let mut seqs = std::collections::BTreeSet::new();
    for c in state.credentials.values() {
        assert!(
            state.users.contains_key(&c.user_key),
            "credential {} without its user {}",
            c.id,
            c.user_key
        );
        assert!(seqs.insert(c.seq), "seq {} twice", c.seq);
        assert!(c.seq < state.next_seq, "seq {} not below next_seq", c.seq);
    }
    assert!(state.credentials.len() >= acked.len());
}
