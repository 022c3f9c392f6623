//! `vfio.modules-missing`: vfio, vfio_pci and an IOMMU backend (vfio_iommu_type1 or
//! iommufd) are loaded or built in; if not, whether they are installed.

use crate::checks::host::unknown;
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Host,
    summary: "vfio modules are available and loaded",
    run: check,
};

/// Stable id.
pub const ID: &str = "vfio.modules-missing";
const LABEL: &str = "for vfio modules";
const WHY: &str = "vfio-pci is the driver that hands a device to QEMU; libvirt loads it on demand, but binding at boot (driver_override, vfio-pci ids=) needs it present";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    let m = &h.system.modules;
    if !h.system.collected {
        return vec![unknown(ID, LABEL)];
    }
    if m.loaded.is_none() {
        return vec![crate::checks::host::absent(ID, LABEL, "proc/modules")];
    }
    let backend = |f: &dyn Fn(&str) -> Option<bool>| match (f("vfio_iommu_type1"), f("iommufd")) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (None, None) => None,
        _ => Some(false),
    };
    let present = [
        ("vfio", m.present("vfio")),
        ("vfio_pci", m.present("vfio_pci")),
        ("vfio_iommu_type1", backend(&|n| m.present(n))),
    ];
    let missing: Vec<&str> = present
        .iter()
        .filter(|(_, p)| *p != Some(true))
        .map(|(n, _)| *n)
        .collect();
    if missing.is_empty() {
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Pass,
            LABEL,
            "vfio, vfio_pci and vfio_iommu_type1 loaded or built in",
        )];
    }
    let release = h
        .system
        .kernel_release
        .as_deref()
        .unwrap_or("the running kernel");
    let installed: Vec<Option<bool>> = missing
        .iter()
        .map(|n| {
            if *n == "vfio_iommu_type1" {
                backend(&|x| m.installed(x))
            } else {
                m.installed(n)
            }
        })
        .collect();
    let not_installed: Vec<&str> = missing
        .iter()
        .zip(&installed)
        .filter(|(_, i)| **i == Some(false))
        .map(|(n, _)| *n)
        .collect();
    if m.no_module_support {
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Fail,
            LABEL,
            format!("kernel {release} has no loadable-module support and does not have {} built in", missing.join(", ")),
        )
        .why(WHY)
        .fix("Boot a kernel built with CONFIG_VFIO and CONFIG_VFIO_PCI (as modules or built in), e.g. the distribution's kernel")];
    }
    if !not_installed.is_empty() {
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Fail,
            LABEL,
            format!("not installed for kernel {release}: {}", not_installed.join(", ")),
        )
        .why(WHY)
        .fix(format!(
            "Install the kernel modules package for {release} (Debian/Ubuntu: `apt install linux-modules-extra-{release}` or the matching linux-image; RHEL: `dnf install kernel-modules-{release}`), or boot a kernel built with CONFIG_VFIO_PCI"
        ))];
    }
    let unknown_install = installed.iter().any(Option::is_none);
    let msg = if unknown_install {
        format!(
            "not loaded: {} (and no lib/modules/{release}/modules.dep under this root to tell whether they are installed)",
            missing.join(", ")
        )
    } else {
        format!("installed but not loaded: {}", missing.join(", "))
    };
    vec![Finding::new(ID, Section::Host, Severity::Warn, LABEL, msg)
        .why(WHY)
        .fix("modprobe vfio-pci\nprintf 'vfio\\nvfio_iommu_type1\\nvfio_pci\\n' > /etc/modules-load.d/vfio.conf")]
}
