//! Reads a [`Host`] from a root directory's `sys/` and `proc/`, the way the kernel
//! lays them out (Documentation/ABI/testing/sysfs-bus-pci, sysfs-class-net).

use crate::error::{Error, Result};
use crate::host::model::{
    DeviceNames, Host, IommuGroup, Netdev, NumaNode, PciDevice, PcieLink, SourceInfo, SourceKind,
    Sriov,
};
use crate::host::root::{join_link, DirHandle, Root};
use crate::pci::names::PCI_IDS_PATHS;
use crate::pci::{DeviceId, PciAddress, PciIds, VendorId};
use rayon::prelude::*;
use std::io;
use std::path::Path;

const DEVICES: &str = "sys/bus/pci/devices";

/// How much of each device to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Detail {
    /// Every fact the model holds (show, snapshot, changes, renderers).
    #[default]
    Full,
    /// What an inventory listing shows: ids, class, driver, IOMMU group, NUMA node,
    /// current link, SR-IOV and PF/VF relations, netdev names. Left unread (null or
    /// empty): `revision`, `driver_override`, `local_cpulist`, `reset_methods`,
    /// `boot_vga`, the link's `max_*`, the width of a link that never trained
    /// (`Unknown` speed), the link and parent of a VF (it has no link of its own;
    /// its parent is its PF's, filled in after the scan), `interfaces` details and
    /// the IOMMU groups' `kind`. About a quarter of the syscalls of [`Detail::Full`]
    /// on hosts with thousands of VFs.
    Inventory,
    /// What the readiness checks use (`doctor`, `why`): the inventory plus
    /// `driver_override`, `reset_methods`, `boot_vga`, and interface details of
    /// functions that are not VFs (PF carrier). Left unread: `local_cpulist`, the
    /// link's `max_*`, VF interface details.
    Checks,
}

/// Options for reading a root.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Look names up in the root's pci.ids (when one exists).
    pub names: bool,
    /// Read host-level facts (CPU, modules, config files) as well as the PCI tree.
    pub system: bool,
    /// How much of each device to read.
    pub detail: Detail,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            names: true,
            system: true,
            detail: Detail::Full,
        }
    }
}

impl ReadOptions {
    /// The options of the readiness checks (`doctor`, `why`): names, host-level
    /// facts, [`Detail::Checks`].
    pub fn checks() -> Self {
        ReadOptions {
            names: true,
            system: true,
            detail: Detail::Checks,
        }
    }

    /// The options of an inventory listing (`ls`, `groups`): names, no host-level
    /// facts, [`Detail::Inventory`].
    pub fn inventory() -> Self {
        ReadOptions {
            names: true,
            system: false,
            detail: Detail::Inventory,
        }
    }
}

/// Reads every fact from a root directory with default options.
pub fn read_root(path: &Path) -> Result<Host> {
    read_root_with(path, &ReadOptions::default())
}

/// Reads every fact from a root directory.
pub fn read_root_with(path: &Path, opts: &ReadOptions) -> Result<Host> {
    let root = Root::open(path).map_err(|source| Error::Root {
        path: path.to_path_buf(),
        source,
    })?;
    read_open_root(&root, opts)
}

/// Reads every fact from an already open root.
pub fn read_open_root(root: &Root, opts: &ReadOptions) -> Result<Host> {
    let names = match root.list(DEVICES) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::NotAHostRoot {
                path: root.path().to_path_buf(),
            })
        }
        Err(source) => {
            return Err(Error::Read {
                path: root.display(DEVICES),
                source,
            })
        }
    };
    // The bus directory is opened once; each device's link is read relative to it.
    let bus_dir = root.open_dir(DEVICES).map_err(|source| Error::Read {
        path: root.display(DEVICES),
        source,
    })?;
    // Device directories live on the bus directory's filesystem (sysfs, or the fake
    // tree's): asked once whether a short listing batch is the whole directory.
    let ends_short = bus_dir.listings_end_short();
    let results: Vec<std::result::Result<Option<PciDevice>, String>> = names
        .par_iter()
        .map(|n| read_device(root, &bus_dir, n, opts.detail, ends_short))
        .collect();
    let mut host = Host {
        source: SourceInfo {
            kind: SourceKind::Root,
            location: root.path().display().to_string(),
        },
        ..Host::default()
    };
    for r in results {
        match r {
            Ok(Some(d)) => host.devices.push(d),
            Ok(None) => {}
            Err(w) => host.warnings.push(w),
        }
    }
    host.devices.sort_by_key(|d| d.address);
    link_vf_indexes(&mut host);
    if opts.detail == Detail::Inventory {
        vf_parents_from_pfs(&mut host);
    }
    host.iommu_groups = read_groups(root, &host.devices, opts.detail != Detail::Inventory);
    host.numa_nodes = read_numa(root);
    host.kernel_cmdline = root
        .read_string("proc/cmdline")
        .ok()
        .map(|s| s.trim().to_string());
    host.hostname = root
        .read_string("proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string());
    if opts.names {
        if let Some(db) = load_pci_ids(root) {
            apply_names(&mut host, &db);
        }
    }
    if opts.system {
        crate::host::sources::system::read_system(root, &mut host);
    }
    host.normalize();
    Ok(host)
}

