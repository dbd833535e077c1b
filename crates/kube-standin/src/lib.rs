//! An in-process Kubernetes API server stand-in that a real `kube::Client` talks to over HTTP,
//! as strict as kube-apiserver v1.28 (plus kube-controller-manager's garbage collector and
//! namespace controller) for every request the operator makes. It reproduces the recorded
//! answers in `tests/fixtures/kube-apiserver-transcripts/`; `tests/apiserver/` replays them.
//!
//! It is a test double and a local sandbox (`ssc-operator demo`), never a production API
//! server: everything lives in memory and is lost on exit, it listens on 127.0.0.1 only (plain
//! HTTP for tests, TLS with a CA made at start for the sandbox), it has no admission beyond what
//! is listed below, and bearer tokens are its only authentication.
//!
//! ```ignore
//! let server = ApiServer::start(vec![ServiceSpecificCredential::crd()]).await;
//! let client = server.client(); // admin token, default namespace "default"
//! ```
//!
//! Served (JSON only): the given CRDs (status subresource, structural-schema pruning/defaulting/
//! validation, CEL rules via kube-cel), core/v1 `namespaces` (with `/status` and `/finalize`) and
//! `secrets`, `events.k8s.io/v1` `events`, `coordination.k8s.io/v1` `leases`, apps/v1
//! Deployments, StatefulSets and DaemonSets and rbac.authorization.k8s.io/v1 Roles, RoleBindings,
//! ClusterRoles and ClusterRoleBindings (stored and validated against k8s-openapi's schemas, never
//! run or enforced: who may do what is the tokens' rules; no roleRef immutability, enum or
//! escalation checks, no aggregation), discovery and
//! `/version`. Verbs: get, list, watch, create, update (PUT), patch (merge, json, strategic for
//! built-ins, server-side apply), delete, deletecollection. Namespaces `default`, `kube-system`,
//! `kube-public` and `kube-node-lease` exist from the start. Also:
//! - `?dryRun=All` on create, update, patch, apply and delete (`DeleteOptions.dryRun` too):
//!   decoding, admission and validation run, nothing is stored; a dry-run create answers 201 with
//!   the would-be object (uid, creationTimestamp, generated name, no resourceVersion); other values
//!   are 422 for the verb's `*Options` kind;
//! - `metadata.generateName`: prefix (cut to 58 bytes) + 5 characters of Kubernetes' alphabet;
//! - DeleteOptions preconditions (uid, resourceVersion): 409 worded like `rest.BeforeDelete`
//!   (`... on Secret "x": the UID in the precondition (...) does not match ...`), namespaces like
//!   the namespace registry; a DELETE's options come from its body, or the query if it has none;
//! - Secret validation: key names, the 1 MiB total, the typed Secrets' required keys
//!   (basic-auth, tls, ssh-auth, dockercfg, service-account-token), `type` and `immutable: true`
//!   data immutability, label/annotation/name rules of ObjectMeta;
//! - `Accept: application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1` for get, list,
//!   watch and writes (kube-runtime's metadata_watcher, `Api::*_metadata`); an object conversion
//!   of a list, or a list conversion of an object, is 406 like kube-apiserver's;
//! - `Accept: application/json;as=Table;g=meta.k8s.io;v=v1` (what `kubectl get` sends) for get
//!   and list of the given CRDs' resources: the served version's `additionalPrinterColumns` (or
//!   the default `Age`), cells as the CRD table convertor computes them (client-go JSONPath,
//!   `date` columns as `HumanDuration` against the stand-in's clock),
//!   `?includeObject=None|Metadata|Object`;
//! - garbage collection by owner uid (objects without ownerReferences are never collected),
//!   orphan/foreground propagation;
//! - namespace lifecycle: creates in a missing namespace are 404, in a terminating one 403
//!   Forbidden with the `NamespaceTerminating` cause; DELETE of a namespace sets
//!   deletionTimestamp and phase Terminating, the namespace controller deletes its content, then
//!   takes `kubernetes` out of `spec.finalizers`, and the namespace goes when `spec.finalizers` is
//!   empty (other entries keep it Terminating; `PUT .../finalize` changes them, a main-resource
//!   write cannot). [`ApiServer::terminate_namespace`] / [`ApiServer::release_namespace`] keep a
//!   namespace Terminating for as long as a test needs.
//!
//! Known differences from the real server (none of them more permissive on what the operator does):
//! - no protobuf/YAML request or response bodies, no `meta.k8s.io/v1beta1` conversions, and
//!   `as=Table` only for get and list of the given CRDs: built-in kinds (Secret, Namespace,
//!   Event, Lease, apps/v1 workloads), watches (`kubectl get -w`), writes and deletecollection,
//!   which kube-apiserver also answers with Tables, skip such an Accept clause for the next one
//!   (406 if none is left), and kubectl falls back to NAME/AGE; printer columns use a JSONPath
//!   subset (no `..`, unions or `range`: such a column's cells are null; see table.rs); no
//!   aggregated discovery; a watch asking `as=PartialObjectMetadataList` gets PartialObjectMetadata
//!   events; `customresourcedefinitions`, core/v1 `events` and every other built-in kind are not
//!   served (404);
//! - OpenAPI validation covers type, required, enum, pattern, min/max length, minimum/maximum,
//!   multipleOf, min/max items and properties, uniqueItems, list-type set/map, date-time/date/
//!   uuid/byte formats; `allOf`/`anyOf`/`oneOf`/`not` and int32/int64 range checks are not applied;
//! - the field manager implements SMD's Update/Apply bookkeeping with a simplified apply merge
//!   (no schema conversion between versions, simplified pruning of fields an applier dropped);
//! - strategic merge patch knows only the list merge keys of `metadata` (ownerReferences by uid,
//!   finalizers as a set);
//! - revisions are per server (start at a few, not etcd's); one global watch history serves all
//!   resources; `compact()` also ends live watches (like a restarted apiserver);
//! - the namespace controller sets no `status.conditions` (NamespaceContentRemaining, ...) and its
//!   namespace DELETE ignores propagation policies;
//! - no graceful deletion, no ResourceQuota/LimitRange/webhooks/PodSecurity admission;
//!   OwnerReferencesPermissionEnforcement is opt-in; RBAC is a per-token rule list.

