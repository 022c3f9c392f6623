//! Reads [`ChangeFacts`] from a root directory. Never fails: what cannot be read
//! stays unknown or empty.
//!
//! Addresses and routes come from `proc/net/route`, `proc/net/ipv6_route` and
//! `proc/net/if_inet6` under the root rather than from `ip -j addr`: they are plain
//! files, so the same code reads a fake root, the simulator and the real `/`, and
//! no program runs. IPv4 has no per-interface address file in `proc`, so an IPv4
//! local address is matched to the interface of the connected network that holds it
//! (the prefix route the kernel adds for each address).

use crate::change::plan::FileDigest;
use crate::host::change_facts::{ChangeFacts, DeviceUse, FileFact, NetworkFacts, Route4, Route6};
use crate::host::root::Root;
use crate::pci::PciAddress;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Tools a planner may call, looked up under the root.
pub const TOOLS: &[&str] = &[
    "grubby",
    "update-grub",
    "grub2-mkconfig",
    "grub-mkconfig",
    "kernel-install",
    "proxmox-boot-tool",
    "dracut",
    "update-initramfs",
    "systemctl",
    "modprobe",
];

/// Directories searched for tools, relative to the root.
pub const TOOL_DIRS: &[&str] = &[
    "usr/local/sbin",
    "usr/local/bin",
    "usr/sbin",
    "usr/bin",
    "sbin",
    "bin",
];

/// Single files planners read (when present).
pub const FILES: &[&str] = &[
    "etc/default/grub",
    "etc/sysconfig/grub",
    "etc/kernel/cmdline",
    "etc/initramfs-tools/modules",
    "etc/dracut.conf.d/passthru.conf",
    "etc/passthru/host.toml",
    "etc/systemd/system/passthru.service",
    "etc/systemd/system/multi-user.target.wants/passthru.service",
    "etc/nova/nova.conf",
];

/// Reads every change fact from a root.
pub fn read_change_facts(root: &Root) -> ChangeFacts {
    let mut f = ChangeFacts {
        cpu_vendor: crate::host::sources::system::cpu::read_cpu(root).vendor,
        kernel_release: root
            .read_string("proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        efi: root.is_dir("sys/firmware/efi"),
        initramfs_tools: root.is_dir("etc/initramfs-tools"),
        dracut_conf_d: root.is_dir("etc/dracut.conf.d"),
        ..ChangeFacts::default()
    };
    for t in TOOLS {
        if TOOL_DIRS
            .iter()
            .any(|d| root.exists(&format!("{d}/{t}")) && !root.is_dir(&format!("{d}/{t}")))
        {
            f.tools.push(t.to_string());
        }
    }
    for p in FILES {
        read_file(root, p, &mut f);
    }
    for dir in ["boot/grub2", "boot/grub"] {
        let p = format!("{dir}/grub.cfg");
        if read_file(root, &p, &mut f) {
            f.grub_cfgs.push(p);
        }
    }
    for vendor in sorted(root.list("boot/efi/EFI").unwrap_or_default()) {
        let p = format!("boot/efi/EFI/{vendor}/grub.cfg");
        if read_file(root, &p, &mut f) {
            f.grub_cfgs.push(p);
        }
    }
    for dir in [
        "boot/loader/entries",
        "boot/efi/loader/entries",
        "efi/loader/entries",
    ] {
        for n in sorted(root.list(dir).unwrap_or_default()) {
            if n.ends_with(".conf") {
                let p = format!("{dir}/{n}");
                if read_file(root, &p, &mut f) {
                    f.bls_entries.push(p);
                }
            }
        }
    }
    for n in sorted(root.list("etc/modprobe.d").unwrap_or_default()) {
        if n.ends_with(".conf") {
            let p = format!("etc/modprobe.d/{n}");
            if read_file(root, &p, &mut f) {
                f.modprobe_d.push(p);
            }
        }
    }
    f.pci_drivers = sorted(root.list("sys/bus/pci/drivers").unwrap_or_default());
    f.vfio_pci_enable_sriov = root
        .read_string("sys/module/vfio_pci/parameters/enable_sriov")
        .ok()
        .map(|v| matches!(v.trim(), "Y" | "y" | "1"));
    f.network = read_network(root);
    f.in_use = read_in_use(root);
    f
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Reads one file into `files`; true when it exists and is a readable file. Commands
/// that edit a file named on their command line (`render nova --write FILE`) read it
/// with this too.
pub fn read_file(root: &Root, rel: &str, f: &mut ChangeFacts) -> bool {
    let Ok(bytes) = root.read(rel) else {
        return false;
    };
    let real_path = root
        .resolve(rel)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| rel.to_string());
    f.files.insert(
        rel.to_string(),
        FileFact {
            real_path,
            digest: FileDigest::of(&bytes),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        },
    );
    true
}

const RTF_UP: u32 = 0x0001;
const RTF_REJECT: u32 = 0x0200;

/// Parses `proc/net/route` (addresses printed as native-endian hex of network-order
/// values: little-endian on every host passthru targets).
pub fn parse_route(text: &str) -> Vec<Route4> {
    let ip = |h: &str| -> Option<Ipv4Addr> {
        u32::from_str_radix(h, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.to_le_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            if c.len() < 8 {
                return None;
            }
            let flags = u32::from_str_radix(c[3], 16).ok()?;
            if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 {
                return None;
            }
            Some(Route4 {
                iface: c[0].to_string(),
                dest: ip(c[1])?,
                gateway: ip(c[2])?,
                mask: ip(c[7])?,
            })
        })
        .collect()
}

fn ip6(h: &str) -> Option<Ipv6Addr> {
    if h.len() != 32 {
        return None;
    }
    u128::from_str_radix(h, 16).ok().map(Ipv6Addr::from)
}

/// Parses `proc/net/ipv6_route`.
pub fn parse_ipv6_route(text: &str) -> Vec<Route6> {
    text.lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            if c.len() < 10 {
                return None;
            }
            let flags = u32::from_str_radix(c[8], 16).ok()?;
            if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 || c[9] == "lo" {
                return None;
            }
            Some(Route6 {
                iface: c[9].to_string(),
                dest: ip6(c[0])?,
                prefix: u8::from_str_radix(c[1], 16).ok()?,
            })
        })
        .collect()
}

