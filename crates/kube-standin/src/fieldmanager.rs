//! `metadata.managedFields` bookkeeping as kube-apiserver's field manager does it: Update
//! operations (ownership of changed fields moves to the writer), server-side apply with conflicts,
//! the strip of server-owned metadata, and the encoding order of the entries.

use serde_json::{Map, Value, json};

use super::fieldpath::{FieldSet, Smd, compare, merge, path_string, remove_paths, to_field_set};
use super::status::{ApiError, go_quote};

const MAX_UPDATE_MANAGERS: usize = 10;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: String,
    pub set: FieldSet,
}

impl Entry {
    /// SMD's manager identifier: JSON of the entry without time/fields (apiVersion only for Update).
    pub(crate) fn identifier(&self) -> String {
        let mut m = Vec::new();
        if !self.manager.is_empty() {
            m.push(format!(
                "\"manager\":{}",
                serde_json::to_string(&self.manager).unwrap_or_default()
            ));
        }
        m.push(format!("\"operation\":\"{}\"", self.operation));
        if self.operation == "Update" && !self.api_version.is_empty() {
            m.push(format!(
                "\"apiVersion\":{}",
                serde_json::to_string(&self.api_version).unwrap_or_default()
            ));
        }
        if !self.subresource.is_empty() {
            m.push(format!(
                "\"subresource\":{}",
                serde_json::to_string(&self.subresource).unwrap_or_default()
            ));
        }
        format!("{{{}}}", m.join(","))
    }

    fn same_key(
        &self,
        manager: &str,
        operation: &str,
        api_version: &str,
        subresource: &str,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == "Apply" || self.api_version == api_version)
    }

    /// `printManager` of the conflict messages.
    fn print(&self) -> String {
        let mut s = go_quote(&self.manager);
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {}", go_quote(&self.subresource));
        }
        if self.operation == "Update" {
            s = format!("{s} using {}", self.api_version);
        }
        s
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Managed {
    pub entries: Vec<Entry>,
}

fn seconds(t: &Option<String>) -> i64 {
    t.as_deref()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
        .unwrap_or(0)
}

impl Managed {
    /// Decodes `metadata.managedFields`; `None` when absent or undecodable.
    pub(crate) fn decode(v: Option<&Value>) -> Option<Managed> {
        let a = v?.as_array()?;
        let mut entries = Vec::new();
        for e in a {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let set = match e.get("fieldsV1") {
                Some(f) => FieldSet::from_fields_v1(f)?,
                None => FieldSet::new(),
            };
            entries.push(Entry {
                manager: s("manager"),
                operation: s("operation"),
                api_version: s("apiVersion"),
                time: e.get("time").and_then(Value::as_str).map(str::to_string),
                subresource: s("subresource"),
                set,
            });
        }
        Some(Managed { entries })
    }

    /// The managed fields a write starts from: those sent in the request unless absent/empty
    /// (then the live object's); `[{}]` resets them.
    pub(crate) fn live_or_new(
        live: Option<&Value>,
        new: Option<&Value>,
        ignore_new: bool,
    ) -> Managed {
        if !ignore_new && let Some(Value::Array(a)) = new {
            if a.len() == 1
                && a[0].as_object().is_some_and(|o| {
                    o.is_empty() || (o.get("manager").is_none() && o.get("apiVersion").is_none())
                })
            {
                return Managed::default();
            }
            if !a.is_empty()
                && let Some(m) = Managed::decode(new)
            {
                return m;
            }
        }
        Managed::decode(live).unwrap_or_default()
    }

