//! The IAM operations: validated input in, [`Output`] or [`ApiError`] out, in AWS's order of checks.
//!
//! No HTTP here. Each operation validates (`validate`), then runs its business checks and mutation under the
//! store's lock, so the 2-per-service quota holds under concurrent requests.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::catalog::{CredentialKind, PER_SERVICE_QUOTA, kind_of};
use super::clock::{Clock, iso8601};
use super::error::{ApiError, UnsupportedServiceCode};
use super::ids;
use super::persist::PersistError;
use super::protocol::{CredentialSecret, CredentialView, Output, Params, UserView};
use super::store::{Credential, State, Store, StoredStatus, User};
use super::validate::identity::Owner;
use super::validate::{self, Page, StatusInput};

pub mod identity;
pub mod keys;

/// IAM's quota of users per account.
pub const USERS_PER_ACCOUNT: usize = 5000;
/// Page size when `MaxItems` is absent (ListUsers documents 100; the same is used for List…Credentials).
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// The IAM operations the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    CreateUser,
    GetUser,
    ListUsers,
    DeleteUser,
    CreateServiceSpecificCredential,
    ListServiceSpecificCredentials,
    ResetServiceSpecificCredential,
    UpdateServiceSpecificCredential,
    DeleteServiceSpecificCredential,
    CreateRole,
    GetRole,
    DeleteRole,
    ListRoles,
    PutRolePolicy,
    GetRolePolicy,
    DeleteRolePolicy,
    ListRolePolicies,
    PutUserPolicy,
    GetUserPolicy,
    DeleteUserPolicy,
    ListUserPolicies,
    CreatePolicy,
    GetPolicy,
    DeletePolicy,
    AttachUserPolicy,
    DetachUserPolicy,
    AttachRolePolicy,
    DetachRolePolicy,
    PutUserPermissionsBoundary,
    DeleteUserPermissionsBoundary,
    PutRolePermissionsBoundary,
    DeleteRolePermissionsBoundary,
    TagUser,
    UntagUser,
    TagRole,
    UntagRole,
    CreateAccessKey,
    ListAccessKeys,
    DeleteAccessKey,
}

impl Action {
    pub const ALL: [Action; 39] = [
        Action::CreateUser,
        Action::GetUser,
        Action::ListUsers,
        Action::DeleteUser,
        Action::CreateServiceSpecificCredential,
        Action::ListServiceSpecificCredentials,
        Action::ResetServiceSpecificCredential,
        Action::UpdateServiceSpecificCredential,
        Action::DeleteServiceSpecificCredential,
        Action::CreateRole,
        Action::GetRole,
        Action::DeleteRole,
        Action::ListRoles,
        Action::PutRolePolicy,
        Action::GetRolePolicy,
        Action::DeleteRolePolicy,
        Action::ListRolePolicies,
        Action::PutUserPolicy,
        Action::GetUserPolicy,
        Action::DeleteUserPolicy,
        Action::ListUserPolicies,
        Action::CreatePolicy,
        Action::GetPolicy,
        Action::DeletePolicy,
        Action::AttachUserPolicy,
        Action::DetachUserPolicy,
        Action::AttachRolePolicy,
        Action::DetachRolePolicy,
        Action::PutUserPermissionsBoundary,
        Action::DeleteUserPermissionsBoundary,
        Action::PutRolePermissionsBoundary,
        Action::DeleteRolePermissionsBoundary,
        Action::TagUser,
        Action::UntagUser,
        Action::TagRole,
        Action::UntagRole,
        Action::CreateAccessKey,
        Action::ListAccessKeys,
        Action::DeleteAccessKey,
    ];

