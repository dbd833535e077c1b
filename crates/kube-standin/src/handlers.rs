//! The resource verbs: get, list, create, update, patch, delete, deletecollection — with
//! kube-apiserver's order of checks (decode, admission, validation, preconditions, storage).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::fieldmanager::{self, Managed, Writer};
use super::gotypes::{self, Ty};
use super::meta;
use super::patch::{self, PatchError};
use super::resources::{FieldValidation, KindImpl, ResourceDef};
use super::selector::{FieldSelector, LabelSelector};
use super::server::{Shared, WriteCtx, finalizers, is_terminating, meta_mut, meta_str};
use super::status::{self, ApiError, BadValue, FieldError, GroupResource, go_quote};
use super::store::{ObjKey, ResKey, Store, rv_of};

pub(crate) type Query = BTreeMap<String, String>;

/// A successful answer.
pub(crate) struct Reply {
    pub code: u16,
    pub body: String,
    pub warnings: Vec<String>,
}

impl Reply {
    fn new(code: u16, body: String) -> Reply {
        Reply {
            code,
            body,
            warnings: Vec::new(),
        }
    }
}

pub(crate) fn res_key(def: &ResourceDef) -> ResKey {
    (def.group.clone(), def.plural.clone())
}

pub(crate) fn obj_key(def: &ResourceDef, ns: Option<&str>, name: &str) -> ObjKey {
    (
        if def.namespaced {
            ns.unwrap_or("").to_string()
        } else {
            String::new()
        },
        name.to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// encoding
// ---------------------------------------------------------------------------------------------

fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// One object as the server encodes it (CRs: sorted keys; built-ins: Go struct order).
pub(crate) fn encode_object(def: &ResourceDef, obj: &Value, meta_only: bool) -> String {
    if meta_only {
        return gotypes::encode(
            &partial_metadata(obj),
            &Ty::Struct(&gotypes::PARTIAL_OBJECT_METADATA),
        );
    }
    gotypes::encode(obj, &def.ty())
}

fn encode_list(
    def: &ResourceDef,
    rv: u64,
    cont: &str,
    remaining: Option<i64>,
    items: &[Arc<Value>],
    meta_only: bool,
) -> String {
    let mut out = String::new();
    if meta_only {
        out.push_str("{\"kind\":\"PartialObjectMetadataList\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":");
        out.push_str(&list_meta_go(rv, cont, remaining));
        out.push_str(",\"items\":[");
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&encode_object(def, it, true));
        }
        out.push_str("]}");
        return out;
    }
    if def.is_custom() {
        out.push_str("{\"apiVersion\":");
        gotypes::write_str(&mut out, &def.api_version());
        out.push_str(",\"items\":[");
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&gotypes::encode_raw(it));
        }
        out.push_str("],\"kind\":");
        gotypes::write_str(&mut out, &def.list_kind);
        out.push_str(",\"metadata\":{\"continue\":");
        gotypes::write_str(&mut out, cont);
        if let Some(r) = remaining {
            out.push_str(&format!(",\"remainingItemCount\":{r}"));
        }
        out.push_str(&format!(",\"resourceVersion\":\"{rv}\"}}}}"));
        return out;
    }
    out.push_str("{\"kind\":");
    gotypes::write_str(&mut out, &def.list_kind);
    out.push_str(",\"apiVersion\":");
    gotypes::write_str(&mut out, &def.api_version());
    out.push_str(",\"metadata\":");
    out.push_str(&list_meta_go(rv, cont, remaining));
    out.push_str(",\"items\":[");
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut item = (**it).clone();
        if let Some(m) = item.as_object_mut() {
            m.remove("kind");
            m.remove("apiVersion");
        }
        out.push_str(&gotypes::encode(&item, &def.ty()));
    }
    out.push_str("]}");
    out
}

fn list_meta_go(rv: u64, cont: &str, remaining: Option<i64>) -> String {
    let mut m = json!({"resourceVersion": rv.to_string()});
    if !cont.is_empty() {
        m["continue"] = json!(cont);
    }
    if let Some(r) = remaining {
        m["remainingItemCount"] = json!(r);
    }
    gotypes::encode(&m, &Ty::Struct(&gotypes::LIST_META))
}

// ---------------------------------------------------------------------------------------------
// query helpers
// ---------------------------------------------------------------------------------------------

/// `?dryRun=`: whether it is a dry run; an unsupported value is added to `errs`
/// (`ValidateDryRun`, reported by the caller for its options kind).
pub(crate) fn dry_run(q: &Query, errs: &mut Vec<FieldError>) -> bool {
    match q.get("dryRun").map(String::as_str) {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            errs.push(FieldError::not_supported(
                "dryRun",
                BadValue::Raw(format!("[]string{{{}}}", go_quote(other))),
                &["All".into()],
            ));
            false
        }
    }
}

pub(crate) fn field_validation(q: &Query) -> Result<FieldValidation, ApiError> {
    match q.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
        Some("Ignore") => Ok(FieldValidation::Ignore),
        Some("Strict") => Ok(FieldValidation::Strict),
        Some(other) => Err(ApiError::bad_request(&format!(
            "fieldValidation parameter unsupported: {other}, must be one of Ignore, Warn, Strict"
        ))),
    }
}

