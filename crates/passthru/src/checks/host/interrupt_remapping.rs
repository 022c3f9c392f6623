//! `iommu.no-interrupt-remapping`: the IOMMU remaps interrupts. Without it a device
//! given to a guest can inject arbitrary interrupts (MSI) into the host, and
//! vfio_iommu_type1 refuses devices unless `allow_unsafe_interrupts` is set.
//!
//! Evidence, strongest first: `intremap=off`/`nointremap` on the command line; the
//! vfio refusal in the kernel log; the IR bit (3) of each Intel unit's `ecap`; the
//! kernel's "Enabled IRQ remapping" / "Interrupt remapping enabled" lines.

use crate::checks::args;
use crate::checks::fix::kernel_args;
use crate::checks::host::{iommu_active, unknown};
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::system::CpuVendor;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Host,
    summary: "the IOMMU remaps interrupts",
    run: check,
};

/// Stable id.
pub const ID: &str = "iommu.no-interrupt-remapping";
const LABEL: &str = "for interrupt remapping";
const WHY: &str = "without interrupt remapping a guest's device can send interrupts (MSI writes) the host never allowed, and vfio refuses to assign devices unless allow_unsafe_interrupts=1";

/// Kernel log lines that say remapping is on.
pub const ENABLED_LINES: &[&str] = &[
    "Enabled IRQ remapping in",
    "Interrupt remapping enabled",
    "Enabled Interrupt-remapping",
];

/// The kernel log line vfio prints when it refuses a group for want of remapping.
pub const VFIO_REFUSAL: &str = "No interrupt remapping support";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    let s = &h.system;
    if !s.collected && h.iommu_groups.is_empty() {
        return vec![unknown(ID, LABEL)];
    }
    if !iommu_active(h) {
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Info,
            LABEL,
            "cannot tell while the kernel has no IOMMU enabled: see iommu.kernel-disabled",
        )
        .fix("Turn the IOMMU on first (the fix of iommu.kernel-disabled), then run `passthru doctor` again")];
    }
    let firmware_fix = "Enable interrupt remapping (often listed with VT-d / IOMMU, and x2APIC) in the firmware setup and power-cycle; \
if the platform has none, these devices cannot be isolated: keep them on the host (allow_unsafe_interrupts=1 works around vfio's refusal but lets a guest forge interrupts)";
    let fail = |msg: String, fix: String| {
        vec![Finding::new(ID, Section::Host, Severity::Fail, LABEL, msg)
            .why(WHY)
            .fix(fix)]
    };
    if let Some(off) = args::intremap_off_arg(args::running(h)) {
        return fail(
            format!("interrupt remapping is turned off on the kernel command line ({off})"),
            kernel_args(h, &[], &[off.as_str()]),
        );
    }
    let log = s.kernel_log.as_ref();
    if let Some(line) = log.and_then(|l| l.find(VFIO_REFUSAL)) {
        return fail(
            format!(
                "the kernel log shows vfio refusing a device: \"{}\"",
                line.trim()
            ),
            firmware_fix.to_string(),
        );
    }
    let lacking: Vec<String> = s
        .iommu_units
        .iter()
        .filter(|u| u.interrupt_remapping() == Some(false))
        .map(|u| format!("{} (ecap {:x})", u.name, u.intel_ecap.unwrap_or(0)))
        .collect();
    if !lacking.is_empty() {
        return fail(
            format!(
                "IOMMU unit(s) without interrupt remapping support (ecap bit 3 clear): {}",
                lacking.join(", ")
            ),
            firmware_fix.to_string(),
        );
    }
    if let Some(line) = log.and_then(|l| ENABLED_LINES.iter().find_map(|e| l.find(e))) {
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Pass,
            LABEL,
            format!("kernel log: \"{}\"", line.trim()),
        )];
    }
    let with_ecap: Vec<&str> = s
        .iommu_units
        .iter()
        .filter(|u| u.interrupt_remapping() == Some(true))
        .map(|u| u.name.as_str())
        .collect();
    if !with_ecap.is_empty() {
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Pass,
            LABEL,
            format!("supported by {}: ecap bit 3 set", with_ecap.join(", ")),
        )];
    }
    let hint = if s.cpu.vendor == CpuVendor::Amd {
        "AMD-Vi IOMMUs remap interrupts unless turned off, but no kernel log was available to confirm it"
    } else {
        "no capability register or kernel log line says whether interrupts are remapped"
    };
    vec![Finding::new(ID, Section::Host, Severity::Info, LABEL, hint)
        .fix("Give the kernel log to confirm: `passthru doctor --kernel-log FILE` with FILE from `dmesg` (or run as root on the host)")]
}
