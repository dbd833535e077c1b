use super::*;
use crate::store::{Credential, StoredAccessKey, StoredStatus, User};

const ACCOUNT: &str = "123456789012";

fn user(name: &str) -> User {
    User {
        name: name.into(),
        id: format!("AIDA{name}"),
        path: "/".into(),
        create_date: 0,
        permissions_boundary: None,
        tags: vec![("k".into(), "v".into())],
        inline_policies: Default::default(),
        attached_policies: Vec::new(),
    }
}

fn credential(id: &str, user: &str, seq: u64) -> Credential {
    Credential {
        id: id.into(),
        user_key: user.into(),
        service_name: "codecommit.amazonaws.com".into(),
        slot: 0,
        create_date: 0,
        expiration_date: None,
        status: StoredStatus::Active,
        secret_sha256: "00".repeat(32),
        seq,
    }
}

fn sample() -> State {
    let mut s = State::new(ACCOUNT);
    s.users.insert("bob".into(), user("bob"));
    s.credentials
        .insert("C1".into(), credential("C1", "bob", 1));
    s.access_keys.insert(
        "AKIA1".into(),
        StoredAccessKey {
            id: "AKIA1".into(),
            user_key: "bob".into(),
            secret: "the-secret".into(),
            create_date: 0,
            active: true,
        },
    );
    s.next_seq = 2;
    s
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn missing_file_is_empty_state_and_nothing_is_written_until_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let (mut p, state) = Persister::open(&path, ACCOUNT, None).unwrap();
    assert!(state.is_none());
    assert!(!path.exists());
    let mut s = sample();
    p.commit(&s, true).unwrap();
    s.users.settle();
    assert_eq!(read(&path).unwrap(), Some(s));
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn round_trip_and_account_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    write_new(&path, &sample()).unwrap();
    let (_, state) = Persister::open(&path, ACCOUNT, None).unwrap();
    assert_eq!(state, Some(sample()));
    let before = fs::read(&path).unwrap();
    assert!(matches!(
        Persister::open(&path, "999999999999", None),
        Err(PersistError::Account { .. })
    ));
    assert_eq!(
        fs::read(&path).unwrap(),
        before,
        "a refused file is left alone"
    );
}

#[test]
fn a_commit_writes_only_the_touched_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut s = sample();
    for i in 0..500 {
        s.users.insert(format!("u{i}"), user(&format!("u{i}")));
    }
    write_new(&path, &s).unwrap();
    let (mut p, state) = Persister::open(&path, ACCOUNT, None).unwrap();
    let mut s = state.unwrap();
    s.users.get_mut("u7").unwrap().path = "/moved/".into();
    s.credentials.remove("C1");
    s.credentials.insert("C2".into(), credential("C2", "u7", 2));
    s.next_seq = 3;
    let conn = p.connection().unwrap();
    let changes_before = conn.total_changes();
    p.commit(&s, true).unwrap();
    let conn = p.connection().unwrap();
    // u7, C1, C2 and next_seq: four rows, whatever the size of the state.
    assert_eq!(conn.total_changes() - changes_before, 4);
    s.users.settle();
    s.credentials.settle();
    drop(p);
    assert_eq!(read(&path).unwrap(), Some(s));
}

#[test]
fn stale_temp_files_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    write_new(&path, &sample()).unwrap();
    // A crash while a new file was built: a torn temp database and its journal.
    let torn = temp_path(&path).unwrap();
    fs::write(&torn, &SQLITE_HEADER[..8]).unwrap();
    fs::write(with_suffix(&torn, "-journal"), b"x").unwrap();
    let (_, state) = Persister::open(&path, ACCOUNT, None).unwrap();
    assert_eq!(state, Some(sample()));
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn corrupt_files_are_an_error_not_an_empty_state() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("torn.json", b"{\"version\":1,".to_vec()),
        ("empty", Vec::new()),
        ("garbage.db", [&SQLITE_HEADER[..], &[0xA5; 600]].concat()),
    ] {
        let path = dir.path().join(name);
        fs::write(&path, &bytes).unwrap();
        let e = Persister::open(&path, ACCOUNT, None).err().unwrap();
        assert!(matches!(e, PersistError::Corrupt { .. }), "{name}: {e}");
        assert_eq!(fs::read(&path).unwrap(), bytes, "{name} is left alone");
    }
}

