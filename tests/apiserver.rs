//! Conformance tests of the Kubernetes API stand-in (`tests/support/apiserver`).

mod support;

#[tokio::test]
async fn starts() {
    let _s = support::apiserver::ApiServer::start(vec![]).await;
}
