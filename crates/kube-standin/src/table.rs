//! The `meta.k8s.io/v1` `Table` conversion of custom resources (`Accept: application/json;
//! as=Table;g=meta.k8s.io;v=v1`, what `kubectl get` asks for), as apiextensions-apiserver's
//! `tableconvertor` builds it from a CRD version's `additionalPrinterColumns` (v1.28).
//!
//! Not obvious from the API docs:
//! - the first column is always `Name`; without printer columns a version gets one `Age` column
//!   (`.metadata.creationTimestamp`, described by ObjectMeta's swagger doc);
//! - a cell is the first result of the column's client-go JSONPath (missing: `null`); `string`
//!   columns print it as the JSONPath printer does (`<no value>` for JSON null, JSON for objects
//!   and arrays, Go's `%v` for numbers); `date` columns are `duration.HumanDuration` of the time
//!   since then, so a date more than 1 s in the future is `<invalid>`, as on a real cluster;
//! - `includeObject=None` leaves `"object": null` in each row (Go's `RawExtension` encoding).
//!
//! JSONPath subset: `.field` (with `\.` escapes), `['key']`, `.*`, `[n]`, `[-n]`, `[a:b:c]`, `[*]`,
//! filters `[?(@.x OP literal-or-path)]` (OP: `==` `!=` `<` `<=` `>` `>=`) and `[?(@.x)]`. A
//! column using anything else (recursive descent `..`, unions, `range`) is kept with `null` cells;
//! a column client-go cannot parse ends the column list there, as kube-apiserver's convertor does.

use std::sync::LazyLock;

use jiff::Timestamp;
use regex::Regex;
use serde_json::{Map, Value, json};

use super::gotypes::{self, Ty};
use super::handlers::{self, Query};
use super::resources::ResourceDef;
use super::server::meta_str;
use super::status::{ApiError, BadValue, FieldError};

/// `metav1.ObjectMeta{}.SwaggerDoc()["name"]`.
const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// `metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]`.
const CREATION_TIMESTAMP_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) in Unix nanoseconds: `metav1.Time.IsZero()`.
const GO_ZERO_TIME_NANOS: i128 = -62_135_596_800 * 1_000_000_000;

/// One printer column of a served CRD version.
#[derive(Clone, Debug)]
pub(crate) struct PrinterColumn {
    name: String,
    type_: String,
    format: String,
    description: String,
    priority: i64,
    /// `None`: a JSONPath the stand-in does not evaluate (the cells are `null`).
    path: Option<JsonPath>,
}

/// The printer columns of a CRD version entry (`spec.versions[]`, as JSON): its
/// `additionalPrinterColumns`, or the default `Age` column when it has none.
pub(crate) fn columns_of(version: &Value) -> Vec<PrinterColumn> {
    let declared: Vec<Value> = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let specs = if declared.is_empty() {
        vec![json!({
            "name": "Age",
            "type": "date",
            "description": CREATION_TIMESTAMP_DESCRIPTION,
            "jsonPath": ".metadata.creationTimestamp",
        })]
    } else {
        declared
    };
    let mut out = Vec::new();
    for c in &specs {
        let str_of = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let json_path = str_of("jsonPath");
        let path = match JsonPath::parse(&json_path) {
            Ok(p) => Some(p),
            Err(ParseError::Unsupported) => None,
            // tableconvertor.New returns the columns before the one it cannot parse
            Err(ParseError::Invalid) => break,
        };
        let mut description = str_of("description");
        if description.is_empty() {
            description =
                format!("Custom resource definition column (in JSONPath format): {json_path}");
        }
        out.push(PrinterColumn {
            name: str_of("name"),
            type_: str_of("type"),
            format: str_of("format"),
            description,
            priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
            path,
        });
    }
    out
}

/// What each row carries as `object` (`?includeObject=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Include {
    NoObject,
    Metadata,
    Object,
}

fn include_object(q: &Query) -> Result<Include, ApiError> {
    match q.get("includeObject").map(String::as_str) {
        None | Some("") | Some("Metadata") => Ok(Include::Metadata),
        Some("None") => Ok(Include::NoObject),
        Some("Object") => Ok(Include::Object),
        Some(other) => {
            // optionsForTransform: ValidateTableOptions
            let err = FieldError::invalid(
                "includeObject",
                BadValue::Str(other.to_string()),
                "must be 'Metadata', 'Object', 'None', or empty",
            );
            Err(ApiError::bad_request(&format!(
                "Unable to convert to Table as requested: {}",
                err.error()
            )))
        }
    }
}

