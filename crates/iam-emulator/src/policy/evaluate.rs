//! One document's verdict for a request: its statements, and for trust policies how the caller matched.

use super::context::RequestContext;
use super::document::{DocumentKind, Effect, Patterns, PolicyDocument, Statement, Version};
use super::matching::{action_matches, arn_matches};
use super::principal::PrincipalHit;

/// What one document says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// An applicable `Allow` statement and no applicable `Deny`.
    Allow,
    /// An applicable `Deny` statement (whatever else allows).
    Deny,
    /// No statement applies.
    NotApplicable,
}

/// A trust policy's verdict on a caller (AWS: a trust policy naming the caller's account only
/// delegates to that account, whose identity policies must then allow `sts:AssumeRole` too; one
/// naming the caller's own ARN in the same account grants it on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustMatch {
    /// An applicable `Deny` statement.
    Denied,
    /// No `Allow` statement applies.
    NotAllowed,
    /// Allowed through the caller's account, `"*"`, or `NotPrincipal`: the caller's identity
    /// policies must also allow the action.
    AllowedByAccount,
    /// Allowed by the caller's own ARN (user, role of the session, session), service or provider.
    AllowedByPrincipal,
}

/// Evaluates `doc` for `ctx`: `Deny` if any applicable statement denies, else `Allow` if any
/// allows, else `NotApplicable`.
#[must_use]
pub fn evaluate(doc: &PolicyDocument, ctx: &RequestContext) -> Match {
    match trust_allows(doc, ctx) {
        TrustMatch::Denied => Match::Deny,
        TrustMatch::NotAllowed => Match::NotApplicable,
        TrustMatch::AllowedByAccount | TrustMatch::AllowedByPrincipal => Match::Allow,
    }
}

/// Evaluates a trust policy for `ctx` (its action, principal and keys; the resource is ignored),
/// saying how the caller was allowed. For an identity document every `Allow` counts as
/// [`TrustMatch::AllowedByPrincipal`].
#[must_use]
pub fn trust_allows(doc: &PolicyDocument, ctx: &RequestContext) -> TrustMatch {
    let mut best: Option<PrincipalHit> = None;
    for statement in &doc.statements {
        let Some(hit) = applies(statement, doc, ctx) else {
            continue;
        };
        match statement.effect {
            Effect::Deny => return TrustMatch::Denied,
            Effect::Allow => best = best.max(Some(hit)),
        }
    }
    match best {
        None => TrustMatch::NotAllowed,
        Some(PrincipalHit::Account) => TrustMatch::AllowedByAccount,
        Some(PrincipalHit::Named) => TrustMatch::AllowedByPrincipal,
    }
}

/// Whether `statement` applies to `ctx`, and if so how its principal matched ([`PrincipalHit::Named`]
/// in an identity policy, which has none).
fn applies(
    statement: &Statement,
    doc: &PolicyDocument,
    ctx: &RequestContext,
) -> Option<PrincipalHit> {
    let hit = match &statement.principal {
        None => PrincipalHit::Named,
        Some((spec, false)) => spec.hit(ctx.principal.as_ref())?,
        Some((spec, true)) if spec.spares(ctx.principal.as_ref()) => return None,
        Some((_, true)) => PrincipalHit::Account,
    };
    if !list_matches(&statement.actions, |p| action_matches(p, &ctx.action)) {
        return None;
    }
    let vars = (doc.version == Version::V2012_10_17).then_some(&ctx.keys);
    if doc.kind == DocumentKind::Identity
        && let Some(resources) = &statement.resources
        && !list_matches(resources, |p| arn_matches(p, &ctx.resource, vars))
    {
        return None;
    }
    statement
        .condition
        .holds(&ctx.keys, vars.is_some())
        .then_some(hit)
}

/// Whether a positive list has a match, or a negated list has none.
fn list_matches(patterns: &Patterns, matches: impl Fn(&str) -> bool) -> bool {
    match patterns {
        Patterns::Only(list) => list.iter().any(|p| matches(p)),
        Patterns::Except(list) => !list.iter().any(|p| matches(p)),
    }
}
