//! `passthru bind DEV... --vfio | --driver NAME | --host`: move devices between drivers.

use crate::change::{
    change_facts, change_root, installed_host_file, refused, ssh_connection, Change, ChangeArgs,
};
use crate::context::Ctx;
use anyhow::Result;
use passthru::change::bind::{plan_bind, BindRequest, BindTarget};
use passthru::change::persist::after_reboot_bind;
use passthru::change::plan::Plan;
use passthru::change::ChangeError;
use passthru::host::resolve;
use passthru::pci::PciAddress;
use passthru::Host;
use std::path::Path;
use std::process::ExitCode;

/// Arguments of `passthru bind`.
#[derive(clap::Args, Debug)]
#[command(
    group(clap::ArgGroup::new("target").required(true).args(["vfio", "driver", "host"])),
    after_help = "\
Each device gets driver_override, is unbound from its driver, and is probed again, so
only the named driver can take it; the override stays, so a rescan does not give it
back. vfio-pci takes whole IOMMU groups: every endpoint of a group must move together
(--group adds the other functions of the same card); a group shared with another
device is refused, naming it. The NIC that carries the default route or this SSH
session is refused unless --force.

Examples:
  passthru bind 0000:81:00.0 0000:81:00.1 --vfio -y   a GPU and its audio function
  passthru bind 81:00.0 --group --vfio -y             the same
  passthru bind 07:10.3 --host -y                     back to the host driver (igbvf)")]
pub struct Args {
    /// Devices: addresses, interface names, or vendor:device (every match).
    #[arg(value_name = "DEV", required = true)]
    pub devices: Vec<String>,
    /// Bind to vfio-pci, for guests.
    #[arg(long)]
    pub vfio: bool,
    /// Bind to this driver.
    #[arg(long, value_name = "NAME")]
    pub driver: Option<String>,
    /// Give back to the driver the kernel picks by id (clears driver_override).
    #[arg(long)]
    pub host: bool,
    /// Also move the other functions of the same devices that share their IOMMU group.
    #[arg(long)]
    pub group: bool,
    /// Common change options.
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// Plans moving devices between drivers (what `passthru bind` and the
/// `passthru_bind` module both run): the devices that move and the plan;
/// `Err(ChangeError)` inside is a refusal.
pub fn plan(
    ctx: &Ctx,
    root: &Path,
    devices: &[String],
    target: BindTarget,
    with_group: bool,
    change: &ChangeArgs,
) -> Result<Result<(Vec<PciAddress>, Plan), ChangeError>> {
    let host = ctx.host()?;
    let devices: Vec<PciAddress> = resolve::resolve_all(host, devices)?
        .iter()
        .map(|d| d.address)
        .collect();
    let facts = change_facts(root)?;
    let ssh = ssh_connection();
    let req = BindRequest {
        devices,
        target,
        with_group,
        force: change.force,
        timeout_secs: change.timeout,
    };
    let to_vfio = req.target == BindTarget::Vfio;
    let mut plan = match plan_bind(host, &facts, &req, ssh.as_deref()) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let moved: Vec<PciAddress> = plan
        .expect
        .iter()
        .filter_map(|e| match e {
            passthru::change::plan::Expect::Driver { device, .. } => Some(*device),
            _ => None,
        })
        .collect();
    if !plan.is_empty() {
        let installed = installed_host_file(root, &mut plan);
        after_reboot_bind(host, installed.as_ref(), &moved, to_vfio, &mut plan);
    }
    Ok(Ok((moved, plan)))
}

/// The target a driver name means (`vfio-pci` and `vfio_pci` are vfio-pci).
pub fn target_for(driver: &str) -> BindTarget {
    if driver == "vfio-pci" || driver == "vfio_pci" {
        BindTarget::Vfio
    } else {
        BindTarget::Driver(driver.to_string())
    }
}

/// What `bind` says after a change: each moved device's driver and group.
pub fn summary(h: &Host, moved: &[PciAddress]) -> Vec<String> {
    moved
        .iter()
        .filter_map(|a| h.device(a))
        .map(|d| {
            format!(
                "{} is on {} (IOMMU group {})",
                d.address,
                d.driver.as_deref().unwrap_or("no driver"),
                d.iommu_group
                    .map(|g| g.to_string())
                    .unwrap_or_else(|| "none".into())
            )
        })
        .collect()
}

/// Runs `passthru bind`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let root = change_root(ctx, "bind")?;
    let target = if args.vfio {
        BindTarget::Vfio
    } else if let Some(d) = &args.driver {
        target_for(d)
    } else {
        BindTarget::Host
    };
    let (moved, plan) = match plan(ctx, &root, &args.devices, target, args.group, &args.change)? {
        Ok(p) => p,
        Err(e) => return refused(ctx, "bind", e),
    };
    Change {
        name: "bind",
        root,
        args: &args.change,
        undoes: None,
    }
    .run(ctx, plan, &mut |_, _| Ok(Default::default()), &|h| {
        summary(h, &moved)
    })
}
