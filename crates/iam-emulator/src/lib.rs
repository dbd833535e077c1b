//! The IAM emulator (`ssc-operator emulator`): the IAM Query protocol for users and service-specific
//! credentials, as the AWS CLI, boto3 and aws-sdk-iam expect it. See `docs/emulator.md`.
//!
//! Modules, one job each: [`protocol`] (form decoding, XML), [`error`] (AWS error shapes), [`validate`]
//! (model constraints), [`service`] (the operations), [`store`] + [`tracked`] + [`persist`] (state, what a
//! mutation changed, the SQLite state file), [`check`] (would a service accept this credential?), [`faults`],
//! [`sigv4`], [`clock`], `server` (HTTP).
//!
//! In-process use:
//! ```no_run
//! # async fn demo() -> Result<(), iam_emulator::EmulatorError> {
//! use iam_emulator::{Emulator, EmulatorConfig};
//! let handle = Emulator::start(EmulatorConfig { users: vec!["alice".into()], ..Default::default() }).await?;
//! println!("{}", handle.endpoint_url());
//! handle.shutdown().await;
//! # Ok(()) }
//! ```

pub mod accounts;
pub mod authz;
pub mod catalog;
pub mod check;
pub mod clock;
pub mod error;
pub mod faults;
pub mod ids;
pub mod persist;
pub mod policy;
pub mod principal;
pub mod protocol;
mod server;
pub mod service;
pub mod sigv4;
pub mod store;
pub mod sts;
pub mod tracked;
pub mod validate;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::{ApiError, UnsupportedServiceCode};
pub use faults::{FaultConfig, FaultKind, InjectedFault};
pub use server::JournalEntry;
pub use sigv4::AccessKey;

use clock::Clock;
use persist::{PersistError, Persister};
use service::{Service, ServiceConfig};
use store::{State, Store};

/// Log output of `ssc-operator emulator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Flags of `ssc-operator emulator`. Every flag can also be set with its `SSC_EMULATOR_*` variable; a variable
/// that is set but empty counts as unset.
#[derive(Debug, Clone, clap::Args)]
#[command(mut_args = empty_env_as_unset)]
pub struct EmulatorArgs {
    /// Address to serve the IAM Query API (and the /_emulator admin endpoints) on.
    #[arg(long, env = "SSC_EMULATOR_LISTEN", default_value = "127.0.0.1:9600")]
    pub listen: SocketAddr,

    /// The 12-digit AWS account id the emulator pretends to be (appears in ARNs and service user names).
    #[arg(long, env = "SSC_EMULATOR_ACCOUNT_ID", default_value = "123456789012", value_parser = parse_account_id)]
    pub account_id: String,

