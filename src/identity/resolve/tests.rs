use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::*;
use crate::identity::api::{AllowedNamespaces, IdentityRef};

fn identity(role: &str, namespaces: &[&str]) -> IAMIdentitySpec {
    IAMIdentitySpec {
        role_arn: role.into(),
        external_id: None,
        source_identity_ref: None,
        session_duration: None,
        allowed_namespaces: Some(AllowedNamespaces {
            names: namespaces.iter().map(|n| n.to_string()).collect(),
            selector: None,
        }),
        allowed_users: Vec::new(),
    }
}

const ROLE_B: &str = "arn:aws:iam::210987654321:role/ssc-tenant-b";
const HUB: &str = "arn:aws:iam::123456789012:role/hub";

fn catalog(
    entries: Vec<(&'static str, IAMIdentitySpec)>,
) -> impl Fn(&str) -> Option<IAMIdentitySpec> {
    let map: BTreeMap<&str, IAMIdentitySpec> = entries.into_iter().collect();
    move |name| map.get(name).cloned()
}

fn ns<'a>(
    name: &'a str,
    labels: Option<&'a BTreeMap<String, String>>,
    annotations: Option<&'a BTreeMap<String, String>>,
) -> NamespaceFacts<'a> {
    NamespaceFacts {
        name,
        labels,
        annotations,
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_named_identity_wins_over_the_namespace_default_and_the_ambient_one() {
    let ids = catalog(vec![
        ("b", identity(ROLE_B, &["team-b"])),
        ("other", identity(HUB, &["team-b"])),
    ]);
    let annotations = map(&[(IDENTITY_ANNOTATION, "other")]);
    let facts = ns("team-b", None, Some(&annotations));
    let resolved = resolve(Some("b"), &facts, "alice", &AmbientPolicy::All, &ids).unwrap();
    assert_eq!(resolved.name(), Some("b"));
    let resolved = resolve(None, &facts, "alice", &AmbientPolicy::All, &ids).unwrap();
    assert_eq!(resolved.name(), Some("other"), "the namespace default");
    let bare = ns("team-b", None, None);
    assert_eq!(
        resolve(None, &bare, "alice", &AmbientPolicy::All, &ids).unwrap(),
        Resolved::Ambient
    );
}

#[test]
fn the_ambient_identity_serves_only_the_namespaces_the_flag_allows() {
    let ids = catalog(vec![]);
    let labels = map(&[("ssc-operator.dev/ambient", "true")]);
    let selector: AmbientPolicy = "ssc-operator.dev/ambient=true".parse().unwrap();
    let allowed = ns("a", Some(&labels), None);
    let other = ns("b", None, None);
    assert!(resolve(None, &allowed, "u", &selector, &ids).is_ok());
    let refused = resolve(None, &other, "u", &selector, &ids).unwrap_err();
    assert!(matches!(refused, NotPermitted::NoIdentity { .. }));
    assert!(resolve(None, &allowed, "u", &AmbientPolicy::None, &ids).is_err());
    assert!("all".parse::<AmbientPolicy>().is_ok());
    assert!("none".parse::<AmbientPolicy>().is_ok());
    assert!("a in (".parse::<AmbientPolicy>().is_err());
}

#[test]
fn an_identity_serves_only_the_namespaces_it_allows() {
    let mut unset = identity(ROLE_B, &[]);
    unset.allowed_namespaces = None;
    let mut selected = identity(ROLE_B, &[]);
    selected.allowed_namespaces = Some(AllowedNamespaces {
        names: vec![],
        selector: Some(LabelSelector {
            match_labels: Some(map(&[("team", "b")])),
            ..LabelSelector::default()
        }),
    });
    let ids = catalog(vec![
        ("listed", identity(ROLE_B, &["team-b"])),
        ("unset", unset),
        ("empty", identity(ROLE_B, &[])),
        ("selected", selected),
    ]);
    let team_b_labels = map(&[("team", "b")]);
    let team_b = ns("team-b", Some(&team_b_labels), None);
    let team_a = ns("team-a", None, None);
    for name in ["listed", "selected"] {
        assert!(resolve(Some(name), &team_b, "u", &AmbientPolicy::All, &ids).is_ok());
        let refused = resolve(Some(name), &team_a, "u", &AmbientPolicy::All, &ids).unwrap_err();
        assert!(
            matches!(refused, NotPermitted::IdentityNotAllowed { .. }),
            "{name}"
        );
    }
    for name in ["unset", "empty"] {
        assert!(
            resolve(Some(name), &team_b, "u", &AmbientPolicy::All, &ids).is_err(),
            "{name} allows no namespace"
        );
    }
    let missing = resolve(Some("nope"), &team_b, "u", &AmbientPolicy::All, &ids).unwrap_err();
    assert!(matches!(missing, NotPermitted::IdentityNotFound { .. }));
}

#[test]
fn allowed_users_narrow_an_identity_case_insensitively() {
    let mut spec = identity(ROLE_B, &["team-b"]);
    spec.allowed_users = vec!["team-b-*".into()];
    let ids = catalog(vec![("b", spec)]);
    let facts = ns("team-b", None, None);
    assert!(resolve(Some("b"), &facts, "Team-B-git", &AmbientPolicy::All, &ids).is_ok());
    let refused = resolve(Some("b"), &facts, "admin", &AmbientPolicy::All, &ids).unwrap_err();
    assert!(matches!(
        refused,
        NotPermitted::UserNotAllowedByIdentity { .. }
    ));
}

#[test]
fn a_chain_starts_at_its_source_and_caps_chained_sessions_at_an_hour() {
    let mut hub = identity(HUB, &[]);
    hub.session_duration = Some("12h".into());
    let mut tenant = identity(ROLE_B, &["team-b"]);
    tenant.source_identity_ref = Some(IdentityRef { name: "hub".into() });
    tenant.session_duration = Some("6h".into());
    tenant.external_id = Some("ext-1".into());
    let ids = catalog(vec![("hub", hub), ("b", tenant)]);
    let Resolved::Role(chain) = resolve(
        Some("b"),
        &ns("team-b", None, None),
        "u",
        &AmbientPolicy::All,
        &ids,
    )
    .unwrap() else {
        panic!("a role")
    };
    assert_eq!(chain.hops.len(), 2);
    assert_eq!(chain.hops[0].role_arn, HUB);
    assert_eq!(chain.hops[0].session, Duration::from_secs(12 * 3600));
    assert_eq!(chain.hops[1].role_arn, ROLE_B);
    assert_eq!(chain.hops[1].session, CHAINED_SESSION_MAX);
    assert_eq!(chain.hops[1].external_id.as_deref(), Some("ext-1"));
    assert_eq!(chain.account(), "210987654321");
    assert_eq!(chain.name(), "b");
}

#[test]
fn broken_chains_are_refused_with_the_reason() {
    let mut a = identity(ROLE_B, &["ns"]);
    a.source_identity_ref = Some(IdentityRef { name: "b".into() });
    let mut b = identity(HUB, &[]);
    b.source_identity_ref = Some(IdentityRef { name: "a".into() });
    let mut orphan = identity(ROLE_B, &["ns"]);
    orphan.source_identity_ref = Some(IdentityRef {
        name: "gone".into(),
    });
    let mut short = identity(ROLE_B, &["ns"]);
    short.session_duration = Some("5m".into());
    let ids = catalog(vec![
        ("a", a),
        ("b", b),
        ("orphan", orphan),
        ("short", short),
    ]);
    let facts = ns("ns", None, None);
    for (name, why) in [
        ("a", "loops back"),
        ("orphan", "does not exist"),
        ("short", "outside the 15m to 12h"),
    ] {
        match resolve(Some(name), &facts, "u", &AmbientPolicy::All, &ids) {
            Err(NotPermitted::IdentityUnusable { why: got, .. }) => {
                assert!(got.contains(why), "{name}: {got}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_chain_longer_than_the_limit_is_refused() {
    let mut entries = Vec::new();
    let names = ["i0", "i1", "i2", "i3", "i4"];
    for (i, name) in names.iter().enumerate() {
        let mut spec = identity(HUB, &["ns"]);
        if let Some(next) = names.get(i + 1) {
            spec.source_identity_ref = Some(IdentityRef {
                name: next.to_string(),
            });
        }
        entries.push((*name, spec));
    }
    let ids = catalog(entries);
    let refused = resolve(
        Some("i0"),
        &ns("ns", None, None),
        "u",
        &AmbientPolicy::All,
        &ids,
    );
    assert!(matches!(
        refused,
        Err(NotPermitted::IdentityUnusable { .. })
    ));
    assert!(
        resolve(
            Some("i1"),
            &ns("ns", None, None),
            "u",
            &AmbientPolicy::All,
            &ids
        )
        .is_ok()
    );
}
