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
    /// The connection has no domain of that name.
    #[error("no domain '{name}' on {}: {} (GUEST is a domain name or a domain XML file)", .uri.as_deref().unwrap_or("virsh's default connection"), known_list(.known))]
    NoSuchDomain {
        /// The name asked for.
        name: String,
        /// The connection URI given (`None`: virsh's default).
        uri: Option<String>,
        /// The domains the connection has (`virsh list --all --name`).
        known: Vec<String>,
    },
    /// The XML does not parse.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

/// The domains a connection has, for an error message: a few, then how many more.
fn known_list(known: &[String]) -> String {
    const SHOWN: usize = 8;
    match known.len() {
        0 => "it has no domain at all".into(),
        n if n <= SHOWN => format!("its domains are {}", known.join(", ")),
        n => format!(
            "its domains include {} and {} more (virsh list --all)",
            known[..SHOWN].join(", "),
            n - SHOWN
        ),
    }
}

/// Reads and parses a domain XML file.
pub fn read_domain_file(path: &Path) -> Result<Domain, GuestSourceError> {
    let text = std::fs::read_to_string(path).map_err(|source| GuestSourceError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_domain(&text, &path.display().to_string())?)
}

/// Reads and parses a domain XML from a reader (standard input for `virsh dumpxml NAME
/// | passthru verify -`); `source_name` names it in errors.
pub fn read_domain_from(
    mut r: impl std::io::Read,
    source_name: &str,
) -> Result<Domain, GuestSourceError> {
    let mut text = String::new();
    r.read_to_string(&mut text)
        .map_err(|source| GuestSourceError::Read {
            path: PathBuf::from(source_name),
            source,
        })?;
    Ok(parse_domain(&text, source_name)?)
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
    let xml = match virsh(uri, &["dumpxml", "--", name]) {
        Ok(x) => x,
        Err(e) => {
            // virsh says only "failed to get domain"; when the connection works, say
            // which domains it has instead.
            return Err(match list_all(uri) {
                Ok(known) if !known.iter().any(|k| k == name) => GuestSourceError::NoSuchDomain {
                    name: name.to_string(),
                    uri: uri.map(str::to_string),
                    known,
                },
                _ => e,
            });
        }
    };
    Ok(parse_domain(&xml, &source_name(uri, name))?)
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

/// Quotes a word for virsh's own command-line parser (`virsh "cmd arg; cmd arg"`).
fn virsh_quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Splits the output of several `dumpxml` commands into documents: virsh prints
/// each root element's closing tag at the start of a line.
fn split_documents(out: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut cur: Option<String> = None;
    for line in out.lines() {
        if cur.is_none() && line.starts_with("<domain") {
            cur = Some(String::new());
        }
        if let Some(c) = cur.as_mut() {
            c.push_str(line);
            c.push('\n');
            if line == "</domain>" {
                docs.extend(cur.take());
            }
        }
    }
    docs
}

fn source_name(uri: Option<&str>, name: &str) -> String {
    match uri {
        Some(u) => format!("virsh --connect {u} dumpxml {name}"),
        None => format!("virsh dumpxml {name}"),
    }
}

/// Every domain of a connection, parsed: one `virsh list` and one virsh process for
/// all the `dumpxml`s (a process per domain costs ~0.1 s each). Falls back to one
/// process per domain when the batch fails, so the error names the domain.
pub fn all_domains(uri: Option<&str>) -> Result<Vec<Domain>, GuestSourceError> {
    let names = list_all(uri)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let script: Vec<String> = names
        .iter()
        .map(|n| format!("dumpxml -- {}", virsh_quote(n)))
        .collect();
    if let Ok(out) = virsh(uri, &[&script.join("; ")]) {
        let docs = split_documents(&out);
        if docs.len() == names.len() {
            return names
                .iter()
                .zip(docs)
                .map(|(n, xml)| Ok(parse_domain(&xml, &source_name(uri, n))?))
                .collect();
        }
    }
    names.iter().map(|n| dumpxml(uri, n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_splitting() {
        assert_eq!(virsh_quote(r#"a "b"\c"#), r#""a \"b\"\\c""#);
        let out = "<domain type='kvm'>\n  <name>a</name>\n  <devices>\n  </devices>\n</domain>\n\n<domain type='test' id='1'>\n  <name>b</name>\n</domain>\n\n";
        let docs = split_documents(out);
        assert_eq!(docs.len(), 2);
        assert_eq!(parse_domain(&docs[1], "b").unwrap().name, "b");
    }
}
