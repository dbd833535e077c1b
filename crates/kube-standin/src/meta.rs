//! `ObjectMeta` validation (apimachinery `ValidateObjectMetaAccessor` / `...Update`) and the
//! name/label/qualified-name rules behind it.

use serde_json::Value;

use super::status::{BadValue, FieldError, go_quote};

pub(crate) use label_selector::validation::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value, regex_error,
};

fn mask_trailing_dash(s: &str) -> String {
    if s.len() > 1 && s.ends_with('-') {
        format!("{}a", &s[..s.len() - 1])
    } else {
        s.to_string()
    }
}

/// `NameIsDNSSubdomain(name, prefix)`.
pub(crate) fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        is_dns1123_subdomain(&mask_trailing_dash(name))
    } else {
        is_dns1123_subdomain(name)
    }
}

/// `path.IsValidPathSegmentName` (RBAC object names, such as `system:aggregate-to-edit`); `prefix` is ignored,
/// as `ValidateRBACName` ignores it.
pub(crate) fn name_is_path_segment(name: &str, _prefix: bool) -> Vec<String> {
    if let Some(bad) = [".", ".."].into_iter().find(|bad| name == *bad) {
        return vec![format!("may not be '{bad}'")];
    }
    ["/", "%"]
        .into_iter()
        .filter(|bad| name.contains(bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// `NameIsDNSLabel(name, prefix)` (namespace names).
pub(crate) fn name_is_dns_label(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        is_dns1123_label(&mask_trailing_dash(name))
    } else {
        is_dns1123_label(name)
    }
}

/// A function validating an object name (`ValidateNameFunc`).
pub(crate) type NameFn = fn(&str, bool) -> Vec<String>;

fn str_field<'a>(m: &'a Value, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

fn validate_labels(labels: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    let Some(Value::Object(m)) = labels else {
        return;
    };
    for (k, v) in m {
        for msg in is_qualified_name(k) {
            errs.push(FieldError::invalid(field, BadValue::Str(k.clone()), &msg));
        }
        let v = v.as_str().unwrap_or("");
        for msg in is_valid_label_value(v) {
            errs.push(FieldError::invalid(
                field,
                BadValue::Str(v.to_string()),
                &msg,
            ));
        }
    }
}

fn validate_annotations(ann: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    let Some(Value::Object(m)) = ann else { return };
    let mut total = 0usize;
    for (k, v) in m {
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(field, BadValue::Str(k.clone()), &msg));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > 256 * 1024 {
        errs.push(FieldError::too_long(field, 256 * 1024));
    }
}

fn validate_owner_references(refs: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    let Some(Value::Array(a)) = refs else { return };
    let mut first_controller = String::new();
    for r in a {
        let api_version = str_field(r, "apiVersion");
        let version = api_version.rsplit('/').next().unwrap_or("");
        if api_version.is_empty() || version.is_empty() {
            errs.push(FieldError::invalid(
                &format!("{field}.apiVersion"),
                BadValue::Str(api_version.to_string()),
                "version must not be empty",
            ));
        }
        let kind = str_field(r, "kind");
        if kind.is_empty() {
            errs.push(FieldError::invalid(
                &format!("{field}.kind"),
                BadValue::Str(String::new()),
                "kind must not be empty",
            ));
        }
        if str_field(r, "name").is_empty() {
            errs.push(FieldError::invalid(
                &format!("{field}.name"),
                BadValue::Str(String::new()),
                "name must not be empty",
            ));
        }
        if str_field(r, "uid").is_empty() {
            errs.push(FieldError::invalid(
                &format!("{field}.uid"),
                BadValue::Str(String::new()),
                "uid must not be empty",
            ));
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let cur = format!("{}/{}", kind, str_field(r, "name"));
            if first_controller.is_empty() {
                first_controller = cur;
            } else {
                errs.push(FieldError::invalid(
                    field,
                    BadValue::Raw("[]v1.OwnerReference{...}".to_string()),
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first_controller} and {cur}"
                    ),
                ));
            }
        }
    }
}

