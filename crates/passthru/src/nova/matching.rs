//! Which spec takes a device: nova's `Whitelist.device_assignable`, over the device
//! dicts its libvirt driver builds (`host._get_pcidev_info`).
//!
//! The first matching spec wins and only its tags apply. A spec matches when the
//! vendor and product are `*` or equal (device ids compared verbatim), the address
//! matches (with the PF rule), and, for `remote_managed`, the device has a VPD
//! serial number. nova evaluates all four conditions before combining them, so an
//! unparsable device address raises even when the ids already differ.

use super::address::{physical_address, DeviceAddress};
use super::error::NovaError;
use super::spec::DeviceSpec;
use crate::host::{Host, PciDevice};
use serde::{Deserialize, Serialize};

/// nova's device types.
pub const TYPE_PCI: &str = "type-PCI";
/// An SR-IOV physical function.
pub const TYPE_PF: &str = "type-PF";
/// An SR-IOV virtual function.
pub const TYPE_VF: &str = "type-VF";
/// A VF that backs a vDPA device.
pub const TYPE_VDPA: &str = "vdpa";

/// A PCI device as nova's libvirt driver describes it. Fields are strings, as in
/// nova's dict; `None` is a key that is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NovaDevice {
    /// `%04x:%02x:%02x.%1x`.
    pub address: Option<String>,
    /// `%04x`.
    pub vendor_id: Option<String>,
    /// `%04x`.
    pub product_id: Option<String>,
    /// `type-PCI`, `type-PF`, `type-VF` or `vdpa`.
    #[serde(default)]
    pub dev_type: String,
    /// The PF's address, for VFs.
    #[serde(default)]
    pub parent_addr: Option<String>,
    /// The PF's interface name, for VFs that have a netdev.
    #[serde(default)]
    pub parent_ifname: Option<String>,
    /// NUMA node.
    #[serde(default)]
    pub numa_node: Option<u32>,
    /// `capabilities.vpd.card_serial_number` (VFs inherit the PF's).
    #[serde(default)]
    pub card_serial_number: Option<String>,
}

impl NovaDevice {
    /// The dict nova builds for one of a host's devices.
    pub fn from_host(host: &Host, dev: &PciDevice) -> NovaDevice {
        let (dev_type, parent_addr, parent_ifname) =
            if dev.sriov.as_ref().is_some_and(|s| s.total_vfs > 0) {
                (TYPE_PF.to_string(), None, None)
            } else if let Some(pf) = dev.physfn {
                // nova names the PF's interface only when the VF itself has a netdev.
                let ifname = if dev.netdevs.is_empty() {
                    None
                } else {
                    host.device(&pf).and_then(|p| p.netdevs.last().cloned())
                };
                (TYPE_VF.to_string(), Some(pf.to_string()), ifname)
            } else {
                (TYPE_PCI.to_string(), None, None)
            };
        NovaDevice {
            address: Some(dev.address.to_string()),
            vendor_id: Some(dev.vendor_id.to_string()),
            product_id: Some(dev.device_id.to_string()),
            dev_type,
            parent_addr,
            parent_ifname,
            numa_node: dev.numa_node,
            card_serial_number: None,
        }
    }

    /// Every device of a host, in address order.
    pub fn all_from_host(host: &Host) -> Vec<NovaDevice> {
        host.devices
            .iter()
            .map(|d| NovaDevice::from_host(host, d))
            .collect()
    }
}

fn key_error(k: &str) -> NovaError {
    NovaError::new("KeyError", format!("'{k}'"))
}

impl DeviceSpec {
    /// nova's `PciDeviceSpec.match(dev)`.
    pub fn matches(&self, dev: &NovaDevice) -> Result<bool, NovaError> {
        let parsed = dev
            .address
            .as_deref()
            .map(|a| DeviceAddress::new(a, dev.parent_addr.as_deref()));
        self.matches_parsed(dev, parsed.as_ref())
    }

    fn matches_parsed(
        &self,
        dev: &NovaDevice,
        parsed: Option<&DeviceAddress>,
    ) -> Result<bool, NovaError> {
        let Some(addr) = &self.address else {
            return Ok(false);
        };
        let vendor = dev
            .vendor_id
            .as_deref()
            .ok_or_else(|| key_error("vendor_id"))?;
        let vendor_ok = self.vendor_id == "*" || self.vendor_id == vendor;
        let product = dev
            .product_id
            .as_deref()
            .ok_or_else(|| key_error("product_id"))?;
        let product_ok = self.product_id == "*" || self.product_id == product;
        let parsed = parsed.ok_or_else(|| key_error("address"))?;
        let addr_ok = addr.matches_device(parsed)?;
        let vpd_ok = !self.remote_managed
            || dev
                .card_serial_number
                .as_deref()
                .is_some_and(|s| !s.is_empty());
        Ok(vendor_ok && product_ok && addr_ok && vpd_ok)
    }
}

/// What nova decides for one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assignment {
    /// The first matching spec, by index in nova's flattened spec list.
    Spec(usize),
    /// No spec matches.
    None,
    /// Matching raised. `PciConfigInvalidSpec` (a device address nova cannot
    /// parse, like a 32-bit domain) makes the PCI tracker skip the device; any
    /// other exception breaks the tracker's periodic update.
    Error(NovaError),
}

/// nova's `Whitelist.device_assignable` over a flattened spec list.
pub fn device_assignable(specs: &[&DeviceSpec], dev: &NovaDevice) -> Assignment {
    let parsed = dev
        .address
        .as_deref()
        .map(|a| DeviceAddress::new(a, dev.parent_addr.as_deref()));
    for (i, s) in specs.iter().enumerate() {
        match s.matches_parsed(dev, parsed.as_ref()) {
            Ok(true) => return Assignment::Spec(i),
            Ok(false) => {}
            Err(e) => return Assignment::Error(e),
        }
    }
    Assignment::None
}

/// Parses a device address the way nova does when matching (for reports).
pub fn device_address_error(address: &str) -> Option<NovaError> {
    physical_address(address).err()
}
