//! The five service-specific-credential operations through aws-sdk-iam: shapes, quota, naming, expiry,
//! pagination and every error of iam-api.md §3.6/§5.

use std::sync::Arc;

use aws_sdk_iam::types::StatusType;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use iam_emulator::{EmulatorConfig, UnsupportedServiceCode};

use crate::support::*;

const CC: &str = "codecommit.amazonaws.com";
const KS: &str = "cassandra.amazonaws.com";
const BEDROCK: &str = "bedrock.amazonaws.com";

async fn create(
    iam: &aws_sdk_iam::Client,
    user: &str,
    service: &str,
) -> aws_sdk_iam::types::ServiceSpecificCredential {
    iam.create_service_specific_credential()
        .user_name(user)
        .service_name(service)
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap()
}

#[tokio::test]
async fn aws_doc_example_developer_has_two_codecommit_credentials() {
    let h = start(&["developer"]).await;
    let iam = sdk(&h);
    let first = create(&iam, "developer", CC).await;
    let second = create(&iam, "developer", CC).await;
    assert_eq!(first.service_user_name(), "developer-at-123456789012");
    assert_eq!(second.service_user_name(), "developer+1-at-123456789012");
    for c in [&first, &second] {
        assert_eq!(c.service_password().len(), 60);
        assert_eq!(STANDARD.decode(c.service_password()).unwrap().len(), 45);
        assert_eq!(c.service_specific_credential_id().len(), 21);
        assert!(c.service_specific_credential_id().starts_with("ACCA"));
        assert_eq!(c.status(), &StatusType::Active);
        assert_eq!(c.user_name(), "developer");
        assert_eq!(c.service_name(), CC);
        assert!(c.service_credential_alias().is_none());
        assert!(c.service_credential_secret().is_none());
        assert!(c.expiration_date().is_none());
    }
    assert_ne!(first.service_password(), second.service_password());

    let listed = iam
        .list_service_specific_credentials()
        .user_name("developer")
        .service_name(CC)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = listed
        .service_specific_credentials()
        .iter()
        .map(|c| c.service_user_name())
        .collect();
    assert_eq!(
        names,
        ["developer-at-123456789012", "developer+1-at-123456789012"]
    );
    assert!(!listed.is_truncated());
    assert!(listed.marker().is_none());

    let e = iam
        .create_service_specific_credential()
        .user_name("developer")
        .service_name(CC)
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_limit_exceeded_exception());
    assert_eq!(
        wire(&e).1,
        "Cannot exceed quota for ContextSpecificCredentialsPerUserPerContext: 2"
    );
    assert_eq!(status(&e), 409);

    // Deleting the first frees its slot; the next credential takes the un-suffixed name again.
    iam.delete_service_specific_credential()
        .user_name("developer")
        .service_specific_credential_id(first.service_specific_credential_id())
        .send()
        .await
        .unwrap();
    let third = create(&iam, "developer", CC).await;
    assert_eq!(third.service_user_name(), "developer-at-123456789012");
}

#[tokio::test]
async fn aws_doc_example_sofia_creates_one() {
    let h = start(&["sofia"]).await;
    let c = create(&sdk(&h), "sofia", CC).await;
    assert_eq!(c.service_user_name(), "sofia-at-123456789012");
    assert_eq!(c.user_name(), "sofia");
    assert!(!c.service_password().is_empty());
}

#[tokio::test]
async fn quota_is_per_service() {
    let h = start(&["u"]).await;
    let iam = sdk(&h);
    for service in [
        CC,
        KS,
        BEDROCK,
        "logs.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "aws-external-anthropic.amazonaws.com",
    ] {
        create(&iam, "u", service).await;
        create(&iam, "u", service).await;
    }
    let all = iam
        .list_service_specific_credentials()
        .user_name("u")
        .send()
        .await
        .unwrap();
    assert_eq!(all.service_specific_credentials().len(), 12);
    let ks = iam
        .list_service_specific_credentials()
        .user_name("u")
        .service_name(KS)
        .send()
        .await
        .unwrap();
    assert_eq!(ks.service_specific_credentials().len(), 2);
}

