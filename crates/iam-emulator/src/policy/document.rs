//! Parsing and validating a policy document (AWS "IAM JSON policy element reference").

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::condition::ConditionBlock;
use super::error::PolicyError;
use super::principal::PrincipalSpec;

/// Which rules a document follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// An identity policy, permissions boundary or guardrail (SCP-like): `Resource` required,
    /// `Principal` forbidden.
    Identity,
    /// A role's trust policy: `Principal` required, `Resource` forbidden.
    Trust,
}

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17`, also what an absent `Version` means: `${…}` is plain text.
    V2008_10_17,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants, unless something denies.
    Allow,
    /// Refuses, whatever else allows.
    Deny,
}

/// A list element that is either positive (`Action`) or negated (`NotAction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Patterns {
    /// `Action`, `Resource`, `Principal`: the statement applies to what matches.
    Only(Vec<String>),
    /// `NotAction`, `NotResource`, `NotPrincipal`: it applies to what does not.
    Except(Vec<String>),
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) actions: Patterns,
    /// `None` in a trust policy.
    pub(crate) resources: Option<Patterns>,
    /// `None` in an identity policy; the bool is `true` for `NotPrincipal`.
    pub(crate) principal: Option<(PrincipalSpec, bool)>,
    pub(crate) condition: ConditionBlock,
}

impl Statement {
    /// The `Sid`, if any.
    #[must_use]
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// `Allow` or `Deny`.
    #[must_use]
    pub fn effect(&self) -> Effect {
        self.effect
    }
}

/// A parsed, validated policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    pub(crate) kind: DocumentKind,
    pub(crate) version: Version,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<Statement>,
}

impl PolicyDocument {
    /// Identity or trust policy.
    #[must_use]
    pub fn kind(&self) -> DocumentKind {
        self.kind
    }

    /// The language version (`2008-10-17` when absent).
    #[must_use]
    pub fn version(&self) -> Version {
        self.version
    }

    /// The `Id`, if any.
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements, in document order.
    #[must_use]
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The IAM user and role ARNs the `Principal`/`NotPrincipal` elements name.
    pub fn named_principal_arns(&self) -> Vec<String> {
        self.statements
            .iter()
            .filter_map(|s| s.principal.as_ref())
            .flat_map(|(spec, _)| spec.named_iam_arns())
            .map(str::to_string)
            .collect()
    }
}

/// Parses and validates a policy document (JSON text) as IAM does for `kind`.
///
/// # Errors
/// [`PolicyError`] with IAM's `MalformedPolicyDocument` message: not JSON (nesting deeper than
/// serde_json's limit of 128 included), unknown elements, missing or forbidden elements, invalid
/// actions, resources, principals, `Sid`s or condition operators.
pub fn parse(text: &str, kind: DocumentKind) -> Result<PolicyDocument, PolicyError> {
    let value: Value = serde_json::from_str(text).map_err(|_| PolicyError::Syntax)?;
    parse_value(&value, kind)
}

/// [`parse`] for a document already decoded from JSON.
///
/// # Errors
/// As [`parse`].
pub fn parse_value(value: &Value, kind: DocumentKind) -> Result<PolicyDocument, PolicyError> {
    let top = value.as_object().ok_or(PolicyError::Syntax)?;
    only_known(top, &["Version", "Id", "Statement"])?;
    let version = match top.get("Version") {
        None => Version::V2008_10_17,
        Some(Value::String(v)) if v == "2012-10-17" => Version::V2012_10_17,
        Some(Value::String(v)) if v == "2008-10-17" => Version::V2008_10_17,
        Some(Value::String(_)) => return Err(PolicyError::LegacyParsing),
        Some(_) => return Err(PolicyError::Syntax),
    };
    let id = top.get("Id").map(string).transpose()?;
    let statements = match top.get("Statement") {
        None => return Err(PolicyError::MissingField("Statement")),
        Some(Value::Array(items)) if items.is_empty() => return Err(PolicyError::Syntax),
        Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(one) => vec![one],
    };
    let statements = statements
        .into_iter()
        .map(|s| parse_statement(s, kind))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sids = HashSet::new();
    for sid in statements.iter().filter_map(|s| s.sid.as_deref()) {
        if !sid.is_empty() && !sids.insert(sid) {
            return Err(PolicyError::DuplicateSid);
        }
    }
    Ok(PolicyDocument {
        kind,
        version,
        id,
        statements,
    })
}

