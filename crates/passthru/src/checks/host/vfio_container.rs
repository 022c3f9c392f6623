//! `vfio.no-container`: `/dev/vfio/vfio` exists (the vfio container QEMU opens).

use crate::checks::host::unknown;
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Host,
    summary: "/dev/vfio/vfio exists",
    run: check,
};

/// Stable id.
pub const ID: &str = "vfio.no-container";
const LABEL: &str = "if device /dev/vfio/vfio exists";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    if !h.system.collected {
        return vec![unknown(ID, LABEL)];
    }
    if h.system.dev.has_vfio("vfio") {
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Pass,
            LABEL,
            "/dev/vfio/vfio present",
        )];
    }
    let vfio_loaded = h.system.modules.present("vfio") == Some(true);
    let (severity, msg, fix) = if h.system.modules.installed("vfio") == Some(false) {
        (
            Severity::Warn,
            "/dev/vfio/vfio does not exist: this kernel has no vfio module",
            "Install or boot a kernel with vfio first (see vfio.modules-missing)",
        )
    } else if vfio_loaded {
        (
            Severity::Fail,
            "vfio is loaded but /dev/vfio/vfio does not exist (a kernel without CONFIG_VFIO_CONTAINER, or udev did not create it)",
            "ls -l /dev/vfio; udevadm trigger --subsystem-match=misc\nIf the kernel has only iommufd (no VFIO container), use a libvirt/QEMU that opens /dev/iommu, or a kernel with CONFIG_VFIO_CONTAINER=y",
        )
    } else {
        (
            Severity::Warn,
            "/dev/vfio/vfio does not exist: the vfio module is not loaded",
            "modprobe vfio-pci   # loads vfio and creates /dev/vfio/vfio",
        )
    };
    vec![Finding::new(ID, Section::Host, severity, LABEL, msg)
        .why("QEMU opens /dev/vfio/vfio (the container) and /dev/vfio/N (the group) to use an assigned device")
        .fix(fix)]
}
