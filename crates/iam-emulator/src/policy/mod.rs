//! IAM policy documents and their evaluation, following AWS's documented semantics ("IAM JSON
//! policy element reference", "Policy evaluation logic").
//!
//! - [`parse`]: JSON text → [`PolicyDocument`], refusing what IAM refuses with IAM's
//!   `MalformedPolicyDocument` message ([`PolicyError`]).
//! - [`evaluate`]: one document's [`Match`] for a [`RequestContext`]; [`trust_allows`] also says
//!   whether a trust policy named the caller or only its account.
//! - [`decide`]: the decision for a principal's [`PolicySet`] (guardrail, identity policies,
//!   permissions boundary), with AWS's reason for a refusal.
//! - [`MANAGED_POLICY_MAX`] and the other quotas: IAM's size limits, which the caller checks.
//!
//! ```
//! use iam_emulator::policy::{self, DocumentKind, Match, RequestContext};
//! let doc = policy::parse(
//!     r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
//!         "Action":"iam:*ServiceSpecificCredential*","Resource":"arn:aws:iam::123456789012:user/*"}}"#,
//!     DocumentKind::Identity,
//! )?;
//! let ctx = RequestContext::new("iam:ListServiceSpecificCredentials", "arn:aws:iam::123456789012:user/alice");
//! assert_eq!(policy::evaluate(&doc, &ctx), Match::Allow);
//! # Ok::<(), policy::PolicyError>(())
//! ```

mod condition;
mod context;
mod decide;
mod document;
mod error;
mod evaluate;
mod limits;
mod matching;
mod principal;
mod values;

#[cfg(test)]
mod tests;

pub use context::{ContextKeys, PrincipalRef, RequestContext};
pub use decide::{Decision, PolicySet, PolicyType, decide};
pub use document::{DocumentKind, Effect, PolicyDocument, Statement, Version, parse, parse_value};
pub use error::PolicyError;
pub use evaluate::{Match, TrustMatch, evaluate, trust_allows};
pub use limits::{
    GROUP_INLINE_MAX, MANAGED_POLICY_MAX, ROLE_INLINE_MAX, TRUST_POLICY_MAX, USER_INLINE_MAX,
};
