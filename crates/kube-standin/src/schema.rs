//! Structural-schema handling for custom resources: pruning, defaulting, OpenAPI validation with
//! kube-openapi's messages, `x-kubernetes-validations` CEL rules (via kube-cel), and the
//! field-management schema derived from `openAPIV3Schema`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::fieldpath::{Smd, SmdList};
use super::gotypes::OBJECT_META;
use super::status::{BadValue, ErrType, FieldError};

/// The schema of one served CRD version.
pub(crate) struct CrdSchema {
    pub root: Value,
    pub smd: Smd,
    cel: Option<std::sync::Mutex<kube_cel::CompiledSchema>>,
    regexes: std::sync::Mutex<BTreeMap<String, Option<regex::Regex>>>,
}

impl std::fmt::Debug for CrdSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrdSchema").finish_non_exhaustive()
    }
}

fn has_rules(s: &Value) -> bool {
    match s {
        Value::Object(m) => {
            m.get("x-kubernetes-validations")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
                || m.values().any(has_rules)
        }
        Value::Array(a) => a.iter().any(has_rules),
        _ => false,
    }
}

fn schema_type(s: &Value) -> &str {
    s.get("type").and_then(Value::as_str).unwrap_or("")
}

fn flag(s: &Value, key: &str) -> bool {
    s.get(key).and_then(Value::as_bool) == Some(true)
}

