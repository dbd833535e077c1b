//! The operator's narrow view of IAM: the five service-specific-credential calls behind a trait,
//! their aws-sdk-iam implementation, one client-side rate limiter for every call, a short-lived cache
//! that batches List calls per user and service, per-service snapshots that answer drift checks
//! for every user at once ([`snapshot`]), and the classification of IAM's errors.

mod limiter;
mod snapshot;

pub use limiter::Priority;
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

/// A password or API-key secret. Never printed: `Debug` is redacted and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }

    /// The secret itself; only for writing it into the Secret.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// The IAM status of a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialStatus {
    Active,
    Inactive,
    Expired,
    Other(String),
}

impl CredentialStatus {
    pub fn as_str(&self) -> &str {
        match self {
            CredentialStatus::Active => "Active",
            CredentialStatus::Inactive => "Inactive",
            CredentialStatus::Expired => "Expired",
            CredentialStatus::Other(s) => s,
        }
    }

    fn from_sdk(status: &StatusType) -> Self {
        match status {
            StatusType::Active => CredentialStatus::Active,
            StatusType::Inactive => CredentialStatus::Inactive,
            StatusType::Expired => CredentialStatus::Expired,
            other => CredentialStatus::Other(other.as_str().to_string()),
        }
    }
}

/// What IAM tells about a credential, never including its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialMetadata {
    pub id: String,
    pub user_name: String,
    pub service_name: String,
    /// Password services: the login name (`user-at-ACCOUNT`).
    pub service_user_name: Option<String>,
    /// API-key services: the public part of the key.
    pub alias: Option<String>,
    pub status: CredentialStatus,
    pub create_date: Timestamp,
    pub expiration_date: Option<Timestamp>,
}

impl CredentialMetadata {
    /// The name a client logs in with: the service user name or the API-key alias.
    pub fn login(&self) -> &str {
        self.service_user_name
            .as_deref()
            .or(self.alias.as_deref())
            .unwrap_or_default()
    }
}

/// A credential with its one-time secret, as Create and Reset return it.
#[derive(Clone, Debug)]
pub struct IssuedCredential {
    pub metadata: CredentialMetadata,
    pub secret: SecretValue,
}

/// IAM's answers, classified into what the reconcile loop acts on. Messages come from IAM's error
/// metadata or the transport and never hold secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
pub enum IamError {
    #[error("IAM user {user:?} does not exist")]
    UserNotFound { user: String },
    #[error("IAM does not support service-specific credentials for {service:?}")]
    ServiceNotSupported { service: String },
    #[error(
        "IAM refused a new credential: the user holds the maximum number for this service ({message})"
    )]
    LimitExceeded { message: String },
    #[error("credential {id} does not exist in IAM")]
    CredentialNotFound { id: String },
    #[error("IAM throttled the request ({message})")]
    Throttled { message: String },
    #[error("IAM denied the operator's request: {message}")]
    AccessDenied { message: String },
    #[error("IAM rejected the request: {code}: {message}")]
    Rejected { code: String, message: String },
    #[error("IAM is unavailable: {message}")]
    Unavailable { message: String },
}

impl IamError {
    /// Whether IAM certainly did not carry the request out: it answered with a refusal. Transport
    /// errors, timeouts and 5xx may hide a request that took effect.
    pub fn is_definite(&self) -> bool {
        !matches!(self, IamError::Unavailable { .. })
    }

    /// Short machine-readable code for metrics labels: the variant's name.
    pub fn code(&self) -> &'static str {
        self.into()
    }
}

