//! The resource verbs: get, list, create, update, patch, delete, deletecollection — with
//! kube-apiserver's order of checks (decode, admission, validation, preconditions, storage), one
//! module per verb; what they share (encoding, query and write helpers) is here.

mod create;
mod delete;
mod patching;
mod read;
mod update;

pub(crate) use create::{create, do_create, set_managed, unknown_warning};
pub(crate) use delete::{DeleteOpts, Deleted, delete, delete_collection, do_delete};
pub(crate) use patching::patch;
pub(crate) use read::{get, list, matches, parse_rv, selectors, wait_for_rv};
pub(crate) use update::{Mf, do_update, spec_finalizers, update, with_spec_finalizers};

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
        // Cluster-scoped: kube-apiserver clears the namespace an object carries ("cluster-scoped, clear
        // namespace"), as charts often set one on a ClusterRole.
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("namespace");
        }
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
