//! Configuration checks: modprobe.d, nova.conf, qemu.conf against the host's devices.

pub mod blacklist;
pub mod nova_device_spec;
pub mod nova_fatal;
pub mod qemu_acl;
pub mod vfio_ids;

use crate::host::model::Host;

/// The command that rebuilds the initramfs on this host (modprobe.d is copied into it).
pub fn initramfs_cmd(host: &Host) -> &'static str {
    let b = &host.system.boot;
    if b.has_tool("update-initramfs") {
        "update-initramfs -u -k all"
    } else if b.has_tool("dracut") {
        "dracut -f --regenerate-all"
    } else if b.has_tool("mkinitcpio") {
        "mkinitcpio -P"
    } else {
        "# rebuild the initramfs (update-initramfs -u / dracut -f / mkinitcpio -P)"
    }
}