/// Classifies an IAM error from its wire code, HTTP status and message.
///
/// IAM answers several different conditions with `NoSuchEntity`; the message tells them apart
/// (recorded AWS answers: "The user with name X cannot be found.", "No such service X is supported
/// for Service Specific Credentials", "No such credential X exists").
pub fn classify(
    code: Option<&str>,
    message: Option<&str>,
    http_status: Option<u16>,
    user: &str,
    service: Option<&str>,
    id: Option<&str>,
) -> IamError {
    let message = message.unwrap_or_default().to_string();
    match code {
        Some("NoSuchEntity") if message.starts_with("No such service") => {
            IamError::ServiceNotSupported {
                service: service.unwrap_or_default().to_string(),
            }
        }
        Some("NoSuchEntity") if message.starts_with("No such credential") => {
            IamError::CredentialNotFound {
                id: id.unwrap_or_default().to_string(),
            }
        }
        Some("NoSuchEntity") => IamError::UserNotFound {
            user: user.to_string(),
        },
        Some("NotSupportedService") => IamError::ServiceNotSupported {
            service: service.unwrap_or_default().to_string(),
        },
        Some("LimitExceeded") => IamError::LimitExceeded { message },
        Some(
            "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException",
        ) => IamError::Throttled { message },
        Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") => {
            IamError::AccessDenied { message }
        }
        Some(code) if http_status.is_some_and(|s| s >= 500) => IamError::Unavailable {
            message: format!("{code}: {message}"),
        },
        Some("ServiceFailure" | "ServiceUnavailable" | "InternalFailure" | "InternalError") => {
            IamError::Unavailable { message }
        }
        Some(code) => IamError::Rejected {
            code: code.to_string(),
            message,
        },
        None if http_status.is_some_and(|s| s == 429) => IamError::Throttled { message },
        None => IamError::Unavailable {
            message: if message.is_empty() {
                format!("HTTP status {}", http_status.unwrap_or_default())
            } else {
                message
            },
        },
    }
}

pub(crate) fn classify_sdk<E>(
    error: SdkError<E, HttpResponse>,
    user: &str,
    service: Option<&str>,
    id: Option<&str>,
) -> IamError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(session) = find_in_chain::<crate::identity::SessionError>(&error) {
        return session.as_iam_error();
    }
    if lacks_credentials(&error) {
        return IamError::AccessDenied {
            message: "the operator has no AWS credentials (none in its environment, profile, web identity token, container or instance metadata): give its ServiceAccount an IAM role (IRSA or EKS Pod Identity) or set AWS credentials".into(),
        };
    }
    if caused_by::<crate::fence::NotLeading>(&error) {
        return IamError::Unavailable {
            message: crate::fence::NotLeading.to_string(),
        };
    }
    match &error {
        SdkError::ServiceError(service_error) => {
            let status = Some(service_error.raw().status().as_u16());
            let err = service_error.err();
            classify(err.code(), err.message(), status, user, service, id)
        }
        SdkError::TimeoutError(_) => IamError::Unavailable {
            message: "request timed out".into(),
        },
        SdkError::DispatchFailure(failure) => IamError::Unavailable {
            message: if failure.is_timeout() {
                "request timed out".into()
            } else {
                "could not connect to the IAM endpoint".into()
            },
        },
        SdkError::ResponseError(_) => IamError::Unavailable {
            message: "unreadable response from IAM".into(),
        },
        SdkError::ConstructionFailure(_) => IamError::Rejected {
            code: "ConstructionFailure".into(),
            message: "the request could not be built (check region and credentials)".into(),
        },
        _ => IamError::Unavailable {
            message: "unexpected error talking to IAM".into(),
        },
    }
}

/// Whether the SDK failed because its credentials chain found nothing to sign with.
fn lacks_credentials(error: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<aws_credential_types::provider::error::CredentialsError>(error)
}

/// Whether an `E` is in the error's source chain.
fn caused_by<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    find_in_chain::<E>(error).is_some()
}