/// Refuses elements other than `known` (element names are case-sensitive).
fn only_known(map: &Map<String, Value>, known: &[&str]) -> Result<(), PolicyError> {
    match map.keys().all(|k| known.contains(&k.as_str())) {
        true => Ok(()),
        false => Err(PolicyError::Syntax),
    }
}

fn string(value: &Value) -> Result<String, PolicyError> {
    value.as_str().map(str::to_owned).ok_or(PolicyError::Syntax)
}

/// A string or a non-empty array of strings.
fn string_list(value: &Value) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items.iter().map(string).collect(),
        _ => Err(PolicyError::Syntax),
    }
}

/// Exactly one of `positive` / `negative`; `Ok(None)` when neither is present.
fn either<'a>(
    map: &'a Map<String, Value>,
    positive: &str,
    negative: &str,
) -> Result<Option<(bool, &'a Value)>, PolicyError> {
    match (map.get(positive), map.get(negative)) {
        (Some(_), Some(_)) => Err(PolicyError::Syntax),
        (Some(v), None) => Ok(Some((false, v))),
        (None, Some(v)) => Ok(Some((true, v))),
        (None, None) => Ok(None),
    }
}

fn parse_statement(value: &Value, kind: DocumentKind) -> Result<Statement, PolicyError> {
    let map = value.as_object().ok_or(PolicyError::Syntax)?;
    only_known(
        map,
        &[
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "NotPrincipal",
            "Condition",
        ],
    )?;
    let sid = map.get("Sid").map(string).transpose()?;
    if sid
        .as_deref()
        .is_some_and(|s| !s.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(PolicyError::InvalidSid);
    }
    let effect = match map.get("Effect").map(Value::as_str) {
        None => return Err(PolicyError::MissingField("Effect")),
        Some(Some("Allow")) => Effect::Allow,
        Some(Some("Deny")) => Effect::Deny,
        Some(_) => return Err(PolicyError::Syntax),
    };
    let principal = match (kind, either(map, "Principal", "NotPrincipal")?) {
        (DocumentKind::Identity, Some(_)) => return Err(PolicyError::PrincipalNotAllowed),
        (DocumentKind::Identity, None) => None,
        (DocumentKind::Trust, None) => return Err(PolicyError::MissingField("Principal")),
        (DocumentKind::Trust, Some((negated, v))) => Some((PrincipalSpec::parse(v)?, negated)),
    };
    let actions = match either(map, "Action", "NotAction")? {
        None => return Err(PolicyError::MissingAction),
        Some((negated, v)) => {
            let list = string_list(v)?;
            list.iter().try_for_each(|a| check_action(a))?;
            negate(list, negated)
        }
    };
    let resources = match (kind, either(map, "Resource", "NotResource")?) {
        (DocumentKind::Identity, None) => return Err(PolicyError::MissingResource),
        (DocumentKind::Identity, Some((negated, v))) => {
            let list = string_list(v)?;
            list.iter().try_for_each(|r| check_resource(r))?;
            Some(negate(list, negated))
        }
        (DocumentKind::Trust, None) => None,
        (DocumentKind::Trust, Some((negated, _))) => {
            return Err(PolicyError::ProhibitedField(if negated {
                "NotResource"
            } else {
                "Resource"
            }));
        }
    };
    let condition = match map.get("Condition") {
        None => ConditionBlock::default(),
        Some(c) => ConditionBlock::parse(c)?,
    };
    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        principal,
        condition,
    })
}

fn negate(list: Vec<String>, negated: bool) -> Patterns {
    if negated {
        Patterns::Except(list)
    } else {
        Patterns::Only(list)
    }
}

/// `*`, or `vendor:name` with exactly one colon and a non-empty vendor.
fn check_action(action: &str) -> Result<(), PolicyError> {
    if action == "*" {
        return Ok(());
    }
    match action.split_once(':') {
        None => Err(PolicyError::MissingVendor),
        Some(("", _)) => Err(PolicyError::MissingVendor),
        Some((_, name)) if name.contains(':') => Err(PolicyError::TooManyColons),
        Some(_) => Ok(()),
    }
}

/// `*`, or `arn:` followed by at least five more colons (six parts).
fn check_resource(resource: &str) -> Result<(), PolicyError> {
    if resource == "*" || (resource.starts_with("arn:") && resource.matches(':').count() >= 5) {
        Ok(())
    } else {
        Err(PolicyError::InvalidResource(resource.to_owned()))
    }
}
