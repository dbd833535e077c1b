//! The check endpoint: does a credential work the way CodeCommit or Bedrock would check it?

use aws_sdk_iam::types::StatusType;
use serde_json::json;

use crate::support::*;

const CC: &str = "codecommit.amazonaws.com";

#[tokio::test]
async fn password_lifecycle() {
    let h = start(&["dev"]).await;
    let iam = sdk(&h);
    let c = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name(CC)
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap();
    let id = c.service_specific_credential_id();
    let ask = |password: String| json!({ "serviceName": CC, "username": "dev-at-123456789012", "password": password });

    let ok = check(&h, ask(c.service_password().into())).await;
    assert_eq!(
        ok,
        json!({ "valid": true, "reason": "ok", "credentialId": id, "userName": "dev" })
    );

    let wrong = check(&h, ask("nope".into())).await;
    assert_eq!(wrong["valid"], false);
    assert_eq!(wrong["reason"], "wrongPassword");

    // After a reset the old password stops working at once; the new one works.
    let reset = iam
        .reset_service_specific_credential()
        .user_name("dev")
        .service_specific_credential_id(id)
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap();
    assert_eq!(
        check(&h, ask(c.service_password().into())).await["reason"],
        "wrongPassword"
    );
    assert_eq!(
        check(&h, ask(reset.service_password().into())).await["valid"],
        true
    );

    iam.update_service_specific_credential()
        .user_name("dev")
        .service_specific_credential_id(id)
        .status(StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let inactive = check(&h, ask(reset.service_password().into())).await;
    assert_eq!(
        (inactive["valid"].clone(), inactive["reason"].clone()),
        (json!(false), json!("inactive"))
    );

    iam.delete_service_specific_credential()
        .user_name("dev")
        .service_specific_credential_id(id)
        .send()
        .await
        .unwrap();
    let gone = check(&h, ask(reset.service_password().into())).await;
    assert_eq!(gone, json!({ "valid": false, "reason": "unknown" }));
}

#[tokio::test]
async fn api_key_lifecycle() {
    let h = start(&["ai"]).await;
    let iam = sdk(&h);
    let c = iam
        .create_service_specific_credential()
        .user_name("ai")
        .service_name("bedrock.amazonaws.com")
        .credential_age_days(1)
        .send()
        .await
        .unwrap()
        .service_specific_credential
        .unwrap();
    let secret = c.service_credential_secret().unwrap().to_string();
    let ask = |s: &str| json!({ "serviceName": "bedrock.amazonaws.com", "secret": s });
    assert_eq!(check(&h, ask(&secret)).await["valid"], true);
    // The same secret presented to another service is unknown there.
    let elsewhere = check(
        &h,
        json!({ "serviceName": "logs.amazonaws.com", "secret": secret }),
    )
    .await;
    assert_eq!(elsewhere["reason"], "unknown");
    advance_days(&h, 2).await;
    let expired = check(&h, ask(&secret)).await;
    assert_eq!(expired["valid"], false);
    assert_eq!(expired["reason"], "expired");
    assert_eq!(expired["credentialId"], c.service_specific_credential_id());
    assert_eq!(
        check(&h, ask("ABSKbm90aGluZw==")).await["reason"],
        "unknown"
    );
}

#[tokio::test]
async fn bad_check_requests() {
    let h = start(&[]).await;
    let unknown = check(
        &h,
        json!({ "serviceName": "lambda.amazonaws.com", "username": "x", "password": "y" }),
    )
    .await;
    assert_eq!(unknown, json!({ "valid": false, "reason": "unknown" }));
    assert_eq!(check(&h, json!({})).await["reason"], "unknown");
    let resp = http()
        .post(format!("{}/_emulator/check", h.endpoint_url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}
