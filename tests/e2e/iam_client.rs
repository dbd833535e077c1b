//! The operator's IAM client against the emulator: error classification through the real SDK, and
//! the List cache that batches drift checks and writes through on Create/Reset/Update/Delete.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iam_emulator::{Emulator, EmulatorConfig};
use ssc_operator::{AwsIam, CredentialStatus, Iam, IamError, IamLimits, IamObserver};

#[derive(Default)]
struct Calls(Mutex<Vec<&'static str>>);

impl IamObserver for Calls {
    fn call(&self, _: &str, operation: &'static str, _: Result<(), &IamError>, _: Duration) {
        self.0.lock().unwrap().push(operation);
    }
}

async fn client(ttl: Duration) -> (iam_emulator::EmulatorHandle, AwsIam, Arc<Calls>) {
    let emulator = Emulator::start(EmulatorConfig {
        users: vec!["sofia".into()],
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let calls = Arc::new(Calls::default());
    let sdk = AwsIam::sdk_client(
        Some(&emulator.endpoint_url()),
        None,
        Some(aws_credential_types::Credentials::new(
            "AKIDTEST", "x", None, None, "t",
        )),
    )
    .await;
    let iam = AwsIam::new(
        sdk,
        IamLimits {
            list_cache_ttl: ttl,
            ..IamLimits::default()
        },
        calls.clone(),
    );
    (emulator, iam, calls)
}

#[tokio::test]
async fn list_cache_is_shared_and_written_through() {
    let (_emulator, iam, calls) = client(Duration::from_secs(60)).await;
    let service = "codecommit.amazonaws.com";
    assert!(iam.list("sofia", service).await.unwrap().is_empty());
    let created = iam.create("sofia", service, None).await.unwrap();
    // Same user in another case: IAM user names are case-insensitive.
    let listed = iam.list("SOFIA", service).await.unwrap();
    assert_eq!(listed, vec![created.metadata.clone()]);
    iam.update_status("sofia", &created.metadata.id, false)
        .await
        .unwrap();
    assert_eq!(
        iam.list("sofia", service).await.unwrap()[0].status,
        CredentialStatus::Inactive
    );
    let reset = iam.reset("sofia", &created.metadata.id).await.unwrap();
    assert_ne!(reset.secret, created.secret);
    iam.delete("sofia", &created.metadata.id).await.unwrap();
    assert!(iam.list("sofia", service).await.unwrap().is_empty());
    assert_eq!(
        *calls.0.lock().unwrap(),
        vec![
            "ListServiceSpecificCredentials",
            "CreateServiceSpecificCredential",
            "UpdateServiceSpecificCredential",
            "ResetServiceSpecificCredential",
            "DeleteServiceSpecificCredential",
        ],
        "one List for the whole sequence"
    );
}

#[tokio::test]
async fn errors_are_classified_through_the_real_sdk() {
    let (_emulator, iam, _) = client(Duration::ZERO).await;
    assert!(matches!(
        iam.list("nobody", "codecommit.amazonaws.com").await,
        Err(IamError::UserNotFound { .. })
    ));
    assert!(matches!(
        iam.create("nobody", "codecommit.amazonaws.com", None).await,
        Err(IamError::UserNotFound { .. })
    ));
    assert!(matches!(
        iam.reset("sofia", "ACCAAAAAAAAAAAAAAAAAA").await,
        Err(IamError::CredentialNotFound { .. })
    ));
    iam.create("sofia", "cassandra.amazonaws.com", None)
        .await
        .unwrap();
    iam.create("sofia", "cassandra.amazonaws.com", None)
        .await
        .unwrap();
    assert!(matches!(
        iam.create("sofia", "cassandra.amazonaws.com", None).await,
        Err(IamError::LimitExceeded { .. })
    ));
    // An age out of IAM's range is a ValidationError: refused, and reported as such. (An age on a CodeCommit
    // password is accepted by AWS, and so by the emulator.)
    assert!(matches!(
        iam.create("sofia", "codecommit.amazonaws.com", Some(0))
            .await,
        Err(IamError::Rejected { .. })
    ));
}

/// A credentials chain that finds nothing, as the SDK's default chain does on a machine with no
/// AWS credentials (no environment, profile, web identity token or instance metadata).
#[derive(Debug)]
struct NoCredentials;

impl aws_credential_types::provider::ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Err(
            aws_credential_types::provider::error::CredentialsError::not_loaded(
                "no providers in chain provided credentials",
            ),
        ))
    }
}

#[tokio::test]
async fn missing_aws_credentials_are_reported_as_such() {
    let emulator = Emulator::start(EmulatorConfig {
        users: vec!["sofia".into()],
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint_url())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .credentials_provider(NoCredentials)
        .build();
    let iam = AwsIam::new(
        aws_sdk_iam::Client::from_conf(config),
        IamLimits::default(),
        Arc::new(Calls::default()),
    );
    let error = iam
        .list("sofia", "codecommit.amazonaws.com")
        .await
        .unwrap_err();
    println!("{error}");
    assert!(error.to_string().contains("no AWS credentials"), "{error}");
    assert_eq!(
        ssc_operator::controller::reason_for(&error),
        ssc_operator::controller::Reason::AccessDenied
    );
}

/// An IAM endpoint that stops answering does not hang the caller: every call has a deadline.
#[tokio::test]
async fn a_hanging_iam_call_times_out() {
    let (emulator, iam, _) = client(Duration::ZERO).await;
    emulator.set_faults(iam_emulator::FaultConfig {
        latency: Duration::from_secs(120),
        ..Default::default()
    });
    let started = std::time::Instant::now();
    let error = iam
        .list("sofia", "codecommit.amazonaws.com")
        .await
        .unwrap_err();
    let took = started.elapsed();
    println!("a List against an IAM that hangs failed after {took:?}: {error}");
    assert!(matches!(error, IamError::Unavailable { .. }), "{error}");
    assert!(
        took <= ssc_operator::OPERATION_TIMEOUT + Duration::from_secs(2),
        "{took:?}"
    );
}