mod auth;
mod discovery;
mod fieldmanager;
mod fieldpath;
mod gc;
mod gotypes;
mod handlers;
mod http;
mod meta;
mod patch;
mod resources;
mod schema;
mod selector;
mod server;
mod status;
mod store;
mod table;
mod tls;
mod watch;
mod workloads;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::rbac::v1::PolicyRule;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use server::{Fault, Shared, WriteCtx, lock};

/// The bearer token of the built-in unrestricted (system:masters) user.
pub const ADMIN_TOKEN: &str = "stand-in-admin-token";

/// A bearer token and the identity it authenticates.
#[derive(Clone, Debug)]
pub struct TokenUser {
    pub token: String,
    pub user: String,
    pub groups: Vec<String>,
    /// RBAC rules granted to this user; `None` = unrestricted (system:masters).
    pub rules: Option<Vec<PolicyRule>>,
    /// `Some(ns)`: the rules are bound by a RoleBinding in `ns` and allow nothing elsewhere.
    pub namespace: Option<String>,
}

impl TokenUser {
    pub fn admin(token: &str) -> TokenUser {
        TokenUser {
            token: token.into(),
            user: "admin".into(),
            groups: vec!["system:masters".into()],
            rules: None,
            namespace: None,
        }
    }

    pub fn with_rules(token: &str, user: &str, rules: Vec<PolicyRule>) -> TokenUser {
        TokenUser {
            token: token.into(),
            user: user.into(),
            groups: Vec::new(),
            rules: Some(rules),
            namespace: None,
        }
    }

    /// A user whose `rules` are granted by a Role and RoleBinding in `namespace` only: a tenant.
    pub fn with_role_in(
        token: &str,
        user: &str,
        namespace: &str,
        rules: Vec<PolicyRule>,
    ) -> TokenUser {
        TokenUser {
            namespace: Some(namespace.into()),
            ..TokenUser::with_rules(token, user, rules)
        }
    }
}

