//! The old state file: the whole state as JSON (format version 1), rewritten on every change.
//!
//! Found at start, it is migrated: the database is built complete at a temp path beside it and fsynced, the JSON
//! is kept as `<file>.v1.json.bak` (0600), and only then does the database take the file's place, by a rename.
//! A crash at any point leaves the JSON (migrated again at the next start) or the complete database.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::error::Category;

use super::{PersistError, sync_dir, write_new, write_temp};
use crate::store::{STATE_VERSION, State};

/// Where the JSON file at `json` is kept once migrated: `<json>.v1.json.bak`.
pub fn backup_path(json: &Path) -> PathBuf {
    let mut name = json.as_os_str().to_owned();
    name.push(".v1.json.bak");
    PathBuf::from(name)
}

/// The state in a JSON state file's bytes.
pub(super) fn decode(path: &Path, bytes: &[u8]) -> Result<State, PersistError> {
    let state: State = serde_json::from_slice(bytes).map_err(|e| PersistError::Corrupt {
        path: path.to_path_buf(),
        reason: reason(&e),
    })?;
    if state.version != STATE_VERSION {
        return Err(PersistError::Version {
            path: path.to_path_buf(),
            found: state.version,
        });
    }
    Ok(state)
}

/// Why the JSON does not decode, without quoting it: serde's data errors quote the value they met, and the file
/// holds access-key secrets.
fn reason(e: &serde_json::Error) -> String {
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => format!("not JSON: {e}"),
        Category::Data => format!(
            "JSON that is not emulator state (line {}, column {})",
            e.line(),
            e.column()
        ),
    }
}

/// Replaces the JSON file at `path` (whose `bytes` hold `state`) with a database of the same state.
pub(super) fn in_place(path: &Path, bytes: &[u8], state: &State) -> Result<(), PersistError> {
    let backup = backup_path(path);
    let failed = |source| PersistError::Write {
        path: backup.clone(),
        source,
    };
    // The temp file is named after `path`, so one a crash leaves is removed at the next start.
    let tmp = write_temp(path, bytes).map_err(failed)?;
    if let Err(e) = fs::rename(&tmp, &backup) {
        let _ = fs::remove_file(&tmp);
        return Err(failed(e));
    }
    // Renames the database over the JSON, then fsyncs the directory (the backup's rename with it).
    write_new(path, state)?;
    log_migrated(path, path, &backup, state);
    Ok(())
}

/// Builds the database at `path`, which does not exist, from the JSON file `legacy` beside it (`state.json` on
/// the volume of an install whose `--state-file` now names `state.db`), then moves the JSON to its backup name.
pub(super) fn adopt(path: &Path, legacy: &Path, state: &State) -> Result<(), PersistError> {
    write_new(path, state)?;
    let backup = backup_path(legacy);
    // The database is complete: a JSON left in place is only noise (it is read when `path` is missing).
    if let Err(e) = fs::rename(legacy, &backup) {
        tracing::warn!(legacy = %legacy.display(), error = %e, "could not move the migrated JSON state file aside");
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(&backup, fs::Permissions::from_mode(0o600));
    }
    sync_dir(path);
    log_migrated(legacy, path, &backup, state);
    Ok(())
}

fn log_migrated(from: &Path, to: &Path, backup: &Path, state: &State) {
    tracing::info!(
        from = %from.display(),
        to = %to.display(),
        backup = %backup.display(),
        users = state.users.len(),
        credentials = state.credentials.len(),
        "migrated the JSON state file (format 1) to SQLite; the JSON is kept as the backup"
    );
}
