//! Host-level checks: CPU, firmware, kernel IOMMU, interrupt remapping, vfio.

pub mod cpu_virtualization;
pub mod interrupt_remapping;
pub mod iommu_firmware;
pub mod iommu_kernel;
pub mod iommu_passthrough_mode;
pub mod kvm_device;
pub mod noiommu_mode;
pub mod reboot_pending;
pub mod unsafe_interrupts;
pub mod vfio_container;
pub mod vfio_modules;

use crate::checks::{Finding, Section, Severity};
use crate::host::model::Host;

/// The finding for facts this source does not have (lspci text, old snapshots).
pub fn unknown(id: &'static str, check: &str) -> Finding {
    Finding::new(
        id,
        Section::Host,
        Severity::Info,
        check,
        "not known from these facts (read a host root or a full snapshot to check this)",
    )
}

/// The finding for a file the root does not have (a partial tree, a container).
pub fn absent(id: &'static str, check: &str, file: &str) -> Finding {
    Finding::new(
        id,
        Section::Host,
        Severity::Info,
        check,
        format!("cannot tell: this root has no {file}"),
    )
}

/// Whether the kernel has an IOMMU enabled: groups exist, or IOMMU units are registered.
pub fn iommu_active(host: &Host) -> bool {
    !host.iommu_groups.is_empty() || !host.system.iommu_units.is_empty()
}

/// Whether the host's CPU has hardware virtualization flags.
pub fn has_virt_flags(host: &Host) -> bool {
    let c = &host.system.cpu;
    c.has("vmx") || c.has("svm") || c.has("sie")
}

/// The sentence added when this host is itself a guest.
pub fn guest_note(host: &Host) -> &'static str {
    if host.system.cpu.has("hypervisor") {
        " This host is itself a virtual machine (cpuinfo flag 'hypervisor')."
    } else {
        ""
    }
}
