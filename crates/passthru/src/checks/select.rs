//! Which devices are "meant for passthrough", in order: devices named on the command
//! line; else devices matched by nova.conf device_spec under the root; else devices
//! bound to vfio-pci or with a driver_override; else none (host checks and a summary).

use crate::checks::nova_match;
use crate::host::model::{Host, PciDevice};
use crate::inventory::groups::groups;
use serde::Serialize;

/// How the devices to check were chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Named on the command line.
    CommandLine,
    /// Matched by `[pci] device_spec` in nova.conf.
    NovaDeviceSpec,
    /// Bound to vfio-pci or with `driver_override` set.
    VfioOrOverride,
    /// Nothing is meant for passthrough.
    None,
}

impl Selection {
    /// How the choice reads in a report heading.
    pub fn describe(self) -> &'static str {
        match self {
            Selection::CommandLine => "named on the command line",
            Selection::NovaDeviceSpec => "matched by nova.conf device_spec",
            Selection::VfioOrOverride => "bound to vfio-pci or with driver_override set",
            Selection::None => "none meant for passthrough",
        }
    }
}

/// Chooses the devices to check.
pub fn select_targets<'h>(
    host: &'h Host,
    named: Vec<&'h PciDevice>,
) -> (Selection, Vec<&'h PciDevice>) {
    let mut out = if !named.is_empty() {
        (Selection::CommandLine, named)
    } else {
        let nova = nova_match::matched_devices(host);
        if !nova.is_empty() {
            (Selection::NovaDeviceSpec, nova)
        } else {
            let bound: Vec<&PciDevice> = host
                .devices
                .iter()
                .filter(|d| d.on_vfio() || d.driver_override.is_some())
                .collect();
            if bound.is_empty() {
                (Selection::None, bound)
            } else {
                (Selection::VfioOrOverride, bound)
            }
        }
    };
    out.1.sort_by_key(|d| d.address);
    out.1.dedup_by_key(|d| d.address);
    out
}

/// A short overview of a host with nothing meant for passthrough.
pub fn summary(host: &Host) -> String {
    let g = groups(host);
    let isolated = g.iter().filter(|v| v.isolated).count();
    let pfs: Vec<&PciDevice> = host.devices.iter().filter(|d| d.is_pf()).collect();
    let vfs = host.devices.iter().filter(|d| d.is_vf()).count();
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    let mut s = format!(
        "{}, {} ({isolated} isolated), {} with {}. \
No device is meant for passthrough: none was named, none matches a nova.conf device_spec, \
none is on vfio-pci or has a driver_override.",
        n(host.devices.len(), "PCI function", "PCI functions"),
        n(g.len(), "IOMMU group", "IOMMU groups"),
        n(pfs.len(), "SR-IOV PF", "SR-IOV PFs"),
        n(vfs, "VF", "VFs"),
    );
    s.push_str(" Name devices to check them: `passthru doctor DEV...` (an address, netdev or vendor:device).");
    s
}