/// Converts the encoded answer of a get (`list == false`) or list of a custom resource into
/// its `Table`, in Go's field order. `now` is the clock of the `date` columns.
pub(crate) fn convert(
    def: &ResourceDef,
    body: &str,
    list: bool,
    query: &Query,
    now: Timestamp,
) -> Result<String, ApiError> {
    let include = include_object(query)?;
    let v: Value = serde_json::from_str(body)
        .map_err(|e| ApiError::internal(&format!("converting to Table: {e}")))?;
    let mut meta = Map::new();
    let non_empty = |x: &Value| x.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let items: Vec<&Value> = if list {
        let m = &v["metadata"];
        if let Some(rv) = non_empty(&m["resourceVersion"]) {
            meta.insert("resourceVersion".into(), json!(rv));
        }
        if let Some(c) = non_empty(&m["continue"]) {
            meta.insert("continue".into(), json!(c));
        }
        if m["remainingItemCount"].is_number() {
            meta.insert("remainingItemCount".into(), m["remainingItemCount"].clone());
        }
        v["items"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    } else {
        if let Some(rv) = non_empty(&v["metadata"]["resourceVersion"]) {
            meta.insert("resourceVersion".into(), json!(rv));
        }
        vec![&v]
    };

    let mut out =
        String::from("{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":");
    out.push_str(&gotypes::encode(
        &Value::Object(meta),
        &Ty::Struct(&gotypes::LIST_META),
    ));
    out.push_str(",\"columnDefinitions\":[");
    write_column(&mut out, "Name", "string", "name", NAME_DESCRIPTION, 0);
    for c in &def.printer_columns {
        out.push(',');
        write_column(
            &mut out,
            &c.name,
            &c.type_,
            &c.format,
            &c.description,
            c.priority,
        );
    }
    out.push_str("],\"rows\":[");
    for (i, obj) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut cells = vec![Value::String(meta_str(obj, "name").to_string())];
        cells.extend(def.printer_columns.iter().map(|c| c.cell(obj, now)));
        out.push_str("{\"cells\":");
        out.push_str(&gotypes::encode_raw(&Value::Array(cells)));
        out.push_str(",\"object\":");
        match include {
            Include::NoObject => out.push_str("null"),
            Include::Metadata => out.push_str(&handlers::encode_object(def, obj, true)),
            Include::Object => out.push_str(&handlers::encode_object(def, obj, false)),
        }
        out.push('}');
    }
    out.push_str("]}");
    Ok(out)
}

/// One `metav1.TableColumnDefinition`.
fn write_column(
    out: &mut String,
    name: &str,
    type_: &str,
    format: &str,
    description: &str,
    priority: i64,
) {
    out.push_str("{\"name\":");
    gotypes::write_str(out, name);
    out.push_str(",\"type\":");
    gotypes::write_str(out, type_);
    out.push_str(",\"format\":");
    gotypes::write_str(out, format);
    out.push_str(",\"description\":");
    gotypes::write_str(out, description);
    out.push_str(&format!(",\"priority\":{priority}}}"));
}

impl PrinterColumn {
    /// The cell of this column for `obj` (`convertor.ConvertToTable`).
    fn cell(&self, obj: &Value, now: Timestamp) -> Value {
        let Some(path) = &self.path else {
            return Value::Null;
        };
        let Ok(found) = path.find(obj) else {
            return Value::Null;
        };
        let Some(&value) = found.first() else {
            return Value::Null;
        };
        if self.type_ == "string" {
            return Value::String(print_value(value));
        }
        cell_for_json_value(&self.type_, value, now)
    }
}

/// The JSONPath printer's text of one result (`PrintResults`).
fn print_value(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => go_float_v(n.as_f64().unwrap_or(0.0)),
        },
        Value::Array(_) | Value::Object(_) => gotypes::encode_raw(v),
    }
}

/// `cellForJSONValue`: the typed cell of a non-string column.
fn cell_for_json_value(type_: &str, v: &Value, now: Timestamp) -> Value {
    match (type_, v) {
        (_, Value::Null) => Value::Null,
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().unwrap_or(0.0) as i64),
        },
        ("number", Value::Number(n)) => serde_json::Number::from_f64(n.as_f64().unwrap_or(0.0))
            .map(Value::Number)
            .unwrap_or(Value::Null),
        ("boolean", Value::Bool(b)) => Value::Bool(*b),
        ("string", Value::String(s)) => Value::String(s.clone()),
        ("date", Value::String(s)) => Value::String(date_cell(s, now)),
        _ => Value::Null,
    }
}

