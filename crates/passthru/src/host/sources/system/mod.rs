//! Reads host-level facts ([`SystemFacts`](crate::host::system::SystemFacts)) from a
//! root: one file per kind of fact. Parsers are plain functions over text, tested on
//! strings; the `read_*` functions only fetch the text through the [`Root`].

pub mod boot;
pub mod cpu;
pub mod firmware;
pub mod kernel_log;
pub mod libvirt;
pub mod modprobe;
pub mod modules;
pub mod nova;
pub mod passthru_state;
pub mod qemu;
pub mod route;

use crate::host::model::Host;
use crate::host::root::Root;

pub use kernel_log::read_kernel_log_file;

/// Fills `host.system` from the root. Never fails: what cannot be read stays unknown.
pub fn read_system(root: &Root, host: &mut Host) {
    let s = &mut host.system;
    s.collected = true;
    s.kernel_release = root
        .read_string("proc/sys/kernel/osrelease")
        .ok()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    s.cpu = cpu::read_cpu(root);
    s.acpi = firmware::read_acpi_tables(root);
    s.iommu_units = firmware::read_iommu_units(root);
    s.modprobe = modprobe::read_modprobe(root);
    s.modules = modules::read_modules(root, s.kernel_release.as_deref(), &s.modprobe);
    s.vfio_params = modules::read_vfio_params(root);
    s.dev = modules::read_dev_nodes(root);
    s.boot = boot::read_boot(root);
    s.nova = nova::read_nova_conf(root);
    s.qemu_conf = qemu::read_qemu_conf(root);
    s.default_route_interfaces = route::read_default_routes(root);
    s.default_route_lowers = route::read_route_lowers(
        root,
        s.default_route_interfaces.as_deref().unwrap_or_default(),
    );
    s.libvirt_domains = libvirt::read_domains(root);
    s.kernel_args_asked = passthru_state::read_kernel_args_asked(root, s.cpu.vendor);
    s.kernel_log = kernel_log::read_live_kernel_log(root);
    s.owners = crate::host::sources::owners::read_owners(root);
}
