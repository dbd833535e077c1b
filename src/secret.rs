//! The Secret a resource writes: its keys, type, labels, annotations, owner reference and the
//! templated extra keys (rendered with minijinja, never by string replacement).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use crate::api::{CredentialKind, ServiceSpecificCredential};
use crate::iam::SecretValue;

/// Label on every Secret the operator writes; the operator watches only Secrets carrying it.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "ssc-operator";
/// Annotation naming the owning resource (`namespace/name`).
pub const OWNER_ANNOTATION: &str = "iam.ssc-operator.dev/owner";
/// Annotation naming the IAM credential id the Secret holds.
pub const CREDENTIAL_ID_ANNOTATION: &str = "iam.ssc-operator.dev/credential-id";
/// Annotation on a Secret released by `deletionPolicy: Retain`: the resource it came from.
pub const RETAINED_FROM_ANNOTATION: &str = "iam.ssc-operator.dev/retained-from";
/// Annotation with a SHA-256 over id, login, secret and issued-at: tells whether someone edited
/// the keys (or the issued-at, which workloads are restarted on). The secret is 256 bits of
/// randomness, so the digest reveals nothing about it.
pub const DIGEST_ANNOTATION: &str = "iam.ssc-operator.dev/credential-digest";
/// Annotation with the time (RFC 3339, UTC, milliseconds) IAM issued the material the Secret holds:
/// it changes with every new credential or password, never on a re-render of the same one, so
/// consumers and tools can tell a rotation happened.
pub const ISSUED_AT_ANNOTATION: &str = "iam.ssc-operator.dev/issued-at";

/// The credential material a Secret is rendered from.
pub struct Material<'a> {
    pub kind: CredentialKind,
    pub credential_id: &'a str,
    /// The service user name (password services) or the API-key alias.
    pub login: &'a str,
    pub secret: &'a SecretValue,
    /// When IAM issued it ([`ISSUED_AT_ANNOTATION`]); unknown for Secrets written before the
    /// annotation existed.
    pub issued_at: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The template of one data key failed; the message never contains rendered output or secrets.
    #[error("spec.secret.template.data[{key:?}]: {message}")]
    Template { key: String, message: String },
    #[error("the resource has no uid yet")]
    NoUid,
}

/// The two keys the operator always writes, by credential kind.
pub fn credential_keys(kind: CredentialKind) -> (&'static str, &'static str) {
    match kind {
        CredentialKind::Password => ("username", "password"),
        CredentialKind::ApiKey => ("alias", "secret"),
    }
}

/// The Secret type when the template does not set one.
pub fn default_type(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Password => "kubernetes.io/basic-auth",
        CredentialKind::ApiKey => "Opaque",
    }
}

/// Digest stored in [`DIGEST_ANNOTATION`]. Secrets written before the issued-at existed have
/// none, and their digest covers the other three parts only.
pub fn digest(
    credential_id: &str,
    login: &str,
    secret: &SecretValue,
    issued_at: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    for part in [credential_id, login, secret.expose()]
        .into_iter()
        .chain(issued_at)
    {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())
}

