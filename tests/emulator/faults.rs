//! Fault injection: deterministic one-shot faults, rates, latency, and the admin endpoints.

use std::time::{Duration, Instant};

use iam_emulator::{FaultConfig, FaultKind, InjectedFault};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn injected_throttling_surfaces_as_throttling() {
    let h = start(&["dev"]).await;
    h.inject(InjectedFault {
        action: Some("GetUser".into()),
        kind: FaultKind::Throttle,
        count: 1,
    });
    let iam = sdk(&h);
    // Other actions are not affected.
    iam.list_users().send().await.unwrap();
    let e = iam.get_user().user_name("dev").send().await.unwrap_err();
    assert_eq!(wire(&e), ("Throttling".into(), "Rate exceeded".into()));
    assert_eq!(status(&e), 400);
    iam.get_user().user_name("dev").send().await.unwrap();
}

#[tokio::test]
async fn sdk_retries_through_fewer_faults_than_attempts() {
    let h = start(&["dev"]).await;
    let iam = sdk_as(&h.endpoint_url(), "AKID", "secret", quick_retry(3));
    h.inject(InjectedFault {
        action: Some("CreateServiceSpecificCredential".into()),
        kind: FaultKind::Throttle,
        count: 2,
    });
    let ok = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap();
    assert!(ok.service_specific_credential().is_some());

    // As many faults as attempts: the error surfaces after the last retry.
    h.inject(InjectedFault {
        action: None,
        kind: FaultKind::ServerError(503),
        count: 3,
    });
    let e = iam.list_users().send().await.unwrap_err();
    assert_eq!(wire(&e).0, "ServiceUnavailable");
    assert_eq!(status(&e), 503);
    iam.list_users().send().await.unwrap();
}

#[tokio::test]
async fn server_errors_are_receiver_faults() {
    let h = start(&["dev"]).await;
    h.inject(InjectedFault {
        action: None,
        kind: FaultKind::ServerError(500),
        count: 1,
    });
    let r = post_form(&h, "Action=ListUsers&Version=2010-05-08").await;
    r.assert_error(500, "InternalFailure");
    h.inject(InjectedFault {
        action: None,
        kind: FaultKind::ServerError(503),
        count: 1,
    });
    post_form(&h, "Action=ListUsers&Version=2010-05-08")
        .await
        .assert_error(503, "ServiceUnavailable");
}

#[tokio::test]
async fn rates_over_http_with_an_action_filter() {
    let h = start(&["dev"]).await;
    let iam = sdk(&h);
    let url = format!("{}/_emulator/faults", h.endpoint_url());
    let resp = http()
        .put(&url)
        .json(&json!({ "throttleRate": 1.0, "actions": ["ListUsers"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let e = iam.list_users().send().await.unwrap_err();
    assert_eq!(wire(&e).0, "Throttling");
    iam.get_user().user_name("dev").send().await.unwrap();

    let current: serde_json::Value = http().get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(current["throttleRate"], 1.0);
    assert_eq!(current["actions"], json!(["ListUsers"]));

    let bad = http()
        .put(&url)
        .json(&json!({ "throttleRate": 2.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let bad = http()
        .put(&url)
        .json(&json!({ "throttle": 0.5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400, "unknown fields are rejected");

    http().put(&url).json(&json!({})).send().await.unwrap();
    iam.list_users().send().await.unwrap();

    h.set_faults(FaultConfig {
        server_error_rate: 1.0,
        ..Default::default()
    });
    let e = iam.list_users().send().await.unwrap_err();
    assert_eq!(wire(&e).0, "ServiceUnavailable");
    h.set_faults(FaultConfig::default());
    iam.list_users().send().await.unwrap();
}

#[tokio::test]
async fn injection_over_http() {
    let h = start(&["dev"]).await;
    let iam = sdk(&h);
    let url = format!("{}/_emulator/faults/inject", h.endpoint_url());
    let resp = http()
        .post(&url)
        .json(&json!({ "action": "GetUser", "kind": "serverError", "status": 500, "count": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let state: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(state["pending"][0]["count"], 2);
    for _ in 0..2 {
        let e = iam.get_user().user_name("dev").send().await.unwrap_err();
        assert_eq!(wire(&e).0, "InternalFailure");
    }
    iam.get_user().user_name("dev").send().await.unwrap();

    http()
        .post(&url)
        .json(&json!({ "kind": "throttle", "count": 5 }))
        .send()
        .await
        .unwrap();
    http().delete(&url).send().await.unwrap();
    iam.get_user().user_name("dev").send().await.unwrap();
    let bad = http()
        .post(&url)
        .json(&json!({ "kind": "serverError", "status": 404 }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test]
async fn latency_delays_matching_requests() {
    let h = start(&["dev"]).await;
    let iam = sdk(&h);
    h.set_faults(FaultConfig {
        latency: Duration::from_millis(300),
        actions: Some(vec!["GetUser".into()]),
        ..Default::default()
    });
    let t = Instant::now();
    iam.get_user().user_name("dev").send().await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(h.faults().latency, Duration::from_millis(300));
}

#[tokio::test]
async fn health_and_clock_endpoints() {
    let h = start(&[]).await;
    let health = http()
        .get(format!("{}/healthz", h.endpoint_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let before = h.now();
    let (status, body) = post_json(&h, "/_emulator/clock", json!({ "advanceSeconds": 3600 })).await;
    assert_eq!(status, 200);
    assert_eq!(body["offsetSeconds"], 3600);
    assert!(h.now() >= before + 3600);
    h.advance_clock(Duration::from_secs(60));
    let (status, _) = post_json(&h, "/_emulator/clock", json!({ "advanceSeconds": -5 })).await;
    assert_eq!(status, 400);
}
