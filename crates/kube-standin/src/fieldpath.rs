//! Field sets as structured-merge-diff (SMD) tracks them: the schema model, `ToFieldSet`,
//! `Compare`, the apply merge, and the `FieldsV1` wire format of `metadata.managedFields`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::gotypes::{GoStruct, ListKind, Ty};

/// The SMD view of a type.
#[derive(Clone, Debug)]
pub(crate) enum Smd {
    Scalar,
    /// A struct (named fields) and/or a map (`elem`). `atomic` = `x-kubernetes-map-type: atomic`.
    Struct {
        fields: BTreeMap<String, Smd>,
        elem: Option<Box<Smd>>,
        atomic: bool,
    },
    List {
        elem: Box<Smd>,
        kind: SmdList,
    },
    /// `__untyped_deduced_`: maps are granular, lists atomic, everything else a scalar.
    Deduced,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SmdList {
    Atomic,
    Set,
    Map(Vec<String>),
}

impl Smd {
    pub(crate) fn map_of(elem: Smd) -> Smd {
        Smd::Struct {
            fields: BTreeMap::new(),
            elem: Some(Box::new(elem)),
            atomic: false,
        }
    }

    /// Builds the SMD schema of a Go struct descriptor.
    pub(crate) fn from_go(s: &GoStruct) -> Smd {
        let mut fields = BTreeMap::new();
        for f in s.fields {
            fields.insert(f.json.to_string(), Smd::from_ty(&f.ty));
        }
        Smd::Struct {
            fields,
            elem: None,
            atomic: s.atomic,
        }
    }

    pub(crate) fn from_ty(ty: &Ty) -> Smd {
        match ty {
            Ty::Struct(s) => Smd::from_go(s),
            Ty::Map(e) => Smd::map_of(Smd::from_ty(e)),
            Ty::List(e, kind) => Smd::List {
                elem: Box::new(Smd::from_ty(e)),
                kind: match kind {
                    ListKind::Atomic => SmdList::Atomic,
                    ListKind::Set => SmdList::Set,
                    ListKind::Map(keys) => {
                        SmdList::Map(keys.iter().map(|k| k.to_string()).collect())
                    }
                },
            },
            Ty::Raw => Smd::Deduced,
            _ => Smd::Scalar,
        }
    }

    fn child(&self, key: &str) -> Option<&Smd> {
        match self {
            Smd::Struct { fields, elem, .. } => fields.get(key).or(elem.as_deref()),
            Smd::Deduced => Some(&Smd::Deduced),
            _ => None,
        }
    }

    fn is_declared_field(&self, key: &str) -> bool {
        matches!(self, Smd::Struct { fields, .. } if fields.contains_key(key))
    }
}

/// One path element.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Pe {
    Field(String),
    /// Canonical JSON of the key object (sorted keys).
    Key(String),
    /// Canonical JSON of the value.
    Value(String),
    Index(usize),
}

impl Pe {
    fn wire(&self) -> String {
        match self {
            Pe::Field(f) => format!("f:{f}"),
            Pe::Key(k) => format!("k:{k}"),
            Pe::Value(v) => format!("v:{v}"),
            Pe::Index(i) => format!("i:{i}"),
        }
    }

    fn parse(s: &str) -> Option<Pe> {
        let (prefix, rest) = s.split_at_checked(2)?;
        match prefix {
            "f:" => Some(Pe::Field(rest.to_string())),
            "k:" => {
                let v: Value = serde_json::from_str(rest).ok()?;
                Some(Pe::Key(canonical(&v)))
            }
            "v:" => {
                let v: Value = serde_json::from_str(rest).ok()?;
                Some(Pe::Value(canonical(&v)))
            }
            "i:" => rest.parse().ok().map(Pe::Index),
            _ => None,
        }
    }

    /// SMD's `PathElement.String()`.
    fn display(&self) -> String {
        match self {
            Pe::Field(f) => format!(".{f}"),
            Pe::Key(k) => {
                let v: Value = serde_json::from_str(k).unwrap_or(Value::Null);
                let parts: Vec<String> = v
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", canonical(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                format!("[{}]", parts.join(","))
            }
            Pe::Value(v) => format!("[={v}]"),
            Pe::Index(i) => format!("[{i}]"),
        }
    }
}

