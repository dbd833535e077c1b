//! The reconcile loop: kube-runtime's `Controller` over `ServiceSpecificCredential`s and the
//! Secrets they own. Each pass observes ([`observe`]), plans ([`plan`] decides, [`script`] lists
//! the steps; both pure) and acts ([`act`] carries the steps out).

mod act;
mod cache;
mod class;
pub mod conditions;
mod events;
mod failure;
mod memo;
mod observe;
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
pub use cache::CachedCredential;

/// The field manager and Event reporter name.
pub const FIELD_MANAGER: &str = "ssc-operator";

/// Errors of one reconcile pass. None carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("IAM request failed: {0}")]
    Iam(#[from] IamError),
    #[error("rendering the Secret failed: {0}")]
    Render(#[from] RenderError),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error("the resource has no namespace")]
    NoNamespace,
    #[error("the resource's spec does not read as this version of the operator reads it")]
    UnreadableSpec,
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

/// Settings of the reconcile loop.
#[derive(Clone, Debug)]
pub struct Config {
    pub policy: PolicyMode,
    /// How often a Ready resource is checked against IAM for drift.
    pub resync: Duration,
    /// Only these namespaces; empty: all.
    pub watch_namespaces: Vec<String>,
    /// Only resources whose labels match this selector: this replica set's shard. Other shards'
    /// resources are never reconciled here; their claims are still read whenever a decision
    /// depends on who holds a credential.
    pub shard_selector: Option<String>,
    /// Reconciles running at once.
    pub concurrency: u16,
    /// The Event reporting instance (pod name).
    pub instance: Option<String>,
    /// Whether this replica leads (leader election); `None`: always. When it turns false,
    /// reconciles under way are dropped at once — before their next IAM or Kubernetes write —
    /// rather than finished: another replica may already be acting on the same resources. What
    /// an interrupted pass leaves behind is what a crash would, and is recovered the same way.
    pub leading: Option<tokio::sync::watch::Receiver<bool>>,
    /// After shutdown is asked for, how long reconciles under way may take to finish before
    /// they are dropped (a hung request must not hold the process past its termination grace).
    pub shutdown_grace: Duration,
    /// Restart the `rolloutRestart` workloads of a resource after a new credential
    /// (`--rollout-restart`; needs patch on apps workloads).
    pub rollout_restart: bool,
    /// The sweep of the operator's records: credentials whose resource is gone, Creates whose
    /// answer never came.
    pub sweep: SweepConfig,
    /// What a namespace losing the right to a user does to the credentials its resources hold.
    pub revocation: Revocation,
    /// Which namespaces may use the operator's own AWS identity (`--ambient-identity`).
    pub ambient: crate::identity::AmbientPolicy,
}

/// When the sweep runs and what it waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepConfig {
    /// How often the records are swept.
    pub interval: Duration,
    /// How long a record's resource must have been gone before its credentials are deleted
    /// (`--orphan-grace`): a resource is matched by uid, so this is for a slow cleanup to finish
    /// first, not for a restore (a restored resource is a new object).
    pub orphan_grace: Duration,
    /// How old a credential nobody holds must be before the sweep decides about it: a Create
    /// answered a moment ago is recorded within this (it covers the IAM call's own timeout).
    pub settle: Duration,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            interval: Duration::from_secs(60),
            orphan_grace: Duration::from_secs(300),
            settle: Duration::from_secs(60),
        }
    }
}

/// `--revocation`: what happens to a credential whose namespace lost the right to its user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Revocation {
    /// Set it Inactive in IAM; a restored right makes it Active again, same password.
    #[default]
    Deactivate,
    /// Delete it; a restored right gets a new credential.
    Delete,
    /// Leave it as it is (the resource still reports NotPermitted).
    Keep,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            policy: PolicyMode::Enforcing,
            resync: Duration::from_secs(600),
            watch_namespaces: Vec::new(),
            shard_selector: None,
            concurrency: 4,
            instance: None,
            rollout_restart: false,
            leading: None,
            shutdown_grace: Duration::from_secs(20),
            sweep: SweepConfig::default(),
            revocation: Revocation::default(),
            ambient: crate::identity::AmbientPolicy::default(),
        }
    }
}

