//! The end-to-end harness: the Kubernetes API stand-in, the IAM emulator over real HTTP with the
//! real aws-sdk-iam client, and the operator's controller running in-process between them.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http;
use base64::Engine;
use iam_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::json;
use ssc_operator::PolicyMode;
use ssc_operator::ServiceSpecificCredential;
use ssc_operator::controller;
use ssc_operator::{AwsIam, IamError, IamLimits, IamObserver};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use kube_standin::{ADMIN_TOKEN, ApiServer, ApiServerConfig, RecordedRequest, TokenUser};

pub const NS: &str = "team-a";
pub const TENANT_TOKEN: &str = "tenant-of-team-a";
pub const WILDCARD_TENANT_TOKEN: &str = "wildcard-tenant-of-team-a";
const WAIT: Duration = Duration::from_secs(30);

/// Everything the operator logs in this test process, at debug level, to prove no secret leaks.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

/// The last captured log lines that name `name` (a failed wait prints them: the suite runs
/// many tests in one process, so the whole buffer would bury them).
fn logs_about(name: &str) -> String {
    let quoted = format!("\"{name}\"");
    let logs = captured_logs();
    let lines: Vec<&str> = logs.lines().filter(|line| line.contains(&quoted)).collect();
    let recent = &lines[lines.len().saturating_sub(120)..];
    format!(
        "operator log lines naming {name} (last {}):\n{}",
        recent.len(),
        recent.join("\n")
    )
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

#[derive(Clone)]
struct BufferWriter;

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        log_buffer().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            // The emulator is its own crate (target `iam_emulator`): its lines are checked for leaks too.
            // Held as the operator holds them (`telemetry::QUIETED_TARGETS`).
            .with_env_filter(ssc_operator::quieted(
                tracing_subscriber::EnvFilter::new(
                    "ssc_operator=trace,iam_emulator=trace,kube=debug,aws_smithy_runtime=trace,aws_config=trace",
                ),
            ))
            .json()
            .with_writer(|| BufferWriter)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

pub struct Options {
    pub policy: PolicyMode,
    pub users: Vec<&'static str>,
    pub allowed_users: Option<&'static str>,
    pub resync: Duration,
    /// Services the emulator answers as unsupported (a region without them).
    pub disabled_services: Vec<&'static str>,
    /// How far the stand-in's watch streams trail its writes (stale controller caches). Defaults
    /// to `SSC_TEST_WATCH_LAG_MS`, so `scripts/test` can run the whole suite with a lag.
    pub watch_lag: Duration,
    /// `--watch-namespace`: empty watches the whole cluster.
    pub watch_namespaces: Vec<&'static str>,
    /// How long in-flight reconciles may take after a stop.
    pub shutdown_grace: Duration,
    /// More users of the stand-in (the chaos suite's replicas, each with its own token).
    pub extra_tokens: Vec<TokenUser>,
    /// The emulator keeps a journal of who sent which request when.
    pub iam_journal: bool,
    /// The emulator denies listing all users (an IAM policy naming users one by one).
    pub deny_all_users_listing: bool,
    /// Record the operator's requests for the RBAC test (tests/deploy/test_rbac_recorded.py),
    /// which checks them against the default Lease name.
    pub record_requests: bool,
    /// `--rollout-restart`.
    pub rollout_restart: bool,
    /// The sweep of orphaned records and unanswered Creates: how often, and how long a record's
    /// resource must be gone before its credentials are deleted.
    pub sweep: controller::SweepConfig,
    /// What losing the right to a user does to the credentials held (`--revocation`).
    pub revocation: controller::Revocation,
    /// `--ambient-identity`.
    pub ambient: ssc_operator::AmbientPolicy,
    /// More accounts in the emulator (`--account`).
    pub emulator_accounts: Vec<&'static str>,
    /// The emulator authorizes every request by policy (`--enforce`): SigV4 is then checked, the
    /// harness's own key is the first account's root, and `access_keys` add others.
    pub enforce: bool,
    /// More access keys the emulator accepts.
    pub access_keys: Vec<iam_emulator::AccessKey>,
    /// How long before their expiry the operator renews sessions (default: the operator's).
    pub session_renew_before: Option<Duration>,
    /// The operator's own AWS key (id, secret): the emulator's test key when unset.
    pub operator_key: Option<(String, String)>,
    /// The CRDs the stand-in serves, when not this version's (e.g. a newer CRD than the
    /// operator, as during an upgrade).
    pub crds: Option<Vec<CustomResourceDefinition>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            policy: PolicyMode::Enforcing,
            users: vec!["sofia", "developer", "anika", "bot"],
            allowed_users: Some("*"),
            resync: Duration::from_secs(600),
            disabled_services: Vec::new(),
            watch_lag: std::env::var("SSC_TEST_WATCH_LAG_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map_or(Duration::ZERO, Duration::from_millis),
            watch_namespaces: Vec::new(),
            shutdown_grace: Duration::from_secs(20),
            extra_tokens: Vec::new(),
            iam_journal: false,
            deny_all_users_listing: false,
            record_requests: true,
            rollout_restart: false,
            sweep: controller::SweepConfig::default(),
            revocation: controller::Revocation::default(),
            ambient: Default::default(),
            operator_key: None,
            crds: None,
            emulator_accounts: Vec::new(),
            enforce: false,
            access_keys: Vec::new(),
            session_renew_before: None,
        }
    }
}