/// A `date` cell: `metav1.Time.UnmarshalQueryParameter`, then
/// `metatable.ConvertToHumanReadableDateType`.
fn date_cell(s: &str, now: Timestamp) -> String {
    if s.is_empty() || s == "null" {
        return "<unknown>".to_string();
    }
    let Some(t) = gotypes::parse_time(s) else {
        return "<invalid>".to_string();
    };
    if t.as_nanosecond() == GO_ZERO_TIME_NANOS {
        return "<unknown>".to_string();
    }
    // time.Since saturates at the range of a time.Duration
    let d = (now.as_nanosecond() - t.as_nanosecond()).clamp(i64::MIN as i128, i64::MAX as i128);
    human_duration(d as i64)
}

/// `k8s.io/apimachinery/pkg/util/duration.HumanDuration` of a duration in nanoseconds.
pub(crate) fn human_duration(d: i64) -> String {
    const SECOND: i64 = 1_000_000_000;
    const MINUTE: i64 = 60 * SECOND;
    const HOUR: i64 = 60 * MINUTE;
    // Up to 2 s (excluded) in the future counts as now (clock skew).
    let seconds = d / SECOND;
    if seconds < -1 {
        return "<invalid>".to_string();
    } else if seconds < 0 {
        return "0s".to_string();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d / MINUTE;
    if minutes < 10 {
        let s = (d / SECOND) % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d / HOUR;
    if hours < 8 {
        let m = (d / MINUTE) % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{m}m");
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{h}h", hours / 24);
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{dy}d", hours / 24 / 365);
    }
    format!("{}y", hours / 24 / 365)
}

/// Go's `fmt.Sprint(float64)`: `%v` is `strconv.FormatFloat(f, 'g', -1, 64)`, the shortest digits
/// in exponent form when the decimal exponent is < -4 or >= 6 (`1e+06`, `1.5e-05`).
fn go_float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Go's shortest formatting.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
        return out;
    }
    let nd = digits.len() as i64;
    let dp = exp + 1; // digits before the decimal point
    if dp <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-dp) as usize));
        out.push_str(&digits);
    } else if dp >= nd {
        out.push_str(&digits);
        out.push_str(&"0".repeat((dp - nd) as usize));
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSONPath (k8s.io/client-go/util/jsonpath, with missing keys allowed)
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
enum ParseError {
    /// client-go rejects the expression (a real CRD could not declare it).
    Invalid,
    /// Valid for client-go, not evaluated by the stand-in.
    Unsupported,
}

/// One `[start:end:step]` parameter (`ParamsEntry`).
#[derive(Clone, Copy, Debug, Default)]
struct Param {
    value: i64,
    known: bool,
    /// The end of a single index `[n]` (n + 1).
    derived: bool,
}

#[derive(Clone, Debug)]
enum Node {
    Field(String),
    Wildcard,
    Array([Param; 3]),
    Filter {
        left: Vec<Node>,
        op: String,
        right: Vec<Node>,
    },
    /// A quoted string: one result whatever the input.
    Text(Value),
    /// A number or boolean literal: one result per input.
    Scalar(Value),
}

#[derive(Clone, Debug)]
struct JsonPath {
    nodes: Vec<Node>,
}

/// An evaluation error (client-go returns an error; the cell is `null`).
#[derive(Debug)]
struct Fail;

static FILTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^!<>=]+)([!<>=]+)(.+?)$").expect("regex"));
static DICT_KEY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^'([^']*)'$").expect("regex"));
static SLICE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(-?[0-9]*)(:-?[0-9]*)?(:-?[0-9]*)?$").expect("regex"));

impl JsonPath {
    /// Parses a column's `jsonPath` (what client-go parses as `{<jsonPath>}`).
    fn parse(path: &str) -> Result<JsonPath, ParseError> {
        let chars: Vec<char> = path.chars().collect();
        Ok(JsonPath {
            nodes: parse_action(&chars)?,
        })
    }

    /// Every result, in order (`FindResults(...)[0]`).
    fn find<'a>(&'a self, data: &'a Value) -> Result<Vec<&'a Value>, Fail> {
        eval(vec![data], &self.nodes)
    }
}

fn starts_with(s: &[char], i: usize, prefix: &str) -> bool {
    (i..).zip(prefix.chars()).all(|(j, c)| s.get(j) == Some(&c))
}

fn is_terminator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}'
    )
}