/// Observes reconcile outcomes, for metrics.
pub trait ReconcileObserver: Send + Sync {
    fn reconciled(
        &self,
        resource: &ObjectRef<ServiceSpecificCredential>,
        outcome: Result<Reason, &Error>,
        took: Duration,
    );
    /// The caches of the running controllers (read at each scrape), replacing earlier ones; none
    /// once they stop.
    fn watch(&self, _caches: Vec<Store<CachedCredential>>) {}
    fn forget(&self, _resource: &ObjectRef<ServiceSpecificCredential>) {}
    /// Forgets every resource not in `live` (gone without a cleanup pass).
    fn retain(&self, _live: &std::collections::HashSet<ObjectRef<ServiceSpecificCredential>>) {}
    /// The sweep deleted (or released) one credential; `cause` says why.
    fn swept(&self, _cause: &'static str) {}
    /// The sweep found this many more unclaimed credentials it cannot prove to be the operator's.
    fn unclaimed(&self, _count: usize) {}
}

struct NoopReconcileObserver;

impl ReconcileObserver for NoopReconcileObserver {
    fn reconciled(
        &self,
        _: &ObjectRef<ServiceSpecificCredential>,
        _: Result<Reason, &Error>,
        _: Duration,
    ) {
    }
}

/// Shared state of all reconciles.
pub struct Context {
    pub client: Client,
    /// Where passes read the time.
    pub clock: crate::clock::Clock,
    /// The IAM client of each AWS identity.
    pub directory: Arc<dyn Directory>,
    pub events: events::Publisher,
    pub config: Config,
    /// The controllers' caches of all watched resources (one per watched namespace, or one for
    /// the cluster): which credential ids are claimed.
    pub stores: Vec<Store<CachedCredential>>,
    /// Per resource: failures, backoff, recorded ids.
    pub(crate) tracked: tracked::Tracked,
    /// Reconcile passes so far (the tracked state is pruned every so many).
    passes: std::sync::atomic::AtomicU64,
    /// The pass count at which the next prune is due.
    prune_due: std::sync::atomic::AtomicU64,
    /// One IAM pass (List → Create/adopt → status) at a time per (user, service).
    iam_locks: Mutex<HashMap<(String, String), IamLock>>,
    /// Seats for passes (`Config::concurrency`), handed out fairly between namespaces.
    seats: Arc<crate::fair::Seats>,
    flows: crate::fair::FlowNames,
    observer: Arc<dyn ReconcileObserver>,
    /// When the operator started keeping records (the epoch record's creation), read once.
    epoch: tokio::sync::OnceCell<jiff::Timestamp>,
    /// The records this process read or wrote while it leads.
    pub(crate) records: memo::RecordMemo,
}

/// Reconcile passes between two prunes of the per-resource state, at least; and at least as
/// many as there are resources, so that a prune (O(resources)) costs O(1) a pass.
const PRUNE_EVERY: u64 = 256;

/// Held through one IAM pass of a (user, service).
type IamLock = Arc<tokio::sync::Mutex<()>>;

impl Context {
    /// The state shared by the reconciles of the controllers whose caches are `stores`, reading
    /// the process's clock.
    pub fn new(
        client: Client,
        directory: Arc<dyn Directory>,
        config: Config,
        stores: Vec<Store<CachedCredential>>,
        observer: Option<Arc<dyn ReconcileObserver>>,
    ) -> Self {
        Context {
            events: events::Publisher::new(
                client.clone(),
                FIELD_MANAGER,
                config.instance.as_deref(),
            ),
            seats: crate::fair::Seats::new(usize::from(config.concurrency)),
            flows: crate::fair::FlowNames::default(),
            client,
            clock: crate::clock::Clock::system(),
            directory,
            stores,
            config,
            tracked: tracked::Tracked::default(),
            passes: std::sync::atomic::AtomicU64::new(0),
            prune_due: std::sync::atomic::AtomicU64::new(PRUNE_EVERY),
            iam_locks: Mutex::new(HashMap::new()),
            observer: observer.unwrap_or_else(|| Arc::new(NoopReconcileObserver)),
            epoch: tokio::sync::OnceCell::new(),
            records: memo::RecordMemo::default(),
        }
    }

