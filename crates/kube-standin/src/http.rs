//! HTTP routing: path → resource, authentication/authorization, fault injection, request
//! recording, and the JSON/streaming responses.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::auth::{self, Attributes};
use super::discovery;
use super::gotypes::{self, Ty};
use super::handlers::{self, Query, Reply};
use super::resources::ResourceDef;
use super::server::{Shared, WriteCtx, lock};
use super::status::{ApiError, BadValue, FieldError};
use super::table;
use super::watch;
use super::{RecordedRequest, RequestMatcher};

const MAX_BODY: usize = 3 * 1024 * 1024;

enum Route {
    Version,
    OpenApiV2,
    Health,
    ApiVersions,
    Groups,
    Group(String),
    ResourceList(String, String),
    Resource {
        def: Arc<ResourceDef>,
        ns: Option<String>,
        name: Option<String>,
        sub: Option<String>,
    },
    NotFound,
}

fn route(sh: &Shared, path: &str) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["openapi", "v2"] => Route::OpenApiV2,
        ["healthz"] | ["livez"] | ["readyz"] => Route::Health,
        ["api"] => Route::ApiVersions,
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group(g.to_string()),
        ["api", "v1", rest @ ..] => resource_route(sh, "", "v1", rest),
        ["apis", g, v, rest @ ..] => resource_route(sh, g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource_route(sh: &Shared, group: &str, version: &str, rest: &[&str]) -> Route {
    if !sh
        .resources
        .iter()
        .any(|r| r.group == group && r.version == version)
    {
        return Route::NotFound;
    }
    if rest.is_empty() {
        return Route::ResourceList(group.to_string(), version.to_string());
    }
    let s = |x: Option<&&str>| x.map(|v| v.to_string());
    if rest[0] == "namespaces"
        && rest.len() >= 3
        && let Some(def) = sh.find(group, version, rest[2]).filter(|d| d.namespaced)
    {
        if rest.len() > 5 {
            return Route::NotFound;
        }
        let sub = s(rest.get(4));
        if sub.as_deref().is_some_and(|x| !def.has_subresource(x)) {
            return Route::NotFound;
        }
        return Route::Resource {
            def,
            ns: Some(rest[1].to_string()),
            name: s(rest.get(3)),
            sub,
        };
    }
    let Some(def) = sh.find(group, version, rest[0]) else {
        return Route::NotFound;
    };
    if rest.len() > 3 || (def.namespaced && rest.len() > 1) {
        return Route::NotFound;
    }
    let sub = s(rest.get(2));
    if sub.as_deref().is_some_and(|x| !def.has_subresource(x)) {
        return Route::NotFound;
    }
    Route::Resource {
        def,
        ns: None,
        name: s(rest.get(1)),
        sub,
    }
}

fn is_true(v: Option<&String>) -> bool {
    matches!(
        v.map(String::as_str),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True")
    )
}

fn verb_of(method: &str, name: bool, sub: bool, watch: bool) -> Option<&'static str> {
    match (method, name, sub) {
        ("GET", false, false) => Some(if watch { "watch" } else { "list" }),
        ("GET", true, _) => Some("get"),
        ("POST", false, false) => Some("create"),
        ("PUT", true, _) => Some("update"),
        ("PATCH", true, _) => Some("patch"),
        ("DELETE", true, false) => Some("delete"),
        ("DELETE", false, false) => Some("deletecollection"),
        _ => None,
    }
}

fn json_response(code: u16, body: String, extra: &[(String, String)]) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("no-cache, private"),
    );
    for (k, v) in extra {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(k.as_str()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().append(name, value);
        }
    }
    resp
}

fn error_response(e: &ApiError) -> Response {
    json_response(
        e.code,
        gotypes::encode(&e.status, &Ty::Struct(&gotypes::STATUS)),
        &e.headers,
    )
}

fn reply_response(r: Reply) -> Response {
    let warnings: Vec<(String, String)> = r
        .warnings
        .iter()
        .map(|w| {
            (
                "warning".to_string(),
                format!("299 - {}", serde_json::to_string(w).unwrap_or_default()),
            )
        })
        .collect();
    json_response(r.code, r.body, &warnings)
}

/// `/openapi/v2` as kubectl reads it (gnostic's protobuf `Document`): a document with no paths and
/// no definitions. kubectl's `apply` and `create` refuse to start without one; with none for a
/// kind, kubectl leaves validation to the server, which validates every write anyway.
fn openapi_v2() -> Response {
    // Field 1 (`swagger`), a string of 3 bytes.
    let mut resp = Response::new(Body::from(&b"\x0a\x032.0"[..]));
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
    );
    resp
}

