//! A resource moved to another AWS identity: what its record holds was minted through the old
//! one and is retired through it (deleted; another account's credentials cannot be carried
//! over) before anything is minted through the new one.

use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use tracing::info;

use crate::iam::IamError;
use crate::reconcile::conditions::Reason;
use crate::reconcile::observe::Snapshot;
use crate::reconcile::{Context, Error};
use crate::record::{self, CredentialRecord};

/// How soon a move that waits for unanswered Creates of the old identity looks again.
const MOVE_RETRY: Duration = Duration::from_secs(60);

/// Deletes what the record holds through the identity that minted it, then records the new
/// identity. Creates of the old identity whose outcome is unknown stay recorded (with the old
/// identity, for the sweep) until their window closes; only then does the record move.
pub(crate) async fn retire_for_move(
    ctx: &Context,
    snapshot: &Snapshot,
) -> Result<(Action, Reason), Error> {
    let Some(current) = snapshot.record.clone() else {
        return Ok((Action::requeue(MOVE_RETRY), Reason::Creating));
    };
    let spec = &current.spec;
    let old = spec.identity.describe();
    let new = snapshot.current_identity.clone().unwrap_or_default();
    let mut next = current.clone();
    if spec.identity.account_id.is_some() && spec.identity.account_id == new.account_id {
        // The same account's users: what is held stays, managed through the new identity.
        info!(from = %old, to = %new.describe(), "the resource's identity changed within its account; its credential is kept");
        next.spec.identity = new;
        write(ctx, &current, next).await?;
        return Ok((
            Action::requeue(Duration::from_millis(100)),
            Reason::Creating,
        ));
    }
    let (delete, release) = record::orphaned(&spec.holding, spec.deletion_policy);
    for id in &release {
        info!(credential = %id, from = %old, "released the credential minted through the old identity (deletionPolicy Retain): kept in IAM");
    }
    for id in &delete {
        match snapshot.iam.delete(&spec.user_name, id).await {
            Ok(()) => {
                info!(credential = %id, from = %old, "retired the credential through the identity that minted it")
            }
            Err(IamError::CredentialNotFound { .. } | IamError::UserNotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let now = ctx.clock.now();
    match record::released(spec, now) {
        // Unanswered Creates of the old identity may still take effect: the record keeps its
        // identity (the sweep settles them through it) and holds nothing.
        Some(released) => next.spec = released,
        None => {
            next.spec.holding = Default::default();
            next.spec.unknown_creates.clear();
            next.spec.identity = new;
        }
    }
    let waiting = !next.spec.unknown_creates.is_empty();
    write(ctx, &current, next).await?;
    if waiting {
        info!(retry_in = ?MOVE_RETRY, from = %old, "waiting for Creates sent through the old identity to settle before minting through the new one");
        return Ok((Action::requeue(MOVE_RETRY), Reason::Creating));
    }
    Ok((
        Action::requeue(Duration::from_millis(100)),
        Reason::Creating,
    ))
}

/// Replaces the record with `next` (if it differs), on the version read: a conflict drops the
/// remembered copy, so that the next pass reads it again.
async fn write(
    ctx: &Context,
    current: &CredentialRecord,
    next: CredentialRecord,
) -> Result<(), Error> {
    if next == *current {
        return Ok(());
    }
    let name = current.name_any();
    let api = Api::<CredentialRecord>::all(ctx.client.clone());
    match api.replace(&name, &PostParams::default(), &next).await {
        Ok(written) => {
            ctx.records.put(&name, &written);
            Ok(())
        }
        Err(error) => {
            ctx.records.forget(&name);
            Err(Error::WriteRecord { source: error })
        }
    }
}
