//! `metav1.Status` bodies and `field.Error` lists, formatted exactly like kube-apiserver v1.28.

use serde_json::{Map, Value, json};

/// A group + resource (plural), printed like Go's `schema.GroupResource.String()`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub(crate) fn new(group: &str, resource: &str) -> Self {
        GroupResource {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// `field.ErrorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrType {
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    TypeInvalid,
}

impl ErrType {
    fn text(self) -> &'static str {
        match self {
            ErrType::Required => "Required value",
            ErrType::Duplicate => "Duplicate value",
            ErrType::Invalid => "Invalid value",
            ErrType::NotSupported => "Unsupported value",
            ErrType::Forbidden => "Forbidden",
            ErrType::TooLong => "Too long",
            ErrType::TooMany => "Too many",
            ErrType::TypeInvalid => "Invalid value",
        }
    }

    pub(crate) fn reason(self) -> &'static str {
        match self {
            ErrType::Required => "FieldValueRequired",
            ErrType::Duplicate => "FieldValueDuplicate",
            ErrType::Invalid => "FieldValueInvalid",
            ErrType::NotSupported => "FieldValueNotSupported",
            ErrType::Forbidden => "FieldValueForbidden",
            ErrType::TooLong => "FieldValueTooLong",
            ErrType::TooMany => "FieldValueTooMany",
            ErrType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }
}

/// The "bad value" of a field error, printed the way Go's `ErrorBody` prints it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum BadValue {
    /// nil: printed as `"null"` (quoted, like Go does for a nil value).
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Pre-formatted Go `%#v` output (e.g. `0x0`, `[]string{"a"}`).
    Raw(String),
}

impl BadValue {
    /// Converts a JSON value the way the unstructured validators report it.
    pub(crate) fn from_json(v: &Value) -> BadValue {
        match v {
            Value::Null => BadValue::Null,
            Value::Bool(b) => BadValue::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    BadValue::Int(i)
                } else {
                    BadValue::Float(n.as_f64().unwrap_or(0.0))
                }
            }
            Value::String(s) => BadValue::Str(s.clone()),
            Value::Array(_) => BadValue::Raw("[]interface {}{...}".to_string()),
            Value::Object(_) => BadValue::Raw("map[string]interface {}{...}".to_string()),
        }
    }
}

/// One `field.Error`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FieldError {
    pub kind: ErrType,
    /// The field path as Go prints it (`spec.userName`, `data[username]`, `<nil>`).
    pub field: String,
    pub bad_value: BadValue,
    pub detail: String,
}