fn text_response(code: u16, body: &str) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn parse_query(q: Option<&str>) -> Query {
    let mut out = BTreeMap::new();
    if let Some(q) = q {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if k.is_empty() {
                continue;
            }
            out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
    }
    out
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// What the client asked the answer to be converted to (`Accept: application/json;as=...;
/// g=meta.k8s.io;v=v1`, as kube-runtime's metadata_watcher and `Api::*_metadata` send it, and
/// `as=Table` as kubectl does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Object,
    Partial,
    PartialList,
    Table,
}

/// Content negotiation: the first acceptable clause wins. A clause asking for a conversion the
/// stand-in does not serve (`as=Table` unless `allow_table`, other group versions) is skipped, as
/// kube-apiserver skips conversions an endpoint does not allow; nothing acceptable is 406.
fn negotiate(h: &HeaderMap, allow_table: bool) -> Result<Target, ApiError> {
    let Some(accept) = header(h, "accept") else {
        return Ok(Target::Object);
    };
    for clause in accept.split(',') {
        let mut parts = clause.split(';');
        let mt = parts.next().unwrap_or("").trim();
        if !matches!(mt, "application/json" | "*/*" | "application/*" | "") {
            continue;
        }
        let (mut conv, mut group, mut version) = (None, None, None);
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                match k.trim() {
                    "as" => conv = Some(v.trim()),
                    "g" => group = Some(v.trim()),
                    "v" => version = Some(v.trim()),
                    _ => {}
                }
            }
        }
        match (conv, group, version) {
            (None, _, _) => return Ok(Target::Object),
            (Some("PartialObjectMetadata"), Some("meta.k8s.io"), Some("v1")) => {
                return Ok(Target::Partial);
            }
            (Some("PartialObjectMetadataList"), Some("meta.k8s.io"), Some("v1")) => {
                return Ok(Target::PartialList);
            }
            (Some("Table"), Some("meta.k8s.io"), Some("v1"))
                if allow_table && mt == "application/json" =>
            {
                return Ok(Target::Table);
            }
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable())
}

/// `newNotAcceptableError` of the response transformation (the Go type is the registry's
/// internal one).
fn not_acceptable_conversion(def: &ResourceDef, wanted_list: bool) -> ApiError {
    let message = if wanted_list {
        format!(
            "you requested PartialObjectMetadataList, but the requested object is not a list ({})",
            def.internal_type_name(false)
        )
    } else {
        format!(
            "you requested PartialObjectMetadata, but the requested object is a list ({})",
            def.internal_type_name(true)
        )
    };
    ApiError::new(406, "NotAcceptable", &message, None)
}

/// The answer of a write converted as asked (a `Status` is never converted).
fn transform_write_reply(
    def: &ResourceDef,
    target: Target,
    mut reply: Reply,
) -> Result<Reply, ApiError> {
    if target == Target::Object {
        return Ok(reply);
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&reply.body) else {
        return Ok(reply);
    };
    if v.get("kind").and_then(serde_json::Value::as_str) == Some("Status") {
        return Ok(reply);
    }
    if target == Target::PartialList {
        return Err(not_acceptable_conversion(def, true));
    }
    reply.body = handlers::encode_object(def, &v, true);
    Ok(reply)
}

/// The (status, stall) of the first matching fault, used up by one.
fn take_fault(sh: &Shared, rec: &RecordedRequest, body: &[u8]) -> Option<(u16, Duration)> {
    let mut faults = lock(&sh.faults);
    let f = faults
        .iter_mut()
        .find(|f| f.remaining > 0 && f.matcher.matches(rec, body))?;
    f.remaining -= 1;
    let fault = (f.status, f.stall);
    faults.retain(|f| f.remaining > 0);
    Some(fault)
}

/// What serving reads of a request besides its route and body.
struct Incoming<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a Query,
    headers: &'a HeaderMap,
    user_agent: Option<&'a str>,
    content_type: Option<&'a str>,
}

/// A request for a resource: the route's resource, namespace, name and subresource.
#[derive(Clone, Copy)]
struct ResourceTarget<'a> {
    def: &'a Arc<ResourceDef>,
    ns: Option<&'a str>,
    name: Option<&'a str>,
    sub: Option<&'a str>,
}

