//! The kernel simulator end to end: the real `passthru-sim` binary mounts a fake host
//! over FUSE, the tests write sysfs files with plain `std::fs` calls, and after each
//! change passthru's reader and the real lspci must see the same host.
//!
//! Skipped (with a message) only when /dev/fuse cannot be opened.

use passthru::host::sources::read_root;
use passthru::host::Host;
use passthru_testsupport::sim::harness::{fuse_or_skip, SimMount};
use passthru_testsupport::{
    bdf, scenarios, BarKind, DeviceSpec, HostSpec, LinkSpec, PortType, SriovSpec,
};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_passthru-sim");
const PF: &str = "sys/bus/pci/devices/0000:06:00.0";
const VFIO: &str = "sys/bus/pci/drivers/vfio-pci";

fn mount(spec: &HostSpec) -> Option<SimMount> {
    if !fuse_or_skip() {
        return None;
    }
    Some(SimMount::spec_with(Path::new(BIN), spec).expect("passthru-sim mounts the spec"))
}

fn w(root: &Path, rel: &str, value: &str) -> io::Result<()> {
    std::fs::write(root.join(rel), value)
}

fn errno(r: io::Result<()>) -> i32 {
    r.expect_err("the write must fail")
        .raw_os_error()
        .unwrap_or(0)
}

fn r(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel))
        .unwrap_or_else(|e| panic!("read {rel}: {e}"))
        .trim()
        .to_string()
}

fn link_base(root: &Path, rel: &str) -> Option<String> {
    std::fs::read_link(root.join(rel))
        .ok()
        .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
}

fn vfs_of(root: &Path, pf: &str) -> Vec<String> {
    let mut v: Vec<(u32, String)> = std::fs::read_dir(root.join(pf))
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            let i = n.strip_prefix("virtfn")?.parse().ok()?;
            Some((i, link_base(root, &format!("{pf}/{n}"))?))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, a)| a).collect()
}

fn host(root: &Path) -> Host {
    read_root(root).expect("passthru reads the mounted root")
}

/// One function as lspci shows it.
#[derive(Debug, Default)]
struct Ls {
    ids: (u16, u16),
    driver: Option<String>,
    group: Option<u32>,
    /// (NumVFs, offset, stride) from the config-space SR-IOV capability.
    sriov: Option<(u32, u32, u32)>,
}

fn lspci(root: &Path) -> BTreeMap<String, Ls> {
    let out = Command::new("lspci")
        .args(["-A", "linux-sysfs", "-O"])
        .arg(format!("sysfs.path={}", root.join("sys/bus/pci").display()))
        .args(["-O", "hwdb.disable=1", "-nnvvv", "-D"])
        .output()
        .expect("lspci (pciutils) is installed: scripts/test.sh installs it");
    assert!(
        out.status.success(),
        "lspci failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut map = BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) && !line.is_empty() {
            let addr = line.split_whitespace().next().unwrap().to_string();
            // The last [vvvv:dddd] of the title line.
            let title = line.split(" (rev").next().unwrap();
            let title = title.split(" (prog-if").next().unwrap();
            let open = title
                .rfind('[')
                .unwrap_or_else(|| panic!("no [vvvv:dddd] in lspci's line {line:?}"));
            let ids = &title[open + 1..open + 10];
            let (v, d) = ids.split_once(':').unwrap();
            map.insert(
                addr.clone(),
                Ls {
                    ids: (
                        u16::from_str_radix(v, 16).unwrap(),
                        u16::from_str_radix(d, 16).unwrap(),
                    ),
                    ..Ls::default()
                },
            );
            cur = Some(addr);
            continue;
        }
        let Some(e) = cur.as_ref().and_then(|a| map.get_mut(a)) else {
            continue;
        };
        let t = line.trim();
        if let Some(d) = t.strip_prefix("Kernel driver in use: ") {
            e.driver = Some(d.to_string());
        } else if let Some(g) = t.strip_prefix("IOMMU group: ") {
            e.group = g.parse().ok();
        } else if let Some(x) = t.strip_prefix("Initial VFs: ") {
            let n = x.split("Number of VFs: ").nth(1).unwrap();
            let n = n.split(',').next().unwrap().parse().unwrap();
            e.sriov = Some((n, 0, 0));
        } else if let Some(x) = t.strip_prefix("VF offset: ") {
            let mut it = x.split(',');
            let off = it.next().unwrap().trim().parse().unwrap();
            let stride = it
                .next()
                .unwrap()
                .trim()
                .strip_prefix("stride: ")
                .unwrap()
                .parse()
                .unwrap();
            if let Some(s) = e.sriov.as_mut() {
                s.1 = off;
                s.2 = stride;
            }
        }
    }
    map
}

