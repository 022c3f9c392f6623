//! `passthru render ...`: configuration for the tools that consume passthrough.

use crate::context::Ctx;
use std::process::ExitCode;

/// What to render.
#[derive(clap::Subcommand, Debug)]
pub enum RenderCommand {
    /// nova.conf [pci] device_spec / alias lines, enabled_filters, the flavor command.
    Nova(super::render_nova::Args),
    /// A libvirt <hostdev> (or <interface type='hostdev'>) for each device.
    Libvirt(super::render_libvirt::Args),
    /// OpenNebula's PCI probe filter and VM template lines.
    Opennebula(super::render_opennebula::Args),
    /// qemu.conf cgroup_device_acl with the devices' /dev/vfio nodes.
    QemuAcl(super::render_qemu_acl::Args),
    /// modprobe.d: options vfio-pci ids=, softdeps and blacklists (the file `apply` writes).
    Modprobe(super::render_boot::ModprobeArgs),
    /// The systemd unit `apply` installs (runs `passthru apply --boot` early at boot).
    Systemd(super::render_boot::SystemdArgs),
    /// neutron SR-IOV ports: the agent's physical_device_mappings and exclude_devices,
    /// ML2's mechanism_drivers, and nova's device_spec with the same physical_network.
    NeutronSriov(super::render_sriov::NeutronArgs),
    /// The SR-IOV network device plugin's resourceList ConfigMap for VFs.
    K8sDevicePlugin(super::render_sriov::K8sArgs),
}

/// Arguments of a renderer not in this build yet.
#[derive(clap::Args, Debug)]
pub struct Placeholder {
    /// Arguments, to be defined.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

/// Runs a renderer.
pub fn run(ctx: &Ctx, cmd: RenderCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RenderCommand::Nova(a) => super::render_nova::run(ctx, a),
        RenderCommand::Libvirt(a) => super::render_libvirt::run(ctx, a),
        RenderCommand::Opennebula(a) => super::render_opennebula::run(ctx, a),
        RenderCommand::QemuAcl(a) => super::render_qemu_acl::run(ctx, a),
        RenderCommand::Modprobe(a) => super::render_boot::run_modprobe(ctx, a),
        RenderCommand::Systemd(a) => super::render_boot::run_systemd(ctx, a),
        RenderCommand::NeutronSriov(a) => super::render_sriov::run_neutron(ctx, a),
        RenderCommand::K8sDevicePlugin(a) => super::render_sriov::run_k8s(ctx, a),
    }
}
