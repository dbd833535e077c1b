//! Wiring of `ssc-operator run`: flags, the Kubernetes and IAM clients, the optional embedded
//! emulator, the HTTP endpoints and the controller, with graceful shutdown on SIGTERM.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::api::ServiceSpecificCredential;
use crate::fence::{KubeRequestGuard, WriteFence, fence_iam};
use crate::iam::{AwsIam, IamLimits};
use crate::identity::{AwsDirectory, Directory};
use crate::leader::{self, LeaseConfig};
use crate::metrics::Metrics;
use crate::reconcile;
use crate::telemetry::{self, LogFormat};
use crate::tenancy::PolicyMode;
use iam_emulator::{Emulator, EmulatorConfig};

/// Flags of `ssc-operator run`. Each can also be set with the environment variable shown; a
/// variable that is set but empty counts as unset.
#[derive(clap::Args, Debug, Clone)]
#[command(mut_args = iam_emulator::empty_env_as_unset)]
pub struct RunArgs {
    /// The kubeconfig to use (default: KUBECONFIG, ~/.kube/config, or the in-cluster config).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<std::path::PathBuf>,

    /// IAM endpoint URL, e.g. the in-cluster emulator. Default: the AWS SDK's choice (it also
    /// honours AWS_ENDPOINT_URL_IAM).
    #[arg(long, env = "SSC_IAM_ENDPOINT_URL", value_name = "URL")]
    pub iam_endpoint_url: Option<String>,

    /// AWS region for signing. Default: the AWS SDK chain (AWS_REGION, profile), else us-east-1.
    #[arg(long, env = "SSC_AWS_REGION", value_name = "REGION")]
    pub region: Option<String>,

    /// Dev mode: start the IAM emulator in this process and point the IAM client at it. Never
    /// switches on by itself. Also installs the CRD if the cluster lacks it.
    #[arg(long, env = "SSC_EMBEDDED_EMULATOR")]
    pub embedded_emulator: bool,