/// Translates a Go RE2 pattern into the `regex` crate's syntax: Perl classes are ASCII-only in Go.
pub(crate) fn go_regex(pattern: &str) -> Option<regex::Regex> {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let repl = match (n, in_class) {
                    ('w', false) => "[0-9A-Za-z_]",
                    ('W', false) => "[^0-9A-Za-z_]",
                    ('d', false) => "[0-9]",
                    ('D', false) => "[^0-9]",
                    ('s', false) => "[\\t\\n\\x0C\\r ]",
                    ('S', false) => "[^\\t\\n\\x0C\\r ]",
                    ('b', false) => "(?-u:\\b)",
                    ('B', false) => "(?-u:\\B)",
                    ('w', true) => "0-9A-Za-z_",
                    ('d', true) => "0-9",
                    ('s', true) => "\\t\\n\\x0C\\r ",
                    ('W', true) => "[:^word:]",
                    ('D', true) => "[:^digit:]",
                    ('S', true) => "[:^space:]",
                    _ => {
                        out.push('\\');
                        out.push(n);
                        continue;
                    }
                };
                out.push_str(repl);
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            '[' if in_class => {
                // POSIX class like [:alpha:] inside a bracket expression
                if chars.peek() == Some(&':') {
                    out.push('[');
                } else {
                    out.push_str("\\[");
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    regex::Regex::new(&out).ok()
}

impl CrdSchema {
    pub(crate) fn new(root: &Value) -> CrdSchema {
        let mut smd = smd_from_schema(root);
        if let Smd::Struct { fields, .. } = &mut smd {
            fields.insert("apiVersion".into(), Smd::Scalar);
            fields.insert("kind".into(), Smd::Scalar);
            fields.insert("metadata".into(), Smd::from_go(&OBJECT_META));
        }
        let cel = has_rules(root).then(|| std::sync::Mutex::new(kube_cel::compile_schema(root)));
        CrdSchema {
            root: root.clone(),
            smd,
            cel,
            regexes: std::sync::Mutex::new(BTreeMap::new()),
        }
    }

    pub(crate) fn has_cel(&self) -> bool {
        self.cel.is_some()
    }

    /// Prunes unknown fields (reporting them), drops non-nullable nulls and applies defaults.
    /// The root keeps `apiVersion`, `kind` and `metadata`.
    pub(crate) fn prune_and_default(&self, obj: &mut Value, unknown: &mut Vec<String>) {
        let Some(m) = obj.as_object_mut() else { return };
        let meta = m.remove("metadata");
        let api_version = m.remove("apiVersion");
        let kind = m.remove("kind");
        prune_default(obj, &self.root, "", unknown);
        let m = obj.as_object_mut().expect("object");
        if let Some(v) = meta {
            m.insert("metadata".into(), v);
        }
        if let Some(v) = api_version {
            m.insert("apiVersion".into(), v);
        }
        if let Some(v) = kind {
            m.insert("kind".into(), v);
        }
    }

    /// OpenAPI validation of everything but `apiVersion`, `kind` and `metadata`.
    pub(crate) fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut body = obj.clone();
        if let Some(m) = body.as_object_mut() {
            m.remove("metadata");
            m.remove("apiVersion");
            m.remove("kind");
        }
        self.validate_node(&body, &self.root, "", &mut errs);
        errs
    }

    /// `x-kubernetes-validations` rules; transition rules only when `old` is given.
    pub(crate) fn validate_cel(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let Some(cel) = &self.cel else {
            return Vec::new();
        };
        let compiled = cel.lock().unwrap_or_else(|e| e.into_inner());
        let result = kube_cel::validate_compiled(&compiled, obj, old);
        drop(compiled);
        let Err(errors) = result else {
            return Vec::new();
        };
        errors
            .iter()
            .map(|e| {
                let ty = self.type_at(&e.field_path);
                let field = if e.field_path.is_empty() {
                    "<nil>".to_string()
                } else {
                    e.field_path.clone()
                };
                match e.reason.as_deref() {
                    Some("FieldValueForbidden") => FieldError::forbidden(&field, &e.message),
                    Some("FieldValueRequired") => FieldError::required(&field, &e.message),
                    Some("FieldValueDuplicate") => {
                        FieldError::new(ErrType::Duplicate, &field, BadValue::Str(ty), &e.message)
                    }
                    _ => FieldError::invalid(&field, BadValue::Str(ty), &e.message),
                }
            })
            .collect()
    }

    fn type_at(&self, path: &str) -> String {
        let mut s = &self.root;
        for seg in path.split('.').filter(|p| !p.is_empty()) {
            let name = seg.split('[').next().unwrap_or(seg);
            let indexed = seg.contains('[');
            let next = s
                .get("properties")
                .and_then(|p| p.get(name))
                .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()));
            match next {
                Some(n) => s = n,
                None => return "object".into(),
            }
            if indexed && let Some(items) = s.get("items") {
                s = items;
            }
        }
        let t = schema_type(s);
        if t.is_empty() {
            "object".into()
        } else {
            t.into()
        }
    }

    fn regex(&self, pattern: &str) -> Option<regex::Regex> {
        let mut cache = self.regexes.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(pattern.to_string())
            .or_insert_with(|| go_regex(pattern))
            .clone()
    }

    /// Validates one value against its schema node, reporting in kube-openapi's order: the type,
    /// the bounds of strings, numbers and arrays, `enum`, then an object's bounds and properties.
    fn validate_node(&self, v: &Value, s: &Value, path: &str, errs: &mut Vec<FieldError>) {
        let display = if path.is_empty() { "." } else { path };
        if !check_type(v, s, path, display, errs) {
            return;
        }
        match v {
            Value::String(sv) => self.validate_string(sv, s, path, display, errs),
            Value::Number(_) => validate_number(v, s, path, display, errs),
            Value::Array(a) => self.validate_array(a, s, path, display, errs),
            _ => {}
        }
        validate_enum(v, s, path, errs);
        if let Value::Object(m) = v {
            self.validate_object(m, s, path, display, errs);
        }
    }

    /// `maxLength`, `minLength`, `pattern` and `format`.
    fn validate_string(
        &self,
        sv: &str,
        s: &Value,
        field: &str,
        display: &str,
        errs: &mut Vec<FieldError>,
    ) {
        let len = sv.chars().count() as i64;
        if let Some(max) = s.get("maxLength").and_then(Value::as_i64)
            && len > max
        {
            errs.push(FieldError::too_long_max_length(field, max));
        }
        if let Some(min) = s.get("minLength").and_then(Value::as_i64)
            && len < min
        {
            errs.push(FieldError::invalid(
                field,
                BadValue::Str(sv.to_string()),
                &format!("{display} in body should be at least {min} chars long"),
            ));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            let ok = self.regex(p).is_some_and(|re| re.is_match(sv));
            if !ok {
                errs.push(FieldError::invalid(
                    field,
                    BadValue::Str(sv.to_string()),
                    &format!("{display} in body should match '{p}'"),
                ));
            }
        }
        if let Some(f) = s.get("format").and_then(Value::as_str)
            && !format_ok(f, sv)
        {
            errs.push(FieldError::type_invalid(
                field,
                BadValue::Str(sv.to_string()),
                &format!(
                    "{display} in body must be of type {f}: {}",
                    super::status::go_quote(sv)
                ),
            ));
        }
    }

    /// `maxItems`, `minItems`, `uniqueItems`, the items themselves and `x-kubernetes-list-type`.
    fn validate_array(
        &self,
        a: &[Value],
        s: &Value,
        field: &str,
        display: &str,
        errs: &mut Vec<FieldError>,
    ) {
        let bounds = CountBounds {
            keys: ("maxItems", "minItems"),
            noun: "items",
            shown_as: "[]interface {}{...}",
        };
        bounds.check(a.len(), s, field, display, errs);
        if flag(s, "uniqueItems") {
            push_duplicates(a, field, errs);
        }
        if let Some(items) = s.get("items") {
            for (i, item) in a.iter().enumerate() {
                self.validate_node(item, items, &format!("{field}[{i}]"), errs);
            }
        }
        self.validate_list_type(a, s, field, errs);
    }

    /// `maxProperties`, `minProperties`, `required`, then each property against its schema
    /// (`properties`, else an object `additionalProperties`).
    fn validate_object(
        &self,
        m: &serde_json::Map<String, Value>,
        s: &Value,
        path: &str,
        display: &str,
        errs: &mut Vec<FieldError>,
    ) {
        let bounds = CountBounds {
            keys: ("maxProperties", "minProperties"),
            noun: "properties",
            shown_as: "map[string]interface {}{...}",
        };
        bounds.check(m.len(), s, path, display, errs);
        if let Some(Value::Array(req)) = s.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if !m.contains_key(r) {
                    errs.push(FieldError::required(&join(path, r), ""));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, cv) in m {
            if let Some(ps) = props.and_then(|p| p.get(k)) {
                self.validate_node(cv, ps, &join(path, k), errs);
            } else if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
                self.validate_node(cv, ap, &join(path, k), errs);
            }
        }
    }

    fn validate_list_type(&self, a: &[Value], s: &Value, field: &str, errs: &mut Vec<FieldError>) {
        match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => push_duplicates(a, field, errs),
            Some("map") => {
                let keys: Vec<&str> = s
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|k| k.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let key_of = |item: &Value| -> Vec<Option<Value>> {
                    keys.iter().map(|k| item.get(*k).cloned()).collect()
                };
                for (i, item) in a.iter().enumerate() {
                    let k = key_of(item);
                    if a[..i].iter().any(|o| key_of(o) == k) {
                        let shown: Vec<String> = keys
                            .iter()
                            .zip(k.iter())
                            .map(|(name, v)| {
                                format!(
                                    "\"{name}\"={}",
                                    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
                                )
                            })
                            .collect();
                        errs.push(FieldError::new(
                            ErrType::Duplicate,
                            &format!("{field}[{i}]"),
                            BadValue::Raw(format!(
                                "map[string]interface {{}}{{{}}}",
                                shown.join(", ")
                            )),
                            "",
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whether validation goes on below this node. A null stops it, reported unless the node is
/// `nullable` or untyped; so does a value of the wrong type, which is reported.
fn check_type(
    v: &Value,
    s: &Value,
    field: &str,
    display: &str,
    errs: &mut Vec<FieldError>,
) -> bool {
    let t = schema_type(s);
    if v.is_null() {
        if flag(s, "nullable") || s.get("type").is_none() {
            return false;
        }
        errs.push(FieldError::type_invalid(
            field,
            BadValue::Str("null".into()),
            &format!("{display} in body must be of type {t}: \"null\""),
        ));
        return false;
    }
    let int_or_string = flag(s, "x-kubernetes-int-or-string");
    let actual = json_type(v);
    let type_ok = if int_or_string {
        matches!(actual, "integer" | "string")
    } else {
        match t {
            "" => true,
            "number" => matches!(actual, "integer" | "number"),
            other => other == actual,
        }
    };
    if !type_ok {
        let expected = if int_or_string { "integer,string" } else { t };
        errs.push(FieldError::type_invalid(
            field,
            BadValue::Str(actual.into()),
            &format!("{display} in body must be of type {expected}: \"{actual}\""),
        ));
    }
    type_ok
}

/// The OpenAPI type name of a JSON value (a whole number is an `integer`).
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Null => "null",
    }
}

/// `multipleOf`, `maximum` and `minimum` (with their `exclusive` flags).
fn validate_number(v: &Value, s: &Value, field: &str, display: &str, errs: &mut Vec<FieldError>) {
    let f = v.as_f64().unwrap_or(0.0);
    let bad = BadValue::from_json(v);
    if let Some(m) = s.get("multipleOf").and_then(Value::as_f64)
        && m != 0.0
        && (f / m).fract() != 0.0
    {
        errs.push(FieldError::invalid(
            field,
            bad.clone(),
            &format!(
                "{display} in body should be a multiple of {}",
                schema_number(&s["multipleOf"])
            ),
        ));
    }
    if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
        let excl = flag(s, "exclusiveMaximum");
        if f > max || (excl && f == max) {
            let word = if excl {
                "less than"
            } else {
                "less than or equal to"
            };
            errs.push(FieldError::invalid(
                field,
                bad.clone(),
                &format!(
                    "{display} in body should be {word} {}",
                    schema_number(&s["maximum"])
                ),
            ));
        }
    }
    if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
        let excl = flag(s, "exclusiveMinimum");
        if f < min || (excl && f == min) {
            let word = if excl {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errs.push(FieldError::invalid(
                field,
                bad,
                &format!(
                    "{display} in body should be {word} {}",
                    schema_number(&s["minimum"])
                ),
            ));
        }
    }
}

/// A schema's numeric bound as Go prints it: an integer as such, else a Go float.
fn schema_number(x: &Value) -> String {
    match x.as_i64() {
        Some(i) => i.to_string(),
        None => super::status::go_float(x.as_f64().unwrap_or(0.0)),
    }
}

/// `enum`: the value must be one of the listed ones.
fn validate_enum(v: &Value, s: &Value, field: &str, errs: &mut Vec<FieldError>) {
    if let Some(Value::Array(allowed)) = s.get("enum")
        && !allowed.contains(v)
    {
        let vals: Vec<String> = allowed
            .iter()
            .map(|a| match a {
                Value::String(s) => s.clone(),
                other => serde_json::to_string(other).unwrap_or_default(),
            })
            .collect();
        errs.push(FieldError::not_supported(
            field,
            BadValue::from_json(v),
            &vals,
        ));
    }
}

/// A Duplicate error for each item equal to an earlier one.
fn push_duplicates(a: &[Value], field: &str, errs: &mut Vec<FieldError>) {
    for (i, item) in a.iter().enumerate() {
        if a[..i].contains(item) {
            errs.push(FieldError::new(
                ErrType::Duplicate,
                &format!("{field}[{i}]"),
                BadValue::from_json(item),
                "",
            ));
        }
    }
}

static DATE_TIME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$",
    )
    .expect("regex")
});
static DATE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"^\d{4}-\d{2}-\d{2}$").expect("regex"));
static UUID: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
        .expect("regex")
});

