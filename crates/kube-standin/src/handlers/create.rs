//! CREATE (POST): decoding, namespace and owner-reference checks, managed fields, storage.

use super::*;

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

pub(crate) fn unknown_warning(w: &str) -> String {
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

pub(crate) fn set_managed(obj: &mut Value, managed: &Managed) {
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