/// passthru's reader and the real lspci agree on the mounted host: the functions,
/// their ids, drivers and groups, each PF's VF count, and where offset and stride
/// put its VFs. Returns passthru's view.
fn agree(root: &Path) -> Host {
    let h = host(root);
    let ls = lspci(root);
    let ours: Vec<String> = h.devices.iter().map(|d| d.address.to_string()).collect();
    let theirs: Vec<String> = ls.keys().cloned().collect();
    assert_eq!(ours, theirs, "the same functions");
    for d in &h.devices {
        let l = &ls[&d.address.to_string()];
        let a = d.address;
        assert_eq!((d.vendor_id.0, d.device_id.0), l.ids, "{a} ids");
        assert_eq!(d.driver, l.driver, "{a} driver");
        assert_eq!(d.iommu_group, l.group, "{a} group");
        if let Some(s) = &d.sriov {
            let (n, off, stride) = l.sriov.expect("lspci decodes the PF's SR-IOV capability");
            assert_eq!(s.num_vfs, n, "{a} sriov_numvfs against config NumVFs");
            assert_eq!(d.virtfns.len() as u32, n, "{a} virtfn links against NumVFs");
            let rid = (u32::from(a.bus) << 8) | (u32::from(a.slot) << 3) | u32::from(a.function);
            for (i, vf) in d.virtfns.iter().enumerate() {
                let v = rid + off + stride * i as u32;
                assert_eq!(
                    (vf.bus as u32, vf.slot as u32, vf.function as u32),
                    (v >> 8, (v >> 3) & 0x1f, v & 7),
                    "{a} VF {i} where offset/stride put it"
                );
                let vfd = h.device(vf).expect("each VF is listed");
                assert_eq!(vfd.physfn, Some(a), "{vf} physfn");
            }
        }
    }
    h
}

/// A small host for binding tests: an I350 PF (igb, SR-IOV 0 of 4 VFs), a GPU with
/// its HDMI audio sharing IOMMU group 7 (nouveau, snd_hda_intel), a root port, and
/// vfio-pci loaded with nothing bound.
fn small_host() -> HostSpec {
    let rp = bdf("0000:00:01.0");
    let rp2 = bdf("0000:00:03.0");
    let mut port = DeviceSpec::new(rp, 0x8086, 0x1901, 0x060400)
        .pcie(PortType::RootPort, Some(LinkSpec::full(8.0, 8)))
        .driver("pcieport")
        .group(1);
    // Firmware leaves room for the VFs' bus (07), as the kernel would reserve it.
    port.subordinate_bus = Some(7);
    HostSpec::new()
        .cmdline("BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on")
        .driver("vfio-pci", None)
        .file("etc/hostname", "sim\n")
        .device(port)
        .device(
            DeviceSpec::new(rp2, 0x8086, 0x1905, 0x060400)
                .pcie(PortType::RootPort, Some(LinkSpec::full(8.0, 16)))
                .driver("pcieport")
                .group(2),
        )
        .device(
            DeviceSpec::new(bdf("0000:06:00.0"), 0x8086, 0x1521, 0x020000)
                .rev(1)
                .parent(rp)
                .driver("igb")
                .group(3)
                .pcie(PortType::Endpoint, Some(LinkSpec::full(5.0, 4)))
                .bar(0, BarKind::Mem32, 0x9058_0000, 0x2_0000, false)
                .msix(10)
                .sriov({
                    let mut s = SriovSpec::new(4, 0, 0x180, 4, 0x1520).vf_driver("igbvf");
                    s.vf_bars = vec![BarSpec_mem64(0, 0x9010_0000, 0x4000)];
                    s
                })
                .netdev(passthru_testsupport::NetdevSpec::up(
                    "enp6s0",
                    "6c:ae:8b:61:07:4a",
                    1000,
                )),
        )
        .device(
            DeviceSpec::new(bdf("0000:01:00.0"), 0x10de, 0x1e87, 0x030000)
                .parent(rp2)
                .driver("nouveau")
                .group(7)
                .pcie(PortType::Endpoint, Some(LinkSpec::full(8.0, 16))),
        )
        .device(
            DeviceSpec::new(bdf("0000:01:00.1"), 0x10de, 0x10f8, 0x040300)
                .parent(rp2)
                .driver("snd_hda_intel")
                .group(7)
                .pcie(PortType::Endpoint, Some(LinkSpec::full(8.0, 16))),
        )
}

#[allow(non_snake_case)]
fn BarSpec_mem64(index: u8, address: u64, size: u64) -> passthru_testsupport::BarSpec {
    passthru_testsupport::BarSpec {
        index,
        kind: BarKind::Mem64,
        address,
        size,
        prefetchable: true,
    }
}

