//! `iommu.no-passthrough-mode`: `iommu=pt` (advised): host devices keep identity DMA
//! mappings, so only devices given to guests pay for IOMMU translation.

use crate::checks::args;
use crate::checks::fix::{kernel_args, passthrough_arg};
use crate::checks::host::unknown;
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Host,
    summary: "iommu=pt is set (advised)",
    run: check,
};

/// Stable id.
pub const ID: &str = "iommu.no-passthrough-mode";
const LABEL: &str = "for IOMMU passthrough mode (iommu=pt)";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    if h.kernel_cmdline.is_none() && !h.system.collected {
        return vec![unknown(ID, LABEL)];
    }
    let running = args::running(h);
    let arg = passthrough_arg(h.system.cpu.vendor);
    let (key, val) = arg.split_once('=').unwrap_or((arg, ""));
    let on_cmdline = args::has(running, key, val);
    let identity = h
        .iommu_groups
        .iter()
        .any(|g| g.kind.as_deref() == Some("identity"));
    if on_cmdline || identity {
        let how = if on_cmdline {
            format!("{arg} on the kernel command line")
        } else {
            "host devices use identity (passthrough) IOMMU domains".to_string()
        };
        return vec![Finding::new(ID, Section::Host, Severity::Pass, LABEL, how)];
    }
    if h.system.collected && !crate::checks::host::iommu_active(h) {
        // No IOMMU, no translation to skip: the kernel-disabled fix comes first.
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Info,
            LABEL,
            format!("{arg} is not set, which matters only once the kernel has an IOMMU enabled"),
        )
        .fix("Turn the IOMMU on first (the fix of iommu.kernel-disabled, which adds it where the kernel needs arguments)")];
    }
    vec![Finding::new(
        ID,
        Section::Host,
        Severity::Info,
        LABEL,
        format!("{arg} is not set: devices the host keeps also go through IOMMU translation"),
    )
    .why("passthrough mode avoids IOMMU translation overhead for the host's own devices; guests' devices are isolated either way")
    .fix(kernel_args(h, &[arg], &[]))]
}