pub(crate) async fn handle(State(sh): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parse_query(parts.uri.query());
    let headers = parts.headers;
    let user_agent = header(&headers, "user-agent");
    let content_type = header(&headers, "content-type");
    let route = route(&sh, &path);
    let watch = is_true(query.get("watch"));
    let mut rec = new_record(&sh, &method, &path, &query, &headers);
    if let Route::Resource { def, ns, name, sub } = &route {
        rec.api_group = def.group.clone();
        rec.resource = def.plural.clone();
        rec.subresource = sub.clone();
        rec.namespace = ns.clone();
        rec.name = name.clone();
    }
    let verb = route_verb(&route, &method, watch);
    rec.verb = verb.unwrap_or("").to_string();
    let body = record_lease_body(&mut rec, &method, body).await;
    let incoming = Incoming {
        method: &method,
        path: &path,
        query: &query,
        headers: &headers,
        user_agent: user_agent.as_deref(),
        content_type: content_type.as_deref(),
    };
    let resp = serve(&sh, &route, verb, &incoming, body, &rec).await;
    rec.status = resp.status().as_u16();
    rec.answered = std::time::Instant::now();
    if sh.record_requests {
        lock(&sh.requests).push(rec);
    }
    resp
}

/// The record of a request as it arrives (verb, resource and answer filled in later).
fn new_record(
    sh: &Shared,
    method: &str,
    path: &str,
    query: &Query,
    headers: &HeaderMap,
) -> RecordedRequest {
    RecordedRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: query.clone(),
        verb: String::new(),
        api_group: String::new(),
        resource: String::new(),
        subresource: None,
        namespace: None,
        name: None,
        content_type: header(headers, "content-type"),
        accept: header(headers, "accept"),
        user_agent: header(headers, "user-agent"),
        status: 0,
        user: auth::authenticate(&sh.tokens, headers)
            .map(|u| u.name)
            .unwrap_or_default(),
        received: std::time::Instant::now(),
        answered: std::time::Instant::now(),
        lease_body: None,
    }
}

/// The request's verb: a resource's from method, name, subresource and `watch` (None where
/// the resource has no such verb); elsewhere the method's.
fn route_verb(route: &Route, method: &str, watch: bool) -> Option<&'static str> {
    match route {
        Route::Resource { name, sub, .. } => verb_of(method, name.is_some(), sub.is_some(), watch),
        _ => Some(match method {
            "GET" | "HEAD" => "get",
            "POST" => "post",
            "PUT" => "put",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "get",
        }),
    }
}

/// Records the body of a write to a Lease (read up to 1 MiB) and hands it on.
async fn record_lease_body(rec: &mut RecordedRequest, method: &str, body: Body) -> Body {
    if rec.resource == "leases" && method != "GET" {
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        rec.lease_body = Some(String::from_utf8_lossy(&bytes).into_owned());
        Body::from(bytes)
    } else {
        body
    }
}

/// Authentication, impersonation and authorization, then the body, injected faults and the
/// route's answer.
async fn serve(
    sh: &Arc<Shared>,
    route: &Route,
    verb: Option<&str>,
    req: &Incoming<'_>,
    body: Body,
    rec: &RecordedRequest,
) -> Response {
    let user = match authorized_user(sh, route, verb, req) {
        Ok(u) => u,
        Err(e) => return error_response(&e),
    };
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return error_response(&ApiError::too_large()),
    };
    if let Some((status, stall)) = take_fault(sh, rec, &body) {
        tokio::time::sleep(stall).await;
        if status != 0 {
            return error_response(&ApiError::injected(status));
        }
    }
    serve_route(sh, route, verb, &user, req, body).await
}

/// The authenticated (and possibly impersonated) user, if allowed the request.
fn authorized_user(
    sh: &Shared,
    route: &Route,
    verb: Option<&str>,
    req: &Incoming<'_>,
) -> Result<auth::User, ApiError> {
    let user = auth::authenticate(&sh.tokens, req.headers)
        .and_then(|u| auth::impersonate(&sh.tokens, u, req.headers))?;
    let attrs = attributes(route, verb, req.method, req.path);
    if !auth::authorize(&user, &attrs) {
        return Err(auth::forbidden(&user, &attrs));
    }
    Ok(user)
}