/// Parses `proc/net/if_inet6`.
pub fn parse_if_inet6(text: &str) -> Vec<(String, Ipv6Addr)> {
    text.lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            if c.len() < 6 {
                return None;
            }
            Some((c[5].to_string(), ip6(c[0])?))
        })
        .collect()
}

fn read_network(root: &Root) -> NetworkFacts {
    let mut n = NetworkFacts {
        routes4: root
            .read_string("proc/net/route")
            .map(|t| parse_route(&t))
            .unwrap_or_default(),
        routes6: root
            .read_string("proc/net/ipv6_route")
            .map(|t| parse_ipv6_route(&t))
            .unwrap_or_default(),
        addrs6: root
            .read_string("proc/net/if_inet6")
            .map(|t| parse_if_inet6(&t))
            .unwrap_or_default(),
        ..NetworkFacts::default()
    };
    for iface in root.list("sys/class/net").unwrap_or_default() {
        let Ok(entries) = root.list(&format!("sys/class/net/{iface}")) else {
            continue;
        };
        let mut lowers: Vec<String> = entries
            .iter()
            .filter_map(|e| e.strip_prefix("lower_").map(str::to_string))
            .collect();
        // Bridges also list their ports under brif/.
        lowers.extend(
            root.list(&format!("sys/class/net/{iface}/brif"))
                .unwrap_or_default(),
        );
        lowers.sort();
        lowers.dedup();
        if !lowers.is_empty() {
            n.lowers.insert(iface, lowers);
        }
    }
    n
}

/// Devices held by guests: the hostdevs of running libvirt domains
/// (`run/libvirt/qemu/*.xml`, the status files libvirt keeps for running guests), and
/// VFIO groups open by processes (`proc/PID/fd/*` links to `/dev/vfio/N`).
fn read_in_use(root: &Root) -> Vec<DeviceUse> {
    let mut out = Vec::new();
    for n in sorted(root.list("run/libvirt/qemu").unwrap_or_default()) {
        let Some(name) = n.strip_suffix(".xml") else {
            continue;
        };
        let Ok(text) = root.read_string(&format!("run/libvirt/qemu/{n}")) else {
            continue;
        };
        for a in libvirt_hostdevs(&text) {
            out.push(DeviceUse {
                device: Some(a),
                group: None,
                by: format!("libvirt domain {name}"),
            });
        }
    }
    for pid in root.list("proc").unwrap_or_default() {
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = root.list(&format!("proc/{pid}/fd")) else {
            continue;
        };
        let mut groups: Vec<u32> = fds
            .iter()
            .filter_map(|fd| root.read_link(&format!("proc/{pid}/fd/{fd}")).ok())
            .filter_map(|t| t.strip_prefix("/dev/vfio/").and_then(|g| g.parse().ok()))
            .collect();
        groups.sort();
        groups.dedup();
        if groups.is_empty() {
            continue;
        }
        let comm = root
            .read_string(&format!("proc/{pid}/comm"))
            .map(|c| c.trim().to_string())
            .unwrap_or_default();
        for g in groups {
            out.push(DeviceUse {
                device: None,
                group: Some(g),
                by: if comm.is_empty() {
                    format!("pid {pid}")
                } else {
                    format!("pid {pid} ({comm})")
                },
            });
        }
    }
    out
}

