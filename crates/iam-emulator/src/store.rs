//! The emulator's state (users and credentials), and the lock that makes every operation atomic.
//!
//! [`State`] is plain data with pure helpers. [`Store`] owns it behind a mutex; with a state file, a mutation is
//! applied to a copy, the copy is persisted, and only then does it replace the live state, so memory and disk
//! never disagree and a failed write changes nothing.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::persist::{PersistError, Persister};

/// Version of the state-file format.
pub const STATE_VERSION: u32 = 1;

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The name as created (lookups are case-insensitive, output keeps this spelling).
    pub name: String,
    pub id: String,
    pub path: String,
    /// Unix seconds.
    pub create_date: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// Inline policies by name (`PutUserPolicy`), as the caller sent them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inline_policies: BTreeMap<String, String>,
    /// ARNs of the managed policies attached (`AttachUserPolicy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached_policies: Vec<String>,
}

/// The status IAM stores; `Expired` is derived from the expiration date and never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredStatus {
    Active,
    Inactive,
}

/// A service-specific credential. The password or secret itself is never kept, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub id: String,
    /// Key of the owning user in [`State::users`] (the lower-cased name).
    pub user_key: String,
    pub service_name: String,
    /// 0 for `<user>-at-<account>`, 1 for `<user>+1-at-<account>`.
    pub slot: u8,
    pub create_date: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date: Option<i64>,
    pub status: StoredStatus,
    pub secret_sha256: String,
    /// Creation order; the list order and the pagination key.
    pub seq: u64,
}

impl Credential {
    pub fn is_expired(&self, now: i64) -> bool {
        self.expiration_date.is_some_and(|exp| now >= exp)
    }

    /// `Active`, `Inactive`, or `Expired` once past the expiration date.
    pub fn reported_status(&self, now: i64) -> &'static str {
        if self.is_expired(now) {
            "Expired"
        } else {
            match self.status {
                StoredStatus::Active => "Active",
                StoredStatus::Inactive => "Inactive",
            }
        }
    }
}

/// Everything the emulator knows. Serialized as the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub version: u32,
    pub account_id: String,
    /// Keyed by lower-cased user name.
    pub users: BTreeMap<String, User>,
    /// Keyed by credential id.
    pub credentials: BTreeMap<String, Credential>,
    pub next_seq: u64,
    /// Keyed by lower-cased role name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, Role>,
    /// Customer managed policies (`CreatePolicy`), keyed by ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub managed_policies: BTreeMap<String, ManagedPolicy>,
    /// Access keys made with `CreateAccessKey`, keyed by access key id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub access_keys: BTreeMap<String, StoredAccessKey>,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub name: String,
    pub id: String,
    pub path: String,
    pub create_date: i64,
    /// The trust policy as the caller sent it.
    pub trust_policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seconds; 3600 unless set at creation.
    pub max_session_duration: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inline_policies: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached_policies: Vec<String>,
    /// The unique ids of the users and roles the trust policy names, by ARN, as they were when it was stored.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trusted_ids: BTreeMap<String, String>,
}

/// A customer managed policy (one version: `v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedPolicy {
    pub name: String,
    pub id: String,
    pub path: String,
    pub create_date: i64,
    pub document: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An access key of an IAM user. The secret is kept: SigV4 verification needs it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredAccessKey {
    pub id: String,
    pub user_key: String,
    pub secret: String,
    pub create_date: i64,
    pub active: bool,
}

impl std::fmt::Debug for StoredAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAccessKey")
            .field("id", &self.id)
            .field("user_key", &self.user_key)
            .field("secret", &"<redacted>")
            .field("active", &self.active)
            .finish()
    }
}

impl State {
    pub fn new(account_id: &str) -> Self {
        Self {
            version: STATE_VERSION,
            account_id: account_id.to_string(),
            users: BTreeMap::new(),
            credentials: BTreeMap::new(),
            next_seq: 1,
            roles: BTreeMap::new(),
            managed_policies: BTreeMap::new(),
            access_keys: BTreeMap::new(),
        }
    }