#[test]
fn sriov_numvfs_creates_vfs_where_offset_and_stride_put_them() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    agree(root);
    assert_eq!(r(root, &format!("{PF}/sriov_numvfs")), "0");
    w(root, &format!("{PF}/sriov_numvfs"), "3\n").unwrap();
    assert_eq!(r(root, &format!("{PF}/sriov_numvfs")), "3");
    // offset 0x180, stride 4 from 06:00.0 (routing id 0x600): 07:10.0, 07:10.4, 07:11.0.
    assert_eq!(
        vfs_of(root, PF),
        ["0000:07:10.0", "0000:07:10.4", "0000:07:11.0"]
    );
    let h = agree(root);
    let mut groups = std::collections::BTreeSet::new();
    for (i, vf) in ["0000:07:10.0", "0000:07:10.4", "0000:07:11.0"]
        .iter()
        .enumerate()
    {
        let d = format!("sys/bus/pci/devices/{vf}");
        assert_eq!(
            link_base(root, &format!("{d}/physfn")).as_deref(),
            Some("0000:06:00.0")
        );
        assert_eq!(r(root, &format!("{d}/device")), "0x1520");
        assert_eq!(r(root, &format!("{d}/vendor")), "0x8086");
        assert_eq!(
            link_base(root, &format!("{d}/driver")).as_deref(),
            Some("igbvf")
        );
        // Each VF in a new group of its own, numbered after the boot's groups.
        let g: u32 = link_base(root, &format!("{d}/iommu_group"))
            .unwrap()
            .parse()
            .unwrap();
        assert!(g > 7, "VF group {g} after the boot's groups");
        assert!(groups.insert(g));
        let members: Vec<_> =
            std::fs::read_dir(root.join(format!("sys/kernel/iommu_groups/{g}/devices")))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
        assert_eq!(members, [vf.to_string()]);
        // igbvf made a netdev, reachable from sys/class/net.
        let ifs: Vec<_> = std::fs::read_dir(root.join(format!("{d}/net")))
            .unwrap()
            .collect();
        assert_eq!(ifs.len(), 1, "VF {i} has one netdev");
        let name = ifs[0].as_ref().unwrap().file_name();
        assert!(root
            .join("sys/class/net")
            .join(&name)
            .join("address")
            .exists());
        // Config space reads ffff ids, as a VF's does.
        let cfg = std::fs::read(root.join(format!("{d}/config"))).unwrap();
        assert_eq!(&cfg[0..4], &[0xff, 0xff, 0xff, 0xff]);
        let dev = h.device(&vf.parse().unwrap()).unwrap();
        assert_eq!(dev.vf_index, Some(i as u32));
        assert_eq!(dev.netdevs.len(), 1);
    }
    assert_eq!(
        h.device(&"0000:06:00.0".parse().unwrap())
            .unwrap()
            .sriov
            .as_ref()
            .unwrap()
            .num_vfs,
        3
    );
}

#[test]
fn a_nonzero_count_changes_only_through_zero() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    let numvfs = format!("{PF}/sriov_numvfs");
    w(root, &numvfs, "2").unwrap();
    assert_eq!(errno(w(root, &numvfs, "4")), libc::EBUSY);
    assert_eq!(vfs_of(root, PF).len(), 2, "EBUSY changed nothing");
    // Writing the current count again is accepted and changes nothing.
    w(root, &numvfs, "2").unwrap();
    w(root, &numvfs, "0").unwrap();
    assert!(vfs_of(root, PF).is_empty());
    assert!(!root.join("sys/bus/pci/devices/0000:07:10.0").exists());
    assert_eq!(r(root, &numvfs), "0");
    agree(root);
    w(root, &numvfs, "4").unwrap();
    assert_eq!(vfs_of(root, PF).len(), 4);
    agree(root);
    // Garbage is EINVAL, as kstrtou16 says.
    w(root, &numvfs, "0").unwrap();
    assert_eq!(errno(w(root, &numvfs, "two")), libc::EINVAL);
    assert_eq!(errno(w(root, &numvfs, "-1")), libc::EINVAL);
}

#[test]
fn above_totalvfs_is_erange_and_no_pf_driver_is_enoent() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    let numvfs = format!("{PF}/sriov_numvfs");
    assert_eq!(r(root, &format!("{PF}/sriov_totalvfs")), "4");
    assert_eq!(errno(w(root, &numvfs, "5")), libc::ERANGE);
    // ERANGE is checked before the driver: still ERANGE without one.
    w(root, "sys/bus/pci/drivers/igb/unbind", "0000:06:00.0").unwrap();
    assert!(link_base(root, &format!("{PF}/driver")).is_none());
    assert!(
        !root.join(format!("{PF}/net")).exists(),
        "igb took its netdev with it"
    );
    assert!(!root.join("sys/class/net/enp6s0").exists());
    assert_eq!(errno(w(root, &numvfs, "5")), libc::ERANGE);
    assert_eq!(errno(w(root, &numvfs, "2")), libc::ENOENT);
    // A stub driver has no sriov_configure either.
    w(root, &format!("{PF}/driver_override"), "vfio-pci").unwrap();
    w(root, "sys/bus/pci/drivers_probe", "0000:06:00.0").unwrap();
    assert_eq!(
        link_base(root, &format!("{PF}/driver")).as_deref(),
        Some("vfio-pci")
    );
    assert_eq!(errno(w(root, &numvfs, "2")), libc::ENOENT);
    agree(root);
    // Back on igb, the same netdev returns and VFs can be made.
    w(root, &format!("{PF}/driver_override"), "\n").unwrap();
    w(root, "sys/bus/pci/drivers/vfio-pci/unbind", "0000:06:00.0").unwrap();
    w(root, "sys/bus/pci/drivers_probe", "0000:06:00.0").unwrap();
    assert_eq!(
        link_base(root, &format!("{PF}/driver")).as_deref(),
        Some("igb")
    );
    assert_eq!(r(root, "sys/class/net/enp6s0/address"), "6c:ae:8b:61:07:4a");
    w(root, &numvfs, "2").unwrap();
    agree(root);
}

