//! AWS sessions of the identities: one IAM client per identity and namespace, signed with a
//! session of the identity's role that the SDK caches and renews before it expires.
//!
//! A session is assumed with the SDK's own STS client (aws-sdk-sts), carrying SourceIdentity
//! `ssc-operator` and the session tags `ssc-namespace` and `ssc-name`, so that the role's
//! policies can confine it to the namespace's users and CloudTrail shows who asked.
//! aws-config's `AssumeRoleProvider` cannot send a SourceIdentity (its builder has no such
//! setting, as of aws-config 1.13), so [`AssumeRole`] does what its provider does, plus that.
//!
//! Clients of one identity share their List cache and service snapshots; clients of one AWS
//! account share its rate limiter (IAM's limits are per account).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use tracing::{info, warn};

use super::resolve::{Chain, Hop, Resolved};
use crate::iam::{AccountLimiter, AwsIam, Iam, IamError, IamObserver, IdentityCaches};

/// The SourceIdentity every session carries: CloudTrail and trust policies see the operator.
pub(crate) const SOURCE_IDENTITY: &str = "ssc-operator";
/// The session tag naming the namespace the session acts for.
pub(crate) const NAMESPACE_TAG: &str = "ssc-namespace";
/// The session tag naming the IAMIdentity.
pub(crate) const NAME_TAG: &str = "ssc-name";

/// Hands out the IAM client a resource's identity signs with.
#[async_trait]
pub trait Directory: Send + Sync {
    /// The client of `identity` acting for `namespace`.
    fn iam(&self, identity: &Resolved, namespace: &str) -> Arc<dyn Iam>;
    /// The AWS account of `identity`, where known (the ambient one's is asked at start).
    fn account(&self, identity: &Resolved) -> Option<String>;
    /// Who a session of the chain is (GetCallerIdentity), assumed without a namespace.
    async fn whoami(&self, chain: &Chain) -> Result<CallerIdentity, IamError>;
}

/// What GetCallerIdentity says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

/// One client for every identity: for tests that do not exercise identities.
#[cfg(test)]
pub(crate) struct Fixed(pub Arc<dyn Iam>);

#[cfg(test)]
#[async_trait]
impl Directory for Fixed {
    fn iam(&self, _: &Resolved, _: &str) -> Arc<dyn Iam> {
        self.0.clone()
    }

    fn account(&self, identity: &Resolved) -> Option<String> {
        match identity {
            Resolved::Ambient => None,
            Resolved::Role(chain) => Some(chain.account().to_string()),
        }
    }

    async fn whoami(&self, chain: &Chain) -> Result<CallerIdentity, IamError> {
        Ok(CallerIdentity {
            account: chain.account().into(),
            arn: chain.role_arn().into(),
        })
    }
}

/// Why a session could not be had. Carries STS's error code and message (which name roles and
/// principals, never credentials).
#[derive(Debug, Clone, thiserror::Error)]
#[error("assuming {role_arn} for IAMIdentity {identity} failed: {error}")]
pub(crate) struct SessionError {
    pub identity: String,
    pub role_arn: String,
    pub error: IamError,
}

impl SessionError {
    /// The IAM error a call signed with this session reports.
    pub(crate) fn as_iam_error(&self) -> IamError {
        let message = format!(
            "assuming {} for IAMIdentity {}: {}",
            self.role_arn, self.identity, self.error
        );
        match &self.error {
            IamError::Throttled { .. } => IamError::Throttled { message },
            IamError::Unavailable { .. } => IamError::Unavailable { message },
            IamError::Rejected { code, .. } if code == "ExpiredToken" => {
                IamError::Unavailable { message }
            }
            _ => IamError::AccessDenied { message },
        }
    }
}

/// Assumes one role with the SDK's STS client, signed by `sts`'s credentials (the operator's
/// own, or the previous role's in a chain).
struct AssumeRole {
    sts: aws_sdk_sts::Client,
    hop: Hop,
    session_name: String,
    tags: Vec<(&'static str, String)>,
    observer: Arc<dyn IamObserver>,
}

impl std::fmt::Debug for AssumeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumeRole")
            .field("role_arn", &self.hop.role_arn)
            .field("session_name", &self.session_name)
            .finish_non_exhaustive()
    }
}

