//! What the reconcile loop remembers per resource between passes: consecutive failures (for
//! backoff), the time before which it is not attempted again, and the credential ids this
//! process recorded in its status. Entries of resources that are gone without a cleanup pass (a
//! tenant removed the finalizer by hand) are pruned against the watch caches, so that the state
//! never grows with resources that no longer exist.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use kube::ResourceExt;

use crate::reconcile::cache::RotateRequested;
use crate::reconcile::failure::Category;
use crate::reconcile::repair::Repairs;

/// A backoff that holds whatever watch events arrive: the operator's own status writes (and any
/// other change that is not the user's) do not bring the next attempt forward. A change of the
/// spec, the rotate annotation or a deletion does.
#[derive(Clone, Debug, PartialEq, Eq)]
struct NotBefore {
    until: Instant,
    trigger: Trigger,
}

/// What a user changes to ask for a new attempt at once.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Trigger {
    generation: Option<i64>,
    rotate: Option<String>,
    deleting: bool,
}

impl Trigger {
    fn of(resource: &impl RotateRequested) -> Trigger {
        Trigger {
            generation: resource.meta().generation,
            rotate: resource.rotate_request().map(str::to_string),
            deleting: resource.meta().deletion_timestamp.is_some(),
        }
    }
}

#[derive(Default)]
struct State {
    /// Consecutive non-Ready outcomes per resource uid.
    failures: HashMap<String, (Category, u32)>,
    /// Per resource uid: no new attempt before this time unless the resource itself changed.
    not_before: HashMap<String, NotBefore>,
    /// Credential ids this process recorded in a resource's status: id → (resource uid,
    /// namespace). Claims are read from watch caches that can trail our own writes; these cannot.
    recorded: HashMap<String, (String, String)>,
    /// The same by resource uid: the ids it holds (so that replacing them is not a scan).
    recorded_by_holder: HashMap<String, Vec<String>>,
    /// Per resource uid: the last versions our status writes replaced.
    superseded: HashMap<String, Vec<String>>,
    /// Per resource uid: the repairs of its Secret (see `repair`).
    repairs: HashMap<String, Repairs>,
}

/// Versions kept per resource in [`State::superseded`]: a pass writes status up to four times.
const SUPERSEDED_KEPT: usize = 8;

impl State {
    fn forget_recorded(&mut self, uid: &str) {
        for id in self.recorded_by_holder.remove(uid).unwrap_or_default() {
            if self
                .recorded
                .get(&id)
                .is_some_and(|(holder, _)| holder == uid)
            {
                self.recorded.remove(&id);
            }
        }
    }
}

/// Per-resource state of the reconcile loop, keyed by uid.
#[derive(Default)]
pub(crate) struct Tracked {
    state: Mutex<State>,
}

