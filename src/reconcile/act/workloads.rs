//! `spec.rolloutRestart`: the workloads restarted as `kubectl rollout restart` does.

use kube::api::{Api, Patch, PatchParams};

use crate::reconcile::observe::Snapshot;
use crate::reconcile::script::{self, PlannedEvent, RestartRefusal};
use crate::reconcile::{Context, Error, FIELD_MANAGER};

/// The pod-template annotation `kubectl rollout restart` sets.
const RESTARTED_AT_ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";

/// What a restart did, told in Events once recorded.
#[derive(Default)]
pub(super) struct RestartReport {
    restarted: Vec<String>,
    /// Workloads skipped for good (missing, or refused as invalid), with why.
    skipped: Vec<(String, String)>,
}

impl RestartReport {
    pub(super) fn events(&self, issued_at: &str) -> Vec<PlannedEvent> {
        script::restart_events(&self.restarted, &self.skipped, issued_at)
    }
}

/// A restart that fails the pass, and what to tell first.
pub(super) struct RestartFailed {
    pub(super) error: Error,
    pub(super) tell: Option<PlannedEvent>,
}

/// Restarts each `spec.rolloutRestart` workload as `kubectl rollout restart` does, with the
/// credential's issue time as the value, so that doing it twice starts one rollout. What a
/// refusal means is [`script::restart_refusal`]'s.
pub(super) async fn restart_workloads(
    ctx: &Context,
    snapshot: &Snapshot,
    issued_at: &str,
) -> Result<RestartReport, RestartFailed> {
    let resource = &snapshot.observed.resource;
    let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
        RESTARTED_AT_ANNOTATION: issued_at
    }}}}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    let mut report = RestartReport::default();
    for workload in &resource.spec.rollout_restart {
        let client = ctx.client.clone();
        let ns = snapshot.observed.namespace.as_str();
        let name = workload.name.as_str();
        // apps/v1, plural the lowercased kind + "s": deployments, statefulsets, daemonsets.
        let kind = kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "apps",
            "v1",
            workload.kind.as_str(),
        ));
        let result = Api::<kube::api::DynamicObject>::namespaced_with(client, ns, &kind)
            .patch(name, &params, &Patch::Merge(&patch))
            .await;
        let what = format!("{}/{name}", workload.kind.as_str());
        let answer = match result {
            Ok(_) => {
                report.restarted.push(what);
                continue;
            }
            Err(kube::Error::Api(answer)) => answer,
            Err(error) => {
                return Err(RestartFailed {
                    error: Error::RestartWorkload { source: error },
                    tell: None,
                });
            }
        };
        match script::restart_refusal(&what, answer.code, &answer.message) {
            RestartRefusal::Skip(why) => report.skipped.push((what, why)),
            RestartRefusal::Forbidden(event) => {
                return Err(RestartFailed {
                    error: Error::RestartWorkload {
                        source: kube::Error::Api(answer),
                    },
                    tell: Some(event),
                });
            }
            RestartRefusal::Fail => {
                return Err(RestartFailed {
                    error: Error::RestartWorkload {
                        source: kube::Error::Api(answer),
                    },
                    tell: None,
                });
            }
        }
    }
    Ok(report)
}
