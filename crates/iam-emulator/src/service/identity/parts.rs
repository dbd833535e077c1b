//! Finding the parts of a user or role an operation changes, and the errors when they are missing.

use crate::error::ApiError;
use crate::store::State;
use crate::validate::identity::Owner;

pub(super) fn no_such_role(name: &str) -> ApiError {
    ApiError::new(
        404,
        "NoSuchEntity",
        format!("The role with name {name} cannot be found."),
    )
}

pub(in crate::service) fn no_such_policy(arn: &str) -> ApiError {
    ApiError::new(
        404,
        "NoSuchEntity",
        format!("Policy {arn} does not exist or is not attachable."),
    )
}

/// IAM refuses to delete a user or role that still has inline or attached policies.
pub(in crate::service) fn deletable(inline: &Inline, attached: &[String]) -> Result<(), ApiError> {
    if !inline.is_empty() {
        return Err(ApiError::must_first("delete policies"));
    }
    if !attached.is_empty() {
        return Err(ApiError::must_first("detach all policies"));
    }
    Ok(())
}

pub(super) fn no_such_inline(owner: Owner, name: &str) -> ApiError {
    let kind = match owner {
        Owner::User => "user",
        Owner::Role => "role",
    };
    ApiError::new(
        404,
        "NoSuchEntity",
        format!("The {kind} policy with name {name} cannot be found."),
    )
}

pub(super) type Inline = std::collections::BTreeMap<String, String>;

pub(super) fn inline_policies_of<'s>(
    s: &'s State,
    owner: Owner,
    name: &str,
) -> Result<(&'s str, &'s Inline), ApiError> {
    match owner {
        Owner::User => s
            .user(name)
            .map(|u| (u.name.as_str(), &u.inline_policies))
            .ok_or_else(|| ApiError::no_such_user(name)),
        Owner::Role => s
            .role(name)
            .map(|r| (r.name.as_str(), &r.inline_policies))
            .ok_or_else(|| no_such_role(name)),
    }
}

/// The parts of a user or role the operations change, found by name (404 in IAM's words when missing).
pub(super) struct Parts<'s> {
    pub(super) inline: &'s mut Inline,
    pub(super) attached: &'s mut Vec<String>,
    pub(super) boundary: &'s mut Option<String>,
    pub(super) tags: &'s mut Vec<(String, String)>,
}

pub(super) fn parts_mut<'s>(
    s: &'s mut State,
    owner: Owner,
    name: &str,
) -> Result<Parts<'s>, ApiError> {
    let key = State::user_key(name);
    match owner {
        Owner::User => s
            .users
            .get_mut(&key)
            .map(|u| Parts {
                inline: &mut u.inline_policies,
                attached: &mut u.attached_policies,
                boundary: &mut u.permissions_boundary,
                tags: &mut u.tags,
            })
            .ok_or_else(|| ApiError::no_such_user(name)),
        Owner::Role => s
            .roles
            .get_mut(&key)
            .map(|r| Parts {
                inline: &mut r.inline_policies,
                attached: &mut r.attached_policies,
                boundary: &mut r.permissions_boundary,
                tags: &mut r.tags,
            })
            .ok_or_else(|| no_such_role(name)),
    }
}
