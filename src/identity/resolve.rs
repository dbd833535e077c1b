//! Which AWS identity a resource mints through: pure decisions on what was read.
//!
//! A resource names an `IAMIdentity` (`spec.identityRef`), or gets its namespace's default
//! (the `iam.ssc-operator.dev/identity` annotation), or else the operator's own (ambient)
//! identity where `--ambient-identity` allows it. The identity must allow the namespace (and the
//! user, where it lists users); otherwise the resource is `NotPermitted` and nothing is asked of
//! AWS.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::core::{Selector, SelectorExt};

use super::api::{IAMIdentitySpec, IDENTITY_ANNOTATION};
use crate::tenancy::NotPermitted;

/// The longest role chain followed (the identity itself included).
pub(crate) const MAX_CHAIN: usize = 4;
/// A session's length when the identity does not say.
pub(crate) const DEFAULT_SESSION: Duration = Duration::from_secs(3600);
/// The bounds STS puts on a session's length.
pub(crate) const SESSION_RANGE: (Duration, Duration) =
    (Duration::from_secs(900), Duration::from_secs(12 * 3600));
/// A chained session lasts at most an hour (STS refuses longer).
pub(crate) const CHAINED_SESSION_MAX: Duration = Duration::from_secs(3600);

/// `--ambient-identity`: which namespaces may use the operator's own AWS identity.
#[derive(Clone, Debug, Default)]
pub enum AmbientPolicy {
    /// Every namespace (what an upgrade from a release without identities keeps doing).
    #[default]
    All,
    /// No namespace: every resource needs an IAMIdentity.
    None,
    /// Namespaces whose labels match.
    Selector(crate::selector::Selector),
}

impl std::str::FromStr for AmbientPolicy {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.trim() {
            "all" => Ok(AmbientPolicy::All),
            "none" => Ok(AmbientPolicy::None),
            selector => crate::selector::parse(selector)
                .map(AmbientPolicy::Selector)
                .map_err(|e| format!("expected all, none or a namespace label selector: {e}")),
        }
    }
}

/// One role to assume.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Hop {
    /// The IAMIdentity it comes from.
    pub identity: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session: Duration,
}

/// The roles to assume in order, the last one the identity's own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Chain {
    pub hops: Vec<Hop>,
}

impl Chain {
    /// The identity the chain ends in.
    pub fn name(&self) -> &str {
        &self.last().identity
    }

    pub fn role_arn(&self) -> &str {
        &self.last().role_arn
    }

    /// The account of the last role.
    pub fn account(&self) -> &str {
        super::api::account_of(self.role_arn()).unwrap_or_default()
    }

    fn last(&self) -> &Hop {
        self.hops.last().expect("a chain has at least one hop")
    }
}

/// The identity a resource mints through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// The operator's own.
    Ambient,
    /// An IAMIdentity's role (through its chain).
    Role(Chain),
}

impl Resolved {
    /// The IAMIdentity's name; `None` for the ambient identity.
    pub fn name(&self) -> Option<&str> {
        match self {
            Resolved::Ambient => None,
            Resolved::Role(chain) => Some(chain.name()),
        }
    }
}

/// What was read about the resource's namespace.
#[derive(Clone, Debug, Default)]
pub struct NamespaceFacts<'a> {
    pub name: &'a str,
    pub labels: Option<&'a BTreeMap<String, String>>,
    pub annotations: Option<&'a BTreeMap<String, String>>,
}