/// `parseInsideAction` over the whole expression.
fn parse_action(s: &[char]) -> Result<Vec<Node>, ParseError> {
    let mut nodes = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if starts_with(s, i, "[?(") {
            i = parse_filter(s, i + 3, &mut nodes)?;
            continue;
        }
        if starts_with(s, i, "..") {
            return Err(ParseError::Unsupported);
        }
        let c = s[i];
        match c {
            ' ' | '@' | '$' => i += 1,
            '\r' | '\n' => return Err(ParseError::Invalid),
            '[' => {
                let Some(end) = s[i..]
                    .iter()
                    .position(|&c| c == ']' || c == '\n')
                    .map(|p| i + p)
                    .filter(|&e| s[e] == ']')
                else {
                    return Err(ParseError::Invalid);
                };
                let text: String = s[i + 1..end].iter().collect();
                parse_array(&text, &mut nodes)?;
                i = end + 1;
            }
            '"' | '\'' => i = parse_quote(s, i, &mut nodes)?,
            '.' => i = parse_field(s, i + 1, &mut nodes),
            '+' | '-' => i = parse_number(s, i, &mut nodes)?,
            c if c.is_ascii_digit() => i = parse_number(s, i, &mut nodes)?,
            c if c == '_' || c.is_alphanumeric() => i = parse_identifier(s, i, &mut nodes)?,
            '{' | '}' => return Err(ParseError::Unsupported),
            _ => return Err(ParseError::Invalid),
        }
    }
    Ok(nodes)
}

/// `.name` (backslash escapes the next character), `.*`.
fn parse_field(s: &[char], start: usize, nodes: &mut Vec<Node>) -> usize {
    let mut j = start;
    let mut raw = String::new();
    while j < s.len() {
        let c = s[j];
        if c == '\\' {
            raw.push(c);
            j += 1;
            if j < s.len() {
                raw.push(s[j]);
                j += 1;
            }
            continue;
        }
        if is_terminator(c) {
            break;
        }
        raw.push(c);
        j += 1;
    }
    if raw == "*" {
        nodes.push(Node::Wildcard);
    } else {
        nodes.push(Node::Field(raw.replace('\\', "")));
    }
    j
}

fn parse_number(s: &[char], start: usize, nodes: &mut Vec<Node>) -> Result<usize, ParseError> {
    let mut j = start;
    if matches!(s.get(j), Some('+' | '-')) {
        j += 1;
    }
    while j < s.len() && (s[j] == '.' || s[j].is_ascii_digit()) {
        j += 1;
    }
    let text: String = s[start..j].iter().collect();
    if let Ok(i) = text.parse::<i64>() {
        nodes.push(Node::Scalar(Value::from(i)));
    } else if let Some(n) = text
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
    {
        nodes.push(Node::Scalar(Value::Number(n)));
    } else {
        return Err(ParseError::Invalid);
    }
    Ok(j)
}

/// `true`/`false`; the template keywords (`range`, `end`) are not evaluated here.
fn parse_identifier(s: &[char], start: usize, nodes: &mut Vec<Node>) -> Result<usize, ParseError> {
    let mut j = start;
    while j < s.len() && !is_terminator(s[j]) {
        j += 1;
    }
    let text: String = s[start..j].iter().collect();
    match text.as_str() {
        "true" => nodes.push(Node::Scalar(Value::Bool(true))),
        "false" => nodes.push(Node::Scalar(Value::Bool(false))),
        _ => return Err(ParseError::Unsupported),
    }
    Ok(j)
}

/// A quoted string starting at `start` (the quote).
fn parse_quote(s: &[char], start: usize, nodes: &mut Vec<Node>) -> Result<usize, ParseError> {
    let quote = s[start];
    let mut j = start + 1;
    loop {
        match s.get(j) {
            None | Some('\n') => return Err(ParseError::Invalid),
            Some(&c) if c == quote && s[j - 1] != '\\' => break,
            _ => j += 1,
        }
    }
    let inner = &s[start + 1..j];
    nodes.push(Node::Text(Value::String(unquote(inner, quote)?)));
    Ok(j + 1)
}

/// The escapes of `strconv.UnquoteChar` (octal and `\x` escapes of ASCII only).
fn unquote(s: &[char], quote: char) -> Result<String, ParseError> {
    fn code(s: &[char], at: usize, n: usize, radix: u32) -> Result<char, ParseError> {
        let digits: String = s
            .get(at..at + n)
            .ok_or(ParseError::Invalid)?
            .iter()
            .collect();
        u32::from_str_radix(&digits, radix)
            .ok()
            .filter(|&v| radix != 8 || v < 256)
            .and_then(char::from_u32)
            .ok_or(ParseError::Invalid)
    }
    let mut out = String::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c == quote {
            return Err(ParseError::Invalid);
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = *s.get(i).ok_or(ParseError::Invalid)?;
        i += 1;
        let unescaped = match e {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\\' | '\'' | '"' => e,
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let ch = code(s, i, n, 16)?;
                i += n;
                ch
            }
            '0'..='7' => {
                let ch = code(s, i - 1, 3, 8)?;
                i += 2;
                ch
            }
            _ => return Err(ParseError::Invalid),
        };
        out.push(unescaped);
    }
    Ok(out)
}

