//! The README's policies, and the decision across guardrail, identity policies and boundary.

use super::super::{Decision, Match, PolicySet, PolicyType, RequestContext, decide, evaluate};
use super::{identity, statement, user};

const SERVICE: &str = "iam:ServiceSpecificCredentialServiceName";
const AGE: &str = "iam:ServiceSpecificCredentialAgeDays";
const CREATE: &str = "iam:CreateServiceSpecificCredential";
const OTHERS: [&str; 4] = [
    "iam:ListServiceSpecificCredentials",
    "iam:ResetServiceSpecificCredential",
    "iam:UpdateServiceSpecificCredential",
    "iam:DeleteServiceSpecificCredential",
];

/// README "Scoping what the operator may mint": three statements.
const README_SCOPED: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Passwords", "Effect": "Allow", "Action": "iam:CreateServiceSpecificCredential",
     "Resource": "arn:aws:iam::123456789012:user/*",
     "Condition": {"StringEquals": {"iam:ServiceSpecificCredentialServiceName": ["codecommit.amazonaws.com"]}}},
    {"Sid": "ApiKeysOfAtMost90Days", "Effect": "Allow", "Action": "iam:CreateServiceSpecificCredential",
     "Resource": "arn:aws:iam::123456789012:user/*",
     "Condition": {"StringEquals": {"iam:ServiceSpecificCredentialServiceName": ["bedrock.amazonaws.com"]},
                   "NumericLessThanEquals": {"iam:ServiceSpecificCredentialAgeDays": "90"}}},
    {"Sid": "ManageWhatExists", "Effect": "Allow",
     "Action": ["iam:ListServiceSpecificCredentials", "iam:ResetServiceSpecificCredential",
                "iam:UpdateServiceSpecificCredential", "iam:DeleteServiceSpecificCredential"],
     "Resource": "arn:aws:iam::123456789012:user/*"}
  ]
}"#;

/// The mistake the README warns about: both conditions on all five actions in one statement.
const README_SINGLE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
  "Action":["iam:CreateServiceSpecificCredential","iam:ListServiceSpecificCredentials",
            "iam:ResetServiceSpecificCredential","iam:UpdateServiceSpecificCredential",
            "iam:DeleteServiceSpecificCredential"],
  "Resource":"arn:aws:iam::123456789012:user/*",
  "Condition":{"StringEquals":{"iam:ServiceSpecificCredentialServiceName":["bedrock.amazonaws.com","codecommit.amazonaws.com"]},
               "NumericLessThanEquals":{"iam:ServiceSpecificCredentialAgeDays":"90"}}}]}"#;

/// README's guardrail: Deny Create of keys over 90 days, and of API keys that never expire.
const README_GUARDRAIL: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"AllowAll","Effect":"Allow","Action":"*","Resource":"*"},
  {"Sid":"NoLongKeys","Effect":"Deny","Action":"iam:CreateServiceSpecificCredential","Resource":"*",
   "Condition":{"NumericGreaterThan":{"iam:ServiceSpecificCredentialAgeDays":"90"}}},
  {"Sid":"NoEternalKeys","Effect":"Deny","Action":"iam:CreateServiceSpecificCredential","Resource":"*",
   "Condition":{"Null":{"iam:ServiceSpecificCredentialAgeDays":"true"},
                "StringEquals":{"iam:ServiceSpecificCredentialServiceName":"bedrock.amazonaws.com"}}}]}"#;

fn create(service: &str, age: Option<&str>) -> RequestContext {
    let ctx = RequestContext::new(CREATE, user("alice")).with_key(SERVICE, service);
    match age {
        Some(age) => ctx.with_key(AGE, age),
        None => ctx,
    }
}

#[test]
fn readme_scoped_policy() {
    let doc = identity(README_SCOPED);
    let verdict = |ctx: &RequestContext| evaluate(&doc, ctx);
    assert_eq!(
        verdict(&create("codecommit.amazonaws.com", None)),
        Match::Allow
    );
    assert_eq!(
        verdict(&create("bedrock.amazonaws.com", Some("90"))),
        Match::Allow
    );
    assert_eq!(
        verdict(&create("bedrock.amazonaws.com", Some("365"))),
        Match::NotApplicable
    );
    assert_eq!(
        verdict(&create("bedrock.amazonaws.com", None)),
        Match::NotApplicable
    );
    assert_eq!(
        verdict(&create("cassandra.amazonaws.com", None)),
        Match::NotApplicable
    );
    for action in OTHERS {
        assert_eq!(
            verdict(&RequestContext::new(action, user("alice"))),
            Match::Allow,
            "{action}"
        );
    }
    assert_eq!(
        verdict(&RequestContext::new(
            OTHERS[0],
            "arn:aws:iam::999999999999:user/alice"
        )),
        Match::NotApplicable
    );
}

#[test]
fn readme_single_statement_denies_what_carries_no_keys() {
    let doc = identity(README_SINGLE);
    for action in OTHERS {
        let ctx = RequestContext::new(action, user("alice"));
        assert_eq!(evaluate(&doc, &ctx), Match::NotApplicable, "{action}");
        let decision = decide(
            &PolicySet {
                identity: vec![&doc],
                ..PolicySet::default()
            },
            &ctx,
        );
        assert_eq!(
            decision.message_suffix(action),
            format!("because no identity-based policy allows the {action} action")
        );
    }
    assert_eq!(
        evaluate(&doc, &create("codecommit.amazonaws.com", None)),
        Match::NotApplicable
    );
    assert_eq!(
        evaluate(&doc, &create("bedrock.amazonaws.com", Some("30"))),
        Match::Allow
    );
}

