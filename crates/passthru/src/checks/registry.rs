//! Every check, in report order. Add a check here and nowhere else.

use crate::checks::{config, conflict, device, host, sriov, Context, Finding, Section};

/// A registered check.
#[derive(Clone, Copy, Debug)]
pub struct Check {
    /// Stable id (also the id of every finding it returns).
    pub id: &'static str,
    /// Report section.
    pub section: Section,
    /// One line saying what it looks for.
    pub summary: &'static str,
    /// The check.
    pub run: fn(&Context) -> Vec<Finding>,
}

/// Every check, in report order.
pub const CHECKS: &[Check] = &[
    host::cpu_virtualization::CHECK,
    host::kvm_device::CHECK,
    host::iommu_firmware::CHECK,
    host::iommu_kernel::CHECK,
    host::iommu_passthrough_mode::CHECK,
    host::reboot_pending::CHECK,
    host::interrupt_remapping::CHECK,
    host::unsafe_interrupts::CHECK,
    host::noiommu_mode::CHECK,
    host::vfio_modules::CHECK,
    host::vfio_container::CHECK,
    device::group_isolated::CHECK,
    device::driver::CHECK,
    device::vfio_group_node::CHECK,
    device::reset::CHECK,
    device::boot_vga::CHECK,
    device::numa::CHECK,
    device::default_route::CHECK,
    device::nova_listed::CHECK,
    device::guest_use::CHECK,
    sriov::pf_carrier::CHECK,
    sriov::vfs_missing::CHECK,
    sriov::pf_driver::CHECK,
    config::vfio_ids::CHECK,
    config::blacklist::CHECK,
    config::nova_fatal::CHECK,
    config::nova_device_spec::CHECK,
    config::qemu_acl::CHECK,
    conflict::vf_count::CHECK,
    conflict::driver::CHECK,
];

/// The check with an id.
pub fn find(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        for id in &ids {
            let (area, name) = id.split_once('.').expect("area.name");
            assert!(!area.is_empty() && !name.is_empty());
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '-'),
                "{id}"
            );
        }
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate check id");
    }
}
