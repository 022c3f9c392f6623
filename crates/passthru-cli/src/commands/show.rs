//! `passthru show DEV`: everything about one device.

use crate::context::Ctx;
use crate::output::{emit, print_json, print_warnings};
use anyhow::Result;
use passthru::host::model::{speed_gts, Host, PciDevice, PcieLink};
use passthru::host::resolve;
use passthru::inventory::groups::group_ownership;
use serde::Serialize;
use std::fmt::Write as _;
use std::process::ExitCode;

/// Output formats of `show`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Readable text.
    #[default]
    Text,
    /// The node-device XML libvirt would show (`virsh nodedev-dumpxml`).
    Nodedev,
}

/// Arguments of `passthru show`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "DEV: 0000:07:10.7, 07:10.7, pci_0000_07_10_7, eno1, or 8086:1520 (every match)."
)]
pub struct Args {
    /// The device(s) to show.
    #[arg(value_name = "DEV", required = true)]
    pub devices: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Serialize)]
struct NodedevJson {
    name: String,
    xml: String,
}

#[derive(Serialize)]
struct ShowJson<'a> {
    devices: Vec<&'a PciDevice>,
}

/// Runs `passthru show`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let host = ctx.host()?;
    let devices = match resolve::resolve_all(host, &args.devices) {
        Ok(d) => d,
        Err(e) => {
            // A device missing because it could not be read says so here.
            print_warnings(host);
            return Err(e.into());
        }
    };
    if args.format == Format::Nodedev {
        let docs: Vec<NodedevJson> = devices
            .iter()
            .map(|d| NodedevJson {
                name: d.address.nodedev_name(),
                xml: passthru::libvirt::nodedev_xml(host, d),
            })
            .collect();
        if ctx.json() {
            print_json(&serde_json::json!({ "nodedevs": docs }))?;
        } else {
            let text: Vec<&str> = docs.iter().map(|d| d.xml.as_str()).collect();
            emit(&text.join("\n"))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if ctx.json() {
        print_json(&ShowJson { devices })?;
        return Ok(ExitCode::SUCCESS);
    }
    let text: Vec<String> = devices.iter().map(|d| describe(host, d)).collect();
    emit(&text.join("\n"))?;
    Ok(ExitCode::SUCCESS)
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// `8.0 GT/s PCIe x4 (max 8.0 GT/s PCIe x8)  DEGRADED`. A VF has no link of its own
/// (its Link Status reads zero: the kernel's `Unknown` and width 0); it rides its PF's.
fn link_text(d: &PciDevice, l: &PcieLink) -> String {
    let max = match (&l.max_speed, l.max_width) {
        (None, None) => String::new(),
        _ => format!(" (max {} x{})", opt(&l.max_speed), opt(&l.max_width)),
    };
    let trained = l.current_width.is_some_and(|w| w > 0)
        || l.current_speed
            .as_deref()
            .and_then(speed_gts)
            .is_some_and(|g| g > 0.0);
    if !trained {
        let what = if d.is_vf() {
            "none of its own (a VF uses its PF's link)"
        } else {
            "down or unknown"
        };
        return format!("{what}{max}");
    }
    format!(
        "{} x{}{max}{}",
        opt(&l.current_speed),
        opt(&l.current_width),
        if l.degraded() { "  DEGRADED" } else { "" }
    )
}

/// The text block for one device.
pub fn describe(host: &Host, d: &PciDevice) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} {} [{}]", d.address, d.label(), d.id_pair());
    let _ = writeln!(s, "  libvirt name:    {}", d.address.nodedev_name());
    let _ = writeln!(
        s,
        "  vendor:          {} [{}]",
        opt(&d.names.vendor),
        d.vendor_id
    );
    let _ = writeln!(
        s,
        "  device:          {} [{}]",
        opt(&d.names.device),
        d.device_id
    );
    if let (Some(sv), Some(sd)) = (d.subsystem_vendor_id, d.subsystem_device_id) {
        let _ = writeln!(
            s,
            "  subsystem:       {} [{sv}:{sd}]",
            opt(&d.names.subsystem)
        );
    }
    let _ = writeln!(s, "  class:           {} [{}]", d.class_label(), d.class);
    let _ = writeln!(
        s,
        "  revision:        {}",
        d.revision
            .map(|r| format!("{r:02x}"))
            .unwrap_or_else(|| "unknown".into())
    );
    let _ = writeln!(
        s,
        "  driver:          {}",
        d.driver.as_deref().unwrap_or("none")
    );
    if let Some(o) = &d.driver_override {
        let _ = writeln!(s, "  driver_override: {o}");
    }
    match d.iommu_group.and_then(|g| host.group(g)) {
        Some(g) => {
            let others: Vec<String> = g
                .devices
                .iter()
                .filter(|a| **a != d.address)
                .map(|a| a.to_string())
                .collect();
            let own = group_ownership(host, d, &[]);
            let foreign = own.as_ref().map(|o| o.other_devices(d)).unwrap_or_default();
            let mut verdict = if foreign.is_empty() {
                "isolated".to_string()
            } else {
                "NOT isolated".to_string()
            };
            if let Some(o) = own.filter(|o| !o.viable()) {
                let held: Vec<String> = o
                    .held_by_host
                    .iter()
                    .map(|m| format!("{} on {}", m.address, m.driver.as_deref().unwrap_or("?")))
                    .collect();
                verdict.push_str(&format!(", NOT viable for vfio: {}", held.join(", ")));
            }
            let _ = writeln!(
                s,
                "  IOMMU group:     {} ({verdict}{})",
                g.number,
                if others.is_empty() {
                    String::new()
                } else {
                    format!("; with {}", others.join(", "))
                }
            );
        }
        None => {
            let _ = writeln!(s, "  IOMMU group:     {}", opt(&d.iommu_group));
        }
    }
    let _ = writeln!(s, "  NUMA node:       {}", opt(&d.numa_node));
    if let Some(c) = &d.local_cpulist {
        let _ = writeln!(s, "  local CPUs:      {c}");
    }
    if let Some(l) = &d.link {
        let _ = writeln!(s, "  PCIe link:       {}", link_text(d, l));
    }
    if let Some(r) = &d.reset_methods {
        let _ = writeln!(
            s,
            "  reset methods:   {}",
            if r.is_empty() {
                "none".into()
            } else {
                r.join(" ")
            }
        );
    }
    if let Some(p) = d.parent {
        let _ = writeln!(s, "  upstream bridge: {p}");
    }
    if d.boot_vga == Some(true) {
        let _ = writeln!(s, "  boot VGA:        yes (it drives the host console)");
    }
    for n in &d.interfaces {
        let _ = writeln!(
            s,
            "  netdev:          {} mac {} state {} carrier {}{}",
            n.name,
            opt(&n.mac),
            opt(&n.operstate),
            n.carrier
                .map(|c| if c { "yes" } else { "no" })
                .unwrap_or("unknown"),
            n.speed_mbps
                .map(|m| format!(" speed {m} Mb/s"))
                .unwrap_or_default()
        );
    }
    if let Some(sr) = &d.sriov {
        let _ = writeln!(
            s,
            "  SR-IOV:          {}/{} VFs, offset {}, stride {}, VF device {}, autoprobe {}",
            sr.num_vfs,
            sr.total_vfs,
            opt(&sr.offset),
            opt(&sr.stride),
            opt(&sr.vf_device_id),
            sr.drivers_autoprobe
                .map(|a| if a { "on" } else { "off" })
                .unwrap_or("unknown")
        );
        for (i, vf) in d.virtfns.iter().enumerate() {
            let v = host.device(vf);
            let line = format!(
                "    VF {i}: {vf} {} {}",
                v.and_then(|v| v.driver.clone())
                    .unwrap_or_else(|| "-".into()),
                v.map(|v| v.netdevs.join(",")).unwrap_or_default()
            );
            // A VF without a netdev (on vfio-pci) leaves no trailing space.
            let _ = writeln!(s, "{}", line.trim_end());
        }
    }
    if let Some(pf) = d.physfn {
        let pfname = host
            .device(&pf)
            .map(|p| p.netdevs.join(","))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  SR-IOV VF:       VF {} of PF {pf}{}",
            opt(&d.vf_index),
            if pfname.is_empty() {
                String::new()
            } else {
                format!(" ({pfname})")
            }
        );
    }
    s
}