/// The authorization attributes of a request (without a verb: the method's).
fn attributes<'a>(
    route: &'a Route,
    verb: Option<&'a str>,
    method: &'a str,
    path: &'a str,
) -> Attributes<'a> {
    let (group, resource, sub, ns, name, is_res) = match route {
        Route::Resource { def, ns, name, sub } => (
            def.group.as_str(),
            def.plural.as_str(),
            sub.as_deref().unwrap_or(""),
            ns.as_deref().unwrap_or(""),
            name.as_deref().unwrap_or(""),
            true,
        ),
        _ => ("", "", "", "", "", false),
    };
    Attributes {
        verb: verb.unwrap_or(match method {
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "get",
        }),
        resource_request: is_res,
        path,
        group,
        resource,
        subresource: sub,
        namespace: ns,
        name,
    }
}

/// The answer of an authorized request: discovery, health, or a resource verb.
async fn serve_route(
    sh: &Arc<Shared>,
    route: &Route,
    verb: Option<&str>,
    user: &auth::User,
    req: &Incoming<'_>,
    body: Bytes,
) -> Response {
    match route {
        Route::Version => json_response(200, discovery::version(), &[]),
        Route::OpenApiV2 => openapi_v2(),
        Route::Health => text_response(200, "ok"),
        Route::ApiVersions => {
            json_response(200, discovery::api_versions(&sh_addr(req.headers)), &[])
        }
        Route::Groups => json_response(200, discovery::groups(sh), &[]),
        Route::Group(g) => match discovery::group(sh, g) {
            Some(b) => json_response(200, b, &[]),
            None => error_response(&ApiError::not_found_generic()),
        },
        Route::ResourceList(g, v) => match discovery::resource_list(sh, g, v) {
            Some(b) => json_response(200, b, &[]),
            None => error_response(&ApiError::not_found_generic()),
        },
        Route::NotFound => error_response(&ApiError::not_found_generic()),
        Route::Resource { def, ns, name, sub } => {
            let Some(verb) = verb else {
                return error_response(&ApiError::method_not_allowed());
            };
            if def.namespaced && ns.is_none() && verb != "list" && verb != "watch" {
                return error_response(&ApiError::method_not_allowed());
            }
            let res = ResourceTarget {
                def,
                ns: ns.as_deref(),
                name: name.as_deref(),
                sub: sub.as_deref(),
            };
            match serve_resource(sh, user, res, verb, req, body).await {
                Ok(resp) => resp,
                Err(e) => error_response(&e),
            }
        }
    }
}

fn sh_addr(headers: &HeaderMap) -> String {
    header(headers, "host").unwrap_or_else(|| "127.0.0.1:6443".into())
}

/// A resource verb, its answer converted to what the client accepts.
async fn serve_resource(
    sh: &Arc<Shared>,
    user: &auth::User,
    res: ResourceTarget<'_>,
    verb: &str,
    req: &Incoming<'_>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ResourceTarget { def, ns, name, sub } = res;
    let query = req.query;
    // Tables: get and list of the given CRDs (the only kinds with printer columns) only.
    let allow_table = !def.printer_columns.is_empty() && matches!(verb, "get" | "list");
    let target = negotiate(req.headers, allow_table)?;
    let manager = field_manager(query, req.user_agent);
    let write_ctx = || validated_write_ctx(sh, user, verb, query, &manager);
    let name_s = name.unwrap_or("");
    let reply = match verb {
        "get" => serve_get(sh, res, query, target)?,
        "list" => serve_list(sh, res, query, target).await?,
        "watch" => return serve_watch(sh, res, query, target).await,
        // Writes happen first; the answer is converted afterwards (and a failed conversion
        // answers 406 although the write was made, as kube-apiserver does).
        "create" => {
            check_json_content_type(req.content_type)?;
            let r = handlers::create(sh, def, ns, &body, &write_ctx()?)?;
            transform_write_reply(def, target, r)?
        }
        "update" => {
            check_json_content_type(req.content_type)?;
            let r = handlers::update(sh, def, ns, name_s, sub, &body, &write_ctx()?)?;
            transform_write_reply(def, target, r)?
        }
        "patch" => {
            let ct = req.content_type.unwrap_or("");
            let r = handlers::patch(sh, def, ns, name_s, sub, &body, ct, query, &write_ctx()?)?;
            transform_write_reply(def, target, r)?
        }
        "delete" => {
            let r = handlers::delete(sh, def, ns, name_s, &body, query, sh.now())?;
            transform_write_reply(def, target, r)?
        }
        "deletecollection" => {
            if target == Target::Partial {
                return Err(not_acceptable_conversion(def, false));
            }
            let partial = target == Target::PartialList;
            handlers::delete_collection(sh, def, ns, &body, query, sh.now(), partial)?
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    Ok(reply_response(reply))
}

/// The field manager of a write: `fieldManager`, else the User-Agent's program name; at most
/// 128 characters.
fn field_manager(query: &Query, user_agent: Option<&str>) -> String {
    let manager = query
        .get("fieldManager")
        .cloned()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            user_agent
                .map(|ua| ua.split('/').next().unwrap_or("").to_string())
                .unwrap_or_default()
        });
    manager.chars().take(128).collect()
}