fn parse_body(def: &ResourceDef, body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(&format!(
            "{} in version {} cannot be handled as a {}: unexpected end of JSON input",
            def.kind,
            go_quote(&def.version),
            def.kind
        )));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(&format!(
            "{} in version {} cannot be handled as a {}: {}",
            def.kind,
            go_quote(&def.version),
            def.kind,
            e
        ))
    })
}

fn writer<'a>(
    def: &'a ResourceDef,
    manager: &'a str,
    sub: Option<&'a str>,
    api_version: &'a str,
    ignored: &'a super::fieldpath::FieldSet,
    now: &'a str,
) -> Writer<'a> {
    Writer {
        manager,
        api_version,
        subresource: sub.unwrap_or(""),
        schema: &def.smd,
        ignored,
        now,
    }
}

fn name_mismatch(obj_name: &str, url_name: &str) -> ApiError {
    ApiError::bad_request(&format!(
        "the name of the object ({obj_name}) does not match the name on the URL ({url_name})"
    ))
}

fn namespace_mismatch() -> ApiError {
    ApiError::bad_request(
        "the namespace of the provided object does not match the namespace sent on the request",
    )
}

/// `EnsureObjectNamespaceMatchesRequestNamespace`.
fn ensure_namespace(def: &ResourceDef, obj: &mut Value, ns: Option<&str>) -> Result<(), ApiError> {
    let req_ns = if def.namespaced { ns.unwrap_or("") } else { "" };
    let obj_ns = meta_str(obj, "namespace").to_string();
    if obj_ns == req_ns {
        return Ok(());
    }
    if obj_ns.is_empty() {
        if !req_ns.is_empty() {
            meta_mut(obj).insert("namespace".into(), json!(req_ns));
        }
        return Ok(());
    }
    if req_ns.is_empty() {
        return Ok(());
    }
    Err(namespace_mismatch())
}