/// Canonical compact JSON (sorted keys).
pub(crate) fn canonical(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub(crate) type Path = Vec<Pe>;

pub(crate) fn path_string(p: &[Pe]) -> String {
    p.iter().map(Pe::display).collect()
}

/// A set of field paths, stored as a tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldSet {
    members: BTreeSet<Pe>,
    children: BTreeMap<Pe, FieldSet>,
}

impl FieldSet {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn from_paths(paths: &[&[&str]]) -> Self {
        let mut s = FieldSet::new();
        for p in paths {
            let path: Path = p.iter().map(|f| Pe::Field(f.to_string())).collect();
            s.insert(&path);
        }
        s
    }

    pub(crate) fn insert(&mut self, path: &[Pe]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    fn prune(mut self) -> Self {
        self.children.retain(|_, c| !c.is_empty());
        self
    }

    pub(crate) fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, c) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(c),
                None => c.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out.prune()
    }

    pub(crate) fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, c) in &self.children {
            let d = match other.children.get(pe) {
                Some(oc) => c.difference(oc),
                None => c.clone(),
            };
            if !d.is_empty() {
                children.insert(pe.clone(), d);
            }
        }
        FieldSet { members, children }
    }

    /// Removes everything in `other` and every descendant of a member of `other`.
    pub(crate) fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, c) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let d = match other.children.get(pe) {
                Some(oc) => c.recursive_difference(oc),
                None => c.clone(),
            };
            if !d.is_empty() {
                children.insert(pe.clone(), d);
            }
        }
        FieldSet { members, children }
    }

    pub(crate) fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, c) in &self.children {
            if let Some(oc) = other.children.get(pe) {
                let i = c.intersection(oc);
                if !i.is_empty() {
                    children.insert(pe.clone(), i);
                }
            }
        }
        FieldSet { members, children }
    }

    /// All member paths: members first, then children, as SMD iterates.
    pub(crate) fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(p);
        }
        for (pe, c) in &self.children {
            prefix.push(pe.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The `fieldsV1` JSON object.
    pub(crate) fn to_fields_v1(&self) -> Value {
        self.encode(false)
    }

    fn encode(&self, include_self: bool) -> Value {
        let mut m = Map::new();
        if include_self {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        let keys: BTreeSet<&Pe> = self.members.iter().chain(self.children.keys()).collect();
        for pe in keys {
            let v = match self.children.get(pe) {
                Some(c) => c.encode(self.members.contains(pe)),
                None => Value::Object(Map::new()),
            };
            m.insert(pe.wire(), v);
        }
        Value::Object(m)
    }

    pub(crate) fn from_fields_v1(v: &Value) -> Option<FieldSet> {
        let m = v.as_object()?;
        let mut s = FieldSet::new();
        for (k, cv) in m {
            if k == "." {
                continue;
            }
            let pe = Pe::parse(k)?;
            let cm = cv.as_object()?;
            if cm.is_empty() {
                s.members.insert(pe);
            } else {
                if cm.contains_key(".") {
                    s.members.insert(pe.clone());
                }
                let child = FieldSet::from_fields_v1(cv)?;
                if !child.is_empty() {
                    s.children.insert(pe, child);
                }
            }
        }
        Some(s)
    }
}

fn list_item_pe(kind: &SmdList, item: &Value, index: usize) -> Pe {
    match kind {
        SmdList::Set => Pe::Value(canonical(item)),
        SmdList::Map(keys) => {
            let mut k = Map::new();
            if let Some(obj) = item.as_object() {
                for key in keys {
                    if let Some(v) = obj.get(key) {
                        k.insert(key.clone(), v.clone());
                    }
                }
            }
            if k.is_empty() {
                Pe::Index(index)
            } else {
                Pe::Key(canonical(&Value::Object(k)))
            }
        }
        SmdList::Atomic => Pe::Index(index),
    }
}

/// SMD `ToFieldSet`.
pub(crate) fn to_field_set(v: &Value, schema: &Smd) -> FieldSet {
    let mut s = FieldSet::new();
    walk_set(v, schema, &mut Vec::new(), &mut s);
    s
}

fn walk_set(v: &Value, schema: &Smd, path: &mut Path, out: &mut FieldSet) {
    match schema {
        Smd::Scalar => out.insert(path),
        Smd::Deduced => match v {
            Value::Object(m) => walk_map(m, schema, path, out),
            _ => out.insert(path),
        },
        Smd::Struct { atomic: true, .. } => out.insert(path),
        Smd::Struct { .. } => {
            if let Value::Object(m) = v {
                walk_map(m, schema, path, out);
            }
        }
        Smd::List {
            kind: SmdList::Atomic,
            ..
        } => out.insert(path),
        Smd::List { elem, kind } => {
            if let Value::Array(a) = v {
                for (i, item) in a.iter().enumerate() {
                    path.push(list_item_pe(kind, item, i));
                    walk_set(item, elem, path, out);
                    out.insert(path);
                    path.pop();
                }
            }
        }
    }
}

fn walk_map(m: &Map<String, Value>, schema: &Smd, path: &mut Path, out: &mut FieldSet) {
    for (k, cv) in m {
        let Some(child) = schema.child(k) else {
            continue;
        };
        path.push(Pe::Field(k.clone()));
        walk_set(cv, child, path, out);
        let empty_map = cv.as_object().is_some_and(|o| o.is_empty());
        if cv.is_null() || empty_map || !schema.is_declared_field(k) {
            out.insert(path);
        }
        path.pop();
    }
}

/// SMD `Compare` result.
#[derive(Clone, Debug, Default)]
pub(crate) struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    pub(crate) fn exclude(&mut self, ignored: &FieldSet) {
        self.added = self.added.recursive_difference(ignored);
        self.modified = self.modified.recursive_difference(ignored);
        self.removed = self.removed.recursive_difference(ignored);
    }
}

pub(crate) fn compare(old: &Value, new: &Value, schema: &Smd) -> Comparison {
    let mut c = Comparison::default();
    cmp(Some(old), Some(new), schema, &mut Vec::new(), &mut c, false);
    c
}

fn leaf(lhs: Option<&Value>, rhs: Option<&Value>, path: &Path, c: &mut Comparison) {
    match (lhs, rhs) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        (Some(l), Some(r)) if l != r => c.modified.insert(path),
        _ => {}
    }
}