impl Tracked {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("tracked state lock")
    }

    /// Counts an outcome: the 0-based number of consecutive times `category` ended a pass (0
    /// and a fresh start for a Ready reason).
    pub(crate) fn attempt(&self, uid: &str, category: Category) -> u32 {
        let mut state = self.state();
        if category.is_ready() {
            state.failures.remove(uid);
            return 0;
        }
        let entry = state
            .failures
            .entry(uid.to_string())
            .or_insert((category, 0));
        if entry.0 == category {
            entry.1 = entry.1.saturating_add(1);
        } else {
            *entry = (category, 1);
        }
        entry.1 - 1
    }

    /// How long `resource` must still wait, if its backoff holds.
    pub(crate) fn waiting(&self, resource: &impl RotateRequested) -> Option<Duration> {
        let uid = resource.uid()?;
        let state = self.state();
        let entry = state.not_before.get(&uid)?;
        (entry.trigger == Trigger::of(resource))
            .then(|| entry.until.checked_duration_since(Instant::now()))
            .flatten()
    }

    /// Records when `resource` may be attempted again (`None`: whenever it changes).
    pub(crate) fn hold_off(&self, resource: &impl RotateRequested, after: Option<Duration>) {
        let Some(uid) = resource.uid() else { return };
        let mut state = self.state();
        match after {
            Some(after) => {
                state.not_before.insert(
                    uid,
                    NotBefore {
                        until: Instant::now() + after,
                        trigger: Trigger::of(resource),
                    },
                );
            }
            None => {
                state.not_before.remove(&uid);
            }
        }
    }

    /// Remembers `ids` as the ones the resource `uid` in `namespace` holds now.
    pub(crate) fn note_recorded<'a>(
        &self,
        uid: &str,
        namespace: &str,
        ids: impl IntoIterator<Item = &'a String>,
    ) {
        let mut state = self.state();
        state.forget_recorded(uid);
        let ids: Vec<String> = ids.into_iter().cloned().collect();
        for id in &ids {
            state
                .recorded
                .insert(id.clone(), (uid.to_string(), namespace.to_string()));
        }
        if !ids.is_empty() {
            state.recorded_by_holder.insert(uid.to_string(), ids);
        }
    }

    /// Who holds `id`, if this process recorded it for a resource other than `uid`: its
    /// namespace.
    pub(crate) fn recorded_elsewhere(&self, id: &str, uid: &str) -> Option<String> {
        self.state()
            .recorded
            .get(id)
            .filter(|(holder, _)| holder != uid)
            .map(|(_, ns)| ns.clone())
    }

    /// Remembers that a status write of ours replaced version `version` of the resource `uid`.
    pub(crate) fn note_superseded(&self, uid: &str, version: String) {
        let mut state = self.state();
        let versions = state.superseded.entry(uid.to_string()).or_default();
        if versions.len() == SUPERSEDED_KEPT {
            versions.remove(0);
        }
        versions.push(version);
    }

    /// Whether `version` of the resource `uid` is one a status write of ours already replaced:
    /// a cached copy that trails our own write. (Only equality: versions are opaque.)
    pub(crate) fn trails_own_write(&self, uid: &str, version: Option<&str>) -> bool {
        let Some(version) = version else { return false };
        self.state()
            .superseded
            .get(uid)
            .is_some_and(|versions| versions.iter().any(|v| v == version))
    }

    /// Forgets the resource `uid` (its cleanup is done).
    pub(crate) fn forget(&self, uid: &str) {
        let mut state = self.state();
        state.failures.remove(uid);
        state.not_before.remove(uid);
        state.superseded.remove(uid);
        state.repairs.remove(uid);
        state.forget_recorded(uid);
    }

    /// A repair of the resource's Secret was made at `now`.
    pub(crate) fn note_repair(&self, uid: &str, now: jiff::Timestamp) {
        let mut state = self.state();
        let repairs = state.repairs.entry(uid.to_string()).or_default();
        *repairs = repairs.after_one_at(now);
    }

    /// Whether the deferral of the resource's next repair is yet to be told (once per repair).
    pub(crate) fn tell_repair_deferred(&self, uid: &str) -> bool {
        let mut state = self.state();
        let repairs = state.repairs.entry(uid.to_string()).or_default();
        !std::mem::replace(&mut repairs.deferral_told, true)
    }

    /// The repairs of the resource's Secret so far.
    pub(crate) fn repairs(&self, uid: &str) -> Repairs {
        self.state().repairs.get(uid).copied().unwrap_or_default()
    }

    /// Forgets every resource whose uid is not in `live` (gone without a cleanup pass).
    pub(crate) fn retain_live(&self, live: &HashSet<String>) {
        let mut state = self.state();
        state.failures.retain(|uid, _| live.contains(uid));
        state.not_before.retain(|uid, _| live.contains(uid));
        state.superseded.retain(|uid, _| live.contains(uid));
        state.repairs.retain(|uid, _| live.contains(uid));
        state
            .recorded
            .retain(|_, (holder, _)| live.contains(holder));
        state.recorded_by_holder.retain(|uid, _| live.contains(uid));
    }

    /// How many resources have state (for tests and metrics).
    #[cfg(test)]
    fn len(&self) -> usize {
        let state = self.state();
        let mut uids: HashSet<&String> = state.failures.keys().collect();
        uids.extend(state.not_before.keys());
        uids.extend(state.superseded.keys());
        uids.extend(state.recorded.values().map(|(uid, _)| uid));
        uids.len()
    }
}

#[cfg(test)]
mod tests;
