//! `passthru render libvirt DEV...`: a `<hostdev>` (or, with `--interface`, an
//! `<interface type='hostdev'>`) per device, ready for `virsh attach-device`.

use crate::context::Ctx;
use crate::output::{emit, print_json, Outcome};
use anyhow::Result;
use passthru::host::resolve;
use passthru::libvirt::hostdev::{render_devices, HostdevOptions, MacAddress, RenderError};
use passthru::libvirt::RenderedDevice;
use passthru::pci::PciAddress;
use serde::Serialize;
use std::process::ExitCode;

/// Arguments of `passthru render libvirt`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  passthru render libvirt 07:10.7 > vf.xml && virsh attach-device GUEST vf.xml --config\n  passthru render libvirt pci_0000_07_10_7 --interface --mac 52:54:00:6d:90:02 --vlan 42\n\nA device that cannot be assigned (a bridge, a PF whose VFs are enabled, a device\nwithout an IOMMU group or sharing its group with host-driven devices) is refused with\nthe reason and exit code 2. Several devices give one element each: paste them into
`virsh edit GUEST`, or render one per file for `virsh attach-device` (one element a file)."
)]
pub struct Args {
    /// The device(s): 0000:07:10.7, 07:10.7, pci_0000_07_10_7, eno1, 8086:1520.
    #[arg(value_name = "DEV", required = true)]
    pub devices: Vec<String>,
    /// Render `<interface type='hostdev'>` (SR-IOV VFs only): libvirt sets the VF's MAC and VLAN.
    #[arg(long)]
    pub interface: bool,
    /// MAC address for the VF (with --interface).
    #[arg(long, value_name = "MAC", requires = "interface")]
    pub mac: Option<String>,
    /// VLAN tag for the VF, 0-4095 (with --interface).
    #[arg(long, value_name = "ID", requires = "interface")]
    pub vlan: Option<u32>,
    /// `managed='no'`: the device is bound to vfio-pci beforehand (passthru bind DEV --vfio),
    /// and libvirt leaves its driver alone.
    #[arg(long)]
    pub unmanaged: bool,
}

/// A device a renderer will not render, and why (`refused` in the JSON output).
#[derive(Serialize)]
pub(crate) struct Refused {
    device: String,
    reason: String,
    fix: String,
}

#[derive(Serialize)]
struct LibvirtJson<'a> {
    devices: &'a [RenderedDevice],
    refused: Option<Refused>,
}

/// The refusal of a device that cannot go to a guest: the reason and fix on stderr
/// (and, with --json, `refused` on stdout through `json`), exit code 2. Other errors
/// pass through.
pub(crate) fn refuse<T: Serialize>(
    ctx: &Ctx,
    e: RenderError,
    json: impl FnOnce(Refused) -> T,
) -> Result<ExitCode> {
    match e {
        RenderError::NotAssignable {
            device,
            reason,
            fix,
        } => {
            if ctx.json() {
                print_json(&json(Refused {
                    device: device.to_string(),
                    reason: reason.clone(),
                    fix: fix.clone(),
                }))?;
            }
            eprintln!("passthru: {device} cannot be assigned: {reason}\n  fix: {fix}");
            Ok(Outcome::Fail.into())
        }
        e => Err(e.into()),
    }
}

/// Prints the warnings of devices that can be assigned; whether there were any.
pub(crate) fn print_warnings<'a>(
    warnings: impl IntoIterator<Item = (&'a PciAddress, &'a Vec<String>)>,
) -> bool {
    let mut any = false;
    for (a, ws) in warnings {
        for w in ws {
            eprintln!("passthru: warning: {a}: {w}");
            any = true;
        }
    }
    any
}

/// Runs `passthru render libvirt`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let mac = args.mac.as_deref().map(MacAddress::parse).transpose()?;
    let vlan = match args.vlan {
        Some(v) if v > 4095 => return Err(RenderError::BadVlan(v).into()),
        v => v.map(|v| v as u16),
    };
    let host = ctx.host()?;
    let devices = resolve::resolve_all(host, &args.devices)?;
    let opts = HostdevOptions {
        managed: !args.unmanaged,
        interface: args.interface,
        mac,
        vlan,
    };
    let rendered = match render_devices(host, &devices, &opts) {
        Ok(r) => r,
        Err(e) => {
            return refuse(ctx, e, |r| LibvirtJson {
                devices: &[],
                refused: Some(r),
            })
        }
    };
    let warned = print_warnings(rendered.iter().map(|r| (&r.address, &r.warnings)));
    if ctx.json() {
        print_json(&LibvirtJson {
            devices: &rendered,
            refused: None,
        })?;
    } else {
        let text: Vec<&str> = rendered.iter().map(|r| r.xml.as_str()).collect();
        emit(&text.join("\n"))?;
    }
    Ok(if warned { Outcome::Warn } else { Outcome::Ok }.into())
}
