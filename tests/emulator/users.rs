//! CreateUser, GetUser, ListUsers, DeleteUser through aws-sdk-iam.

use aws_sdk_iam::operation::RequestId;
use aws_sdk_iam::types::Tag;

use crate::support::*;

#[tokio::test]
async fn create_get_list_delete_user() {
    let h = start(&[]).await;
    let iam = sdk(&h);
    let created = iam
        .create_user()
        .user_name("alice")
        .path("/division/abc/")
        .tags(Tag::builder().key("team").value("a b").build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        created.request_id().is_some_and(|r| !r.is_empty()),
        "x-amzn-RequestId header"
    );
    let user = created.user().unwrap();
    assert_eq!(user.user_name(), "alice");
    assert_eq!(user.path(), "/division/abc/");
    assert_eq!(
        user.arn(),
        format!("arn:aws:iam::{ACCOUNT}:user/division/abc/alice")
    );
    assert_eq!(user.user_id().len(), 21);
    assert!(user.user_id().starts_with("AIDA"));
    assert_eq!(user.tags().len(), 1);

    let got = iam.get_user().user_name("alice").send().await.unwrap();
    let got = got.user().unwrap();
    assert_eq!(got.user_id(), user.user_id());
    assert_eq!(got.create_date(), user.create_date());
    assert_eq!(got.tags()[0].value(), "a b");

    let listed = iam.list_users().send().await.unwrap();
    assert_eq!(listed.users().len(), 1);
    assert!(!listed.is_truncated());

    iam.delete_user().user_name("alice").send().await.unwrap();
    let e = iam.get_user().user_name("alice").send().await.unwrap_err();
    assert!(e.as_service_error().unwrap().is_no_such_entity_exception());
    assert_eq!(wire(&e).1, "The user with name alice cannot be found.");
    assert_eq!(status(&e), 404);
}

#[tokio::test]
async fn user_names_are_case_insensitive() {
    let h = start(&[]).await;
    let iam = sdk(&h);
    iam.create_user().user_name("Alice").send().await.unwrap();
    let e = iam
        .create_user()
        .user_name("alice")
        .send()
        .await
        .unwrap_err();
    assert!(
        e.as_service_error()
            .unwrap()
            .is_entity_already_exists_exception()
    );
    assert_eq!(wire(&e).1, "User with name alice already exists.");
    assert_eq!(status(&e), 409);
    // Lookups ignore case; output keeps the created spelling.
    let got = iam.get_user().user_name("ALICE").send().await.unwrap();
    assert_eq!(got.user().unwrap().user_name(), "Alice");
    iam.delete_user().user_name("aLiCe").send().await.unwrap();
}

#[tokio::test]
async fn empty_tag_list_is_accepted() {
    let h = start(&[]).await;
    let iam = sdk(&h);
    // The Rust SDK sends an empty list as a bare `Tags=`.
    let out = iam
        .create_user()
        .user_name("bob")
        .set_tags(Some(vec![]))
        .send()
        .await
        .unwrap();
    assert!(out.user().unwrap().tags().is_empty());
}

#[tokio::test]
async fn get_user_without_name_is_the_caller() {
    let h = start(&["me", "other"]).await;
    let out = sdk(&h).get_user().send().await.unwrap();
    assert_eq!(out.user().unwrap().user_name(), "me");
}

#[tokio::test]
async fn get_user_without_name_and_without_a_caller_user() {
    let h = start(&[]).await;
    let e = sdk(&h).get_user().send().await.unwrap_err();
    assert_eq!(
        wire(&e),
        (
            "ValidationError".into(),
            "Must specify userName when calling with non-User credentials".into()
        )
    );
}

#[tokio::test]
async fn delete_user_with_credentials_conflicts() {
    let h = start(&["dev"]).await;
    let iam = sdk(&h);
    let c = iam
        .create_service_specific_credential()
        .user_name("dev")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await
        .unwrap();
    let e = iam.delete_user().user_name("dev").send().await.unwrap_err();
    assert!(e.as_service_error().unwrap().is_delete_conflict_exception());
    assert_eq!(
        wire(&e).1,
        "Cannot delete entity, must remove referenced objects first."
    );
    assert_eq!(status(&e), 409);
    let id = c
        .service_specific_credential()
        .unwrap()
        .service_specific_credential_id();
    iam.delete_service_specific_credential()
        .user_name("dev")
        .service_specific_credential_id(id)
        .send()
        .await
        .unwrap();
    iam.delete_user().user_name("dev").send().await.unwrap();
    let e = iam.delete_user().user_name("dev").send().await.unwrap_err();
    assert!(e.as_service_error().unwrap().is_no_such_entity_exception());
}

