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

/// Whether a host driver holds the device. vfio opens a group only when every member
/// is on a vfio driver, on pci-stub, or on no driver (the kernel's `vfio_dev_viable`);
/// any other driver is the host's and keeps the group from vfio. Driver names compare
/// with `-` and `_` alike, as module names do.
pub fn held_by_host(d: &PciDevice) -> bool {
    match d.driver.as_deref() {
        None => false,
        Some(x) => !matches!(x.replace('_', "-").as_str(), "vfio-pci" | "pci-stub"),
    }
}

/// Who else is in a device's IOMMU group, sorted by what that means for vfio: the one
/// IOMMU-group ownership rule. doctor, why, verify, render and bind all ask it, so
/// they cannot disagree on a group.
#[derive(Clone, Debug)]
pub struct GroupOwnership<'h> {
    /// The group's number.
    pub group: u32,
    /// Other endpoint members held by a host driver and not going with the device:
    /// while any is there, vfio cannot open the group (QEMU: "group N is not viable").
    pub held_by_host: Vec<&'h PciDevice>,
    /// Other endpoint members going with the device (the `together` given).
    pub together: Vec<&'h PciDevice>,
    /// Other endpoint members on vfio-pci, pci-stub or no driver, not going with it:
    /// they leave the group viable, but go to the same guest (a group is one guest's).
    pub idle: Vec<&'h PciDevice>,
    /// Bridges in the group (never assigned; they do not count).
    pub bridges: Vec<&'h PciDevice>,
}

impl<'h> GroupOwnership<'h> {
    /// Whether vfio can open the group: no member stays with a host driver.
    pub fn viable(&self) -> bool {
        self.held_by_host.is_empty()
    }

    /// The other endpoint members that are not functions of `dev` (the device asked
    /// about): what would have to go with it to a guest.
    pub fn other_devices(&self, dev: &PciDevice) -> Vec<&'h PciDevice> {
        let mut v: Vec<&'h PciDevice> = self
            .held_by_host
            .iter()
            .chain(&self.together)
            .chain(&self.idle)
            .copied()
            .filter(|m| !m.address.same_slot(&dev.address))
            .collect();
        v.sort_by_key(|m| m.address);
        v
    }
}

/// The ownership of `dev`'s IOMMU group, with `together` the devices given to the same
/// guest in the same breath (they may share the group). `None` when the device is in
/// no group (no IOMMU).
pub fn group_ownership<'h>(
    host: &'h Host,
    dev: &PciDevice,
    together: &[PciAddress],
) -> Option<GroupOwnership<'h>> {
    let number = dev.iommu_group?;
    let mut o = GroupOwnership {
        group: number,
        held_by_host: Vec::new(),
        together: Vec::new(),
        idle: Vec::new(),
        bridges: Vec::new(),
    };
    let members = host.group(number).map(|g| g.devices.as_slice());
    for m in members
        .unwrap_or_default()
        .iter()
        .filter(|a| **a != dev.address)
        .filter_map(|a| host.device(a))
    {
        if m.is_bridge() {
            o.bridges.push(m);
        } else if together.contains(&m.address) {
            o.together.push(m);
        } else if held_by_host(m) {
            o.held_by_host.push(m);
        } else {
            o.idle.push(m);
        }
    }
    Some(o)
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
        let f = group_ownership(&h, gpu, &[]).unwrap().other_devices(gpu);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].address.short(), "03:00.0");
    }

    #[test]
    fn a_group_is_viable_only_when_no_member_stays_on_a_host_driver() {
        let mut gpu = dev("01:00.0", 0x030000, 1);
        gpu.driver = Some("vfio-pci".into());
        let mut audio = dev("01:00.1", 0x040300, 1);
        audio.driver = Some("snd_hda_intel".into());
        let mut h = Host {
            devices: vec![dev("00:01.0", 0x060400, 1), gpu, audio],
            ..Host::default()
        };
        h.normalize();
        let a = |s: &str| PciAddress::parse(s).unwrap();
        let gpu = h.device(&a("01:00.0")).unwrap().clone();
        // Its own audio function on a host driver: not viable, whatever the slot.
        let o = group_ownership(&h, &gpu, &[]).unwrap();
        assert!(!o.viable());
        assert_eq!(o.held_by_host[0].address, a("01:00.1"));
        assert_eq!(o.bridges.len(), 1);
        // Given together, it goes along.
        let o = group_ownership(&h, &gpu, &[a("01:00.1")]).unwrap();
        assert!(o.viable());
        assert_eq!(o.together.len(), 1);
        // On vfio_pci (module spelling), pci-stub or no driver: viable, and idle.
        for drv in [Some("vfio_pci"), Some("pci-stub"), None] {
            h.devices[2].driver = drv.map(str::to_string);
            let o = group_ownership(&h, &gpu, &[]).unwrap();
            assert!(o.viable(), "{drv:?}");
            assert_eq!(o.idle.len(), 1);
        }
        h.devices[1].iommu_group = None;
        assert!(group_ownership(&h, &h.devices[1], &[]).is_none());
    }
}
