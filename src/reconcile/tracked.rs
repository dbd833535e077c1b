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
use crate::reconcile::plan::Answered;
use crate::reconcile::repair::Repairs;
use crate::uid::UidKey;

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

/// What is kept of one resource; an entry with nothing in it is removed.
#[derive(Default)]
struct PerResource {
    /// Consecutive non-Ready outcomes.
    failures: Option<(Category, u32)>,
    /// No new attempt before this time unless the resource itself changed.
    not_before: Option<Box<NotBefore>>,
    /// The credential ids this process last recorded in its status, and its namespace.
    recorded: Option<Recorded>,
    /// The last versions our status writes replaced, until the cache shows a later one.
    superseded: Vec<Box<str>>,
    /// The repairs of its Secret (see `repair`).
    repairs: Repairs,
    /// A rotate request this process answered (a Reset, delivered to the Secret) that status
    /// may not show yet.
    answered: Option<Box<Answered>>,
}

struct Recorded {
    namespace: Box<str>,
    ids: Box<[Box<str>]>,
    /// The record write that holds them returned: the records list shows them.
    landed: bool,
}

impl PerResource {
    fn is_empty(&self) -> bool {
        self.failures.is_none()
            && self.not_before.is_none()
            && self.recorded.is_none()
            && self.superseded.is_empty()
            && self.repairs == Repairs::default()
            && self.answered.is_none()
    }
}

#[derive(Default)]
struct State {
    /// Per resource uid.
    resources: HashMap<UidKey, PerResource>,
    /// Credential ids this process recorded in a resource's status → that resource's uid.
    /// Claims are read from watch caches that can trail our own writes; these cannot. Kept
    /// until a record write holding them returned and the resource's cached copy shows our
    /// writes (see [`Tracked::trails_own_write`]).
    recorded: HashMap<Box<str>, UidKey>,
}

/// Versions kept per resource in [`PerResource::superseded`]: a pass writes status up to four
/// times.
const SUPERSEDED_KEPT: usize = 8;

impl State {
    /// The entry of `uid`, made if there is none.
    fn entry(&mut self, uid: &str) -> &mut PerResource {
        self.resources.entry(UidKey::of(uid)).or_default()
    }

    /// Applies `change` to the entry of `uid` if there is one, and drops it if left empty.
    fn change_existing(&mut self, uid: &UidKey, change: impl FnOnce(&mut PerResource)) {
        if let Some(entry) = self.resources.get_mut(uid) {
            change(entry);
            if entry.is_empty() {
                self.resources.remove(uid);
            }
        }
    }

