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
pub(crate) const OWNER_ANNOTATION: &str = "iam.ssc-operator.dev/owner";
/// Annotation naming the IAM credential id the Secret holds.
pub(crate) const CREDENTIAL_ID_ANNOTATION: &str = "iam.ssc-operator.dev/credential-id";
/// Annotation on a Secret released by `deletionPolicy: Retain`: the resource it came from.
pub(crate) const RETAINED_FROM_ANNOTATION: &str = "iam.ssc-operator.dev/retained-from";
/// Annotation with a SHA-256 over id, login, secret and issued-at: tells whether someone edited
/// the keys (or the issued-at, which workloads are restarted on). The secret is 256 bits of
/// randomness, so the digest reveals nothing about it.
pub(crate) const DIGEST_ANNOTATION: &str = "iam.ssc-operator.dev/credential-digest";
/// Annotation with the time (RFC 3339, UTC, milliseconds) IAM issued the material the Secret holds:
/// it changes with every new credential or password, never on a re-render of the same one, so
/// consumers and tools can tell a rotation happened.
pub(crate) const ISSUED_AT_ANNOTATION: &str = "iam.ssc-operator.dev/issued-at";

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
pub(crate) fn credential_keys(kind: CredentialKind) -> (&'static str, &'static str) {
    match kind {
        CredentialKind::Password => ("username", "password"),
        CredentialKind::ApiKey => ("alias", "secret"),
    }
}

/// The Secret type when the template does not set one.
pub(crate) fn default_type(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Password => "kubernetes.io/basic-auth",
        CredentialKind::ApiKey => "Opaque",
    }
}

/// Digest stored in [`DIGEST_ANNOTATION`]. Secrets written before the issued-at existed have
/// none, and their digest covers the other three parts only.
pub(crate) fn digest(
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
pub(crate) fn is_owned_by(secret: &Secret, uid: &str) -> bool {
    secret
        .owner_references()
        .iter()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

/// Reads the credential back out of a Secret we own, if its keys are intact (the digest matches).
pub(crate) fn read_back(
    secret: &Secret,
    kind: CredentialKind,
) -> Option<(String, String, SecretValue)> {
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
pub(crate) fn issued_at(secret: &Secret) -> Option<&str> {
    secret
        .metadata
        .annotations
        .as_ref()?
        .get(ISSUED_AT_ANNOTATION)
        .map(String::as_str)
}

/// The [`ISSUED_AT_ANNOTATION`] value for material issued at `at`.
pub(crate) fn format_issued_at(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Whether `value` is exactly what [`format_issued_at`] writes (and so bounded and a time).
pub(crate) fn is_issued_at(value: &str) -> bool {
    value.len() <= 24
        && value
            .parse::<jiff::Timestamp>()
            .is_ok_and(|at| format_issued_at(at) == value)
}

/// `namespace/name` of the resource, as the owner and retained-from annotations name it.
pub(crate) fn owner_of(resource: &ServiceSpecificCredential) -> String {
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
pub(crate) fn is_up_to_date(existing: &Secret, desired: &Secret) -> bool {
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

#[cfg(test)]
mod tests;
