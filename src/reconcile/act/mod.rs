//! Carries a [`Script`] out, step by step, and nothing else: every choice — which checks, which
//! calls, what each failure means, what status and Events say — was made by
//! [`crate::reconcile::plan`] and [`crate::reconcile::script`]. What only the calls can tell
//! (the credential an IAM call issued, an error, the time of a write) is filled in here.

mod moving;
mod record;
mod secrets;
mod status;
#[cfg(test)]
mod tests;
mod workloads;

use jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use tracing::{info, warn};

use crate::api::ServiceSpecificCredentialStatus;
use crate::iam::{CredentialMetadata, IamError, IssuedCredential};
use crate::reconcile::conditions::{Reason, ready_condition, reason_for};
use crate::reconcile::observe::Snapshot;
use crate::reconcile::script::{
    self, IamCall, IamStep, IfFailed, IfGone, PlannedEvent, Script, SecretMaterial, SecretSource,
    SecretWrite, StatusEdit, StatusWrite, Step,
};
use crate::reconcile::{Context, Error, FIELD_MANAGER, plan, schedule};
use crate::secret;

pub(crate) use moving::retire_for_move;
pub(crate) use record::forget as forget_record;
pub(crate) use status::patch_status;

/// What a pass ended with: the reason now reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub reason: Reason,
}

/// Runs `script`'s steps in order; the first that fails or ends the pass stops it.
pub(crate) async fn act(
    ctx: &Context,
    snapshot: &Snapshot,
    script: Script,
) -> Result<Outcome, Error> {
    let mut run = Run::new(ctx, snapshot);
    if snapshot.migrating {
        // Taken into the record once, whatever this pass writes to status.
        run.record
            .keep(ctx, snapshot, &snapshot.observed.status, ctx.clock.now())
            .await?;
    }
    for step in &script.steps {
        if let Flow::End(reason) = run.step(step).await? {
            return Ok(Outcome { reason });
        }
    }
    Ok(Outcome {
        reason: script.outcome,
    })
}

enum Flow {
    Next,
    /// The pass ends here with this reason.
    End(Reason),
}

/// What one pass has done so far.
struct Run<'a> {
    ctx: &'a Context,
    snapshot: &'a Snapshot,
    /// The status last written (at first, the observed one with the ownership the record
    /// says): the base of the next write.
    written: ServiceSpecificCredentialStatus,
    /// What the object's status holds (at first, what was observed, which a tenant may have
    /// written): a write sends what differs from it.
    live: ServiceSpecificCredentialStatus,
    /// The operator's record of this resource as last read or written.
    record: record::Keeper,
    fence: Fence,
    /// What this pass's IAM Create or Reset issued, and when it answered.
    issued: Option<(IssuedCredential, Timestamp)>,
    restarts: workloads::RestartReport,
}

/// The resourceVersion the next status write is conditioned on: the snapshot's, then the one
/// this pass last wrote. `confirmed` once a conditioned write succeeded, which proved the
/// snapshot was not a stale cached copy.
#[derive(Debug, Default)]
struct Fence {
    resource_version: Option<String>,
    confirmed: bool,
}

impl<'a> Run<'a> {
    fn new(ctx: &'a Context, snapshot: &'a Snapshot) -> Self {
        Run {
            ctx,
            snapshot,
            written: snapshot.observed.status.clone(),
            live: snapshot.raw_status.clone(),
            record: record::Keeper::new(snapshot),
            fence: Fence {
                resource_version: snapshot.observed.resource.resource_version(),
                confirmed: false,
            },
            issued: None,
            restarts: workloads::RestartReport::default(),
        }
    }

    async fn step(&mut self, step: &Step) -> Result<Flow, Error> {
        let (ctx, snapshot) = (self.ctx, self.snapshot);
        match step {
            Step::ProveCurrent => self.ensure_current().await?,
            Step::PreflightSecret => {
                if let Some((reason, message)) = secrets::preflight_secret(ctx, snapshot).await? {
                    self.report(reason, message, &[]).await?;
                    return Ok(Flow::End(reason));
                }
            }
            Step::WriteStatus(write) => self.write(write).await?,
            Step::WriteRecord(edits) => self.write_record(edits).await?,
            Step::Iam(iam) => return self.iam(iam).await,
            Step::WriteSecret(write) => return self.write_secret(write).await,
            Step::DeleteOldSecret => secrets::delete_old_secret(ctx, snapshot).await?,
            Step::ReleaseSecrets { credential_id } => {
                secrets::release_secrets(ctx, snapshot, credential_id).await?;
            }
            Step::RestartWorkloads { issued_at } => {
                match workloads::restart_workloads(ctx, snapshot, issued_at).await {
                    Ok(report) => self.restarts = report,
                    Err(failed) => {
                        if let Some(event) = &failed.tell {
                            self.publish(event).await;
                        }
                        return Err(failed.error);
                    }
                }
            }
            Step::TellRestarts { issued_at } => {
                for event in self.restarts.events(issued_at) {
                    self.publish(&event).await;
                }
            }
            Step::Publish(event) => self.publish(event).await,
        }
        Ok(Flow::Next)
    }

