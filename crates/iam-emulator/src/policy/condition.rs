//! The `Condition` element: parsing its operators and evaluating them against a request's keys.
//!
//! Semantics (AWS "IAM JSON policy elements: Condition operators" and "Single-valued vs.
//! multivalued context keys"):
//! - several operators in one block, and several keys under one operator, must all be true (AND);
//!   several values for one key match if any does (OR);
//! - a key the request lacks: a positive operator is false, a negated one (`StringNotEquals`,
//!   `NotIpAddress`, …) is true, `…IfExists` is true, `ForAnyValue:` is false, `ForAllValues:` is
//!   true; `Null` tests exactly that;
//! - a negated operator is the negation of its positive: true when no request value matches any
//!   policy value;
//! - `ForAnyValue:` is true when some request value matches (for a negated operator: matches none of
//!   the policy values); `ForAllValues:` when every request value does;
//! - a request or policy value that does not parse as the operator's type (number, date, boolean,
//!   IP address) matches nothing; IAM accepts such policy values, so parsing does not refuse them.

use serde_json::{Map, Value};

use super::context::{ContextKeys, key_values};
use super::error::PolicyError;
use super::matching::{arn_matches, compile, glob};
use super::values::{Ordering3, bool_value, compare_dates, compare_numbers, ip_in_range};

/// All tests of one statement's `Condition` element (all must hold).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ConditionBlock {
    tests: Vec<ConditionTest>,
}

/// One operator applied to one key, with the policy's values.
#[derive(Debug, Clone, PartialEq)]
struct ConditionTest {
    qualifier: Qualifier,
    operator: Operator,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

/// The set-operator prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

/// An operator without prefix and `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Compare { family: Family, negated: bool },
    Null,
}

/// What a comparison compares, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Ordering3),
    Date(Ordering3),
    Bool,
    Binary,
    Ip,
    /// `ArnEquals` and `ArnLike` behave the same: wildcards, part by part.
    Arn,
}

impl Family {
    /// Whether policy values may contain policy variables (String and Arn operators only).
    fn takes_variables(self) -> bool {
        matches!(
            self,
            Self::StringEquals | Self::StringEqualsIgnoreCase | Self::StringLike | Self::Arn
        )
    }
}

