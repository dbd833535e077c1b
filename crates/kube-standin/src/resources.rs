//! The served resources and their strategies: how a request body is decoded, what the server
//! sets on create/update, and how each kind is validated (kube-apiserver v1.28 rules).

use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Map, Value, json};

use super::fieldpath::{FieldSet, Smd};
use super::gotypes::{self, Decoded, GoStruct, Ty};
use super::meta::{self, NameFn};
use super::schema::CrdSchema;
use super::status::{ApiError, BadValue, ErrType, FieldError, GroupResource, go_quote};
use super::table::{self, PrinterColumn};

#[derive(Debug)]
pub(crate) enum KindImpl {
    Custom(Arc<CrdSchema>),
    Secret,
    Namespace,
    EventV1,
    Lease,
}

#[derive(Debug)]
pub(crate) struct ResourceDef {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status_subresource: bool,
    pub imp: KindImpl,
    pub smd: Smd,
    /// The served version's printer columns (custom resources; `Table` answers).
    pub printer_columns: Vec<PrinterColumn>,
}

/// How strictly unknown fields are treated (`?fieldValidation=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl ResourceDef {
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub(crate) fn gr(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.plural)
    }

    pub(crate) fn is_custom(&self) -> bool {
        matches!(self.imp, KindImpl::Custom(_))
    }

    pub(crate) fn go_struct(&self) -> Option<&'static GoStruct> {
        match self.imp {
            KindImpl::Custom(_) => None,
            KindImpl::Secret => Some(&gotypes::SECRET),
            KindImpl::Namespace => Some(&gotypes::NAMESPACE),
            KindImpl::EventV1 => Some(&gotypes::EVENT_V1),
            KindImpl::Lease => Some(&gotypes::LEASE),
        }
    }

    /// The encoding type of one object of this resource.
    pub(crate) fn ty(&self) -> Ty {
        match self.go_struct() {
            Some(s) => Ty::Struct(s),
            None => Ty::Raw,
        }
    }

    /// The Go type (`%T`) of the registry's objects: internal types for built-ins.
    pub(crate) fn internal_type_name(&self, list: bool) -> String {
        let base = match self.imp {
            KindImpl::Custom(_) => "*unstructured.Unstructured",
            KindImpl::Secret => "*core.Secret",
            KindImpl::Namespace => "*core.Namespace",
            KindImpl::EventV1 => "*core.Event",
            KindImpl::Lease => "*coordination.Lease",
        };
        if list {
            format!("{base}List")
        } else {
            base.to_string()
        }
    }

    pub(crate) fn allow_create_on_update(&self) -> bool {
        matches!(self.imp, KindImpl::EventV1)
    }

    pub(crate) fn allow_unconditional_update(&self) -> bool {
        matches!(
            self.imp,
            KindImpl::Secret | KindImpl::Namespace | KindImpl::EventV1
        )
    }

    /// The (group, kind) `errors.NewInvalid` reports.
    pub(crate) fn invalid_group_kind(&self) -> (&str, &str) {
        match self.imp {
            KindImpl::EventV1 => ("", "Event"),
            _ => (&self.group, &self.kind),
        }
    }

    pub(crate) fn has_subresource(&self, sub: &str) -> bool {
        match sub {
            "status" => self.status_subresource,
            "finalize" => matches!(self.imp, KindImpl::Namespace),
            _ => false,
        }
    }

    /// Fields the endpoint's strategy resets (ignored by field management).
    pub(crate) fn reset_fields(&self, sub: Option<&str>) -> FieldSet {
        match (sub, self.status_subresource) {
            (Some("status"), _) => FieldSet::from_paths(&[&["spec"]]),
            (None, true) => FieldSet::from_paths(&[&["status"]]),
            _ => FieldSet::new(),
        }
    }

    /// Go's zero value of the kind (the "live" object of a create for field management).
    pub(crate) fn zero_object(&self) -> Value {
        match self.go_struct() {
            Some(s) => gotypes::zero_value(&Ty::Struct(s)),
            None => json!({"apiVersion": self.api_version(), "kind": self.kind}),
        }
    }

    pub(crate) fn field_selectors(&self) -> Vec<&'static str> {
        let mut v = vec!["metadata.name", "metadata.namespace"];
        match self.imp {
            KindImpl::Secret => v.push("type"),
            KindImpl::Namespace => v.push("status.phase"),
            KindImpl::EventV1 => v.extend([
                "reason",
                "type",
                "reportingController",
                "regarding.kind",
                "regarding.name",
                "regarding.namespace",
                "regarding.uid",
                "regarding.apiVersion",
                "regarding.resourceVersion",
                "regarding.fieldPath",
            ]),
            _ => {}
        }
        v
    }

    pub(crate) fn patch_types(&self) -> &'static [&'static str] {
        if self.is_custom() {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ]
        } else {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml",
            ]
        }
    }

    pub(crate) fn storage_version_hash(&self) -> String {
        use base64::Engine;
        use sha2::Digest;
        let digest = sha2::Sha256::digest(
            format!("{}/{}/{}", self.group, self.version, self.kind).as_bytes(),
        );
        base64::engine::general_purpose::STANDARD.encode(&digest[..8])
    }

    fn name_fn(&self) -> NameFn {
        match self.imp {
            KindImpl::Namespace => meta::name_is_dns_label,
            _ if self.group == "rbac.authorization.k8s.io" => meta::name_is_path_segment,
            _ => meta::name_is_dns_subdomain,
        }
    }

    // -----------------------------------------------------------------------------------------
    // decoding
    // -----------------------------------------------------------------------------------------

    fn cannot_handle(&self, err: &str) -> ApiError {
        ApiError::bad_request(&format!(
            "{} in version {} cannot be handled as a {}: {err}",
            self.kind,
            go_quote(&self.version),
            self.kind
        ))
    }

    /// Decodes a request body (already parsed JSON) into the stored form: apiVersion/kind
    /// defaulted and checked, typed normalisation (built-ins) or pruning + defaulting (custom
    /// resources). Returns the object and the unknown fields that were dropped.
    pub(crate) fn decode(
        &self,
        body: &Value,
        fv: FieldValidation,
    ) -> Result<(Value, Vec<String>), ApiError> {
        let Value::Object(m) = body else {
            return Err(self.cannot_handle(&format!(
                "json: cannot unmarshal {} into Go value of type {}",
                kind_of(body),
                self.go_struct()
                    .map_or("map[string]interface {}", |s| s.go_name)
            )));
        };
        let mut m = m.clone();
        self.decode_api_version(&mut m)?;
        self.decode_kind(&mut m)?;
        let body = Value::Object(m);
        let mut unknown = Vec::new();
        let obj = match &self.imp {
            KindImpl::Custom(schema) => self.decode_custom(schema, body, &mut unknown)?,
            _ => self.decode_builtin(&body, &mut unknown)?,
        };
        let warnings = unknown_field_warnings(fv, unknown)?;
        Ok((obj, warnings))
    }

    /// `apiVersion`: defaulted when unset, null or empty; otherwise it must be this one.
    fn decode_api_version(&self, m: &mut Map<String, Value>) -> Result<(), ApiError> {
        let api_version = self.api_version();
        match m.get("apiVersion") {
            None | Some(Value::Null) => {
                m.insert("apiVersion".into(), json!(api_version));
            }
            Some(Value::String(s)) if s.is_empty() => {
                m.insert("apiVersion".into(), json!(api_version));
            }
            Some(Value::String(s)) if *s != api_version => {
                return Err(ApiError::bad_request(&format!(
                    "the API version in the data ({s}) does not match the expected API version ({api_version})"
                )));
            }
            Some(Value::String(_)) => {}
            Some(other) => {
                return Err(self.cannot_handle(&format!(
                    "json: cannot unmarshal {} into Go struct field TypeMeta.apiVersion of type string",
                    kind_of(other)
                )));
            }
        }
        Ok(())
    }

    /// `kind`: defaulted when unset, null or empty; otherwise it must be this one (a custom
    /// resource's may be any string here: its validation reports a wrong one).
    fn decode_kind(&self, m: &mut Map<String, Value>) -> Result<(), ApiError> {
        match m.get("kind") {
            None | Some(Value::Null) => {
                m.insert("kind".into(), json!(self.kind));
            }
            Some(Value::String(s)) if s.is_empty() => {
                m.insert("kind".into(), json!(self.kind));
            }
            Some(Value::String(s)) if *s != self.kind && !self.is_custom() => {
                return Err(ApiError::bad_request(&format!(
                    "the kind in the data ({s}) does not match the expected kind ({})",
                    self.kind
                )));
            }
            Some(Value::String(_)) => {}
            Some(other) => {
                return Err(self.cannot_handle(&format!(
                    "json: cannot unmarshal {} into Go struct field TypeMeta.kind of type string",
                    kind_of(other)
                )));
            }
        }
        Ok(())
    }

    /// A custom resource: typed ObjectMeta, then the schema's pruning and defaulting.
    fn decode_custom(
        &self,
        schema: &CrdSchema,
        mut obj: Value,
        unknown: &mut Vec<String>,
    ) -> Result<Value, ApiError> {
        let meta_in = obj.get("metadata").cloned().unwrap_or(Value::Null);
        let mut d = Decoded::default();
        let meta = gotypes::normalize(
            &meta_in,
            &Ty::Struct(&gotypes::OBJECT_META),
            gotypes::Omit::Never,
            "ObjectMeta",
            ".metadata",
            &mut d,
        )
        .map_err(|e| self.cannot_handle(&e))?
        .unwrap_or_else(|| json!({}));
        unknown.extend(unknown_paths(d));
        obj.as_object_mut()
            .expect("object")
            .insert("metadata".into(), meta);
        schema.prune_and_default(&mut obj, unknown);
        Ok(obj)
    }

    /// A built-in kind: typed normalisation, then its defaulting.
    fn decode_builtin(&self, body: &Value, unknown: &mut Vec<String>) -> Result<Value, ApiError> {
        let s = self.go_struct().expect("built-in");
        let mut d = Decoded::default();
        let mut obj =
            gotypes::normalize_object(body, s, &mut d).map_err(|e| self.cannot_handle(&e))?;
        unknown.extend(unknown_paths(d));
        self.default_builtin(&mut obj);
        Ok(obj)
    }

    fn default_builtin(&self, obj: &mut Value) {
        let Some(m) = obj.as_object_mut() else { return };
        if let KindImpl::Secret = self.imp {
            // stringData is merged into data (conversion), then dropped.
            if let Some(Value::Object(sd)) = m.remove("stringData") {
                use base64::Engine;
                let data = m.entry("data").or_insert_with(|| json!({}));
                if data.is_null() {
                    *data = json!({});
                }
                if let Some(d) = data.as_object_mut() {
                    for (k, v) in sd {
                        let s = v.as_str().unwrap_or("");
                        d.insert(
                            k,
                            json!(base64::engine::general_purpose::STANDARD.encode(s.as_bytes())),
                        );
                    }
                }
            }
            if m.get("data")
                .is_some_and(|d| d.as_object().is_some_and(Map::is_empty) || d.is_null())
            {
                m.remove("data");
            }
            if m.get("type")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                m.insert("type".into(), json!("Opaque"));
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // strategies
    // -----------------------------------------------------------------------------------------

    /// `PrepareForCreate`.
    pub(crate) fn prepare_create(&self, obj: &mut Value) {
        let Some(m) = obj.as_object_mut() else { return };
        match &self.imp {
            KindImpl::Custom(_) => {
                if self.status_subresource {
                    m.remove("status");
                }
                if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.insert("generation".into(), json!(1));
                }
            }
            KindImpl::Namespace => {
                m.insert("status".into(), json!({"phase": "Active"}));
                let spec = m.entry("spec").or_insert_with(|| json!({}));
                let fins = spec
                    .get("finalizers")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if !fins.contains(&json!("kubernetes")) {
                    let mut f = fins;
                    f.push(json!("kubernetes"));
                    spec["finalizers"] = Value::Array(f);
                }
                let name = m.get("metadata").and_then(|md| md.get("name")).cloned();
                if let (Some(name), Some(meta)) =
                    (name, m.get_mut("metadata").and_then(Value::as_object_mut))
                {
                    let labels = meta.entry("labels").or_insert_with(|| json!({}));
                    if labels.is_null() {
                        *labels = json!({});
                    }
                    labels["kubernetes.io/metadata.name"] = name;
                }
            }
            _ => {
                if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("generation");
                }
            }
        }
    }

    /// `PrepareForUpdate` of the main resource or the status subresource.
    pub(crate) fn prepare_update(&self, sub: Option<&str>, new: &mut Value, old: &Value) {
        match (sub, &self.imp) {
            (Some("status"), _) => prepare_status_update(new, old),
            (_, KindImpl::Custom(_)) => self.prepare_custom_update(new, old),
            (sub, KindImpl::Namespace) => prepare_namespace_update(sub, new, old),
            _ => {}
        }
    }

    /// A custom resource's main resource: the stored status stays (with a status
    /// subresource), the generation goes up when anything but metadata changed.
    fn prepare_custom_update(&self, new: &mut Value, old: &Value) {
        if self.status_subresource {
            let m = new.as_object_mut().expect("object");
            match old.get("status") {
                Some(s) => {
                    m.insert("status".into(), s.clone());
                }
                None => {
                    m.remove("status");
                }
            }
        }
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                m.remove("metadata");
            }
            v
        };
        if strip(new) != strip(old) {
            let g = old
                .get("metadata")
                .and_then(|m| m.get("generation"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            new["metadata"]["generation"] = json!(g + 1);
        }
    }

    /// `Validate` (create).
    pub(crate) fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
        match &self.imp {
            KindImpl::Custom(schema) => {
                let tm = self.validate_type_meta(obj);
                if !tm.is_empty() {
                    return tm;
                }
                let mut errs = meta::validate_object_meta(&meta, self.namespaced, self.name_fn());
                errs.extend(schema.validate(obj));
                self.cel(schema, obj, None, errs)
            }
            KindImpl::Secret => {
                let mut errs = meta::validate_object_meta(&meta, true, self.name_fn());
                errs.extend(validate_secret_body(obj));
                errs
            }
            KindImpl::Namespace => {
                let mut errs = meta::validate_object_meta(&meta, false, self.name_fn());
                errs.extend(validate_namespace_finalizers(obj));
                errs
            }
            KindImpl::Lease => {
                let mut errs = meta::validate_object_meta(&meta, true, self.name_fn());
                errs.extend(validate_lease_spec(obj));
                errs
            }
            KindImpl::EventV1 => self.validate_event_create(obj, &meta),
        }
    }

    /// `Validate` (create) of an events.k8s.io/v1 Event: the core/v1 checks, then v1's own
    /// (eventTime, type, series, the deprecated fields unset).
    fn validate_event_create(&self, obj: &Value, meta: &Value) -> Vec<FieldError> {
        let mut errs = legacy_validate_event(obj);
        errs.extend(meta::validate_object_meta(meta, true, self.name_fn()));
        errs.extend(validate_event_series(obj));
        if obj.get("eventTime").is_none_or(Value::is_null) {
            errs.push(FieldError::required("eventTime", ""));
        }
        let t = obj.get("type").and_then(Value::as_str).unwrap_or("");
        if t != "Normal" && t != "Warning" {
            errs.push(FieldError::invalid(
                "type",
                BadValue::Str(String::new()),
                &format!("has invalid value: {t}"),
            ));
        }
        for (field, key) in [
            ("deprecatedFirstTimestamp", "deprecatedFirstTimestamp"),
            ("deprecatedLastTimestamp", "deprecatedLastTimestamp"),
        ] {
            if obj.get(key).is_some_and(|v| !v.is_null()) {
                errs.push(FieldError::invalid(
                    field,
                    BadValue::Str(String::new()),
                    "needs to be unset",
                ));
            }
        }
        if obj
            .get("deprecatedCount")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            != 0
        {
            errs.push(FieldError::invalid(
                "deprecatedCount",
                BadValue::Str(String::new()),
                "needs to be unset",
            ));
        }
        if obj
            .get("deprecatedSource")
            .and_then(Value::as_object)
            .is_some_and(|s| !s.is_empty())
        {
            errs.push(FieldError::invalid(
                "deprecatedSource",
                BadValue::Str(String::new()),
                "needs to be unset",
            ));
        }
        errs
    }

    /// Strategy `ValidateUpdate` (the common metadata update checks are added by the caller).
    pub(crate) fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let nm = new.get("metadata").cloned().unwrap_or_else(|| json!({}));
        let om = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
        match &self.imp {
            KindImpl::Custom(schema) => {
                let tm = self.validate_type_meta(new);
                if !tm.is_empty() {
                    return tm;
                }
                let mut errs = meta::validate_object_meta_update(&nm, &om);
                errs.extend(schema.validate(new));
                self.cel(schema, new, Some(old), errs)
            }
            KindImpl::Secret => {
                let mut errs = meta::validate_object_meta_update(&nm, &om);
                let nt = new.get("type").cloned().unwrap_or(Value::Null);
                if nt != old.get("type").cloned().unwrap_or(Value::Null) {
                    errs.push(FieldError::immutable("type", BadValue::from_json(&nt)));
                }
                if old.get("immutable").and_then(Value::as_bool) == Some(true) {
                    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
                        errs.push(FieldError::forbidden(
                            "immutable",
                            "field is immutable when `immutable` is set",
                        ));
                    }
                    if new.get("data") != old.get("data") {
                        errs.push(FieldError::forbidden(
                            "data",
                            "field is immutable when `immutable` is set",
                        ));
                    }
                }
                errs.extend(meta::validate_object_meta(&nm, true, self.name_fn()));
                errs.extend(validate_secret_body(new));
                errs
            }
            KindImpl::Namespace => {
                let mut errs = meta::validate_object_meta_update(&nm, &om);
                errs.extend(validate_namespace_finalizers(new));
                errs
            }
            KindImpl::Lease => {
                let mut errs = meta::validate_object_meta_update(&nm, &om);
                errs.extend(validate_lease_spec(new));
                errs
            }
            KindImpl::EventV1 => {
                let mut errs = legacy_validate_event(new);
                errs.extend(meta::validate_object_meta_update(&nm, &om));
                if new.get("series") != old.get("series") {
                    errs.extend(validate_event_series(new));
                }
                for (field, key) in [
                    ("involvedObject", "regarding"),
                    ("reason", "reason"),
                    ("message", "note"),
                    ("source", "deprecatedSource"),
                    ("firstTimestamp", "deprecatedFirstTimestamp"),
                    ("lastTimestamp", "deprecatedLastTimestamp"),
                    ("count", "deprecatedCount"),
                    ("type", "type"),
                    ("eventTime", "eventTime"),
                    ("action", "action"),
                    ("related", "related"),
                    ("reportingController", "reportingController"),
                    ("reportingInstance", "reportingInstance"),
                ] {
                    let n = new.get(key).cloned().unwrap_or(Value::Null);
                    if n != old.get(key).cloned().unwrap_or(Value::Null) {
                        errs.push(FieldError::immutable(field, BadValue::from_json(&n)));
                    }
                }
                errs
            }
        }
    }

    fn validate_type_meta(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind != self.kind {
            errs.push(FieldError::invalid(
                "kind",
                BadValue::Str(kind.into()),
                &format!("must be {}", self.kind),
            ));
        }
        let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if av != self.api_version() {
            errs.push(FieldError::invalid(
                "apiVersion",
                BadValue::Str(av.into()),
                &format!("must be {}", self.api_version()),
            ));
        }
        errs
    }

    /// Runs CEL unless a blocking OpenAPI error exists (then adds the "<nil>" cause).
    fn cel(
        &self,
        schema: &CrdSchema,
        obj: &Value,
        old: Option<&Value>,
        mut errs: Vec<FieldError>,
    ) -> Vec<FieldError> {
        if !schema.has_cel() {
            return errs;
        }
        let blocking = errs.iter().any(|e| {
            matches!(
                e.kind,
                ErrType::Required | ErrType::TooLong | ErrType::TooMany | ErrType::TypeInvalid
            )
        });
        if blocking {
            errs.push(FieldError::invalid(
                "<nil>",
                BadValue::Null,
                "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ));
        } else {
            errs.extend(schema.validate_cel(obj, old));
        }
        errs
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The unknown fields a decoding dropped, without the leading dot.
fn unknown_paths(d: Decoded) -> impl Iterator<Item = String> {
    d.unknown
        .into_iter()
        .map(|u| u.trim_start_matches('.').to_string())
}

/// The `fieldValidation` of unknown fields: Strict refuses them, Warn returns them as
/// warnings, Ignore drops them.
fn unknown_field_warnings(
    fv: FieldValidation,
    unknown: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    if fv == FieldValidation::Strict && !unknown.is_empty() {
        let list: Vec<String> = unknown
            .iter()
            .map(|u| format!("unknown field {}", go_quote(u)))
            .collect();
        return Err(ApiError::bad_request(&format!(
            "strict decoding error: {}",
            list.join(", ")
        )));
    }
    Ok(if fv == FieldValidation::Warn {
        unknown
    } else {
        Vec::new()
    })
}

/// The status subresource: everything but .status comes from the stored object
/// (managedFields excepted).
fn prepare_status_update(new: &mut Value, old: &Value) {
    let status = new.get("status").cloned();
    let managed = new
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .cloned();
    let mut out = old.clone();
    if let Some(m) = out.as_object_mut() {
        match status {
            Some(s) => {
                m.insert("status".into(), s);
            }
            None => {
                m.remove("status");
            }
        }
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            match managed {
                Some(mf) => meta.insert("managedFields".into(), mf),
                None => meta.remove("managedFields"),
            };
        }
    }
    *new = out;
}

/// A namespace: status is owned by the namespace controller; spec.finalizers changes only
/// through /finalize.
fn prepare_namespace_update(sub: Option<&str>, new: &mut Value, old: &Value) {
    match old.get("status") {
        Some(s) => new["status"] = s.clone(),
        None => {
            if let Some(m) = new.as_object_mut() {
                m.remove("status");
            }
        }
    }
    if sub.is_none() {
        let fins = old.get("spec").and_then(|s| s.get("finalizers")).cloned();
        if !new.get("spec").is_some_and(Value::is_object) {
            new["spec"] = json!({});
        }
        let spec = new["spec"].as_object_mut().expect("spec object");
        match fins {
            Some(f) => spec.insert("finalizers".into(), f),
            None => spec.remove("finalizers"),
        };
    }
}

fn validate_secret_body(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let data = obj.get("data").and_then(Value::as_object);
    if let Some(d) = data {
        for k in d.keys() {
            validate_secret_key(k, &mut errs);
        }
    }
    if secret_data_size(data) > 1024 * 1024 {
        errs.push(FieldError::too_long("data", 1024 * 1024));
    }
    validate_secret_type(obj, data, &mut errs);
    errs
}

/// A key of a Secret's `data`: a config key (at most 253 characters of `[-._a-zA-Z0-9]`, not
/// `.`, `..` nor starting with `..`).
fn validate_secret_key(k: &str, errs: &mut Vec<FieldError>) {
    let field = format!("data[{k}]");
    let invalid = |msg: &str| FieldError::invalid(&field, BadValue::Str(k.to_string()), msg);
    if k.len() > 253 {
        errs.push(invalid("must be no more than 253 characters"));
    }
    let key_ok = !k.is_empty()
        && k.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    if !key_ok {
        errs.push(invalid(&meta::regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        )));
    }
    if k == "." {
        errs.push(invalid("must not be '.'"));
    } else if k == ".." {
        errs.push(invalid("must not be '..'"));
    } else if k.starts_with("..") {
        errs.push(invalid("must not start with '..'"));
    }
}

/// The decoded size of a Secret's data (values that are not base64 count 0).
fn secret_data_size(data: Option<&Map<String, Value>>) -> usize {
    use base64::Engine;
    data.into_iter()
        .flat_map(Map::values)
        .map(|v| {
            v.as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .map_or(0, |b| b.len())
        })
        .sum()
}

/// The keys (or annotation) each Secret type requires.
fn validate_secret_type(
    obj: &Value,
    data: Option<&Map<String, Value>>,
    errs: &mut Vec<FieldError>,
) {
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    let nonempty = |k: &str| {
        data.and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    match obj.get("type").and_then(Value::as_str).unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let name = obj
                .get("metadata")
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errs.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => {
            errs.push(FieldError::required("data[.dockercfg]", ""));
        }
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            errs.push(FieldError::required("data[.dockerconfigjson]", ""));
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(FieldError::required("data[username]", ""));
            errs.push(FieldError::required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth" if !nonempty("ssh-privatekey") => {
            errs.push(FieldError::required("data[ssh-privatekey]", ""));
        }
        "kubernetes.io/tls" => {
            if !has("tls.crt") {
                errs.push(FieldError::required("data[tls.crt]", ""));
            }
            if !has("tls.key") {
                errs.push(FieldError::required("data[tls.key]", ""));
            }
        }
        _ => {}
    }
}

fn validate_namespace_finalizers(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let fins = obj
        .get("spec")
        .and_then(|s| s.get("finalizers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for f in fins.iter().filter_map(Value::as_str) {
        for msg in meta::is_qualified_name(f) {
            errs.push(FieldError::invalid(
                "spec.finalizers",
                BadValue::Str(f.into()),
                &msg,
            ));
        }
        if !f.contains('/') && f != "kubernetes" {
            errs.push(FieldError::invalid(
                "spec.finalizers",
                BadValue::Str(f.into()),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

fn validate_lease_spec(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = obj.get("spec");
    if let Some(d) = spec
        .and_then(|s| s.get("leaseDurationSeconds"))
        .and_then(Value::as_i64)
        && d <= 0
    {
        errs.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            BadValue::Int(d),
            "must be greater than 0",
        ));
    }
    if let Some(t) = spec
        .and_then(|s| s.get("leaseTransitions"))
        .and_then(Value::as_i64)
        && t < 0
    {
        errs.push(FieldError::invalid(
            "spec.leaseTransitions",
            BadValue::Int(t),
            "must be greater than or equal to 0",
        ));
    }
    errs
}

fn legacy_validate_event(ev: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = ev
        .get("metadata")
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let involved_ns = ev
        .get("regarding")
        .and_then(|r| r.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let legacy = ev.get("eventTime").is_none_or(Value::is_null);
    if !involved_namespace_ok(&ns, &involved_ns, legacy) {
        errs.push(FieldError::invalid(
            "involvedObject.namespace",
            BadValue::Str(involved_ns.clone()),
            "does not match event.namespace",
        ));
    }
    if !legacy {
        validate_event_reporting(ev, &mut errs);
    }
    for msg in meta::is_dns1123_subdomain(&ns) {
        errs.push(FieldError::invalid(
            "namespace",
            BadValue::Str(ns.clone()),
            &msg,
        ));
    }
    errs
}

/// Whether the involved object's namespace fits the event's: for a `legacy` event (no
/// eventTime) the same one (an empty one only in "" or "default"); for a new one any, but an
/// empty one only in "default" or "kube-system".
fn involved_namespace_ok(ns: &str, involved_ns: &str, legacy: bool) -> bool {
    if !legacy {
        return !involved_ns.is_empty() || ns == "default" || ns == "kube-system";
    }
    if involved_ns.is_empty() {
        ns.is_empty() || ns == "default"
    } else {
        ns == involved_ns
    }
}

/// A new-style event's reporting fields: reportingController (a qualified name),
/// reportingInstance, action and reason required and at most 128 characters, the note at
/// most 1024.
fn validate_event_reporting(ev: &Value, errs: &mut Vec<FieldError>) {
    let s = |k: &str| ev.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let rc = s("reportingController");
    if rc.is_empty() {
        errs.push(FieldError::required("reportingController", ""));
    }
    for msg in meta::is_qualified_name(&rc) {
        errs.push(FieldError::invalid(
            "reportingController",
            BadValue::Str(rc.clone()),
            &msg,
        ));
    }
    for field in ["reportingInstance", "action", "reason"] {
        let v = s(field);
        if v.is_empty() {
            errs.push(FieldError::required(field, ""));
        }
        if v.len() > 128 {
            errs.push(FieldError::invalid(
                field,
                BadValue::Str(String::new()),
                "can have at most 128 characters",
            ));
        }
    }
    if s("note").len() > 1024 {
        errs.push(FieldError::invalid(
            "message",
            BadValue::Str(String::new()),
            "can have at most 1024 characters",
        ));
    }
}

fn validate_event_series(ev: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(series) = ev.get("series").filter(|s| !s.is_null()) {
        if series.get("count").and_then(Value::as_i64).unwrap_or(0) < 2 {
            errs.push(FieldError::invalid(
                "series.count",
                BadValue::Str(String::new()),
                "should be at least 2",
            ));
        }
        if series.get("lastObservedTime").is_none_or(Value::is_null) {
            errs.push(FieldError::required("series.lastObservedTime", ""));
        }
    }
    errs
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

/// Builds the resource definitions of a CRD (one per served version).
pub(crate) fn from_crd(crd: &CustomResourceDefinition) -> Vec<ResourceDef> {
    let v = serde_json::to_value(crd).unwrap_or(Value::Null);
    let spec = &v["spec"];
    let group = spec["group"].as_str().unwrap_or("").to_string();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or("").to_string();
    let kind = names["kind"].as_str().unwrap_or("").to_string();
    let singular = names["singular"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let list_kind = names["listKind"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{kind}List"));
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let short_names = strs(&names["shortNames"]);
    let categories = strs(&names["categories"]);
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut out = Vec::new();
    for ver in spec["versions"].as_array().cloned().unwrap_or_default() {
        if ver["served"].as_bool() == Some(false) {
            continue;
        }
        let schema = ver
            .get("schema")
            .and_then(|s| s.get("openAPIV3Schema"))
            .cloned()
            .unwrap_or_else(
                || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
            );
        let crd_schema = Arc::new(CrdSchema::new(&schema));
        let status_subresource = ver
            .get("subresources")
            .and_then(|s| s.get("status"))
            .is_some();
        out.push(ResourceDef {
            group: group.clone(),
            version: str_at(&ver, &["name"]).unwrap_or("").to_string(),
            plural: plural.clone(),
            singular: singular.clone(),
            kind: kind.clone(),
            list_kind: list_kind.clone(),
            namespaced,
            short_names: short_names.clone(),
            categories: categories.clone(),
            status_subresource,
            smd: crd_schema.smd.clone(),
            imp: KindImpl::Custom(crd_schema),
            printer_columns: table::columns_of(&ver),
        });
    }
    out
}

/// The built-in resources served.
pub(crate) fn builtins() -> Vec<ResourceDef> {
    let b = |group: &str,
             version: &str,
             plural: &str,
             singular: &str,
             kind: &str,
             namespaced: bool,
             short: &[&str],
             imp: KindImpl,
             st: &'static GoStruct| {
        ResourceDef {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            singular: singular.into(),
            kind: kind.into(),
            list_kind: format!("{kind}List"),
            namespaced,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            categories: Vec::new(),
            status_subresource: matches!(imp, KindImpl::Namespace),
            imp,
            smd: Smd::from_go(st),
            printer_columns: Vec::new(),
        }
    };
    vec![
        b(
            "",
            "v1",
            "namespaces",
            "namespace",
            "Namespace",
            false,
            &["ns"],
            KindImpl::Namespace,
            &gotypes::NAMESPACE,
        ),
        b(
            "",
            "v1",
            "secrets",
            "secret",
            "Secret",
            true,
            &[],
            KindImpl::Secret,
            &gotypes::SECRET,
        ),
        b(
            "events.k8s.io",
            "v1",
            "events",
            "event",
            "Event",
            true,
            &["ev"],
            KindImpl::EventV1,
            &gotypes::EVENT_V1,
        ),
        b(
            "coordination.k8s.io",
            "v1",
            "leases",
            "lease",
            "Lease",
            true,
            &[],
            KindImpl::Lease,
            &gotypes::LEASE,
        ),
    ]
}