    /// Exact, case-sensitive match, as AWS does.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::CreateUser => "CreateUser",
            Action::GetUser => "GetUser",
            Action::ListUsers => "ListUsers",
            Action::DeleteUser => "DeleteUser",
            Action::CreateServiceSpecificCredential => "CreateServiceSpecificCredential",
            Action::ListServiceSpecificCredentials => "ListServiceSpecificCredentials",
            Action::ResetServiceSpecificCredential => "ResetServiceSpecificCredential",
            Action::UpdateServiceSpecificCredential => "UpdateServiceSpecificCredential",
            Action::DeleteServiceSpecificCredential => "DeleteServiceSpecificCredential",
            Action::CreateRole => "CreateRole",
            Action::GetRole => "GetRole",
            Action::DeleteRole => "DeleteRole",
            Action::ListRoles => "ListRoles",
            Action::PutRolePolicy => "PutRolePolicy",
            Action::GetRolePolicy => "GetRolePolicy",
            Action::DeleteRolePolicy => "DeleteRolePolicy",
            Action::ListRolePolicies => "ListRolePolicies",
            Action::PutUserPolicy => "PutUserPolicy",
            Action::GetUserPolicy => "GetUserPolicy",
            Action::DeleteUserPolicy => "DeleteUserPolicy",
            Action::ListUserPolicies => "ListUserPolicies",
            Action::CreatePolicy => "CreatePolicy",
            Action::GetPolicy => "GetPolicy",
            Action::DeletePolicy => "DeletePolicy",
            Action::AttachUserPolicy => "AttachUserPolicy",
            Action::DetachUserPolicy => "DetachUserPolicy",
            Action::AttachRolePolicy => "AttachRolePolicy",
            Action::DetachRolePolicy => "DetachRolePolicy",
            Action::PutUserPermissionsBoundary => "PutUserPermissionsBoundary",
            Action::DeleteUserPermissionsBoundary => "DeleteUserPermissionsBoundary",
            Action::PutRolePermissionsBoundary => "PutRolePermissionsBoundary",
            Action::DeleteRolePermissionsBoundary => "DeleteRolePermissionsBoundary",
            Action::TagUser => "TagUser",
            Action::UntagUser => "UntagUser",
            Action::TagRole => "TagRole",
            Action::UntagRole => "UntagRole",
            Action::CreateAccessKey => "CreateAccessKey",
            Action::ListAccessKeys => "ListAccessKeys",
            Action::DeleteAccessKey => "DeleteAccessKey",
        }
    }
}

impl From<PersistError> for ApiError {
    fn from(e: PersistError) -> Self {
        tracing::error!(error = %e, "state file write failed; the request changed nothing");
        ApiError::internal(500)
    }
}

/// Settings of the operations layer.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub account_id: String,
    pub unsupported_service_code: UnsupportedServiceCode,
    /// Supported services that Create and List answer as unsupported here (a region or partition where the
    /// service is not offered). Existing credentials of these services are kept and still listed without
    /// `ServiceName`.
    pub disabled_services: Vec<String>,
    /// List with AllUsers=true is answered AccessDenied.
    pub deny_all_users_listing: bool,
}

pub struct Service {
    pub store: Store,
    pub clock: Arc<Clock>,
    pub config: ServiceConfig,
}

impl Service {
    pub fn new(store: Store, clock: Arc<Clock>, config: ServiceConfig) -> Self {
        Self {
            store,
            clock,
            config,
        }
    }

    /// Runs one operation. `caller` is the IAM user the request is made as, if it is a user.
    pub fn call(
        &self,
        action: Action,
        p: &Params,
        caller: Option<&str>,
    ) -> Result<Output, ApiError> {
        match action {
            Action::CreateUser => self.create_user(p),
            Action::GetUser => self.get_user(p, caller),
            Action::ListUsers => self.list_users(p),
            Action::DeleteUser => self.delete_user(p),
            Action::CreateServiceSpecificCredential => self.create_credential(p),
            Action::ListServiceSpecificCredentials => self.list_credentials(p, caller),
            Action::ResetServiceSpecificCredential => self.reset_credential(p, caller),
            Action::UpdateServiceSpecificCredential => self.update_credential(p, caller),
            Action::DeleteServiceSpecificCredential => self.delete_credential(p, caller),
            Action::CreateRole => self.create_role(p),
            Action::GetRole => self.get_role(p),
            Action::DeleteRole => self.delete_role(p),
            Action::ListRoles => self.list_roles(p),
            Action::PutRolePolicy => self.put_inline_policy(p, Owner::Role),
            Action::GetRolePolicy => self.get_inline_policy(p, Owner::Role),
            Action::DeleteRolePolicy => self.delete_inline_policy(p, Owner::Role),
            Action::ListRolePolicies => self.list_inline_policies(p, Owner::Role),
            Action::PutUserPolicy => self.put_inline_policy(p, Owner::User),
            Action::GetUserPolicy => self.get_inline_policy(p, Owner::User),
            Action::DeleteUserPolicy => self.delete_inline_policy(p, Owner::User),
            Action::ListUserPolicies => self.list_inline_policies(p, Owner::User),
            Action::CreatePolicy => self.create_policy(p),
            Action::GetPolicy => self.get_policy(p),
            Action::DeletePolicy => self.delete_policy(p),
            Action::AttachUserPolicy => self.attach_policy(p, Owner::User, true),
            Action::DetachUserPolicy => self.attach_policy(p, Owner::User, false),
            Action::AttachRolePolicy => self.attach_policy(p, Owner::Role, true),
            Action::DetachRolePolicy => self.attach_policy(p, Owner::Role, false),
            Action::PutUserPermissionsBoundary => self.put_boundary(p, Owner::User),
            Action::DeleteUserPermissionsBoundary => self.delete_boundary(p, Owner::User),
            Action::PutRolePermissionsBoundary => self.put_boundary(p, Owner::Role),
            Action::DeleteRolePermissionsBoundary => self.delete_boundary(p, Owner::Role),
            Action::TagUser => self.tag(p, Owner::User),
            Action::UntagUser => self.untag(p, Owner::User),
            Action::TagRole => self.tag(p, Owner::Role),
            Action::UntagRole => self.untag(p, Owner::Role),
            Action::CreateAccessKey => self.create_access_key(p, caller),
            Action::ListAccessKeys => self.list_access_keys(p, caller),
            Action::DeleteAccessKey => self.delete_access_key(p, caller),
        }
    }

