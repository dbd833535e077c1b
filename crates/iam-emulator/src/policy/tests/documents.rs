//! Parsing (IAM's messages), action and resource matching, trust-policy principals, size.

use super::super::{
    DocumentKind, Effect, Match, PolicyError, PrincipalRef, RequestContext, TRUST_POLICY_MAX,
    TrustMatch, Version, evaluate, parse, trust_allows,
};
use super::{ACCOUNT, statement, user};

fn refused(text: &str, kind: DocumentKind) -> String {
    parse(text, kind)
        .map(|_| "accepted".into())
        .unwrap_or_else(|e| e.to_string())
}

fn one(statement: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
}

#[test]
fn identity_documents_refused_with_iams_messages() {
    use DocumentKind::Identity;
    let cases: &[(&str, &str)] = &[
        ("not json", "Syntax errors in policy."),
        ("[]", "Syntax errors in policy."),
        (
            r#"{"Version":"2012-10-17","Bar":1,"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
            "Syntax errors in policy.",
        ),
        (
            &one(r#"{"Effect":"Allow","Action":"iam:*","Resource":"*","Foo":1}"#),
            "Syntax errors in policy.",
        ),
        (
            &one(r#"{"effect":"Allow","Action":"iam:*","Resource":"*"}"#),
            "Syntax errors in policy.",
        ),
        (
            &one(r#"{"Effect":"allow","Action":"iam:*","Resource":"*"}"#),
            "Syntax errors in policy.",
        ),
        (
            &one(r#"{"Action":"iam:*","Resource":"*"}"#),
            "Missing required field Effect",
        ),
        (
            r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}"#,
            "The policy failed legacy parsing",
        ),
        (
            r#"{"Version":"2012-10-17"}"#,
            "Missing required field Statement",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            "Syntax errors in policy.",
        ),
        (
            &one(r#"{"Effect":"Allow","Action":"iam:*","NotAction":"iam:x","Resource":"*"}"#),
            "Syntax errors in policy.",
        ),
        (
            &one(r#"{"Effect":"Allow","Resource":"*"}"#),
            "Policy statement must contain actions.",
        ),
        (
            &one(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#),
            "Syntax errors in policy.",
        ),
        (
            &one(r#"{"Effect":"Allow","Action":"CreateUser","Resource":"*"}"#),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            &one(r#"{"Effect":"Allow","Action":"iam:Create:User","Resource":"*"}"#),
            "Actions/Condition can contain only one colon.",
        ),
        (
            &one(r#"{"Effect":"Allow","Action":"iam:*"}"#),
            "Policy statement must contain resources.",
        ),
        (
            &one(r#"{"Effect":"Allow","Action":"iam:*","Resource":"user/alice"}"#),
            "Resource user/alice must be in ARN format or \"*\".",
        ),
        (
            &one(r#"{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*"}"#),
            "Resource arn:aws:iam::* must be in ARN format or \"*\".",
        ),
        (
            &one(r#"{"Effect":"Allow","Action":"iam:*","Resource":"*","Principal":"*"}"#),
            "Policy document should not specify a principal.",
        ),
        (
            &one(r#"{"Sid":"no-dashes","Effect":"Allow","Action":"iam:*","Resource":"*"}"#),
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
        ),
        (
            &one(
                r#"{"Sid":"A","Effect":"Allow","Action":"iam:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"iam:*","Resource":"*"}"#,
            ),
            "Statement IDs (SID) in a single policy must be unique.",
        ),
        (
            &one(r#"{"Effect":"Allow","Action":["iam:*",1],"Resource":"*"}"#),
            "Syntax errors in policy.",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(refused(text, Identity), *message, "{text}");
    }
}

#[test]
fn accepted_shapes() {
    let doc = parse(r#"{"Statement":{"Effect":"Deny","Action":"*","NotResource":"arn:aws:iam::123456789012:user/*"}}"#, DocumentKind::Identity).unwrap();
    assert_eq!(doc.version(), Version::V2008_10_17);
    assert_eq!(doc.statements()[0].effect(), Effect::Deny);
    let doc = parse(r#"{"Version":"2008-10-17","Id":"x","Statement":[{"Sid":"","Effect":"Allow","Action":"iam:*","Resource":"*"},{"Sid":"","Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#, DocumentKind::Identity).unwrap();
    assert_eq!((doc.id(), doc.statements()[1].sid()), (Some("x"), Some("")));
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        parse(&deep, DocumentKind::Identity).unwrap_err(),
        PolicyError::Syntax
    );
    let deep_condition = one(&format!(
        r#"{{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{{"StringEquals":{{"k":{}1{}}}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    ));
    assert_eq!(
        parse(&deep_condition, DocumentKind::Identity).unwrap_err(),
        PolicyError::Syntax
    );
}

#[test]
fn actions_are_case_insensitive_with_wildcards() {
    let ctx = |action: &str| RequestContext::new(action, user("alice"));
    let doc = statement(
        r#"{"Effect":"Allow","Action":"iam:createservicespecificcredential","Resource":"*"}"#,
    );
    assert_eq!(
        evaluate(&doc, &ctx("iam:CreateServiceSpecificCredential")),
        Match::Allow
    );
    assert_eq!(
        evaluate(&doc, &ctx("IAM:CREATESERVICESPECIFICCREDENTIAL")),
        Match::Allow
    );
    assert_eq!(evaluate(&doc, &ctx("iam:CreateUser")), Match::NotApplicable);
    let doc = statement(
        r#"{"Effect":"Allow","Action":["iam:*ServiceSpecificCredential*","sts:Get?allerIdentity"],"Resource":"*"}"#,
    );
    assert_eq!(
        evaluate(&doc, &ctx("iam:ListServiceSpecificCredentials")),
        Match::Allow
    );
    assert_eq!(evaluate(&doc, &ctx("sts:GetCallerIdentity")), Match::Allow);
    assert_eq!(evaluate(&doc, &ctx("iam:ListUsers")), Match::NotApplicable);
    let doc = statement(r#"{"Effect":"Allow","NotAction":"iam:Delete*","Resource":"*"}"#);
    assert_eq!(evaluate(&doc, &ctx("iam:CreateUser")), Match::Allow);
    assert_eq!(evaluate(&doc, &ctx("iam:DeleteUser")), Match::NotApplicable);
    let doc = statement(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#);
    assert_eq!(evaluate(&doc, &ctx("s3:GetObject")), Match::Allow);
}

#[test]
fn resources_match_part_by_part_case_sensitively() {
    let allows = |pattern: &str, resource: &str| {
        let doc = statement(&format!(
            r#"{{"Effect":"Allow","Action":"iam:*","Resource":"{pattern}"}}"#
        ));
        evaluate(
            &doc,
            &RequestContext::new("iam:GetUser", resource).with_key("aws:username", "alice"),
        ) == Match::Allow
    };
    let k8s = "arn:aws:iam::123456789012:user/k8s/*";
    assert!(allows(k8s, "arn:aws:iam::123456789012:user/k8s/team/alice"));
    assert!(!allows(k8s, "arn:aws:iam::123456789012:user/alice"));
    assert!(!allows(
        "arn:aws:iam::123456789012:user/K8s/*",
        "arn:aws:iam::123456789012:user/k8s/alice"
    ));
    assert!(allows("arn:aws:iam::12345678901?:user/*", &user("alice")));
    assert!(allows("arn:aws:iam::*:user/*", &user("alice")));
    assert!(!allows(
        "arn:aws:iam::*:role/*",
        "arn:aws:iam::123456789012:user/x:role/y"
    ));
    assert!(allows("arn:aws:iam::*:*", &user("alice")));
    assert!(allows("*", "not even an ARN"));
    assert!(!allows("arn:aws:iam::*:user/*", "not even an ARN"));
    assert!(allows(
        "arn:aws:iam::123456789012:user/${aws:username}",
        &user("alice")
    ));
    assert!(!allows(
        "arn:aws:iam::123456789012:user/${aws:username}",
        &user("bob")
    ));
    assert!(!allows(
        "arn:aws:iam::123456789012:user/a${*}",
        &user("abc")
    ));
    assert!(allows("arn:aws:iam::123456789012:user/a${*}", &user("a*")));
    let doc = statement(
        r#"{"Effect":"Allow","Action":"iam:*","NotResource":"arn:aws:iam::123456789012:user/admin*"}"#,
    );
    assert_eq!(
        evaluate(&doc, &RequestContext::new("iam:GetUser", user("alice"))),
        Match::Allow
    );
    assert_eq!(
        evaluate(&doc, &RequestContext::new("iam:GetUser", user("admin1"))),
        Match::NotApplicable
    );
}

/// An IAM or STS caller by ARN: its own ARN, and for a session also its role's (as the emulator
/// passes them), with the account from the ARN.
fn aws(arn: impl AsRef<str>) -> PrincipalRef {
    let arn = arn.as_ref().to_owned();
    let account = arn.split(':').nth(4).unwrap_or_default().to_owned();
    let mut arns = vec![arn.clone()];
    if let Some((_, rest)) = arn.split_once(":assumed-role/") {
        let role = rest.split('/').next().unwrap_or_default();
        arns.push(format!("arn:aws:iam::{account}:role/ops/{role}"));
    }
    PrincipalRef { arns, account }
}

/// A service or identity-provider caller.
fn service(name: impl Into<String>) -> PrincipalRef {
    PrincipalRef {
        arns: vec![name.into()],
        account: String::new(),
    }
}

fn trust(principal: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{principal}}}]}}"#
    )
}

fn trust_of(principal: &str, caller: PrincipalRef) -> TrustMatch {
    let doc = parse(&trust(principal), DocumentKind::Trust)
        .unwrap_or_else(|e| panic!("{e}: {principal}"));
    trust_allows(
        &doc,
        &RequestContext::new("sts:AssumeRole", "ignored").with_principal(caller),
    )
}

#[test]
fn trust_principals() {
    let alice = || aws(user("alice"));
    let session = || aws(format!("arn:aws:sts::{ACCOUNT}:assumed-role/Ops/s1"));
    let outsider = || aws("arn:aws:iam::999999999999:user/alice");
    use TrustMatch::{AllowedByAccount, AllowedByPrincipal, NotAllowed};
    assert_eq!(trust_of(r#""*""#, alice()), AllowedByAccount);
    assert_eq!(trust_of(r#"{"AWS":"*"}"#, outsider()), AllowedByAccount);
    assert_eq!(
        trust_of(r#"{"AWS":"123456789012"}"#, alice()),
        AllowedByAccount
    );
    assert_eq!(
        trust_of(r#"{"AWS":"123456789012"}"#, session()),
        AllowedByAccount
    );
    assert_eq!(
        trust_of(r#"{"AWS":"arn:aws:iam::123456789012:root"}"#, alice()),
        AllowedByAccount
    );
    assert_eq!(
        trust_of(r#"{"AWS":"arn:aws-cn:iam::123456789012:root"}"#, alice()),
        NotAllowed
    );
    assert_eq!(
        trust_of(r#"{"AWS":"123456789012"}"#, outsider()),
        NotAllowed
    );
    assert_eq!(
        trust_of(
            r#"{"AWS":["999999999999","arn:aws:iam::123456789012:user/alice"]}"#,
            alice()
        ),
        AllowedByPrincipal
    );
    assert_eq!(
        trust_of(r#"{"AWS":"arn:aws:iam::123456789012:user/bob"}"#, alice()),
        NotAllowed
    );
    assert_eq!(
        trust_of(
            r#"{"AWS":"arn:aws:iam::123456789012:role/ops/Ops"}"#,
            session()
        ),
        AllowedByPrincipal
    );
    assert_eq!(
        trust_of(
            r#"{"AWS":"arn:aws:iam::123456789012:role/Other"}"#,
            session()
        ),
        NotAllowed
    );
    assert_eq!(
        trust_of(
            r#"{"AWS":"arn:aws:sts::123456789012:assumed-role/Ops/s1"}"#,
            session()
        ),
        AllowedByPrincipal
    );
    assert_eq!(
        trust_of(
            r#"{"AWS":"arn:aws:sts::123456789012:assumed-role/Ops/s2"}"#,
            session()
        ),
        NotAllowed
    );
    assert_eq!(
        trust_of(
            r#"{"Service":"ec2.amazonaws.com"}"#,
            service("ec2.amazonaws.com")
        ),
        AllowedByPrincipal
    );
    assert_eq!(
        trust_of(r#"{"Service":"ec2.amazonaws.com"}"#, alice()),
        NotAllowed
    );
    assert_eq!(
        trust_of(
            r#"{"AWS":"123456789012","Service":"ec2.amazonaws.com"}"#,
            alice()
        ),
        AllowedByAccount
    );
    let oidc = "arn:aws:iam::123456789012:oidc-provider/example.com";
    assert_eq!(
        trust_of(&format!(r#"{{"Federated":"{oidc}"}}"#), service(oidc)),
        AllowedByPrincipal
    );
}

#[test]
fn trust_deny_not_principal_and_conditions() {
    let doc = parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"123456789012"},"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}},
            {"Effect":"Deny","Action":"sts:AssumeRole","Principal":{"AWS":"arn:aws:iam::123456789012:user/mallory"}},
            {"Effect":"Allow","Action":"sts:AssumeRole","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:user/mallory"},"Condition":{"StringEquals":{"aws:PrincipalTag/team":"ops"}}}]}"#,
        DocumentKind::Trust,
    )
    .unwrap();
    let ctx =
        |name: &str| RequestContext::new("sts:AssumeRole", "").with_principal(aws(user(name)));
    assert_eq!(trust_allows(&doc, &ctx("alice")), TrustMatch::NotAllowed);
    assert_eq!(
        trust_allows(
            &doc,
            &ctx("alice").with_key("aws:MultiFactorAuthPresent", "true")
        ),
        TrustMatch::AllowedByAccount
    );
    assert_eq!(
        trust_allows(&doc, &ctx("alice").with_key("aws:PrincipalTag/team", "ops")),
        TrustMatch::AllowedByAccount
    );
    assert_eq!(
        trust_allows(
            &doc,
            &ctx("mallory").with_key("aws:MultiFactorAuthPresent", "true")
        ),
        TrustMatch::Denied
    );
    assert_eq!(evaluate(&doc, &ctx("mallory")), Match::Deny);
    assert_eq!(
        trust_allows(&doc, &RequestContext::new("sts:AssumeRole", "")),
        TrustMatch::NotAllowed
    );
    assert_eq!(
        trust_allows(
            &doc,
            &ctx("alice")
                .with_key("aws:PrincipalTag/team", "ops")
                .with_key("x", "y")
        ),
        TrustMatch::AllowedByAccount
    );
}

#[test]
fn trust_documents_refused_with_iams_messages() {
    use DocumentKind::Trust;
    let one = |s: &str| format!(r#"{{"Version":"2012-10-17","Statement":{s}}}"#);
    assert_eq!(
        refused(
            &one(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#),
            Trust
        ),
        "Missing required field Principal"
    );
    assert_eq!(
        refused(
            &one(r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":"*","Resource":"*"}"#),
            Trust
        ),
        "Has prohibited field Resource"
    );
    assert_eq!(
        refused(
            &one(
                r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":"*","NotResource":"*"}"#
            ),
            Trust
        ),
        "Has prohibited field NotResource"
    );
    assert_eq!(
        refused(&trust(r#"{"AWS":"alice"}"#), Trust),
        r#"Invalid principal in policy: "AWS":"alice""#
    );
    assert_eq!(
        refused(
            &trust(r#"{"AWS":"arn:aws:iam::123456789012:user/*"}"#),
            Trust
        ),
        r#"Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:user/*""#
    );
    assert_eq!(
        refused(&trust(r#"{"AWS":"arn:aws:s3:::bucket"}"#), Trust),
        r#"Invalid principal in policy: "AWS":"arn:aws:s3:::bucket""#
    );
    assert_eq!(
        refused(&trust(r#"{"Bogus":"x"}"#), Trust),
        r#"Invalid principal in policy: "Bogus":"x""#
    );
    assert_eq!(
        refused(&trust(r#""arn:aws:iam::123456789012:root""#), Trust),
        "Syntax errors in policy."
    );
    assert_eq!(
        refused(&trust(r#"{"AWS":[]}"#), Trust),
        "Syntax errors in policy."
    );
    assert_eq!(refused(&trust(r#"{}"#), Trust), "Syntax errors in policy.");
    assert_eq!(
        refused(&one(r#"{"Effect":"Allow","Principal":"*"}"#), Trust),
        "Policy statement must contain actions."
    );
    assert_eq!(
        refused(
            &one(
                r#"{"Effect":"Allow","Action":"sts:AssumeRole","Principal":"*","NotPrincipal":"*"}"#
            ),
            Trust
        ),
        "Syntax errors in policy."
    );
}

#[test]
fn quotas() {
    let text = trust(r#"{"AWS":"123456789012"}"#);
    assert!(text.len() < TRUST_POLICY_MAX);
    assert_eq!(
        (
            super::super::MANAGED_POLICY_MAX,
            super::super::USER_INLINE_MAX,
            super::super::ROLE_INLINE_MAX
        ),
        (6144, 2048, 10240)
    );
}

#[test]
fn a_deny_with_not_principal_spares_only_a_caller_listed_with_its_account() {
    // "When you use NotPrincipal with Deny, you must also specify the account ARN of the not-denied
    // principal" … and for a role session its assumed-role session ARN (IAM User Guide, NotPrincipal).
    let deny_all_but = |listed: &str| {
        parse(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"AWS":"123456789012"}}}},
                {{"Effect":"Deny","Action":"sts:AssumeRole","NotPrincipal":{{"AWS":[{listed}]}}}}]}}"#
            ),
            DocumentKind::Trust,
        )
        .unwrap()
    };
    let session = "arn:aws:sts::123456789012:assumed-role/ops/s1";
    let ctx = |arn: &str| RequestContext::new("sts:AssumeRole", "").with_principal(aws(arn));
    let verdict = |listed: &str, caller: &str| trust_allows(&deny_all_but(listed), &ctx(caller));
    // The user alone, without its account: still denied.
    let alice = user("alice");
    assert_eq!(
        verdict(&format!(r#""{alice}""#), &alice),
        TrustMatch::Denied
    );
    // With its account: spared.
    assert_eq!(
        verdict(
            &format!(r#""{alice}","arn:aws:iam::123456789012:root""#),
            &alice
        ),
        TrustMatch::AllowedByAccount
    );
    // A role's ARN does not spare its sessions; the session's own ARN (with the account) does.
    assert_eq!(
        verdict(
            r#""arn:aws:iam::123456789012:role/ops/ops","123456789012""#,
            session
        ),
        TrustMatch::Denied
    );
    assert_eq!(
        verdict(&format!(r#""{session}","123456789012""#), session),
        TrustMatch::AllowedByAccount
    );
}