    /// IAM user to create at start (repeatable; the env var takes a comma-separated list). Existing users are kept.
    #[arg(
        long = "user",
        value_name = "NAME",
        env = "SSC_EMULATOR_USERS",
        value_delimiter = ','
    )]
    pub users: Vec<String>,

    /// Persist state to this SQLite file (each change committed before it is answered); loaded at start, missing =
    /// empty. An old JSON state file here is migrated in place (kept as PATH.v1.json.bak).
    #[arg(long, value_name = "PATH", env = "SSC_EMULATOR_STATE_FILE")]
    pub state_file: Option<PathBuf>,

    /// Another account the emulator holds besides --account-id (repeatable; env var comma-separated): its own
    /// users, roles, policies and credentials, reached with its keys or by assuming its roles.
    #[arg(
        long = "account",
        value_name = "ACCOUNT_ID",
        env = "SSC_EMULATOR_ACCOUNTS",
        value_delimiter = ',',
        value_parser = parse_account_id
    )]
    pub accounts: Vec<String>,

    /// Authorize every request with IAM's policy evaluation (identity policies, permissions boundaries,
    /// guardrails, trust policies), in every account. Needs --access-key (a root key bootstraps an account).
    #[arg(long, env = "SSC_EMULATOR_ENFORCE")]
    pub enforce: bool,

    /// Authorize requests in this account only (repeatable; env var comma-separated); see --enforce.
    #[arg(
        long = "enforce-account",
        value_name = "ACCOUNT_ID",
        env = "SSC_EMULATOR_ENFORCE_ACCOUNTS",
        value_delimiter = ',',
        value_parser = parse_account_id
    )]
    pub enforce_accounts: Vec<String>,

    /// An SCP-like policy applied to every principal of an account, root included, as [ACCOUNT=]FILE
    /// (repeatable; default account: --account-id). As with SCPs, it must allow an action (attach an
    /// `"Action": "*"` Allow statement beside its Deny statements) and its explicit Deny always wins.
    #[arg(
        long = "guardrail",
        value_name = "[ACCOUNT=]FILE",
        env = "SSC_EMULATOR_GUARDRAILS",
        value_delimiter = ','
    )]
    pub guardrails: Vec<String>,

    /// Access key to verify SigV4 against, as AKID:SECRET[:USER[:ACCOUNT]] (repeatable; env var
    /// comma-separated). When any is given every request must be signed with one of them, with a key made by
    /// CreateAccessKey, or with role-session credentials (any region); USER is the caller for requests without
    /// UserName and is created at start if missing; USER `root` is the account's root user.
    #[arg(
        long = "access-key",
        value_name = "AKID:SECRET[:USER[:ACCOUNT]]",
        env = "SSC_EMULATOR_ACCESS_KEYS",
        value_delimiter = ','
    )]
    pub access_keys: Vec<AccessKey>,

    /// The caller's IAM user for requests without UserName when SigV4 is off or the key names no user.
    /// Default: the first --user.
    #[arg(long, value_name = "NAME", env = "SSC_EMULATOR_CALLER_USER")]
    pub caller_user: Option<String>,

    /// Fraction (0-1) of IAM requests answered with 400 Throttling "Rate exceeded".
    #[arg(long, env = "SSC_EMULATOR_THROTTLE_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub throttle_rate: f64,

    /// Fraction (0-1) of IAM requests answered with 503 ServiceUnavailable.
    #[arg(long, env = "SSC_EMULATOR_SERVER_ERROR_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub server_error_rate: f64,

    /// Delay added to every IAM request, in milliseconds.
    #[arg(long, env = "SSC_EMULATOR_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,

    /// Restrict --throttle-rate, --server-error-rate and --latency-ms to these IAM actions (repeatable;
    /// env var comma-separated). Default: all actions.
    #[arg(
        long = "fault-action",
        value_name = "ACTION",
        env = "SSC_EMULATOR_FAULT_ACTIONS",
        value_delimiter = ','
    )]
    pub fault_actions: Vec<String>,

    /// Largest accepted request body; larger ones get 413 RequestEntityTooLarge.
    #[arg(long, env = "SSC_EMULATOR_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Wire code for an unsupported ServiceName: no-such-entity (what AWS answered in recorded tests) or
    /// not-supported-service (the modeled ServiceNotSupportedException). Both are HTTP 404.
    #[arg(long, env = "SSC_EMULATOR_UNSUPPORTED_SERVICE_CODE", value_enum, default_value_t = UnsupportedServiceCode::NoSuchEntity)]
    pub unsupported_service_code: UnsupportedServiceCode,

    /// Answer Create and List for this supported service as for an unsupported one (see
    /// --unsupported-service-code), like a region or partition where it is not offered (repeatable; env var
    /// comma-separated). Existing credentials of it stay listed by List without ServiceName.
    #[arg(
        long = "disable-service",
        value_name = "NAME",
        env = "SSC_EMULATOR_DISABLED_SERVICES",
        value_delimiter = ','
    )]
    pub disabled_services: Vec<String>,

    /// Answer List with AllUsers=true with 403 AccessDenied, as AWS does for an identity whose
    /// policy allows iam:ListServiceSpecificCredentials only on named users, not `user/*`.
    #[arg(long, env = "SSC_EMULATOR_DENY_ALL_USERS_LISTING")]
    pub deny_all_users_listing: bool,

    /// Log format: text or json. Passwords and secrets are never logged.
    #[arg(long, env = "SSC_EMULATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// clap hands a set-but-empty variable to the value parser as `""`, which paths, numbers, enums and access keys
/// reject, so `SSC_EMULATOR_STATE_FILE=` would stop the start. An empty variable means unset here (as it does for
/// a Helm value or compose entry left blank): its flag falls back to the command line or the default.
pub fn empty_env_as_unset(arg: clap::Arg) -> clap::Arg {
    let empty = arg
        .get_env()
        .and_then(std::env::var_os)
        .is_some_and(|v| v.is_empty());
    if empty {
        arg.env(None::<&'static str>)
    } else {
        arg
    }
}

fn parse_account_id(s: &str) -> Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err("must be 12 digits".into())
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s.parse().map_err(|_| format!("not a number: {s}"))?;
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err("must be between 0 and 1".into())
    }
}

