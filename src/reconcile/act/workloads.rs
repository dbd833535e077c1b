//! `spec.rolloutRestart`: the workloads restarted as `kubectl rollout restart` does, and what
//! that did told in Events.

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;

use crate::api::ServiceSpecificCredential;
use crate::reconcile::observe::Snapshot;
use crate::reconcile::{Context, Error, FIELD_MANAGER};

use super::publish;

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
    pub(super) async fn publish(
        &self,
        ctx: &Context,
        resource: &ServiceSpecificCredential,
        issued_at: &str,
    ) {
        for (what, why) in &self.skipped {
            publish(
                ctx,
                resource,
                EventType::Warning,
                "RolloutRestartFailed",
                "RolloutRestart",
                format!("could not restart {what}: {why}"),
            )
            .await;
        }
        if !self.restarted.is_empty() {
            publish(
                ctx,
                resource,
                EventType::Normal,
                "WorkloadsRestarted",
                "RolloutRestart",
                format!(
                    "restarted {} for the credential issued at {issued_at}",
                    self.restarted.join(", ")
                ),
            )
            .await;
        }
    }
}

/// Restarts each `spec.rolloutRestart` workload as `kubectl rollout restart` does, with the
/// credential's issue time as the value, so that doing it twice starts one rollout. A workload
/// that is missing or refuses the patch as invalid is skipped (and reported); a refusal of the
/// operator's rights (RBAC not granted yet) or any other failure fails the pass, which is
/// retried with backoff.
pub(super) async fn restart_workloads(
    ctx: &Context,
    snapshot: &Snapshot,
    issued_at: &str,
) -> Result<RestartReport, Error> {
    let resource = &snapshot.resource;
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
        let ns = snapshot.namespace.as_str();
        let name = workload.name.as_str();
        // apps/v1, plural the lowercased kind + "s": deployments, statefulsets, daemonsets.
        let kind = kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "apps",
            "v1",
            workload.kind.as_str(),
        ));
        let result = Api::<kube::api::DynamicObject>::namespaced_with(client, ns, &kind)
            .patch(name, &params, &Patch::Merge(&patch))
            .await
            .map(|_| ());
        let what = format!("{}/{name}", workload.kind.as_str());
        match result {
            Ok(()) => report.restarted.push(what),
            Err(kube::Error::Api(e)) if matches!(e.code, 400 | 404 | 422) => {
                report.skipped.push((what, e.message));
            }
            Err(kube::Error::Api(e)) if e.code == 403 => {
                publish(
                    ctx,
                    resource,
                    EventType::Warning,
                    "RolloutRestartForbidden",
                    "RolloutRestart",
                    format!(
                        "the operator may not patch {what} ({}); grant it patch on apps workloads (Helm rolloutRestart.enabled, kustomize deploy/rollout-restart); retrying",
                        e.message
                    ),
                )
                .await;
                return Err(kube::Error::Api(e).into());
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(report)
}
