use super::*;
use crate::iam::CredentialStatus;
use jiff::Timestamp;

const SERVICE: &str = "codecommit.amazonaws.com";
const AGE: Duration = Duration::from_secs(600);

fn cred(id: &str, user: &str) -> CredentialMetadata {
    CredentialMetadata {
        id: id.into(),
        user_name: user.into(),
        service_name: SERVICE.into(),
        service_user_name: Some(format!("{user}-at-123456789012")),
        alias: None,
        status: CredentialStatus::Active,
        create_date: Timestamp::UNIX_EPOCH,
        expiration_date: None,
    }
}

fn ids(answer: Answer) -> Vec<String> {
    match answer {
        Answer::Listed(list) => list.into_iter().map(|c| c.id).collect(),
        other => panic!("not listed: {other:?}"),
    }
}

fn fetched(snapshots: &mut Snapshots, credentials: Vec<CredentialMetadata>) {
    snapshots.fetch_started(SERVICE);
    snapshots.fetched(SERVICE, Instant::now(), pages(credentials));
}

fn pages(credentials: Vec<CredentialMetadata>) -> Fetched {
    let mut fetched = Fetched::default();
    fetched.add(credentials.into_iter());
    fetched
}

#[test]
fn one_snapshot_answers_every_user_case_insensitively() {
    let mut s = Snapshots::default();
    assert_eq!(s.answer(SERVICE, "Sofia", AGE), Answer::Missing);
    fetched(
        &mut s,
        vec![cred("A1", "Sofia"), cred("A2", "sofia"), cred("B1", "bot")],
    );
    assert_eq!(ids(s.answer(SERVICE, "SOFIA", AGE)), ["A1", "A2"]);
    assert_eq!(ids(s.answer(SERVICE, "bot", AGE)), ["B1"]);
    assert!(ids(s.answer(SERVICE, "nobody", AGE)).is_empty());
    assert_eq!(s.answer("logs.amazonaws.com", "bot", AGE), Answer::Missing);
    assert_eq!(s.answer(SERVICE, "bot", Duration::ZERO), Answer::Missing);
}

#[test]
fn own_writes_are_applied_and_unknown_outcomes_distrust_the_user() {
    let mut s = Snapshots::default();
    fetched(&mut s, vec![cred("A1", "sofia")]);
    s.write_through("Sofia", Some(SERVICE), |list| {
        list.push(cred("A2", "sofia"))
    });
    assert_eq!(ids(s.answer(SERVICE, "sofia", AGE)), ["A1", "A2"]);
    s.write_through("sofia", None, |list| list.retain(|c| c.id != "A1"));
    assert_eq!(ids(s.answer(SERVICE, "sofia", AGE)), ["A2"]);
    s.listed(SERVICE, "sofia", &[cred("A3", "sofia")]);
    assert_eq!(
        ids(s.answer(SERVICE, "sofia", AGE)),
        ["A3"],
        "a List vouches"
    );
    s.distrust("sofia", false);
    assert_eq!(s.answer(SERVICE, "sofia", AGE), Answer::Distrusted);
    s.listed(SERVICE, "sofia", &[cred("A3", "sofia")]);
    assert_eq!(
        ids(s.answer(SERVICE, "sofia", AGE)),
        ["A3"],
        "a definite failure"
    );
    s.distrust("SOFIA", true);
    assert_eq!(s.answer(SERVICE, "sofia", AGE), Answer::Distrusted);
    // The write whose outcome is unknown may still land: neither a List nor a new
    // snapshot vouches for the user for a while.
    s.listed(SERVICE, "sofia", &[cred("A3", "sofia")]);
    assert_eq!(s.answer(SERVICE, "sofia", AGE), Answer::Distrusted);
    fetched(&mut s, vec![cred("A3", "sofia")]);
    assert_eq!(s.answer(SERVICE, "sofia", AGE), Answer::Distrusted);
    assert_eq!(ids(s.answer(SERVICE, "bot", AGE)), Vec::<String>::new());
}

#[test]
fn a_caller_that_waited_for_a_fetch_takes_its_answer_however_long_it_took() {
    let mut s = Snapshots::default();
    let waiting_since = Instant::now();
    s.fetch_started(SERVICE);
    s.fetched(
        SERVICE,
        Instant::now() - AGE * 2,
        pages(vec![cred("A1", "sofia")]),
    );
    assert_eq!(
        s.answer(SERVICE, "sofia", AGE),
        Answer::Missing,
        "too old a start"
    );
    assert_eq!(
        ids(s.answer_fetched_since(SERVICE, "sofia", waiting_since)),
        ["A1"]
    );
    assert_eq!(
        s.answer_fetched_since(SERVICE, "sofia", Instant::now() + AGE),
        Answer::Missing
    );
}

#[test]
fn users_written_during_a_fetch_are_not_answered_from_it() {
    let mut s = Snapshots::default();
    s.fetch_started(SERVICE);
    // Created after the fetch read sofia's page: the pages miss it.
    s.write_through("sofia", Some(SERVICE), |list| {
        list.push(cred("A2", "sofia"))
    });
    s.distrust("bot", false);
    // A per-user List during the fetch cannot vouch for what the fetch will bring.
    s.listed(SERVICE, "bot", &[]);
    s.fetched(SERVICE, Instant::now(), pages(vec![cred("A1", "sofia")]));
    assert_eq!(s.answer(SERVICE, "sofia", AGE), Answer::Distrusted);
    assert_eq!(s.answer(SERVICE, "bot", AGE), Answer::Distrusted);
    assert_eq!(ids(s.answer(SERVICE, "anika", AGE)), Vec::<String>::new());
}

/// A snapshot keeps credentials compactly (the user and service names once per user): what it
/// answers is what IAM listed, field for field.
#[test]
fn a_snapshot_answers_the_credentials_as_listed() {
    let mut key = cred("K1", "Sofia");
    key.service_user_name = None;
    key.alias = Some("sofia+1-at-123456789012".into());
    key.status = CredentialStatus::Other("Pending".into());
    key.create_date = Timestamp::from_second(1_800_000_000).unwrap();
    key.expiration_date = Some(Timestamp::from_second(1_900_000_000).unwrap());
    let password = cred("P1", "Sofia");
    let mut s = Snapshots::default();
    fetched(&mut s, vec![key.clone(), password.clone()]);
    assert_eq!(
        s.answer(SERVICE, "sofia", AGE),
        Answer::Listed(vec![key.clone(), password.clone()])
    );
    s.write_through("sofia", Some(SERVICE), |list| list.retain(|c| c.id != "P1"));
    assert_eq!(s.answer(SERVICE, "SOFIA", AGE), Answer::Listed(vec![key]));
}
