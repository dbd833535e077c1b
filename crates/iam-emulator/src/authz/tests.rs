//! The request context and the document cache.

use super::*;
use crate::store::User;

fn state() -> State {
    let mut s = State::new("123456789012");
    s.users.insert(
        "alice".into(),
        User {
            name: "Alice".into(),
            id: "AIDAALICE".into(),
            path: "/k8s/team-a/".into(),
            create_date: 0,
            permissions_boundary: None,
            tags: vec![("team".into(), "a".into())],
            inline_policies: Default::default(),
            attached_policies: Vec::new(),
        },
    );
    s
}

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(pairs.iter().copied())
}

#[test]
fn the_target_user_is_named_by_its_arn_with_path_and_its_tags_are_resource_tags() {
    let s = state();
    let (resource, keys) = request_of(
        &s,
        Action::CreateServiceSpecificCredential,
        &params(&[
            ("UserName", "alice"),
            ("ServiceName", "bedrock.amazonaws.com"),
            ("CredentialAgeDays", "30"),
        ]),
        None,
    );
    assert_eq!(resource, "arn:aws:iam::123456789012:user/k8s/team-a/Alice");
    assert_eq!(keys["aws:resourcetag/team"], ["a"]);
    assert_eq!(
        keys["iam:servicespecificcredentialservicename"],
        ["bedrock.amazonaws.com"]
    );
    assert_eq!(keys["iam:servicespecificcredentialagedays"], ["30"]);
    assert_eq!(resource_text(&resource), "user Alice");
}

#[test]
fn a_policy_is_parsed_once_and_the_cache_stays_bounded() {
    let cache = DocumentCache::default();
    let text =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let first = cache.parsed(text).unwrap();
    assert!(Arc::ptr_eq(&first, &cache.parsed(text).unwrap()));
    assert!(cache.parsed("not a policy").is_none());
    // Padded with white space to 128 KiB each, far more than the cache holds: it empties, never grows past it.
    for i in 0..200 {
        let padded = format!("{}{text}", " ".repeat(128 * 1024 + i));
        cache.parsed(&padded).unwrap();
    }
    let held = cache.parsed.lock().unwrap().1;
    assert!(held <= DocumentCache::CAPACITY_BYTES, "{held}");
}

#[test]
fn the_service_key_holds_the_name_iam_stores_whatever_case_was_sent() {
    let s = state();
    let (_, keys) = request_of(
        &s,
        Action::CreateServiceSpecificCredential,
        &params(&[
            ("UserName", "alice"),
            ("ServiceName", "Bedrock.AmazonAWS.com"),
        ]),
        None,
    );
    assert_eq!(
        keys["iam:servicespecificcredentialservicename"],
        ["bedrock.amazonaws.com"]
    );
}

#[test]
fn the_age_only_on_create_and_when_sent_and_the_stored_service_on_reset_update_delete() {
    use crate::store::{Credential, StoredStatus};
    let mut s = state();
    s.credentials.insert(
        "ACCAEXAMPLE000000001".into(),
        Credential {
            id: "ACCAEXAMPLE000000001".into(),
            user_key: "alice".into(),
            service_name: "bedrock.amazonaws.com".into(),
            slot: 0,
            create_date: 0,
            expiration_date: None,
            status: StoredStatus::Active,
            secret_sha256: String::new(),
            seq: 1,
        },
    );
    let (_, keys) = request_of(
        &s,
        Action::CreateServiceSpecificCredential,
        &params(&[
            ("UserName", "alice"),
            ("ServiceName", "codecommit.amazonaws.com"),
        ]),
        None,
    );
    assert!(!keys.contains_key("iam:servicespecificcredentialagedays"));
    let (_, keys) = request_of(
        &s,
        Action::ListServiceSpecificCredentials,
        &params(&[
            ("UserName", "alice"),
            ("ServiceName", "codecommit.amazonaws.com"),
        ]),
        None,
    );
    assert!(
        !keys
            .keys()
            .any(|k| k.starts_with("iam:servicespecificcredential"))
    );
    for action in [
        Action::ResetServiceSpecificCredential,
        Action::UpdateServiceSpecificCredential,
        Action::DeleteServiceSpecificCredential,
    ] {
        let on = |user: &str| {
            request_of(
                &s,
                action,
                &params(&[
                    ("UserName", user),
                    ("ServiceSpecificCredentialId", "ACCAEXAMPLE000000001"),
                ]),
                None,
            )
            .1
        };
        // The stored credential's service, never an age; nothing for another user's id.
        assert_eq!(
            on("Alice")["iam:servicespecificcredentialservicename"],
            ["bedrock.amazonaws.com"]
        );
        assert!(!on("Alice").contains_key("iam:servicespecificcredentialagedays"));
        assert!(
            !on("bob").contains_key("iam:servicespecificcredentialservicename"),
            "{action:?}"
        );
    }
}

