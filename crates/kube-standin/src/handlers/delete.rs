//! DELETE and DELETECOLLECTION: options, preconditions, propagation, finalizers.

use super::*;

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
