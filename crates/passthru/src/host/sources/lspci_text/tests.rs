use super::*;
use crate::pci::{PciAddress, VendorId};

fn a(s: &str) -> PciAddress {
    PciAddress::parse(s).unwrap()
}

fn parse(text: &str) -> Host {
    parse_lspci(text, Path::new("t.txt")).unwrap()
}

const PF_AND_VFS: &str = "\
3b:00.0 Ethernet controller [0200]: Intel Corporation Ethernet Controller X710 for 10GbE SFP+ [8086:1572] (rev 02)
\tSubsystem: Intel Corporation Ethernet Converged Network Adapter X710-2 [8086:0007]
\tCapabilities: [a0] Express (v2) Endpoint, MSI 00
\t\tLnkCap:\tPort #0, Speed 8GT/s, Width x8, ASPM L1, Exit Latency L1 <16us
\t\tLnkSta:\tSpeed 8GT/s (ok), Width x4 (downgraded)
\tCapabilities: [160 v1] Single Root I/O Virtualization (SR-IOV)
\t\tIOVCtl:\tEnable+ Migration- Interrupt- MSE+ ARIHierarchy+
\t\tInitial VFs: 64, Total VFs: 64, Number of VFs: 2, Function Dependency Link: 00
\t\tVF offset: 16, stride: 1, Device ID: 154c
\tKernel driver in use: i40e

3b:02.0 Ethernet controller [0200]: Intel Corporation Ethernet Virtual Function 700 Series [8086:154c] (rev 02)
\tSubsystem: Intel Corporation Device [8086:0000]
\tKernel driver in use: vfio-pci

3b:02.1 Ethernet controller [0200]: Intel Corporation Ethernet Virtual Function 700 Series [8086:154c] (rev 02)
\tKernel driver in use: iavf
";

#[test]
fn links_vfs_by_offset_and_stride() {
    let h = parse(PF_AND_VFS);
    assert_eq!(h.source.kind, SourceKind::Lspci);
    let pf = h.device(&a("3b:00.0")).unwrap();
    let s = pf.sriov.as_ref().unwrap();
    assert_eq!(
        (s.total_vfs, s.num_vfs, s.offset, s.stride),
        (64, 2, Some(16), Some(1))
    );
    assert_eq!(s.vf_device_id.unwrap().0, 0x154c);
    assert_eq!(pf.virtfns, vec![a("3b:02.0"), a("3b:02.1")]);
    let vf1 = h.device(&a("3b:02.1")).unwrap();
    assert_eq!((vf1.physfn, vf1.vf_index), (Some(a("3b:00.0")), Some(1)));
    assert!(vf1.is_vf());
    assert!(h.device(&a("3b:02.0")).unwrap().on_vfio());
    let link = pf.link.as_ref().unwrap();
    assert_eq!(link.max_speed.as_deref(), Some("8.0 GT/s PCIe"));
    assert_eq!((link.current_width, link.max_width), (Some(4), Some(8)));
    assert!(link.degraded());
    // "Intel Corporation Device [8086:0000]" teaches the vendor name used to split titles.
    assert_eq!(pf.names.vendor.as_deref(), Some("Intel Corporation"));
    assert_eq!(
        pf.names.device.as_deref(),
        Some("Ethernet Controller X710 for 10GbE SFP+")
    );
    assert_eq!(
        pf.names.subsystem.as_deref(),
        Some("Ethernet Converged Network Adapter X710-2")
    );
    assert_eq!(h.device(&a("3b:02.0")).unwrap().names.subsystem, None);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
}

#[test]
fn a_function_with_other_ids_at_a_vf_address_is_not_claimed() {
    let text = PF_AND_VFS.replace(
        "[8086:154c] (rev 02)\n\tKernel driver in use: iavf",
        "[8086:1234] (rev 02)",
    );
    let h = parse(&text);
    let d = h.device(&a("3b:02.1")).unwrap();
    assert_eq!(d.physfn, None);
    // Its title still says Virtual Function, so the gap is reported.
    assert!(h
        .warnings
        .iter()
        .any(|w| w.contains("3b:02.1") && w.contains("no PF")));
}

#[test]
fn vf_beyond_number_of_vfs_is_linked_with_a_warning() {
    let text = PF_AND_VFS.replace("Number of VFs: 2", "Number of VFs: 1");
    let h = parse(&text);
    assert_eq!(h.device(&a("3b:02.1")).unwrap().vf_index, Some(1));
    assert!(h.warnings.iter().any(|w| w.contains("Number of VFs: 1")));
}

#[test]
fn malformed_block_is_skipped_with_a_warning() {
    let text = format!(
        "00:1f.0 ISA bridge: Intel Corporation C620 LPC (rev 09)\n\tKernel driver in use: lpc_ich\n\n{PF_AND_VFS}"
    );
    let h = parse(&text);
    assert_eq!(h.devices.len(), 3);
    assert!(h.device(&a("00:1f.0")).is_none());
    assert!(h
        .warnings
        .iter()
        .any(|w| w.starts_with("line 1:") && w.contains("00:1f.0") && w.contains("-nn")));
}