#[test]
fn binding_follows_the_kernels_rules() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    w(root, &format!("{PF}/sriov_numvfs"), "2").unwrap();
    let vf = "0000:07:10.0";
    let dev = format!("sys/bus/pci/devices/{vf}");
    // Binding a bound device: EBUSY (it matches vfio-pci only once overridden).
    assert_eq!(
        errno(w(root, "sys/bus/pci/drivers/igbvf/bind", vf)),
        libc::EBUSY
    );
    // vfio-pci's table does not hold 8086:1520: ENODEV.
    assert_eq!(errno(w(root, &format!("{VFIO}/bind"), vf)), libc::ENODEV);
    // Unbinding from a driver that does not hold it: ENODEV; unknown device: ENODEV.
    assert_eq!(errno(w(root, &format!("{VFIO}/unbind"), vf)), libc::ENODEV);
    assert_eq!(
        errno(w(root, "sys/bus/pci/drivers/igbvf/bind", "0000:09:00.0")),
        libc::ENODEV
    );
    w(root, "sys/bus/pci/drivers/igbvf/unbind", vf).unwrap();
    assert!(link_base(root, &format!("{dev}/driver")).is_none());
    assert!(!root
        .join(format!("sys/bus/pci/drivers/igbvf/{vf}"))
        .exists());
    // The override takes precedence: igbvf no longer matches, vfio-pci does.
    w(root, &format!("{dev}/driver_override"), "vfio-pci\n").unwrap();
    assert_eq!(r(root, &format!("{dev}/driver_override")), "vfio-pci");
    assert_eq!(
        errno(w(root, "sys/bus/pci/drivers/igbvf/bind", vf)),
        libc::ENODEV
    );
    w(root, "sys/bus/pci/drivers_probe", vf).unwrap();
    assert_eq!(
        link_base(root, &format!("{dev}/driver")).as_deref(),
        Some("vfio-pci")
    );
    assert!(root.join(format!("{VFIO}/{vf}")).exists());
    let g = link_base(root, &format!("{dev}/iommu_group")).unwrap();
    assert!(
        root.join(format!("dev/vfio/{g}")).exists(),
        "a viable group gets dev/vfio/{g}"
    );
    agree(root);
    // Back to the host: clear the override, unbind, probe.
    w(root, &format!("{dev}/driver_override"), "\n").unwrap();
    assert_eq!(r(root, &format!("{dev}/driver_override")), "(null)");
    w(root, &format!("{VFIO}/unbind"), vf).unwrap();
    assert!(!root.join(format!("dev/vfio/{g}")).exists());
    w(root, "sys/bus/pci/drivers_probe", vf).unwrap();
    assert_eq!(
        link_base(root, &format!("{dev}/driver")).as_deref(),
        Some("igbvf")
    );
    // new_id: vfio-pci claims every unbound device with that id; a repeat is EEXIST.
    for v in ["0000:07:10.0", "0000:07:10.4"] {
        w(root, "sys/bus/pci/drivers/igbvf/unbind", v).unwrap();
    }
    w(root, &format!("{VFIO}/new_id"), "8086 1520").unwrap();
    for v in ["0000:07:10.0", "0000:07:10.4"] {
        assert_eq!(
            link_base(root, &format!("sys/bus/pci/devices/{v}/driver")).as_deref(),
            Some("vfio-pci")
        );
    }
    assert_eq!(
        errno(w(root, &format!("{VFIO}/new_id"), "8086 1520")),
        libc::EEXIST
    );
    assert_eq!(
        errno(w(root, &format!("{VFIO}/new_id"), "8086")),
        libc::EINVAL
    );
    w(root, &format!("{VFIO}/remove_id"), "8086 1520").unwrap();
    assert_eq!(
        errno(w(root, &format!("{VFIO}/remove_id"), "8086 1520")),
        libc::ENODEV
    );
    agree(root);
}

#[test]
fn vf_autoprobe_off_leaves_vfs_unbound_unless_overridden() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    w(root, &format!("{PF}/sriov_drivers_autoprobe"), "0").unwrap();
    assert_eq!(r(root, &format!("{PF}/sriov_drivers_autoprobe")), "0");
    w(root, &format!("{PF}/sriov_numvfs"), "2").unwrap();
    let dev = "sys/bus/pci/devices/0000:07:10.4";
    assert!(link_base(root, &format!("{dev}/driver")).is_none());
    assert!(!root.join(format!("{dev}/net")).exists());
    // pci_device_can_probe: no override -> the probe says ENODEV.
    assert_eq!(
        errno(w(root, "sys/bus/pci/drivers/igbvf/bind", "0000:07:10.4")),
        libc::ENODEV
    );
    w(root, "sys/bus/pci/drivers_probe", "0000:07:10.4").unwrap();
    assert!(link_base(root, &format!("{dev}/driver")).is_none());
    w(root, &format!("{dev}/driver_override"), "vfio-pci").unwrap();
    w(root, &format!("{VFIO}/bind"), "0000:07:10.4").unwrap();
    assert_eq!(
        link_base(root, &format!("{dev}/driver")).as_deref(),
        Some("vfio-pci")
    );
    agree(root);
}