fn validate_finalizers(fins: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    let Some(Value::Array(a)) = fins else { return };
    let names: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
    for n in &names {
        for msg in is_qualified_name(n) {
            errs.push(FieldError::invalid(
                field,
                BadValue::Str(n.to_string()),
                &msg,
            ));
        }
    }
    if names.contains(&"orphan") && names.contains(&"foregroundDeletion") {
        errs.push(FieldError::invalid(
            field,
            BadValue::Raw(format!(
                "[]string{{{}}}",
                names
                    .iter()
                    .map(|n| go_quote(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

fn validate_managed_fields(mf: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    let Some(Value::Array(a)) = mf else { return };
    for (i, e) in a.iter().enumerate() {
        let op = str_field(e, "operation");
        if op != "Apply" && op != "Update" {
            errs.push(FieldError::invalid(
                &format!("{field}[{i}].operation"),
                BadValue::Str(op.to_string()),
                "must be `Apply` or `Update`",
            ));
        }
        let ft = str_field(e, "fieldsType");
        if ft != "FieldsV1" {
            errs.push(FieldError::invalid(
                &format!("{field}[{i}].fieldsType"),
                BadValue::Str(ft.to_string()),
                "must be `FieldsV1`",
            ));
        }
    }
}

/// `ValidateObjectMetaAccessor(meta, requiresNamespace, nameFn, "metadata")`.
pub(crate) fn validate_object_meta(
    meta: &Value,
    namespaced: bool,
    name_fn: NameFn,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let generate_name = str_field(meta, "generateName");
    if !generate_name.is_empty() {
        for msg in name_fn(generate_name, true) {
            errs.push(FieldError::invalid(
                "metadata.generateName",
                BadValue::Str(generate_name.to_string()),
                &msg,
            ));
        }
    }
    let name = str_field(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in name_fn(name, false) {
            errs.push(FieldError::invalid(
                "metadata.name",
                BadValue::Str(name.to_string()),
                &msg,
            ));
        }
    }
    let ns = str_field(meta, "namespace");
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            for msg in is_dns1123_label(ns) {
                errs.push(FieldError::invalid(
                    "metadata.namespace",
                    BadValue::Str(ns.to_string()),
                    &msg,
                ));
            }
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }
    if let Some(g) = meta.get("generation").and_then(Value::as_i64)
        && g < 0
    {
        errs.push(FieldError::invalid(
            "metadata.generation",
            BadValue::Int(g),
            "must be greater than or equal to 0",
        ));
    }
    validate_labels(meta.get("labels"), "metadata.labels", &mut errs);
    validate_annotations(meta.get("annotations"), "metadata.annotations", &mut errs);
    validate_owner_references(
        meta.get("ownerReferences"),
        "metadata.ownerReferences",
        &mut errs,
    );
    validate_finalizers(meta.get("finalizers"), "metadata.finalizers", &mut errs);
    validate_managed_fields(
        meta.get("managedFields"),
        "metadata.managedFields",
        &mut errs,
    );
    errs
}

/// The strings of a JSON array (others skipped); empty when absent.
pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn immutable(new: &Value, old: &Value, key: &str, errs: &mut Vec<FieldError>) {
    let n = new.get(key).filter(|v| !v.is_null());
    let o = old.get(key).filter(|v| !v.is_null());
    if n != o {
        let bad = n.map(BadValue::from_json).unwrap_or(BadValue::Null);
        errs.push(FieldError::immutable(&format!("metadata.{key}"), bad));
    }
}

/// `ValidateObjectMetaAccessorUpdate(new, old, "metadata")` (resourceVersion presence is checked by
/// the store before this runs).
pub(crate) fn validate_object_meta_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old.get("deletionTimestamp").is_some_and(|v| !v.is_null()) {
        let old_f = string_list(old.get("finalizers"));
        let added: Vec<String> = string_list(new.get("finalizers"))
            .into_iter()
            .filter(|f| !old_f.contains(f))
            .collect();
        if !added.is_empty() {
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    added.iter().map(|f| go_quote(f)).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    if str_field(new, "resourceVersion").is_empty() {
        errs.push(FieldError::invalid(
            "metadata.resourceVersion",
            BadValue::Str(String::new()),
            "must be specified for an update",
        ));
    }
    let ng = new.get("generation").and_then(Value::as_i64).unwrap_or(0);
    let og = old.get("generation").and_then(Value::as_i64).unwrap_or(0);
    if ng < og {
        errs.push(FieldError::invalid(
            "metadata.generation",
            BadValue::Int(ng),
            "must not be decremented",
        ));
    }
    for key in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        immutable(new, old, key, &mut errs);
    }
    validate_labels(new.get("labels"), "metadata.labels", &mut errs);
    validate_annotations(new.get("annotations"), "metadata.annotations", &mut errs);
    validate_owner_references(
        new.get("ownerReferences"),
        "metadata.ownerReferences",
        &mut errs,
    );
    validate_managed_fields(
        new.get("managedFields"),
        "metadata.managedFields",
        &mut errs,
    );
    errs
}

/// `names.SimpleNameGenerator`: prefix + 5 random characters from Kubernetes' alphabet.
pub(crate) fn generate_name(prefix: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let prefix = &prefix[..prefix.floor_char_boundary(58)];
    let bytes = uuid::Uuid::new_v4();
    let suffix: String = bytes.as_bytes()[..5]
        .iter()
        .map(|b| ALPHANUMS[*b as usize % ALPHANUMS.len()] as char)
        .collect();
    format!("{prefix}{suffix}")
}
