//! Descriptors of the Go structs the API server serves (field order, omitempty, list types), used to
//! decode request bodies the way Go's `encoding/json` does, to re-encode answers in Go struct order
//! with Go's string escaping, and to derive the field-management schema of built-in kinds.

use serde_json::{Map, Value};

/// How a field is left out of the JSON encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Omit {
    /// No `omitempty` (or a struct value): always encoded, zero value when unset.
    Never,
    /// `omitempty` on a value type: left out when it is the zero value.
    Zero,
    /// A pointer with `omitempty`: left out only when nil.
    Nil,
}

/// The list semantics used by field management (`x-kubernetes-list-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    Atomic,
    Set,
    Map(&'static [&'static str]),
}

#[derive(Debug)]
pub(crate) enum Ty {
    Str,
    Int32,
    Int64,
    Bool,
    /// `metav1.Time`: RFC 3339, encoded with second precision.
    Time,
    /// `metav1.MicroTime`: RFC 3339 with exactly 6 fractional digits.
    MicroTime,
    /// `[]byte`: standard base64.
    Bytes,
    /// Any JSON (`RawExtension`, `FieldsV1`, unstructured content): keys sorted.
    Raw,
    Struct(&'static GoStruct),
    Map(&'static Ty),
    List(&'static Ty, ListKind),
}

#[derive(Debug)]
pub(crate) struct GoField {
    pub json: &'static str,
    pub ty: Ty,
    pub omit: Omit,
}

#[derive(Debug)]
pub(crate) struct GoStruct {
    /// Go type name as printed in decode errors, e.g. `v1.ObjectMeta`.
    pub go_name: &'static str,
    /// Short name used in "Go struct field X.y" errors.
    pub short: &'static str,
    pub fields: &'static [GoField],
    /// `+structType=atomic`
    pub atomic: bool,
}

impl GoStruct {
    pub(crate) fn field(&self, name: &str) -> Option<&GoField> {
        self.fields.iter().find(|f| f.json == name)
    }
}

const fn f(json: &'static str, ty: Ty, omit: Omit) -> GoField {
    GoField { json, ty, omit }
}

use Omit::{Never, Nil, Zero};

pub(crate) static OWNER_REFERENCE: GoStruct = GoStruct {
    go_name: "v1.OwnerReference",
    short: "OwnerReference",
    atomic: true,
    fields: &[
        f("apiVersion", Ty::Str, Never),
        f("kind", Ty::Str, Never),
        f("name", Ty::Str, Never),
        f("uid", Ty::Str, Never),
        f("controller", Ty::Bool, Nil),
        f("blockOwnerDeletion", Ty::Bool, Nil),
    ],
};

pub(crate) static MANAGED_FIELDS_ENTRY: GoStruct = GoStruct {
    go_name: "v1.ManagedFieldsEntry",
    short: "ManagedFieldsEntry",
    atomic: false,
    fields: &[
        f("manager", Ty::Str, Zero),
        f("operation", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f("time", Ty::Time, Nil),
        f("fieldsType", Ty::Str, Zero),
        f("fieldsV1", Ty::Raw, Nil),
        f("subresource", Ty::Str, Zero),
    ],
};

pub(crate) static OBJECT_META: GoStruct = GoStruct {
    go_name: "v1.ObjectMeta",
    short: "ObjectMeta",
    atomic: false,
    fields: &[
        f("name", Ty::Str, Zero),
        f("generateName", Ty::Str, Zero),
        f("namespace", Ty::Str, Zero),
        f("selfLink", Ty::Str, Zero),
        f("uid", Ty::Str, Zero),
        f("resourceVersion", Ty::Str, Zero),
        f("generation", Ty::Int64, Zero),
        f("creationTimestamp", Ty::Time, Never),
        f("deletionTimestamp", Ty::Time, Nil),
        f("deletionGracePeriodSeconds", Ty::Int64, Nil),
        f("labels", Ty::Map(&Ty::Str), Zero),
        f("annotations", Ty::Map(&Ty::Str), Zero),
        f(
            "ownerReferences",
            Ty::List(&Ty::Struct(&OWNER_REFERENCE), ListKind::Map(&["uid"])),
            Zero,
        ),
        f("finalizers", Ty::List(&Ty::Str, ListKind::Set), Zero),
        f(
            "managedFields",
            Ty::List(&Ty::Struct(&MANAGED_FIELDS_ENTRY), ListKind::Atomic),
            Zero,
        ),
    ],
};

pub(crate) static SECRET: GoStruct = GoStruct {
    go_name: "v1.Secret",
    short: "Secret",
    atomic: false,
    fields: &[
        f("kind", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f("metadata", Ty::Struct(&OBJECT_META), Never),
        f("immutable", Ty::Bool, Nil),
        f("data", Ty::Map(&Ty::Bytes), Zero),
        f("stringData", Ty::Map(&Ty::Str), Zero),
        f("type", Ty::Str, Zero),
    ],
};

pub(crate) static LEASE_SPEC: GoStruct = GoStruct {
    go_name: "v1.LeaseSpec",
    short: "LeaseSpec",
    atomic: false,
    fields: &[
        f("holderIdentity", Ty::Str, Nil),
        f("leaseDurationSeconds", Ty::Int32, Nil),
        f("acquireTime", Ty::MicroTime, Nil),
        f("renewTime", Ty::MicroTime, Nil),
        f("leaseTransitions", Ty::Int32, Nil),
    ],
};

pub(crate) static LEASE: GoStruct = GoStruct {
    go_name: "v1.Lease",
    short: "Lease",
    atomic: false,
    fields: &[
        f("kind", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f("metadata", Ty::Struct(&OBJECT_META), Never),
        f("spec", Ty::Struct(&LEASE_SPEC), Never),
    ],
};

pub(crate) static OBJECT_REFERENCE: GoStruct = GoStruct {
    go_name: "v1.ObjectReference",
    short: "ObjectReference",
    atomic: true,
    fields: &[
        f("kind", Ty::Str, Zero),
        f("namespace", Ty::Str, Zero),
        f("name", Ty::Str, Zero),
        f("uid", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f("resourceVersion", Ty::Str, Zero),
        f("fieldPath", Ty::Str, Zero),
    ],
};

pub(crate) static EVENT_SERIES: GoStruct = GoStruct {
    go_name: "v1.EventSeries",
    short: "EventSeries",
    atomic: false,
    fields: &[
        f("count", Ty::Int32, Never),
        f("lastObservedTime", Ty::MicroTime, Never),
    ],
};

pub(crate) static EVENT_SOURCE: GoStruct = GoStruct {
    go_name: "v1.EventSource",
    short: "EventSource",
    atomic: false,
    fields: &[f("component", Ty::Str, Zero), f("host", Ty::Str, Zero)],
};

pub(crate) static EVENT_V1: GoStruct = GoStruct {
    go_name: "v1.Event",
    short: "Event",
    atomic: false,
    fields: &[
        f("kind", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f("metadata", Ty::Struct(&OBJECT_META), Never),
        f("eventTime", Ty::MicroTime, Never),
        f("series", Ty::Struct(&EVENT_SERIES), Nil),
        f("reportingController", Ty::Str, Zero),
        f("reportingInstance", Ty::Str, Zero),
        f("action", Ty::Str, Zero),
        f("reason", Ty::Str, Zero),
        f("regarding", Ty::Struct(&OBJECT_REFERENCE), Never),
        f("related", Ty::Struct(&OBJECT_REFERENCE), Nil),
        f("note", Ty::Str, Zero),
        f("type", Ty::Str, Zero),
        f("deprecatedSource", Ty::Struct(&EVENT_SOURCE), Never),
        f("deprecatedFirstTimestamp", Ty::Time, Never),
        f("deprecatedLastTimestamp", Ty::Time, Never),
        f("deprecatedCount", Ty::Int32, Zero),
    ],
};

pub(crate) static NAMESPACE_SPEC: GoStruct = GoStruct {
    go_name: "v1.NamespaceSpec",
    short: "NamespaceSpec",
    atomic: false,
    fields: &[f("finalizers", Ty::List(&Ty::Str, ListKind::Atomic), Zero)],
};

pub(crate) static NAMESPACE_CONDITION: GoStruct = GoStruct {
    go_name: "v1.NamespaceCondition",
    short: "NamespaceCondition",
    atomic: false,
    fields: &[
        f("type", Ty::Str, Never),
        f("status", Ty::Str, Never),
        f("lastTransitionTime", Ty::Time, Never),
        f("reason", Ty::Str, Zero),
        f("message", Ty::Str, Zero),
    ],
};

pub(crate) static NAMESPACE_STATUS: GoStruct = GoStruct {
    go_name: "v1.NamespaceStatus",
    short: "NamespaceStatus",
    atomic: false,
    fields: &[
        f("phase", Ty::Str, Zero),
        f(
            "conditions",
            Ty::List(&Ty::Struct(&NAMESPACE_CONDITION), ListKind::Map(&["type"])),
            Zero,
        ),
    ],
};

pub(crate) static NAMESPACE: GoStruct = GoStruct {
    go_name: "v1.Namespace",
    short: "Namespace",
    atomic: false,
    fields: &[
        f("kind", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f("metadata", Ty::Struct(&OBJECT_META), Never),
        f("spec", Ty::Struct(&NAMESPACE_SPEC), Never),
        f("status", Ty::Struct(&NAMESPACE_STATUS), Never),
    ],
};

pub(crate) static LIST_META: GoStruct = GoStruct {
    go_name: "v1.ListMeta",
    short: "ListMeta",
    atomic: false,
    fields: &[
        f("selfLink", Ty::Str, Zero),
        f("resourceVersion", Ty::Str, Zero),
        f("continue", Ty::Str, Zero),
        f("remainingItemCount", Ty::Int64, Nil),
    ],
};

pub(crate) static STATUS_CAUSE: GoStruct = GoStruct {
    go_name: "v1.StatusCause",
    short: "StatusCause",
    atomic: false,
    fields: &[
        f("reason", Ty::Str, Zero),
        f("message", Ty::Str, Zero),
        f("field", Ty::Str, Zero),
    ],
};

pub(crate) static STATUS_DETAILS: GoStruct = GoStruct {
    go_name: "v1.StatusDetails",
    short: "StatusDetails",
    atomic: false,
    fields: &[
        f("name", Ty::Str, Zero),
        f("group", Ty::Str, Zero),
        f("kind", Ty::Str, Zero),
        f("uid", Ty::Str, Zero),
        f(
            "causes",
            Ty::List(&Ty::Struct(&STATUS_CAUSE), ListKind::Atomic),
            Zero,
        ),
        f("retryAfterSeconds", Ty::Int32, Zero),
    ],
};

pub(crate) static STATUS: GoStruct = GoStruct {
    go_name: "v1.Status",
    short: "Status",
    atomic: false,
    fields: &[
        f("kind", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f("metadata", Ty::Struct(&LIST_META), Never),
        f("status", Ty::Str, Zero),
        f("message", Ty::Str, Zero),
        f("reason", Ty::Str, Zero),
        f("details", Ty::Struct(&STATUS_DETAILS), Nil),
        f("code", Ty::Int32, Zero),
    ],
};

pub(crate) static API_RESOURCE: GoStruct = GoStruct {
    go_name: "v1.APIResource",
    short: "APIResource",
    atomic: false,
    fields: &[
        f("name", Ty::Str, Never),
        f("singularName", Ty::Str, Never),
        f("namespaced", Ty::Bool, Never),
        f("group", Ty::Str, Zero),
        f("version", Ty::Str, Zero),
        f("kind", Ty::Str, Never),
        f("verbs", Ty::List(&Ty::Str, ListKind::Atomic), Never),
        f("shortNames", Ty::List(&Ty::Str, ListKind::Atomic), Zero),
        f("categories", Ty::List(&Ty::Str, ListKind::Atomic), Zero),
        f("storageVersionHash", Ty::Str, Zero),
    ],
};

pub(crate) static API_RESOURCE_LIST: GoStruct = GoStruct {
    go_name: "v1.APIResourceList",
    short: "APIResourceList",
    atomic: false,
    fields: &[
        f("kind", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f("groupVersion", Ty::Str, Never),
        f(
            "resources",
            Ty::List(&Ty::Struct(&API_RESOURCE), ListKind::Atomic),
            Never,
        ),
    ],
};

pub(crate) static GROUP_VERSION_FOR_DISCOVERY: GoStruct = GoStruct {
    go_name: "v1.GroupVersionForDiscovery",
    short: "GroupVersionForDiscovery",
    atomic: false,
    fields: &[
        f("groupVersion", Ty::Str, Never),
        f("version", Ty::Str, Never),
    ],
};

pub(crate) static SERVER_ADDRESS: GoStruct = GoStruct {
    go_name: "v1.ServerAddressByClientCIDR",
    short: "ServerAddressByClientCIDR",
    atomic: false,
    fields: &[
        f("clientCIDR", Ty::Str, Never),
        f("serverAddress", Ty::Str, Never),
    ],
};

pub(crate) static API_GROUP: GoStruct = GoStruct {
    go_name: "v1.APIGroup",
    short: "APIGroup",
    atomic: false,
    fields: &[
        f("kind", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f("name", Ty::Str, Never),
        f(
            "versions",
            Ty::List(&Ty::Struct(&GROUP_VERSION_FOR_DISCOVERY), ListKind::Atomic),
            Never,
        ),
        f(
            "preferredVersion",
            Ty::Struct(&GROUP_VERSION_FOR_DISCOVERY),
            Zero,
        ),
        f(
            "serverAddressByClientCIDRs",
            Ty::List(&Ty::Struct(&SERVER_ADDRESS), ListKind::Atomic),
            Zero,
        ),
    ],
};

pub(crate) static API_GROUP_LIST: GoStruct = GoStruct {
    go_name: "v1.APIGroupList",
    short: "APIGroupList",
    atomic: false,
    fields: &[
        f("kind", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f(
            "groups",
            Ty::List(&Ty::Struct(&API_GROUP), ListKind::Atomic),
            Never,
        ),
    ],
};

pub(crate) static API_VERSIONS: GoStruct = GoStruct {
    go_name: "v1.APIVersions",
    short: "APIVersions",
    atomic: false,
    fields: &[
        f("kind", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f("versions", Ty::List(&Ty::Str, ListKind::Atomic), Never),
        f(
            "serverAddressByClientCIDRs",
            Ty::List(&Ty::Struct(&SERVER_ADDRESS), ListKind::Atomic),
            Never,
        ),
    ],
};

pub(crate) static VERSION_INFO: GoStruct = GoStruct {
    go_name: "version.Info",
    short: "Info",
    atomic: false,
    fields: &[
        f("major", Ty::Str, Never),
        f("minor", Ty::Str, Never),
        f("gitVersion", Ty::Str, Never),
        f("gitCommit", Ty::Str, Never),
        f("gitTreeState", Ty::Str, Never),
        f("buildDate", Ty::Str, Never),
        f("goVersion", Ty::Str, Never),
        f("compiler", Ty::Str, Never),
        f("platform", Ty::Str, Never),
    ],
};

pub(crate) static PARTIAL_OBJECT_METADATA: GoStruct = GoStruct {
    go_name: "v1.PartialObjectMetadata",
    short: "PartialObjectMetadata",
    atomic: false,
    fields: &[
        f("kind", Ty::Str, Zero),
        f("apiVersion", Ty::Str, Zero),
        f("metadata", Ty::Struct(&OBJECT_META), Never),
    ],
};

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Encodes `v` as compact JSON in Go's field order (`ty`) with Go's string escaping.
pub(crate) fn encode(v: &Value, ty: &Ty) -> String {
    let mut out = String::new();
    write(&mut out, v, ty);
    out
}

/// Encodes arbitrary JSON (keys sorted, as Go encodes `map[string]interface{}`).
pub(crate) fn encode_raw(v: &Value) -> String {
    encode(v, &Ty::Raw)
}

pub(crate) fn write(out: &mut String, v: &Value, ty: &Ty) {
    match (ty, v) {
        (Ty::Struct(s), Value::Object(m)) => write_struct(out, s, m),
        (Ty::Map(elem), Value::Object(m)) => write_map(out, m, elem),
        (Ty::List(elem, _), Value::Array(a)) => write_list(out, a, elem),
        (_, Value::Object(m)) => write_map(out, m, &Ty::Raw),
        (_, Value::Array(a)) => write_list(out, a, &Ty::Raw),
        (_, Value::String(s)) => write_str(out, s),
        (_, Value::Null) => out.push_str("null"),
        (_, Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        (_, Value::Number(n)) => {
            if n.is_i64() || n.is_u64() {
                out.push_str(&n.to_string());
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                out.push_str(&super::status::go_float(f));
            }
        }
    }
}

/// A struct: its known fields in Go's order, then any others (as raw JSON) in key order.
fn write_struct(out: &mut String, s: &GoStruct, m: &Map<String, Value>) {
    out.push('{');
    let mut first = true;
    for field in s.fields {
        if let Some(fv) = m.get(field.json) {
            if !first {
                out.push(',');
            }
            first = false;
            write_str(out, field.json);
            out.push(':');
            write(out, fv, &field.ty);
        }
    }
    for (k, fv) in m {
        if s.field(k).is_none() {
            if !first {
                out.push(',');
            }
            first = false;
            write_str(out, k);
            out.push(':');
            write(out, fv, &Ty::Raw);
        }
    }
    out.push('}');
}

/// A map in key order, its values of type `elem`.
fn write_map(out: &mut String, m: &Map<String, Value>, elem: &Ty) {
    out.push('{');
    for (i, (k, fv)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push(':');
        write(out, fv, elem);
    }
    out.push('}');
}

/// A list, its items of type `elem`.
fn write_list(out: &mut String, a: &[Value], elem: &Ty) {
    out.push('[');
    for (i, item) in a.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(out, item, elem);
    }
    out.push(']');
}

/// Go `encoding/json` string escaping (HTML-safe: `<`, `>`, `&` are escaped).
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// Decoding (Go encoding/json semantics into typed structs, then back to JSON)
// ---------------------------------------------------------------------------------------------

/// Result of decoding a request body into a typed Go struct.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// Paths of unknown fields that were dropped (`.spec.foo`).
    pub unknown: Vec<String>,
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn go_type_name(ty: &Ty) -> String {
    match ty {
        Ty::Str => "string".into(),
        Ty::Int32 => "int32".into(),
        Ty::Int64 => "int64".into(),
        Ty::Bool => "bool".into(),
        Ty::Time => "v1.Time".into(),
        Ty::MicroTime => "v1.MicroTime".into(),
        Ty::Bytes => "[]uint8".into(),
        Ty::Raw => "interface {}".into(),
        Ty::Struct(s) => s.go_name.into(),
        Ty::Map(e) => format!("map[string]{}", go_type_name(e)),
        Ty::List(e, _) => format!("[]{}", go_type_name(e)),
    }
}

fn type_err(v: &Value, ty: &Ty, owner: &str, path: &str) -> String {
    let what = match v {
        Value::Number(n) => format!("number {n}"),
        other => json_kind(other).to_string(),
    };
    format!(
        "json: cannot unmarshal {what} into Go struct field {owner}{path} of type {}",
        go_type_name(ty)
    )
}

static RFC3339: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
        .expect("regex")
});
static RFC3339_MICRO: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$")
        .expect("regex")
});

/// Parses a `metav1.Time` (RFC 3339) into a timestamp.
pub(crate) fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    if !RFC3339.is_match(s) {
        return None;
    }
    s.parse::<jiff::Timestamp>().ok()
}

/// Parses a `metav1.MicroTime` (RFC 3339 with exactly six fractional digits).
pub(crate) fn parse_micro_time(s: &str) -> Option<jiff::Timestamp> {
    if !RFC3339_MICRO.is_match(s) {
        return None;
    }
    s.parse::<jiff::Timestamp>().ok()
}

pub(crate) fn format_time(t: jiff::Timestamp) -> String {
    jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%SZ", t).unwrap_or_default()
}

pub(crate) fn format_micro_time(t: jiff::Timestamp) -> String {
    jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%S%.6fZ", t).unwrap_or_default()
}

/// Decodes `v` as Go would into a value of type `ty` and re-encodes it: unknown struct fields are
/// dropped (and reported), zero values of non-omitempty fields appear, formats are normalised.
/// Returns `Ok(None)` when the field is left out of the encoding.
pub(crate) fn normalize(
    v: &Value,
    ty: &Ty,
    omit: Omit,
    owner: &str,
    path: &str,
    d: &mut Decoded,
) -> Result<Option<Value>, String> {
    if v.is_null() && omit == Omit::Nil {
        // a nil pointer stays nil
        return Ok(None);
    }
    let out = match ty {
        Ty::Str | Ty::Int32 | Ty::Int64 | Ty::Bool => normalize_scalar(v, ty, owner, path)?,
        Ty::Time | Ty::MicroTime => normalize_time(v, ty, owner, path)?,
        Ty::Bytes => normalize_bytes(v, ty, owner, path)?,
        Ty::Raw => v.clone(),
        Ty::Struct(s) => match v {
            Value::Object(m) => normalize_struct(m, s, path, d)?,
            Value::Null => {
                if omit == Omit::Nil {
                    return Ok(None);
                }
                zero_value(ty)
            }
            other => return Err(type_err(other, ty, owner, path)),
        },
        Ty::Map(elem) => match v {
            Value::Object(m) => normalize_map(m, elem, owner, path, d)?,
            Value::Null => Value::Null,
            other => return Err(type_err(other, ty, owner, path)),
        },
        Ty::List(elem, _) => match v {
            Value::Array(a) => normalize_list(a, elem, owner, path, d)?,
            Value::Null => Value::Null,
            other => return Err(type_err(other, ty, owner, path)),
        },
    };
    let omitted = match omit {
        Omit::Never => false,
        Omit::Nil => out.is_null(),
        Omit::Zero => is_zero(&out, ty),
    };
    Ok(if omitted { None } else { Some(out) })
}

/// A string, integer (in range for an int32) or bool; null is the zero value.
fn normalize_scalar(v: &Value, ty: &Ty, owner: &str, path: &str) -> Result<Value, String> {
    Ok(match (ty, v) {
        (Ty::Str, Value::String(s)) => Value::String(s.clone()),
        (Ty::Str, Value::Null) => Value::String(String::new()),
        (Ty::Int32 | Ty::Int64, Value::Number(n)) => {
            let i = n.as_i64().ok_or_else(|| type_err(v, ty, owner, path))?;
            if matches!(ty, Ty::Int32) && (i < i32::MIN as i64 || i > i32::MAX as i64) {
                return Err(type_err(v, ty, owner, path));
            }
            Value::from(i)
        }
        (Ty::Int32 | Ty::Int64, Value::Null) => Value::from(0),
        (Ty::Bool, Value::Bool(b)) => Value::Bool(*b),
        (Ty::Bool, Value::Null) => Value::Bool(false),
        (_, other) => return Err(type_err(other, ty, owner, path)),
    })
}

/// A `metav1.Time` or `metav1.MicroTime`, re-formatted (seconds or microseconds, UTC).
fn normalize_time(v: &Value, ty: &Ty, owner: &str, path: &str) -> Result<Value, String> {
    let micro = matches!(ty, Ty::MicroTime);
    match v {
        Value::String(s) => {
            let formatted = if micro {
                parse_micro_time(s).map(format_micro_time)
            } else {
                parse_time(s).map(format_time)
            };
            formatted
                .map(Value::String)
                .ok_or_else(|| time_parse_error(s, micro))
        }
        Value::Null => Ok(Value::Null),
        other => Err(type_err(other, ty, owner, path)),
    }
}

/// Go's `time.Parse` error for a time (`micro`: a MicroTime) that is not RFC 3339.
fn time_parse_error(s: &str, micro: bool) -> String {
    let q = super::status::go_quote(s);
    if micro {
        format!(
            "parsing time {q} as \"2006-01-02T15:04:05.000000Z07:00\": cannot parse {q} as \"2006-01-02T15:04:05.000000Z07:00\""
        )
    } else {
        format!("parsing time {q} as \"2006-01-02T15:04:05Z07:00\": cannot parse {q} as \"2006\"")
    }
}

/// A `[]byte`: base64 (line breaks ignored), re-encoded with padding.
fn normalize_bytes(v: &Value, ty: &Ty, owner: &str, path: &str) -> Result<Value, String> {
    use base64::Engine;
    match v {
        Value::String(s) => {
            let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            match base64::engine::general_purpose::STANDARD.decode(cleaned.as_bytes()) {
                Ok(bytes) => Ok(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(bytes),
                )),
                Err(e) => Err(format!(
                    "illegal base64 data at input byte {}",
                    base64_err_offset(&e)
                )),
            }
        }
        Value::Null => Ok(Value::Null),
        other => Err(type_err(other, ty, owner, path)),
    }
}

/// A struct's known fields in Go's order (zero values for absent non-omitempty ones); the
/// unknown ones are reported in `d`.
fn normalize_struct(
    m: &Map<String, Value>,
    s: &GoStruct,
    path: &str,
    d: &mut Decoded,
) -> Result<Value, String> {
    let mut out = Map::new();
    for field in s.fields {
        let child_path = format!("{path}.{}", field.json);
        match m.get(field.json) {
            Some(fv) => {
                if let Some(nv) = normalize(fv, &field.ty, field.omit, s.short, &child_path, d)? {
                    out.insert(field.json.to_string(), nv);
                }
            }
            None => {
                if field.omit == Omit::Never {
                    out.insert(field.json.to_string(), zero_value(&field.ty));
                }
            }
        }
    }
    for k in m.keys() {
        if s.field(k).is_none() {
            d.unknown.push(format!("{path}.{k}"));
        }
    }
    Ok(Value::Object(out))
}

/// A map's values, each normalised as `elem` (a left-out one is null).
fn normalize_map(
    m: &Map<String, Value>,
    elem: &Ty,
    owner: &str,
    path: &str,
    d: &mut Decoded,
) -> Result<Value, String> {
    let mut out = Map::new();
    for (k, ev) in m {
        let nv = normalize(ev, elem, Omit::Never, owner, path, d)?.unwrap_or(Value::Null);
        out.insert(k.clone(), nv);
    }
    Ok(Value::Object(out))
}

/// A list's items, each normalised as `elem` (a left-out one is null).
fn normalize_list(
    a: &[Value],
    elem: &Ty,
    owner: &str,
    path: &str,
    d: &mut Decoded,
) -> Result<Value, String> {
    let mut out = Vec::with_capacity(a.len());
    for ev in a {
        out.push(normalize(ev, elem, Omit::Never, owner, path, d)?.unwrap_or(Value::Null));
    }
    Ok(Value::Array(out))
}

fn base64_err_offset(e: &base64::DecodeError) -> usize {
    match e {
        base64::DecodeError::InvalidByte(i, _) => *i,
        base64::DecodeError::InvalidLength(l) => *l,
        base64::DecodeError::InvalidLastSymbol(i, _) => *i,
        base64::DecodeError::InvalidPadding => 0,
    }
}

fn is_zero(v: &Value, ty: &Ty) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty() && !matches!(ty, Ty::Time | Ty::MicroTime),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(b) => !b,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => matches!(ty, Ty::Map(_)) && m.is_empty(),
    }
}

/// The JSON encoding of Go's zero value for `ty`.
pub(crate) fn zero_value(ty: &Ty) -> Value {
    match ty {
        Ty::Str => Value::String(String::new()),
        Ty::Int32 | Ty::Int64 => Value::from(0),
        Ty::Bool => Value::Bool(false),
        Ty::Time | Ty::MicroTime | Ty::Bytes | Ty::Raw | Ty::Map(_) | Ty::List(..) => Value::Null,
        Ty::Struct(s) => {
            let mut out = Map::new();
            for field in s.fields {
                if field.omit == Omit::Never {
                    out.insert(field.json.to_string(), zero_value(&field.ty));
                }
            }
            Value::Object(out)
        }
    }
}

/// Normalises a whole top-level object of struct type `s`.
pub(crate) fn normalize_object(
    v: &Value,
    s: &'static GoStruct,
    d: &mut Decoded,
) -> Result<Value, String> {
    Ok(normalize(v, &Ty::Struct(s), Omit::Never, s.short, "", d)?.unwrap_or(Value::Null))
}
