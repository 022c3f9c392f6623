//! A host's passthrough essentials: the facts an operator compares across a fleet
//! and keys playbooks on (`ansible_facts.passthru`). A pure view over [`Host`].

use crate::checks::host::iommu_active;
use crate::host::model::Host;
use crate::host::system::CpuVendor;
use crate::nova::conf::NovaConf;
use serde::Serialize;
use std::collections::BTreeMap;

/// The essentials of one host.
#[derive(Clone, Debug, Serialize)]
pub struct Essentials {
    /// The host's name, when the source knows it.
    pub hostname: Option<String>,
    /// The running kernel's command line.
    pub kernel_cmdline: Option<String>,
    /// The running kernel's release.
    pub kernel_release: Option<String>,
    /// The CPU vendor (it picks the IOMMU argument).
    pub cpu_vendor: CpuVendor,
    /// The IOMMU's state.
    pub iommu: IommuState,
    /// Every PCI function.
    pub devices: Vec<DeviceEssentials>,
    /// Every SR-IOV PF by address.
    pub sriov: BTreeMap<String, PfEssentials>,
    /// nova.conf's `[pci]` as nova reads it, when the host has one.
    pub nova: Option<NovaEssentials>,
}

/// Whether the IOMMU is on, and what it shows.
#[derive(Clone, Debug, Serialize)]
pub struct IommuState {
    /// IOMMU groups exist or IOMMU units are registered (doctor's rule).
    pub enabled: bool,
    /// How many IOMMU groups.
    pub groups: usize,
    /// The IOMMU units (`dmar0`, `ivhd0`...).
    pub units: Vec<String>,
}

/// One PCI function.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceEssentials {
    /// `0000:07:10.7`.
    pub address: String,
    /// Vendor id, 4 hex digits.
    pub vendor_id: String,
    /// Device id, 4 hex digits.
    pub device_id: String,
    /// Class code, 6 hex digits.
    pub class: String,
    /// The device's name from pci.ids, when known.
    pub name: Option<String>,
    /// The driver bound now.
    pub driver: Option<String>,
    /// IOMMU group.
    pub iommu_group: Option<u32>,
    /// NUMA node.
    pub numa_node: Option<u32>,
    /// `sriov_totalvfs` and `sriov_numvfs` of a PF.
    pub sriov: Option<VfCounts>,
    /// A VF's PF.
    pub physfn: Option<String>,
    /// A PF's VFs, in index order.
    pub virtfns: Vec<String>,
    /// Network interfaces.
    pub netdevs: Vec<String>,
}

/// A PF's VF counts.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct VfCounts {
    /// `sriov_totalvfs`.
    pub total_vfs: u32,
    /// `sriov_numvfs`.
    pub num_vfs: u32,
}

/// One SR-IOV PF.
#[derive(Clone, Debug, Serialize)]
pub struct PfEssentials {
    /// Its network interfaces.
    pub netdevs: Vec<String>,
    /// `sriov_totalvfs`.
    pub total_vfs: u32,
    /// `sriov_numvfs`.
    pub num_vfs: u32,
    /// Its VFs, in index order.
    pub vfs: Vec<String>,
    /// The driver of each VF (`null` when unbound), in the same order.
    pub vf_drivers: Vec<Option<String>>,
}

/// nova.conf's PCI options, as nova reads them (after `$name` substitution, in
/// nova's merged order, deprecated names included).
#[derive(Clone, Debug, Serialize)]
pub struct NovaEssentials {
    /// `[pci] device_spec` values.
    pub device_spec: Vec<String>,
    /// `[pci] alias` values.
    pub alias: Vec<String>,
    /// Errors that stop nova loading an option, `file:line: message`.
    pub errors: Vec<String>,
}

impl NovaEssentials {
    /// From the nova.conf text among a host's facts, read by [`NovaConf`] (the one
    /// reader); a file nova cannot read is its one error. `passthru_facts` and `fleet
    /// diff` both see nova.conf through this.
    pub fn from_facts(f: &crate::host::system::NovaConf) -> Self {
        match NovaConf::from_facts(f) {
            Ok(c) => NovaEssentials::of(&c),
            Err(e) => NovaEssentials {
                device_spec: Vec::new(),
                alias: Vec::new(),
                errors: vec![e.to_string()],
            },
        }
    }

    /// From nova.conf as [`NovaConf`] reads it.
    pub fn of(conf: &NovaConf) -> Self {
        NovaEssentials {
            device_spec: conf.device_spec.iter().map(|v| v.value.clone()).collect(),
            alias: conf.alias.iter().map(|v| v.value.clone()).collect(),
            errors: conf
                .errors
                .iter()
                .map(|e| format!("{}:{}: {}", e.loc.file, e.loc.line, e.message))
                .collect(),
        }
    }
}

