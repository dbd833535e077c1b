//! The request as policies see it: action, resource, caller and condition keys.

use std::collections::BTreeMap;

/// Condition context keys of one request: lower-cased key name → values (numbers, dates and
/// booleans are strings too, as in AWS's request context). Lookups are case-insensitive (IAM's
/// key names are), also for names inserted with capitals. A key with no values counts as absent.
pub type ContextKeys = BTreeMap<String, Vec<String>>;

/// The values of `name` (any case), or `None` when the request does not carry it.
pub(crate) fn key_values<'a>(keys: &'a ContextKeys, name: &str) -> Option<&'a [String]> {
    let values = keys.get(&name.to_ascii_lowercase()).or_else(|| {
        let name = name.to_lowercase();
        keys.iter()
            .find(|(k, _)| k.to_lowercase() == name)
            .map(|(_, v)| v)
    })?;
    (!values.is_empty()).then_some(values.as_slice())
}

/// The one value of a single-valued key: what a policy variable `${name}` resolves to.
pub(crate) fn single_value<'a>(keys: &'a ContextKeys, name: &str) -> Option<&'a str> {
    match key_values(keys, name)? {
        [one] => Some(one),
        _ => None,
    }
}

/// Who makes the request, for matching a trust policy's `Principal`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalRef {
    /// The caller's identifiers: its own ARN (`arn:aws:iam::A:user/path/alice`,
    /// `arn:aws:sts::A:assumed-role/Ops/session`, `arn:aws:iam::A:root`) and, for a role session,
    /// the role's ARN; for a service its name (`ec2.amazonaws.com`), for a web or SAML identity
    /// its provider. A `Principal` entry matches when it names any of them.
    pub arns: Vec<String>,
    /// The caller's account id: what `{"AWS": "ACCOUNT"}` and `arn:aws:iam::ACCOUNT:root` match.
    pub account: String,
}

/// One request as policies see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// `service:Operation`, e.g. `iam:CreateServiceSpecificCredential` (any case).
    pub action: String,
    /// The resource's ARN (ignored by trust policies).
    pub resource: String,
    /// The caller, for trust policies; `None` matches only `"Principal": "*"` (and `NotPrincipal`).
    pub principal: Option<PrincipalRef>,
    /// Condition keys, also the values of policy variables such as `${aws:username}`.
    pub keys: ContextKeys,
}

impl RequestContext {
    /// A request for `action` on `resource`, without caller or keys.
    #[must_use]
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            ..Self::default()
        }
    }

    /// Sets the caller.
    #[must_use]
    pub fn with_principal(mut self, principal: PrincipalRef) -> Self {
        self.principal = Some(principal);
        self
    }

    /// Adds a value to a condition key (a multivalued key gets one call per value).
    #[must_use]
    pub fn with_key(mut self, key: &str, value: impl Into<String>) -> Self {
        self.keys
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.into());
        self
    }
}
