//! Validation of the identity operations: roles, inline and managed policies, permissions boundaries, tags and
//! access keys. Same order and messages as the credential operations (see the parent module).

use super::{Checker, Page, Pattern, Str, page, tag_list, unique_tag_keys};
use crate::error::ApiError;
use crate::protocol::Params;

/// Whose policies, boundary or tags a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    User,
    Role,
}

impl Owner {
    fn param(self) -> &'static str {
        match self {
            Owner::User => "UserName",
            Owner::Role => "RoleName",
        }
    }

    fn member(self) -> &'static str {
        match self {
            Owner::User => "userName",
            Owner::Role => "roleName",
        }
    }

    fn name_constraint(self) -> Str {
        Str {
            required: true,
            min: 1,
            max: match self {
                Owner::User => 128,
                Owner::Role => 64,
            },
            pattern: Some(Pattern::UserName),
        }
    }
}

const POLICY_NAME: Str = Str {
    required: true,
    min: 1,
    max: 128,
    pattern: Some(Pattern::UserName),
};
/// `policyDocumentType`: 1-131072 characters of `[\u0009\u000A\u000D\u0020-\u00FF]`.
const POLICY_DOCUMENT: Str = Str {
    required: true,
    min: 1,
    max: 131_072,
    pattern: Some(Pattern::PolicyDocument),
};
const ARN: Str = Str {
    required: true,
    min: 20,
    max: 2048,
    pattern: None,
};
const PATH: Str = Str {
    required: false,
    min: 1,
    max: 512,
    pattern: Some(Pattern::Path),
};
const DESCRIPTION: Str = Str {
    required: false,
    min: 0,
    max: 1000,
    pattern: None,
};
const ACCESS_KEY_ID: Str = Str {
    required: true,
    min: 16,
    max: 128,
    pattern: Some(Pattern::CredentialId),
};

