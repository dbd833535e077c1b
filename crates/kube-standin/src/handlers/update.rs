//! UPDATE (PUT): preconditions, status/main-resource split, finalizers, storage.

use super::*;

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
    check_update_rv(def, &name, existing, &mut obj)?;
    set_update_managed_fields(def, sub, existing, &mut obj, mf, ctx);
    before_update(existing, &mut obj);
    def.prepare_update(sub, &mut obj, existing);
    keep_system_metadata(existing, &mut obj);
    validate_for_update(def, &name, existing, &obj)?;
    let key: ObjKey = (if def.namespaced { ns } else { String::new() }, name);
    Ok(store_update(st, def, &key, existing, obj, ctx))
}

/// The resourceVersion precondition: the sent one must be the stored one; none (or "0") is
/// an unconditional update where the kind allows it, and takes the stored one.
fn check_update_rv(
    def: &ResourceDef,
    name: &str,
    existing: &Value,
    obj: &mut Value,
) -> Result<(), ApiError> {
    let existing_rv = rv_of(existing);
    let new_rv_str = meta_str(obj, "resourceVersion").to_string();
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
                name,
                &[FieldError::invalid(
                    "metadata.resourceVersion",
                    BadValue::Raw("0x0".into()),
                    "must be specified for an update",
                )],
            ));
        }
        meta_mut(obj).insert("resourceVersion".into(), json!(existing_rv.to_string()));
    } else if new_rv != existing_rv {
        return Err(ApiError::conflict_modified(&def.gr(), name));
    }
    Ok(())
}

/// `metadata.managedFields` of an object, if any.
fn managed_fields_of(obj: &Value) -> Option<Value> {
    obj.get("metadata")
        .and_then(|m| m.get("managedFields"))
        .cloned()
}

/// Sets the managed fields `mf` says; `Mf::Keep` restores the stored ones.
fn set_update_managed_fields(
    def: &ResourceDef,
    sub: Option<&str>,
    existing: &Value,
    obj: &mut Value,
    mf: Mf,
    ctx: &WriteCtx,
) {
    let now = gotypes::format_time(ctx.now);
    let managed = match mf {
        Mf::Update => {
            let sent = managed_fields_of(obj);
            let live = managed_fields_of(existing);
            let base = Managed::live_or_new(live.as_ref(), sent.as_ref(), sub.is_some());
            let ignored = def.reset_fields(sub);
            let av = def.api_version();
            Some(fieldmanager::update(
                base,
                existing,
                obj,
                &writer(def, &ctx.manager, sub, &av, &ignored, &now),
            ))
        }
        Mf::Precomputed(m) => Some(m),
        Mf::Keep => None,
    };
    match &managed {
        Some(m) => set_managed(obj, m),
        None => {
            let live = managed_fields_of(existing);
            let m = meta_mut(obj);
            match live {
                Some(l) => m.insert("managedFields".into(), l),
                None => m.remove("managedFields"),
            };
        }
    }
}

/// An object's `metadata`, or `{}`.
fn metadata_of(obj: &Value) -> Value {
    obj.get("metadata").cloned().unwrap_or_else(|| json!({}))
}

/// BeforeUpdate: the generation starts from the stored one (`prepare_update` may bump it) and
/// `selfLink` goes.
fn before_update(existing: &Value, obj: &mut Value) {
    let old_meta = metadata_of(existing);
    let m = meta_mut(obj);
    match old_meta.get("generation") {
        Some(g) => m.insert("generation".into(), g.clone()),
        None => m.remove("generation"),
    };
    m.remove("selfLink");
}

/// The metadata only the server sets, kept from the stored object: an unset uid, the
/// creation and deletion timestamps, an unset deletionGracePeriodSeconds.
fn keep_system_metadata(existing: &Value, obj: &mut Value) {
    let old_meta = metadata_of(existing);
    let m = meta_mut(obj);
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

/// ObjectMeta update validation, then the kind's ValidateUpdate.
fn validate_for_update(
    def: &ResourceDef,
    name: &str,
    existing: &Value,
    obj: &Value,
) -> Result<(), ApiError> {
    let nm = metadata_of(obj);
    let om = metadata_of(existing);
    let mut errs = meta::validate_object_meta_update(&nm, &om);
    errs.extend(def.validate_update(obj, existing));
    if !errs.is_empty() {
        let (g, k) = def.invalid_group_kind();
        return Err(ApiError::invalid(g, k, name, &errs));
    }
    Ok(())
}

/// Stores a validated update: an object being deleted whose last finalizer went is removed
/// instead, a no-op is not written, nor is a dry run.
fn store_update(
    st: &mut Store,
    def: &ResourceDef,
    key: &ObjKey,
    existing: &Value,
    obj: Value,
    ctx: &WriteCtx,
) -> (u16, Value) {
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
            st.remove(&res_key(def), key);
        }
        return (200, obj);
    }
    if obj == *existing || ctx.dry_run {
        return (200, obj);
    }
    let stored = st.put(&res_key(def), key, obj);
    (200, (*stored).clone())
}