/// The identity a resource uses: the one it names, else its namespace's default, else the
/// ambient one if allowed. `identities` looks an IAMIdentity up by name (what the API server
/// has now).
pub fn resolve(
    requested: Option<&str>,
    namespace: &NamespaceFacts<'_>,
    user: &str,
    ambient: &AmbientPolicy,
    identities: &dyn Fn(&str) -> Option<IAMIdentitySpec>,
) -> Result<Resolved, NotPermitted> {
    let default = namespace
        .annotations
        .and_then(|a| a.get(IDENTITY_ANNOTATION))
        .map(|name| name.trim())
        .filter(|name| !name.is_empty());
    let Some(name) = requested.or(default) else {
        return ambient_allowed(ambient, namespace)
            .then_some(Resolved::Ambient)
            .ok_or_else(|| NotPermitted::NoIdentity {
                namespace: namespace.name.into(),
            });
    };
    let spec = identities(name).ok_or_else(|| NotPermitted::IdentityNotFound {
        identity: name.into(),
        namespace: namespace.name.into(),
    })?;
    if !namespace_allowed(&spec, namespace) {
        return Err(NotPermitted::IdentityNotAllowed {
            identity: name.into(),
            namespace: namespace.name.into(),
        });
    }
    if !spec.allowed_users.is_empty()
        && !spec
            .allowed_users
            .iter()
            .any(|glob| crate::tenancy::glob_matches(glob, user))
    {
        return Err(NotPermitted::UserNotAllowedByIdentity {
            user: user.into(),
            identity: name.into(),
        });
    }
    chain(name, spec, identities)
        .map(Resolved::Role)
        .map_err(|why| NotPermitted::IdentityUnusable {
            identity: name.into(),
            why,
        })
}

/// Whether `--ambient-identity` lets the namespace use the operator's own identity.
pub(crate) fn ambient_allowed(ambient: &AmbientPolicy, namespace: &NamespaceFacts<'_>) -> bool {
    match ambient {
        AmbientPolicy::All => true,
        AmbientPolicy::None => false,
        AmbientPolicy::Selector(selector) => selector.matches(|key| {
            namespace
                .labels
                .and_then(|labels| labels.get(key))
                .map(String::as_str)
        }),
    }
}

/// Whether the identity lists the namespace by name or selects it by its labels.
pub(crate) fn namespace_allowed(spec: &IAMIdentitySpec, namespace: &NamespaceFacts<'_>) -> bool {
    let Some(allowed) = &spec.allowed_namespaces else {
        return false;
    };
    if allowed.names.iter().any(|n| n == namespace.name) {
        return true;
    }
    let Some(selector) = allowed.selector.clone() else {
        return false;
    };
    // An invalid selector selects nothing.
    Selector::try_from(selector)
        .is_ok_and(|s| s.matches(namespace.labels.unwrap_or(&BTreeMap::new())))
}

/// The identity's chain of roles: its sources first. Errors say why it cannot be used.
pub fn chain(
    name: &str,
    spec: IAMIdentitySpec,
    identities: &dyn Fn(&str) -> Option<IAMIdentitySpec>,
) -> Result<Chain, String> {
    let mut hops = vec![hop(name, &spec)?];
    let mut next = spec.source_identity_ref.map(|r| r.name);
    while let Some(source) = next {
        if hops.iter().any(|h| h.identity == source) {
            return Err(format!(
                "its sourceIdentityRef chain loops back to {source}"
            ));
        }
        if hops.len() == MAX_CHAIN {
            return Err(format!(
                "its sourceIdentityRef chain is longer than {MAX_CHAIN} identities"
            ));
        }
        let spec = identities(&source)
            .ok_or_else(|| format!("its sourceIdentityRef {source} does not exist"))?;
        hops.insert(0, hop(&source, &spec)?);
        next = spec.source_identity_ref.map(|r| r.name);
    }
    // Every session but the first is assumed from another role's: at most an hour.
    for hop in hops.iter_mut().skip(1) {
        hop.session = hop.session.min(CHAINED_SESSION_MAX);
    }
    Ok(Chain { hops })
}

fn hop(name: &str, spec: &IAMIdentitySpec) -> Result<Hop, String> {
    if super::api::account_of(&spec.role_arn).is_none() {
        return Err(format!(
            "roleArn {:?} is not an IAM role ARN",
            spec.role_arn
        ));
    }
    Ok(Hop {
        identity: name.into(),
        role_arn: spec.role_arn.clone(),
        external_id: spec.external_id.clone(),
        session: session_length(spec.session_duration.as_deref())?,
    })
}

/// `sessionDuration`, within STS's bounds.
pub(crate) fn session_length(value: Option<&str>) -> Result<Duration, String> {
    let Some(value) = value else {
        return Ok(DEFAULT_SESSION);
    };
    let length = crate::api::parse_duration(value).map_err(|e| format!("sessionDuration: {e}"))?;
    let (min, max) = SESSION_RANGE;
    if length < min || length > max {
        return Err(format!(
            "sessionDuration {value} is outside the 15m to 12h that STS allows"
        ));
    }
    Ok(length)
}

#[cfg(test)]
mod tests;
