//! IOMMU groups and whether each can be handed to a guest whole.

use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;
use serde::Serialize;

/// One IOMMU group with an isolation verdict.
#[derive(Clone, Debug, Serialize)]
pub struct GroupView {
    /// Group number.
    pub number: u32,
    /// Members with their roles.
    pub members: Vec<GroupMember>,
    /// True when the endpoints in the group are functions of one device (bridges
    /// aside): the group can be assigned whole without taking anything else.
    pub isolated: bool,
    /// The distinct devices (`dddd:bb:ss`) among the endpoints.
    pub endpoint_devices: Vec<String>,
}

/// A member of a group.
#[derive(Clone, Debug, Serialize)]
pub struct GroupMember {
    /// Address.
    pub address: PciAddress,
    /// `vendor:device`.
    pub ids: String,
    /// Human label.
    pub label: String,
    /// Driver, if bound.
    pub driver: Option<String>,
    /// Bridges do not count against isolation.
    pub bridge: bool,
}

/// Whether a set of members is isolated: every non-bridge member is a function of
/// one and the same device (domain, bus and slot).
pub fn is_isolated<'a>(members: impl IntoIterator<Item = &'a PciDevice>) -> bool {
    endpoint_slots(members).len() <= 1
}

fn endpoint_slots<'a>(members: impl IntoIterator<Item = &'a PciDevice>) -> Vec<String> {
    let mut slots: Vec<String> = members
        .into_iter()
        .filter(|d| !d.is_bridge())
        .map(|d| {
            format!(
                "{:04x}:{:02x}:{:02x}",
                d.address.domain, d.address.bus, d.address.slot
            )
        })
        .collect();
    slots.sort();
    slots.dedup();
    slots
}

/// Every IOMMU group of a host with its verdict.
pub fn groups(host: &Host) -> Vec<GroupView> {
    host.iommu_groups
        .iter()
        .map(|g| {
            let devs: Vec<&PciDevice> = g.devices.iter().filter_map(|a| host.device(a)).collect();
            GroupView {
                number: g.number,
                members: devs
                    .iter()
                    .map(|d| GroupMember {
                        address: d.address,
                        ids: d.id_pair(),
                        label: d.label(),
                        driver: d.driver.clone(),
                        bridge: d.is_bridge(),
                    })
                    .collect(),
                isolated: is_isolated(devs.iter().copied()),
                endpoint_devices: endpoint_slots(devs.iter().copied()),
            }
        })
        .collect()
}

/// The other endpoint members of a device's group that are not functions of the
/// same device: what would have to go with it to a guest.
pub fn foreign_members<'h>(host: &'h Host, dev: &PciDevice) -> Vec<&'h PciDevice> {
    let Some(g) = dev.iommu_group.and_then(|n| host.group(n)) else {
        return Vec::new();
    };
    g.devices
        .iter()
        .filter_map(|a| host.device(a))
        .filter(|m| !m.is_bridge() && !m.address.same_slot(&dev.address))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(a: &str, class: u32, group: u32) -> PciDevice {
        let mut d = PciDevice::new(PciAddress::parse(a).unwrap(), 0x10de, 0x1b80, class);
        d.iommu_group = Some(group);
        d
    }

    #[test]
    fn functions_of_one_device_plus_bridges_are_isolated() {
        let mut h = Host {
            devices: vec![
                dev("00:01.0", 0x060400, 1),
                dev("01:00.0", 0x030000, 1),
                dev("01:00.1", 0x040300, 1),
                dev("02:00.0", 0x030000, 2),
                dev("03:00.0", 0x010700, 2),
            ],
            ..Host::default()
        };
        h.normalize();
        let g = groups(&h);
        assert!(g[0].isolated, "GPU + its audio + a bridge");
        assert!(!g[1].isolated, "GPU sharing with a SAS HBA");
        assert_eq!(g[1].endpoint_devices, vec!["0000:02:00", "0000:03:00"]);
        let gpu = h.device(&PciAddress::parse("02:00.0").unwrap()).unwrap();
        let f = foreign_members(&h, gpu);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].address.short(), "03:00.0");
    }
}
