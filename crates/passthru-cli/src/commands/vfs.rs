//! `passthru vfs PF N`: set the number of SR-IOV VFs of a PF.

use crate::change::{
    change_facts, change_root, installed_host_file, refused, ssh_connection, Change, ChangeArgs,
};
use crate::context::Ctx;
use anyhow::{bail, Result};
use passthru::change::persist::after_reboot_vfs;
use passthru::change::plan::Plan;
use passthru::change::vfs::{plan_vfs, VfsRequest};
use passthru::change::ChangeError;
use passthru::host::resolve;
use passthru::pci::PciAddress;
use passthru::Host;
use std::path::Path;
use std::process::ExitCode;

/// Arguments of `passthru vfs`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The kernel changes a non-zero VF count only through 0 (EBUSY otherwise): passthru
writes 0 first, which removes every current VF, so VFs held by a guest or bound to
vfio-pci are protected unless --force. It then waits for the VFs and their network
interfaces to appear.

Examples:
  passthru vfs eno1 4              show the plan
  passthru vfs 0000:06:00.0 4 -y   do it
  passthru vfs eno1 0 -y           remove every VF")]
pub struct Args {
    /// The PF: address (0000:06:00.0, 06:00.0) or network interface (eno1).
    #[arg(value_name = "PF")]
    pub pf: String,
    /// How many VFs it should have: decimal, or hex / octal as the kernel's
    /// sriov_numvfs accepts them (`0x4`, `010`).
    #[arg(value_name = "N", value_parser = parse_count)]
    pub count: u32,
    /// Create the VFs without a host driver (sriov_drivers_autoprobe 0), e.g. for vfio-pci.
    #[arg(long, conflicts_with = "autoprobe")]
    pub no_autoprobe: bool,
    /// Create the VFs with their host driver (sriov_drivers_autoprobe 1).
    #[arg(long)]
    pub autoprobe: bool,
    /// Common change options.
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// Plans setting a PF's VF count (what `passthru vfs` and the `passthru_vfs` module
/// both run): the PF's address and the plan; `Err(ChangeError)` inside is a refusal.
pub fn plan(
    ctx: &Ctx,
    root: &Path,
    pf: &str,
    count: u32,
    autoprobe: Option<bool>,
    change: &ChangeArgs,
) -> Result<Result<(PciAddress, Plan), ChangeError>> {
    let host = ctx.host()?;
    let found = resolve::resolve(host, pf)?;
    if found.len() != 1 {
        bail!(
            "'{}' names {} devices ({}); give one PF address",
            pf,
            found.len(),
            found
                .iter()
                .map(|d| d.address.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let address = found[0].address;
    let facts = change_facts(root)?;
    let ssh = ssh_connection();
    let req = VfsRequest {
        pf: address,
        count,
        autoprobe,
        timeout_secs: change.timeout,
        force: change.force,
        boot: false,
    };
    let mut plan = match plan_vfs(host, &facts, &req, ssh.as_deref()) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    if !plan.is_empty() {
        let installed = installed_host_file(root, &mut plan);
        after_reboot_vfs(host, installed.as_ref(), found[0], count, &mut plan);
    }
    Ok(Ok((address, plan)))
}

/// What `vfs` says after a change: the PF's VFs with their drivers and interfaces.
pub fn summary(h: &Host, pf: &PciAddress) -> Vec<String> {
    let Some(d) = h.device(pf) else {
        return Vec::new();
    };
    let mut v = vec![format!("{pf} has {} VFs:", d.virtfns.len())];
    for (i, a) in d.virtfns.iter().enumerate() {
        let vf = h.device(a);
        v.push(format!(
            "  VF {i}: {a} {} {}",
            vf.and_then(|x| x.driver.clone())
                .unwrap_or_else(|| "(no driver)".into()),
            vf.map(|x| x.netdevs.join(",")).unwrap_or_default()
        ));
    }
    v
}

/// Runs `passthru vfs`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let root = change_root(ctx, "vfs")?;
    let autoprobe = if args.no_autoprobe {
        Some(false)
    } else if args.autoprobe {
        Some(true)
    } else {
        None
    };
    let (pf, plan) = match plan(ctx, &root, &args.pf, args.count, autoprobe, &args.change)? {
        Ok(p) => p,
        Err(e) => return refused(ctx, "vfs", e),
    };
    Change {
        name: "vfs",
        root,
        args: &args.change,
        undoes: None,
    }
    .run(ctx, plan, &mut |_, _| Ok(Default::default()), &|h| {
        summary(h, &pf)
    })
}

/// A VF count as the kernel's `sriov_numvfs` reads it (`kstrtou16(buf, 0, ..)`):
/// decimal, `0x` hex or leading-`0` octal.
fn parse_count(s: &str) -> std::result::Result<u32, String> {
    let t = s.trim();
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    u16::from_str_radix(digits, radix)
        .map(u32::from)
        .map_err(|_| {
            format!("'{s}' is not a VF count: give a number (4, 0x4 or 04), at most 65535")
        })
}
