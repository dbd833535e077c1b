//! The reconcile loop: kube-runtime's `Controller` over `ServiceSpecificCredential`s and the
//! Secrets they own. Each pass observes ([`observe`]), plans ([`plan`] decides, [`script`] lists
//! the steps; both pure) and acts ([`act`] carries the steps out).

mod act;
mod cache;
mod class;
pub(crate) mod conditions;
mod events;
mod failure;
mod memo;
mod observe;
mod packed;
mod plan;
mod records;
mod repair;
mod schedule;
mod script;
mod sweep;
mod tracked;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, ResourceExt};
use tracing::{Instrument, info, info_span, warn};

use crate::api::{FINALIZER, ServiceSpecificCredential};
use crate::iam::{CallTag, IamError};
use crate::identity::Directory;
use crate::reconcile::conditions::Reason;
use crate::secret::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, RenderError};
use crate::tenancy::PolicyMode;

mod config;
mod context;
mod pass;
pub use cache::CachedCredential;
pub use config::*;
pub use context::*;
use pass::*;

/// The field manager and Event reporter name.
pub(crate) const FIELD_MANAGER: &str = "ssc-operator";

/// Errors of one reconcile pass. None carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading the resource failed: {source}")]
    ReadResource { source: kube::Error },
    #[error("writing the resource failed: {source}")]
    WriteResource { source: kube::Error },
    #[error("writing the resource's status failed: {source}")]
    WriteStatus { source: kube::Error },
    #[error("reading the namespace failed: {source}")]
    ReadNamespace { source: kube::Error },
    #[error("reading the Secret failed: {source}")]
    ReadSecret { source: kube::Error },
    #[error("writing the Secret failed: {source}")]
    WriteSecret { source: kube::Error },
    #[error("deleting a Secret failed: {source}")]
    DeleteSecret { source: kube::Error },
    #[error("reading the operator's record failed: {source}")]
    ReadRecord { source: kube::Error },
    #[error("writing the operator's record failed: {source}")]
    WriteRecord { source: kube::Error },
    #[error("deleting the operator's record failed: {source}")]
    DeleteRecord { source: kube::Error },
    #[error("listing failed: {source}")]
    List { source: kube::Error },
    #[error("reading the IAMIdentities failed: {source}")]
    ReadIdentities { source: kube::Error },
    #[error("restarting a workload failed: {source}")]
    RestartWorkload { source: kube::Error },
    #[error("IAM request failed: {0}")]
    Iam(#[from] IamError),
    #[error("rendering the Secret failed: {0}")]
    Render(#[from] RenderError),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error("the resource has no namespace")]
    NoNamespace,
    #[error("the cached copy of the resource is older than the API server's; deciding again")]
    StaleCopy,
    #[error("this replica lost the leader Lease; the reconcile stopped before its next write")]
    NotLeader,
    #[error("the API server gave the epoch record no creationTimestamp")]
    NoEpoch,
    #[error(
        "the CredentialRecord ssc-operator-epoch was deleted while records of resources exist; restore it (its creationTimestamp must predate every record) or delete all records"
    )]
    EpochLost,
    #[error("the record {0} belongs to another resource")]
    RecordOfAnother(String),
    #[error("the record {0} kept changing while it was written")]
    RecordConflict(String),
}

