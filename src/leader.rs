//! Leader election on a `coordination.k8s.io/v1` Lease, the way client-go's leaderelection does it:
//! read the Lease, then create or update it with optimistic concurrency (resourceVersion). Only
//! the holder reconciles and writes. A standby takes over once the Lease record has not changed
//! for `leaseDurationSeconds` *as measured on its own monotonic clock* since it first saw that
//! record — never by comparing the holder's `renewTime` with its own wall clock, so a clock that
//! runs ahead or behind cannot take a live Lease. A holder that cannot renew within the renew
//! deadline (shorter than the lease) stops leading by itself, before anyone may take over; each
//! Lease request is bounded by the retry period.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::fence::WriteFence;

/// Settings of the election.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    /// How long a holder's claim lasts after its last renewal.
    pub lease_duration: Duration,
    /// A holder that has not renewed for this long stops leading (shorter than the lease).
    pub renew_deadline: Duration,
    /// How often the holder renews, and others retry; also each Lease request's timeout.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// Checks the timing relations (see [`check_timing`]).
    pub fn check(&self) -> Result<(), TimingError> {
        check_timing(self.lease_duration, self.renew_deadline, self.retry_period)
    }
}

/// Leader-election timings that cannot work together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    #[error(
        "the lease duration ({lease_duration:?}) must be longer than the renew deadline ({renew_deadline:?})"
    )]
    LeaseNotLongerThanDeadline {
        lease_duration: Duration,
        renew_deadline: Duration,
    },
    #[error(
        "the renew deadline ({renew_deadline:?}) must be longer than 1.2 × the retry period ({retry_period:?})"
    )]
    DeadlineTooCloseToRetry {
        renew_deadline: Duration,
        retry_period: Duration,
    },
    #[error(
        "the renew deadline ({renew_deadline:?}) plus the retry period ({retry_period:?}) must be shorter than the lease duration ({lease_duration:?}), or a stuck leader could still lead when others take over"
    )]
    StuckLeaderOutlivesLease {
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    },
}

/// Checks client-go's relations (lease duration > renew deadline > 1.2 × retry period), and that
/// a leader notices a missed deadline before its Lease can expire for others: renew deadline +
/// retry period < lease duration (the loop looks once per retry period).
pub(crate) fn check_timing(
    lease_duration: Duration,
    renew_deadline: Duration,
    retry_period: Duration,
) -> Result<(), TimingError> {
    if lease_duration <= renew_deadline {
        return Err(TimingError::LeaseNotLongerThanDeadline {
            lease_duration,
            renew_deadline,
        });
    }
    if renew_deadline <= retry_period.mul_f64(1.2) {
        return Err(TimingError::DeadlineTooCloseToRetry {
            renew_deadline,
            retry_period,
        });
    }
    if renew_deadline + retry_period >= lease_duration {
        return Err(TimingError::StuckLeaderOutlivesLease {
            lease_duration,
            renew_deadline,
            retry_period,
        });
    }
    Ok(())
}

/// What this replica has seen of the Lease: the last record read, and when — on this replica's
/// monotonic clock — it first saw that record.
#[derive(Clone, Debug, Default)]
pub(crate) struct Observation {
    record: Option<LeaseSpec>,
    seen_at: Option<std::time::Instant>,
}

impl Observation {
    /// Notes the record read at `now`; returns for how long it has been unchanged.
    pub(crate) fn see(&mut self, record: Option<&LeaseSpec>, now: std::time::Instant) -> Duration {
        if self.seen_at.is_none() || self.record.as_ref() != record {
            self.record = record.cloned();
            self.seen_at = Some(now);
        }
        self.seen_at
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at))
    }
}

/// What to do with the Lease as observed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LeaseAction {
    /// No Lease yet: create it holding it.
    Create(LeaseSpec),
    /// Write this spec (renew ours, or take over an expired one) at the observed resourceVersion.
    Update(LeaseSpec),
    /// Someone else holds a valid Lease.
    Wait,
}

/// Pure decision over the observed Lease, which has been unchanged for `unchanged_for` on this
/// replica's clock. `now` is only written into our own record.
pub(crate) fn decide(
    current: Option<&LeaseSpec>,
    unchanged_for: Duration,
    config: &LeaseConfig,
    now: Timestamp,
) -> LeaseAction {
    let duration_secs = i32::try_from(config.lease_duration.as_secs()).unwrap_or(i32::MAX);
    let fresh = |transitions: i32, acquired: Option<MicroTime>| LeaseSpec {
        holder_identity: Some(config.identity.clone()),
        lease_duration_seconds: Some(duration_secs),
        acquire_time: acquired.or(Some(MicroTime(now))),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    };
    let Some(spec) = current else {
        return LeaseAction::Create(fresh(0, None));
    };
    let transitions = spec.lease_transitions.unwrap_or(0);
    let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
    if holder == Some(config.identity.as_str()) {
        return LeaseAction::Update(fresh(transitions, spec.acquire_time.clone()));
    }
    let held =
        Duration::from_secs(u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0));
    let expired = holder.is_none() || unchanged_for >= held;
    if expired {
        LeaseAction::Update(fresh(transitions + 1, None))
    } else {
        LeaseAction::Wait
    }
}

