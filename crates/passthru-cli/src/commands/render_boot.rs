//! `passthru render modprobe` and `passthru render systemd`: the modprobe.d file and
//! the boot unit that `passthru apply` installs, for operators who keep their own
//! configuration management. The text comes from the same functions `apply` uses.

use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::{bail, Result};
use passthru::change::persist::{render_modprobe, render_unit, DEFAULT_BINARY, MODPROBE, UNIT};
use passthru::host::resolve::resolve_all;
use serde::Serialize;
use std::process::ExitCode;

/// Arguments of `passthru render modprobe`.
#[derive(clap::Args, Debug)]
pub struct ModprobeArgs {
    /// Devices whose vendor:device ids go in `options vfio-pci ids=` (address,
    /// interface, pci_DDDD_BB_SS_F or vendor:device).
    #[arg(value_name = "DEV")]
    pub devices: Vec<String>,
    /// Modules to blacklist (`blacklist M`), comma-separated or repeated.
    #[arg(long, value_name = "MODULE", value_delimiter = ',')]
    pub blacklist: Vec<String>,
    /// Modules to load after vfio-pci (`softdep M pre: vfio-pci`), so vfio-pci claims
    /// the devices first.
    #[arg(long, value_name = "MODULE", value_delimiter = ',')]
    pub softdep: Vec<String>,
}

/// Arguments of `passthru render systemd`.
#[derive(clap::Args, Debug)]
pub struct SystemdArgs {
    /// The passthru binary the unit runs.
    #[arg(long, default_value = DEFAULT_BINARY)]
    pub binary: String,
}

#[derive(Serialize)]
struct FileJson {
    path: String,
    text: String,
}

fn print(ctx: &Ctx, path: &str, text: &str) -> Result<ExitCode> {
    if ctx.json() {
        print_json(&FileJson {
            path: format!("/{path}"),
            text: text.to_string(),
        })?;
    } else {
        emit(&format!("# /{path}\n{text}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `passthru render modprobe`.
pub fn run_modprobe(ctx: &Ctx, a: ModprobeArgs) -> Result<ExitCode> {
    let mut ids: Vec<String> = Vec::new();
    if !a.devices.is_empty() {
        let host = ctx.host()?;
        for d in resolve_all(host, &a.devices)? {
            let id = format!("{}:{}", d.vendor_id, d.device_id);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let Some(text) = render_modprobe(&ids, &a.blacklist, &a.softdep) else {
        bail!("nothing to render: give devices (for vfio-pci ids=), --blacklist or --softdep");
    };
    print(ctx, MODPROBE, &text)
}

/// Runs `passthru render systemd`.
pub fn run_systemd(ctx: &Ctx, a: SystemdArgs) -> Result<ExitCode> {
    if !a.binary.starts_with('/') {
        bail!(
            "--binary {}: systemd needs an absolute path in ExecStart=",
            a.binary
        );
    }
    print(ctx, UNIT, &render_unit(&a.binary))
}
