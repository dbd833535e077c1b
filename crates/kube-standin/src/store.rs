//! The object store: one global revision counter (like etcd), objects per resource, and the event
//! history the watch cache serves (with compaction and snapshots at older revisions).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};

/// (group, plural)
pub(crate) type ResKey = (String, String);
/// (namespace, name); namespace is "" for cluster-scoped objects.
pub(crate) type ObjKey = (String, String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EvType {
    Added,
    Modified,
    Deleted,
}

#[derive(Clone, Debug)]
pub(crate) struct HistEvent {
    pub rv: u64,
    pub res: ResKey,
    pub key: ObjKey,
    pub typ: EvType,
    pub prev: Option<Arc<Value>>,
    pub obj: Option<Arc<Value>>,
}

#[derive(Debug)]
pub(crate) struct Store {
    pub rev: u64,
    objects: BTreeMap<ResKey, BTreeMap<ObjKey, Arc<Value>>>,
    history: VecDeque<HistEvent>,
    /// Watches and exact reads are possible from this revision on.
    pub history_start: u64,
    capacity: usize,
}

pub(crate) fn set_rv(obj: &mut Value, rv: u64) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("resourceVersion".into(), json!(rv.to_string()));
    }
}

pub(crate) fn rv_of(obj: &Value) -> u64 {
    obj.get("metadata")
        .and_then(|m| m.get("resourceVersion"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

impl Store {
    pub(crate) fn new(capacity: usize) -> Store {
        Store {
            rev: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_start: 1,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, res: &ResKey, key: &ObjKey) -> Option<Arc<Value>> {
        self.objects.get(res).and_then(|m| m.get(key)).cloned()
    }

    fn push(&mut self, ev: HistEvent) {
        self.history.push_back(ev);
        while self.history.len() > self.capacity {
            if let Some(old) = self.history.pop_front() {
                self.history_start = old.rv;
            }
        }
    }

    /// Stores a new or changed object at the next revision; returns the stored object.
    pub(crate) fn put(&mut self, res: &ResKey, key: &ObjKey, mut obj: Value) -> Arc<Value> {
        self.rev += 1;
        set_rv(&mut obj, self.rev);
        let obj = Arc::new(obj);
        let prev = self
            .objects
            .entry(res.clone())
            .or_default()
            .insert(key.clone(), obj.clone());
        let typ = if prev.is_some() {
            EvType::Modified
        } else {
            EvType::Added
        };
        self.push(HistEvent {
            rv: self.rev,
            res: res.clone(),
            key: key.clone(),
            typ,
            prev,
            obj: Some(obj.clone()),
        });
        obj
    }

    /// Removes an object at the next revision; returns its last state with the deletion revision.
    pub(crate) fn remove(&mut self, res: &ResKey, key: &ObjKey) -> Option<Arc<Value>> {
        let prev = self.objects.get_mut(res)?.remove(key)?;
        self.rev += 1;
        self.push(HistEvent {
            rv: self.rev,
            res: res.clone(),
            key: key.clone(),
            typ: EvType::Deleted,
            prev: Some(prev.clone()),
            obj: None,
        });
        let mut last = (*prev).clone();
        set_rv(&mut last, self.rev);
        Some(Arc::new(last))
    }

    /// Current objects of a resource (optionally one namespace), sorted by namespace/name.
    pub(crate) fn list(&self, res: &ResKey, ns: Option<&str>) -> Vec<(ObjKey, Arc<Value>)> {
        self.objects
            .get(res)
            .map(|m| {
                m.iter()
                    .filter(|((n, _), _)| ns.is_none_or(|x| x == n))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every stored object of every resource.
    pub(crate) fn all(&self) -> Vec<(ResKey, ObjKey, Arc<Value>)> {
        let mut out = Vec::new();
        for (res, m) in &self.objects {
            for (k, v) in m {
                out.push((res.clone(), k.clone(), v.clone()));
            }
        }
        out
    }

    /// The objects of a resource as they were at revision `rv`; `None` if compacted.
    pub(crate) fn snapshot(
        &self,
        res: &ResKey,
        ns: Option<&str>,
        rv: u64,
    ) -> Option<Vec<(ObjKey, Arc<Value>)>> {
        if rv < self.history_start {
            return None;
        }
        let mut state: BTreeMap<ObjKey, Arc<Value>> = self.list(res, None).into_iter().collect();
        for ev in self.history.iter().rev() {
            if ev.rv <= rv {
                break;
            }
            if ev.res != *res {
                continue;
            }
            match &ev.prev {
                Some(p) => {
                    state.insert(ev.key.clone(), p.clone());
                }
                None => {
                    state.remove(&ev.key);
                }
            }
        }
        Some(
            state
                .into_iter()
                .filter(|((n, _), _)| ns.is_none_or(|x| x == n))
                .collect(),
        )
    }

    /// Events after `rv` (all resources); `Err(history_start)` when `rv` is too old.
    pub(crate) fn events_after(&self, rv: u64) -> Result<Vec<HistEvent>, u64> {
        if rv < self.history_start {
            return Err(self.history_start);
        }
        let start = self.history.partition_point(|e| e.rv <= rv);
        Ok(self.history.iter().skip(start).cloned().collect())
    }

    /// Drops all history: older revisions become unavailable (410 Expired).
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.history_start = self.rev;
    }
}
