//! Status edits applied to a status, with the times only `act` knows.

use super::*;

/// The times a status edit is stamped with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EditTimes {
    /// Of the write: an intent must not look older than it is (that would widen the adoption
    /// window backwards).
    pub(crate) write: Timestamp,
    /// When this pass's IAM Create or Reset answered (else the write's): a rotation happened then,
    /// whatever Secret writes came between.
    pub(crate) answered: Timestamp,
}

/// Applies `edit` to `status`; `issued` is the credential this pass's IAM call issued (if any).
pub(crate) fn apply_edit(
    status: &mut ServiceSpecificCredentialStatus,
    edit: &StatusEdit,
    issued: Option<&CredentialMetadata>,
    times: EditTimes,
) {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    match edit {
        StatusEdit::Credential(c) => name_credential(status, c),
        StatusEdit::IssuedCredential => {
            if let Some(c) = issued {
                name_credential(status, c);
            }
        }
        StatusEdit::ForgetCredential => status.credential_id = None,
        StatusEdit::RecordIntent { existing } => {
            status.create_requested_at = Some(Time(times.write));
            status.credentials_before_create = existing.clone();
        }
        StatusEdit::ClearIntent => {
            status.create_requested_at = None;
            status.credentials_before_create = Vec::new();
        }
        StatusEdit::SettleIntent => status.create_requested_at = None,
        StatusEdit::SlotsUsed(n) => status.slots_used = *n,
        StatusEdit::StartRetirement {
            old,
            grace,
            handled_request,
        } => {
            let grace = jiff::SignedDuration::try_from(*grace).unwrap_or_default();
            let at = times.answered;
            status.retiring_credential_id = Some(old.clone());
            status.retire_after = Some(Time(at.checked_add(grace).unwrap_or(at)));
            status.last_rotation_time = Some(Time(at));
            if let Some(request) = handled_request {
                status.handled_rotate_request = Some(request.clone());
            }
        }
        StatusEdit::Rotated { handled_request } => {
            status.last_rotation_time = Some(Time(times.answered));
            if let Some(request) = handled_request {
                status.handled_rotate_request = Some(request.clone());
            }
        }
        StatusEdit::RetireNoEarlierThan(at) => status.retire_after = Some(Time(*at)),
        StatusEdit::Retired => {
            status.retiring_credential_id = None;
            status.retire_after = None;
        }
        StatusEdit::SecretName(name) => status.secret_name = Some(name.clone()),
        StatusEdit::WorkloadsRestartedFor(at) => status.workloads_restarted_for = Some(at.clone()),
        StatusEdit::Answered { request, at } => {
            status.handled_rotate_request = Some(request.clone());
            status.last_rotation_time = Some(Time(*at));
        }
    }
}

pub(super) fn name_credential(
    status: &mut ServiceSpecificCredentialStatus,
    c: &CredentialMetadata,
) {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    status.credential_id = Some(c.id.clone());
    status.service_user_name = c.service_user_name.clone();
    status.service_credential_alias = c.alias.clone();
    status.credential_status = Some(c.status.as_str().to_string());
    status.create_date = Some(Time(c.create_date));
    status.expiration_date = c.expiration_date.map(Time);
}