/// The context of a write, after Validate{Create,Update,Patch}Options: fieldManager, then
/// dryRun, then fieldValidation.
fn validated_write_ctx(
    sh: &Shared,
    user: &auth::User,
    verb: &str,
    query: &Query,
    manager: &str,
) -> Result<WriteCtx, ApiError> {
    let kind = match verb {
        "create" => "CreateOptions",
        "update" => "UpdateOptions",
        _ => "PatchOptions",
    };
    let mut errs = Vec::new();
    if let Some(fm) = query.get("fieldManager") {
        if fm.len() > 128 {
            errs.push(FieldError::too_long("fieldManager", 128));
        }
        for (i, c) in fm.char_indices() {
            if c.is_control() {
                errs.push(FieldError::invalid(
                    "fieldManager",
                    BadValue::Str(fm.clone()),
                    &format!("invalid character U+{:04X} (at position {i})", c as u32),
                ));
            }
        }
    }
    let dry_run = handlers::dry_run(query, &mut errs);
    if !errs.is_empty() {
        return Err(ApiError::invalid("meta.k8s.io", kind, "", &errs));
    }
    Ok(WriteCtx {
        user: Some(user.clone()),
        manager: manager.to_string(),
        dry_run,
        fv: handlers::field_validation(query)?,
        now: sh.now(),
    })
}

/// GET of one object, as an object, its metadata or a Table.
fn serve_get(
    sh: &Shared,
    res: ResourceTarget<'_>,
    query: &Query,
    target: Target,
) -> Result<Reply, ApiError> {
    if target == Target::PartialList {
        return Err(not_acceptable_conversion(res.def, true));
    }
    let name = res.name.unwrap_or("");
    let mut r = handlers::get(sh, res.def, res.ns, name, target == Target::Partial)?;
    if target == Target::Table {
        r.body = table::convert(res.def, &r.body, false, query, sh.now())?;
    }
    Ok(r)
}

/// LIST, as a list, a metadata list or a Table.
async fn serve_list(
    sh: &Shared,
    res: ResourceTarget<'_>,
    query: &Query,
    target: Target,
) -> Result<Reply, ApiError> {
    if target == Target::Partial {
        return Err(not_acceptable_conversion(res.def, false));
    }
    let meta_only = target == Target::PartialList;
    let mut r = handlers::list(sh, res.def, res.ns, query, meta_only).await?;
    if target == Target::Table {
        r.body = table::convert(res.def, &r.body, true, query, sh.now())?;
    }
    Ok(r)
}

/// WATCH: the event lines as a streamed body.
async fn serve_watch(
    sh: &Arc<Shared>,
    res: ResourceTarget<'_>,
    query: &Query,
    target: Target,
) -> Result<Response, ApiError> {
    let rx = watch::watch(
        sh.clone(),
        res.def.clone(),
        res.ns.map(str::to_string),
        query.clone(),
        target != Target::Object,
    )
    .await?;
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), rx))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

fn check_json_content_type(ct: Option<&str>) -> Result<(), ApiError> {
    let mt = ct
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mt == "application/json" || mt.is_empty() {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(&[
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
        ]))
    }
}

impl RequestMatcher {
    pub fn matches(&self, r: &RecordedRequest, body: &[u8]) -> bool {
        let text = String::from_utf8_lossy(body);
        self.body_contains
            .as_ref()
            .is_none_or(|needle| text.contains(needle.as_str()))
            && self
                .dry_run
                .is_none_or(|dry| dry == r.query.contains_key("dryRun"))
            && self.verb.as_ref().is_none_or(|v| *v == r.verb)
            && self.user.as_ref().is_none_or(|v| *v == r.user)
            && self.resource.as_ref().is_none_or(|v| *v == r.resource)
            && self.subresource.as_ref().is_none_or(|v| {
                if v.is_empty() {
                    r.subresource.is_none()
                } else {
                    Some(v) == r.subresource.as_ref()
                }
            })
            && self
                .name
                .as_ref()
                .is_none_or(|v| Some(v) == r.name.as_ref())
            && self
                .namespace
                .as_ref()
                .is_none_or(|v| Some(v) == r.namespace.as_ref())
    }
}
