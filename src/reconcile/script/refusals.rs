//! How a refused Secret write or workload restart is told.

use super::*;

/// What the API server's refusal of the Secret's dry run (`code`, `reason`, `message`) means:
/// the Ready reason and message to report, or `None` when it is no verdict on the Secret (the
/// pass fails and is retried).
pub(crate) fn secret_refusal(
    code: u16,
    reason: &str,
    message: &str,
    secret: &str,
) -> Option<(Reason, String)> {
    match code {
        409 if reason == "AlreadyExists" => Some((
            Reason::SecretConflict,
            format!("a Secret named {secret} was created by someone else; it is never overwritten"),
        )),
        400 | 403 | 413 | 422 => Some((
            Reason::InvalidSpec,
            format!("the API server rejects the Secret this resource would write: {message}"),
        )),
        _ => None,
    }
}

/// What a refused restart of workload `what` means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RestartRefusal {
    /// Missing, or refused as invalid: skipped for good, with why (told once recorded).
    Skip(String),
    /// The operator may not patch it (RBAC not granted yet): told at once, and the pass fails
    /// (retried with backoff).
    Forbidden(PlannedEvent),
    /// Any other failure fails the pass.
    Fail,
}

pub(crate) fn restart_refusal(what: &str, code: u16, message: &str) -> RestartRefusal {
    match code {
        400 | 404 | 422 => RestartRefusal::Skip(message.to_string()),
        403 => RestartRefusal::Forbidden(PlannedEvent::warning(
            "RolloutRestartForbidden",
            "RolloutRestart",
            format!(
                "the operator may not patch {what} ({message}); grant it patch on apps workloads (Helm rolloutRestart.enabled, kustomize deploy/rollout-restart); retrying"
            ),
        )),
        _ => RestartRefusal::Fail,
    }
}

/// The Events telling what a restart for the credential issued at `issued_at` did.
pub(crate) fn restart_events(
    restarted: &[String],
    skipped: &[(String, String)],
    issued_at: &str,
) -> Vec<PlannedEvent> {
    let mut events: Vec<PlannedEvent> = skipped
        .iter()
        .map(|(what, why)| {
            PlannedEvent::warning(
                "RolloutRestartFailed",
                "RolloutRestart",
                format!("could not restart {what}: {why}"),
            )
        })
        .collect();
    if !restarted.is_empty() {
        events.push(PlannedEvent::normal(
            "WorkloadsRestarted",
            "RolloutRestart",
            format!(
                "restarted {} for the credential issued at {issued_at}",
                restarted.join(", ")
            ),
        ));
    }
    events
}