/// The string formats kube-apiserver validates in custom resources (others are ignored).
fn format_ok(format: &str, v: &str) -> bool {
    use base64::Engine;
    match format {
        "date-time" | "datetime" => DATE_TIME.is_match(v),
        "date" => DATE.is_match(v),
        "uuid" | "uuid3" | "uuid4" | "uuid5" => UUID.is_match(v),
        "byte" => base64::engine::general_purpose::STANDARD.decode(v).is_ok(),
        _ => true,
    }
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

fn prune_default(v: &mut Value, s: &Value, path: &str, unknown: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            let props = s.get("properties").and_then(Value::as_object);
            let additional = s.get("additionalProperties").filter(|a| a.is_object());
            let preserve = flag(s, "x-kubernetes-preserve-unknown-fields");
            let embedded = flag(s, "x-kubernetes-embedded-resource");
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let child_schema = props.and_then(|p| p.get(&k)).or(additional);
                match child_schema {
                    Some(cs) => {
                        let is_null = m.get(&k).is_some_and(Value::is_null);
                        if is_null && !flag(cs, "nullable") {
                            match cs.get("default") {
                                Some(d) => {
                                    m.insert(k.clone(), d.clone());
                                }
                                None => {
                                    m.remove(&k);
                                    continue;
                                }
                            }
                        }
                        if let Some(cv) = m.get_mut(&k) {
                            prune_default(cv, cs, &join(path, &k), unknown);
                        }
                    }
                    None => {
                        if embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                            continue;
                        }
                        if !preserve {
                            unknown.push(join(path, &k));
                            m.remove(&k);
                        }
                    }
                }
            }
            if let Some(props) = props {
                for (k, ps) in props {
                    if !m.contains_key(k)
                        && let Some(d) = ps.get("default")
                    {
                        let mut d = d.clone();
                        prune_default(&mut d, ps, &join(path, k), &mut Vec::new());
                        m.insert(k.clone(), d);
                    }
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = s.get("items") {
                for (i, item) in a.iter_mut().enumerate() {
                    if item.is_null()
                        && !flag(items, "nullable")
                        && let Some(d) = items.get("default")
                    {
                        *item = d.clone();
                    }
                    prune_default(item, items, &format!("{path}[{i}]"), unknown);
                }
            }
        }
        _ => {}
    }
}

