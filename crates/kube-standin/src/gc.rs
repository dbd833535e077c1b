//! kube-controller-manager's garbage collector and namespace controller, run asynchronously a few
//! milliseconds after each write: dependents whose owners (matched by uid) are all gone are
//! deleted, dangling references next to live owners are removed, foreground/orphan finalizers
//! are processed, and terminating namespaces are emptied and then removed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Value, json};

use super::handlers::{
    DeleteOpts, Deleted, Mf, do_delete, do_update, res_key, spec_finalizers, with_spec_finalizers,
};
use super::resources::{FieldValidation, KindImpl, ResourceDef};
use super::server::{Shared, WriteCtx, finalizers, is_terminating, meta_str};
use super::store::{ObjKey, ResKey, Store};

pub(crate) async fn run(sh: Arc<Shared>) {
    let mut rx = sh.rev_tx.subscribe();
    loop {
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = sh.shutdown.cancelled() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(sh.gc_delay) => {}
            _ = sh.shutdown.cancelled() => return,
        }
        // Mark as seen before looking, so writes made meanwhile trigger another round.
        rx.borrow_and_update();
        // Several passes: a deletion can make further objects collectable.
        for _ in 0..8 {
            if !pass(&sh) {
                break;
            }
            sh.notify();
        }
    }
}

enum OwnerState {
    Solid,
    /// Present, being deleted in the foreground.
    DeletingForeground,
    Absent,
    /// The kind cannot be resolved: the GC leaves the dependent alone.
    Unknown,
}

struct Index<'a> {
    sh: &'a Shared,
    by_key: BTreeMap<(ResKey, ObjKey), Arc<Value>>,
}

impl Index<'_> {
    fn owner_state(&self, dependent_ns: &str, r: &Value) -> OwnerState {
        let api_version = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = r.get("name").and_then(Value::as_str).unwrap_or("");
        let uid = r.get("uid").and_then(Value::as_str).unwrap_or("");
        let Some(def) = self.sh.find_kind(api_version, kind) else {
            return OwnerState::Unknown;
        };
        let ns = if def.namespaced {
            dependent_ns.to_string()
        } else {
            String::new()
        };
        match self.by_key.get(&(res_key(&def), (ns, name.to_string()))) {
            Some(o) if meta_str(o, "uid") == uid => {
                if is_terminating(o) && finalizers(o).iter().any(|f| f == "foregroundDeletion") {
                    OwnerState::DeletingForeground
                } else {
                    OwnerState::Solid
                }
            }
            _ => OwnerState::Absent,
        }
    }
}

fn ctx(sh: &Shared) -> WriteCtx {
    WriteCtx {
        user: None,
        manager: "kube-controller-manager".into(),
        dry_run: false,
        fv: FieldValidation::Ignore,
        now: sh.now(),
    }
}

fn def_for(sh: &Shared, res: &ResKey) -> Option<Arc<ResourceDef>> {
    sh.resources
        .iter()
        .find(|d| d.group == res.0 && d.plural == res.1)
        .cloned()
}

/// One collection pass; true if anything changed.
fn pass(sh: &Shared) -> bool {
    let mut st = sh.store();
    let all = st.all();
    let index = Index {
        sh,
        by_key: all
            .iter()
            .map(|(r, k, v)| ((r.clone(), k.clone()), v.clone()))
            .collect(),
    };
    let mut changed = false;
    if sh.gc {
        changed |= collect_dependents(sh, &mut st, &index, &all);
        changed |= process_owner_finalizers(sh, &mut st, &all);
    }
    changed |= namespaces(sh, &mut st, &all);
    changed
}

fn collect_dependents(
    sh: &Shared,
    st: &mut Store,
    index: &Index<'_>,
    all: &[(ResKey, ObjKey, Arc<Value>)],
) -> bool {
    let mut changed = false;
    for (res, key, obj) in all {
        let Some(refs) = obj
            .get("metadata")
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        if refs.is_empty() {
            continue;
        }
        let Some(def) = def_for(sh, res) else {
            continue;
        };
        let states: Vec<OwnerState> = refs.iter().map(|r| index.owner_state(&key.0, r)).collect();
        if states.iter().any(|s| matches!(s, OwnerState::Unknown)) {
            continue;
        }
        let solid = states
            .iter()
            .filter(|s| matches!(s, OwnerState::Solid))
            .count();
        let foreground = states
            .iter()
            .filter(|s| matches!(s, OwnerState::DeletingForeground))
            .count();
        let absent = states
            .iter()
            .filter(|s| matches!(s, OwnerState::Absent))
            .count();
        if solid == 0 {
            if is_terminating(obj) {
                continue;
            }
            let propagation = if foreground > 0 {
                "Foreground"
            } else {
                "Background"
            };
            let opts = DeleteOpts {
                propagation: Some(propagation.into()),
                ..DeleteOpts::default()
            };
            if let Ok(Deleted::Gone(_) | Deleted::Pending(_)) =
                do_delete(st, &def, key, &opts, sh.now())
            {
                changed = true;
            }
        } else if absent > 0 {
            // Remove the dangling references, keep the object.
            let kept: Vec<Value> = refs
                .iter()
                .zip(states.iter())
                .filter(|(_, s)| !matches!(s, OwnerState::Absent))
                .map(|(r, _)| r.clone())
                .collect();
            let mut new = (**obj).clone();
            new["metadata"]["ownerReferences"] = json!(kept);
            if do_update(st, &def, None, obj, new, Mf::Update, &ctx(sh)).is_ok() {
                changed = true;
            }
        }
    }
    changed
}

