//! A state file of the old JSON format (version 1) is migrated to SQLite at start: everything in it survives,
//! the JSON is kept as `PATH.v1.json.bak`, and a file the emulator cannot take is refused and left alone.

use std::path::{Path, PathBuf};

use iam_emulator::{AccessKey, Emulator, EmulatorConfig, EmulatorError};
use serde_json::json;

use crate::support::*;

/// A version-1 state file (users with tags, policies and a boundary, credentials Active, Inactive, expiring and
/// expired, a role, a managed policy, an access key), written by hand with the digests of the secrets below.
const FIXTURE: &str = include_str!("fixtures/state-v1.json");
const CODECOMMIT_PASSWORD: &str = "fixture-codecommit-password-1";
const INACTIVE_PASSWORD: &str = "fixture-old-password";
const KEYSPACES_PASSWORD: &str = "fixture-keyspaces-password-2";
const EXPIRED_PASSWORD: &str = "fixture-expired-password";
const BEDROCK_SECRET: &str = "ABSKZGV2LWF0LTEyMzQ1Njc4OTAxMjpGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkY=";
const FIXTURE_KEY: (&str, &str) = (
    "AKIAFIXTUREDEV000001",
    "fixture/access/key/secret/0000000000000001",
);
const ADMIN_KEY: (&str, &str) = ("AKIDADMIN", "admin-secret");
const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";
const OTHER_ACCOUNT: &str = "210987654321";

/// SigV4 on (so the fixture's access key can be shown to work), the admin key acting as root.
fn migrating(path: &Path) -> EmulatorConfig {
    EmulatorConfig {
        state_file: Some(path.to_path_buf()),
        access_keys: vec![AccessKey {
            access_key_id: ADMIN_KEY.0.into(),
            secret_access_key: ADMIN_KEY.1.into(),
            user: Some("root".into()),
            account: None,
        }],
        ..config(&[])
    }
}

fn backup_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".v1.json.bak");
    PathBuf::from(name)
}

