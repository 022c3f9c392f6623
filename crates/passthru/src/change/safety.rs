//! Refusals that keep the host itself alive: never take the NIC that carries the
//! default route or the SSH session, never pull VFs from under a guest.
//!
//! The default route comes from `proc/net/route` and `proc/net/ipv6_route`; routes on
//! a bridge, bond or VLAN are followed down to the physical ports (`lower_*` links).
//! The SSH session is `SSH_CONNECTION` (`client port server port`): its server
//! address is matched to the interface that owns it, and the client address to the
//! interface the kernel routes replies through (see
//! [`sources::change_facts`](crate::host::sources::change_facts) for why these files).

use crate::change::plan::same_driver;
use crate::change::Refusal;
use crate::host::change_facts::ChangeFacts;
use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;
use std::net::IpAddr;

/// The network interfaces the host needs to stay reachable, each with why.
pub fn critical_interfaces(
    facts: &ChangeFacts,
    ssh_connection: Option<&str>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let add = |iface: &str, why: String, out: &mut Vec<(String, String)>| {
        for l in facts.network.with_lowers(iface) {
            if !out.iter().any(|(i, _)| *i == l) {
                let why = if l == iface {
                    why.clone()
                } else {
                    format!("{why} (through {iface})")
                };
                out.push((l, why));
            }
        }
    };
    for i in facts.network.default_route_ifaces() {
        add(&i, "carries the default route".to_string(), &mut out);
    }
    if let Some((client, server)) = ssh_connection.and_then(parse_ssh_connection) {
        if let Some(i) = facts.network.local_iface_for(server) {
            add(
                &i,
                format!("carries this SSH session (local address {server})"),
                &mut out,
            );
        }
        if let Some(i) = facts.network.route_iface_for(client) {
            add(
                &i,
                format!("carries this SSH session (route to {client})"),
                &mut out,
            );
        }
    }
    out
}

/// Parses `SSH_CONNECTION`: client address, client port, server address, server port.
/// IPv4-mapped IPv6 addresses become IPv4.
pub fn parse_ssh_connection(s: &str) -> Option<(IpAddr, IpAddr)> {
    let w: Vec<&str> = s.split_whitespace().collect();
    if w.len() < 4 {
        return None;
    }
    let ip = |t: &str| -> Option<IpAddr> {
        let t = t.split('%').next().unwrap_or(t);
        let a: IpAddr = t.parse().ok()?;
        Some(match a {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        })
    };
    Some((ip(w[0])?, ip(w[2])?))
}

/// The interfaces a device takes down with it when it leaves its driver: its own
/// netdevs and, for a PF, those of its VFs (the PF driver removes them).
fn netdevs_taken(host: &Host, dev: &PciDevice) -> Vec<String> {
    let mut v = dev.netdevs.clone();
    for vf in &dev.virtfns {
        if let Some(d) = host.device(vf) {
            v.extend(d.netdevs.iter().cloned());
        }
    }
    v
}

/// Refusals for devices about to leave their host driver (bound to vfio-pci or
/// another driver, or unbound).
pub fn check_leaving_host(
    host: &Host,
    facts: &ChangeFacts,
    devices: &[PciAddress],
    ssh_connection: Option<&str>,
) -> Vec<Refusal> {
    let critical = critical_interfaces(facts, ssh_connection);
    let mut out = Vec::new();
    for a in devices {
        let Some(d) = host.device(a) else { continue };
        for n in netdevs_taken(host, d) {
            if let Some((_, why)) = critical.iter().find(|(i, _)| *i == n) {
                out.push(Refusal::forceable(
                    Some(*a),
                    format!("{a} is the network interface {n}, which {why}: taking it from its driver would cut the host off"),
                    format!("use another device, or move the host's traffic off {n} first (--force to do it anyway, from a console)"),
                ));
            }
        }
        if d.sriov.as_ref().is_some_and(|s| s.num_vfs > 0) {
            out.push(Refusal::forceable(
                Some(*a),
                format!(
                    "{a} is a PF with {} VFs: unbinding its driver removes them",
                    d.sriov.as_ref().map(|s| s.num_vfs).unwrap_or(0)
                ),
                format!("set its VFs to 0 first (`passthru vfs {a} 0`), or --force"),
            ));
        }
    }
    out
}