/// Objects being deleted with the `orphan` or `foregroundDeletion` finalizer: orphaning takes
/// the owner's references out of its dependents; foreground deletion waits while a dependent
/// blocks it. Then the finalizer goes.
fn process_owner_finalizers(
    sh: &Shared,
    st: &mut Store,
    all: &[(ResKey, ObjKey, Arc<Value>)],
) -> bool {
    let mut changed = false;
    for (res, key, obj) in all {
        if !is_terminating(obj) {
            continue;
        }
        let fins = finalizers(obj);
        let orphan = fins.iter().any(|f| f == "orphan");
        let foreground = fins.iter().any(|f| f == "foregroundDeletion");
        if !orphan && !foreground {
            continue;
        }
        let uid = meta_str(obj, "uid").to_string();
        let dependents: Vec<&(ResKey, ObjKey, Arc<Value>)> = all
            .iter()
            .filter(|(_, _, d)| refs_to(d, &uid).next().is_some())
            .collect();
        let Some(def) = def_for(sh, res) else {
            continue;
        };
        if orphan {
            for (dres, _, dep) in &dependents {
                changed |= orphan_dependent(sh, st, dres, dep, &uid);
            }
        } else if dependents.iter().any(|(_, _, d)| {
            refs_to(d, &uid)
                .any(|r| r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true))
        }) {
            continue;
        }
        changed |= remove_owner_finalizers(sh, st, &def, res, key);
    }
    changed
}

/// The owner references of `d` to the owner with `uid`.
fn refs_to<'a>(d: &'a Value, uid: &'a str) -> impl Iterator<Item = &'a Value> {
    d.get("metadata")
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |r| r.get("uid").and_then(Value::as_str) == Some(uid))
}

/// Takes the references to the owner with `uid` out of the stored dependent; true if updated.
fn orphan_dependent(sh: &Shared, st: &mut Store, dres: &ResKey, dep: &Value, uid: &str) -> bool {
    let Some(ddef) = def_for(sh, dres) else {
        return false;
    };
    let Some(cur) = st.get(
        dres,
        &(
            meta_str(dep, "namespace").to_string(),
            meta_str(dep, "name").to_string(),
        ),
    ) else {
        return false;
    };
    let mut new = (*cur).clone();
    let kept: Vec<Value> = cur["metadata"]["ownerReferences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| r.get("uid").and_then(Value::as_str) != Some(uid))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if kept.is_empty() {
        if let Some(m) = new["metadata"].as_object_mut() {
            m.remove("ownerReferences");
        }
    } else {
        new["metadata"]["ownerReferences"] = json!(kept);
    }
    do_update(st, &ddef, None, &cur, new, Mf::Update, &ctx(sh)).is_ok()
}

/// Takes `orphan` and `foregroundDeletion` out of the stored object's finalizers; true if
/// updated.
fn remove_owner_finalizers(
    sh: &Shared,
    st: &mut Store,
    def: &ResourceDef,
    res: &ResKey,
    key: &ObjKey,
) -> bool {
    let Some(cur) = st.get(res, key) else {
        return false;
    };
    let remaining: Vec<String> = finalizers(&cur)
        .into_iter()
        .filter(|f| f != "orphan" && f != "foregroundDeletion")
        .collect();
    let mut new = (*cur).clone();
    if remaining.is_empty() {
        if let Some(m) = new["metadata"].as_object_mut() {
            m.remove("finalizers");
        }
    } else {
        new["metadata"]["finalizers"] = json!(remaining);
    }
    do_update(st, def, None, &cur, new, Mf::Update, &ctx(sh)).is_ok()
}

fn namespaces(sh: &Shared, st: &mut Store, all: &[(ResKey, ObjKey, Arc<Value>)]) -> bool {
    let mut changed = false;
    let terminating: BTreeSet<String> = all
        .iter()
        .filter(|(r, _, o)| r.0.is_empty() && r.1 == "namespaces" && is_terminating(o))
        .map(|(_, k, _)| k.1.clone())
        .collect();
    for ns in terminating {
        let mut remaining = 0;
        for (res, key, obj) in all
            .iter()
            .filter(|(r, k, _)| k.0 == ns && !(r.0.is_empty() && r.1 == "namespaces"))
        {
            remaining += 1;
            if is_terminating(obj) {
                continue;
            }
            let Some(def) = def_for(sh, res) else {
                continue;
            };
            if do_delete(st, &def, key, &DeleteOpts::default(), sh.now()).is_ok() {
                changed = true;
            }
        }
        if remaining == 0 {
            changed |= finalize_namespace(sh, st, &ns);
        }
    }
    changed
}

/// All content is gone: the namespace controller takes its `kubernetes` token out of
/// `spec.finalizers` (PUT /finalize); the update removes the namespace once no finalizer is
/// left. Other `spec.finalizers` keep it Terminating.
fn finalize_namespace(sh: &Shared, st: &mut Store, ns: &str) -> bool {
    let nskey: ResKey = (String::new(), String::from("namespaces"));
    let Some(def) = def_for(sh, &nskey).filter(|d| matches!(d.imp, KindImpl::Namespace)) else {
        return false;
    };
    let Some(cur) = st.get(&nskey, &(String::new(), ns.to_string())) else {
        return false;
    };
    let fins = spec_finalizers(&cur);
    let kept: Vec<String> = fins
        .iter()
        .filter(|f| *f != "kubernetes")
        .cloned()
        .collect();
    if kept.len() == fins.len() && !kept.is_empty() {
        return false;
    }
    let new = with_spec_finalizers(&cur, kept);
    let before = st.rev;
    do_update(st, &def, Some("finalize"), &cur, new, Mf::Update, &ctx(sh)).is_ok()
        && st.rev != before
}
