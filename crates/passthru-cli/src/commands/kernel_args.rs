//! `passthru kernel-args`: IOMMU (and other) arguments on the kernel command line,
//! through the host's boot loader tooling.

use crate::change::{change_facts, change_root, refused, Change, ChangeArgs};
use crate::context::Ctx;
use anyhow::Result;
use passthru::change::kernel_args::{plan_kernel_args, KernelArgsRequest};
use std::process::ExitCode;

/// Arguments of `passthru kernel-args`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The IOMMU argument depends on the CPU: intel_iommu=on on Intel; AMD-Vi and Arm SMMUs
are on by default. The change goes through grubby (Fedora/RHEL), etc/kernel/cmdline
(systemd-boot, proxmox-boot-tool), or etc/default/grub followed by update-grub or
grub2-mkconfig -o the grub.cfg this host boots from (BIOS or UEFI). It takes effect
at the next boot; `passthru doctor` compares proc/cmdline with it afterwards.

Under --root other than /, boot tools run only if the root holds them (see docs).

Examples:
  passthru kernel-args --iommu --pt           show the plan
  passthru kernel-args --iommu --pt -y        do it
  passthru kernel-args --add pci=realloc -y   room for VF BARs (ENOMEM on sriov_numvfs)

A change that switches the IOMMU off (intel_iommu=off, iommu=off, intel_iommu=on
removed on Intel) or takes vfio out of the boot (vfio-pci.ids removed, vfio
blacklisted) is refused without --force.")]
pub struct Args {
    /// Turn the IOMMU on (the argument for this CPU's vendor).
    #[arg(long)]
    pub iommu: bool,
    /// Add iommu=pt (host devices bypass translation; guests stay isolated).
    #[arg(long)]
    pub pt: bool,
    /// Add one argument (repeatable; no spaces). `key=value` replaces the key's
    /// other values (one value per key; consoles, modprobe.blacklist and rd.* add up).
    #[arg(long, value_name = "ARG")]
    pub add: Vec<String>,
    /// Remove an argument; `key` removes every `key=...` (repeatable).
    #[arg(long, value_name = "ARG")]
    pub remove: Vec<String>,
    /// Common change options.
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// Runs `passthru kernel-args`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let root = change_root(ctx, "kernel-args")?;
    let host = ctx.host()?;
    let facts = change_facts(&root)?;
    let req = KernelArgsRequest {
        iommu: args.iommu,
        pt: args.pt,
        add: args.add.clone(),
        remove: args.remove.clone(),
        force: args.change.force,
    };
    let plan = match plan_kernel_args(host, &facts, &req) {
        Ok(p) => p,
        Err(e) => return refused(ctx, "kernel-args", e),
    };
    Change {
        name: "kernel-args",
        root,
        args: &args.change,
        undoes: None,
    }
    .run(ctx, plan, &mut |_, _| Ok(Default::default()), &|_| {
        Vec::new()
    })
}