/// Loads the root's pci.ids, in lspci's order of preference.
pub fn load_pci_ids(root: &Root) -> Option<PciIds> {
    PCI_IDS_PATHS
        .iter()
        .find_map(|p| root.read_string(p).ok())
        .map(PciIds::from_string)
}

/// Fills device names from a pci.ids database, looking each distinct set of ids up
/// once (a host of 2 000 VFs has a handful).
pub fn apply_names(host: &mut Host, db: &PciIds) {
    type Key = (u16, u16, Option<(u16, u16)>, u32);
    let mut seen: std::collections::HashMap<Key, DeviceNames> = Default::default();
    for d in &mut host.devices {
        let (v, dev) = (d.vendor_id.0, d.device_id.0);
        let sub = d
            .subsystem_vendor_id
            .zip(d.subsystem_device_id)
            .map(|(sv, sd)| (sv.0, sd.0));
        d.names = seen
            .entry((v, dev, sub, d.class.0))
            .or_insert_with(|| DeviceNames {
                vendor: db.vendor(v).map(str::to_string),
                device: db.device(v, dev).map(str::to_string),
                subsystem: sub
                    .and_then(|(sv, sd)| db.subsystem(v, dev, sv, sd).map(str::to_string)),
                class: db.class(d.class.0).map(str::to_string),
            })
            .clone();
    }
}

fn hex_u32(s: &str) -> Option<u32> {
    let t = s.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    u32::from_str_radix(t, 16).ok()
}

fn dec_u32(s: Option<String>) -> Option<u32> {
    s.and_then(|v| v.trim().parse().ok())
}

fn vanished(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENODEV))
}

