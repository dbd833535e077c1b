//! The check endpoint: would CodeCommit/Keyspaces accept this user name + password, or Bedrock/Logs/… this
//! bearer token? Pure: a request and the state in, a verdict out.

use serde::{Deserialize, Serialize};

use super::catalog::{CredentialKind, kind_of};
use super::ids;
use super::store::{Credential, State, StoredStatus};

/// `POST /_emulator/check` body. Password services use `username` + `password`; API-key services `secret`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckRequest {
    #[serde(default)]
    pub service_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CheckReason {
    Ok,
    Unknown,
    WrongPassword,
    Inactive,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResponse {
    pub valid: bool,
    pub reason: CheckReason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

impl CheckResponse {
    fn unknown() -> Self {
        Self {
            valid: false,
            reason: CheckReason::Unknown,
            credential_id: None,
            user_name: None,
        }
    }
}

/// Checks in this order: the credential exists (by service + service user name, or by the alias inside the
/// secret), the password/secret is the current one, not expired, Active.
pub fn check(state: &State, now: i64, req: &CheckRequest) -> CheckResponse {
    let Some(service) = req.service_name.as_deref() else {
        return CheckResponse::unknown();
    };
    let (name, presented) = match kind_of(service) {
        None => return CheckResponse::unknown(),
        Some(CredentialKind::Password) => match (&req.username, &req.password) {
            (Some(u), Some(p)) => (u.clone(), p.as_str()),
            _ => return CheckResponse::unknown(),
        },
        Some(CredentialKind::ApiKey { prefix }) => {
            let Some(secret) = req.secret.as_deref() else {
                return CheckResponse::unknown();
            };
            match ids::alias_of_secret(prefix, secret) {
                Some(alias) => (alias, secret),
                None => return CheckResponse::unknown(),
            }
        }
    };
    let Some((owner, credential)) = find(state, service, &name) else {
        return CheckResponse::unknown();
    };
    let reason = if !ids::digest_eq(&ids::digest(presented), &credential.secret_sha256) {
        CheckReason::WrongPassword
    } else if credential.is_expired(now) {
        CheckReason::Expired
    } else if credential.status == StoredStatus::Inactive {
        CheckReason::Inactive
    } else {
        CheckReason::Ok
    };
    CheckResponse {
        valid: reason == CheckReason::Ok,
        reason,
        credential_id: Some(credential.id.clone()),
        user_name: Some(owner),
    }
}

/// The credential of `service` whose service user name / alias is `name` (exact match).
fn find<'a>(state: &'a State, service: &str, name: &str) -> Option<(String, &'a Credential)> {
    state.credentials.values().find_map(|c| {
        if c.service_name != service {
            return None;
        }
        let owner = state.users.get(&c.user_key)?;
        (state.display_name(&owner.name, c.slot) == name).then(|| (owner.name.clone(), c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::User;

    fn state_with(secret: &str, service: &str, exp: Option<i64>, status: StoredStatus) -> State {
        let mut s = State::new("123456789012");
        s.users.insert(
            "bob".into(),
            User {
                name: "Bob".into(),
                id: "AIDA".into(),
                path: "/".into(),
                create_date: 0,
                permissions_boundary: None,
                tags: vec![],
                inline_policies: Default::default(),
                attached_policies: Vec::new(),
            },
        );
        s.credentials.insert(
            "ACCA1".into(),
            Credential {
                id: "ACCA1".into(),
                user_key: "bob".into(),
                service_name: service.into(),
                slot: 1,
                create_date: 0,
                expiration_date: exp,
                status,
                secret_sha256: ids::digest(secret),
                seq: 1,
            },
        );
        s
    }

    fn req(
        service: &str,
        user: Option<&str>,
        password: Option<&str>,
        secret: Option<&str>,
    ) -> CheckRequest {
        CheckRequest {
            service_name: Some(service.into()),
            username: user.map(Into::into),
            password: password.map(Into::into),
            secret: secret.map(Into::into),
        }
    }

    #[test]
    fn password_reasons() {
        let cc = "codecommit.amazonaws.com";
        let s = state_with("pw", cc, None, StoredStatus::Active);
        let ok = check(
            &s,
            0,
            &req(cc, Some("Bob+1-at-123456789012"), Some("pw"), None),
        );
        assert!(ok.valid);
        assert_eq!(ok.credential_id.as_deref(), Some("ACCA1"));
        assert_eq!(ok.user_name.as_deref(), Some("Bob"));
        let wrong = check(
            &s,
            0,
            &req(cc, Some("Bob+1-at-123456789012"), Some("nope"), None),
        );
        assert_eq!(wrong.reason, CheckReason::WrongPassword);
        let unknown = check(
            &s,
            0,
            &req(cc, Some("Bob-at-123456789012"), Some("pw"), None),
        );
        assert_eq!(unknown, CheckResponse::unknown());
        let other_service = check(
            &s,
            0,
            &req(
                "cassandra.amazonaws.com",
                Some("Bob+1-at-123456789012"),
                Some("pw"),
                None,
            ),
        );
        assert_eq!(other_service.reason, CheckReason::Unknown);
        let s = state_with("pw", cc, None, StoredStatus::Inactive);
        assert_eq!(
            check(
                &s,
                0,
                &req(cc, Some("Bob+1-at-123456789012"), Some("pw"), None)
            )
            .reason,
            CheckReason::Inactive
        );
    }

    #[test]
    fn api_key_reasons() {
        let svc = "bedrock.amazonaws.com";
        let secret = ids::api_key_secret("ABSK", "Bob+1-at-123456789012");
        let s = state_with(&secret, svc, Some(100), StoredStatus::Active);
        assert!(check(&s, 99, &req(svc, None, None, Some(&secret))).valid);
        assert_eq!(
            check(&s, 100, &req(svc, None, None, Some(&secret))).reason,
            CheckReason::Expired
        );
        let other = ids::api_key_secret("ABSK", "Bob+1-at-123456789012");
        assert_eq!(
            check(&s, 0, &req(svc, None, None, Some(&other))).reason,
            CheckReason::WrongPassword
        );
        assert_eq!(
            check(&s, 0, &req(svc, None, None, Some("garbage"))).reason,
            CheckReason::Unknown
        );
        assert_eq!(
            check(&s, 0, &req(svc, None, None, None)).reason,
            CheckReason::Unknown
        );
    }
}
