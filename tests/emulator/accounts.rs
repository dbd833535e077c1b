//! Several accounts, `--enforce` and STS, driven by the real SDKs: aws-sdk-iam, aws-sdk-sts, and aws-config's
//! own assume-role credential provider (what an operator with a per-tenant role uses), against the emulator.
//!
//! AWS rules these rest on (shared `iam-api.md` §15-§17):
//! - "For cross-account access, … the trusting account's role trust policy and the trusted account's identity-based
//!   policy must both allow the request" (IAM User Guide, Cross account policy evaluation logic).
//! - `sts:ExternalId`: "the role's trust policy … Condition StringEquals sts:ExternalId"; an AssumeRole without
//!   the matching id is denied (IAM User Guide, Access to AWS accounts owned by third parties).
//! - Session credentials are refused after `Expiration` with `ExpiredToken` (STS API reference, AssumeRole).

use aws_config::BehaviorVersion;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_iam::config::Credentials;
use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::error::ProvideErrorMetadata;
use iam_emulator::{AccessKey, EmulatorConfig, EmulatorHandle, Enforce};

use crate::support::*;

const A: &str = "123456789012";
const B: &str = "210987654321";
const ROLE: &str = "arn:aws:iam::210987654321:role/tenants/minter";

async fn two_accounts() -> EmulatorHandle {
    start_with(EmulatorConfig {
        extra_accounts: vec![B.into()],
        enforce: Enforce::All,
        access_keys: vec![
            "AKROOTA0000000000001:root-a-secret:root"
                .parse::<AccessKey>()
                .unwrap(),
            format!("AKROOTB0000000000001:root-b-secret:root:{B}")
                .parse()
                .unwrap(),
            "AKOPS000000000000001:ops-secret:ops".parse().unwrap(),
        ],
        ..Default::default()
    })
    .await
}

fn iam(h: &EmulatorHandle, akid: &str, secret: &str) -> aws_sdk_iam::Client {
    sdk_as(&h.endpoint_url(), akid, secret, RetryConfig::disabled())
}

async fn sdk_config(h: &EmulatorHandle, creds: Credentials) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(h.endpoint_url())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(SharedCredentialsProvider::new(creds))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

/// An STS client signing as A's user `ops`.
async fn sts_as_ops(h: &EmulatorHandle) -> aws_sdk_sts::Client {
    let ops = Credentials::new("AKOPS000000000000001", "ops-secret", None, None, "ops");
    aws_sdk_sts::Client::new(&sdk_config(h, ops).await)
}

/// An STS client signing with session credentials and `token` (the session's own, or another).
async fn sts_session(
    h: &EmulatorHandle,
    creds: &aws_sdk_sts::types::Credentials,
    token: &str,
) -> aws_sdk_sts::Client {
    let session = Credentials::new(
        creds.access_key_id(),
        creds.secret_access_key(),
        Some(token.to_string()),
        None,
        "session",
    );
    aws_sdk_sts::Client::new(&sdk_config(h, session).await)
}

/// B: user `team-a`, role `/tenants/minter` trusting A's `ops` with external id `tenant-a`, allowed the five
/// actions on B's users. A: `ops` allowed to assume it.
async fn set_up(h: &EmulatorHandle) {
    let root_b = iam(h, "AKROOTB0000000000001", "root-b-secret");
    root_b
        .create_user()
        .user_name("team-a")
        .send()
        .await
        .unwrap();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/ops"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"tenant-a"}}}}}}]}}"#
    );
    root_b
        .create_role()
        .role_name("minter")
        .path("/tenants/")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let mint = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["iam:CreateServiceSpecificCredential","iam:ListServiceSpecificCredentials","iam:ResetServiceSpecificCredential","iam:UpdateServiceSpecificCredential","iam:DeleteServiceSpecificCredential"],"Resource":"arn:aws:iam::{B}:user/*"}}]}}"#
    );
    root_b
        .put_role_policy()
        .role_name("minter")
        .policy_name("mint")
        .policy_document(mint)
        .send()
        .await
        .unwrap();
    let root_a = iam(h, "AKROOTA0000000000001", "root-a-secret");
    root_a
        .put_user_policy()
        .user_name("ops")
        .policy_name("assume")
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{ROLE}"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
}