#[test]
fn readme_guardrail() {
    let guardrail = identity(README_GUARDRAIL);
    let allow_all = statement(r#"{"Effect":"Allow","Action":"iam:*","Resource":"*"}"#);
    let set = |guardrail_as_boundary: bool| PolicySet {
        identity: vec![&allow_all],
        boundary: guardrail_as_boundary.then_some(&guardrail),
        guardrail: (!guardrail_as_boundary).then_some(&guardrail),
        root: false,
    };
    for as_boundary in [false, true] {
        let kind = if as_boundary {
            PolicyType::Boundary
        } else {
            PolicyType::Guardrail
        };
        let set = set(as_boundary);
        assert_eq!(
            decide(&set, &create("codecommit.amazonaws.com", None)),
            Decision::Allow
        );
        assert_eq!(
            decide(&set, &create("bedrock.amazonaws.com", Some("90"))),
            Decision::Allow
        );
        assert_eq!(
            decide(&set, &create("bedrock.amazonaws.com", Some("91"))),
            Decision::ExplicitDeny(kind)
        );
        assert_eq!(
            decide(&set, &create("bedrock.amazonaws.com", None)),
            Decision::ExplicitDeny(kind)
        );
    }
}

#[test]
fn decision_order_and_messages() {
    let allow = statement(r#"{"Effect":"Allow","Action":"iam:*","Resource":"*"}"#);
    let deny = statement(r#"{"Effect":"Deny","Action":"iam:Delete*","Resource":"*"}"#);
    let nothing = statement(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#);
    let delete = RequestContext::new("iam:DeleteUser", user("bob"));
    let get = RequestContext::new("iam:GetUser", user("bob"));
    let set = |identity: Vec<_>, boundary, guardrail, root| PolicySet {
        identity,
        boundary,
        guardrail,
        root,
    };

    assert_eq!(
        decide(&set(vec![&allow], None, None, false), &get),
        Decision::Allow
    );
    assert_eq!(
        decide(&set(vec![], None, None, false), &get),
        Decision::ImplicitDeny(PolicyType::Identity)
    );
    assert_eq!(
        decide(&set(vec![&allow, &deny], None, None, false), &delete),
        Decision::ExplicitDeny(PolicyType::Identity)
    );
    assert_eq!(
        decide(&set(vec![&allow], Some(&deny), Some(&deny), false), &delete),
        Decision::ExplicitDeny(PolicyType::Guardrail)
    );
    assert_eq!(
        decide(&set(vec![&deny], Some(&deny), None, false), &delete),
        Decision::ExplicitDeny(PolicyType::Identity)
    );
    assert_eq!(
        decide(&set(vec![&allow], Some(&deny), None, false), &delete),
        Decision::ExplicitDeny(PolicyType::Boundary)
    );
    assert_eq!(
        decide(&set(vec![&allow], None, Some(&nothing), false), &get),
        Decision::ImplicitDeny(PolicyType::Guardrail)
    );
    assert_eq!(
        decide(&set(vec![&allow], Some(&nothing), None, false), &get),
        Decision::ImplicitDeny(PolicyType::Boundary)
    );
    assert_eq!(
        decide(&set(vec![], Some(&nothing), None, false), &get),
        Decision::ImplicitDeny(PolicyType::Identity)
    );
    assert_eq!(
        decide(&set(vec![], Some(&nothing), Some(&nothing), false), &get),
        Decision::ImplicitDeny(PolicyType::Guardrail)
    );
    // Root: no identity policy needed, boundary and identity denies ignored, the guardrail applies.
    assert_eq!(
        decide(&set(vec![&deny], Some(&nothing), None, true), &delete),
        Decision::Allow
    );
    assert_eq!(
        decide(&set(vec![], None, Some(&deny), true), &delete),
        Decision::ExplicitDeny(PolicyType::Guardrail)
    );
    assert_eq!(
        decide(&set(vec![], None, Some(&nothing), true), &get),
        Decision::ImplicitDeny(PolicyType::Guardrail)
    );

    let action = "iam:DeleteUser";
    let reasons = [
        (Decision::Allow, String::new()),
        (
            Decision::ExplicitDeny(PolicyType::Identity),
            "with an explicit deny in an identity-based policy".to_owned(),
        ),
        (
            Decision::ExplicitDeny(PolicyType::Guardrail),
            "with an explicit deny in a service control policy".to_owned(),
        ),
        (
            Decision::ExplicitDeny(PolicyType::Boundary),
            "with an explicit deny in a permissions boundary".to_owned(),
        ),
        (
            Decision::ImplicitDeny(PolicyType::Identity),
            format!("because no identity-based policy allows the {action} action"),
        ),
        (
            Decision::ImplicitDeny(PolicyType::Guardrail),
            format!("because no service control policy allows the {action} action"),
        ),
        (
            Decision::ImplicitDeny(PolicyType::Boundary),
            format!("because no permissions boundary allows the {action} action"),
        ),
    ];
    for (decision, reason) in reasons {
        assert_eq!(decision.message_suffix(action), reason);
        assert_eq!(decision.is_allowed(), reason.is_empty());
    }
}
