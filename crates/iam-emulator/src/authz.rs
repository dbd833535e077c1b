//! Authorization of IAM requests under `--enforce`: what a request is (action, resource ARN, condition keys),
//! whose policies apply, and IAM's `AccessDenied` when they do not allow it.
//!
//! Building the request context is pure (state in, context out); [`decide`] gathers the principal's policies.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::accounts::Account;
use crate::clock::iso8601;
use crate::error::ApiError;
use crate::policy::{
    self, Decision, DocumentKind, PolicyDocument, PolicySet, PrincipalRef, RequestContext,
};
use crate::principal::{Principal, merged_tags};
use crate::protocol::Params;
use crate::service::Action;
use crate::service::identity::managed_document;
use crate::store::State;

/// The region AWS evaluates IAM requests in (`aws:RequestedRegion`).
pub const IAM_REGION: &str = "us-east-1";

/// Tags of a request put into its condition context at most (IAM accepts 50).
const MAX_CONTEXT_TAGS: usize = 51;

/// Condition keys of a request: lower-cased names, each with one or more values.
pub type Keys = BTreeMap<String, Vec<String>>;

fn put(keys: &mut Keys, name: &str, value: impl Into<String>) {
    keys.entry(name.to_ascii_lowercase())
        .or_default()
        .push(value.into());
}

/// Who is calling, as the request reached the emulator.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The SigV4 scope's region (`aws:RequestedRegion`); `None` when SigV4 is off.
    pub region: Option<String>,
}

/// The path of a user or role the principal is, for its ARN in messages and `aws:PrincipalArn`.
pub fn principal_path(s: &State, p: &Principal) -> String {
    match p {
        Principal::User { name, .. } => s.user(name).map_or_else(|| "/".into(), |u| u.path.clone()),
        _ => "/".into(),
    }
}

/// The global condition keys of the caller (`aws:Principal*`, `aws:userid`, `aws:username`, `aws:SourceIdentity`,
/// `aws:RequestedRegion`, time, transport).
pub fn principal_keys(s: &State, caller: &Caller, now: i64) -> Keys {
    let mut k = Keys::new();
    let p = &caller.principal;
    let path = principal_path(s, p);
    put(&mut k, "aws:PrincipalArn", p.principal_arn(&path));
    put(&mut k, "aws:PrincipalAccount", p.account());
    put(&mut k, "aws:PrincipalType", p.principal_type());
    put(&mut k, "aws:CurrentTime", iso8601(now));
    put(&mut k, "aws:EpochTime", now.to_string());
    // AWS's endpoints are HTTPS only: a policy meant for them sees a secure transport here too.
    put(&mut k, "aws:SecureTransport", "true");
    if let Some(r) = &caller.region {
        put(&mut k, "aws:RequestedRegion", r);
    }
    let tags: Vec<(String, String)> = match p {
        Principal::User { name, .. } => {
            if let Some(u) = s.user(name) {
                put(&mut k, "aws:userid", &u.id);
                put(&mut k, "aws:username", &u.name);
                u.tags.clone()
            } else {
                Vec::new()
            }
        }
        Principal::AssumedRole(session) => {
            // Present for temporary credentials only; no session here was made with MFA.
            put(&mut k, "aws:MultiFactorAuthPresent", "false");
            put(
                &mut k,
                "aws:userid",
                format!("{}:{}", session.role_id, session.session_name),
            );
            if let Some(si) = &session.source_identity {
                put(&mut k, "aws:SourceIdentity", si);
            }
            let role_tags = s
                .role(&session.role_name)
                .map(|r| r.tags.clone())
                .unwrap_or_default();
            merged_tags(&role_tags, &session.tags)
        }
        Principal::Root { account } => {
            put(&mut k, "aws:userid", account);
            Vec::new()
        }
        Principal::Anonymous { .. } => Vec::new(),
    };
    for (key, value) in tags {
        put(&mut k, &format!("aws:PrincipalTag/{key}"), value);
    }
    k
}

