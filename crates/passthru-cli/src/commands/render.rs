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
    }
}
