//! When scheduled rotations fall due: the rotation interval and an API key's renewal before its
//! expiry. Pure; shared by the decision (`plan`) and the status every write carries
//! (`status.nextRotationTime`).

use jiff::Timestamp;

use crate::api::{ServiceSpecificCredentialSpec, ServiceSpecificCredentialStatus};

/// A duration field of `spec.rotation`, when set and valid.
fn spec_duration(
    spec: &ServiceSpecificCredentialSpec,
    field: impl Fn(&crate::api::RotationSpec) -> Option<&String>,
) -> Option<jiff::SignedDuration> {
    let value = spec.rotation.as_ref().and_then(field)?;
    let duration = crate::api::parse_duration(value).ok()?;
    jiff::SignedDuration::try_from(duration).ok()
}

/// When `spec`'s rotation interval has passed since the last rotation (or the creation).
pub(crate) fn interval_due(
    spec: &ServiceSpecificCredentialSpec,
    last_rotation: Option<Timestamp>,
    created: Timestamp,
) -> Option<Timestamp> {
    let interval = spec_duration(spec, |r| r.interval.as_ref())?;
    let since = last_rotation.map_or(created, |t| t.max(created));
    since.checked_add(interval).ok()
}

/// When an API key that expires at `expires` is renewed (`beforeExpiry` before).
pub(crate) fn renewal_due(
    spec: &ServiceSpecificCredentialSpec,
    expires: Timestamp,
) -> Option<Timestamp> {
    let before_expiry = spec_duration(spec, |r| r.before_expiry.as_ref())?;
    Some(expires.checked_sub(before_expiry).unwrap_or(expires))
}

/// When the next scheduled rotation of the credential `status` records is due
/// (`status.nextRotationTime`): the rotation interval or an API key's renewal before expiry,
/// whichever comes first. Computed from the status itself, so every status write carries it.
pub(crate) fn next_rotation_at(
    spec: &ServiceSpecificCredentialSpec,
    status: &ServiceSpecificCredentialStatus,
) -> Option<Timestamp> {
    status.credential_id.as_ref()?;
    let created = status.create_date.as_ref()?.0;
    let interval = interval_due(
        spec,
        status.last_rotation_time.as_ref().map(|t| t.0),
        created,
    );
    let renewal = status
        .expiration_date
        .as_ref()
        .and_then(|e| renewal_due(spec, e.0));
    interval.into_iter().chain(renewal).min()
}