/// The resource and action-specific keys of an IAM request: resource ARN (the target user or role with its path,
/// a path for lists, a policy ARN), `aws:ResourceTag/*`, `aws:RequestTag/*`, `aws:TagKeys`, and for
/// `CreateServiceSpecificCredential` the two `iam:ServiceSpecificCredential*` keys.
pub fn request_of(
    s: &State,
    action: Action,
    p: &Params,
    caller_user: Option<&str>,
) -> (String, Keys) {
    let account = &s.account_id;
    let mut keys = Keys::new();
    // Only a Create names the path of what does not exist yet; for anything else a missing target is named
    // with the root path, whatever `Path` the request carries (it must not choose the ARN policies see).
    let new_path = |create: bool| {
        if create {
            p.get("Path").unwrap_or("/").to_string()
        } else {
            "/".to_string()
        }
    };
    // A target's tags (`aws:ResourceTag/*`, and IAM's own `iam:ResourceTag/*`) and its current boundary
    // (`iam:PermissionsBoundary`, unless the request names one).
    let target_keys = |tags: &[(String, String)], boundary: &Option<String>, keys: &mut Keys| {
        for (k, v) in tags {
            put(keys, &format!("aws:ResourceTag/{k}"), v);
            put(keys, &format!("iam:ResourceTag/{k}"), v);
        }
        if let (Some(b), None) = (boundary, p.get("PermissionsBoundary")) {
            put(keys, "iam:PermissionsBoundary", b);
        }
    };
    let user_resource = |name: &str, keys: &mut Keys| {
        let (path, canonical) = match s.user(name) {
            Some(u) => {
                target_keys(&u.tags, &u.permissions_boundary, keys);
                (u.path.clone(), u.name.clone())
            }
            None => (new_path(action == Action::CreateUser), name.to_string()),
        };
        format!("arn:aws:iam::{account}:user{path}{canonical}")
    };
    let role_resource = |name: &str, keys: &mut Keys| {
        let (path, canonical) = match s.role(name) {
            Some(r) => {
                target_keys(&r.tags, &r.permissions_boundary, keys);
                (r.path.clone(), r.name.clone())
            }
            None => (new_path(action == Action::CreateRole), name.to_string()),
        };
        format!("arn:aws:iam::{account}:role{path}{canonical}")
    };
    // At most one more than IAM accepts: a longer list is refused by validation anyway, and must not make
    // the context (and every lookup in it) as large as the body.
    for tag in p.member_list("Tags").into_iter().take(MAX_CONTEXT_TAGS) {
        let field = |f: &str| tag.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone());
        if let Some(key) = field("Key") {
            put(
                &mut keys,
                &format!("aws:RequestTag/{key}"),
                field("Value").unwrap_or_default(),
            );
            put(&mut keys, "aws:TagKeys", key);
        }
    }
    for entry in p.member_list("TagKeys").into_iter().take(MAX_CONTEXT_TAGS) {
        for (_, key) in entry {
            put(&mut keys, "aws:TagKeys", key);
        }
    }
    if let Some(b) = p.get("PermissionsBoundary") {
        put(&mut keys, "iam:PermissionsBoundary", b);
    }
    if let Some(arn) = p.get("PolicyArn") {
        put(&mut keys, "iam:PolicyARN", arn);
    }
    use Action as A;
    let resource = match action {
        A::ListUsers => format!(
            "arn:aws:iam::{account}:user{}",
            p.get("PathPrefix").unwrap_or("/")
        ),
        A::ListRoles => format!(
            "arn:aws:iam::{account}:role{}",
            p.get("PathPrefix").unwrap_or("/")
        ),
        A::CreatePolicy => format!(
            "arn:aws:iam::{account}:policy{}{}",
            p.get("Path").unwrap_or("/"),
            p.get("PolicyName").unwrap_or_default()
        ),
        A::GetPolicy | A::DeletePolicy => p.get("PolicyArn").unwrap_or_default().to_string(),
        A::CreateRole
        | A::GetRole
        | A::DeleteRole
        | A::PutRolePolicy
        | A::GetRolePolicy
        | A::DeleteRolePolicy
        | A::ListRolePolicies
        | A::AttachRolePolicy
        | A::DetachRolePolicy
        | A::PutRolePermissionsBoundary
        | A::DeleteRolePermissionsBoundary
        | A::TagRole
        | A::UntagRole => role_resource(p.get("RoleName").unwrap_or_default(), &mut keys),
        A::ListServiceSpecificCredentials
            if p.get("AllUsers")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")) =>
        {
            format!("arn:aws:iam::{account}:user/*")
        }
        _ => {
            let name = p.get("UserName").or(caller_user).unwrap_or_default();
            user_resource(name, &mut keys)
        }
    };
    // Reset, Update and Delete carry the service of the credential they act on (the Service Authorization
    // Reference, and stackd's probes: iam-api.md §19.3); never an age.
    if matches!(
        action,
        A::ResetServiceSpecificCredential
            | A::UpdateServiceSpecificCredential
            | A::DeleteServiceSpecificCredential
    ) {
        let owner = State::user_key(p.get("UserName").or(caller_user).unwrap_or_default());
        if let Some(c) = p
            .get("ServiceSpecificCredentialId")
            .and_then(|id| s.credentials.get(id))
            .filter(|c| c.user_key == owner)
        {
            put(
                &mut keys,
                "iam:ServiceSpecificCredentialServiceName",
                &c.service_name,
            );
        }
    }
    if action == A::CreateServiceSpecificCredential {
        // The name IAM stores, whatever case was sent: a Deny on the lower-case name must meet every spelling.
        if let Some(service) = p.get("ServiceName") {
            put(
                &mut keys,
                "iam:ServiceSpecificCredentialServiceName",
                crate::catalog::canonical(service),
            );
        }
        if let Some(days) = p.get("CredentialAgeDays") {
            put(
                &mut keys,
                "iam:ServiceSpecificCredentialAgeDays",
                days.trim(),
            );
        }
    }
    (resource, keys)
}

