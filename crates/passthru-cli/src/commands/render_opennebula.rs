//! `passthru render opennebula DEV...`: the KVM monitor probe's PCI filter (lspci -d
//! syntax) and the VM template's `PCI = [ ... ]` lines.

use super::render_libvirt::{print_warnings, refuse, Refused};
use crate::context::Ctx;
use crate::output::{emit, print_json, Outcome};
use anyhow::Result;
use passthru::host::resolve;
use passthru::libvirt::hostdev::{check_all_assignable, HostdevOptions};
use passthru::render::opennebula::{render, TemplateBy};
use serde::Serialize;
use std::process::ExitCode;

/// How the VM template asks for a device.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum By {
    /// `VENDOR`, `DEVICE`, `CLASS`: any free device of the type.
    #[default]
    Ids,
    /// `SHORT_ADDRESS`: exactly this device (newer OpenNebula).
    Address,
}

/// Arguments of `passthru render opennebula`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The device(s) the VMs get: 0000:07:10.7, 07:10.7, pci_0000_07_10_7, eno1, 8086:1520.
    #[arg(value_name = "DEV", required = true)]
    pub devices: Vec<String>,
    /// How the template lines name the devices.
    #[arg(long, value_enum, default_value_t)]
    pub by: By,
}

/// Runs `passthru render opennebula`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let host = ctx.host()?;
    let devices = resolve::resolve_all(host, &args.devices)?;
    // Only what a guest can really get: the same check as `render libvirt`.
    let warnings = match check_all_assignable(host, &devices, &HostdevOptions::default()) {
        Ok(w) => w,
        Err(e) => return refuse(ctx, e, |r| Refusal { refused: r }),
    };
    let warned = print_warnings(warnings.iter().map(|(a, w)| (a, w)));
    let by = match args.by {
        By::Ids => TemplateBy::Ids,
        By::Address => TemplateBy::Address,
    };
    let r = render(&devices, by)?;
    if ctx.json() {
        print_json(&r)?;
    } else {
        emit(&r.text())?;
    }
    Ok(if warned { Outcome::Warn } else { Outcome::Ok }.into())
}

/// The JSON output when a device is refused.
#[derive(Serialize)]
struct Refusal {
    refused: Refused,
}
