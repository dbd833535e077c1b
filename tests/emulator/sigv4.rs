//! SigV4 verification against configured access keys, and the caller fallback for requests without UserName.

use aws_sdk_iam::config::retry::RetryConfig;
use iam_emulator::{AccessKey, EmulatorConfig, EmulatorHandle};

use crate::support::*;

async fn signed_emulator(caller_user: Option<&str>) -> EmulatorHandle {
    start_with(EmulatorConfig {
        access_keys: vec![
            "AKIDALICE:alice-secret:alice".parse::<AccessKey>().unwrap(),
            "AKIDADMIN:admin-secret".parse::<AccessKey>().unwrap(),
        ],
        caller_user: caller_user.map(str::to_string),
        ..config(&["bob"])
    })
    .await
}

#[tokio::test]
async fn right_key_is_accepted_in_any_region_and_names_the_caller() {
    let h = signed_emulator(None).await;
    for region in ["us-east-1", "eu-west-1", "ap-southeast-2"] {
        let iam = sdk_in_region(
            &h.endpoint_url(),
            "AKIDALICE",
            "alice-secret",
            RetryConfig::disabled(),
            region,
        );
        // The key's user was created at start and is the caller.
        let me = iam.get_user().send().await.unwrap();
        assert_eq!(me.user().unwrap().user_name(), "alice");
    }
    let iam = sdk_as(
        &h.endpoint_url(),
        "AKIDALICE",
        "alice-secret",
        RetryConfig::disabled(),
    );
    let c = iam
        .create_service_specific_credential()
        .user_name("alice")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap();
    let id = c
        .service_specific_credential()
        .unwrap()
        .service_specific_credential_id();
    // Without UserName, the operations act on the caller's user.
    let listed = iam
        .list_service_specific_credentials()
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_specific_credentials().len(), 1);
    iam.reset_service_specific_credential()
        .service_specific_credential_id(id)
        .send()
        .await
        .unwrap();
    iam.delete_service_specific_credential()
        .service_specific_credential_id(id)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match() {
    let h = signed_emulator(None).await;
    let iam = sdk_as(
        &h.endpoint_url(),
        "AKIDALICE",
        "not-the-secret",
        RetryConfig::disabled(),
    );
    let e = iam.list_users().send().await.unwrap_err();
    assert_eq!(wire(&e).0, "SignatureDoesNotMatch");
    assert_eq!(status(&e), 403);
}

#[tokio::test]
async fn unknown_key_is_invalid_client_token_id() {
    let h = signed_emulator(None).await;
    let iam = sdk_as(
        &h.endpoint_url(),
        "AKIDNOBODY",
        "whatever",
        RetryConfig::disabled(),
    );
    let e = iam.list_users().send().await.unwrap_err();
    assert_eq!(
        wire(&e),
        (
            "InvalidClientTokenId".into(),
            "The security token included in the request is invalid.".into()
        )
    );
    assert_eq!(status(&e), 403);
}

#[tokio::test]
async fn key_without_user_falls_back_to_the_caller_user() {
    let h = signed_emulator(Some("bob")).await;
    let admin = sdk_as(
        &h.endpoint_url(),
        "AKIDADMIN",
        "admin-secret",
        RetryConfig::disabled(),
    );
    assert_eq!(
        admin
            .get_user()
            .send()
            .await
            .unwrap()
            .user()
            .unwrap()
            .user_name(),
        "bob"
    );
    // A key naming a user still wins over the fallback.
    let alice = sdk_as(
        &h.endpoint_url(),
        "AKIDALICE",
        "alice-secret",
        RetryConfig::disabled(),
    );
    assert_eq!(
        alice
            .get_user()
            .send()
            .await
            .unwrap()
            .user()
            .unwrap()
            .user_name(),
        "alice"
    );
}

#[tokio::test]
async fn unsigned_and_malformed_requests() {
    let h = signed_emulator(None).await;
    let body = "Action=ListUsers&Version=2010-05-08";
    post_form(&h, body)
        .await
        .assert_error(403, "MissingAuthenticationToken");

    let r = send(
        http()
            .post(h.endpoint_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDALICE/20260101/us-east-1/iam/aws4_request",
            )
            .header("x-amz-date", "20260101T000000Z")
            .body(body),
    )
    .await;
    r.assert_error(400, "IncompleteSignature");
    assert!(r.message().contains("Signature"), "{}", r.body);

    // A well-formed header dated an hour ago: expired before the signature is even compared.
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let amz_date = old.strftime("%Y%m%dT%H%M%SZ").to_string();
    let r = send(
        http()
            .post(h.endpoint_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDALICE/{}/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
                    &amz_date[..8],
                    "0".repeat(64)
                ),
            )
            .header("x-amz-date", &amz_date)
            .body(body),
    )
    .await;
    r.assert_error(400, "RequestExpired");

    // Scoped to another service.
    let now = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let r = send(
        http()
            .post(h.endpoint_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDALICE/{}/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
                    &now[..8],
                    "0".repeat(64)
                ),
            )
            .header("x-amz-date", &now)
            .body(body),
    )
    .await;
    r.assert_error(403, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn tampered_body_fails_the_signature() {
    use aws_sdk_iam::config::Intercept;
    use aws_sdk_iam::config::interceptors::BeforeTransmitInterceptorContextMut;
    use aws_sdk_iam::config::{ConfigBag, RuntimeComponents};

    /// Rewrites the body after signing.
    #[derive(Debug)]
    struct Tamper;
    impl Intercept for Tamper {
        fn name(&self) -> &'static str {
            "tamper"
        }
        fn modify_before_transmit(
            &self,
            ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
            _rc: &RuntimeComponents,
            _cfg: &mut ConfigBag,
        ) -> Result<(), aws_sdk_iam::error::BoxError> {
            let req = ctx.request_mut();
            let body = req.body().bytes().unwrap_or_default().to_vec();
            let text = String::from_utf8(body)
                .unwrap()
                .replace("UserName=alice", "UserName=alicx");
            *req.body_mut() = aws_smithy_types::body::SdkBody::from(text);
            Ok(())
        }
    }

    let h = signed_emulator(None).await;
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .endpoint_url(h.endpoint_url())
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "AKIDALICE",
            "alice-secret",
            None,
            None,
            "t",
        ))
        .retry_config(RetryConfig::disabled())
        .interceptor(Tamper)
        .build();
    let e = aws_sdk_iam::Client::from_conf(conf)
        .get_user()
        .user_name("alice")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wire(&e).0, "SignatureDoesNotMatch");
}
