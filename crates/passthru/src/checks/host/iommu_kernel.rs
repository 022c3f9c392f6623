//! `iommu.kernel-disabled`: the kernel has the IOMMU on (IOMMU groups exist), and if
//! not, why: an `=off` argument, a missing `intel_iommu=on`, or no firmware table.

use crate::checks::args;
use crate::checks::fix::{firmware_iommu_setting, iommu_args, kernel_args};
use crate::checks::host::{iommu_active, unknown};
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::system::CpuVendor;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Host,
    summary: "the kernel has the IOMMU enabled (IOMMU groups exist)",
    run: check,
};

/// Stable id.
pub const ID: &str = "iommu.kernel-disabled";
const LABEL: &str = "if IOMMU is enabled by kernel";
const WHY: &str = "without an active IOMMU there are no IOMMU groups and vfio-pci cannot give any device to a guest";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    let s = &h.system;
    if iommu_active(h) {
        let units: Vec<&str> = s.iommu_units.iter().map(|u| u.name.as_str()).collect();
        let mut msg = format!("{} IOMMU groups", h.iommu_groups.len());
        if !units.is_empty() {
            msg.push_str(&format!(" on {}", units.join(", ")));
        }
        return vec![Finding::new(ID, Section::Host, Severity::Pass, LABEL, msg)];
    }
    if !s.collected {
        return vec![unknown(ID, LABEL)];
    }
    let running = args::running(h);
    let vendor = s.cpu.vendor;
    let fail = |msg: String, fix: String| {
        vec![Finding::new(ID, Section::Host, Severity::Fail, LABEL, msg)
            .why(WHY)
            .fix(fix)]
    };
    let wanted = iommu_args(vendor);
    let off = args::iommu_off_args(running);
    if !off.is_empty() {
        let rm: Vec<&str> = off.iter().map(String::as_str).collect();
        return fail(
            format!(
                "no IOMMU groups: the kernel command line turns the IOMMU off ({})",
                off.join(" ")
            ),
            kernel_args(h, &wanted, &rm),
        );
    }
    let table = crate::checks::host::iommu_firmware::table_for(vendor);
    let table_missing = s.acpi.readable
        && match table {
            Some("DMAR") => !s.acpi.dmar,
            Some("IVRS") => !s.acpi.ivrs,
            Some("IORT") => !s.acpi.iort,
            _ => !(s.acpi.dmar || s.acpi.ivrs || s.acpi.iort),
        };
    if table_missing {
        let mut fix = if s.cpu.has("hypervisor") {
            "Give this VM a virtual IOMMU on the outer hypervisor (see iommu.no-firmware-table)"
                .to_string()
        } else {
            format!(
                "Enable {} in the firmware (BIOS/UEFI) setup",
                firmware_iommu_setting(vendor)
            )
        };
        if vendor == CpuVendor::Intel && !args::has(running, "intel_iommu", "on") {
            fix.push_str(", then:\n");
            fix.push_str(&kernel_args(h, &wanted, &[]));
        }
        return fail(
            format!(
                "no IOMMU groups: the kernel has no IOMMU enabled, because the firmware publishes no {} table",
                table.unwrap_or("IOMMU")
            ),
            fix,
        );
    }
    if vendor == CpuVendor::Intel && !args::has(running, "intel_iommu", "on") {
        let configured = args::next_boot(h)
            .split_whitespace()
            .any(|w| w == "intel_iommu=on");
        let msg = if configured {
            "no IOMMU groups: intel_iommu=on is in the boot configuration but not on the running kernel's command line (not applied or not rebooted yet)"
        } else {
            "no IOMMU groups: this Intel host boots without intel_iommu=on"
        };
        return fail(msg.to_string(), kernel_args(h, &wanted, &[]));
    }
    fail(
        "no IOMMU groups although the firmware has an IOMMU table and the command line does not turn it off: the kernel may lack IOMMU support (CONFIG_INTEL_IOMMU / CONFIG_AMD_IOMMU)".to_string(),
        format!(
            "Check the kernel log: `dmesg | grep -e DMAR -e AMD-Vi -e IOMMU`; boot a distribution kernel built with IOMMU support; then:\n{}",
            kernel_args(h, &wanted, &[])
        ),
    )
}
