//! The emulator's state (users and credentials), and the lock that makes every operation atomic.
//!
//! [`State`] is plain data with pure helpers; its maps are [`Tracked`], so a mutation knows the entries it
//! changed. [`Store`] owns it behind a mutex. A mutation runs on the live state; with a state file, the entries
//! it touched are then written in one transaction, and if the mutation or the write fails the maps are rolled back
//! from their undo logs, so memory and disk never disagree and a failed write changes nothing.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::persist::{PersistError, Persister};
pub use super::tracked::{Index, NoIndex, Tracked};

/// Version of [`State`]'s JSON layout: the format of the old JSON state files, which are migrated at start (the
/// SQLite file's own version is [`crate::persist::DB_FORMAT_VERSION`]).
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

/// Everything the emulator knows: one account. `version`, `account_id` and `next_seq` are the state file's meta
/// row; each map is a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub version: u32,
    pub account_id: String,
    /// Keyed by lower-cased user name.
    pub users: Tracked<String, User>,
    /// Keyed by credential id.
    pub credentials: Tracked<String, Credential, CredentialsByUser>,
    pub next_seq: u64,
    /// Keyed by lower-cased role name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: Tracked<String, Role>,
    /// Customer managed policies (`CreatePolicy`), keyed by ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub managed_policies: Tracked<String, ManagedPolicy>,
    /// Access keys made with `CreateAccessKey`, keyed by access key id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub access_keys: Tracked<String, StoredAccessKey>,
}

/// The credentials of each user, in creation order: the index of [`State::credentials`].
#[derive(Debug, Clone, Default)]
pub struct CredentialsByUser(BTreeMap<String, std::collections::BTreeSet<(u64, String)>>);

impl CredentialsByUser {
    /// The ids of the credentials of the user `user_key`, oldest first.
    pub fn of<'a>(&'a self, user_key: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .get(user_key)
            .into_iter()
            .flatten()
            .map(|(_, id)| id.as_str())
    }
}

impl Index<String, Credential> for CredentialsByUser {
    fn add(&mut self, id: &String, c: &Credential) {
        self.0
            .entry(c.user_key.clone())
            .or_default()
            .insert((c.seq, id.clone()));
    }

    fn remove(&mut self, id: &String, c: &Credential) {
        if let Some(ids) = self.0.get_mut(&c.user_key) {
            ids.remove(&(c.seq, id.clone()));
            if ids.is_empty() {
                self.0.remove(&c.user_key);
            }
        }
    }
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
            users: Tracked::new(),
            credentials: Tracked::new(),
            next_seq: 1,
            roles: Tracked::new(),
            managed_policies: Tracked::new(),
            access_keys: Tracked::new(),
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

    /// The user's credentials, optionally for one service, in creation order (from the index: O(the user's)).
    pub fn credentials_of<'a>(
        &'a self,
        user_key: &'a str,
        service: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Credential> + 'a {
        self.credentials
            .index()
            .of(user_key)
            .filter_map(|id| self.credentials.get(id))
            .filter(move |c| service.is_none_or(|s| c.service_name == s))
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

impl State {
    /// The fields that are not maps, to restore after a failed mutation.
    fn scalars(&self) -> Scalars {
        Scalars {
            version: self.version,
            account_id: self.account_id.clone(),
            next_seq: self.next_seq,
        }
    }

    /// Did the mutation since `before` change anything?
    fn changed_since(&self, before: &Scalars) -> bool {
        self.next_seq != before.next_seq
            || self.users.is_touched()
            || self.credentials.is_touched()
            || self.roles.is_touched()
            || self.managed_policies.is_touched()
            || self.access_keys.is_touched()
    }

    fn settle(&mut self) {
        self.users.settle();
        self.credentials.settle();
        self.roles.settle();
        self.managed_policies.settle();
        self.access_keys.settle();
    }

    fn roll_back(&mut self, before: Scalars) {
        self.users.roll_back();
        self.credentials.roll_back();
        self.roles.roll_back();
        self.managed_policies.roll_back();
        self.access_keys.roll_back();
        self.version = before.version;
        self.account_id = before.account_id;
        self.next_seq = before.next_seq;
    }
}

/// [`State`]'s fields other than the maps, as they were before a mutation.
#[derive(Debug, Clone)]
struct Scalars {
    version: u32,
    account_id: String,
    next_seq: u64,
}

/// The live state and, when configured, its file.
pub struct Store {
    inner: Mutex<Inner>,
}

struct Inner {
    state: State,
    file: Option<Persister>,
    /// Set while a mutation runs: what to roll back to if it panics (the next lock finds it).
    in_progress: Option<Scalars>,
}

impl Store {
    /// `state` must be what `file` holds (or `file` must not exist yet).
    pub fn new(mut state: State, file: Option<Persister>) -> Self {
        // Entries put in before the store took the state are its starting point, not changes to undo.
        state.settle();
        Self {
            inner: Mutex::new(Inner {
                state,
                file,
                in_progress: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        let mut guard = self.inner.lock().unwrap_or_else(|poisoned| {
            self.inner.clear_poison();
            poisoned.into_inner()
        });
        // A mutation that panicked left its changes in memory and nothing on disk: undo them.
        if let Some(before) = guard.in_progress.take() {
            guard.state.roll_back(before);
        }
        guard
    }

    /// Runs a read-only closure on the state.
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock().state)
    }

    /// Runs a mutation atomically: if `f` errs, or the state file cannot be written, every change `f` made is
    /// undone and nothing is written. With a state file, the entries `f` touched are written (one transaction)
    /// before the lock is released, so a change is visible only once it is on disk.
    pub fn mutate<T, E: From<PersistError>>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let before = inner.state.scalars();
        inner.in_progress = Some(before.clone());
        let result = f(&mut inner.state).and_then(|out| {
            match &mut inner.file {
                Some(file) if inner.state.changed_since(&before) => {
                    file.commit(&inner.state, inner.state.next_seq != before.next_seq)?
                }
                _ => {}
            }
            Ok(out)
        });
        inner.in_progress = None;
        match result {
            Ok(out) => {
                inner.state.settle();
                Ok(out)
            }
            Err(e) => {
                inner.state.roll_back(before);
                Err(e)
            }
        }
    }