async fn minter_client(h: &EmulatorHandle, external_id: Option<&str>) -> aws_sdk_iam::Client {
    let base = sdk_config(
        h,
        Credentials::new("AKOPS000000000000001", "ops-secret", None, None, "ops"),
    )
    .await;
    let mut provider = aws_config::sts::AssumeRoleProvider::builder(ROLE).session_name("team-a");
    if let Some(id) = external_id {
        provider = provider.external_id(id);
    }
    let provider = provider.configure(&base).build().await;
    let conf = aws_sdk_iam::config::Builder::from(&base)
        .credentials_provider(provider)
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

#[tokio::test]
async fn the_sdk_assume_role_provider_mints_in_the_other_account() {
    let h = two_accounts().await;
    set_up(&h).await;
    let minter = minter_client(&h, Some("tenant-a")).await;
    let made = minter
        .create_service_specific_credential()
        .user_name("team-a")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .expect("the role session mints for B's user");
    let c = made.service_specific_credential().unwrap();
    assert_eq!(c.service_user_name(), "team-a-at-210987654321");
    // The role allows the five actions only: GetUser is refused, in IAM's words, naming the session.
    let e = minter
        .get_user()
        .user_name("team-a")
        .send()
        .await
        .unwrap_err();
    let (code, message) = wire(&e);
    assert_eq!(code, "AccessDenied");
    assert_eq!(
        message,
        "User: arn:aws:sts::210987654321:assumed-role/minter/team-a is not authorized to perform: iam:GetUser on resource: user team-a because no identity-based policy allows the iam:GetUser action"
    );
    // A's users are not B's.
    let e = minter
        .list_service_specific_credentials()
        .user_name("ops")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wire(&e).0, "NoSuchEntity");
}

#[tokio::test]
async fn without_the_external_id_or_the_callers_own_permission_the_role_is_refused() {
    let h = two_accounts().await;
    set_up(&h).await;
    let ops = sts_as_ops(&h).await;
    let refused =
        |e: &aws_sdk_sts::error::SdkError<aws_sdk_sts::operation::assume_role::AssumeRoleError>| {
            (
                e.code().unwrap_or_default().to_string(),
                e.message().unwrap_or_default().to_string(),
            )
        };
    for external_id in [None, Some("tenant-b")] {
        let e = ops
            .assume_role()
            .role_arn(ROLE)
            .role_session_name("team-a")
            .set_external_id(external_id.map(str::to_string))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            refused(&e),
            (
                "AccessDenied".to_string(),
                format!(
                    "User: arn:aws:iam::{A}:user/ops is not authorized to perform: sts:AssumeRole on resource: {ROLE}"
                )
            ),
            "external id {external_id:?}"
        );
    }
    // Cross-account, the trust policy alone is not enough: A's own policy must allow the call too.
    iam(&h, "AKROOTA0000000000001", "root-a-secret")
        .delete_user_policy()
        .user_name("ops")
        .policy_name("assume")
        .send()
        .await
        .unwrap();
    let e = ops
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("team-a")
        .external_id("tenant-a")
        .send()
        .await
        .unwrap_err();
    let (code, message) = refused(&e);
    assert_eq!(code, "AccessDenied");
    assert!(
        message.ends_with("because no identity-based policy allows the sts:AssumeRole action"),
        "{message}"
    );
}

#[tokio::test]
async fn session_credentials_expire_and_a_tampered_token_is_refused() {
    let h = two_accounts().await;
    set_up(&h).await;
    let ops = sts_as_ops(&h).await;
    let out = ops
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("team-a")
        .external_id("tenant-a")
        .duration_seconds(900)
        .send()
        .await
        .unwrap();
    let creds = out.credentials().unwrap();
    assert!(creds.access_key_id().starts_with("ASIA"));
    let user = out.assumed_role_user().unwrap();
    assert_eq!(
        user.arn(),
        "arn:aws:sts::210987654321:assumed-role/minter/team-a"
    );
    assert!(
        user.assumed_role_id().ends_with(":team-a") && user.assumed_role_id().starts_with("AROA")
    );
    let me = sts_session(&h, creds, creds.session_token())
        .await
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.account(), Some(B));
    assert_eq!(
        me.arn(),
        Some("arn:aws:sts::210987654321:assumed-role/minter/team-a")
    );
    // The last character changed (to another one: a token may already end in `A`).
    let mut tampered = creds.session_token().to_string();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let refused = |token: String| {
        let h = &h;
        async move {
            let e = sts_session(h, creds, &token)
                .await
                .get_caller_identity()
                .send()
                .await
                .unwrap_err();
            // Never a secret in the answer's error text.
            assert!(!format!("{e:?}").contains(creds.secret_access_key()));
            (
                e.code().unwrap_or_default().to_string(),
                e.message().unwrap_or_default().to_string(),
            )
        }
    };
    assert_eq!(
        refused(tampered).await,
        (
            "InvalidClientTokenId".to_string(),
            "The security token included in the request is invalid.".to_string()
        )
    );
    h.advance_clock(std::time::Duration::from_secs(901));
    assert_eq!(
        refused(creds.session_token().to_string()).await,
        (
            "ExpiredToken".to_string(),
            "The security token included in the request is expired".to_string()
        )
    );
}

