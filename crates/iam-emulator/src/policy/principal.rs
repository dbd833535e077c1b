//! The `Principal` / `NotPrincipal` element of trust policies: parsing, and matching the caller.
//!
//! An account (`"123456789012"` or `arn:aws:iam::123456789012:root`) stands for every principal of
//! that account; a user ARN for that user; a role ARN for every session of the role
//! (`arn:aws:sts::A:assumed-role/NAME/SESSION`); a session ARN for that session.

use serde_json::Value;

use super::context::PrincipalRef;
use super::error::PolicyError;
use super::matching::split_arn;

/// A parsed `Principal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalSpec {
    /// `"*"`: everyone, including anonymous callers.
    Everyone,
    /// `{"AWS": …, "Service": …, "Federated": …, "CanonicalUser": …}`: any listed entry.
    Entries(Vec<Entry>),
}

/// One listed principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `{"AWS": "*"}`: every AWS principal.
    AnyAws,
    /// Every principal of an account; the partition when it was given as a root ARN.
    Account {
        partition: Option<String>,
        account: String,
    },
    /// A role: matches its sessions.
    Role {
        partition: String,
        account: String,
        name: String,
        arn: String,
    },
    /// A user, session or federated-user ARN: matches exactly that principal.
    Exact(String),
    /// An AWS service.
    Service(String),
    /// An identity provider.
    Federated(String),
    /// An S3 canonical user id (never a caller here).
    CanonicalUser(String),
}

/// How a caller matched a principal element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalHit {
    /// Through its account, `*`, or `NotPrincipal`: the caller's own identity policies must also allow.
    Account,
    /// By its own ARN (user, role, session), service or provider.
    Named,
}

impl PrincipalSpec {
    /// The IAM user and role ARNs this element names (IAM refuses to store a trust policy naming one that does
    /// not exist).
    pub(crate) fn named_iam_arns(&self) -> impl Iterator<Item = &str> {
        let entries = match self {
            PrincipalSpec::Everyone => &[][..],
            PrincipalSpec::Entries(entries) => entries.as_slice(),
        };
        entries.iter().filter_map(|e| match e {
            Entry::Role { arn, .. } => Some(arn.as_str()),
            Entry::Exact(arn) if arn.contains(":iam::") && arn.contains(":user/") => {
                Some(arn.as_str())
            }
            _ => None,
        })
    }

    /// Parses `"*"` or a map of principal types to a string or non-empty array of strings.
    pub(crate) fn parse(element: &Value) -> Result<Self, PolicyError> {
        let map = match element {
            Value::String(s) if s == "*" => return Ok(Self::Everyone),
            Value::Object(map) if !map.is_empty() => map,
            _ => return Err(PolicyError::Syntax),
        };
        let mut entries = Vec::new();
        for (kind, ids) in map {
            let ids: Vec<&str> = match ids {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) if !items.is_empty() => items
                    .iter()
                    .map(|item| item.as_str().ok_or(PolicyError::Syntax))
                    .collect::<Result<_, _>>()?,
                _ => return Err(PolicyError::Syntax),
            };
            for id in ids {
                let invalid = || PolicyError::InvalidPrincipal(format!("\"{kind}\":\"{id}\""));
                let entry = match kind.as_str() {
                    "AWS" => aws_entry(id).ok_or_else(invalid)?,
                    "Service" if valid_name(id) => Entry::Service(id.to_owned()),
                    "Federated" if valid_name(id) => Entry::Federated(id.to_owned()),
                    "CanonicalUser" if valid_name(id) => Entry::CanonicalUser(id.to_owned()),
                    _ => return Err(invalid()),
                };
                entries.push(entry);
            }
        }
        Ok(Self::Entries(entries))
    }

    /// Whether a `NotPrincipal` element spares `caller`. AWS: "When you use NotPrincipal with Deny, you must also
    /// specify the account ARN of the not-denied principal", and a role session is spared only by its
    /// assumed-role session ARN: so the element must list both the caller's account and the caller itself
    /// (its user or session ARN; for the root user, the account alone).
    pub(crate) fn spares(&self, caller: Option<&PrincipalRef>) -> bool {
        let Self::Entries(entries) = self else {
            return true;
        };
        let Some(caller) = caller else {
            return false;
        };
        if entries.iter().any(|e| matches!(e, Entry::AnyAws)) {
            return true;
        }
        let account = entries
            .iter()
            .any(|e| matches!(e, Entry::Account { .. }) && e.hit(caller).is_some());
        let own_arn = caller.arns.first().map(String::as_str).unwrap_or_default();
        let root = own_arn.ends_with(":root");
        let itself = entries.iter().any(|e| match e {
            Entry::Exact(id) | Entry::Service(id) | Entry::Federated(id) => id == own_arn,
            _ => false,
        });
        account && (root || itself)
    }

    /// How `caller` matches this element, if it does (the closest match when several entries do).
    pub(crate) fn hit(&self, caller: Option<&PrincipalRef>) -> Option<PrincipalHit> {
        match self {
            Self::Everyone => Some(PrincipalHit::Account),
            Self::Entries(entries) => {
                let caller = caller?;
                entries.iter().filter_map(|entry| entry.hit(caller)).max()
            }
        }
    }
}