    /// A copy of the whole state.
    pub fn snapshot(&self) -> State {
        self.lock().state.clone()
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

    fn user(name: &str) -> User {
        User {
            name: name.into(),
            id: format!("AIDA{name}"),
            path: "/".into(),
            create_date: 0,
            permissions_boundary: None,
            tags: vec![],
            inline_policies: Default::default(),
            attached_policies: Vec::new(),
        }
    }

    fn populated() -> State {
        let mut s = State::new("123456789012");
        s.users.insert("bob".into(), user("bob"));
        s.credentials
            .insert("A".into(), cred("A", "bob", "svc", 0, 1));
        s.next_seq = 2;
        s
    }

    /// Changes every kind of map entry (insert, replace, edit in place, remove) and the sequence, then errs.
    fn mutate_then_fail(s: &mut State) -> Result<(), crate::error::ApiError> {
        s.users.insert("ann".into(), user("ann"));
        s.users.insert("bob".into(), user("bobby"));
        *s.users.get_mut("ann").unwrap() = user("annie");
        let mut edited = s.credentials["A"].clone();
        edited.status = StoredStatus::Inactive;
        s.credentials.insert("A".into(), edited);
        s.credentials.remove("A");
        s.credentials
            .insert("B".into(), cred("B", "ann", "svc", 0, 2));
        s.take_seq();
        Err(crate::error::ApiError::internal(500))
    }

    #[test]
    fn a_closure_that_errs_after_mutating_changes_nothing() {
        let store = Store::new(populated(), None);
        assert!(store.mutate(mutate_then_fail).is_err());
        assert_eq!(store.snapshot(), populated());
        // The credentials' index is rolled back with them.
        store.read(|s| {
            let of = |u| {
                s.credentials_of(u, None)
                    .map(|c| c.id.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!((of("bob"), of("ann")), (vec!["A".to_string()], vec![]));
        });
    }

    /// A store on a state file holding [`populated`].
    fn on_file(dir: &std::path::Path) -> (Store, std::path::PathBuf) {
        let path = dir.join("state.db");
        crate::persist::write_new(&path, &populated()).unwrap();
        let (p, state) = Persister::open(&path, "123456789012", None).unwrap();
        (Store::new(state.unwrap(), Some(p)), path)
    }

    #[test]
    fn a_closure_that_errs_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = on_file(dir.path());
        assert!(store.mutate(mutate_then_fail).is_err());
        assert_eq!(store.snapshot(), populated());
        drop(store);
        assert_eq!(crate::persist::read(&path).unwrap(), Some(populated()));
    }

    #[test]
    fn a_failing_commit_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = on_file(dir.path());
        let set_read_only = |on: bool| {
            let inner = store.lock();
            let conn = inner.file.as_ref().unwrap().connection().unwrap();
            conn.pragma_update(None, "query_only", on).unwrap();
        };
        set_read_only(true);
        let e = store
            .mutate(|s| mutate_then_fail(s).or(Ok(())))
            .unwrap_err();
        assert!(matches!(e, PersistError::Database { .. }), "{e}");
        assert_eq!(store.snapshot(), populated(), "memory matches disk");

        set_read_only(false);
        store
            .mutate::<_, PersistError>(|s| {
                s.users.insert("ann".into(), user("ann"));
                Ok(())
            })
            .unwrap();
        let expected = store.snapshot();
        assert!(expected.users.contains_key("ann"));
        drop(store);
        assert_eq!(crate::persist::read(&path).unwrap(), Some(expected));
    }

    #[test]
    fn a_mutation_that_panics_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = on_file(dir.path());
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = store.mutate::<(), PersistError>(|s| {
                s.users.remove("bob");
                s.take_seq();
                panic!("bug in an operation");
            });
        }));
        assert!(panicked.is_err());
        assert_eq!(store.snapshot(), populated());
        store
            .mutate::<_, PersistError>(|s| {
                s.take_seq();
                Ok(())
            })
            .unwrap();
        drop(store);
        let on_disk = crate::persist::read(&path).unwrap().unwrap();
        assert_eq!(on_disk.next_seq, 3);
        assert!(on_disk.users.contains_key("bob"));
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
