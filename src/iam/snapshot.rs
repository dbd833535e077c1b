//! Per-service snapshots of every user's credentials (from paged `List…` with `AllUsers=true`):
//! one snapshot answers the drift check of every resource of that service, so a resync costs
//! ⌈credentials ÷ 1,000⌉ List calls per service instead of one per user.
//!
//! A snapshot is kept exact for this process's own writes (written through) and distrusts a
//! user after a write whose outcome is unknown; such a user, or one written while the snapshot
//! was being fetched, is answered by a per-user List until a List of the user vouches for it
//! again. A write of unknown outcome may still take effect in IAM for a while after it failed
//! here, so its user stays distrusted in the snapshots fetched within [`DISTRUST_CARRY`].

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use jiff::Timestamp;

use super::{CredentialMetadata, CredentialStatus};

/// How long after a write of unknown outcome its user is distrusted even in newer snapshots: a
/// Create the client gave up on can still land (the adoption window, with room).
pub(super) const DISTRUST_CARRY: Duration = Duration::from_secs(90);

/// One service's credentials by user (lower-cased: IAM user names are case-insensitive).
#[derive(Debug)]
struct ServiceSnapshot {
    /// When its fetch began: how old its oldest page can be.
    taken: Instant,
    /// When its fetch ended.
    completed: Instant,
    by_user: HashMap<Box<str>, UserCredentials>,
    /// Users this snapshot may not answer for (see the module doc).
    distrusted: HashSet<String>,
}

/// One user's credentials of a service as a snapshot keeps them: the user and service names
/// once, not in each credential (a `CredentialMetadata` is 200 bytes and four allocations).
#[derive(Debug, Default)]
struct UserCredentials {
    /// The user's name as IAM spells it, when that is not the lower-cased key.
    spelt: Option<Box<str>>,
    /// At its exact capacity.
    credentials: Vec<Kept>,
}

#[derive(Debug)]
struct Kept {
    id: Box<str>,
    service_user_name: Option<Box<str>>,
    alias: Option<Box<str>>,
    status: CredentialStatus,
    create_date: Timestamp,
    expiration_date: Option<Timestamp>,
}

impl Kept {
    fn of(c: &CredentialMetadata) -> Kept {
        Kept {
            id: c.id.as_str().into(),
            service_user_name: c.service_user_name.as_deref().map(Box::from),
            alias: c.alias.as_deref().map(Box::from),
            status: c.status.clone(),
            create_date: c.create_date,
            expiration_date: c.expiration_date,
        }
    }
}

impl UserCredentials {
    fn of(key: &str, credentials: &[CredentialMetadata]) -> Self {
        UserCredentials {
            spelt: spelling(key, credentials.first()),
            credentials: credentials.iter().map(Kept::of).collect(),
        }
    }

    fn expand(&self, key: &str, service: &str) -> Vec<CredentialMetadata> {
        let user_name = self.spelt.as_deref().unwrap_or(key);
        self.credentials
            .iter()
            .map(|c| CredentialMetadata {
                id: c.id.to_string(),
                user_name: user_name.to_string(),
                service_name: service.to_string(),
                service_user_name: c.service_user_name.as_deref().map(str::to_string),
                alias: c.alias.as_deref().map(str::to_string),
                status: c.status.clone(),
                create_date: c.create_date,
                expiration_date: c.expiration_date,
            })
            .collect()
    }
}

/// The user's name as `credential` spells it, when that is not the lower-cased `key`.
fn spelling(key: &str, credential: Option<&CredentialMetadata>) -> Option<Box<str>> {
    credential
        .map(|c| c.user_name.as_str())
        .filter(|name| *name != key)
        .map(Box::from)
}

/// A snapshot being fetched, filled page by page as a snapshot keeps credentials (no second,
/// full copy of every credential while the pages come, and no second table at the end).
#[derive(Default)]
pub(super) struct Fetched {
    by_user: HashMap<Box<str>, UserCredentials>,
    count: usize,
}

impl Fetched {
    /// Adds a page.
    pub(super) fn add(&mut self, page: impl Iterator<Item = CredentialMetadata>) {
        for c in page {
            self.count += 1;
            let key = c.user_name.to_lowercase();
            let user = self.by_user.entry(key.as_str().into()).or_default();
            if user.credentials.is_empty() {
                user.spelt = spelling(&key, Some(&c));
            }
            // IAM allows two per user and service: room for one, then two, not four (and
            // doubling past that, should an endpoint list more).
            if user.credentials.len() == user.credentials.capacity() {
                user.credentials
                    .reserve_exact(user.credentials.len().max(1));
            }
            user.credentials.push(Kept::of(&c));
        }
    }

    pub(super) fn len(&self) -> usize {
        self.count
    }
}

/// The snapshots of all services, and the users written while one is being fetched.
#[derive(Debug, Default)]
pub(super) struct Snapshots {
    services: HashMap<String, ServiceSnapshot>,
    /// Per service whose snapshot is being fetched: the users written since the fetch began.
    fetching: HashMap<String, HashSet<String>>,
    /// Users a write of unknown outcome went to, and when (see [`DISTRUST_CARRY`]).
    recently_distrusted: HashMap<String, Instant>,
}