impl FieldError {
    pub(crate) fn new(kind: ErrType, field: &str, bad_value: BadValue, detail: &str) -> Self {
        FieldError {
            kind,
            field: field.to_string(),
            bad_value,
            detail: detail.to_string(),
        }
    }
    pub(crate) fn required(field: &str, detail: &str) -> Self {
        Self::new(
            ErrType::Required,
            field,
            BadValue::Str(String::new()),
            detail,
        )
    }
    pub(crate) fn invalid(field: &str, value: BadValue, detail: &str) -> Self {
        Self::new(ErrType::Invalid, field, value, detail)
    }
    pub(crate) fn forbidden(field: &str, detail: &str) -> Self {
        Self::new(
            ErrType::Forbidden,
            field,
            BadValue::Str(String::new()),
            detail,
        )
    }
    pub(crate) fn not_supported(field: &str, value: BadValue, valid: &[String]) -> Self {
        let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
        let detail = if quoted.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrType::NotSupported, field, value, &detail)
    }
    pub(crate) fn too_long(field: &str, max: usize) -> Self {
        Self::new(
            ErrType::TooLong,
            field,
            BadValue::Str(String::new()),
            &format!("must have at most {max} bytes"),
        )
    }
    pub(crate) fn too_long_max_length(field: &str, max: i64) -> Self {
        Self::new(
            ErrType::TooLong,
            field,
            BadValue::Str(String::new()),
            &format!("may not be longer than {max}"),
        )
    }
    pub(crate) fn too_many(field: &str, actual: i64, max: i64) -> Self {
        Self::new(
            ErrType::TooMany,
            field,
            BadValue::Int(actual),
            &format!("must have at most {max} items"),
        )
    }
    pub(crate) fn type_invalid(field: &str, value: BadValue, detail: &str) -> Self {
        Self::new(ErrType::TypeInvalid, field, value, detail)
    }
    pub(crate) fn immutable(field: &str, value: BadValue) -> Self {
        Self::invalid(field, value, "field is immutable")
    }

    /// Go's `(*field.Error).ErrorBody()`.
    pub(crate) fn body(&self) -> String {
        let mut s = match self.kind {
            ErrType::Required | ErrType::Forbidden | ErrType::TooLong => {
                self.kind.text().to_string()
            }
            _ => match &self.bad_value {
                BadValue::Null => format!("{}: \"null\"", self.kind.text()),
                BadValue::Str(s) => format!("{}: {}", self.kind.text(), go_quote(s)),
                BadValue::Int(i) => format!("{}: {}", self.kind.text(), i),
                BadValue::Float(f) => format!("{}: {}", self.kind.text(), go_float(*f)),
                BadValue::Bool(b) => format!("{}: {}", self.kind.text(), b),
                BadValue::Raw(r) => format!("{}: {}", self.kind.text(), r),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// Go's `(*field.Error).Error()`.
    pub(crate) fn error(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }
}

/// Go's `utilerrors.NewAggregate(errs.ToAggregate()).Error()` (deduplicated, bracketed when >1).
pub(crate) fn aggregate(errs: &[FieldError]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        let m = e.error();
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    if seen.len() == 1 {
        seen.remove(0)
    } else {
        format!("[{}]", seen.join(", "))
    }
}

/// Go's `strconv.Quote` (what `%q` prints for a string).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` for a float64 (shortest representation, exponent form for large/small values).
pub(crate) fn go_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i128)
    } else {
        format!("{f}")
    }
}

/// An error answer: HTTP code plus a `Status` body.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub code: u16,
    pub status: Value,
    pub headers: Vec<(String, String)>,
}

fn status_value(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut m = Map::new();
    m.insert("kind".into(), json!("Status"));
    m.insert("apiVersion".into(), json!("v1"));
    m.insert("metadata".into(), json!({}));
    m.insert("status".into(), json!("Failure"));
    if !message.is_empty() {
        m.insert("message".into(), json!(message));
    }
    if !reason.is_empty() {
        m.insert("reason".into(), json!(reason));
    }
    if let Some(d) = details {
        m.insert("details".into(), d);
    }
    m.insert("code".into(), json!(code));
    Value::Object(m)
}

