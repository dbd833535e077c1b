//! `ssc-operator run`'s flags, and how they are read.

use super::*;

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

/// The renew deadline and retry period: as given, or derived from the lease duration (2/3 and
/// 1/5, as client-go's 10 s and 2 s are of its 15 s); their relations checked.
pub(super) fn leader_timing(args: &RunArgs) -> Result<(Duration, Duration), RunError> {
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
pub(super) fn parse_namespace(value: &str) -> Result<String, String> {
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
pub(super) fn parse_label_selector(value: &str) -> Result<String, String> {
    crate::selector::check(value.trim())
        .map(|()| value.trim().to_string())
        .map_err(|e| format!("{value:?} is not a label selector: {e}"))
}

pub(super) fn parse_duration(value: &str) -> Result<Duration, crate::api::InvalidDuration> {
    crate::api::parse_duration(value)
}

/// A duration with an optional leading '-'.
pub(super) fn parse_signed_duration(value: &str) -> Result<jiff::SignedDuration, String> {
    let (negative, magnitude) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let magnitude = parse_duration(magnitude).map_err(|e| e.to_string())?;
    let magnitude =
        jiff::SignedDuration::try_from(magnitude).map_err(|e| format!("{value:?}: {e}"))?;
    Ok(if negative { -magnitude } else { magnitude })
}