/// What a snapshot says of one user.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// The user's credentials of the service (none: the user holds none, or does not exist).
    Listed(Vec<CredentialMetadata>),
    /// The user must be listed on their own.
    Distrusted,
    /// No snapshot of the service is young enough: one must be fetched.
    Missing,
}

impl Snapshots {
    /// What the snapshot of `service` no older than `max_age` says of `user`.
    pub(super) fn answer(&self, service: &str, user: &str, max_age: Duration) -> Answer {
        self.answer_if(service, user, |s| s.taken.elapsed() <= max_age)
    }

    /// What a snapshot of `service` whose fetch ended after `since` says of `user` (for a
    /// caller that waited for that fetch: it is as recent as anything it could ask for).
    pub(super) fn answer_fetched_since(&self, service: &str, user: &str, since: Instant) -> Answer {
        self.answer_if(service, user, |s| s.completed >= since)
    }

    fn answer_if(
        &self,
        service: &str,
        user: &str,
        usable: impl Fn(&ServiceSnapshot) -> bool,
    ) -> Answer {
        let Some(snapshot) = self.services.get(service).filter(|s| usable(s)) else {
            return Answer::Missing;
        };
        let user = user.to_lowercase();
        if snapshot.distrusted.contains(&user) {
            return Answer::Distrusted;
        }
        Answer::Listed(
            snapshot
                .by_user
                .get(user.as_str())
                .map(|kept| kept.expand(&user, service))
                .unwrap_or_default(),
        )
    }

    /// A fetch of `service` starts: writes from now on are remembered against it.
    pub(super) fn fetch_started(&mut self, service: &str) {
        self.fetching.insert(service.to_string(), HashSet::new());
    }

    /// A fetch of `service` failed.
    pub(super) fn fetch_failed(&mut self, service: &str) {
        self.fetching.remove(service);
    }

    /// A fetch that started at `taken` returned `credentials`: the new snapshot. Users written
    /// while it ran are distrusted (a page may have been read before or after the write).
    pub(super) fn fetched(&mut self, service: &str, taken: Instant, credentials: Fetched) {
        // Kept as filled: shrinking the table would copy it.
        let by_user = credentials.by_user;
        let mut distrusted = self.fetching.remove(service).unwrap_or_default();
        self.recently_distrusted
            .retain(|_, at| at.elapsed() < DISTRUST_CARRY);
        distrusted.extend(self.recently_distrusted.keys().cloned());
        self.services.insert(
            service.to_string(),
            ServiceSnapshot {
                taken,
                completed: Instant::now(),
                by_user,
                distrusted,
            },
        );
    }

    /// A per-user List answered `credentials` for `user`: newer than the snapshot, so it
    /// replaces the user's entry, which is trusted again (unless a fetch is running, which may
    /// still bring an older page of the user).
    pub(super) fn listed(&mut self, service: &str, user: &str, credentials: &[CredentialMetadata]) {
        let user = user.to_lowercase();
        if self.fetching.contains_key(service) {
            return;
        }
        let recent = self
            .recently_distrusted
            .get(&user)
            .is_some_and(|at| at.elapsed() < DISTRUST_CARRY);
        if let Some(snapshot) = self.services.get_mut(service) {
            if !recent {
                snapshot.distrusted.remove(&user);
            }
            let kept = UserCredentials::of(&user, credentials);
            snapshot.by_user.insert(user.into(), kept);
        }
    }

    /// A write of ours to `user`'s credentials (of `service`, when known) succeeded: apply it.
    pub(super) fn write_through(
        &mut self,
        user: &str,
        service: Option<&str>,
        change: impl Fn(&mut Vec<CredentialMetadata>),
    ) {
        let user = user.to_lowercase();
        self.note_fetching(&user, service);
        for (name, snapshot) in &mut self.services {
            if service.is_none_or(|s| s == name) {
                let entry = snapshot.by_user.entry(user.as_str().into()).or_default();
                let mut credentials = entry.expand(&user, name);
                change(&mut credentials);
                *entry = UserCredentials::of(&user, &credentials);
            }
        }
    }

    /// A write to `user`'s credentials failed: distrust the user until a List vouches for it;
    /// `unknown_outcome` (it may still take effect): for [`DISTRUST_CARRY`] whatever is listed.
    pub(super) fn distrust(&mut self, user: &str, unknown_outcome: bool) {
        let user = user.to_lowercase();
        self.note_fetching(&user, None);
        if unknown_outcome {
            self.recently_distrusted
                .insert(user.clone(), Instant::now());
        }
        for snapshot in self.services.values_mut() {
            snapshot.distrusted.insert(user.clone());
        }
    }

    fn note_fetching(&mut self, user: &str, service: Option<&str>) {
        for (name, written) in &mut self.fetching {
            if service.is_none_or(|s| s == name) {
                written.insert(user.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests;
