//! `passthru render nova`: nova.conf lines and the flavor command for a device
//! selection; `--write FILE` edits nova.conf in place (backup made, idempotent).

use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::{Context as _, Result};
use passthru::host::resolve::resolve_all;
use passthru::nova::render::{conf_snippet, edit_conf, render, ConfEdit, RenderRequest};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `passthru render nova`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Devices: addresses, pci_DDDD_BB_SS_F, netdevs or vendor:device (comma-separated
    /// or repeated).
    #[arg(long, value_name = "DEV", value_delimiter = ',', required = true)]
    pub devices: Vec<String>,
    /// Alias name for [pci] alias and the flavor.
    #[arg(long, value_name = "NAME")]
    pub alias: String,
    /// physical_network tag (for SR-IOV ports through neutron).
    #[arg(long, value_name = "PHYSNET")]
    pub physnet: Option<String>,
    /// The alias's device_type: type-PCI, type-PF or type-VF (default: the devices').
    #[arg(long, value_name = "TYPE")]
    pub device_type: Option<String>,
    /// The alias's numa_policy: required, legacy, preferred or socket.
    #[arg(long, value_name = "POLICY")]
    pub numa_policy: Option<String>,
    /// Devices per server in the flavor command.
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// Flavor name in the command.
    #[arg(long, default_value = "FLAVOR")]
    pub flavor: String,
    /// nova.conf whose enabled_filters to extend (default: the --write FILE when it
    /// exists, else etc/nova/nova.conf under --root when that exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Edit this nova.conf in place: every other line and comment kept, a backup
    /// made, nothing changed when already configured.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

#[derive(Serialize)]
struct WriteResult {
    file: String,
    changed: bool,
    backup: Option<String>,
}

#[derive(Serialize)]
struct RenderJson<'a> {
    #[serde(flatten)]
    rendered: &'a passthru::nova::render::Rendered,
    write: Option<WriteResult>,
}

/// Runs `passthru render nova`.
pub fn run(ctx: &Ctx, a: Args) -> Result<ExitCode> {
    let host = ctx.host()?;
    let devs = resolve_all(host, &a.devices)?;
    let conf_path = a
        .config
        .clone()
        .or_else(|| a.write.clone().filter(|p| p.is_file()))
        .or_else(|| super::nova::default_conf(ctx));
    let enabled_filters = match &conf_path {
        Some(p) => Some(super::nova::conf_from(std::slice::from_ref(p))?.enabled_filters),
        None => None,
    };
    let req = RenderRequest {
        devices: devs.iter().map(|d| d.address).collect(),
        alias: a.alias.clone(),
        physnet: a.physnet.clone(),
        device_type: a.device_type.clone(),
        numa_policy: a.numa_policy.clone(),
        count: a.count,
        flavor: a.flavor.clone(),
        enabled_filters,
    };
    let r = render(host, &req)?;
    let write = match &a.write {
        None => None,
        Some(path) => Some(write_conf(path, &r)?),
    };
    if ctx.json() {
        print_json(&RenderJson {
            rendered: &r,
            write,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    out.push_str("# nova.conf on every compute node (device_spec) and on API/compute/scheduler nodes (alias):\n");
    out.push_str(&conf_snippet(&r));
    out.push_str(&format!(
        "\n# selects on this host: {}\n\n# the flavor:\n{}\n",
        r.selects.join(", "),
        r.flavor_command
    ));
    if let Some(w) = write {
        if w.changed {
            out.push_str(&format!(
                "\nwrote {} (backup: {})\n",
                w.file,
                w.backup.unwrap_or_default()
            ));
        } else {
            out.push_str(&format!(
                "\n{} already has these settings; unchanged\n",
                w.file
            ));
        }
    }
    emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn write_conf(path: &PathBuf, r: &passthru::nova::render::Rendered) -> Result<WriteResult> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let edit = ConfEdit {
        device_spec: r.device_spec.clone(),
        alias: r.alias.clone(),
        add_filter: true,
    };
    let new = edit_conf(&path.display().to_string(), &text, &edit)?;
    if new == text {
        return Ok(WriteResult {
            file: path.display().to_string(),
            changed: false,
            backup: None,
        });
    }
    let mut backup = None;
    if path.exists() {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let b = PathBuf::from(format!("{}.passthru-{stamp}.bak", path.display()));
        std::fs::copy(path, &b)
            .with_context(|| format!("cannot back up {} to {}", path.display(), b.display()))?;
        backup = Some(b.display().to_string());
    }
    // Write beside the file, then rename, so a crash never leaves half a file.
    let tmp = PathBuf::from(format!("{}.passthru-tmp", path.display()));
    std::fs::write(&tmp, &new).with_context(|| format!("cannot write {}", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(WriteResult {
        file: path.display().to_string(),
        changed: true,
        backup,
    })
}
