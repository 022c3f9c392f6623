//! Checks over hand-built `Host` values: one fact changed at a time, the finding that
//! must follow.

use crate::checks::{run, why, Context, Finding, Selection, Severity};
use crate::host::model::{Host, Netdev, NumaNode, PciDevice};
use crate::host::system::{BootArgsFile, Bootloader, CpuVendor, IommuUnit};
use crate::pci::PciAddress;

fn a(s: &str) -> PciAddress {
    PciAddress::parse(s).unwrap()
}

fn dev(addr: &str, vendor: u16, device: u16, class: u32, group: Option<u32>) -> PciDevice {
    let mut d = PciDevice::new(a(addr), vendor, device, class);
    d.iommu_group = group;
    d.numa_node = Some(0);
    d.reset_methods = Some(vec!["flr".into()]);
    d
}

/// An Intel host with the IOMMU on and a GPU on vfio-pci alone in group 1.
fn host() -> Host {
    let mut gpu = dev("01:00.0", 0x10de, 0x1b80, 0x030000, Some(1));
    gpu.driver = Some("vfio-pci".into());
    let mut h = Host {
        devices: vec![gpu, dev("00:17.0", 0x8086, 0xa182, 0x010601, Some(5))],
        kernel_cmdline: Some("ro intel_iommu=on iommu=pt".into()),
        numa_nodes: vec![NumaNode {
            id: 0,
            cpulist: "0-7".into(),
        }],
        ..Host::default()
    };
    let s = &mut h.system;
    s.collected = true;
    s.cpu.vendor = CpuVendor::Intel;
    s.cpu.vendor_id = Some("GenuineIntel".into());
    s.cpu.flags = vec!["vmx".into()];
    s.acpi.readable = true;
    s.acpi.dmar = true;
    s.iommu_units = vec![IommuUnit {
        name: "dmar0".into(),
        intel_ecap: Some(0xf050da),
        ..Default::default()
    }];
    s.modules.loaded = Some(vec![
        "vfio".into(),
        "vfio_pci".into(),
        "vfio_iommu_type1".into(),
    ]);
    s.dev.dev_dir = true;
    s.dev.kvm = true;
    s.dev.vfio = Some(vec!["1".into(), "vfio".into()]);
    s.boot.bootloader = Bootloader::GrubUpdateGrub;
    s.boot.tools = vec!["update-grub".into()];
    s.boot.files = vec![BootArgsFile {
        path: "etc/default/grub".into(),
        variable: "GRUB_CMDLINE_LINUX".into(),
        line: 3,
        args: "intel_iommu=on iommu=pt".into(),
    }];
    h.normalize();
    h
}

fn problems(h: &Host, named: &[&str]) -> Vec<Finding> {
    let named: Vec<&PciDevice> = named.iter().map(|n| h.device(&a(n)).unwrap()).collect();
    run(&Context::doctor(h, named))
        .findings
        .into_iter()
        .filter(|f| f.severity != Severity::Pass)
        .collect()
}

fn ids(fs: &[Finding]) -> Vec<(&str, Severity)> {
    fs.iter().map(|f| (f.id, f.severity)).collect()
}

