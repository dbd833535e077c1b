//! Validation of STS `AssumeRole` (`GetCallerIdentity` takes nothing).

use super::{Checker, Str, tag_list, unique_tag_keys};
use crate::error::ApiError;
use crate::protocol::Params;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleInput {
    pub role_arn: String,
    pub session_name: String,
    pub duration: Option<i64>,
    pub external_id: Option<String>,
    pub source_identity: Option<String>,
    pub tags: Vec<(String, String)>,
    /// A session policy (`Policy` or `PolicyArns`) was passed.
    pub session_policy: bool,
    /// `TransitiveTagKeys` were passed.
    pub transitive_tags: bool,
}

/// `[\w+=,.@-]*` as STS writes it for session names and source identities.
fn sts_name(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// `[\w+=,.@:\/-]*` for external ids.
fn external_id(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c))
}

pub fn assume_role(p: &Params) -> Result<AssumeRoleInput, ApiError> {
    let mut c = Checker::new(p).echoing();
    let duration = c.int("DurationSeconds", "durationSeconds", 900, 43_200);
    let role_arn = c.string(
        "RoleArn",
        "roleArn",
        &Str {
            required: true,
            min: 20,
            max: 2048,
            pattern: None,
        },
    );
    let session_name = c.string(
        "RoleSessionName",
        "roleSessionName",
        &Str {
            required: true,
            min: 2,
            max: 64,
            pattern: None,
        },
    );
    if let Some(n) = &session_name
        && !sts_name(n)
    {
        c.violation_of(
            "roleSessionName",
            n,
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        );
    }
    let external = c.string(
        "ExternalId",
        "externalId",
        &Str {
            required: false,
            min: 2,
            max: 1224,
            pattern: None,
        },
    );
    if let Some(e) = &external
        && !external_id(e)
    {
        c.violation_of(
            "externalId",
            e,
            "Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*",
        );
    }
    let source_identity = c.string(
        "SourceIdentity",
        "sourceIdentity",
        &Str {
            required: false,
            min: 2,
            max: 64,
            pattern: None,
        },
    );
    if let Some(s) = &source_identity
        && !sts_name(s)
    {
        c.violation_of(
            "sourceIdentity",
            s,
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        );
    }
    let tags = tag_list(&mut c, p, "Tags", "tags");
    c.finish()?;
    unique_tag_keys(&tags)?;
    let session_policy = p.get("Policy").is_some() || !p.member_list("PolicyArns").is_empty();
    Ok(AssumeRoleInput {
        role_arn: role_arn.unwrap_or_default(),
        session_name: session_name.unwrap_or_default(),
        duration,
        external_id: external,
        source_identity,
        tags,
        session_policy,
        transitive_tags: !p.member_list("TransitiveTagKeys").is_empty(),
    })
}
