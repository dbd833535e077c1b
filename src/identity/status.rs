//! Reports on each `IAMIdentity`: whether its role can be assumed (a session without a
//! namespace, asked GetCallerIdentity), its account and the assumed-role ARN. Never a credential.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, predicates, reflector, watcher};
use kube::{Client, ResourceExt};
use tracing::{debug, warn};

use super::api::{IAMIdentity, IAMIdentitySpec, IAMIdentityStatus};
use super::resolve;
use super::sessions::{CallerIdentity, Directory};
use crate::api::Condition;
use crate::iam::IamError;

/// How often a Ready identity is assumed again (its session is renewed by the SDK anyway).
const RECHECK: Duration = Duration::from_secs(600);
/// How soon an identity that failed is tried again.
const RETRY: Duration = Duration::from_secs(60);

/// Errors of the status pass.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),
}

struct Context {
    client: Client,
    directory: Arc<dyn Directory>,
}

/// What the probe found, as the status says it.
pub(crate) fn status_of(
    generation: Option<i64>,
    previous: Option<&IAMIdentityStatus>,
    outcome: &Result<CallerIdentity, Probe>,
    now: Time,
) -> IAMIdentityStatus {
    let (ready, reason, message, caller) = match outcome {
        Ok(caller) => (
            "True",
            "Assumed".to_string(),
            format!("assumed as {}", caller.arn),
            Some(caller.clone()),
        ),
        Err(Probe::Unusable(why)) => ("False", "InvalidSpec".into(), why.clone(), None),
        Err(Probe::Refused(error)) => ("False", error.code().into(), error.to_string(), None),
    };
    let previous_ready = previous
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .cloned();
    let last_transition_time = match previous_ready {
        Some(c) if c.status == ready => c.last_transition_time,
        _ => now,
    };
    IAMIdentityStatus {
        observed_generation: generation,
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: ready.into(),
            reason,
            message,
            last_transition_time,
            observed_generation: generation,
        }],
        account_id: caller
            .as_ref()
            .map(|c| c.account.clone())
            .or_else(|| previous.and_then(|p| p.account_id.clone())),
        assumed_role_arn: caller.map(|c| c.arn),
    }
}

/// Why an identity could not be assumed.
#[derive(Debug, Clone)]
pub(crate) enum Probe {
    /// Its spec or chain is unusable (no AWS call made).
    Unusable(String),
    /// STS (or the transport) refused.
    Refused(IamError),
}

async fn reconcile(identity: Arc<IAMIdentity>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api = Api::<IAMIdentity>::all(ctx.client.clone());
    let name = identity.name_any();
    let outcome = probe(&api, &name, identity.spec.clone(), &*ctx.directory).await?;
    let status = status_of(
        identity.metadata.generation,
        identity.status.as_ref(),
        &outcome,
        Time(jiff::Timestamp::now()),
    );
    if identity.status.as_ref() != Some(&status) {
        debug!(identity = %name, ready = ?outcome.is_ok(), "IAMIdentity status");
        api.patch_status(
            &name,
            &PatchParams::apply(crate::reconcile::FIELD_MANAGER).force(),
            &Patch::Apply(serde_json::json!({
                "apiVersion": "iam.ssc-operator.dev/v1alpha1",
                "kind": "IAMIdentity",
                "status": status,
            })),
        )
        .await?;
    }
    Ok(Action::requeue(if outcome.is_ok() {
        RECHECK
    } else {
        RETRY
    }))
}

/// Follows the chain (reading its sources from the API server) and assumes it.
async fn probe(
    api: &Api<IAMIdentity>,
    name: &str,
    spec: IAMIdentitySpec,
    directory: &dyn Directory,
) -> Result<Result<CallerIdentity, Probe>, Error> {
    let sources =
        super::read::chain_specs(api, spec.source_identity_ref.clone().map(|r| r.name)).await?;
    let lookup = |n: &str| sources.get(n).cloned().flatten();
    let chain = match resolve::chain(name, spec, &lookup) {
        Ok(chain) => chain,
        Err(why) => return Ok(Err(Probe::Unusable(why))),
    };
    Ok(directory.whoami(&chain).await.map_err(Probe::Refused))
}

fn error_policy(_: Arc<IAMIdentity>, error: &Error, _: Arc<Context>) -> Action {
    warn!(%error, "IAMIdentity status pass failed");
    Action::requeue(RETRY)
}

/// Keeps every IAMIdentity's status until `shutdown` resolves.
pub(crate) async fn run(
    client: Client,
    directory: Arc<dyn Directory>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api = Api::<IAMIdentity>::all(client.clone());
    let ctx = Arc::new(Context { client, directory });
    // Woken by spec changes only (and its own schedule): a status write, this replica's or
    // another shard's, must not start another probe.
    let (reader, writer) = reflector::store();
    let identities = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(predicates::generation, Default::default());
    Controller::for_stream(identities, reader)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                warn!(%error, "IAMIdentity controller");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn the_status_says_who_the_session_is_and_keeps_its_transition_time() {
        let caller = CallerIdentity {
            account: "210987654321".into(),
            arn: "arn:aws:sts::210987654321:assumed-role/r/ssc-operator".into(),
        };
        let ready = status_of(Some(1), None, &Ok(caller.clone()), t(10));
        assert_eq!(ready.account_id.as_deref(), Some("210987654321"));
        assert_eq!(ready.conditions[0].reason, "Assumed");
        let again = status_of(Some(1), Some(&ready), &Ok(caller), t(20));
        assert_eq!(again, ready, "nothing to write");
        let refused = status_of(
            Some(2),
            Some(&ready),
            &Err(Probe::Refused(IamError::AccessDenied {
                message: "not authorized to perform: sts:AssumeRole".into(),
            })),
            t(30),
        );
        assert_eq!(refused.conditions[0].status, "False");
        assert_eq!(refused.conditions[0].reason, "AccessDenied");
        assert_eq!(refused.conditions[0].last_transition_time, t(30));
        assert_eq!(refused.assumed_role_arn, None);
        assert_eq!(refused.account_id.as_deref(), Some("210987654321"));
    }
}
