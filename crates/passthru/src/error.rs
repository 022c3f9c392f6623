//! The library's one error type: every variant names the device, file or field.

use crate::pci::{AddressError, IdError};
use std::path::PathBuf;

/// Errors from reading hosts, resolving devices and parsing inputs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The root directory cannot be opened or is not a host root.
    #[error("cannot read host root {path}: {source}")]
    Root {
        /// The root given.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The root has no PCI bus directory.
    #[error("{path} has no sys/bus/pci/devices: not a Linux host root (is sysfs mounted? give --root the directory that holds sys/)")]
    NotAHostRoot {
        /// The root given.
        path: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A sysfs attribute has an unexpected value.
    #[error("{path}: unexpected value '{value}' ({expected})")]
    BadAttribute {
        /// The attribute file.
        path: PathBuf,
        /// What it held.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A snapshot file is not valid JSON of the right shape.
    #[error("{path}:{line}:{column}: not a passthru snapshot: {message} (make one with `passthru snapshot -o FILE`)")]
    Snapshot {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde said.
        message: String,
    },
    /// A snapshot written by a newer passthru.
    #[error("{path}: snapshot format {found} is newer than this passthru understands ({supported}); upgrade passthru")]
    SnapshotVersion {
        /// The file.
        path: PathBuf,
        /// Version found.
        found: u32,
        /// Version supported.
        supported: u32,
    },
    /// lspci text that holds no device at all.
    #[error("{path}: no PCI device found in this lspci text (expected the output of `lspci -nnvvv`, e.g. a line like '06:00.0 Ethernet controller [0200]: ... [8086:1521]')")]
    LspciEmpty {
        /// The file (or `-` for stdin).
        path: PathBuf,
    },
    /// A device name that matches nothing on the host.
    #[error("no device '{query}' on this host{}{}", because(.reason), suggest(.suggestions))]
    UnknownDevice {
        /// What the user typed.
        query: String,
        /// Why the name cannot be what it looks like (an address with a slot past
        /// 1f, ids that are not hex), when it looks like one.
        reason: Option<String>,
        /// Closest names that do exist.
        suggestions: Vec<String>,
    },
    /// A PCI address that does not parse.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// An id that does not parse.
    #[error(transparent)]
    Id(#[from] IdError),
}

fn because(r: &Option<String>) -> String {
    r.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
}

fn suggest(s: &[String]) -> String {
    if s.is_empty() {
        "; `passthru ls` lists every device".to_string()
    } else {
        format!(
            "; closest: {} (`passthru ls` lists every device)",
            s.join(", ")
        )
    }
}

/// Result with the library's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