/// Reads one function. `Ok(None)` when it is not a PCI function name; `Err(warning)`
/// when it vanished or is unreadable (the scan goes on).
fn read_device(
    root: &Root,
    bus_dir: &DirHandle,
    name: &str,
    detail: Detail,
    ends_short: bool,
) -> std::result::Result<Option<PciDevice>, String> {
    let full = detail == Detail::Full;
    // driver_override, reset_method and boot_vga: everything but the inventory.
    let binding = detail != Detail::Inventory;
    let Ok(address) = PciAddress::parse(name) else {
        return Ok(None);
    };
    let link_rel = format!("{DEVICES}/{name}");
    // Where the bus link points (`sys/devices/pci0000:00/.../NAME`): the parent, and
    // the path errors name.
    let real_rel = || match bus_dir.read_link(name) {
        Ok(t) => join_link(DEVICES, &t),
        Err(_) => link_rel.clone(),
    };
    let dir = match root.open_dir(&link_rel) {
        Ok(d) => d,
        Err(e) if vanished(&e) => {
            return Err(format!("{address}: vanished during the scan (skipped)"))
        }
        Err(e) => {
            return Err(format!(
                "{address}: cannot open {}: {e} (skipped)",
                root.display(&link_rel).display()
            ))
        }
    };
    let required = |attr: &str| -> std::result::Result<u32, String> {
        match dir.read(attr) {
            Ok(b) => {
                let s = String::from_utf8_lossy(&b);
                hex_u32(&s).ok_or_else(|| {
                    format!(
                        "{address}: {} holds '{}', not a hex number (device skipped)",
                        root.display(&format!("{}/{attr}", real_rel())).display(),
                        s.trim()
                    )
                })
            }
            Err(e) if vanished(&e) => Err(format!("{address}: vanished during the scan (skipped)")),
            Err(e) => Err(format!(
                "{address}: cannot read {}: {e} (device skipped)",
                root.display(&format!("{}/{attr}", real_rel())).display()
            )),
        }
    };
    // `uevent` carries ids, class, subsystem and modalias in one read (pci_uevent()),
    // a sixth of the syscalls of the single files on trees of thousands of VFs; the
    // single files remain the fallback for trees without it.
    let ue = dir
        .read("uevent")
        .ok()
        .map(|b| parse_uevent(&String::from_utf8_lossy(&b)))
        .unwrap_or_default();
    let (vendor, device, class) = match (ue.id, ue.class) {
        (Some((v, dv)), Some(c)) => (v as u32, dv as u32, c),
        _ => (required("vendor")?, required("device")?, required("class")?),
    };

    let mut d = PciDevice::new(address, vendor as u16, device as u16, class & 0xff_ffff);
    match ue.subsys {
        Some((sv, sd)) => {
            d.subsystem_vendor_id = Some(VendorId(sv));
            d.subsystem_device_id = Some(DeviceId(sd));
        }
        None => {
            d.subsystem_vendor_id = dir
                .attr("subsystem_vendor")
                .and_then(|s| hex_u32(&s))
                .map(|v| VendorId(v as u16));
            d.subsystem_device_id = dir
                .attr("subsystem_device")
                .and_then(|s| hex_u32(&s))
                .map(|v| DeviceId(v as u16));
        }
    }
    // A listing does not show the revision: 3 of a VF's 17 syscalls.
    if detail != Detail::Inventory {
        d.revision = dir
            .attr("revision")
            .and_then(|s| hex_u32(&s))
            .map(|v| v as u8);
    }
    // The link, not uevent's `DRIVER=`: the simulator's uevent can lag a rebind.
    d.driver = dir.link_name("driver");
    if binding {
        d.driver_override = dir
            .attr("driver_override")
            .filter(|s| !s.is_empty() && s != "(null)");
    }
    d.iommu_group = dir.link_name("iommu_group").and_then(|g| g.parse().ok());
    d.numa_node = dir
        .attr("numa_node")
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|n| u32::try_from(n).ok());
    d.physfn = dir.read_link("physfn").ok().and_then(|t| {
        PciAddress::parse(t.trim_end_matches('/').rsplit('/').next().unwrap_or("")).ok()
    });
    // A VF has no link of its own (its Link Status is reserved, read as zero: the
    // kernel's `Unknown`, width 0); a listing skips reading that.
    if detail != Detail::Inventory || d.physfn.is_none() {
        d.link = read_link_state(&dir, full);
    }
    if full {
        d.local_cpulist = dir.attr("local_cpulist");
    }
    if binding {
        d.reset_methods = dir
            .attr("reset_method")
            .map(|s| s.split_whitespace().map(str::to_string).collect());
    }
    // The kernel shows `boot_vga` only for VGA-class functions (pci_is_vga()).
    if binding && matches!(class >> 8, 0x0300 | 0x0001) {
        d.boot_vga = dir.attr("boot_vga").map(|s| s == "1");
    }
    d.modalias = ue.modalias.or_else(|| dir.attr("modalias"));
    // A VF's directory sits beside its PF's (the kernel gives it the PF's parent,
    // pci_iov_add_virtfn()): a listing takes the parent from the PF afterwards and
    // saves a readlink per VF.
    if detail != Detail::Inventory || d.physfn.is_none() {
        d.parent = real_rel()
            .rsplit('/')
            .nth(1)
            .and_then(|p| PciAddress::parse(p).ok());
    }
    let net_details = full || (detail == Detail::Checks && d.physfn.is_none());
    if let Ok((net, ifs)) = dir.open_listing("net", ends_short) {
        read_netdevs(&net, ifs, net_details, &mut d);
    } else if d.driver.as_deref() == Some("virtio-pci") {
        // virtio-net hangs its interface one level down: `virtioN/net/IFNAME`.
        for v in dir.list().unwrap_or_default() {
            if v.strip_prefix("virtio")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            {
                if let Ok((net, ifs)) = dir
                    .open_dir(&v)
                    .and_then(|vd| vd.open_listing("net", ends_short))
                {
                    read_netdevs(&net, ifs, net_details, &mut d);
                }
            }
        }
    }
    // VFs have no SR-IOV capability of their own (SR-IOV 1.1 §3.3).
    let total = if d.physfn.is_none() {
        dec_u32(dir.attr("sriov_totalvfs"))
    } else {
        None
    };
    if let Some(total) = total {
        d.sriov = Some(Sriov {
            total_vfs: total,
            num_vfs: dec_u32(dir.attr("sriov_numvfs")).unwrap_or(0),
            offset: dec_u32(dir.attr("sriov_offset")),
            stride: dec_u32(dir.attr("sriov_stride")),
            // Printed with %x today; a 2025 patch proposes 0x%04x: accept both.
            vf_device_id: dir
                .attr("sriov_vf_device")
                .and_then(|s| hex_u32(&s))
                .map(|v| DeviceId(v as u16)),
            drivers_autoprobe: dir.attr("sriov_drivers_autoprobe").map(|s| s == "1"),
        });
        let mut vfs: Vec<(u32, PciAddress)> = dir
            .list()
            .unwrap_or_default()
            .iter()
            .filter_map(|n| {
                n.strip_prefix("virtfn")
                    .and_then(|i| i.parse::<u32>().ok())
                    .map(|i| (i, n))
            })
            .filter_map(|(i, n)| {
                let t = dir.read_link(n).ok()?;
                let a = PciAddress::parse(t.trim_end_matches('/').rsplit('/').next()?).ok()?;
                Some((i, a))
            })
            .collect();
        vfs.sort();
        d.virtfns = vfs.into_iter().map(|(_, a)| a).collect();
    }
    Ok(Some(d))
}