#[tokio::test]
async fn list_users_paginates_and_filters_by_path() {
    let h = start(&[]).await;
    let iam = sdk(&h);
    for (name, path) in [
        ("u1", "/"),
        ("u2", "/ops/"),
        ("u3", "/ops/"),
        ("u4", "/"),
        ("u5", "/ops/team/"),
    ] {
        iam.create_user()
            .user_name(name)
            .path(path)
            .send()
            .await
            .unwrap();
    }
    let first = iam.list_users().max_items(2).send().await.unwrap();
    assert_eq!(first.users().len(), 2);
    assert!(first.is_truncated());
    let marker = first.marker().unwrap().to_string();
    let second = iam
        .list_users()
        .max_items(2)
        .marker(&marker)
        .send()
        .await
        .unwrap();
    assert_eq!(second.users()[0].user_name(), "u3");

    let all: Vec<String> = iam
        .list_users()
        .max_items(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.user_name().to_string())
        .collect();
    assert_eq!(all, ["u1", "u2", "u3", "u4", "u5"]);

    let ops = iam.list_users().path_prefix("/ops/").send().await.unwrap();
    let names: Vec<&str> = ops.users().iter().map(|u| u.user_name()).collect();
    assert_eq!(names, ["u2", "u3", "u5"]);

    let e = iam
        .list_users()
        .marker("not-a-marker")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wire(&e).0, "InvalidInput");
    let e = iam.list_users().max_items(0).send().await.unwrap_err();
    assert_eq!(wire(&e).0, "ValidationError");
}

#[tokio::test]
async fn user_name_constraints() {
    let h = start(&[]).await;
    let iam = sdk(&h);
    let e = iam.create_user().user_name("a b").send().await.unwrap_err();
    assert_eq!(
        wire(&e),
        (
            "ValidationError".into(),
            r"1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+".into()
        )
    );
    assert_eq!(status(&e), 400);
    let e = iam
        .create_user()
        .user_name("x".repeat(65))
        .send()
        .await
        .unwrap_err();
    assert!(
        wire(&e)
            .1
            .contains("Member must have length less than or equal to 64")
    );
    // `+` and `@` are allowed and must survive the SDK's %2B / %40 encoding.
    let out = iam.create_user().user_name("u+1@x").send().await.unwrap();
    assert_eq!(out.user().unwrap().user_name(), "u+1@x");
    let e = iam
        .create_user()
        .user_name("p")
        .path("no-slashes")
        .send()
        .await
        .unwrap_err();
    assert!(wire(&e).1.contains("Value at 'path'"));
}

#[tokio::test]
async fn create_user_tag_rules() {
    let h = start(&[]).await;
    let iam = sdk(&h);
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    let e = iam
        .create_user()
        .user_name("t")
        .tags(tag("Team", "a"))
        .tags(tag("team", "b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        wire(&e),
        (
            "InvalidInput".into(),
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into()
        )
    );
    assert_eq!(status(&e), 400);
    let too_many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    let e = iam
        .create_user()
        .user_name("t")
        .set_tags(Some(too_many))
        .send()
        .await
        .unwrap_err();
    assert!(wire(&e).1.contains("Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"));
    let e = iam
        .create_user()
        .user_name("t")
        .tags(tag("bad*key", "v"))
        .send()
        .await
        .unwrap_err();
    assert!(wire(&e).1.contains("'tags.1.member.key'"), "{}", wire(&e).1);
    let e = iam
        .create_user()
        .user_name("t")
        .permissions_boundary("not-an-arn-but-long-enough")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wire(&e).0, "InvalidInput");
    let ok = iam
        .create_user()
        .user_name("t")
        .permissions_boundary("arn:aws:iam::aws:policy/PowerUserAccess")
        .send()
        .await
        .unwrap();
    let got = iam.get_user().user_name("t").send().await.unwrap();
    assert_eq!(
        got.user()
            .unwrap()
            .permissions_boundary()
            .unwrap()
            .permissions_boundary_arn(),
        Some("arn:aws:iam::aws:policy/PowerUserAccess")
    );
    assert!(ok.user().is_some());
}