    async fn publish(&self, event: &PlannedEvent) {
        let type_ = if event.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        let note = event.note.text(self.issued_metadata());
        publish(
            self.ctx,
            &self.snapshot.observed.resource,
            type_,
            event.reason,
            event.action,
            note,
        )
        .await;
    }

    fn issued_metadata(&self) -> Option<&CredentialMetadata> {
        self.issued.as_ref().map(|(issued, _)| &issued.metadata)
    }

    /// The status a write leaves: `edits` over the last one written, at the time of the write.
    fn edited(&self, edits: &[StatusEdit]) -> ServiceSpecificCredentialStatus {
        let write = self.ctx.clock.now();
        let times = script::EditTimes {
            write,
            answered: self.issued.as_ref().map_or(write, |(_, at)| *at),
        };
        let mut status = self.written.clone();
        for edit in edits {
            script::apply_edit(&mut status, edit, self.issued_metadata(), times);
        }
        status
    }

    async fn write(&mut self, write: &StatusWrite) -> Result<(), Error> {
        let status = self.edited(&write.edits);
        if write.records_iam_write {
            self.record_status(status, write.reason, &write.message)
                .await
        } else {
            self.write_status(status, write.reason, &write.message)
                .await
        }
    }

    /// The record takes `edits`; status shows them with the pass's next status write. The ids
    /// they name are noted as this resource's first.
    async fn write_record(&mut self, edits: &[StatusEdit]) -> Result<(), Error> {
        let status = self.edited(edits);
        self.note_recorded(&status);
        let now = self.ctx.clock.now();
        if edits
            .iter()
            .any(|edit| matches!(edit, StatusEdit::RecordIntent { .. }))
        {
            self.record
                .announce(self.ctx, self.snapshot, &status, now)
                .await?;
        } else {
            self.record
                .keep(self.ctx, self.snapshot, &status, now)
                .await?;
        }
        self.note_landed(&status);
        self.written = status;
        Ok(())
    }

    /// A status write the plan could not foresee (a refusal, a failure): `edits` with Ready
    /// `reason`, and the Event of a changed Ready reason, as every planned write has. Such a
    /// write ends the pass (`script::Steps::status` relies on it).
    async fn report(
        &mut self,
        reason: Reason,
        message: String,
        edits: &[StatusEdit],
    ) -> Result<(), Error> {
        let previous = self.written.ready().map(|c| c.reason.as_str());
        let event = script::ready_transition(previous, reason, &message);
        let status = self.edited(edits);
        self.write_status(status, reason, &message).await?;
        if let Some(event) = event {
            self.publish(&event).await;
        }
        Ok(())
    }

    async fn iam(&mut self, step: &IamStep) -> Result<Flow, Error> {
        let iam = &self.snapshot.iam;
        let result = match &step.call {
            IamCall::Create {
                user,
                service,
                age_days,
            } => iam.create(user, service, *age_days).await.map(|issued| {
                info!(credential_id = %issued.metadata.id, "created IAM credential");
                Some(issued)
            }),
            IamCall::Reset { user, id } => iam.reset(user, id).await.map(Some),
            IamCall::SetStatus { user, id, active } => {
                iam.update_status(user, id, *active).await.map(|()| None)
            }
            IamCall::Delete { user, id } => iam.delete(user, id).await.map(|()| {
                info!(credential_id = %id, "deleted IAM credential");
                None
            }),
        };
        if matches!(step.call, IamCall::Create { .. })
            && result.as_ref().map_or_else(IamError::is_definite, |_| true)
        {
            self.record.create_answered();
        }
        match result {
            Ok(issued) => {
                if let Some(issued) = issued {
                    self.issued = Some((issued, self.ctx.clock.now()));
                }
                if let Some(event) = &step.announce {
                    self.publish(event).await;
                }
                Ok(Flow::Next)
            }
            Err(error) => self.iam_failed(step, error).await,
        }
    }