/// Fills a device's interfaces from its `net/` directory; details (MAC, state,
/// carrier, speed) only with `details`.
fn read_netdevs(net: &DirHandle, mut ifs: Vec<String>, details: bool, d: &mut PciDevice) {
    ifs.sort();
    for ifname in ifs {
        if !details {
            d.netdevs.push(ifname);
            continue;
        }
        let nd = net.open_dir(&ifname).ok();
        let attr = |a: &str| nd.as_ref().and_then(|n| n.attr(a));
        d.interfaces.push(Netdev {
            mac: attr("address"),
            operstate: attr("operstate"),
            carrier: attr("carrier").map(|c| c == "1"),
            speed_mbps: attr("speed")
                .and_then(|s| s.parse::<i64>().ok())
                .and_then(|s| u32::try_from(s).ok()),
            name: ifname.clone(),
        });
        d.netdevs.push(ifname);
    }
}

/// What a PCI function's `uevent` says.
#[derive(Debug, Default, PartialEq)]
struct Uevent {
    id: Option<(u16, u16)>,
    class: Option<u32>,
    subsys: Option<(u16, u16)>,
    modalias: Option<String>,
}

/// Parses `uevent` as pci_uevent() writes it: `PCI_CLASS=%04X`, `PCI_ID=%04X:%04X`,
/// `PCI_SUBSYS_ID=%04X:%04X`, `MODALIAS=...` (plus `DRIVER=`, `PCI_SLOT_NAME=`).
fn parse_uevent(text: &str) -> Uevent {
    let pair = |v: &str| {
        let (a, b) = v.split_once(':')?;
        Some((
            u16::from_str_radix(a, 16).ok()?,
            u16::from_str_radix(b, 16).ok()?,
        ))
    };
    let mut u = Uevent::default();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("PCI_ID", v)) => u.id = pair(v.trim()),
            Some(("PCI_SUBSYS_ID", v)) => u.subsys = pair(v.trim()),
            Some(("PCI_CLASS", v)) => {
                u.class = u32::from_str_radix(v.trim(), 16)
                    .ok()
                    .filter(|c| *c <= 0xff_ffff)
            }
            Some(("MODALIAS", v)) if !v.trim().is_empty() => u.modalias = Some(v.trim().into()),
            _ => {}
        }
    }
    u
}

fn read_link_state(dir: &DirHandle, full: bool) -> Option<PcieLink> {
    let current_speed = dir.attr("current_link_speed");
    // A link that never trained (speed `Unknown`, Link Status zero) has width 0:
    // only a full read asks for it.
    let untrained = current_speed.as_deref() == Some("Unknown");
    let link = PcieLink {
        current_width: current_speed
            .as_ref()
            .filter(|_| full || !untrained)
            .and_then(|_| dir.attr("current_link_width"))
            .and_then(|s| s.parse().ok()),
        current_speed,
        max_speed: full.then(|| dir.attr("max_link_speed")).flatten(),
        max_width: full
            .then(|| dir.attr("max_link_width"))
            .flatten()
            .and_then(|s| s.parse().ok()),
    };
    if link == PcieLink::default() {
        None
    } else {
        Some(link)
    }
}

