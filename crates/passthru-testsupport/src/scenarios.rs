//! Named fake hosts: the seeds' I350 host, a two-socket compute node, and a
//! parametric P PFs x V VFs host for scale.

use crate::fakehost::FakeHostError;
use crate::spec::{
    bdf, BarKind, BarSpec, Bdf, DeviceSpec, DriverSpec, HostSpec, LinkSpec, NetdevSpec, PortType,
    SriovSpec, VfSpec,
};

/// Names accepted by [`scenario`] (`parametric:PxV` with any P and V).
pub const SCENARIOS: &[&str] = &["i350", "two-socket", "parametric:8x64", "parametric:16x128"];

/// A scenario by name: `i350`, `two-socket`, `parametric:PxV` (e.g. `parametric:16x128`).
pub fn scenario(name: &str) -> Result<HostSpec, FakeHostError> {
    match name {
        "i350" => Ok(i350()),
        "two-socket" => Ok(two_socket()),
        _ => {
            let unknown = || FakeHostError::UnknownScenario(name.to_string());
            let pv = name.strip_prefix("parametric:").ok_or_else(unknown)?;
            let (p, v) = pv.split_once('x').ok_or_else(unknown)?;
            let p: u16 = p.parse().map_err(|_| unknown())?;
            let v: u16 = v.parse().map_err(|_| unknown())?;
            if p == 0 || p > 30 || v > 2048 {
                return Err(unknown());
            }
            Ok(parametric(p, v))
        }
    }
}

fn mem64(index: u8, address: u64, size: u64, prefetchable: bool) -> BarSpec {
    BarSpec {
        index,
        kind: BarKind::Mem64,
        address,
        size,
        prefetchable,
    }
}

fn root_port(addr: Bdf, device: u16, link: LinkSpec) -> DeviceSpec {
    DeviceSpec::new(addr, 0x8086, device, 0x060400)
        .pcie(PortType::RootPort, Some(link))
        .driver("pcieport")
        .irq(24)
}

