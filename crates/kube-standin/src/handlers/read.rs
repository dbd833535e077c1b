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
    validate_list_options(q, &rv_param, &rv_match, &cont)?;
    let limit = parse_limit(q)?;
    let from = list_from(sh, &cont, &rv_param, &rv_match, limit).await?;
    let list_ns = if def.namespaced { ns } else { None };
    let (rv, items) = read_items(sh, def, list_ns, &from.at, !cont.is_empty())?;
    let candidates: Vec<(String, Arc<Value>)> = items
        .into_iter()
        .map(|(k, v)| (item_key(def, list_ns, &k), v))
        .filter(|(k, _)| from.start.is_empty() || *k >= from.start)
        .filter(|(_, v)| matches(v, &ls, &fs))
        .collect();
    let page_limit = if from.paging { limit } else { 0 };
    let unfiltered = ls.is_empty() && fs.is_empty();
    let page = paginate(candidates, rv, page_limit, unfiltered);
    Ok(Reply::new(
        200,
        encode_list(def, rv, &page.cont, page.remaining, &page.items, meta_only),
    ))
}

/// ListOptions validation of `resourceVersionMatch` and `sendInitialEvents`.
fn validate_list_options(
    q: &Query,
    rv_param: &str,
    rv_match: &str,
    cont: &str,
) -> Result<(), ApiError> {
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
                BadValue::Str(rv_match.to_string()),
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
    Ok(())
}

/// `limit`: unset or empty is 0 (no limit).
fn parse_limit(q: &Query) -> Result<i64, ApiError> {
    Ok(match q.get("limit") {
        Some(l) if !l.is_empty() => l
            .parse()
            .map_err(|_| ApiError::bad_request(&format!("invalid limit: {l}")))?,
        _ => 0,
    })
}

/// Which revision a list reads.
enum At {
    Current,
    Exact(u64),
}

/// Where a list reads.
struct ListFrom {
    at: At,
    /// Whether `limit` applies (not with resourceVersion "0": the watch cache serves it whole).
    paging: bool,
    /// The key the page starts at, from a continue token ("" from the start).
    start: String,
}

/// The revision a list reads and whether it is paged, from `continue`, `resourceVersion` and
/// `resourceVersionMatch`; waits until the store has reached a given resourceVersion.
async fn list_from(
    sh: &Shared,
    cont: &str,
    rv_param: &str,
    rv_match: &str,
    limit: i64,
) -> Result<ListFrom, ApiError> {
    let from = |at, paging| ListFrom {
        at,
        paging,
        start: String::new(),
    };
    if !cont.is_empty() {
        if !rv_param.is_empty() && rv_param != "0" {
            return Err(ApiError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        let tok = decode_continue(cont)?;
        return Ok(ListFrom {
            at: At::Exact(tok.rv as u64),
            paging: true,
            start: tok.start,
        });
    }
    if rv_param.is_empty() {
        return Ok(from(At::Current, true));
    }
    if rv_param == "0" {
        return Ok(from(At::Current, false));
    }
    let rv = parse_rv(rv_param)?;
    wait_for_rv(sh, rv).await?;
    Ok(match rv_match {
        "Exact" => from(At::Exact(rv), true),
        "NotOlderThan" => from(At::Current, true),
        _ if limit > 0 => from(At::Exact(rv), true),
        _ => from(At::Current, false),
    })
}

/// Stored objects by key, in key order.
type Items = Vec<(ObjKey, Arc<Value>)>;

/// The objects at `at` and the resourceVersion of the list; 410 when that revision is no longer
/// in the history (worded for a continue token when `continuing`).
fn read_items(
    sh: &Shared,
    def: &ResourceDef,
    list_ns: Option<&str>,
    at: &At,
    continuing: bool,
) -> Result<(u64, Items), ApiError> {
    let st = sh.store();
    match *at {
        At::Current => Ok((st.rev, st.list(&res_key(def), list_ns))),
        At::Exact(rv) => match st.snapshot(&res_key(def), list_ns, rv) {
            Some(items) => Ok((rv, items)),
            None if continuing => Err(ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
            )),
            None => Err(ApiError::expired(
                "The resourceVersion for the provided list is too old.",
            )),
        },
    }
}

/// One page of a list.
struct Page {
    items: Vec<Arc<Value>>,
    /// The continue token ("" on the last page).
    cont: String,
    /// `remainingItemCount`: known only when no selector filtered the list.
    remaining: Option<i64>,
}

/// The first `limit` candidates (all of them when `limit` is 0) and the token for the rest.
fn paginate(candidates: Vec<(String, Arc<Value>)>, rv: u64, limit: i64, unfiltered: bool) -> Page {
    if limit > 0 && candidates.len() as i64 > limit {
        let items: Vec<Arc<Value>> = candidates[..limit as usize]
            .iter()
            .map(|(_, v)| v.clone())
            .collect();
        let last = &candidates[limit as usize - 1].0;
        let cont = encode_continue(rv, &format!("{last}\u{0}"));
        let remaining = unfiltered.then_some(candidates.len() as i64 - limit);
        Page {
            items,
            cont,
            remaining,
        }
    } else {
        Page {
            items: candidates.into_iter().map(|(_, v)| v).collect(),
            cont: String::new(),
            remaining: None,
        }
    }
}
