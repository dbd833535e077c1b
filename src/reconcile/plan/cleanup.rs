//! Deletion and revocation: what a resource that goes, or loses the right to its user,
//! does to the credentials it holds.

use super::*;

/// What deletion does with the IAM credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cleanup {
    /// Delete these (ours, a retiring one, or an unclaimed orphan of an interrupted create).
    pub delete: Vec<String>,
    /// deletionPolicy Retain: leave this one in IAM.
    pub retain: Option<String>,
}

/// Decides the cleanup on deletion. `credentials` is needed only to find the orphan of an
/// interrupted create; pass `None` when IAM was not listed. A credential retiring after a
/// Recreate rotation is deleted under either policy: it was going to be deleted anyway.
///
/// Ids the operator recorded in status are deleted whatever tenancy says now (they are this
/// resource's own). Anything else — the orphan of an interrupted create — only when tenancy
/// allows the user and the orphan is provably this resource's.
pub(crate) fn decide_cleanup(
    observed: &Observed,
    credentials: Option<&[CredentialMetadata]>,
) -> Cleanup {
    let id = owned_id(observed).map(str::to_string);
    let mut cleanup = Cleanup {
        delete: observed
            .status
            .retiring_credential_id
            .iter()
            .cloned()
            .collect(),
        retain: None,
    };
    if observed.spec().deletion_policy == DeletionPolicy::Retain {
        // The Secret is released with the credential kept. Mid-rotation it may still hold the
        // retiring one (the Recreate's Secret write had not happened): that one is kept, and
        // the current one, whose secret reached no one, goes.
        if let Some(retiring) = &observed.status.retiring_credential_id
            && matches!(&observed.secret, SecretObservation::Owned {
                credential_id: Some(held),
                intact: true,
                ..
            } if held == retiring)
        {
            cleanup.delete = id.into_iter().collect();
            cleanup.retain = Some(retiring.clone());
            return cleanup;
        }
        cleanup.retain = id;
        return cleanup;
    }
    if let Some(id) = id {
        cleanup.delete.insert(0, id);
        return cleanup;
    }
    if let Some(list) = credentials
        && observed.permission.is_ok()
        && observed.claims_complete
        && let [orphan] = adoption_candidates(observed, list, &[]).as_slice()
        && !cleanup.delete.contains(&orphan.id)
    {
        cleanup.delete.push(orphan.id.clone());
    }
    cleanup
}

/// Whether the pass must list the user although the gate stops it: the namespace may not use
/// the user, and the resource holds credentials to revoke.
pub(crate) fn revocation_needs_list(observed: &Observed) -> bool {
    // Whatever else the spec gets wrong: an invalid spec must not keep a revoked credential
    // alive (userName and serviceName are all a List needs, and they are immutable).
    observed.permission.is_err()
        && observed.revocation != Revocation::Keep
        && (observed.status.credential_id.is_some()
            || observed.status.retiring_credential_id.is_some())
}

/// For a resource whose namespace may not use its user: the credential it holds to revoke
/// next, or the NotPermitted report that says they are revoked. `None` when there is nothing to
/// revoke (or IAM was not asked).
pub(super) fn revocation(observed: &Observed) -> Option<Decision> {
    let refusal = observed.permission.as_ref().err()?.to_string();
    if !revocation_needs_list(observed) {
        return None;
    }
    let Some(Ok(listed)) = &observed.credentials else {
        return None;
    };
    let held: Vec<&CredentialMetadata> = [
        &observed.status.credential_id,
        &observed.status.retiring_credential_id,
    ]
    .into_iter()
    .flatten()
    .filter_map(|id| listed.iter().find(|c| &c.id == id))
    .collect();
    let delete = observed.revocation == Revocation::Delete;
    if let Some(credential) = held
        .iter()
        .find(|c| delete || c.status == CredentialStatus::Active)
    {
        return Some(Decision::Revoke {
            credential: (*credential).clone(),
            delete,
            refusal,
        });
    }
    // None is Active any more: each as IAM reports it (Inactive, or an API key Expired).
    let revoked: Vec<String> = held
        .iter()
        .map(|c| format!("{} is {}", c.id, c.status.as_str()))
        .collect();
    (!revoked.is_empty()).then(|| Decision::Report {
        reason: Reason::NotPermitted,
        message: format!(
            "{refusal}; IAM credential {} until the namespace may use the user again",
            revoked.join(", ")
        ),
        credential: None,
        slots_used: None,
    })
}

/// Whether cleanup needs an IAM List (only to find the orphan of an interrupted create, which
/// tenancy must allow).
pub(crate) fn cleanup_needs_list(observed: &Observed) -> bool {
    observed.spec().deletion_policy == DeletionPolicy::Delete
        && owned_id(observed).is_none()
        && observed.status.create_requested_at.is_some()
        && observed.permission.is_ok()
}
