//! Guests from libvirt: a domain XML file, or `virsh --connect URI dumpxml NAME` and
//! `virsh --connect URI list --all --name` behind the scenes. Running virsh (not
//! linking libvirt) keeps passthru a static binary and works with every URI virsh
//! accepts (`qemu:///system`, `qemu+ssh://host/system`, `test:///abs/node.xml`).

use crate::libvirt::domain::{parse_domain, Domain, DomainError};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why guests could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GuestSourceError {
    /// A domain XML file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// virsh could not be run at all.
    #[error("cannot run `{command}`: {source} (install libvirt-clients, or give the domain XML as a file)")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// virsh ran and failed.
    #[error("`{command}` failed (exit {code}): {stderr}")]
    Virsh {
        /// The command line.
        command: String,
        /// Its exit code (-1 when killed).
        code: i32,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The XML does not parse.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

/// Reads and parses a domain XML file.
pub fn read_domain_file(path: &Path) -> Result<Domain, GuestSourceError> {
    let text = std::fs::read_to_string(path).map_err(|source| GuestSourceError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_domain(&text, &path.display().to_string())?)
}

fn virsh(uri: Option<&str>, args: &[&str]) -> Result<String, GuestSourceError> {
    let mut cmd = Command::new("virsh");
    let mut shown = String::from("virsh");
    if let Some(u) = uri {
        cmd.args(["--connect", u]);
        shown.push_str(&format!(" --connect {u}"));
    }
    cmd.args(args);
    for a in args {
        shown.push(' ');
        shown.push_str(a);
    }
    // libvirt's client reads LANG for messages; keep them parseable.
    cmd.env("LC_ALL", "C");
    let out = cmd.output().map_err(|source| GuestSourceError::Spawn {
        command: shown.clone(),
        source,
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(GuestSourceError::Virsh {
            command: shown,
            code: out.status.code().unwrap_or(-1),
            stderr,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `virsh [--connect URI] dumpxml NAME`, parsed.
pub fn dumpxml(uri: Option<&str>, name: &str) -> Result<Domain, GuestSourceError> {
    let xml = virsh(uri, &["dumpxml", "--", name])?;
    let source = match uri {
        Some(u) => format!("virsh --connect {u} dumpxml {name}"),
        None => format!("virsh dumpxml {name}"),
    };
    Ok(parse_domain(&xml, &source)?)
}

/// `virsh [--connect URI] list --all --name`: every defined or running domain.
pub fn list_all(uri: Option<&str>) -> Result<Vec<String>, GuestSourceError> {
    Ok(virsh(uri, &["list", "--all", "--name"])?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Every domain of a connection, parsed.
pub fn all_domains(uri: Option<&str>) -> Result<Vec<Domain>, GuestSourceError> {
    list_all(uri)?.iter().map(|n| dumpxml(uri, n)).collect()
}