#[tokio::test]
async fn enforcement_is_off_by_default_and_needs_keys_when_on() {
    // Off: any signed caller may do anything, as before accounts existed.
    let h = start_with(EmulatorConfig {
        access_keys: vec!["AKOPS000000000000001:ops-secret:ops".parse().unwrap()],
        ..Default::default()
    })
    .await;
    let ops = iam(&h, "AKOPS000000000000001", "ops-secret");
    ops.create_user().user_name("anyone").send().await.unwrap();
    // On without a key to sign with: a configuration error, not an emulator that refuses everything.
    let e = iam_emulator::Emulator::start(EmulatorConfig {
        enforce: Enforce::All,
        ..Default::default()
    })
    .await
    .err()
    .expect("refused");
    assert!(
        e.to_string().contains("--enforce needs --access-key"),
        "{e}"
    );
}

/// Everything the emulator's and its HTTP stack's tracing writes, at every level.
fn captured_logs() -> &'static std::sync::Mutex<Vec<u8>> {
    use std::sync::{Mutex, OnceLock};
    static BUFFER: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    static INIT: OnceLock<()> = OnceLock::new();
    let buffer = BUFFER.get_or_init(Mutex::default);
    INIT.get_or_init(|| {
        #[derive(Clone)]
        struct Sink;
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                captured_logs().lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("iam_emulator=trace,axum=trace,hyper=trace,tower=trace")
            .with_writer(|| Sink)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
    buffer
}

#[tokio::test]
async fn no_access_key_secret_session_secret_or_token_reaches_the_logs() {
    captured_logs();
    let h = two_accounts().await;
    set_up(&h).await;
    let root_b = iam(&h, "AKROOTB0000000000001", "root-b-secret");
    let key = root_b
        .create_access_key()
        .user_name("team-a")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let ops = sts_as_ops(&h).await;
    let out = ops
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("team-a")
        .external_id("tenant-a")
        .send()
        .await
        .unwrap();
    let creds = out.credentials().unwrap();
    // Use both, and fail with both (a wrong token, then a refused action), so that error paths log too.
    let session = sts_session(&h, creds, creds.session_token()).await;
    session.get_caller_identity().send().await.unwrap();
    let wrong = sts_session(&h, creds, &format!("{}x", creds.session_token())).await;
    wrong.get_caller_identity().send().await.unwrap_err();
    let as_team = iam(&h, key.access_key_id(), key.secret_access_key());
    as_team.get_user().send().await.unwrap_err();
    h.shutdown().await;
    let logs = String::from_utf8_lossy(&captured_logs().lock().unwrap()).into_owned();
    assert!(
        logs.contains("iam request"),
        "the capture works: {}",
        &logs[..logs.len().min(400)]
    );
    for secret in [
        key.secret_access_key(),
        creds.secret_access_key(),
        creds.session_token(),
        &creds.session_token()[..24],
        "root-b-secret",
        "ops-secret",
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

/// One enforcing account: its root key, and a user `dev` with a key, `policy` inline and trusted by role `admin`
/// (which allows everything).
async fn one_account_with_dev(
    policy: &str,
) -> (EmulatorHandle, aws_sdk_iam::Client, aws_sdk_sts::Client) {
    let h = start_with(EmulatorConfig {
        enforce: Enforce::All,
        access_keys: vec![
            "AKROOTA0000000000001:root-a-secret:root".parse().unwrap(),
            "AKDEV000000000000001:dev-secret:dev".parse().unwrap(),
        ],
        ..Default::default()
    })
    .await;
    let root = iam(&h, "AKROOTA0000000000001", "root-a-secret");
    root.put_user_policy()
        .user_name("dev")
        .policy_name("p")
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    root.create_role()
        .role_name("admin")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A}:user/dev"}},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    root.attach_role_policy()
        .role_name("admin")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    let dev = Credentials::new("AKDEV000000000000001", "dev-secret", None, None, "dev");
    let sts = aws_sdk_sts::Client::new(&sdk_config(&h, dev).await);
    (h, root, sts)
}

#[tokio::test]
async fn a_role_arn_in_another_case_meets_the_same_deny() {
    let (_h, _root, dev) = one_account_with_dev(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}},{{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::{A}:role/admin"}}]}}"#
    ))
    .await;
    for arn in [
        format!("arn:aws:iam::{A}:role/admin"),
        format!("arn:aws:iam::{A}:role/ADMIN"),
    ] {
        let e = dev
            .assume_role()
            .role_arn(&arn)
            .role_session_name("sess")
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("AccessDenied"), "{arn}");
        assert!(
            e.message().unwrap().contains("with an explicit deny"),
            "{arn}: {e:?}"
        );
    }
}