fn dedup_owner_references(obj: &mut Value, warnings: &mut Vec<String>) {
    let Some(refs) = obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("ownerReferences"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let mut seen = Vec::new();
    let mut dups = Vec::new();
    refs.retain(|r| {
        let uid = r
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if seen.contains(&uid) {
            dups.push(uid);
            false
        } else {
            seen.push(uid);
            true
        }
    });
    if !dups.is_empty() {
        warnings.push(format!(
            ".metadata.ownerReferences contains duplicate entries; API server dedups owner references in 1.20+, and may reject such requests as early as 1.24; please fix your requests; duplicate UID(s) observed: {}",
            dups.join(", ")
        ));
    }
}

/// OwnerReferencesPermissionEnforcement: a new `blockOwnerDeletion: true` reference needs
/// `update` on the owner's `finalizers` subresource.
fn check_owner_refs(
    sh: &Shared,
    def: &ResourceDef,
    ctx: &WriteCtx,
    new: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let Some(user) = &ctx.user else { return Ok(()) };
    if !sh.owner_references_permission_enforcement || user.rules.is_none() {
        return Ok(());
    }
    let refs = |v: Option<&Value>| -> Vec<Value> {
        v.and_then(|v| v.get("metadata"))
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let old_refs = refs(old);
    let ns = meta_str(new, "namespace");
    for r in refs(Some(new)) {
        if r.get("blockOwnerDeletion").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let uid = r.get("uid");
        let was_blocking = old_refs.iter().any(|o| {
            o.get("uid") == uid
                && o.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
        });
        if was_blocking {
            continue;
        }
        let api_version = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = r.get("name").and_then(Value::as_str).unwrap_or("");
        let forbidden = |why: String| ApiError::forbidden(&def.gr(), meta_str(new, "name"), &why);
        let Some(owner) = sh.find_kind(api_version, kind) else {
            return Err(forbidden(format!(
                "cannot set blockOwnerDeletion in this case because cannot find RESTMapping for APIVersion {api_version} Kind {kind}: no matches for kind {} in version {}",
                go_quote(kind),
                go_quote(api_version)
            )));
        };
        let attrs = super::auth::Attributes {
            verb: "update",
            resource_request: true,
            path: "",
            group: &owner.group,
            resource: &owner.plural,
            subresource: "finalizers",
            namespace: if owner.namespaced { ns } else { "" },
            name,
        };
        if !super::auth::authorize(user, &attrs) {
            return Err(forbidden(
                "cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on: , <nil>".into(),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// GET / LIST
// ---------------------------------------------------------------------------------------------

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

fn parse_rv(s: &str) -> Result<u64, ApiError> {
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

// ---------------------------------------------------------------------------------------------
// CREATE
// ---------------------------------------------------------------------------------------------

pub(crate) fn create(
    sh: &Shared,
    def: &Arc<ResourceDef>,
    ns: Option<&str>,
    body: &[u8],
    ctx: &WriteCtx,
) -> Result<Reply, ApiError> {
    let v = parse_body(def, body)?;
    let (mut obj, mut warnings) = def.decode(&v, ctx.fv)?;
    ensure_namespace(def, &mut obj, ns)?;
    dedup_owner_references(&mut obj, &mut warnings);
    check_owner_refs(sh, def, ctx, &obj, None)?;
    let mut st = sh.store();
    let out = do_create(&mut st, def, obj, None, ctx)?;
    drop(st);
    sh.notify();
    Ok(Reply {
        code: 201,
        body: encode_object(def, &out, false),
        warnings: warnings.iter().map(|w| unknown_warning(w)).collect(),
    })
}

fn unknown_warning(w: &str) -> String {
    if w.starts_with(".metadata.ownerReferences") {
        w.to_string()
    } else {
        format!("unknown field {}", go_quote(w))
    }
}

/// Namespace lifecycle admission for creates.
fn check_namespace(st: &Store, def: &ResourceDef, obj: &Value) -> Result<(), ApiError> {
    if !def.namespaced {
        return Ok(());
    }
    let ns = meta_str(obj, "namespace");
    if ns.is_empty() {
        return Ok(());
    }
    match st.get(
        &("".into(), "namespaces".into()),
        &(String::new(), ns.to_string()),
    ) {
        None => Err(ApiError::not_found(
            &GroupResource::new("", "namespaces"),
            ns,
        )),
        Some(n) if is_terminating(&n) => {
            let mut e = ApiError::forbidden(
                &def.gr(),
                meta_str(obj, "name"),
                &format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            );
            if let Some(d) = e.status.get_mut("details").and_then(Value::as_object_mut) {
                d.insert(
                    "causes".into(),
                    json!([{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]),
                );
            }
            Err(e)
        }
        Some(_) => Ok(()),
    }
}

fn set_managed(obj: &mut Value, managed: &Managed) {
    let m = meta_mut(obj);
    if managed.entries.is_empty() {
        m.remove("managedFields");
    } else {
        m.insert("managedFields".into(), managed.encode());
    }
}

/// The create path after decoding: field management, admission, BeforeCreate, validation, storage.
pub(crate) fn do_create(
    st: &mut Store,
    def: &ResourceDef,
    mut obj: Value,
    managed: Option<Managed>,
    ctx: &WriteCtx,
) -> Result<Value, ApiError> {
    let now = gotypes::format_time(ctx.now);
    let managed = match managed {
        Some(m) => m,
        None => {
            let sent = obj
                .get("metadata")
                .and_then(|m| m.get("managedFields"))
                .cloned();
            let base = Managed::live_or_new(None, sent.as_ref(), false);
            let ignored = def.reset_fields(None);
            let av = def.api_version();
            fieldmanager::update(
                base,
                &def.zero_object(),
                &obj,
                &writer(def, &ctx.manager, None, &av, &ignored, &now),
            )
        }
    };
    check_namespace(st, def, &obj)?;
    {
        let m = meta_mut(&mut obj);
        m.remove("deletionTimestamp");
        m.remove("deletionGracePeriodSeconds");
        m.remove("selfLink");
    }
    def.prepare_create(&mut obj);
    {
        let m = meta_mut(&mut obj);
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("creationTimestamp".into(), json!(now));
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let generate = m
            .get("generateName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty() && !generate.is_empty() {
            m.insert("name".into(), json!(meta::generate_name(&generate)));
        }
    }
    set_managed(&mut obj, &managed);
    let name = meta_str(&obj, "name").to_string();
    let errs = def.validate_create(&obj);
    if !errs.is_empty() {
        let (g, k) = def.invalid_group_kind();
        return Err(ApiError::invalid(g, k, &name, &errs));
    }
    if !meta_str(&obj, "resourceVersion").is_empty() {
        // a plain storage error: 500 with no reason (ErrorToAPIStatus of a non-status error)
        return Err(ApiError::new(
            500,
            "",
            "resourceVersion should not be set on objects to be created",
            None,
        ));
    }
    let key = obj_key(def, Some(meta_str(&obj, "namespace")), &name);
    if st.get(&res_key(def), &key).is_some() {
        return Err(ApiError::already_exists(&def.gr(), &name));
    }
    if ctx.dry_run {
        return Ok(obj);
    }
    Ok((*st.put(&res_key(def), &key, obj)).clone())
}

// ---------------------------------------------------------------------------------------------
// UPDATE (PUT)
// ---------------------------------------------------------------------------------------------

pub(crate) fn update(
    sh: &Shared,
    def: &Arc<ResourceDef>,
    ns: Option<&str>,
    name: &str,
    sub: Option<&str>,
    body: &[u8],
    ctx: &WriteCtx,
) -> Result<Reply, ApiError> {
    let v = parse_body(def, body)?;
    let (mut obj, mut warnings) = def.decode(&v, ctx.fv)?;
    let obj_name = meta_str(&obj, "name").to_string();
    if obj_name != name {
        return Err(name_mismatch(&obj_name, name));
    }
    ensure_namespace(def, &mut obj, ns)?;
    dedup_owner_references(&mut obj, &mut warnings);
    let warnings: Vec<String> = warnings.iter().map(|w| unknown_warning(w)).collect();
    let mut st = sh.store();
    let key = obj_key(def, ns, name);
    let Some(existing) = st.get(&res_key(def), &key) else {
        if def.allow_create_on_update() && sub.is_none() {
            if !meta_str(&obj, "resourceVersion").is_empty() {
                return Err(ApiError::not_found(&def.gr(), name));
            }
            let out = do_create(&mut st, def, obj, None, ctx)?;
            drop(st);
            sh.notify();
            return Ok(Reply {
                code: 201,
                body: encode_object(def, &out, false),
                warnings,
            });
        }
        return Err(ApiError::not_found(&def.gr(), name));
    };
    check_owner_refs(sh, def, ctx, &obj, Some(&existing))?;
    let (code, out) = do_update(&mut st, def, sub, &existing, obj, Mf::Update, ctx)?;
    drop(st);
    sh.notify();
    Ok(Reply {
        code,
        body: encode_object(def, &out, false),
        warnings,
    })
}

/// A namespace's `spec.finalizers`.
pub(crate) fn spec_finalizers(obj: &Value) -> Vec<String> {
    super::meta::string_list(obj.get("spec").and_then(|s| s.get("finalizers")))
}

/// `namespace` with `spec.finalizers` set to `finalizers` (the field dropped when empty, as the
/// namespace registry stores it).
pub(crate) fn with_spec_finalizers(namespace: &Value, finalizers: Vec<String>) -> Value {
    let mut new = namespace.clone();
    if finalizers.is_empty() {
        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("finalizers");
        }
    } else {
        new["spec"]["finalizers"] = json!(finalizers);
    }
    new
}

/// How the managed fields of an update are computed.
pub(crate) enum Mf {
    /// An Update operation by the request's manager.
    Update,
    /// Already computed (server-side apply).
    Precomputed(Managed),
    /// Left as they are (controllers: garbage collector, namespace controller).
    Keep,
}

/// The update path: resourceVersion preconditions, field management, BeforeUpdate, validation,
/// finalizer-triggered deletion, no-op detection, storage.
pub(crate) fn do_update(
    st: &mut Store,
    def: &ResourceDef,
    sub: Option<&str>,
    existing: &Arc<Value>,
    mut obj: Value,
    mf: Mf,
    ctx: &WriteCtx,
) -> Result<(u16, Value), ApiError> {
    let name = meta_str(existing, "name").to_string();
    let ns = meta_str(existing, "namespace").to_string();
    let existing_rv = rv_of(existing);
    let new_rv_str = meta_str(&obj, "resourceVersion").to_string();
    let new_rv = if new_rv_str.is_empty() {
        0
    } else {
        parse_rv(&new_rv_str)?
    };
    if new_rv == 0 {
        if !def.allow_unconditional_update() {
            return Err(ApiError::invalid(
                &def.group,
                &def.plural,
                &name,
                &[FieldError::invalid(
                    "metadata.resourceVersion",
                    BadValue::Raw("0x0".into()),
                    "must be specified for an update",
                )],
            ));
        }
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(existing_rv.to_string()));
    } else if new_rv != existing_rv {
        return Err(ApiError::conflict_modified(&def.gr(), &name));
    }
    let now = gotypes::format_time(ctx.now);
    let managed = match mf {
        Mf::Update => {
            let sent = obj
                .get("metadata")
                .and_then(|m| m.get("managedFields"))
                .cloned();
            let live = existing
                .get("metadata")
                .and_then(|m| m.get("managedFields"))
                .cloned();
            let base = Managed::live_or_new(live.as_ref(), sent.as_ref(), sub.is_some());
            let ignored = def.reset_fields(sub);
            let av = def.api_version();
            Some(fieldmanager::update(
                base,
                existing,
                &obj,
                &writer(def, &ctx.manager, sub, &av, &ignored, &now),
            ))
        }
        Mf::Precomputed(m) => Some(m),
        Mf::Keep => None,
    };
    match &managed {
        Some(m) => set_managed(&mut obj, m),
        None => {
            let live = existing
                .get("metadata")
                .and_then(|m| m.get("managedFields"))
                .cloned();
            let m = meta_mut(&mut obj);
            match live {
                Some(l) => m.insert("managedFields".into(), l),
                None => m.remove("managedFields"),
            };
        }
    }
    // BeforeUpdate
    {
        let old_meta = existing
            .get("metadata")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let m = meta_mut(&mut obj);
        match old_meta.get("generation") {
            Some(g) => m.insert("generation".into(), g.clone()),
            None => m.remove("generation"),
        };
        m.remove("selfLink");
    }
    def.prepare_update(sub, &mut obj, existing);
    {
        let old_meta = existing
            .get("metadata")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let m = meta_mut(&mut obj);
        if m.get("uid")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            && let Some(u) = old_meta.get("uid")
        {
            m.insert("uid".into(), u.clone());
        }
        if let Some(c) = old_meta.get("creationTimestamp").filter(|c| !c.is_null()) {
            m.insert("creationTimestamp".into(), c.clone());
        }
        if let Some(d) = old_meta.get("deletionTimestamp").filter(|c| !c.is_null()) {
            m.insert("deletionTimestamp".into(), d.clone());
        }
        if let Some(g) = old_meta.get("deletionGracePeriodSeconds")
            && m.get("deletionGracePeriodSeconds")
                .is_none_or(Value::is_null)
        {
            m.insert("deletionGracePeriodSeconds".into(), g.clone());
        }
    }
    let nm = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let om = existing
        .get("metadata")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut errs = meta::validate_object_meta_update(&nm, &om);
    errs.extend(def.validate_update(&obj, existing));
    if !errs.is_empty() {
        let (g, k) = def.invalid_group_kind();
        return Err(ApiError::invalid(g, k, &name, &errs));
    }
    let key: ObjKey = (if def.namespaced { ns } else { String::new() }, name);
    let grace_zero = existing
        .get("metadata")
        .and_then(|m| m.get("deletionGracePeriodSeconds"))
        .and_then(Value::as_i64)
        == Some(0);
    // ShouldDeleteNamespaceDuringUpdate: a terminating namespace goes once spec.finalizers is
    // empty too (deletionGracePeriodSeconds is unset on namespaces).
    let namespace_finalized = matches!(def.imp, KindImpl::Namespace)
        && is_terminating(existing)
        && spec_finalizers(&obj).is_empty();
    if (grace_zero || namespace_finalized) && finalizers(&obj).is_empty() {
        if !ctx.dry_run {
            st.remove(&res_key(def), &key);
        }
        return Ok((200, obj));
    }
    if obj == **existing {
        return Ok((200, obj));
    }
    if ctx.dry_run {
        return Ok((200, obj));
    }
    let stored = st.put(&res_key(def), &key, obj);
    Ok((200, (*stored).clone()))
}

// ---------------------------------------------------------------------------------------------
// PATCH
// ---------------------------------------------------------------------------------------------

const APPLY: &str = "application/apply-patch+yaml";

#[allow(clippy::too_many_arguments)]
pub(crate) fn patch(
    sh: &Shared,
    def: &Arc<ResourceDef>,
    ns: Option<&str>,
    name: &str,
    sub: Option<&str>,
    body: &[u8],
    content_type: &str,
    q: &Query,
    ctx: &WriteCtx,
) -> Result<Reply, ApiError> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !def.patch_types().contains(&ct.as_str()) {
        return Err(ApiError::unsupported_media_type(def.patch_types()));
    }
    if ct == APPLY {
        let manager = q.get("fieldManager").cloned().unwrap_or_default();
        if manager.is_empty() {
            return Err(ApiError::invalid(
                "meta.k8s.io",
                "PatchOptions",
                "",
                &[FieldError::required(
                    "fieldManager",
                    "is required for apply patch",
                )],
            ));
        }
        let force = q.get("force").map(String::as_str) == Some("true");
        let ctx = WriteCtx {
            manager,
            ..ctx.clone()
        };
        return apply_patch(sh, def, ns, name, sub, body, force, &ctx);
    } else if q.contains_key("force") {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "PatchOptions",
            "",
            &[FieldError::forbidden(
                "force",
                "may not be specified for non-apply patch",
            )],
        ));
    }
    let mut st = sh.store();
    let key = obj_key(def, ns, name);
    let Some(existing) = st.get(&res_key(def), &key) else {
        return Err(ApiError::not_found(&def.gr(), name));
    };
    let patched = match ct.as_str() {
        "application/merge-patch+json" => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|_| ApiError::bad_request("Invalid JSON Patch"))?;
            if !p.is_object() {
                return Err(ApiError::bad_request("Invalid JSON Patch"));
            }
            patch::merge_patch(&existing, &p)
        }
        "application/json-patch+json" => {
            let p: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(&e.to_string()))?;
            match patch::json_patch(&existing, &p) {
                Ok(v) => v,
                Err(PatchError::Bad(m)) => return Err(ApiError::bad_request(&m)),
                Err(PatchError::Apply(_)) => return Err(ApiError::invalid_generic()),
            }
        }
        _ => {
            let p: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(&e.to_string()))?;
            match patch::strategic_merge_patch(&existing, &p) {
                Ok(v) => v,
                Err(PatchError::Bad(m)) => return Err(ApiError::bad_request(&m)),
                Err(PatchError::Apply(_)) => return Err(ApiError::invalid_generic()),
            }
        }
    };
    let (mut obj, warnings) = def.decode(&patched, ctx.fv)?;
    let obj_name = meta_str(&obj, "name").to_string();
    if obj_name != name {
        return Err(name_mismatch(&obj_name, name));
    }
    if def.namespaced && meta_str(&obj, "namespace") != ns.unwrap_or("") {
        return Err(namespace_mismatch());
    }
    let mut w = warnings;
    dedup_owner_references(&mut obj, &mut w);
    check_owner_refs(sh, def, ctx, &obj, Some(&existing))?;
    let (code, out) = do_update(&mut st, def, sub, &existing, obj, Mf::Update, ctx)?;
    drop(st);
    sh.notify();
    Ok(Reply {
        code,
        body: encode_object(def, &out, false),
        warnings: w.iter().map(|x| unknown_warning(x)).collect(),
    })
}

