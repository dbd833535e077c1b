//! The operator's narrow view of IAM: the five service-specific-credential calls behind a trait,
//! their aws-sdk-iam implementation, one client-side rate limiter for every call, a short-lived cache
//! that batches List calls per user and service, per-service snapshots that answer drift checks
//! for every user at once ([`snapshot`]), and the classification of IAM's errors.

mod limiter;
mod snapshot;

pub(crate) use limiter::Priority;
pub(crate) use limiter::{CallTag, as_class, tagged};

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::StatusType;
use jiff::Timestamp;

mod aws;
mod calls;
mod credential;
mod errors;
pub use aws::*;
use calls::*;
pub use credential::*;
pub use errors::*;

/// A user's credentials of a service, and whether a service snapshot (possibly as old as the
/// age asked for) answered rather than a List of the user just now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub credentials: Vec<CredentialMetadata>,
    pub from_snapshot: bool,
}

impl Listing {
    /// A List of the user just now.
    pub fn exact(credentials: Vec<CredentialMetadata>) -> Self {
        Listing {
            credentials,
            from_snapshot: false,
        }
    }
}

/// The five IAM calls the reconcile loop makes. Object-safe so tests and the controller share it.
#[async_trait]
pub trait Iam: Send + Sync {
    async fn create(
        &self,
        user: &str,
        service: &str,
        credential_age_days: Option<i32>,
    ) -> Result<IssuedCredential, IamError>;
    /// Every credential of `user` for `service`, across all pages.
    async fn list(&self, user: &str, service: &str) -> Result<Vec<CredentialMetadata>, IamError>;
    /// The same from a snapshot of the whole service no older than `max_age`, where one can
    /// answer for the user; else as [`Iam::list`]. A snapshot fetched for it waits behind
    /// urgent calls when `priority` is routine.
    async fn list_recent(
        &self,
        user: &str,
        service: &str,
        max_age: Duration,
        priority: Priority,
    ) -> Result<Listing, IamError> {
        let _ = (max_age, priority);
        self.list(user, service).await.map(Listing::exact)
    }
    async fn reset(&self, user: &str, id: &str) -> Result<IssuedCredential, IamError>;
    async fn update_status(&self, user: &str, id: &str, active: bool) -> Result<(), IamError>;
    async fn delete(&self, user: &str, id: &str) -> Result<(), IamError>;
}

/// Observes every IAM call: for metrics (operation, outcome code, rate-limiter wait).
pub trait IamObserver: Send + Sync {
    /// One call in `account` (the AWS account id; "" while unknown).
    fn call(
        &self,
        account: &str,
        operation: &'static str,
        result: Result<(), &IamError>,
        waited: Duration,
    );
}

/// How long one CreateServiceSpecificCredential may take (well inside
/// `plan::ADOPTION_WINDOW`).
pub(crate) const CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting to the IAM endpoint (the SDK's own default).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// One attempt of any IAM call.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Any IAM call, retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of the client-side limiter and List cache.
#[derive(Clone, Debug)]
pub struct IamLimits {
    /// Calls per second across the whole operator.
    pub rate_per_second: NonZeroU32,
    pub burst: NonZeroU32,
    /// How long a List answer is reused for other resources of the same user and service.
    pub list_cache_ttl: Duration,
}

impl Default for IamLimits {
    fn default() -> Self {
        IamLimits {
            rate_per_second: NonZeroU32::new(5).expect("non-zero"),
            burst: NonZeroU32::new(10).expect("non-zero"),
            list_cache_ttl: Duration::from_secs(20),
        }
    }
}

#[cfg(test)]
mod tests;