fn is_sqlite(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(SQLITE_HEADER))
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn write_fixture(path: &Path, account: &str) {
    let text = FIXTURE.replace("123456789012", account);
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

async fn credentials(iam: &aws_sdk_iam::Client, user: &str) -> Vec<(String, String)> {
    iam.list_service_specific_credentials()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .service_specific_credentials()
        .iter()
        .map(|c| {
            (
                c.service_specific_credential_id().to_string(),
                c.status().as_str().to_string(),
            )
        })
        .collect()
}

async fn password_check(
    h: &iam_emulator::EmulatorHandle,
    service: &str,
    user: &str,
    pw: &str,
) -> String {
    let verdict = check(
        h,
        json!({ "serviceName": service, "username": user, "password": pw }),
    )
    .await;
    verdict["reason"].as_str().unwrap_or_default().to_string()
}

/// Everything the fixture holds, through the API.
async fn assert_fixture_served(h: &iam_emulator::EmulatorHandle) {
    let iam = sdk_as(
        &h.endpoint_url(),
        ADMIN_KEY.0,
        ADMIN_KEY.1,
        aws_sdk_iam::config::retry::RetryConfig::disabled(),
    );
    let dev = iam.get_user().user_name("dev").send().await.unwrap();
    let dev = dev.user().unwrap();
    assert_eq!(dev.user_id(), "AIDAQAAAAAAAAAAAAAAD1");
    let tags: Vec<(&str, &str)> = dev.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("team", "platform")]);
    let ops = iam.get_user().user_name("ops").send().await.unwrap();
    let ops = ops.user().unwrap();
    assert_eq!((ops.user_name(), ops.path()), ("Ops", "/team/"));
    assert_eq!(
        ops.permissions_boundary()
            .unwrap()
            .permissions_boundary_arn(),
        Some("arn:aws:iam::123456789012:policy/boundaries/everything")
    );
    let policies = iam
        .list_user_policies()
        .user_name("dev")
        .send()
        .await
        .unwrap();
    assert_eq!(policies.policy_names(), ["read-self"]);

    let status = |id: &str, s: &str| (id.to_string(), s.to_string());
    assert_eq!(
        credentials(&iam, "dev").await,
        [
            status("ACCAQAAAAAAAAAAAAAAC1", "Active"),
            status("ACCAQAAAAAAAAAAAAAAC2", "Inactive"),
            status("ACCAQAAAAAAAAAAAAAAC4", "Active"),
        ]
    );
    // (A test may have added one after them.)
    assert_eq!(
        credentials(&iam, "ops").await[..2],
        [
            status("ACCAQAAAAAAAAAAAAAAC3", "Active"),
            status("ACCAQAAAAAAAAAAAAAAC5", "Expired"),
        ]
    );
    let cc = "codecommit.amazonaws.com";
    let ks = "cassandra.amazonaws.com";
    let dev0 = "dev-at-123456789012";
    assert_eq!(password_check(h, cc, dev0, CODECOMMIT_PASSWORD).await, "ok");
    assert_eq!(
        password_check(h, cc, dev0, INACTIVE_PASSWORD).await,
        "wrongPassword"
    );
    assert_eq!(
        password_check(h, cc, "dev+1-at-123456789012", INACTIVE_PASSWORD).await,
        "inactive"
    );
    assert_eq!(
        password_check(h, ks, "Ops-at-123456789012", KEYSPACES_PASSWORD).await,
        "ok"
    );
    assert_eq!(
        password_check(h, cc, "Ops-at-123456789012", EXPIRED_PASSWORD).await,
        "expired"
    );
    let bedrock = check(
        h,
        json!({ "serviceName": "bedrock.amazonaws.com", "secret": BEDROCK_SECRET }),
    )
    .await;
    assert_eq!(bedrock["valid"], true, "{bedrock}");

    let role = iam.get_role().role_name("deployer").send().await.unwrap();
    let role = role.role().unwrap();
    assert_eq!(
        (
            role.role_name(),
            role.description(),
            role.max_session_duration()
        ),
        ("Deployer", Some("deploys things"), Some(7200))
    );
    iam.get_role_policy()
        .role_name("Deployer")
        .policy_name("read-self")
        .send()
        .await
        .unwrap();
    let policy = iam
        .get_policy()
        .policy_arn("arn:aws:iam::123456789012:policy/boundaries/everything")
        .send()
        .await
        .unwrap();
    assert_eq!(policy.policy().unwrap().policy_name(), Some("everything"));

    let keys = iam
        .list_access_keys()
        .user_name("dev")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = keys
        .access_key_metadata()
        .iter()
        .filter_map(|k| k.access_key_id())
        .collect();
    assert_eq!(keys, [FIXTURE_KEY.0]);
    // The stored secret still verifies SigV4: the key acts as its user.
    let as_dev = sdk_as(
        &h.endpoint_url(),
        FIXTURE_KEY.0,
        FIXTURE_KEY.1,
        aws_sdk_iam::config::retry::RetryConfig::disabled(),
    );
    let me = as_dev.get_user().send().await.unwrap();
    assert_eq!(me.user().unwrap().user_name(), "dev");
}

#[tokio::test]
async fn a_format_1_json_state_file_is_migrated_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    write_fixture(&path, ACCOUNT);
    let h = start_with(migrating(&path)).await;

    assert!(is_sqlite(&path), "the file is now a SQLite database");
    let backup = backup_of(&path);
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), FIXTURE);
    #[cfg(unix)]
    assert_eq!((mode(&path), mode(&backup)), (0o600, 0o600));
    assert_fixture_served(&h).await;

    // Sequence numbers continue: a new credential lists after the migrated ones.
    let iam = sdk_as(
        &h.endpoint_url(),
        ADMIN_KEY.0,
        ADMIN_KEY.1,
        aws_sdk_iam::config::retry::RetryConfig::disabled(),
    );
    let new = iam
        .create_service_specific_credential()
        .user_name("ops")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap();
    let new = new.service_specific_credential().unwrap();
    assert_eq!(new.service_user_name(), "Ops+1-at-123456789012");
    let ops = credentials(&iam, "ops").await;
    assert_eq!(ops.last().unwrap().0, new.service_specific_credential_id());
    h.shutdown().await;

    // A second start reads the database; the backup is not touched again.
    let h = start_with(migrating(&path)).await;
    assert_fixture_served(&h).await;
    assert_eq!(credentials(&iam_as_admin(&h), "ops").await, ops);
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), FIXTURE);
    let names = file_names(dir.path());
    assert!(
        names.iter().all(|n| n.starts_with("state.json")),
        "no temp files left: {names:?}"
    );
}

