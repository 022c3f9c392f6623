//! The few sysfs files nova reads while parsing and matching `device_spec`.
//!
//! nova decides PF mode and resolves `devname` by reading live sysfs (§3.5 of the
//! rulebook). passthru keeps those reads as data, built from host facts, so the
//! decision is a pure function and the differential test can feed nova and
//! passthru the same fake files.

use crate::host::Host;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One `/sys/bus/pci/devices/<name>/` directory, as far as nova reads it.
/// File contents are kept as text, since nova parses them itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysfsPciDir {
    /// `sriov_totalvfs` content (absent on non-SR-IOV functions).
    #[serde(default)]
    pub sriov_totalvfs: Option<String>,
    /// `sriov_vf_device` content.
    #[serde(default)]
    pub sriov_vf_device: Option<String>,
    /// `vendor` content (`0x8086`).
    #[serde(default)]
    pub vendor: Option<String>,
    /// `product` content. Linux has no such file (the id is in `device`), but nova
    /// 34 reads `product` for the remote_managed PF check; kept so tests can
    /// exercise that branch.
    #[serde(default)]
    pub product: Option<String>,
}

/// What nova can read: PCI device directories by name and `/sys/class/net/*/device`
/// links.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysfsView {
    /// `/sys/bus/pci/devices/<name>` by name (`0000:07:00.0`).
    #[serde(default)]
    pub pci: BTreeMap<String, SysfsPciDir>,
    /// `/sys/class/net/<ifname>/device` link targets (`../../../0000:07:00.0`), for
    /// interfaces that have a device.
    #[serde(default)]
    pub net_device_links: BTreeMap<String, String>,
}

impl SysfsView {
    /// The view of a host's facts: every function's directory and every netdev
    /// that sits on a PCI function.
    pub fn from_host(host: &Host) -> Self {
        let mut v = SysfsView::default();
        for d in &host.devices {
            let name = d.address.to_string();
            let dir = SysfsPciDir {
                sriov_totalvfs: d.sriov.as_ref().map(|s| format!("{}\n", s.total_vfs)),
                sriov_vf_device: d
                    .sriov
                    .as_ref()
                    .and_then(|s| s.vf_device_id)
                    .map(|id| format!("{id}\n")),
                vendor: Some(format!("0x{}\n", d.vendor_id)),
                product: None,
            };
            for n in &d.netdevs {
                v.net_device_links
                    .insert(n.clone(), format!("../../../{name}"));
            }
            v.pci.insert(name, dir);
        }
        v
    }

    /// nova's `utils.is_physical_function(d, b, s, f)`: the directory
    /// `/sys/bus/pci/devices/<d>:<b>:<s>.<f>/` exists and its `sriov_totalvfs` is an
    /// integer above 0.
    pub fn is_physical_function(&self, domain: &str, bus: &str, slot: &str, func: &str) -> bool {
        let name = format!("{domain}:{bus}:{slot}.{func}");
        self.pci
            .get(&name)
            .and_then(|d| d.sriov_totalvfs.as_deref())
            .and_then(|t| super::py::text::parse_int(t, 10))
            .is_some_and(|v| !v.negative && v.digits != "0")
    }

    /// nova's `utils.get_function_by_ifname(name)`: the stripped link target of
    /// `/sys/class/net/<name>/device` and whether that device is a PF, or `None`
    /// when the interface has no device link.
    pub fn function_by_ifname(&self, ifname: &str) -> Option<(String, bool)> {
        let target = self.net_device_links.get(ifname)?;
        let addr = target.trim_matches(|c| c == '.' || c == '/').to_string();
        let dir_name = target.rsplit('/').next().unwrap_or(target);
        let pf = self
            .pci
            .get(dir_name)
            .and_then(|d| d.sriov_totalvfs.as_deref())
            .and_then(|t| super::py::text::parse_int(t, 10))
            .is_some_and(|v| !v.negative && v.digits != "0");
        Some((addr, pf))
    }

    /// nova's `utils.get_vf_product_id_by_pf_addr`: `Err(None)` when the file is
    /// missing (nova raises `PciDeviceNotFoundById`), `Err(Some(msg))` for an empty
    /// file (a bare `ValueError`).
    pub fn vf_product_id_by_pf_addr(&self, pf_addr: &str) -> Result<String, Option<String>> {
        let text = self
            .pci
            .get(pf_addr)
            .and_then(|d| d.sriov_vf_device.as_deref())
            .ok_or(None)?;
        let first = text.split_inclusive('\n').next().unwrap_or("");
        let v = super::py::text::strip(first);
        if v.is_empty() {
            return Err(Some(
                "sriov_vf_device file does not contain a VF product ID".into(),
            ));
        }
        Ok(v.to_string())
    }

    /// nova's `utils.get_pci_ids_by_pci_addr`: `(vendor, product)` read from the
    /// `vendor` and `product` files with `0x` removed; the same error split as
    /// [`SysfsView::vf_product_id_by_pf_addr`].
    pub fn pci_ids_by_pci_addr(&self, addr: &str) -> Result<(String, String), Option<String>> {
        let dir = self.pci.get(addr).ok_or(None)?;
        let mut ids = Vec::new();
        for (name, file) in [("vendor", &dir.vendor), ("product", &dir.product)] {
            let text = file.as_deref().ok_or(None)?;
            let first = text.split_inclusive('\n').next().unwrap_or("");
            if first.is_empty() {
                return Err(Some(format!("{name} file does not contain a valid value")));
            }
            ids.push(super::py::text::strip(first).replace("0x", ""));
        }
        Ok((ids[0].clone(), ids[1].clone()))
    }
}
