//! Label and field selectors (`labels.Parse` / `fields.ParseSelector` semantics).

use serde_json::Value;

use super::meta::{is_qualified_name, is_valid_label_value};

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
    Gt(i64),
    Lt(i64),
}

#[derive(Clone, Debug, PartialEq)]
struct Req {
    key: String,
    op: Op,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LabelSelector {
    reqs: Vec<Req>,
}

fn check_key(k: &str) -> Result<(), String> {
    let errs = is_qualified_name(k);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: key: Invalid value: \"{k}\": {}",
            errs.join("; ")
        ))
    }
}

fn check_value(v: &str) -> Result<(), String> {
    let errs = is_valid_label_value(v);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: values[0][{v}]: Invalid value: \"{v}\": {}",
            errs.join("; ")
        ))
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn parse_set(rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("found '{rest}', expected: '('"))?;
    let mut vals = Vec::new();
    for v in inner.split(',') {
        let v = v.trim().to_string();
        check_value(&v)?;
        vals.push(v);
    }
    Ok(vals)
}

/// The trimmed key before byte `i` and value after the `op_len`-byte operator there, both
/// checked.
fn key_value(part: &str, i: usize, op_len: usize) -> Result<(&str, &str), String> {
    let (k, v) = (part[..i].trim(), part[i + op_len..].trim());
    check_key(k)?;
    check_value(v)?;
    Ok((k, v))
}

/// The trimmed key, checked.
fn checked_key(k: &str) -> Result<&str, String> {
    let k = k.trim();
    check_key(k)?;
    Ok(k)
}

/// The integer operand of `gt` and `lt`.
fn int_value(v: &str) -> Result<i64, String> {
    v.trim().parse().map_err(|_| {
        "unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer"
            .to_string()
    })
}

/// One requirement: `!k`, `k!=v`, `k==v`, `k=v`, `k notin (..)`, `k in (..)`, `k>n`, `k<n`
/// or `k`, tried in that order.
fn parse_requirement(part: &str) -> Result<Req, String> {
    let req = |key: &str, op: Op| Req {
        key: key.into(),
        op,
    };
    if let Some(key) = part.strip_prefix('!') {
        return Ok(req(checked_key(key)?, Op::NotExists));
    }
    if let Some(i) = part.find("!=") {
        let (k, v) = key_value(part, i, 2)?;
        return Ok(req(k, Op::NotEq(v.into())));
    }
    if let Some(i) = part.find("==") {
        let (k, v) = key_value(part, i, 2)?;
        return Ok(req(k, Op::Eq(v.into())));
    }
    if let Some(i) = part.find('=') {
        let (k, v) = key_value(part, i, 1)?;
        return Ok(req(k, Op::Eq(v.into())));
    }
    if let Some(i) = part.find(" notin ").or_else(|| part.find(" notin(")) {
        let k = checked_key(&part[..i])?;
        return Ok(req(k, Op::NotIn(parse_set(&part[i + 6..])?)));
    }
    if let Some(i) = part.find(" in ").or_else(|| part.find(" in(")) {
        let k = checked_key(&part[..i])?;
        return Ok(req(k, Op::In(parse_set(&part[i + 3..])?)));
    }
    if let Some(i) = part.find('>') {
        let k = checked_key(&part[..i])?;
        return Ok(req(k, Op::Gt(int_value(&part[i + 1..])?)));
    }
    if let Some(i) = part.find('<') {
        let k = checked_key(&part[..i])?;
        return Ok(req(k, Op::Lt(int_value(&part[i + 1..])?)));
    }
    if part.contains(' ') {
        return Err(format!(
            "unable to parse requirement: found '{part}', expected: ',' or 'end of string'"
        ));
    }
    check_key(part)?;
    Ok(req(part, Op::Exists))
}

impl LabelSelector {
    pub(crate) fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(LabelSelector { reqs });
        }
        for part in split_top(s) {
            let part = part.trim();
            if part.is_empty() {
                return Err("found '', expected: identifier".to_string());
            }
            reqs.push(parse_requirement(part)?);
        }
        Ok(LabelSelector { reqs })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub(crate) fn matches(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|r| match &r.op {
            Op::Eq(v) => get(&r.key) == Some(v.as_str()),
            Op::NotEq(v) => get(&r.key) != Some(v.as_str()),
            Op::In(vs) => get(&r.key).is_some_and(|x| vs.iter().any(|v| v == x)),
            Op::NotIn(vs) => get(&r.key).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Op::Exists => get(&r.key).is_some(),
            Op::NotExists => get(&r.key).is_none(),
            Op::Gt(n) => get(&r.key)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            Op::Lt(n) => get(&r.key)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses a field selector and checks every field against `supported`.
    pub(crate) fn parse(s: &str, supported: &[&str]) -> Result<FieldSelector, String> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector { reqs });
        }
        for part in s.split(',') {
            let part = part.trim();
            let (k, eq, v) = if let Some(i) = part.find("!=") {
                (&part[..i], false, &part[i + 2..])
            } else if let Some(i) = part.find("==") {
                (&part[..i], true, &part[i + 2..])
            } else if let Some(i) = part.find('=') {
                (&part[..i], true, &part[i + 1..])
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let k = k.trim();
            if !supported.contains(&k) {
                return Err(format!("field label not supported: {k}"));
            }
            reqs.push((k.to_string(), eq, v.trim().to_string()));
        }
        Ok(FieldSelector { reqs })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(k, eq, v)| {
            let mut cur = obj;
            for seg in k.split('.') {
                cur = cur.get(seg).unwrap_or(&Value::Null);
            }
            let actual = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (actual == *v) == *eq
        })
    }
}
