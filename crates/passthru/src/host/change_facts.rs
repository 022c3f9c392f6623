//! Facts that planning a change needs beyond the PCI tree: boot firmware and boot
//! loader tooling, the configuration files passthru may edit, routes and addresses
//! (to keep the host's own network), devices held by running guests, loaded PCI
//! drivers. Read by [`sources::change_facts`](crate::host::sources::change_facts);
//! the planners in [`change`](crate::change) are pure functions of these and a
//! [`Host`](crate::host::Host).

use crate::change::plan::FileDigest;
use crate::host::system::CpuVendor;
use crate::pci::PciAddress;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A configuration file as read: its bytes (text) and where symlinks led.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileFact {
    /// The path with symlinks resolved inside the root (`etc/sysconfig/grub` is often
    /// a link to `etc/default/grub`): edits go there.
    pub real_path: String,
    /// The contents (lossily decoded; [`FileFact::digest`] is of the exact bytes).
    pub text: String,
    /// Digest of the exact bytes.
    pub digest: FileDigest,
}

/// An IPv4 route (`proc/net/route`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route4 {
    /// Interface.
    pub iface: String,
    /// Destination network.
    pub dest: Ipv4Addr,
    /// Netmask.
    pub mask: Ipv4Addr,
    /// Gateway (`0.0.0.0` for a connected network).
    pub gateway: Ipv4Addr,
}

/// An IPv6 route (`proc/net/ipv6_route`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route6 {
    /// Interface.
    pub iface: String,
    /// Destination network.
    pub dest: Ipv6Addr,
    /// Prefix length.
    pub prefix: u8,
}

/// Routes, addresses and interface stacking.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetworkFacts {
    /// IPv4 routes that are up and not rejecting.
    pub routes4: Vec<Route4>,
    /// IPv6 routes that are up and not rejecting (loopback excluded).
    pub routes6: Vec<Route6>,
    /// IPv6 addresses per interface (`proc/net/if_inet6`).
    pub addrs6: Vec<(String, Ipv6Addr)>,
    /// Lower interfaces of stacked ones (`sys/class/net/IF/lower_*`: bridge ports,
    /// bond slaves, the parent of a VLAN).
    pub lowers: BTreeMap<String, Vec<String>>,
}

impl NetworkFacts {
    /// Interfaces that carry a default route (IPv4 0.0.0.0/0 or IPv6 ::/0).
    pub fn default_route_ifaces(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .routes4
            .iter()
            .filter(|r| r.mask == Ipv4Addr::UNSPECIFIED && r.dest == Ipv4Addr::UNSPECIFIED)
            .map(|r| r.iface.clone())
            .chain(
                self.routes6
                    .iter()
                    .filter(|r| r.prefix == 0)
                    .map(|r| r.iface.clone()),
            )
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The interface the kernel would use to reach `ip` (longest prefix match).
    pub fn route_iface_for(&self, ip: IpAddr) -> Option<String> {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.routes4
                    .iter()
                    .filter(|r| a & u32::from(r.mask) == u32::from(r.dest) & u32::from(r.mask))
                    .max_by_key(|r| u32::from(r.mask).count_ones())
                    .map(|r| r.iface.clone())
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.routes6
                    .iter()
                    .filter(|r| {
                        prefix_mask(r.prefix) & a == prefix_mask(r.prefix) & u128::from(r.dest)
                    })
                    .max_by_key(|r| r.prefix)
                    .map(|r| r.iface.clone())
            }
        }
    }

    /// The interface that owns a local address: for IPv6 the exact address in
    /// `if_inet6`; for IPv4 the interface of the connected network (a route without
    /// gateway) that holds it, which is the prefix route the kernel adds for every
    /// address.
    pub fn local_iface_for(&self, ip: IpAddr) -> Option<String> {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.routes4
                    .iter()
                    .filter(|r| r.gateway == Ipv4Addr::UNSPECIFIED && u32::from(r.mask) != 0)
                    .filter(|r| a & u32::from(r.mask) == u32::from(r.dest) & u32::from(r.mask))
                    .max_by_key(|r| u32::from(r.mask).count_ones())
                    .map(|r| r.iface.clone())
            }
            IpAddr::V6(a) => self
                .addrs6
                .iter()
                .find(|(_, x)| *x == a)
                .map(|(i, _)| i.clone()),
        }
    }

    /// An interface and every interface below it (bridge -> bond -> ports...).
    pub fn with_lowers(&self, iface: &str) -> Vec<String> {
        let mut out = vec![iface.to_string()];
        let mut i = 0;
        while i < out.len() {
            if let Some(l) = self.lowers.get(&out[i]) {
                for x in l {
                    if !out.contains(x) {
                        out.push(x.clone());
                    }
                }
            }
            i += 1;
        }
        out
    }
}

