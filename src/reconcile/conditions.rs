//! The Ready condition: its reasons, when it transitions, and how long to wait before retrying.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::Condition;
use crate::iam::IamError;

pub(crate) const READY: &str = "Ready";

/// Why the resource is or is not Ready. The string form (the variant's name) is the condition's
/// `reason` and the Event reason.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumIter,
    strum::Display,
)]
pub enum Reason {
    /// The credential exists, has the desired status and the Secret holds it.
    Available,
    /// A credential is being created or adopted.
    Creating,
    UserNotFound,
    ServiceNotSupported,
    LimitExceeded,
    Throttled,
    /// The namespace may not use this IAM user (tenancy).
    NotPermitted,
    /// A Secret of that name exists and is not ours.
    SecretConflict,
    /// The API key is past its expiration date.
    Expired,
    InvalidSpec,
    IamUnavailable,
    /// IAM refused the operator's own credentials (its IAM policy lacks a permission).
    AccessDenied,
    /// IAM rejected the request as invalid.
    IamRejected,
    /// A Recreate rotation is under way; the current credential still works (Ready stays True).
    Rotating,
    Deleting,
    /// An interrupted create may have made one of several credentials; none is adopted.
    AdoptionAmbiguous,
}

impl Reason {
    /// Every reason.
    pub fn all() -> impl Iterator<Item = Reason> {
        <Reason as strum::IntoEnumIterator>::iter()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn from_name(reason: &str) -> Option<Reason> {
        reason.parse().ok()
    }

    /// Whether Ready is True under this reason: the Secret holds a working credential.
    pub fn is_ready(self) -> bool {
        matches!(self, Reason::Available | Reason::Rotating)
    }

    /// Whether an Event for this reason is a Warning.
    pub fn is_warning(self) -> bool {
        !matches!(
            self,
            Reason::Available | Reason::Creating | Reason::Rotating | Reason::Deleting
        )
    }

    /// When to look again after reporting this reason for the `attempt`-th time in a row
    /// (0-based). `None` means: only when the resource changes. `jitter` in `[0, 1)` spreads
    /// retries of many resources apart (±20%) and resyncs over the interval's last fifth.
    pub fn retry_after(self, attempt: u32, resync: Duration, jitter: f64) -> Option<Duration> {
        let backoff = |base: u64, cap: u64| {
            crate::reconcile::failure::exponential(
                Duration::from_secs(base),
                Duration::from_secs(cap),
                attempt,
                jitter,
            )
        };
        match self {
            // Anywhere in the last fifth of the interval: resources created together spread
            // apart instead of resyncing (and listing IAM) in lockstep for ever.
            Reason::Available | Reason::Expired => {
                Some(resync.mul_f64(0.8 + 0.2 * jitter.clamp(0.0, 1.0)))
            }
            Reason::InvalidSpec => None,
            Reason::Creating | Reason::Rotating | Reason::Deleting => Some(Duration::from_secs(1)),
            Reason::Throttled => Some(backoff(2, 300)),
            Reason::IamUnavailable => Some(backoff(5, 300)),
            Reason::LimitExceeded => Some(backoff(60, 1800)),
            Reason::ServiceNotSupported => Some(backoff(600, 3600)),
            // Fixed by someone soon after (a user created, a namespace annotated, a Secret
            // removed), and not watched: look again within minutes.
            Reason::UserNotFound | Reason::NotPermitted | Reason::SecretConflict => {
                Some(backoff(15, 300))
            }
            Reason::AccessDenied | Reason::IamRejected | Reason::AdoptionAmbiguous => {
                Some(backoff(30, 1800))
            }
        }
    }
}

/// The reason an IAM error is reported under.
pub fn reason_for(error: &IamError) -> Reason {
    match error {
        IamError::UserNotFound { .. } => Reason::UserNotFound,
        IamError::ServiceNotSupported { .. } => Reason::ServiceNotSupported,
        IamError::LimitExceeded { .. } => Reason::LimitExceeded,
        IamError::Throttled { .. } => Reason::Throttled,
        IamError::AccessDenied { .. } => Reason::AccessDenied,
        IamError::Rejected { .. } => Reason::IamRejected,
        IamError::Unavailable { .. } | IamError::CredentialNotFound { .. } => {
            Reason::IamUnavailable
        }
    }
}

/// The Ready condition for `reason`, keeping `lastTransitionTime` from `previous` unless the
/// status or the reason really changed.
/// metav1.Condition's limit on `message` (the schema refuses a status write with a longer one).
pub(crate) const MAX_MESSAGE_BYTES: usize = 32768;

/// The message cut to [`MAX_MESSAGE_BYTES`] at a character boundary, marked as cut.
fn bounded(message: String) -> String {
    cut_to(message, MAX_MESSAGE_BYTES, " […]")
}

/// `text` if it fits in `max` bytes; else cut at a character boundary so that with `mark`
/// appended it does.
pub(crate) fn cut_to(mut text: String, max: usize, mark: &str) -> String {
    if text.len() > max {
        let end = text.floor_char_boundary(max.saturating_sub(mark.len()));
        text.truncate(end);
        text.push_str(mark);
    }
    text
}

pub(crate) fn ready_condition(
    previous: Option<&Condition>,
    reason: Reason,
    message: String,
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    let status = if reason.is_ready() { "True" } else { "False" };
    let last_transition_time = match previous {
        Some(p) if p.status == status && p.reason == reason.as_str() => {
            p.last_transition_time.clone()
        }
        _ => Time(now),
    };
    Condition {
        type_: READY.into(),
        status: status.into(),
        reason: reason.as_str().into(),
        message: bounded(message),
        last_transition_time,
        observed_generation: generation,
    }
}

#[cfg(test)]
mod tests;
