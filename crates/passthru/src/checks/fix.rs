//! Fix texts that depend on the host: kernel arguments for its bootloader, the IOMMU
//! arguments for its CPU vendor, firmware setting names. Paths are the host's own
//! (`/etc/default/grub`), since the operator pastes them there.

use crate::checks::args;
use crate::host::model::Host;
use crate::host::system::{BootConfig, Bootloader, CpuVendor};

/// The kernel arguments that turn the IOMMU on for a vendor, passthrough mode included.
pub fn iommu_args(vendor: CpuVendor) -> Vec<&'static str> {
    match vendor {
        CpuVendor::Intel => vec!["intel_iommu=on", "iommu=pt"],
        // AMD-Vi is on by default when the firmware has IVRS; iommu=pt is the advice.
        CpuVendor::Amd => vec!["iommu=pt"],
        // Arm SMMUs are on by default; passthrough mode is iommu.passthrough=1.
        CpuVendor::Arm => vec!["iommu.passthrough=1"],
        _ => vec!["iommu=pt"],
    }
}

/// The passthrough-mode argument for a vendor.
pub fn passthrough_arg(vendor: CpuVendor) -> &'static str {
    match vendor {
        CpuVendor::Arm => "iommu.passthrough=1",
        _ => "iommu=pt",
    }
}

/// The firmware setting that exposes the IOMMU, by vendor.
pub fn firmware_iommu_setting(vendor: CpuVendor) -> &'static str {
    match vendor {
        CpuVendor::Intel => "\"Intel VT-d\" (Virtualization Technology for Directed I/O)",
        CpuVendor::Amd => "\"IOMMU\" / \"AMD-Vi\" (often under AMD CBS > NBIO)",
        CpuVendor::Arm => "the SMMU (and ACPI IORT)",
        _ => "the IOMMU",
    }
}

/// The firmware setting for CPU virtualization, by vendor.
pub fn firmware_virt_setting(vendor: CpuVendor) -> &'static str {
    match vendor {
        CpuVendor::Intel => "\"Intel Virtualization Technology\" (VT-x)",
        CpuVendor::Amd => "\"SVM Mode\" (AMD-V)",
        _ => "hardware virtualization",
    }
}

/// The kvm module for a vendor.
pub fn kvm_module(vendor: CpuVendor) -> &'static str {
    match vendor {
        CpuVendor::Intel => "kvm_intel",
        CpuVendor::Amd => "kvm_amd",
        _ => "kvm",
    }
}

/// `sed` that deletes one argument wherever it stands as a word (every occurrence).
fn sed_remove(arg: &str, file: &str) -> String {
    format!(
        "sed -i 's/\\<{}\\>//g' {file}",
        arg.replace('/', "\\/").replace('.', "\\.")
    )
}

fn abs(rel: &str) -> String {
    format!("/{}", rel.trim_start_matches('/'))
}

/// The command that regenerates the `grub.cfg` this host boots from, as `passthru
/// kernel-args` runs it (`change::kernel_args::grub_regen`): `update-grub` where it
/// exists; else `grub2-mkconfig`/`grub-mkconfig -o` the BIOS path, or on UEFI the
/// ESP's `grub.cfg` unless that is only a stub chaining to the BIOS path (RHEL 9+),
/// where regenerating the ESP copy would change nothing.
pub fn grub_regen(boot: &BootConfig) -> String {
    if boot.has_tool("update-grub") {
        return "update-grub".into();
    }
    let grub2 = boot.has_tool("grub2-mkconfig")
        || (!boot.has_tool("grub-mkconfig")
            && (boot.grub_defaults.iter().any(|f| f == "etc/sysconfig/grub")
                || boot
                    .grub_cfgs
                    .iter()
                    .any(|c| c.path.starts_with("boot/grub2/"))));
    if !grub2 && !boot.has_tool("grub-mkconfig") {
        // Debian and Ubuntu: update-grub is the documented way.
        return "update-grub".into();
    }
    let (prog, bios) = if grub2 {
        ("grub2-mkconfig", "boot/grub2/grub.cfg")
    } else {
        ("grub-mkconfig", "boot/grub/grub.cfg")
    };
    let target = if boot.efi {
        boot.grub_cfgs
            .iter()
            .filter(|c| {
                c.path.starts_with("boot/efi/EFI/")
                    && !c.path.starts_with("boot/efi/EFI/BOOT/")
                    && !c.stub
            })
            .map(|c| c.path.as_str())
            .next()
            .unwrap_or(bios)
    } else {
        bios
    };
    format!("{prog} -o /{target}")
}