/// `[...]` other than a filter: `[*]`, a dict key `['k']`, an index or a slice.
fn parse_array(text: &str, nodes: &mut Vec<Node>) -> Result<(), ParseError> {
    let text = if text == "*" { ":" } else { text };
    if text.contains(',') {
        return Err(ParseError::Unsupported);
    }
    if let Some(c) = DICT_KEY.captures(text) {
        // client-go parses the key as `.key`: dots in it must be escaped there too
        let inner: Vec<char> = format!(".{}", &c[1]).chars().collect();
        nodes.extend(parse_action(&inner)?);
        return Ok(());
    }
    let Some(c) = SLICE.captures(text) else {
        return Err(ParseError::Invalid);
    };
    let mut params = [Param::default(); 3];
    // sliceOperatorRex's groups: "start", ":end", ":step" (each possibly empty)
    let groups = [1, 2, 3].map(|g| c.get(g).map_or("", |m| m.as_str()));
    for (i, group) in groups.into_iter().enumerate() {
        let v = if i > 0 && !group.is_empty() {
            &group[1..]
        } else {
            group
        };
        params[i] = if !(group.is_empty() || i > 0 && v.is_empty()) {
            Param {
                value: v.parse::<i64>().map_err(|_| ParseError::Invalid)?,
                known: true,
                derived: false,
            }
        } else if group.is_empty() && i == 1 {
            // `[n]`: the end is n + 1
            Param {
                value: params[0].value + 1,
                known: true,
                derived: true,
            }
        } else {
            Param::default()
        };
    }
    nodes.push(Node::Array(params));
    Ok(())
}

/// `[?(left OP right)]` / `[?(left)]`; `start` is just after `[?(`. Returns the index after `]`.
fn parse_filter(s: &[char], start: usize, nodes: &mut Vec<Node>) -> Result<usize, ParseError> {
    let (mut begin, mut end) = (false, false);
    let mut pair = '\0';
    let mut j = start;
    loop {
        let Some(&r) = s.get(j) else {
            return Err(ParseError::Invalid);
        };
        j += 1;
        match r {
            '\n' => return Err(ParseError::Invalid),
            '"' | '\'' => {
                if !begin {
                    begin = true;
                    pair = r;
                    continue;
                }
                if s[j - 2] != '\\' && r == pair {
                    end = true;
                }
            }
            ')' if begin == end => break,
            _ => {}
        }
    }
    if s.get(j) != Some(&']') {
        return Err(ParseError::Invalid);
    }
    let text: String = s[start..j - 1].iter().collect();
    let chars = |t: &str| -> Vec<char> { t.chars().collect() };
    let node = match FILTER.captures(&text) {
        None => Node::Filter {
            left: parse_action(&chars(&text))?,
            op: "exists".into(),
            right: Vec::new(),
        },
        Some(c) => Node::Filter {
            left: parse_action(&chars(&c[1]))?,
            op: c[2].to_string(),
            right: parse_action(&chars(&c[3]))?,
        },
    };
    nodes.push(node);
    Ok(j + 1)
}

fn eval<'a>(input: Vec<&'a Value>, nodes: &'a [Node]) -> Result<Vec<&'a Value>, Fail> {
    let mut cur = input;
    for node in nodes {
        cur = step(cur, node)?;
    }
    Ok(cur)
}

fn step<'a>(input: Vec<&'a Value>, node: &'a Node) -> Result<Vec<&'a Value>, Fail> {
    match node {
        Node::Text(v) => Ok(vec![v]),
        Node::Scalar(v) => Ok(vec![v; input.len()]),
        // a missing key (or a field of a non-object) is no result: AllowMissingKeys(true)
        Node::Field(name) => Ok(input
            .into_iter()
            .filter_map(|v| v.as_object().and_then(|m| m.get(name.as_str())))
            .collect()),
        Node::Wildcard => {
            let mut out = Vec::new();
            for v in input {
                match v {
                    Value::Object(m) => out.extend(m.values()),
                    Value::Array(a) => out.extend(a.iter()),
                    _ => {}
                }
            }
            Ok(out)
        }
        Node::Array(params) => step_array(input, params),
        Node::Filter { left, op, right } => step_filter(input, left, op, right),
    }
}

/// `[start:end:step]` of each array (nulls skipped, anything else fails).
fn step_array<'a>(input: Vec<&'a Value>, params: &[Param; 3]) -> Result<Vec<&'a Value>, Fail> {
    let mut out = Vec::new();
    for v in input {
        if v.is_null() {
            continue;
        }
        let Value::Array(a) = v else {
            return Err(Fail);
        };
        let Some((start, end, stride)) = slice_bounds(params, a.len() as i64)? else {
            // zero elements asked for: client-go returns what it has so far
            return Ok(out);
        };
        out.extend(a[start..end].iter().step_by(stride));
    }
    Ok(out)
}

