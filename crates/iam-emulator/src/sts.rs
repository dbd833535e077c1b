//! STS on the IAM listener: `AssumeRole` (trust policy, external id, session tags, source identity, duration and
//! role-chaining limits) and `GetCallerIdentity`. Session credentials are kept by [`Accounts`].

use crate::accounts::{Account, Accounts};
use crate::authz::{self, Caller, Keys, principal_keys};
use crate::clock::iso8601;
use crate::error::ApiError;
use crate::ids::{access_key_id, secret_access_key, session_token};
use crate::policy::{
    self, Decision, DocumentKind, PolicyType, PrincipalRef, RequestContext, TrustMatch,
};
use crate::principal::{Principal, Session, split_iam_arn};
use crate::protocol::{Node, Output, Params};
use crate::store::Role;
use crate::validate::sts::{self as v, AssumeRoleInput};

/// STS's one API version.
pub const STS_VERSION: &str = "2011-06-15";
/// STS's XML namespace.
pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// Role chaining caps a session at one hour.
pub const CHAINED_MAX_SECONDS: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StsAction {
    AssumeRole,
    GetCallerIdentity,
}

impl StsAction {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "AssumeRole" => Some(Self::AssumeRole),
            "GetCallerIdentity" => Some(Self::GetCallerIdentity),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::AssumeRole => "AssumeRole",
            Self::GetCallerIdentity => "GetCallerIdentity",
        }
    }
}

pub fn call(
    accounts: &Accounts,
    caller: &Caller,
    action: StsAction,
    p: &Params,
    now: i64,
) -> Result<Output, ApiError> {
    match action {
        StsAction::GetCallerIdentity => Ok(caller_identity(accounts, caller)),
        StsAction::AssumeRole => assume_role(accounts, caller, p, now),
    }
}

fn caller_identity(accounts: &Accounts, caller: &Caller) -> Output {
    let p = &caller.principal;
    let account = p.account().to_string();
    let (arn, user_id) = match p {
        Principal::User { name, .. } => accounts
            .get(&account)
            .and_then(|a| {
                a.service
                    .store
                    .read(|s| s.user(name).map(|u| (s.user_arn(u), u.id.clone())))
            })
            .unwrap_or_else(|| (p.arn("/"), String::new())),
        Principal::AssumedRole(s) => (p.arn("/"), format!("{}:{}", s.role_id, s.session_name)),
        Principal::Root { .. } | Principal::Anonymous { .. } => (p.arn("/"), account.clone()),
    };
    Output::Tree(vec![
        Node::leaf("Arn", arn),
        Node::leaf("UserId", user_id),
        Node::leaf("Account", account),
    ])
}

fn not_authorized(who: &str, action: &str, resource: &str) -> ApiError {
    ApiError::new(
        403,
        "AccessDenied",
        format!("User: {who} is not authorized to perform: {action} on resource: {resource}"),
    )
}

/// The keys the trust policy sees: the caller's (from its own account), and the request's `sts:*` and tags.
fn trust_keys(accounts: &Accounts, caller: &Caller, input: &AssumeRoleInput, now: i64) -> Keys {
    let mut keys = accounts
        .get(caller.principal.account())
        .map(|a| a.service.store.read(|s| principal_keys(s, caller, now)))
        .unwrap_or_default();
    let mut put = |k: &str, v: &str| {
        keys.entry(k.to_ascii_lowercase())
            .or_default()
            .push(v.to_string())
    };
    put("sts:RoleSessionName", &input.session_name);
    if let Some(e) = &input.external_id {
        put("sts:ExternalId", e);
    }
    if let Some(si) = &input.source_identity {
        put("sts:SourceIdentity", si);
    }
    for (k, val) in &input.tags {
        put(&format!("aws:RequestTag/{k}"), val);
        put("aws:TagKeys", k);
    }
    keys
}

