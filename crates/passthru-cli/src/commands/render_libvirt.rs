//! `passthru render libvirt DEV...`: a `<hostdev>` (or, with `--interface`, an
//! `<interface type='hostdev'>`) per device, ready for `virsh attach-device`.

use crate::context::Ctx;
use crate::output::{emit, print_json, Outcome};
use anyhow::Result;
use passthru::host::resolve;
use passthru::libvirt::hostdev::{render_devices, HostdevOptions, MacAddress, RenderError};
use passthru::libvirt::RenderedDevice;
use serde::Serialize;
use std::process::ExitCode;

/// Arguments of `passthru render libvirt`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  passthru render libvirt 07:10.7 > vf.xml && virsh attach-device GUEST vf.xml --config\n  passthru render libvirt pci_0000_07_10_7 --interface --mac 52:54:00:6d:90:02 --vlan 42\n\nA device that cannot be assigned (a bridge, a PF whose VFs are enabled, a device\nwithout an IOMMU group or sharing its group with host-driven devices) is refused with\nthe reason and exit code 2."
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

#[derive(Serialize)]
struct Refused {
    device: String,
    reason: String,
    fix: String,
}

#[derive(Serialize)]
struct LibvirtJson<'a> {
    devices: &'a [RenderedDevice],
    refused: Option<Refused>,
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
        Err(RenderError::NotAssignable {
            device,
            reason,
            fix,
        }) => {
            if ctx.json() {
                print_json(&LibvirtJson {
                    devices: &[],
                    refused: Some(Refused {
                        device: device.to_string(),
                        reason: reason.clone(),
                        fix: fix.clone(),
                    }),
                })?;
            }
            eprintln!("passthru: {device} cannot be assigned: {reason}\n  fix: {fix}");
            return Ok(Outcome::Fail.into());
        }
        Err(e) => return Err(e.into()),
    };
    let warned = rendered.iter().any(|r| !r.warnings.is_empty());
    for r in &rendered {
        for w in &r.warnings {
            eprintln!("passthru: warning: {}: {w}", r.address);
        }
    }
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