    /// With --embedded-emulator: IAM users the emulator starts with (repeatable; env comma-separated).
    #[arg(
        long = "emulator-user",
        value_name = "NAME",
        env = "SSC_EMULATOR_USERS",
        value_delimiter = ','
    )]
    pub emulator_users: Vec<String>,

    /// Tenancy: `enforcing` requires each namespace to allow IAM users through its
    /// iam.ssc-operator.dev/allowed-users annotation; `permissive` turns the check off.
    #[arg(long, env = "SSC_POLICY", value_enum, default_value_t = PolicyMode::Enforcing)]
    pub policy: PolicyMode,

    /// Watch only these namespaces: comma-separated or the flag repeated (default: all
    /// namespaces). Each needs the operator's Role there instead of a ClusterRole.
    #[arg(
        long,
        env = "SSC_WATCH_NAMESPACE",
        value_name = "NAMESPACE",
        value_delimiter = ',',
        value_parser = parse_namespace
    )]
    pub watch_namespace: Vec<String>,

    /// Reconcile only the resources whose labels match this selector (e.g.
    /// `ssc-operator.dev/shard=a`): one shard of several, each run as its own Deployment with
    /// its own --lease-name. Default: every resource.
    #[arg(long, env = "SSC_SHARD_SELECTOR", value_name = "SELECTOR", value_parser = parse_label_selector)]
    pub shard_selector: Option<String>,

    /// IAM calls per second, across all resources (IAM's own limits are per account and not raisable).
    #[arg(long, env = "SSC_IAM_RATE_LIMIT", default_value_t = NonZeroU32::new(5).expect("non-zero"))]
    pub iam_rate_limit: NonZeroU32,

    /// IAM calls allowed in a burst above the rate.
    #[arg(long, env = "SSC_IAM_BURST", default_value_t = NonZeroU32::new(10).expect("non-zero"))]
    pub iam_burst: NonZeroU32,

    /// No longer used: namespaces share the account's IAM budget fairly (see README, "Fairness").
    /// Accepted so that an upgrade with the old flags set still starts; a warning says so.
    #[arg(long, env = "SSC_NAMESPACE_IAM_WRITES_PER_MINUTE", hide = true)]
    pub namespace_iam_writes_per_minute: Option<NonZeroU32>,

    /// No longer used (see `--namespace-iam-writes-per-minute`).
    #[arg(long, env = "SSC_NAMESPACE_IAM_WRITE_BURST", hide = true)]
    pub namespace_iam_write_burst: Option<NonZeroU32>,

    /// How often a Ready resource is checked for drift (Go duration): each resource picks a
    /// moment in the interval's last fifth, so that they do not all come at once, and is checked
    /// against a snapshot of its service's credentials at most this old (so a change made by
    /// hand in IAM is found within two intervals).
    #[arg(long, env = "SSC_RESYNC_INTERVAL", default_value = "10m", value_parser = parse_duration)]
    pub resync_interval: Duration,

    /// On SIGTERM, how long reconciles under way may take to finish before they are stopped
    /// (keep it below the pod's terminationGracePeriodSeconds).
    #[arg(long, env = "SSC_SHUTDOWN_GRACE", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Reconcile passes running at once: seats handed out fairly between namespaces (each
    /// namespace's passes in turn, cleanup and repair first).
    #[arg(long, env = "SSC_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    #[arg(long, env = "SSC_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

    /// Log format.
    #[arg(long, env = "SSC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,

    /// Log level or tracing filter (RUST_LOG overrides it).
    #[arg(long, env = "SSC_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Name of this replica in Events and the leader-election Lease (default: hostname).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// Elect a leader on a Lease so that 2+ replicas are safe: only the leader reconciles.
    #[arg(long, env = "SSC_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub leader_elect: bool,

    /// Restart the workloads a resource lists in `spec.rolloutRestart` after each new credential
    /// (needs patch on apps deployments, statefulsets and daemonsets). Off: such
    /// resources get a Warning Event instead.
    #[arg(long, env = "SSC_ROLLOUT_RESTART", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub rollout_restart: bool,

    /// What a namespace losing the right to a user (its allowed-users annotation no longer
    /// matches) does to the credentials its resources hold: `deactivate` sets them Inactive in
    /// IAM (a restored right sets them Active again, same password), `delete` deletes them,
    /// `keep` leaves them usable.
    #[arg(long, env = "SSC_REVOCATION", value_enum, default_value_t = reconcile::Revocation::Deactivate)]
    pub revocation: reconcile::Revocation,

    /// Which namespaces may mint through the operator's own AWS identity when a resource names
    /// no IAMIdentity and its namespace sets none: `all` (the default, so that an upgrade keeps
    /// every resource working), `none` (each namespace needs an IAMIdentity: the choice for
    /// multi-tenant clusters), or a namespace label selector (`ssc-operator.dev/ambient=true`).
    #[arg(
        long,
        env = "SSC_AMBIENT_IDENTITY",
        default_value = "all",
        value_name = "all|none|SELECTOR"
    )]
    pub ambient_identity: crate::identity::AmbientPolicy,

    /// `demo`: the embedded emulator also holds the second account, roles and users of
    /// `examples/multi-account/`.
    #[arg(skip)]
    pub demo_identities: bool,

    /// STS endpoint URL for assuming the IAMIdentities' roles. Default: --iam-endpoint-url when
    /// set (the emulator serves both), else the AWS SDK's choice (it honours AWS_ENDPOINT_URL_STS).
    #[arg(long, env = "SSC_STS_ENDPOINT_URL", value_name = "URL")]
    pub sts_endpoint_url: Option<String>,

    /// How long a resource must be gone (deleted without the operator's cleanup, e.g. its
    /// finalizer removed) before the credentials the operator's record names for it are
    /// deleted from IAM (Retain: released, not deleted).
    #[arg(long, env = "SSC_ORPHAN_GRACE", default_value = "5m", value_parser = parse_duration)]
    pub orphan_grace: Duration,

    /// Name of the leader-election Lease.
    #[arg(long, env = "SSC_LEASE_NAME", default_value = "ssc-operator")]
    pub lease_name: String,

    /// Namespace of the Lease (default: POD_NAMESPACE, the service account's namespace, or the
    /// kubeconfig's namespace).
    #[arg(long, env = "SSC_LEASE_NAMESPACE", value_name = "NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// How long a leader's claim lasts without renewal; a killed leader is replaced within it.
    #[arg(long, env = "SSC_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,

    /// A leader that cannot renew its Lease for this long stops leading by itself, before
    /// anyone may take over (default: 2/3 of the lease duration).
    #[arg(long, env = "SSC_LEADER_RENEW_DEADLINE", value_parser = parse_duration)]
    pub leader_renew_deadline: Option<Duration>,

    /// How often the leader renews and standbys retry; also each Lease request's timeout
    /// (default: 1/5 of the lease duration, at least 200ms).
    #[arg(long, env = "SSC_LEADER_RETRY_PERIOD", value_parser = parse_duration)]
    pub leader_retry_period: Option<Duration>,

    /// Test only (the chaos suite): shift this process's wall clock by a signed duration such
    /// as "60s" or "-45s", to run a replica whose clock is wrong. Refused unless the environment
    /// also has SSC_ALLOW_TEST_CLOCK_OFFSET=yes.
    #[arg(long, hide = true, value_parser = parse_signed_duration, allow_hyphen_values = true)]
    pub test_clock_offset: Option<jiff::SignedDuration>,
}

