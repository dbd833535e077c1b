//! Roles, inline and managed policies, permissions boundaries and tags: the IAM operations a platform team
//! uses to set up who may do what (`--enforce` then evaluates them).

use super::{Output, Service, unique};
use crate::error::ApiError;
use crate::ids;
use crate::policy::{self, DocumentKind};
use crate::protocol::{Node, Params};
use crate::store::{ManagedPolicy, Role, State};
use crate::validate::identity::{self as v, Owner};

mod parts;
mod views;

pub(super) use parts::{deletable, no_such_policy};
use parts::{inline_policies_of, no_such_inline, no_such_role, parts_mut};
use views::policy_node;
pub use views::{RoleView, aws_managed, managed_document, policy_arn, role_node, url_encode};

/// Roles per account (IAM's default quota).
pub const ROLES_PER_ACCOUNT: usize = 1000;
/// Customer managed policies per account (IAM's default quota).
pub const POLICIES_PER_ACCOUNT: usize = 1500;
/// Managed policies attached to one user or role.
pub const ATTACHED_POLICIES_PER_PRINCIPAL: usize = 10;
/// Tags on one user or role.
pub const TAGS_PER_PRINCIPAL: usize = 50;

/// Size of a policy as IAM counts it against its quotas: characters, whitespace not counted.
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// Parses a document as IAM does on Put/Create: `MalformedPolicyDocument` with IAM's message when it is not one.
pub fn checked_document(text: &str, kind: DocumentKind) -> Result<(), ApiError> {
    policy::parse(text, kind)
        .map(|_| ())
        .map_err(|e| ApiError::new(400, "MalformedPolicyDocument", e.to_string()))
}

impl Service {
    pub(super) fn create_role(&self, p: &Params) -> Result<Output, ApiError> {
        let input = v::create_role(p)?;
        checked_document(&input.trust_policy, DocumentKind::Trust)?;
        if policy_size(&input.trust_policy) > policy::TRUST_POLICY_MAX {
            return Err(ApiError::quota("ACLSizePerRole", policy::TRUST_POLICY_MAX));
        }
        let now = self.clock.now();
        self.store.mutate(|s| {
            let key = State::user_key(&input.role_name);
            if s.roles.contains_key(&key) {
                return Err(ApiError::new(
                    409,
                    "EntityAlreadyExists",
                    format!("Role with name {} already exists.", input.role_name),
                ));
            }
            if s.roles.len() >= ROLES_PER_ACCOUNT {
                return Err(ApiError::quota("RolesPerAccount", ROLES_PER_ACCOUNT));
            }
            if let Some(b) = &input.permissions_boundary
                && managed_document(s, b).is_none()
            {
                return Err(no_such_policy(b));
            }
            let role = Role {
                name: input.role_name.clone(),
                id: unique(
                    || ids::entity_id("AROA", &s.account_id),
                    |id| s.roles.values().any(|r| r.id == id),
                ),
                path: input.path.clone(),
                create_date: now,
                trust_policy: input.trust_policy.clone(),
                description: input.description.clone(),
                max_session_duration: input.max_session_duration,
                permissions_boundary: input.permissions_boundary.clone(),
                tags: input.tags.clone(),
                inline_policies: Default::default(),
                attached_policies: Vec::new(),
                trusted_ids: Default::default(),
            };
            let node = role_node(s, &role, RoleView::Create);
            s.roles.insert(key, role);
            Ok(Output::Tree(vec![node]))
        })
    }

    /// Records the unique ids of the principals the role's trust policy names (see
    /// [`crate::accounts::Accounts::trust_principal_ids`]).
    pub fn bind_trust(
        &self,
        role_name: &str,
        ids: std::collections::BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        self.store.mutate(|s| {
            if let Some(role) = s.roles.get_mut(&State::user_key(role_name)) {
                role.trusted_ids = ids;
            }
            Ok(())
        })
    }