/// Everything [`Emulator::start`] needs. `Default` listens on `127.0.0.1:0` (an ephemeral port).
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub listen: SocketAddr,
    pub account_id: String,
    pub users: Vec<String>,
    pub state_file: Option<PathBuf>,
    pub access_keys: Vec<AccessKey>,
    pub caller_user: Option<String>,
    pub faults: FaultConfig,
    pub max_body_bytes: usize,
    pub unsupported_service_code: UnsupportedServiceCode,
    /// Supported `ServiceName`s answered as unsupported by Create and List (see `--disable-service`).
    pub disabled_services: Vec<String>,
    /// List with AllUsers=true is answered AccessDenied (see `--deny-all-users-listing`).
    pub deny_all_users_listing: bool,
    /// Keep a journal of every request (who signed it, when); off for a long-running emulator.
    pub journal: bool,
    /// Serve the `/_emulator/*` admin endpoints (faults, clock, credential check); unauthenticated,
    /// so off where other local users must not reach them (the operator's embedded emulator).
    pub admin_api: bool,
    /// Accounts besides `account_id` (see `--account`).
    pub extra_accounts: Vec<String>,
    /// Accounts whose requests are authorized by policy evaluation (see `--enforce`, `--enforce-account`).
    pub enforce: Enforce,
    /// Guardrail documents by account (see `--guardrail`).
    pub guardrails: BTreeMap<String, String>,
}

/// Which accounts authorize requests by policy evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Enforce {
    /// None: every signed request may do anything (the default, as before).
    #[default]
    Off,
    All,
    Accounts(Vec<String>),
}

impl Enforce {
    pub fn covers(&self, account: &str) -> bool {
        match self {
            Enforce::Off => false,
            Enforce::All => true,
            Enforce::Accounts(a) => a.iter().any(|x| x == account),
        }
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            account_id: "123456789012".into(),
            users: Vec::new(),
            state_file: None,
            access_keys: Vec::new(),
            caller_user: None,
            faults: FaultConfig::default(),
            max_body_bytes: 1024 * 1024,
            unsupported_service_code: UnsupportedServiceCode::NoSuchEntity,
            disabled_services: Vec::new(),
            deny_all_users_listing: false,
            journal: false,
            admin_api: true,
            extra_accounts: Vec::new(),
            enforce: Enforce::Off,
            guardrails: BTreeMap::new(),
        }
    }
}

impl TryFrom<EmulatorArgs> for EmulatorConfig {
    type Error = EmulatorError;

