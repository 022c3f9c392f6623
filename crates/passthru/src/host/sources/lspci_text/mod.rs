//! `lspci -nnvvv` text (with or without `-D`) as host facts.
//!
//! For hosts passthru cannot run on: someone pastes `lspci -nnvvv` output and passthru
//! reasons over it. Each device block gives address, class (with prog-if), ids, names,
//! revision, subsystem, driver, IOMMU group, NUMA node, PCIe link and the SR-IOV
//! capability; VFs are linked to PFs by offset/stride arithmetic and devices to their
//! bridges by bus ranges. What lspci cannot show (netdevs, `driver_override`, reset
//! methods, NUMA CPU lists, capabilities hidden from non-root runs) stays unknown.
//!
//! Real captures are messy: stderr spliced into lines is cut out ([`splice`]), unknown
//! lines are ignored, and a block whose title cannot be read is skipped with a warning in
//! [`Host::warnings`]. Only text without any readable device is an error.

mod block;
mod link;
mod splice;

use crate::error::{Error, Result};
use crate::host::model::{Host, SourceInfo, SourceKind};
use crate::pci::PciIds;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The name `read_lspci` uses for standard input in messages and `source.location`.
pub const STDIN_NAME: &str = "<stdin>";

/// Larger than any real `lspci -nnvvv` (a few MB for thousands of VFs); guards against
/// `--lspci /dev/zero` and the like.
const MAX_BYTES: u64 = 256 << 20;

/// Reads `lspci -nnvvv` text from a file, or from standard input when `path` is `-`.
/// Errors name the file.
pub fn read_lspci(path: &Path) -> Result<Host> {
    read_lspci_with(path, None)
}

/// [`read_lspci`], splitting vendor from device names with a pci.ids database too.
pub fn read_lspci_with(path: &Path, ids: Option<&PciIds>) -> Result<Host> {
    let (name, bytes) = if path == Path::new("-") {
        let mut buf = Vec::new();
        let r = std::io::stdin()
            .lock()
            .take(MAX_BYTES + 1)
            .read_to_end(&mut buf);
        (PathBuf::from(STDIN_NAME), r.map(|_| buf))
    } else {
        let r = std::fs::File::open(path).and_then(|f| {
            let mut buf = Vec::new();
            f.take(MAX_BYTES + 1).read_to_end(&mut buf).map(|_| buf)
        });
        (path.to_path_buf(), r)
    };
    let bytes = bytes.map_err(|source| Error::Read {
        path: name.clone(),
        source,
    })?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Error::Read {
            path: name,
            source: std::io::Error::other(format!(
                "larger than {} MiB: not lspci output",
                MAX_BYTES >> 20
            )),
        });
    }
    // Names in old captures can be Latin-1; the facts never depend on them.
    let text = String::from_utf8_lossy(&bytes);
    parse_lspci_with(&text, &name, ids)
}

/// Parses `lspci -nnvvv` text; `location` names its origin in errors and in the facts.
pub fn parse_lspci(text: &str, location: &Path) -> Result<Host> {
    parse_lspci_with(text, location, None)
}

/// [`parse_lspci`] with an optional pci.ids database for splitting vendor names.
pub fn parse_lspci_with(text: &str, location: &Path, ids: Option<&PciIds>) -> Result<Host> {
    let repaired = splice::repair(text);
    let mut warnings = Vec::new();
    let mut parsed = Vec::new();
    for (h, line, body) in blocks(&repaired.lines) {
        match block::parse(&h, line, &body) {
            Ok(mut p) => {
                warnings.append(&mut p.warnings);
                parsed.push(p);
            }
            Err(w) => warnings.push(w),
        }
    }
    if parsed.is_empty() {
        return Err(Error::LspciEmpty {
            path: location.to_path_buf(),
        });
    }
    parsed.sort_by_key(|p| p.device.address);
    let mut kept: Vec<block::Parsed> = Vec::with_capacity(parsed.len());
    for p in parsed {
        match kept.last() {
            Some(k) if k.device.address == p.device.address => warnings.push(format!(
                "line {}: {} appears again (first at line {}); kept the first",
                p.line, p.device.address, k.line
            )),
            _ => kept.push(p),
        }
    }
    let mut parsed = kept;
    link::split_names(&mut parsed, ids);
    warnings.extend(link::link_vfs(&mut parsed));
    link::set_parents(&mut parsed);

    let denied = parsed.iter().filter(|p| p.access_denied).count();
    if denied > 0 {
        warnings.push(format!(
            "lspci ran without root: capabilities of {denied} device(s) read '<access denied>', so their SR-IOV and PCIe link facts are unknown (run `sudo lspci -nnvvv`)"
        ));
    }
    if !repaired.stderr.is_empty() {
        let mut msgs = repaired.stderr.clone();
        msgs.sort();
        msgs.dedup();
        warnings.push(format!(
            "removed {} stderr message(s) mixed into the lspci text: {}",
            repaired.stderr.len(),
            msgs.iter()
                .take(3)
                .map(|m| block::clip(m))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let mut host = Host {
        source: SourceInfo {
            kind: SourceKind::Lspci,
            location: location.display().to_string(),
        },
        devices: parsed.into_iter().map(|p| p.device).collect(),
        warnings,
        ..Host::default()
    };
    host.normalize();
    Ok(host)
}

/// Groups lines into (title, title line number, body lines). Lines before the first
/// title are ignored. In text pasted with an indent (documents, mail), a non-blank line
/// at or left of the title's indent is surrounding prose and ends the block; in real
/// lspci output (titles in column 0) such lines are noise and are skipped.
fn blocks(lines: &[splice::Line]) -> Vec<(block::Head<'_>, usize, Vec<&splice::Line>)> {
    let mut out: Vec<(block::Head<'_>, usize, Vec<&splice::Line>)> = Vec::new();
    let mut open = false;
    for l in lines {
        if let Some(h) = block::head(&l.text) {
            out.push((h, l.number, Vec::new()));
            open = true;
            continue;
        }
        if !open || l.text.trim().is_empty() {
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        if cur.0.indent > 0 && block::indent(&l.text) <= cur.0.indent {
            open = false;
            continue;
        }
        cur.2.push(l);
    }
    out
}

#[cfg(test)]
mod tests;
