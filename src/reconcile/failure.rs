//! What a pass ended with, and when to look again: one category for every outcome (a reported
//! reason, or a failure that reported none), which keys the backoff, labels
//! `ssc_operator_reconcile_errors_total` and, for IAM outcomes, is the Ready reason Events carry;
//! and the one exponential backoff they all use.

use std::time::Duration;

use crate::reconcile::Error;
use crate::reconcile::conditions::{Reason, reason_for};

/// What a pass ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// A reason the resource reports (Ready or not); IAM failures are reported this way.
    Reported(Reason),
    /// A write was refused as stale (409 Conflict): the cache trailed, or someone wrote meanwhile.
    Conflict,
    /// Any other failed Kubernetes request.
    Kubernetes,
    /// The Secret could not be rendered.
    Render,
    /// This replica stopped leading during the pass.
    NotLeader,
}

impl Category {
    /// The label value and name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Reported(reason) => reason.as_str(),
            Category::Conflict => "Conflict",
            Category::Kubernetes => "KubernetesError",
            Category::Render => "RenderError",
            Category::NotLeader => "NotLeader",
        }
    }

    /// Whether it ends a run of failures (a Ready reason).
    pub fn is_ready(self) -> bool {
        matches!(self, Category::Reported(reason) if reason.is_ready())
    }

    /// When to look again after the `attempt`-th time in a row (0-based); `None`: only when the
    /// resource changes. `jitter` in `[0, 1)`.
    pub fn retry_after(self, attempt: u32, resync: Duration, jitter: f64) -> Option<Duration> {
        let secs = Duration::from_secs;
        match self {
            Category::Reported(reason) => reason.retry_after(attempt, resync, jitter),
            // Normal under load: look again soon, with the newer version.
            Category::Conflict => Some(exponential(
                Duration::from_millis(200),
                secs(2),
                attempt,
                jitter,
            )),
            // Retried quickly, then backed off.
            Category::Kubernetes => Some(exponential(
                Duration::from_millis(500),
                secs(64),
                attempt,
                jitter,
            )),
            Category::Render => Some(exponential(secs(5), secs(300), attempt, jitter)),
            // The new leader takes over; this replica's controller is stopping.
            Category::NotLeader => Some(secs(1)),
        }
    }
}

impl Error {
    /// The category a failed pass is counted and backed off under.
    pub fn category(&self) -> Category {
        if let Some(source) = self.kube_source() {
            return match source {
                // Someone else's Secret took the name between our read and our write.
                kube::Error::Api(status)
                    if status.code == 409 && status.reason == "AlreadyExists" =>
                {
                    Category::Reported(Reason::SecretConflict)
                }
                kube::Error::Api(status) if status.code == 409 => Category::Conflict,
                _ => Category::Kubernetes,
            };
        }
        match self {
            Error::StaleCopy => Category::Conflict,
            Error::NoNamespace
            | Error::NoEpoch
            | Error::EpochLost
            | Error::RecordOfAnother(_)
            | Error::RecordConflict(_) => Category::Kubernetes,
            Error::Iam(error) => Category::Reported(reason_for(error)),
            Error::Render(_) => Category::Render,
            Error::NotLeader => Category::NotLeader,
            Error::Finalizer(boxed) => match boxed.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(inner)
                | kube::runtime::finalizer::Error::CleanupFailed(inner) => inner.category(),
                _ => Category::Kubernetes,
            },
            // Each request kind carries its source, told above.
            _ => Category::Kubernetes,
        }
    }

    /// The Kubernetes API's error, for the request kinds that carry one.
    pub(crate) fn kube_source(&self) -> Option<&kube::Error> {
        match self {
            Error::ReadResource { source }
            | Error::WriteResource { source }
            | Error::WriteStatus { source }
            | Error::ReadNamespace { source }
            | Error::ReadSecret { source }
            | Error::WriteSecret { source }
            | Error::DeleteSecret { source }
            | Error::ReadRecord { source }
            | Error::WriteRecord { source }
            | Error::DeleteRecord { source }
            | Error::List { source }
            | Error::ReadIdentities { source }
            | Error::RestartWorkload { source } => Some(source),
            _ => None,
        }
    }
}