/// The SMD schema of a structural schema node.
pub(crate) fn smd_from_schema(s: &Value) -> Smd {
    if flag(s, "x-kubernetes-int-or-string") {
        return Smd::Scalar;
    }
    match schema_type(s) {
        "object" => {
            let mut fields = BTreeMap::new();
            if let Some(Value::Object(props)) = s.get("properties") {
                for (k, ps) in props {
                    fields.insert(k.clone(), smd_from_schema(ps));
                }
            }
            let elem = if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
                Some(Box::new(smd_from_schema(ap)))
            } else if flag(s, "x-kubernetes-preserve-unknown-fields") {
                Some(Box::new(Smd::Deduced))
            } else {
                None
            };
            if flag(s, "x-kubernetes-embedded-resource") {
                fields.entry("apiVersion".into()).or_insert(Smd::Scalar);
                fields.entry("kind".into()).or_insert(Smd::Scalar);
                fields
                    .entry("metadata".into())
                    .or_insert_with(|| Smd::from_go(&OBJECT_META));
            }
            let atomic = s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
            Smd::Struct {
                fields,
                elem,
                atomic,
            }
        }
        "array" => {
            let elem = s.get("items").map(smd_from_schema).unwrap_or(Smd::Deduced);
            let kind = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => SmdList::Set,
                Some("map") => SmdList::Map(
                    s.get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|k| {
                            k.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                _ => SmdList::Atomic,
            };
            Smd::List {
                elem: Box::new(elem),
                kind,
            }
        }
        "" if flag(s, "x-kubernetes-preserve-unknown-fields") => Smd::Deduced,
        _ => Smd::Scalar,
    }
}

/// The `max…`/`min…` bounds on how many items or properties a value has.
struct CountBounds {
    /// The schema keys of the upper and lower bound.
    keys: (&'static str, &'static str),
    noun: &'static str,
    /// How kube-apiserver shows the value in the error (Go's `%#v` of its type).
    shown_as: &'static str,
}

impl CountBounds {
    fn check(
        &self,
        count: usize,
        s: &Value,
        path: &str,
        display: &str,
        errs: &mut Vec<FieldError>,
    ) {
        let count = count as i64;
        if let Some(max) = s.get(self.keys.0).and_then(Value::as_i64)
            && count > max
        {
            errs.push(FieldError::too_many(path, count, max));
        }
        if let Some(min) = s.get(self.keys.1).and_then(Value::as_i64)
            && count < min
        {
            errs.push(FieldError::invalid(
                path,
                BadValue::Raw(self.shown_as.into()),
                &format!("{display} in body should have at least {min} {}", self.noun),
            ));
        }
    }
}
