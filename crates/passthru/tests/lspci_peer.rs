//! Real lspci as the producer: a small sysfs tree (written here, config space included)
//! is read by pciutils' own `lspci -A linux-sysfs`, and its text must parse to the facts
//! the tree holds, and to the same facts passthru's sysfs source reads from the tree.
//!
//! The tree: root port 00:1c.0 (buses 06-07) -> I350 PF 06:00.0 with SR-IOV
//! (Total 8, Number 2, offset 384, stride 4, VF device 1520) and its VFs 07:10.0
//! (vfio-pci) and 07:10.4 (no driver), as in the seed; plus a VMD-style domain 10000
//! with a bridge and an NVMe drive, so both `-D` and plain output carry domains.

use passthru::host::sources::lspci_text::{parse_lspci, parse_lspci_with};
use passthru::host::sources::read_root;
use passthru::host::Host;
use passthru::pci::{PciAddress, PciIds};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

struct Dev {
    addr: &'static str,
    ids: (u16, u16),
    subsys: (u16, u16),
    class: u32,
    rev: u8,
    /// (secondary, subordinate) for bridges.
    buses: Option<(u8, u8)>,
    /// PCIe (max speed code, max width, current speed code, current width).
    link: Option<(u8, u8, u8, u8)>,
    /// (total, number, offset, stride, vf device).
    sriov: Option<(u16, u16, u16, u16, u16)>,
    driver: Option<&'static str>,
    group: u32,
    numa: i32,
    /// Upstream device directory (None: on the root bus).
    parent: Option<&'static str>,
    physfn: Option<(&'static str, u32)>,
}

const DEVS: &[Dev] = &[
    Dev {
        addr: "0000:00:1c.0",
        ids: (0x8086, 0xa110),
        subsys: (0x15d9, 0x0000),
        class: 0x060400,
        rev: 0xf1,
        buses: Some((0x06, 0x07)),
        link: Some((2, 4, 2, 4)),
        sriov: None,
        driver: Some("pcieport"),
        group: 3,
        numa: -1,
        parent: None,
        physfn: None,
    },
    Dev {
        addr: "0000:06:00.0",
        ids: (0x8086, 0x1521),
        subsys: (0x8086, 0x1521),
        class: 0x020000,
        rev: 0x01,
        buses: None,
        link: Some((2, 4, 2, 2)),
        sriov: Some((8, 2, 384, 4, 0x1520)),
        driver: Some("igb"),
        group: 7,
        numa: 0,
        parent: Some("0000:00:1c.0"),
        physfn: None,
    },
    Dev {
        addr: "0000:07:10.0",
        ids: (0x8086, 0x1520),
        subsys: (0x8086, 0x1521),
        class: 0x020000,
        rev: 0x01,
        buses: None,
        link: None,
        sriov: None,
        driver: Some("vfio-pci"),
        group: 40,
        numa: 0,
        parent: Some("0000:00:1c.0"),
        physfn: Some(("0000:06:00.0", 0)),
    },
    Dev {
        addr: "0000:07:10.4",
        ids: (0x8086, 0x1520),
        subsys: (0x8086, 0x1521),
        class: 0x020000,
        rev: 0x01,
        buses: None,
        link: None,
        sriov: None,
        driver: None,
        group: 41,
        numa: 0,
        parent: Some("0000:00:1c.0"),
        physfn: Some(("0000:06:00.0", 1)),
    },
    Dev {
        addr: "10000:e0:06.0",
        ids: (0x8086, 0x464d),
        subsys: (0x1028, 0x0b14),
        class: 0x060400,
        rev: 0x05,
        buses: Some((0xe1, 0xe1)),
        link: Some((4, 4, 4, 4)),
        sriov: None,
        driver: Some("pcieport"),
        group: 9,
        numa: -1,
        parent: None,
        physfn: None,
    },
    Dev {
        addr: "10000:e1:00.0",
        ids: (0x1987, 0x5019),
        subsys: (0x1987, 0x5019),
        class: 0x010802,
        rev: 0x01,
        buses: None,
        link: Some((4, 4, 4, 2)),
        sriov: None,
        driver: Some("nvme"),
        group: 9,
        numa: -1,
        parent: Some("10000:e0:06.0"),
        physfn: None,
    },
];

fn put16(c: &mut [u8], at: usize, v: u16) {
    c[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(c: &mut [u8], at: usize, v: u32) {
    c[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

const SPEEDS: [&str; 5] = [
    "",
    "2.5 GT/s PCIe",
    "5.0 GT/s PCIe",
    "8.0 GT/s PCIe",
    "16.0 GT/s PCIe",
];

/// Config space as the kernel's `config` file holds it (4096 bytes for PCIe).
fn config(d: &Dev) -> Vec<u8> {
    let mut c = vec![
        0u8;
        if d.link.is_some() || d.physfn.is_some() {
            4096
        } else {
            256
        }
    ];
    if d.physfn.is_some() {
        // VF config reads ffff at vendor/device (the kernel takes ids from the PF).
        put32(&mut c, 0, 0xffff_ffff);
    } else {
        put16(&mut c, 0, d.ids.0);
        put16(&mut c, 2, d.ids.1);
    }
    put16(&mut c, 4, 0x0006); // Mem+ BusMaster+
    c[8] = d.rev;
    c[9] = d.class as u8;
    c[10] = (d.class >> 8) as u8;
    c[11] = (d.class >> 16) as u8;
    if let Some((sec, sub)) = d.buses {
        c[0x0e] = 0x01;
        c[0x18] = 0;
        c[0x19] = sec;
        c[0x1a] = sub;
    } else {
        put16(&mut c, 0x2c, d.subsys.0);
        put16(&mut c, 0x2e, d.subsys.1);
    }
    if let Some((ms, mw, cs, cw)) = d.link {
        put16(&mut c, 6, 0x0010); // capability list
        c[0x34] = 0x40;
        c[0x40] = 0x10; // PCI Express
        let kind: u16 = if d.buses.is_some() { 4 } else { 0 }; // root port / endpoint
        put16(&mut c, 0x42, 2 | (kind << 4));
        put32(&mut c, 0x4c, u32::from(ms) | (u32::from(mw) << 4));
        put16(&mut c, 0x52, u16::from(cs) | (u16::from(cw) << 4));
    }
    if let Some((total, num, offset, stride, vfdev)) = d.sriov {
        put32(&mut c, 0x100, 0x0010 | (1 << 16)); // SR-IOV, version 1, last
        put16(&mut c, 0x108, if num > 0 { 0x0009 } else { 0 }); // VF Enable, MSE
        put16(&mut c, 0x10c, total);
        put16(&mut c, 0x10e, total);
        put16(&mut c, 0x110, num);
        put16(&mut c, 0x114, offset);
        put16(&mut c, 0x116, stride);
        put16(&mut c, 0x11a, vfdev);
        put32(&mut c, 0x11c, 0x553);
        put32(&mut c, 0x120, 1);
    }
    c
}

fn w(p: &Path, s: &str) {
    fs::write(p, s).unwrap();
}

fn dir_of(addr: &str) -> String {
    let d = DEVS.iter().find(|d| d.addr == addr).unwrap();
    let a = PciAddress::parse(addr).unwrap();
    let top = format!("pci{:04x}:{:02x}", a.domain, 0);
    match d.parent {
        Some(p) => format!("{}/{addr}", dir_of(p)),
        None => format!("devices/{top}/{addr}"),
    }
}

fn build(root: &Path) {
    let sys = root.join("sys");
    fs::create_dir_all(sys.join("bus/pci/devices")).unwrap();
    for d in DEVS {
        let rel = dir_of(d.addr);
        let dir = sys.join(&rel);
        fs::create_dir_all(&dir).unwrap();
        symlink(
            format!("../../../{rel}"),
            sys.join("bus/pci/devices").join(d.addr),
        )
        .unwrap();
        w(&dir.join("vendor"), &format!("0x{:04x}\n", d.ids.0));
        w(&dir.join("device"), &format!("0x{:04x}\n", d.ids.1));
        w(
            &dir.join("subsystem_vendor"),
            &format!("0x{:04x}\n", d.subsys.0),
        );
        w(
            &dir.join("subsystem_device"),
            &format!("0x{:04x}\n", d.subsys.1),
        );
        w(&dir.join("class"), &format!("0x{:06x}\n", d.class));
        w(&dir.join("revision"), &format!("0x{:02x}\n", d.rev));
        w(&dir.join("irq"), "16\n");
        w(&dir.join("numa_node"), &format!("{}\n", d.numa));
        let lines = if d.buses.is_some() { 17 } else { 13 };
        w(
            &dir.join("resource"),
            &"0x0000000000000000 0x0000000000000000 0x0000000000000000\n".repeat(lines),
        );
        fs::write(dir.join("config"), config(d)).unwrap();
        let depth = rel.matches('/').count() + 1;
        let up = "../".repeat(depth);
        if let Some(drv) = d.driver {
            fs::create_dir_all(sys.join("bus/pci/drivers").join(drv)).unwrap();
            symlink(format!("{up}bus/pci/drivers/{drv}"), dir.join("driver")).unwrap();
        }
        let g = sys.join(format!("kernel/iommu_groups/{}/devices", d.group));
        fs::create_dir_all(&g).unwrap();
        symlink(format!("../../../../{rel}"), g.join(d.addr)).unwrap();
        symlink(
            format!("{up}kernel/iommu_groups/{}", d.group),
            dir.join("iommu_group"),
        )
        .unwrap();
        if let Some((ms, mw, cs, cw)) = d.link {
            w(
                &dir.join("max_link_speed"),
                &format!("{}\n", SPEEDS[ms as usize]),
            );
            w(&dir.join("max_link_width"), &format!("{mw}\n"));
            w(
                &dir.join("current_link_speed"),
                &format!("{}\n", SPEEDS[cs as usize]),
            );
            w(&dir.join("current_link_width"), &format!("{cw}\n"));
        }
        if let Some((total, num, offset, stride, vfdev)) = d.sriov {
            w(&dir.join("sriov_totalvfs"), &format!("{total}\n"));
            w(&dir.join("sriov_numvfs"), &format!("{num}\n"));
            w(&dir.join("sriov_offset"), &format!("{offset}\n"));
            w(&dir.join("sriov_stride"), &format!("{stride}\n"));
            w(&dir.join("sriov_vf_device"), &format!("{vfdev:x}\n"));
        }
        if let Some((pf, index)) = d.physfn {
            symlink(format!("../{pf}"), dir.join("physfn")).unwrap();
            let pf_dir = sys.join(dir_of(pf));
            symlink(
                format!("../{}", d.addr),
                pf_dir.join(format!("virtfn{index}")),
            )
            .unwrap();
        }
    }
}

fn lspci(root: &Path, domains: bool) -> String {
    let mut cmd = Command::new("lspci");
    cmd.arg("-A")
        .arg("linux-sysfs")
        .arg("-O")
        .arg(format!("sysfs.path={}", root.join("sys/bus/pci").display()))
        .arg("-nnvvv");
    if domains {
        cmd.arg("-D");
    }
    let out = cmd
        .output()
        .expect("lspci (pciutils; scripts/test.sh installs it) must be on PATH");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Mix stderr into the text the way `lspci ... 2>&1 > file` captures often do.
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    text
}

fn a(s: &str) -> PciAddress {
    PciAddress::parse(s).unwrap()
}

fn check_against_tree(h: &Host, text: &str) {
    assert_eq!(h.devices.len(), DEVS.len(), "{text}");
    for d in DEVS {
        let got = h
            .device(&a(d.addr))
            .unwrap_or_else(|| panic!("{}\n{text}", d.addr));
        let ctx = format!("{}\n{text}", d.addr);
        assert_eq!((got.vendor_id.0, got.device_id.0), d.ids, "{ctx}");
        assert_eq!(got.class.0, d.class, "{ctx}");
        assert_eq!(got.revision, Some(d.rev), "{ctx}");
        // lspci takes the subsystem from the sysfs files, for bridges too.
        assert_eq!(
            (
                got.subsystem_vendor_id.map(|v| v.0),
                got.subsystem_device_id.map(|v| v.0)
            ),
            (Some(d.subsys.0), Some(d.subsys.1)),
            "{ctx}"
        );
        assert_eq!(got.driver.as_deref(), d.driver, "{ctx}");
        assert_eq!(got.iommu_group, Some(d.group), "{ctx}");
        assert_eq!(got.numa_node, u32::try_from(d.numa).ok(), "{ctx}");
        assert_eq!(got.parent, d.parent.map(a), "{ctx}");
        match d.link {
            Some((ms, mw, cs, cw)) => {
                let l = got.link.as_ref().expect("link");
                assert_eq!(l.max_speed.as_deref(), Some(SPEEDS[ms as usize]), "{ctx}");
                assert_eq!(
                    l.current_speed.as_deref(),
                    Some(SPEEDS[cs as usize]),
                    "{ctx}"
                );
                assert_eq!(
                    (l.max_width, l.current_width),
                    (Some(mw.into()), Some(cw.into())),
                    "{ctx}"
                );
            }
            None => assert_eq!(got.link, None, "{ctx}"),
        }
        match d.sriov {
            Some((total, num, offset, stride, vfdev)) => {
                let s = got.sriov.as_ref().expect("sriov");
                assert_eq!(
                    (
                        s.total_vfs,
                        s.num_vfs,
                        s.offset,
                        s.stride,
                        s.vf_device_id.map(|v| v.0)
                    ),
                    (
                        total.into(),
                        num.into(),
                        Some(offset.into()),
                        Some(stride.into()),
                        Some(vfdev)
                    ),
                    "{ctx}"
                );
            }
            None => assert_eq!(got.sriov, None, "{ctx}"),
        }
        assert_eq!(got.physfn, d.physfn.map(|(p, _)| a(p)), "{ctx}");
        assert_eq!(got.vf_index, d.physfn.map(|(_, i)| i), "{ctx}");
    }
    let pf = h.device(&a("0000:06:00.0")).unwrap();
    assert_eq!(pf.virtfns, vec![a("0000:07:10.0"), a("0000:07:10.4")]);
}

/// The facts lspci can show, as (address, ids, class, rev, subsystem, driver, group,
/// numa, parent, link, sriov without autoprobe, physfn, vf_index, virtfns).
fn comparable(h: &Host) -> Vec<String> {
    h.devices
        .iter()
        .map(|d| {
            let s = d
                .sriov
                .as_ref()
                .map(|s| (s.total_vfs, s.num_vfs, s.offset, s.stride, s.vf_device_id));
            // lspci prints no `Subsystem:` line when the subsystem vendor is 0 or ffff
            // ("none"); sysfs still has the files.
            let sub = match (d.subsystem_vendor_id, d.subsystem_device_id) {
                (Some(v), _) if v.0 == 0 || v.0 == 0xffff => (None, None),
                other => other,
            };
            format!(
                "{} {} {} {:?} {:?}/{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                d.address,
                d.id_pair(),
                d.class,
                d.revision,
                sub.0,
                sub.1,
                d.driver,
                d.iommu_group,
                d.numa_node,
                d.parent,
                d.link,
                s,
                d.physfn,
                d.vf_index,
                d.virtfns
            )
        })
        .collect()
}

/// lspci named the devices from this machine's pci.ids; given the same database, the
/// parser must split each title exactly where pci.ids' vendor name ends.
fn names_match_pci_ids(text: &str) {
    let Ok(db) = fs::read_to_string("/usr/share/misc/pci.ids")
        .or_else(|_| fs::read_to_string("/usr/share/hwdata/pci.ids"))
    else {
        return;
    };
    let ids = PciIds::parse(&db);
    let h = parse_lspci_with(text, Path::new("lspci.txt"), Some(&ids)).unwrap();
    let mut checked = 0;
    for d in &h.devices {
        let (v, dev) = (d.vendor_id.0, d.device_id.0);
        if let (Some(vn), Some(dn)) = (ids.vendor(v), ids.device(v, dev)) {
            assert_eq!(d.names.vendor.as_deref(), Some(vn), "{}", d.address);
            assert_eq!(d.names.device.as_deref(), Some(dn), "{}", d.address);
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "pci.ids knows the I350 PF/VF and the NVMe drive"
    );
}

#[test]
fn real_lspci_text_parses_to_the_trees_facts() {
    if !passthru_testsupport::peer::require_programs(&["lspci"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    build(t.path());
    let from_sysfs = read_root(t.path()).unwrap();
    for domains in [true, false] {
        let text = lspci(t.path(), domains);
        let h = parse_lspci(&text, Path::new("lspci.txt")).unwrap();
        check_against_tree(&h, &text);
        names_match_pci_ids(&text);
        assert_eq!(
            comparable(&h),
            comparable(&from_sysfs),
            "-D: {domains}\n{text}"
        );
    }
}

/// Every named fake host (testsupport's scenarios: the seeds' quad-port I350 with VFs on
/// a virtual bus, a two-socket node, a parametric PFs x VFs host): real lspci's text of
/// the tree parses to the facts passthru's sysfs source reads from it.
#[test]
fn every_scenario_agrees_with_the_sysfs_source() {
    if !passthru_testsupport::peer::require_programs(&["lspci"]) {
        return;
    }
    use passthru_testsupport::{scenarios, FakeHost};
    let hosts = [
        ("i350", scenarios::i350()),
        ("two-socket", scenarios::two_socket()),
        ("parametric 3x20", scenarios::parametric(3, 20)),
    ];
    for (name, spec) in hosts {
        let fake = FakeHost::new(spec);
        let t = fake.write_temp().unwrap();
        let from_sysfs = read_root(t.path()).unwrap();
        let vfs = from_sysfs.devices.iter().filter(|d| d.is_vf()).count();
        assert!(vfs > 0, "{name}: scenario has VFs");
        for domains in [true, false] {
            let text = lspci(t.path(), domains);
            let h = parse_lspci(&text, Path::new("lspci.txt")).unwrap();
            let (got, want) = (comparable(&h), comparable(&from_sysfs));
            if got != want {
                let diff: Vec<String> = got
                    .iter()
                    .zip(&want)
                    .filter(|(g, w)| g != w)
                    .take(3)
                    .map(|(g, w)| format!("lspci text: {g}\nsysfs:      {w}"))
                    .collect();
                panic!(
                    "{name} (-D: {domains}): {} vs {} devices\n{}",
                    got.len(),
                    want.len(),
                    diff.join("\n")
                );
            }
        }
    }
}

/// lspci cuts a title whose names do not fit its buffer (`... Registers [8086...`, the
/// Xeon uncore devices of every two-socket server). Real lspci, given a pci.ids with
/// such names, prints those titles; every device must still be read, with what the text
/// carries: address, class, revision, vendor when its four digits survived, driver,
/// group, NUMA node; a VF gets its ids back from its PF's SR-IOV capability.
#[test]
fn titles_lspci_cut_short_still_give_their_devices() {
    use passthru::host::model::UnreadIds;
    use passthru_testsupport::{scenarios, FakeHost};
    let Some(lspci) = passthru_testsupport::peer::require_program("lspci") else {
        return;
    };
    let t = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    let from_sysfs = read_root(t.path()).unwrap();
    // Names long enough that `Vendor Device [vvvv:dddd]` overflows lspci's buffer: the
    // PF's just before the ids (`[8086...`), the VF's well before them.
    let long = |words: usize| vec!["Thermal & RAS Registers"; words].join(" ");
    let ids = t.path().join("long.ids");
    fs::write(
        &ids,
        format!(
            "8086  Intel Corporation\n\t1521  {}\n\t1520  {}\n",
            &long(20)[..100],
            long(20)
        ),
    )
    .unwrap();
    let o = Command::new(lspci)
        .args(["-A", "linux-sysfs", "-O"])
        .arg(format!(
            "sysfs.path={}",
            t.path().join("sys/bus/pci").display()
        ))
        .args(["-O", "hwdb.disable=1", "-nnvvv", "-D", "-i"])
        .arg(&ids)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.contains("[8086... (rev 01)"),
        "lspci cut a title before the ids:\n{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("0000:07:10.")
            && l.ends_with("... (rev 01)")
            && !l.contains("[8086")),
        "and one inside the names:\n{text}"
    );
    let h = parse_lspci(&text, Path::new("lspci.txt")).unwrap();
    assert_eq!(
        h.devices.len(),
        from_sysfs.devices.len(),
        "{:?}",
        h.warnings
    );
    let mut cut_pfs = 0;
    for want in &from_sysfs.devices {
        let got = h.device(&want.address).expect("every device is listed");
        let ctx = format!("{}: {:?}", want.address, got.unread_ids);
        assert_eq!(got.class, want.class, "{ctx}");
        assert_eq!(got.revision, want.revision, "{ctx}");
        assert_eq!(got.driver, want.driver, "{ctx}");
        assert_eq!(got.iommu_group, want.iommu_group, "{ctx}");
        assert_eq!(got.numa_node, want.numa_node, "{ctx}");
        assert_eq!(got.physfn, want.physfn, "{ctx}");
        match got.unread_ids {
            // Complete titles, and VFs whose ids the PF's capability names.
            None => assert_eq!(got.id_pair(), want.id_pair(), "{ctx}"),
            Some(UnreadIds::Device) => {
                assert_eq!(got.vendor_id, want.vendor_id, "{ctx}");
                assert_eq!(got.id_pair(), format!("{}:????", want.vendor_id));
                assert!(got
                    .names
                    .device
                    .as_deref()
                    .is_some_and(|n| n.ends_with("...")));
                cut_pfs += 1;
            }
            Some(UnreadIds::VendorAndDevice) => panic!("{ctx}: the vendor was whole"),
        }
    }
    assert!(cut_pfs >= 1, "the PFs' titles were cut:\n{text}");
    let vfs = h.devices.iter().filter(|d| d.is_vf()).count();
    assert!(
        vfs > 0
            && h.devices
                .iter()
                .filter(|d| d.is_vf())
                .all(|d| d.unread_ids.is_none())
    );
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
}