impl AssumeRole {
    async fn assume(&self) -> Result<Credentials, CredentialsError> {
        let started = Instant::now();
        let mut request = self
            .sts
            .assume_role()
            .role_arn(&self.hop.role_arn)
            .role_session_name(&self.session_name)
            .source_identity(SOURCE_IDENTITY)
            .duration_seconds(i32::try_from(self.hop.session.as_secs()).unwrap_or(3600))
            .set_external_id(self.hop.external_id.clone());
        for (key, value) in &self.tags {
            let tag = aws_sdk_sts::types::Tag::builder()
                .key(*key)
                .value(value)
                .build()
                .map_err(CredentialsError::invalid_configuration)?;
            request = request.tags(tag);
        }
        let answer = request
            .send()
            .await
            .map_err(|e| crate::iam::classify_sdk(e, "", None, None));
        let result = answer.and_then(|out| {
            let c = out.credentials.ok_or_else(|| IamError::Unavailable {
                message: "STS answered AssumeRole without credentials".into(),
            })?;
            Ok(Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                Some(c.session_token),
                SystemTime::try_from(c.expiration).ok(),
                "ssc-operator-session",
            ))
        });
        self.observer.call(
            super::api::account_of(&self.hop.role_arn).unwrap_or_default(),
            "AssumeRole",
            result.as_ref().map(|_| ()),
            started.elapsed(),
        );
        result.map_err(|error| {
            let error = SessionError {
                identity: self.hop.identity.clone(),
                role_arn: self.hop.role_arn.clone(),
                error,
            };
            warn!(%error, "could not assume an identity's role");
            CredentialsError::provider_error(error)
        })
    }
}

impl ProvideCredentials for AssumeRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

/// The session name STS records: the namespace it acts for (64 characters at most).
fn session_name(namespace: Option<&str>) -> String {
    let name = match namespace {
        Some(ns) => format!("ssc-{ns}"),
        None => "ssc-operator".to_string(),
    };
    name.chars().take(64).collect()
}

/// One identity's session for one namespace (or none: the status probe).
struct Session {
    iam: Arc<AwsIam>,
    sts: aws_sdk_sts::Client,
    last_used: Instant,
}

/// How long before its expiry a session is renewed (the next call that needs it assumes the
/// role again): well above any clock skew between the operator and STS, so that no call is
/// signed with a session STS already considers expired. The SDK's cache jitters it by up to
/// half: renewal comes 2.5 to 5 minutes before expiry.
pub(crate) const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// Sessions kept before unused ones are dropped.
const SESSIONS_KEPT: usize = 1024;
/// A session unused this long is dropped once more than [`SESSIONS_KEPT`] exist.
const SESSION_IDLE: Duration = Duration::from_secs(3600);

/// The [`Directory`] over AWS: the ambient client and sessions of the identities' roles.
pub struct AwsDirectory {
    ambient: Arc<AwsIam>,
    ambient_account: Option<String>,
    /// STS signed with the operator's own credentials.
    sts: aws_sdk_sts::Client,
    limits: crate::iam::IamLimits,
    observer: Arc<dyn IamObserver>,
    renew_before: Duration,
    state: Mutex<DirectoryState>,
}

#[derive(Default)]
struct DirectoryState {
    limiters: HashMap<String, AccountLimiter>,
    caches: HashMap<Chain, Arc<IdentityCaches>>,
    sessions: HashMap<(Chain, Option<String>), Session>,
}

impl AwsDirectory {
    /// `ambient` is the operator's own client; `sts` an STS client with the same credentials.
    /// Asks STS once who the operator is, so that its account shares one limiter with the
    /// identities in the same account.
    pub async fn new(
        ambient: Arc<AwsIam>,
        sts: aws_sdk_sts::Client,
        limits: crate::iam::IamLimits,
        observer: Arc<dyn IamObserver>,
    ) -> Self {
        let ambient_account = match tokio::time::timeout(
            Duration::from_secs(10),
            sts.get_caller_identity().send(),
        )
        .await
        {
            Ok(Ok(me)) => me.account,
            Ok(Err(error)) => {
                let error = crate::iam::classify_sdk(error, "", None, None);
                warn!(%error, "GetCallerIdentity failed: the operator's own account is unknown and gets a rate limiter of its own");
                None
            }
            Err(_) => {
                warn!(
                    "GetCallerIdentity timed out: the operator's own account is unknown and gets a rate limiter of its own"
                );
                None
            }
        };
        if let Some(account) = &ambient_account {
            info!(%account, "the operator's own AWS account");
            ambient.set_account(account);
        }
        let mut state = DirectoryState::default();
        if let Some(account) = &ambient_account {
            state.limiters.insert(account.clone(), ambient.limiter());
        }
        AwsDirectory {
            ambient,
            ambient_account,
            sts,
            limits,
            observer,
            renew_before: RENEW_BEFORE,
            state: Mutex::new(state),
        }
    }

    /// Renews sessions this long before they expire instead of [`RENEW_BEFORE`] (tests).
    pub fn renewing_before(mut self, renew_before: Duration) -> Self {
        self.renew_before = renew_before;
        self
    }