    /// Encodes in the server's order: Apply before Update, then by time, manager, apiVersion, subresource.
    pub(crate) fn encode(&self) -> Value {
        let mut entries = self.entries.clone();
        entries.sort_by(|p, q| {
            p.operation
                .cmp(&q.operation)
                .then(seconds(&p.time).cmp(&seconds(&q.time)))
                .then(p.manager.cmp(&q.manager))
                .then(p.api_version.cmp(&q.api_version))
                .then(p.subresource.cmp(&q.subresource))
        });
        Value::Array(
            entries
                .iter()
                .map(|e| {
                    let mut m = Map::new();
                    if !e.manager.is_empty() {
                        m.insert("manager".into(), json!(e.manager));
                    }
                    m.insert("operation".into(), json!(e.operation));
                    if !e.api_version.is_empty() {
                        m.insert("apiVersion".into(), json!(e.api_version));
                    }
                    if let Some(t) = &e.time {
                        m.insert("time".into(), json!(t));
                    }
                    m.insert("fieldsType".into(), json!("FieldsV1"));
                    m.insert("fieldsV1".into(), e.set.to_fields_v1());
                    if !e.subresource.is_empty() {
                        m.insert("subresource".into(), json!(e.subresource));
                    }
                    Value::Object(m)
                })
                .collect(),
        )
    }

    fn drop_empty(&mut self) {
        self.entries.retain(|e| !e.set.is_empty());
    }

    /// Merges the oldest Update entries into "ancient-changes" buckets beyond the cap of 10.
    fn cap_update_managers(&mut self) {
        let updaters = self
            .entries
            .iter()
            .filter(|e| e.operation == "Update")
            .count();
        if updaters <= MAX_UPDATE_MANAGERS {
            return;
        }
        let mut order: Vec<usize> = (0..self.entries.len())
            .filter(|i| self.entries[*i].operation == "Update")
            .collect();
        order.sort_by(|a, b| {
            let (ea, eb) = (&self.entries[*a], &self.entries[*b]);
            seconds(&ea.time)
                .cmp(&seconds(&eb.time))
                .then(ea.manager.cmp(&eb.manager))
        });
        let mut length = order.len();
        let mut remove = Vec::new();
        let mut first_by_version: Vec<(String, usize)> = Vec::new();
        for i in order {
            if length <= MAX_UPDATE_MANAGERS {
                break;
            }
            let version = self.entries[i].api_version.clone();
            if let Some((_, first)) = first_by_version.iter().find(|(v, _)| *v == version) {
                let first = *first;
                let set = self.entries[i].set.clone();
                let time = self.entries[i].time.clone();
                let bucket = &mut self.entries[first];
                bucket.manager = "ancient-changes".into();
                bucket.subresource = String::new();
                bucket.set = bucket.set.union(&set);
                bucket.time = time;
                remove.push(i);
                length -= 1;
            } else {
                first_by_version.push((version, i));
            }
        }
        remove.sort_unstable();
        for i in remove.into_iter().rev() {
            self.entries.remove(i);
        }
    }
}

/// Fields the server owns: stripped from every manager's set.
pub(crate) fn strip_set() -> FieldSet {
    FieldSet::from_paths(&[
        &["apiVersion"],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
    ])
}

fn without_managed_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    v
}

/// Who is writing, and through which endpoint.
pub(crate) struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub subresource: &'a str,
    pub schema: &'a Smd,
    /// Fields reset by the strategy of this endpoint (`status` on the main resource, `spec` on /status).
    pub ignored: &'a FieldSet,
    pub now: &'a str,
}

/// An Update operation (create, update, non-apply patch): returns the new managed fields.
pub(crate) fn update(mut managed: Managed, live: &Value, new: &Value, w: &Writer<'_>) -> Managed {
    let live = without_managed_fields(live);
    let new = without_managed_fields(new);
    let mut cmp = compare(&live, &new, w.schema);
    cmp.exclude(w.ignored);
    let changed = cmp.modified.union(&cmp.added);
    for e in &mut managed.entries {
        e.set = e.set.difference(&changed).difference(&cmp.removed);
    }
    let current = changed
        .recursive_difference(w.ignored)
        .difference(&strip_set());
    if !current.is_empty() {
        match managed
            .entries
            .iter_mut()
            .find(|e| e.same_key(w.manager, "Update", w.api_version, w.subresource))
        {
            Some(e) => {
                e.set = e.set.union(&current);
                e.time = Some(w.now.to_string());
            }
            None => managed.entries.push(Entry {
                manager: w.manager.to_string(),
                operation: "Update".into(),
                api_version: w.api_version.to_string(),
                time: Some(w.now.to_string()),
                subresource: w.subresource.to_string(),
                set: current,
            }),
        }
    }
    managed.drop_empty();
    managed.cap_update_managers();
    managed
}

