use super::*;
use crate::api::{SecretTemplate, ServiceName, ServiceSpecificCredentialSpec};
use base64::Engine;

const PASSWORD: &str = "k1zPZM6uVxMQ3oxqgoYlNuJPyRTZ1vREs76zTQE3eJk=";

fn resource(service: ServiceName, template: Option<SecretTemplate>) -> ServiceSpecificCredential {
    let mut spec: ServiceSpecificCredentialSpec = serde_json::from_value(serde_json::json!({
        "userName": "sofia", "serviceName": service.as_str()
    }))
    .unwrap();
    spec.secret.template = template;
    let mut r = ServiceSpecificCredential::new("sofia-git", spec);
    r.metadata.namespace = Some("team-a".into());
    r.metadata.uid = Some("uid-1".into());
    r
}

fn password_material(secret: &SecretValue) -> Material<'_> {
    Material {
        kind: CredentialKind::Password,
        credential_id: "ACCAQFODXMPL4YFHP7DZE",
        login: "sofia-at-123456789012",
        secret,
        issued_at: Some("2026-12-01T18:30:00.000Z"),
    }
}

fn text(secret: &Secret, key: &str) -> String {
    String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

#[test]
fn password_secret_has_keys_type_labels_annotations_owner() {
    let value = SecretValue::new(PASSWORD);
    let s = render(
        &resource(ServiceName::CodeCommit, None),
        &password_material(&value),
    )
    .unwrap();
    assert_eq!(s.metadata.name.as_deref(), Some("sofia-git"));
    assert_eq!(s.metadata.namespace.as_deref(), Some("team-a"));
    assert_eq!(s.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(text(&s, "username"), "sofia-at-123456789012");
    assert_eq!(text(&s, "password"), PASSWORD);
    assert_eq!(
        s.metadata.labels.as_ref().unwrap()[MANAGED_BY_LABEL],
        "ssc-operator"
    );
    let ann = s.metadata.annotations.as_ref().unwrap();
    assert_eq!(ann[OWNER_ANNOTATION], "team-a/sofia-git");
    assert_eq!(ann[CREDENTIAL_ID_ANNOTATION], "ACCAQFODXMPL4YFHP7DZE");
    assert!(!ann[DIGEST_ANNOTATION].contains(PASSWORD));
    let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.uid, "uid-1");
    assert_eq!(owner.controller, Some(true));
    assert_eq!(owner.kind, "ServiceSpecificCredential");
    assert_eq!(owner.api_version, "iam.ssc-operator.dev/v1alpha1");
    assert!(is_owned_by(&s, "uid-1"));
    assert!(!is_owned_by(&s, "uid-2"));
}

#[test]
fn api_key_secret_uses_alias_and_secret_and_opaque() {
    let value = SecretValue::new("ABSKYmVkcm9jay1hdC0xMjM=");
    let m = Material {
        kind: CredentialKind::ApiKey,
        credential_id: "ACCA1",
        login: "bot-at-123456789012",
        secret: &value,
        issued_at: None,
    };
    let s = render(&resource(ServiceName::Bedrock, None), &m).unwrap();
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    assert_eq!(text(&s, "alias"), "bot-at-123456789012");
    assert_eq!(text(&s, "secret"), "ABSKYmVkcm9jay1hdC0xMjM=");
    assert!(!s.data.as_ref().unwrap().contains_key("password"));
}

#[test]
fn template_renders_with_filters_and_variables() {
    let template = SecretTemplate {
        type_: Some("Opaque".into()),
        labels: [("team".to_string(), "a".to_string())].into(),
        annotations: [("note".to_string(), "x".to_string())].into(),
        data: [
            (
                ".git-credentials".to_string(),
                "https://{{ username | urlencode }}:{{ password | urlencode }}@git-codecommit.eu-west-1.amazonaws.com".to_string(),
            ),
            ("b64".to_string(), "{{ password | base64 }}".to_string()),
            ("meta".to_string(), "{{ userName }}/{{ serviceName }}/{{ credentialId }}".to_string()),
        ]
        .into(),
    };
    let value = SecretValue::new(PASSWORD);
    let s = render(
        &resource(ServiceName::CodeCommit, Some(template)),
        &password_material(&value),
    )
    .unwrap();
    assert_eq!(
        text(&s, ".git-credentials"),
        "https://sofia-at-123456789012:k1zPZM6uVxMQ3oxqgoYlNuJPyRTZ1vREs76zTQE3eJk%3D@git-codecommit.eu-west-1.amazonaws.com"
    );
    assert_eq!(
        text(&s, "b64"),
        base64::engine::general_purpose::STANDARD.encode(PASSWORD)
    );
    assert_eq!(
        text(&s, "meta"),
        "sofia/codecommit.amazonaws.com/ACCAQFODXMPL4YFHP7DZE"
    );
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    assert_eq!(s.metadata.labels.as_ref().unwrap()["team"], "a");
    assert_eq!(s.metadata.annotations.as_ref().unwrap()["note"], "x");
}

#[test]
fn urlencode_escapes_slashes_for_userinfo() {
    let template = SecretTemplate {
        data: [("u".to_string(), "{{ password | urlencode }}".to_string())].into(),
        ..Default::default()
    };
    let value = SecretValue::new("+oaFsNk7/obP9G h~=");
    let s = render(
        &resource(ServiceName::CodeCommit, Some(template)),
        &password_material(&value),
    )
    .unwrap();
    assert_eq!(text(&s, "u"), "%2BoaFsNk7%2FobP9G%20h~%3D");
}

/// The error text of a template in key `k` that fails to render with [`PASSWORD`].
fn template_error(source: &str) -> String {
    let template = SecretTemplate {
        data: [("k".to_string(), source.to_string())].into(),
        ..Default::default()
    };
    let value = SecretValue::new(PASSWORD);
    render(
        &resource(ServiceName::CodeCommit, Some(template)),
        &password_material(&value),
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn template_errors_name_the_key_and_never_the_secret() {
    for source in [
        "{{ nope }}",
        "{{ password | nosuchfilter }}",
        "{% for %}",
        "{{ password + 1 }}",
        "{{ password | int + 1 }}{{ password.x.y }}",
    ] {
        let text = template_error(source);
        assert!(text.contains("\"k\""), "{text}");
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains("k1zP"), "{text}");
    }
}

#[test]
fn template_errors_never_echo_any_part_of_the_secret() {
    for source in [
        "{% include password[1:] %}",
        "{% include password[:-1] %}",
        "{% import password[2:] as x %}",
        "{{ password[1:] | nosuchfilter }}",
        "{{ undefined_thing(password[1:]) }}",
        "{{ password[1:] ~ 1 + password[1:] }}",
    ] {
        let text = template_error(source);
        for start in 0..PASSWORD.len() - 8 {
            assert!(
                !text.contains(&PASSWORD[start..start + 8]),
                "{source}: part of the password in {text}"
            );
        }
    }
}

#[test]
fn runaway_templates_are_stopped() {
    let template = SecretTemplate {
        data: [(
            "k".to_string(),
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
                .to_string(),
        )]
        .into(),
        ..Default::default()
    };
    let value = SecretValue::new(PASSWORD);
    assert!(
        render(
            &resource(ServiceName::CodeCommit, Some(template)),
            &password_material(&value)
        )
        .is_err()
    );
}

#[test]
fn read_back_detects_edits() {
    let value = SecretValue::new(PASSWORD);
    let mut s = render(
        &resource(ServiceName::CodeCommit, None),
        &password_material(&value),
    )
    .unwrap();
    let (id, login, secret) = read_back(&s, CredentialKind::Password).unwrap();
    assert_eq!(id, "ACCAQFODXMPL4YFHP7DZE");
    assert_eq!(login, "sofia-at-123456789012");
    assert_eq!(secret, value);
    s.data
        .as_mut()
        .unwrap()
        .insert("password".into(), ByteString(b"edited".to_vec()));
    assert!(read_back(&s, CredentialKind::Password).is_none());
    s.data.as_mut().unwrap().remove("password");
    assert!(read_back(&s, CredentialKind::Password).is_none());
}

#[test]
fn up_to_date_ignores_foreign_labels_but_not_data() {
    let value = SecretValue::new(PASSWORD);
    let desired = render(
        &resource(ServiceName::CodeCommit, None),
        &password_material(&value),
    )
    .unwrap();
    let mut existing = desired.clone();
    existing
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("other".into(), "x".into());
    assert!(is_up_to_date(&existing, &desired));
    existing
        .data
        .as_mut()
        .unwrap()
        .insert("extra".into(), ByteString(b"x".to_vec()));
    assert!(!is_up_to_date(&existing, &desired));
}
