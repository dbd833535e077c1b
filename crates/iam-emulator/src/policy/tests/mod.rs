//! Tests of the policy module, one file per concern.

mod conditions;
mod documents;
mod flow;
mod properties;

use super::{DocumentKind, Match, PolicyDocument, RequestContext, evaluate, parse};

/// The account of the examples.
pub(super) const ACCOUNT: &str = "123456789012";

/// `arn:aws:iam::123456789012:user/{name}`.
pub(super) fn user(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

/// Parses an identity policy, panicking with IAM's message if it is refused.
pub(super) fn identity(text: &str) -> PolicyDocument {
    parse(text, DocumentKind::Identity).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A one-statement identity policy (`2012-10-17`) from the statement's JSON.
pub(super) fn statement(json: &str) -> PolicyDocument {
    identity(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{json}]}}"#
    ))
}

/// An Allow of `iam:*` on `*` under `condition` (JSON of the Condition element).
pub(super) fn allow_if(condition: &str) -> PolicyDocument {
    statement(&format!(
        r#"{{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{condition}}}"#
    ))
}

/// `iam:GetUser` on alice with the given condition keys (each pair adds one value).
pub(super) fn request(keys: &[(&str, &str)]) -> RequestContext {
    keys.iter().fold(
        RequestContext::new("iam:GetUser", user("alice")),
        |ctx, (k, v)| ctx.with_key(k, *v),
    )
}

/// Whether `allow_if(condition)` allows a request with `keys`.
pub(super) fn holds(condition: &str, keys: &[(&str, &str)]) -> bool {
    evaluate(&allow_if(condition), &request(keys)) == Match::Allow
}