#[allow(clippy::too_many_arguments)]
fn apply_patch(
    sh: &Shared,
    def: &Arc<ResourceDef>,
    ns: Option<&str>,
    name: &str,
    sub: Option<&str>,
    body: &[u8],
    force: bool,
    ctx: &WriteCtx,
) -> Result<Reply, ApiError> {
    let config: Value = serde_yaml::from_slice(body)
        .map_err(|e| ApiError::bad_request(&format!("error decoding YAML: {e}")))?;
    let Value::Object(cm) = &config else {
        return Err(ApiError::bad_request("invalid object type: /, Kind="));
    };
    let av = cm.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = cm.get("kind").and_then(Value::as_str).unwrap_or("");
    if av.is_empty() || kind.is_empty() {
        let (g, v) = av.rsplit_once('/').unwrap_or(("", av));
        return Err(ApiError::bad_request(&format!(
            "invalid object type: {g}/{v}, Kind={kind}"
        )));
    }
    if av != def.api_version() || kind != def.kind {
        return Err(ApiError::bad_request(&format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            def.api_version()
        )));
    }
    let cfg_name = meta_str(&config, "name");
    if !cfg_name.is_empty() && cfg_name != name {
        return Err(name_mismatch(cfg_name, name));
    }
    let cfg_ns = meta_str(&config, "namespace");
    if def.namespaced && !cfg_ns.is_empty() && Some(cfg_ns) != ns {
        return Err(namespace_mismatch());
    }
    // The applied configuration must fit the schema.
    let (_, unknown) = def.decode(&config, FieldValidation::Warn)?;
    if let Some(u) = unknown.first() {
        return Err(ApiError::bad_request(&format!(
            "failed to create typed patch object ({}/{name}; {}, Kind={}): .{u}: field not declared in schema",
            ns.unwrap_or(""),
            def.api_version(),
            def.kind
        )));
    }
    let now = gotypes::format_time(ctx.now);
    let ignored = def.reset_fields(sub);
    let api_version = def.api_version();
    let w = writer(def, &ctx.manager, sub, &api_version, &ignored, &now);
    let mut st = sh.store();
    let key = obj_key(def, ns, name);
    let existing = st.get(&res_key(def), &key);
    let (code, out) = match existing {
        None => {
            if sub.is_some() {
                return Err(ApiError::not_found(&def.gr(), name));
            }
            let (merged, managed) =
                fieldmanager::apply(Managed::default(), &def.zero_object(), &config, force, &w)?;
            let (mut obj, _) = def.decode(&merged, FieldValidation::Ignore)?;
            {
                let m = meta_mut(&mut obj);
                m.insert("name".into(), json!(name));
                if def.namespaced {
                    m.insert("namespace".into(), json!(ns.unwrap_or("")));
                }
            }
            (201, do_create(&mut st, def, obj, Some(managed), ctx)?)
        }
        Some(existing) => {
            let cfg_rv = meta_str(&config, "resourceVersion");
            if !cfg_rv.is_empty() && cfg_rv != meta_str(&existing, "resourceVersion") {
                return Err(ApiError::conflict_modified(&def.gr(), name));
            }
            let live_mf = existing
                .get("metadata")
                .and_then(|m| m.get("managedFields"))
                .cloned();
            let base = Managed::decode(live_mf.as_ref()).unwrap_or_default();
            let (merged, managed) = fieldmanager::apply(base, &existing, &config, force, &w)?;
            let (obj, _) = def.decode(&merged, FieldValidation::Ignore)?;
            do_update(
                &mut st,
                def,
                sub,
                &existing,
                obj,
                Mf::Precomputed(managed),
                ctx,
            )?
        }
    };
    drop(st);
    sh.notify();
    Ok(Reply::new(code, encode_object(def, &out, false)))
}

