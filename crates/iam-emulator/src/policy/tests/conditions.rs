//! Condition operators: one test per operator family, missing keys, set operators, variables.

use super::super::{DocumentKind, PolicyError, parse};
use super::holds;

#[test]
fn string_equals_is_case_sensitive_and_any_value_matches() {
    let c = r#"{"StringEquals":{"iam:ServiceSpecificCredentialServiceName":["bedrock.amazonaws.com","codecommit.amazonaws.com"]}}"#;
    assert!(holds(
        c,
        &[(
            "iam:ServiceSpecificCredentialServiceName",
            "codecommit.amazonaws.com"
        )]
    ));
    assert!(!holds(
        c,
        &[(
            "iam:ServiceSpecificCredentialServiceName",
            "Bedrock.amazonaws.com"
        )]
    ));
    assert!(
        !holds(c, &[]),
        "a positive operator on a missing key is false"
    );
}

#[test]
fn condition_key_names_are_case_insensitive() {
    let c =
        r#"{"StringEquals":{"IAM:servicespecificcredentialSERVICENAME":"bedrock.amazonaws.com"}}"#;
    assert!(holds(
        c,
        &[(
            "iam:ServiceSpecificCredentialServiceName",
            "bedrock.amazonaws.com"
        )]
    ));
}