#[test]
fn a_group_is_viable_for_vfio_only_when_every_endpoint_moves() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    let gpu = "0000:01:00.0";
    w(
        root,
        &format!("sys/bus/pci/devices/{gpu}/driver_override"),
        "vfio-pci",
    )
    .unwrap();
    w(root, "sys/bus/pci/drivers/nouveau/unbind", gpu).unwrap();
    w(root, "sys/bus/pci/drivers_probe", gpu).unwrap();
    assert_eq!(
        link_base(root, &format!("sys/bus/pci/devices/{gpu}/driver")).as_deref(),
        Some("vfio-pci")
    );
    assert!(
        !root.join("dev/vfio/7").exists(),
        "the audio function still on snd_hda_intel"
    );
    w(
        root,
        "sys/bus/pci/devices/0000:01:00.1/driver_override",
        "vfio-pci",
    )
    .unwrap();
    w(
        root,
        "sys/bus/pci/drivers/snd_hda_intel/unbind",
        "0000:01:00.1",
    )
    .unwrap();
    assert!(
        root.join("dev/vfio/7").exists(),
        "unbound members do not spoil viability"
    );
    w(root, "sys/bus/pci/drivers_probe", "0000:01:00.1").unwrap();
    assert!(root.join("dev/vfio/7").exists());
    // A bridge cannot go to vfio-pci.
    w(
        root,
        "sys/bus/pci/devices/0000:00:03.0/driver_override",
        "vfio-pci",
    )
    .unwrap();
    w(root, "sys/bus/pci/drivers/pcieport/unbind", "0000:00:03.0").unwrap();
    assert_eq!(
        errno(w(root, &format!("{VFIO}/bind"), "0000:00:03.0")),
        libc::EINVAL
    );
    agree(root);
}

#[test]
fn remove_and_rescan() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    w(root, &format!("{PF}/sriov_numvfs"), "2").unwrap();
    w(root, &format!("{PF}/remove"), "1").unwrap();
    assert!(!root.join(PF).exists());
    assert!(
        !root.join("sys/bus/pci/devices/0000:07:10.0").exists(),
        "its VFs went too"
    );
    assert!(!root.join("sys/kernel/iommu_groups/3").exists());
    agree(root);
    w(root, "sys/bus/pci/rescan", "1").unwrap();
    assert!(root.join(PF).exists());
    assert_eq!(r(root, &format!("{PF}/sriov_numvfs")), "0");
    assert_eq!(
        link_base(root, &format!("{PF}/driver")).as_deref(),
        Some("igb")
    );
    assert_eq!(
        link_base(root, &format!("{PF}/iommu_group")).as_deref(),
        Some("3")
    );
    assert!(root.join("sys/class/net/enp6s0").exists());
    agree(root);
}

#[test]
fn reboot_forgets_runtime_state_and_keeps_files() {
    let Some(m) = mount(&scenarios::i350()) else {
        return;
    };
    let root = m.root();
    let before = agree(root);
    let boot_id = r(root, "proc/sys/kernel/random/boot_id");
    assert_eq!(boot_id.len(), 36, "a UUID: {boot_id}");
    // The i350 host boots with VFs enabled at runtime by someone: a reboot drops them.
    std::fs::create_dir_all(root.join("var/lib/passthru")).unwrap();
    std::fs::write(root.join("var/lib/passthru/journal.json"), "{}\n").unwrap();
    std::fs::create_dir_all(root.join("etc/modprobe.d")).unwrap();
    std::fs::write(
        root.join("etc/modprobe.d/vfio.conf"),
        "options vfio-pci ids=8086:1520\n",
    )
    .unwrap();
    w(
        root,
        "sys/bus/pci/devices/0000:06:00.1/driver_override",
        "vfio-pci",
    )
    .unwrap();
    w(root, "sys/bus/pci/drivers/igb/unbind", "0000:06:00.1").unwrap();
    w(root, "sys/bus/pci/drivers_probe", "0000:06:00.1").unwrap();
    w(root, &format!("{VFIO}/new_id"), "8086 1521").unwrap();
    let status = Command::new(BIN)
        .args(["reboot"])
        .arg(root)
        .args(["--cmdline", "BOOT_IMAGE=/vmlinuz intel_iommu=on iommu=pt"])
        .status()
        .unwrap();
    assert!(status.success());
    let h = agree(root);
    assert!(
        h.devices.iter().all(|d| !d.is_vf()),
        "no VFs after a reboot"
    );
    for d in &h.devices {
        assert_eq!(d.driver_override, None, "{} override cleared", d.address);
        if let Some(s) = &d.sriov {
            assert_eq!(s.num_vfs, 0);
        }
    }
    let pf1 = h.device(&"0000:06:00.1".parse().unwrap()).unwrap();
    assert_eq!(
        pf1.driver.as_deref(),
        Some("igb"),
        "back on its default driver"
    );
    assert_eq!(pf1.netdevs, ["eno2"]);
    assert_eq!(
        before.devices.iter().filter(|d| !d.is_vf()).count(),
        h.devices.len(),
        "every PF and bridge is back"
    );
    assert_eq!(
        r(root, "proc/cmdline"),
        "BOOT_IMAGE=/vmlinuz intel_iommu=on iommu=pt"
    );
    let new_id = r(root, "proc/sys/kernel/random/boot_id");
    assert_eq!(new_id.len(), 36, "{new_id}");
    assert_ne!(new_id, boot_id, "every boot has its own id");
    assert_eq!(r(root, "var/lib/passthru/journal.json"), "{}");
    assert_eq!(
        r(root, "etc/modprobe.d/vfio.conf"),
        "options vfio-pci ids=8086:1520"
    );
    assert!(!root.join("dev/vfio/40").exists());
    // new_id was forgotten too: a fresh VF goes to igbvf, not vfio-pci.
    w(root, &format!("{PF}/sriov_numvfs"), "1").unwrap();
    assert_eq!(
        link_base(root, "sys/bus/pci/devices/0000:07:10.0/driver").as_deref(),
        Some("igbvf")
    );
    // The same numbers as the boot tree gave its VFs (groups are dense at boot).
    assert_eq!(
        link_base(root, "sys/bus/pci/devices/0000:07:10.0/iommu_group").as_deref(),
        Some("33")
    );
    agree(root);
    assert!(m.log().contains("reboot"));
}