/// How to point the operator at a cluster, for the errors that say it cannot reach one.
#[cfg(feature = "demo")]
const CLUSTER_HINT: &str = "point it at a cluster: set KUBECONFIG (or ~/.kube/config) to a cluster you can reach, e.g. `kind create cluster` or `k3d cluster create`, or run it in-cluster; or try `ssc-operator demo`, which needs none";
/// A build without the sandbox has no `demo` to offer.
#[cfg(not(feature = "demo"))]
const CLUSTER_HINT: &str = "point it at a cluster: set KUBECONFIG (or ~/.kube/config) to a cluster you can reach, e.g. `kind create cluster` or `k3d cluster create`, or run it in-cluster";

/// Why `ssc-operator run` stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "leader election: {0} (--lease-duration, --leader-renew-deadline, --leader-retry-period)"
    )]
    LeaderTiming(leader::TimingError),
    #[error(
        "--test-clock-offset is for the chaos suite only; it needs SSC_ALLOW_TEST_CLOCK_OFFSET=yes"
    )]
    TestClockOffsetRefused,
    #[error("no Kubernetes configuration found ({0}); {CLUSTER_HINT}")]
    NoKubeconfig(String),
    #[error("cannot read --kubeconfig {path}: {message}")]
    KubeconfigUnreadable { path: String, message: String },
    #[error("--kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
    #[error("cannot build a Kubernetes client ({0}); {CLUSTER_HINT}")]
    KubeClient(String),
    #[error("cannot reach the Kubernetes API server ({0}); {CLUSTER_HINT}")]
    Unreachable(kube::Error),
    #[error("the Kubernetes API server did not answer within 10s; {CLUSTER_HINT}")]
    NoAnswer,
    #[error(
        "the CRDs (ServiceSpecificCredential, CredentialRecord) are not both installed: run `ssc-operator crd | kubectl apply -f -` (or `kubectl apply -f crds/`)"
    )]
    CrdMissing,
    #[error("installing the CRD")]
    CrdInstall(#[source] kube::Error),
    #[error("the CRD {0} was installed but is not served yet; try again")]
    CrdNotServed(String),
    #[error("starting the embedded IAM emulator")]
    Emulator(#[source] iam_emulator::EmulatorError),
    #[error("seeding the demo's accounts: {0}")]
    DemoSeed(#[source] crate::iam::IamError),
    #[error("cannot listen on --http-addr {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("lost the leader Lease; exiting so a restart rejoins as a standby")]
    LostLease,
}

/// The renew deadline and retry period: as given, or derived from the lease duration (2/3 and
/// 1/5, as client-go's 10 s and 2 s are of its 15 s); their relations checked.
fn leader_timing(args: &RunArgs) -> Result<(Duration, Duration), RunError> {
    let renew_deadline = args
        .leader_renew_deadline
        .unwrap_or(args.lease_duration * 2 / 3);
    let retry_period = args
        .leader_retry_period
        .unwrap_or((args.lease_duration / 5).max(Duration::from_millis(200)));
    leader::check_timing(args.lease_duration, renew_deadline, retry_period)
        .map_err(RunError::LeaderTiming)?;
    Ok((renew_deadline, retry_period))
}

/// A namespace name: a DNS-1123 label, as Kubernetes requires.
fn parse_namespace(value: &str) -> Result<String, String> {
    let value = value.trim();
    let valid = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if valid {
        Ok(value.to_string())
    } else {
        Err(format!(
            "{value:?} is not a namespace name (lower-case letters, digits and '-', at most 63, starting and ending alphanumeric)"
        ))
    }
}

/// A label selector in Kubernetes' syntax (`k=v`, `k!=v`, `k`, `!k`, `k in (a,b)`,
/// `k notin (a,b)`, `k>n`, `k<n`, comma-separated), checked here as kube-apiserver parses it so
/// that a typo fails the start with the API server's reason instead of every watch request.
fn parse_label_selector(value: &str) -> Result<String, String> {
    crate::selector::check(value.trim())
        .map(|()| value.trim().to_string())
        .map_err(|e| format!("{value:?} is not a label selector: {e}"))
}

fn parse_duration(value: &str) -> Result<Duration, crate::api::InvalidDuration> {
    crate::api::parse_duration(value)
}

/// A duration with an optional leading '-'.
fn parse_signed_duration(value: &str) -> Result<jiff::SignedDuration, String> {
    let (negative, magnitude) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let magnitude = parse_duration(magnitude).map_err(|e| e.to_string())?;
    let magnitude =
        jiff::SignedDuration::try_from(magnitude).map_err(|e| format!("{value:?}: {e}"))?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// Runs the controller until SIGTERM or Ctrl-C.
pub async fn run(args: RunArgs) -> Result<(), RunError> {
    let (renew_deadline, retry_period) = leader_timing(&args)?;
    telemetry::init(args.log_format, &args.log_level);
    apply_test_clock_offset(&args)?;
    // With leader election, writes wait for the Lease; without, this is the only replica.
    let fence = if args.leader_elect {
        WriteFence::closed()
    } else {
        WriteFence::always_open()
    };
    let (client, unfenced) = connect_kubernetes(fence.clone(), args.kubeconfig.as_deref()).await?;
    // Installing the CRD (dev mode) comes before any election, so not through the fence.
    ensure_crd(
        &unfenced,
        args.embedded_emulator,
        args.watch_namespace.first().map(String::as_str),
    )
    .await?;

    let metrics = Arc::new(Metrics::new());
    let (iam, _emulator) = start_iam(&args, fence.clone(), metrics.clone()).await?;

    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.cancel();
        }
    });
    let ready = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind(args.http_addr)
        .await
        .map_err(|source| RunError::Listen {
            addr: args.http_addr,
            source,
        })?;
    let http = tokio::spawn(serve_http(listener, ready.clone(), metrics.clone()));

    let identity = args.identity.clone().unwrap_or_else(hostname);
    let config = reconcile_config(&args, &identity);
    ready.store(true, Ordering::SeqCst);
    let outcome = if args.leader_elect {
        let lease = LeaseConfig {
            name: args.lease_name.clone(),
            namespace: args
                .lease_namespace
                .clone()
                .unwrap_or_else(|| own_namespace(&client)),
            identity,
            lease_duration: args.lease_duration,
            renew_deadline,
            retry_period,
        };
        let election = Election {
            client: unfenced,
            lease,
            fence,
        };
        run_as_leader(client, iam, config, metrics.clone(), election, shutdown).await
    } else {
        info!(policy = ?args.policy, namespaces = ?args.watch_namespace, "starting controller (leader election off)");
        metrics.set_leader(true);
        let token = shutdown.clone();
        reconcile::run(client, iam, config, Some(metrics.clone()), async move {
            token.cancelled().await
        })
        .await;
        Ok(())
    };
    http.abort();
    outcome
}