// ---------------------------------------------------------------------------------------------
// DELETE
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
pub(crate) struct DeleteOpts {
    pub propagation: Option<String>,
    pub orphan_dependents: Option<bool>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

/// DeleteOptions: from the body if there is one, otherwise from the query (the handler decodes
/// one or the other, never both), then `ValidateDeleteOptions`.
pub(crate) fn parse_delete_options(body: &[u8], q: &Query) -> Result<DeleteOpts, ApiError> {
    let mut o = DeleteOpts::default();
    let mut dry_run_values: Vec<String> = Vec::new();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(&format!("error decoding DeleteOptions: {e}")))?;
        if !v.is_object() {
            return Err(ApiError::bad_request(
                "error decoding DeleteOptions: expected an object",
            ));
        }
        o.propagation = v
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.orphan_dependents = v.get("orphanDependents").and_then(Value::as_bool);
        if let Some(p) = v.get("preconditions") {
            o.precondition_uid = p.get("uid").and_then(Value::as_str).map(str::to_string);
            o.precondition_rv = p
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if let Some(d) = v.get("dryRun").and_then(Value::as_array) {
            dry_run_values = d
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
    } else {
        if let Some(p) = q.get("propagationPolicy") {
            o.propagation = Some(p.clone());
        }
        if let Some(p) = q.get("orphanDependents") {
            o.orphan_dependents = Some(p == "true");
        }
        if let Some(d) = q.get("dryRun").filter(|d| !d.is_empty()) {
            dry_run_values.push(d.clone());
        }
    }
    let mut errs = Vec::new();
    if let Some(p) = &o.propagation {
        if o.orphan_dependents.is_some() {
            errs.push(FieldError::invalid(
                "propagationPolicy",
                BadValue::Str(p.clone()),
                "orphanDependents and deletionPropagation cannot be both set",
            ));
        }
        if !matches!(p.as_str(), "Foreground" | "Background" | "Orphan") {
            errs.push(FieldError::not_supported(
                "propagationPolicy",
                BadValue::Str(p.clone()),
                &[
                    "Foreground".into(),
                    "Background".into(),
                    "Orphan".into(),
                    "nil".into(),
                ],
            ));
        }
    }
    if dry_run_values.iter().any(|d| d != "All") {
        let quoted: Vec<String> = dry_run_values.iter().map(|d| go_quote(d)).collect();
        errs.push(FieldError::not_supported(
            "dryRun",
            BadValue::Raw(format!("[]string{{{}}}", quoted.join(", "))),
            &["All".into()],
        ));
    }
    o.dry_run = dry_run_values.iter().any(|d| d == "All");
    if !errs.is_empty() {
        return Err(ApiError::invalid("meta.k8s.io", "DeleteOptions", "", &errs));
    }
    Ok(o)
}

pub(crate) enum Deleted {
    /// Removed from storage (last state).
    Gone(Arc<Value>),
    /// Still present (finalizers pending); the current object.
    Pending(Value),
}

/// The finalizers after a delete request (orphan/foregroundDeletion per propagation policy).
fn gc_finalizers(existing: &Value, opts: &DeleteOpts) -> Vec<String> {
    let fins = finalizers(existing);
    let orphan = match (opts.orphan_dependents, opts.propagation.as_deref()) {
        (Some(o), _) => o,
        (None, Some(p)) => p == "Orphan",
        (None, None) => {
            fins.iter().find_map(|f| match f.as_str() {
                "orphan" => Some(true),
                "foregroundDeletion" => Some(false),
                _ => None,
            }) == Some(true)
        }
    };
    let foreground = match (opts.orphan_dependents, opts.propagation.as_deref()) {
        (Some(_), _) => false,
        (None, Some(p)) => p == "Foreground",
        (None, None) => {
            fins.iter().find_map(|f| match f.as_str() {
                "orphan" => Some(false),
                "foregroundDeletion" => Some(true),
                _ => None,
            }) == Some(true)
        }
    };
    let mut new: Vec<String> = fins
        .iter()
        .filter(|f| *f != "orphan" && *f != "foregroundDeletion")
        .cloned()
        .collect();
    if orphan {
        new.push("orphan".into());
    }
    if foreground {
        new.push("foregroundDeletion".into());
    }
    let mut a = fins.clone();
    a.sort();
    let mut b = new.clone();
    b.sort();
    b.dedup();
    if a == b { fins } else { new }
}

/// DeleteOptions preconditions. Namespaces: the namespace registry's own check; everything else:
/// `rest.BeforeDelete`, whose Conflict names the Kind (`GroupResource{Group, Resource: Kind}`).
fn check_delete_preconditions(
    def: &ResourceDef,
    existing: &Value,
    opts: &DeleteOpts,
) -> Result<(), ApiError> {
    let name = meta_str(existing, "name");
    let uid = meta_str(existing, "uid");
    let rv = meta_str(existing, "resourceVersion");
    if matches!(def.imp, KindImpl::Namespace) {
        if let Some(p) = opts.precondition_uid.as_deref().filter(|p| *p != uid) {
            return Err(ApiError::conflict(
                &def.gr(),
                name,
                &format!(
                    "Precondition failed: UID in precondition: {p}, UID in object meta: {uid}"
                ),
            ));
        }
        if let Some(p) = opts.precondition_rv.as_deref().filter(|p| *p != rv) {
            return Err(ApiError::conflict(
                &def.gr(),
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {p}, ResourceVersion in object meta: {rv}"
                ),
            ));
        }
        return Ok(());
    }
    let by_kind = GroupResource::new(&def.group, &def.kind);
    if let Some(p) = opts.precondition_uid.as_deref().filter(|p| *p != uid) {
        return Err(ApiError::conflict(
            &by_kind,
            name,
            &format!(
                "the UID in the precondition ({p}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
            ),
        ));
    }
    if let Some(p) = opts.precondition_rv.as_deref().filter(|p| *p != rv) {
        return Err(ApiError::conflict(
            &by_kind,
            name,
            &format!(
                "the ResourceVersion in the precondition ({p}) does not match the ResourceVersion in record ({rv}). The object might have been modified"
            ),
        ));
    }
    Ok(())
}