/// The first seed's nova.conf for [`i350`] (`seeds/000_*`): the deprecated `[DEFAULT]`
/// names `pci_alias` and `pci_passthrough_whitelist`, and the removed scheduler options.
pub const I350_NOVA_CONF: &str = "\
[DEFAULT]
# from the seed: set on every compute and scheduler node
pci_alias={\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}
pci_passthrough_whitelist=[{\"vendor_id\": \"8086\", \"product_id\": \"1520\", \"physical_network\": \"physnet1\"}]
scheduler_available_filters=nova.scheduler.filters.pci_passthrough_filter.PciPassthroughFilter
scheduler_default_filters=RetryFilter,AvailabilityZoneFilter,RamFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,CoreFilter,PciPassthroughFilter
";

/// The seeds' host (`seeds/000_*`): a quad-port I350 (06:00.0-3 [8086:1521], igb,
/// eno1-eno4) behind root port 00:1c.0, each PF with 2 of 8 VFs enabled (offset 384,
/// stride 4, VF device 1520), so VFs 07:10.0-7 on a virtual bus 07: VF n of PF f at
/// 07:10.(f + 4n). VFs on igbvf except 07:10.7 (PF 06:00.3's VF 1) on vfio-pci, in
/// IOMMU group 40; NUMA node 0; `intel_iommu=on` on the command line.
pub fn i350() -> HostSpec {
    let rp = bdf("0000:00:1c.0");
    let mut h = HostSpec::new()
        .numa_node(0, "0-11")
        .cmdline("BOOT_IMAGE=/vmlinuz-3.10.0-229.el7.x86_64 root=/dev/mapper/rhel-root ro rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet intel_iommu=on")
        .device(
            DeviceSpec::new(bdf("0000:00:00.0"), 0x8086, 0x2f00, 0x060000)
                .rev(0x02)
                .subsystem(0x8086, 0x0000)
                .group(0)
                .numa(0),
        )
        .device(
            root_port(rp, 0x8d10, LinkSpec::full(5.0, 4))
                .rev(0xd5)
                .subsystem(0x8086, 0x7270)
                .group(20)
                .numa(0),
        )
        .device(
            DeviceSpec::new(bdf("0000:00:1f.2"), 0x8086, 0x8d02, 0x010601)
                .rev(0x05)
                .subsystem(0x8086, 0x7270)
                .driver("ahci")
                .group(21)
                .numa(0)
                .irq(26)
                .bar(5, BarKind::Mem32, 0x9161_4000, 0x800, false),
        );
    h.hostname = Some("rhos-compute-node-10".into());
    h.drivers.push(DriverSpec {
        name: "pcieport".into(),
        module: None,
        builtin: true,
    });
    let macs = [
        "6c:ae:8b:61:07:4a",
        "6c:ae:8b:61:07:4b",
        "6c:ae:8b:61:07:4c",
        "6c:ae:8b:61:07:4d",
    ];
    for f in 0..4u8 {
        let mut s = SriovSpec::new(8, 2, 384, 4, 0x1520).vf_driver("igbvf");
        let vf_base = 0x9010_0000 + f as u64 * 0x4_0000;
        s.vf_bars = vec![
            mem64(0, vf_base, 0x4000, true),
            mem64(3, vf_base + 0x2_0000, 0x4000, true),
        ];
        for n in 0..2u32 {
            let vfa = Bdf::new(0, 6, 0, f).vf(384, 4, n).expect("in range");
            let group = 33 + vfa.function as u32;
            let vf = if f == 3 && n == 1 {
                VfSpec {
                    driver: Some("vfio-pci".into()),
                    iommu_group: Some(group),
                    ..VfSpec::default()
                }
            } else {
                let name = if vfa.function == 0 {
                    "enp7s16".to_string()
                } else {
                    format!("enp7s16f{}", vfa.function)
                };
                VfSpec {
                    iommu_group: Some(group),
                    netdevs: vec![NetdevSpec {
                        name,
                        mac: format!("52:54:00:7a:10:{:02x}", vfa.function),
                        operstate: "down".into(),
                        carrier: None,
                        speed: None,
                        mtu: None,
                    }],
                    ..VfSpec::default()
                }
            };
            s = s.vf(n as usize, vf);
        }
        let off = f as u64 * 0x10_0000;
        let netdev = if f < 2 {
            NetdevSpec::up(&format!("eno{}", f + 1), macs[f as usize], 1000)
        } else {
            NetdevSpec::no_carrier(&format!("eno{}", f + 1), macs[f as usize])
        };
        h.devices.push(
            DeviceSpec::new(Bdf::new(0, 6, 0, f), 0x8086, 0x1521, 0x020000)
                .rev(0x01)
                .subsystem(0x8086, 0x1521)
                .parent(rp)
                .driver("igb")
                .group(29 + f as u32)
                .numa(0)
                .pcie(PortType::Endpoint, Some(LinkSpec::full(5.0, 4)))
                .reset_method("flr")
                .irq(16 + f as u32)
                .msix(10)
                .bar(0, BarKind::Mem32, 0x9058_0000 - off, 0x2_0000, false)
                .bar(2, BarKind::Io, 0x3f80 - f as u64 * 0x20, 0x20, false)
                .bar(3, BarKind::Mem32, 0x9057_0000 - off, 0x4000, false)
                .sriov(s)
                .netdev(netdev),
        );
    }
    h
}

/// A two-socket compute node: NUMA node 0 (CPUs 0-15,32-47) holds an X710 (18:00.0-1,
/// i40e, 4 VFs on iavf with one on vfio-pci), an NVMe drive and the BMC's VGA behind a
/// PCIe-to-PCI bridge (nested bridges); node 1 (16-31,48-63) holds a ConnectX-5
/// (af:00.0-1, mlx5_core, 2 VFs) and a GPU with its HDMI audio (d8:00.0-1) on vfio-pci
/// in one IOMMU group. Several root buses (pci0000:00, :17, :5d, :ae, :d7).
pub fn two_socket() -> HostSpec {
    let mut h = HostSpec::new()
        .numa_node(0, "0-15,32-47")
        .numa_node(1, "16-31,48-63")
        .cmdline("BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/mapper/vg-root ro quiet intel_iommu=on iommu=pt")
        .driver("vfio-pci", None);
    h.hostname = Some("compute-2s".into());
    h.kernel_release = Some("6.1.0-18-amd64".into());
    h.drivers.push(DriverSpec {
        name: "pcieport".into(),
        module: None,
        builtin: true,
    });
    h.iommu_group_types.insert(60, "identity".into());
    let dev = |a: &str, v: u16, d: u16, c: u32| DeviceSpec::new(bdf(a), v, d, c);
    // Socket 0, root bus 00.
    h.devices.push(
        dev("0000:00:00.0", 0x8086, 0x2020, 0x060000)
            .rev(0x04)
            .subsystem(0x8086, 0x0000)
            .group(0)
            .numa(0),
    );
    h.devices.push(
        dev("0000:00:17.0", 0x8086, 0xa182, 0x010601)
            .rev(0x09)
            .subsystem(0x15d9, 0x095d)
            .driver("ahci")
            .group(5)
            .numa(0)
            .irq(30)
            .bar(5, BarKind::Mem32, 0x9d30_0000, 0x800, false),
    );
    h.devices.push(
        root_port(bdf("0000:00:1c.5"), 0xa195, LinkSpec::full(2.5, 1))
            .rev(0xf9)
            .group(14)
            .numa(0),
    );
    let mut ast_bridge = dev("0000:03:00.0", 0x1a03, 0x1150, 0x060400)
        .rev(0x04)
        .parent(bdf("0000:00:1c.5"))
        .group(15)
        .numa(0);
    ast_bridge.pcie = Some(crate::spec::PcieSpec {
        port_type: PortType::PcieToPciBridge,
        link: Some(LinkSpec::full(2.5, 1)),
        flr: false,
    });
    h.devices.push(ast_bridge);
    let mut vga = dev("0000:04:00.0", 0x1a03, 0x2000, 0x030000)
        .rev(0x41)
        .subsystem(0x15d9, 0x095d)
        .parent(bdf("0000:03:00.0"))
        .driver("ast")
        .group(15)
        .numa(0)
        .irq(16)
        .bar(0, BarKind::Mem32, 0x9c00_0000, 0x100_0000, false)
        .bar(1, BarKind::Mem32, 0x9d00_0000, 0x2_0000, false)
        .bar(2, BarKind::Io, 0x2000, 0x80, false);
    vga.boot_vga = Some(true);
    h.devices.push(vga);
    // Socket 0, root bus 17: X710.
    h.devices.push(
        root_port(bdf("0000:17:00.0"), 0x2030, LinkSpec::full(8.0, 8))
            .rev(0x04)
            .group(30)
            .numa(0),
    );
    for f in 0..2u8 {
        let (offset, num) = if f == 0 { (16, 4) } else { (79, 0) };
        let mut s = SriovSpec::new(64, num, offset, 1, 0x154c).vf_driver("iavf");
        s.vf_bars = vec![
            mem64(0, 0x3_8000_0000 + f as u64 * 0x100_0000, 0x1_0000, true),
            mem64(3, 0x3_8080_0000 + f as u64 * 0x100_0000, 0x4000, true),
        ];
        if f == 0 {
            for i in 0..4usize {
                let vf = if i == 3 {
                    VfSpec {
                        driver: Some("vfio-pci".into()),
                        iommu_group: Some(43),
                        ..VfSpec::default()
                    }
                } else {
                    VfSpec {
                        iommu_group: Some(40 + i as u32),
                        netdevs: vec![NetdevSpec::up(
                            &format!("ens1f0v{i}"),
                            &format!("02:00:00:18:02:{i:02x}"),
                            10000,
                        )],
                        ..VfSpec::default()
                    }
                };
                s = s.vf(i, vf);
            }
        }
        h.devices.push(
            DeviceSpec::new(Bdf::new(0, 0x18, 0, f), 0x8086, 0x1572, 0x020000)
                .rev(0x02)
                .subsystem(0x8086, 0x0001)
                .parent(bdf("0000:17:00.0"))
                .driver("i40e")
                .group(31 + f as u32)
                .numa(0)
                .pcie(PortType::Endpoint, Some(LinkSpec::full(8.0, 8)))
                .reset_method("flr")
                .irq(40)
                .msix(129)
                .slot(1)
                .bar(
                    0,
                    BarKind::Mem64,
                    0x3_8200_0000 + f as u64 * 0x100_0000,
                    0x100_0000,
                    true,
                )
                .bar(
                    3,
                    BarKind::Mem64,
                    0x3_8300_8000 + f as u64 * 0x1_0000,
                    0x8000,
                    true,
                )
                .sriov(s)
                .netdev(NetdevSpec::up(
                    &format!("ens1f{f}"),
                    &format!("3c:fd:fe:a0:00:{:02x}", f),
                    10000,
                )),
        );
    }
    // Socket 0, root bus 5d: NVMe.
    h.devices.push(
        root_port(bdf("0000:5d:00.0"), 0x2030, LinkSpec::full(8.0, 4))
            .rev(0x04)
            .group(50)
            .numa(0),
    );
    h.devices.push(
        dev("0000:5e:00.0", 0x144d, 0xa808, 0x010802)
            .subsystem(0x144d, 0xa801)
            .parent(bdf("0000:5d:00.0"))
            .driver("nvme")
            .group(51)
            .numa(0)
            .pcie(PortType::Endpoint, Some(LinkSpec::full(8.0, 4)))
            .reset_method("flr bus")
            .msix(33)
            .slot(2)
            .bar(0, BarKind::Mem64, 0xc5e0_0000, 0x4000, false),
    );
    // Socket 1, root bus ae: ConnectX-5.
    h.devices.push(
        root_port(bdf("0000:ae:00.0"), 0x2030, LinkSpec::full(8.0, 16))
            .rev(0x04)
            .group(60)
            .numa(1),
    );
    for f in 0..2u8 {
        let (offset, num) = if f == 0 { (2, 2) } else { (9, 0) };
        let mut s = SriovSpec::new(8, num, offset, 1, 0x1018).vf_driver("mlx5_core");
        s.vf_bars = vec![mem64(
            0,
            0x3_a000_0000 + f as u64 * 0x1000_0000,
            0x10_0000,
            true,
        )];
        if f == 0 {
            s = s
                .vf(
                    0,
                    VfSpec {
                        iommu_group: Some(72),
                        netdevs: vec![NetdevSpec::up("ens2f0v0", "02:00:00:af:00:02", 25000)],
                        ..VfSpec::default()
                    },
                )
                .vf(
                    1,
                    VfSpec {
                        driver: Some("vfio-pci".into()),
                        iommu_group: Some(73),
                        ..VfSpec::default()
                    },
                );
        }
        h.devices.push(
            DeviceSpec::new(Bdf::new(0, 0xaf, 0, f), 0x15b3, 0x1017, 0x020000)
                .subsystem(0x15b3, 0x0007)
                .parent(bdf("0000:ae:00.0"))
                .driver("mlx5_core")
                .group(70 + f as u32)
                .numa(1)
                .pcie(PortType::Endpoint, Some(LinkSpec::full(8.0, 16)))
                .reset_method("flr")
                .irq(60)
                .msix(64)
                .slot(3)
                .bar(
                    0,
                    BarKind::Mem64,
                    0x3_9e00_0000 + f as u64 * 0x200_0000,
                    0x200_0000,
                    true,
                )
                .sriov(s)
                .netdev(NetdevSpec::up(
                    &format!("ens2f{f}np{f}"),
                    &format!("b8:59:9f:c0:00:{:02x}", f),
                    25000,
                )),
        );
    }
    // Socket 1, root bus d7: GPU + HDMI audio on vfio-pci, one group.
    h.devices.push(
        root_port(bdf("0000:d7:00.0"), 0x2030, LinkSpec::full(16.0, 16))
            .rev(0x04)
            .group(89)
            .numa(1),
    );
    let mut gpu = dev("0000:d8:00.0", 0x10de, 0x24b0, 0x030000)
        .rev(0xa1)
        .subsystem(0x10de, 0x14ad)
        .parent(bdf("0000:d7:00.0"))
        .driver("vfio-pci")
        .group(90)
        .numa(1)
        .pcie(PortType::LegacyEndpoint, Some(LinkSpec::full(16.0, 16)))
        .reset_method("bus")
        .slot(4)
        .irq(255)
        .bar(0, BarKind::Mem32, 0xe900_0000, 0x100_0000, false)
        .bar(1, BarKind::Mem64, 0x3_c000_0000, 0x1000_0000, true)
        .bar(3, BarKind::Mem64, 0x3_d000_0000, 0x200_0000, true)
        .bar(5, BarKind::Io, 0xf000, 0x80, false);
    gpu.boot_vga = Some(false);
    if let Some(p) = &mut gpu.pcie {
        p.flr = false;
    }
    h.devices.push(gpu);
    h.devices.push(
        dev("0000:d8:00.1", 0x10de, 0x228b, 0x040300)
            .rev(0xa1)
            .subsystem(0x10de, 0x14ad)
            .parent(bdf("0000:d7:00.0"))
            .driver("vfio-pci")
            .group(90)
            .numa(1)
            .pcie(PortType::Endpoint, Some(LinkSpec::full(16.0, 16)))
            .reset_method("bus")
            .slot(4)
            .irq(255)
            .bar(0, BarKind::Mem32, 0xea08_0000, 0x4000, false),
    );
    h
}

/// P single-port SR-IOV NICs (Intel E810 [8086:1593], ice) each behind its own root
/// port 00:(1+i).0, each with V of V VFs enabled (VF device 1889, offset 128, stride
/// 1, VFs on iavf with a netdev, every 8th on vfio-pci). Each function has its own
/// IOMMU group; the first half of the NICs is on NUMA node 0, the rest on node 1.
/// 16x128 has 16 + 2048 + 17 = 2081 functions.
pub fn parametric(p: u16, v: u16) -> HostSpec {
    let mut h = HostSpec::new()
        .numa_node(0, "0-31")
        .numa_node(1, "32-63")
        .cmdline(
            "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro intel_iommu=on iommu=pt",
        )
        .device(
            DeviceSpec::new(bdf("0000:00:00.0"), 0x8086, 0x2020, 0x060000)
                .rev(0x04)
                .group(0)
                .numa(0),
        );
    h.hostname = Some(format!("parametric-{p}x{v}"));
    h.drivers.push(DriverSpec {
        name: "pcieport".into(),
        module: None,
        builtin: true,
    });
    let offset: u16 = 128;
    let mut group = 1u32;
    let mut bus: u32 = 1;
    for i in 0..p {
        let node = if (i as u32) * 2 < p as u32 { 0 } else { 1 };
        let b = bus as u8;
        let rp = Bdf::new(0, 0, (1 + i) as u8, 0);
        h.devices.push(
            root_port(rp, 0x2030, LinkSpec::full(16.0, 16))
                .rev(0x04)
                .group(group)
                .numa(node),
        );
        group += 1;
        let pf = Bdf::new(0, b, 0, 0);
        let pf_group = group;
        group += 1;
        let mut s = SriovSpec::new(v, v, offset, 1, 0x1889).vf_driver("iavf");
        let base = 0x40_0000_0000u64 + i as u64 * 0x1_0000_0000;
        s.vf_bars = vec![
            mem64(0, base + 0x8000_0000, 0x2_0000, true),
            mem64(3, base + 0xc000_0000, 0x4000, true),
        ];
        s.vfs = (0..v as u32)
            .map(|j| {
                let g = group + j;
                if j % 8 == 7 {
                    VfSpec {
                        driver: Some("vfio-pci".into()),
                        iommu_group: Some(g),
                        ..VfSpec::default()
                    }
                } else {
                    VfSpec {
                        iommu_group: Some(g),
                        netdevs: vec![NetdevSpec::up(
                            &format!("ens{}f0v{j}", i + 1),
                            &format!("02:{:02x}:{:02x}:{:02x}:00:00", i, j >> 8, j & 0xff),
                            100000,
                        )],
                        ..VfSpec::default()
                    }
                }
            })
            .collect();
        group += v as u32;
        h.devices.push(
            DeviceSpec::new(pf, 0x8086, 0x1593, 0x020000)
                .rev(0x02)
                .subsystem(0x8086, 0x0005)
                .parent(rp)
                .driver("ice")
                .group(pf_group)
                .numa(node)
                .pcie(PortType::Endpoint, Some(LinkSpec::full(16.0, 16)))
                .reset_method("flr")
                .irq(0)
                .msix(1024)
                .slot(1 + i as u32)
                .bar(0, BarKind::Mem64, base, 0x200_0000, true)
                .bar(3, BarKind::Mem64, base + 0x400_0000, 0x1_0000, true)
                .sriov(s)
                .netdev(NetdevSpec::up(
                    &format!("ens{}f0", i + 1),
                    &format!("b4:96:91:{:02x}:00:00", i),
                    100000,
                )),
        );
        // Next PF goes past the last VF's bus.
        let last = pf
            .vf(offset, 1, v.saturating_sub(1) as u32)
            .map_or(b, |a| a.bus);
        bus = last as u32 + 1;
    }
    h
}