/// Counts the operator's IAM calls by operation (what the metrics observer sees).
#[derive(Default)]
pub struct IamCalls(Mutex<BTreeMap<&'static str, usize>>);

impl IamObserver for IamCalls {
    fn call(&self, _: &str, operation: &'static str, _: Result<(), &IamError>, _: Duration) {
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
    }
}

/// The running controllers' watch caches, as the operator hands them to its metrics: what the
/// operator holds of each resource.
#[derive(Default)]
pub struct Caches(Mutex<Vec<Store<controller::CachedCredential>>>);

impl controller::ReconcileObserver for Caches {
    fn reconciled(
        &self,
        _: &ObjectRef<ServiceSpecificCredential>,
        _: Result<controller::Reason, &controller::Error>,
        _: Duration,
    ) {
    }

    fn watch(&self, caches: Vec<Store<controller::CachedCredential>>) {
        *self.0.lock().unwrap() = caches;
    }
}

pub struct Harness {
    pub kube: ApiServer,
    pub emulator: EmulatorHandle,
    pub iam_sdk: aws_sdk_iam::Client,
    /// Every IAM call the operator made, across restarts.
    pub iam_calls: Arc<IamCalls>,
    /// The running operator's watch caches.
    caches: Arc<Caches>,
    options: Options,
    operator: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Harness {
        init_logs();
        let kube = ApiServer::start_with(ApiServerConfig {
            crds: options.crds.clone().unwrap_or_else(ssc_operator::all_crds),
            watch_lag: options.watch_lag,
            tokens: [TokenUser::admin(ADMIN_TOKEN), tenant(), wildcard_tenant()]
                .into_iter()
                .chain(options.extra_tokens.iter().cloned())
                .collect(),
            ..ApiServerConfig::default()
        })
        .await;
        let annotations: Vec<(&str, &str)> = options
            .allowed_users
            .map(|a| vec![(ssc_operator::ALLOWED_USERS_ANNOTATION, a)])
            .unwrap_or_default();
        kube.create_namespace(NS, &annotations).await;
        let emulator = Emulator::start(EmulatorConfig {
            users: options.users.iter().map(|u| u.to_string()).collect(),
            disabled_services: options
                .disabled_services
                .iter()
                .map(|s| s.to_string())
                .collect(),
            journal: options.iam_journal,
            deny_all_users_listing: options.deny_all_users_listing,
            extra_accounts: options
                .emulator_accounts
                .iter()
                .map(|a| a.to_string())
                .collect(),
            enforce: if options.enforce {
                iam_emulator::Enforce::All
            } else {
                iam_emulator::Enforce::Off
            },
            access_keys: if options.enforce || !options.access_keys.is_empty() {
                std::iter::once(iam_emulator::AccessKey {
                    access_key_id: "AKIDTEST".into(),
                    secret_access_key: "test-secret".into(),
                    user: Some("root".into()),
                    account: None,
                })
                .chain(options.access_keys.iter().cloned())
                .collect()
            } else {
                Vec::new()
            },
            ..EmulatorConfig::default()
        })
        .await
        .expect("emulator starts");
        let iam_sdk = sdk(&emulator).await;
        let mut harness = Harness {
            kube,
            emulator,
            iam_sdk,
            iam_calls: Arc::default(),
            caches: Arc::default(),
            options,
            operator: None,
            http: reqwest::Client::new(),
        };
        harness.start_operator().await;
        harness
    }

    /// Starts the controller (a fresh process-equivalent: no state survives from a previous one).
    pub async fn start_operator(&mut self) {
        let limits = IamLimits {
            list_cache_ttl: Duration::ZERO,
            ..IamLimits::default()
        };
        let config = sdk_config(&self.emulator, self.options.operator_key.clone()).await;
        let ambient = Arc::new(AwsIam::new(
            AwsIam::iam_client(&config),
            limits.clone(),
            self.iam_calls.clone(),
        ));
        let sts = aws_sdk_sts::Client::new(&config);
        let mut directory =
            ssc_operator::AwsDirectory::new(ambient, sts, limits, self.iam_calls.clone()).await;
        if let Some(before) = self.options.session_renew_before {
            directory = directory.renewing_before(before);
        }
        let iam: Arc<dyn ssc_operator::Directory> = Arc::new(directory);
        let config = controller::Config {
            policy: self.options.policy,
            resync: self.options.resync,
            watch_namespaces: self
                .options
                .watch_namespaces
                .iter()
                .map(|ns| ns.to_string())
                .collect(),
            shard_selector: None,
            concurrency: 4,
            instance: Some("test".into()),
            leading: None,
            shutdown_grace: self.options.shutdown_grace,
            rollout_restart: self.options.rollout_restart,
            sweep: self.options.sweep.clone(),
            revocation: self.options.revocation,
            ambient: self.options.ambient.clone(),
        };
        let (tx, rx) = oneshot::channel::<()>();
        let client = self.operator_client();
        let caches: Arc<dyn controller::ReconcileObserver> = self.caches.clone();
        let task = tokio::spawn(async move {
            controller::run(client, iam, config, Some(caches), async move {
                let _ = rx.await;
            })
            .await;
        });
        self.operator = Some((tx, task));
    }

    /// Stops the controller, letting in-flight reconciles finish; whether it stopped within 10 s.
    pub async fn stop_operator(&mut self) -> bool {
        match self.operator.take() {
            Some((tx, task)) => {
                let _ = tx.send(());
                tokio::time::timeout(Duration::from_secs(10), task)
                    .await
                    .is_ok()
            }
            None => true,
        }
    }

    /// Kills the controller at once, as a crash would.
    pub async fn kill_operator(&mut self) {
        if let Some((_, task)) = self.operator.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// The test's own client (admin).
    pub fn client(&self) -> Client {
        self.kube.client()
    }

    /// A tenant of [`NS`]: a Role there for the resources and Secrets (not their status), and
    /// no rights anywhere else, as a namespace's developers have.
    pub fn tenant_client(&self) -> Client {
        self.kube.client_with_token(TENANT_TOKEN)
    }

    /// A tenant of [`NS`] bound to a namespace-wildcard Role (`*` groups, resources and verbs),
    /// as many platforms bind a team: that includes `servicespecificcredentials/status`.
    pub fn wildcard_tenant_client(&self) -> Client {
        self.kube.client_with_token(WILDCARD_TENANT_TOKEN)
    }

    /// The client the operator uses: identified by its User-Agent in the recorded requests.
    pub fn operator_client(&self) -> Client {
        self.operator_client_fenced(ssc_operator::WriteFence::always_open())
    }

    /// [`Harness::operator_client`] that writes only while `fence` is open (a replica's).
    pub fn operator_client_fenced(&self, fence: ssc_operator::WriteFence) -> Client {
        let mut config = kube::Config::new(self.kube.url().parse().expect("url"));
        config.headers.push((
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&format!("Bearer {}", self.kube.admin_token())).unwrap(),
        ));
        ssc_operator::kube_client(config, fence).expect("operator client")
    }

    /// Appends every request the operator made to `target/operator-requests/`, for the RBAC
    /// test (tests/deploy/test_rbac_recorded.py) that checks each against deploy/ and the chart.
    fn record_operator_requests(&self) {
        // The workspace target dir, where tests/deploy reads them.
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/operator-requests");
        let _ = std::fs::create_dir_all(&dir);
        let mut lines = String::new();
        for r in self.operator_requests() {
            let query: Vec<String> = r
                .query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>(),
                        form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                    )
                })
                .collect();
            let path = if query.is_empty() {
                r.path.clone()
            } else {
                format!("{}?{}", r.path, query.join("&"))
            };
            lines.push_str(
                &json!({"method": r.method, "path": path, "status": r.status}).to_string(),
            );
            lines.push('\n');
        }
        if !lines.is_empty() {
            // Runs scoped to namespaces are checked against the chart rendered for them.
            let scope = if self.options.watch_namespaces.is_empty() {
                String::new()
            } else {
                format!("scoped-{}-", self.options.watch_namespaces.join("+"))
            };
            let file = dir.join(format!("{scope}{}.jsonl", uuid::Uuid::new_v4().simple()));
            let _ = std::fs::write(file, lines);
        }
    }

    /// The requests the operator's client made (told apart by its User-Agent).
    pub fn operator_requests(&self) -> Vec<RecordedRequest> {
        self.kube
            .requests()
            .into_iter()
            .filter(|r| {
                r.user_agent
                    .as_deref()
                    .is_some_and(|ua| ua.starts_with("ssc-operator/"))
            })
            .collect()
    }

    /// The resources in [`NS`] through `client`, untyped: they read whatever spec and status
    /// hold, also what the operator's types cannot.
    pub fn untyped_resources(&self, client: Client) -> Api<kube::api::DynamicObject> {
        let kind = kube::api::ApiResource::erase::<ServiceSpecificCredential>(&());
        Api::namespaced_with(client, NS, &kind)
    }

    pub fn resources(&self) -> Api<ServiceSpecificCredential> {
        Api::namespaced(self.client(), NS)
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client(), NS)
    }

    pub async fn apply(&self, manifest: serde_json::Value) -> ServiceSpecificCredential {
        let mut manifest = manifest;
        manifest["apiVersion"] = json!("iam.ssc-operator.dev/v1alpha1");
        manifest["kind"] = json!("ServiceSpecificCredential");
        let resource: ServiceSpecificCredential =
            serde_json::from_value(manifest).expect("manifest parses");
        self.resources()
            .create(&PostParams::default(), &resource)
            .await
            .expect("resource created")
    }

    pub async fn patch_spec(&self, name: &str, patch: serde_json::Value) {
        self.resources()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("spec patched");
    }

    /// Asks for a rotation of `name` with the rotate annotation set to `value`.
    pub async fn request_rotation(&self, name: &str, value: &str) {
        self.request_rotation_in(NS, name, value).await
    }

    /// [`Harness::request_rotation`] in another namespace.
    pub async fn request_rotation_in(&self, namespace: &str, name: &str, value: &str) {
        let patch = json!({"metadata": {"annotations": {ssc_operator::ROTATE_ANNOTATION: value}}});
        Api::<ServiceSpecificCredential>::namespaced(self.client(), namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("rotate annotation set");
    }

    /// Creates the IAMIdentity `name` with `spec` (as the platform team would).
    pub async fn create_identity(&self, name: &str, spec: serde_json::Value) {
        let identity: ssc_operator::IAMIdentity = serde_json::from_value(json!({
            "apiVersion": "iam.ssc-operator.dev/v1alpha1", "kind": "IAMIdentity",
            "metadata": {"name": name}, "spec": spec
        }))
        .expect("an IAMIdentity");
        Api::<ssc_operator::IAMIdentity>::all(self.client())
            .create(&PostParams::default(), &identity)
            .await
            .expect("IAMIdentity created");
    }

    /// An IAM client of the emulator signed with `key` (id, secret).
    pub async fn iam_client_as(&self, key: (&str, &str)) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(
            &sdk_config(&self.emulator, Some((key.0.into(), key.1.into()))).await,
        )
    }

    pub async fn delete(&self, name: &str) {
        self.resources()
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete accepted");
    }

    pub async fn get(&self, name: &str) -> Option<ServiceSpecificCredential> {
        self.resources().get_opt(name).await.expect("get")
    }

    /// The running operator's cached copy of `name` in [`NS`], read back whole as a reconcile
    /// reads it.
    pub fn cached(&self, name: &str) -> Option<ServiceSpecificCredential> {
        let key = ObjectRef::new(name).within(NS);
        let cached = self
            .caches
            .0
            .lock()
            .unwrap()
            .iter()
            .find_map(|store| store.get(&key))?;
        Some(cached.expand().expect("the cached copy reads back"))
    }

    /// Waits until the resource satisfies `done`; panics with its last state otherwise.
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        done: impl Fn(&ServiceSpecificCredential) -> bool,
    ) -> ServiceSpecificCredential {
        self.wait_for_in(NS, name, what, done).await
    }

    /// [`Harness::wait_for`] in another namespace.
    pub async fn wait_for_in(
        &self,
        namespace: &str,
        name: &str,
        what: &str,
        done: impl Fn(&ServiceSpecificCredential) -> bool,
    ) -> ServiceSpecificCredential {
        let api = Api::<ServiceSpecificCredential>::namespaced(self.client(), namespace);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let current = api.get_opt(name).await.expect("get");
            if let Some(r) = &current
                && done(r)
            {
                return r.clone();
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {name}: {what}; last state: {}\n{}",
                    serde_json::to_string_pretty(&current).unwrap(),
                    logs_about(name)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_for_reason(&self, name: &str, reason: &str) -> ServiceSpecificCredential {
        self.wait_for(name, &format!("Ready reason {reason}"), |r| {
            r.ready_condition().is_some_and(|c| c.reason == reason)
        })
        .await
    }

    pub async fn wait_ready(&self, name: &str) -> ServiceSpecificCredential {
        self.wait_for(name, "Ready=True at the current generation", |r| {
            r.ready_condition().is_some_and(|c| {
                c.status == "True" && c.observed_generation == r.metadata.generation
            }) && r.status.as_ref().and_then(|s| s.observed_generation) == r.metadata.generation
        })
        .await
    }

    pub async fn wait_gone(&self, name: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.get(name).await.is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} was not deleted"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Creates a Secret of someone else's (no owner, no operator label) in [`NS`].
    pub async fn create_foreign_secret(&self, name: &str, string_data: serde_json::Value) {
        let foreign: Secret = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": NS},
            "stringData": string_data
        }))
        .unwrap();
        self.secrets()
            .create(&PostParams::default(), &foreign)
            .await
            .unwrap();
    }

    pub async fn secret(&self, name: &str) -> Option<Secret> {
        self.secrets().get_opt(name).await.expect("get secret")
    }

    pub async fn wait_secret(&self, name: &str, done: impl Fn(&Secret) -> bool) -> Secret {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(s) = self.secret(name).await
                && done(&s)
            {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for Secret {name}; last state: {}\n{}",
                serde_json::to_string_pretty(&self.secret(name).await.map(|s| s.metadata)).unwrap(),
                logs_about(name)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn events(&self) -> Vec<Event> {
        Api::<Event>::namespaced(self.client(), NS)
            .list(&ListParams::default())
            .await
            .expect("list events")
            .items
    }

    pub async fn event_reasons(&self, name: &str) -> Vec<String> {
        self.events()
            .await
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .filter_map(|e| e.reason)
            .collect()
    }

    /// How many times the operator called an IAM operation, e.g. `ResetServiceSpecificCredential`.
    pub fn iam_call_count(&self, operation: &str) -> usize {
        self.iam_calls
            .0
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Deletes the resource's credential straight in IAM (drift), and waits until the resource
    /// is Ready with a new one; returns it.
    pub async fn delete_credential_and_wait_for_a_new_one(
        &self,
        name: &str,
    ) -> ServiceSpecificCredential {
        let r = self.get(name).await.expect("the resource exists");
        let first = status(&r).credential_id.expect("a credential");
        self.iam_sdk
            .delete_service_specific_credential()
            .user_name(&r.spec.user_name)
            .service_specific_credential_id(&first)
            .send()
            .await
            .expect("deleted out of band");
        self.wait_for(name, "a new credential", |r| {
            status(r)
                .credential_id
                .as_deref()
                .is_some_and(|id| id != first)
                && r.ready_condition().is_some_and(|c| c.status == "True")
        })
        .await
    }

    /// The user's credentials for a service, straight from IAM.
    pub async fn iam_credentials(
        &self,
        user: &str,
        service: &str,
    ) -> Vec<aws_sdk_iam::types::ServiceSpecificCredentialMetadata> {
        self.iam_sdk
            .list_service_specific_credentials()
            .user_name(user)
            .service_name(service)
            .send()
            .await
            .expect("list credentials")
            .service_specific_credentials()
            .to_vec()
    }

    /// Asks the emulator whether this login + secret works, as CodeCommit or Bedrock would.
    pub async fn check(&self, service: &str, login: &str, secret: &str) -> serde_json::Value {
        let body = if ssc_operator::ServiceName::ALL
            .iter()
            .any(|s| s.as_str() == service && s.kind() == ssc_operator::CredentialKind::ApiKey)
        {
            json!({"serviceName": service, "secret": secret})
        } else {
            json!({"serviceName": service, "username": login, "password": secret})
        };
        self.http
            .post(format!("{}/_emulator/check", self.emulator.endpoint_url()))
            .json(&body)
            .send()
            .await
            .expect("check request")
            .json()
            .await
            .expect("check answer")
    }

    /// Whether the Secret holds a credential the service accepts right now.
    pub async fn secret_works(&self, secret: &Secret, service: &str) -> bool {
        let (login, value) = login_and_secret(secret);
        self.check(service, &login, &value).await["valid"] == json!(true)
    }

    /// Asserts no secret value from any Secret appears in status, Events or logs.
    pub async fn assert_no_secret_leaks(&self) {
        self.assert_no_secret_leaks_in(&[]).await;
    }

    /// [`Harness::assert_no_secret_leaks`], also in these named texts (other processes' logs).
    pub async fn assert_no_secret_leaks_in(&self, more: &[(String, String)]) {
        let secrets = self
            .secrets()
            .list(&ListParams::default())
            .await
            .expect("list secrets")
            .items;
        let resources = serde_json::to_string(
            &self
                .resources()
                .list(&ListParams::default())
                .await
                .expect("list resources")
                .items,
        )
        .unwrap();
        let events = serde_json::to_string(&self.events().await).unwrap();
        let logs = captured_logs();
        for secret in secrets {
            for (key, value) in secret.data.clone().unwrap_or_default() {
                if ["password", "secret", ".git-credentials", "dsn"].contains(&key.as_str()) {
                    let text = String::from_utf8_lossy(&value.0).into_owned();
                    assert!(text.len() >= 20, "{key} too short to search for");
                    // Plain, base64 (as in a Secret's JSON) and JSON-escaped forms.
                    let encoded = base64::engine::general_purpose::STANDARD.encode(&value.0);
                    let escaped = serde_json::to_string(&text).unwrap();
                    let escaped = escaped.trim_matches('"').to_string();
                    for form in [&text, &encoded, &escaped] {
                        let own = [("status", &resources), ("events", &events), ("logs", &logs)];
                        let places = own
                            .into_iter()
                            .chain(more.iter().map(|(place, text)| (place.as_str(), text)));
                        for (place, haystack) in places {
                            assert!(
                                !haystack.contains(form.as_str()),
                                "the value of Secret key {key} appears in {place}"
                            );
                        }
                    }
                }
            }
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some((_, task)) = self.operator.take() {
            task.abort();
        }
        if self.options.record_requests {
            self.record_operator_requests();
        }
    }
}

fn tenant() -> TokenUser {
    let rule = |group: &str, resources: &[&str]| k8s_openapi::api::rbac::v1::PolicyRule {
        api_groups: Some(vec![group.into()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: vec!["*".into()],
        ..Default::default()
    };
    TokenUser::with_role_in(
        TENANT_TOKEN,
        "tenant",
        NS,
        vec![
            rule("iam.ssc-operator.dev", &["servicespecificcredentials"]),
            rule("", &["secrets"]),
        ],
    )
}

/// A namespace-wildcard Role in [`NS`].
fn wildcard_tenant() -> TokenUser {
    TokenUser::with_role_in(
        WILDCARD_TENANT_TOKEN,
        "wildcard-tenant",
        NS,
        vec![k8s_openapi::api::rbac::v1::PolicyRule {
            api_groups: Some(vec!["*".into()]),
            resources: Some(vec!["*".into()]),
            verbs: vec!["*".into()],
            ..Default::default()
        }],
    )
}

/// Writes a kubeconfig at `path` for the stand-in at `url`, authenticating with `token`, with
/// `ssc-system` as its namespace (where a started binary keeps its Lease).
pub fn write_kubeconfig(path: &std::path::Path, url: &str, token: &str) {
    write_kubeconfig_in(path, url, token, "ssc-system");
}

/// [`write_kubeconfig`] whose context's namespace is `namespace`.
pub fn write_kubeconfig_in(path: &std::path::Path, url: &str, token: &str, namespace: &str) {
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: standin\n  cluster:\n    server: {url}\nusers:\n- name: user\n  user:\n    token: {token}\ncontexts:\n- name: standin\n  context:\n    cluster: standin\n    user: user\n    namespace: {namespace}\ncurrent-context: standin\n"
        ),
    )
    .unwrap();
}

/// An aws-sdk-iam client for the emulator, with test credentials.
pub async fn sdk(emulator: &EmulatorHandle) -> aws_sdk_iam::Client {
    AwsIam::iam_client(&sdk_config(emulator, None).await)
}

/// The SDK settings of a client of the emulator: `key` (id, secret), else test credentials.
pub async fn sdk_config(
    emulator: &EmulatorHandle,
    key: Option<(String, String)>,
) -> aws_config::SdkConfig {
    let (id, secret) = key.unwrap_or_else(|| ("AKIDTEST".into(), "test-secret".into()));
    let credentials = aws_credential_types::Credentials::new(id, secret, None, None, "e2e");
    AwsIam::sdk_config(
        Some(&emulator.endpoint_url()),
        Some("eu-west-1"),
        Some(credentials),
    )
    .await
}

pub fn data(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect()
}

/// (login, secret) from a Secret of either kind.
pub fn login_and_secret(secret: &Secret) -> (String, String) {
    let d = data(secret);
    match (d.get("username"), d.get("password")) {
        (Some(u), Some(p)) => (u.clone(), p.clone()),
        _ => (
            d.get("alias").cloned().unwrap_or_default(),
            d.get("secret").cloned().unwrap_or_default(),
        ),
    }
}

pub fn status(r: &ServiceSpecificCredential) -> ssc_operator::ServiceSpecificCredentialStatus {
    r.status.clone().unwrap_or_default()
}