/// A server-side apply: returns the merged object and the new managed fields, or a 409 conflict.
pub(crate) fn apply(
    mut managed: Managed,
    live: &Value,
    config: &Value,
    force: bool,
    w: &Writer<'_>,
) -> Result<(Value, Managed), ApiError> {
    let live = without_managed_fields(live);
    let config = without_managed_fields(config);
    let me = managed
        .entries
        .iter()
        .position(|e| e.same_key(w.manager, "Apply", "", w.subresource));
    let last_set = me
        .map(|i| managed.entries[i].set.clone())
        .unwrap_or_default();
    let new_set = to_field_set(&config, w.schema)
        .recursive_difference(w.ignored)
        .difference(&strip_set());
    let mut merged = merge(&live, &config, w.schema);
    // Fields this manager applied before, no longer applies, and nobody else owns are removed.
    let mut others = FieldSet::new();
    for (i, e) in managed.entries.iter().enumerate() {
        if Some(i) != me {
            others = others.union(&e.set);
        }
    }
    let to_remove = last_set.difference(&new_set).difference(&others);
    if !to_remove.is_empty() {
        remove_paths(&mut merged, &to_remove, w.schema);
    }
    let mut cmp = compare(&live, &merged, w.schema);
    cmp.exclude(w.ignored);
    let changed = cmp.modified.union(&cmp.added);
    let mut conflicts: Vec<(usize, FieldSet)> = Vec::new();
    for (i, e) in managed.entries.iter().enumerate() {
        if Some(i) == me {
            continue;
        }
        let c = e.set.intersection(&changed);
        if !c.is_empty() {
            conflicts.push((i, c));
        }
    }
    if !force && !conflicts.is_empty() {
        return Err(conflict_error(&managed, &conflicts));
    }
    for (i, c) in &conflicts {
        managed.entries[*i].set = managed.entries[*i].set.difference(c);
    }
    for (i, e) in managed.entries.iter_mut().enumerate() {
        if Some(i) != me {
            e.set = e.set.difference(&cmp.removed);
        }
    }
    let changed_object = merged != live;
    match me {
        Some(i) => {
            let e = &mut managed.entries[i];
            e.set = new_set;
            e.api_version = w.api_version.to_string();
            if changed_object || e.time.is_none() {
                e.time = Some(w.now.to_string());
            }
        }
        None => managed.entries.push(Entry {
            manager: w.manager.to_string(),
            operation: "Apply".into(),
            api_version: w.api_version.to_string(),
            time: Some(w.now.to_string()),
            subresource: w.subresource.to_string(),
            set: new_set,
        }),
    }
    managed.drop_empty();
    managed.cap_update_managers();
    Ok((merged, managed))
}

fn conflict_error(managed: &Managed, conflicts: &[(usize, FieldSet)]) -> ApiError {
    let mut by_manager: Vec<(String, &Entry, Vec<String>)> = conflicts
        .iter()
        .map(|(i, set)| {
            let e = &managed.entries[*i];
            (
                e.identifier(),
                e,
                set.paths().iter().map(|p| path_string(p)).collect(),
            )
        })
        .collect();
    // Causes: one per (manager, path); the real server's order follows Go map iteration.
    by_manager.sort_by(|a, b| b.0.cmp(&a.0));
    let mut causes = Vec::new();
    for (_, e, paths) in &by_manager {
        for p in paths {
            causes.push(json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {}", e.print()),
                "field": p,
            }));
        }
    }
    let total: usize = by_manager.iter().map(|(_, _, p)| p.len()).sum();
    let message = if total == 1 {
        let (_, e, p) = &by_manager[0];
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            e.print(),
            p[0]
        )
    } else {
        by_manager.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lines = Vec::new();
        for (_, e, paths) in &by_manager {
            lines.push(format!("conflicts with {}:", e.print()));
            for p in paths {
                lines.push(format!("- {p}"));
            }
        }
        format!("Apply failed with {total} conflicts: {}", lines.join("\n"))
    };
    ApiError::new(409, "Conflict", &message, Some(json!({ "causes": causes })))
}
