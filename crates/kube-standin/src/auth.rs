//! Authentication (bearer tokens, anonymous), impersonation and RBAC-style authorization.

use axum::http::HeaderMap;
use k8s_openapi::api::rbac::v1::PolicyRule;

use super::TokenUser;
use super::status::{ApiError, GroupResource, go_quote};

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub name: String,
    /// `None` = unrestricted (system:masters).
    pub rules: Option<Vec<PolicyRule>>,
    /// `Some(ns)`: the rules apply in this namespace only (a RoleBinding).
    pub namespace: Option<String>,
}

impl User {
    pub(crate) fn is_anonymous(&self) -> bool {
        self.name == "system:anonymous"
    }
}

/// Request attributes as the authorizer sees them.
pub(crate) struct Attributes<'a> {
    pub verb: &'a str,
    pub resource_request: bool,
    pub path: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

pub(crate) fn authenticate(tokens: &[TokenUser], headers: &HeaderMap) -> Result<User, ApiError> {
    let Some(auth) = headers.get("authorization") else {
        return Ok(User {
            name: "system:anonymous".into(),
            rules: Some(Vec::new()),
            namespace: None,
        });
    };
    let auth = auth.to_str().map_err(|_| ApiError::unauthorized())?;
    let token = auth
        .strip_prefix("Bearer ")
        .ok_or_else(ApiError::unauthorized)?
        .trim();
    let t = tokens
        .iter()
        .find(|t| t.token == token)
        .ok_or_else(ApiError::unauthorized)?;
    Ok(User {
        name: t.user.clone(),
        rules: t.rules.clone(),
        namespace: t.namespace.clone(),
    })
}

/// Applies `Impersonate-User` / `Impersonate-Group`.
pub(crate) fn impersonate(
    tokens: &[TokenUser],
    user: User,
    headers: &HeaderMap,
) -> Result<User, ApiError> {
    let Some(target) = headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
    else {
        if headers.contains_key("impersonate-group") {
            return Err(ApiError::internal(
                "requested [{Group  }] without impersonating a user",
            ));
        }
        return Ok(user);
    };
    if user.rules.is_some() {
        return Err(ApiError::forbidden(
            &GroupResource::new("", "users"),
            target,
            &format!(
                "User {} cannot impersonate resource \"users\" in API group \"\" at the cluster scope",
                go_quote(&user.name)
            ),
        ));
    }
    let token = tokens.iter().find(|t| t.user == target);
    let rules = token
        .map(|t| t.rules.clone().unwrap_or_default())
        .or(Some(Vec::new()));
    Ok(User {
        name: target.to_string(),
        rules,
        namespace: token.and_then(|t| t.namespace.clone()),
    })
}

fn rule_allows(rule: &PolicyRule, a: &Attributes<'_>) -> bool {
    let verb_ok = rule.verbs.iter().any(|v| v == "*" || v == a.verb);
    if !verb_ok {
        return false;
    }
    if !a.resource_request {
        return rule.non_resource_urls.as_ref().is_some_and(|u| {
            u.iter().any(|u| {
                u == "*"
                    || u == a.path
                    || (u.ends_with('*') && a.path.starts_with(&u[..u.len() - 1]))
            })
        });
    }
    let groups_ok = rule
        .api_groups
        .as_ref()
        .is_some_and(|g| g.iter().any(|g| g == "*" || g == a.group));
    let combined = if a.subresource.is_empty() {
        a.resource.to_string()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let res_ok = rule.resources.as_ref().is_some_and(|rs| {
        rs.iter().any(|r| {
            r == "*"
                || *r == combined
                || (!a.subresource.is_empty()
                    && r.len() == a.subresource.len() + 2
                    && r.starts_with("*/")
                    && r.ends_with(a.subresource))
        })
    });
    let names_ok = match &rule.resource_names {
        Some(n) if !n.is_empty() => n.iter().any(|n| n == a.name),
        _ => true,
    };
    groups_ok && res_ok && names_ok
}

/// Whether `user` may perform the request.
pub(crate) fn authorize(user: &User, a: &Attributes<'_>) -> bool {
    let Some(rules) = &user.rules else {
        return true;
    };
    if !a.resource_request {
        // system:public-info-viewer (everyone) and system:discovery (authenticated users)
        let public = matches!(
            a.path,
            "/version" | "/version/" | "/healthz" | "/livez" | "/readyz"
        );
        let discovery = a.path == "/api"
            || a.path == "/apis"
            || a.path.starts_with("/api/")
            || a.path.starts_with("/apis/")
            || a.path == "/openapi/v2";
        if public || (discovery && !user.is_anonymous()) {
            return true;
        }
    }
    let bound_here = user
        .namespace
        .as_deref()
        .is_none_or(|ns| a.resource_request && a.namespace == ns);
    bound_here && rules.iter().any(|r| rule_allows(r, a))
}

/// The 403 body for a denied request.
pub(crate) fn forbidden(user: &User, a: &Attributes<'_>) -> ApiError {
    if !a.resource_request {
        return ApiError::forbidden(
            &GroupResource::new("", ""),
            "",
            &format!(
                "User {} cannot {} path {}",
                go_quote(&user.name),
                a.verb,
                go_quote(a.path)
            ),
        );
    }
    let resource = if a.subresource.is_empty() {
        a.resource.to_string()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace {}", go_quote(a.namespace))
    };
    let msg = format!(
        "User {} cannot {} resource {} in API group {} {scope}",
        go_quote(&user.name),
        a.verb,
        go_quote(&resource),
        go_quote(a.group)
    );
    ApiError::forbidden(&GroupResource::new(a.group, a.resource), a.name, &msg)
}