/// Commands that add `add` and remove `remove` from the kernel command line of the
/// next boot on this host, then reboot. When the configuration already says what is
/// wanted (edited but not applied), only the regeneration and the reboot are given.
pub fn kernel_args(host: &Host, add: &[&str], remove: &[&str]) -> String {
    let mut s = kernel_args_config(host, add, remove);
    if !s.is_empty() {
        s.push('\n');
    }
    s.push_str("reboot");
    s
}

/// [`kernel_args`] without the reboot: the commands that change the next boot's
/// command line (empty when there is nothing to run).
pub fn kernel_args_config(host: &Host, add: &[&str], remove: &[&str]) -> String {
    let boot = &host.system.boot;
    let next = args::next_boot_known(host);
    // What the configuration already says needs no edit, only the regeneration.
    let add: Vec<&str> = add
        .iter()
        .copied()
        .filter(|a| next.as_ref().is_none_or(|n| !n.iter().any(|w| w == a)))
        .collect();
    // Only remove what a file holds; an argument set elsewhere (a hand-edited boot
    // entry) is reported as such.
    let mut lines: Vec<String> = Vec::new();
    let mut elsewhere: Vec<&str> = Vec::new();
    let remove_in: Vec<(&str, String)> = remove
        .iter()
        .filter_map(|r| {
            let file = boot.files.iter().find(|f| {
                // GRUB variables on GRUB hosts, etc/kernel/cmdline on kernel-install ones.
                let owned = match boot.bootloader {
                    Bootloader::KernelInstall => f.variable.is_empty(),
                    Bootloader::GrubUpdateGrub | Bootloader::GrubMkconfig => !f.variable.is_empty(),
                    _ => true,
                };
                owned && f.args.split_whitespace().any(|w| w == *r)
            });
            match file {
                Some(f) => Some((*r, abs(&f.path))),
                None => {
                    elsewhere.push(r);
                    None
                }
            }
        })
        .collect();
    let add_s = add.join(" ");
    match boot.bootloader {
        Bootloader::Grubby => {
            let rm: Vec<&str> = remove
                .iter()
                .copied()
                .filter(|r| next.as_ref().is_none_or(|n| n.iter().any(|w| w == r)))
                .collect();
            if !add.is_empty() || !rm.is_empty() {
                let mut cmd = "grubby --update-kernel=ALL".to_string();
                if !add.is_empty() {
                    cmd.push_str(&format!(" --args=\"{add_s}\""));
                }
                if !rm.is_empty() {
                    cmd.push_str(&format!(" --remove-args=\"{}\"", rm.join(" ")));
                }
                lines.push(cmd);
            }
            elsewhere.clear();
        }
        Bootloader::GrubUpdateGrub | Bootloader::GrubMkconfig => {
            for (r, f) in &remove_in {
                lines.push(sed_remove(r, f));
            }
            if !add.is_empty() {
                let var = boot
                    .files
                    .iter()
                    .rfind(|f| f.variable == "GRUB_CMDLINE_LINUX");
                match var {
                    Some(f) => lines.push(format!(
                        "sed -i 's/^GRUB_CMDLINE_LINUX=\"/&{add_s} /' {}",
                        abs(&f.path)
                    )),
                    None => lines.push(format!(
                        "echo 'GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX {add_s}\"' >> /etc/default/grub"
                    )),
                }
            }
            lines.push(grub_regen(boot));
        }
        Bootloader::KernelInstall => {
            for (r, f) in &remove_in {
                lines.push(sed_remove(r, f));
            }
            if !add.is_empty() {
                lines.push(format!("sed -i '1s/$/ {add_s}/' /etc/kernel/cmdline"));
            }
            // As `passthru kernel-args` runs it, for the running kernel.
            lines.push(if boot.has_tool("proxmox-boot-tool") {
                "proxmox-boot-tool refresh".into()
            } else if let Some(k) = &host.system.kernel_release {
                format!("kernel-install add {k} /lib/modules/{k}/vmlinuz")
            } else {
                "kernel-install add \"$(uname -r)\" \"/lib/modules/$(uname -r)/vmlinuz\"".into()
            });
        }
        Bootloader::Unknown => {
            let mut what = Vec::new();
            if !add.is_empty() {
                what.push(format!("add `{add_s}`"));
            }
            if !remove.is_empty() {
                what.push(format!("remove `{}`", remove.join(" ")));
            }
            lines.push(format!(
                "In the bootloader's kernel command line, {} (no GRUB, grubby or etc/kernel/cmdline found on this host)",
                what.join(" and ")
            ));
            elsewhere.clear();
        }
    }
    for e in elsewhere {
        lines.push(format!(
            "# {e} is on the running command line but in no boot configuration file: remove it from the boot entry that sets it"
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::system::BootArgsFile;

    fn host(bootloader: Bootloader, files: Vec<BootArgsFile>, tools: &[&str]) -> Host {
        let mut h = Host::default();
        h.system.boot.bootloader = bootloader;
        h.system.boot.files = files;
        h.system.boot.tools = tools.iter().map(|s| s.to_string()).collect();
        h
    }

    fn grub_file(args: &str) -> BootArgsFile {
        BootArgsFile {
            path: "etc/default/grub".into(),
            variable: "GRUB_CMDLINE_LINUX".into(),
            line: 6,
            args: args.into(),
        }
    }

    #[test]
    fn per_bootloader() {
        let h = host(
            Bootloader::GrubUpdateGrub,
            vec![grub_file("quiet")],
            &["update-grub"],
        );
        assert_eq!(
            kernel_args(&h, &["intel_iommu=on", "iommu=pt"], &[]),
            "sed -i 's/^GRUB_CMDLINE_LINUX=\"/&intel_iommu=on iommu=pt /' /etc/default/grub\nupdate-grub\nreboot"
        );
        let h = host(
            Bootloader::GrubUpdateGrub,
            vec![grub_file("quiet intel_iommu=off")],
            &["update-grub"],
        );
        assert_eq!(
            kernel_args(&h, &["intel_iommu=on"], &["intel_iommu=off"]),
            "sed -i 's/\\<intel_iommu=off\\>//g' /etc/default/grub\nsed -i 's/^GRUB_CMDLINE_LINUX=\"/&intel_iommu=on /' /etc/default/grub\nupdate-grub\nreboot"
        );
        let h = host(Bootloader::Grubby, vec![], &["grubby"]);
        assert_eq!(
            kernel_args(&h, &["intel_iommu=on", "iommu=pt"], &[]),
            "grubby --update-kernel=ALL --args=\"intel_iommu=on iommu=pt\"\nreboot"
        );
        // Already configured, not yet applied: regenerate and reboot only.
        let h = host(
            Bootloader::GrubUpdateGrub,
            vec![grub_file("intel_iommu=on iommu=pt")],
            &["update-grub"],
        );
        assert_eq!(
            kernel_args(&h, &["intel_iommu=on", "iommu=pt"], &[]),
            "update-grub\nreboot"
        );
        let h = host(Bootloader::KernelInstall, vec![], &["proxmox-boot-tool"]);
        assert_eq!(
            kernel_args(&h, &["iommu=pt"], &[]),
            "sed -i '1s/$/ iommu=pt/' /etc/kernel/cmdline\nproxmox-boot-tool refresh\nreboot"
        );
        // grubby: the boot entries say what the next boot gets, not etc/default/grub.
        let mut h = host(
            Bootloader::Grubby,
            vec![grub_file("intel_iommu=on iommu=pt")],
            &["grubby"],
        );
        h.system.boot.entries = vec![BootArgsFile {
            path: "boot/loader/entries/a-6.1.conf".into(),
            variable: "options".into(),
            line: 4,
            args: "root=/dev/sda1 ro iommu=pt intel_iommu=off".into(),
        }];
        assert_eq!(
            kernel_args(&h, &["intel_iommu=on", "iommu=pt"], &["intel_iommu=off", "iommu=off"]),
            "grubby --update-kernel=ALL --args=\"intel_iommu=on\" --remove-args=\"intel_iommu=off\"\nreboot"
        );
        h.system.boot.entries[0].args = "root=/dev/sda1 ro intel_iommu=on iommu=pt".into();
        assert_eq!(
            kernel_args(&h, &["intel_iommu=on", "iommu=pt"], &[]),
            "reboot"
        );
        // tuned's variable aside, the entry says it.
        h.system.boot.entries[0].args = "root=/dev/sda1 ro iommu=pt $tuned_params".into();
        assert_eq!(kernel_args(&h, &["iommu=pt"], &[]), "reboot");
        // RHEL 8 entries take their options from grubenv: not known, so grubby adds all.
        h.system.boot.entries[0].args = "$kernelopts $tuned_params".into();
        assert_eq!(
            kernel_args(&h, &["iommu=pt"], &[]),
            "grubby --update-kernel=ALL --args=\"iommu=pt\"\nreboot"
        );
        let h = host(Bootloader::Unknown, vec![], &[]);
        assert!(kernel_args(&h, &["iommu=pt"], &[])
            .starts_with("In the bootloader's kernel command line, add `iommu=pt`"));
    }
}
