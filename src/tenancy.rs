//! Tenancy: which IAM users a namespace's resources may mint credentials for.
//!
//! A namespace lists allowed IAM user names in its annotation
//! `iam.ssc-operator.dev/allowed-users` as comma-separated globs (`team-a-*, ci-bot`). Without a
//! match the resource reports `NotPermitted` and no IAM call is made. IAM user names are
//! case-insensitive, so matching is too: `Alice` is the same IAM user as `alice`.

use crate::api::ALLOWED_USERS_ANNOTATION;
use crate::identity::IDENTITY_ANNOTATION;

/// `--policy`: whether the tenancy check runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyMode {
    /// Check every resource against its namespace's allowed-users annotation (the default).
    #[default]
    Enforcing,
    /// No check: any namespace may use any IAM user the operator can reach (single-tenant clusters).
    Permissive,
}

/// Decides whether `user` may be used from a namespace whose allowed-users annotation is
/// `annotation`. The error is a message for the `NotPermitted` condition.
pub(crate) fn check_user(
    mode: PolicyMode,
    namespace: &str,
    annotation: Option<&str>,
    user: &str,
) -> Result<(), NotPermitted> {
    if mode == PolicyMode::Permissive {
        return Ok(());
    }
    let Some(annotation) = annotation.filter(|a| !a.trim().is_empty()) else {
        return Err(NotPermitted::NoUserAllowed {
            namespace: namespace.into(),
        });
    };
    let user = user.to_lowercase();
    let matched = annotation
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .any(|glob| glob_matches(&glob.to_lowercase(), &user));
    if matched {
        Ok(())
    } else {
        Err(NotPermitted::UserNotAllowed {
            user,
            namespace: namespace.into(),
            allowed: annotation.into(),
        })
    }
}

/// Why a namespace may not use an IAM user (reported as `NotPermitted`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotPermitted {
    #[error(
        "namespace {namespace} does not allow any IAM user: annotate it with {ALLOWED_USERS_ANNOTATION}=<comma-separated globs>"
    )]
    NoUserAllowed { namespace: String },
    #[error(
        "IAM user {user} is not allowed in namespace {namespace} (annotation {ALLOWED_USERS_ANNOTATION}: {allowed:?})"
    )]
    UserNotAllowed {
        user: String,
        namespace: String,
        allowed: String,
    },
    #[error(
        "namespace {namespace} may not use the operator's own AWS identity (--ambient-identity): name an IAMIdentity in spec.identityRef, or have the platform team set the namespace's {IDENTITY_ANNOTATION} annotation"
    )]
    NoIdentity { namespace: String },
    // The same words whether the identity exists or not: a tenant learns nothing of the
    // identities that are not its own.
    #[error(
        "IAMIdentity {identity} does not exist or does not allow namespace {namespace} (its spec.allowedNamespaces)"
    )]
    IdentityNotFound { identity: String, namespace: String },
    #[error(
        "IAMIdentity {identity} does not exist or does not allow namespace {namespace} (its spec.allowedNamespaces)"
    )]
    IdentityNotAllowed { identity: String, namespace: String },
    #[error(
        "IAM user {user} is not among the users IAMIdentity {identity} allows (spec.allowedUsers)"
    )]
    UserNotAllowedByIdentity { user: String, identity: String },
    #[error("IAMIdentity {identity} cannot be used: {why}")]
    IdentityUnusable { identity: String, why: String },
}

/// Shell-style glob match (`*`, `?`, `[...]`), case-insensitive as IAM user names are. An
/// invalid glob matches nothing.
pub(crate) fn glob_matches(glob: &str, name: &str) -> bool {
    glob::Pattern::new(&glob.trim().to_lowercase()).is_ok_and(|p| p.matches(&name.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissive_allows_everything() {
        assert!(check_user(PolicyMode::Permissive, "ns", None, "root").is_ok());
    }

    #[test]
    fn enforcing_without_annotation_denies() {
        let err = check_user(PolicyMode::Enforcing, "team-a", None, "alice").unwrap_err();
        assert!(err.to_string().contains(ALLOWED_USERS_ANNOTATION));
        assert!(check_user(PolicyMode::Enforcing, "team-a", Some("  "), "alice").is_err());
    }

    #[test]
    fn globs_match_case_insensitively() {
        let ann = Some("team-a-*, ci-bot");
        assert!(check_user(PolicyMode::Enforcing, "t", ann, "team-a-git").is_ok());
        assert!(check_user(PolicyMode::Enforcing, "t", ann, "TEAM-A-git").is_ok());
        assert!(check_user(PolicyMode::Enforcing, "t", ann, "ci-bot").is_ok());
        assert!(check_user(PolicyMode::Enforcing, "t", ann, "ci-bot2").is_err());
        assert!(check_user(PolicyMode::Enforcing, "t", ann, "team-b-git").is_err());
        assert!(check_user(PolicyMode::Enforcing, "t", Some("["), "x").is_err());
        assert!(check_user(PolicyMode::Enforcing, "t", Some("*"), "anyone").is_ok());
    }
}