/// Parsed policy documents by their text, so that a request does not parse its caller's policies again (a
/// stored document may be 128 KiB of mostly white space). Bounded: emptied when its texts reach
/// [`DocumentCache::CAPACITY_BYTES`].
#[derive(Default)]
pub struct DocumentCache {
    parsed: Mutex<(HashMap<String, Arc<PolicyDocument>>, usize)>,
}

impl DocumentCache {
    const CAPACITY_BYTES: usize = 16 << 20;

    /// The identity-policy document `text`, parsed once; `None` when it is not one.
    fn parsed(&self, text: &str) -> Option<Arc<PolicyDocument>> {
        let mut guard = self.parsed.lock().unwrap_or_else(|p| p.into_inner());
        let (parsed, bytes) = &mut *guard;
        if let Some(doc) = parsed.get(text) {
            return Some(Arc::clone(doc));
        }
        let doc = Arc::new(policy::parse(text, DocumentKind::Identity).ok()?);
        if *bytes + text.len() > Self::CAPACITY_BYTES {
            parsed.clear();
            *bytes = 0;
        }
        *bytes += text.len();
        parsed.insert(text.to_string(), Arc::clone(&doc));
        Some(doc)
    }
}

/// A policy that allows no action (an unreadable boundary's stand-in).
const ALLOWS_NOTHING: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;