/// A service, provider or canonical-user name: non-empty, without wildcards or white space.
fn valid_name(id: &str) -> bool {
    !id.is_empty() && !id.contains(['*', '?']) && !id.contains(char::is_whitespace)
}

/// An `"AWS"` principal: `*`, a 12-digit account id, or an IAM/STS ARN without wildcards.
fn aws_entry(id: &str) -> Option<Entry> {
    if id == "*" {
        return Some(Entry::AnyAws);
    }
    if is_account(id) {
        return Some(Entry::Account {
            partition: None,
            account: id.to_owned(),
        });
    }
    if id.contains(['*', '?']) {
        return None;
    }
    let [prefix, partition, service, region, account, resource] = split_arn(id)?;
    if prefix != "arn" || partition.is_empty() || !region.is_empty() || !is_account(account) {
        return None;
    }
    let (kind, rest) = resource.split_once('/').unwrap_or((resource, ""));
    match (service, kind) {
        ("iam", "root") if rest.is_empty() => Some(Entry::Account {
            partition: Some(partition.to_owned()),
            account: account.to_owned(),
        }),
        ("iam", "role") if !rest.is_empty() => Some(Entry::Role {
            partition: partition.to_owned(),
            account: account.to_owned(),
            name: rest.rsplit('/').next().unwrap_or(rest).to_owned(),
            arn: id.to_owned(),
        }),
        ("iam", "user") | ("sts", "assumed-role") | ("sts", "federated-user")
            if !rest.is_empty() =>
        {
            Some(Entry::Exact(id.to_owned()))
        }
        _ => None,
    }
}

fn is_account(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

impl Entry {
    fn hit(&self, caller: &PrincipalRef) -> Option<PrincipalHit> {
        let names = |id: &str| caller.arns.iter().any(|arn| arn == id);
        let hit = match self {
            Self::AnyAws => return Some(PrincipalHit::Account),
            Self::Account { partition, account } => {
                // A root ARN's partition must be the caller's (as far as its ARNs tell).
                let same_partition = || {
                    partition.as_deref().is_none_or(|p| {
                        caller
                            .arns
                            .iter()
                            .filter_map(|a| split_arn(a))
                            .all(|parts| parts[1] == p)
                    })
                };
                return (caller.account == *account && same_partition())
                    .then_some(PrincipalHit::Account);
            }
            Self::Role {
                partition,
                account,
                name,
                arn,
            } => {
                names(arn)
                    || caller.arns.iter().any(|caller| {
                        split_arn(caller).is_some_and(|[_, p, service, _, a, resource]| {
                            service == "sts"
                                && p == partition
                                && a == account
                                && resource
                                    .strip_prefix("assumed-role/")
                                    .and_then(|rest| rest.split('/').next())
                                    == Some(name.as_str())
                        })
                    })
            }
            Self::Exact(id) | Self::Service(id) | Self::Federated(id) | Self::CanonicalUser(id) => {
                names(id)
            }
        };
        hit.then_some(PrincipalHit::Named)
    }
}
