//! The state file: a SQLite database (WAL, `synchronous=FULL`), one table per map of the state, one row per entry.
//!
//! [`Persister::open`] reads it whole at start, migrating an old JSON file first (`migrate`).
//! `Persister::commit` then writes only the rows a mutation touched, in one transaction: a write costs what it
//! changes, not the size of the state, and a commit that returned is on disk. A new file is built complete at a
//! temp path beside it (`.<file>.tmp-*`, mode 0600: it holds access-key secrets) and renamed into place, so a
//! crash leaves no file or a whole one; temp files a crash leaves are removed at the next start.

mod db;
mod migrate;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub use migrate::backup_path;

use crate::store::State;

/// Version of the SQLite state file's layout, in its `meta` table. Version 1 was the JSON file.
pub const DB_FORMAT_VERSION: u32 = 2;

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not valid emulator state (refusing to start over it): {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "state file {path} has format version {found}; this emulator reads version {DB_FORMAT_VERSION} (SQLite) and migrates version 1 (JSON)"
    )]
    Version { path: PathBuf, found: u32 },
    #[error(
        "state file {path} belongs to account {found}, but the emulator runs as account {expected}"
    )]
    Account {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("cannot write state file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path}: {source}")]
    Database {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot encode state: {0}")]
    Encode(String),
}

/// The state file of one account.
pub struct Persister {
    path: PathBuf,
    /// `None` until the first write when the file did not exist (nothing is written until something changes).
    open: Option<Open>,
}

struct Open {
    db: db::Db,
    /// The file the connection is on: a file deleted or replaced under it is noticed before the next write.
    file: FileId,
}

