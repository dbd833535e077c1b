//! The write fence: whether this replica may write *now*. Leader election opens it until a
//! deadline on the monotonic clock (the last renewal's start plus the renew deadline), and every
//! Kubernetes and IAM write checks it right before it is sent — after any rate-limiter wait and
//! before each retry. A leader that was paused (SIGSTOP, a long GC-like stall, a hung node) and
//! resumes past its deadline therefore sends nothing, even before its election loop has run again
//! to notice: the deadline is checked against the clock, not against a flag someone must flip.
//! (The monotonic clock keeps running while a process is stopped; it does not count a suspended
//! machine or a frozen VM's guest clock, which this cannot see.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aws_sdk_iam::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use axum::http;
use futures::future::BoxFuture;

/// The error of a write refused by the fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not sent: this replica is not the leader (its Lease renewal is overdue)")]
pub struct NotLeading;

/// A Kubernetes request that got no answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the Kubernetes API server did not answer within {0:?}")]
pub(crate) struct RequestTimedOut(pub Duration);

/// Shared between the election (which moves the deadline) and the clients (which check it).
#[derive(Clone, Debug)]
pub struct WriteFence {
    inner: Option<Arc<Deadline>>,
}

#[derive(Debug)]
struct Deadline {
    origin: Instant,
    /// Nanoseconds after `origin` until which writes may be sent; 0: closed.
    open_until: AtomicU64,
}

impl WriteFence {
    /// A fence that starts closed and opens only while an election says so.
    pub fn closed() -> Self {
        WriteFence {
            inner: Some(Arc::new(Deadline {
                origin: Instant::now(),
                open_until: AtomicU64::new(0),
            })),
        }
    }

    /// No fence: the only replica (leader election off).
    pub fn always_open() -> Self {
        WriteFence { inner: None }
    }

    /// Opens the fence until `until` (moves the deadline, also backwards).
    pub fn open_until(&self, until: Instant) {
        if let Some(d) = &self.inner {
            let nanos = until.saturating_duration_since(d.origin).as_nanos();
            d.open_until.store(
                u64::try_from(nanos).unwrap_or(u64::MAX).max(1),
                Ordering::SeqCst,
            );
        }
    }

    pub fn close(&self) {
        if let Some(d) = &self.inner {
            d.open_until.store(0, Ordering::SeqCst);
        }
    }

    pub fn is_open(&self) -> bool {
        self.is_open_at(Instant::now())
    }

    fn is_open_at(&self, now: Instant) -> bool {
        let Some(d) = &self.inner else {
            return true;
        };
        let until = d.open_until.load(Ordering::SeqCst);
        let elapsed = now.saturating_duration_since(d.origin).as_nanos();
        until != 0 && elapsed < u128::from(until)
    }

    /// When the fence closes by itself (`None`: never, or already closed).
    pub fn deadline(&self) -> Option<Instant> {
        let d = self.inner.as_ref()?;
        match d.open_until.load(Ordering::SeqCst) {
            0 => None,
            nanos => Some(d.origin + Duration::from_nanos(nanos)),
        }
    }

    pub fn check(&self) -> Result<(), NotLeading> {
        if self.is_open() {
            Ok(())
        } else {
            Err(NotLeading)
        }
    }
}

/// IAM operations that change nothing, and so need no fence.
fn is_iam_read(operation: &str) -> bool {
    operation.starts_with("List") || operation.starts_with("Get")
}

/// Refuses IAM writes when the fence is closed, right before each attempt is transmitted.
#[derive(Debug)]
pub(crate) struct IamWriteFence(pub WriteFence);

impl Intercept for IamWriteFence {
    fn name(&self) -> &'static str {
        "IamWriteFence"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let read = cfg
            .load::<Metadata>()
            .is_some_and(|metadata| is_iam_read(metadata.name()));
        if read {
            return Ok(());
        }
        self.0.check().map_err(BoxError::from)
    }
}

/// The IAM client with the fence on every write.
pub fn fence_iam(client: &aws_sdk_iam::Client, fence: WriteFence) -> aws_sdk_iam::Client {
    let config = client
        .config()
        .to_builder()
        .interceptor(IamWriteFence(fence))
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// A tower layer for the kube client: refuses writes when the fence is closed, drops a write not
/// answered by the time the fence closes, and gives every request but a watch a deadline for its
/// answer's headers (kube's own read timeout must stay long enough for watches, so without this
/// a hung GET or PATCH would wait for minutes). It must sit below no retrying layer: the kube
/// client it wraps has kube's retries off, or a retry would resend a write the fence let through.
#[derive(Clone, Debug)]
pub(crate) struct KubeRequestGuard {
    pub fence: WriteFence,
    pub timeout: Duration,
}

impl<S> tower::Layer<S> for KubeRequestGuard {
    type Service = GuardedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardedService {
            inner,
            guard: self.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct GuardedService<S> {
    inner: S,
    guard: KubeRequestGuard,
}

fn is_watch(uri: &http::Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
    })
}

impl<S, B, R> tower::Service<http::Request<B>> for GuardedService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let read = matches!(*request.method(), http::Method::GET | http::Method::HEAD);
        if !read && let Err(refused) = self.guard.fence.check() {
            return Box::pin(async move { Err(BoxError::from(refused)) });
        }
        let watch = is_watch(request.uri());
        let answer = self.inner.call(request);
        let timeout = self.guard.timeout;
        // A write still waiting (to connect, to authenticate) when the fence closes is dropped
        // rather than sent late.
        let fence_deadline = (!read).then(|| self.guard.fence.deadline()).flatten();
        Box::pin(async move {
            if watch {
                return answer.await.map_err(Into::into);
            }
            let deadline = tokio::time::Instant::now() + timeout;
            let cut_off = fence_deadline.map_or(deadline, |f| deadline.min(f.into()));
            match tokio::time::timeout_at(cut_off, answer).await {
                Ok(result) => result.map_err(Into::into),
                Err(_) if cut_off < deadline => Err(BoxError::from(NotLeading)),
                Err(_) => Err(BoxError::from(RequestTimedOut(timeout))),
            }
        })
    }
}

#[cfg(test)]
mod tests;
