//! The aws-sdk-iam implementation: its client, limiter, List cache and the per-service
//! snapshots that answer drift checks.

use super::*;

pub(super) type ListKey = (String, String);

/// Credentials per page of a service snapshot: IAM's most.
pub(super) const SNAPSHOT_PAGE: i32 = 1000;
/// After IAM refused listing all users, how long per-user Lists are used before trying again.
pub(super) const SNAPSHOT_DENIED_RETRY: Duration = Duration::from_secs(15 * 60);
/// After a snapshot fetch was throttled or IAM was unavailable, how long callers get that
/// error (and back off with it) before the next fetch: the reconciles that queued behind the
/// failed fetch, not a backoff of its own (shorter than any reason's first retry).
pub(super) const SNAPSHOT_FAILED_RETRY: Duration = Duration::from_secs(1);
/// Pages of one snapshot at most (a million credentials): a Marker that never ends is not
/// followed for ever.
pub(super) const SNAPSHOT_MAX_PAGES: usize = 1000;

/// Why a service's snapshots are paused after a failed fetch.
#[derive(Clone, Debug)]
pub(super) enum SnapshotPause {
    /// IAM refused `AllUsers` (no permission, not supported): per-user Lists answer.
    PerUser,
    /// A passing failure (throttled, unavailable): callers get it until the pause ends.
    Failing(IamError),
}

impl SnapshotPause {
    pub(super) fn answer(self) -> Result<snapshot::Answer, IamError> {
        match self {
            SnapshotPause::PerUser => Ok(snapshot::Answer::Missing),
            SnapshotPause::Failing(error) => Err(error),
        }
    }
}

/// Marks a snapshot fetch failed when dropped before it completed.
pub(super) struct FetchGuard<'a> {
    pub(super) iam: &'a AwsIam,
    pub(super) service: &'a str,
    pub(super) done: bool,
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
    pub(super) list_cache: Mutex<HashMap<ListKey, (Instant, Vec<CredentialMetadata>)>>,
    pub(super) snapshots: Mutex<snapshot::Snapshots>,
    /// One snapshot fetch at a time per service; the others wait for its result.
    pub(super) snapshot_fetches: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Per service: until when IAM is not asked for its snapshot again (a fetch failed).
    pub(super) snapshots_paused_until: Mutex<HashMap<String, (Instant, SnapshotPause)>>,
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
    pub(super) client: aws_sdk_iam::Client,
    pub(super) limiter: AccountLimiter,
    pub(super) caches: Arc<IdentityCaches>,
    pub(super) list_cache_ttl: Duration,
    pub(super) observer: Arc<dyn IamObserver>,
    /// The AWS account the calls go to, for metrics (set once known).
    pub(super) account: std::sync::OnceLock<String>,
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
    pub(super) async fn admit(&self) -> Duration {
        self.limiter.0.admit(Priority::Urgent).await
    }

    pub(super) fn key(user: &str, service: &str) -> ListKey {
        // IAM user names are case-insensitive.
        (user.to_lowercase(), service.to_string())
    }

    /// Applies a successful write to the cached lists of `user` (of `service`, when known), so
    /// the reconcile that follows a write does not need another List call.
    pub(super) fn write_through(
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

    pub(super) fn after_write<T>(
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
    pub(super) fn invalidate(&self, user: &str, unknown_outcome: bool) {
        self.snapshots().distrust(user, unknown_outcome);
        let user = user.to_lowercase();
        self.caches
            .list_cache
            .lock()
            .expect("list cache lock")
            .retain(|(u, _), _| *u != user);
    }

    pub(super) fn snapshots(&self) -> std::sync::MutexGuard<'_, snapshot::Snapshots> {
        self.caches.snapshots.lock().expect("snapshots lock")
    }

    /// Why snapshots of `service` are not fetched now, if a fetch failed lately.
    pub(super) fn snapshot_pause(&self, service: &str) -> Option<SnapshotPause> {
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
    pub(super) async fn snapshot_answer(
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
    pub(super) async fn fetch_snapshot(
        &self,
        service: &str,
        priority: Priority,
    ) -> Result<(), IamError> {
        let taken = Instant::now();
        self.snapshots().fetch_started(service);
        // Ends the fetch as failed unless it completes (an error, or the reconcile dropped).
        let unfinished = FetchGuard {
            iam: self,
            service,
            done: false,
        };
        let mut all = snapshot::Fetched::default();
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
            all.add(page.service_specific_credentials().iter().map(metadata));
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

    pub(super) fn record<T>(
        &self,
        operation: &'static str,
        result: &Result<T, IamError>,
        waited: Duration,
    ) {
        self.observer.call(
            self.account.get().map_or("", String::as_str),
            operation,
            result.as_ref().map(|_| ()),
            waited,
        );
    }
}
