use super::*;
use crate::iam::SecretValue;

fn resource() -> ServiceSpecificCredential {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "iam.ssc-operator.dev/v1alpha1",
        "kind": "ServiceSpecificCredential",
        "metadata": {"name": "git", "namespace": "team-a", "uid": "uid-1", "generation": 2},
        "spec": {"userName": "sofia", "serviceName": "codecommit.amazonaws.com"},
        "status": {
            "observedGeneration": 2,
            "credentialId": "ACCA1111111111111111",
            "credentialStatus": "Active",
            "serviceUserName": "sofia-at-123456789012",
            "createDate": "2026-11-30T12:00:00Z",
            "slotsUsed": 1,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Available",
                            "message": "", "lastTransitionTime": "2026-12-01T11:57:00Z"}]
        }
    }))
    .unwrap()
}

fn secret_of(r: &ServiceSpecificCredential, id: &str, password: &str) -> Secret {
    secret::render(
        r,
        &secret::Material {
            kind: r.spec.service_name.kind(),
            credential_id: id,
            login: "sofia-at-123456789012",
            secret: &SecretValue::new(password),
            issued_at: Some("2026-12-01T11:57:00.000Z"),
        },
    )
    .unwrap()
}

#[test]
fn the_secret_check_tells_intact_edited_other_foreign_and_missing() {
    let r = resource();
    let good = secret_of(&r, "ACCA1111111111111111", "pw-1");
    assert_eq!(
        secret_state(&r, Some(&good)),
        SecretState::Matches {
            issued_at: Some("2026-12-01T11:57:00.000Z".into())
        }
    );
    let mut edited = good.clone();
    edited.data.as_mut().unwrap().insert(
        "password".into(),
        k8s_openapi::ByteString(b"typed-by-hand".to_vec()),
    );
    assert_eq!(secret_state(&r, Some(&edited)), SecretState::Edited);
    let other = secret_of(&r, "ACCA2222222222222222", "pw-2");
    assert_eq!(
        secret_state(&r, Some(&other)),
        SecretState::HoldsOther {
            credential_id: "ACCA2222222222222222".into()
        }
    );
    let mut foreign = good.clone();
    foreign.metadata.owner_references = None;
    assert_eq!(secret_state(&r, Some(&foreign)), SecretState::Foreign);
    assert_eq!(secret_state(&r, None), SecretState::Missing);
}

#[test]
fn the_report_names_everything_a_user_asks_and_no_secret() {
    let mut r = resource();
    if let Some(status) = r.status.as_mut() {
        status.identity = Some(crate::identity::IdentityBinding {
            name: Some("team-b".into()),
            role_arn: Some("arn:aws:iam::210987654321:role/r".into()),
            account_id: Some("210987654321".into()),
        });
    }
    let good = secret_of(&r, "ACCA1111111111111111", "pw-never-printed");
    let now: jiff::Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
    let event: Event = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "e1", "namespace": "team-a"},
        "eventTime": "2026-12-01T11:57:00.000000Z",
        "type": "Normal", "reason": "CredentialCreated", "note": "created IAM credential",
        "reportingController": "ssc-operator", "reportingInstance": "x", "action": "Create"
    }))
    .unwrap();
    let text = render_status(&r, &secret_state(&r, Some(&good)), &[event], now);
    for needle in [
        "team-a/git",
        "True (Available) since 2026-12-01T11:57:00Z (3m ago)",
        "ACCA1111111111111111 (Active)",
        "sofia-at-123456789012",
        "Next rotation:  no schedule",
        "1 of 2 credentials",
        "git: matches its digest",
        "issued 2026-12-01T11:57:00.000Z",
        "CredentialCreated",
        "3m ago",
        "Identity:       IAMIdentity team-b (arn:aws:iam::210987654321:role/r), account 210987654321",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(!text.contains("pw-never-printed"), "{text}");
    assert!(!text.contains("Observed:"), "{text}");
}

#[test]
fn relative_times_read_like_kubectl_ages() {
    let now: jiff::Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    assert_eq!(relative(at("2026-12-01T11:59:30Z"), now), "30s ago");
    assert_eq!(relative(at("2026-12-01T11:00:00Z"), now), "60m ago");
    assert_eq!(relative(at("2026-12-03T12:00:00Z"), now), "in 2d");
    assert_eq!(printable("a\x1b[2Jb\n"), "a?[2Jb?");
}