/// Whether `secret` is controlled by the resource with this uid.
pub fn is_owned_by(secret: &Secret, uid: &str) -> bool {
    secret
        .owner_references()
        .iter()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

/// Reads the credential back out of a Secret we own, if its keys are intact (the digest matches).
pub fn read_back(secret: &Secret, kind: CredentialKind) -> Option<(String, String, SecretValue)> {
    let (login_key, secret_key) = credential_keys(kind);
    let annotations = secret.metadata.annotations.as_ref()?;
    let id = annotations.get(CREDENTIAL_ID_ANNOTATION)?;
    let expected = annotations.get(DIGEST_ANNOTATION)?;
    let data = secret.data.as_ref()?;
    let login = String::from_utf8(data.get(login_key)?.0.clone()).ok()?;
    let value = SecretValue::new(String::from_utf8(data.get(secret_key)?.0.clone()).ok()?);
    (digest(id, &login, &value, issued_at(secret)) == *expected).then(|| (id.clone(), login, value))
}

/// The [`ISSUED_AT_ANNOTATION`] of a Secret, if it has one.
pub fn issued_at(secret: &Secret) -> Option<&str> {
    secret
        .metadata
        .annotations
        .as_ref()?
        .get(ISSUED_AT_ANNOTATION)
        .map(String::as_str)
}

/// The [`ISSUED_AT_ANNOTATION`] value for material issued at `at`.
pub fn format_issued_at(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Whether `value` is exactly what [`format_issued_at`] writes (and so bounded and a time).
pub fn is_issued_at(value: &str) -> bool {
    value.len() <= 24
        && value
            .parse::<jiff::Timestamp>()
            .is_ok_and(|at| format_issued_at(at) == value)
}

/// `namespace/name` of the resource, as the owner and retained-from annotations name it.
pub fn owner_of(resource: &ServiceSpecificCredential) -> String {
    format!(
        "{}/{}",
        resource.namespace().unwrap_or_default(),
        resource.name_any()
    )
}

/// Placeholder material shaped like real credentials, and longer: what a template check and the
/// Secret's dry run render, before any real secret exists.
const PLACEHOLDER_SECRET: &str = "PLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERxPLACEHOLDERx";

/// The Secret `resource` would write, with placeholder material.
pub fn render_placeholder(resource: &ServiceSpecificCredential) -> Result<Secret, RenderError> {
    let login = format!("{}-at-000000000000", resource.spec.user_name);
    let placeholder = SecretValue::new(PLACEHOLDER_SECRET);
    render(
        resource,
        &Material {
            kind: resource.spec.service_name.kind(),
            credential_id: "ACCAPLACEHOLDERPLACEHOLDER0000",
            login: &login,
            secret: &placeholder,
            issued_at: None,
        },
    )
}

/// Builds the complete Secret for `resource` holding `material`.
pub fn render(
    resource: &ServiceSpecificCredential,
    material: &Material<'_>,
) -> Result<Secret, RenderError> {
    let uid = resource.uid().ok_or(RenderError::NoUid)?;
    let template = resource.spec.secret.template.clone().unwrap_or_default();
    let (login_key, secret_key) = credential_keys(material.kind);

    let mut data = BTreeMap::new();
    let vars = variables(resource, material);
    let mut budget = crate::template::MAX_RENDERED_TOTAL;
    for (key, source) in &template.data {
        let value = crate::template::render(source, &vars, budget).map_err(|error| {
            RenderError::Template {
                key: key.clone(),
                message: error.to_string(),
            }
        })?;
        budget = budget.saturating_sub(value.len());
        data.insert(key.clone(), ByteString(value.into_bytes()));
    }
    data.insert(
        login_key.to_string(),
        ByteString(material.login.as_bytes().to_vec()),
    );
    data.insert(
        secret_key.to_string(),
        ByteString(material.secret.expose().as_bytes().to_vec()),
    );

    let mut labels = template.labels.clone();
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY_VALUE.into());
    let mut annotations = template.annotations.clone();
    annotations.insert(OWNER_ANNOTATION.into(), owner_of(resource));
    annotations.insert(
        CREDENTIAL_ID_ANNOTATION.into(),
        material.credential_id.to_string(),
    );
    annotations.insert(
        DIGEST_ANNOTATION.into(),
        digest(
            material.credential_id,
            material.login,
            material.secret,
            material.issued_at,
        ),
    );
    if let Some(issued_at) = material.issued_at {
        annotations.insert(ISSUED_AT_ANNOTATION.into(), issued_at.to_string());
    }

    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(resource.secret_name()),
            namespace: resource.namespace(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: ServiceSpecificCredential::api_version(&()).into_owned(),
                kind: ServiceSpecificCredential::kind(&()).into_owned(),
                name: resource.name_any(),
                uid,
                controller: Some(true),
                // Not set: blocking the owner's foreground deletion would need `update` on
                // servicespecificcredentials/finalizers where OwnerReferencesPermissionEnforcement runs.
                block_owner_deletion: None,
            }]),
            ..ObjectMeta::default()
        },
        type_: Some(
            template
                .type_
                .clone()
                .unwrap_or_else(|| default_type(material.kind).to_string()),
        ),
        data: Some(data),
        ..Secret::default()
    })
}

/// Whether `existing` already has everything `desired` sets (data, type, our labels and
/// annotations). Extra labels or annotations others added are left alone.
pub fn is_up_to_date(existing: &Secret, desired: &Secret) -> bool {
    let contains_all = |have: &Option<BTreeMap<String, String>>,
                        want: &Option<BTreeMap<String, String>>| {
        want.iter()
            .flatten()
            .all(|(k, v)| have.as_ref().and_then(|h| h.get(k)) == Some(v))
    };
    existing.data == desired.data
        && existing.type_.as_deref().unwrap_or("Opaque")
            == desired.type_.as_deref().unwrap_or("Opaque")
        && contains_all(&existing.metadata.labels, &desired.metadata.labels)
        && contains_all(
            &existing.metadata.annotations,
            &desired.metadata.annotations,
        )
        && existing.metadata.owner_references == desired.metadata.owner_references
}

/// The variables a template of `material` sees.
fn variables<'a>(
    resource: &'a ServiceSpecificCredential,
    material: &'a Material<'a>,
) -> crate::template::Variables<'a> {
    let (login_key, secret_key) = credential_keys(material.kind);
    [
        (login_key, material.login),
        (secret_key, material.secret.expose()),
        ("credentialId", material.credential_id),
        ("userName", resource.spec.user_name.as_str()),
        ("serviceName", resource.spec.service_name.as_str()),
    ]
    .into()
}

/// The variable names templates of this kind may use.
pub fn variable_names(kind: CredentialKind) -> [&'static str; 5] {
    let (login_key, secret_key) = credential_keys(kind);
    [
        login_key,
        secret_key,
        "credentialId",
        "userName",
        "serviceName",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{SecretTemplate, ServiceName, ServiceSpecificCredentialSpec};
    use base64::Engine;

    const PASSWORD: &str = "k1zPZM6uVxMQ3oxqgoYlNuJPyRTZ1vREs76zTQE3eJk=";

    fn resource(
        service: ServiceName,
        template: Option<SecretTemplate>,
    ) -> ServiceSpecificCredential {
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
}
