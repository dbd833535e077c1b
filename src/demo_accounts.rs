//! The demo's IAM accounts: the users its embedded emulator starts with, and the second account
//! and the roles `examples/multi-account/` names, seeded through the IAM API. Used by `run
//! --embedded-emulator` too, so built whatever the features.

/// The IAM users the demo's emulator starts with: `alice` for the first resource, and every user the
/// manifests under `examples/` name, so that `kubectl apply -R -f examples/` turns them all Ready (a test
/// fails when an example names a user missing here).
#[cfg(feature = "demo")]
pub(crate) const DEMO_USERS: &[&str] = &[
    "alice",
    "argocd-repo-reader",
    "chatbot-bedrock",
    "codecommit-reader",
    "orders-keyspaces",
    "team-a-git",
    "web-reloader",
    "web-rollout",
    "payments-git",
];

/// The second AWS account of the demo's emulator, as `examples/multi-account/` names it.
pub(crate) const DEMO_TENANT_ACCOUNT: &str = "210987654321";
/// The users of that account (the examples' `analytics` namespace mints for them).
pub(crate) const DEMO_TENANT_USERS: &[&str] = &["analytics-bedrock"];
/// The roles `examples/multi-account/` names: (account, role name, ExternalId its trust wants).
pub(crate) const DEMO_ROLES: &[(&str, &str, Option<&str>)] = &[
    ("123456789012", "ssc-tenant-payments", None),
    (
        DEMO_TENANT_ACCOUNT,
        "ssc-tenant-analytics",
        Some("ssc-demo-analytics"),
    ),
];

/// Makes the demo's tenant roles and the second account's users through the IAM API, signed by
/// each account's root key (the demo's emulator does not enforce policies; the trust policies
/// are the README's shape all the same).
pub(crate) async fn seed_identities(
    endpoint: &str,
    roots: &[(String, aws_credential_types::Credentials)],
) -> Result<(), crate::iam::IamError> {
    for (account, credentials) in roots {
        let config = crate::iam::AwsIam::sdk_config(
            Some(endpoint),
            Some("us-east-1"),
            Some(credentials.clone()),
        )
        .await;
        let iam = crate::iam::AwsIam::iam_client(&config);
        for (_, role, external_id) in DEMO_ROLES.iter().filter(|(a, ..)| a == account) {
            let condition = external_id.map_or(String::new(), |id| {
                format!(r#","Condition":{{"StringEquals":{{"sts:ExternalId":"{id}","sts:SourceIdentity":"ssc-operator"}}}}"#)
            });
            let trust = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:root"}},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]{condition}}}]}}"#
            );
            iam.create_role()
                .role_name(*role)
                .assume_role_policy_document(trust)
                .send()
                .await
                .map_err(|e| crate::iam::classify_sdk(e, "", None, None))?;
        }
        if account == DEMO_TENANT_ACCOUNT {
            for user in DEMO_TENANT_USERS {
                iam.create_user()
                    .user_name(*user)
                    .send()
                    .await
                    .map_err(|e| crate::iam::classify_sdk(e, "", None, None))?;
            }
        }
    }
    Ok(())
}
