//! Leader election on a `coordination.k8s.io/v1` Lease, the way client-go's leaderelection does it:
//! read the Lease, then create or update it with optimistic concurrency (resourceVersion). Only
//! the holder reconciles and writes; a holder that stops renewing is replaced once
//! `leaseDurationSeconds` has passed since its last renewal.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tracing::{info, warn};

/// Settings of the election.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    /// How long a holder's claim lasts after its last renewal.
    pub lease_duration: Duration,
    /// How often the holder renews, and others retry.
    pub retry_period: Duration,
}

/// What to do with the Lease as observed.
#[derive(Clone, Debug, PartialEq)]
pub enum LeaseAction {
    /// No Lease yet: create it holding it.
    Create(LeaseSpec),
    /// Write this spec (renew ours, or take over an expired one) at the observed resourceVersion.
    Update(LeaseSpec),
    /// Someone else holds a valid Lease.
    Wait,
}

/// Pure decision over the observed Lease.
pub fn decide(current: Option<&LeaseSpec>, config: &LeaseConfig, now: Timestamp) -> LeaseAction {
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
    let expired = match (holder, &spec.renew_time) {
        (None, _) | (_, None) => true,
        (Some(_), Some(renewed)) => {
            let held = SignedDuration::from_secs(spec.lease_duration_seconds.unwrap_or(0).into());
            renewed
                .0
                .checked_add(held)
                .map_or(true, |until| until <= now)
        }
    };
    if expired {
        LeaseAction::Update(fresh(transitions + 1, None))
    } else {
        LeaseAction::Wait
    }
}

/// Runs the election until `stop` resolves; publishes leadership on the returned channel. When
/// stopped while leading, releases the Lease so a standby takes over at once.
pub fn spawn(
    client: kube::Client,
    config: LeaseConfig,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let api = Api::<Lease>::namespaced(client, &config.namespace);
        tokio::pin!(stop);
        let mut last_renewal: Option<std::time::Instant> = None;
        loop {
            let leading = match try_acquire_or_renew(&api, &config).await {
                Ok(true) => {
                    last_renewal = Some(std::time::Instant::now());
                    true
                }
                Ok(false) => false,
                Err(error) => {
                    warn!(%error, lease = %config.name, "leader election request failed");
                    // Keep leading only while our last renewal is surely still valid for others.
                    last_renewal.is_some_and(|at| {
                        at.elapsed() + config.retry_period < config.lease_duration
                    })
                }
            };
            if leading != *tx.borrow() {
                info!(leading, identity = %config.identity, lease = %config.name, "leadership changed");
            }
            let _ = tx.send(leading);
            tokio::select! {
                _ = &mut stop => break,
                _ = tokio::time::sleep(config.retry_period) => {}
            }
        }
        if *tx.borrow() {
            release(&api, &config).await;
        }
        let _ = tx.send(false);
    });
    (rx, task)
}

async fn try_acquire_or_renew(api: &Api<Lease>, config: &LeaseConfig) -> Result<bool, kube::Error> {
    let current = api.get_opt(&config.name).await?;
    let action = decide(
        current.as_ref().and_then(|l| l.spec.as_ref()),
        config,
        Timestamp::now(),
    );
    let pp = PostParams {
        field_manager: Some(crate::reconcile::FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match action {
        LeaseAction::Wait => Ok(false),
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
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
        LeaseAction::Update(spec) => {
            let mut lease = current.expect("Update only with a current Lease");
            lease.spec = Some(spec);
            match api.replace(&config.name, &pp, &lease).await {
                Ok(_) => Ok(true),
                // Someone else wrote first: they hold it, or we retry next period.
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
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
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    match api
        .replace(&config.name, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => info!(lease = %config.name, "released the leader Lease"),
        Err(error) => warn!(%error, "could not release the leader Lease"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(identity: &str) -> LeaseConfig {
        LeaseConfig {
            name: "ssc-operator".into(),
            namespace: "ssc-system".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            retry_period: Duration::from_secs(2),
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn creates_when_missing() {
        match decide(None, &config("a"), at(100)) {
            LeaseAction::Create(spec) => {
                assert_eq!(spec.holder_identity.as_deref(), Some("a"));
                assert_eq!(spec.lease_duration_seconds, Some(15));
                assert_eq!(spec.lease_transitions, Some(0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn holder_renews_others_wait_until_expiry() {
        let LeaseAction::Create(held) = decide(None, &config("a"), at(100)) else {
            panic!()
        };
        match decide(Some(&held), &config("a"), at(105)) {
            LeaseAction::Update(spec) => {
                assert_eq!(spec.renew_time, Some(MicroTime(at(105))));
                assert_eq!(spec.acquire_time, Some(MicroTime(at(100))));
                assert_eq!(spec.lease_transitions, Some(0));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decide(Some(&held), &config("b"), at(114)),
            LeaseAction::Wait
        );
        match decide(Some(&held), &config("b"), at(115)) {
            LeaseAction::Update(spec) => {
                assert_eq!(spec.holder_identity.as_deref(), Some("b"));
                assert_eq!(spec.lease_transitions, Some(1));
                assert_eq!(spec.acquire_time, Some(MicroTime(at(115))));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn released_lease_is_taken_at_once() {
        let released = LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            renew_time: Some(MicroTime(at(100))),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        };
        assert!(matches!(
            decide(Some(&released), &config("b"), at(100)),
            LeaseAction::Update(_)
        ));
    }
}