/// Gives each VF without a parent its PF's parent (the listing does not read it).
fn vf_parents_from_pfs(host: &mut Host) {
    let parents: std::collections::HashMap<PciAddress, PciAddress> = host
        .devices
        .iter()
        .filter(|d| d.is_pf())
        .filter_map(|d| Some((d.address, d.parent?)))
        .collect();
    for d in &mut host.devices {
        if let (None, Some(pf)) = (d.parent, d.physfn) {
            d.parent = parents.get(&pf).copied();
        }
    }
}

/// Sets each VF's index from its PF's `virtfnN` list (falling back to offset/stride
/// arithmetic when the PF lists nothing).
pub fn link_vf_indexes(host: &mut Host) {
    let mut index: std::collections::HashMap<PciAddress, u32> = Default::default();
    let mut arith: Vec<(PciAddress, u32, u32, PciAddress)> = Vec::new();
    for pf in &host.devices {
        for (i, vf) in pf.virtfns.iter().enumerate() {
            index.insert(*vf, i as u32);
        }
        if let Some(s) = &pf.sriov {
            if let (Some(o), Some(st)) = (s.offset, s.stride) {
                arith.push((pf.address, o, st, pf.address));
            }
        }
    }
    for d in &mut host.devices {
        if let Some(pf) = d.physfn {
            d.vf_index = index.get(&d.address).copied().or_else(|| {
                let (_, o, st, _) = arith.iter().find(|(a, ..)| *a == pf)?;
                let rid = d.address.routing_id().checked_sub(pf.routing_id() + o)?;
                if *st == 0 || rid % st != 0 {
                    None
                } else {
                    Some(rid / st)
                }
            });
        }
    }
}

/// The groups under `sys/kernel/iommu_groups` with their type. Members are the PCI
/// functions whose `iommu_group` link names the group: the same set as the group's
/// `devices/` directory lists (less its non-PCI members, which the model does not
/// hold), without listing thousands of directories on SR-IOV hosts.
/// The group `type` (DMA, identity...) is read only with `with_kind`: a listing does
/// not show it, and it is one file per group.
fn read_groups(root: &Root, devices: &[PciDevice], with_kind: bool) -> Vec<IommuGroup> {
    let base = "sys/kernel/iommu_groups";
    let Ok(names) = root.list(base) else {
        return Vec::new();
    };
    let mut members: std::collections::HashMap<u32, Vec<PciAddress>> = Default::default();
    for d in devices {
        if let Some(g) = d.iommu_group {
            members.entry(g).or_default().push(d.address);
        }
    }
    let mut groups: Vec<IommuGroup> = names
        .par_iter()
        .filter_map(|n| n.parse::<u32>().ok())
        .map(|number| {
            let mut devices = members.get(&number).cloned().unwrap_or_default();
            devices.sort();
            let kind = with_kind
                .then(|| root.read_string(&format!("{base}/{number}/type")).ok())
                .flatten()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
            IommuGroup {
                number,
                devices,
                kind,
            }
        })
        .collect();
    groups.sort_by_key(|g| g.number);
    groups
}

fn read_numa(root: &Root) -> Vec<NumaNode> {
    let base = "sys/devices/system/node";
    let Ok(names) = root.list(base) else {
        return Vec::new();
    };
    let mut nodes: Vec<NumaNode> = names
        .iter()
        .filter_map(|n| n.strip_prefix("node").and_then(|i| i.parse::<u32>().ok()))
        .map(|id| NumaNode {
            id,
            cpulist: root
                .read_string(&format!("{base}/node{id}/cpulist"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        })
        .collect();
    nodes.sort_by_key(|n| n.id);
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uevent_gives_ids_class_subsystem_and_modalias() {
        let u = parse_uevent(
            "DRIVER=igb\nPCI_CLASS=20000\nPCI_ID=8086:1521\nPCI_SUBSYS_ID=8086:00A2\nPCI_SLOT_NAME=0000:06:00.0\nMODALIAS=pci:v00008086d00001521sv00008086sd000000A2bc02sc00i00\n",
        );
        assert_eq!(u.id, Some((0x8086, 0x1521)));
        assert_eq!(u.class, Some(0x020000));
        assert_eq!(u.subsys, Some((0x8086, 0x00a2)));
        assert_eq!(
            u.modalias.as_deref(),
            Some("pci:v00008086d00001521sv00008086sd000000A2bc02sc00i00")
        );
        // Anything else (a uevent without PCI keys) leaves the single files to speak.
        let u = parse_uevent("DRIVER=x\nPCI_ID=zz\n");
        assert_eq!((u.id, u.class, u.subsys), (None, None, None));
    }
}