/// The operator named `name` (case-sensitive, as documented), or `None` if IAM has no such operator.
fn parse_operator(name: &str) -> Option<(Qualifier, Operator, bool)> {
    let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
        (Qualifier::ForAnyValue, rest)
    } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
        (Qualifier::ForAllValues, rest)
    } else {
        (Qualifier::Single, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    if base == "Null" {
        return (qualifier == Qualifier::Single && !if_exists).then_some((
            qualifier,
            Operator::Null,
            false,
        ));
    }
    use Ordering3::{Equal, Greater, GreaterOrEqual, Less, LessOrEqual};
    let (family, negated) = match base {
        "StringEquals" => (Family::StringEquals, false),
        "StringNotEquals" => (Family::StringEquals, true),
        "StringEqualsIgnoreCase" => (Family::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Family::StringEqualsIgnoreCase, true),
        "StringLike" => (Family::StringLike, false),
        "StringNotLike" => (Family::StringLike, true),
        "NumericEquals" => (Family::Numeric(Equal), false),
        "NumericNotEquals" => (Family::Numeric(Equal), true),
        "NumericLessThan" => (Family::Numeric(Less), false),
        "NumericLessThanEquals" => (Family::Numeric(LessOrEqual), false),
        "NumericGreaterThan" => (Family::Numeric(Greater), false),
        "NumericGreaterThanEquals" => (Family::Numeric(GreaterOrEqual), false),
        "DateEquals" => (Family::Date(Equal), false),
        "DateNotEquals" => (Family::Date(Equal), true),
        "DateLessThan" => (Family::Date(Less), false),
        "DateLessThanEquals" => (Family::Date(LessOrEqual), false),
        "DateGreaterThan" => (Family::Date(Greater), false),
        "DateGreaterThanEquals" => (Family::Date(GreaterOrEqual), false),
        "Bool" => (Family::Bool, false),
        "BinaryEquals" => (Family::Binary, false),
        "IpAddress" => (Family::Ip, false),
        "NotIpAddress" => (Family::Ip, true),
        "ArnEquals" | "ArnLike" => (Family::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Family::Arn, true),
        _ => return None,
    };
    Some((qualifier, Operator::Compare { family, negated }, if_exists))
}

impl ConditionBlock {
    /// Parses a `Condition` element: `{operator: {key: value | [values]}}`.
    pub(crate) fn parse(element: &Value) -> Result<Self, PolicyError> {
        let operators = element.as_object().ok_or(PolicyError::Syntax)?;
        let mut tests = Vec::new();
        for (name, keys) in operators {
            let (qualifier, operator, if_exists) =
                parse_operator(name).ok_or(PolicyError::Syntax)?;
            let keys: &Map<String, Value> = keys.as_object().ok_or(PolicyError::Syntax)?;
            if keys.is_empty() {
                return Err(PolicyError::Syntax);
            }
            for (key, value) in keys {
                if key.is_empty() {
                    return Err(PolicyError::Syntax);
                }
                tests.push(ConditionTest {
                    qualifier,
                    operator,
                    if_exists,
                    key: key.clone(),
                    values: condition_values(value)?,
                });
            }
        }
        Ok(Self { tests })
    }

    /// Whether every test holds for `keys`. `vars`: whether policy variables are substituted (a
    /// `2012-10-17` policy).
    pub(crate) fn holds(&self, keys: &ContextKeys, vars: bool) -> bool {
        self.tests.iter().all(|test| test.holds(keys, vars))
    }
}

/// A condition value: a string, number or boolean, or a non-empty array of them.
fn condition_values(value: &Value) -> Result<Vec<String>, PolicyError> {
    fn scalar(value: &Value) -> Result<String, PolicyError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(PolicyError::Syntax),
        }
    }
    match value {
        Value::Array(items) if items.is_empty() => Err(PolicyError::Syntax),
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

impl ConditionTest {
    fn holds(&self, keys: &ContextKeys, vars: bool) -> bool {
        let present = key_values(keys, &self.key);
        let Operator::Compare { family, negated } = self.operator else {
            // Null: "true" asks for an absent key, "false" for a present one.
            return self.values.iter().any(|v| match bool_value(v) {
                Some(wants_absent) => wants_absent == present.is_none(),
                None => false,
            });
        };
        let Some(request_values) = present else {
            return self.if_exists
                || match self.qualifier {
                    Qualifier::Single => negated,
                    Qualifier::ForAnyValue => false,
                    Qualifier::ForAllValues => true,
                };
        };
        let vars = (vars && family.takes_variables()).then_some(keys);
        let matches_policy = |request: &String| {
            self.values
                .iter()
                .any(|policy| value_matches(family, policy, request, vars))
        };
        match self.qualifier {
            Qualifier::Single => request_values.iter().any(matches_policy) != negated,
            Qualifier::ForAnyValue => request_values.iter().any(|v| matches_policy(v) != negated),
            Qualifier::ForAllValues => request_values.iter().all(|v| matches_policy(v) != negated),
        }
    }
}

/// Whether one request value matches one policy value under `family` (the positive operator).
fn value_matches(family: Family, policy: &str, request: &str, vars: Option<&ContextKeys>) -> bool {
    match family {
        Family::StringEquals | Family::StringEqualsIgnoreCase | Family::StringLike => {
            let Some(tokens) = compile(policy, vars) else {
                return false;
            };
            match family {
                Family::StringLike => glob(&tokens, request),
                _ => {
                    let literal: String = tokens.iter().map(|t| t.as_literal()).collect();
                    if family == Family::StringEquals {
                        literal == request
                    } else {
                        literal.to_lowercase() == request.to_lowercase()
                    }
                }
            }
        }
        Family::Numeric(order) => compare_numbers(request, policy).is_some_and(|o| order.holds(o)),
        Family::Date(order) => compare_dates(request, policy).is_some_and(|o| order.holds(o)),
        Family::Bool => bool_value(policy).is_some_and(|p| bool_value(request) == Some(p)),
        Family::Binary => policy == request,
        Family::Ip => ip_in_range(request, policy),
        Family::Arn => arn_matches(policy, request, vars),
    }
}
