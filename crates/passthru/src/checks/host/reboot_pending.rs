//! `boot.reboot-pending`: the running kernel has the command line that was asked for.
//! What passthru was asked (`passthru kernel-args` change sets, `[kernel]` of
//! `etc/passthru/host.toml`) is compared with `proc/cmdline`; without such a request,
//! the IOMMU and vfio arguments of the boot configuration are. A difference means the
//! change waits for a reboot, or that the configuration lost it since.

use crate::change::kernel_args::removes;
use crate::checks::args::{self, norm_key};
use crate::checks::fix::{kernel_args, kernel_args_config};
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::model::Host;
use crate::host::system::{Bootloader, KernelArgsAsked};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Host,
    summary: "the running kernel has the arguments asked for (no reboot pending)",
    run: check,
};

/// Stable id.
pub const ID: &str = "boot.reboot-pending";
const LABEL: &str = "for a pending reboot (kernel arguments)";
const WHY: &str = "kernel arguments take effect only at boot: until then the running kernel works without them (and a later boot may bring a surprise)";

/// Whether a command-line word matters for passthrough (IOMMU, interrupt remapping,
/// vfio, driver blacklists, ACS override).
pub fn relevant(word: &str) -> bool {
    let key = norm_key(word.split_once('=').map_or(word, |(k, _)| k));
    matches!(
        key.as_str(),
        "intel_iommu"
            | "amd_iommu"
            | "iommu"
            | "intremap"
            | "nointremap"
            | "pcie_acs_override"
            | "modprobe.blacklist"
            | "rd.driver.blacklist"
            | "rd.driver.pre"
    ) || key.starts_with("iommu.")
        || key.starts_with("vfio")
        || key.starts_with("kvm")
}

/// The cumulative request: later change sets override earlier ones, the host file
/// comes last. `(add, remove, who asked for each)`.
fn fold(asked: &[KernelArgsAsked]) -> (Vec<String>, Vec<String>) {
    let mut add: Vec<String> = Vec::new();
    let mut remove: Vec<String> = Vec::new();
    for a in asked {
        add.retain(|w| !a.remove.iter().any(|r| removes(r, w)));
        remove.retain(|r| !a.add.iter().any(|w| removes(r, w)));
        for w in &a.add {
            if !add.contains(w) {
                add.push(w.clone());
            }
        }
        for r in &a.remove {
            if !remove.contains(r) {
                remove.push(r.clone());
            }
        }
    }
    (add, remove)
}

/// `(words of add missing from cmdline, words of cmdline that remove matches)`.
fn unmet(cmdline: &[&str], add: &[String], remove: &[String]) -> (Vec<String>, Vec<String>) {
    let missing = add
        .iter()
        .filter(|a| !cmdline.contains(&a.as_str()))
        .cloned()
        .collect();
    let present = cmdline
        .iter()
        .filter(|w| remove.iter().any(|r| removes(r, w)))
        .map(|w| w.to_string())
        .collect();
    (missing, present)
}

/// How a request reads: `` `passthru kernel-args --iommu --pt` (change set ID) `` or
/// `[kernel] in /etc/passthru/host.toml`.
fn asker(a: &KernelArgsAsked) -> String {
    if a.command == "[kernel]" {
        return format!("[kernel] in /{}", a.source);
    }
    let id = a.source.rsplit('/').next().unwrap_or(&a.source);
    format!("`{}` (change set {id})", a.command)
}