#[test]
fn injected_faults_fail_the_next_writes_then_clear() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    let numvfs = format!("{PF}/sriov_numvfs");
    let st = Command::new(BIN)
        .arg("fault")
        .arg(root)
        .args([numvfs.as_str(), "ENOMEM", "--times", "2"])
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(errno(w(root, &numvfs, "2")), libc::ENOMEM);
    assert_eq!(errno(w(root, &numvfs, "2")), libc::ENOMEM);
    assert!(
        vfs_of(root, PF).is_empty(),
        "a failed write changes nothing"
    );
    w(root, &numvfs, "2").unwrap();
    assert_eq!(vfs_of(root, PF).len(), 2);
    // Files outside sys/: the path need not exist; a rename onto it is a write.
    m.fault("etc/default/grub", "EIO", 1).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join(".passthru-sim/faults"))
            .unwrap()
            .trim(),
        "etc/default/grub EIO 1"
    );
    std::fs::create_dir_all(root.join("etc/default")).unwrap();
    std::fs::write(
        root.join("etc/default/grub.tmp"),
        "GRUB_CMDLINE_LINUX=\"\"\n",
    )
    .unwrap();
    let e = std::fs::rename(
        root.join("etc/default/grub.tmp"),
        root.join("etc/default/grub"),
    );
    assert_eq!(e.unwrap_err().raw_os_error(), Some(libc::EIO));
    std::fs::rename(
        root.join("etc/default/grub.tmp"),
        root.join("etc/default/grub"),
    )
    .unwrap();
    assert_eq!(r(root, "etc/default/grub"), "GRUB_CMDLINE_LINUX=\"\"");
    // Through a symlinked path, and a bad errno name is refused by the CLI.
    m.fault(&format!("{VFIO}/bind"), "EBUSY", 1).unwrap();
    w(root, "sys/bus/pci/drivers/igbvf/unbind", "0000:07:10.0").unwrap();
    w(
        root,
        "sys/bus/pci/devices/0000:07:10.0/driver_override",
        "vfio-pci",
    )
    .unwrap();
    assert_eq!(
        errno(w(root, "sys/bus/pci/drivers/vfio-pci/bind", "0000:07:10.0")),
        libc::EBUSY
    );
    w(root, "sys/bus/pci/drivers/vfio-pci/bind", "0000:07:10.0").unwrap();
    let bad = Command::new(BIN)
        .arg("fault")
        .arg(root)
        .args(["x", "ENOPE"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(3));
    assert!(m.log().contains("(injected)"));
    agree(root);
}

#[test]
fn a_fault_on_a_vf_not_created_yet_hits_it_through_the_bus_link() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    // Armed through sys/bus/pci/devices/BDF, a link that does not exist yet: the
    // simulator resolves the path again at each write, so the VF's own file fails.
    let vf = "sys/bus/pci/devices/0000:07:10.4";
    assert!(!root.join(vf).exists());
    m.fault(&format!("{vf}/driver_override"), "EBUSY", 1)
        .unwrap();
    w(root, &format!("{PF}/sriov_numvfs"), "2").unwrap();
    assert_eq!(vfs_of(root, PF), ["0000:07:10.0", "0000:07:10.4"]);
    // The other VF is not hit.
    w(
        root,
        "sys/bus/pci/devices/0000:07:10.0/driver_override",
        "vfio-pci",
    )
    .unwrap();
    assert_eq!(
        errno(w(root, &format!("{vf}/driver_override"), "vfio-pci")),
        libc::EBUSY
    );
    assert_eq!(
        r(root, &format!("{vf}/driver_override")),
        "(null)",
        "nothing changed"
    );
    assert!(
        m.log()
            .contains("0000:07:10.4/driver_override -> EBUSY (injected)"),
        "{}",
        m.log()
    );
    // Consumed: the next write goes through.
    w(root, &format!("{vf}/driver_override"), "vfio-pci").unwrap();
    assert_eq!(r(root, &format!("{vf}/driver_override")), "vfio-pci");
    assert_eq!(
        std::fs::read_to_string(root.join(".passthru-sim/faults")).unwrap(),
        ""
    );
}

