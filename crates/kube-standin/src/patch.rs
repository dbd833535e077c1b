//! Patch application with the semantics of the libraries kube-apiserver uses:
//! RFC 7386 merge patch, RFC 6902 JSON patch as evanphx/json-patch implements it (a `test` of a
//! missing path against `null` passes), and strategic merge patch for built-in kinds.

use serde_json::{Map, Value};

/// A patch failure: `Bad` = the patch itself could not be decoded (400), `Apply` = an operation
/// failed (422 with the generic message).
#[derive(Debug)]
pub(crate) enum PatchError {
    Bad(String),
    /// The message says which operation failed; the API answer is generic, as kube-apiserver's.
    Apply(#[expect(dead_code, reason = "read only through Debug, when debugging")] String),
}

/// RFC 7386 JSON merge patch.
pub(crate) fn merge_patch(doc: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(p) => {
            let mut out = match doc {
                Value::Object(d) => d.clone(),
                _ => Map::new(),
            };
            for (k, pv) in p {
                if pv.is_null() {
                    out.remove(k);
                } else {
                    let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), pv);
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn parse_pointer(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    if !path.starts_with('/') {
        return Err(PatchError::Apply(format!("invalid path: {path}")));
    }
    Ok(path[1..].split('/').map(unescape).collect())
}

fn parse_index(tok: &str, len: usize, allow_end: bool) -> Result<usize, PatchError> {
    if tok == "-" && allow_end {
        return Ok(len);
    }
    let i: i64 = tok
        .parse()
        .map_err(|_| PatchError::Apply(format!("invalid index {tok}")))?;
    let max = if allow_end {
        len as i64
    } else {
        len as i64 - 1
    };
    if i < 0 || i > max {
        return Err(PatchError::Apply(
            "Unable to access invalid index".to_string(),
        ));
    }
    Ok(i as usize)
}

fn get_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get_mut(t)?,
            Value::Array(a) => {
                let i: usize = t.parse().ok()?;
                a.get_mut(i)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

fn get<'a>(doc: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get(t)?,
            Value::Array(a) => a.get(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn add(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), PatchError> {
    let Some((last, parent)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    let container = get_mut(doc, parent).ok_or_else(|| {
        PatchError::Apply(format!(
            "add operation does not apply: doc is missing path: /{}",
            tokens.join("/")
        ))
    })?;
    match container {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = parse_index(last, a.len(), true)?;
            a.insert(i, value);
            Ok(())
        }
        _ => Err(PatchError::Apply(
            "add operation does not apply: doc is missing path".to_string(),
        )),
    }
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<Value, PatchError> {
    let Some((last, parent)) = tokens.split_last() else {
        return Err(PatchError::Apply("unable to remove the root".to_string()));
    };
    let container = get_mut(doc, parent).ok_or_else(|| {
        PatchError::Apply(format!(
            "remove operation does not apply: doc is missing path: /{}",
            tokens.join("/")
        ))
    })?;
    match container {
        Value::Object(m) => m.remove(last).ok_or_else(|| {
            PatchError::Apply(format!(
                "Unable to remove nonexistent key: {last}: missing value"
            ))
        }),
        Value::Array(a) => {
            let i = parse_index(last, a.len(), false)?;
            Ok(a.remove(i))
        }
        _ => Err(PatchError::Apply(
            "remove operation does not apply".to_string(),
        )),
    }
}

/// RFC 6902 JSON patch with evanphx/json-patch semantics.
pub(crate) fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = patch.as_array().ok_or_else(|| {
        PatchError::Bad(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch".to_string(),
        )
    })?;
    let mut doc = doc.clone();
    for op in ops {
        let o = op.as_object().ok_or_else(|| {
            PatchError::Bad("json: cannot unmarshal into jsonpatch.Operation".to_string())
        })?;
        apply_op(&mut doc, o)?;
    }
    Ok(doc)
}

/// The parsed pointer `p` of an operation; `missing` is the error when it has none.
fn op_pointer(p: Option<&str>, missing: &str) -> Result<Vec<String>, PatchError> {
    parse_pointer(p.ok_or_else(|| PatchError::Apply(missing.into()))?)
}

/// One operation of a JSON patch.
fn apply_op(doc: &mut Value, o: &Map<String, Value>) -> Result<(), PatchError> {
    let kind = o.get("op").and_then(Value::as_str).unwrap_or("");
    let path = o.get("path").and_then(Value::as_str);
    let value = o.get("value");
    let from = o.get("from").and_then(Value::as_str);
    match kind {
        "add" => {
            let tokens = op_pointer(path, "add operation missing path")?;
            let v = value.ok_or_else(|| PatchError::Apply("add operation missing value".into()))?;
            add(doc, &tokens, v.clone())
        }
        "remove" => {
            let tokens = op_pointer(path, "remove operation missing path")?;
            remove(doc, &tokens)?;
            Ok(())
        }
        "replace" => {
            let tokens = op_pointer(path, "replace operation missing path")?;
            let v =
                value.ok_or_else(|| PatchError::Apply("replace operation missing value".into()))?;
            replace(doc, &tokens, v)
        }
        "move" => {
            let from = op_pointer(from, "move missing from")?;
            let tokens = op_pointer(path, "move operation missing path")?;
            let v = remove(doc, &from)?;
            add(doc, &tokens, v)
        }
        "copy" => {
            let from = op_pointer(from, "copy missing from")?;
            let tokens = op_pointer(path, "copy operation missing path")?;
            let v = get(doc, &from)
                .cloned()
                .ok_or_else(|| PatchError::Apply("copy from missing".into()))?;
            add(doc, &tokens, v)
        }
        "test" => {
            let tokens = op_pointer(path, "test operation missing path")?;
            test(doc, &tokens, path.unwrap_or(""), value)
        }
        other => Err(PatchError::Apply(format!("Unexpected kind: {other}"))),
    }
}

fn replace(doc: &mut Value, tokens: &[String], v: &Value) -> Result<(), PatchError> {
    if tokens.is_empty() {
        *doc = v.clone();
        return Ok(());
    }
    let target = get_mut(doc, tokens).ok_or_else(|| {
        PatchError::Apply("replace operation does not apply: doc is missing key".into())
    })?;
    *target = v.clone();
    Ok(())
}

/// The `test` operation (`path` as written, for the errors): an absent value equals null.
fn test(
    doc: &Value,
    tokens: &[String],
    path: &str,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let expected = value.cloned().unwrap_or(Value::Null);
    let Some((_, parent)) = tokens.split_last() else {
        if *doc != expected {
            return Err(PatchError::Apply("testing value failed".into()));
        }
        return Ok(());
    };
    if get(doc, parent).is_none() {
        return Err(PatchError::Apply(format!(
            "test operation does not apply: is missing path: {path}"
        )));
    }
    let ok = match get(doc, tokens) {
        None | Some(Value::Null) => expected.is_null(),
        Some(a) => *a == expected,
    };
    if !ok {
        return Err(PatchError::Apply(format!("testing value {path} failed")));
    }
    Ok(())
}

/// Strategic merge patch for the built-in kinds served here: a merge patch where
/// `metadata.ownerReferences` merge by `uid`, `metadata.finalizers` merge as a set, and the
/// `$patch`, `$deleteFromPrimitiveList` and `$setElementOrder` directives are honoured.
pub(crate) fn strategic_merge_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::Bad(
            "unable to find api field in struct Unstructured for the json field \"\"".into(),
        ));
    }
    Ok(smp(doc, patch, ""))
}

fn merge_key(path: &str) -> Option<Option<&'static str>> {
    match path {
        ".metadata.ownerReferences" => Some(Some("uid")),
        ".metadata.finalizers" => Some(None),
        _ => None,
    }
}

fn smp(doc: &Value, patch: &Value, path: &str) -> Value {
    let Value::Object(p) = patch else {
        return patch.clone();
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut p = p.clone();
            p.remove("$patch");
            return Value::Object(p);
        }
        Some("delete") => return Value::Null,
        _ => {}
    }
    let mut out = match doc {
        Value::Object(d) => d.clone(),
        _ => Map::new(),
    };
    for (k, pv) in p {
        if k.starts_with("$setElementOrder/") || k == "$patch" || k == "$retainKeys" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Value::Array(del)) = (out.get_mut(field), pv) {
                cur.retain(|v| !del.contains(v));
            }
            continue;
        }
        let child_path = format!("{path}.{k}");
        if pv.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match (merge_key(&child_path), out.get(k), pv) {
            (Some(key), Some(Value::Array(cur)), Value::Array(items)) => {
                Value::Array(merge_list(cur, items, key))
            }
            (_, cur, Value::Object(_)) => {
                let v = smp(cur.unwrap_or(&Value::Null), pv, &child_path);
                if v.is_null() {
                    out.remove(k);
                    continue;
                }
                v
            }
            _ => pv.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Value::Object(out)
}

fn merge_list(cur: &[Value], items: &[Value], key: Option<&str>) -> Vec<Value> {
    let mut out: Vec<Value> = cur.to_vec();
    for item in items {
        match key {
            None => {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
            Some(key) => {
                let id = item.get(key).cloned();
                let directive = item.get("$patch").and_then(Value::as_str);
                let pos = out
                    .iter()
                    .position(|o| o.get(key).cloned() == id && id.is_some());
                match (pos, directive) {
                    (Some(i), Some("delete")) => {
                        out.remove(i);
                    }
                    (_, Some("delete")) => {}
                    (Some(i), _) => {
                        let merged = smp(&out[i], item, "");
                        out[i] = merged;
                    }
                    (None, _) => out.push(item.clone()),
                }
            }
        }
    }
    out
}
