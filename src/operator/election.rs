//! Leader election: the Lease, and what runs only while this replica leads.

use super::*;

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
pub(super) struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl AbortOnDrop {
    pub(super) async fn join(&mut self) {
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

pub(super) fn hostname() -> String {
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

pub(super) fn own_namespace(client: &kube::Client) -> String {
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
