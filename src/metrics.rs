//! Prometheus metrics (text format on `/metrics`). Labels are reasons, operations, error codes
//! and, for the per-credential gauges, the resource's namespace and name: never IAM user names,
//! credential ids or anything secret.

mod credentials;
mod process;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::reflector::{ObjectRef, Store};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::ServiceSpecificCredential;
use crate::iam::{IamError, IamObserver};
use crate::reconcile::conditions::Reason;
use crate::reconcile::{Error, ReconcileObserver};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabels {
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IamLabels {
    /// The AWS account (bounded: the accounts of the IAMIdentities and the operator's own).
    account: String,
    operation: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SweptLabels {
    cause: String,
}

/// All metrics of the operator.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabels, Counter>,
    reconcile_errors: Family<CategoryLabels, Counter>,
    reconcile_duration: Histogram,
    iam_calls: Family<IamLabels, Counter>,
    rate_limiter_wait: Histogram,
    resources: Family<ReasonLabels, Gauge>,
    leader: Gauge,
    swept: Family<SweptLabels, Counter>,
    unclaimed: Counter,
    credentials: credentials::CredentialCollector,
    reasons: Mutex<HashMap<ReasonKey, Reason>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        // Process metrics carry the conventional unprefixed names; ours are `ssc_operator_*`.
        let mut root = Registry::default();
        root.register_collector(Box::new(process::ProcessCollector::new()));
        let registry = root.sub_registry_with_prefix("ssc_operator");
        let reconciles = Family::<ResultLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by result (the Ready reason, or error)",
            reconciles.clone(),
        );
        let reconcile_errors = Family::<CategoryLabels, Counter>::default();
        registry.register(
            "reconcile_errors",
            "Failed reconciles by category (the Ready reason of an IAM failure or of SecretConflict, Conflict, KubernetesError, RenderError)",
            reconcile_errors.clone(),
        );
        let reconcile_duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile",
            reconcile_duration.clone(),
        );
        let iam_calls = Family::<IamLabels, Counter>::default();
        registry.register(
            "iam_calls",
            "IAM (and STS AssumeRole) calls by AWS account, operation and outcome code",
            iam_calls.clone(),
        );
        let rate_limiter_wait = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "iam_rate_limiter_wait_seconds",
            "Time IAM calls waited for the client-side rate limiter",
            rate_limiter_wait.clone(),
        );
        let resources = Family::<ReasonLabels, Gauge>::default();
        // Every reason from the start, at 0: a series that appears only when first non-zero
        // breaks rate() and absent() in alerts.
        for reason in Reason::all() {
            drop(resources.get_or_create(&ReasonLabels {
                reason: reason.as_str().into(),
            }));
        }
        registry.register(
            "resources",
            "ServiceSpecificCredentials by Ready reason",
            resources.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease",
            leader.clone(),
        );
        let swept = Family::<SweptLabels, Counter>::default();
        registry.register(
            "swept_credentials",
            "IAM credentials the sweep deleted by cause: orphaned (their resource went without cleanup), released (Retain: record dropped, credential kept) or late_create (made by a Create whose answer never came)",
            swept.clone(),
        );
        let unclaimed = Counter::default();
        registry.register(
            "unclaimed_credentials",
            "Credentials of managed users found while a Create's outcome was unknown that nobody holds and the sweep cannot prove to be the operator's (left untouched), each counted once",
            unclaimed.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .set(1);
        registry.register(
            "build_info",
            "Always 1; the version of the running binary",
            build_info,
        );
        let credentials = credentials::CredentialCollector::default();
        registry.register_collector(Box::new(credentials.clone()));

        Metrics {
            registry: root,
            credentials,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            iam_calls,
            rate_limiter_wait,
            resources,
            leader,
            swept,
            unclaimed,
            reasons: Mutex::new(HashMap::new()),
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The gauge of resources whose last pass ended in `reason`.
    fn resources_with(&self, reason: Reason) -> Gauge {
        self.resources
            .get_or_create(&ReasonLabels {
                reason: reason.as_str().into(),
            })
            .clone()
    }

    /// Moves a resource's count from the reason it had (if any) to the one it has (if any):
    /// O(1) a pass, where recounting every resource each pass was O(N²) a resync.
    fn count_moved(&self, from: Option<Reason>, to: Option<Reason>) {
        if from == to {
            return;
        }
        if let Some(from) = from {
            self.resources_with(from).dec();
        }
        if let Some(to) = to {
            self.resources_with(to).inc();
        }
    }
}

impl ReconcileObserver for Metrics {
    fn reconciled(
        &self,
        resource: &ObjectRef<ServiceSpecificCredential>,
        outcome: Result<Reason, &Error>,
        took: Duration,
    ) {
        self.reconcile_duration.observe(took.as_secs_f64());
        let result = match outcome {
            Ok(reason) => reason.as_str(),
            Err(error) => {
                self.reconcile_errors
                    .get_or_create(&CategoryLabels {
                        category: error.category().as_str().into(),
                    })
                    .inc();
                "error"
            }
        };
        self.reconciles
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
        if let Ok(reason) = outcome {
            let mut reasons = self.reasons.lock().expect("reasons lock");
            let before = if reason == Reason::Deleting {
                reasons.remove(&reason_key(resource))
            } else {
                reasons.insert(reason_key(resource), reason)
            };
            let after = (reason != Reason::Deleting).then_some(reason);
            self.count_moved(before, after);
        }
    }

    fn watch(&self, caches: Vec<Store<crate::reconcile::CachedCredential>>) {
        self.credentials.watch(caches);
    }

    fn swept(&self, cause: &'static str) {
        self.swept
            .get_or_create(&SweptLabels {
                cause: cause.into(),
            })
            .inc();
    }

    fn unclaimed(&self, count: usize) {
        self.unclaimed.inc_by(count as u64);
    }

    fn forget(&self, resource: &ObjectRef<ServiceSpecificCredential>) {
        let mut reasons = self.reasons.lock().expect("reasons lock");
        let before = reasons.remove(&reason_key(resource));
        self.count_moved(before, None);
    }

    fn retain(&self, live: &std::collections::HashSet<ObjectRef<ServiceSpecificCredential>>) {
        let mut reasons = self.reasons.lock().expect("reasons lock");
        reasons.retain(|(namespace, name), reason| {
            let keep = live.contains(&ObjectRef::new(name).within(namespace));
            if !keep {
                self.count_moved(Some(*reason), None);
            }
            keep
        });
    }
}

/// The key of a resource's last reason: its namespace and name (a reference is 100 bytes and
/// up to four strings, 10,000 times over).
type ReasonKey = (Box<str>, Box<str>);

fn reason_key(resource: &ObjectRef<ServiceSpecificCredential>) -> ReasonKey {
    (
        resource.namespace.as_deref().unwrap_or_default().into(),
        resource.name.as_str().into(),
    )
}

impl IamObserver for Metrics {
    fn call(
        &self,
        account: &str,
        operation: &'static str,
        result: Result<(), &IamError>,
        waited: Duration,
    ) {
        let code = match result {
            Ok(()) => "Success",
            Err(e) => e.code(),
        };
        self.iam_calls
            .get_or_create(&IamLabels {
                account: account.into(),
                operation: operation.into(),
                code: code.into(),
            })
            .inc();
        self.rate_limiter_wait.observe(waited.as_secs_f64());
    }
}

#[cfg(test)]
mod tests;