/// Configuration of [`ApiServer::start_with`].
#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    pub crds: Vec<CustomResourceDefinition>,
    /// Run kube-controller-manager's garbage collector (ownerReferences) — on by default.
    pub gc: bool,
    /// How long after a write the garbage collector looks (the real one takes ~10–40 ms).
    pub gc_delay: Duration,
    /// Watch-cache size in events; older resourceVersions answer 410 Expired.
    pub watch_history: usize,
    /// Period of watch BOOKMARK events (the real watch cache: about a minute, and 2 s before the
    /// watch's timeout).
    pub bookmark_interval: Duration,
    /// Accepted bearer tokens. The first unrestricted one is used by [`ApiServer::client`].
    pub tokens: Vec<TokenUser>,
    /// The OwnerReferencesPermissionEnforcement admission plugin (off by default in
    /// kube-apiserver, on in OpenShift): setting `blockOwnerDeletion` needs `update` on the
    /// owner's `finalizers` subresource (checked for users with RBAC rules).
    pub owner_references_permission_enforcement: bool,
    /// How far watch streams lag behind writes. A real watch cache trails etcd by a few
    /// milliseconds, and more under load; a lag makes controller caches visibly stale.
    pub watch_lag: Duration,
    /// Keep every request for [`ApiServer::requests`] (tests); off, nothing accumulates (the
    /// demo sandbox, which runs for as long as someone uses it).
    pub record_requests: bool,
    /// The port on 127.0.0.1 (0: any free one). The stand-in never listens beyond loopback.
    pub port: u16,
    /// Serve HTTPS with a CA made at start ([`ApiServer::ca_pem`]); kubectl sends tokens only
    /// over TLS. Tests use plain HTTP.
    pub tls: bool,
}

impl Default for ApiServerConfig {
    fn default() -> Self {
        ApiServerConfig {
            crds: Vec::new(),
            gc: true,
            gc_delay: Duration::from_millis(20),
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(60),
            tokens: vec![TokenUser::admin(ADMIN_TOKEN)],
            owner_references_permission_enforcement: false,
            watch_lag: Duration::ZERO,
            record_requests: true,
            port: 0,
            tls: false,
        }
    }
}

/// One request the stand-in served.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    /// RBAC verb: get list watch create update patch delete deletecollection (non-resource: the
    /// lower-case HTTP method, e.g. get).
    pub verb: String,
    /// "" for the core group (and for non-resource requests).
    pub api_group: String,
    /// Plural resource; "" for non-resource requests.
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub content_type: Option<String>,
    /// What the client asked the answer to be (e.g. `PartialObjectMetadata` only).
    pub accept: Option<String>,
    pub user_agent: Option<String>,
    pub status: u16,
    /// The authenticated user's name ("" when authentication failed).
    pub user: String,
    /// When the request arrived, and when its answer (headers) left.
    pub received: std::time::Instant,
    pub answered: std::time::Instant,
    /// The body of writes to Leases (the chaos suite reads the holder from it); `None` otherwise.
    pub lease_body: Option<String>,
}

/// Selects requests for [`ApiServer::fail_next`]; `None` fields match anything, and
/// `subresource: Some("")` (`.main_resource()`) matches only requests without a subresource.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestMatcher {
    pub verb: Option<String>,
    pub resource: Option<String>,
    pub subresource: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    /// A substring the request body must contain.
    pub body_contains: Option<String>,
    /// Whether the request is a dry run (`?dryRun=All`); `None` matches both.
    pub dry_run: Option<bool>,
    /// The authenticated user's name.
    pub user: Option<String>,
}

impl RequestMatcher {
    pub fn any() -> Self {
        Self::default()
    }
    pub fn verb(mut self, verb: &str) -> Self {
        self.verb = Some(verb.into());
        self
    }
    pub fn resource(mut self, resource: &str) -> Self {
        self.resource = Some(resource.into());
        self
    }
    pub fn subresource(mut self, subresource: &str) -> Self {
        self.subresource = Some(subresource.into());
        self
    }
    /// Only requests to the resource itself (not /status).
    pub fn main_resource(mut self) -> Self {
        self.subresource = Some(String::new());
        self
    }
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self
    }
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
    /// Only requests whose body contains `needle` (e.g. one field of a status patch).
    pub fn body_contains(mut self, needle: &str) -> Self {
        self.body_contains = Some(needle.into());
        self
    }
    /// Only requests of this user.
    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.into());
        self
    }
    /// Only writes that are carried out (not `?dryRun=All`).
    pub fn not_dry_run(mut self) -> Self {
        self.dry_run = Some(false);
        self
    }
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    admin_token: String,
    ca_pem: Option<String>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }
}

