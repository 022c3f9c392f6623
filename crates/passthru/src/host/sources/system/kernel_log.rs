//! The kernel log: the live kernel's (`dev/kmsg`, read without blocking) when the
//! root is the running system's `/`, or a file given with `--kernel-log` (the text of
//! `dmesg`, `journalctl -k`, or `/dev/kmsg` records). Only lines about the IOMMU,
//! interrupt remapping and vfio are kept.

use crate::error::{Error, Result};
use crate::host::root::Root;
use crate::host::system::KernelLog;
use std::io::Read;
use std::path::Path;

/// Substrings that make a line relevant.
const RELEVANT: &[&str] = &[
    "DMAR",
    "IOMMU",
    "iommu",
    "AMD-Vi",
    "remapping",
    "vfio",
    "VFIO",
    "SMMU",
    "x2apic",
    "Directed I/O",
];

/// Per-device lines that only repeat what `sys/kernel/iommu_groups` already says.
const NOISE: &[&str] = &["Adding to iommu group", "Removing from iommu group"];

/// Strips a `[    0.123456] ` timestamp, a `journalctl -k` prefix
/// (`Jan 01 00:00:00 host kernel: `) or a `/dev/kmsg` record header (`6,123,456,-;`).
pub fn strip_prefix(line: &str) -> &str {
    let mut l = line.trim_end();
    if let Some(rest) = l.strip_prefix('[') {
        if let Some((ts, after)) = rest.split_once(']') {
            if ts.trim().chars().all(|c| c.is_ascii_digit() || c == '.') {
                l = after.trim_start();
            }
        }
    } else if let Some((head, msg)) = l.split_once(';') {
        if head.split(',').count() >= 3 && head.split(',').take(3).all(|p| p.parse::<u64>().is_ok())
        {
            l = msg;
        }
    }
    if let Some(i) = l.find(" kernel: ") {
        l = &l[i + " kernel: ".len()..];
        // journalctl keeps the timestamp after "kernel:" when given -o short-monotonic.
        return strip_prefix(l);
    }
    l
}

/// Keeps the relevant lines of a kernel log text.
pub fn filter_log(text: &str, source: &str) -> KernelLog {
    let lines = text
        .lines()
        // `/dev/kmsg` continuation lines (` SUBSYSTEM=pci`) carry no message.
        .filter(|l| !l.starts_with(' '))
        .map(strip_prefix)
        .filter(|l| RELEVANT.iter().any(|r| l.contains(r)))
        .filter(|l| !NOISE.iter().any(|n| l.contains(n)))
        .map(str::to_string)
        .collect();
    KernelLog {
        source: source.to_string(),
        lines,
    }
}

/// Reads a kernel log file given by the user.
pub fn read_kernel_log_file(path: &Path) -> Result<KernelLog> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(filter_log(
        &String::from_utf8_lossy(&bytes),
        &path.display().to_string(),
    ))
}

/// Whether the root is the running system's own `/` (only then does its `dev/kmsg`
/// describe the kernel whose `sys/` we read).
pub fn is_live_root(root: &Root) -> bool {
    std::fs::canonicalize(root.path()).is_ok_and(|p| p == Path::new("/"))
}

/// Reads the live kernel's log when the root is `/`: `dev/kmsg` without blocking,
/// else the `dmesg` command. `None` for any other root or when neither is readable
/// (not root, `dmesg_restrict`).
pub fn read_live_kernel_log(root: &Root) -> Option<KernelLog> {
    if !is_live_root(root) {
        return None;
    }
    let kmsg = root.display("dev/kmsg");
    if let Some(text) = read_kmsg(&kmsg) {
        return Some(filter_log(&text, &kmsg.display().to_string()));
    }
    let out = std::process::Command::new("dmesg")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(filter_log(&String::from_utf8_lossy(&out.stdout), "dmesg"))
}

/// Reads every record `/dev/kmsg` holds now. Each read returns one record; the end is
/// EAGAIN (non-blocking); EPIPE means a record was overwritten while reading: go on.
fn read_kmsg(path: &Path) -> Option<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let mut text = String::new();
    let mut buf = vec![0u8; 16 * 1024];
    for _ in 0..1_000_000 {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
                if !text.ends_with('\n') {
                    text.push('\n');
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return if text.is_empty() { None } else { Some(text) },
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_relevant_lines_without_timestamps() {
        let text = "[    0.000000] Linux version 6.1.0\n\
[    0.012345] DMAR: IOMMU enabled\n\
[    0.500000] DMAR-IR: Enabled IRQ remapping in x2apic mode\n\
[    1.000000] pci 0000:00:00.0: Adding to iommu group 0\n\
6,812,1234567,-;vfio-pci 0000:07:10.7: enabling device (0000 -> 0002)\n SUBSYSTEM=pci\n\
Jan 01 10:00:00 host kernel: AMD-Vi: Interrupt remapping enabled\n\
[    2.000000] e1000e: eth0 NIC Link is Up\n";
        let log = filter_log(text, "t");
        assert_eq!(
            log.lines,
            vec![
                "DMAR: IOMMU enabled",
                "DMAR-IR: Enabled IRQ remapping in x2apic mode",
                "vfio-pci 0000:07:10.7: enabling device (0000 -> 0002)",
                "AMD-Vi: Interrupt remapping enabled",
            ]
        );
        assert!(log.has("IRQ remapping"));
    }

    #[test]
    fn a_temp_dir_is_not_the_live_root() {
        let t = tempfile::tempdir().unwrap();
        let root = Root::open(t.path()).unwrap();
        assert!(!is_live_root(&root));
        assert!(read_live_kernel_log(&root).is_none());
    }
}
