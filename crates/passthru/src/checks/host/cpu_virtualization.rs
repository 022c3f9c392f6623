//! `cpu.no-virtualization`: the CPU offers hardware virtualization (VT-x `vmx`,
//! AMD-V `svm`, s390 `sie`), as virt-host-validate's first check.

use crate::checks::fix::firmware_virt_setting;
use crate::checks::host::{guest_note, has_virt_flags, unknown};
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::system::CpuVendor;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Host,
    summary: "CPU has hardware virtualization (vmx/svm)",
    run: check,
};

/// Stable id.
pub const ID: &str = "cpu.no-virtualization";
const LABEL: &str = "for hardware virtualization";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    let s = &h.system;
    if !s.collected {
        return vec![unknown(ID, LABEL)];
    }
    if has_virt_flags(h) {
        let flag = ["vmx", "svm", "sie"]
            .into_iter()
            .find(|f| s.cpu.has(f))
            .unwrap_or("");
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Pass,
            LABEL,
            format!("CPU flag '{flag}' present"),
        )];
    }
    match s.cpu.vendor {
        // Arm and POWER print no virtualization flag; /dev/kvm decides there.
        CpuVendor::Arm | CpuVendor::Other => vec![Finding::new(
            ID,
            Section::Host,
            Severity::Info,
            LABEL,
            "this CPU architecture shows no virtualization flag in cpuinfo; see /dev/kvm",
        )],
        CpuVendor::Unknown if s.cpu.vendor_id.is_none() => {
            vec![crate::checks::host::absent(ID, LABEL, "proc/cpuinfo")]
        }
        vendor => {
            let guest = s.cpu.has("hypervisor");
            let fix = if guest {
                format!(
                    "On the outer hypervisor, enable nested virtualization and give this VM the host CPU model \
(KVM: `echo 'options {} nested=1' > /etc/modprobe.d/kvm-nested.conf`, reload the module, \
and <cpu mode='host-passthrough'/> in the VM's libvirt XML); then restart this VM",
                    crate::checks::fix::kvm_module(vendor)
                )
            } else {
                format!(
                    "Enable {} in the firmware (BIOS/UEFI) setup, then power-cycle the host",
                    firmware_virt_setting(vendor)
                )
            };
            vec![Finding::new(
                ID,
                Section::Host,
                Severity::Fail,
                LABEL,
                format!(
                    "no vmx/svm flag in /proc/cpuinfo: only emulated CPUs are available.{}",
                    guest_note(h)
                ),
            )
            .why("KVM needs VT-x or AMD-V; without it guests run under slow emulation and cannot use assigned devices")
            .fix(fix)]
        }
    }
}