    /// The session of `chain` for `namespace`, made on first use.
    fn session(
        &self,
        chain: &Chain,
        namespace: Option<&str>,
    ) -> (Arc<AwsIam>, aws_sdk_sts::Client) {
        let key = (chain.clone(), namespace.map(str::to_string));
        let mut state = self.state.lock().expect("directory lock");
        if let Some(session) = state.sessions.get_mut(&key) {
            session.last_used = Instant::now();
            return (session.iam.clone(), session.sts.clone());
        }
        if state.sessions.len() >= SESSIONS_KEPT {
            state
                .sessions
                .retain(|_, s| s.last_used.elapsed() < SESSION_IDLE);
            let DirectoryState {
                sessions, caches, ..
            } = &mut *state;
            caches.retain(|chain, _| sessions.keys().any(|(c, _)| c == chain));
        }
        let provider = self.provider(chain, namespace);
        // A cache of its own: the SDK's shared one keeps 64 providers at most and drops any
        // beyond, which would make every call of a busy operator assume its role again.
        let cache = aws_config::identity::IdentityCache::lazy()
            .buffer_time(self.renew_before)
            .build();
        let iam_client = aws_sdk_iam::Client::from_conf(
            self.ambient
                .client()
                .config()
                .to_builder()
                .credentials_provider(provider.clone())
                .identity_cache(cache.clone())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            self.sts
                .config()
                .to_builder()
                .credentials_provider(provider)
                .identity_cache(cache)
                .build(),
        );
        let limiter = state
            .limiters
            .entry(chain.account().to_string())
            .or_insert_with(|| AccountLimiter::new(&self.limits))
            .clone();
        let caches = state.caches.entry(chain.clone()).or_default().clone();
        let iam = Arc::new(self.ambient.sibling(iam_client, limiter, caches));
        iam.set_account(chain.account());
        state.sessions.insert(
            key,
            Session {
                iam: iam.clone(),
                sts: sts.clone(),
                last_used: Instant::now(),
            },
        );
        (iam, sts)
    }

    /// The credentials of the chain's last role: each hop assumed with the previous one's.
    fn provider(&self, chain: &Chain, namespace: Option<&str>) -> SharedCredentialsProvider {
        let mut sts = self.sts.clone();
        let mut provider = None;
        for hop in &chain.hops {
            if let Some(previous) = provider.take() {
                sts = aws_sdk_sts::Client::from_conf(
                    sts.config()
                        .to_builder()
                        .credentials_provider(previous)
                        .identity_cache(aws_config::identity::IdentityCache::lazy().build())
                        .build(),
                );
            }
            let mut tags = vec![(NAME_TAG, hop.identity.clone())];
            if let Some(ns) = namespace {
                tags.push((NAMESPACE_TAG, ns.to_string()));
            }
            provider = Some(SharedCredentialsProvider::new(AssumeRole {
                sts: sts.clone(),
                hop: hop.clone(),
                session_name: session_name(namespace),
                tags,
                observer: self.observer.clone(),
            }));
        }
        provider.expect("a chain has at least one hop")
    }
}

#[async_trait]
impl Directory for AwsDirectory {
    fn iam(&self, identity: &Resolved, namespace: &str) -> Arc<dyn Iam> {
        match identity {
            Resolved::Ambient => self.ambient.clone(),
            Resolved::Role(chain) => self.session(chain, Some(namespace)).0,
        }
    }

    fn account(&self, identity: &Resolved) -> Option<String> {
        match identity {
            Resolved::Ambient => self.ambient_account.clone(),
            Resolved::Role(chain) => Some(chain.account().to_string()),
        }
    }

    async fn whoami(&self, chain: &Chain) -> Result<CallerIdentity, IamError> {
        let (_, sts) = self.session(chain, None);
        let me = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| crate::iam::classify_sdk(e, "", None, None))?;
        Ok(CallerIdentity {
            account: me.account.unwrap_or_default(),
            arn: me.arn.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_name_the_namespace_within_stss_limit() {
        assert_eq!(session_name(Some("team-b")), "ssc-team-b");
        assert_eq!(session_name(None), "ssc-operator");
        assert_eq!(session_name(Some(&"n".repeat(63))).len(), 64);
    }

    #[test]
    fn a_refused_session_reads_as_access_denied_naming_the_role() {
        let error = SessionError {
            identity: "team-b".into(),
            role_arn: "arn:aws:iam::210987654321:role/r".into(),
            error: IamError::AccessDenied {
                message: "not authorized to perform: sts:AssumeRole".into(),
            },
        };
        let iam = error.as_iam_error();
        assert_eq!(iam.code(), "AccessDenied");
        assert!(iam.to_string().contains("IAMIdentity team-b"), "{iam}");
        let throttled = SessionError {
            error: IamError::Throttled {
                message: "Rate exceeded".into(),
            },
            ..error
        };
        assert_eq!(throttled.as_iam_error().code(), "Throttled");
    }
}
