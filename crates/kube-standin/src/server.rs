//! Shared server state: the store, the resource registry, the clock, configuration.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::resources::ResourceDef;
use super::store::Store;
use super::{RecordedRequest, RequestMatcher, TokenUser};

pub(crate) struct Fault {
    pub matcher: RequestMatcher,
    /// The error status to answer with; 0: none (the request is only stalled).
    pub status: u16,
    pub remaining: usize,
    /// How long the request hangs before it is answered.
    pub stall: std::time::Duration,
}

pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub rev_tx: tokio::sync::watch::Sender<u64>,
    pub resources: Vec<Arc<ResourceDef>>,
    pub tokens: Vec<TokenUser>,
    pub gc: bool,
    pub gc_delay: Duration,
    pub bookmark_interval: Duration,
    pub owner_references_permission_enforcement: bool,
    pub watch_lag: Duration,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub record_requests: bool,
    pub faults: Mutex<Vec<Fault>>,
    pub frozen_time: Mutex<Option<jiff::Timestamp>>,
    pub shutdown: CancellationToken,
    /// Cancelled (and replaced) by `compact()`: ends every live watch like an apiserver restart.
    pub watch_reset: Mutex<CancellationToken>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn now(&self) -> jiff::Timestamp {
        lock(&self.frozen_time).unwrap_or_else(jiff::Timestamp::now)
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Wakes watchers and the garbage collector after a write.
    pub(crate) fn notify(&self) {
        let rev = self.store().rev;
        self.rev_tx.send_replace(rev);
    }

    pub(crate) fn find(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceDef>> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
    }

    /// The resource for an owner reference (`apiVersion` + `kind`).
    pub(crate) fn find_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceDef>> {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
            .or_else(|| {
                self.resources
                    .iter()
                    .find(|r| r.group == group && r.kind == kind)
            })
            .cloned()
    }

    pub(crate) fn group_versions(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in &self.resources {
            let v = out.entry(r.group.clone()).or_default();
            if !v.contains(&r.version) {
                v.push(r.version.clone());
            }
        }
        out
    }
}

/// Per-write request options.
#[derive(Clone, Debug)]
pub(crate) struct WriteCtx {
    /// The requesting user (`None` for the server's own controllers).
    pub user: Option<super::auth::User>,
    pub manager: String,
    pub dry_run: bool,
    pub fv: super::resources::FieldValidation,
    pub now: jiff::Timestamp,
}

/// Reads `metadata.<key>` as a string.
pub(crate) fn meta_str<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub(crate) fn meta_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(serde_json::Map::new());
    }
    obj["metadata"].as_object_mut().expect("metadata object")
}

pub(crate) fn finalizers(obj: &Value) -> Vec<String> {
    super::meta::string_list(obj.get("metadata").and_then(|m| m.get("finalizers")))
}

pub(crate) fn is_terminating(obj: &Value) -> bool {
    obj.get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|v| !v.is_null())
}