    fn try_from(a: EmulatorArgs) -> Result<Self, EmulatorError> {
        let mut guardrails = BTreeMap::new();
        for g in a.guardrails.iter().filter(|g| !g.is_empty()) {
            let (account, file) = match g.split_once('=') {
                Some((acct, file)) => (acct.to_string(), file),
                None => (a.account_id.clone(), g.as_str()),
            };
            let text = std::fs::read_to_string(file)
                .map_err(|e| EmulatorError::Config(format!("cannot read guardrail {file}: {e}")))?;
            guardrails.insert(account, text);
        }
        let enforce = if a.enforce {
            Enforce::All
        } else if a.enforce_accounts.is_empty() {
            Enforce::Off
        } else {
            Enforce::Accounts(a.enforce_accounts.clone())
        };
        Ok(Self {
            extra_accounts: a.accounts.clone(),
            enforce,
            guardrails,
            listen: a.listen,
            account_id: a.account_id,
            users: a.users.into_iter().filter(|u| !u.is_empty()).collect(),
            state_file: a.state_file,
            access_keys: a.access_keys,
            caller_user: a.caller_user,
            faults: FaultConfig {
                throttle_rate: a.throttle_rate,
                server_error_rate: a.server_error_rate,
                latency: Duration::from_millis(a.latency_ms),
                actions: (!a.fault_actions.is_empty()).then_some(a.fault_actions),
            },
            max_body_bytes: a.max_body_bytes,
            unsupported_service_code: a.unsupported_service_code,
            disabled_services: a
                .disabled_services
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect(),
            deny_all_users_listing: a.deny_all_users_listing,
            journal: false,
            admin_api: true,
        })
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    #[error("invalid seed user {name:?}: {message}")]
    SeedUser { name: String, message: String },
    #[error(transparent)]
    State(#[from] PersistError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Starts emulators.
pub struct Emulator;

impl Emulator {
    /// Loads state, seeds users, binds `config.listen` and serves in the background until the handle is shut
    /// down or dropped.
    pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
        validate_config(&config)?;
        let accounts = load_accounts(&config)?;
        let seed_users = seed_users(&accounts, &config)?;
        let shared = Arc::new(server::Shared {
            caller_user: config
                .caller_user
                .clone()
                .or_else(|| seed_users.first().cloned()),
            accounts,
            faults: faults::Faults::new(config.faults.clone()),
            max_body_bytes: config.max_body_bytes,
            journal: config.journal.then(Default::default),
        });
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: config.listen,
                source,
            })?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = spawn_server(
            listener,
            server::router(Arc::clone(&shared), config.admin_api),
            rx,
        );
        tracing::info!(
            %addr,
            sigv4 = !config.access_keys.is_empty(),
            accounts = 1 + config.extra_accounts.len(),
            enforce = ?config.enforce,
            disabled_services = ?config.disabled_services,
            "IAM emulator listening"
        );
        Ok(EmulatorHandle {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// Refuses a configuration the emulator cannot run: a bad account id or fault settings, a zero
/// body limit, an unknown disabled service.
fn validate_config(config: &EmulatorConfig) -> Result<(), EmulatorError> {
    parse_account_id(&config.account_id)
        .map_err(|e| EmulatorError::Config(format!("account id {e}")))?;
    config.faults.validate().map_err(EmulatorError::Config)?;
    let known = |a: &str| a == config.account_id || config.extra_accounts.iter().any(|x| x == a);
    for a in &config.extra_accounts {
        parse_account_id(a).map_err(|e| EmulatorError::Config(format!("account id {a:?} {e}")))?;
    }
    if config.enforce != Enforce::Off && config.access_keys.is_empty() {
        return Err(EmulatorError::Config(
            "--enforce needs --access-key: enforcement authorizes signed callers (give a root key, AKID:SECRET:root, to bootstrap an account)".into(),
        ));
    }
    if let Enforce::Accounts(list) = &config.enforce
        && let Some(a) = list.iter().find(|a| !known(a))
    {
        return Err(EmulatorError::Config(format!(
            "cannot enforce in unknown account {a} (add it with --account)"
        )));
    }
    if let Some(k) = config
        .access_keys
        .iter()
        .find(|k| k.account.as_deref().is_some_and(|a| !known(a)))
    {
        return Err(EmulatorError::Config(format!(
            "access key {} names unknown account {} (add it with --account)",
            k.access_key_id,
            k.account.as_deref().unwrap_or_default()
        )));
    }
    for (account, text) in &config.guardrails {
        if !known(account) {
            return Err(EmulatorError::Config(format!(
                "guardrail for unknown account {account} (add it with --account)"
            )));
        }
        policy::parse(text, policy::DocumentKind::Identity).map_err(|e| {
            EmulatorError::Config(format!(
                "guardrail of account {account} is not a valid policy: {e}"
            ))
        })?;
    }
    if config.max_body_bytes == 0 {
        return Err(EmulatorError::Config(
            "max body bytes must be positive".into(),
        ));
    }
    if let Some(name) = config
        .disabled_services
        .iter()
        .find(|name| catalog::kind_of(name).is_none())
    {
        let known: Vec<&str> = catalog::SERVICES.iter().map(|(n, _)| *n).collect();
        return Err(EmulatorError::Config(format!(
            "cannot disable {name:?}: not a supported service (supported: {})",
            known.join(", ")
        )));
    }
    Ok(())
}

/// The state file of `account`: `--state-file` itself for the primary account, `FILE.ACCOUNT` for the others.
fn state_path(config: &EmulatorConfig, account: &str) -> Option<PathBuf> {
    config.state_file.as_ref().map(|p| {
        if account == config.account_id {
            p.clone()
        } else {
            let mut name = p.as_os_str().to_owned();
            name.push(format!(".{account}"));
            PathBuf::from(name)
        }
    })
}

/// Where an install kept `account`'s state as JSON before its `--state-file` named a SQLite file: for a
/// `--state-file` ending in `.db`, the same path ending in `.json` (and `FILE.ACCOUNT` for the other accounts).
/// Read only when the state file itself does not exist (see [`Persister::open`]).
fn legacy_state_path(config: &EmulatorConfig, account: &str) -> Option<PathBuf> {
    let path = config.state_file.as_ref()?;
    if path.extension()? != "db" {
        return None;
    }
    let mut name = path.with_extension("json").into_os_string();
    if account != config.account_id {
        name.push(format!(".{account}"));
    }
    Some(PathBuf::from(name))
}

/// The accounts, each on the state loaded from its state file (a new account without one), sharing one clock.
fn load_accounts(config: &EmulatorConfig) -> Result<accounts::Accounts, EmulatorError> {
    let clock = Arc::new(Clock::default());
    let mut by_id = BTreeMap::new();
    for id in std::iter::once(&config.account_id).chain(&config.extra_accounts) {
        let (persister, state) = match state_path(config, id) {
            Some(path) => {
                let legacy = legacy_state_path(config, id);
                let (p, state) = Persister::open(path, id, legacy.as_deref())?;
                (Some(p), state)
            }
            None => (None, None),
        };
        let state = state.unwrap_or_else(|| State::new(id));
        let service = Service::new(
            Store::new(state, persister),
            Arc::clone(&clock),
            ServiceConfig {
                account_id: id.clone(),
                unsupported_service_code: config.unsupported_service_code,
                disabled_services: config.disabled_services.clone(),
                deny_all_users_listing: config.deny_all_users_listing,
            },
        );
        let guardrail = config
            .guardrails
            .get(id)
            .and_then(|text| policy::parse(text, policy::DocumentKind::Identity).ok());
        by_id.insert(
            id.clone(),
            accounts::Account {
                service,
                enforce: config.enforce.covers(id),
                guardrail,
                documents: Default::default(),
            },
        );
    }
    Ok(accounts::Accounts::new(
        config.account_id.clone(),
        by_id,
        config.access_keys.clone(),
    ))
}

/// Creates the seed users (primary account) and the users of the access keys (in their accounts); returns the
/// seed users.
fn seed_users(
    accounts: &accounts::Accounts,
    config: &EmulatorConfig,
) -> Result<Vec<String>, EmulatorError> {
    // An empty seed name is skipped, as an empty SSC_EMULATOR_USERS item is (the operator's
    // --emulator-user reads that variable too).
    let seed_users: Vec<String> = config
        .users
        .iter()
        .filter(|u| !u.is_empty())
        .cloned()
        .collect();
    let key_users = config
        .access_keys
        .iter()
        .filter(|k| !k.is_root())
        .filter_map(|k| {
            Some((
                k.account
                    .clone()
                    .unwrap_or_else(|| config.account_id.clone()),
                k.user.clone()?,
            ))
        });
    let seeds = seed_users
        .iter()
        .map(|u| (config.account_id.clone(), u.clone()));
    for (account, name) in seeds.chain(key_users) {
        let service = &accounts.get(&account).expect("validated account").service;
        service
            .ensure_user(&name)
            .map_err(|e| EmulatorError::SeedUser {
                name: name.clone(),
                message: e.message,
            })?;
    }
    Ok(seed_users)
}

/// Serves `app` on `listener` until `shutdown` fires (or its sender is dropped).
fn spawn_server(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = shutdown.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "emulator server stopped with an error");
        }
    })
}