impl Essentials {
    /// The essentials of a host, with its nova.conf as read by [`NovaConf`] (a
    /// snapshot carries only the raw values, which are used when `nova` is `None`).
    pub fn of(host: &Host, nova: Option<&NovaConf>) -> Essentials {
        let devices = host
            .devices
            .iter()
            .map(|d| DeviceEssentials {
                address: d.address.to_string(),
                vendor_id: d.vendor_id.to_string(),
                device_id: d.device_id.to_string(),
                class: d.class.to_string(),
                name: d.names.device.clone(),
                driver: d.driver.clone(),
                iommu_group: d.iommu_group,
                numa_node: d.numa_node,
                sriov: d.sriov.as_ref().map(|s| VfCounts {
                    total_vfs: s.total_vfs,
                    num_vfs: s.num_vfs,
                }),
                physfn: d.physfn.map(|a| a.to_string()),
                virtfns: d.virtfns.iter().map(|a| a.to_string()).collect(),
                netdevs: d.netdevs.clone(),
            })
            .collect();
        let sriov = host
            .devices
            .iter()
            .filter_map(|d| {
                let s = d.sriov.as_ref()?;
                Some((
                    d.address.to_string(),
                    PfEssentials {
                        netdevs: d.netdevs.clone(),
                        total_vfs: s.total_vfs,
                        num_vfs: s.num_vfs,
                        vfs: d.virtfns.iter().map(|a| a.to_string()).collect(),
                        vf_drivers: d
                            .virtfns
                            .iter()
                            .map(|a| host.device(a).and_then(|v| v.driver.clone()))
                            .collect(),
                    },
                ))
            })
            .collect();
        Essentials {
            hostname: host.hostname.clone(),
            kernel_cmdline: host.kernel_cmdline.clone(),
            kernel_release: host.system.kernel_release.clone(),
            cpu_vendor: host.system.cpu.vendor,
            iommu: IommuState {
                enabled: iommu_active(host),
                groups: host.iommu_groups.len(),
                units: host
                    .system
                    .iommu_units
                    .iter()
                    .map(|u| u.name.clone())
                    .collect(),
            },
            devices,
            sriov,
            // The host's nova.conf, read by nova::conf (the one reader) when no
            // reading is given.
            nova: nova
                .map(NovaEssentials::of)
                .or_else(|| host.system.nova.as_ref().map(NovaEssentials::from_facts)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::model::{PciDevice, Sriov};
    use crate::nova::conf::NovaConf;
    use crate::pci::PciAddress;

    #[test]
    fn pfs_list_their_vfs_and_drivers_and_nova_is_read_as_nova_reads_it() {
        let pf_a = PciAddress::parse("0000:06:00.0").unwrap();
        let vf_a = PciAddress::parse("0000:06:10.0").unwrap();
        let mut pf = PciDevice::new(pf_a, 0x8086, 0x1521, 0x020000);
        pf.sriov = Some(Sriov {
            total_vfs: 7,
            num_vfs: 1,
            ..Sriov::default()
        });
        pf.virtfns = vec![vf_a];
        pf.netdevs = vec!["eno2".into()];
        let mut vf = PciDevice::new(vf_a, 0x8086, 0x1520, 0x020000);
        vf.physfn = Some(pf_a);
        vf.driver = Some("vfio-pci".into());
        let host = Host {
            devices: vec![pf, vf],
            kernel_cmdline: Some("intel_iommu=on".into()),
            ..Host::default()
        };
        let conf = NovaConf::parse(&[(
            "nova.conf",
            "[pci]\npassthrough_whitelist = {\"vendor_id\": \"8086\"}\n",
        )])
        .unwrap();
        let e = Essentials::of(&host, Some(&conf));
        assert!(!e.iommu.enabled, "no groups, no units");
        let p = &e.sriov["0000:06:00.0"];
        assert_eq!((p.total_vfs, p.num_vfs), (7, 1));
        assert_eq!(p.vfs, ["0000:06:10.0"]);
        assert_eq!(p.vf_drivers, [Some("vfio-pci".to_string())]);
        assert_eq!(e.devices[1].physfn.as_deref(), Some("0000:06:00.0"));
        let n = e.nova.unwrap();
        assert_eq!(
            n.device_spec,
            ["{\"vendor_id\": \"8086\"}"],
            "the deprecated name is read as nova reads it"
        );
    }
}