#[test]
fn files_outside_sys_are_an_ordinary_filesystem() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    assert_eq!(r(root, "etc/hostname"), "sim");
    std::fs::create_dir_all(root.join("var/lib/passthru/changes")).unwrap();
    let f = root.join("var/lib/passthru/changes/1.json");
    std::fs::write(&f, "one\n").unwrap();
    {
        use std::io::Write;
        let mut h = std::fs::OpenOptions::new().append(true).open(&f).unwrap();
        h.write_all(b"two\n").unwrap();
        h.sync_all().unwrap();
    }
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "one\ntwo\n");
    std::fs::rename(&f, root.join("var/lib/passthru/changes/2.json")).unwrap();
    assert!(!f.exists());
    std::os::unix::fs::symlink("2.json", root.join("var/lib/passthru/changes/latest")).unwrap();
    assert_eq!(r(root, "var/lib/passthru/changes/latest"), "one\ntwo");
    std::fs::remove_file(root.join("var/lib/passthru/changes/latest")).unwrap();
    std::fs::remove_file(root.join("var/lib/passthru/changes/2.json")).unwrap();
    std::fs::remove_dir(root.join("var/lib/passthru/changes")).unwrap();
    std::fs::write(root.join("proc/cmdline"), "edited\n").unwrap();
    assert_eq!(r(root, "proc/cmdline"), "edited");
    // sysfs refuses new files and removals, and read-only attributes.
    let e = std::fs::write(root.join("sys/bus/pci/newfile"), "x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES));
    let e = std::fs::remove_file(root.join(format!("{PF}/vendor"))).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    assert_eq!(
        errno(w(root, &format!("{PF}/vendor"), "0x1234")),
        libc::EACCES
    );
    // Write-only attributes cannot be read, even by root; uevent takes actions only.
    let e = std::fs::read(root.join("sys/bus/pci/drivers/igb/bind")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES));
    let uevent = r(root, &format!("{PF}/uevent"));
    w(root, &format!("{PF}/uevent"), "add\n").unwrap();
    assert_eq!(r(root, &format!("{PF}/uevent")), uevent);
    assert_eq!(
        errno(w(root, &format!("{PF}/uevent"), "bogus")),
        libc::EINVAL
    );
    // The control directory is hidden from listings.
    let names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with('.')));
}

#[test]
fn mounts_a_scenario_by_name_and_a_plain_tree() {
    if !fuse_or_skip() {
        return;
    }
    let m = SimMount::start(
        Path::new(BIN),
        &["--scenario".as_ref(), "two-socket".as_ref()],
    )
    .unwrap();
    let h = agree(m.root());
    assert!(h.devices.iter().any(|d| d.is_vf()));
    drop(m);
    // A plain tree written by anyone, with the VF driver given on the command line.
    let tree = tempfile::tempdir().unwrap();
    small_host().write(tree.path()).unwrap();
    let m = SimMount::start(
        Path::new(BIN),
        &[
            "--tree".as_ref(),
            tree.path().as_os_str(),
            "--driver".as_ref(),
            "8086:1520=vfio-pci".as_ref(),
        ],
    )
    .unwrap();
    w(m.root(), &format!("{PF}/sriov_numvfs"), "1").unwrap();
    assert_eq!(
        link_base(m.root(), "sys/bus/pci/devices/0000:07:10.0/driver").as_deref(),
        Some("vfio-pci")
    );
    let mp: PathBuf = m.root().to_path_buf();
    drop(m);
    assert!(!mp.join(".passthru-sim").exists(), "unmounted on drop");
    // The tree on disk was never written.
    assert!(!tree
        .path()
        .join("sys/bus/pci/devices/0000:07:10.0")
        .exists());
}

fn driver(root: &Path, bdf: &str) -> Option<String> {
    link_base(root, &format!("sys/bus/pci/devices/{bdf}/driver"))
}

