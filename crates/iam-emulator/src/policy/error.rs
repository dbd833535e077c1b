//! Why a policy document was refused: each variant's `Display` is the message IAM returns with
//! `MalformedPolicyDocument`.

/// A policy document IAM would refuse, with IAM's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not JSON, a value of the wrong JSON type, an unknown element, an unknown condition operator.
    #[error("Syntax errors in policy.")]
    Syntax,
    /// A `Version` other than `2012-10-17` or `2008-10-17`.
    #[error("The policy failed legacy parsing")]
    LegacyParsing,
    /// A required element is absent (`Statement`, `Effect`, `Principal` in a trust policy).
    #[error("Missing required field {0}")]
    MissingField(&'static str),
    /// A statement without `Action` or `NotAction`.
    #[error("Policy statement must contain actions.")]
    MissingAction,
    /// An identity-policy statement without `Resource` or `NotResource`.
    #[error("Policy statement must contain resources.")]
    MissingResource,
    /// `Resource` / `NotResource` in a trust policy.
    #[error("Has prohibited field {0}")]
    ProhibitedField(&'static str),
    /// `Principal` / `NotPrincipal` in an identity policy.
    #[error("Policy document should not specify a principal.")]
    PrincipalNotAllowed,
    /// A principal that is not `*`, an account id, or an IAM/STS ARN (IAM quotes it as `"AWS":"value"`).
    #[error("Invalid principal in policy: {0}")]
    InvalidPrincipal(String),
    /// An action other than `*` without a `vendor:` prefix.
    #[error("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")]
    MissingVendor,
    /// An action with more than one colon.
    #[error("Actions/Condition can contain only one colon.")]
    TooManyColons,
    /// A resource that is neither `*` nor an ARN of six colon-separated parts.
    #[error("Resource {0} must be in ARN format or \"*\".")]
    InvalidResource(String),
    /// A `Sid` with characters other than ASCII letters and digits.
    #[error(
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
    )]
    InvalidSid,
    /// Two statements with the same non-empty `Sid`.
    #[error("Statement IDs (SID) in a single policy must be unique.")]
    DuplicateSid,
}
