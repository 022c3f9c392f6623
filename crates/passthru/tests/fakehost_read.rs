//! passthru reads the fake hosts' trees into the facts the scenarios describe.

use passthru::host::sources::read_root;
use passthru::pci::PciAddress;
use passthru_testsupport::{scenarios, FakeHost};

fn a(s: &str) -> PciAddress {
    PciAddress::parse(s).unwrap()
}

#[test]
fn reads_the_i350_host() {
    let t = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    let h = read_root(t.path()).unwrap();
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    assert_eq!(h.devices.len(), 3 + 4 + 8);
    let pf = h.device(&a("0000:06:00.3")).unwrap();
    assert_eq!(pf.id_pair(), "8086:1521");
    assert_eq!(pf.driver.as_deref(), Some("igb"));
    assert_eq!(pf.parent, Some(a("0000:00:1c.0")));
    let s = pf.sriov.as_ref().unwrap();
    assert_eq!(
        (s.total_vfs, s.num_vfs, s.offset, s.stride),
        (8, 2, Some(384), Some(4))
    );
    assert_eq!(s.vf_device_id.unwrap().0, 0x1520);
    assert_eq!(pf.virtfns, vec![a("0000:07:10.3"), a("0000:07:10.7")]);
    assert_eq!(pf.netdevs, vec!["eno4".to_string()]);
    let vf = h.device(&a("07:10.7")).unwrap();
    assert_eq!(vf.id_pair(), "8086:1520");
    assert_eq!(vf.driver.as_deref(), Some("vfio-pci"));
    assert_eq!(vf.iommu_group, Some(40));
    assert_eq!(vf.numa_node, Some(0));
    assert_eq!(vf.physfn, Some(a("0000:06:00.3")));
    assert_eq!(vf.vf_index, Some(1));
    assert_eq!(vf.parent, Some(a("0000:00:1c.0")));
    assert_eq!(h.group(40).unwrap().devices, vec![a("0000:07:10.7")]);
    assert_eq!(h.numa_nodes.len(), 1);
    assert!(h
        .kernel_cmdline
        .as_deref()
        .unwrap()
        .contains("intel_iommu=on"));
    let eno1 = &h.device(&a("06:00.0")).unwrap().interfaces[0];
    assert_eq!(eno1.mac.as_deref(), Some("6c:ae:8b:61:07:4a"));
    assert_eq!(eno1.carrier, Some(true));
    assert_eq!(eno1.speed_mbps, Some(1000));
}

#[test]
fn virtio_net_interfaces_are_found_one_level_down() {
    use passthru::host::sources::{read_root_with, ReadOptions};
    use passthru_testsupport::spec::{bdf, DeviceSpec, HostSpec};
    // virtio-net puts its interface under virtioN/net/, not the function's net/.
    let dir = "sys/devices/pci0000:00/0000:00:03.0/virtio2/net/eth0";
    let spec = HostSpec::new()
        .device(
            DeviceSpec::new(bdf("0000:00:03.0"), 0x1af4, 0x1041, 0x020000)
                .driver("virtio-pci")
                .group(3),
        )
        .device(
            DeviceSpec::new(bdf("0000:00:04.0"), 0x1af4, 0x1042, 0x010000)
                .driver("virtio-pci")
                .group(4),
        )
        .file(&format!("{dir}/address"), "52:54:00:12:34:56\n")
        .file(&format!("{dir}/operstate"), "up\n")
        .file(&format!("{dir}/carrier"), "1\n")
        .file(
            "sys/devices/pci0000:00/0000:00:04.0/virtio3/block/vda/size",
            "0\n",
        );
    let t = FakeHost::new(spec).write_temp().unwrap();
    for opts in [ReadOptions::default(), ReadOptions::inventory()] {
        let h = read_root_with(t.path(), &opts).unwrap();
        assert_eq!(h.device(&a("00:03.0")).unwrap().netdevs, vec!["eth0"]);
        assert!(h.device(&a("00:04.0")).unwrap().netdevs.is_empty());
    }
    let h = read_root(t.path()).unwrap();
    let eth0 = &h.device(&a("00:03.0")).unwrap().interfaces[0];
    assert_eq!(
        (eth0.mac.as_deref(), eth0.operstate.as_deref(), eth0.carrier),
        (Some("52:54:00:12:34:56"), Some("up"), Some(true))
    );
    let found = passthru::host::resolve::resolve(&h, "eth0").unwrap();
    assert_eq!(found[0].address, a("00:03.0"));
}

#[test]
fn names_come_from_the_roots_pci_ids_misc_before_hwdata_and_ids_without_one() {
    use passthru_testsupport::spec::{bdf, DeviceSpec, HostSpec};
    let dev = || {
        HostSpec::new().device(
            DeviceSpec::new(bdf("0000:06:00.0"), 0x8086, 0x1521, 0x020000)
                .subsystem(0x8086, 0x00a1)
                .driver("igb")
                .group(1),
        )
    };
    let db = |name: &str| {
        format!("8086  Intel Corporation\n\t1521  {name}\n\t\t8086 00a1  I350-T4\nC 02  Network controller\n\t00  Ethernet controller\n")
    };
    let names = |spec: HostSpec| {
        let t = FakeHost::new(spec).write_temp().unwrap();
        let h = read_root(t.path()).unwrap();
        h.device(&a("06:00.0")).unwrap().clone()
    };

    // No database under the root (the machine's own is never used): ids only.
    let d = names(dev());
    assert_eq!(d.names, Default::default());
    assert_eq!(d.id_pair(), "8086:1521");
    assert_eq!(d.label(), "Ethernet controller", "the built-in class name");

    // hwdata alone (Fedora, RHEL).
    let d = names(dev().file("usr/share/hwdata/pci.ids", &db("from hwdata")));
    assert_eq!(d.names.device.as_deref(), Some("from hwdata"));
    assert_eq!(d.names.vendor.as_deref(), Some("Intel Corporation"));
    assert_eq!(d.names.subsystem.as_deref(), Some("I350-T4"));
    assert_eq!(d.names.class.as_deref(), Some("Ethernet controller"));

    // Both: misc first, as lspci looks.
    let d = names(
        dev()
            .file("usr/share/hwdata/pci.ids", &db("from hwdata"))
            .file("usr/share/misc/pci.ids", &db("from misc")),
    );
    assert_eq!(d.names.device.as_deref(), Some("from misc"));
}