#[test]
fn boot_honours_modprobe_d_and_the_command_line() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    let (gpu, audio) = ("0000:01:00.0", "0000:01:00.1");
    std::fs::create_dir_all(root.join("etc/modprobe.d")).unwrap();
    // ids without a softdep: the native drivers load first and keep the devices.
    std::fs::write(
        root.join("etc/modprobe.d/vfio.conf"),
        "options vfio-pci ids=10de:1e87,10de:10f8\n",
    )
    .unwrap();
    m.reboot().unwrap();
    assert_eq!(driver(root, gpu).as_deref(), Some("nouveau"));
    assert_eq!(driver(root, audio).as_deref(), Some("snd_hda_intel"));
    // A softdep puts vfio-pci first for the GPU; a blacklist frees the audio.
    std::fs::write(
        root.join("etc/modprobe.d/vfio.conf"),
        "options vfio-pci ids=10de:1e87,10de:10f8\nsoftdep nouveau pre: vfio-pci\nblacklist snd_hda_intel\n",
    )
    .unwrap();
    m.reboot().unwrap();
    assert_eq!(driver(root, gpu).as_deref(), Some("vfio-pci"));
    assert_eq!(driver(root, audio).as_deref(), Some("vfio-pci"));
    assert!(root.join("dev/vfio/7").exists());
    agree(root);
    // vfio-pci.ids= on the command line wins over everything; modprobe.d removed.
    std::fs::remove_file(root.join("etc/modprobe.d/vfio.conf")).unwrap();
    m.ctl("reboot cmdline=root=/dev/sda1 intel_iommu=on vfio-pci.ids=8086:1521")
        .unwrap();
    assert_eq!(
        r(root, "proc/cmdline"),
        "root=/dev/sda1 intel_iommu=on vfio-pci.ids=8086:1521"
    );
    assert_eq!(driver(root, "0000:06:00.0").as_deref(), Some("vfio-pci"));
    assert_eq!(driver(root, gpu).as_deref(), Some("nouveau"));
    assert!(!root.join("sys/class/net/enp6s0").exists());
    agree(root);
    // modprobe.blacklist= keeps a driver off at boot and out of modalias autoload.
    m.ctl("reboot cmdline=root=/dev/sda1 modprobe.blacklist=igbvf")
        .unwrap();
    assert_eq!(driver(root, "0000:06:00.0").as_deref(), Some("igb"));
    m.ctl("rmmod igbvf").unwrap_or(());
    w(root, &format!("{PF}/sriov_numvfs"), "1").unwrap();
    assert_eq!(driver(root, "0000:07:10.0"), None, "igbvf is blacklisted");
    assert!(m.log().contains("igbvf is blacklisted"));
    agree(root);
}

#[test]
fn control_commands() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    let usage = std::fs::read_to_string(root.join(".passthru-sim/ctl")).unwrap();
    assert!(usage.contains("fault PATH ERRNO"));
    let status = std::fs::read_to_string(root.join(".passthru-sim/status")).unwrap();
    assert!(
        status.contains("boots 1\n") && status.contains("vfs 0\n"),
        "{status}"
    );
    let e = m.ctl("frobnicate").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    // rmmod unbinds the driver's devices and unregisters it; modprobe brings it back
    // and it claims what it matches.
    m.ctl("rmmod nouveau").unwrap();
    assert_eq!(driver(root, "0000:01:00.0"), None);
    assert!(!root.join("sys/bus/pci/drivers/nouveau").exists());
    m.ctl("modprobe nouveau").unwrap();
    assert_eq!(driver(root, "0000:01:00.0").as_deref(), Some("nouveau"));
    m.ctl("modprobe pci-stub").unwrap();
    assert!(root.join("sys/bus/pci/drivers/pci-stub/bind").exists());
    assert_eq!(
        link_base(root, "sys/bus/pci/drivers/pci-stub/module").as_deref(),
        Some("pci_stub")
    );
    // new_id with all seven fields skips the EEXIST probe; a class mask matches both
    // NVIDIA functions once they are free.
    w(root, "sys/bus/pci/drivers/nouveau/unbind", "0000:01:00.0").unwrap();
    w(
        root,
        "sys/bus/pci/drivers/snd_hda_intel/unbind",
        "0000:01:00.1",
    )
    .unwrap();
    w(
        root,
        "sys/bus/pci/drivers/pci-stub/new_id",
        "10de ffffffff ffffffff ffffffff 0 0 0",
    )
    .unwrap();
    assert_eq!(driver(root, "0000:01:00.0").as_deref(), Some("pci-stub"));
    assert_eq!(driver(root, "0000:01:00.1").as_deref(), Some("pci-stub"));
    assert!(
        !root.join("dev/vfio/7").exists(),
        "pci-stub alone makes no vfio group"
    );
    // A fault set with --times 0 is cleared.
    m.fault(&format!("{PF}/sriov_numvfs"), "EIO", 3).unwrap();
    m.fault(&format!("{PF}/sriov_numvfs"), "EIO", 0).unwrap();
    w(root, &format!("{PF}/sriov_numvfs"), "1").unwrap();
    m.ctl("clear-log").unwrap();
    assert_eq!(m.log(), "");
    agree(root);
}

#[test]
fn huge_writes_are_refused_not_fatal() {
    let Some(m) = mount(&small_host()) else {
        return;
    };
    let root = m.root();
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(root.join("etc/big")).unwrap();
    let e = f.write_at(b"x", 1 << 40).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EFBIG));
    let e = f.set_len(1 << 40).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EFBIG));
    // The simulator is still serving.
    assert_eq!(r(root, "etc/hostname"), "sim");
}

#[test]
fn the_harness_finds_the_binary_next_to_the_tests() {
    // What other crates' tests rely on: target/<profile>/passthru-sim, found from
    // the test executable (unless $PASSTHRU_SIM says otherwise).
    if std::env::var_os("PASSTHRU_SIM").is_none() {
        assert_eq!(
            passthru_testsupport::sim::harness::default_binary(),
            PathBuf::from(BIN)
        );
    }
}
