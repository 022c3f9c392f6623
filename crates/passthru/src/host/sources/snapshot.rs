//! Snapshot files: a [`Host`] as JSON, written by `passthru snapshot` and read back by
//! `--snapshot FILE` so a host can be analysed elsewhere.

use crate::error::{Error, Result};
use crate::host::model::{Host, SourceKind, FORMAT_VERSION};
use std::path::Path;

/// Serialises a host as a pretty JSON snapshot.
pub fn to_json(host: &Host) -> String {
    // Host holds only strings, numbers and maps with string keys: this cannot fail.
    serde_json::to_string_pretty(host).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Parses snapshot text; `path` names the file in errors.
pub fn from_json(text: &str, path: &Path) -> Result<Host> {
    let mut host: Host = serde_json::from_str(text).map_err(|e| Error::Snapshot {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line")
            .next()
            .unwrap_or_default()
            .to_string(),
    })?;
    if host.format_version > FORMAT_VERSION {
        return Err(Error::SnapshotVersion {
            path: path.to_path_buf(),
            found: host.format_version,
            supported: FORMAT_VERSION,
        });
    }
    if host.source.kind == SourceKind::Root {
        host.source.kind = SourceKind::Snapshot;
        host.source.location = path.display().to_string();
    }
    host.normalize();
    Ok(host)
}

/// Reads a snapshot file.
pub fn read_snapshot(path: &Path) -> Result<Host> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    from_json(&text, path)
}