fn prefix_mask(p: u8) -> u128 {
    if p == 0 {
        0
    } else {
        u128::MAX << (128 - p.min(128) as u32)
    }
}

/// A device (or a whole IOMMU group) held by a guest or a process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceUse {
    /// The device, when the holder names one (libvirt `<hostdev>`).
    pub device: Option<PciAddress>,
    /// The IOMMU group, when the holder opened `/dev/vfio/N`.
    pub group: Option<u32>,
    /// Who: `libvirt domain web1`, `pid 4242 (qemu-system-x86)`.
    pub by: String,
}

/// Everything a change planner reads besides [`Host`](crate::host::Host).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChangeFacts {
    /// CPU vendor (`proc/cpuinfo`, read as `doctor` reads it).
    pub cpu_vendor: CpuVendor,
    /// Running kernel release (`proc/sys/kernel/osrelease`).
    pub kernel_release: Option<String>,
    /// Booted through UEFI (`sys/firmware/efi` exists).
    pub efi: bool,
    /// Boot, initramfs and service tools found under the root
    /// (`usr/sbin`, `usr/bin`, `sbin`, `bin`, `usr/local/sbin`, `usr/local/bin`).
    pub tools: Vec<String>,
    /// Files planners edit or consult, by path relative to the root as asked for.
    pub files: BTreeMap<String, FileFact>,
    /// `grub.cfg` files that exist: `boot/grub2/grub.cfg`, `boot/grub/grub.cfg`,
    /// `boot/efi/EFI/*/grub.cfg` (contents in `files`).
    pub grub_cfgs: Vec<String>,
    /// Boot Loader Specification entries (`boot/loader/entries/*.conf`, contents in
    /// `files`), which grubby and kernel-install maintain.
    pub bls_entries: Vec<String>,
    /// `etc/modprobe.d/*.conf` files (contents in `files`).
    pub modprobe_d: Vec<String>,
    /// Whether `etc/initramfs-tools` exists (Debian's initramfs).
    pub initramfs_tools: bool,
    /// Whether `etc/dracut.conf.d` exists.
    pub dracut_conf_d: bool,
    /// PCI drivers registered now (`sys/bus/pci/drivers/*`).
    pub pci_drivers: Vec<String>,
    /// vfio-pci's `enable_sriov` (`sys/module/vfio_pci/parameters/enable_sriov`):
    /// without it vfio-pci cannot create VFs on a PF it holds.
    pub vfio_pci_enable_sriov: Option<bool>,
    /// Routes, addresses and stacking.
    pub network: NetworkFacts,
    /// Devices held by running guests and processes.
    pub in_use: Vec<DeviceUse>,
}

impl ChangeFacts {
    /// Whether a tool exists under the root.
    pub fn has_tool(&self, name: &str) -> bool {
        self.tools.iter().any(|t| t == name)
    }

    /// A file read, if it exists.
    pub fn file(&self, path: &str) -> Option<&FileFact> {
        self.files.get(path)
    }

    /// Whether a PCI driver is registered (`-` and `_` alike).
    pub fn has_driver(&self, name: &str) -> bool {
        self.pci_drivers
            .iter()
            .any(|d| crate::change::plan::same_driver(d, name))
    }
}
