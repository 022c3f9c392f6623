//! Renderers: configuration text other tools read, built from host facts.
//! Pure functions; the command line prints them (or writes them with a backup).

pub mod k8s_device_plugin;
pub mod neutron_sriov;
pub mod opennebula;
pub mod qemu_acl;
pub mod report;
pub mod topo;

use crate::pci::PciAddress;

/// Why a renderer refused.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A device without an IOMMU group (the IOMMU is off).
    #[error("{0} has no IOMMU group: the IOMMU is off or unsupported, so vfio cannot assign it; enable it (passthru kernel-args) and reboot")]
    NoGroup(PciAddress),
    /// Nothing to render.
    #[error("no device given")]
    NoDevices,
}