    /// Creates a user unless one of that name (any case) exists; used to seed users at start.
    pub fn ensure_user(&self, name: &str) -> Result<(), ApiError> {
        let p = Params::from_pairs([("UserName", name)]);
        match self.create_user(&p) {
            Ok(_) => Ok(()),
            Err(e) if e.code == "EntityAlreadyExists" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The kind of credential `service` issues here: `None` when it is unknown or disabled.
    fn offered(&self, service: &str) -> Option<CredentialKind> {
        kind_of(service).filter(|_| !self.config.disabled_services.iter().any(|d| d == service))
    }

    fn unsupported(&self, service: &str) -> ApiError {
        ApiError::unsupported_service(service, self.config.unsupported_service_code)
    }

    fn create_user(&self, p: &Params) -> Result<Output, ApiError> {
        let input = validate::create_user(p)?;
        let now = self.clock.now();
        self.store.mutate(|s| {
            let key = State::user_key(&input.user_name);
            if s.users.contains_key(&key) {
                return Err(ApiError::user_exists(&input.user_name));
            }
            if s.users.len() >= USERS_PER_ACCOUNT {
                return Err(ApiError::quota("UsersPerAccount", USERS_PER_ACCOUNT));
            }
            if let Some(b) = &input.permissions_boundary
                && identity::managed_document(s, b).is_none()
            {
                return Err(identity::no_such_policy(b));
            }
            let user = User {
                name: input.user_name.clone(),
                id: unique(
                    || ids::entity_id("AIDA", &s.account_id),
                    |id| s.users.values().any(|u| u.id == id),
                ),
                path: input.path.clone(),
                create_date: now,
                permissions_boundary: input.permissions_boundary.clone(),
                tags: input.tags.clone(),
                inline_policies: Default::default(),
                attached_policies: Vec::new(),
            };
            let view = user_view(s, &user);
            s.users.insert(key, user);
            Ok(Output::User(view))
        })
    }

    fn get_user(&self, p: &Params, caller: Option<&str>) -> Result<Output, ApiError> {
        let name = target_user(validate::get_user(p)?, caller)?;
        self.store.read(|s| {
            let user = s.user(&name).ok_or_else(|| ApiError::no_such_user(&name))?;
            Ok(Output::User(user_view(s, user)))
        })
    }

    fn list_users(&self, p: &Params) -> Result<Output, ApiError> {
        let input = validate::list_users(p)?;
        let after = decode_marker(input.page.marker.as_deref(), 'u')?;
        self.store.read(|s| {
            let matching = s
                .users
                .iter()
                .filter(|(_, u)| {
                    input
                        .path_prefix
                        .as_deref()
                        .is_none_or(|pre| u.path.starts_with(pre))
                })
                .filter(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a));
            let (page, next) = paginate(matching, &input.page, |(k, _)| (*k).clone());
            Ok(Output::ListUsers {
                users: page.into_iter().map(|(_, u)| user_view(s, u)).collect(),
                marker: next.map(|k| encode_marker('u', &k)),
            })
        })
    }

    fn delete_user(&self, p: &Params) -> Result<Output, ApiError> {
        let name = validate::delete_user(p)?;
        self.store.mutate(|s| {
            let key = State::user_key(&name);
            if !s.users.contains_key(&key) {
                return Err(ApiError::no_such_user(&name));
            }
            if s.credentials_of(&key, None).next().is_some() {
                return Err(ApiError::delete_conflict());
            }
            let user = &s.users[&key];
            identity::deletable(&user.inline_policies, &user.attached_policies)?;
            if s.access_keys.values().any(|k| k.user_key == key) {
                return Err(ApiError::must_first("delete access keys"));
            }
            s.users.remove(&key);
            Ok(Output::Empty)
        })
    }

    fn create_credential(&self, p: &Params) -> Result<Output, ApiError> {
        let input = validate::create_credential(p)?;
        let now = self.clock.now();
        self.store.mutate(|s| {
            let user = s
                .user(&input.user_name)
                .ok_or_else(|| ApiError::no_such_user(&input.user_name))?
                .clone();
            let kind = self
                .offered(&input.service_name)
                .ok_or_else(|| self.unsupported(&input.service_name))?;
            // AWS accepts CredentialAgeDays for CodeCommit passwords too, and dates their expiry, though the API
            // reference speaks of API keys only (stackd's probes against live AWS, 2026-09: iam-api.md §14).
            // Keyspaces is treated the same, unverified.
            let user_key = State::user_key(&user.name);
            let slot = s
                .free_slot(&user_key, &input.service_name, PER_SERVICE_QUOTA)
                .ok_or_else(|| {
                    ApiError::quota(
                        "ContextSpecificCredentialsPerUserPerContext",
                        PER_SERVICE_QUOTA,
                    )
                })?;
            let secret = new_secret(kind, &s.display_name(&user.name, slot));
            let credential = Credential {
                id: unique(
                    || ids::entity_id("ACCA", &s.account_id),
                    |id| s.credentials.contains_key(id),
                ),
                user_key,
                service_name: input.service_name.clone(),
                slot,
                create_date: now,
                expiration_date: input
                    .credential_age_days
                    .map(|d| now.saturating_add(d.saturating_mul(86_400))),
                status: StoredStatus::Active,
                secret_sha256: ids::digest(secret_text(&secret)),
                seq: s.take_seq(),
            };
            let view = credential_view(s, &credential, now, Some(secret));
            s.credentials.insert(credential.id.clone(), credential);
            Ok(Output::Credential(view))
        })
    }

    fn list_credentials(&self, p: &Params, caller: Option<&str>) -> Result<Output, ApiError> {
        let input = validate::list_credentials(p)?;
        let after = decode_marker(input.page.marker.as_deref(), 'c')?;
        let after: Option<u64> = match after {
            None => None,
            Some(a) => Some(a.parse().map_err(|_| invalid_marker())?),
        };
        let user_name = if input.all_users {
            if self.config.deny_all_users_listing {
                return Err(ApiError::access_denied(
                    &self.config.account_id,
                    caller,
                    "iam:ListServiceSpecificCredentials",
                    "user/*",
                ));
            }
            None
        } else {
            Some(target_user(input.user_name.clone(), caller)?)
        };
        let now = self.clock.now();
        self.store.read(|s| {
            let user_key = match &user_name {
                Some(name) => Some(State::user_key(
                    &s.user(name)
                        .ok_or_else(|| ApiError::no_such_user(name))?
                        .name,
                )),
                None => None,
            };
            if let Some(service) = &input.service_name
                && self.offered(service).is_none()
            {
                return Err(self.unsupported(service));
            }
            let service = input.service_name.as_deref();
            let mut matching: Vec<&Credential> = match user_key.as_deref() {
                Some(k) => s
                    .credentials_of(k, service)
                    .filter(|c| after.is_none_or(|a| c.seq > a))
                    .collect(),
                None => s
                    .credentials
                    .values()
                    .filter(|c| service.is_none_or(|svc| c.service_name == svc))
                    .filter(|c| after.is_none_or(|a| c.seq > a))
                    .collect(),
            };
            matching.sort_by_key(|c| c.seq);
            let (page, next) = paginate(matching.into_iter(), &input.page, |c| c.seq.to_string());
            Ok(Output::ListCredentials {
                credentials: page
                    .into_iter()
                    .map(|c| credential_view(s, c, now, None))
                    .collect(),
                marker: next.map(|k| encode_marker('c', &k)),
            })
        })
    }

    /// Finds the user's credential: user first (404 user), then the id among the user's credentials.
    fn locate(s: &State, user_name: &str, id: &str) -> Result<Credential, ApiError> {
        let user = s
            .user(user_name)
            .ok_or_else(|| ApiError::no_such_user(user_name))?;
        let key = State::user_key(&user.name);
        // An id that exists under another user is a ValidationError naming the user asked, as live IAM
        // answers (iam-api.md §14); an id that exists nowhere is NoSuchEntity.
        match s.credentials.get(id) {
            Some(c) if c.user_key == key => Ok(c.clone()),
            Some(_) => Err(ApiError::validation_message(format!(
                "User {} does not have a service specific credential with id {id}",
                user.name
            ))),
            None => Err(ApiError::no_such_credential(id)),
        }
    }

    fn reset_credential(&self, p: &Params, caller: Option<&str>) -> Result<Output, ApiError> {
        let input = validate::credential(p)?;
        let user_name = target_user(input.user_name, caller)?;
        let now = self.clock.now();
        self.store.mutate(|s| {
            let mut credential = Self::locate(s, &user_name, &input.id)?;
            let kind = kind_of(&credential.service_name).unwrap_or(CredentialKind::Password);
            let owner = s
                .users
                .get(&credential.user_key)
                .map(|u| u.name.clone())
                .unwrap_or_default();
            let secret = new_secret(kind, &s.display_name(&owner, credential.slot));
            credential.secret_sha256 = ids::digest(secret_text(&secret));
            let view = credential_view(s, &credential, now, Some(secret));
            s.credentials.insert(credential.id.clone(), credential);
            Ok(Output::Credential(view))
        })
    }

    fn update_credential(&self, p: &Params, caller: Option<&str>) -> Result<Output, ApiError> {
        let input = validate::update_credential(p)?;
        let user_name = target_user(input.target.user_name, caller)?;
        self.store.mutate(|s| {
            let mut credential = Self::locate(s, &user_name, &input.target.id)?;
            // An expired key keeps reporting Expired whatever is stored: Active does not revive it.
            credential.status = match input.status {
                StatusInput::Inactive => StoredStatus::Inactive,
                StatusInput::Active | StatusInput::Expired => StoredStatus::Active,
            };
            s.credentials.insert(credential.id.clone(), credential);
            Ok(Output::Empty)
        })
    }

    fn delete_credential(&self, p: &Params, caller: Option<&str>) -> Result<Output, ApiError> {
        let input = validate::credential(p)?;
        let user_name = target_user(input.user_name, caller)?;
        self.store.mutate(|s| {
            let credential = Self::locate(s, &user_name, &input.id)?;
            s.credentials.remove(&credential.id);
            Ok(Output::Empty)
        })
    }
}

/// The explicit user name, else the caller's user, else IAM's error for non-user callers.
fn target_user(explicit: Option<String>, caller: Option<&str>) -> Result<String, ApiError> {
    explicit
        .or_else(|| caller.map(str::to_string))
        .ok_or_else(ApiError::no_caller_user)
}

/// Draws values until one is not taken (ids are random; a clash is astronomically unlikely but cheap to rule out).
fn unique(mut make: impl FnMut() -> String, taken: impl Fn(&str) -> bool) -> String {
    loop {
        let v = make();
        if !taken(&v) {
            return v;
        }
    }
}

fn new_secret(kind: CredentialKind, display_name: &str) -> CredentialSecret {
    match kind {
        CredentialKind::Password => CredentialSecret::Password(ids::password()),
        CredentialKind::ApiKey { prefix } => {
            CredentialSecret::ApiKey(ids::api_key_secret(prefix, display_name))
        }
    }
}

fn secret_text(s: &CredentialSecret) -> &str {
    match s {
        CredentialSecret::Password(p) | CredentialSecret::ApiKey(p) => p,
    }
}

fn user_view(s: &State, u: &User) -> UserView {
    UserView {
        path: u.path.clone(),
        user_name: u.name.clone(),
        user_id: u.id.clone(),
        arn: format!("arn:aws:iam::{}:user{}{}", s.account_id, u.path, u.name),
        create_date: iso8601(u.create_date),
        permissions_boundary: u.permissions_boundary.clone(),
        tags: u.tags.clone(),
    }
}

pub fn credential_view(
    s: &State,
    c: &Credential,
    now: i64,
    secret: Option<CredentialSecret>,
) -> CredentialView {
    let owner = s
        .users
        .get(&c.user_key)
        .map(|u| u.name.clone())
        .unwrap_or_else(|| c.user_key.clone());
    let display = s.display_name(&owner, c.slot);
    let api_key = matches!(
        kind_of(&c.service_name),
        Some(CredentialKind::ApiKey { .. })
    );
    CredentialView {
        create_date: iso8601(c.create_date),
        expiration_date: c.expiration_date.map(iso8601),
        service_name: c.service_name.clone(),
        service_user_name: (!api_key).then(|| display.clone()),
        service_credential_alias: api_key.then_some(display),
        secret,
        id: c.id.clone(),
        user_name: owner,
        status: c.reported_status(now),
    }
}

/// Takes one page; returns it and, when more items follow, the key of its last item.
fn paginate<T>(
    items: impl Iterator<Item = T>,
    page: &Page,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let max = page.max_items.unwrap_or(DEFAULT_PAGE_SIZE).max(1);
    let mut items = items.peekable();
    let mut out = Vec::new();
    while out.len() < max {
        match items.next() {
            Some(i) => out.push(i),
            None => break,
        }
    }
    let next = if items.peek().is_some() {
        out.last().map(&key)
    } else {
        None
    };
    (out, next)
}

/// Markers are opaque to clients: URL-safe base64 of `<kind>:<key of the last item returned>`.
fn encode_marker(kind: char, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{key}"))
}

fn decode_marker(marker: Option<&str>, kind: char) -> Result<Option<String>, ApiError> {
    let Some(m) = marker else {
        return Ok(None);
    };
    let bytes = URL_SAFE_NO_PAD.decode(m).map_err(|_| invalid_marker())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid_marker())?;
    let (k, key) = text.split_once(':').ok_or_else(invalid_marker)?;
    if k.len() != 1 || !k.starts_with(kind) {
        return Err(invalid_marker());
    }
    Ok(Some(key.to_string()))
}