/// `--test-clock-offset`: only with `SSC_ALLOW_TEST_CLOCK_OFFSET=yes` as well.
fn apply_test_clock_offset(args: &RunArgs) -> Result<(), RunError> {
    if let Some(offset) = args.test_clock_offset {
        // A wrong clock is only ever wanted by the chaos suite: refuse it unless asked twice.
        if std::env::var("SSC_ALLOW_TEST_CLOCK_OFFSET").as_deref() != Ok("yes") {
            return Err(RunError::TestClockOffsetRefused);
        }
        crate::clock::set_offset(offset);
        warn!(%offset, "test-only clock offset in effect: this process's wall clock is shifted");
    }
    Ok(())
}

/// The IAM client, fenced and rate-limited, against AWS, `--iam-endpoint-url` or the embedded
/// emulator (returned too: it serves until dropped).
async fn start_iam(
    args: &RunArgs,
    fence: WriteFence,
    metrics: Arc<Metrics>,
) -> Result<(Arc<dyn Directory>, Option<iam_emulator::EmulatorHandle>), RunError> {
    let (endpoint, credentials, emulator) = if args.embedded_emulator {
        // A key made for this process alone, and no admin API: the emulator listens on loopback,
        // where every local user can reach it, and answers only this operator.
        let key = iam_emulator::AccessKey {
            access_key_id: format!("AKIA{:016X}", rand::random::<u64>()),
            secret_access_key: format!(
                "{:032x}{:08x}",
                rand::random::<u128>(),
                rand::random::<u32>()
            ),
            user: None,
            account: None,
        };
        let credentials = aws_credential_types::Credentials::new(
            key.access_key_id.clone(),
            key.secret_access_key.clone(),
            None,
            None,
            "embedded-emulator",
        );
        // The demo's second account, with a root key of its own to seed it.
        let tenant_root = args.demo_identities.then(|| iam_emulator::AccessKey {
            access_key_id: format!("AKIA{:016X}", rand::random::<u64>()),
            secret_access_key: format!("{:032x}", rand::random::<u128>()),
            user: Some("root".into()),
            account: Some(crate::demo_accounts::DEMO_TENANT_ACCOUNT.into()),
        });
        let handle = Emulator::start(EmulatorConfig {
            users: args.emulator_users.clone(),
            access_keys: [Some(key), tenant_root.clone()]
                .into_iter()
                .flatten()
                .collect(),
            admin_api: false,
            extra_accounts: tenant_root
                .iter()
                .map(|_| crate::demo_accounts::DEMO_TENANT_ACCOUNT.to_string())
                .collect(),
            ..EmulatorConfig::default()
        })
        .await
        .map_err(RunError::Emulator)?;
        if let Some(root) = tenant_root {
            let as_credentials = |id: &str, secret: &str| {
                aws_credential_types::Credentials::new(id, secret, None, None, "demo")
            };
            let roots = [
                ("123456789012".to_string(), credentials.clone()),
                (
                    crate::demo_accounts::DEMO_TENANT_ACCOUNT.to_string(),
                    as_credentials(&root.access_key_id, &root.secret_access_key),
                ),
            ];
            crate::demo_accounts::seed_identities(&handle.endpoint_url(), &roots)
                .await
                .map_err(RunError::DemoSeed)?;
        }
        info!(endpoint = %handle.endpoint_url(), users = ?args.emulator_users, "embedded IAM emulator started (dev mode: no AWS account is used)");
        (Some(handle.endpoint_url()), Some(credentials), Some(handle))
    } else {
        (args.iam_endpoint_url.clone(), None, None)
    };
    let sdk_config =
        AwsIam::sdk_config(endpoint.as_deref(), args.region.as_deref(), credentials).await;
    let sdk = fence_iam(&AwsIam::iam_client(&sdk_config), fence);
    let limits = IamLimits {
        rate_per_second: args.iam_rate_limit,
        burst: args.iam_burst,
        ..IamLimits::default()
    };
    let iam = Arc::new(AwsIam::new(sdk, limits.clone(), metrics.clone()));
    let sts_endpoint = args.sts_endpoint_url.clone().or(endpoint);
    let mut sts = aws_sdk_sts::config::Builder::from(&sdk_config);
    if let Some(url) = sts_endpoint {
        sts = sts.endpoint_url(url);
    }
    let sts = aws_sdk_sts::Client::from_conf(sts.build());
    let directory = AwsDirectory::new(iam, sts, limits, metrics).await;
    Ok((Arc::new(directory), emulator))
}