#[test]
fn lists_and_unknown_users_name_paths_and_the_caller_is_the_default_user() {
    let s = state();
    let all = params(&[
        ("AllUsers", "true"),
        ("ServiceName", "codecommit.amazonaws.com"),
    ]);
    let (resource, _) = request_of(&s, Action::ListServiceSpecificCredentials, &all, None);
    assert_eq!(resource, "arn:aws:iam::123456789012:user/*");
    assert_eq!(resource_text(&resource), resource);
    let (resource, _) = request_of(
        &s,
        Action::ListUsers,
        &params(&[("PathPrefix", "/k8s/")]),
        None,
    );
    assert_eq!(resource, "arn:aws:iam::123456789012:user/k8s/");
    let (resource, _) = request_of(&s, Action::GetUser, &params(&[]), Some("alice"));
    assert_eq!(resource, "arn:aws:iam::123456789012:user/k8s/team-a/Alice");
    let (resource, _) = request_of(
        &s,
        Action::CreateUser,
        &params(&[("UserName", "bob"), ("Path", "/x/")]),
        None,
    );
    assert_eq!(resource, "arn:aws:iam::123456789012:user/x/bob");
    let (_, keys) = request_of(
        &s,
        Action::TagUser,
        &params(&[
            ("UserName", "alice"),
            ("Tags.member.1.Key", "env"),
            ("Tags.member.1.Value", "prod"),
        ]),
        None,
    );
    assert_eq!(keys["aws:requesttag/env"], ["prod"]);
    assert_eq!(keys["aws:tagkeys"], ["env"]);
}

#[test]
fn principal_keys_of_a_session_merge_role_and_session_tags() {
    use crate::principal::Session;
    use crate::store::Role;
    let mut s = state();
    s.roles.insert(
        "minter".into(),
        Role {
            name: "minter".into(),
            id: "AROAMINTER".into(),
            path: "/".into(),
            create_date: 0,
            trust_policy: "{}".into(),
            description: None,
            max_session_duration: 3600,
            permissions_boundary: None,
            tags: vec![
                ("team".into(), "platform".into()),
                ("env".into(), "prod".into()),
            ],
            inline_policies: Default::default(),
            attached_policies: Vec::new(),
            trusted_ids: Default::default(),
        },
    );
    let caller = Caller {
        principal: Principal::AssumedRole(Box::new(Session {
            account: "123456789012".into(),
            role_name: "minter".into(),
            role_path: "/".into(),
            role_id: "AROAMINTER".into(),
            session_name: "ns-a".into(),
            secret: String::new(),
            token: String::new(),
            expires: 0,
            tags: vec![("Team".into(), "a".into())],
            source_identity: Some("alice".into()),
        })),
        region: Some("eu-west-1".into()),
    };
    let keys = principal_keys(&s, &caller, 0);
    assert_eq!(keys["aws:principaltag/team"], ["a"]);
    assert_eq!(keys["aws:principaltag/env"], ["prod"]);
    assert_eq!(
        keys["aws:principalarn"],
        ["arn:aws:iam::123456789012:role/minter"]
    );
    assert_eq!(keys["aws:userid"], ["AROAMINTER:ns-a"]);
    assert_eq!(keys["aws:sourceidentity"], ["alice"]);
    assert_eq!(keys["aws:requestedregion"], ["eu-west-1"]);
    assert_eq!(keys["aws:principaltype"], ["AssumedRole"]);
}
