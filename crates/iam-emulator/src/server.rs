//! HTTP: the IAM Query endpoint on `/` and the `/_emulator/*` admin endpoints.
//!
//! IAM request pipeline: method → body (size-limited) → SigV4 (when keys are configured) → form decoding →
//! Action/Version → faults → the operation (on a blocking thread: it may fsync) → XML.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use serde_json::json;

use super::accounts::{Accounts, check_token};
use super::authz::{self, Caller};
use super::check::{CheckRequest, check};
use super::clock::{iso8601, wall_now};
use super::error::ApiError;
use super::faults::{FaultConfig, Faults, InjectedFault};
use super::principal::Principal;
use super::protocol::{
    API_VERSION, Output, Params, XMLNS, decode_form, error_xml_in, media_type, success_xml_in,
};
use super::service::{Action, Service};
use super::sigv4::{self, SignedRequest};
use super::sts::{self, STS_VERSION, STS_XMLNS, StsAction};

/// Everything the handlers share.
pub(crate) struct Shared {
    pub accounts: Accounts,
    pub faults: Faults,
    /// The caller for requests without `UserName` when the key names no user (or SigV4 is off).
    pub caller_user: Option<String>,
    pub max_body_bytes: usize,
    /// Every IAM request served, when the journal is on (tests that audit who wrote when).
    pub journal: Option<std::sync::Mutex<Vec<JournalEntry>>>,
}

/// One IAM request as the journal keeps it.
#[derive(Clone, Debug)]
pub struct JournalEntry {
    pub action: String,
    /// The SigV4 access key id the request was signed with ("" when unsigned).
    pub access_key_id: String,
    /// Who signed it: the principal's ARN (a user, an account's root, an assumed-role session),
    /// "" when the request was refused before it was known.
    pub caller: String,
    /// The error's `<Code>` ("" on success).
    pub code: String,
    /// AssumeRole: the access key id of the session it issued ("" otherwise), so that a
    /// session's calls can be traced to whoever assumed it.
    pub issued_key_id: String,
    pub received: std::time::Instant,
    pub answered: std::time::Instant,
    pub status: u16,
}

/// The access key id of a SigV4 `Authorization` header (`... Credential=AKID/date/...`).
fn access_key_id(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once("Credential="))
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or_default()
        .to_string()
}

/// The IAM endpoint on `/` and `/healthz`; with `admin`, the `/_emulator/*` endpoints too.
pub(crate) fn router(shared: Arc<Shared>, admin: bool) -> Router {
    let router = Router::new()
        .route("/", any(iam))
        .route("/healthz", get(|| async { "ok" }));
    let router = if admin {
        router
            .route("/_emulator/faults", get(get_faults).put(put_faults))
            .route(
                "/_emulator/faults/inject",
                post(inject).delete(clear_injections),
            )
            .route("/_emulator/clock", get(get_clock).post(advance_clock))
            .route("/_emulator/check", post(check_credential))
    } else {
        router
    };
    router.fallback(not_found).with_state(shared)
}

fn xml_response(status: u16, body: Vec<u8>, request_id: &str) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    resp
}

fn error_response(err: &ApiError, request_id: &str) -> Response {
    error_response_in(XMLNS, err, request_id)
}

/// An error document in the namespace of the API that answers (STS's for STS actions).
fn error_response_in(ns: &str, err: &ApiError, request_id: &str) -> Response {
    let mut resp = xml_response(err.status, error_xml_in(ns, err, request_id), request_id);
    if err.status == 405 {
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    }
    resp
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn not_found(req: Request) -> Response {
    let rid = new_request_id();
    error_response(&ApiError::not_found(req.uri().path()), &rid)
}

/// What the request log line carries (never parameters, passwords or secrets), and the namespace of the API
/// that answers, once the request names it.
struct LogFields {
    action: String,
    user: String,
    caller: String,
    xmlns: &'static str,
}

async fn iam(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let received = std::time::Instant::now();
    let access_key_id = shared
        .journal
        .is_some()
        .then(|| access_key_id(req.headers()));
    let rid = new_request_id();
    let mut log = LogFields {
        action: String::new(),
        user: String::new(),
        caller: String::new(),
        xmlns: XMLNS,
    };
    let mut code = String::new();
    let mut issued_key_id = String::new();
    let resp = match handle_iam(&shared, req, &rid, &mut log).await {
        Ok(body) => {
            if shared.journal.is_some() && log.action == "AssumeRole" {
                issued_key_id = issued_key(&body);
            }
            xml_response(200, body, &rid)
        }
        Err(e) => {
            code = e.code.to_string();
            error_response_in(log.xmlns, &e, &rid)
        }
    };
    tracing::info!(
        request_id = %rid,
        action = %log.action,
        user = %log.user,
        status = resp.status().as_u16(),
        "iam request"
    );
    if let (Some(journal), Some(access_key_id)) = (&shared.journal, access_key_id) {
        journal.lock().expect("journal lock").push(JournalEntry {
            action: log.action,
            access_key_id,
            caller: log.caller,
            code,
            issued_key_id,
            received,
            answered: std::time::Instant::now(),
            status: resp.status().as_u16(),
        });
    }
    resp
}

/// The `<AccessKeyId>` of an AssumeRole answer.
fn issued_key(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .split("<AccessKeyId>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default()
        .to_string()
}

async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::payload_too_large(limit))
}

