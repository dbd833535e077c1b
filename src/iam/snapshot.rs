//! Per-service snapshots of every user's credentials (from paged `List…` with `AllUsers=true`):
//! one snapshot answers the drift check of every resource of that service, so a resync costs
//! ⌈credentials ÷ 1,000⌉ List calls per service instead of one per user.
//!
//! A snapshot is kept exact for this process's own writes (written through) and distrusts a
//! user after a write whose outcome is unknown; such a user, or one written while the snapshot
//! was being fetched, is answered by a per-user List until the next snapshot.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::CredentialMetadata;

/// One service's credentials by user (lower-cased: IAM user names are case-insensitive).
#[derive(Debug)]
struct ServiceSnapshot {
    taken: Instant,
    by_user: HashMap<String, Vec<CredentialMetadata>>,
    /// Users this snapshot may not answer for (see the module doc).
    distrusted: HashSet<String>,
}

/// The snapshots of all services, and the users written while one is being fetched.
#[derive(Debug, Default)]
pub(super) struct Snapshots {
    services: HashMap<String, ServiceSnapshot>,
    /// Per service whose snapshot is being fetched: the users written since the fetch began.
    fetching: HashMap<String, HashSet<String>>,
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
        let Some(snapshot) = self
            .services
            .get(service)
            .filter(|s| s.taken.elapsed() <= max_age)
        else {
            return Answer::Missing;
        };
        let user = user.to_lowercase();
        if snapshot.distrusted.contains(&user) {
            return Answer::Distrusted;
        }
        Answer::Listed(snapshot.by_user.get(&user).cloned().unwrap_or_default())
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
    pub(super) fn fetched(
        &mut self,
        service: &str,
        taken: Instant,
        credentials: Vec<CredentialMetadata>,
    ) {
        let mut by_user: HashMap<String, Vec<CredentialMetadata>> = HashMap::new();
        for c in credentials {
            by_user
                .entry(c.user_name.to_lowercase())
                .or_default()
                .push(c);
        }
        let distrusted = self.fetching.remove(service).unwrap_or_default();
        self.services.insert(
            service.to_string(),
            ServiceSnapshot {
                taken,
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
        if let Some(snapshot) = self.services.get_mut(service) {
            snapshot.distrusted.remove(&user);
            snapshot.by_user.insert(user, credentials.to_vec());
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
                change(snapshot.by_user.entry(user.clone()).or_default());
            }
        }
    }

    /// A write to `user`'s credentials may or may not have happened: distrust the user.
    pub(super) fn distrust(&mut self, user: &str) {
        let user = user.to_lowercase();
        self.note_fetching(&user, None);
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
mod tests {
    use super::*;
    use crate::iam::CredentialStatus;
    use jiff::Timestamp;

    const SERVICE: &str = "codecommit.amazonaws.com";
    const AGE: Duration = Duration::from_secs(600);

    fn cred(id: &str, user: &str) -> CredentialMetadata {
        CredentialMetadata {
            id: id.into(),
            user_name: user.into(),
            service_name: SERVICE.into(),
            service_user_name: Some(format!("{user}-at-123456789012")),
            alias: None,
            status: CredentialStatus::Active,
            create_date: Timestamp::UNIX_EPOCH,
            expiration_date: None,
        }
    }

    fn ids(answer: Answer) -> Vec<String> {
        match answer {
            Answer::Listed(list) => list.into_iter().map(|c| c.id).collect(),
            other => panic!("not listed: {other:?}"),
        }
    }

    fn fetched(snapshots: &mut Snapshots, credentials: Vec<CredentialMetadata>) {
        snapshots.fetch_started(SERVICE);
        snapshots.fetched(SERVICE, Instant::now(), credentials);
    }

    #[test]
    fn one_snapshot_answers_every_user_case_insensitively() {
        let mut s = Snapshots::default();
        assert_eq!(s.answer(SERVICE, "Sofia", AGE), Answer::Missing);
        fetched(
            &mut s,
            vec![cred("A1", "Sofia"), cred("A2", "sofia"), cred("B1", "bot")],
        );
        assert_eq!(ids(s.answer(SERVICE, "SOFIA", AGE)), ["A1", "A2"]);
        assert_eq!(ids(s.answer(SERVICE, "bot", AGE)), ["B1"]);
        assert!(ids(s.answer(SERVICE, "nobody", AGE)).is_empty());
        assert_eq!(s.answer("logs.amazonaws.com", "bot", AGE), Answer::Missing);
        assert_eq!(s.answer(SERVICE, "bot", Duration::ZERO), Answer::Missing);
    }

    #[test]
    fn own_writes_are_applied_and_unknown_outcomes_distrust_the_user() {
        let mut s = Snapshots::default();
        fetched(&mut s, vec![cred("A1", "sofia")]);
        s.write_through("Sofia", Some(SERVICE), |list| {
            list.push(cred("A2", "sofia"))
        });
        assert_eq!(ids(s.answer(SERVICE, "sofia", AGE)), ["A1", "A2"]);
        s.write_through("sofia", None, |list| list.retain(|c| c.id != "A1"));
        assert_eq!(ids(s.answer(SERVICE, "sofia", AGE)), ["A2"]);
        s.distrust("SOFIA");
        assert_eq!(s.answer(SERVICE, "sofia", AGE), Answer::Distrusted);
        s.listed(SERVICE, "sofia", &[cred("A3", "sofia")]);
        assert_eq!(ids(s.answer(SERVICE, "sofia", AGE)), ["A3"]);
    }

    #[test]
    fn users_written_during_a_fetch_are_not_answered_from_it() {
        let mut s = Snapshots::default();
        s.fetch_started(SERVICE);
        // Created after the fetch read sofia's page: the pages miss it.
        s.write_through("sofia", Some(SERVICE), |list| {
            list.push(cred("A2", "sofia"))
        });
        s.distrust("bot");
        // A per-user List during the fetch cannot vouch for what the fetch will bring.
        s.listed(SERVICE, "bot", &[]);
        s.fetched(SERVICE, Instant::now(), vec![cred("A1", "sofia")]);
        assert_eq!(s.answer(SERVICE, "sofia", AGE), Answer::Distrusted);
        assert_eq!(s.answer(SERVICE, "bot", AGE), Answer::Distrusted);
        assert_eq!(ids(s.answer(SERVICE, "anika", AGE)), Vec::<String>::new());
    }
}