fn details(name: &str, group: &str, kind: &str) -> Value {
    let mut d = Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !group.is_empty() {
        d.insert("group".into(), json!(group));
    }
    if !kind.is_empty() {
        d.insert("kind".into(), json!(kind));
    }
    Value::Object(d)
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &str, message: &str, details: Option<Value>) -> Self {
        ApiError {
            code,
            status: status_value(code, reason, message, details),
            headers: Vec::new(),
        }
    }

    pub(crate) fn not_found(gr: &GroupResource, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            &format!("{gr} {} not found", go_quote(name)),
            Some(details(name, &gr.group, &gr.resource)),
        )
    }

    /// The generic 404 for unknown paths and resources.
    pub(crate) fn not_found_generic() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
            Some(json!({})),
        )
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            Some(json!({})),
        )
    }

    pub(crate) fn already_exists(gr: &GroupResource, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            &format!("{gr} {} already exists", go_quote(name)),
            Some(details(name, &gr.group, &gr.resource)),
        )
    }

    pub(crate) fn conflict(gr: &GroupResource, name: &str, msg: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {gr} {}: {msg}",
                go_quote(name)
            ),
            Some(details(name, &gr.group, &gr.resource)),
        )
    }

    pub(crate) fn conflict_modified(gr: &GroupResource, name: &str) -> Self {
        Self::conflict(
            gr,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `errors.NewInvalid(GroupKind, name, errs)`.
    pub(crate) fn invalid(group: &str, kind: &str, name: &str, errs: &[FieldError]) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let message = if errs.is_empty() {
            format!("{qualified} {} is invalid", go_quote(name))
        } else {
            format!(
                "{qualified} {} is invalid: {}",
                go_quote(name),
                aggregate(errs)
            )
        };
        let mut d = details(name, group, kind);
        let causes: Vec<Value> = errs
            .iter()
            .map(|e| json!({"reason": e.kind.reason(), "message": e.body(), "field": e.field}))
            .collect();
        if !causes.is_empty() {
            d.as_object_mut()
                .expect("object")
                .insert("causes".into(), Value::Array(causes));
        }
        Self::new(422, "Invalid", &message, Some(d))
    }

    /// 422 with the generic message and empty details (failed json-patch operations).
    pub(crate) fn invalid_generic() -> Self {
        Self::new(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
            Some(json!({})),
        )
    }

    pub(crate) fn bad_request(msg: &str) -> Self {
        Self::new(400, "BadRequest", msg, None)
    }

    pub(crate) fn forbidden(gr: &GroupResource, name: &str, msg: &str) -> Self {
        let message = if gr.group.is_empty() && gr.resource.is_empty() {
            format!("forbidden: {msg}")
        } else if name.is_empty() {
            format!("{gr} is forbidden: {msg}")
        } else {
            format!("{gr} {} is forbidden: {msg}", go_quote(name))
        };
        Self::new(
            403,
            "Forbidden",
            &message,
            Some(details(name, &gr.group, &gr.resource)),
        )
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized", None)
    }

    pub(crate) fn expired(msg: &str) -> Self {
        Self::new(410, "Expired", msg, None)
    }

    pub(crate) fn unsupported_media_type(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            &format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
            None,
        )
    }

    pub(crate) fn not_acceptable() -> Self {
        Self::new(
            406,
            "NotAcceptable",
            "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
            None,
        )
    }

    pub(crate) fn too_large() -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            "the server has received too large of a request body",
            None,
        )
    }

    pub(crate) fn internal(msg: &str) -> Self {
        Self::new(
            500,
            "InternalError",
            &format!("Internal error occurred: {msg}"),
            Some(json!({"causes": [{"message": msg}]})),
        )
    }

    pub(crate) fn too_large_resource_version(requested: u64, current: u64) -> Self {
        let mut e = Self::new(
            504,
            "Timeout",
            &format!("Timeout: Too large resource version: {requested}, current: {current}"),
            Some(json!({
                "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                "retryAfterSeconds": 1
            })),
        );
        e.headers.push(("Retry-After".into(), "1".into()));
        e
    }

    /// An injected failure with a proper Status body for the given HTTP code.
    pub(crate) fn injected(code: u16) -> Self {
        let (reason, message) = match code {
            400 => (
                "BadRequest",
                "the server rejected our request for an unknown reason",
            ),
            401 => ("Unauthorized", "Unauthorized"),
            403 => ("Forbidden", "forbidden: injected failure"),
            404 => (
                "NotFound",
                "the server could not find the requested resource",
            ),
            405 => (
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ),
            409 => ("Conflict", "the server reported a conflict"),
            410 => ("Expired", "the resource version is too old"),
            422 => (
                "Invalid",
                "the server rejected our request due to an error in our request",
            ),
            429 => (
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
            ),
            500 => (
                "InternalError",
                "an error on the server (\"injected failure\") has prevented the request from succeeding",
            ),
            503 => (
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
            504 => (
                "Timeout",
                "the server was unable to return a response in the time allotted, but may still be processing the request",
            ),
            _ => ("", "the server responded with an injected failure"),
        };
        let details = if code == 429 || code == 503 || code == 504 {
            Some(json!({"retryAfterSeconds": 1}))
        } else {
            None
        };
        let mut e = Self::new(code, reason, message, details);
        if code == 429 || code == 503 || code == 504 {
            e.headers.push(("Retry-After".into(), "1".into()));
        }
        e
    }
}

/// The `Status` answered by a successful DELETE of an object that was removed immediately.
pub(crate) fn success_status(gr: &GroupResource, name: &str, uid: &str) -> Value {
    let mut d = details(name, &gr.group, &gr.resource);
    d.as_object_mut()
        .expect("object")
        .insert("uid".into(), json!(uid));
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": d,
    })
}
