//! The filters of `passthru ls`.

use crate::host::model::PciDevice;
use crate::pci::{ClassFamily, VendorId};

/// Which devices to show. Every set criterion must hold.
#[derive(Clone, Debug, Default)]
pub struct DeviceFilter {
    /// Class families (any of).
    pub classes: Vec<ClassFamily>,
    /// Vendor ids (any of).
    pub vendors: Vec<VendorId>,
    /// Driver names (any of); `none` matches unbound devices.
    pub drivers: Vec<String>,
    /// Only SR-IOV PFs.
    pub sriov: bool,
    /// Only VFs.
    pub vfs: bool,
}

impl DeviceFilter {
    /// Whether a device passes.
    pub fn matches(&self, d: &PciDevice) -> bool {
        (self.classes.is_empty() || self.classes.contains(&d.class.family()))
            && (self.vendors.is_empty() || self.vendors.contains(&d.vendor_id))
            && (self.drivers.is_empty()
                || self.drivers.iter().any(|w| match &d.driver {
                    Some(drv) => drv == w || drv.replace('_', "-") == w.replace('_', "-"),
                    None => w == "none",
                }))
            && (!self.sriov || d.is_pf())
            && (!self.vfs || d.is_vf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::model::Sriov;
    use crate::pci::PciAddress;

    #[test]
    fn criteria_combine() {
        let mut pf = PciDevice::new(
            PciAddress::parse("06:00.0").unwrap(),
            0x8086,
            0x1521,
            0x020000,
        );
        pf.sriov = Some(Sriov {
            total_vfs: 8,
            ..Sriov::default()
        });
        pf.driver = Some("igb".into());
        let mut vf = PciDevice::new(
            PciAddress::parse("07:10.0").unwrap(),
            0x8086,
            0x1520,
            0x020000,
        );
        vf.physfn = Some(pf.address);
        vf.driver = Some("vfio-pci".into());
        let gpu = PciDevice::new(
            PciAddress::parse("81:00.0").unwrap(),
            0x10de,
            0x1b80,
            0x030000,
        );
        let f = DeviceFilter {
            classes: vec![ClassFamily::Net],
            ..Default::default()
        };
        assert!(f.matches(&pf) && f.matches(&vf) && !f.matches(&gpu));
        let f = DeviceFilter {
            sriov: true,
            ..Default::default()
        };
        assert!(f.matches(&pf) && !f.matches(&vf));
        let f = DeviceFilter {
            vfs: true,
            drivers: vec!["vfio_pci".into()],
            ..Default::default()
        };
        assert!(!f.matches(&pf) && f.matches(&vf));
        let f = DeviceFilter {
            drivers: vec!["none".into()],
            vendors: vec![VendorId(0x10de)],
            ..Default::default()
        };
        assert!(f.matches(&gpu) && !f.matches(&pf));
    }
}
