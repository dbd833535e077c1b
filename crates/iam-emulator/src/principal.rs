//! Who makes a request: the root user of an account, an IAM user, a role session, or (SigV4 off) nobody known.
//!
//! Pure data: the ARNs, ids and tags IAM's policy evaluation and `GetCallerIdentity` see.

/// A role session made by `AssumeRole`, as the requests signed with its credentials see it.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub account: String,
    pub role_name: String,
    pub role_path: String,
    /// `AROA…` of the role.
    pub role_id: String,
    pub session_name: String,
    pub secret: String,
    pub token: String,
    /// Unix seconds on the emulator's clock.
    pub expires: i64,
    /// Session tags: they override the role's tags of the same key (keys compare case-insensitively).
    pub tags: Vec<(String, String)>,
    pub source_identity: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("account", &self.account)
            .field("role_name", &self.role_name)
            .field("session_name", &self.session_name)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// SigV4 is off and no `--caller-user` names a user.
    Anonymous {
        account: String,
    },
    Root {
        account: String,
    },
    User {
        account: String,
        name: String,
    },
    AssumedRole(Box<Session>),
}

impl Principal {
    pub fn account(&self) -> &str {
        match self {
            Principal::Anonymous { account }
            | Principal::Root { account }
            | Principal::User { account, .. } => account,
            Principal::AssumedRole(s) => &s.account,
        }
    }

    /// The IAM user name, for requests that default `UserName` to the caller.
    pub fn user_name(&self) -> Option<&str> {
        match self {
            Principal::User { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The ARN IAM names the caller by (`aws:PrincipalArn` is [`Principal::principal_arn`]).
    /// Users are named without their path here, as IAM's error messages do for a user it has not looked up.
    pub fn arn(&self, user_path: &str) -> String {
        match self {
            Principal::Anonymous { .. } => "anonymous".into(),
            Principal::Root { account } => format!("arn:aws:iam::{account}:root"),
            Principal::User { account, name } => {
                format!("arn:aws:iam::{account}:user{user_path}{name}")
            }
            Principal::AssumedRole(s) => format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                s.account, s.role_name, s.session_name
            ),
        }
    }

    /// `aws:PrincipalArn`: for a role session, the role's ARN (with its path), as IAM documents.
    pub fn principal_arn(&self, user_path: &str) -> String {
        match self {
            Principal::AssumedRole(s) => {
                format!(
                    "arn:aws:iam::{}:role{}{}",
                    s.account, s.role_path, s.role_name
                )
            }
            other => other.arn(user_path),
        }
    }

    /// `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match self {
            Principal::Anonymous { .. } => "Anonymous",
            Principal::Root { .. } => "Account",
            Principal::User { .. } => "User",
            Principal::AssumedRole(_) => "AssumedRole",
        }
    }

    pub fn session(&self) -> Option<&Session> {
        match self {
            Principal::AssumedRole(s) => Some(s),
            _ => None,
        }
    }
}

/// The parts of an IAM user or role ARN, `arn:aws:iam::ACCOUNT:user/PATH/NAME` (or `role/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IamArn<'a> {
    pub account: &'a str,
    /// `user` or `role`.
    pub kind: &'a str,
    /// `/` or `/a/b/`.
    pub path: &'a str,
    pub name: &'a str,
}

/// Splits a user or role ARN with a 12-digit account and a name; `None` for anything else.
pub fn split_iam_arn(arn: &str) -> Option<IamArn<'_>> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let (kind, path_and_name) = resource.split_once('/')?;
    let slash = path_and_name.rfind('/').map_or(0, |i| i + 1);
    let parts = IamArn {
        account,
        kind,
        path: &resource[kind.len()..kind.len() + 1 + slash],
        name: &path_and_name[slash..],
    };
    let well_formed = matches!(kind, "user" | "role")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !parts.name.is_empty();
    well_formed.then_some(parts)
}

/// Tags of the principal: `base` (the user's or role's) with `session` tags overriding keys they repeat.
pub fn merged_tags(
    base: &[(String, String)],
    session: &[(String, String)],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = base
        .iter()
        .filter(|(k, _)| !session.iter().any(|(s, _)| s.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    out.extend(session.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            account: "210987654321".into(),
            role_name: "minter".into(),
            role_path: "/tenants/".into(),
            role_id: "AROAEXAMPLE".into(),
            session_name: "team-a".into(),
            secret: "s".into(),
            token: "t".into(),
            expires: 0,
            tags: vec![],
            source_identity: None,
        }
    }

    #[test]
    fn arns_as_iam_names_them() {
        let s = Principal::AssumedRole(Box::new(session()));
        assert_eq!(
            s.arn("/"),
            "arn:aws:sts::210987654321:assumed-role/minter/team-a"
        );
        assert_eq!(
            s.principal_arn("/"),
            "arn:aws:iam::210987654321:role/tenants/minter"
        );
        let r = Principal::Root {
            account: "123456789012".into(),
        };
        assert_eq!(r.arn("/"), "arn:aws:iam::123456789012:root");
        let u = Principal::User {
            account: "123456789012".into(),
            name: "ops".into(),
        };
        assert_eq!(u.arn("/k8s/"), "arn:aws:iam::123456789012:user/k8s/ops");
        assert!(!format!("{s:?}").contains("secret"));
    }

    #[test]
    fn iam_arns_split_into_account_kind_path_and_name() {
        let parts = |arn| split_iam_arn(arn).map(|a| (a.account, a.kind, a.path, a.name));
        assert_eq!(
            parts("arn:aws:iam::123456789012:user/division/alice"),
            Some(("123456789012", "user", "/division/", "alice"))
        );
        assert_eq!(
            parts("arn:aws:iam::210987654321:role/minter"),
            Some(("210987654321", "role", "/", "minter"))
        );
        assert_eq!(parts("arn:aws:iam::123456789012:root"), None);
        assert_eq!(parts("arn:aws:sts::123456789012:assumed-role/r/s"), None);
        assert_eq!(parts("arn:aws:iam::2109:role/minter"), None);
        assert_eq!(parts("arn:aws:iam::210987654321:role/"), None);
    }

    #[test]
    fn session_tags_override_keys_case_insensitively() {
        let base = vec![
            ("Team".to_string(), "a".to_string()),
            ("env".into(), "prod".into()),
        ];
        let merged = merged_tags(&base, &[("team".into(), "b".into())]);
        assert_eq!(
            merged,
            vec![("env".into(), "prod".into()), ("team".into(), "b".into())]
        );
    }
}
