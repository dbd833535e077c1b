//! PATCH: merge, JSON and strategic merge patches, and server-side apply.

use super::*;

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
    let ct = patch_type(def, content_type)?;
    if ct == APPLY {
        let manager = apply_manager(q)?;
        let force = q.get("force").map(String::as_str) == Some("true");
        let ctx = WriteCtx {
            manager,
            ..ctx.clone()
        };
        return apply_patch(sh, def, ns, name, sub, body, force, &ctx);
    } else if q.contains_key("force") {
        return Err(patch_options_invalid(FieldError::forbidden(
            "force",
            "may not be specified for non-apply patch",
        )));
    }
    let mut st = sh.store();
    let key = obj_key(def, ns, name);
    let Some(existing) = st.get(&res_key(def), &key) else {
        return Err(ApiError::not_found(&def.gr(), name));
    };
    let patched = patched(&ct, &existing, body)?;
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

/// The patch type from the Content-Type (its media type, lowercased); 415 unless the kind
/// takes it.
fn patch_type(def: &ResourceDef, content_type: &str) -> Result<String, ApiError> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !def.patch_types().contains(&ct.as_str()) {
        return Err(ApiError::unsupported_media_type(def.patch_types()));
    }
    Ok(ct)
}

fn patch_options_invalid(err: FieldError) -> ApiError {
    ApiError::invalid("meta.k8s.io", "PatchOptions", "", &[err])
}

/// `fieldManager`, which an apply patch requires.
fn apply_manager(q: &Query) -> Result<String, ApiError> {
    let manager = q.get("fieldManager").cloned().unwrap_or_default();
    if manager.is_empty() {
        return Err(patch_options_invalid(FieldError::required(
            "fieldManager",
            "is required for apply patch",
        )));
    }
    Ok(manager)
}

/// `existing` with a merge, JSON or (any other type) strategic merge patch applied.
fn patched(ct: &str, existing: &Value, body: &[u8]) -> Result<Value, ApiError> {
    match ct {
        "application/merge-patch+json" => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|_| ApiError::bad_request("Invalid JSON Patch"))?;
            if !p.is_object() {
                return Err(ApiError::bad_request("Invalid JSON Patch"));
            }
            Ok(patch::merge_patch(existing, &p))
        }
        "application/json-patch+json" => {
            let p: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(&e.to_string()))?;
            patch_result(patch::json_patch(existing, &p))
        }
        _ => {
            let p: Value =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(&e.to_string()))?;
            patch_result(patch::strategic_merge_patch(existing, &p))
        }
    }
}

/// A malformed patch is a 400, one that does not apply a 422.
fn patch_result(r: Result<Value, PatchError>) -> Result<Value, ApiError> {
    match r {
        Ok(v) => Ok(v),
        Err(PatchError::Bad(m)) => Err(ApiError::bad_request(&m)),
        Err(PatchError::Apply(_)) => Err(ApiError::invalid_generic()),
    }
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
    check_apply_config(def, ns, name, &config)?;
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

/// An applied configuration must be an object of this kind and version, for this name and
/// namespace (where it gives them), and fit the schema.
fn check_apply_config(
    def: &ResourceDef,
    ns: Option<&str>,
    name: &str,
    config: &Value,
) -> Result<(), ApiError> {
    let Value::Object(cm) = config else {
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
    let cfg_name = meta_str(config, "name");
    if !cfg_name.is_empty() && cfg_name != name {
        return Err(name_mismatch(cfg_name, name));
    }
    let cfg_ns = meta_str(config, "namespace");
    if def.namespaced && !cfg_ns.is_empty() && Some(cfg_ns) != ns {
        return Err(namespace_mismatch());
    }
    let (_, unknown) = def.decode(config, FieldValidation::Warn)?;
    if let Some(u) = unknown.first() {
        return Err(ApiError::bad_request(&format!(
            "failed to create typed patch object ({}/{name}; {}, Kind={}): .{u}: field not declared in schema",
            ns.unwrap_or(""),
            def.api_version(),
            def.kind
        )));
    }
    Ok(())
}