    /// When the operator started keeping records: the epoch record's creation, made by the
    /// first operator that keeps records (every later one reads it).
    async fn epoch(&self) -> Result<jiff::Timestamp, Error> {
        self.epoch
            .get_or_try_init(|| observe::read_or_make_epoch(&self.client))
            .await
            .copied()
    }

    fn attempt(&self, uid: &str, reason: Reason) -> u32 {
        self.tracked
            .attempt(uid, failure::Category::Reported(reason))
    }

    fn hold_off(&self, resource: &impl cache::RotateRequested, after: Option<Duration>) {
        self.tracked.hold_off(resource, after);
    }

    /// Every [`PRUNE_EVERY`] passes, or every as many passes as there are resources if more:
    /// drops what is kept about resources no watch cache holds any more (deleted without a
    /// cleanup pass, e.g. their finalizer removed by hand).
    fn prune_departed(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let pass = self.passes.fetch_add(1, Relaxed);
        let due = self.prune_due.load(Relaxed);
        if pass < due
            || self
                .prune_due
                // Due again in PRUNE_EVERY passes should this prune not finish (a panic).
                .compare_exchange(due, pass + PRUNE_EVERY, Relaxed, Relaxed)
                .is_err()
        {
            return;
        }
        let live: Vec<Arc<CachedCredential>> =
            self.stores.iter().flat_map(|store| store.state()).collect();
        let uids: std::collections::HashSet<String> = live.iter().filter_map(|r| r.uid()).collect();
        self.records.retain(&uids);
        self.tracked.retain_live(&uids);
        self.observer.retain(
            &live
                .iter()
                .map(|r| ObjectRef::new(&r.name_any()).within(&r.namespace().unwrap_or_default()))
                .collect(),
        );
        let every = PRUNE_EVERY.max(live.len() as u64);
        self.prune_due.store(pass + every, Relaxed);
    }

