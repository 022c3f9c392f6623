//! Remote hosts over SSH: one more source of facts, and the transport that runs
//! passthru on the far side.
//!
//! OpenSSH itself is the transport (`ssh` processes): the user's `ssh_config`, agent,
//! keys and `known_hosts` are honoured, host keys are checked strictly (an unknown or
//! changed key is that host's error, never a prompt: `BatchMode=yes`,
//! `StrictHostKeyChecking=yes`), and every word of a remote command is quoted; no
//! untrusted text is pasted into a remote shell string.
//!
//! - [`target`]: `host`, `user@host:port`, aliases; [`inventory`]: hosts files and
//!   Ansible inventories (INI, YAML) with `--limit`.
//! - [`ssh`]: run one command on one target with a deadline, classify failures.
//! - [`far`]: run `passthru ARGS` on the far side (the same version from the remote
//!   PATH, or this binary uploaded to a private temporary directory, removed after),
//!   and [`far::fetch_host`]: a remote host's facts, read there once as a snapshot.
//! - [`pool`]: many hosts at once, at most N at a time, one failure never stops the
//!   others.
//!
//! ```no_run
//! use passthru::remote::{far, ssh::SshOptions, target::Target};
//! let opts = SshOptions::default();
//! let t = Target::parse("root@compute-1").unwrap();
//! let host = far::fetch_host(&opts, &t, None, Some(&std::env::current_exe().unwrap())).unwrap();
//! println!("{} devices on {t}", host.devices.len());
//! ```

pub mod far;
pub mod inventory;
pub mod pool;
pub mod ssh;
pub mod target;

pub use inventory::Inventory;
pub use ssh::SshOptions;
pub use target::Target;

use std::path::PathBuf;

/// How reaching a host failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// No connection (refused, no route, name unknown, connect timeout).
    Unreachable,
    /// The host key is unknown or changed: never accepted silently.
    HostKey,
    /// The server refused our keys.
    Auth,
    /// The host did not finish within the time allowed.
    Timeout,
    /// The remote command failed (passthru missing, bad output).
    Remote,
}

/// Errors of the remote layer; each names the target (or file) and the fix.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// A target that ssh would not take as a host.
    #[error(
        "bad target '{target}': {why} (write host, user@host, host:port or an ssh_config alias)"
    )]
    BadTarget {
        /// The text given.
        target: String,
        /// What is wrong.
        why: String,
    },
    /// A hosts file or inventory that does not parse.
    #[error("{}{}: {message}", path.display(), if *line > 0 { format!(" line {line}") } else { String::new() })]
    Inventory {
        /// The file.
        path: PathBuf,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// What is wrong and the fix.
        message: String,
    },
    /// A `--limit` item that names no group or host.
    #[error("--limit {pattern}: '{item}' is no group or host of the inventory (known: {known})")]
    Limit {
        /// The whole pattern.
        pattern: String,
        /// The item that matched nothing.
        item: String,
        /// Groups and hosts there are.
        known: String,
    },
    /// ssh could not reach or log in to the host.
    #[error("{target}: {message}")]
    Ssh {
        /// The target.
        target: String,
        /// Why.
        failure: Failure,
        /// ssh's own words, and the fix.
        message: String,
    },
    /// The host did not answer in time.
    #[error("{target}: no answer within {secs} s (--host-timeout)")]
    Timeout {
        /// The target.
        target: String,
        /// The limit.
        secs: u64,
    },
    /// The remote side ran but failed.
    #[error("{target}: {message}")]
    Remote {
        /// The target.
        target: String,
        /// What failed.
        message: String,
    },
    /// ssh could not be started here.
    #[error("cannot run ssh: {0} (install the OpenSSH client)")]
    Spawn(#[source] std::io::Error),
}

impl RemoteError {
    /// The kind of failure, for summaries (`unreachable` counts every kind but
    /// [`Failure::Remote`]).
    pub fn failure(&self) -> Failure {
        match self {
            RemoteError::Ssh { failure, .. } => *failure,
            RemoteError::Timeout { .. } => Failure::Timeout,
            RemoteError::Spawn(_) => Failure::Unreachable,
            _ => Failure::Remote,
        }
    }
}
