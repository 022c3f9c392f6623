//! `passthru ls`: one line per PCI function.

use crate::context::Ctx;
use crate::output::{emit, print_json, print_warnings, TextTable};
use anyhow::{bail, Result};
use passthru::host::model::{Host, PciDevice};
use passthru::inventory::filter::DeviceFilter;
use passthru::pci::{ClassFamily, PciFilter, VendorId};
use serde::Serialize;
use std::process::ExitCode;

/// Arguments of `passthru ls`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  passthru ls --class net --sriov     SR-IOV capable NICs\n  passthru ls --vfs --driver vfio-pci VFs already on vfio-pci\n  passthru ls --tree                  VFs nested under their PF\n  passthru ls --json | jq '.devices[] | select(.sriov)'"
)]
pub struct Args {
    /// Only these classes (repeatable or comma-separated): net, gpu, nvme, storage, audio, usb, bridge, accel, other.
    #[arg(long, value_delimiter = ',', value_name = "CLASS")]
    pub class: Vec<String>,
    /// Only this vendor id (hex, e.g. 8086; repeatable or comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "VENDOR")]
    pub vendor: Vec<String>,
    /// Only devices bound to this driver (`none` for unbound; repeatable or comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "DRIVER")]
    pub driver: Vec<String>,
    /// Only SR-IOV physical functions.
    #[arg(long)]
    pub sriov: bool,
    /// Only SR-IOV virtual functions.
    #[arg(long)]
    pub vfs: bool,
    /// Only devices matching an `lspci -d` filter: [vendor]:[device][:class[:prog-if]],
    /// hex, empty or * for any, `x` digits in the class; several separated by commas
    /// (as OpenNebula's probe FILTER). `::0300` every VGA card, `8086:1520` I350 VFs.
    #[arg(long, value_name = "SPEC")]
    pub filter: Option<String>,
    /// Nest VFs under their PF.
    #[arg(long)]
    pub tree: bool,
    /// Read every fact of each device (as `show` and `snapshot` do), not only what
    /// the listing shows: fills driver_override, local_cpulist, reset_methods, the
    /// link's max_* and interface details in --json.
    #[arg(long)]
    pub full: bool,
}

#[derive(Serialize)]
struct LsJson<'a> {
    devices: Vec<&'a PciDevice>,
}

/// Builds the filter from raw arguments, rejecting unknown words with the list of known ones.
fn filter(args: &Args) -> Result<DeviceFilter> {
    let mut f = DeviceFilter {
        sriov: args.sriov,
        vfs: args.vfs,
        drivers: args.driver.clone(),
        ..Default::default()
    };
    for c in &args.class {
        match ClassFamily::parse(c) {
            Some(fam) => f.classes.push(fam),
            None => bail!(
                "unknown class '{c}'; use one of: {}",
                ClassFamily::NAMES.join(", ")
            ),
        }
    }
    for v in &args.vendor {
        f.vendors.push(VendorId::parse(v)?);
    }
    Ok(f)
}

/// Runs `passthru ls`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let f = filter(&args)?;
    let ids = args.filter.as_deref().map(PciFilter::parse).transpose()?;
    let host = if args.full {
        ctx.host()?
    } else {
        ctx.inventory_host()?
    };
    let devices: Vec<&PciDevice> = host
        .devices
        .iter()
        .filter(|d| f.matches(d) && ids.as_ref().is_none_or(|i| i.matches(d)))
        .collect();
    print_warnings(host);
    if ctx.json() {
        print_json(&LsJson { devices })?;
        return Ok(ExitCode::SUCCESS);
    }
    let ordered = if args.tree {
        tree_order(host, &devices)
    } else {
        devices.iter().map(|d| (*d, false)).collect()
    };
    emit(&render_table(host, &ordered, terminal_width()))?;
    Ok(ExitCode::SUCCESS)
}

