//! What a pass does, as data: the steps that carry a [`Decision`] out, in the order that keeps
//! the one-time secret safe (see [`crate::reconcile::plan`]), with what each failure means.
//! Pure: [`for_decision`] and [`for_cleanup`] only read the observation; `act` runs the steps.
//!
//! What a step cannot know in advance — the credential an IAM call issues, the time of a write,
//! an error's text — it names ([`StatusEdit::IssuedCredential`], [`Note::Created`], …) and `act`
//! fills in.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{DesiredStatus, ServiceSpecificCredentialStatus};
use crate::fair::Class;
use crate::iam::{CredentialMetadata, CredentialStatus};
use crate::reconcile::conditions::Reason;
use crate::reconcile::plan::{
    Decision, Observed, ResetCause, RotationTrigger, SecretObservation, WorkloadRestart,
    intent_settled,
};

mod edits;
mod events;
mod issue;
mod refusals;
mod steps;
mod upkeep;
pub(crate) use edits::*;
pub(crate) use events::*;
use issue::*;
pub(crate) use refusals::*;
pub(crate) use steps::*;
pub(crate) use upkeep::*;

/// Collects the steps of one pass, tracking the Ready reason each status write leaves so that a
/// write that changes it is followed by its Event.
struct Steps {
    steps: Vec<Step>,
    ready: Option<String>,
    /// A rotate request answered but not recorded (see `plan::answered_unrecorded`): the first
    /// status write records it, whatever else the pass does.
    answered: Option<StatusEdit>,
}

impl Steps {
    fn new(observed: &Observed) -> Self {
        Steps {
            steps: Vec::new(),
            ready: observed.status.ready().map(|c| c.reason.clone()),
            answered: crate::reconcile::plan::answered_unrecorded(observed).map(|a| {
                StatusEdit::Answered {
                    request: a.request.clone(),
                    at: a.at,
                }
            }),
        }
    }

    fn push(&mut self, step: Step) -> &mut Self {
        self.steps.push(step);
        self
    }

    fn publish(&mut self, event: PlannedEvent) -> &mut Self {
        self.push(Step::Publish(event))
    }

    /// The Event is decided here, not when the write runs: every write a pass makes that the
    /// plan does not foresee (a refusal, a failure) ends it, so the reason each planned write
    /// follows is known now.
    fn status(&mut self, mut write: StatusWrite) -> &mut Self {
        if let Some(answered) = self.answered.take() {
            // First: what the pass itself does (a renewal's rotation time) comes after it.
            write.edits.insert(0, answered);
        }
        let event = ready_transition(self.ready.as_deref(), write.reason, &write.message);
        self.ready = Some(write.reason.as_str().to_string());
        self.push(Step::WriteStatus(write));
        if let Some(event) = event {
            self.publish(event);
        }
        self
    }

    fn finish(self, observed: &Observed, outcome: Reason, class: Class) -> Script {
        Script {
            steps: self.steps,
            outcome,
            class,
            repairs_secret: false,
            wake_at: crate::reconcile::plan::wake_at(observed),
        }
    }
}

fn write(edits: Vec<StatusEdit>, reason: Reason, message: String) -> StatusWrite {
    StatusWrite {
        edits,
        reason,
        message,
        records_iam_write: false,
    }
}

fn record(edits: Vec<StatusEdit>, reason: Reason, message: String) -> StatusWrite {
    StatusWrite {
        records_iam_write: true,
        ..write(edits, reason, message)
    }
}

/// The edits that name `held` (a credential IAM reported) and drop an intent marker it settles.
fn naming(observed: &Observed, held: &CredentialMetadata) -> Vec<StatusEdit> {
    let mut edits = vec![StatusEdit::Credential(held.clone())];
    if observed.status.create_requested_at.is_some() && intent_settled(observed, held) {
        edits.push(StatusEdit::SettleIntent);
    }
    // The write that named the Secret may have failed after the Secret got the credential:
    // status says it now, or a rename would find no Secret to move from. Not while our Secret
    // under the name status gives is still there: status is how it is found to be deleted.
    if crate::reconcile::plan::secret_holds(observed, held)
        && !observed.old_secret
        && observed.status.secret_name.as_deref() != Some(observed.secret_name.as_str())
    {
        edits.push(StatusEdit::SecretName(observed.secret_name.to_string()));
    }
    edits
}

