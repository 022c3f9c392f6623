//! qemu.conf's `cgroup_device_acl`: libvirt's default device list plus
//! `/dev/vfio/vfio` and `/dev/vfio/N` for the IOMMU groups of the given devices, as
//! the OpenNebula seed sets it.
//!
//! Setting the option replaces libvirt's built-in list, so the defaults are repeated.
//! libvirt skips entries that do not exist on the host, so the list is the union of
//! what current libvirt releases use.

use crate::host::model::PciDevice;
use crate::pci::PciAddress;
use crate::render::RenderError;
use serde::Serialize;
use std::collections::BTreeMap;

/// libvirt's default `cgroup_device_acl` (qemu.conf.in of current releases; older
/// ones also listed /dev/kqemu, /dev/rtc and /dev/hpet).
pub const LIBVIRT_DEFAULTS: &[&str] = &[
    "/dev/null",
    "/dev/full",
    "/dev/zero",
    "/dev/random",
    "/dev/urandom",
    "/dev/ptmx",
    "/dev/kvm",
    "/dev/userfaultfd",
];

/// The rendered ACL.
#[derive(Clone, Debug, Serialize)]
pub struct QemuAcl {
    /// Every path, in order.
    pub paths: Vec<String>,
    /// IOMMU group number -> the given devices in it.
    pub groups: BTreeMap<u32, Vec<PciAddress>>,
}

impl QemuAcl {
    /// The qemu.conf text.
    pub fn text(&self) -> String {
        let mut s = String::from(
            "# /etc/libvirt/qemu.conf (restart libvirtd after editing). This replaces libvirt's\n# built-in list, so its defaults are repeated; paths that do not exist are skipped.\n",
        );
        for (g, devs) in &self.groups {
            let list: Vec<String> = devs.iter().map(|d| d.to_string()).collect();
            s.push_str(&format!(
                "# /dev/vfio/{g}: IOMMU group of {}\n",
                list.join(", ")
            ));
        }
        s.push_str("cgroup_device_acl = [\n");
        let n = self.paths.len();
        for (i, p) in self.paths.iter().enumerate() {
            s.push_str(&format!(
                "    \"{p}\"{}\n",
                if i + 1 < n { "," } else { "" }
            ));
        }
        s.push_str("]\n");
        s
    }
}

/// Builds the ACL for devices; each must have an IOMMU group.
pub fn render(devices: &[&PciDevice]) -> Result<QemuAcl, RenderError> {
    if devices.is_empty() {
        return Err(RenderError::NoDevices);
    }
    let mut groups: BTreeMap<u32, Vec<PciAddress>> = BTreeMap::new();
    for d in devices {
        let g = d.iommu_group.ok_or(RenderError::NoGroup(d.address))?;
        groups.entry(g).or_default().push(d.address);
    }
    let mut paths: Vec<String> = LIBVIRT_DEFAULTS.iter().map(|s| s.to_string()).collect();
    paths.push("/dev/vfio/vfio".into());
    paths.extend(groups.keys().map(|g| format!("/dev/vfio/{g}")));
    Ok(QemuAcl { paths, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_once_each_after_the_defaults() {
        let mut a = PciDevice::new(
            PciAddress::parse("81:00.0").unwrap(),
            0x10de,
            0x11bf,
            0x030000,
        );
        a.iommu_group = Some(46);
        let mut b = PciDevice::new(
            PciAddress::parse("81:00.1").unwrap(),
            0x10de,
            0x0e0a,
            0x040300,
        );
        b.iommu_group = Some(46);
        let mut c = PciDevice::new(
            PciAddress::parse("04:00.0").unwrap(),
            0x10de,
            0x11bf,
            0x030000,
        );
        c.iommu_group = Some(45);
        let acl = render(&[&a, &b, &c]).unwrap();
        let tail: Vec<&str> = acl.paths.iter().rev().take(3).map(|s| s.as_str()).collect();
        assert_eq!(tail, vec!["/dev/vfio/46", "/dev/vfio/45", "/dev/vfio/vfio"]);
        assert_eq!(acl.paths[..LIBVIRT_DEFAULTS.len()], *LIBVIRT_DEFAULTS);
        let t = acl.text();
        assert!(
            t.contains("cgroup_device_acl = [\n    \"/dev/null\",\n"),
            "{t}"
        );
        assert!(t.ends_with("    \"/dev/vfio/46\"\n]\n"), "{t}");
        assert!(
            t.contains("# /dev/vfio/46: IOMMU group of 0000:81:00.0, 0000:81:00.1"),
            "{t}"
        );
        let none = PciDevice::new(PciAddress::parse("05:00.0").unwrap(), 1, 2, 0x020000);
        assert!(render(&[&none])
            .unwrap_err()
            .to_string()
            .contains("no IOMMU group"));
    }
}