    /// Waits for the lock serialising IAM passes of the resource's (user, service); IAM user
    /// names are case-insensitive. Held until the guard drops.
    async fn iam_pass(
        &self,
        resource: &ServiceSpecificCredential,
    ) -> tokio::sync::OwnedMutexGuard<()> {
        let lock: IamLock = {
            let mut locks = self.iam_locks.lock().expect("iam locks");
            if locks.len() > 1024 {
                locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            locks
                .entry((
                    resource.spec.user_name.to_lowercase(),
                    resource.spec.service_name.as_str().to_string(),
                ))
                .or_default()
                .clone()
        };
        lock.lock_owned().await
    }
}

fn jitter() -> f64 {
    rand::random::<f64>()
}

async fn reconcile(cached: Arc<CachedCredential>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = cached.namespace().ok_or(Error::NoNamespace)?;
    if let Some(wait) = ctx.tracked.waiting(cached.as_ref()) {
        // Woken by something other than the user (our own status write, a resync): the backoff
        // holds.
        tracing::trace!(?wait, "backing off");
        return Ok(Action::requeue(wait));
    }
    let class = class::pass_class(cached.class_facts(), ctx.clock.now());
    let flow = ctx.flows.of(&namespace);
    let _seat = match ctx.seats.admit(&flow, class).await {
        crate::fair::Admission::Seated(seat) => seat,
        crate::fair::Admission::Later(after) => {
            tracing::trace!(
                ?after,
                "the namespace has enough passes waiting; coming back"
            );
            return Ok(Action::requeue(after));
        }
    };
    ctx.prune_departed();
    // Boxed: a pass waiting for its seat holds only the few bytes above and the cache's copy.
    Box::pin(async move {
        let (resource, cached) = read_back(cached, &ctx, &namespace).await?;
        crate::iam::tagged(
            CallTag { flow, class },
            run_pass(Arc::new(resource), cached, ctx, namespace),
        )
        .await
    })
    .await
}

/// The cached copy whole; should it not read back, the resource as the API server has it (read
/// as the cache reads it: a status the types cannot read dropped), and a copy made of that.
async fn read_back(
    cached: Arc<CachedCredential>,
    ctx: &Context,
    namespace: &str,
) -> Result<(ServiceSpecificCredential, Arc<CachedCredential>), Error> {
    match cached.expand() {
        Ok(resource) => Ok((resource, cached)),
        Err(error) => {
            // Where, not what: the message could quote a tenant's text.
            warn!(
                category = ?error.classify(),
                column = error.column(),
                "the cached copy did not read back; reading the resource from the API server"
            );
            let kind = kube::api::ApiResource::erase::<ServiceSpecificCredential>(&());
            let untyped = Api::<kube::api::DynamicObject>::namespaced_with(
                ctx.client.clone(),
                namespace,
                &kind,
            )
            .get(&cached.name_any())
            .await?;
            let resource = serde_json::to_value(untyped)
                .ok()
                .and_then(|value| cache::read_resource(value).ok())
                .ok_or(Error::UnreadableSpec)?;
            let copy = Arc::new(CachedCredential::from(resource.clone()));
            Ok((resource, copy))
        }
    }
}

/// One pass, once seated. The finalizer is kept through the cache's type, whose reading of the
/// API server's answers drops a status a tenant made unreadable.
async fn run_pass(
    resource: Arc<ServiceSpecificCredential>,
    cached: Arc<CachedCredential>,
    ctx: Arc<Context>,
    namespace: String,
) -> Result<Action, Error> {
    let api = Api::<CachedCredential>::namespaced(ctx.client.clone(), &namespace);
    let started = std::time::Instant::now();
    let oref = ObjectRef::from_obj(resource.as_ref());
    let reported = Mutex::new(None);
    let (pass_resource, pass_ctx, pass_reported) = (&resource, &ctx, &reported);
    let result = finalizer(&api, FINALIZER, cached, |event| async move {
        let (action, reason) = match event {
            FinalizerEvent::Apply(_) => apply(pass_resource, pass_ctx).await?,
            FinalizerEvent::Cleanup(_) => cleanup(pass_resource, pass_ctx).await?,
        };
        *pass_reported.lock().expect("reason lock") = Some(reason);
        Ok(action)
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    let reason = reported.lock().expect("reason lock").take();
    match (&result, reason) {
        (Ok(_), Some(reason)) => ctx
            .observer
            .reconciled(&oref, Ok(reason), started.elapsed()),
        (Ok(_), None) => {}
        (Err(error), _) => ctx
            .observer
            .reconciled(&oref, Err(error), started.elapsed()),
    }
    result
}

/// Wrapper so the finalizer helper can carry the reason out.
type Applied = (Action, Reason);

async fn apply(resource: &ServiceSpecificCredential, ctx: &Context) -> Result<Applied, Error> {
    let uid = resource.uid().unwrap_or_default();
    if ctx
        .tracked
        .trails_own_write(&uid, resource.metadata.resource_version.as_deref())
    {
        // A cached copy from before our last status write: nothing decided on it would stand
        // (the write fence would refuse it), and it would cost requests to find out.
        tracing::debug!("the cached copy trails our own status write; looking again shortly");
        return Ok((Action::requeue(STALE_COPY_RETRY), current_reason(resource)));
    }
    let mut snapshot = observe::observe_kubernetes(ctx, resource).await?;
    if snapshot.moving {
        // The credentials were minted through another identity than the one named now: they are
        // retired through theirs before anything is minted through the new one.
        let _held = ctx.iam_pass(resource).await;
        return act::retire_for_move(ctx, &snapshot).await;
    }
    // List → decide → Create/adopt → status, one pass at a time per (user, service): no two
    // resources of this process decide on the same listing.
    let observed = snapshot.observed();
    let lists_iam = plan::gate(&observed).is_none()
        || plan::revocation_needs_list(&observed)
        || snapshot.migrating;
    drop(observed);
    let _held = if lists_iam {
        let held = ctx.iam_pass(resource).await;
        // What status says is taken into the record only on IAM's answer of now.
        let freshness = if snapshot.migrating {
            observe::Freshness::Exact
        } else {
            observe::Freshness::Recent
        };
        observe::observe_iam(ctx, &mut snapshot, freshness).await;
        Some(held)
    } else {
        None
    };
    if !snapshot.settle_ownership() {
        info!(
            retry_in = ?MIGRATION_RETRY,
            "waiting for an exact IAM listing and complete claims before taking the status of a resource older than the records into its record"
        );
        return Ok((Action::requeue(MIGRATION_RETRY), current_reason(resource)));
    }
    let plan = match plan::plan(&snapshot.observed()) {
        Ok(plan) => plan,
        Err(plan::NeedsExactListing(decision)) => {
            tracing::debug!(
                ?decision,
                "decided from a service snapshot; listing the user to confirm"
            );
            observe::observe_iam(ctx, &mut snapshot, observe::Freshness::Exact).await;
            plan::plan_listed_exactly(&snapshot.observed())
        }
    };
    let script = match plan {
        plan::Plan::Act(script) => script,
        plan::Plan::Wait { after, why } => {
            // With shards, the claims of every shard were read (`observe_iam`).
            info!(retry_in = ?after, "waiting: {why}");
            return Ok((Action::requeue(after), current_reason(resource)));
        }
    };
    tracing::debug!(steps = ?script.steps, "planned");
    if script.repairs_secret {
        if let Some(wait) = ctx.tracked.repairs(&uid).wait_at(ctx.clock.now()) {
            defer_repair(ctx, resource, wait).await;
            return Ok((Action::requeue(wait), current_reason(resource)));
        }
        // Counted when tried, not when done: a Secret the API server keeps refusing backs off too.
        ctx.tracked.note_repair(&uid, ctx.clock.now());
    }
    let wake_at = script.wake_at;
    let class = script.class;
    let outcome = crate::iam::as_class(class, act::act(ctx, &snapshot, script)).await?;

    let attempt = ctx.attempt(&uid, outcome.reason);
    let mut after = outcome
        .reason
        .retry_after(attempt, ctx.config.resync, jitter());
    ctx.hold_off(
        resource,
        after.filter(|_| !outcome.reason.is_ready() && outcome.reason != Reason::Creating),
    );
    // Retirements, rotations and expiries happen on time, not at the next resync.
    if let Some(at) = wake_at {
        let until = at.duration_since(ctx.clock.now());
        let until =
            Duration::try_from(until).unwrap_or(Duration::ZERO) + Duration::from_millis(100);
        after = Some(after.map_or(until, |a| a.min(until)));
    }
    let action = after.map_or_else(Action::await_change, Action::requeue);
    Ok((action, outcome.reason))
}

/// A repair of the resource's Secret waits `wait` (see `repair`); the first pass that waits
/// for each repair says so in an Event.
async fn defer_repair(ctx: &Context, resource: &ServiceSpecificCredential, wait: Duration) {
    let uid = resource.uid().unwrap_or_default();
    info!(retry_in = ?wait, "the Secret keeps being removed or edited; the next repair waits");
    if ctx.tracked.tell_repair_deferred(&uid) {
        let repairs = ctx.tracked.repairs(&uid).count;
        act::publish_warning(
            ctx,
            resource,
            "RepairBackoff",
            "ResetCredential",
            format!(
                "Secret {} keeps being removed or edited: repaired {repairs} times in a row, each with a new secret (an IAM write); the next repair waits {}s",
                resource.secret_name(),
                wait.as_secs().max(1)
            ),
        )
        .await;
    }
}

/// How soon a resource older than the records is looked at again when its status could not be
/// taken into its record yet (IAM or the claims could not be read).
const MIGRATION_RETRY: Duration = Duration::from_secs(10);

/// How soon a pass that saw a copy trailing our own write looks again.
const STALE_COPY_RETRY: Duration = Duration::from_millis(200);

/// The reason the resource reports now (for a pass that changes nothing).
fn current_reason(resource: &ServiceSpecificCredential) -> Reason {
    resource
        .ready_condition()
        .and_then(|c| Reason::from_name(&c.reason))
        .unwrap_or(Reason::Creating)
}

async fn cleanup(resource: &ServiceSpecificCredential, ctx: &Context) -> Result<Applied, Error> {
    let mut snapshot = observe::observe_kubernetes(ctx, resource).await?;
    // Held through the deletes: an orphan is only this resource's if no other pass is recording it.
    let _held = ctx.iam_pass(resource).await;
    if plan::cleanup_needs_list(&snapshot.observed()) {
        observe::observe_iam(ctx, &mut snapshot, observe::Freshness::Exact).await;
    }
    let script = match plan::plan_cleanup(&snapshot.observed())? {
        plan::Plan::Act(script) => script,
        plan::Plan::Wait { after, why } => {
            info!(retry_in = ?after, "waiting: {why}");
            return Ok((Action::requeue(after), Reason::Deleting));
        }
    };
    act::act(ctx, &snapshot, script).await?;
    // Done: the credentials are deleted or released, and the record with them.
    act::forget_record(ctx, &snapshot).await?;
    if let Some(uid) = resource.uid() {
        ctx.tracked.forget(&uid);
    }
    ctx.observer.forget(&ObjectRef::from_obj(resource));
    Ok((Action::await_change(), Reason::Deleting))
}

fn error_policy(resource: Arc<CachedCredential>, error: &Error, ctx: Arc<Context>) -> Action {
    let uid = resource.uid().unwrap_or_default();
    let category = error.category();
    let attempt = ctx.tracked.attempt(&uid, category);
    let after = category
        .retry_after(attempt, ctx.config.resync, jitter())
        .unwrap_or(Duration::from_secs(30));
    match category {
        failure::Category::Reported(Reason::SecretConflict) => {
            warn!(retry_in = ?after, "a Secret of that name was created by someone else while writing it");
            return Action::requeue(after);
        }
        failure::Category::Conflict => {
            tracing::info!(
                retry_in = ?after,
                "resource changed while reconciling; retrying with the newer version"
            );
            return Action::requeue(after);
        }
        _ => {}
    }
    warn!(error = %error, retry_in = ?after, "reconcile failed");
    ctx.hold_off(resource.as_ref(), Some(after));
    Action::requeue(after)
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
    let identities = tokio::spawn(crate::identity::status::run(
        client.clone(),
        directory.clone(),
        shutdown.clone(),
    ));
    let ctx = Arc::new(Context::new(client, directory, config, stores, observer));
    ctx.observer.watch(ctx.stores.clone());
    let sweeper = tokio::spawn(sweep::run(ctx.clone()));
    // Another replica may have written records while this one did not lead.
    let forgetter = ctx.config.leading.clone().map(|mut leading| {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            while leading.changed().await.is_ok() {
                ctx.records.clear();
            }
        })
    });
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
    sweeper.abort();
    identities.abort();
    if let Some(forgetter) = forgetter {
        forgetter.abort();
    }
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