fn grace_period(observed: &Observed) -> Duration {
    observed
        .spec()
        .rotation
        .as_ref()
        .map_or(crate::api::DEFAULT_GRACE_PERIOD, |r| r.grace())
}

fn create_call(observed: &Observed) -> IamCall {
    IamCall::Create {
        user: observed.spec().user_name.clone(),
        service: observed.spec().service_name.as_str().to_string(),
        age_days: observed.spec().credential_age_days,
    }
}

/// The IAM Delete of credential `id`, told by `event` (reason, text) once done.
fn deletion(
    observed: &Observed,
    id: &str,
    event: (&'static str, String),
    if_gone: IfGone,
    if_failed: IfFailed,
) -> Step {
    Step::Iam(IamStep {
        call: IamCall::Delete {
            user: observed.spec().user_name.clone(),
            id: id.to_string(),
        },
        announce: Some(PlannedEvent::normal(event.0, "DeleteCredential", event.1)),
        if_gone,
        if_failed,
    })
}

/// The user's slots once a Create succeeded: the ones listed plus the new one.
fn slots_after_create(observed: &Observed) -> Option<i32> {
    match &observed.credentials {
        Some(Ok(list)) => Some(list.len() as i32 + 1),
        _ => None,
    }
}

/// The steps that carry `decision` out.
pub(crate) fn for_decision(observed: &Observed, decision: Decision) -> Script {
    let class = decision.class();
    let repairs_secret = matches!(
        decision,
        Decision::Reset {
            cause: ResetCause::SecretLost,
            ..
        }
    );
    let mut steps = Steps::new(observed);
    if decision.needs_freshness_check() {
        steps.push(Step::ProveCurrent);
    }
    if decision.writes_secret() && secret_may_be_refused(observed) {
        steps.push(Step::PreflightSecret);
    }
    let outcome = match decision {
        Decision::Report {
            reason,
            message,
            credential,
            slots_used,
        } => {
            let mut edits = credential.map_or_else(Vec::new, |c| naming(observed, &c));
            if let Some(n) = slots_used {
                edits.push(StatusEdit::SlotsUsed(Some(n as i32)));
            }
            steps.status(write(edits, reason, message));
            reason
        }
        Decision::Create { replaces, existing } => create(&mut steps, observed, replaces, existing),
        Decision::Recreate { old, existing, .. } => recreate(&mut steps, observed, &old, existing),
        Decision::Reset { credential, cause } => reset(&mut steps, observed, &credential, &cause),
        Decision::UpdateStatus {
            credential,
            desired,
        } => update_status(&mut steps, observed, &credential, desired),
        Decision::RewriteSecret { credential } => rewrite_secret(&mut steps, observed, &credential),
        Decision::Retire { id } => retire(&mut steps, observed, id),
        Decision::Revoke {
            credential,
            delete,
            refusal,
        } => revoke(&mut steps, observed, &credential, delete, refusal),
        Decision::FollowCredential {
            credential,
            slots_used,
            issued_at,
            restart,
        } => follow_credential(
            &mut steps,
            observed,
            &credential,
            slots_used,
            issued_at,
            restart,
        ),
    };
    Script {
        repairs_secret,
        ..steps.finish(observed, outcome, class)
    }
}

/// Whether the API server may refuse the Secret for its shape, so that a dry run must ask before
/// IAM issues a secret that would have nowhere to go: a template (type, labels, annotations,
/// rendered keys), a Secret of ours that differs from what is written now (its type cannot
/// change), or an immutable one. The operator's plain Secret skips the dry run (one write less
/// per credential); what can still refuse it (a Secret quota, an admission policy) then shows
/// as Ready=Creating naming the credential, and each retry is a repair, counted in the repair
/// backoff, so the IAM writes it costs grow with the log of the time it lasts.
fn secret_may_be_refused(observed: &Observed) -> bool {
    let templated = observed.spec().secret.template.is_some();
    let reshaped = matches!(
        observed.secret,
        SecretObservation::Owned {
            up_to_date: false,
            ..
        }
    );
    templated || reshaped || observed.secret_immutable
}

#[cfg(test)]
mod tests;
