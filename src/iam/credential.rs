//! What IAM says of a credential: its metadata, status, and the one-time secret.

use super::*;

/// A password or API-key secret. Never printed: `Debug` is redacted and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }

    /// The secret itself; only for writing it into the Secret.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// The IAM status of a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialStatus {
    Active,
    Inactive,
    Expired,
    Other(String),
}

impl CredentialStatus {
    pub fn as_str(&self) -> &str {
        match self {
            CredentialStatus::Active => "Active",
            CredentialStatus::Inactive => "Inactive",
            CredentialStatus::Expired => "Expired",
            CredentialStatus::Other(s) => s,
        }
    }

    pub(super) fn from_sdk(status: &StatusType) -> Self {
        match status {
            StatusType::Active => CredentialStatus::Active,
            StatusType::Inactive => CredentialStatus::Inactive,
            StatusType::Expired => CredentialStatus::Expired,
            other => CredentialStatus::Other(other.as_str().to_string()),
        }
    }
}

/// What IAM tells about a credential, never including its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialMetadata {
    pub id: String,
    pub user_name: String,
    pub service_name: String,
    /// Password services: the login name (`user-at-ACCOUNT`).
    pub service_user_name: Option<String>,
    /// API-key services: the public part of the key.
    pub alias: Option<String>,
    pub status: CredentialStatus,
    pub create_date: Timestamp,
    pub expiration_date: Option<Timestamp>,
}

impl CredentialMetadata {
    /// The name a client logs in with: the service user name or the API-key alias.
    pub fn login(&self) -> &str {
        self.service_user_name
            .as_deref()
            .or(self.alias.as_deref())
            .unwrap_or_default()
    }
}

/// A credential with its one-time secret, as Create and Reset return it.
#[derive(Clone, Debug)]
pub struct IssuedCredential {
    pub metadata: CredentialMetadata,
    pub secret: SecretValue,
}