    pub fn user_key(name: &str) -> String {
        name.to_lowercase()
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(&Self::user_key(name))
    }

    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(&Self::user_key(name))
    }

    /// `arn:aws:iam::ACCOUNT:user/PATH/NAME`.
    pub fn user_arn(&self, u: &User) -> String {
        format!("arn:aws:iam::{}:user{}{}", self.account_id, u.path, u.name)
    }

    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    pub fn role_arn(&self, r: &Role) -> String {
        format!("arn:aws:iam::{}:role{}{}", self.account_id, r.path, r.name)
    }

    /// The user's credentials, optionally for one service, in creation order.
    pub fn credentials_of<'a>(
        &'a self,
        user_key: &'a str,
        service: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Credential> + 'a {
        let mut v: Vec<&Credential> = self
            .credentials
            .values()
            .filter(move |c| c.user_key == user_key && service.is_none_or(|s| c.service_name == s))
            .collect();
        v.sort_by_key(|c| c.seq);
        v.into_iter()
    }

    /// The lowest slot (0 or 1) the user has free for `service`, if any.
    pub fn free_slot(&self, user_key: &str, service: &str, quota: usize) -> Option<u8> {
        let used: Vec<u8> = self
            .credentials_of(user_key, Some(service))
            .map(|c| c.slot)
            .collect();
        if used.len() >= quota {
            return None;
        }
        (0..=u8::MAX).find(|s| !used.contains(s))
    }

    /// `<user>-at-<account>` for slot 0, `<user>+N-at-<account>` for slot N.
    pub fn display_name(&self, user_name: &str, slot: u8) -> String {
        if slot == 0 {
            format!("{user_name}-at-{}", self.account_id)
        } else {
            format!("{user_name}+{slot}-at-{}", self.account_id)
        }
    }

    pub fn take_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }
}

/// The live state and, when configured, its file.
pub struct Store {
    state: Mutex<State>,
    persister: Option<Persister>,
}

impl Store {
    pub fn new(state: State, persister: Option<Persister>) -> Self {
        Self {
            state: Mutex::new(state),
            persister,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied mutation (mutations on a copy or fully
        // checked first), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a read-only closure on the state.
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }

    /// Runs a mutation atomically. `f` must do all of its checks before it changes anything. With a state file,
    /// the changed state is written before it becomes visible; if the write fails, nothing changes.
    pub fn mutate<T, E: From<PersistError>>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut guard = self.lock();
        match &self.persister {
            None => f(&mut guard),
            Some(p) => {
                let mut copy = guard.clone();
                let out = f(&mut copy)?;
                p.save(&copy)?;
                *guard = copy;
                Ok(out)
            }
        }
    }

    /// A copy of the whole state.
    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(id: &str, user: &str, service: &str, slot: u8, seq: u64) -> Credential {
        Credential {
            id: id.into(),
            user_key: user.into(),
            service_name: service.into(),
            slot,
            create_date: 0,
            expiration_date: None,
            status: StoredStatus::Active,
            secret_sha256: String::new(),
            seq,
        }
    }

    #[test]
    fn slots_are_reused_lowest_first() {
        let mut s = State::new("123456789012");
        assert_eq!(s.free_slot("bob", "svc", 2), Some(0));
        s.credentials
            .insert("A".into(), cred("A", "bob", "svc", 1, 1));
        assert_eq!(s.free_slot("bob", "svc", 2), Some(0));
        s.credentials
            .insert("B".into(), cred("B", "bob", "svc", 0, 2));
        assert_eq!(s.free_slot("bob", "svc", 2), None);
        assert_eq!(s.free_slot("bob", "other", 2), Some(0));
        assert_eq!(s.free_slot("ann", "svc", 2), Some(0));
        assert_eq!(s.display_name("bob", 0), "bob-at-123456789012");
        assert_eq!(s.display_name("bob", 1), "bob+1-at-123456789012");
        let order: Vec<&str> = s
            .credentials_of("bob", None)
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(order, ["A", "B"]);
    }

    #[test]
    fn expiry_is_derived() {
        let mut c = cred("A", "bob", "svc", 0, 1);
        c.expiration_date = Some(100);
        assert_eq!(c.reported_status(99), "Active");
        assert_eq!(c.reported_status(100), "Expired");
        c.status = StoredStatus::Inactive;
        assert_eq!(c.reported_status(99), "Inactive");
        assert_eq!(c.reported_status(1000), "Expired");
    }

    #[test]
    fn failed_mutation_without_file_is_reported() {
        let store = Store::new(State::new("1"), None);
        let r: Result<(), PersistError> = store.mutate(|s| {
            s.next_seq = 5;
            Ok(())
        });
        assert!(r.is_ok());
        assert_eq!(store.read(|s| s.next_seq), 5);
    }
}
