//! The Ready condition: its reasons, when it transitions, and how long to wait before retrying.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::Condition;
use crate::iam::IamError;

pub const READY: &str = "Ready";

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
pub const MAX_MESSAGE_BYTES: usize = 32768;

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

pub fn ready_condition(
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
mod tests {
    use super::*;

    #[test]
    fn messages_fit_the_condition_schema() {
        let t = Timestamp::from_second(1_000).unwrap();
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let c = ready_condition(None, Reason::IamRejected, long, None, t);
        assert!(c.message.len() <= MAX_MESSAGE_BYTES);
        assert!(c.message.ends_with("[…]"));
        let short = ready_condition(None, Reason::IamRejected, "short".into(), None, t);
        assert_eq!(short.message, "short");
    }

    #[test]
    fn transition_time_moves_only_on_change() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let t1 = Timestamp::from_second(2_000).unwrap();
        let first = ready_condition(None, Reason::Throttled, "a".into(), Some(1), t0);
        let same = ready_condition(Some(&first), Reason::Throttled, "b".into(), Some(2), t1);
        assert_eq!(same.last_transition_time, Time(t0));
        assert_eq!(same.message, "b");
        assert_eq!(same.observed_generation, Some(2));
        let other = ready_condition(Some(&same), Reason::IamUnavailable, "c".into(), Some(2), t1);
        assert_eq!(other.last_transition_time, Time(t1));
        assert_eq!(other.status, "False");
        let ready = ready_condition(Some(&other), Reason::Available, "".into(), Some(2), t1);
        assert_eq!(ready.status, "True");
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let resync = Duration::from_secs(600);
        let t = |attempt, jitter| {
            Reason::Throttled
                .retry_after(attempt, resync, jitter)
                .unwrap()
        };
        assert!(t(0, 0.5) < t(1, 0.5));
        assert!(t(1, 0.5) < t(3, 0.5));
        assert_eq!(t(30, 0.5), Duration::from_secs(300));
        assert!(t(0, 0.0) < t(0, 0.99));
        assert!(t(0, 0.0) >= Duration::from_millis(1600));
        // LimitExceeded never hot-loops.
        assert!(
            Reason::LimitExceeded.retry_after(0, resync, 0.0).unwrap() >= Duration::from_secs(48)
        );
        assert_eq!(Reason::InvalidSpec.retry_after(0, resync, 0.0), None);
    }

    /// Resources created together must not resync together (a thundering herd on IAM every
    /// interval): the resync is spread over the last fifth of the interval, never beyond it.
    #[test]
    fn resyncs_of_many_resources_spread_apart_within_the_interval() {
        let resync = Duration::from_secs(600);
        for reason in [Reason::Available, Reason::Expired] {
            let early = reason.retry_after(5, resync, 0.0).unwrap();
            let late = reason.retry_after(5, resync, 0.999).unwrap();
            assert!(late <= resync, "{late:?} is beyond the resync interval");
            assert!(early >= resync * 4 / 5, "{early:?}");
            assert!(
                late - early >= Duration::from_secs(110),
                "{reason:?}: {early:?}..{late:?} is not spread"
            );
        }
    }

    /// The names are an API (condition reasons, Event reasons, metric labels, the README's
    /// list): a renamed variant must show here.
    #[test]
    fn reason_names_are_the_documented_ones() {
        let names: Vec<&str> = Reason::all().map(Reason::as_str).collect();
        assert_eq!(
            names,
            [
                "Available",
                "Creating",
                "UserNotFound",
                "ServiceNotSupported",
                "LimitExceeded",
                "Throttled",
                "NotPermitted",
                "SecretConflict",
                "Expired",
                "InvalidSpec",
                "IamUnavailable",
                "AccessDenied",
                "IamRejected",
                "Rotating",
                "Deleting",
                "AdoptionAmbiguous",
            ]
        );
        let readme = include_str!("../../README.md");
        for name in names {
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} is not in README"
            );
        }
        assert_eq!(Reason::IamRejected.to_string(), "IamRejected");
        assert_eq!(Reason::from_name("NoSuchReason"), None);
    }

    #[test]
    fn reasons_round_trip() {
        for r in Reason::all() {
            assert_eq!(Reason::from_name(r.as_str()), Some(r));
        }
        assert!(Reason::LimitExceeded.is_warning());
        assert!(!Reason::Available.is_warning());
    }
}