/// The delete path of the generic registry store (finalizers, GC propagation finalizers).
pub(crate) fn do_delete(
    st: &mut Store,
    def: &ResourceDef,
    key: &ObjKey,
    opts: &DeleteOpts,
    now: jiff::Timestamp,
) -> Result<Deleted, ApiError> {
    let name = key.1.clone();
    // NamespaceLifecycle admission runs before the registry looks at the object.
    if matches!(def.imp, KindImpl::Namespace)
        && matches!(name.as_str(), "default" | "kube-system" | "kube-public")
    {
        return Err(ApiError::forbidden(
            &def.gr(),
            &name,
            "this namespace may not be deleted",
        ));
    }
    let Some(existing) = st.get(&res_key(def), key) else {
        return Err(ApiError::not_found(&def.gr(), &name));
    };
    check_delete_preconditions(def, &existing, opts)?;
    let now_s = gotypes::format_time(now);
    // The namespace registry: the first DELETE only starts termination; a later one deletes
    // once spec.finalizers is empty (until then it answers the namespace).
    if matches!(def.imp, KindImpl::Namespace)
        && !(is_terminating(&existing) && spec_finalizers(&existing).is_empty())
    {
        if is_terminating(&existing) {
            return Ok(Deleted::Pending((*existing).clone()));
        }
        let mut obj = (*existing).clone();
        meta_mut(&mut obj).insert("deletionTimestamp".into(), json!(now_s));
        obj["status"]["phase"] = json!("Terminating");
        if opts.dry_run {
            return Ok(Deleted::Pending(obj));
        }
        let stored = st.put(&res_key(def), key, obj);
        return Ok(Deleted::Pending((*stored).clone()));
    }
    let new_fins = gc_finalizers(&existing, opts);
    if !new_fins.is_empty() {
        let mut obj = (*existing).clone();
        {
            let m = meta_mut(&mut obj);
            m.insert("finalizers".into(), json!(new_fins));
            if m.get("deletionTimestamp").is_none_or(Value::is_null) {
                if let Some(g) = m.get("generation").and_then(Value::as_i64)
                    && g > 0
                {
                    m.insert("generation".into(), json!(g + 1));
                }
                m.insert("deletionTimestamp".into(), json!(now_s));
            }
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        if obj == *existing || opts.dry_run {
            return Ok(Deleted::Pending(obj));
        }
        let stored = st.put(&res_key(def), key, obj);
        return Ok(Deleted::Pending((*stored).clone()));
    }
    if opts.dry_run {
        return Ok(Deleted::Gone(existing));
    }
    let gone = st.remove(&res_key(def), key).unwrap_or(existing);
    Ok(Deleted::Gone(gone))
}

pub(crate) fn delete(
    sh: &Shared,
    def: &Arc<ResourceDef>,
    ns: Option<&str>,
    name: &str,
    body: &[u8],
    q: &Query,
    now: jiff::Timestamp,
) -> Result<Reply, ApiError> {
    let opts = parse_delete_options(body, q)?;
    let mut st = sh.store();
    let key = obj_key(def, ns, name);
    let out = do_delete(&mut st, def, &key, &opts, now)?;
    drop(st);
    sh.notify();
    let code = if matches!(out, Deleted::Pending(_)) && opts.orphan_dependents == Some(false) {
        202
    } else {
        200
    };
    match out {
        Deleted::Pending(obj) => Ok(Reply::new(code, encode_object(def, &obj, false))),
        // the namespace registry returns the deleted object (ReturnDeletedObject)
        Deleted::Gone(obj) if matches!(def.imp, KindImpl::Namespace) => {
            Ok(Reply::new(code, encode_object(def, &obj, false)))
        }
        Deleted::Gone(obj) => {
            let body = status::success_status(&def.gr(), name, meta_str(&obj, "uid"));
            Ok(Reply::new(
                code,
                gotypes::encode(&body, &Ty::Struct(&gotypes::STATUS)),
            ))
        }
    }
}

pub(crate) fn delete_collection(
    sh: &Shared,
    def: &Arc<ResourceDef>,
    ns: Option<&str>,
    body: &[u8],
    q: &Query,
    now: jiff::Timestamp,
    meta_only: bool,
) -> Result<Reply, ApiError> {
    let opts = parse_delete_options(body, q)?;
    let (ls, fs) = selectors(def, q)?;
    let mut st = sh.store();
    let list_ns = if def.namespaced { ns } else { None };
    let items = st.list(&res_key(def), list_ns);
    let mut out = Vec::new();
    for (key, obj) in items {
        if !matches(&obj, &ls, &fs) {
            continue;
        }
        match do_delete(&mut st, def, &key, &opts, now) {
            Ok(Deleted::Gone(v)) => out.push(v),
            Ok(Deleted::Pending(v)) => out.push(Arc::new(v)),
            Err(_) => {}
        }
    }
    let rv = st.rev;
    drop(st);
    sh.notify();
    Ok(Reply::new(
        200,
        encode_list(def, rv, "", None, &out, meta_only),
    ))
}