/// A running emulator. Dropping it stops the server.
pub struct EmulatorHandle {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl EmulatorHandle {
    /// The bound address (the real port when configured with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` for `--endpoint-url`; an unspecified bind address (0.0.0.0, ::) becomes loopback.
    pub fn endpoint_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            });
        }
        format!("http://{addr}")
    }

    /// Replaces the standing fault settings. Rates are clamped into 0–1 (NaN becomes 0).
    pub fn set_faults(&self, mut faults: FaultConfig) {
        let clamp = |r: f64| if r.is_nan() { 0.0 } else { r.clamp(0.0, 1.0) };
        faults.throttle_rate = clamp(faults.throttle_rate);
        faults.server_error_rate = clamp(faults.server_error_rate);
        if let Err(e) = self.shared.faults.set(faults) {
            tracing::warn!(error = %e, "fault settings rejected");
        }
    }

    /// The standing fault settings.
    pub fn faults(&self) -> FaultConfig {
        self.shared.faults.snapshot().config
    }

    /// Queues a one-shot fault for the next matching requests.
    pub fn inject(&self, fault: InjectedFault) {
        self.shared.faults.inject(fault);
    }

    /// Moves the emulator's clock forward (expiry of API keys); SigV4 skew checks keep using the wall clock.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.service().clock.advance(by);
    }

    /// The requests served so far (empty unless [`EmulatorConfig::journal`] is on).
    pub fn journal(&self) -> Vec<server::JournalEntry> {
        self.shared
            .journal
            .as_ref()
            .map(|j| j.lock().expect("journal lock").clone())
            .unwrap_or_default()
    }

    /// The emulator's current time, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.shared.service().clock.now()
    }

    /// Stops accepting requests, lets in-flight ones finish (up to 5 s), and waits for the server to stop.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // Another subscriber (set by the caller) wins; that is not an error.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// `ssc-operator emulator`: serves until SIGINT/SIGTERM.
pub async fn run(args: EmulatorArgs) -> Result<(), EmulatorError> {
    init_tracing(args.log_format);
    let handle = Emulator::start(args.try_into()?).await?;
    tracing::info!(endpoint = %handle.endpoint_url(), "IAM emulator ready");
    shutdown_signal().await;
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