#[test]
fn negated_operators_are_true_on_a_missing_key_and_mean_none_of() {
    for (op, value) in [
        ("StringNotEquals", "a"),
        ("StringNotEqualsIgnoreCase", "a"),
        ("StringNotLike", "a*"),
        ("NumericNotEquals", "1"),
        ("DateNotEquals", "2020-01-01T00:00:00Z"),
        ("NotIpAddress", "10.0.0.0/8"),
        ("ArnNotEquals", "arn:aws:iam::123456789012:user/a"),
        ("ArnNotLike", "arn:aws:iam::*:user/*"),
    ] {
        assert!(
            holds(&format!(r#"{{"{op}":{{"k":"{value}"}}}}"#), &[]),
            "{op} on a missing key"
        );
    }
    let c = r#"{"StringNotEquals":{"k":["a","b"]}}"#;
    assert!(!holds(c, &[("k", "a")]));
    assert!(!holds(c, &[("k", "b")]));
    assert!(holds(c, &[("k", "c")]));
}

#[test]
fn string_ignore_case_and_like() {
    assert!(holds(
        r#"{"StringEqualsIgnoreCase":{"k":"BedRock"}}"#,
        &[("k", "bedrock")]
    ));
    assert!(!holds(
        r#"{"StringNotEqualsIgnoreCase":{"k":"BedRock"}}"#,
        &[("k", "bedrock")]
    ));
    let like = r#"{"StringLike":{"k":["bedrock.*.com","code?ommit"]}}"#;
    assert!(holds(like, &[("k", "bedrock.amazonaws.com")]));
    assert!(holds(like, &[("k", "codecommit")]));
    assert!(
        !holds(like, &[("k", "Bedrock.amazonaws.com")]),
        "StringLike is case-sensitive"
    );
    assert!(
        !holds(r#"{"StringEquals":{"k":"a*"}}"#, &[("k", "abc")]),
        "StringEquals has no wildcards"
    );
    assert!(holds(r#"{"StringEquals":{"k":"a*"}}"#, &[("k", "a*")]));
}

#[test]
fn numeric_values_as_strings_or_numbers() {
    for c in [
        r#"{"NumericLessThanEquals":{"iam:ServiceSpecificCredentialAgeDays":"90"}}"#,
        r#"{"NumericLessThanEquals":{"iam:ServiceSpecificCredentialAgeDays":90}}"#,
    ] {
        assert!(holds(c, &[("iam:ServiceSpecificCredentialAgeDays", "90")]));
        assert!(holds(c, &[("iam:ServiceSpecificCredentialAgeDays", "1")]));
        assert!(!holds(c, &[("iam:ServiceSpecificCredentialAgeDays", "91")]));
        assert!(!holds(
            c,
            &[("iam:ServiceSpecificCredentialAgeDays", "ninety")]
        ));
        assert!(!holds(
            c,
            &[("iam:ServiceSpecificCredentialAgeDays", "NaN")]
        ));
        assert!(!holds(
            c,
            &[("iam:ServiceSpecificCredentialAgeDays", "-inf")]
        ));
        assert!(!holds(c, &[]));
    }
    assert!(holds(r#"{"NumericEquals":{"k":"1.50"}}"#, &[("k", "1.5")]));
    assert!(holds(r#"{"NumericLessThan":{"k":"0"}}"#, &[("k", "-2")]));
    assert!(!holds(r#"{"NumericLessThan":{"k":"0"}}"#, &[("k", "0")]));
    assert!(holds(
        r#"{"NumericGreaterThan":{"k":"90"}}"#,
        &[("k", "365")]
    ));
    assert!(holds(
        r#"{"NumericGreaterThanEquals":{"k":"90"}}"#,
        &[("k", "90")]
    ));
    assert!(!holds(r#"{"NumericNotEquals":{"k":"90"}}"#, &[("k", "90")]));
    assert!(holds(r#"{"NumericNotEquals":{"k":"90"}}"#, &[("k", "91")]));
    assert!(
        !holds(r#"{"NumericEquals":{"k":"ninety"}}"#, &[("k", "90")]),
        "a non-numeric policy value matches nothing"
    );
}

#[test]
fn dates_in_iso_8601_or_epoch_seconds() {
    let now = [("aws:CurrentTime", "2025-06-01T12:00:00Z")];
    assert!(holds(
        r#"{"DateGreaterThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
        &now
    ));
    assert!(holds(
        r#"{"DateGreaterThan":{"aws:CurrentTime":"1700000000"}}"#,
        &now
    ));
    assert!(holds(
        r#"{"DateLessThan":{"aws:CurrentTime":"2030-01-01"}}"#,
        &now
    ));
    assert!(holds(
        r#"{"DateLessThanEquals":{"aws:CurrentTime":"2025-06-01T14:00:00+02:00"}}"#,
        &now
    ));
    assert!(!holds(
        r#"{"DateLessThan":{"aws:CurrentTime":"2025-06-01T14:00:00+02:00"}}"#,
        &now
    ));
    assert!(holds(
        r#"{"DateEquals":{"aws:CurrentTime":"1748779200"}}"#,
        &now
    ));
    assert!(holds(
        r#"{"DateGreaterThanEquals":{"aws:CurrentTime":1748779200}}"#,
        &now
    ));
    assert!(!holds(
        r#"{"DateGreaterThan":{"aws:CurrentTime":"soon"}}"#,
        &now
    ));
    assert!(!holds(
        r#"{"DateGreaterThan":{"aws:CurrentTime":"2025-01-01"}}"#,
        &[("aws:CurrentTime", "June")]
    ));
}

#[test]
fn bool_binary_and_ip_address() {
    assert!(holds(
        r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
        &[("aws:SecureTransport", "true")]
    ));
    assert!(holds(
        r#"{"Bool":{"aws:SecureTransport":true}}"#,
        &[("aws:SecureTransport", "TRUE")]
    ));
    assert!(!holds(
        r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
        &[("aws:SecureTransport", "false")]
    ));
    assert!(!holds(r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[]));
    assert!(holds(
        r#"{"BinaryEquals":{"k":"QmluYXJ5"}}"#,
        &[("k", "QmluYXJ5")]
    ));
    assert!(!holds(
        r#"{"BinaryEquals":{"k":"QmluYXJ5"}}"#,
        &[("k", "qmluyxj5")]
    ));
    let ip = r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32","198.51.100.7"]}}"#;
    assert!(holds(ip, &[("aws:SourceIp", "203.0.113.200")]));
    assert!(holds(ip, &[("aws:SourceIp", "198.51.100.7")]));
    assert!(holds(ip, &[("aws:SourceIp", "2001:db8:1::1")]));
    assert!(!holds(ip, &[("aws:SourceIp", "203.0.114.1")]));
    assert!(!holds(ip, &[("aws:SourceIp", "not-an-ip")]));
    assert!(holds(
        r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
        &[("aws:SourceIp", "192.0.2.1")]
    ));
    assert!(!holds(
        r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#,
        &[("aws:SourceIp", "::1")]
    ));
    assert!(holds(
        r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
        &[("aws:SourceIp", "192.0.2.1")]
    ));
    assert!(!holds(
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#,
        &[("aws:SourceIp", "10.0.0.1")]
    ));
}

#[test]
fn arn_operators_match_each_of_the_six_parts_separately() {
    let role = [("aws:SourceArn", "arn:aws:iam::111122223333:role/x/y")];
    assert!(holds(
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:iam::*:role/*"}}"#,
        &role
    ));
    assert!(holds(
        r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:iam::*:role/*"}}"#,
        &role
    ));
    assert!(
        !holds(r#"{"ArnLike":{"aws:SourceArn":"arn:aws:iam::*"}}"#, &role),
        "too few parts"
    );
    let tricky = [("aws:SourceArn", "arn:aws:iam::111122223333:user/x:role/y")];
    assert!(!holds(
        r#"{"ArnLike":{"aws:SourceArn":"arn:aws:iam::*:role/*"}}"#,
        &tricky
    ));
    assert!(
        !holds(
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:iam::*:Role/*"}}"#,
            &role
        ),
        "case-sensitive"
    );
    assert!(!holds(
        r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:iam::*:role/*"}}"#,
        &role
    ));
    assert!(holds(r#"{"ArnLike":{"aws:SourceArn":"*"}}"#, &role));
}

#[test]
fn if_exists_is_true_on_a_missing_key_and_tests_a_present_one() {
    let c = r#"{"NumericLessThanEqualsIfExists":{"iam:ServiceSpecificCredentialAgeDays":"90"}}"#;
    assert!(holds(c, &[]));
    assert!(holds(c, &[("iam:ServiceSpecificCredentialAgeDays", "30")]));
    assert!(!holds(
        c,
        &[("iam:ServiceSpecificCredentialAgeDays", "365")]
    ));
    assert!(holds(r#"{"StringEqualsIfExists":{"k":"a"}}"#, &[]));
    assert!(!holds(
        r#"{"StringEqualsIfExists":{"k":"a"}}"#,
        &[("k", "b")]
    ));
    assert!(holds(r#"{"StringNotEqualsIfExists":{"k":"a"}}"#, &[]));
    assert!(!holds(
        r#"{"StringNotEqualsIfExists":{"k":"a"}}"#,
        &[("k", "a")]
    ));
}

#[test]
fn null_tests_whether_the_key_is_absent() {
    let age = "iam:ServiceSpecificCredentialAgeDays";
    assert!(holds(
        r#"{"Null":{"iam:ServiceSpecificCredentialAgeDays":"true"}}"#,
        &[]
    ));
    assert!(!holds(
        r#"{"Null":{"iam:ServiceSpecificCredentialAgeDays":"true"}}"#,
        &[(age, "30")]
    ));
    assert!(holds(
        r#"{"Null":{"iam:ServiceSpecificCredentialAgeDays":false}}"#,
        &[(age, "30")]
    ));
    assert!(!holds(
        r#"{"Null":{"iam:ServiceSpecificCredentialAgeDays":"false"}}"#,
        &[]
    ));
}

#[test]
fn for_any_value_and_for_all_values_on_multivalued_keys() {
    let tags = |values: &[&'static str]| {
        values
            .iter()
            .map(|v| ("aws:TagKeys", *v))
            .collect::<Vec<_>>()
    };
    let all = r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]}}"#;
    assert!(holds(all, &tags(&["team"])));
    assert!(holds(all, &tags(&["team", "env"])));
    assert!(!holds(all, &tags(&["team", "owner"])));
    assert!(holds(all, &[]), "ForAllValues is true without the key");
    let any = r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["team","env"]}}"#;
    assert!(holds(any, &tags(&["owner", "env"])));
    assert!(!holds(any, &tags(&["owner"])));
    assert!(!holds(any, &[]), "ForAnyValue is false without the key");
    let none_of = r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret","admin"]}}"#;
    assert!(holds(none_of, &tags(&["team", "env"])));
    assert!(!holds(none_of, &tags(&["team", "admin"])));
    assert!(holds(none_of, &[]));
    let some_not = r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["team"]}}"#;
    assert!(holds(some_not, &tags(&["team", "env"])));
    assert!(!holds(some_not, &tags(&["team"])));
    assert!(!holds(some_not, &[]));
    assert!(holds(
        r#"{"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":"x*"}}"#,
        &[]
    ));
}

#[test]
fn keys_and_operators_are_joined_by_and() {
    let c = r#"{"StringEquals":{"a":"1","b":"2"},"StringLike":{"c":"x*"}}"#;
    assert!(holds(c, &[("a", "1"), ("b", "2"), ("c", "xy")]));
    assert!(!holds(c, &[("a", "1"), ("b", "2")]));
    assert!(!holds(c, &[("a", "1"), ("b", "3"), ("c", "xy")]));
}

#[test]
fn policy_variables_in_condition_values() {
    let c = r#"{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}"#;
    assert!(holds(
        c,
        &[("aws:username", "alice"), ("s3:prefix", "home/alice/x")]
    ));
    assert!(!holds(
        c,
        &[("aws:username", "bob"), ("s3:prefix", "home/alice/x")]
    ));
    assert!(
        !holds(c, &[("s3:prefix", "home/alice/x")]),
        "an unresolved variable matches nothing"
    );
    let literal = r#"{"StringLike":{"k":"a${*}b"}}"#;
    assert!(holds(literal, &[("k", "a*b")]));
    assert!(
        !holds(literal, &[("k", "axb")]),
        "${{*}} is a literal asterisk"
    );
    assert!(holds(
        r#"{"StringEquals":{"k":"${$}${?}"}}"#,
        &[("k", "$?")]
    ));
    let default = r#"{"StringEquals":{"aws:PrincipalTag/team":"${aws:ResourceTag/team, 'none'}"}}"#;
    assert!(holds(default, &[("aws:PrincipalTag/team", "none")]));
    assert!(holds(
        default,
        &[
            ("aws:PrincipalTag/team", "red"),
            ("aws:ResourceTag/team", "red")
        ]
    ));
    let number = r#"{"NumericEquals":{"k":"${aws:n}"}}"#;
    assert!(
        !holds(number, &[("k", "1"), ("aws:n", "1")]),
        "variables only in String and Arn operators"
    );
}

#[test]
fn version_2008_does_not_substitute_variables() {
    let doc = parse(
        r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*",
            "Condition":{"StringEquals":{"k":"${aws:username}"}}}}"#,
        DocumentKind::Identity,
    )
    .unwrap();
    let allowed = |keys: &[(&str, &str)]| {
        super::super::evaluate(&doc, &super::request(keys)) == super::super::Match::Allow
    };
    assert!(allowed(&[
        ("k", "${aws:username}"),
        ("aws:username", "alice")
    ]));
    assert!(!allowed(&[("k", "alice"), ("aws:username", "alice")]));
}

#[test]
fn unknown_and_malformed_operators_are_syntax_errors() {
    for condition in [
        r#"{"StringEqualz":{"k":"x"}}"#,
        r#"{"stringequals":{"k":"x"}}"#,
        r#"{"ForAllValues:Null":{"k":"true"}}"#,
        r#"{"NullIfExists":{"k":"true"}}"#,
        r#"{"ForSomeValues:StringEquals":{"k":"x"}}"#,
        r#"{"StringEquals":"k"}"#,
        r#"{"StringEquals":{"k":[]}}"#,
        r#"{"StringEquals":{"k":{"x":1}}}"#,
        r#"{"StringEquals":{"k":null}}"#,
        r#"{"StringEquals":{}}"#,
        r#"["StringEquals"]"#,
    ] {
        let text = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{condition}}}}}"#
        );
        assert_eq!(
            parse(&text, DocumentKind::Identity).unwrap_err(),
            PolicyError::Syntax,
            "{condition}"
        );
    }
}
