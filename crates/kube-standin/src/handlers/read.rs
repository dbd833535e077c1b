//! GET and LIST: one object, or a page of them with selectors, resourceVersion semantics and
//! continue tokens.

use super::*;

pub(crate) fn get(
    sh: &Shared,
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    meta_only: bool,
) -> Result<Reply, ApiError> {
    let st = sh.store();
    match st.get(&res_key(def), &obj_key(def, ns, name)) {
        Some(obj) => Ok(Reply::new(200, encode_object(def, &obj, meta_only))),
        None => Err(ApiError::not_found(&def.gr(), name)),
    }
}

fn list_options_invalid(errs: &[FieldError]) -> ApiError {
    ApiError::invalid("meta.k8s.io", "ListOptions", "", errs)
}

/// Waits (up to 3 s) until the store has reached `rv`; 504 otherwise.
pub(crate) async fn wait_for_rv(sh: &Shared, rv: u64) -> Result<(), ApiError> {
    let mut rx = sh.rev_tx.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let cur = sh.store().rev;
        if cur >= rv {
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            return Err(ApiError::too_large_resource_version(rv, sh.store().rev));
        }
    }
}

pub(crate) fn parse_rv(s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>()
        .map_err(|_| ApiError::bad_request(&format!("invalid resource version: {s}")))
}

pub(crate) fn selectors(
    def: &ResourceDef,
    q: &Query,
) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let ls = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))
        .map_err(|e| ApiError::bad_request(&e))?;
    let fs = FieldSelector::parse(
        q.get("fieldSelector").map_or("", String::as_str),
        &def.field_selectors(),
    )
    .map_err(|e| ApiError::bad_request(&e))?;
    Ok((ls, fs))
}

pub(crate) fn matches(obj: &Value, ls: &LabelSelector, fs: &FieldSelector) -> bool {
    ls.matches(obj.get("metadata").and_then(|m| m.get("labels"))) && fs.matches(obj)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

fn encode_continue(rv: u64, start: &str) -> String {
    use base64::Engine;
    let tok = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv: rv as i64,
        start: start.to_string(),
    };
    let json = serde_json::to_string(&tok).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.as_bytes())
}

fn decode_continue(s: &str) -> Result<ContinueToken, ApiError> {
    use base64::Engine;
    let bad = |why: &str| ApiError::bad_request(&format!("invalid continue token: {why}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('=').as_bytes())
        .map_err(|e| bad(&format!("continue key is not valid: {e}")))?;
    let tok: ContinueToken = serde_json::from_slice(&raw)
        .map_err(|e| bad(&format!("continue key is not valid: {e}")))?;
    if tok.v != "meta.k8s.io/v1" {
        return Err(bad(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    if tok.rv <= 0 {
        return Err(bad(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    Ok(tok)
}

fn item_key(def: &ResourceDef, ns: Option<&str>, key: &ObjKey) -> String {
    if def.namespaced && ns.is_none() {
        format!("{}/{}", key.0, key.1)
    } else {
        key.1.clone()
    }
}

pub(crate) async fn list(
    sh: &Shared,
    def: &ResourceDef,
    ns: Option<&str>,
    q: &Query,
    meta_only: bool,
) -> Result<Reply, ApiError> {
    let (ls, fs) = selectors(def, q)?;
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let rv_match = q.get("resourceVersionMatch").cloned().unwrap_or_default();
    let cont = q.get("continue").cloned().unwrap_or_default();
    let mut errs = Vec::new();
    if !rv_match.is_empty() {
        if rv_param.is_empty() {
            errs.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if !cont.is_empty() {
            errs.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if rv_match != "Exact" && rv_match != "NotOlderThan" {
            errs.push(FieldError::not_supported(
                "resourceVersionMatch",
                BadValue::Str(rv_match.clone()),
                &["Exact".into(), "NotOlderThan".into(), String::new()],
            ));
        }
        if rv_match == "Exact" && rv_param == "0" {
            errs.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    if q.contains_key("sendInitialEvents") {
        errs.push(FieldError::forbidden(
            "sendInitialEvents",
            "sendInitialEvents is forbidden for list",
        ));
    }
    if !errs.is_empty() {
        return Err(list_options_invalid(&errs));
    }
    let limit: i64 = match q.get("limit") {
        Some(l) if !l.is_empty() => l
            .parse()
            .map_err(|_| ApiError::bad_request(&format!("invalid limit: {l}")))?,
        _ => 0,
    };
    // Which revision to read, whether paging applies.
    enum At {
        Current,
        Exact(u64),
    }
    let mut start = String::new();
    let (at, paging) = if !cont.is_empty() {
        if !rv_param.is_empty() && rv_param != "0" {
            return Err(ApiError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        let tok = decode_continue(&cont)?;
        start = tok.start;
        (At::Exact(tok.rv as u64), true)
    } else if rv_param.is_empty() {
        (At::Current, true)
    } else if rv_param == "0" {
        (At::Current, false)
    } else {
        let rv = parse_rv(&rv_param)?;
        match rv_match.as_str() {
            "Exact" => {
                wait_for_rv(sh, rv).await?;
                (At::Exact(rv), true)
            }
            "NotOlderThan" => {
                wait_for_rv(sh, rv).await?;
                (At::Current, true)
            }
            _ if limit > 0 => {
                wait_for_rv(sh, rv).await?;
                (At::Exact(rv), true)
            }
            _ => {
                wait_for_rv(sh, rv).await?;
                (At::Current, false)
            }
        }
    };
    let st = sh.store();
    let list_ns = if def.namespaced { ns } else { None };
    let (rv, items) = match at {
        At::Current => (st.rev, st.list(&res_key(def), list_ns)),
        At::Exact(rv) => match st.snapshot(&res_key(def), list_ns, rv) {
            Some(items) => (rv, items),
            None if !cont.is_empty() => {
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ));
            }
            None => {
                return Err(ApiError::expired(
                    "The resourceVersion for the provided list is too old.",
                ));
            }
        },
    };
    drop(st);
    let candidates: Vec<(String, Arc<Value>)> = items
        .into_iter()
        .map(|(k, v)| (item_key(def, list_ns, &k), v))
        .filter(|(k, _)| start.is_empty() || *k >= start)
        .filter(|(_, v)| matches(v, &ls, &fs))
        .collect();
    let (page, cont_out, remaining) = if paging && limit > 0 && candidates.len() as i64 > limit {
        let page: Vec<Arc<Value>> = candidates[..limit as usize]
            .iter()
            .map(|(_, v)| v.clone())
            .collect();
        let last = &candidates[limit as usize - 1].0;
        let token = encode_continue(rv, &format!("{last}\u{0}"));
        let remaining = (ls.is_empty() && fs.is_empty()).then_some(candidates.len() as i64 - limit);
        (page, token, remaining)
    } else {
        (
            candidates.into_iter().map(|(_, v)| v).collect(),
            String::new(),
            None,
        )
    };
    Ok(Reply::new(
        200,
        encode_list(def, rv, &cont_out, remaining, &page, meta_only),
    ))
}