fn cmp(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    schema: &Smd,
    path: &mut Path,
    c: &mut Comparison,
    root_skip: bool,
) {
    if lhs.is_none() && rhs.is_none() {
        return;
    }
    let kind_mismatch = matches!((lhs, rhs), (Some(l), Some(r)) if !l.is_null() && !r.is_null()
        && (l.is_object() != r.is_object() || l.is_array() != r.is_array()));
    if kind_mismatch {
        leaf(lhs, rhs, path, c);
        return;
    }
    let in_leaf = cmp_node(lhs, rhs, schema, path, c);
    if !in_leaf && !root_skip && !path.is_empty() {
        if lhs.is_none() {
            c.added.insert(path);
        } else if rhs.is_none() {
            c.removed.insert(path);
        }
    }
}

/// Compares one node as its schema says: as a leaf (atomic, scalar or empty on both sides;
/// returns true) or by its fields or items (returns false).
fn cmp_node(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    schema: &Smd,
    path: &mut Path,
    c: &mut Comparison,
) -> bool {
    let lmap = lhs.and_then(Value::as_object);
    let rmap = rhs.and_then(Value::as_object);
    let larr = lhs.and_then(Value::as_array);
    let rarr = rhs.and_then(Value::as_array);
    let as_leaf = match schema {
        Smd::Scalar
        | Smd::Struct { atomic: true, .. }
        | Smd::List {
            kind: SmdList::Atomic,
            ..
        } => true,
        Smd::Deduced if lmap.is_none() && rmap.is_none() => true,
        Smd::Struct { .. } | Smd::Deduced => {
            lmap.is_none_or(Map::is_empty) && rmap.is_none_or(Map::is_empty)
        }
        Smd::List { .. } => larr.is_none_or(Vec::is_empty) && rarr.is_none_or(Vec::is_empty),
    };
    if as_leaf {
        leaf(lhs, rhs, path, c);
        return true;
    }
    match schema {
        Smd::List { elem, kind } => cmp_items(larr, rarr, elem, kind, path, c),
        _ => cmp_fields(lmap, rmap, schema, path, c),
    }
    false
}