impl Persister {
    /// Opens the state file of `account_id` at `path`: the state in it, or `None` when there is none yet.
    ///
    /// A JSON file (format 1) at `path` is migrated in place. When `path` does not exist and `legacy` is a JSON
    /// state file, that one is migrated into `path`. A file that is not valid state, of another format version
    /// or of another account is refused and left as it was.
    pub fn open(
        path: impl Into<PathBuf>,
        account_id: &str,
        legacy: Option<&Path>,
    ) -> Result<(Self, Option<State>), PersistError> {
        let path = path.into();
        remove_stale_temp_files(&path);
        match sniff(&path)? {
            Contents::Sqlite => {
                if let Some(legacy) = legacy.filter(|l| l.exists()) {
                    tracing::warn!(
                        ignored = %legacy.display(),
                        state_file = %path.display(),
                        "an old state file lies beside the state file; it is not read"
                    );
                }
            }
            Contents::Json(bytes) => {
                let state = migrate::decode(&path, &bytes)?;
                check_account(&path, &state, account_id)?;
                migrate::in_place(&path, &bytes, &state)?;
            }
            Contents::Missing => {
                let from_legacy = match legacy {
                    Some(legacy) => match sniff(legacy)? {
                        Contents::Json(bytes) => Some((legacy, bytes)),
                        Contents::Missing | Contents::Sqlite => None,
                    },
                    None => None,
                };
                let Some((legacy, bytes)) = from_legacy else {
                    return Ok((Self { path, open: None }, None));
                };
                let state = migrate::decode(legacy, &bytes)?;
                check_account(legacy, &state, account_id)?;
                migrate::adopt(&path, legacy, &state)?;
            }
        }
        let (db, state) =
            db::Db::open(&path, account_id).map_err(|e| read_error(&path, account_id, e))?;
        let file = FileId::of(&path).map_err(|source| PersistError::Read {
            path: path.clone(),
            source,
        })?;
        Ok((
            Self {
                path,
                open: Some(Open { db, file }),
            },
            Some(state),
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the entries of `state` its mutation touched (see [`crate::store::Tracked`]), and `next_seq` when
    /// `seq_changed`, in one transaction. Creates the file with the whole state if there is none (the first write,
    /// or the file was deleted or replaced while in use).
    pub(crate) fn commit(&mut self, state: &State, seq_changed: bool) -> Result<(), PersistError> {
        if let Some(open) = &self.open
            && FileId::of(&self.path).ok() != Some(open.file)
        {
            tracing::warn!(path = %self.path.display(), "the state file was deleted or replaced while in use; writing it anew with the whole state");
            // Closed before the new file exists: closing must not touch the new file's journal.
            self.open = None;
        }
        if let Some(open) = &mut self.open {
            return open
                .db
                .write(state, seq_changed)
                .map_err(|e| write_error(&self.path, e));
        }
        write_new(&self.path, state)?;
        let attached = db::Db::attach(&self.path)
            .map_err(|e| write_error(&self.path, e))
            .and_then(|db| {
                let file = FileId::of(&self.path).map_err(|source| PersistError::Write {
                    path: self.path.clone(),
                    source,
                })?;
                Ok(Open { db, file })
            });
        match attached {
            Ok(open) => {
                self.open = Some(open);
                Ok(())
            }
            Err(e) => {
                // Memory is rolled back: so is the disk, to no file, as before this write.
                let _ = fs::remove_file(&self.path);
                Err(e)
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn connection(&self) -> Option<&rusqlite::Connection> {
        self.open.as_ref().map(|o| o.db.connection())
    }
}

/// The state in the file at `path`, SQLite or JSON, without migrating, creating or checking anything against an
/// account (inspection and tests). A missing file is `None`.
pub fn read(path: &Path) -> Result<Option<State>, PersistError> {
    match sniff(path)? {
        Contents::Missing => Ok(None),
        Contents::Json(bytes) => migrate::decode(path, &bytes).map(Some),
        Contents::Sqlite => db::read_only(path)
            .map(Some)
            .map_err(|e| read_error(path, "", e)),
    }
}

/// SQLite's integrity check of the state file at `path`: `Ok` when it is a whole database.
pub fn integrity_check(path: &Path) -> Result<(), PersistError> {
    if !matches!(sniff(path)?, Contents::Sqlite) {
        return Err(PersistError::Corrupt {
            path: path.to_path_buf(),
            reason: "not a SQLite database".into(),
        });
    }
    let report = db::integrity_check(path).map_err(|e| read_error(path, "", e))?;
    if report == ["ok"] {
        Ok(())
    } else {
        Err(PersistError::Corrupt {
            path: path.to_path_buf(),
            reason: report.join("; "),
        })
    }
}

/// Writes `state` as a complete new state file at `path`, replacing whatever is there: built at a temp path
/// beside it (0600), fsynced, renamed into place, directory fsynced. How a state file is first created, and how
/// a migration or a benchmark fills one.
pub fn write_new(path: &Path, state: &State) -> Result<(), PersistError> {
    let failed = |source| PersistError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = temp_path(path).map_err(failed)?;
    let built = (|| {
        create_private(&tmp).map_err(failed)?;
        db::create(&tmp, state).map_err(|e| write_error(path, e))?;
        fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(failed)?;
        // A log or journal left by a file that was at `path` belongs to that file, never to this one.
        for sidecar in ["-wal", "-shm", "-journal"] {
            let _ = fs::remove_file(with_suffix(path, sidecar));
        }
        fs::rename(&tmp, path).map_err(failed)
    })();
    if built.is_err() {
        let _ = fs::remove_file(&tmp);
        let _ = fs::remove_file(with_suffix(&tmp, "-journal"));
    }
    built?;
    sync_dir(path);
    Ok(())
}

/// What a state file holds, by its first bytes.
enum Contents {
    Missing,
    Sqlite,
    Json(Vec<u8>),
}

fn sniff(path: &Path) -> Result<Contents, PersistError> {
    let failed = |source| PersistError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Contents::Missing),
        Err(e) => return Err(failed(e)),
    };
    let mut head = Vec::with_capacity(SQLITE_HEADER.len());
    (&mut file)
        .take(SQLITE_HEADER.len() as u64)
        .read_to_end(&mut head)
        .map_err(failed)?;
    if head == SQLITE_HEADER {
        return Ok(Contents::Sqlite);
    }
    file.read_to_end(&mut head).map_err(failed)?;
    Ok(Contents::Json(head))
}

fn check_account(path: &Path, state: &State, account_id: &str) -> Result<(), PersistError> {
    if state.account_id == account_id {
        Ok(())
    } else {
        Err(PersistError::Account {
            path: path.to_path_buf(),
            found: state.account_id.clone(),
            expected: account_id.to_string(),
        })
    }
}

/// An error reading the database: the file is not whole, or not ours (Corrupt), or could not be read.
fn read_error(path: &Path, account_id: &str, e: db::DbError) -> PersistError {
    let path = path.to_path_buf();
    if e.is_corruption() {
        return PersistError::Corrupt {
            path,
            reason: e.to_string(),
        };
    }
    match e {
        db::DbError::Version(found) => PersistError::Version { path, found },
        db::DbError::Account(found) => PersistError::Account {
            path,
            found,
            expected: account_id.to_string(),
        },
        other => write_error(&path, other),
    }
}

fn write_error(path: &Path, e: db::DbError) -> PersistError {
    match e {
        db::DbError::Sqlite(source) => PersistError::Database {
            path: path.to_path_buf(),
            source,
        },
        other => PersistError::Encode(other.to_string()),
    }
}

/// Which file a path names (device and inode), to notice one deleted or replaced under an open connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    #[cfg(unix)]
    dev: u64,
    #[cfg(unix)]
    ino: u64,
}

impl FileId {
    fn of(path: &Path) -> std::io::Result<Self> {
        let meta = fs::metadata(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Ok(Self {
                dev: meta.dev(),
                ino: meta.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            Ok(Self {})
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn temp_prefix(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy();
    Some(format!(".{name}.tmp-"))
}

fn remove_stale_temp_files(path: &Path) {
    let (Some(prefix), Some(dir)) = (temp_prefix(path), parent_dir(path)) else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn parent_dir(path: &Path) -> Option<&Path> {
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Some(Path::new(".")),
        other => other,
    }
}

/// A temp file beside `path`, named `.<file>.tmp-<pid>-<random>` (removed at the next start if left behind).
pub fn temp_path(path: &Path) -> std::io::Result<PathBuf> {
    let prefix = temp_prefix(path).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "state file path has no file name",
        )
    })?;
    let dir = parent_dir(path).unwrap_or(Path::new("."));
    Ok(dir.join(format!(
        "{prefix}{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )))
}

/// A new file only the emulator's user can read: state files hold access-key secrets.
fn create_private(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// A complete, fsynced temp file beside `path` holding `bytes`.
fn write_temp(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let tmp = temp_path(path)?;
    let written = create_private(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Makes renames in `path`'s directory durable. A failure only weakens durability after a change that is done,
/// so it is not reported (that would make memory and disk disagree).
fn sync_dir(path: &Path) {
    if let Some(dir) = parent_dir(path)
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests;
