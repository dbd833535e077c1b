use super::*;
use crate::iam::CredentialStatus;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn cred(id: &str, created: i64) -> CredentialMetadata {
    CredentialMetadata {
        create_date: Timestamp::from_second(created).unwrap(),
        ..crate::reconcile::plan::tests::cred(id, created)
    }
}

fn unknown(at: i64, before: &[&str]) -> UnknownCreate {
    UnknownCreate {
        requested_at: Time(Timestamp::from_second(at).unwrap()),
        credentials_before: before.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn only_credentials_nobody_holds_made_in_the_window_are_unexplained() {
    let listed = [
        cred("HELD", 1_000),
        cred("BEFORE", 1_001),
        cred("EARLY", 900),
        cred("LATE", 1_090),
        cred("TOO_LATE", 1_000 + 20 * 60 + 1),
    ];
    let found = unexplained(&listed, &["HELD"], &[unknown(1_000, &["BEFORE"])]);
    let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["LATE"]);
    assert_eq!(listed[0].status, CredentialStatus::Active);
}

#[test]
fn each_removed_credential_settles_the_create_announced_last_before_it() {
    let found = [cred("LATE", 1_090)];
    let refs: Vec<&CredentialMetadata> = found.iter().collect();
    let creates = [
        unknown(1_000, &[]),
        unknown(1_080, &[]),
        unknown(1_100, &[]),
    ];
    assert_eq!(matched_creates(&refs, &creates), vec![unknown(1_080, &[])]);
    // A Create whose ids before already held it cannot have made it.
    let creates = [unknown(1_000, &[]), unknown(1_080, &["LATE"])];
    assert_eq!(matched_creates(&refs, &creates), vec![unknown(1_000, &[])]);
}

#[test]
fn no_more_than_the_unanswered_creates_are_removed_and_more_are_left_alone() {
    let late = [cred("A", 1), cred("B", 2)];
    let refs: Vec<&CredentialMetadata> = late.iter().collect();
    assert_eq!(settle(&[], 1), Settlement::Nothing);
    assert_eq!(settle(&refs[..1], 1), Settlement::Remove(vec!["A".into()]));
    assert_eq!(
        settle(&refs, 2),
        Settlement::Remove(vec!["A".into(), "B".into()])
    );
    assert_eq!(
        settle(&refs, 1),
        Settlement::Unclaimed(vec!["A".into(), "B".into()])
    );
}
