//! `kvm.no-device`: `/dev/kvm` exists (the kvm module is loaded and usable).

use crate::checks::fix::kvm_module;
use crate::checks::host::{has_virt_flags, unknown};
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Host,
    summary: "/dev/kvm exists",
    run: check,
};

/// Stable id.
pub const ID: &str = "kvm.no-device";
const LABEL: &str = "if device /dev/kvm exists";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    if !h.system.collected {
        return vec![unknown(ID, LABEL)];
    }
    if !h.system.dev.dev_dir {
        return vec![crate::checks::host::absent(ID, LABEL, "dev/ directory")];
    }
    if h.system.dev.kvm {
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Pass,
            LABEL,
            "/dev/kvm present",
        )];
    }
    let module = kvm_module(h.system.cpu.vendor);
    let fix = if module == "kvm" && (has_virt_flags(h) || h.system.cpu.vendor_id.is_none()) {
        // Vendor unknown here: name both, since `kvm` alone creates no /dev/kvm.
        "modprobe kvm_intel   # kvm_amd on an AMD CPU\necho kvm_intel > /etc/modules-load.d/kvm.conf   # kvm_amd on AMD".to_string()
    } else if has_virt_flags(h) || h.system.cpu.vendor_id.is_none() {
        format!("modprobe {module}\necho {module} > /etc/modules-load.d/kvm.conf")
    } else {
        // The vendor module (kvm_intel/kvm_amd) is what creates /dev/kvm; `kvm` alone does not.
        format!("Give the CPU hardware virtualization first (see cpu.no-virtualization), then `modprobe {module}`")
    };
    vec![Finding::new(ID, Section::Host, Severity::Fail, LABEL, "/dev/kvm does not exist: the kvm module is not loaded or the CPU has no virtualization")
        .why("QEMU/libvirt need /dev/kvm to run accelerated guests; without it there is no guest to give a device to")
        .fix(fix)]
}
