//! The services that issue service-specific credentials, and what kind of credential each one issues.

/// What a service hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// `ServiceUserName` + `ServicePassword` (CodeCommit, Keyspaces).
    Password,
    /// `ServiceCredentialAlias` + `ServiceCredentialSecret` (long-term API keys); the secret starts with `prefix`.
    ApiKey { prefix: &'static str },
}

/// Every supported `ServiceName`, matched exactly (AWS documents them in lower case; case folding is unverified).
pub const SERVICES: &[(&str, CredentialKind)] = &[
    ("codecommit.amazonaws.com", CredentialKind::Password),
    ("cassandra.amazonaws.com", CredentialKind::Password),
    (
        "bedrock.amazonaws.com",
        CredentialKind::ApiKey { prefix: "ABSK" },
    ),
    (
        "logs.amazonaws.com",
        CredentialKind::ApiKey { prefix: "ACWL" },
    ),
    (
        "cloudwatch.amazonaws.com",
        CredentialKind::ApiKey { prefix: "ACWM" },
    ),
    (
        "aws-external-anthropic.amazonaws.com",
        CredentialKind::ApiKey { prefix: "AEAA" },
    ),
];

/// The kind of credential `service` issues, or `None` when it is not supported.
pub fn kind_of(service: &str) -> Option<CredentialKind> {
    SERVICES
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, kind)| *kind)
}

/// At most this many credentials per user per service.
pub const PER_SERVICE_QUOTA: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_services_two_kinds() {
        assert_eq!(SERVICES.len(), 6);
        assert_eq!(
            kind_of("codecommit.amazonaws.com"),
            Some(CredentialKind::Password)
        );
        assert_eq!(
            kind_of("bedrock.amazonaws.com"),
            Some(CredentialKind::ApiKey { prefix: "ABSK" })
        );
        assert_eq!(kind_of("Bedrock.amazonaws.com"), None);
        assert_eq!(kind_of("lambda.amazonaws.com"), None);
    }
}