/// The running stand-in. Clones share one server; it shuts down when the last clone is dropped.
#[derive(Clone)]
pub struct ApiServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("addr", &self.inner.addr)
            .finish()
    }
}

impl ApiServer {
    /// Starts a stand-in serving `crds` plus the built-in kinds, on 127.0.0.1 (random port).
    pub async fn start(crds: Vec<CustomResourceDefinition>) -> ApiServer {
        Self::start_with(ApiServerConfig {
            crds,
            ..ApiServerConfig::default()
        })
        .await
    }

    /// Starts a stand-in as configured; panics if the port cannot be bound (tests).
    pub async fn start_with(config: ApiServerConfig) -> ApiServer {
        Self::try_start_with(config)
            .await
            .expect("bind the stand-in's port on 127.0.0.1")
    }

    /// Starts a stand-in as configured, on 127.0.0.1 only.
    pub async fn try_start_with(config: ApiServerConfig) -> std::io::Result<ApiServer> {
        let tls = match config.tls {
            true => Some(tls::generate().map_err(std::io::Error::other)?),
            false => None,
        };
        let shared = new_shared(&config);
        let admin_token = config
            .tokens
            .iter()
            .find(|t| t.rules.is_none())
            .map(|t| t.token.clone())
            .unwrap_or_else(|| ADMIN_TOKEN.to_string());
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            create_namespace_internal(&shared, ns, &[]);
        }
        shared.store().compact();
        let listener =
            tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, config.port)).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(http::handle)
            .with_state(shared.clone());
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let server = spawn_server(listener, app, tls, shared.shutdown.clone())?;
        let gc = tokio::spawn(gc::run(shared.clone()));
        Ok(ApiServer {
            inner: Arc::new(Inner {
                shared,
                addr,
                admin_token,
                ca_pem,
                tasks: Mutex::new(vec![server, gc]),
            }),
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.inner.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.inner.addr)
    }

    /// With TLS: the PEM of the CA that signed the serving certificate.
    pub fn ca_pem(&self) -> Option<&str> {
        self.inner.ca_pem.as_deref()
    }

    /// A client authenticated as the unrestricted admin, default namespace "default".
    pub fn client(&self) -> kube::Client {
        self.client_with_token(&self.inner.admin_token.clone())
    }

    pub fn client_with_token(&self, token: &str) -> kube::Client {
        let mut config = kube::Config::new(self.url().parse().expect("url"));
        config.default_namespace = "default".into();
        config.headers.push((
            axum::http::header::AUTHORIZATION,
            axum::http::HeaderValue::from_str(&format!("Bearer {token}")).expect("token header"),
        ));
        kube::Client::try_from(config).expect("kube client")
    }

    /// The admin bearer token (for raw HTTP requests).
    pub fn admin_token(&self) -> String {
        self.inner.admin_token.clone()
    }

    /// Every request served so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.shared.requests).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.inner.shared.requests).clear();
    }

    /// The next `times` requests matching `matcher` (after authentication/authorization) are
    /// answered with a `Status` of HTTP code `status` instead of being served.
    pub fn fail_next(&self, matcher: RequestMatcher, status: u16, times: usize) {
        lock(&self.inner.shared.faults).push(Fault {
            matcher,
            status,
            remaining: times,
            stall: Duration::ZERO,
        });
    }

    /// Makes the next `times` requests matching `matcher` hang for `stall` before they are
    /// served (a stuck connection, an overloaded server).
    pub fn stall_next(&self, matcher: RequestMatcher, stall: Duration, times: usize) {
        lock(&self.inner.shared.faults).push(Fault {
            matcher,
            status: 0,
            remaining: times,
            stall,
        });
    }

    /// Drops every fault not yet used up.
    pub fn clear_faults(&self) {
        lock(&self.inner.shared.faults).clear();
    }

    /// Drops the watch history, as a restarted apiserver's fresh watch cache would: live watches
    /// end, and watches or exact lists from an older resourceVersion get 410 Expired.
    pub fn compact(&self) {
        self.inner.shared.store().compact();
        self.drop_watches();
    }

    /// Ends every live watch without dropping the history, as a connection reset or an
    /// apiserver's watch timeout would: watchers resume from their last resourceVersion.
    pub fn drop_watches(&self) {
        let old = std::mem::replace(
            &mut *lock(&self.inner.shared.watch_reset),
            CancellationToken::new(),
        );
        old.cancel();
    }

    /// The current global revision (the resourceVersion a list would report).
    pub fn revision(&self) -> u64 {
        self.inner.shared.store().rev
    }

    /// Freezes the clock used for timestamps the server sets (`None` = the system clock).
    pub fn set_time(&self, t: Option<jiff::Timestamp>) {
        *lock(&self.inner.shared.frozen_time) = t;
    }

    /// Creates a namespace (as kube-apiserver's admin) with the given annotations.
    pub async fn create_namespace(&self, name: &str, annotations: &[(&str, &str)]) {
        create_namespace_internal(&self.inner.shared, name, annotations);
    }

    /// Starts deleting namespace `name` as `DELETE /api/v1/namespaces/{name}` does
    /// (`deletionTimestamp`, `status.phase: Terminating`) and keeps it Terminating: the namespace
    /// also gets the `spec.finalizers` entry [`NAMESPACE_HOLD_FINALIZER`], so the namespace
    /// controller still deletes its content (objects with finalizers wait for them) and removes
    /// its own `kubernetes` token, but the namespace stays — as a real one does while another
    /// finalizer is pending — until [`ApiServer::release_namespace`]. Meanwhile creates in it
    /// answer 403 Forbidden (NamespaceLifecycle, transcript 53) and everything else works.
    /// Panics if the namespace does not exist or may not be deleted (`default`, `kube-system`,
    /// `kube-public`).
    pub async fn terminate_namespace(&self, name: &str) {
        assert!(
            !matches!(name, "default" | "kube-system" | "kube-public"),
            "terminate_namespace: namespace {name} may not be deleted"
        );
        let sh = &self.inner.shared;
        let def = sh.find("", "v1", "namespaces").expect("namespaces served");
        let key = (String::new(), name.to_string());
        let ctx = internal_ctx(sh);
        let mut st = sh.store();
        let Some(existing) = st.get(&handlers::res_key(&def), &key) else {
            panic!("terminate_namespace: namespace {name} does not exist");
        };
        let mut fins = handlers::spec_finalizers(&existing);
        if !fins.iter().any(|f| f == NAMESPACE_HOLD_FINALIZER) {
            fins.push(NAMESPACE_HOLD_FINALIZER.to_string());
            let held = handlers::with_spec_finalizers(&existing, fins);
            if let Err(e) = handlers::do_update(
                &mut st,
                &def,
                Some("finalize"),
                &existing,
                held,
                handlers::Mf::Keep,
                &ctx,
            ) {
                panic!("terminate_namespace {name}: {}", e.status);
            }
        }
        if let Err(e) = handlers::do_delete(
            &mut st,
            &def,
            &key,
            &handlers::DeleteOpts::default(),
            ctx.now,
        ) {
            panic!("terminate_namespace {name}: {}", e.status);
        }
        drop(st);
        sh.notify();
    }

    /// Takes the hold of [`ApiServer::terminate_namespace`] away (PUT .../finalize): the
    /// namespace is removed once its content is gone. No-op for a namespace without the hold.
    pub async fn release_namespace(&self, name: &str) {
        let sh = &self.inner.shared;
        let def = sh.find("", "v1", "namespaces").expect("namespaces served");
        let key = (String::new(), name.to_string());
        let ctx = internal_ctx(sh);
        let mut st = sh.store();
        let Some(existing) = st.get(&handlers::res_key(&def), &key) else {
            return;
        };
        let fins = handlers::spec_finalizers(&existing);
        if !fins.iter().any(|f| f == NAMESPACE_HOLD_FINALIZER) {
            return;
        }
        let kept: Vec<String> = fins
            .into_iter()
            .filter(|f| f != NAMESPACE_HOLD_FINALIZER)
            .collect();
        let new = handlers::with_spec_finalizers(&existing, kept);
        if let Err(e) = handlers::do_update(
            &mut st,
            &def,
            Some("finalize"),
            &existing,
            new,
            handlers::Mf::Keep,
            &ctx,
        ) {
            panic!("release_namespace {name}: {}", e.status);
        }
        drop(st);
        sh.notify();
    }
}

