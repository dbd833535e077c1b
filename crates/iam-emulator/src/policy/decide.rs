//! The whole decision for one principal's request, as AWS's policy evaluation flow chart has it for
//! a request within one account without resource-based policies: explicit denies first, then a
//! guardrail (SCP-like), identity policies and a permissions boundary must each allow.

use super::context::RequestContext;
use super::document::PolicyDocument;
use super::evaluate::{Match, evaluate};

/// The policies that apply to one principal.
#[derive(Debug, Clone, Default)]
pub struct PolicySet<'a> {
    /// Identity policies: inline and attached, also those of the user's groups.
    pub identity: Vec<&'a PolicyDocument>,
    /// The principal's permissions boundary, if it has one.
    pub boundary: Option<&'a PolicyDocument>,
    /// A guardrail above the account, like a service control policy: it must allow too.
    pub guardrail: Option<&'a PolicyDocument>,
    /// The account's root user: needs no identity policy and has no boundary; the guardrail applies.
    pub root: bool,
}

/// Which kind of policy refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    /// The guardrail (reported as a service control policy).
    Guardrail,
    /// A permissions boundary.
    Boundary,
    /// An identity-based policy.
    Identity,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// A statement of this kind of policy denies.
    ExplicitDeny(PolicyType),
    /// This kind of policy does not allow.
    ImplicitDeny(PolicyType),
}

impl Decision {
    /// Whether the request is allowed.
    #[must_use]
    pub fn is_allowed(self) -> bool {
        self == Self::Allow
    }

    /// The end of AWS's `AccessDenied` message ("User: … is not authorized to perform: ACTION on
    /// resource: … <suffix>"), e.g. `because no identity-based policy allows the ACTION action`;
    /// empty when allowed.
    #[must_use]
    pub fn message_suffix(&self, action: &str) -> String {
        let kind = |kind: PolicyType| match kind {
            PolicyType::Guardrail => ("a", "service control policy"),
            PolicyType::Boundary => ("a", "permissions boundary"),
            PolicyType::Identity => ("an", "identity-based policy"),
        };
        match *self {
            Self::Allow => String::new(),
            Self::ExplicitDeny(k) => {
                let (article, name) = kind(k);
                format!("with an explicit deny in {article} {name}")
            }
            Self::ImplicitDeny(k) => {
                format!("because no {} allows the {action} action", kind(k).1)
            }
        }
    }
}

/// Decides `ctx` for the principal whose policies are `set`.
///
/// An explicit deny anywhere wins, reported in the flow chart's order: guardrail, identity,
/// boundary. Then the guardrail must allow, then (except for root) an identity policy, then the
/// boundary if there is one.
#[must_use]
pub fn decide(set: &PolicySet<'_>, ctx: &RequestContext) -> Decision {
    let guardrail = set.guardrail.map(|doc| evaluate(doc, ctx));
    let (identity, boundary) = if set.root {
        (Match::Allow, None)
    } else {
        let identity = set.identity.iter().map(|doc| evaluate(doc, ctx)).fold(
            Match::NotApplicable,
            |acc, m| match (acc, m) {
                (Match::Deny, _) | (_, Match::Deny) => Match::Deny,
                (Match::Allow, _) | (_, Match::Allow) => Match::Allow,
                _ => Match::NotApplicable,
            },
        );
        (identity, set.boundary.map(|doc| evaluate(doc, ctx)))
    };
    let checks = [
        (PolicyType::Guardrail, guardrail),
        (PolicyType::Identity, Some(identity)),
        (PolicyType::Boundary, boundary),
    ];
    if let Some((kind, _)) = checks.iter().find(|(_, m)| *m == Some(Match::Deny)) {
        return Decision::ExplicitDeny(*kind);
    }
    match checks
        .iter()
        .find(|(_, m)| matches!(m, Some(Match::NotApplicable)))
    {
        Some((kind, _)) => Decision::ImplicitDeny(*kind),
        None => Decision::Allow,
    }
}
