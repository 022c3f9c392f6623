//! Kernel command-line arguments, as the kernel reads them: words up to `--`,
//! `key=value`, the last occurrence of a key wins, and `-`/`_` are the same in the
//! module part of `module.param` (`vfio-pci.ids` is `vfio_pci.ids`).

use crate::host::model::Host;
use crate::host::system::Bootloader;

/// Normalises a key: dashes become underscores (the kernel's `parameq`).
pub fn norm_key(k: &str) -> String {
    k.replace('-', "_")
}

/// `(key, value)` pairs of a command line, in order.
pub fn parse(cmdline: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for w in cmdline.split_whitespace() {
        if w == "--" {
            break;
        }
        match w.split_once('=') {
            Some((k, v)) => out.push((norm_key(k), Some(v.trim_matches('"').to_string()))),
            None => out.push((norm_key(w), None)),
        }
    }
    out
}

/// The value of the last `key=` (`None` when absent; `Some("")` for a bare `key`).
pub fn value(cmdline: &str, key: &str) -> Option<String> {
    let k = norm_key(key);
    parse(cmdline)
        .into_iter()
        .rev()
        .find(|(kk, _)| *kk == k)
        .map(|(_, v)| v.unwrap_or_default())
}

/// Whether the last `key=` holds `word` in its comma list (`intel_iommu=on,sm_on`).
pub fn has(cmdline: &str, key: &str, word: &str) -> bool {
    value(cmdline, key).is_some_and(|v| v.split(',').any(|x| x == word))
}

/// Every value of `key=` (all occurrences; for list parameters such as
/// `modprobe.blacklist`).
pub fn values(cmdline: &str, key: &str) -> Vec<String> {
    let k = norm_key(key);
    parse(cmdline)
        .into_iter()
        .filter(|(kk, _)| *kk == k)
        .filter_map(|(_, v)| v)
        .collect()
}

/// The running kernel's command line (empty when unknown).
pub fn running(host: &Host) -> &str {
    host.kernel_cmdline.as_deref().unwrap_or("")
}

/// The command line the next boot will get from the configuration files (empty
/// when unknown).
pub fn next_boot(host: &Host) -> String {
    next_boot_known(host).unwrap_or_default().join(" ")
}

/// The arguments the next boot will get from the configuration, when the
/// configuration says: GRUB's `GRUB_CMDLINE_LINUX*` or `etc/kernel/cmdline`; on a
/// grubby host the arguments every boot entry has (`boot/loader/entries`, rescue
/// entries aside), unknown when an entry takes them from grubenv (`$kernelopts`) or
/// there is no entry; unknown without a known bootloader.
pub fn next_boot_known(host: &Host) -> Option<Vec<String>> {
    let b = &host.system.boot;
    match b.bootloader {
        Bootloader::Grubby => {
            let entries: Vec<&str> = b
                .entries
                .iter()
                .filter(|e| !e.path.contains("rescue"))
                .map(|e| e.args.as_str())
                .collect();
            // `$kernelopts` (RHEL 8) holds the arguments in grubenv: unknown here. Other
            // variables (`$tuned_params`) only add tuned's own arguments.
            if entries.is_empty() || entries.iter().any(|e| e.contains("$kernelopts")) {
                return None;
            }
            let first: Vec<String> = entries[0]
                .split_whitespace()
                .filter(|w| !w.starts_with('$'))
                .map(String::from)
                .collect();
            Some(
                first
                    .into_iter()
                    .filter(|w| entries.iter().all(|e| e.split_whitespace().any(|x| x == w)))
                    .collect(),
            )
        }
        // GRUB reads its variables; kernel-install reads etc/kernel/cmdline only.
        Bootloader::GrubUpdateGrub | Bootloader::GrubMkconfig | Bootloader::KernelInstall => {
            let grub = b.bootloader != Bootloader::KernelInstall;
            Some(
                b.files
                    .iter()
                    .filter(|f| f.variable.is_empty() != grub)
                    .flat_map(|f| f.args.split_whitespace().map(String::from))
                    .collect(),
            )
        }
        Bootloader::Unknown => None,
    }
}

/// Whether the IOMMU is switched off on a command line, and by which argument.
pub fn iommu_off_arg(cmdline: &str) -> Option<String> {
    iommu_off_args(cmdline).into_iter().next()
}

/// Every argument that switches the IOMMU off (`intel_iommu=off iommu=off`): a fix
/// must remove them all.
pub fn iommu_off_args(cmdline: &str) -> Vec<String> {
    [
        ("intel_iommu", "off"),
        ("amd_iommu", "off"),
        ("iommu", "off"),
    ]
    .iter()
    .filter(|(key, word)| has(cmdline, key, word))
    .map(|(key, word)| format!("{key}={word}"))
    .collect()
}

/// Whether interrupt remapping is switched off on a command line, and by what.
pub fn intremap_off_arg(cmdline: &str) -> Option<String> {
    if has(cmdline, "intremap", "off") {
        return Some("intremap=off".into());
    }
    if value(cmdline, "nointremap").is_some() {
        return Some("nointremap".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_rules() {
        let c = "BOOT_IMAGE=/vmlinuz ro intel_iommu=on,sm_on iommu=pt vfio-pci.ids=10de:1b80 quiet -- intel_iommu=off";
        assert!(has(c, "intel_iommu", "on"));
        assert!(has(c, "intel_iommu", "sm_on"));
        assert_eq!(value(c, "vfio_pci.ids").as_deref(), Some("10de:1b80"));
        assert_eq!(value(c, "quiet").as_deref(), Some(""));
        assert_eq!(iommu_off_arg(c), None, "words after -- are for init");
        assert_eq!(
            iommu_off_arg("intel_iommu=on intel_iommu=off").as_deref(),
            Some("intel_iommu=off")
        );
        assert_eq!(
            iommu_off_args("ro iommu=off quiet intel_iommu=off"),
            vec!["intel_iommu=off", "iommu=off"]
        );
        assert_eq!(
            intremap_off_arg("intremap=off").as_deref(),
            Some("intremap=off")
        );
        assert_eq!(
            values(
                "modprobe.blacklist=a,b modprobe.blacklist=c",
                "modprobe.blacklist"
            ),
            vec!["a,b", "c"]
        );
    }
}