fn iam_as_admin(h: &iam_emulator::EmulatorHandle) -> aws_sdk_iam::Client {
    sdk_as(
        &h.endpoint_url(),
        ADMIN_KEY.0,
        ADMIN_KEY.1,
        aws_sdk_iam::config::retry::RetryConfig::disabled(),
    )
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_extra_accounts_files_are_migrated_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let other = dir.path().join(format!("state.json.{OTHER_ACCOUNT}"));
    write_fixture(&path, ACCOUNT);
    write_fixture(&other, OTHER_ACCOUNT);
    let h = start_with(EmulatorConfig {
        extra_accounts: vec![OTHER_ACCOUNT.into()],
        ..migrating(&path)
    })
    .await;
    assert!(is_sqlite(&path) && is_sqlite(&other));
    assert!(backup_of(&path).exists() && backup_of(&other).exists());
    // The other account's copy answers with its own account id, through its own state.
    let state = iam_emulator::persist::read(&other).unwrap().unwrap();
    assert_eq!(state.account_id, OTHER_ACCOUNT);
    assert_eq!(state.credentials.len(), 5);
    assert_fixture_served(&h).await;
}

#[tokio::test]
async fn a_json_file_of_another_account_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    write_fixture(&path, OTHER_ACCOUNT);
    let before = std::fs::read(&path).unwrap();
    let err = Emulator::start(migrating(&path))
        .await
        .err()
        .expect("start fails");
    assert!(matches!(err, EmulatorError::State(_)), "{err}");
    assert!(err.to_string().contains(OTHER_ACCOUNT), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(file_names(dir.path()), ["state.json"]);
}

#[tokio::test]
async fn an_unfinished_migration_is_done_again() {
    // A crash mid-migration leaves the JSON in place beside a temp database (complete or torn) and perhaps a
    // backup: the next start migrates from the JSON again and removes the leftovers.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    write_fixture(&path, ACCOUNT);
    std::fs::write(
        dir.path().join(".state.json.tmp-1-torn"),
        &SQLITE_HEADER[..10],
    )
    .unwrap();
    std::fs::write(backup_of(&path), b"{\"stale\":true}").unwrap();
    let h = start_with(migrating(&path)).await;
    assert!(is_sqlite(&path));
    assert_eq!(std::fs::read_to_string(backup_of(&path)).unwrap(), FIXTURE);
    assert_fixture_served(&h).await;
    h.shutdown().await;
    let names = file_names(dir.path());
    assert!(!names.iter().any(|n| n.contains("tmp")), "{names:?}");
}

#[tokio::test]
async fn the_json_beside_a_new_db_path_is_taken_over() {
    // An install upgraded to `--state-file=…/state.db` whose volume still holds `state.json`.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("state.json");
    let db = dir.path().join("state.db");
    write_fixture(&json, ACCOUNT);
    let h = start_with(migrating(&db)).await;
    assert!(is_sqlite(&db));
    assert!(!json.exists(), "the JSON is kept only as the backup");
    assert_eq!(std::fs::read_to_string(backup_of(&json)).unwrap(), FIXTURE);
    assert_fixture_served(&h).await;
}

#[tokio::test]
async fn a_corrupt_database_refuses_to_start_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut bytes = SQLITE_HEADER.to_vec();
    bytes.extend_from_slice(&[0xA5; 4096]);
    std::fs::write(&path, &bytes).unwrap();
    let err = Emulator::start(migrating(&path))
        .await
        .err()
        .expect("start fails");
    assert!(matches!(err, EmulatorError::State(_)), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}
