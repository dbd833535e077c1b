//! `--disable-service`: Create and List answer a disabled service as an unsupported one (both wire codes),
//! like a region or partition where the service is not offered; existing credentials of it stay listed.

use std::path::Path;

use aws_sdk_iam::types::StatusType;
use iam_emulator::{Emulator, EmulatorConfig, EmulatorError, UnsupportedServiceCode};

use crate::support::*;

const LOGS: &str = "logs.amazonaws.com";
const CC: &str = "codecommit.amazonaws.com";
const BEDROCK: &str = "bedrock.amazonaws.com";

fn disabling(path: &Path, disabled: &[&str], code: UnsupportedServiceCode) -> EmulatorConfig {
    EmulatorConfig {
        state_file: Some(path.to_path_buf()),
        disabled_services: disabled.iter().map(|s| s.to_string()).collect(),
        unsupported_service_code: code,
        ..config(&["dev", "other"])
    }
}

async fn create_ok(iam: &aws_sdk_iam::Client, user: &str, service: &str) -> String {
    iam.create_service_specific_credential()
        .user_name(user)
        .service_name(service)
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap()
        .service_specific_credential_id
}

/// Starts with every service offered, creates a Logs API key and a CodeCommit password for `dev`, then
/// restarts on the same state file with Logs disabled. Returns the new handle and the Logs credential id.
async fn restart_with_logs_disabled(
    path: &Path,
    code: UnsupportedServiceCode,
) -> (iam_emulator::EmulatorHandle, String) {
    let h = start_with(disabling(path, &[], code)).await;
    let iam = sdk(&h);
    let logs_id = create_ok(&iam, "dev", LOGS).await;
    create_ok(&iam, "dev", CC).await;
    h.shutdown().await;
    (start_with(disabling(path, &[LOGS], code)).await, logs_id)
}

#[tokio::test]
async fn disabled_service_is_no_such_entity_by_default_and_existing_keys_stay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let (h, logs_id) =
        restart_with_logs_disabled(&path, UnsupportedServiceCode::NoSuchEntity).await;
    let iam = sdk(&h);
    let message = format!("No such service {LOGS} is supported for Service Specific Credentials");

    let e = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name(LOGS)
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_no_such_entity_exception());
    assert_eq!(wire(&e), ("NoSuchEntity".to_string(), message.clone()));
    assert_eq!(status(&e), 404);
    let e = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name(LOGS)
        .credential_age_days(30)
        .send()
        .await
        .unwrap_err();
    assert_eq!(wire(&e).1, message);
    // The user check still comes first.
    let e = iam
        .create_service_specific_credential()
        .user_name("ghost")
        .service_name(LOGS)
        .send()
        .await
        .unwrap_err();
    assert_eq!(wire(&e).1, "The user with name ghost cannot be found.");

    // List with ServiceName, for one user and for all users.
    let e = iam
        .list_service_specific_credentials()
        .user_name("dev")
        .service_name(LOGS)
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_no_such_entity_exception());
    assert_eq!(wire(&e).1, message);
    let e = iam
        .list_service_specific_credentials()
        .all_users(true)
        .service_name(LOGS)
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_no_such_entity_exception());

    // List without ServiceName still shows the existing Logs key, as an API key.
    let listed = iam
        .list_service_specific_credentials()
        .user_name("dev")
        .send()
        .await
        .unwrap();
    let services: Vec<&str> = listed
        .service_specific_credentials()
        .iter()
        .map(|c| c.service_name())
        .collect();
    assert_eq!(services, [LOGS, CC]);
    let logs = &listed.service_specific_credentials()[0];
    assert_eq!(logs.service_specific_credential_id(), logs_id);
    assert_eq!(logs.service_credential_alias(), Some("dev-at-123456789012"));
    assert_eq!(logs.status(), &StatusType::Active);

    // The other services are offered as before.
    create_ok(&iam, "dev", BEDROCK).await;
    create_ok(&iam, "other", CC).await;

    // The existing key can still be managed by id, so it can be cleaned up.
    let secret = iam
        .reset_service_specific_credential()
        .user_name("dev")
        .service_specific_credential_id(&logs_id)
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap()
        .service_credential_secret
        .unwrap();
    let verdict = check(
        &h,
        serde_json::json!({ "serviceName": LOGS, "secret": secret }),
    )
    .await;
    assert_eq!(verdict["valid"], true, "{verdict}");
    iam.update_service_specific_credential()
        .user_name("dev")
        .service_specific_credential_id(&logs_id)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    iam.delete_service_specific_credential()
        .user_name("dev")
        .service_specific_credential_id(&logs_id)
        .send()
        .await
        .unwrap();
    let listed = iam
        .list_service_specific_credentials()
        .user_name("dev")
        .send()
        .await
        .unwrap();
    assert!(
        listed
            .service_specific_credentials()
            .iter()
            .all(|c| c.service_name() != LOGS)
    );
}

#[tokio::test]
async fn disabled_service_can_be_the_modeled_not_supported_service() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let (h, logs_id) =
        restart_with_logs_disabled(&path, UnsupportedServiceCode::NotSupportedService).await;
    let iam = sdk(&h);
    let message = format!("No such service {LOGS} is supported for Service Specific Credentials");

    let e = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name(LOGS)
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error()
            .unwrap()
            .is_service_not_supported_exception()
    );
    assert_eq!(wire(&e), ("NotSupportedService".to_string(), message));
    assert_eq!(status(&e), 404);
    // No UserName: the caller (the first seed user).
    let e = iam
        .list_service_specific_credentials()
        .service_name(LOGS)
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error()
            .unwrap()
            .is_service_not_supported_exception()
    );
    let listed = iam
        .list_service_specific_credentials()
        .send()
        .await
        .unwrap();
    assert!(
        listed
            .service_specific_credentials()
            .iter()
            .any(|c| c.service_specific_credential_id() == logs_id)
    );
    create_ok(&iam, "dev", BEDROCK).await;
}

#[tokio::test]
async fn several_services_can_be_disabled_without_a_state_file() {
    let h = start_with(EmulatorConfig {
        disabled_services: vec![LOGS.into(), "cloudwatch.amazonaws.com".into()],
        ..config(&["dev"])
    })
    .await;
    let iam = sdk(&h);
    for service in [LOGS, "cloudwatch.amazonaws.com"] {
        let e = iam
            .create_service_specific_credential()
            .user_name("dev")
            .service_name(service)
            .send()
            .await
            .unwrap_err();
        assert!(e.as_service_error().unwrap().is_no_such_entity_exception());
    }
    create_ok(&iam, "dev", "aws-external-anthropic.amazonaws.com").await;
}

#[tokio::test]
async fn disabling_an_unknown_service_refuses_to_start() {
    for name in ["Logs.amazonaws.com", "lambda.amazonaws.com", ""] {
        let err = Emulator::start(EmulatorConfig {
            disabled_services: vec![name.into()],
            ..Default::default()
        })
        .await
        .err()
        .expect("start fails");
        match err {
            EmulatorError::Config(m) => {
                assert!(m.contains(&format!("{name:?}")), "{m}");
                assert!(m.contains("not a supported service"), "{m}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