/// Who holds a device: a guest naming it, or a process with its group open.
pub fn users_of(host: &Host, facts: &ChangeFacts, dev: &PciAddress) -> Vec<String> {
    let group = host.device(dev).and_then(|d| d.iommu_group);
    let mut v: Vec<String> = facts
        .in_use
        .iter()
        .filter(|u| u.device == Some(*dev) || (u.group.is_some() && u.group == group))
        .map(|u| u.by.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Refusals for removing VFs (every current VF of `pf` disappears when its count
/// changes, since the kernel only changes a count through 0).
pub fn check_vfs_removal(
    host: &Host,
    facts: &ChangeFacts,
    pf: &PciDevice,
    ssh_connection: Option<&str>,
) -> Vec<Refusal> {
    let critical = critical_interfaces(facts, ssh_connection);
    let mut out = Vec::new();
    for vf in &pf.virtfns {
        let Some(d) = host.device(vf) else { continue };
        let users = users_of(host, facts, vf);
        if !users.is_empty() {
            out.push(Refusal::forceable(
                Some(*vf),
                format!("VF {vf} is in use by {}", users.join(", ")),
                "detach it from the guest or stop the guest first (--force to remove it anyway)"
                    .into(),
            ));
        } else if d
            .driver
            .as_deref()
            .is_some_and(|x| same_driver(x, "vfio-pci"))
        {
            out.push(Refusal::forceable(
                Some(*vf),
                format!(
                    "VF {vf} is bound to vfio-pci (set aside for a guest) and would be removed"
                ),
                "make sure no guest is meant to use it, then --force".into(),
            ));
        }
        for n in &d.netdevs {
            if let Some((_, why)) = critical.iter().find(|(i, _)| i == n) {
                out.push(Refusal::forceable(
                    Some(*vf),
                    format!("VF {vf} is the interface {n}, which {why}, and would be removed"),
                    format!("move the host's traffic off {n} first (--force to do it anyway)"),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::change_facts::{DeviceUse, NetworkFacts, Route4};
    use crate::host::model::Sriov;
    use std::net::Ipv4Addr;

    fn host() -> Host {
        let mut pf = PciDevice::new(
            PciAddress::parse("06:00.0").unwrap(),
            0x8086,
            0x1521,
            0x020000,
        );
        pf.netdevs = vec!["eno1".into()];
        pf.driver = Some("igb".into());
        let mut pf2 = PciDevice::new(
            PciAddress::parse("06:00.1").unwrap(),
            0x8086,
            0x1521,
            0x020000,
        );
        pf2.netdevs = vec!["eno2".into()];
        pf2.sriov = Some(Sriov {
            total_vfs: 8,
            num_vfs: 2,
            ..Default::default()
        });
        let mut vf0 = PciDevice::new(
            PciAddress::parse("07:10.1").unwrap(),
            0x8086,
            0x1520,
            0x020000,
        );
        vf0.physfn = Some(pf2.address);
        vf0.driver = Some("vfio-pci".into());
        vf0.iommu_group = Some(34);
        let mut vf1 = PciDevice::new(
            PciAddress::parse("07:10.5").unwrap(),
            0x8086,
            0x1520,
            0x020000,
        );
        vf1.physfn = Some(pf2.address);
        vf1.driver = Some("igbvf".into());
        vf1.netdevs = vec!["enp7s16f5".into()];
        pf2.virtfns = vec![vf0.address, vf1.address];
        let mut h = Host {
            devices: vec![pf, pf2, vf0, vf1],
            ..Host::default()
        };
        h.normalize();
        h
    }

    fn facts() -> ChangeFacts {
        let r = |iface: &str, d: [u8; 4], m: [u8; 4], g: [u8; 4]| Route4 {
            iface: iface.into(),
            dest: Ipv4Addr::from(d),
            mask: Ipv4Addr::from(m),
            gateway: Ipv4Addr::from(g),
        };
        let mut n = NetworkFacts {
            routes4: vec![
                r("br0", [0, 0, 0, 0], [0, 0, 0, 0], [10, 8, 31, 254]),
                r("br0", [10, 8, 0, 0], [255, 255, 224, 0], [0, 0, 0, 0]),
                r("eno2", [192, 168, 5, 0], [255, 255, 255, 0], [0, 0, 0, 0]),
            ],
            ..Default::default()
        };
        n.lowers.insert("br0".into(), vec!["eno1".into()]);
        ChangeFacts {
            network: n,
            ..Default::default()
        }
    }

    #[test]
    fn default_route_through_a_bridge_protects_its_port() {
        let (h, f) = (host(), facts());
        let pf = PciAddress::parse("06:00.0").unwrap();
        let r = check_leaving_host(&h, &f, &[pf], None);
        assert_eq!(r.len(), 1);
        assert!(
            r[0].message.contains("eno1") && r[0].message.contains("default route (through br0)"),
            "{}",
            r[0].message
        );
        assert!(r[0].forceable);
    }

    #[test]
    fn ssh_session_interface_is_protected() {
        let (h, f) = (host(), facts());
        let pf2 = PciAddress::parse("06:00.1").unwrap();
        // Not on the default route, but the SSH session arrives on 192.168.5.10.
        let r = check_leaving_host(&h, &f, &[pf2], Some("192.168.5.77 50022 192.168.5.10 22"));
        assert!(r.iter().any(|x| x.message.contains("SSH session")), "{r:?}");
        // It also has VFs enabled.
        assert!(r.iter().any(|x| x.message.contains("2 VFs")));
        let r = check_leaving_host(
            &h,
            &f,
            &[pf2],
            Some("::ffff:10.9.9.9 50022 ::ffff:10.8.1.20 22"),
        );
        assert!(!r.iter().any(|x| x.message.contains("SSH")), "{r:?}");
    }

    #[test]
    fn removing_vfs_held_by_guests_or_vfio_is_refused() {
        let (h, mut f) = (host(), facts());
        let pf2 = h
            .device(&PciAddress::parse("06:00.1").unwrap())
            .unwrap()
            .clone();
        let r = check_vfs_removal(&h, &f, &pf2, None);
        assert_eq!(r.len(), 1);
        assert!(r[0].message.contains("vfio-pci"));
        f.in_use.push(DeviceUse {
            device: None,
            group: Some(34),
            by: "pid 77 (qemu-system-x86)".into(),
        });
        let r = check_vfs_removal(&h, &f, &pf2, None);
        assert!(
            r[0].message.contains("in use by pid 77"),
            "{}",
            r[0].message
        );
    }
}