/// The start, end and stride of a slice of an array of `len` items as client-go resolves
/// them (negative indexes count from the end); None when it asks for zero elements.
fn slice_bounds(params: &[Param; 3], len: i64) -> Result<Option<(usize, usize, usize)>, Fail> {
    let mut p = *params;
    if !p[0].known {
        p[0].value = 0;
    }
    if p[0].value < 0 {
        p[0].value += len;
    }
    if !p[1].known {
        p[1].value = len;
    }
    if p[1].value < 0 || (p[1].value == 0 && p[1].derived) {
        p[1].value += len;
    }
    if p[1].value == p[0].value {
        return Ok(None);
    }
    if p[0].value >= len || p[0].value < 0 {
        return Err(Fail);
    }
    if p[1].value > len || p[1].value < 0 || p[0].value > p[1].value {
        return Err(Fail);
    }
    let stride = if p[2].known {
        if p[2].value <= 0 {
            return Err(Fail);
        }
        p[2].value as usize
    } else {
        1
    };
    Ok(Some((p[0].value as usize, p[1].value as usize, stride)))
}

/// `[?(left op right)]`: the items of each array for which the comparison holds (`exists`:
/// for which `left` has a result).
fn step_filter<'a>(
    input: Vec<&'a Value>,
    left: &'a [Node],
    op: &str,
    right: &'a [Node],
) -> Result<Vec<&'a Value>, Fail> {
    let mut out = Vec::new();
    for v in input {
        let Value::Array(a) = v else {
            return Err(Fail);
        };
        for el in a {
            let lefts = eval(vec![el], left);
            if op == "exists" {
                if lefts.is_ok_and(|l| !l.is_empty()) {
                    out.push(el);
                }
                continue;
            }
            let lefts = lefts?;
            let l = match lefts.as_slice() {
                [] => continue,
                [l] => *l,
                _ => return Err(Fail),
            };
            let rights = eval(vec![el], right)?;
            let r = match rights.as_slice() {
                [] => continue,
                [r] => *r,
                _ => return Err(Fail),
            };
            if compare(op, l, r)? {
                out.push(el);
            }
        }
    }
    Ok(out)
}

/// A value as text/template compares it (`basicKind`).
#[derive(Clone, Copy)]
enum Basic<'a> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

fn basic(v: &Value) -> Result<Basic<'_>, Fail> {
    match v {
        Value::Bool(b) => Ok(Basic::Bool(*b)),
        // unstructured JSON: int64 when it fits, float64 otherwise
        Value::Number(n) => Ok(match n.as_i64() {
            Some(i) => Basic::Int(i),
            None => Basic::Float(n.as_f64().unwrap_or(0.0)),
        }),
        Value::String(s) => Ok(Basic::Str(s)),
        _ => Err(Fail),
    }
}

fn equal(a: Basic<'_>, b: Basic<'_>) -> Result<bool, Fail> {
    match (a, b) {
        (Basic::Bool(x), Basic::Bool(y)) => Ok(x == y),
        (Basic::Int(x), Basic::Int(y)) => Ok(x == y),
        (Basic::Float(x), Basic::Float(y)) => Ok(x == y),
        (Basic::Str(x), Basic::Str(y)) => Ok(x == y),
        _ => Err(Fail),
    }
}

fn less(a: Basic<'_>, b: Basic<'_>) -> Result<bool, Fail> {
    match (a, b) {
        (Basic::Int(x), Basic::Int(y)) => Ok(x < y),
        (Basic::Float(x), Basic::Float(y)) => Ok(x < y),
        (Basic::Str(x), Basic::Str(y)) => Ok(x < y),
        _ => Err(Fail),
    }
}

