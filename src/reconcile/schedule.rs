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
fn interval_due(
    spec: &ServiceSpecificCredentialSpec,
    last_rotation: Option<Timestamp>,
    created: Timestamp,
) -> Option<Timestamp> {
    let interval = spec_duration(spec, |r| r.interval.as_ref())?;
    let since = last_rotation.map_or(created, |t| t.max(created));
    since.checked_add(interval).ok()
}

/// When an API key that expires at `expires` is renewed (`beforeExpiry` before).
fn renewal_due(spec: &ServiceSpecificCredentialSpec, expires: Timestamp) -> Option<Timestamp> {
    let before_expiry = spec_duration(spec, |r| r.before_expiry.as_ref())?;
    Some(expires.checked_sub(before_expiry).unwrap_or(expires))
}

/// Why something falls due without any change in Kubernetes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// A Recreate rotation's previous credential is deleted (`status.retireAfter`).
    Retire,
    /// `rotation.interval` has passed since the last rotation (or the creation).
    Interval,
    /// An API key is renewed `rotation.beforeExpiry` before its expiry.
    Renewal,
    /// An API key expires.
    Expiry,
}

impl Cause {
    /// Whether it is a scheduled rotation (`status.nextRotationTime`, a rotation pass).
    pub(crate) fn rotates(self) -> bool {
        matches!(self, Cause::Interval | Cause::Renewal)
    }
}

/// One event that falls due: when, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Due {
    pub at: Timestamp,
    pub cause: Cause,
}

/// The credential a resource holds, as far as the schedule is concerned.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Held {
    pub created: Timestamp,
    pub expires: Option<Timestamp>,
}

/// What the schedule is computed from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Facts<'a> {
    pub spec: &'a ServiceSpecificCredentialSpec,
    pub last_rotation: Option<Timestamp>,
    pub retire_after: Option<Timestamp>,
    /// The credential held (none: nothing of it falls due).
    pub held: Option<Held>,
}

/// Every event the facts schedule, past or future, with its cause: the one list the rotation
/// decision, the wake-up and `status.nextRotationTime` are all read from (a trigger added here
/// reaches all three).
pub(crate) fn due(facts: &Facts<'_>) -> Vec<Due> {
    let mut due = Vec::new();
    let mut add = |at: Option<Timestamp>, cause| due.extend(at.map(|at| Due { at, cause }));
    add(facts.retire_after, Cause::Retire);
    if let Some(held) = facts.held {
        add(
            interval_due(facts.spec, facts.last_rotation, held.created),
            Cause::Interval,
        );
        add(
            held.expires.and_then(|e| renewal_due(facts.spec, e)),
            Cause::Renewal,
        );
        add(held.expires, Cause::Expiry);
    }
    due
}

/// The earliest scheduled rotation among `due`.
pub(crate) fn next_rotation(due: &[Due]) -> Option<Timestamp> {
    due.iter().filter(|d| d.cause.rotates()).map(|d| d.at).min()
}

/// The earliest event after `now`: when the reconcile loop looks again, rather than at the
/// next resync.
pub(crate) fn next_wake(due: &[Due], now: Timestamp) -> Option<Timestamp> {
    due.iter().map(|d| d.at).filter(|at| *at > now).min()
}

/// The scheduled rotation due by `now`, if any: the interval's before a renewal's.
pub(crate) fn rotation_due(due: &[Due], now: Timestamp) -> Option<Cause> {
    [Cause::Interval, Cause::Renewal]
        .into_iter()
        .find(|cause| due.iter().any(|d| d.cause == *cause && d.at <= now))
}

/// When the next scheduled rotation of the credential `status` records is due
/// (`status.nextRotationTime`): the rotation interval or an API key's renewal before expiry,
/// whichever comes first. Computed from the status itself, so every status write carries it.
pub(crate) fn next_rotation_at(
    spec: &ServiceSpecificCredentialSpec,
    status: &ServiceSpecificCredentialStatus,
) -> Option<Timestamp> {
    status.credential_id.as_ref()?;
    let held = Held {
        created: status.create_date.as_ref()?.0,
        expires: status.expiration_date.as_ref().map(|e| e.0),
    };
    next_rotation(&due(&Facts {
        spec,
        last_rotation: status.last_rotation_time.as_ref().map(|t| t.0),
        retire_after: status.retire_after.as_ref().map(|t| t.0),
        held: Some(held),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn every_event_is_listed_with_its_cause() {
        let spec: ServiceSpecificCredentialSpec = serde_json::from_value(serde_json::json!({
            "userName": "u", "serviceName": "bedrock.amazonaws.com",
            "rotation": {"interval": "1h", "beforeExpiry": "10m"}
        }))
        .unwrap();
        let facts = Facts {
            spec: &spec,
            last_rotation: Some(at(1_000)),
            retire_after: Some(at(500)),
            held: Some(Held {
                created: at(0),
                expires: Some(at(2_000)),
            }),
        };
        let due = due(&facts);
        let listed = |cause| due.iter().find(|d| d.cause == cause).map(|d| d.at);
        assert_eq!(listed(Cause::Retire), Some(at(500)));
        assert_eq!(listed(Cause::Interval), Some(at(4_600)));
        assert_eq!(listed(Cause::Renewal), Some(at(1_400)));
        assert_eq!(listed(Cause::Expiry), Some(at(2_000)));
        assert_eq!(next_rotation(&due), Some(at(1_400)));
        assert_eq!(next_wake(&due, at(1_400)), Some(at(2_000)));
        assert_eq!(rotation_due(&due, at(1_399)), None);
        assert_eq!(rotation_due(&due, at(1_400)), Some(Cause::Renewal));
        assert_eq!(rotation_due(&due, at(5_000)), Some(Cause::Interval));
        // Nothing held: only the retirement.
        let bare = super::due(&Facts {
            held: None,
            ..facts
        });
        assert_eq!(
            bare,
            [Due {
                at: at(500),
                cause: Cause::Retire
            }]
        );
    }
}