#[tokio::test]
async fn concurrent_creates_never_exceed_the_quota() {
    let h = start(&["racer"]).await;
    let iam = Arc::new(sdk(&h));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let iam = Arc::clone(&iam);
            tokio::spawn(async move {
                iam.create_service_specific_credential()
                    .user_name("racer")
                    .service_name(CC)
                    .send()
                    .await
            })
        })
        .collect();
    let mut ok = Vec::new();
    let mut limited = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(out) => ok.push(
                out.service_specific_credential
                    .unwrap()
                    .service_user_name()
                    .to_string(),
            ),
            Err(e) => {
                assert!(
                    e.as_service_error().unwrap().is_limit_exceeded_exception(),
                    "{e:?}"
                );
                limited += 1;
            }
        }
    }
    ok.sort();
    assert_eq!(ok, ["racer+1-at-123456789012", "racer-at-123456789012"]);
    assert_eq!(limited, 14);
    let listed = iam
        .list_service_specific_credentials()
        .user_name("racer")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_specific_credentials().len(), 2);
}

#[tokio::test]
async fn unsupported_service_is_no_such_entity_by_default() {
    let h = start(&["dev"]).await;
    let iam = sdk(&h);
    for service in [
        "nonexistentservice.amazonaws.com",
        "o3on3n3onosneo",
        "lambda.amazonaws.com",
    ] {
        let e = iam
            .create_service_specific_credential()
            .user_name("dev")
            .service_name(service)
            .send()
            .await
            .unwrap_err();
        assert!(e.as_service_error().unwrap().is_no_such_entity_exception());
        assert_eq!(
            wire(&e).1,
            format!("No such service {service} is supported for Service Specific Credentials")
        );
        assert_eq!(status(&e), 404);
        let e = iam
            .list_service_specific_credentials()
            .user_name("dev")
            .service_name(service)
            .send()
            .await
            .unwrap_err();
        assert!(e.as_service_error().unwrap().is_no_such_entity_exception());
    }
    // The user check comes first.
    let e = iam
        .create_service_specific_credential()
        .user_name("non-existent-user")
        .service_name("o3on3n3onosneo")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        wire(&e).1,
        "The user with name non-existent-user cannot be found."
    );
}

#[tokio::test]
async fn unsupported_service_can_be_the_modeled_not_supported_service() {
    let h = start_with(EmulatorConfig {
        unsupported_service_code: UnsupportedServiceCode::NotSupportedService,
        ..config(&["dev"])
    })
    .await;
    let iam = sdk(&h);
    let e = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name("lambda.amazonaws.com")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error()
            .unwrap()
            .is_service_not_supported_exception()
    );
    assert_eq!(status(&e), 404);
    let e = iam
        .list_service_specific_credentials()
        .service_name("lambda.amazonaws.com")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error()
            .unwrap()
            .is_service_not_supported_exception()
    );
}

