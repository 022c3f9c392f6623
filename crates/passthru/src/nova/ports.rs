//! `nova check --physnet NAME`: which VFs a neutron port with `vnic_type direct` on
//! that physical network could get on this host, and why each other VF could not. It
//! reads nova's own decision ([`Report`]): a port's PCI request asks for a `type-VF`
//! whose device_spec tags the same `physical_network`.

use super::check::Report;
use super::matching::TYPE_VF;
use serde::Serialize;

/// One VF and whether a direct port on the physical network can get it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PortVf {
    /// Address.
    pub address: String,
    /// Its PF.
    pub pf: Option<String>,
    /// NUMA node.
    pub numa_node: Option<u32>,
    /// Whether a port can get it.
    pub usable: bool,
    /// Why (not).
    pub reason: String,
}

/// The answer for one physical network.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DirectPorts {
    /// The physical network asked about.
    pub physnet: String,
    /// Every VF of the host.
    pub vfs: Vec<PortVf>,
}

impl DirectPorts {
    /// How many VFs a port can get.
    pub fn usable(&self) -> usize {
        self.vfs.iter().filter(|v| v.usable).count()
    }
}

/// Judges every VF of the report for a direct port on `physnet`.
pub fn direct_ports(report: &Report, physnet: &str) -> DirectPorts {
    let vfs = report
        .devices
        .iter()
        .filter(|d| d.dev_type == TYPE_VF)
        .map(|d| {
            let tag = |k: &str| {
                d.tags
                    .iter()
                    .find(|(t, _)| t == k)
                    .map(|(_, v)| v.to_py_str())
            };
            let remote = tag("remote_managed").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let (usable, reason) = match (d.exposed, tag("physical_network")) {
                (false, _) => (false, d.reason.clone()),
                (true, None) => (false, format!("{}, without physical_network: only a PCI alias (flavor) can take it, never a port", d.reason)),
                (true, Some(p)) if p != physnet => (false, format!("{} with physical_network {p}, not {physnet}", d.reason)),
                (true, Some(_)) if remote => (false, "tagged remote_managed: only vnic_type remote-managed ports take it".into()),
                (true, Some(_)) => (true, format!("{} with physical_network {physnet}", d.reason)),
            };
            PortVf {
                address: d.address.clone(),
                pf: d.parent_addr.clone(),
                numa_node: d.numa_node,
                usable,
                reason,
            }
        })
        .collect();
    DirectPorts {
        physnet: physnet.to_string(),
        vfs,
    }
}