/// The first `E` in the error's source chain.
fn find_in_chain<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        source = e.source();
    }
    None
}

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
pub const CREATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting to the IAM endpoint (the SDK's own default).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// One attempt of any IAM call.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
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

type ListKey = (String, String);

/// Credentials per page of a service snapshot: IAM's most.
const SNAPSHOT_PAGE: i32 = 1000;
/// After IAM refused listing all users, how long per-user Lists are used before trying again.
const SNAPSHOT_DENIED_RETRY: Duration = Duration::from_secs(15 * 60);
/// After a snapshot fetch was throttled or IAM was unavailable, how long callers get that
/// error (and back off with it) before the next fetch: the reconciles that queued behind the
/// failed fetch, not a backoff of its own (shorter than any reason's first retry).
const SNAPSHOT_FAILED_RETRY: Duration = Duration::from_secs(1);
/// Pages of one snapshot at most (a million credentials): a Marker that never ends is not
/// followed for ever.
const SNAPSHOT_MAX_PAGES: usize = 1000;

/// Why a service's snapshots are paused after a failed fetch.
#[derive(Clone, Debug)]
enum SnapshotPause {
    /// IAM refused `AllUsers` (no permission, not supported): per-user Lists answer.
    PerUser,
    /// A passing failure (throttled, unavailable): callers get it until the pause ends.
    Failing(IamError),
}

impl SnapshotPause {
    fn answer(self) -> Result<snapshot::Answer, IamError> {
        match self {
            SnapshotPause::PerUser => Ok(snapshot::Answer::Missing),
            SnapshotPause::Failing(error) => Err(error),
        }
    }
}

/// Marks a snapshot fetch failed when dropped before it completed.
struct FetchGuard<'a> {
    iam: &'a AwsIam,
    service: &'a str,
    done: bool,
}

impl Drop for FetchGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.iam.snapshots().fetch_failed(self.service);
        }
    }
}

/// What the [`Iam`] clients of one identity share, whatever namespace's session they sign with:
/// the List cache and the service snapshots (one account's users, seen through one role).
#[derive(Default)]
pub(crate) struct IdentityCaches {
    list_cache: Mutex<HashMap<ListKey, (Instant, Vec<CredentialMetadata>)>>,
    snapshots: Mutex<snapshot::Snapshots>,
    /// One snapshot fetch at a time per service; the others wait for its result.
    snapshot_fetches: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Per service: until when IAM is not asked for its snapshot again (a fetch failed).
    snapshots_paused_until: Mutex<HashMap<String, (Instant, SnapshotPause)>>,
}

/// The client-side limit on one AWS account's IAM calls (IAM's limits are per account).
#[derive(Clone)]
pub struct AccountLimiter(Arc<limiter::Limiter>);

impl AccountLimiter {
    pub fn new(limits: &IamLimits) -> Self {
        AccountLimiter(Arc::new(limiter::Limiter::new(
            limits.rate_per_second,
            limits.burst,
        )))
    }
}

/// The [`Iam`] implementation over aws-sdk-iam.
pub struct AwsIam {
    client: aws_sdk_iam::Client,
    limiter: AccountLimiter,
    caches: Arc<IdentityCaches>,
    list_cache_ttl: Duration,
    observer: Arc<dyn IamObserver>,
    /// The AWS account the calls go to, for metrics (set once known).
    account: std::sync::OnceLock<String>,
}

impl AwsIam {
    pub fn new(
        client: aws_sdk_iam::Client,
        limits: IamLimits,
        observer: Arc<dyn IamObserver>,
    ) -> Self {
        AwsIam {
            client,
            limiter: AccountLimiter::new(&limits),
            caches: Arc::default(),
            list_cache_ttl: limits.list_cache_ttl,
            observer,
            account: std::sync::OnceLock::new(),
        }
    }

    /// Names the AWS account this client's calls go to (metrics label them with it).
    pub fn set_account(&self, account: &str) {
        let _ = self.account.set(account.to_string());
    }

