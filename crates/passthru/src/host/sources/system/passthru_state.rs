//! What passthru itself was asked to put on the kernel command line: the journal's
//! `passthru kernel-args` change sets (`var/lib/passthru/journal`) and the `[kernel]`
//! section of the host file (`etc/passthru/host.toml`), so doctor can tell a reboot
//! is pending.

use crate::change::hostfile;
use crate::change::journal::Status;
use crate::change::kernel_args::desired_args;
use crate::host::root::Root;
use crate::host::sources::journal::read_change_sets;
use crate::host::system::{CpuVendor, KernelArgsAsked};
use std::path::Path;

/// The title prefix of a `passthru kernel-args` change set
/// (`change::kernel_args::plan_kernel_args`).
pub const TITLE_PREFIX: &str = "kernel command line: ";

/// Parses a kernel-args change set's title: `kernel command line: add A B, remove
/// C D` into `(add, remove)`; `None` for any other title.
pub fn parse_title(title: &str) -> Option<(Vec<String>, Vec<String>)> {
    let rest = title.strip_prefix(TITLE_PREFIX)?;
    let mut add = Vec::new();
    let mut remove = Vec::new();
    for part in rest.split(", ") {
        if let Some(a) = part.strip_prefix("add ") {
            add.extend(a.split_whitespace().map(String::from));
        } else if let Some(r) = part.strip_prefix("remove ") {
            remove.extend(r.split_whitespace().map(String::from));
        }
    }
    Some((add, remove))
}

/// Reads every request, oldest first. Unreadable journals or host files are skipped
/// (`passthru undo --list` and `passthru apply` report them).
pub fn read_kernel_args_asked(root: &Root, vendor: CpuVendor) -> Vec<KernelArgsAsked> {
    let mut out = Vec::new();
    let (sets, _) = read_change_sets(root);
    for cs in sets {
        if cs.status != Status::Done || cs.undone_by.is_some() || cs.undoes.is_some() {
            continue;
        }
        let Some((add, remove)) = parse_title(&cs.title) else {
            continue;
        };
        if add.is_empty() && remove.is_empty() {
            continue;
        }
        out.push(KernelArgsAsked {
            source: cs.dir(),
            command: cs.command.clone(),
            when: Some(cs.created.clone()),
            add,
            remove,
        });
    }
    let file = crate::change::persist::HOST_FILE;
    if let Ok(bytes) = root.read(file) {
        if let Ok(d) = hostfile::parse(&bytes, Path::new(file)) {
            if let Some(k) = &d.file.kernel {
                if let Ok(a) = desired_args(vendor, &k.request()) {
                    if !a.add.is_empty() || !a.remove.is_empty() {
                        out.push(KernelArgsAsked {
                            source: file.to_string(),
                            command: "[kernel]".into(),
                            when: None,
                            add: a.add,
                            remove: a.remove,
                        });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(
            parse_title("kernel command line: add intel_iommu=on iommu=pt, remove intel_iommu=off iommu=off"),
            Some((
                vec!["intel_iommu=on".to_string(), "iommu=pt".to_string()],
                vec!["intel_iommu=off".to_string(), "iommu=off".to_string()]
            ))
        );
        assert_eq!(
            parse_title("kernel command line: remove quiet"),
            Some((vec![], vec!["quiet".to_string()]))
        );
        assert_eq!(parse_title("bind 0000:01:00.0 to vfio-pci"), None);
    }
}