/// Compares a map's or struct's fields, the union of both sides' keys (those the schema has).
fn cmp_fields(
    lmap: Option<&Map<String, Value>>,
    rmap: Option<&Map<String, Value>>,
    schema: &Smd,
    path: &mut Path,
    c: &mut Comparison,
) {
    let mut keys: BTreeSet<&String> = BTreeSet::new();
    if let Some(m) = lmap {
        keys.extend(m.keys());
    }
    if let Some(m) = rmap {
        keys.extend(m.keys());
    }
    for k in keys {
        let Some(child) = schema.child(k) else {
            continue;
        };
        path.push(Pe::Field(k.clone()));
        cmp(
            lmap.and_then(|m| m.get(k)),
            rmap.and_then(|m| m.get(k)),
            child,
            path,
            c,
            false,
        );
        path.pop();
    }
}

/// Compares a list's items by their path elements (index, value or keys, as the list type
/// says), in order of first appearance, left side first.
fn cmp_items(
    larr: Option<&Vec<Value>>,
    rarr: Option<&Vec<Value>>,
    elem: &Smd,
    kind: &SmdList,
    path: &mut Path,
    c: &mut Comparison,
) {
    let index = |a: Option<&Vec<Value>>| -> Vec<(Pe, Value)> {
        a.map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, v)| (list_item_pe(kind, v, i), v.clone()))
                .collect()
        })
        .unwrap_or_default()
    };
    let litems = index(larr);
    let ritems = index(rarr);
    let mut pes: Vec<Pe> = Vec::new();
    for (pe, _) in litems.iter().chain(ritems.iter()) {
        if !pes.contains(pe) {
            pes.push(pe.clone());
        }
    }
    for pe in pes {
        let l = litems.iter().find(|(p, _)| *p == pe).map(|(_, v)| v);
        let r = ritems.iter().find(|(p, _)| *p == pe).map(|(_, v)| v);
        path.push(pe);
        cmp(l, r, elem, path, c, false);
        path.pop();
    }
}

/// The apply merge: `config` merged into `live` following the schema.
pub(crate) fn merge(live: &Value, config: &Value, schema: &Smd) -> Value {
    match (schema, live, config) {
        (Smd::Struct { atomic: false, .. } | Smd::Deduced, Value::Object(l), Value::Object(r)) => {
            let mut out = l.clone();
            for (k, rv) in r {
                let merged = match (schema.child(k), l.get(k)) {
                    (Some(child), Some(lv)) => merge(lv, rv, child),
                    _ => rv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (
            Smd::List {
                elem,
                kind: kind @ (SmdList::Set | SmdList::Map(_)),
            },
            Value::Array(l),
            Value::Array(r),
        ) => {
            let mut out: Vec<Value> = Vec::new();
            let rpes: Vec<Pe> = r
                .iter()
                .enumerate()
                .map(|(i, v)| list_item_pe(kind, v, i))
                .collect();
            for (i, lv) in l.iter().enumerate() {
                let pe = list_item_pe(kind, lv, i);
                match rpes.iter().position(|p| *p == pe) {
                    Some(j) => out.push(merge(lv, &r[j], elem)),
                    None => out.push(lv.clone()),
                }
            }
            let lpes: Vec<Pe> = l
                .iter()
                .enumerate()
                .map(|(i, v)| list_item_pe(kind, v, i))
                .collect();
            for (j, rv) in r.iter().enumerate() {
                if !lpes.contains(&rpes[j]) {
                    out.push(rv.clone());
                }
            }
            Value::Array(out)
        }
        _ => config.clone(),
    }
}

/// Removes the fields at `paths` (leaf paths) from `v`.
pub(crate) fn remove_paths(v: &mut Value, set: &FieldSet, schema: &Smd) {
    let Some(m) = v.as_object_mut() else {
        if let (Value::Array(a), Smd::List { elem, kind }) = (v, schema) {
            let mut idx = 0usize;
            a.retain(|item| {
                let pe = list_item_pe(kind, item, idx);
                idx += 1;
                !set.members.contains(&pe)
            });
            for (i, item) in a.iter_mut().enumerate() {
                let pe = list_item_pe(kind, item, i);
                if let Some(c) = set.children.get(&pe) {
                    remove_paths(item, c, elem);
                }
            }
        }
        return;
    };
    for pe in &set.members {
        if let Pe::Field(f) = pe
            && !set.children.contains_key(pe)
        {
            m.remove(f);
        }
    }
    for (pe, c) in &set.children {
        if let Pe::Field(f) = pe
            && let (Some(child), Some(cv)) = (schema.child(f), m.get_mut(f))
        {
            remove_paths(cv, c, child);
        }
    }
}
