//! The services that issue service-specific credentials, and what kind of credential each one issues.

/// What a service hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// `ServiceUserName` + `ServicePassword` (CodeCommit, Keyspaces).
    Password,
    /// `ServiceCredentialAlias` + `ServiceCredentialSecret` (long-term API keys); the secret starts with `prefix`.
    ApiKey { prefix: &'static str },
}

/// Every supported `ServiceName`, in the lower case IAM answers with (requests may use any case: [`canonical`]).
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

/// The name IAM stores and answers with for a requested `ServiceName`: a supported service in any case becomes
/// its lower-case name, as live IAM does (iam-api.md §14); anything else stays as it was sent.
pub fn canonical(service: &str) -> String {
    SERVICES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(service))
        .map_or_else(|| service.to_string(), |(name, _)| (*name).to_string())
}

/// IAM's check of a `ServiceName`'s characters, before anything else about it.
pub fn well_formed(service: &str) -> bool {
    service
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

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