    /// Another client (another session) of the identity this one serves: the same caches,
    /// limited with `limiter` (its account's).
    pub(crate) fn sibling(
        &self,
        client: aws_sdk_iam::Client,
        limiter: AccountLimiter,
        caches: Arc<IdentityCaches>,
    ) -> Self {
        AwsIam {
            client,
            limiter,
            caches,
            list_cache_ttl: self.list_cache_ttl,
            observer: self.observer.clone(),
            account: std::sync::OnceLock::new(),
        }
    }

    /// The SDK client (its config carries the endpoint, timeouts and the write fence).
    pub fn client(&self) -> &aws_sdk_iam::Client {
        &self.client
    }

    /// The limiter this client's calls wait for.
    pub fn limiter(&self) -> AccountLimiter {
        self.limiter.clone()
    }

    /// Builds the SDK client from the standard AWS chain, with an optional endpoint override
    /// (the SDK's own `AWS_ENDPOINT_URL_IAM` also works) and region.
    pub async fn sdk_client(
        endpoint_url: Option<&str>,
        region: Option<&str>,
        credentials: Option<aws_credential_types::Credentials>,
    ) -> aws_sdk_iam::Client {
        Self::iam_client(&Self::sdk_config(endpoint_url, region, credentials).await)
    }

    /// The SDK settings every AWS client of the operator starts from: the standard AWS chain
    /// (or `credentials`), an optional endpoint for every service (the emulator serves IAM and
    /// STS on one), the region (IAM's us-east-1 when none is set) and deadlines.
    pub async fn sdk_config(
        endpoint_url: Option<&str>,
        region: Option<&str>,
        credentials: Option<aws_credential_types::Credentials>,
    ) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region.to_string()));
        }
        if let Some(credentials) = credentials {
            loader = loader.credentials_provider(credentials);
        }
        // No IAM call may hang a reconcile (or a shutdown): each attempt and each operation,
        // retries included, has a deadline.
        loader = loader.timeout_config(
            aws_sdk_iam::config::timeout::TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
        let config = loader.load().await;
        if config.region().is_some() {
            return config;
        }
        // IAM is global; its signing region is us-east-1.
        config
            .into_builder()
            .region(aws_config::Region::new("us-east-1"))
            .build()
    }

    /// An IAM client with `config`'s settings.
    pub fn iam_client(config: &aws_config::SdkConfig) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::from_conf(aws_sdk_iam::config::Builder::from(config).build())
    }

    /// Waits for the rate limiter: calls someone waits for before routine snapshot fetches.
    async fn admit(&self) -> Duration {
        self.limiter.0.admit(Priority::Urgent).await
    }

    fn key(user: &str, service: &str) -> ListKey {
        // IAM user names are case-insensitive.
        (user.to_lowercase(), service.to_string())
    }

    /// Applies a successful write to the cached lists of `user` (of `service`, when known), so
    /// the reconcile that follows a write does not need another List call.
    fn write_through(
        &self,
        user: &str,
        service: Option<&str>,
        change: impl Fn(&mut Vec<CredentialMetadata>),
    ) {
        self.snapshots().write_through(user, service, &change);
        let user = user.to_lowercase();
        let mut cache = self.caches.list_cache.lock().expect("list cache lock");
        for ((u, s), (_, list)) in cache.iter_mut() {
            if *u == user && service.is_none_or(|service| service == s) {
                change(list);
            }
        }
    }

    fn after_write<T>(
        &self,
        user: &str,
        service: Option<&str>,
        result: &Result<T, IamError>,
        change: impl Fn(&mut Vec<CredentialMetadata>, &T),
    ) {
        match result {
            Ok(value) => self.write_through(user, service, |list| change(list, value)),
            Err(error) => self.invalidate(user, !error.is_definite()),
        }
    }

    /// Forgets the cached answers for `user`; `unknown_outcome`: a write of ours may still
    /// take effect (see `snapshot::DISTRUST_CARRY`).
    fn invalidate(&self, user: &str, unknown_outcome: bool) {
        self.snapshots().distrust(user, unknown_outcome);
        let user = user.to_lowercase();
        self.caches
            .list_cache
            .lock()
            .expect("list cache lock")
            .retain(|(u, _), _| *u != user);
    }

    fn snapshots(&self) -> std::sync::MutexGuard<'_, snapshot::Snapshots> {
        self.caches.snapshots.lock().expect("snapshots lock")
    }

    /// Why snapshots of `service` are not fetched now, if a fetch failed lately.
    fn snapshot_pause(&self, service: &str) -> Option<SnapshotPause> {
        let mut paused = self
            .caches
            .snapshots_paused_until
            .lock()
            .expect("paused lock");
        paused.retain(|_, (until, _)| Instant::now() < *until);
        paused.get(service).map(|(_, pause)| pause.clone())
    }

    /// What a snapshot of `service` says of `user`, fetching one (once for all waiting
    /// reconciles) when none is young enough.
    async fn snapshot_answer(
        &self,
        user: &str,
        service: &str,
        max_age: Duration,
        priority: Priority,
    ) -> Result<snapshot::Answer, IamError> {
        let answer = self.snapshots().answer(service, user, max_age);
        if answer != snapshot::Answer::Missing {
            return Ok(answer);
        }
        if let Some(pause) = self.snapshot_pause(service) {
            return pause.answer();
        }
        let waiting_since = Instant::now();
        let fetch = self
            .caches
            .snapshot_fetches
            .lock()
            .expect("fetch locks")
            .entry(service.to_string())
            .or_default()
            .clone();
        let _fetching = fetch.lock().await;
        // A fetch that ended while this call waited is as recent as any it could make; one
        // that failed meanwhile answers for this call too.
        let answer = self
            .snapshots()
            .answer_fetched_since(service, user, waiting_since);
        if answer != snapshot::Answer::Missing {
            return Ok(answer);
        }
        if let Some(pause) = self.snapshot_pause(service) {
            return pause.answer();
        }
        match self.fetch_snapshot(service, priority).await {
            Ok(()) => Ok(self
                .snapshots()
                .answer_fetched_since(service, user, waiting_since)),
            Err(error) => {
                let (retry_in, pause) = match &error {
                    // Passing: every caller backs off with it, without asking again.
                    IamError::Throttled { .. } | IamError::Unavailable { .. } => {
                        (SNAPSHOT_FAILED_RETRY, SnapshotPause::Failing(error.clone()))
                    }
                    // A refusal of `AllUsers` itself: per-user Lists answer instead, and IAM is
                    // asked again much later (a policy does not change by itself).
                    _ => (SNAPSHOT_DENIED_RETRY, SnapshotPause::PerUser),
                };
                tracing::warn!(
                    service,
                    %error,
                    ?retry_in,
                    "could not list the credentials of all users (AllUsers needs iam:ListServiceSpecificCredentials on user/*)"
                );
                self.caches
                    .snapshots_paused_until
                    .lock()
                    .expect("paused lock")
                    .insert(
                        service.to_string(),
                        (Instant::now() + retry_in, pause.clone()),
                    );
                pause.answer()
            }
        }
    }

    /// Lists every user's credentials of `service`, page by page, into a new snapshot.
    async fn fetch_snapshot(&self, service: &str, priority: Priority) -> Result<(), IamError> {
        let taken = Instant::now();
        self.snapshots().fetch_started(service);
        // Ends the fetch as failed unless it completes (an error, or the reconcile dropped).
        let unfinished = FetchGuard {
            iam: self,
            service,
            done: false,
        };
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..SNAPSHOT_MAX_PAGES {
            let waited = self.limiter.0.admit(priority).await;
            let result = self
                .client
                .list_service_specific_credentials()
                .all_users(true)
                .service_name(service)
                .max_items(SNAPSHOT_PAGE)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| classify_sdk(e, "", Some(service), None));
            self.record("ListServiceSpecificCredentials", &result, waited);
            let page = result?;
            all.extend(page.service_specific_credentials().iter().map(metadata));
            marker = next_marker(&page);
            if marker.is_none() {
                tracing::debug!(
                    service,
                    credentials = all.len(),
                    "took a snapshot of the service's credentials"
                );
                self.snapshots().fetched(service, taken, all);
                let mut finished = unfinished;
                finished.done = true;
                return Ok(());
            }
        }
        Err(IamError::Unavailable {
            message: format!(
                "listing all users' credentials did not end after {SNAPSHOT_MAX_PAGES} pages"
            ),
        })
    }

    fn record<T>(&self, operation: &'static str, result: &Result<T, IamError>, waited: Duration) {
        self.observer.call(
            self.account.get().map_or("", String::as_str),
            operation,
            result.as_ref().map(|_| ()),
            waited,
        );
    }
}