/// IAM's answer to a boundary or policy ARN that is not an ARN.
fn arn_shape(arn: &str) -> Result<(), ApiError> {
    if arn.starts_with("arn:") && arn.split(':').count() >= 6 {
        Ok(())
    } else {
        Err(ApiError::invalid_input(format!("ARN {arn} is not valid.")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRoleInput {
    pub role_name: String,
    pub path: String,
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: i64,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<(String, String)>,
}

pub fn create_role(p: &Params) -> Result<CreateRoleInput, ApiError> {
    let mut c = Checker::new(p);
    let max_session_duration = c.int("MaxSessionDuration", "maxSessionDuration", 3600, 43_200);
    let path = c.string("Path", "path", &PATH);
    let role_name = c.string("RoleName", "roleName", &Owner::Role.name_constraint());
    let trust_policy = c.string(
        "AssumeRolePolicyDocument",
        "assumeRolePolicyDocument",
        &POLICY_DOCUMENT,
    );
    let description = c.string("Description", "description", &DESCRIPTION);
    let permissions_boundary = c.string(
        "PermissionsBoundary",
        "permissionsBoundary",
        &Str {
            required: false,
            ..ARN
        },
    );
    let tags = tag_list(&mut c, p, "Tags", "tags");
    c.finish()?;
    if let Some(b) = &permissions_boundary {
        arn_shape(b)?;
    }
    unique_tag_keys(&tags)?;
    Ok(CreateRoleInput {
        role_name: role_name.unwrap_or_default(),
        path: path.unwrap_or_else(|| "/".into()),
        trust_policy: trust_policy.unwrap_or_default(),
        description,
        max_session_duration: max_session_duration.unwrap_or(3600),
        permissions_boundary,
        tags,
    })
}

/// `GetRole`, `DeleteRole`, `ListRolePolicies`: the role's name.
pub fn owner_name(p: &Params, owner: Owner) -> Result<String, ApiError> {
    let mut c = Checker::new(p);
    let name = c.string(owner.param(), owner.member(), &owner.name_constraint());
    c.finish()?;
    Ok(name.unwrap_or_default())
}

/// `ListRoles`: a path prefix and a page, as `ListUsers` takes them.
pub fn list_roles(p: &Params) -> Result<super::ListUsersInput, ApiError> {
    super::list_users(p)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutPolicyInput {
    pub owner: String,
    pub policy_name: String,
    pub document: String,
}

/// `PutUserPolicy`, `PutRolePolicy`.
pub fn put_policy(p: &Params, owner: Owner) -> Result<PutPolicyInput, ApiError> {
    let mut c = Checker::new(p);
    let name = c.string(owner.param(), owner.member(), &owner.name_constraint());
    let policy_name = c.string("PolicyName", "policyName", &POLICY_NAME);
    let document = c.string("PolicyDocument", "policyDocument", &POLICY_DOCUMENT);
    c.finish()?;
    Ok(PutPolicyInput {
        owner: name.unwrap_or_default(),
        policy_name: policy_name.unwrap_or_default(),
        document: document.unwrap_or_default(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRef {
    pub owner: String,
    pub policy_name: String,
}

/// `GetUserPolicy`, `DeleteUserPolicy`, `GetRolePolicy`, `DeleteRolePolicy`.
pub fn policy_ref(p: &Params, owner: Owner) -> Result<PolicyRef, ApiError> {
    let mut c = Checker::new(p);
    let name = c.string(owner.param(), owner.member(), &owner.name_constraint());
    let policy_name = c.string("PolicyName", "policyName", &POLICY_NAME);
    c.finish()?;
    Ok(PolicyRef {
        owner: name.unwrap_or_default(),
        policy_name: policy_name.unwrap_or_default(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePolicyInput {
    pub policy_name: String,
    pub path: String,
    pub document: String,
    pub description: Option<String>,
}

pub fn create_policy(p: &Params) -> Result<CreatePolicyInput, ApiError> {
    let mut c = Checker::new(p);
    let policy_name = c.string("PolicyName", "policyName", &POLICY_NAME);
    let path = c.string("Path", "path", &PATH);
    let document = c.string("PolicyDocument", "policyDocument", &POLICY_DOCUMENT);
    let description = c.string("Description", "description", &DESCRIPTION);
    let tags = tag_list(&mut c, p, "Tags", "tags");
    c.finish()?;
    unique_tag_keys(&tags)?;
    Ok(CreatePolicyInput {
        policy_name: policy_name.unwrap_or_default(),
        path: path.unwrap_or_else(|| "/".into()),
        document: document.unwrap_or_default(),
        description,
    })
}

/// `GetPolicy`, `DeletePolicy`: the policy's ARN.
pub fn policy_arn(p: &Params) -> Result<String, ApiError> {
    let mut c = Checker::new(p);
    let arn = c.string("PolicyArn", "policyArn", &ARN);
    c.finish()?;
    let arn = arn.unwrap_or_default();
    arn_shape(&arn)?;
    Ok(arn)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerArn {
    pub owner: String,
    pub arn: String,
}

/// `Attach*Policy`, `Detach*Policy` (`PolicyArn`) and `Put*PermissionsBoundary` (`PermissionsBoundary`).
pub fn owner_arn(p: &Params, owner: Owner, arn_param: &str) -> Result<OwnerArn, ApiError> {
    let mut c = Checker::new(p);
    let name = c.string(owner.param(), owner.member(), &owner.name_constraint());
    let member = match arn_param {
        "PolicyArn" => "policyArn",
        _ => "permissionsBoundary",
    };
    let arn = c.string(arn_param, member, &ARN);
    c.finish()?;
    let arn = arn.unwrap_or_default();
    arn_shape(&arn)?;
    Ok(OwnerArn {
        owner: name.unwrap_or_default(),
        arn,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInput {
    pub owner: String,
    pub tags: Vec<(String, String)>,
}

/// `TagUser`, `TagRole`.
pub fn tag(p: &Params, owner: Owner) -> Result<TagInput, ApiError> {
    let mut c = Checker::new(p);
    let name = c.string(owner.param(), owner.member(), &owner.name_constraint());
    let tags = tag_list(&mut c, p, "Tags", "tags");
    if p.member_list("Tags").is_empty() {
        c.null("tags");
    }
    c.finish()?;
    unique_tag_keys(&tags)?;
    Ok(TagInput {
        owner: name.unwrap_or_default(),
        tags,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntagInput {
    pub owner: String,
    pub keys: Vec<String>,
}

/// `UntagUser`, `UntagRole`: `TagKeys.member.N`.
pub fn untag(p: &Params, owner: Owner) -> Result<UntagInput, ApiError> {
    let mut c = Checker::new(p);
    let name = c.string(owner.param(), owner.member(), &owner.name_constraint());
    let keys: Vec<String> = p
        .member_list("TagKeys")
        .into_iter()
        .filter_map(|entry| {
            entry
                .into_iter()
                .find(|(field, _)| field.is_empty())
                .map(|(_, v)| v)
        })
        .collect();
    if keys.is_empty() {
        c.null("tagKeys");
    }
    if keys.len() > 50 {
        c.violation(
            "tagKeys",
            "Member must have length less than or equal to 50",
        );
    }
    c.finish()?;
    Ok(UntagInput {
        owner: name.unwrap_or_default(),
        keys,
    })
}

/// `CreateAccessKey`, `ListAccessKeys`: an optional user name (the caller is the default).
pub fn optional_user(p: &Params) -> Result<Option<String>, ApiError> {
    let mut c = Checker::new(p);
    let name = c.optional("UserName", "userName", &Owner::User.name_constraint());
    c.finish()?;
    Ok(name)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRef {
    pub user_name: Option<String>,
    pub access_key_id: String,
}

/// `DeleteAccessKey`.
pub fn access_key(p: &Params) -> Result<AccessKeyRef, ApiError> {
    let mut c = Checker::new(p);
    let user_name = c.optional("UserName", "userName", &Owner::User.name_constraint());
    let id = c.string("AccessKeyId", "accessKeyId", &ACCESS_KEY_ID);
    c.finish()?;
    Ok(AccessKeyRef {
        user_name,
        access_key_id: id.unwrap_or_default(),
    })
}

/// A page of a list operation with only `Marker`/`MaxItems` (`ListRolePolicies`, ...).
pub fn page_only(p: &Params) -> Result<Page, ApiError> {
    let mut c = Checker::new(p);
    let pg = page(&mut c);
    c.finish()?;
    Ok(pg)
}