/// Builds and runs the controller until `shutdown` resolves, then lets in-flight reconciles
/// finish for up to `config.shutdown_grace`.
pub async fn run(
    client: Client,
    directory: Arc<dyn Directory>,
    config: Config,
    observer: Option<Arc<dyn ReconcileObserver>>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    // One controller per watched namespace (their watches need only namespaced RBAC), or one
    // for the whole cluster; they share the IAM client, its rate limiter and the backoff state.
    let shutdown = shutdown.shared();
    // The labels the shard selector reads: kept in the cache with the resource.
    let label_keys: Vec<String> = config
        .shard_selector
        .as_deref()
        .map(crate::selector::keys)
        .unwrap_or_default();
    let controllers: Vec<_> = scopes(&config.watch_namespaces)
        .into_iter()
        .map(|namespace| {
            let (resources, secrets) = match namespace {
                Some(ns) => (
                    Api::<CachedCredential>::namespaced(client.clone(), ns),
                    Api::<Secret>::namespaced(client.clone(), ns),
                ),
                None => (Api::all(client.clone()), Api::all(client.clone())),
            };
            // Secrets: metadata only and just ours; kube-runtime's `owns` maps each to its
            // owners' references and keeps no cache of them (so a tenant's annotations on a
            // labelled Secret are never held); a reconcile GETs the one it needs.
            let secret_watch = watcher::Config::default()
                .labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"));
            let mut resource_watch = watcher::Config::default();
            if let Some(selector) = &config.shard_selector {
                resource_watch = resource_watch.labels(selector);
            }
            // The cache keeps only what reconciles read (see `cache`): tenants' annotations,
            // labels and managedFields are dropped before it.
            let (reader, writer) = reflector::store();
            let label_keys = label_keys.clone();
            let resources = watcher(resources, resource_watch)
                .default_backoff()
                .modify(move |resource| resource.trim(&label_keys))
                .reflect(writer)
                .applied_objects();
            Controller::for_stream(resources, reader)
                .owns(secrets, secret_watch)
                .with_config(
                    // Wider than the seats: passes wait for their seat in `reconcile`, in
                    // fair order; a namespace's passes beyond its queue are told to come back.
                    kube::runtime::controller::Config::default()
                        .concurrency(crate::fair::runner_window(config.concurrency)),
                )
                .graceful_shutdown_on(shutdown.clone())
        })
        .collect();
    let stores = controllers.iter().map(Controller::store).collect();
    // Tasks beside the controllers: they end with `run`, also when it is dropped mid-way (a
    // JoinSet aborts its tasks on drop), as a process's threads end with it.
    let mut background = tokio::task::JoinSet::new();
    background.spawn(crate::identity::status::run(
        client.clone(),
        directory.clone(),
        shutdown.clone(),
    ));
    let ctx = Arc::new(Context::new(client, directory, config, stores, observer));
    ctx.observer.watch(ctx.stores.clone());
    background.spawn(sweep::run(ctx.clone()));
    // Another replica may have written records while this one did not lead.
    if let Some(mut leading) = ctx.config.leading.clone() {
        let ctx = ctx.clone();
        background.spawn(async move {
            while leading.changed().await.is_ok() {
                ctx.records.clear();
            }
        });
    }
    let runs = controllers.into_iter().map(|controller| {
        controller
            .run(
                |resource, ctx| {
                    let span = info_span!(
                        "reconcile",
                        namespace = resource.namespace().unwrap_or_default(),
                        name = resource.name_any(),
                        reconcile_id = %format!("{:016x}", rand::random::<u64>())
                    );
                    while_leading(ctx.config.leading.clone(), reconcile(resource, ctx))
                        .instrument(span)
                },
                error_policy,
                ctx.clone(),
            )
            .for_each(|result| async move {
                if let Err(error) = result {
                    tracing::debug!(%error, "controller event");
                }
            })
    });
    let grace = ctx.config.shutdown_grace;
    tokio::select! {
        _ = futures::future::join_all(runs) => info!("controller stopped"),
        _ = async {
            shutdown.await;
            tokio::time::sleep(grace).await;
        } => warn!(?grace, "reconciles under way did not finish within the shutdown grace; stopped them"),
    }
    background.abort_all();
    ctx.observer.watch(Vec::new());
}

/// Runs `pass` while `leading` stays true; drops it (at its current await point) the moment it
/// turns false.
async fn while_leading<T>(
    leading: Option<tokio::sync::watch::Receiver<bool>>,
    pass: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let Some(mut leading) = leading else {
        return pass.await;
    };
    tokio::select! {
        biased;
        _ = leading.wait_for(|l| !*l) => {
            warn!("lost the leader Lease: stopping this reconcile before its next write");
            Err(Error::NotLeader)
        }
        result = pass => result,
    }
}

/// The watch scopes: each listed namespace once, or `None` (the whole cluster) for none.
fn scopes(namespaces: &[String]) -> Vec<Option<&str>> {
    let mut scopes: Vec<Option<&str>> = Vec::new();
    for ns in namespaces {
        if !scopes.contains(&Some(ns.as_str())) {
            scopes.push(Some(ns));
        }
    }
    if scopes.is_empty() {
        scopes.push(None);
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::scopes;

    #[test]
    fn scopes_are_the_namespaces_once_or_the_cluster() {
        assert_eq!(scopes(&[]), [None]);
        let listed = ["a".to_string(), "b".to_string(), "a".to_string()];
        assert_eq!(scopes(&listed), [Some("a"), Some("b")]);
    }
}