#[tokio::test]
async fn api_key_shape_and_expiry() {
    let h = start(&["bedrock-api-user"]).await;
    let iam = sdk(&h);
    let c = iam
        .create_service_specific_credential()
        .user_name("bedrock-api-user")
        .service_name(BEDROCK)
        .credential_age_days(30)
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap();
    let alias = c.service_credential_alias().unwrap();
    assert_eq!(alias, "bedrock-api-user-at-123456789012");
    assert_eq!(c.service_password(), "", "no password for API keys");
    assert_eq!(
        c.service_user_name(),
        "",
        "no service user name for API keys"
    );
    let secret = c.service_credential_secret().unwrap();
    let inner = String::from_utf8(
        STANDARD
            .decode(secret.strip_prefix("ABSK").unwrap())
            .unwrap(),
    )
    .unwrap();
    let (embedded_alias, random) = inner.split_once(':').unwrap();
    assert_eq!(embedded_alias, alias);
    assert_eq!(random.len(), 60);
    let expires = c.expiration_date().unwrap();
    assert_eq!(expires.secs() - c.create_date().secs(), 30 * 86_400);

    let second = create(&iam, "bedrock-api-user", BEDROCK).await;
    assert_eq!(
        second.service_credential_alias(),
        Some("bedrock-api-user+1-at-123456789012")
    );
    assert!(
        second.expiration_date().is_none(),
        "no CredentialAgeDays: never expires"
    );

    let status_of = |list: &aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsOutput, id: &str| {
        list.service_specific_credentials()
            .iter()
            .find(|m| m.service_specific_credential_id() == id)
            .map(|m| m.status().clone())
            .unwrap()
    };
    let list = iam
        .list_service_specific_credentials()
        .user_name("bedrock-api-user")
        .send()
        .await
        .unwrap();
    let meta = &list.service_specific_credentials()[0];
    assert_eq!(meta.service_credential_alias(), Some(alias));
    assert_eq!(meta.expiration_date(), Some(expires));
    assert_eq!(
        status_of(&list, c.service_specific_credential_id()),
        StatusType::Active
    );

    advance_days(&h, 31).await;
    let list = iam
        .list_service_specific_credentials()
        .user_name("bedrock-api-user")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_of(&list, c.service_specific_credential_id()),
        StatusType::Expired
    );
    assert_eq!(
        status_of(&list, second.service_specific_credential_id()),
        StatusType::Active
    );

    // Setting Active does not revive an expired key.
    iam.update_service_specific_credential()
        .user_name("bedrock-api-user")
        .service_specific_credential_id(c.service_specific_credential_id())
        .status(StatusType::Active)
        .send()
        .await
        .unwrap();
    let list = iam
        .list_service_specific_credentials()
        .user_name("bedrock-api-user")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_of(&list, c.service_specific_credential_id()),
        StatusType::Expired
    );
}

#[tokio::test]
async fn other_api_key_services_use_their_prefixes() {
    let h = start(&["k"]).await;
    let iam = sdk(&h);
    for (service, prefix) in [
        ("logs.amazonaws.com", "ACWL"),
        ("cloudwatch.amazonaws.com", "ACWM"),
        ("aws-external-anthropic.amazonaws.com", "AEAA"),
    ] {
        let c = create(&iam, "k", service).await;
        assert!(
            c.service_credential_secret().unwrap().starts_with(prefix),
            "{service}"
        );
        assert_eq!(c.service_credential_alias(), Some("k-at-123456789012"));
    }
}

#[tokio::test]
async fn credential_age_days_rules() {
    let h = start(&["dev"]).await;
    let iam = sdk(&h);
    // AWS accepts an age for CodeCommit passwords and dates their expiry (stackd's probes against live AWS,
    // 2026-09; shared iam-api.md §14), though the API reference speaks of API keys only.
    let made = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name(CC)
        .credential_age_days(30)
        .send()
        .await
        .expect("an age on a CodeCommit password is accepted");
    let c = made.service_specific_credential().unwrap();
    let (created, expires) = (c.create_date().secs(), c.expiration_date().unwrap().secs());
    assert_eq!(expires - created, 30 * 86_400);
    for days in [0, 36_601] {
        let e = iam
            .create_service_specific_credential()
            .user_name("dev")
            .service_name(BEDROCK)
            .credential_age_days(days)
            .send()
            .await
            .unwrap_err();
        assert_eq!(wire(&e).0, "ValidationError");
        assert!(wire(&e).1.contains("'credentialAgeDays'"));
    }
    let ok = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name(BEDROCK)
        .credential_age_days(36_600)
        .send()
        .await
        .unwrap();
    assert!(
        ok.service_specific_credential()
            .unwrap()
            .expiration_date()
            .is_some()
    );
}

