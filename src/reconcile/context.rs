//! What every pass shares: clients, caches, the fair seats, per-resource memory, and the
//! observer that metrics and tests hang on.

use super::*;

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

pub(super) struct NoopReconcileObserver;

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
pub(crate) struct Context {
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
    pub(super) passes: std::sync::atomic::AtomicU64,
    /// The pass count at which the next prune is due.
    pub(super) prune_due: std::sync::atomic::AtomicU64,
    /// One IAM pass (List → Create/adopt → status) at a time per (user, service).
    pub(super) iam_locks: Mutex<HashMap<(String, String), IamLock>>,
    /// Seats for passes (`Config::concurrency`), handed out fairly between namespaces.
    pub(super) seats: Arc<crate::fair::Seats>,
    pub(super) flows: crate::fair::FlowNames,
    pub(super) observer: Arc<dyn ReconcileObserver>,
    /// When the operator started keeping records (the epoch record's creation), read once.
    pub(super) epoch: tokio::sync::OnceCell<jiff::Timestamp>,
    /// The records this process read or wrote while it leads.
    pub(crate) records: memo::RecordMemo,
}

/// Reconcile passes between two prunes of the per-resource state, at least; and at least as
/// many as there are resources, so that a prune (O(resources)) costs O(1) a pass.
pub(super) const PRUNE_EVERY: u64 = 256;

/// Held through one IAM pass of a (user, service).
pub(super) type IamLock = Arc<tokio::sync::Mutex<()>>;

impl Context {
    /// The state shared by the reconciles of the controllers whose caches are `stores`, reading
    /// the process's clock.
    pub(crate) fn new(
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
    pub(super) async fn epoch(&self) -> Result<jiff::Timestamp, Error> {
        self.epoch
            .get_or_try_init(|| observe::read_or_make_epoch(&self.client))
            .await
            .copied()
    }

    pub(super) fn attempt(&self, uid: &str, reason: Reason) -> u32 {
        self.tracked
            .attempt(uid, failure::Category::Reported(reason))
    }

    pub(super) fn hold_off(&self, resource: &impl cache::RotateRequested, after: Option<Duration>) {
        self.tracked.hold_off(resource, after);
    }

    /// Every [`PRUNE_EVERY`] passes, or every as many passes as there are resources if more:
    /// drops what is kept about resources no watch cache holds any more (deleted without a
    /// cleanup pass, e.g. their finalizer removed by hand).
    pub(super) fn prune_departed(&self) {
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
        let uids: std::collections::HashSet<crate::uid::UidKey> = live
            .iter()
            .filter_map(|r| r.uid())
            .map(|uid| crate::uid::UidKey::of(&uid))
            .collect();
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
    pub(super) async fn iam_pass(
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

pub(super) fn jitter() -> f64 {
    rand::random::<f64>()
}
