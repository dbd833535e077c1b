use super::*;

#[test]
fn the_fence_closes_at_its_deadline_without_anyone_closing_it() {
    let fence = WriteFence::closed();
    assert!(!fence.is_open(), "closed until an election opens it");
    let now = Instant::now();
    fence.open_until(now + Duration::from_secs(10));
    assert!(fence.is_open_at(now + Duration::from_secs(9)));
    // A replica resumed after a pause past its deadline: closed, though nobody closed it.
    assert!(!fence.is_open_at(now + Duration::from_secs(10)));
    assert!(!fence.is_open_at(now + Duration::from_secs(40)));
    fence.close();
    assert_eq!(fence.check(), Err(NotLeading));
    assert!(WriteFence::always_open().is_open());
    assert_eq!(fence.deadline(), None);
    let until = Instant::now() + Duration::from_secs(3);
    fence.open_until(until);
    let deadline = fence.deadline().unwrap();
    assert!(deadline <= until && until - deadline < Duration::from_micros(1));
}

/// An inner service that never answers.
#[derive(Clone)]
struct Silent;

impl tower::Service<http::Request<()>> for Silent {
    type Response = http::Response<()>;
    type Error = BoxError;
    type Future = futures::future::Pending<Result<http::Response<()>, BoxError>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        futures::future::pending()
    }
}

fn request(method: http::Method, uri: &str) -> http::Request<()> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .body(())
        .unwrap()
}

#[tokio::test]
async fn requests_time_out_writes_stop_at_the_fence_and_watches_wait() {
    use tower::{Layer, Service};
    let fence = WriteFence::closed();
    let guard = KubeRequestGuard {
        fence: fence.clone(),
        timeout: Duration::from_millis(300),
    };
    let mut service = guard.layer(Silent);
    // A closed fence refuses a write at once.
    let refused = service
        .call(request(http::Method::PATCH, "/api/v1/x"))
        .await;
    assert!(refused.unwrap_err().downcast_ref::<NotLeading>().is_some());
    // An unanswered GET times out.
    let get = service.call(request(http::Method::GET, "/api/v1/x")).await;
    assert!(get.unwrap_err().downcast_ref::<RequestTimedOut>().is_some());
    // A write in flight when the fence closes is dropped at the fence's deadline.
    fence.open_until(Instant::now() + Duration::from_millis(100));
    let started = Instant::now();
    let write = service.call(request(http::Method::POST, "/api/v1/x")).await;
    assert!(write.unwrap_err().downcast_ref::<NotLeading>().is_some());
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "cut at the fence, not the timeout"
    );
    // A watch is not cut.
    let watch = service.call(request(http::Method::GET, "/api/v1/x?watch=true"));
    assert!(
        tokio::time::timeout(Duration::from_secs(1), watch)
            .await
            .is_err()
    );
}

#[test]
fn only_iam_reads_pass_a_closed_fence() {
    assert!(is_iam_read("ListServiceSpecificCredentials"));
    assert!(is_iam_read("GetUser"));
    for write in [
        "CreateServiceSpecificCredential",
        "ResetServiceSpecificCredential",
        "UpdateServiceSpecificCredential",
        "DeleteServiceSpecificCredential",
    ] {
        assert!(!is_iam_read(write), "{write}");
    }
}

#[test]
fn watches_are_told_from_other_requests() {
    let watch: http::Uri = "/api/v1/secrets?watch=true&resourceVersion=1"
        .parse()
        .unwrap();
    let list: http::Uri = "/api/v1/secrets?limit=500".parse().unwrap();
    assert!(is_watch(&watch));
    assert!(!is_watch(&list));
}