/// The identity policies and boundary of a principal, as documents.
fn documents_of(
    docs: &DocumentCache,
    s: &State,
    p: &Principal,
) -> (Vec<Arc<PolicyDocument>>, Option<Arc<PolicyDocument>>) {
    let (inline, attached, boundary) = match p {
        Principal::User { name, .. } => match s.user(name) {
            Some(u) => (
                &u.inline_policies,
                &u.attached_policies,
                &u.permissions_boundary,
            ),
            None => return (Vec::new(), None),
        },
        Principal::AssumedRole(session) => match s.role(&session.role_name) {
            Some(r) => (
                &r.inline_policies,
                &r.attached_policies,
                &r.permissions_boundary,
            ),
            None => return (Vec::new(), None),
        },
        Principal::Root { .. } | Principal::Anonymous { .. } => return (Vec::new(), None),
    };
    let parse = |text: &str| docs.parsed(text);
    let identity = inline
        .values()
        .filter_map(|d| parse(d))
        .chain(
            attached
                .iter()
                .filter_map(|arn| managed_document(s, arn))
                .filter_map(|d| parse(&d)),
        )
        .collect();
    // A boundary that cannot be found or read allows nothing: it must never lift the limit it stands for.
    let boundary = boundary.as_deref().map(|arn| {
        managed_document(s, arn)
            .and_then(|d| parse(&d))
            .unwrap_or_else(|| parse(ALLOWS_NOTHING).expect("a valid policy"))
    });
    (identity, boundary)
}

/// IAM's evaluation for `action` on `resource` by the account's own principal `caller`.
pub fn decide(
    account: &Account,
    s: &State,
    caller: &Caller,
    action: &str,
    resource: &str,
    keys: Keys,
) -> Decision {
    let (identity, boundary) = documents_of(&account.documents, s, &caller.principal);
    let set = PolicySet {
        identity: identity.iter().map(|d| d.as_ref()).collect(),
        boundary: boundary.as_deref(),
        guardrail: account.guardrail.as_ref(),
        root: matches!(caller.principal, Principal::Root { .. }),
    };
    let path = principal_path(s, &caller.principal);
    let ctx = RequestContext {
        action: action.to_string(),
        resource: resource.to_string(),
        principal: Some(PrincipalRef {
            arns: vec![
                caller.principal.arn(&path),
                caller.principal.principal_arn(&path),
            ],
            account: caller.principal.account().to_string(),
        }),
        keys,
    };
    policy::decide(&set, &ctx)
}

/// How IAM names a resource in `AccessDenied`: one user as `user NAME` (as live IAM answers, iam-api.md §18),
/// anything else by its ARN.
pub fn resource_text(resource: &str) -> String {
    let user = resource
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.split_once(":user/"))
        .map(|(_, path_and_name)| path_and_name.rsplit('/').next().unwrap_or_default());
    match user {
        Some(name) if !name.is_empty() && !name.contains('*') => format!("user {name}"),
        _ => resource.to_string(),
    }
}

/// `403 AccessDenied` in IAM's words: who, what, on which resource, and which kind of policy refused.
pub fn access_denied(
    s: &State,
    caller: &Caller,
    action: &str,
    resource: &str,
    decision: Decision,
) -> ApiError {
    let who = caller.principal.arn(&principal_path(s, &caller.principal));
    ApiError::new(
        403,
        "AccessDenied",
        format!(
            "User: {who} is not authorized to perform: {action} on resource: {} {}",
            resource_text(resource),
            decision.message_suffix(action)
        ),
    )
}

/// Authorizes an IAM request in the caller's account: `Ok` unless the account enforces and the policies refuse.
pub fn authorize(
    account: &Account,
    caller: &Caller,
    action: Action,
    p: &Params,
    now: i64,
) -> Result<(), ApiError> {
    if !account.enforce {
        return Ok(());
    }
    account.service.store.read(|s| {
        let (resource, mut keys) = request_of(s, action, p, caller.principal.user_name());
        for (k, v) in principal_keys(s, caller, now) {
            keys.entry(k).or_default().extend(v);
        }
        // IAM is a global service whose endpoint is in us-east-1: AWS evaluates every IAM request there,
        // whatever region the client signed for (iam-api.md §19.1).
        if let Some(region) = keys.get_mut("aws:requestedregion") {
            *region = vec![IAM_REGION.to_string()];
        }
        let iam_action = format!("iam:{}", action.name());
        match decide(account, s, caller, &iam_action, &resource, keys) {
            Decision::Allow => Ok(()),
            denied => Err(access_denied(s, caller, &iam_action, &resource, denied)),
        }
    })
}

#[cfg(test)]
mod tests;