async fn handle_iam(
    shared: &Arc<Shared>,
    req: Request,
    rid: &str,
    log: &mut LogFields,
) -> Result<Vec<u8>, ApiError> {
    let (parts, body) = req.into_parts();
    if parts.method != Method::GET && parts.method != Method::POST {
        return Err(ApiError::method_not_allowed(parts.method.as_str()));
    }
    let body = read_body(body, &parts.headers, shared.max_body_bytes).await?;
    let query = parts.uri.query().unwrap_or("");

    // An STS request is answered in STS's namespace, its refused signatures included.
    let names_sts =
        |bytes: &[u8]| decode_form(bytes).is_ok_and(|p| p.get("Version") == Some(STS_VERSION));
    if names_sts(query.as_bytes()) || names_sts(&body) {
        log.xmlns = STS_XMLNS;
    }
    let caller = authenticate(shared, &parts, query, &body)?;

    let mut params = decode_form(query.as_bytes())?;
    if !body.is_empty() {
        let ct = parts
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| media_type(&String::from_utf8_lossy(v.as_bytes())));
        if let Some(ct) = ct
            && ct != "application/x-www-form-urlencoded"
        {
            return Err(ApiError::malformed_query(format!(
                "Unsupported Content-Type {ct}; the IAM Query API takes application/x-www-form-urlencoded."
            )));
        }
        params.extend(decode_form(&body)?);
    }

    let action_name = match params.get("Action") {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => return Err(ApiError::missing_action()),
    };
    log.action = action_name.clone();
    let version = params.get("Version");
    let api = match version {
        Some(API_VERSION) => Action::parse(&action_name).map(Api::Iam),
        Some(STS_VERSION) => StsAction::parse(&action_name).map(Api::Sts),
        _ => None,
    }
    .ok_or_else(|| ApiError::invalid_action(&action_name, version))?;
    if let Api::Sts(_) = api {
        log.xmlns = STS_XMLNS;
    }
    if let (Some(scope), Some(signed)) = (api.scope(), caller.signed_service.as_deref())
        && scope != signed
    {
        return Err(sigv4::SigV4Error::Scope(format!(
            "Credential should be scoped to correct service: '{scope}'. "
        ))
        .into());
    }
    log.caller = caller.caller.principal.arn("/");
    log.user = params
        .get("UserName")
        .map(str::to_string)
        .or_else(|| caller.caller.principal.user_name().map(str::to_string))
        .unwrap_or_default();

    let decision = shared.faults.decide(api.name(), rand::random::<f64>);
    if decision.delay > Duration::ZERO {
        tokio::time::sleep(decision.delay).await;
    }
    if let Some(e) = decision.error {
        return Err(e);
    }
    if let Some(after) = decision.deliver_late {
        // The request arrives `after` from now, whatever became of the connection it came on;
        // as IAM does, a signature older than 15 minutes by then is refused (not carried out).
        let signed_at = parts
            .headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .and_then(sigv4::parse_amz_date);
        let verifies = shared.accounts.verifies_signatures();
        let worker = Arc::clone(shared);
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if verifies && signed_at.is_none_or(|at| wall_now() - at > sigv4::MAX_SKEW_SECS) {
                tracing::info!("a request held past its signature's 15 minutes is refused");
                return;
            }
            let _ = tokio::task::spawn_blocking(move || worker.serve(api, &params, &caller.caller))
                .await;
        });
        return std::future::pending().await;
    }

    let worker = Arc::clone(shared);
    let output = tokio::task::spawn_blocking(move || worker.serve(api, &params, &caller.caller))
        .await
        .map_err(|_| ApiError::internal(500))??;
    success_xml_in(log.xmlns, api.name(), &output, rid).map_err(|_| ApiError::internal(500))
}

/// The two APIs the listener answers.
#[derive(Debug, Clone, Copy)]
enum Api {
    Iam(Action),
    Sts(StsAction),
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Iam(a) => a.name(),
            Api::Sts(a) => a.name(),
        }
    }

    /// The SigV4 service the request must be scoped to.
    fn scope(self) -> Option<&'static str> {
        Some(match self {
            Api::Iam(_) => "iam",
            Api::Sts(_) => "sts",
        })
    }
}

/// The caller and the service its signature was scoped to.
struct Authenticated {
    caller: Caller,
    signed_service: Option<String>,
}