/// The caller's ARNs a trust policy may name it by: its own and (for a session) its role's, less any the policy
/// names for a principal with another unique id than the caller's (deleted and made again since the policy was
/// stored: IAM binds trust policies to unique ids, so the new one is not trusted).
fn trusted_arns(accounts: &Accounts, caller: &Caller, path: &str, role: &Role) -> Vec<String> {
    let current_id = |arn: &str| -> Option<String> {
        match &caller.principal {
            Principal::User { account, name } => accounts
                .get(account)
                .and_then(|a| a.service.store.read(|s| s.user(name).map(|u| u.id.clone()))),
            Principal::AssumedRole(session) if arn == caller.principal.principal_arn(path) => {
                Some(session.role_id.clone())
            }
            _ => None,
        }
    };
    [
        caller.principal.arn(path),
        caller.principal.principal_arn(path),
    ]
    .into_iter()
    .filter(|arn| {
        role.trusted_ids
            .get(arn)
            .is_none_or(|bound| current_id(arn).as_deref() == Some(bound.as_str()))
    })
    .collect()
}

/// The actions one `AssumeRole` call needs allowed: `sts:AssumeRole`, plus `sts:TagSession` with session tags and
/// `sts:SetSourceIdentity` with a source identity.
fn actions_needed(input: &AssumeRoleInput) -> Vec<&'static str> {
    let mut actions = vec!["sts:AssumeRole"];
    if !input.tags.is_empty() {
        actions.push("sts:TagSession");
    }
    if input.source_identity.is_some() {
        actions.push("sts:SetSourceIdentity");
    }
    actions
}