/// The width to lay the table out in: `COLUMNS` when set, else the terminal's (so a
/// wide terminal shows whole names: shells do not export `COLUMNS`), else, when
/// stdout is a pipe or file, wide enough that nothing is cut (for grep and awk).
fn terminal_width() -> usize {
    if let Some(w) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return std::cmp::max(w, 60);
    }
    let out = std::io::stdout();
    if !rustix::termios::isatty(&out) {
        return usize::MAX / 4;
    }
    match rustix::termios::tcgetwinsize(&out) {
        Ok(ws) if ws.ws_col >= 60 => usize::from(ws.ws_col),
        _ => 80,
    }
}

/// PFs followed by their VFs (marked as nested); everything else in address order.
fn tree_order<'a>(host: &'a Host, devices: &[&'a PciDevice]) -> Vec<(&'a PciDevice, bool)> {
    let shown: std::collections::HashSet<_> = devices.iter().map(|d| d.address).collect();
    let mut out = Vec::new();
    for d in devices {
        if d.physfn.is_some_and(|pf| shown.contains(&pf)) {
            continue; // printed under its PF
        }
        out.push((*d, false));
        for vf in &d.virtfns {
            if let Some(v) = host.device(vf).filter(|v| shown.contains(&v.address)) {
                out.push((v, true));
            }
        }
    }
    out
}

fn short_speed(s: &str) -> String {
    let n: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let n = n.trim_end_matches(".0");
    if n.is_empty() {
        "?".into()
    } else {
        format!("{n}GT")
    }
}

/// The cells of one line, in column order.
fn cells(host: &Host, d: &PciDevice, short_addr: bool, nested: bool) -> [String; 10] {
    let addr = if short_addr {
        d.address.short()
    } else {
        d.address.to_string()
    };
    let addr = if nested { format!("└ {addr}") } else { addr };
    let sriov = match (&d.sriov, d.physfn) {
        (Some(s), _) => format!("VFs {}/{}", s.num_vfs, s.total_vfs),
        (None, Some(pf)) => {
            let pf = if short_addr {
                pf.short()
            } else {
                pf.to_string()
            };
            match d.vf_index {
                Some(i) => format!("VF{i}@{pf}"),
                None => format!("VF@{pf}"),
            }
        }
        _ => "-".into(),
    };
    let link = match &d.link {
        Some(l) => match (&l.current_speed, l.current_width) {
            (Some(s), Some(w)) if w > 0 => format!("{} x{w}", short_speed(s)),
            _ => "-".into(),
        },
        None => "-".into(),
    };
    let family = format!("{:?}", d.class.family()).to_ascii_lowercase();
    let _ = host;
    [
        addr,
        d.id_pair(),
        d.label(),
        family,
        d.driver.clone().unwrap_or_else(|| "-".into()),
        d.iommu_group
            .map(|g| g.to_string())
            .unwrap_or_else(|| "-".into()),
        d.numa_node
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into()),
        sriov,
        if d.netdevs.is_empty() {
            "-".into()
        } else {
            d.netdevs.join(",")
        },
        link,
    ]
}

const HEADERS: [&str; 10] = [
    "ADDRESS", "IDS", "NAME", "CLASS", "DRIVER", "GRP", "NUMA", "SR-IOV", "NETDEV", "LINK",
];
const NAME_COL: usize = 2;
const MIN_NAME: usize = 10;

/// The table of `ls`: one row per device, the name column taking what width is left
/// ([`TextTable`]); when even a short name does not fit, the link column (also in
/// `show`) goes first.
pub fn table(host: &Host, rows: &[(&PciDevice, bool)]) -> TextTable {
    let short_addr = host.devices.iter().all(|d| d.address.domain == 0);
    let mut t = TextTable::new(HEADERS)
        .flexible(NAME_COL, MIN_NAME)
        .droppable(HEADERS.len() - 1);
    for (d, nested) in rows {
        t.row(cells(host, d, short_addr, *nested).to_vec());
    }
    t
}

/// The `ls` table laid out in `width` columns.
pub fn render_table(host: &Host, rows: &[(&PciDevice, bool)], width: usize) -> String {
    table(host, rows).render(width)
}
