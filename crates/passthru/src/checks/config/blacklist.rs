//! `config.blacklist-absent`: a driver blacklisted for passthrough still serves some
//! device on this host (otherwise the blacklist is stale: the card it was for is gone
//! or moved).
//!
//! Only blacklists that are about passthrough are judged, so distribution defaults
//! (framebuffer and watchdog lists) do not drown the report: those on the kernel
//! command line (`modprobe.blacklist=`, `rd.driver.blacklist=`), those in a file that
//! also configures vfio, and those of drivers commonly blacklisted for passthrough.

use crate::checks::args;
use crate::checks::config::initramfs_cmd;
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::model::{Host, PciDevice};
use crate::host::system::{module_name, ModprobeKind};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Configuration,
    summary: "drivers blacklisted for passthrough serve a device on this host",
    run: check,
};

/// Stable id.
pub const ID: &str = "config.blacklist-absent";
const LABEL: &str = "driver blacklists";

/// Drivers people blacklist to keep a device for guests.
pub const PASSTHROUGH_DRIVERS: &[&str] = &[
    "nouveau",
    "lbm_nouveau",
    "nvidia",
    "nvidia_drm",
    "nvidia_modeset",
    "radeon",
    "amdgpu",
    "i915",
    "xe",
    "snd_hda_intel",
    "igbvf",
    "ixgbevf",
    "iavf",
    "i40evf",
    "mlx5_core",
    "igb",
    "ixgbe",
    "i40e",
    "ice",
    "bnxt_en",
    "qede",
    "e1000e",
    "xhci_pci",
    "nvme",
    "mpt3sas",
];

/// `fnmatch` with `*` and `?`, ASCII case-insensitive (modules.alias is upper-case hex).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<u8> = pattern.bytes().map(|b| b.to_ascii_uppercase()).collect();
    let t: Vec<u8> = text.bytes().map(|b| b.to_ascii_uppercase()).collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// A device's modalias (the kernel's, or built from its ids).
pub fn modalias(d: &PciDevice) -> String {
    d.modalias.clone().unwrap_or_else(|| {
        format!(
            "pci:v{:08X}d{:08X}sv{:08X}sd{:08X}bc{:02X}sc{:02X}i{:02X}",
            d.vendor_id.0,
            d.device_id.0,
            d.subsystem_vendor_id.map(|v| v.0).unwrap_or(0xffff),
            d.subsystem_device_id.map(|v| v.0).unwrap_or(0xffff),
            d.class.base(),
            d.class.sub(),
            d.class.prog_if()
        )
    })
}

/// Whether a module would drive some device of the host: a device bound to it now,
/// or a `modules.alias` pattern of it matching a device; for the graphics drivers a
/// vendor+class rule when no alias table is available. `None` when unknown.
pub fn serves_a_device(host: &Host, module: &str) -> Option<bool> {
    let m = module_name(module);
    if host
        .devices
        .iter()
        .any(|d| d.driver.as_deref().map(module_name).as_deref() == Some(&m))
    {
        return Some(true);
    }
    if let Some(aliases) = &host.system.modules.blacklisted_aliases {
        let pats: Vec<&str> = aliases
            .iter()
            .filter(|(_, mm)| *mm == m)
            .map(|(p, _)| p.as_str())
            .collect();
        if !pats.is_empty() {
            return Some(host.devices.iter().any(|d| {
                let a = modalias(d);
                pats.iter().any(|p| glob(p, &a))
            }));
        }
    }
    let gpu_vendor = match m.as_str() {
        "nouveau" | "lbm_nouveau" | "nvidia" | "nvidia_drm" | "nvidia_modeset" => Some(0x10de),
        "radeon" | "amdgpu" => Some(0x1002),
        "i915" | "xe" => Some(0x8086),
        _ => None,
    }?;
    Some(
        host.devices
            .iter()
            .any(|d| d.vendor_id.0 == gpu_vendor && d.class.base() == 0x03),
    )
}

