use super::{check, keys, parse};

#[test]
fn parsed_selectors_match_labels_as_kube_apiserver_does() {
    let labels: std::collections::BTreeMap<String, String> = [
        ("team".to_string(), "a".to_string()),
        ("tier".to_string(), "prod".to_string()),
    ]
    .into();
    let matches = |s: &str| {
        parse(s)
            .unwrap()
            .matches(|k| labels.get(k).map(String::as_str))
    };
    assert!(matches("team=a"));
    assert!(matches("team==a,tier"));
    assert!(matches("team in (a, b),!missing"));
    assert!(matches("tier notin (dev)"));
    assert!(!matches("team!=a"));
    assert!(!matches("team=b"));
    assert!(!matches("missing"));
    assert!(!matches("team notin (a)"));
    assert!(parse("").is_err());
    assert!(parse("a in ()").is_err());
}

#[test]
fn keys_are_read_from_every_kind_of_requirement() {
    for (selector, expected) in [
        ("ssc-operator.dev/shard=a", vec!["ssc-operator.dev/shard"]),
        ("shard==a", vec!["shard"]),
        ("shard != b", vec!["shard"]),
        ("shard", vec!["shard"]),
        ("!shard", vec!["shard"]),
        ("shard in (a, b)", vec!["shard"]),
        ("shard notin (c),tier=gold", vec!["shard", "tier"]),
        ("shard in(a,b),shard!=c", vec!["shard"]),
        ("shard\tin (a)", vec!["shard"]),
        ("team=", vec!["team"]),
    ] {
        assert_eq!(keys(selector), expected, "{selector}");
    }
}

#[test]
fn selectors_kube_apiserver_accepts_pass() {
    for ok in [
        "ssc-operator.dev/shard=a",
        "shard==a",
        "shard!=b",
        "shard",
        "!shard",
        "shard in (a, b)",
        "shard notin (c),tier=gold",
        "shard in(a,b)",
        "shard\tin (a)",
        "team=",
    ] {
        assert_eq!(check(ok), Ok(()), "{ok}");
    }
}

#[test]
fn malformed_selectors_are_refused_with_a_reason() {
    for bad in [
        "",
        "shard=a,",
        "shard in (a",
        "shard in a,b",
        "-shard=a",
        "shard=a b",
        "Bad_Prefix/x=y",
        "shard=(a)",
        "shard in ()",
        "shard notin ( )",
    ] {
        assert!(check(bad).is_err(), "{bad:?} passed");
    }
    // In the API server's words.
    assert_eq!(
        check("shard in ()"),
        Err("unable to parse requirement: values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty".into())
    );
}