    pub(super) fn get_role(&self, p: &Params) -> Result<Output, ApiError> {
        let name = v::owner_name(p, Owner::Role)?;
        self.store.read(|s| {
            let role = s.role(&name).ok_or_else(|| no_such_role(&name))?;
            Ok(Output::Tree(vec![role_node(s, role, RoleView::Get)]))
        })
    }

    pub(super) fn delete_role(&self, p: &Params) -> Result<Output, ApiError> {
        let name = v::owner_name(p, Owner::Role)?;
        self.store.mutate(|s| {
            let key = State::user_key(&name);
            let role = s.roles.get(&key).ok_or_else(|| no_such_role(&name))?;
            deletable(&role.inline_policies, &role.attached_policies)?;
            s.roles.remove(&key);
            Ok(Output::Empty)
        })
    }

    pub(super) fn list_roles(&self, p: &Params) -> Result<Output, ApiError> {
        let input = v::list_roles(p)?;
        let after = super::decode_marker(input.page.marker.as_deref(), 'r')?;
        self.store.read(|s| {
            let matching = s
                .roles
                .iter()
                .filter(|(_, r)| {
                    input
                        .path_prefix
                        .as_deref()
                        .is_none_or(|pre| r.path.starts_with(pre))
                })
                .filter(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a));
            let (page, next) = super::paginate(matching, &input.page, |(k, _)| (*k).clone());
            let mut nodes = vec![
                Node::Branch(
                    "Roles",
                    page.into_iter()
                        .map(|(_, r)| role_node(s, r, RoleView::List))
                        .collect(),
                ),
                Node::leaf("IsTruncated", if next.is_some() { "true" } else { "false" }),
            ];
            nodes.extend(Node::opt(
                "Marker",
                next.map(|k| super::encode_marker('r', &k)),
            ));
            Ok(Output::Tree(nodes))
        })
    }

    /// `PutUserPolicy`, `PutRolePolicy`: parsed first, then the owner's aggregate size quota.
    pub(super) fn put_inline_policy(&self, p: &Params, owner: Owner) -> Result<Output, ApiError> {
        let input = v::put_policy(p, owner)?;
        checked_document(&input.document, DocumentKind::Identity)?;
        self.store.mutate(|s| {
            let (limit, kind) = match owner {
                Owner::User => (policy::USER_INLINE_MAX, "user"),
                Owner::Role => (policy::ROLE_INLINE_MAX, "role"),
            };
            let policies = parts_mut(s, owner, &input.owner)?.inline;
            let others: usize = policies
                .iter()
                .filter(|(n, _)| **n != input.policy_name)
                .map(|(_, d)| policy_size(d))
                .sum();
            if others + policy_size(&input.document) > limit {
                return Err(ApiError::new(
                    409,
                    "LimitExceeded",
                    format!(
                        "Maximum policy size of {limit} bytes exceeded for {kind} {}",
                        input.owner
                    ),
                ));
            }
            policies.insert(input.policy_name.clone(), input.document.clone());
            Ok(Output::Empty)
        })
    }

    pub(super) fn get_inline_policy(&self, p: &Params, owner: Owner) -> Result<Output, ApiError> {
        let input = v::policy_ref(p, owner)?;
        self.store.read(|s| {
            let (owner_name, policies) = inline_policies_of(s, owner, &input.owner)?;
            let doc = policies
                .get(&input.policy_name)
                .ok_or_else(|| no_such_inline(owner, &input.policy_name))?;
            let owner_field = match owner {
                Owner::User => "UserName",
                Owner::Role => "RoleName",
            };
            Ok(Output::Tree(vec![
                Node::leaf(owner_field, owner_name),
                Node::leaf("PolicyName", &input.policy_name),
                Node::leaf("PolicyDocument", url_encode(doc)),
            ]))
        })
    }

    pub(super) fn delete_inline_policy(
        &self,
        p: &Params,
        owner: Owner,
    ) -> Result<Output, ApiError> {
        let input = v::policy_ref(p, owner)?;
        self.store.mutate(|s| {
            parts_mut(s, owner, &input.owner)?
                .inline
                .remove(&input.policy_name)
                .ok_or_else(|| no_such_inline(owner, &input.policy_name))?;
            Ok(Output::Empty)
        })
    }

    pub(super) fn list_inline_policies(
        &self,
        p: &Params,
        owner: Owner,
    ) -> Result<Output, ApiError> {
        let name = v::owner_name(p, owner)?;
        self.store.read(|s| {
            let (_, policies) = inline_policies_of(s, owner, &name)?;
            Ok(Output::Tree(vec![
                Node::Branch(
                    "PolicyNames",
                    policies.keys().map(|n| Node::leaf("member", n)).collect(),
                ),
                Node::leaf("IsTruncated", "false"),
            ]))
        })
    }

    pub(super) fn create_policy(&self, p: &Params) -> Result<Output, ApiError> {
        let input = v::create_policy(p)?;
        checked_document(&input.document, DocumentKind::Identity)?;
        if policy_size(&input.document) > policy::MANAGED_POLICY_MAX {
            return Err(ApiError::quota("PolicySize", policy::MANAGED_POLICY_MAX));
        }
        let now = self.clock.now();
        self.store.mutate(|s| {
            let arn = format!(
                "arn:aws:iam::{}:policy{}{}",
                s.account_id, input.path, input.policy_name
            );
            // Names are unique in the account whatever the path (and, as all IAM names, whatever the case).
            if s.managed_policies
                .values()
                .any(|p| p.name.eq_ignore_ascii_case(&input.policy_name))
            {
                return Err(ApiError::new(
                    409,
                    "EntityAlreadyExists",
                    format!(
                        "A policy called {} already exists. Duplicate names are not allowed.",
                        input.policy_name
                    ),
                ));
            }
            if s.managed_policies.len() >= POLICIES_PER_ACCOUNT {
                return Err(ApiError::quota(
                    "CustomerManagedPoliciesPerAccount",
                    POLICIES_PER_ACCOUNT,
                ));
            }
            let policy = ManagedPolicy {
                name: input.policy_name.clone(),
                id: unique(
                    || ids::entity_id("ANPA", &s.account_id),
                    |id| s.managed_policies.values().any(|p| p.id == id),
                ),
                path: input.path.clone(),
                create_date: now,
                document: input.document.clone(),
                description: input.description.clone(),
            };
            let node = policy_node(s, &policy);
            s.managed_policies.insert(arn, policy);
            Ok(Output::Tree(vec![node]))
        })
    }

    pub(super) fn get_policy(&self, p: &Params) -> Result<Output, ApiError> {
        let arn = v::policy_arn(p)?;
        self.store.read(|s| {
            let policy = s
                .managed_policies
                .get(&arn)
                .ok_or_else(|| no_such_policy(&arn))?;
            Ok(Output::Tree(vec![policy_node(s, policy)]))
        })
    }

    pub(super) fn delete_policy(&self, p: &Params) -> Result<Output, ApiError> {
        let arn = v::policy_arn(p)?;
        self.store.mutate(|s| {
            if !s.managed_policies.contains_key(&arn) {
                return Err(no_such_policy(&arn));
            }
            let uses = |attached: &Vec<String>, boundary: &Option<String>| {
                attached.contains(&arn) || boundary.as_deref() == Some(arn.as_str())
            };
            let in_use = s
                .users
                .values()
                .any(|u| uses(&u.attached_policies, &u.permissions_boundary))
                || s.roles
                    .values()
                    .any(|r| uses(&r.attached_policies, &r.permissions_boundary));
            if in_use {
                return Err(ApiError::new(
                    409,
                    "DeleteConflict",
                    "Cannot delete a policy attached to entities.",
                ));
            }
            s.managed_policies.remove(&arn);
            Ok(Output::Empty)
        })
    }

    /// `AttachUserPolicy`/`AttachRolePolicy` (`attach`), `Detach…` otherwise.
    pub(super) fn attach_policy(
        &self,
        p: &Params,
        owner: Owner,
        attach: bool,
    ) -> Result<Output, ApiError> {
        let input = v::owner_arn(p, owner, "PolicyArn")?;
        self.store.mutate(|s| {
            let exists = managed_document(s, &input.arn).is_some();
            let attached = parts_mut(s, owner, &input.owner)?.attached;
            if attach {
                if !exists {
                    return Err(no_such_policy(&input.arn));
                }
                if !attached.contains(&input.arn) {
                    if attached.len() >= ATTACHED_POLICIES_PER_PRINCIPAL {
                        return Err(ApiError::quota(
                            match owner {
                                Owner::User => "PoliciesPerUser",
                                Owner::Role => "PoliciesPerRole",
                            },
                            ATTACHED_POLICIES_PER_PRINCIPAL,
                        ));
                    }
                    attached.push(input.arn.clone());
                }
            } else {
                let before = attached.len();
                attached.retain(|a| *a != input.arn);
                if attached.len() == before {
                    return Err(ApiError::new(
                        404,
                        "NoSuchEntity",
                        format!("Policy {} was not found.", input.arn),
                    ));
                }
            }
            Ok(Output::Empty)
        })
    }

    /// `PutUserPermissionsBoundary`, `PutRolePermissionsBoundary`.
    pub(super) fn put_boundary(&self, p: &Params, owner: Owner) -> Result<Output, ApiError> {
        let input = v::owner_arn(p, owner, "PermissionsBoundary")?;
        self.store.mutate(|s| {
            if managed_document(s, &input.arn).is_none() {
                return Err(no_such_policy(&input.arn));
            }
            *parts_mut(s, owner, &input.owner)?.boundary = Some(input.arn.clone());
            Ok(Output::Empty)
        })
    }

    /// `DeleteUserPermissionsBoundary`, `DeleteRolePermissionsBoundary`.
    pub(super) fn delete_boundary(&self, p: &Params, owner: Owner) -> Result<Output, ApiError> {
        let name = v::owner_name(p, owner)?;
        self.store.mutate(|s| {
            *parts_mut(s, owner, &name)?.boundary = None;
            Ok(Output::Empty)
        })
    }

    /// `TagUser`, `TagRole`: adds or overwrites (keys compare case-insensitively), at most 50 in all.
    pub(super) fn tag(&self, p: &Params, owner: Owner) -> Result<Output, ApiError> {
        let input = v::tag(p, owner)?;
        self.store.mutate(|s| {
            let tags = parts_mut(s, owner, &input.owner)?.tags;
            let mut merged = tags.clone();
            for (k, val) in &input.tags {
                match merged
                    .iter_mut()
                    .find(|(old, _)| old.eq_ignore_ascii_case(k))
                {
                    Some(entry) => *entry = (k.clone(), val.clone()),
                    None => merged.push((k.clone(), val.clone())),
                }
            }
            if merged.len() > TAGS_PER_PRINCIPAL {
                return Err(ApiError::new(
                    409,
                    "LimitExceeded",
                    format!(
                        "The number of tags has reached the maximum limit of {TAGS_PER_PRINCIPAL}."
                    ),
                ));
            }
            *tags = merged;
            Ok(Output::Empty)
        })
    }

    /// `UntagUser`, `UntagRole`.
    pub(super) fn untag(&self, p: &Params, owner: Owner) -> Result<Output, ApiError> {
        let input = v::untag(p, owner)?;
        self.store.mutate(|s| {
            parts_mut(s, owner, &input.owner)?
                .tags
                .retain(|(k, _)| !input.keys.iter().any(|r| r.eq_ignore_ascii_case(k)));
            Ok(Output::Empty)
        })
    }
}
