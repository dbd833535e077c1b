//! The state file: JSON, written atomically (temp file in the same directory, fsync, rename, fsync directory).
//!
//! A reader therefore only ever sees a complete old file or a complete new one. Temp files left by a crash are
//! named `.<file>.tmp-*`; they are never read and are removed at the next start.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::store::{STATE_VERSION, State};

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not valid emulator state (refusing to start over it): {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "state file {path} has format version {found}, this emulator reads version {STATE_VERSION}"
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
    #[error("cannot encode state: {0}")]
    Encode(serde_json::Error),
}

/// Writes the state to one file.
#[derive(Debug, Clone)]
pub struct Persister {
    path: PathBuf,
}

impl Persister {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state; a missing file is `None` (empty state). Stale temp files are removed first.
    pub fn load(&self, account_id: &str) -> Result<Option<State>, PersistError> {
        self.remove_stale_temp_files();
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(PersistError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let state: State =
            serde_json::from_slice(&bytes).map_err(|source| PersistError::Corrupt {
                path: self.path.clone(),
                source,
            })?;
        if state.version != STATE_VERSION {
            return Err(PersistError::Version {
                path: self.path.clone(),
                found: state.version,
            });
        }
        if state.account_id != account_id {
            return Err(PersistError::Account {
                path: self.path.clone(),
                found: state.account_id,
                expected: account_id.to_string(),
            });
        }
        Ok(Some(state))
    }

    /// Atomically replaces the file with `state`.
    pub fn save(&self, state: &State) -> Result<(), PersistError> {
        let bytes = serde_json::to_vec_pretty(state).map_err(PersistError::Encode)?;
        write_atomic(&self.path, &bytes).map_err(|source| PersistError::Write {
            path: self.path.clone(),
            source,
        })
    }

    fn temp_prefix(&self) -> Option<String> {
        let name = self.path.file_name()?.to_string_lossy();
        Some(format!(".{name}.tmp-"))
    }

    fn remove_stale_temp_files(&self) {
        let (Some(prefix), Some(dir)) = (self.temp_prefix(), parent_dir(&self.path)) else {
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
}

fn parent_dir(path: &Path) -> Option<&Path> {
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Some(Path::new(".")),
        other => other,
    }
}

/// The temp file a write to `path` goes through (exposed for crash-simulation tests).
pub fn temp_path(path: &Path) -> std::io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "state file path has no file name",
        )
    })?;
    let dir = parent_dir(path).unwrap_or(Path::new("."));
    Ok(dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )))
}

/// Step one of an atomic write: a complete, fsynced temp file next to `path`.
pub fn write_temp(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let tmp = temp_path(path)?;
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        // The state holds access-key secrets (SigV4 needs them): readable by the emulator's user only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Write temp file, fsync, rename over `path`, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = write_temp(path, bytes)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename is done; a failed directory fsync only weakens durability, so it is not reported as a failure
    // (that would make memory and disk disagree).
    if let Some(dir) = parent_dir(path)
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let p = Persister::new(dir.path().join("state.json"));
        assert!(p.load("1").unwrap().is_none());
    }

    #[test]
    fn round_trip_and_account_check() {
        let dir = tempfile::tempdir().unwrap();
        let p = Persister::new(dir.path().join("state.json"));
        let mut s = State::new("123456789012");
        s.next_seq = 42;
        p.save(&s).unwrap();
        assert_eq!(p.load("123456789012").unwrap(), Some(s));
        assert!(matches!(
            p.load("999999999999"),
            Err(PersistError::Account { .. })
        ));
    }

    #[test]
    fn crash_before_rename_keeps_the_old_file_and_is_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let p = Persister::new(&path);
        let old = State::new("1");
        p.save(&old).unwrap();
        // A crash after the temp file was written but before the rename...
        let mut new = old.clone();
        new.next_seq = 99;
        let tmp = write_temp(&path, &serde_json::to_vec(&new).unwrap()).unwrap();
        // ...and one mid-write (truncated temp file).
        let torn = write_temp(&path, b"{\"version\":1,\"acc").unwrap();
        assert!(tmp.exists() && torn.exists());
        assert_eq!(p.load("1").unwrap(), Some(old));
        assert!(
            !tmp.exists() && !torn.exists(),
            "stale temp files are removed at load"
        );
    }

    #[test]
    fn corrupt_file_is_an_error_not_an_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, b"{\"version\":1,").unwrap();
        assert!(matches!(
            Persister::new(&path).load("1"),
            Err(PersistError::Corrupt { .. })
        ));
    }

    #[test]
    fn failed_write_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("state.json");
        assert!(Persister::new(&path).save(&State::new("1")).is_err());
        assert!(!path.exists());
    }
}