/// `base · 2^attempt`, at most `cap`, then spread by ±20 % (`jitter` in `[0, 1)`) so that
/// resources failing together do not retry in lockstep.
pub(crate) fn exponential(base: Duration, cap: Duration, attempt: u32, jitter: f64) -> Duration {
    base.saturating_mul(1u32 << attempt.min(20))
        .min(cap)
        .mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_doubles_caps_and_jitters() {
        let s = Duration::from_secs;
        assert_eq!(exponential(s(2), s(300), 0, 0.5), s(2));
        assert_eq!(exponential(s(2), s(300), 3, 0.5), s(16));
        assert_eq!(exponential(s(2), s(300), 40, 0.5), s(300));
        assert_eq!(exponential(s(10), s(300), 0, 0.0), s(8));
        assert_eq!(
            exponential(s(10), s(300), 0, 0.999_999),
            s(12) - Duration::from_micros(4)
        );
    }

    fn api_error(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            reason: reason.into(),
            message: "the API server's message".into(),
            ..kube::core::Status::default()
        }))
    }

    type RequestKind = fn(kube::Error) -> Error;

    /// Every request kind, each with its own words, and the category its source tells.
    const REQUEST_KINDS: [(RequestKind, &str); 13] = [
        (
            |source| Error::ReadResource { source },
            "reading the resource failed",
        ),
        (
            |source| Error::WriteResource { source },
            "writing the resource failed",
        ),
        (
            |source| Error::WriteStatus { source },
            "writing the resource's status failed",
        ),
        (
            |source| Error::ReadNamespace { source },
            "reading the namespace failed",
        ),
        (
            |source| Error::ReadSecret { source },
            "reading the Secret failed",
        ),
        (
            |source| Error::WriteSecret { source },
            "writing the Secret failed",
        ),
        (
            |source| Error::DeleteSecret { source },
            "deleting a Secret failed",
        ),
        (
            |source| Error::ReadRecord { source },
            "reading the operator's record failed",
        ),
        (
            |source| Error::WriteRecord { source },
            "writing the operator's record failed",
        ),
        (
            |source| Error::DeleteRecord { source },
            "deleting the operator's record failed",
        ),
        (|source| Error::List { source }, "listing failed"),
        (
            |source| Error::ReadIdentities { source },
            "reading the IAMIdentities failed",
        ),
        (
            |source| Error::RestartWorkload { source },
            "restarting a workload failed",
        ),
    ];

    #[test]
    fn failures_are_categorised_apart_from_reasons() {
        for (kind, words) in REQUEST_KINDS {
            let error = kind(api_error(500, "InternalError"));
            assert!(
                error.to_string().starts_with(words),
                "{error} does not say which request failed"
            );
            assert!(
                error.to_string().contains("the API server's message"),
                "{error}"
            );
            assert_eq!(error.category(), Category::Kubernetes, "{words}");
            // A Kubernetes failure is not counted as a run of `Creating`s.
            assert_ne!(error.category(), Category::Reported(Reason::Creating));
            assert_eq!(
                kind(api_error(409, "Conflict")).category(),
                Category::Conflict
            );
            assert_eq!(
                kind(api_error(409, "AlreadyExists")).category(),
                Category::Reported(Reason::SecretConflict)
            );
        }
        assert_eq!(
            Error::Iam(crate::iam::IamError::Throttled {
                message: "Rate exceeded".into()
            })
            .category(),
            Category::Reported(Reason::Throttled)
        );
        assert_eq!(Error::StaleCopy.category(), Category::Conflict);
        assert_eq!(Category::Kubernetes.as_str(), "KubernetesError");
    }
}