/// The `spec.finalizers` entry with which [`ApiServer::terminate_namespace`] keeps a namespace
/// Terminating.
pub const NAMESPACE_HOLD_FINALIZER: &str = "stand-in.test/hold";

/// The server's own writes (no user, no field manager entry of a client).
/// The kinds served: the built-ins, the workload CRDs kubectl knows, then `config.crds`.
fn resource_defs(config: &ApiServerConfig) -> Vec<Arc<resources::ResourceDef>> {
    let mut defs: Vec<Arc<resources::ResourceDef>> =
        resources::builtins().into_iter().map(Arc::new).collect();
    for crd in workloads::crds() {
        // Built-in kinds for kubectl: no `Table` answers (see the Known differences).
        defs.extend(resources::from_crd(crd).into_iter().map(|mut d| {
            d.printer_columns.clear();
            Arc::new(d)
        }));
    }
    for crd in &config.crds {
        defs.extend(resources::from_crd(crd).into_iter().map(Arc::new));
    }
    defs
}

/// The state of a new stand-in, with an empty store.
fn new_shared(config: &ApiServerConfig) -> Arc<Shared> {
    let defs = resource_defs(config);
    let (rev_tx, _) = tokio::sync::watch::channel(0u64);
    Arc::new(Shared {
        store: Mutex::new(store::Store::new(config.watch_history)),
        rev_tx,
        resources: defs,
        tokens: config.tokens.clone(),
        gc: config.gc,
        gc_delay: config.gc_delay,
        bookmark_interval: config.bookmark_interval,
        owner_references_permission_enforcement: config.owner_references_permission_enforcement,
        watch_lag: config.watch_lag,
        requests: Mutex::new(Vec::new()),
        record_requests: config.record_requests,
        faults: Mutex::new(Vec::new()),
        frozen_time: Mutex::new(None),
        shutdown: CancellationToken::new(),
        watch_reset: Mutex::new(CancellationToken::new()),
    })
}

