use super::*;

fn class(code: &str, message: &str, status: u16) -> IamError {
    classify(
        Some(code),
        Some(message),
        Some(status),
        "sofia",
        Some("codecommit.amazonaws.com"),
        Some("ACCAQFODXMPL4YFHP7DZE"),
    )
}

#[test]
fn no_such_entity_is_told_apart_by_message() {
    assert_eq!(
        class(
            "NoSuchEntity",
            "The user with name sofia cannot be found.",
            404
        ),
        IamError::UserNotFound {
            user: "sofia".into()
        }
    );
    assert!(matches!(
        class(
            "NoSuchEntity",
            "No such service lambda.amazonaws.com is supported for Service Specific Credentials",
            404
        ),
        IamError::ServiceNotSupported { .. }
    ));
    assert!(matches!(
        class(
            "NoSuchEntity",
            "No such credential ACCAQFODXMPL4YFHP7DZE exists",
            404
        ),
        IamError::CredentialNotFound { .. }
    ));
}

#[test]
fn error_codes_are_the_metric_labels() {
    let message = || "m".to_string();
    let codes: Vec<&str> = [
        IamError::UserNotFound { user: message() },
        IamError::ServiceNotSupported { service: message() },
        IamError::LimitExceeded { message: message() },
        IamError::CredentialNotFound { id: message() },
        IamError::Throttled { message: message() },
        IamError::AccessDenied { message: message() },
        IamError::Rejected {
            code: message(),
            message: message(),
        },
        IamError::Unavailable { message: message() },
    ]
    .iter()
    .map(IamError::code)
    .collect();
    assert_eq!(
        codes,
        [
            "UserNotFound",
            "ServiceNotSupported",
            "LimitExceeded",
            "CredentialNotFound",
            "Throttled",
            "AccessDenied",
            "Rejected",
            "Unavailable",
        ]
    );
}

#[test]
fn codes_map_to_reasons() {
    assert!(matches!(
        class("NotSupportedService", "x", 404),
        IamError::ServiceNotSupported { .. }
    ));
    assert!(matches!(
        class("LimitExceeded", "quota", 409),
        IamError::LimitExceeded { .. }
    ));
    assert!(matches!(
        class("Throttling", "Rate exceeded", 400),
        IamError::Throttled { .. }
    ));
    assert!(matches!(
        class("ServiceUnavailable", "down", 503),
        IamError::Unavailable { .. }
    ));
    assert!(matches!(
        class("InternalFailure", "oops", 500),
        IamError::Unavailable { .. }
    ));
    assert!(matches!(
        class("AccessDenied", "no", 403),
        IamError::AccessDenied { .. }
    ));
    assert!(matches!(
        class("ValidationError", "bad", 400),
        IamError::Rejected { .. }
    ));
    assert!(matches!(
        classify(None, None, Some(502), "u", None, None),
        IamError::Unavailable { .. }
    ));
}

#[test]
fn a_next_page_is_followed_only_while_iam_says_truncated() {
    use aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsOutput as Page;
    let page = |marker: Option<&str>, truncated| {
        Page::builder()
            .set_marker(marker.map(str::to_string))
            .is_truncated(truncated)
            .build()
    };
    assert_eq!(next_marker(&page(Some("m2"), true)).as_deref(), Some("m2"));
    assert_eq!(next_marker(&page(Some("m2"), false)), None);
    assert_eq!(next_marker(&page(Some(""), true)), None);
    assert_eq!(next_marker(&page(None, true)), None);
}

#[test]
fn secret_value_debug_is_redacted() {
    let s = SecretValue::new("k1zPZM6uVxMQ3oxqgoYlNuJPyRTZ1vREs76zTQE3eJk=");
    assert!(!format!("{s:?}").contains("k1zP"));
    let issued = IssuedCredential {
        metadata: CredentialMetadata {
            id: "ACCA".into(),
            user_name: "u".into(),
            service_name: "s".into(),
            service_user_name: None,
            alias: None,
            status: CredentialStatus::Active,
            create_date: Timestamp::UNIX_EPOCH,
            expiration_date: None,
        },
        secret: s,
    };
    assert!(!format!("{issued:?}").contains("k1zP"));
}
