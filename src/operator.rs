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

mod args;
mod election;
mod http;
mod kubernetes;
pub use args::*;
pub use election::*;
pub use http::*;
pub use kubernetes::*;

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