    fn forget_recorded(&mut self, uid: &UidKey) {
        let Some(recorded) = self.resources.get_mut(uid).and_then(|r| r.recorded.take()) else {
            return;
        };
        for id in recorded.ids.iter() {
            if self.recorded.get(id).is_some_and(|holder| holder == uid) {
                self.recorded.remove(id);
            }
        }
        self.change_existing(uid, |_| {});
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
            state.change_existing(&UidKey::of(uid), |r| r.failures = None);
            return 0;
        }
        let failures = state.entry(uid).failures.get_or_insert((category, 0));
        if failures.0 == category {
            failures.1 = failures.1.saturating_add(1);
        } else {
            *failures = (category, 1);
        }
        failures.1 - 1
    }

    /// How long `resource` must still wait, if its backoff holds.
    pub(crate) fn waiting(&self, resource: &impl RotateRequested) -> Option<Duration> {
        let uid = UidKey::of(&resource.uid()?);
        let state = self.state();
        let entry = state.resources.get(&uid)?.not_before.as_ref()?;
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
                state.entry(&uid).not_before = Some(Box::new(NotBefore {
                    until: Instant::now() + after,
                    trigger: Trigger::of(resource),
                }));
            }
            None => state.change_existing(&UidKey::of(&uid), |r| r.not_before = None),
        }
    }

    /// Remembers `ids` as the ones the resource `uid` in `namespace` holds now.
    pub(crate) fn note_recorded<'a>(
        &self,
        uid: &str,
        namespace: &str,
        ids: impl IntoIterator<Item = &'a String>,
    ) {
        let key = UidKey::of(uid);
        let mut state = self.state();
        state.forget_recorded(&key);
        let ids: Box<[Box<str>]> = ids.into_iter().map(|id| id.as_str().into()).collect();
        if !ids.is_empty() {
            for id in ids.iter() {
                state.recorded.insert(id.clone(), key.clone());
            }
            state.entry(uid).recorded = Some(Recorded {
                namespace: namespace.into(),
                ids,
                landed: false,
            });
        }
    }

    /// A record write of the resource `uid` returned holding `held`: the ids last noted for it
    /// that it holds are in the records list from now on. (A write that holds fewer, such as
    /// one made from a status that never took them, vouches for nothing.)
    pub(crate) fn note_landed<'a>(&self, uid: &str, held: impl IntoIterator<Item = &'a String>) {
        let held: Vec<&str> = held.into_iter().map(String::as_str).collect();
        let mut state = self.state();
        if let Some(recorded) = state
            .resources
            .get_mut(&UidKey::of(uid))
            .and_then(|r| r.recorded.as_mut())
        {
            recorded.landed = recorded.ids.iter().all(|id| held.contains(&&**id));
        }
    }

    /// Who holds `id`, if this process recorded it for a resource other than `uid`: its
    /// namespace.
    pub(crate) fn recorded_elsewhere(&self, id: &str, uid: &str) -> Option<String> {
        let state = self.state();
        let holder = state.recorded.get(id).filter(|h| **h != UidKey::of(uid))?;
        let recorded = state.resources.get(holder)?.recorded.as_ref()?;
        Some(recorded.namespace.to_string())
    }

    /// Remembers that a status write of ours replaced version `version` of the resource `uid`.
    pub(crate) fn note_superseded(&self, uid: &str, version: String) {
        let mut state = self.state();
        let versions = &mut state.entry(uid).superseded;
        if versions.len() == SUPERSEDED_KEPT {
            versions.remove(0);
        }
        versions.push(version.into());
    }

    /// Whether `version` of the resource `uid` is one a status write of ours already replaced:
    /// a cached copy that trails our own write. (Only equality: versions are opaque.)
    ///
    /// A copy that does not trail shows our writes: the watch delivers versions in order, so no
    /// copy before it comes any more; the versions are forgotten then. So are the recorded ids
    /// once the record write that holds them returned (the records list, which claims read,
    /// shows them); ids whose record write failed stay claimed here. A resource at rest keeps
    /// nothing.
    pub(crate) fn trails_own_write(&self, uid: &str, version: Option<&str>) -> bool {
        let Some(version) = version else { return false };
        let uid = UidKey::of(uid);
        let mut state = self.state();
        let Some(entry) = state.resources.get(&uid) else {
            return false;
        };
        if entry.superseded.iter().any(|v| **v == *version) {
            return true;
        }
        let landed = entry.recorded.as_ref().is_some_and(|r| r.landed);
        state.change_existing(&uid, |r| r.superseded = Vec::new());
        if landed {
            state.forget_recorded(&uid);
        }
        false
    }

    /// Forgets the resource `uid` (its cleanup is done).
    pub(crate) fn forget(&self, uid: &str) {
        let uid = UidKey::of(uid);
        let mut state = self.state();
        state.forget_recorded(&uid);
        state.resources.remove(&uid);
    }

    /// This process answered a rotate request of `uid` with a Reset, whose password is being
    /// written to the Secret (noted before the write: its answer may be lost though it landed).
    pub(crate) fn note_answered(&self, uid: &str, answered: Answered) {
        self.state().entry(uid).answered = Some(Box::new(answered));
    }

    /// The rotate request this process last answered for `uid`, while status may not show it:
    /// forgotten once status shows it handled, the resource asks for another, or status names
    /// another credential.
    pub(crate) fn answered(
        &self,
        uid: &str,
        status: &crate::api::ServiceSpecificCredentialStatus,
        requested: Option<&str>,
    ) -> Option<Answered> {
        let uid = UidKey::of(uid);
        let mut state = self.state();
        let answered = state.resources.get(&uid)?.answered.as_deref()?;
        if answered.unrecorded_in(status, requested) {
            return Some(answered.clone());
        }
        state.change_existing(&uid, |r| r.answered = None);
        None
    }

    /// A repair of the resource's Secret was made at `now`.
    pub(crate) fn note_repair(&self, uid: &str, now: jiff::Timestamp) {
        let mut state = self.state();
        let repairs = &mut state.entry(uid).repairs;
        *repairs = repairs.after_one_at(now);
    }

    /// Whether the deferral of the resource's next repair is yet to be told (once per repair).
    pub(crate) fn tell_repair_deferred(&self, uid: &str) -> bool {
        let mut state = self.state();
        let repairs = &mut state.entry(uid).repairs;
        !std::mem::replace(&mut repairs.deferral_told, true)
    }

    /// The repairs of the resource's Secret so far.
    pub(crate) fn repairs(&self, uid: &str) -> Repairs {
        self.state()
            .resources
            .get(&UidKey::of(uid))
            .map(|r| r.repairs)
            .unwrap_or_default()
    }

    /// Forgets every resource whose uid is not in `live` (gone without a cleanup pass).
    pub(crate) fn retain_live(&self, live: &HashSet<UidKey>) {
        let mut state = self.state();
        state.resources.retain(|uid, _| live.contains(uid));
        state.recorded.retain(|_, holder| live.contains(holder));
    }

    /// How many resources have state (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state().resources.len()
    }
}

#[cfg(test)]
mod tests;