/// A blacklist entry: module, where it is said, and the file and line to edit.
type Entry = (String, String, Option<(String, usize)>);

fn boot_files(h: &Host) -> String {
    let mut f: Vec<String> = h
        .system
        .boot
        .files
        .iter()
        .map(|f| format!("/{}", f.path))
        .collect();
    f.dedup();
    if f.is_empty() {
        "the bootloader's entry".into()
    } else {
        f.join(", ")
    }
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    if !h.system.collected {
        return Vec::new();
    }
    let mut entries: Vec<Entry> = Vec::new();
    let vfio_files: Vec<&str> = h
        .system
        .modprobe
        .iter()
        .filter(|d| d.module().starts_with("vfio") || matches!(&d.kind, ModprobeKind::Softdep { pre, .. } if pre.iter().any(|p| p.starts_with("vfio"))))
        .map(|d| d.file.as_str())
        .collect();
    for d in &h.system.modprobe {
        if let ModprobeKind::Blacklist { module } = &d.kind {
            let relevant = vfio_files.contains(&d.file.as_str())
                || d.file.contains("vfio")
                || PASSTHROUGH_DRIVERS.contains(&module.as_str());
            if relevant {
                entries.push((
                    module.clone(),
                    format!("/{}", d.location()),
                    Some((d.file.clone(), d.line)),
                ));
            }
        }
    }
    for key in [
        "modprobe.blacklist",
        "rd.driver.blacklist",
        "module_blacklist",
    ] {
        for v in args::values(args::running(h), key) {
            for m in v.split(',').filter(|m| !m.is_empty()) {
                entries.push((
                    module_name(m),
                    format!("{key}= on the kernel command line"),
                    None,
                ));
            }
        }
    }
    if entries.is_empty() {
        return vec![Finding::new(
            ID,
            Section::Configuration,
            Severity::Pass,
            LABEL,
            "no driver blacklisted for passthrough",
        )];
    }
    let mut out = Vec::new();
    let mut ok: Vec<String> = Vec::new();
    for (module, place, file) in entries {
        match serves_a_device(h, &module) {
            Some(true) => ok.push(module),
            Some(false) => {
                let fix = match &file {
                    Some((f, line)) => format!("sed -i '{line}d' /{f}\n{}", initramfs_cmd(h)),
                    None => format!("Remove {module} from {place}: edit the boot configuration ({}), regenerate it, reboot", boot_files(h)),
                };
                out.push(
                    Finding::new(ID, Section::Configuration, Severity::Warn, LABEL, format!("blacklist {module} ({place}) names a driver no device on this host uses"))
                        .why("a stale blacklist shows the card it was for is gone or moved; the new card may be unprotected, or a driver the host needs stays blocked")
                        .fix(fix),
                );
            }
            None => {}
        }
    }
    if out.is_empty() {
        ok.sort();
        ok.dedup();
        let msg = if ok.is_empty() {
            "no blacklist that can be judged here (no modules.alias for the blacklisted drivers)"
                .to_string()
        } else {
            format!("blacklisted drivers serve devices here: {}", ok.join(", "))
        };
        out.push(Finding::new(
            ID,
            Section::Configuration,
            Severity::Pass,
            LABEL,
            msg,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_globs() {
        assert!(glob(
            "pci:v000010DEd*sv*sd*bc03sc*i*",
            "pci:v000010DEd00001B80sv00001458sd00003702bc03sc00i00"
        ));
        assert!(!glob(
            "pci:v000010DEd*sv*sd*bc03sc*i*",
            "pci:v00008086d00001521sv00008086sd00001521bc02sc00i00"
        ));
        assert!(glob(
            "pci:v00008086d00001521sv*sd*bc*sc*i*",
            "pci:v00008086d00001521sv00008086sd00001521bc02sc00i00"
        ));
        assert!(glob("a?c*", "abcdef") && !glob("a?c", "abcd"));
    }
}