/// The Marker of the next page of a List answer, if there is one.
fn next_marker(
    page: &aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsOutput,
) -> Option<String> {
    page.marker()
        .filter(|next| page.is_truncated() && !next.is_empty())
        .map(str::to_string)
}

fn timestamp(dt: &aws_smithy_types::DateTime) -> Timestamp {
    Timestamp::new(dt.secs(), dt.subsec_nanos() as i32).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

fn issued(c: &aws_sdk_iam::types::ServiceSpecificCredential) -> IssuedCredential {
    let secret = c
        .service_credential_secret()
        .map(str::to_string)
        .or_else(|| non_empty(c.service_password()))
        .unwrap_or_default();
    IssuedCredential {
        metadata: CredentialMetadata {
            id: c.service_specific_credential_id().to_string(),
            user_name: c.user_name().to_string(),
            service_name: c.service_name().to_string(),
            service_user_name: non_empty(c.service_user_name()),
            alias: c.service_credential_alias().and_then(non_empty),
            status: CredentialStatus::from_sdk(c.status()),
            create_date: timestamp(c.create_date()),
            expiration_date: c.expiration_date().map(timestamp),
        },
        secret: SecretValue::new(secret),
    }
}

fn metadata(c: &aws_sdk_iam::types::ServiceSpecificCredentialMetadata) -> CredentialMetadata {
    CredentialMetadata {
        id: c.service_specific_credential_id().to_string(),
        user_name: c.user_name().to_string(),
        service_name: c.service_name().to_string(),
        service_user_name: non_empty(c.service_user_name()),
        alias: c.service_credential_alias().and_then(non_empty),
        status: CredentialStatus::from_sdk(c.status()),
        create_date: timestamp(c.create_date()),
        expiration_date: c.expiration_date().map(timestamp),
    }
}

#[async_trait]
impl Iam for AwsIam {
    async fn create(
        &self,
        user: &str,
        service: &str,
        credential_age_days: Option<i32>,
    ) -> Result<IssuedCredential, IamError> {
        let waited = self.admit().await;
        // Never retried by the SDK: a retry after a lost answer could make a second credential
        // nobody knows of. A failed attempt is resolved by the reconcile loop instead, which finds
        // the credential the attempt may have made (see `plan::adoption_candidates`) — within the
        // adoption window, which the operation timeout keeps this call inside.
        let once = aws_sdk_iam::config::Builder::default()
            .retry_config(aws_sdk_iam::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_iam::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(CREATE_TIMEOUT)
                    .operation_timeout(CREATE_TIMEOUT)
                    .build(),
            );
        let result = self
            .client
            .create_service_specific_credential()
            .user_name(user)
            .service_name(service)
            .set_credential_age_days(credential_age_days)
            .customize()
            .config_override(once)
            .send()
            .await
            .map_err(|e| classify_sdk(e, user, Some(service), None))
            .and_then(|out| {
                out.service_specific_credential()
                    .map(issued)
                    .ok_or_else(|| IamError::Unavailable {
                        message: "IAM answered Create without a credential".into(),
                    })
            });
        self.record("CreateServiceSpecificCredential", &result, waited);
        self.after_write(user, Some(service), &result, |list, issued| {
            // A snapshot fetched meanwhile may already hold it.
            list.retain(|c| c.id != issued.metadata.id);
            list.push(issued.metadata.clone())
        });
        result
    }

    async fn list(&self, user: &str, service: &str) -> Result<Vec<CredentialMetadata>, IamError> {
        let key = Self::key(user, service);
        if let Some((at, cached)) = self
            .caches
            .list_cache
            .lock()
            .expect("list cache lock")
            .get(&key)
            && at.elapsed() < self.list_cache_ttl
        {
            return Ok(cached.clone());
        }
        tracing::debug!(user, service, "listing the user's credentials");
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let waited = self.admit().await;
            let result = self
                .client
                .list_service_specific_credentials()
                .user_name(user)
                .service_name(service)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| classify_sdk(e, user, Some(service), None));
            self.record("ListServiceSpecificCredentials", &result, waited);
            let page = result?;
            all.extend(page.service_specific_credentials().iter().map(metadata));
            marker = next_marker(&page);
            if marker.is_none() {
                break;
            }
        }
        self.snapshots().listed(service, user, &all);
        self.caches
            .list_cache
            .lock()
            .expect("list cache lock")
            .insert(key, (Instant::now(), all.clone()));
        Ok(all)
    }

    async fn list_recent(
        &self,
        user: &str,
        service: &str,
        max_age: Duration,
        priority: Priority,
    ) -> Result<Listing, IamError> {
        if let snapshot::Answer::Listed(credentials) = self
            .snapshot_answer(user, service, max_age, priority)
            .await?
        {
            return Ok(Listing {
                credentials,
                from_snapshot: true,
            });
        }
        self.list(user, service).await.map(Listing::exact)
    }

    async fn reset(&self, user: &str, id: &str) -> Result<IssuedCredential, IamError> {
        let waited = self.admit().await;
        let result = self
            .client
            .reset_service_specific_credential()
            .user_name(user)
            .service_specific_credential_id(id)
            .send()
            .await
            .map_err(|e| classify_sdk(e, user, None, Some(id)))
            .and_then(|out| {
                out.service_specific_credential()
                    .map(issued)
                    .ok_or_else(|| IamError::Unavailable {
                        message: "IAM answered Reset without a credential".into(),
                    })
            });
        self.record("ResetServiceSpecificCredential", &result, waited);
        self.after_write(user, None, &result, |list, issued| {
            for c in list.iter_mut().filter(|c| c.id == issued.metadata.id) {
                *c = issued.metadata.clone();
            }
        });
        result
    }

    async fn update_status(&self, user: &str, id: &str, active: bool) -> Result<(), IamError> {
        let waited = self.admit().await;
        let status = if active {
            StatusType::Active
        } else {
            StatusType::Inactive
        };
        let result = self
            .client
            .update_service_specific_credential()
            .user_name(user)
            .service_specific_credential_id(id)
            .status(status)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_sdk(e, user, None, Some(id)));
        self.record("UpdateServiceSpecificCredential", &result, waited);
        self.after_write(user, None, &result, |list, _| {
            for c in list.iter_mut().filter(|c| c.id == id) {
                c.status = if active {
                    CredentialStatus::Active
                } else {
                    CredentialStatus::Inactive
                };
            }
        });
        result
    }

    async fn delete(&self, user: &str, id: &str) -> Result<(), IamError> {
        let waited = self.admit().await;
        let result = self
            .client
            .delete_service_specific_credential()
            .user_name(user)
            .service_specific_credential_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_sdk(e, user, None, Some(id)));
        self.record("DeleteServiceSpecificCredential", &result, waited);
        self.after_write(user, None, &result, |list, _| list.retain(|c| c.id != id));
        result
    }
}

#[cfg(test)]
mod tests;