#[tokio::test]
async fn reset_issues_a_new_secret_and_keeps_status() {
    let h = start(&["dev"]).await;
    let iam = sdk(&h);
    let c = create(&iam, "dev", CC).await;
    let id = c.service_specific_credential_id();
    iam.update_service_specific_credential()
        .user_name("dev")
        .service_specific_credential_id(id)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let reset = iam
        .reset_service_specific_credential()
        .user_name("dev")
        .service_specific_credential_id(id)
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap();
    assert_eq!(reset.service_specific_credential_id(), id);
    assert_eq!(reset.service_user_name(), c.service_user_name());
    assert_eq!(
        reset.status(),
        &StatusType::Inactive,
        "an Inactive credential stays Inactive"
    );
    assert_eq!(reset.service_password().len(), 60);
    assert_ne!(reset.service_password(), c.service_password());
    assert_eq!(reset.create_date(), c.create_date());

    let key = create(&iam, "dev", BEDROCK).await;
    let new_key = iam
        .reset_service_specific_credential()
        .user_name("dev")
        .service_specific_credential_id(key.service_specific_credential_id())
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap();
    let secret = new_key.service_credential_secret().unwrap();
    assert!(secret.starts_with("ABSK"));
    assert_ne!(Some(secret), key.service_credential_secret());
    assert_eq!(
        new_key.service_credential_alias(),
        key.service_credential_alias()
    );
}

#[tokio::test]
async fn update_statuses() {
    let h = start(&["dev"]).await;
    let iam = sdk(&h);
    let c = create(&iam, "dev", CC).await;
    let id = c.service_specific_credential_id();
    let update = |s: StatusType| {
        iam.update_service_specific_credential()
            .user_name("dev")
            .service_specific_credential_id(id)
            .status(s)
            .send()
    };
    update(StatusType::Inactive).await.unwrap();
    let list = iam
        .list_service_specific_credentials()
        .user_name("dev")
        .send()
        .await
        .unwrap();
    assert_eq!(
        list.service_specific_credentials()[0].status(),
        &StatusType::Inactive
    );
    update(StatusType::Active).await.unwrap();

    let e = update(StatusType::Expired).await.unwrap_err();
    assert_eq!(wire(&e).0, "InvalidInput");
    assert_eq!(status(&e), 400);
    let e = update(StatusType::from("Invalid")).await.unwrap_err();
    assert_eq!(
        wire(&e),
        (
            "ValidationError".into(),
            "1 validation error detected: Value at 'status' failed to satisfy constraint: Member must satisfy enum value set".into()
        )
    );
}

#[tokio::test]
async fn update_reset_delete_errors_in_aws_order() {
    let h = start(&["dev", "other"]).await;
    let iam = sdk(&h);
    let c = create(&iam, "dev", CC).await;
    let id = c.service_specific_credential_id().to_string();

    macro_rules! each_op {
        ($user:expr, $id:expr, |$e:ident| $check:block) => {{
            let $e = iam
                .update_service_specific_credential()
                .user_name($user)
                .service_specific_credential_id($id)
                .status(StatusType::Inactive)
                .send()
                .await
                .unwrap_err();
            $check
            let $e = iam
                .reset_service_specific_credential()
                .user_name($user)
                .service_specific_credential_id($id)
                .send()
                .await
                .unwrap_err();
            $check
            let $e = iam
                .delete_service_specific_credential()
                .user_name($user)
                .service_specific_credential_id($id)
                .send()
                .await
                .unwrap_err();
            $check
        }};
    }

    each_op!("wrong-user-name", &id, |e| {
        assert!(e.as_service_error().unwrap().is_no_such_entity_exception());
        assert_eq!(
            wire(&e).1,
            "The user with name wrong-user-name cannot be found."
        );
    });
    each_op!("dev", "totally-wrong-credential-id-with-hyphens", |e| {
        assert_eq!(
            wire(&e),
            (
                "ValidationError".into(),
                r"1 validation error detected: Value at 'serviceSpecificCredentialId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w]+".into()
            )
        );
        assert_eq!(status(&e), 400);
    });
    each_op!("dev", "ACCA12345ABCDEXAMPLE", |e| {
        assert!(e.as_service_error().unwrap().is_no_such_entity_exception());
        assert_eq!(wire(&e).1, "No such credential ACCA12345ABCDEXAMPLE exists");
    });
    // A real id, but another user's: live IAM answers 400 ValidationError naming the user asked (iam-api.md §14).
    each_op!("other", &id, |e| {
        assert_eq!(
            wire(&e),
            (
                "ValidationError".to_string(),
                format!("User other does not have a service specific credential with id {id}")
            )
        );
        assert_eq!(status(&e), 400);
    });
    each_op!("dev", "ACCA", |e| {
        assert!(
            wire(&e)
                .1
                .contains("Member must have length greater than or equal to 20")
        );
    });
}