/// Runs the election until `stop` resolves; publishes leadership on the returned channel and
/// keeps `fence` open exactly while this replica may write: until the start of its last
/// successful renewal plus the renew deadline. When stopped while leading, closes the fence and
/// releases the Lease so a standby takes over at once.
pub(crate) fn spawn(
    client: kube::Client,
    config: LeaseConfig,
    fence: WriteFence,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let api = Api::<Lease>::namespaced(client, &config.namespace);
        tokio::pin!(stop);
        let mut observation = Observation::default();
        loop {
            // The renewal counts from when it was sent: the API server may have recorded it at
            // any moment until the answer came, and others measure from their sight of it.
            let sent = std::time::Instant::now();
            let attempt = tokio::time::timeout(
                config.retry_period,
                try_acquire_or_renew(&api, &config, &mut observation),
            )
            .await;
            match attempt {
                Ok(Ok(Attempt::Holding)) => fence.open_until(sent + config.renew_deadline),
                Ok(Ok(Attempt::Standby)) => fence.close(),
                // Someone wrote the Lease between our read and our write (a person, a GitOps
                // tool, or a standby taking an expired Lease): keep the deadline we had, as a
                // failed renewal would; the next read tells which it was.
                Ok(Ok(Attempt::Conflict)) => {
                    warn!(lease = %config.name, "the Lease changed under our write; retrying")
                }
                // Keep leading only within the renew deadline, which ends before anyone else
                // may take the Lease over: the fence closes by itself when it passes.
                Ok(Err(error)) => {
                    warn!(%error, lease = %config.name, "leader election request failed")
                }
                Err(_) => {
                    warn!(lease = %config.name, timeout = ?config.retry_period, "leader election request timed out")
                }
            }
            let leading = fence.is_open();
            if leading != *tx.borrow() {
                info!(leading, identity = %config.identity, lease = %config.name, "leadership changed");
            }
            let _ = tx.send(leading);
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(config.retry_period) => {}
            }
        }
        let was_leading = *tx.borrow();
        fence.close();
        let _ = tx.send(false);
        if was_leading {
            release(&api, &config).await;
        }
    });
    (rx, task)
}

/// How one read-and-write of the Lease went.
#[derive(Debug, PartialEq)]
enum Attempt {
    /// We created, renewed or took the Lease.
    Holding,
    /// Someone else holds a valid Lease.
    Standby,
    /// Our write lost a race (409): outcome unknown until the next read.
    Conflict,
}

async fn try_acquire_or_renew(
    api: &Api<Lease>,
    config: &LeaseConfig,
    observation: &mut Observation,
) -> Result<Attempt, kube::Error> {
    let current = api.get_opt(&config.name).await?;
    let record = current.as_ref().and_then(|l| l.spec.as_ref());
    let unchanged_for = observation.see(record, std::time::Instant::now());
    let action = decide(record, unchanged_for, config, crate::clock::now());
    let pp = PostParams {
        field_manager: Some(crate::reconcile::FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match action {
        LeaseAction::Wait => Ok(Attempt::Standby),
        LeaseAction::Create(spec) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(config.name.clone()),
                    namespace: Some(config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec),
            };
            match api.create(&pp, &lease).await {
                Ok(_) => Ok(Attempt::Holding),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
                Err(e) => Err(e),
            }
        }
        LeaseAction::Update(spec) => {
            let mut lease = current.expect("Update only with a current Lease");
            lease.spec = Some(spec);
            match api.replace(&config.name, &pp, &lease).await {
                Ok(_) => Ok(Attempt::Holding),
                // Someone else wrote first: they hold it, or we retry next period.
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
                Err(e) => Err(e),
            }
        }
    }
}

async fn release(api: &Api<Lease>, config: &LeaseConfig) {
    let Ok(Some(mut lease)) = api.get_opt(&config.name).await else {
        return;
    };
    let Some(spec) = lease.spec.as_mut() else {
        return;
    };
    if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(MicroTime(crate::clock::now()));
    match api
        .replace(&config.name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => info!(lease = %config.name, "released the leader Lease"),
        Err(error) => warn!(%error, "could not release the leader Lease"),
    }
}

#[cfg(test)]
mod tests;
