//! Property tests: denies and extra policies never add permissions, Allows never remove them, and
//! nothing panics on arbitrary input.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::super::{
    Decision, DocumentKind, Match, PolicyDocument, PolicySet, PrincipalRef, RequestContext, decide,
    evaluate, parse, parse_value, trust_allows,
};

const ACTIONS: &[&str] = &[
    "*",
    "iam:*",
    "iam:Create*",
    "iam:*ServiceSpecificCredential*",
    "iam:createservicespecificcredential",
    "iam:DeleteServiceSpecificCredential",
    "iam:List?erviceSpecificCredentials",
    "s3:*",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:iam::123456789012:user/*",
    "arn:aws:iam::123456789012:user/k8s/*",
    "arn:aws:iam::*:user/alice",
    "arn:aws:iam::123456789012:user/${aws:username}",
    "arn:aws:s3:::b/*",
];
const CONDITIONS: &[&str] = &[
    r#"{"StringEquals":{"iam:ServiceSpecificCredentialServiceName":"bedrock.amazonaws.com"}}"#,
    r#"{"NumericLessThanEquals":{"iam:ServiceSpecificCredentialAgeDays":"90"}}"#,
    r#"{"StringNotEquals":{"iam:ServiceSpecificCredentialServiceName":["codecommit.amazonaws.com"]}}"#,
    r#"{"Null":{"iam:ServiceSpecificCredentialAgeDays":"true"}}"#,
    r#"{"ForAllValues:StringLike":{"aws:TagKeys":"t*"}}"#,
    r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["team","env"]}}"#,
    r#"{"NumericGreaterThanIfExists":{"iam:ServiceSpecificCredentialAgeDays":30}}"#,
    r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
];
const REQUEST_ACTIONS: &[&str] = &[
    "iam:CreateServiceSpecificCredential",
    "iam:ListServiceSpecificCredentials",
    "iam:DeleteServiceSpecificCredential",
    "iam:GetUser",
    "s3:GetObject",
];
const REQUEST_RESOURCES: &[&str] = &[
    "arn:aws:iam::123456789012:user/alice",
    "arn:aws:iam::123456789012:user/k8s/team/bob",
    "arn:aws:iam::999999999999:user/alice",
    "arn:aws:s3:::b/key",
];

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop::sample::select(list)
}

/// One statement's JSON.
fn statement(effect: &'static str) -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(pick(ACTIONS), 1..3),
        any::<bool>(),
        prop::collection::vec(pick(RESOURCES), 1..3),
        any::<bool>(),
        prop::option::of(pick(CONDITIONS)),
    )
        .prop_map(
            move |(actions, not_action, resources, not_resource, condition)| {
                let mut s = json!({"Effect": effect});
                s[if not_action { "NotAction" } else { "Action" }] = json!(actions);
                s[if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                }] = json!(resources);
                if let Some(c) = condition {
                    s["Condition"] = serde_json::from_str(c).unwrap();
                }
                s
            },
        )
}

fn any_statement() -> impl Strategy<Value = Value> {
    prop_oneof![statement("Allow"), statement("Deny")]
}

fn document(statements: &[Value]) -> PolicyDocument {
    parse_value(
        &json!({"Version": "2012-10-17", "Statement": statements}),
        DocumentKind::Identity,
    )
    .unwrap()
}

fn request() -> impl Strategy<Value = RequestContext> {
    (
        pick(REQUEST_ACTIONS),
        pick(REQUEST_RESOURCES),
        prop::option::of(pick(&["bedrock.amazonaws.com", "codecommit.amazonaws.com"])),
        prop::option::of(pick(&["1", "90", "365", "x"])),
        prop::collection::vec(pick(&["team", "env", "other"]), 0..3),
        prop::option::of(pick(&["alice", "bob"])),
    )
        .prop_map(|(action, resource, service, age, tags, username)| {
            let mut ctx = RequestContext::new(action, resource);
            if let Some(v) = service {
                ctx = ctx.with_key("iam:ServiceSpecificCredentialServiceName", v);
            }
            if let Some(v) = age {
                ctx = ctx.with_key("iam:ServiceSpecificCredentialAgeDays", v);
            }
            for tag in tags {
                ctx = ctx.with_key("aws:TagKeys", tag);
            }
            if let Some(v) = username {
                ctx = ctx.with_key("aws:username", v);
            }
            ctx
        })
}

fn identity_only(docs: &[&PolicyDocument], ctx: &RequestContext) -> Decision {
    decide(
        &PolicySet {
            identity: docs.to_vec(),
            ..PolicySet::default()
        },
        ctx,
    )
}

/// Arbitrary JSON, with policy-element names common among the object keys.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        pick(&[
            "*",
            "Allow",
            "Deny",
            "2012-10-17",
            "iam:*",
            "arn:aws:iam::123456789012:user/*",
            "123456789012",
            "${aws:username}",
            "${",
            "true",
            "10.0.0.0/8",
            "2020-01-01"
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    let key = prop_oneof![
        pick(&[
            "Version",
            "Statement",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "NotPrincipal",
            "Condition",
            "Sid",
            "AWS",
            "Service",
            "StringEquals",
            "ForAllValues:StringNotLikeIfExists",
            "Null",
            "NumericLessThan",
            "IpAddress",
            "aws:k"
        ])
        .prop_map(str::to_owned),
        "\\PC{0,8}",
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_applicable_deny_never_allows(
        statements in prop::collection::vec(any_statement(), 0..4),
        deny in statement("Deny"),
        ctx in request(),
    ) {
        // About two cases in five have a Deny that applies; the others check nothing.
        let applies = evaluate(&document(std::slice::from_ref(&deny)), &ctx) == Match::Deny;
        let mut all = statements;
        all.push(deny);
        let doc = document(&all);
        if applies {
            prop_assert_eq!(evaluate(&doc, &ctx), Match::Deny);
            prop_assert!(!identity_only(&[&doc], &ctx).is_allowed());
        }
    }

    #[test]
    fn adding_an_allow_never_removes_a_permission(
        statements in prop::collection::vec(any_statement(), 1..4),
        allow in statement("Allow"),
        ctx in request(),
    ) {
        let before = document(&statements);
        let mut more = statements;
        more.push(allow);
        let after = document(&more);
        if identity_only(&[&before], &ctx).is_allowed() {
            prop_assert!(identity_only(&[&after], &ctx).is_allowed());
        }
    }

    #[test]
    fn denies_boundaries_and_guardrails_never_add_a_permission(
        statements in prop::collection::vec(any_statement(), 1..4),
        deny in statement("Deny"),
        boundary in prop::collection::vec(any_statement(), 1..3),
        guardrail in prop::collection::vec(any_statement(), 1..3),
        ctx in request(),
    ) {
        let base = document(&statements);
        let allowed = identity_only(&[&base], &ctx).is_allowed();
        let mut with_deny = statements;
        with_deny.push(deny);
        let with_deny = document(&with_deny);
        let (boundary, guardrail) = (document(&boundary), document(&guardrail));
        let sets = [
            PolicySet { identity: vec![&with_deny], ..PolicySet::default() },
            PolicySet { identity: vec![&base], boundary: Some(&boundary), ..PolicySet::default() },
            PolicySet { identity: vec![&base], guardrail: Some(&guardrail), ..PolicySet::default() },
            PolicySet { identity: vec![&base, &with_deny], boundary: Some(&boundary), guardrail: Some(&guardrail), root: false },
        ];
        for set in &sets {
            prop_assert!(allowed || !decide(set, &ctx).is_allowed());
        }
    }

    #[test]
    fn parsing_and_evaluating_arbitrary_json_never_panics(value in arbitrary_json(), ctx in request()) {
        for kind in [DocumentKind::Identity, DocumentKind::Trust] {
            let wrapped = json!({"Version": "2012-10-17", "Statement": value.clone()});
            for candidate in [&value, &wrapped] {
                if let Ok(doc) = parse_value(candidate, kind) {
                    let _ = evaluate(&doc, &ctx);
                    let caller = ctx.clone().with_principal(PrincipalRef { arns: vec!["arn:aws:iam::123456789012:user/alice".into()], account: "123456789012".into() });
                    let _ = trust_allows(&doc, &caller);
                }
                let _ = parse(&candidate.to_string(), kind);
            }
        }
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text, DocumentKind::Identity);
        let _ = parse(&text, DocumentKind::Trust);
    }

    #[test]
    fn evaluating_arbitrary_requests_never_panics(
        action in "\\PC{0,30}", resource in "\\PC{0,60}", key in "\\PC{0,10}", value in "\\PC{0,20}",
        principal in "\\PC{0,60}",
    ) {
        let doc = parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":["arn:aws:iam::*:user/${aws:username}","arn:*:*:*:*:*?"],
               "Condition":{"ForAnyValue:DateGreaterThanIfExists":{"k":"2020-01-01"},"IpAddressIfExists":{"ip":"10.0.0.0/8"},"ArnLikeIfExists":{"a":"arn:aws:*:*:*:${aws:x, 'd'}"}}}]}"#,
            DocumentKind::Identity,
        ).unwrap();
        let ctx = RequestContext::new(action, resource)
            .with_key(&key, value.clone())
            .with_key("k", value.clone())
            .with_key("ip", value.clone())
            .with_key("a", value)
            .with_principal(PrincipalRef { account: principal.chars().take(12).collect(), arns: vec![principal] });
        let _ = evaluate(&doc, &ctx);
    }
}