fn reconcile_config(args: &RunArgs, identity: &str) -> reconcile::Config {
    if args.namespace_iam_writes_per_minute.is_some() || args.namespace_iam_write_burst.is_some() {
        tracing::warn!(
            "--namespace-iam-writes-per-minute and --namespace-iam-write-burst no longer have any effect: namespaces share the IAM budget fairly, and one alone may use all of it"
        );
    }
    reconcile::Config {
        shard_selector: args.shard_selector.clone(),
        policy: args.policy,
        resync: args.resync_interval,
        watch_namespaces: args.watch_namespace.clone(),
        concurrency: args.concurrency,
        instance: Some(identity.to_string()),
        leading: None,
        shutdown_grace: args.shutdown_grace,
        rollout_restart: args.rollout_restart,
        sweep: reconcile::SweepConfig {
            // At least once a minute, a resync and a grace period.
            interval: args
                .resync_interval
                .min(Duration::from_secs(60))
                .min(args.orphan_grace)
                .max(Duration::from_secs(1)),
            orphan_grace: args.orphan_grace,
            ..reconcile::SweepConfig::default()
        },
        revocation: args.revocation,
        ambient: args.ambient_identity.clone(),
    }
}

/// What a replica needs to take part in leader election.
pub struct Election {
    /// A client that is not fenced (the fence is what the election opens).
    pub client: kube::Client,
    pub lease: LeaseConfig,
    /// Opened while this replica holds the Lease; the operator's own clients check it.
    pub fence: WriteFence,
}

