//! `passthru render qemu-acl DEV...`: qemu.conf's `cgroup_device_acl` with libvirt's
//! defaults, `/dev/vfio/vfio` and `/dev/vfio/N` for each device's IOMMU group.

use super::render_libvirt::{print_warnings, refuse, Refused};
use crate::context::Ctx;
use crate::output::{emit, print_json, Outcome};
use anyhow::Result;
use passthru::host::resolve;
use passthru::libvirt::hostdev::{check_all_assignable, HostdevOptions};
use passthru::render::qemu_acl::render;
use serde::Serialize;
use std::process::ExitCode;

/// Arguments of `passthru render qemu-acl`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The device(s) guests get: 0000:07:10.7, 07:10.7, pci_0000_07_10_7, eno1, 8086:1520.
    #[arg(value_name = "DEV", required = true)]
    pub devices: Vec<String>,
}

/// Runs `passthru render qemu-acl`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let host = ctx.host()?;
    let devices = resolve::resolve_all(host, &args.devices)?;
    // Only what a guest can really get: the same check as `render libvirt`.
    let warnings = match check_all_assignable(host, &devices, &HostdevOptions::default()) {
        Ok(w) => w,
        Err(e) => return refuse(ctx, e, |r| Refusal { refused: r }),
    };
    let warned = print_warnings(warnings.iter().map(|(a, w)| (a, w)));
    let acl = render(&devices)?;
    if ctx.json() {
        print_json(&acl)?;
    } else {
        emit(&acl.text())?;
    }
    Ok(if warned { Outcome::Warn } else { Outcome::Ok }.into())
}

/// The JSON output when a device is refused.
#[derive(Serialize)]
struct Refusal {
    refused: Refused,
}
