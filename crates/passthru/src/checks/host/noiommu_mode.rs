//! `vfio.noiommu-mode`: vfio's no-IOMMU mode is off (a security check).

use crate::checks::host::unknown;
use crate::checks::host::unsafe_interrupts::configured_on;
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::sources::system::modprobe::option_values;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Host,
    summary: "vfio no-IOMMU mode is off",
    run: check,
};

/// Stable id.
pub const ID: &str = "vfio.noiommu-mode";
const LABEL: &str = "if vfio no-IOMMU mode is off";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    if !h.system.collected {
        return vec![unknown(ID, LABEL)];
    }
    let live = h.system.vfio_params.enable_unsafe_noiommu_mode;
    let configured = configured_on(ctx, "vfio", "enable_unsafe_noiommu_mode");
    let noiommu_nodes: Vec<&String> = h
        .system
        .dev
        .vfio
        .iter()
        .flatten()
        .filter(|n| n.starts_with("noiommu-"))
        .collect();
    if live != Some(true) && configured.is_empty() && noiommu_nodes.is_empty() {
        let msg = match (live, h.system.modules.present("vfio")) {
            (Some(false), _) => "enable_unsafe_noiommu_mode=N",
            (None, Some(true)) => {
                "this vfio has no no-IOMMU mode (built without CONFIG_VFIO_NOIOMMU)"
            }
            (None, Some(false)) => "not set: vfio is not loaded and modprobe.d does not set it",
            _ => "not set: no such parameter under sys/module and none in modprobe.d",
        };
        return vec![Finding::new(ID, Section::Host, Severity::Pass, LABEL, msg)];
    }
    let mut parts = Vec::new();
    if live == Some(true) {
        parts.push("vfio enable_unsafe_noiommu_mode=Y now".to_string());
    }
    if !configured.is_empty() {
        parts.push(format!("set to 1 in {}", configured.join(", ")));
    }
    if !noiommu_nodes.is_empty() {
        parts.push(format!(
            "no-IOMMU groups in use: {}",
            noiommu_nodes
                .iter()
                .map(|n| format!("/dev/vfio/{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut fix: Vec<String> =
        option_values(&h.system.modprobe, "vfio", "enable_unsafe_noiommu_mode")
            .into_iter()
            .map(|(d, _)| {
                format!(
                    "sed -i '{}s/enable_unsafe_noiommu_mode=[^ ]*//' /{}",
                    d.line, d.file
                )
            })
            .collect();
    if live == Some(true) {
        fix.push("echo 0 > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode  # after releasing the no-IOMMU devices".into());
    }
    fix.push("Turn the IOMMU on instead (see iommu.kernel-disabled)".into());
    vec![Finding::new(ID, Section::Host, Severity::Warn, LABEL, parts.join("; "))
        .why("no-IOMMU mode gives user space raw DMA to all of host memory: no isolation at all, and the kernel is tainted. It is not for guests")
        .fix(fix.join("\n"))]
}