#[test]
fn the_base_host_is_clean() {
    let h = host();
    let r = run(&Context::doctor(&h, vec![]));
    assert_eq!(r.selection, Selection::VfioOrOverride);
    assert_eq!(ids(&problems(&h, &[])), vec![]);
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn intel_iommu_on_configured_but_not_booted() {
    let mut h = host();
    h.iommu_groups.clear();
    for d in &mut h.devices {
        d.iommu_group = None;
        d.driver = None;
    }
    h.system.iommu_units.clear();
    h.kernel_cmdline = Some("ro quiet".into());
    let p = problems(&h, &["01:00.0"]);
    let k = p.iter().find(|f| f.id == "iommu.kernel-disabled").unwrap();
    assert_eq!(k.severity, Severity::Fail);
    assert!(k.message.contains(
        "intel_iommu=on is in the boot configuration but not on the running kernel's command line"
    ));
    assert_eq!(k.fix.as_deref(), Some("update-grub\nreboot"));
    let c = why::chain(&h, h.device(&a("01:00.0")).unwrap());
    assert_eq!(c.broken, Some("kernel"));
    assert_eq!(c.shown(false).len(), 2, "firmware, kernel");
}

#[test]
fn no_dmar_on_bare_metal_points_at_the_firmware_setup() {
    let mut h = host();
    h.iommu_groups.clear();
    h.devices.iter_mut().for_each(|d| d.iommu_group = None);
    h.system.iommu_units.clear();
    h.system.acpi.dmar = false;
    let p = problems(&h, &[]);
    let f = p
        .iter()
        .find(|f| f.id == "iommu.no-firmware-table")
        .unwrap();
    assert_eq!(f.severity, Severity::Fail);
    assert_eq!(
        f.fix.as_deref(),
        Some("Enable \"Intel VT-d\" (Virtualization Technology for Directed I/O) in the firmware (BIOS/UEFI) setup, then power-cycle the host")
    );
}

#[test]
fn a_group_shared_only_with_other_targets_warns() {
    let mut h = host();
    let mut nic = dev("02:00.0", 0x8086, 0x1521, 0x020000, Some(1));
    nic.driver = Some("vfio-pci".into());
    h.devices.push(nic);
    h.iommu_groups.clear();
    h.normalize();
    let p = problems(&h, &[]);
    assert_eq!(
        ids(&p),
        vec![
            ("device.group-shared", Severity::Warn),
            ("device.group-shared", Severity::Warn)
        ]
    );
    // Named alone, the other member is foreign but on vfio-pci: the group is viable,
    // and the NIC still goes to the same guest.
    let p = problems(&h, &["01:00.0"]);
    assert_eq!(ids(&p), vec![("device.group-shared", Severity::Warn)]);
    assert!(
        p[0].message.contains("not on a host driver"),
        "{}",
        p[0].message
    );
    // On a host driver, it keeps vfio from the group: a failure.
    h.devices
        .iter_mut()
        .filter(|d| d.address.short() == "02:00.0")
        .for_each(|d| d.driver = Some("igb".into()));
    let p = problems(&h, &["01:00.0"]);
    assert_eq!(ids(&p), vec![("device.group-shared", Severity::Fail)]);
}

#[test]
fn device_level_facts() {
    let mut h = host();
    // Only a bus reset, shared with another device on bus 01.
    h.devices[1].reset_methods = Some(vec!["bus".into()]);
    let mut other = dev("01:01.0", 0x8086, 0x10d3, 0x020000, Some(7));
    other.driver = Some("e1000e".into());
    h.devices.push(other);
    // A second NUMA node, and the GPU's node unknown.
    h.numa_nodes.push(NumaNode {
        id: 1,
        cpulist: "8-15".into(),
    });
    h.normalize();
    let gpu = h
        .devices
        .iter_mut()
        .find(|d| d.address == a("01:00.0"))
        .unwrap();
    gpu.reset_methods = Some(vec!["bus".into()]);
    gpu.numa_node = None;
    let p = problems(&h, &[]);
    assert_eq!(
        ids(&p),
        vec![
            ("device.no-reset", Severity::Warn),
            ("device.numa-unknown", Severity::Warn)
        ]
    );
    assert_eq!(
        p[0].message,
        "only a bus reset, which would also reset 0000:01:01.0 on the same bus"
    );
}

#[test]
fn a_target_carrying_the_default_route_fails() {
    let mut h = host();
    let mut nic = dev("02:00.0", 0x8086, 0x1521, 0x020000, Some(2));
    nic.driver = Some("igb".into());
    nic.netdevs = vec!["eno1".into()];
    nic.interfaces = vec![Netdev {
        name: "eno1".into(),
        operstate: Some("up".into()),
        carrier: Some(true),
        ..Netdev::default()
    }];
    h.devices.push(nic);
    h.system.default_route_interfaces = Some(vec!["eno1".into()]);
    h.normalize();
    let p = problems(&h, &["02:00.0"]);
    assert_eq!(
        ids(&p),
        vec![
            ("device.host-driver", Severity::Warn),
            ("device.default-route", Severity::Fail)
        ]
    );
    assert_eq!(p[1].message, "eno1 carries the host's default route");
}

#[test]
fn amd_without_a_kernel_log_cannot_confirm_remapping() {
    let mut h = host();
    h.system.cpu.vendor = CpuVendor::Amd;
    h.system.acpi.ivrs = true;
    h.system.iommu_units = vec![IommuUnit {
        name: "ivhd0".into(),
        amd_features: Some(0x25bf732fa2295afe),
        ..Default::default()
    }];
    let p = problems(&h, &[]);
    assert_eq!(
        ids(&p),
        vec![("iommu.no-interrupt-remapping", Severity::Info)]
    );
    assert!(p[0]
        .message
        .starts_with("AMD-Vi IOMMUs remap interrupts unless turned off"));
    h.system.kernel_log = Some(crate::host::system::KernelLog {
        source: "t".into(),
        lines: vec!["AMD-Vi: Interrupt remapping enabled".into()],
    });
    assert_eq!(ids(&problems(&h, &[])), vec![]);
}

#[test]
fn facts_from_lspci_text_are_unknown_not_failures() {
    let mut h = host();
    h.system = Default::default();
    h.kernel_cmdline = None;
    let r = run(&Context::doctor(&h, vec![]));
    assert!(
        r.findings.iter().all(|f| f.severity != Severity::Fail),
        "{:#?}",
        r.findings
    );
    let cpu = r
        .findings
        .iter()
        .find(|f| f.id == "cpu.no-virtualization")
        .unwrap();
    assert_eq!(cpu.severity, Severity::Info);
    assert!(cpu.message.starts_with("not known from these facts"));
    // Groups known from lspci still count.
    let k = r
        .findings
        .iter()
        .find(|f| f.id == "iommu.kernel-disabled")
        .unwrap();
    assert_eq!(k.severity, Severity::Pass);
}
