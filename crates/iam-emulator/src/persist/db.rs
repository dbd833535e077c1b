//! The SQLite side of the state file: its schema, reading it whole, and writing the entries a mutation touched.
//!
//! One table per map of [`State`], one row per entry: its map key, and the entry as JSON. `meta` holds the format
//! version, the account id and the next sequence number. A unique index on the credentials' `seq` keeps the
//! creation order unambiguous whatever happens to the process.

use std::path::Path;
use std::time::Duration;

use rusqlite::ffi::ErrorCode;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::DB_FORMAT_VERSION;
use crate::store::{Index, State, Tracked};

/// How long a write waits for a lock held by another connection (a tool reading the file) before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE users (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE credentials (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE UNIQUE INDEX credentials_seq ON credentials (json_extract(value, '$.seq'));
CREATE TABLE roles (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE managed_policies (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE access_keys (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
";

/// The statements of one entity table.
struct Table {
    name: &'static str,
    select: &'static str,
    upsert: &'static str,
    delete: &'static str,
}

macro_rules! table {
    ($name:literal) => {
        Table {
            name: $name,
            select: concat!("SELECT key, value FROM ", $name),
            upsert: concat!(
                "INSERT INTO ",
                $name,
                " (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ),
            delete: concat!("DELETE FROM ", $name, " WHERE key = ?1"),
        }
    };
}

const USERS: Table = table!("users");
const CREDENTIALS: Table = table!("credentials");
const ROLES: Table = table!("roles");
const MANAGED_POLICIES: Table = table!("managed_policies");
const ACCESS_KEYS: Table = table!("access_keys");

#[derive(Debug, thiserror::Error)]
pub(super) enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("format version {0}")]
    Version(u32),
    #[error("account {0}")]
    Account(String),
    /// The file is a database, but not one of ours or not whole: a missing meta row, an entry that does not
    /// decode. The text names the table and key, never a value.
    #[error("{0}")]
    Malformed(String),
    #[error("cannot encode {table} entry {key:?}: {source}")]
    Encode {
        table: &'static str,
        key: String,
        source: serde_json::Error,
    },
}

impl DbError {
    /// Does this say the file is not (or no longer) a whole state database, rather than that it could not be
    /// reached (permissions, I/O, locks)?
    pub(super) fn is_corruption(&self) -> bool {
        match self {
            DbError::Sqlite(e) => !matches!(
                e.sqlite_error_code(),
                Some(
                    ErrorCode::CannotOpen
                        | ErrorCode::PermissionDenied
                        | ErrorCode::SystemIoFailure
                        | ErrorCode::DatabaseBusy
                        | ErrorCode::DatabaseLocked
                        | ErrorCode::OutOfMemory
                        | ErrorCode::ReadOnly
                        | ErrorCode::DiskFull
                )
            ),
            DbError::Malformed(_) => true,
            DbError::Version(_) | DbError::Account(_) | DbError::Encode { .. } => false,
        }
    }
}

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, DbError> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// An open state database, ready for writes.
pub(super) struct Db {
    conn: Connection,
}

impl Db {
    /// Opens an existing state database and reads it whole. The format version and the account are checked
    /// before anything is written to the file (a refused file is left as it was).
    pub(super) fn open(path: &Path, account_id: &str) -> Result<(Self, State), DbError> {
        let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let state = read_all(&conn)?;
        if state.account_id != account_id {
            return Err(DbError::Account(state.account_id));
        }
        Ok((Self::ready(conn, path)?, state))
    }

    /// Opens the database [`create`] just made, for writes.
    pub(super) fn attach(path: &Path) -> Result<Self, DbError> {
        Self::ready(connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?, path)
    }

    /// WAL: a commit appends to the log and fsyncs it (synchronous=FULL), so an acknowledged change survives a
    /// crash of the process or of the machine, and a torn commit is never replayed.
    fn ready(conn: Connection, path: &Path) -> Result<Self, DbError> {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), %mode, "state file: WAL is not available here; using a rollback journal");
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(Self { conn })
    }

    /// Writes the entries the mutation touched (and the sequence number if it moved), in one transaction.
    pub(super) fn write(&mut self, state: &State, seq_changed: bool) -> Result<(), DbError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        write_touched(&tx, &USERS, &state.users)?;
        write_touched(&tx, &CREDENTIALS, &state.credentials)?;
        write_touched(&tx, &ROLES, &state.roles)?;
        write_touched(&tx, &MANAGED_POLICIES, &state.managed_policies)?;
        write_touched(&tx, &ACCESS_KEYS, &state.access_keys)?;
        if seq_changed {
            put_meta(&tx, "next_seq", &state.next_seq.to_string())?;
        }
        // A failed commit leaves the transaction open; dropping it rolls it back.
        tx.commit()?;
        Ok(())
    }

    #[cfg(test)]
    pub(super) fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Fills the empty file at `path` with a complete state database holding `state` (rollback journal,
/// synchronous=FULL: when this returns, it is on disk).
pub(super) fn create(path: &Path, state: &State) -> Result<(), DbError> {
    let mut conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    let tx = conn.transaction()?;
    tx.execute_batch(SCHEMA)?;
    put_meta(&tx, "format_version", &DB_FORMAT_VERSION.to_string())?;
    put_meta(&tx, "account_id", &state.account_id)?;
    put_meta(&tx, "next_seq", &state.next_seq.to_string())?;
    write_all(&tx, &USERS, &state.users)?;
    write_all(&tx, &CREDENTIALS, &state.credentials)?;
    write_all(&tx, &ROLES, &state.roles)?;
    write_all(&tx, &MANAGED_POLICIES, &state.managed_policies)?;
    write_all(&tx, &ACCESS_KEYS, &state.access_keys)?;
    tx.commit()?;
    conn.close().map_err(|(_, e)| DbError::Sqlite(e))
}

/// The state in the database at `path`, opened read-only (inspection; nothing is checked against an account).
pub(super) fn read_only(path: &Path) -> Result<State, DbError> {
    read_all(&connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?)
}

/// SQLite's `PRAGMA integrity_check` of the file at `path`: `["ok"]` when it is whole.
pub(super) fn integrity_check(path: &Path) -> Result<Vec<String>, DbError> {
    let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn read_all(conn: &Connection) -> Result<State, DbError> {
    // One read transaction: a consistent view even if another connection writes meanwhile.
    conn.execute_batch("BEGIN")?;
    let state = read_tables(conn);
    if !conn.is_autocommit() {
        conn.execute_batch("COMMIT")?;
    }
    state
}

fn read_tables(conn: &Connection) -> Result<State, DbError> {
    let version: u32 = parse_meta(conn, "format_version")?;
    if version != DB_FORMAT_VERSION {
        return Err(DbError::Version(version));
    }
    let mut state = State::new(&get_meta(conn, "account_id")?);
    state.next_seq = parse_meta(conn, "next_seq")?;
    state.users = read_table(conn, &USERS)?;
    state.credentials = read_table(conn, &CREDENTIALS)?;
    state.roles = read_table(conn, &ROLES)?;
    state.managed_policies = read_table(conn, &MANAGED_POLICIES)?;
    state.access_keys = read_table(conn, &ACCESS_KEYS)?;
    Ok(state)
}

fn get_meta(conn: &Connection, key: &str) -> Result<String, DbError> {
    let mut stmt = conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?;
    let mut rows = stmt.query([key])?;
    match rows.next()? {
        Some(row) => Ok(row.get(0)?),
        None => Err(DbError::Malformed(format!("no {key} in its meta table"))),
    }
}

fn parse_meta<T: std::str::FromStr>(conn: &Connection, key: &str) -> Result<T, DbError> {
    get_meta(conn, key)?
        .parse()
        .map_err(|_| DbError::Malformed(format!("its {key} is not a number")))
}

fn put_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Result<(), DbError> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

fn read_table<V: DeserializeOwned, I: Index<String, V>>(
    conn: &Connection,
    table: &Table,
) -> Result<Tracked<String, V, I>, DbError> {
    let mut stmt = conn.prepare(table.select)?;
    let mut rows = stmt.query([])?;
    let mut entries = std::collections::BTreeMap::new();
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        let text: String = row.get(1)?;
        // The reason says where, never what: values hold secrets (access keys) and digests.
        let value = serde_json::from_str(&text).map_err(|e| {
            DbError::Malformed(format!(
                "its {} entry {key:?} does not decode ({:?} error at column {})",
                table.name,
                e.classify(),
                e.column()
            ))
        })?;
        entries.insert(key, value);
    }
    Ok(Tracked::from(entries))
}

fn encode<V: Serialize>(table: &Table, key: &str, value: &V) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|source| DbError::Encode {
        table: table.name,
        key: key.to_string(),
        source,
    })
}

fn write_touched<V: Serialize + Clone, I: Index<String, V>>(
    tx: &Transaction<'_>,
    table: &Table,
    map: &Tracked<String, V, I>,
) -> Result<(), DbError> {
    for (key, value) in map.touched() {
        match value {
            Some(v) => {
                let json = encode(table, key, v)?;
                tx.prepare_cached(table.upsert)?.execute([key, &json])?;
            }
            None => {
                tx.prepare_cached(table.delete)?.execute([key])?;
            }
        };
    }
    Ok(())
}

fn write_all<V: Serialize, I>(
    tx: &Transaction<'_>,
    table: &Table,
    map: &Tracked<String, V, I>,
) -> Result<(), DbError> {
    let mut stmt = tx.prepare_cached(table.upsert)?;
    for (key, value) in map.iter() {
        stmt.execute([key, &encode(table, key, value)?])?;
    }
    Ok(())
}