#[test]
fn no_device_is_lspci_empty_naming_the_file() {
    for text in [
        "",
        "\n\n",
        "hello\nworld\n",
        "\u{0}\u{1}\u{fffd}garbage",
        "00:1f.0 ISA bridge: no ids\n",
    ] {
        match parse_lspci(text, Path::new("x/lspci.txt")) {
            Err(Error::LspciEmpty { path }) => assert_eq!(path, Path::new("x/lspci.txt")),
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn numeric_only_output_and_domains() {
    let h = parse(
        "10000:e1:00.0 0108: 144d:a80a (prog-if 02)\n\tSubsystem: 144d:a801\n\tKernel driver in use: nvme\n\tIOMMU group: 9\n\tNUMA node: 1\n\
         10000:e0:06.0 0604: 8086:464d (rev 05) (prog-if 00 [Normal decode])\n\tBus: primary=00, secondary=e1, subordinate=e1, sec-latency=0\n",
    );
    let nvme = h.device(&a("10000:e1:00.0")).unwrap();
    assert_eq!(nvme.class.0, 0x010802);
    assert_eq!(nvme.subsystem_vendor_id, Some(VendorId(0x144d)));
    assert_eq!((nvme.iommu_group, nvme.numa_node), (Some(9), Some(1)));
    assert_eq!(nvme.parent, Some(a("10000:e0:06.0")));
    assert_eq!(nvme.revision, Some(0), "no '(rev xx)': lspci omits rev 00");
    assert_eq!(h.device(&a("10000:e0:06.0")).unwrap().revision, Some(5));
    assert_eq!(h.iommu_groups.len(), 1);
}

#[test]
fn indented_paste_stops_at_prose() {
    let h = parse(
        "Here is my lspci:\n\n    06:00.0 Ethernet controller [0200]: Intel Corporation I350 Gigabit Network Connection [8086:1521] (rev 01)\n        Kernel driver in use: igb\n\nNote also the\n    Kernel driver in use: other\n",
    );
    assert_eq!(
        h.device(&a("06:00.0")).unwrap().driver.as_deref(),
        Some("igb")
    );
}

#[test]
fn duplicate_address_keeps_the_first() {
    let one = "06:00.0 Ethernet controller [0200]: X [8086:1521]\n\tKernel driver in use: igb\n";
    let h = parse(&format!("{one}{}", one.replace("igb", "vfio-pci")));
    assert_eq!(h.devices.len(), 1);
    assert_eq!(h.devices[0].driver.as_deref(), Some("igb"));
    assert!(h.warnings.iter().any(|w| w.contains("appears again")));
}

#[test]
fn pci_ids_splits_vendor_when_the_text_cannot() {
    let ids = PciIds::parse("8086  Intel Corporation\n\t1521  I350 Gigabit Network Connection\n");
    let text = "06:00.0 Ethernet controller [0200]: Intel Corporation I350 Gigabit Network Connection [8086:1521] (rev 01)\n";
    let plain = parse(text);
    assert_eq!(plain.devices[0].names.vendor, None);
    assert_eq!(
        plain.devices[0].names.device.as_deref(),
        Some("Intel Corporation I350 Gigabit Network Connection")
    );
    let h = parse_lspci_with(text, Path::new("t"), Some(&ids)).unwrap();
    assert_eq!(
        h.devices[0].names.vendor.as_deref(),
        Some("Intel Corporation")
    );
    assert_eq!(
        h.devices[0].names.device.as_deref(),
        Some("I350 Gigabit Network Connection")
    );
    assert_eq!(
        h.devices[0].names.class.as_deref(),
        Some("Ethernet controller")
    );
}

#[test]
fn sriov_without_total_stays_unknown() {
    let h = parse("06:00.0 Ethernet controller [0200]: X [8086:1521]\n\tCapabilities: [160 v1] Single Root I/O Virtualization (SR-IOV)\n\t\tIOVCap:\tMigration-\n");
    assert_eq!(h.devices[0].sriov, None);
    assert!(h.warnings.iter().any(|w| w.contains("Total VFs")));
}

#[test]
fn hostile_numbers_neither_panic_nor_hang() {
    for (total, offset, stride) in [
        ("4294967295", "4294967295", "4294967295"),
        ("4294967295", "1", "0"),
        ("65535", "65535", "1"),
        ("99999999999", "-1", "x"),
    ] {
        let text = PF_AND_VFS
            .replace("Total VFs: 64", &format!("Total VFs: {total}"))
            .replace("VF offset: 16", &format!("VF offset: {offset}"))
            .replace("stride: 1", &format!("stride: {stride}"));
        let h = parse(&text);
        assert_eq!(h.devices.len(), 3);
    }
    // Widths and group numbers that do not fit stay unknown.
    let h = parse("01:00.0 Ethernet controller [0200]: X [8086:1521]\n\tIOMMU group: 99999999999\n\tCapabilities: [a0] Express (v2) Endpoint\n\t\tLnkSta:\tSpeed 999999999999999GT/s, Width x99999999999\n");
    assert_eq!(h.devices[0].iommu_group, None);
    assert_eq!(h.devices[0].link.as_ref().unwrap().current_width, None);
}

#[test]
fn every_cut_and_shuffle_of_a_real_capture_parses_or_is_empty() {
    let text = include_str!(
        "../../../../../../tests/data/lspci-corpus/minipc-beelink-gtr-ryzen-renoir-pve-iommu.txt"
    );
    let cuts = (0..text.len())
        .step_by(1499)
        .filter(|&i| text.is_char_boundary(i));
    for i in cuts {
        for piece in [&text[..i], &text[i..]] {
            match parse_lspci(piece, Path::new("cut")) {
                Ok(h) => assert!(!h.devices.is_empty()),
                Err(Error::LspciEmpty { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    // Lines in a scrambled (but deterministic) order: blocks break apart, nothing panics.
    let mut lines: Vec<&str> = text.lines().collect();
    for round in 0..20usize {
        let n = lines.len();
        for i in 0..n {
            lines.swap(i, (i * 7919 + round * 104729) % n);
        }
        let _ = parse_lspci(&lines.join("\n"), Path::new("shuffled"));
    }
}

#[test]
fn titles_lspci_cut_short_keep_their_devices() {
    use crate::host::model::UnreadIds;
    // Xeon uncore functions on a two-socket server: pci.ids names so long that lspci's
    // buffer ends them with `...`, cutting the ids at any point.
    let text = "\
7f:0e.0 Performance counters [1101]: Intel Corporation Xeon E7 v4/Xeon E5 v4/Xeon E3 v4/Xeon D Power Control Unit Thermal & RAS Registers [8086... (rev 01)
\tSubsystem: Intel Corporation Device [8086:0000]
\tKernel driver in use: hswep_uncore
\tNUMA node: 0
\tIOMMU group: 41

7f:0e.1 Performance counters [1101]: Intel Corporation Xeon E7 v4/Xeon E5 v4/Xeon E3 v4/Xeon D Power Control Unit Thermal & RAS Registers [8086:6f... (rev 01)
\tIOMMU group: 41

7f:0e.2 Performance counters [1101]: Intel Corporation Xeon E7 v4/Xeon E5 v4/Xeon E3 v4/Xeon D Power Control Unit Thermal & RAS Registers [80... (rev 01)

7f:0e.3 System peripheral [0880]: Intel Corporation Xeon E7 v4/Xeon E5 v4/Xeon E3 v4/Xeon D Power Control Unit Thermal & RAS Regis... (prog-if 01)
\tNUMA node: 1
";
    let h = parse(text);
    assert_eq!(h.devices.len(), 4, "{:?}", h.warnings);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    let d = h.device(&a("7f:0e.0")).unwrap();
    assert_eq!(d.unread_ids, Some(UnreadIds::Device));
    assert_eq!(d.id_pair(), "8086:????");
    assert_eq!(d.class.0, 0x110100);
    assert_eq!(d.revision, Some(1));
    assert_eq!(d.driver.as_deref(), Some("hswep_uncore"));
    assert_eq!((d.numa_node, d.iommu_group), (Some(0), Some(41)));
    // The names keep what was printed, marked as cut; the id fragment is not a name.
    assert_eq!(
        d.names.vendor.as_deref(),
        Some("Intel Corporation"),
        "learned from the Subsystem line's `Device [8086:0000]`"
    );
    assert_eq!(
        d.names.device.as_deref(),
        Some(
            "Xeon E7 v4/Xeon E5 v4/Xeon E3 v4/Xeon D Power Control Unit Thermal & RAS Registers..."
        )
    );
    assert_eq!(h.device(&a("7f:0e.1")).unwrap().id_pair(), "8086:????");
    let d = h.device(&a("7f:0e.2")).unwrap();
    assert_eq!(
        d.unread_ids,
        Some(UnreadIds::VendorAndDevice),
        "two digits are no vendor"
    );
    assert_eq!(d.id_pair(), "????:????");
    let d = h.device(&a("7f:0e.3")).unwrap();
    assert_eq!(d.class.0, 0x088001, "prog-if outside the cut survives");
    assert_eq!(
        (d.unread_ids, d.numa_node),
        (Some(UnreadIds::VendorAndDevice), Some(1))
    );
    // Snapshots keep the state; complete devices say null.
    let json = serde_json::to_value(&h).unwrap();
    assert_eq!(json["devices"][0]["unread_ids"], "device");
    assert_eq!(json["devices"][2]["unread_ids"], "vendor_and_device");
    let back: Host = serde_json::from_value(json).unwrap();
    assert_eq!(back.devices, h.devices);
    let whole = parse(PF_AND_VFS);
    let json = serde_json::to_value(&whole).unwrap();
    assert!(json["devices"][0]["unread_ids"].is_null());
}