fn invalid_marker() -> ApiError {
    ApiError::invalid_input("Invalid Marker.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        service_without(&[])
    }

    fn service_without(disabled: &[&str]) -> Service {
        Service::new(
            Store::new(State::new("123456789012"), None),
            Arc::new(Clock::default()),
            ServiceConfig {
                account_id: "123456789012".into(),
                unsupported_service_code: UnsupportedServiceCode::NoSuchEntity,
                disabled_services: disabled.iter().map(|d| d.to_string()).collect(),
                deny_all_users_listing: false,
            },
        )
    }

    fn call(s: &Service, action: Action, pairs: &[(&str, &str)]) -> Result<Output, ApiError> {
        s.call(action, &Params::from_pairs(pairs.iter().copied()), None)
    }

    fn created(o: Output) -> CredentialView {
        match o {
            Output::Credential(c) => c,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn create_order_of_checks() {
        let s = service();
        // Missing user with a bad service: the user error wins.
        let e = call(
            &s,
            Action::CreateServiceSpecificCredential,
            &[("UserName", "nobody"), ("ServiceName", "x")],
        )
        .unwrap_err();
        assert_eq!(e.message, "The user with name nobody cannot be found.");
        call(&s, Action::CreateUser, &[("UserName", "dev")]).unwrap();
        let e = call(
            &s,
            Action::CreateServiceSpecificCredential,
            &[("UserName", "dev"), ("ServiceName", "lambda.amazonaws.com")],
        )
        .unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (404, "NoSuchEntity"));
        assert_eq!(
            e.message,
            "No such service lambda.amazonaws.com is supported for Service Specific Credentials"
        );
        let svc = [
            ("UserName", "dev"),
            ("ServiceName", "codecommit.amazonaws.com"),
        ];
        let a = created(call(&s, Action::CreateServiceSpecificCredential, &svc).unwrap());
        let b = created(call(&s, Action::CreateServiceSpecificCredential, &svc).unwrap());
        assert_eq!(a.service_user_name.as_deref(), Some("dev-at-123456789012"));
        assert_eq!(
            b.service_user_name.as_deref(),
            Some("dev+1-at-123456789012")
        );
        let e = call(&s, Action::CreateServiceSpecificCredential, &svc).unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (409, "LimitExceeded"));
        assert_eq!(
            e.message,
            "Cannot exceed quota for ContextSpecificCredentialsPerUserPerContext: 2"
        );
        // Freed slot 0 is reused.
        call(
            &s,
            Action::DeleteServiceSpecificCredential,
            &[("UserName", "dev"), ("ServiceSpecificCredentialId", &a.id)],
        )
        .unwrap();
        let c = created(call(&s, Action::CreateServiceSpecificCredential, &svc).unwrap());
        assert_eq!(c.service_user_name.as_deref(), Some("dev-at-123456789012"));
    }

    #[test]
    fn all_users_listing_can_be_denied_like_a_policy_scoped_to_named_users() {
        let mut s = service();
        s.config.deny_all_users_listing = true;
        call(&s, Action::CreateUser, &[("UserName", "dev")]).unwrap();
        let all = [
            ("AllUsers", "true"),
            ("ServiceName", "codecommit.amazonaws.com"),
        ];
        let e = call(&s, Action::ListServiceSpecificCredentials, &all).unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (403, "AccessDenied"));
        assert!(e.message.contains("iam:ListServiceSpecificCredentials"));
        let one = [
            ("UserName", "dev"),
            ("ServiceName", "codecommit.amazonaws.com"),
        ];
        call(&s, Action::ListServiceSpecificCredentials, &one).unwrap();
    }

    #[test]
    fn disabled_service_is_unsupported_for_create_and_list_only() {
        let s = service_without(&["logs.amazonaws.com"]);
        call(&s, Action::CreateUser, &[("UserName", "dev")]).unwrap();
        let logs = [("UserName", "dev"), ("ServiceName", "logs.amazonaws.com")];
        let e = call(&s, Action::CreateServiceSpecificCredential, &logs).unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (404, "NoSuchEntity"));
        assert_eq!(
            e.message,
            "No such service logs.amazonaws.com is supported for Service Specific Credentials"
        );
        let e = call(&s, Action::ListServiceSpecificCredentials, &logs).unwrap_err();
        assert_eq!(e.code, "NoSuchEntity");
        // The user check still comes first.
        let e = call(
            &s,
            Action::CreateServiceSpecificCredential,
            &[
                ("UserName", "nobody"),
                ("ServiceName", "logs.amazonaws.com"),
            ],
        )
        .unwrap_err();
        assert_eq!(e.message, "The user with name nobody cannot be found.");
        // Other services are unaffected.
        call(
            &s,
            Action::CreateServiceSpecificCredential,
            &[
                ("UserName", "dev"),
                ("ServiceName", "bedrock.amazonaws.com"),
            ],
        )
        .unwrap();
    }

    #[test]
    fn markers_round_trip_and_reject_foreign_kinds() {
        let m = encode_marker('c', "12");
        assert_eq!(decode_marker(Some(&m), 'c').unwrap().as_deref(), Some("12"));
        assert!(decode_marker(Some(&m), 'u').is_err());
        assert!(decode_marker(Some("!!!"), 'u').is_err());
    }

    #[test]
    fn caller_fallback() {
        let s = service();
        call(&s, Action::CreateUser, &[("UserName", "Me")]).unwrap();
        let out = s
            .call(Action::GetUser, &Params::default(), Some("me"))
            .unwrap();
        match out {
            Output::User(u) => assert_eq!(u.user_name, "Me"),
            other => panic!("{other:?}"),
        }
        let e = s
            .call(Action::GetUser, &Params::default(), None)
            .unwrap_err();
        assert_eq!(e.code, "ValidationError");
    }

    #[test]
    fn users_per_account_quota() {
        let s = service();
        s.store
            .mutate::<_, ApiError>(|st| {
                for i in 0..USERS_PER_ACCOUNT {
                    let name = format!("u{i}");
                    st.users.insert(
                        name.clone(),
                        User {
                            name,
                            id: format!("AIDA{i}"),
                            path: "/".into(),
                            create_date: 0,
                            permissions_boundary: None,
                            tags: vec![],
                            inline_policies: Default::default(),
                            attached_policies: Vec::new(),
                        },
                    );
                }
                Ok(())
            })
            .unwrap();
        let e = call(&s, Action::CreateUser, &[("UserName", "one-too-many")]).unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (409, "LimitExceeded"));
        assert_eq!(e.message, "Cannot exceed quota for UsersPerAccount: 5000");
        // The duplicate check still comes first.
        let e = call(&s, Action::CreateUser, &[("UserName", "U1")]).unwrap_err();
        assert_eq!(e.code, "EntityAlreadyExists");
    }
}