#[test]
fn a_database_of_another_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    write_new(&path, &sample()).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE meta SET value = '3' WHERE key = 'format_version'",
        [],
    )
    .unwrap();
    drop(conn);
    assert!(matches!(
        Persister::open(&path, ACCOUNT, None),
        Err(PersistError::Version { found: 3, .. })
    ));
}

#[test]
fn an_undecodable_row_is_corrupt_and_its_value_is_not_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    write_new(&path, &sample()).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        r#"UPDATE access_keys SET value = '{"id":"AKIA1","userKey":"bob","secret":7,"createDate":0,"active":"the-secret"}'"#,
        [],
    )
    .unwrap();
    drop(conn);
    let e = Persister::open(&path, ACCOUNT, None).err().unwrap();
    assert!(matches!(e, PersistError::Corrupt { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("access_keys") && text.contains("AKIA1"),
        "{text}"
    );
    assert!(!text.contains("the-secret"), "{text}");
}

#[test]
fn a_failed_first_write_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("state.db");
    let (mut p, _) = Persister::open(&path, ACCOUNT, None).unwrap();
    assert!(matches!(
        p.commit(&sample(), true),
        Err(PersistError::Write { .. })
    ));
    assert!(!path.exists());
}

#[test]
fn a_json_file_is_migrated_in_place_with_a_private_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let json = serde_json::to_vec_pretty(&sample()).unwrap();
    fs::write(&path, &json).unwrap();
    let (_, state) = Persister::open(&path, ACCOUNT, None).unwrap();
    assert_eq!(state, Some(sample()));
    assert!(fs::read(&path).unwrap().starts_with(SQLITE_HEADER));
    let backup = backup_path(&path);
    assert_eq!(fs::read(&backup).unwrap(), json);
    #[cfg(unix)]
    assert_eq!((mode(&path), mode(&backup)), (0o600, 0o600));
    integrity_check(&path).unwrap();
}

#[test]
fn a_json_file_of_another_version_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut s = sample();
    s.version = 7;
    let json = serde_json::to_vec(&s).unwrap();
    fs::write(&path, &json).unwrap();
    assert!(matches!(
        Persister::open(&path, ACCOUNT, None),
        Err(PersistError::Version { found: 7, .. })
    ));
    assert_eq!(fs::read(&path).unwrap(), json);
    assert!(!backup_path(&path).exists());
}

#[test]
fn a_json_beside_a_missing_database_is_migrated_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let legacy = dir.path().join("state.json");
    let json = serde_json::to_vec(&sample()).unwrap();
    fs::write(&legacy, &json).unwrap();
    let (_, state) = Persister::open(&path, ACCOUNT, Some(&legacy)).unwrap();
    assert_eq!(state, Some(sample()));
    assert!(!legacy.exists());
    assert_eq!(fs::read(backup_path(&legacy)).unwrap(), json);
    // The next start reads the database; the backup is not taken for state again.
    let (_, again) = Persister::open(&path, ACCOUNT, Some(&legacy)).unwrap();
    assert_eq!(again, Some(sample()));
}

#[test]
fn a_file_deleted_while_in_use_is_written_anew_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    write_new(&path, &sample()).unwrap();
    let (mut p, state) = Persister::open(&path, ACCOUNT, None).unwrap();
    let mut s = state.unwrap();
    fs::remove_file(&path).unwrap();
    s.users.insert("ann".into(), user("ann"));
    p.commit(&s, false).unwrap();
    s.users.settle();
    assert_eq!(read(&path).unwrap(), Some(s));
}

#[test]
fn a_json_read_error_never_quotes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut v = serde_json::to_value(sample()).unwrap();
    v["accessKeys"]["AKIA1"]["active"] = "the-secret".into();
    fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let e = Persister::open(&path, ACCOUNT, None).err().unwrap();
    assert!(matches!(e, PersistError::Corrupt { .. }), "{e}");
    assert!(!e.to_string().contains("the-secret"), "{e}");
}

#[cfg(unix)]
#[test]
fn sqlite_files_beside_the_state_file_are_private_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let (mut p, _) = Persister::open(&path, ACCOUNT, None).unwrap();
    let mut s = sample();
    p.commit(&s, true).unwrap();
    s.users.insert("ann".into(), user("ann"));
    p.commit(&s, false).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode(&with_suffix(&path, suffix)), 0o600, "{suffix}");
    }
}
