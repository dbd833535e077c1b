//! The identity a record's credentials were minted through, as the record keeps it: what the
//! operator must sign with to retire them, whatever the resource names now.

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::resolve::Resolved;
use crate::iam::{CredentialMetadata, Iam, IamError, IssuedCredential};

/// Which AWS identity minted a record's credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityBinding {
    /// The IAMIdentity; unset: the operator's own (ambient) identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its role (unset for the ambient identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The AWS account, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

impl IdentityBinding {
    /// The binding of a resolved identity in `account`.
    pub fn of(identity: &Resolved, account: Option<String>) -> Self {
        match identity {
            Resolved::Ambient => IdentityBinding {
                name: None,
                role_arn: None,
                account_id: account,
            },
            Resolved::Role(chain) => IdentityBinding {
                name: Some(chain.name().to_string()),
                role_arn: Some(chain.role_arn().to_string()),
                account_id: Some(chain.account().to_string()),
            },
        }
    }

    /// Whether both name the same identity (the same IAMIdentity and role, or both the
    /// ambient one; the ambient account may have been unknown when one was written).
    pub fn same_identity(&self, other: &IdentityBinding) -> bool {
        self.name == other.name && self.role_arn == other.role_arn
    }

    /// How people read it: `IAMIdentity NAME (ROLE)` or `the operator's own identity`.
    pub fn describe(&self) -> String {
        match (&self.name, &self.role_arn) {
            (Some(name), Some(role)) => format!("IAMIdentity {name} ({role})"),
            (Some(name), None) => format!("IAMIdentity {name}"),
            _ => "the operator's own identity".into(),
        }
    }
}

/// The client of an identity that cannot be used now (its IAMIdentity is gone or changed):
/// every call fails as not carried out, so nothing is taken for deleted or done.
pub(crate) struct Unreachable(pub String);

impl Unreachable {
    fn error<T>(&self) -> Result<T, IamError> {
        Err(IamError::Unavailable {
            message: self.0.clone(),
        })
    }

    pub(crate) fn shared(why: String) -> Arc<dyn Iam> {
        Arc::new(Unreachable(why))
    }
}

#[async_trait]
impl Iam for Unreachable {
    async fn create(&self, _: &str, _: &str, _: Option<i32>) -> Result<IssuedCredential, IamError> {
        self.error()
    }
    async fn list(&self, _: &str, _: &str) -> Result<Vec<CredentialMetadata>, IamError> {
        self.error()
    }
    async fn reset(&self, _: &str, _: &str) -> Result<IssuedCredential, IamError> {
        self.error()
    }
    async fn update_status(&self, _: &str, _: &str, _: bool) -> Result<(), IamError> {
        self.error()
    }
    async fn delete(&self, _: &str, _: &str) -> Result<(), IamError> {
        self.error()
    }
}