#[tokio::test]
async fn the_callers_boundary_binds_assume_role_even_when_the_trust_policy_names_it() {
    let (_h, root, dev) = one_account_with_dev(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
    )
    .await;
    root.put_user_permissions_boundary()
        .user_name("dev")
        .permissions_boundary("arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        .send()
        .await
        .unwrap();
    let e = dev
        .assume_role()
        .role_arn(format!("arn:aws:iam::{A}:role/admin"))
        .role_session_name("sess")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"));
    assert!(
        e.message()
            .unwrap()
            .ends_with("because no permissions boundary allows the sts:AssumeRole action"),
        "{e:?}"
    );
    // A boundary that does not exist is refused where it is set, never taken as none.
    let e = root
        .create_user()
        .user_name("x")
        .permissions_boundary(format!("arn:aws:iam::{A}:policy/bnd/nope"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(wire(&e).0, "NoSuchEntity");
}

#[tokio::test]
async fn a_session_dies_with_its_role_and_keeps_its_source_identity() {
    let (h, root, dev) = one_account_with_dev(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Resource":"*"}]}"#,
    )
    .await;
    let role = format!("arn:aws:iam::{A}:role/admin");
    let out = dev
        .assume_role()
        .role_arn(&role)
        .role_session_name("sess")
        .source_identity("alice")
        .send()
        .await
        .unwrap();
    let creds = out.credentials().unwrap();
    let session = sts_session(&h, creds, creds.session_token()).await;
    // Chaining keeps the source identity: another one is refused.
    let e = session
        .assume_role()
        .role_arn(&role)
        .role_session_name("again")
        .source_identity("bob")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"), "{e:?}");
    session.get_caller_identity().send().await.unwrap();
    // Deleted and made again under the same name: the old session is not the new role's.
    root.detach_role_policy()
        .role_name("admin")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    root.delete_role().role_name("admin").send().await.unwrap();
    root.create_role()
        .role_name("admin")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let e = session.get_caller_identity().send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidClientTokenId"), "{e:?}");
}

#[tokio::test]
async fn iam_resource_tags_are_seen_and_sts_errors_speak_sts() {
    let (h, root, _dev) = one_account_with_dev(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},{"Effect":"Deny","Action":"iam:PutUserPolicy","Resource":"*","Condition":{"StringEquals":{"iam:ResourceTag/protected":"true"}}}]}"#,
    )
    .await;
    root.create_user()
        .user_name("guarded")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("protected")
                .value("true")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let dev = iam(&h, "AKDEV000000000000001", "dev-secret");
    let e = dev
        .put_user_policy()
        .user_name("guarded")
        .policy_name("p")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(wire(&e).0, "AccessDenied");
    // An STS error is an STS document.
    let body = http()
        .post(h.endpoint_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=GetCallerIdentity&Version=2011-06-15")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains(r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">"#),
        "{body}"
    );
}

#[tokio::test]
async fn a_trust_policy_trusts_the_user_it_named_not_a_new_one_of_the_same_name() {
    // IAM binds a trust policy's principals to their unique ids when it is stored: a user deleted and made
    // again under the same name is not trusted (IAM User Guide, "Principal": "If you delete … the ARN is
    // replaced by the principal ID").
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let (_h, root, dev) = one_account_with_dev(policy).await;
    let role = format!("arn:aws:iam::{A}:role/admin");
    dev.assume_role()
        .role_arn(&role)
        .role_session_name("before")
        .send()
        .await
        .expect("the user the trust policy named");
    root.delete_user_policy()
        .user_name("dev")
        .policy_name("p")
        .send()
        .await
        .unwrap();
    root.delete_user().user_name("dev").send().await.unwrap();
    root.create_user().user_name("dev").send().await.unwrap();
    root.put_user_policy()
        .user_name("dev")
        .policy_name("p")
        .policy_document(policy)
        .send()
        .await
        .unwrap();
    let e = dev
        .assume_role()
        .role_arn(&role)
        .role_session_name("after")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"), "{e:?}");
}