/// Who signed the request (SigV4 with the session token when keys are configured); without keys, the
/// `--caller-user` of the primary account.
fn authenticate(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    query: &str,
    body: &[u8],
) -> Result<Authenticated, ApiError> {
    let accounts = &shared.accounts;
    if !accounts.verifies_signatures() {
        let account = accounts.primary_id().to_string();
        let principal = match &shared.caller_user {
            Some(name) => Principal::User {
                account,
                name: name.clone(),
            },
            None => Principal::Anonymous { account },
        };
        return Ok(Authenticated {
            caller: Caller {
                principal,
                region: None,
            },
            signed_service: None,
        });
    }
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query,
        headers: &parts.headers,
        body,
    };
    let akid = access_key_id(&parts.headers);
    let owner = accounts.key_owner(&akid);
    let token = parts
        .headers
        .get("x-amz-security-token")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if let Some(owner) = &owner {
        check_token(
            owner,
            token.as_deref(),
            accounts.primary().service.clock.now(),
        )?;
    }
    let verified = sigv4::verify_with(
        &signed,
        |_| owner.as_ref().map(|o| o.secret.clone()),
        wall_now(),
    )?;
    let mut principal = owner
        .map(|o| o.principal)
        .ok_or(sigv4::SigV4Error::UnknownKey)?;
    // A key of the first account that names no user (`AKID:SECRET`) calls as the `--caller-user`, as before
    // accounts existed (that user lives in the first account only).
    if let (Principal::Anonymous { account }, Some(name)) = (&principal, &shared.caller_user)
        && account == accounts.primary_id()
    {
        principal = Principal::User {
            account: account.clone(),
            name: name.clone(),
        };
    }
    Ok(Authenticated {
        caller: Caller {
            principal,
            region: Some(verified.region),
        },
        signed_service: Some(verified.service),
    })
}

impl Shared {
    /// Authorizes and carries out one request in the caller's account (blocking: it may fsync).
    fn serve(&self, api: Api, params: &Params, caller: &Caller) -> Result<Output, ApiError> {
        let now = self.accounts.primary().service.clock.now();
        match api {
            Api::Sts(action) => sts::call(&self.accounts, caller, action, params, now),
            Api::Iam(action) => {
                let account = self
                    .accounts
                    .get(caller.principal.account())
                    .ok_or_else(|| ApiError::internal(500))?;
                authz::authorize(account, caller, action, params, now)?;
                let trusted = match (action, params.get("AssumeRolePolicyDocument")) {
                    (Action::CreateRole, Some(trust)) => {
                        Some(self.accounts.trust_principal_ids(trust)?)
                    }
                    _ => None,
                };
                let output = account
                    .service
                    .call(action, params, caller.principal.user_name())?;
                if let (Some(ids), Some(name)) = (trusted, params.get("RoleName")) {
                    account.service.bind_trust(name, ids)?;
                }
                Ok(output)
            }
        }
    }

    /// The primary account's IAM service (clock, admin endpoints).
    pub(crate) fn service(&self) -> &Service {
        &self.accounts.primary().service
    }
}

/// JSON error for the admin endpoints.
fn bad_request(message: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": message.to_string() })),
    )
        .into_response()
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.faults.snapshot()).into_response()
}

async fn put_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let config: FaultConfig = match parse_json(&body) {
        Ok(c) => c,
        Err(e) => return bad_request(e),
    };
    if let Err(e) = shared.faults.set(config) {
        return bad_request(e);
    }
    tracing::info!("fault settings replaced");
    axum::Json(shared.faults.snapshot()).into_response()
}

async fn inject(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let fault: InjectedFault = match parse_json(&body) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    tracing::info!(action = ?fault.action, kind = ?fault.kind, count = fault.count, "fault injected");
    shared.faults.inject(fault);
    axum::Json(shared.faults.snapshot()).into_response()
}

async fn clear_injections(State(shared): State<Arc<Shared>>) -> Response {
    shared.faults.clear_pending();
    axum::Json(shared.faults.snapshot()).into_response()
}

fn clock_json(shared: &Shared) -> Response {
    let clock = &shared.service().clock;
    axum::Json(json!({ "now": iso8601(clock.now()), "offsetSeconds": clock.offset() }))
        .into_response()
}

async fn get_clock(State(shared): State<Arc<Shared>>) -> Response {
    clock_json(&shared)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AdvanceClock {
    advance_seconds: u64,
}

async fn advance_clock(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let req: AdvanceClock = match parse_json(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    shared
        .service()
        .clock
        .advance(Duration::from_secs(req.advance_seconds));
    tracing::info!(advance_seconds = req.advance_seconds, "clock advanced");
    clock_json(&shared)
}

async fn check_credential(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let req: CheckRequest = match parse_json(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    let now = shared.service().clock.now();
    // Every account's credentials: the first that accepts the login answers, else the primary's
    // verdict says why not.
    let verdict = shared
        .accounts
        .iter()
        .map(|(_, account)| account.service.store.read(|s| check(s, now, &req)))
        .find(|v| v.valid)
        .unwrap_or_else(|| shared.service().store.read(|s| check(s, now, &req)));
    tracing::info!(
        service = req.service_name.as_deref().unwrap_or(""),
        valid = verdict.valid,
        reason = ?verdict.reason,
        "credential check"
    );
    axum::Json(verdict).into_response()
}