#[tokio::test]
async fn list_defaults_filters_and_all_users() {
    let h = start(&["me", "you"]).await;
    let iam = sdk(&h);
    create(&iam, "me", CC).await;
    create(&iam, "me", KS).await;
    create(&iam, "you", CC).await;

    // No UserName: the caller (the first seed user).
    let mine = iam
        .list_service_specific_credentials()
        .send()
        .await
        .unwrap();
    assert_eq!(mine.service_specific_credentials().len(), 2);
    assert!(
        mine.service_specific_credentials()
            .iter()
            .all(|c| c.user_name() == "me")
    );
    for m in mine.service_specific_credentials() {
        assert!(m.service_credential_alias().is_none());
    }

    let none = iam
        .list_service_specific_credentials()
        .user_name("you")
        .service_name(KS)
        .send()
        .await
        .unwrap();
    assert!(none.service_specific_credentials().is_empty());

    let all = iam
        .list_service_specific_credentials()
        .all_users(true)
        .service_name(CC)
        .send()
        .await
        .unwrap();
    let mut users: Vec<&str> = all
        .service_specific_credentials()
        .iter()
        .map(|c| c.user_name())
        .collect();
    users.sort();
    assert_eq!(users, ["me", "you"]);

    let e = iam
        .list_service_specific_credentials()
        .all_users(true)
        .user_name("me")
        .service_name(CC)
        .send()
        .await
        .unwrap_err();
    assert_eq!(wire(&e).0, "InvalidInput");
    // Without ServiceName, AllUsers lists every service, as live IAM answers (iam-api.md §14).
    let every = iam
        .list_service_specific_credentials()
        .all_users(true)
        .send()
        .await
        .unwrap();
    assert!(!every.service_specific_credentials().is_empty());
    let e = iam
        .list_service_specific_credentials()
        .user_name("ghost")
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_no_such_entity_exception());
}

#[tokio::test]
async fn list_paginates_with_opaque_markers() {
    let h = start(&[]).await;
    let iam = sdk(&h);
    for i in 0..3 {
        let u = format!("p{i}");
        iam.create_user().user_name(&u).send().await.unwrap();
        create(&iam, &u, CC).await;
        create(&iam, &u, BEDROCK).await;
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = iam
            .list_service_specific_credentials()
            .all_users(true)
            .service_name(CC)
            .max_items(1)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert_eq!(page.service_specific_credentials().len(), 1);
        seen.push(
            page.service_specific_credentials()[0]
                .user_name()
                .to_string(),
        );
        assert_eq!(page.is_truncated(), page.marker().is_some());
        match page.marker() {
            Some(m) => marker = Some(m.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["p0", "p1", "p2"]);

    let e = iam
        .list_service_specific_credentials()
        .user_name("p0")
        .marker("garbage")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wire(&e).0, "InvalidInput");
    for bad in [0, 1001] {
        let e = iam
            .list_service_specific_credentials()
            .user_name("p0")
            .max_items(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(wire(&e).0, "ValidationError");
        assert!(wire(&e).1.contains("'maxItems'"));
    }
}
