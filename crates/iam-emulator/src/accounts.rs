//! The accounts the emulator holds, and who an access key belongs to.
//!
//! Each account is its own [`Service`] (users, roles, policies, credentials, keys) with its own enforcement switch
//! and guardrail; role sessions made by `AssumeRole` live here too, in memory (they expire within 12 hours).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::error::ApiError;
use crate::policy::PolicyDocument;
use crate::principal::{Principal, Session};
use crate::service::Service;
use crate::sigv4::AccessKey;

/// Role sessions kept at most: when full, expired ones are dropped, then the one that expires first (its
/// credentials stop working early, as if it had been revoked), so memory stays bounded and no caller is locked
/// out.
pub const MAX_SESSIONS: usize = 10_000;

/// One account.
pub struct Account {
    pub service: Service,
    /// Requests made by this account's principals are authorized by IAM's evaluation logic.
    pub enforce: bool,
    /// An SCP-like document applied to every principal of the account, root included.
    pub guardrail: Option<PolicyDocument>,
    /// The account's policies, parsed once.
    pub documents: crate::authz::DocumentCache,
}

/// The key a request was signed with, and who it makes the caller.
pub struct KeyOwner {
    pub secret: String,
    pub principal: Principal,
    /// The session token the request must carry (session credentials only).
    pub token: Option<String>,
    /// Unix seconds on the emulator's clock (session credentials only).
    pub expires: Option<i64>,
}

pub struct Accounts {
    primary: String,
    by_id: BTreeMap<String, Account>,
    /// `--access-key` keys.
    keys: Vec<AccessKey>,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Accounts {
    /// `accounts` must contain `primary`.
    pub fn new(primary: String, by_id: BTreeMap<String, Account>, keys: Vec<AccessKey>) -> Self {
        Self {
            primary,
            by_id,
            keys,
            sessions: Mutex::default(),
        }
    }

    pub fn primary_id(&self) -> &str {
        &self.primary
    }

    pub fn primary(&self) -> &Account {
        &self.by_id[&self.primary]
    }

    pub fn get(&self, id: &str) -> Option<&Account> {
        self.by_id.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Account)> {
        self.by_id.iter()
    }

    /// Is SigV4 checked? With `--access-key` keys, or when any account enforces (which needs them).
    pub fn verifies_signatures(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The owner of access key `id`: a `--access-key` key, a key made with `CreateAccessKey` (active, its user
    /// still there), or a role session.
    pub fn key_owner(&self, id: &str) -> Option<KeyOwner> {
        if let Some(k) = self.keys.iter().find(|k| k.access_key_id == id) {
            let account = k.account.clone().unwrap_or_else(|| self.primary.clone());
            let principal = match &k.user {
                _ if k.is_root() => Principal::Root { account },
                Some(name) => Principal::User {
                    account,
                    name: name.clone(),
                },
                None => Principal::Anonymous { account },
            };
            return Some(KeyOwner {
                secret: k.secret_access_key.clone(),
                principal,
                token: None,
                expires: None,
            });
        }
        if let Some(s) = self.lock_sessions().get(id).cloned() {
            // A session outlives neither its role nor the role's re-creation under the same name.
            let role_alive = self.get(&s.account).is_some_and(|a| {
                a.service
                    .store
                    .read(|st| st.role(&s.role_name).is_some_and(|r| r.id == s.role_id))
            });
            if !role_alive {
                return None;
            }
            return Some(KeyOwner {
                secret: s.secret.clone(),
                principal: Principal::AssumedRole(Box::new(s.clone())),
                token: Some(s.token.clone()),
                expires: Some(s.expires),
            });
        }
        self.by_id.iter().find_map(|(account, a)| {
            a.service.store.read(|s| {
                let key = s.access_keys.get(id).filter(|k| k.active)?;
                let user = s.users.get(&key.user_key)?;
                Some(KeyOwner {
                    secret: key.secret.clone(),
                    principal: Principal::User {
                        account: account.clone(),
                        name: user.name.clone(),
                    },
                    token: None,
                    expires: None,
                })
            })
        })
    }

    /// IAM refuses a trust policy naming a user or role that does not exist: `MalformedPolicyDocument`
    /// `Invalid principal in policy: "AWS":"ARN"` (iam-api.md §16.3). Checked for the accounts the emulator
    /// holds; a principal of any other account is taken as it is. Returns the unique ids of the principals
    /// named: IAM binds a trust policy to them, so a user or role deleted and made again under the same name is
    /// not the one it trusts.
    pub fn trust_principal_ids(
        &self,
        trust_policy: &str,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        let mut ids = BTreeMap::new();
        let Ok(doc) = crate::policy::parse(trust_policy, crate::policy::DocumentKind::Trust) else {
            return Ok(ids); // the operation itself reports the malformed document
        };
        for arn in doc.named_principal_arns() {
            let Some(crate::principal::IamArn {
                account,
                kind,
                path,
                name,
            }) = crate::principal::split_iam_arn(&arn)
            else {
                continue;
            };
            let Some(held) = self.get(account) else {
                continue;
            };
            let id = held.service.store.read(|s| match kind {
                "user" => s
                    .user(name)
                    .filter(|u| u.path == path)
                    .map(|u| u.id.clone()),
                _ => s
                    .role(name)
                    .filter(|r| r.path == path)
                    .map(|r| r.id.clone()),
            });
            let Some(id) = id else {
                return Err(ApiError::new(
                    400,
                    "MalformedPolicyDocument",
                    format!("Invalid principal in policy: \"AWS\":\"{arn}\""),
                ));
            };
            ids.insert(arn, id);
        }
        Ok(ids)
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps a new session, making room as [`MAX_SESSIONS`] says.
    pub fn add_session(&self, id: String, session: Session, now: i64) {
        let mut sessions = self.lock_sessions();
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.expires > now);
        }
        if sessions.len() >= MAX_SESSIONS
            && let Some(first) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&first);
        }
        sessions.insert(id, session);
    }
}

/// Checks the session token a request carries against its key: session keys need theirs, unexpired; long-term
/// keys take none. IAM's codes: `InvalidClientTokenId` (403), `ExpiredToken` (403).
pub fn check_token(owner: &KeyOwner, presented: Option<&str>, now: i64) -> Result<(), ApiError> {
    let invalid = || {
        ApiError::new(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
    };
    match (&owner.token, presented) {
        (None, None) => Ok(()),
        (None, Some(_)) | (Some(_), None) => Err(invalid()),
        (Some(expected), Some(got)) => {
            if !crate::ids::digest_eq(expected, got) {
                return Err(invalid());
            }
            if owner.expires.is_some_and(|e| now >= e) {
                return Err(ApiError::new(
                    403,
                    "ExpiredToken",
                    "The security token included in the request is expired",
                ));
            }
            Ok(())
        }
    }
}
