//! The fake host writer produces the tree a kernel would.

use passthru_testsupport::config_space::read_sriov;
use passthru_testsupport::{bdf, scenarios, DeviceSpec, FakeHost, FakeHostError, HostSpec};
use std::fs;
use std::path::Path;

fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}
fn link(root: &Path, rel: &str) -> String {
    fs::read_link(root.join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn i350_tree_is_kernel_shaped() {
    let t = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    let r = t.path();
    let pf = "sys/devices/pci0000:00/0000:00:1c.0/0000:06:00.3";
    let vf = "sys/devices/pci0000:00/0000:00:1c.0/0000:07:10.7";
    // The bus link and its exact relative text.
    assert_eq!(
        link(r, "sys/bus/pci/devices/0000:07:10.7"),
        "../../../devices/pci0000:00/0000:00:1c.0/0000:07:10.7"
    );
    // Attribute formats.
    assert_eq!(read(r, &format!("{pf}/vendor")), "0x8086\n");
    assert_eq!(read(r, &format!("{pf}/device")), "0x1521\n");
    assert_eq!(read(r, &format!("{pf}/class")), "0x020000\n");
    assert_eq!(read(r, &format!("{pf}/revision")), "0x01\n");
    assert_eq!(read(r, &format!("{pf}/driver_override")), "(null)\n");
    assert_eq!(read(r, &format!("{pf}/numa_node")), "0\n");
    assert_eq!(read(r, &format!("{pf}/sriov_vf_device")), "1520\n");
    assert_eq!(read(r, &format!("{pf}/sriov_offset")), "384\n");
    assert_eq!(read(r, &format!("{pf}/sriov_stride")), "4\n");
    assert_eq!(read(r, &format!("{pf}/sriov_numvfs")), "2\n");
    assert_eq!(read(r, &format!("{pf}/sriov_totalvfs")), "8\n");
    assert_eq!(
        read(r, &format!("{pf}/current_link_speed")),
        "5.0 GT/s PCIe\n"
    );
    assert_eq!(read(r, &format!("{pf}/current_link_width")), "4\n");
    assert_eq!(
        read(r, &format!("{pf}/modalias")),
        "pci:v00008086d00001521sv00008086sd00001521bc02sc00i00\n"
    );
    assert_eq!(read(r, &format!("{pf}/resource")).lines().count(), 13);
    // VF placement by offset/stride and the links between PF and VFs.
    assert_eq!(link(r, &format!("{pf}/virtfn0")), "../0000:07:10.3");
    assert_eq!(link(r, &format!("{pf}/virtfn1")), "../0000:07:10.7");
    assert_eq!(link(r, &format!("{vf}/physfn")), "../0000:06:00.3");
    assert_eq!(
        link(r, &format!("{vf}/driver")),
        "../../../../bus/pci/drivers/vfio-pci"
    );
    assert_eq!(
        link(r, &format!("{vf}/iommu_group")),
        "../../../../kernel/iommu_groups/40"
    );
    assert_eq!(
        link(r, "sys/kernel/iommu_groups/40/devices/0000:07:10.7"),
        "../../../../devices/pci0000:00/0000:00:1c.0/0000:07:10.7"
    );
    assert_eq!(read(r, &format!("{vf}/current_link_speed")), "Unknown\n");
    assert_eq!(read(r, &format!("{vf}/max_link_width")), "4\n");
    assert!(r.join("dev/vfio/40").exists());
    // Drivers and modules.
    assert_eq!(
        link(r, "sys/bus/pci/drivers/igb/0000:06:00.0"),
        "../../../../devices/pci0000:00/0000:00:1c.0/0000:06:00.0"
    );
    assert_eq!(
        link(r, "sys/bus/pci/drivers/igb/module"),
        "../../../../module/igb"
    );
    assert_eq!(
        link(r, "sys/bus/pci/drivers/vfio-pci/module"),
        "../../../../module/vfio_pci"
    );
    assert!(!r.join("sys/bus/pci/drivers/pcieport/module").exists());
    assert!(r.join("sys/bus/pci/drivers/igbvf/0000:07:10.3").exists());
    // Netdevs.
    assert_eq!(read(r, "sys/class/net/eno1/address"), "6c:ae:8b:61:07:4a\n");
    assert_eq!(
        link(r, "sys/class/net/eno4"),
        "../../devices/pci0000:00/0000:00:1c.0/0000:06:00.3/net/eno4"
    );
    assert_eq!(
        link(r, &format!("{pf}/net/eno4/device")),
        "../../../0000:06:00.3"
    );
    assert!(r.join("sys/class/net/enp7s16f3/operstate").exists());
    // Bridges, NUMA, proc.
    assert_eq!(
        read(
            r,
            "sys/devices/pci0000:00/0000:00:1c.0/secondary_bus_number"
        ),
        "6\n"
    );
    assert_eq!(
        read(
            r,
            "sys/devices/pci0000:00/0000:00:1c.0/subordinate_bus_number"
        ),
        "7\n"
    );
    assert!(r
        .join("sys/devices/pci0000:00/0000:00:1c.0/pci_bus/0000:07")
        .is_dir());
    assert_eq!(read(r, "sys/devices/system/node/node0/cpulist"), "0-11\n");
    assert!(read(r, "proc/cmdline").contains("intel_iommu=on"));
}

#[test]
fn config_space_agrees_with_the_attribute_files() {
    let t = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    let r = t.path();
    let pf = fs::read(r.join("sys/bus/pci/devices/0000:06:00.0/config")).unwrap();
    assert_eq!(pf.len(), 4096);
    assert_eq!(&pf[0..4], &[0x86, 0x80, 0x21, 0x15]);
    assert_eq!(read_sriov(&pf), Some((8, 2, 384, 4, 0x1520)));
    // PCIe capability at 0xa0: link status speed 2 (5 GT/s), width 4.
    assert_eq!(pf[0xa0], 0x10);
    let lnksta = u16::from_le_bytes([pf[0xa0 + 0x12], pf[0xa0 + 0x13]]);
    assert_eq!((lnksta & 0xf, (lnksta >> 4) & 0x3f), (2, 4));
    let vf = fs::read(r.join("sys/bus/pci/devices/0000:07:10.7/config")).unwrap();
    assert_eq!(&vf[0..4], &[0xff; 4]);
    assert_eq!(&vf[0x10..0x28], &[0u8; 24], "VF BARs read 0");
    let host_bridge = fs::read(r.join("sys/bus/pci/devices/0000:00:00.0/config")).unwrap();
    assert_eq!(host_bridge.len(), 256);
}

#[test]
fn two_socket_nests_bridges_and_spreads_numa() {
    let t = FakeHost::new(scenarios::two_socket()).write_temp().unwrap();
    let r = t.path();
    assert_eq!(
        link(r, "sys/bus/pci/devices/0000:04:00.0"),
        "../../../devices/pci0000:00/0000:00:1c.5/0000:03:00.0/0000:04:00.0"
    );
    assert_eq!(read(r, "sys/bus/pci/devices/0000:d8:00.0/numa_node"), "1\n");
    assert_eq!(read(r, "sys/bus/pci/devices/0000:18:00.0/numa_node"), "0\n");
    assert_eq!(
        read(r, "sys/bus/pci/devices/0000:d8:00.0/local_cpulist"),
        "16-31,48-63\n"
    );
    assert_eq!(
        read(r, "sys/bus/pci/devices/0000:d8:00.0/local_cpus"),
        "ffff0000,ffff0000\n"
    );
    assert_eq!(read(r, "sys/bus/pci/devices/0000:04:00.0/boot_vga"), "1\n");
    assert_eq!(
        link(r, "sys/bus/pci/devices/0000:18:00.0/virtfn3"),
        "../0000:18:02.3"
    );
    assert_eq!(
        link(r, "sys/bus/pci/devices/0000:af:00.0/virtfn1"),
        "../0000:af:00.3"
    );
    assert_eq!(read(r, "sys/kernel/iommu_groups/60/type"), "identity\n");
    assert_eq!(
        fs::read_dir(r.join("sys/kernel/iommu_groups/90/devices"))
            .unwrap()
            .count(),
        2
    );
    assert_eq!(read(r, "sys/bus/pci/slots/4/address"), "0000:d8:00\n");
    assert!(r.join("sys/bus/pci/drivers/vfio-pci/0000:d8:00.1").exists());
    assert_eq!(
        read(
            r,
            "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"
        ),
        "N\n"
    );
}

#[test]
fn parametric_counts() {
    let h = FakeHost::new(scenarios::parametric(16, 128));
    let funcs = h.functions().unwrap();
    assert_eq!(funcs.len(), 1 + 16 + 16 + 16 * 128);
    // VFs spilling past the PF's bus land on the next bus under the same bridge.
    let spec = HostSpec::new()
        .device(
            DeviceSpec::new(bdf("0000:00:01.0"), 0x8086, 0x2030, 0x060400)
                .pcie(passthru_testsupport::PortType::RootPort, None),
        )
        .device(
            DeviceSpec::new(bdf("0000:01:00.0"), 0x8086, 0x1593, 0x020000)
                .parent(bdf("0000:00:01.0"))
                .pcie(passthru_testsupport::PortType::Endpoint, None)
                .sriov(passthru_testsupport::SriovSpec::new(16, 10, 250, 1, 0x1889)),
        );
    let t = FakeHost::new(spec).write_temp().unwrap();
    let bridge = "sys/devices/pci0000:00/0000:00:01.0";
    assert_eq!(
        read(t.path(), &format!("{bridge}/subordinate_bus_number")),
        "2\n"
    );
    assert_eq!(
        link(t.path(), &format!("{bridge}/0000:01:00.0/virtfn9")),
        "../0000:02:00.3"
    );
    assert!(t.path().join(format!("{bridge}/pci_bus/0000:02")).is_dir());
    assert!(passthru_testsupport::scenario("parametric:8x64").is_ok());
    assert!(matches!(
        passthru_testsupport::scenario("nope"),
        Err(FakeHostError::UnknownScenario(_))
    ));
}

#[test]
fn spec_round_trips_through_json_and_toml() {
    let s = scenarios::two_socket();
    let j = s.to_json();
    assert_eq!(HostSpec::from_json(&j).unwrap(), s);
    let t = toml::to_string(&s).unwrap();
    assert_eq!(HostSpec::from_toml(&t).unwrap(), s);
}

#[test]
fn bad_specs_are_refused_with_reasons() {
    let nic = DeviceSpec::new(bdf("0000:01:00.0"), 0x8086, 0x1521, 0x020000);
    let dup = HostSpec::new().device(nic.clone()).device(nic.clone());
    let e = FakeHost::new(dup).functions().unwrap_err().to_string();
    assert!(e.contains("listed twice"), "{e}");
    let orphan = HostSpec::new().device(nic.clone().parent(bdf("0000:00:01.0")));
    let e = FakeHost::new(orphan).functions().unwrap_err().to_string();
    assert!(e.contains("not in the spec"), "{e}");
    let not_bridge = HostSpec::new()
        .device(DeviceSpec::new(bdf("0000:00:01.0"), 0x8086, 1, 0x020000))
        .device(nic.clone().parent(bdf("0000:00:01.0")));
    let e = FakeHost::new(not_bridge)
        .functions()
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a bridge"), "{e}");
    let clash = HostSpec::new()
        .device(
            nic.clone()
                .sriov(passthru_testsupport::SriovSpec::new(4, 2, 1, 1, 0x1520)),
        )
        .device(DeviceSpec::new(bdf("0000:01:00.2"), 0x8086, 1, 0x020000));
    let e = FakeHost::new(clash).functions().unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
}

#[test]
fn extra_files_land_where_asked() {
    let spec = scenarios::i350()
        .file("etc/nova/nova.conf", "[pci]\n")
        .symlink("etc/alt", "/etc/nova/nova.conf");
    let t = FakeHost::new(spec).write_temp().unwrap();
    assert_eq!(read(t.path(), "etc/nova/nova.conf"), "[pci]\n");
    assert_eq!(link(t.path(), "etc/alt"), "/etc/nova/nova.conf");
}

/// Issue 9, defect 15: `--help` is not an error.
#[test]
fn fakehost_help_exits_0_with_the_usage() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_passthru-fakehost"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("usage: passthru-fakehost write"));
}