/// The unmet words grouped by who asked for them: `intel_iommu=on iommu=pt, asked
/// by ...; no iommu=off, asked by ...`.
fn asked_for(asked: &[KernelArgsAsked], missing: &[String], present: &[String]) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let words = missing
        .iter()
        .map(|m| (m, true))
        .chain(present.iter().map(|p| (p, false)));
    for (w, adding) in words {
        let who = asked
            .iter()
            .rev()
            .find(|a| {
                if adding {
                    a.add.iter().any(|x| x == w)
                } else {
                    a.remove.iter().any(|r| removes(r, w))
                }
            })
            .map_or_else(|| "passthru".to_string(), asker);
        let shown = if adding { w.clone() } else { format!("no {w}") };
        match groups.iter_mut().find(|(g, _)| *g == who) {
            Some((_, v)) => v.push(shown),
            None => groups.push((who, vec![shown])),
        }
    }
    groups
        .iter()
        .map(|(who, ws)| format!("{} (asked by {who})", ws.join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where the next boot's arguments come from, for messages.
fn config_name(h: &Host) -> String {
    let b = &h.system.boot;
    match b.bootloader {
        Bootloader::Grubby => "the boot entries (boot/loader/entries)".into(),
        Bootloader::KernelInstall => "/etc/kernel/cmdline".into(),
        _ => {
            let mut files: Vec<String> = b
                .files
                .iter()
                .filter(|f| !f.variable.is_empty())
                .map(|f| format!("/{}", f.path))
                .collect();
            files.dedup();
            if files.is_empty() {
                "the GRUB configuration".into()
            } else {
                files.join(", ")
            }
        }
    }
}

fn warn(msg: String, fix: String) -> Vec<Finding> {
    vec![Finding::new(ID, Section::Host, Severity::Warn, LABEL, msg)
        .why(WHY)
        .fix(fix)]
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    let s = &h.system;
    if !s.collected {
        return Vec::new();
    }
    let Some(running) = h.kernel_cmdline.as_deref() else {
        return if s.kernel_args_asked.is_empty() {
            Vec::new()
        } else {
            vec![crate::checks::host::absent(ID, LABEL, "proc/cmdline")]
        };
    };
    let running: Vec<&str> = running.split_whitespace().collect();
    let next = args::next_boot_known(h);
    let asked = &s.kernel_args_asked;
    if !asked.is_empty() {
        let (add, remove) = fold(asked);
        let (missing, present) = unmet(&running, &add, &remove);
        if missing.is_empty() && present.is_empty() {
            let mut what = Vec::new();
            if !add.is_empty() {
                what.push(add.join(" "));
            }
            if !remove.is_empty() {
                what.push(format!("none of {}", remove.join(" ")));
            }
            return vec![Finding::new(
                ID,
                Section::Host,
                Severity::Pass,
                LABEL,
                format!(
                    "the running kernel has what passthru was asked for: {}",
                    what.join("; ")
                ),
            )];
        }
        let Some(n) = &next else {
            let wanted = asked_for(asked, &missing, &present);
            let check = if h.system.boot.bootloader == Bootloader::Grubby {
                "grubby --info=ALL | grep ^args   # every entry should show it\n"
            } else {
                ""
            };
            return warn(
                format!(
                    "reboot pending: {wanted} is not on the running kernel's command line (the boot configuration cannot be read here to tell whether the next boot has it)"
                ),
                format!("{check}reboot\n# after the reboot: cat /proc/cmdline"),
            );
        };
        let n: Vec<&str> = n.iter().map(String::as_str).collect();
        // Unmet now and in the next boot's configuration too: lost since.
        let (lost_add, lost_rm) = unmet(&n, &missing, &present);
        let waiting_add: Vec<String> = missing
            .iter()
            .filter(|m| !lost_add.contains(m))
            .cloned()
            .collect();
        let waiting_rm: Vec<String> = present
            .iter()
            .filter(|p| !lost_rm.contains(p))
            .cloned()
            .collect();
        let mut what = Vec::new();
        if !waiting_add.is_empty() || !waiting_rm.is_empty() {
            what.push(format!(
                "{} is in {}, not on the running kernel's command line (booted before the change)",
                asked_for(asked, &waiting_add, &waiting_rm),
                config_name(h)
            ));
        }
        if lost_add.is_empty() && lost_rm.is_empty() {
            return warn(
                format!("reboot pending: {}", what.join("; ")),
                "reboot".into(),
            );
        }
        what.push(format!(
            "{} is neither on the running kernel's command line nor in {}: the boot configuration was changed since",
            asked_for(asked, &lost_add, &lost_rm),
            config_name(h)
        ));
        let add: Vec<&str> = lost_add.iter().map(String::as_str).collect();
        let rm: Vec<&str> = lost_rm.iter().map(String::as_str).collect();
        let mut flags: Vec<String> = lost_add.iter().map(|m| format!("--add {m}")).collect();
        flags.extend(lost_rm.iter().map(|p| format!("--remove {p}")));
        return warn(
            what.join("; "),
            format!(
                "{}\n# or let passthru make the same change: passthru kernel-args {} --yes",
                kernel_args(h, &add, &rm),
                flags.join(" ")
            ),
        );
    }
    // Nothing asked through passthru: the boot configuration against the running kernel.
    let Some(next) = next else {
        return Vec::new();
    };
    let pending: Vec<&str> = next
        .iter()
        .map(String::as_str)
        .filter(|w| relevant(w) && !running.contains(w))
        .collect();
    let dropped: Vec<&str> = running
        .iter()
        .copied()
        .filter(|w| relevant(w) && !next.iter().any(|n| n == w))
        .collect();
    if pending.is_empty() && dropped.is_empty() {
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Pass,
            LABEL,
            format!(
                "the running kernel has the IOMMU and vfio arguments of {}",
                config_name(h)
            ),
        )];
    }
    let mut what = Vec::new();
    if !pending.is_empty() {
        what.push(format!(
            "{} gives the next boot {}, which the running kernel does not have",
            config_name(h),
            pending.join(" ")
        ));
    }
    if !dropped.is_empty() {
        what.push(format!(
            "the next boot loses {}: the running kernel has {}, {} does not",
            dropped.join(" "),
            if dropped.len() == 1 { "it" } else { "them" },
            config_name(h)
        ));
    }
    let mut fix = String::new();
    if !dropped.is_empty() {
        // The running kernel has it: putting it back needs no reboot.
        fix.push_str(&format!(
            "# to keep {} (the running kernel has {}), put {} back:\n{}\n# if no longer wanted, nothing to do: the next boot goes without {}",
            dropped.join(" "),
            if dropped.len() == 1 { "it" } else { "them" },
            if dropped.len() == 1 { "it" } else { "them" },
            kernel_args_config(h, &dropped, &[]),
            if dropped.len() == 1 { "it" } else { "them" },
        ));
    }
    if !pending.is_empty() {
        if !fix.is_empty() {
            fix.push('\n');
        }
        fix.push_str(&kernel_args(h, &[], &[]));
    }
    warn(format!("reboot pending: {}", what.join("; ")), fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(add: &[&str], remove: &[&str]) -> KernelArgsAsked {
        KernelArgsAsked {
            source: "var/lib/passthru/journal/1".into(),
            command: "passthru kernel-args".into(),
            when: None,
            add: add.iter().map(|s| s.to_string()).collect(),
            remove: remove.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn later_requests_override_earlier_ones() {
        let (add, remove) = fold(&[
            asked(&["intel_iommu=on", "iommu=pt"], &["iommu=off"]),
            asked(&[], &["iommu"]),
        ]);
        assert_eq!(add, vec!["intel_iommu=on"]);
        assert_eq!(remove, vec!["iommu=off", "iommu"]);
        let (add, remove) = fold(&[asked(&[], &["iommu=pt"]), asked(&["iommu=pt"], &[])]);
        assert_eq!(add, vec!["iommu=pt"]);
        assert!(remove.is_empty());
    }

    #[test]
    fn relevant_words() {
        for w in [
            "intel_iommu=on",
            "iommu=pt",
            "iommu.passthrough=1",
            "vfio-pci.ids=10de:1b80",
            "vfio_iommu_type1.allow_unsafe_interrupts=1",
            "modprobe.blacklist=nouveau",
            "intremap=off",
            "pcie_acs_override=downstream",
        ] {
            assert!(relevant(w), "{w}");
        }
        for w in [
            "quiet",
            "root=/dev/sda1",
            "BOOT_IMAGE=/vmlinuz",
            "ro",
            "crashkernel=auto",
        ] {
            assert!(!relevant(w), "{w}");
        }
    }
}
