//! The Events and Ready transitions a script announces.

use super::*;

/// An Event a pass publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlannedEvent {
    pub warning: bool,
    pub reason: &'static str,
    pub action: &'static str,
    pub note: Note,
}

/// An Event's text; never secret material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Note {
    Text(String),
    /// "created IAM credential NEW (LOGIN) and wrote Secret `secret`".
    Created {
        secret: String,
    },
    /// "created IAM credential NEW to replace `old` (Recreate); …".
    Replaced {
        old: String,
        grace: Duration,
    },
}

impl Note {
    /// The text, naming `issued` (the credential this pass's IAM call issued) where it says so.
    pub(crate) fn text(&self, issued: Option<&CredentialMetadata>) -> String {
        let id = issued.map_or("?", |c| c.id.as_str());
        match self {
            Note::Text(text) => text.clone(),
            Note::Created { secret } => format!(
                "created IAM credential {id} ({}) and wrote Secret {secret}",
                issued.map_or("?", |c| c.login())
            ),
            Note::Replaced { old, grace } => format!(
                "created IAM credential {id} to replace {old} (Recreate); {old} stays valid for {}s",
                grace.as_secs()
            ),
        }
    }
}

impl PlannedEvent {
    pub(super) fn normal(reason: &'static str, action: &'static str, note: String) -> Self {
        PlannedEvent {
            warning: false,
            reason,
            action,
            note: Note::Text(note),
        }
    }

    pub(crate) fn warning(reason: &'static str, action: &'static str, note: String) -> Self {
        PlannedEvent {
            warning: true,
            ..PlannedEvent::normal(reason, action, note)
        }
    }
}

/// The Event of a status write that changes the Ready reason from `previous` into a failure or
/// out of one; none otherwise.
pub(crate) fn ready_transition(
    previous: Option<&str>,
    reason: Reason,
    message: &str,
) -> Option<PlannedEvent> {
    if previous == Some(reason.as_str()) {
        return None;
    }
    // Progress (Creating, Rotating, Available after either) is what status and the pass's own
    // Event (CredentialCreated, CredentialRotated, …) tell: an Event of its own only repeats it.
    let recovering = previous
        .and_then(Reason::from_name)
        .is_some_and(Reason::is_warning);
    if !reason.is_warning() && !recovering {
        return None;
    }
    let note = if message.is_empty() {
        format!("Ready: {reason}")
    } else {
        message.to_string()
    };
    Some(PlannedEvent {
        warning: reason.is_warning(),
        reason: reason.as_str(),
        action: "Reconcile",
        note: Note::Text(note),
    })
}

/// What a Reset for `cause` tells (`credential` is the one reset, `secret` the Secret's name).
pub(crate) fn reset_event(cause: &ResetCause, credential: &str, secret: &str) -> PlannedEvent {
    let action = "ResetCredential";
    match cause {
        ResetCause::Adopt => PlannedEvent::normal(
            "CredentialAdopted",
            action,
            format!(
                "adopted IAM credential {credential} left by an interrupted create and reset its secret"
            ),
        ),
        ResetCause::AdoptRequested => PlannedEvent::normal(
            "CredentialAdopted",
            action,
            format!(
                "took over IAM credential {credential} as spec.adopt asked and reset its secret"
            ),
        ),
        ResetCause::SecretLost => PlannedEvent::warning(
            "SecretRepaired",
            action,
            format!(
                "Secret {secret} was missing or its credential keys were edited; reset IAM credential {credential} and rewrote it"
            ),
        ),
        ResetCause::Rotate(_) => PlannedEvent::normal(
            "CredentialRotated",
            action,
            format!("rotated IAM credential {credential} (reset)"),
        ),
        ResetCause::AdoptRotation { old } => PlannedEvent::normal(
            "CredentialRotated",
            action,
            format!(
                "adopted IAM credential {credential} left by an interrupted rotation (reset); {old} retires after the grace period"
            ),
        ),
    }
}

/// Whether a Reset for `cause` takes over a credential status does not name yet: status then
/// names it before its secret goes anywhere.
pub(crate) fn reset_adopts(cause: &ResetCause) -> bool {
    matches!(
        cause,
        ResetCause::Adopt | ResetCause::AdoptRequested | ResetCause::AdoptRotation { .. }
    )
}