fn assume_role(
    accounts: &Accounts,
    caller: &Caller,
    p: &Params,
    now: i64,
) -> Result<Output, ApiError> {
    let input = v::assume_role(p)?;
    if input.session_policy {
        return Err(ApiError::invalid_parameter_value(
            "Session policies (Policy, PolicyArns) are not emulated; assume the role without them.",
        ));
    }
    if input.transitive_tags {
        return Err(ApiError::invalid_parameter_value(
            "Transitive session tags (TransitiveTagKeys) are not emulated; assume the role without them.",
        ));
    }
    let path = accounts.get(caller.principal.account()).map_or_else(
        || "/".to_string(),
        |a| {
            a.service
                .store
                .read(|s| authz::principal_path(s, &caller.principal))
        },
    );
    let who = caller.principal.arn(&path);
    if matches!(caller.principal, Principal::Root { .. }) {
        // "Roles may not be assumed by root accounts." (STS, 403 AccessDenied; iam-api.md §15.6)
        return Err(ApiError::new(
            403,
            "AccessDenied",
            "Roles may not be assumed by root accounts.",
        ));
    }
    let (role_account, role_path, role_name) = split_iam_arn(&input.role_arn)
        .filter(|a| a.kind == "role")
        .map(|a| {
            (
                a.account.to_string(),
                a.path.to_string(),
                a.name.to_string(),
            )
        })
        .ok_or_else(|| ApiError::validation_message(format!("{} is invalid", input.role_arn)))?;
    let denied = |action: &str| not_authorized(&who, action, &input.role_arn);
    let target = accounts
        .get(&role_account)
        .ok_or_else(|| denied("sts:AssumeRole"))?;
    let role: Role = target
        .service
        .store
        .read(|s| s.role(&role_name).filter(|r| r.path == role_path).cloned())
        .ok_or_else(|| denied("sts:AssumeRole"))?;
    // Policies see the role's own ARN: a RoleArn spelled in another case names the same role (names are
    // case-insensitive) and must meet the same Deny statements.
    let role_arn = format!("arn:aws:iam::{role_account}:role{}{}", role.path, role.name);
    let cross_account = caller.principal.account() != role_account;
    let mut keys = trust_keys(accounts, caller, &input, now);
    for (k, v) in &role.tags {
        for prefix in ["aws:ResourceTag/", "iam:ResourceTag/"] {
            keys.entry(format!("{prefix}{k}").to_ascii_lowercase())
                .or_default()
                .push(v.clone());
        }
    }
    // The role's side: its trust policy must allow each action (when its account enforces).
    let mut identity_needed = cross_account;
    if target.enforce {
        let trust = policy::parse(&role.trust_policy, DocumentKind::Trust)
            .map_err(|_| denied("sts:AssumeRole"))?;
        let caller_arns = trusted_arns(accounts, caller, &path, &role);
        for action in actions_needed(&input) {
            let ctx = RequestContext {
                action: action.to_string(),
                resource: role_arn.clone(),
                principal: Some(PrincipalRef {
                    arns: caller_arns.clone(),
                    account: caller.principal.account().to_string(),
                }),
                keys: keys.clone(),
            };
            match policy::trust_allows(&trust, &ctx) {
                TrustMatch::AllowedByPrincipal => {}
                TrustMatch::AllowedByAccount => identity_needed = true,
                TrustMatch::Denied | TrustMatch::NotAllowed => return Err(denied(action)),
            }
        }
    }
    // The caller's side: explicit denies and the guardrail always; its identity policies must allow when the trust
    // policy named only its account, or the role is in another account.
    if let Some(home) = accounts.get(caller.principal.account()) {
        caller_side(home, caller, &input, &role_arn, keys, identity_needed)?;
    }
    // Durations only once the caller may assume the role: before, they would tell anyone whether it exists.
    let chained = caller.principal.session().is_some();
    let duration = input.duration.unwrap_or(3600);
    if chained && duration > CHAINED_MAX_SECONDS {
        return Err(ApiError::validation_message(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    if duration > role.max_session_duration {
        return Err(ApiError::validation_message(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    // "The value that is set cannot be changed during the role session": a chained session keeps it.
    let inherited = caller
        .principal
        .session()
        .and_then(|s| s.source_identity.clone());
    if let (Some(kept), Some(asked)) = (&inherited, &input.source_identity)
        && kept != asked
    {
        return Err(denied("sts:SetSourceIdentity"));
    }
    let session = Session {
        account: role_account.clone(),
        role_name: role.name.clone(),
        role_path: role.path.clone(),
        role_id: role.id.clone(),
        session_name: input.session_name.clone(),
        secret: secret_access_key(),
        token: session_token(),
        expires: now.saturating_add(duration),
        tags: input.tags.clone(),
        source_identity: input.source_identity.clone().or(inherited),
    };
    let id = access_key_id("ASIA");
    let principal = Principal::AssumedRole(Box::new(session.clone()));
    let mut nodes = vec![
        Node::Branch(
            "Credentials",
            vec![
                Node::leaf("AccessKeyId", &id),
                Node::Secret("SecretAccessKey", session.secret.clone()),
                Node::Secret("SessionToken", session.token.clone()),
                Node::leaf("Expiration", iso8601(session.expires)),
            ],
        ),
        Node::Branch(
            "AssumedRoleUser",
            vec![
                Node::leaf(
                    "AssumedRoleId",
                    format!("{}:{}", role.id, input.session_name),
                ),
                Node::leaf("Arn", principal.arn("/")),
            ],
        ),
    ];
    if !input.tags.is_empty() {
        nodes.push(Node::leaf(
            "PackedPolicySize",
            packed_size(&input.tags).to_string(),
        ));
    }
    nodes.extend(Node::opt("SourceIdentity", session.source_identity.clone()));
    accounts.add_session(id, session, now);
    Ok(Output::Tree(nodes))
}

/// The caller's account's verdict on each action of the call.
fn caller_side(
    home: &Account,
    caller: &Caller,
    input: &AssumeRoleInput,
    role_arn: &str,
    keys: Keys,
    identity_needed: bool,
) -> Result<(), ApiError> {
    if !home.enforce {
        return Ok(());
    }
    home.service.store.read(|s| {
        for action in actions_needed(input) {
            let decision = authz::decide(home, s, caller, action, role_arn, keys.clone());
            // A permissions boundary binds even when the trust policy names the caller: "If a permissions
            // boundary is set for the user, then it must allow the sts:AssumeRole action."
            let refused = match decision {
                Decision::Allow => false,
                Decision::ExplicitDeny(_)
                | Decision::ImplicitDeny(PolicyType::Guardrail | PolicyType::Boundary) => true,
                Decision::ImplicitDeny(PolicyType::Identity) => identity_needed,
            };
            if refused {
                return Err(authz::access_denied(
                    s,
                    caller,
                    action,
                    &input.role_arn,
                    decision,
                ));
            }
        }
        Ok(())
    })
}

/// STS's `PackedPolicySize`: the percentage of the packed session-tag limit the tags use.
fn packed_size(tags: &[(String, String)]) -> usize {
    let bytes: usize = tags.iter().map(|(k, v)| k.len() + v.len()).sum();
    (bytes * 100).div_ceil(2048).max(1)
}