    async fn iam_failed(&mut self, step: &IamStep, error: IamError) -> Result<Flow, Error> {
        let gone = match error {
            IamError::CredentialNotFound { .. } => true,
            IamError::UserNotFound { .. } => step.if_gone == IfGone::DoneQuietly,
            _ => false,
        };
        if gone {
            match step.if_gone {
                IfGone::Failed => {}
                IfGone::EndPass(reason) => return Ok(Flow::End(reason)),
                IfGone::Done => {
                    if let Some(event) = &step.announce {
                        self.publish(event).await;
                    }
                    return Ok(Flow::Next);
                }
                IfGone::DoneQuietly => return Ok(Flow::Next),
            }
        }
        let reason = reason_for(&error);
        match step.if_failed {
            IfFailed::Report => {
                self.report(reason, error.to_string(), &[]).await?;
                Ok(Flow::End(reason))
            }
            IfFailed::ReportCreate { list_on_limit }
                if list_on_limit && matches!(error, IamError::LimitExceeded { .. }) =>
            {
                self.report_limit().await?;
                Ok(Flow::End(Reason::LimitExceeded))
            }
            IfFailed::ReportCreate { .. } => {
                // Only a definite no leaves nothing behind for the marker to protect.
                let edits: &[StatusEdit] = if error.is_definite() {
                    &[StatusEdit::ClearIntent]
                } else {
                    &[]
                };
                self.report(reason, error.to_string(), edits).await?;
                Ok(Flow::End(reason))
            }
            IfFailed::FailDeleting => {
                let id = match &step.call {
                    IamCall::Delete { id, .. } => id.as_str(),
                    _ => "?",
                };
                let message = format!("deleting IAM credential {id}: {error}");
                self.report(Reason::Deleting, message.clone(), &[]).await?;
                self.publish(&PlannedEvent::warning(
                    "DeleteFailed",
                    "DeleteCredential",
                    message,
                ))
                .await;
                warn!(%error, "could not delete IAM credential; keeping the finalizer");
                Err(Error::Iam(error))
            }
        }
    }

    /// Create answered LimitExceeded: nothing was created, and the marker must not outlive this
    /// attempt. The user is listed again to say who holds the slots.
    async fn report_limit(&mut self) -> Result<(), Error> {
        let spec = &self.snapshot.observed.resource.spec;
        let list = self
            .snapshot
            .iam
            .list(&spec.user_name, spec.service_name.as_str())
            .await
            .unwrap_or_default();
        // The claims were read for the listing this pass planned on, not this one: an id not
        // looked up is not named.
        let mut observed = self.snapshot.observed.clone();
        observed.claims_complete = false;
        let message = plan::limit_message(&observed, &list);
        let edits = [
            StatusEdit::ClearIntent,
            StatusEdit::SlotsUsed(Some(list.len() as i32)),
        ];
        self.report(Reason::LimitExceeded, message, &edits).await
    }

    async fn write_secret(&mut self, write: &SecretWrite) -> Result<Flow, Error> {
        let (ctx, snapshot) = (self.ctx, self.snapshot);
        let written = match &write.material {
            SecretMaterial::Issued { issued_at, answers } => {
                let Some((issued, at)) = &self.issued else {
                    return Ok(Flow::End(Reason::Creating));
                };
                let metadata = &issued.metadata;
                let login = metadata.login();
                if let Some(request) = answers {
                    // Before the write, whose answer may be lost though it landed; it counts once
                    // the Secret shows this `issued_at` (see `plan::answered_unrecorded`).
                    ctx.tracked.note_answered(
                        &snapshot.observed.resource.uid().unwrap_or_default(),
                        plan::Answered {
                            request: request.clone(),
                            credential_id: metadata.id.clone(),
                            issued_at: issued_at.clone(),
                            at: *at,
                        },
                    );
                }
                secrets::write_secret(
                    ctx,
                    snapshot,
                    &metadata.id,
                    login,
                    &issued.secret,
                    Some(issued_at),
                )
                .await
            }
            SecretMaterial::Copy { from, id } => {
                let source = match from {
                    SecretSource::Current => snapshot.secret.as_ref(),
                    SecretSource::Old => snapshot.old_secret.as_ref(),
                };
                let uid = snapshot.observed.resource.uid().unwrap_or_default();
                let kind = snapshot.observed.resource.spec.service_name.kind();
                let copy = source
                    .filter(|s| secret::is_owned_by(s, &uid))
                    .and_then(|s| {
                        secret::read_back(s, kind).map(|read| (read, secret::issued_at(s)))
                    })
                    .filter(|((held, _, _), _)| held == id);
                let Some(((_, login, value), issued_at)) = copy else {
                    // Nothing intact to copy from: the next observation resets.
                    return Ok(Flow::End(Reason::Creating));
                };
                secrets::write_secret(ctx, snapshot, id, &login, &value, issued_at).await
            }
        };
        if let Err(error) = written {
            if let Some(fallback) = &write.if_failed {
                self.report(fallback.reason, fallback.message.clone(), &fallback.edits)
                    .await?;
            }
            return Err(error);
        }
        Ok(Flow::Next)
    }
}

/// A Warning Event on `resource` from outside a pass (the sweep).
pub(crate) async fn publish_warning(
    ctx: &Context,
    resource: &impl Resource<DynamicType = ()>,
    reason: &str,
    action: &str,
    note: String,
) {
    publish(ctx, resource, EventType::Warning, reason, action, note).await;
}

/// Publishes an Event; a failure is logged, never fatal. Notes never hold secret material.
async fn publish(
    ctx: &Context,
    resource: &impl Resource<DynamicType = ()>,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    if let Err(error) = ctx
        .events
        .publish(&resource.object_ref(&()), type_, reason, action, note)
        .await
    {
        warn!(%error, reason, "could not publish Event");
    }
}
