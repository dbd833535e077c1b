//! State file: survives restarts, is written atomically, and a failed or torn write never corrupts it.

use std::path::Path;

use iam_emulator::{Emulator, EmulatorConfig, EmulatorError};
use serde_json::json;

use crate::support::*;

fn with_state(path: &Path, users: &[&str]) -> EmulatorConfig {
    EmulatorConfig {
        state_file: Some(path.to_path_buf()),
        ..config(users)
    }
}

#[tokio::test]
async fn restart_keeps_users_credentials_and_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
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

    let on_disk = std::fs::read_to_string(&path).unwrap();
    assert!(
        !on_disk.contains(&password),
        "the state file holds digests, never passwords"
    );
    assert!(!on_disk.contains(&secret));
    serde_json::from_str::<serde_json::Value>(&on_disk).unwrap();

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
    let path = dir.path().join("state.json");
    let h = start_with(with_state(&path, &["dev"])).await;
    sdk(&h)
        .create_user()
        .user_name("kept")
        .send()
        .await
        .unwrap();
    h.shutdown().await;
    let before = std::fs::read(&path).unwrap();

    // A crash mid-write (truncated temp file) and one between write and rename (complete temp file).
    let torn = dir.path().join(".state.json.tmp-1-torn");
    std::fs::write(&torn, &before[..before.len() / 2]).unwrap();
    let unrenamed = dir.path().join(".state.json.tmp-2-complete");
    let mut newer: serde_json::Value = serde_json::from_slice(&before).unwrap();
    newer["users"] = json!({});
    std::fs::write(&unrenamed, serde_json::to_vec(&newer).unwrap()).unwrap();

    let h = start_with(with_state(&path, &[])).await;
    sdk(&h).get_user().user_name("kept").send().await.unwrap();
    assert!(
        !torn.exists() && !unrenamed.exists(),
        "stale temp files are cleaned up"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "starting without changes does not rewrite the file"
    );
}

#[tokio::test]
async fn corrupt_state_file_refuses_to_start_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
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
    let path = dir.path().join("new.json");
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
    let path = sub.join("state.json");
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

    std::fs::create_dir(&sub).unwrap();
    iam.create_user().user_name("saved").send().await.unwrap();
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(on_disk["users"].get("saved").is_some());
    assert!(on_disk["users"].get("lost").is_none());
}

#[tokio::test]
async fn concurrent_mutations_leave_a_complete_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
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
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(on_disk["users"].as_object().unwrap().len(), 12);
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no temp files left behind");
}
