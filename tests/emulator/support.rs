//! Helpers: start an in-process emulator, build SDK and raw HTTP clients, read XML errors.

#![allow(dead_code)]

use std::time::Duration;

use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use iam_emulator::{Emulator, EmulatorConfig, EmulatorHandle};

pub(crate) const ACCOUNT: &str = "123456789012";

pub(crate) fn config(users: &[&str]) -> EmulatorConfig {
    EmulatorConfig {
        users: users.iter().map(|u| u.to_string()).collect(),
        ..Default::default()
    }
}

pub(crate) async fn start(users: &[&str]) -> EmulatorHandle {
    start_with(config(users)).await
}

pub(crate) async fn start_with(config: EmulatorConfig) -> EmulatorHandle {
    Emulator::start(config).await.expect("emulator starts")
}

/// An SDK client with static test credentials and retries off (errors surface at once).
pub(crate) fn sdk(h: &EmulatorHandle) -> aws_sdk_iam::Client {
    sdk_as(
        &h.endpoint_url(),
        "AKIDEXAMPLE",
        "secret",
        RetryConfig::disabled(),
    )
}

pub(crate) fn sdk_as(
    endpoint: &str,
    akid: &str,
    secret: &str,
    retry: RetryConfig,
) -> aws_sdk_iam::Client {
    sdk_in_region(endpoint, akid, secret, retry, "eu-west-1")
}

pub(crate) fn sdk_in_region(
    endpoint: &str,
    akid: &str,
    secret: &str,
    retry: RetryConfig,
    region: &str,
) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(akid, secret, None, None, "test"))
        .retry_config(retry)
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

/// The SDK's retry with a tiny backoff, so retry tests stay quick.
pub(crate) fn quick_retry(attempts: u32) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
}

/// Wire code, message and HTTP status of an SDK service error.
pub(crate) fn wire<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> (String, String) {
    let service = e
        .as_service_error()
        .unwrap_or_else(|| panic!("not a service error: {e:?}"));
    (
        service.code().unwrap_or_default().to_string(),
        service.message().unwrap_or_default().to_string(),
    )
}

pub(crate) fn status<E>(e: &SdkError<E, aws_sdk_iam::config::http::HttpResponse>) -> u16 {
    e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0)
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

pub(crate) struct RawResponse {
    pub status: u16,
    pub content_type: String,
    pub request_id: String,
    pub body: String,
}

impl RawResponse {
    /// `<Code>` of an error document.
    pub(crate) fn code(&self) -> String {
        between(&self.body, "<Code>", "</Code>")
    }

    pub(crate) fn message(&self) -> String {
        between(&self.body, "<Message>", "</Message>")
    }

    /// Asserts an AWS-shaped error: status, code, `<Type>`, and the request id in header and body.
    pub(crate) fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.code(), code, "{}", self.body);
        assert_eq!(self.content_type, "text/xml");
        let kind = if status >= 500 { "Receiver" } else { "Sender" };
        assert!(
            self.body.contains(&format!("<Type>{kind}</Type>")),
            "{}",
            self.body
        );
        assert!(
            self.body
                .contains("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">")
        );
        assert!(!self.request_id.is_empty());
        assert_eq!(
            between(&self.body, "<RequestId>", "</RequestId>"),
            self.request_id
        );
        assert_well_formed(&self.body);
    }
}

pub(crate) fn between(s: &str, a: &str, b: &str) -> String {
    s.split_once(a)
        .and_then(|(_, rest)| rest.split_once(b))
        .map(|(v, _)| v.to_string())
        .unwrap_or_default()
}

pub(crate) async fn send(req: reqwest::RequestBuilder) -> RawResponse {
    let resp = req.send().await.expect("response");
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let status = resp.status().as_u16();
    let content_type = header("content-type");
    let request_id = header("x-amzn-requestid");
    let body = resp.text().await.unwrap_or_default();
    RawResponse {
        status,
        content_type,
        request_id,
        body,
    }
}

/// POSTs a form body as botocore does (`charset` parameter included).
pub(crate) async fn post_form(h: &EmulatorHandle, body: impl Into<reqwest::Body>) -> RawResponse {
    send(
        http()
            .post(h.endpoint_url())
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(body),
    )
    .await
}

/// Parses the whole document with quick-xml; panics on any syntax error.
pub(crate) fn assert_well_formed(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0i32;
    let mut roots = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Empty(_)) if depth == 0 => roots += 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("malformed XML ({e}): {xml}"),
        }
    }
    assert_eq!(depth, 0, "unbalanced XML: {xml}");
    assert_eq!(roots, 1, "expected one root element: {xml}");
}

pub(crate) async fn post_json(
    h: &EmulatorHandle,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let resp = http()
        .post(format!("{}{path}", h.endpoint_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

pub(crate) async fn advance_days(h: &EmulatorHandle, days: u64) {
    let (status, body) = post_json(
        h,
        "/_emulator/clock",
        serde_json::json!({ "advanceSeconds": days * 86_400 }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

pub(crate) async fn check(h: &EmulatorHandle, body: serde_json::Value) -> serde_json::Value {
    let (status, verdict) = post_json(h, "/_emulator/check", body).await;
    assert_eq!(status, 200);
    verdict
}