/// Serves `app` on `listener` (over TLS when given) until `cancel`, then shuts down
/// gracefully (TLS connections get a second).
fn spawn_server(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<tls::Tls>,
    cancel: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let Some(tls) = tls else {
        return Ok(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(cancel.cancelled_owned())
                .await;
        }));
    };
    let handle = axum_server::Handle::new();
    tokio::spawn({
        let handle = handle.clone();
        async move {
            cancel.cancelled().await;
            handle.graceful_shutdown(Some(Duration::from_secs(1)));
        }
    });
    let listener = listener.into_std()?;
    let server = axum_server::from_tcp_rustls(
        listener,
        axum_server::tls_rustls::RustlsConfig::from_config(tls.server),
    )?
    .handle(handle);
    Ok(tokio::spawn(async move {
        let _ = server.serve(app.into_make_service()).await;
    }))
}

fn internal_ctx(sh: &Shared) -> WriteCtx {
    WriteCtx {
        user: None,
        manager: "kube-apiserver".into(),
        dry_run: false,
        fv: resources::FieldValidation::Strict,
        now: sh.now(),
    }
}

fn create_namespace_internal(sh: &Shared, name: &str, annotations: &[(&str, &str)]) {
    let Some(def) = sh.find("", "v1", "namespaces") else {
        return;
    };
    let mut obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    if !annotations.is_empty() {
        let ann: serde_json::Map<String, serde_json::Value> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        obj["metadata"]["annotations"] = serde_json::Value::Object(ann);
    }
    let Ok((obj, _)) = def.decode(&obj, resources::FieldValidation::Strict) else {
        return;
    };
    let ctx = internal_ctx(sh);
    let mut st = sh.store();
    let key = (String::new(), name.to_string());
    let res = match st.get(&handlers::res_key(&def), &key) {
        // Already there (e.g. "default"): merge the annotations in.
        Some(existing) => {
            let mut new = (*existing).clone();
            for (k, v) in annotations {
                let m = server::meta_mut(&mut new);
                let ann = m.entry("annotations").or_insert_with(|| json!({}));
                ann[*k] = json!(v);
            }
            handlers::do_update(
                &mut st,
                &def,
                None,
                &existing,
                new,
                handlers::Mf::Update,
                &ctx,
            )
            .map(|_| ())
        }
        None => handlers::do_create(&mut st, &def, obj, None, &ctx).map(|_| ()),
    };
    drop(st);
    if let Err(e) = res {
        panic!("create namespace {name}: {}", e.status);
    }
    sh.notify();
}