fn compare(op: &str, l: &Value, r: &Value) -> Result<bool, Fail> {
    let (a, b) = (basic(l)?, basic(r)?);
    match op {
        "==" => equal(a, b),
        "!=" => equal(a, b).map(|e| !e),
        "<" => less(a, b),
        "<=" => Ok(less(a, b)? || equal(a, b)?),
        ">" => Ok(!(less(a, b)? || equal(a, b)?)),
        ">=" => less(a, b).map(|l| !l),
        _ => Err(Fail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(path: &str, data: &Value) -> Vec<Value> {
        let p = JsonPath::parse(path).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        p.find(data)
            .unwrap_or_else(|_| panic!("{path}: evaluation failed"))
            .into_iter()
            .cloned()
            .collect()
    }

    fn doc() -> Value {
        json!({
            "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "x"}},
            "spec": {"n": 2, "f": 1.5, "list": [{"b": 1}, {"b": 2}, {"c": 3}], "nil": null},
            "status": {"conditions": [
                {"type": "Synced", "status": "False", "n": 1},
                {"type": "Ready", "status": "True", "reason": "Available", "n": 2},
            ]},
        })
    }

    #[test]
    fn jsonpath_fields_indexes_wildcards() {
        let d = doc();
        assert_eq!(find(".metadata.name", &d), vec![json!("a")]);
        assert_eq!(find("$.metadata.name", &d), vec![json!("a")]);
        assert_eq!(find(".spec.list[0].b", &d), vec![json!(1)]);
        assert_eq!(find(".spec.list[-1]", &d), vec![json!({"c": 3})]);
        assert_eq!(find(".spec.list[*].b", &d), vec![json!(1), json!(2)]);
        assert_eq!(find(".spec.list[0:2].b", &d), vec![json!(1), json!(2)]);
        assert_eq!(find(".spec.list[::2].b", &d), vec![json!(1)]);
        assert_eq!(find(".spec.list[1:1]", &d), Vec::<Value>::new());
        assert_eq!(find(".metadata.*", &d).len(), 2);
        assert_eq!(
            find(".metadata.labels.app\\.kubernetes\\.io/name", &d),
            vec![json!("x")]
        );
        assert_eq!(
            find(".metadata.labels['app\\.kubernetes\\.io/name']", &d),
            vec![json!("x")]
        );
        // missing keys are no result, JSON null is one
        assert_eq!(find(".spec.missing.deeper", &d), Vec::<Value>::new());
        assert_eq!(find(".spec.nil", &d), vec![Value::Null]);
        assert_eq!(find(".spec.nil.x", &d), Vec::<Value>::new());
        // out of range and non-arrays: an error (a null cell)
        let p = JsonPath::parse(".spec.list[5]").unwrap();
        assert!(p.find(&d).is_err());
        let p = JsonPath::parse(".spec.n[0]").unwrap();
        assert!(p.find(&d).is_err());
    }

    #[test]
    fn jsonpath_filters() {
        let d = doc();
        let ready = r#".status.conditions[?(@.type=="Ready")]"#;
        assert_eq!(find(&format!("{ready}.status"), &d), vec![json!("True")]);
        assert_eq!(
            find(&format!("{ready}.reason"), &d),
            vec![json!("Available")]
        );
        assert_eq!(find(&format!("{ready}.message"), &d), Vec::<Value>::new());
        assert_eq!(
            find(".status.conditions[?(@.type=='Synced')].status", &d),
            vec![json!("False")]
        );
        assert_eq!(
            find(r#".status.conditions[?(@.type!="Ready")].type"#, &d),
            vec![json!("Synced")]
        );
        assert_eq!(
            find(".status.conditions[?(@.n>=2)].type", &d),
            vec![json!("Ready")]
        );
        assert_eq!(
            find(".status.conditions[?(@.n < 2)].type", &d),
            vec![json!("Synced")]
        );
        assert_eq!(
            find(".status.conditions[?(@.reason)].type", &d),
            vec![json!("Ready")]
        );
        assert_eq!(
            find(r#".status.conditions[?(@.type=="Nope")].status"#, &d),
            Vec::<Value>::new()
        );
        // int against float is a comparison error, as in text/template
        let p = JsonPath::parse(".status.conditions[?(@.n==2.0)]").unwrap();
        assert!(p.find(&d).is_err());
    }

    #[test]
    fn jsonpath_parse_errors() {
        assert!(matches!(JsonPath::parse(".a[x]"), Err(ParseError::Invalid)));
        assert!(matches!(JsonPath::parse(".a[0"), Err(ParseError::Invalid)));
        assert!(matches!(
            JsonPath::parse(".a[?(@.b==\"c\""),
            Err(ParseError::Invalid)
        ));
        assert!(matches!(
            JsonPath::parse("..a"),
            Err(ParseError::Unsupported)
        ));
        assert!(matches!(
            JsonPath::parse(".a[0,1]"),
            Err(ParseError::Unsupported)
        ));
    }

    #[test]
    fn human_duration_matches_apimachinery() {
        let s = |n: i64| n * 1_000_000_000;
        let cases: &[(i64, &str)] = &[
            (-s(3), "<invalid>"),
            (-s(2), "<invalid>"),
            (-1_500_000_000, "0s"),
            (-s(1), "0s"),
            (0, "0s"),
            (s(5), "5s"),
            (s(119), "119s"),
            (s(120), "2m"),
            (s(190), "3m10s"),
            (s(599), "9m59s"),
            (s(600), "10m"),
            (s(179 * 60 + 59), "179m"),
            (s(3 * 3600), "3h"),
            (s(3 * 3600 + 5 * 60), "3h5m"),
            (s(8 * 3600 + 59 * 60), "8h"),
            (s(47 * 3600), "47h"),
            (s(48 * 3600), "2d"),
            (s(53 * 3600), "2d5h"),
            (s(8 * 24 * 3600), "8d"),
            (s(729 * 24 * 3600), "729d"),
            (s(730 * 24 * 3600), "2y"),
            (s(733 * 24 * 3600), "2y3d"),
            (s(8 * 365 * 24 * 3600), "8y"),
            (s(20 * 365 * 24 * 3600), "20y"),
        ];
        for (d, want) in cases {
            assert_eq!(human_duration(*d), *want, "{d} ns");
        }
    }

    #[test]
    fn cells_like_the_crd_table_convertor() {
        let now: Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let col = |type_: &str, path: &str| PrinterColumn {
            name: "c".into(),
            type_: type_.into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            path: Some(JsonPath::parse(path).unwrap()),
        };
        let obj = json!({"spec": {
            "s": "x", "i": 7, "f": 2.5, "big": 1000000.0, "b": true, "nil": null,
            "o": {"k": "<v>"}, "t": "2026-01-01T00:06:50Z", "future": "2026-01-02T00:00:00Z",
            "bad": "yesterday", "empty": "", "zero": "0001-01-01T00:00:00Z"
        }});
        let cell = |type_: &str, path: &str| col(type_, path).cell(&obj, now);
        assert_eq!(cell("string", ".spec.s"), json!("x"));
        assert_eq!(cell("string", ".spec.i"), json!("7"));
        assert_eq!(cell("string", ".spec.f"), json!("2.5"));
        assert_eq!(cell("string", ".spec.big"), json!("1e+06"));
        assert_eq!(cell("string", ".spec.b"), json!("true"));
        assert_eq!(cell("string", ".spec.nil"), json!("<no value>"));
        assert_eq!(
            cell("string", ".spec.o"),
            json!("{\"k\":\"\\u003cv\\u003e\"}")
        );
        assert_eq!(cell("string", ".spec.missing"), Value::Null);
        assert_eq!(cell("integer", ".spec.i"), json!(7));
        assert_eq!(cell("integer", ".spec.f"), json!(2));
        assert_eq!(cell("integer", ".spec.s"), Value::Null);
        assert_eq!(cell("number", ".spec.i"), json!(7.0));
        assert_eq!(cell("boolean", ".spec.b"), json!(true));
        assert_eq!(cell("boolean", ".spec.s"), Value::Null);
        assert_eq!(cell("date", ".spec.t"), json!("3m10s"));
        assert_eq!(cell("date", ".spec.future"), json!("<invalid>"));
        assert_eq!(cell("date", ".spec.bad"), json!("<invalid>"));
        assert_eq!(cell("date", ".spec.empty"), json!("<unknown>"));
        assert_eq!(cell("date", ".spec.zero"), json!("<unknown>"));
        assert_eq!(cell("date", ".spec.i"), Value::Null);
        assert_eq!(cell("unknown", ".spec.s"), Value::Null);
    }

    #[test]
    fn go_float_formatting() {
        for (f, want) in [
            (1.5, "1.5"),
            (100.0, "100"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.5, "1.2345675e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.25, "-2.25"),
            (1e21, "1e+21"),
        ] {
            assert_eq!(go_float_v(f), want, "{f}");
        }
    }

    #[test]
    fn default_and_declared_columns() {
        let cols = columns_of(&json!({"name": "v1"}));
        assert_eq!(cols.len(), 1);
        assert_eq!(cols[0].name, "Age");
        assert_eq!(cols[0].type_, "date");
        assert_eq!(cols[0].description, CREATION_TIMESTAMP_DESCRIPTION);
        let cols = columns_of(&json!({"additionalPrinterColumns": [
            {"name": "A", "type": "string", "jsonPath": ".spec.a", "priority": 1},
            {"name": "B", "type": "string", "jsonPath": ".spec.b", "description": "bee"},
            {"name": "C", "type": "string", "jsonPath": ".spec..c"},
            {"name": "D", "type": "string", "jsonPath": ".spec[x]"},
            {"name": "E", "type": "string", "jsonPath": ".spec.e"},
        ]}));
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["A", "B", "C"],
            "an unparseable column ends the list"
        );
        assert_eq!(
            cols[0].description,
            "Custom resource definition column (in JSONPath format): .spec.a"
        );
        assert_eq!(cols[0].priority, 1);
        assert_eq!(cols[1].description, "bee");
        assert!(cols[2].path.is_none());
    }
}