/// PCI addresses of `<hostdev type='pci'>` and `<interface type='hostdev'>` sources
/// in a libvirt domain (or domain status) XML.
pub fn libvirt_hostdevs(xml: &str) -> Vec<PciAddress> {
    let Ok(doc) = roxmltree::Document::parse(xml) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in doc.descendants().filter(|n| n.has_tag_name("source")) {
        let Some(parent) = n.parent_element() else {
            continue;
        };
        let is_pci_hostdev = (parent.has_tag_name("hostdev")
            && parent.attribute("type").unwrap_or("pci") == "pci")
            || (parent.has_tag_name("interface") && parent.attribute("type") == Some("hostdev"));
        if !is_pci_hostdev {
            continue;
        }
        for a in n.children().filter(|c| c.has_tag_name("address")) {
            let get = |k: &str| a.attribute(k).unwrap_or("0");
            if let Ok(addr) = PciAddress::from_libvirt_attrs(
                get("domain"),
                get("bus"),
                get("slot"),
                get("function"),
            ) {
                out.push(addr);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    const ROUTE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eno1\t00000000\tFE1F080A\t0003\t0\t0\t0\t00000000\t0\t0\t0
eno1\t0000080A\t00000000\t0001\t0\t0\t0\t00E0FFFF\t0\t0\t0
br-ex\t0000FEA9\t00000000\t0001\t0\t0\t1022\t0000FFFF\t0\t0\t0
";

    #[test]
    fn routes_from_the_seeds_route_table() {
        // The first seed's `route -n`: default via 10.8.31.254 on eno1.
        let r = parse_route(ROUTE);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].gateway, Ipv4Addr::new(10, 8, 31, 254));
        assert_eq!(r[1].dest, Ipv4Addr::new(10, 8, 0, 0));
        assert_eq!(r[1].mask, Ipv4Addr::new(255, 255, 224, 0));
        let n = NetworkFacts {
            routes4: r,
            ..Default::default()
        };
        assert_eq!(n.default_route_ifaces(), vec!["eno1"]);
        let local: IpAddr = "10.8.1.20".parse().unwrap();
        assert_eq!(n.local_iface_for(local).as_deref(), Some("eno1"));
        let link_local: IpAddr = "169.254.3.3".parse().unwrap();
        assert_eq!(n.route_iface_for(link_local).as_deref(), Some("br-ex"));
        assert_eq!(
            n.route_iface_for("192.0.2.1".parse().unwrap()).as_deref(),
            Some("eno1")
        );
    }

    #[test]
    fn ipv6_routes_and_addresses() {
        let routes = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eno2
20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eno2
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000001 00000000 80200001 lo
";
        let r = parse_ipv6_route(routes);
        assert_eq!(r.len(), 2);
        let addrs = parse_if_inet6("20010db8000000000000000000000010 03 40 00 80 eno2\n");
        let n = NetworkFacts {
            routes6: r,
            addrs6: addrs,
            ..Default::default()
        };
        assert_eq!(n.default_route_ifaces(), vec!["eno2"]);
        let a: IpAddr = "2001:db8::10".parse().unwrap();
        assert_eq!(n.local_iface_for(a).as_deref(), Some("eno2"));
        assert_eq!(n.route_iface_for(a).as_deref(), Some("eno2"));
    }

    #[test]
    fn lowers_expand_through_stacks() {
        let mut n = NetworkFacts::default();
        n.lowers.insert("br0".into(), vec!["bond0".into()]);
        n.lowers
            .insert("bond0".into(), vec!["eno1".into(), "eno2".into()]);
        assert_eq!(n.with_lowers("br0"), vec!["br0", "bond0", "eno1", "eno2"]);
    }

    #[test]
    fn libvirt_status_hostdevs() {
        let xml = r#"<domstatus state='running'><domain type='kvm'><name>vm1</name><devices>
<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x07' slot='0x10' function='0x7'/></source></hostdev>
<interface type='hostdev'><source><address type='pci' domain='0' bus='7' slot='16' function='3'/></source></interface>
<interface type='network'><source network='default'/></interface>
<hostdev mode='subsystem' type='usb'><source><address bus='1' device='2'/></source></hostdev>
</devices></domain></domstatus>"#;
        let v = libvirt_hostdevs(xml);
        assert_eq!(
            v.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            vec!["0000:07:10.7", "0000:07:10.3"]
        );
    }
}