/// Waits for leadership, reconciles while leading, and releases the Lease on shutdown. Losing
/// leadership ends the process with an error so that it restarts as a standby (as client-go does).
pub async fn run_as_leader(
    client: kube::Client,
    iam: Arc<dyn Directory>,
    config: reconcile::Config,
    metrics: Arc<Metrics>,
    election: Election,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let Election {
        client: election_client,
        lease,
        fence,
    } = election;
    let stop_election = CancellationToken::new();
    let (mut leading, election) = leader::spawn(election_client, lease.clone(), fence, {
        let stop = stop_election.clone();
        async move { stop.cancelled().await }
    });
    // If this future is dropped (the task aborted), the election dies with it, as in a crash:
    // no release, the Lease expires and a standby takes over.
    let mut election = AbortOnDrop(Some(election));
    info!(lease = %lease.name, namespace = %lease.namespace, identity = %lease.identity, "waiting for leadership");
    let became_leader = tokio::select! {
        _ = shutdown.cancelled() => false,
        changed = leading.wait_for(|l| *l) => changed.is_ok(),
    };
    if !became_leader {
        stop_election.cancel();
        election.join().await;
        return Ok(());
    }
    metrics.set_leader(true);
    info!("leading: starting controller");
    let lost = CancellationToken::new();
    let stop_controller = {
        let shutdown = shutdown.clone();
        let lost = lost.clone();
        let mut leading = leading.clone();
        async move {
            tokio::select! {
                _ = shutdown.cancelled() => {},
                _ = leading.wait_for(|l| !*l) => lost.cancel(),
            }
        }
    };
    let config = reconcile::Config {
        leading: Some(leading.clone()),
        ..config
    };
    reconcile::run(client, iam, config, Some(metrics.clone()), stop_controller).await;
    metrics.set_leader(false);
    stop_election.cancel();
    election.join().await;
    if lost.is_cancelled() && !shutdown.is_cancelled() {
        return Err(RunError::LostLease);
    }
    Ok(())
}

/// Aborts the task when dropped, unless it was joined.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl AbortOnDrop {
    async fn join(&mut self) {
        if let Some(task) = self.0.take() {
            let _ = task.await;
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("ssc-operator-{}", uuid::Uuid::new_v4().simple()))
}

fn own_namespace(client: &kube::Client) -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
                .ok()
                .map(|n| n.trim().to_string())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| client.default_namespace().to_string())
}

/// The User-Agent of the operator's Kubernetes requests (audit logs, RBAC debugging).
pub const USER_AGENT: &str = concat!("ssc-operator/", env!("CARGO_PKG_VERSION"));

/// How long any Kubernetes request but a watch may wait for its answer.
pub const KUBE_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting to the API server may take.
pub const KUBE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A Kubernetes client from `config` that identifies itself as the operator, bounds its
/// requests (connect, and answers to all but watches), and sends writes only while `fence` is
/// open.
pub fn kube_client(
    mut config: kube::Config,
    fence: WriteFence,
) -> Result<kube::Client, kube::Error> {
    config.headers.push((
        axum::http::header::USER_AGENT,
        axum::http::HeaderValue::from_static(USER_AGENT),
    ));
    config.connect_timeout = Some(KUBE_CONNECT_TIMEOUT);
    // kube's retry layer would sit below the fence and resend a write after the fence closed;
    // failed requests are retried by the reconcile loop instead, each through the fence.
    config.default_retry = false;
    let guard = KubeRequestGuard {
        fence,
        timeout: KUBE_REQUEST_TIMEOUT,
    };
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&guard)
        .build())
}

/// The operator's client (fenced by `fence`) and an unfenced one for the election (which must
/// renew while the fence is closed) and the dev-mode CRD install (before any election).
async fn connect_kubernetes(
    fence: WriteFence,
    kubeconfig: Option<&std::path::Path>,
) -> Result<(kube::Client, kube::Client), RunError> {
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                RunError::KubeconfigUnreadable {
                    path: path.display().to_string(),
                    message: e.to_string(),
                }
            })?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| RunError::Kubeconfig {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| RunError::NoKubeconfig(e.to_string()))?,
    };
    let build =
        |fence| kube_client(config.clone(), fence).map_err(|e| RunError::KubeClient(e.to_string()));
    let client = build(fence)?;
    let election = build(WriteFence::always_open())?;
    match tokio::time::timeout(Duration::from_secs(10), client.apiserver_version()).await {
        Ok(Ok(version)) => {
            info!(version = %version.git_version, "connected to Kubernetes");
            Ok((client, election))
        }
        Ok(Err(e)) => Err(RunError::Unreachable(e)),
        Err(_) => Err(RunError::NoAnswer),
    }
}

/// Checks both kinds are served (a LIST of metadata with limit 1, which the operator's RBAC allows):
/// the resources and the operator's own records. In dev mode installs the CRDs when one is
/// missing.
async fn ensure_crd(
    client: &kube::Client,
    install: bool,
    namespace: Option<&str>,
) -> Result<(), RunError> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let served = || async {
        let api = match namespace {
            Some(ns) => kube::Api::<ServiceSpecificCredential>::namespaced(client.clone(), ns),
            None => kube::Api::<ServiceSpecificCredential>::all(client.clone()),
        };
        // Metadata only: a tenant may have written a status the types do not read.
        let limit = kube::api::ListParams::default().limit(1);
        api.list_metadata(&limit).await?;
        kube::Api::<crate::record::CredentialRecord>::all(client.clone())
            .list_metadata(&limit)
            .await
            .map(|_| ())
    };
    match served().await {
        Ok(()) => return Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 && install => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Err(RunError::CrdMissing),
        // Anything else (e.g. RBAC) shows up again, with context, in the watch errors.
        Err(e) => {
            warn!(error = %e, "could not check that the CRDs are served");
            return Ok(());
        }
    }
    let mut names = Vec::new();
    for crd in crate::api::all_crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        info!(%name, "installing the CRD (dev mode)");
        kube::Api::<CustomResourceDefinition>::all(client.clone())
            .patch(
                &name,
                &kube::api::PatchParams::apply(reconcile::FIELD_MANAGER).force(),
                &kube::api::Patch::Apply(&crd),
            )
            .await
            .map_err(RunError::CrdInstall)?;
        names.push(name);
    }
    for _ in 0..50 {
        if served().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(RunError::CrdNotServed(names.join(", ")))
}

/// Serves `/metrics`, `/healthz` and `/readyz` until aborted.
pub async fn serve_http(
    listener: tokio::net::TcpListener,
    ready: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
) {
    use axum::http::{StatusCode, header};
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        )
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if ready.load(Ordering::SeqCst) {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "starting")
                    }
                }
            }),
        );
    if let Err(error) = axum::serve(listener, app).await {
        warn!(%error, "HTTP server stopped");
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    info!("shutdown requested: finishing in-flight reconciles");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("ssc-operator").chain(args.iter().copied()))
            .map(|c| c.run)
    }

    #[test]
    fn watch_namespaces_are_comma_separated_or_repeated() {
        assert!(parse(&[]).unwrap().watch_namespace.is_empty());
        assert_eq!(
            parse(&["--watch-namespace", "team-a,team-b"])
                .unwrap()
                .watch_namespace,
            ["team-a", "team-b"]
        );
        assert_eq!(
            parse(&["--watch-namespace=team-a", "--watch-namespace=team-b"])
                .unwrap()
                .watch_namespace,
            ["team-a", "team-b"]
        );
        let error = parse(&["--watch-namespace", "team-a,Team_B"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("\"Team_B\" is not a namespace name"),
            "{error}"
        );
        assert!(parse(&["--watch-namespace", "a,,b"]).is_err());
    }
}
