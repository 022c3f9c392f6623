//! `passthru doctor` and `passthru why` through the real binary, on fake host trees:
//! a healthy host, then one fault at a time. Each scenario asserts the exact problem
//! findings (id, severity, device), key messages and fixes, and the exit code.

use passthru_testsupport::{
    bdf, DeviceSpec, ExtraFile, HostSpec, LinkSpec, NetdevSpec, PortType, SriovSpec, VfSpec,
};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const REL: &str = "6.1.0-18-amd64";

const PCI_IDS: &str = "\
10de  NVIDIA Corporation
\t1b80  GP104 [GeForce GTX 1080]
\t10f0  GP104 High Definition Audio Controller
1000  Broadcom / LSI
\t0097  SAS3008 PCI-Express Fusion-MPT SAS-3
8086  Intel Corporation
\t1521  I350 Gigabit Network Connection
\t1520  I350 Ethernet Controller Virtual Function
C 01  Mass storage controller
\t06  SATA controller
\t07  Serial Attached SCSI controller
C 02  Network controller
\t00  Ethernet controller
C 03  Display controller
\t00  VGA compatible controller
C 04  Multimedia controller
\t03  Audio device
C 06  Bridge
\t00  Host bridge
\t04  PCI bridge
";

fn file(h: &mut HostSpec, path: &str, contents: &str) {
    h.files.retain(|f| f.path != path);
    h.files.push(ExtraFile {
        path: path.into(),
        contents: contents.into(),
        link: None,
        mode: None,
    });
}

fn root_port(a: &str) -> DeviceSpec {
    DeviceSpec::new(bdf(a), 0x8086, 0x2030, 0x060400)
        .pcie(PortType::RootPort, Some(LinkSpec::full(8.0, 16)))
        .driver("pcieport")
        .numa(0)
}

/// An Intel host with VT-x, VT-d, intel_iommu=on iommu=pt through GRUB (Debian), vfio
/// loaded: a GPU (+ its audio function) on vfio-pci alone in group 1, an I350 PF
/// (igb, eno1, default route) with 2 VFs on vfio-pci in groups 20 and 21, an AHCI
/// controller on the host.
fn healthy() -> HostSpec {
    let mut h = HostSpec::new()
        .numa_node(0, "0-7")
        .cmdline("BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet intel_iommu=on iommu=pt")
        .driver("vfio-pci", None);
    h.kernel_release = Some(REL.into());
    h.devices.push(
        DeviceSpec::new(bdf("0000:00:00.0"), 0x8086, 0x2020, 0x060000)
            .group(0)
            .numa(0),
    );
    h.devices.push(root_port("0000:00:01.0").group(1));
    for (f, dev, class, reset) in [
        (0u8, 0x1b80u16, 0x030000u32, "bus"),
        (1, 0x10f0, 0x040300, "flr"),
    ] {
        h.devices.push(
            DeviceSpec::new(bdf(&format!("0000:01:00.{f}")), 0x10de, dev, class)
                .parent(bdf("0000:00:01.0"))
                .driver("vfio-pci")
                .group(1)
                .numa(0)
                .pcie(PortType::Endpoint, Some(LinkSpec::full(8.0, 16)))
                .reset_method(reset),
        );
    }
    h.devices.push(root_port("0000:00:02.0").group(2));
    let s = SriovSpec::new(8, 2, 0x80, 4, 0x1520)
        .vf_driver("vfio-pci")
        .vf(
            0,
            VfSpec {
                iommu_group: Some(20),
                ..VfSpec::default()
            },
        )
        .vf(
            1,
            VfSpec {
                iommu_group: Some(21),
                ..VfSpec::default()
            },
        );
    h.devices.push(
        DeviceSpec::new(bdf("0000:02:00.0"), 0x8086, 0x1521, 0x020000)
            .parent(bdf("0000:00:02.0"))
            .driver("igb")
            .group(3)
            .numa(0)
            .pcie(PortType::Endpoint, Some(LinkSpec::full(5.0, 4)))
            .reset_method("flr")
            .msix(10)
            .sriov(s)
            .netdev(NetdevSpec::up("eno1", "a0:36:9f:00:00:01", 1000)),
    );
    h.devices.push(
        DeviceSpec::new(bdf("0000:00:17.0"), 0x8086, 0xa182, 0x010601)
            .driver("ahci")
            .group(5)
            .numa(0),
    );
    file(
        &mut h,
        "proc/version",
        &format!("Linux version {REL} (debian-kernel@lists.debian.org)\n"),
    );
    file(
        &mut h,
        "proc/cpuinfo",
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz\nflags\t\t: fpu vme de pse tsc msr pae vmx x2apic ept\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme de pse tsc msr pae vmx x2apic ept\n",
    );
    file(
        &mut h,
        "proc/modules",
        "vfio_pci 16384 0 - Live 0x0000000000000000\nvfio_pci_core 94208 1 vfio_pci, Live 0x0000000000000000\nvfio_iommu_type1 45056 0 - Live 0x0000000000000000\nvfio 61440 3 vfio_pci_core,vfio_iommu_type1,vfio_pci, Live 0x0000000000000000\nkvm_intel 380928 0 - Live 0x0000000000000000\nkvm 1142784 1 kvm_intel, Live 0x0000000000000000\nigb 282624 0 - Live 0x0000000000000000\n",
    );
    file(
        &mut h,
        &format!("lib/modules/{REL}/modules.dep"),
        "kernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/pci/vfio-pci-core.ko kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/pci/vfio-pci-core.ko: kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/vfio_iommu_type1.ko: kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/vfio.ko:\nkernel/arch/x86/kvm/kvm-intel.ko: kernel/arch/x86/kvm/kvm.ko\nkernel/arch/x86/kvm/kvm.ko:\n",
    );
    for t in ["APIC", "DMAR", "FACP", "MCFG"] {
        file(&mut h, &format!("sys/firmware/acpi/tables/{t}"), t);
    }
    file(&mut h, "dev/kvm", "");
    file(
        &mut h,
        "etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt\"\n",
    );
    file(&mut h, "usr/sbin/update-grub", "#!/bin/sh\n");
    file(&mut h, "usr/sbin/update-initramfs", "#!/bin/sh\n");
    file(
        &mut h,
        "proc/net/route",
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neno1\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\neno1\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n",
    );
    file(&mut h, "usr/share/misc/pci.ids", PCI_IDS);
    h
}

fn passthru(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run passthru")
}

/// Writes the host, runs `doctor ARGS --json`, returns (exit code, JSON).
fn doctor(h: &HostSpec, args: &[&str]) -> (i32, Value) {
    let t = tempfile::tempdir().unwrap();
    h.write(t.path()).unwrap();
    let mut a = vec!["doctor", "--json"];
    a.extend_from_slice(args);
    let o = passthru(t.path(), &a);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code().unwrap_or(-1), v)
}

fn findings(v: &Value) -> &Vec<Value> {
    v["findings"].as_array().expect("findings")
}

/// `(id, severity, device)` of every finding that is not a pass.
fn problems(v: &Value) -> Vec<(String, String, Option<String>)> {
    findings(v)
        .iter()
        .filter(|f| f["severity"] != "pass")
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["device"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn p(id: &str, sev: &str, dev: Option<&str>) -> (String, String, Option<String>) {
    (id.into(), sev.into(), dev.map(str::to_string))
}

fn finding<'a>(v: &'a Value, id: &str, dev: Option<&str>) -> &'a Value {
    findings(v)
        .iter()
        .find(|f| f["id"] == id && f["device"].as_str() == dev)
        .unwrap_or_else(|| panic!("no finding {id} for {dev:?} in {v:#}"))
}

#[test]
fn healthy_host_passes_everything() {
    let (code, v) = doctor(&healthy(), &[]);
    assert_eq!(problems(&v), vec![], "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(v["selection"], "vfio_or_override");
    assert_eq!(
        v["devices"],
        serde_json::json!([
            "0000:01:00.0",
            "0000:01:00.1",
            "0000:02:10.0",
            "0000:02:10.4"
        ])
    );
    // Every check that applies ran: the whole list, in report order.
    let ids: Vec<(&str, Option<&str>)> = findings(&v)
        .iter()
        .map(|f| (f["id"].as_str().unwrap(), f["device"].as_str()))
        .collect();
    let mut want: Vec<(&str, Option<&str>)> = [
        "cpu.no-virtualization",
        "kvm.no-device",
        "iommu.no-firmware-table",
        "iommu.kernel-disabled",
        "iommu.no-passthrough-mode",
        "boot.reboot-pending",
        "iommu.no-interrupt-remapping",
        "vfio.unsafe-interrupts",
        "vfio.noiommu-mode",
        "vfio.modules-missing",
        "vfio.no-container",
    ]
    .iter()
    .map(|i| (*i, None))
    .collect();
    for d in ["0000:01:00.0", "0000:01:00.1"] {
        for i in [
            "device.group-shared",
            "device.host-driver",
            "device.vfio-node-missing",
            "device.no-reset",
            "device.numa-unknown",
        ] {
            want.push((i, Some(d)));
        }
    }
    want.push(("sriov.pf-no-carrier", Some("0000:02:00.0")));
    want.push(("sriov.pf-unbound", Some("0000:02:00.0")));
    for d in ["0000:02:10.0", "0000:02:10.4"] {
        for i in [
            "device.group-shared",
            "device.host-driver",
            "device.vfio-node-missing",
            "device.no-reset",
            "device.numa-unknown",
        ] {
            want.push((i, Some(d)));
        }
    }
    want.push(("config.vfio-ids-absent", None));
    want.push(("config.blacklist-absent", None));
    want.push(("conflict.vf-count", None));
    want.push(("conflict.driver", None));
    assert_eq!(ids, want);
    assert_eq!(
        finding(&v, "iommu.no-interrupt-remapping", None)["message"],
        "supported by dmar0: ecap bit 3 set"
    );
    assert_eq!(
        finding(&v, "device.group-shared", Some("0000:01:00.0"))["message"],
        "IOMMU group 1 holds only this device's functions and bridges (0000:00:01.0, 0000:01:00.1)"
    );
    // Every finding has the documented keys, fix null on a pass.
    for f in findings(&v) {
        for k in ["id", "severity", "device", "message", "fix"] {
            assert!(f.get(k).is_some(), "{k} missing in {f}");
        }
        assert!(f["fix"].is_null());
    }
}

#[test]
fn healthy_host_text_report_and_kernel_log() {
    let t = tempfile::tempdir().unwrap();
    healthy().write(t.path()).unwrap();
    let log = t.path().join("dmesg.txt");
    std::fs::write(
        &log,
        "[    0.000000] Linux version 6.1.0-18-amd64\n[    0.020000] DMAR: IOMMU enabled\n[    0.300000] DMAR-IR: Enabled IRQ remapping in x2apic mode\n",
    )
    .unwrap();
    let o = passthru(t.path(), &["--kernel-log", log.to_str().unwrap(), "doctor"]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    let line = |start: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line '{start}' in\n{text}"))
            .to_string()
    };
    let l = line("Checking for hardware virtualization");
    assert!(l.ends_with(": PASS (CPU flag 'vmx' present)"), "{l}");
    let l = line("Checking for interrupt remapping");
    assert!(
        l.ends_with(": PASS (kernel log: \"DMAR-IR: Enabled IRQ remapping in x2apic mode\")"),
        "{l}"
    );
    let l = line("Checking 0000:02:10.4 IOMMU group isolation");
    assert!(l.ends_with(": PASS (alone in IOMMU group 21)"), "{l}");
    for h in [
        "Host",
        "Devices (bound to vfio-pci or with driver_override set)",
        "Related devices",
        "Configuration",
    ] {
        assert!(text.lines().any(|l| l == h), "no heading {h} in\n{text}");
    }
    assert!(
        text.ends_with("Summary: 37 passed, 0 info, 0 warnings, 0 failures\n"),
        "{text}"
    );
    // Same report, quiet: nothing but the summary.
    let o = passthru(t.path(), &["doctor", "-q"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(!text.contains("Checking"), "{text}");
}

#[test]
fn iommu_off_on_the_command_line() {
    let mut h = healthy();
    h.cmdline = Some(
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet intel_iommu=off iommu=pt"
            .into(),
    );
    file(
        &mut h,
        "etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=off iommu=pt\"\n",
    );
    for d in &mut h.devices {
        d.iommu_group = None;
        if let Some(s) = &mut d.sriov {
            s.num_vfs = 0;
        }
    }
    h.device_mut(bdf("0000:01:00.0")).unwrap().driver = Some("nouveau".into());
    h.device_mut(bdf("0000:01:00.1")).unwrap().driver = Some("snd_hda_intel".into());
    // vfio is loaded, so its container exists even without an IOMMU.
    file(&mut h, "dev/vfio/vfio", "");
    let (code, v) = doctor(&h, &["01:00.0"]);
    assert_eq!(
        problems(&v),
        vec![
            p("iommu.kernel-disabled", "fail", None),
            p("iommu.no-interrupt-remapping", "info", None),
            p("device.group-shared", "fail", Some("0000:01:00.0")),
            p("device.host-driver", "warn", Some("0000:01:00.0")),
        ],
        "{v:#}"
    );
    assert_eq!(code, 2);
    let k = finding(&v, "iommu.kernel-disabled", None);
    assert_eq!(
        k["message"],
        "no IOMMU groups: the kernel command line turns the IOMMU off (intel_iommu=off)"
    );
    assert_eq!(
        k["fix"],
        "sed -i 's/\\<intel_iommu=off\\>//g' /etc/default/grub\nsed -i 's/^GRUB_CMDLINE_LINUX=\"/&intel_iommu=on /' /etc/default/grub\nupdate-grub\nreboot"
    );
    assert_eq!(
        finding(&v, "device.group-shared", Some("0000:01:00.0"))["message"],
        "in no IOMMU group: the kernel has no IOMMU enabled"
    );
    assert_eq!(
        finding(&v, "device.host-driver", Some("0000:01:00.0"))["message"],
        "bound to host driver nouveau, not vfio-pci"
    );
    // The firmware table is there: the firmware check passes.
    assert_eq!(
        finding(&v, "iommu.no-firmware-table", None)["severity"],
        "pass"
    );
}

#[test]
fn gpu_sharing_its_group_with_a_storage_controller() {
    let mut h = healthy();
    h.devices.push(
        DeviceSpec::new(bdf("0000:05:00.0"), 0x1000, 0x0097, 0x010700)
            .parent(bdf("0000:00:01.0"))
            .driver("mpt3sas")
            .group(1)
            .numa(0)
            .reset_method("flr"),
    );
    let (code, v) = doctor(&h, &["01:00.0"]);
    assert_eq!(
        problems(&v),
        vec![p("device.group-shared", "fail", Some("0000:01:00.0"))],
        "{v:#}"
    );
    assert_eq!(code, 2);
    let f = finding(&v, "device.group-shared", Some("0000:01:00.0"));
    assert_eq!(
        f["message"],
        "shares IOMMU group 1 with 0000:05:00.0 (Serial Attached SCSI controller: SAS3008 PCI-Express Fusion-MPT SAS-3 [1000:0097], mpt3sas), held by the host: vfio opens a group only when no host driver holds any of it"
    );
    let fix = f["fix"].as_str().unwrap();
    assert!(fix.contains("passthru bind 0000:05:00.0 --vfio"), "{fix}");
    assert!(fix.contains("Do not use pcie_acs_override"), "{fix}");

    // why: the chain stops at the group, with its fix.
    let t = tempfile::tempdir().unwrap();
    h.write(t.path()).unwrap();
    let o = passthru(t.path(), &["why", "01:00.0"]);
    assert_eq!(o.status.code(), Some(2));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("3. IOMMU group"), "{text}");
    assert!(text.contains("BROKEN"), "{text}");
    assert!(
        !text.contains("4. driver"),
        "stops at the broken link:\n{text}"
    );
    assert!(
        text.contains("0000:01:00.0 cannot go to a guest: the chain breaks at 'group'. (--all shows the rest of the chain)"),
        "{text}"
    );
    assert!(text.contains("fix: Move 0000:01:00.0 to a slot"), "{text}");
    let o = passthru(t.path(), &["why", "01:00.0", "--all", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let w: Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &w["chains"][0];
    assert_eq!(c["device"], "0000:01:00.0");
    assert_eq!(c["broken"], "group");
    let links: Vec<&str> = c["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["link"].as_str().unwrap())
        .collect();
    assert_eq!(
        links,
        [
            "firmware",
            "kernel",
            "group",
            "driver",
            "sriov",
            "configuration",
            "owners",
            "guest"
        ]
    );
}

#[test]
fn pf_with_vfs_and_no_carrier() {
    let mut h = healthy();
    let pf = h.device_mut(bdf("0000:02:00.0")).unwrap();
    pf.netdevs = vec![NetdevSpec::no_carrier("eno1", "a0:36:9f:00:00:01")];
    let (code, v) = doctor(&h, &[]);
    assert_eq!(
        problems(&v),
        vec![p("sriov.pf-no-carrier", "warn", Some("0000:02:00.0"))],
        "{v:#}"
    );
    assert_eq!(code, 1);
    let f = finding(&v, "sriov.pf-no-carrier", Some("0000:02:00.0"));
    assert_eq!(
        f["message"],
        "eno1 has no carrier (operstate down) with 2 VFs enabled"
    );
    assert!(f["fix"].as_str().unwrap().contains("ethtool eno1"));
    // Named VF: its PF is checked too.
    let (code, v) = doctor(&h, &["02:10.0"]);
    assert_eq!(code, 1);
    assert_eq!(
        problems(&v),
        vec![p("sriov.pf-no-carrier", "warn", Some("0000:02:00.0"))]
    );
}

#[test]
fn vf_with_driver_override_still_on_its_host_driver() {
    let mut h = healthy();
    let pf = h.device_mut(bdf("0000:02:00.0")).unwrap();
    let s = pf.sriov.as_mut().unwrap();
    s.vfs[1] = VfSpec {
        driver: Some("igbvf".into()),
        driver_override: Some("vfio-pci".into()),
        iommu_group: Some(21),
        netdevs: vec![NetdevSpec::up("eno1v1", "02:00:00:00:01:01", 1000)],
    };
    let (code, v) = doctor(&h, &[]);
    assert_eq!(
        problems(&v),
        vec![p("device.host-driver", "fail", Some("0000:02:10.4"))],
        "{v:#}"
    );
    assert_eq!(code, 2);
    let f = finding(&v, "device.host-driver", Some("0000:02:10.4"));
    assert_eq!(
        f["message"],
        "driver_override says vfio-pci but igbvf holds it"
    );
    assert_eq!(
        f["fix"],
        "modprobe vfio-pci\necho 0000:02:10.4 > /sys/bus/pci/devices/0000:02:10.4/driver/unbind\necho 0000:02:10.4 > /sys/bus/pci/drivers_probe"
    );
    // Its netdev carries no default route.
    assert_eq!(
        finding(&v, "device.default-route", Some("0000:02:10.4"))["severity"],
        "pass"
    );
}

#[test]
fn interrupt_remapping_unsupported() {
    let mut h = healthy();
    file(
        &mut h,
        "sys/devices/virtual/iommu/dmar0/intel-iommu/ecap",
        "f050d2\n",
    );
    let (code, v) = doctor(&h, &[]);
    assert_eq!(
        problems(&v),
        vec![p("iommu.no-interrupt-remapping", "fail", None)],
        "{v:#}"
    );
    assert_eq!(code, 2);
    let f = finding(&v, "iommu.no-interrupt-remapping", None);
    assert_eq!(
        f["message"],
        "IOMMU unit(s) without interrupt remapping support (ecap bit 3 clear): dmar0 (ecap f050d2)"
    );
    assert!(f["fix"]
        .as_str()
        .unwrap()
        .starts_with("Enable interrupt remapping"));

    // The same verdict from the kernel log, when vfio refused a device.
    let t = tempfile::tempdir().unwrap();
    healthy().write(t.path()).unwrap();
    let log = t.path().join("dmesg.txt");
    std::fs::write(&log, "[   12.5] vfio_iommu_type1_attach_group: No interrupt remapping support.  Use the module param \"allow_unsafe_interrupts\" to enable VFIO IOMMU support on this platform\n").unwrap();
    let o = passthru(
        t.path(),
        &["--kernel-log", log.to_str().unwrap(), "doctor", "--json"],
    );
    assert_eq!(o.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        problems(&v),
        vec![p("iommu.no-interrupt-remapping", "fail", None)]
    );
    assert!(finding(&v, "iommu.no-interrupt-remapping", None)["message"]
        .as_str()
        .unwrap()
        .starts_with("the kernel log shows vfio refusing a device: \"vfio_iommu_type1_attach_group: No interrupt remapping support."));

    // And from the command line.
    let mut h = healthy();
    h.cmdline = Some(format!("{} intremap=off", h.cmdline.clone().unwrap()));
    let (code, v) = doctor(&h, &[]);
    assert_eq!(code, 2);
    let f = finding(&v, "iommu.no-interrupt-remapping", None);
    assert_eq!(
        f["message"],
        "interrupt remapping is turned off on the kernel command line (intremap=off)"
    );
}

#[test]
fn unsafe_interrupts_enabled() {
    let mut h = healthy();
    file(
        &mut h,
        "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
        "Y\n",
    );
    file(
        &mut h,
        "etc/modprobe.d/vfio.conf",
        "options vfio_iommu_type1 allow_unsafe_interrupts=1\n",
    );
    let (code, v) = doctor(&h, &[]);
    assert_eq!(
        problems(&v),
        vec![p("vfio.unsafe-interrupts", "warn", None)],
        "{v:#}"
    );
    assert_eq!(code, 1);
    let f = finding(&v, "vfio.unsafe-interrupts", None);
    assert_eq!(
        f["message"],
        "vfio_iommu_type1 allow_unsafe_interrupts=Y now; set to 1 in /etc/modprobe.d/vfio.conf:1"
    );
    assert_eq!(
        f["fix"],
        "sed -i '1s/allow_unsafe_interrupts=[^ ]*//' /etc/modprobe.d/vfio.conf\necho 0 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"
    );
}

#[test]
fn nova_device_spec_selects_devices_and_stale_config_is_reported() {
    let mut h = healthy();
    file(
        &mut h,
        "etc/nova/nova.conf",
        "[DEFAULT]\ndebug = False\n\n[pci]\ndevice_spec = {\"vendor_id\": \"8086\", \"product_id\": \"1520\", \"physical_network\": \"physnet1\"}\ndevice_spec = {\"vendor_id\": \"8086\", \"product_id\": \"10ed\"}\n",
    );
    file(
        &mut h,
        "etc/modprobe.d/vfio.conf",
        "options vfio-pci ids=10de:1b80,10de:1b81\nsoftdep nouveau pre: vfio-pci\nblacklist nouveau\nblacklist radeon\n",
    );
    file(
        &mut h,
        "etc/libvirt/qemu.conf",
        "cgroup_device_acl = [\n    \"/dev/null\", \"/dev/full\", \"/dev/zero\",\n    \"/dev/random\", \"/dev/urandom\",\n    \"/dev/ptmx\", \"/dev/kvm\",\n    \"/dev/vfio/vfio\", \"/dev/vfio/20\"\n]\n",
    );
    let (code, v) = doctor(&h, &[]);
    assert_eq!(v["selection"], "nova_device_spec");
    assert_eq!(
        v["devices"],
        serde_json::json!(["0000:02:10.0", "0000:02:10.4"])
    );
    assert_eq!(
        problems(&v),
        vec![
            p("config.vfio-ids-absent", "warn", None),
            p("config.blacklist-absent", "warn", None),
            p("config.nova-spec-unmatched", "warn", None),
            p("config.qemu-acl-missing-group", "warn", None),
            // modprobe.d's vfio-pci ids= is who binds the GPU at boot.
            p("conflict.driver", "info", Some("0000:01:00.0")),
        ],
        "{v:#}"
    );
    assert_eq!(code, 1);
    assert_eq!(
        finding(&v, "config.vfio-ids-absent", None)["message"],
        "/etc/modprobe.d/vfio.conf:1: ids 10de:1b81 match no device on this host"
    );
    let bl: Vec<&Value> = findings(&v)
        .iter()
        .filter(|f| f["id"] == "config.blacklist-absent")
        .collect();
    assert_eq!(
        bl.len(),
        1,
        "nouveau serves the GTX 1080; only radeon is stale"
    );
    assert_eq!(
        bl[0]["message"],
        "blacklist radeon (/etc/modprobe.d/vfio.conf:4) names a driver no device on this host uses"
    );
    assert_eq!(
        bl[0]["fix"],
        "sed -i '4d' /etc/modprobe.d/vfio.conf\nupdate-initramfs -u -k all"
    );
    let nova: Vec<&Value> = findings(&v)
        .iter()
        .filter(|f| f["id"] == "config.nova-spec-unmatched")
        .collect();
    assert_eq!(
        nova[0]["message"],
        "/etc/nova/nova.conf:5 matches 2 device(s)"
    );
    assert_eq!(
        nova[1]["message"],
        "/etc/nova/nova.conf:6: {\"vendor_id\": \"8086\", \"product_id\": \"10ed\"} matches no device on this host"
    );
    let acl = finding(&v, "config.qemu-acl-missing-group", None);
    assert_eq!(
        acl["message"],
        "customised at /etc/libvirt/qemu.conf:1 without /dev/vfio/21"
    );
    assert!(acl["fix"]
        .as_str()
        .unwrap()
        .contains("    \"/dev/vfio/21\"\n]"));
    // Every VF nova matches is also listed as such.
    assert_eq!(
        finding(&v, "device.not-in-nova", Some("0000:02:10.0"))["message"],
        "matched by /etc/nova/nova.conf:5"
    );
}

#[test]
fn vfs_asked_for_but_not_created() {
    let mut h = healthy();
    h.device_mut(bdf("0000:02:00.0"))
        .unwrap()
        .sriov
        .as_mut()
        .unwrap()
        .num_vfs = 0;
    // The GPU stays with the host: nothing but nova's VFs is meant for guests.
    h.device_mut(bdf("0000:01:00.0")).unwrap().driver = Some("nouveau".into());
    h.device_mut(bdf("0000:01:00.1")).unwrap().driver = Some("snd_hda_intel".into());
    file(&mut h, "dev/vfio/vfio", "");
    file(
        &mut h,
        "etc/nova/nova.conf",
        "[pci]\ndevice_spec = {\"vendor_id\": \"8086\", \"product_id\": \"1520\"}\n",
    );
    let (code, v) = doctor(&h, &[]);
    assert_eq!(
        problems(&v),
        vec![
            p("sriov.vfs-missing", "fail", Some("0000:02:00.0")),
            p("config.nova-spec-unmatched", "warn", None),
        ],
        "{v:#}"
    );
    assert_eq!(code, 2);
    let f = finding(&v, "sriov.vfs-missing", Some("0000:02:00.0"));
    assert_eq!(
        f["message"],
        "VFs [8086:1520] are asked for by nova device_spec (/etc/nova/nova.conf:2) but sriov_numvfs is 0 (of 8 possible)"
    );
    assert!(f["fix"]
        .as_str()
        .unwrap()
        .starts_with("echo 8 > /sys/bus/pci/devices/0000:02:00.0/sriov_numvfs"));
    assert!(finding(&v, "config.nova-spec-unmatched", None)["message"]
        .as_str()
        .unwrap()
        .ends_with(
            "matches no device: it names the VFs of 0000:02:00.0, which has sriov_numvfs 0"
        ));
}

#[test]
fn why_on_a_healthy_vf_walks_the_whole_chain() {
    let t = tempfile::tempdir().unwrap();
    healthy().write(t.path()).unwrap();
    let o = passthru(t.path(), &["why", "02:10.4"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.starts_with("Why 0000:02:10.4 (Ethernet controller: I350 Ethernet Controller Virtual Function [8086:1520], vfio-pci)\n"), "{text}");
    for (i, l) in [
        "1. firmware",
        "2. kernel",
        "3. IOMMU group",
        "4. driver",
        "5. SR-IOV",
        "6. configuration",
        "7. other owners",
        "8. use by a guest",
    ]
    .iter()
    .enumerate()
    {
        assert!(text.contains(l), "link {} missing:\n{text}", i + 1);
    }
    assert!(
        text.contains("Checking 0000:02:00.0 PF link"),
        "the VF's PF is in the SR-IOV link:\n{text}"
    );
    assert!(
        text.ends_with("0000:02:10.4 can go to a guest: no link is broken.\n"),
        "{text}"
    );
    // An unknown device is one clear error, exit 3.
    let o = passthru(t.path(), &["why", "09:00.0"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no device '09:00.0'"));
}

#[test]
fn old_snapshots_without_system_facts_still_load() {
    let t = tempfile::tempdir().unwrap();
    let snap = t.path().join("old.json");
    // A snapshot written before the system facts existed: devices and groups only.
    std::fs::write(
        &snap,
        r#"{"format_version": 1, "devices": [{"address": "0000:01:00.0", "vendor_id": "10de", "device_id": "1b80", "class": "030000", "driver": "vfio-pci", "iommu_group": 1, "numa_node": 0}]}"#,
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .args(["--snapshot", snap.to_str().unwrap(), "doctor", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    let sev = |id: &str| {
        finding(&v, id, None)["severity"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(sev("cpu.no-virtualization"), "info");
    assert_eq!(sev("vfio.modules-missing"), "info");
    // What the snapshot does say is used: its group, its driver.
    assert_eq!(sev("iommu.kernel-disabled"), "pass");
    assert_eq!(
        finding(&v, "device.host-driver", Some("0000:01:00.0"))["severity"],
        "pass"
    );
}

#[test]
fn a_device_given_to_two_domains() {
    let mut h = healthy();
    let dom = |name: &str| {
        format!("<domain type='kvm'>\n  <name>{name}</name>\n  <devices>\n    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>\n    </hostdev>\n  </devices>\n</domain>\n")
    };
    file(&mut h, "etc/libvirt/qemu/gpu-a.xml", &dom("gpu-a"));
    file(&mut h, "etc/libvirt/qemu/gpu-b.xml", &dom("gpu-b"));
    file(
        &mut h,
        "run/libvirt/qemu/gpu-a.xml",
        &format!(
            "<domstatus state='running' reason='booted' pid='4242'>\n{}</domstatus>\n",
            dom("gpu-a")
        ),
    );
    let (code, v) = doctor(&h, &["01:00.0", "01:00.1"]);
    assert_eq!(
        problems(&v),
        vec![p("device.assigned-twice", "warn", Some("0000:01:00.0"))],
        "{v:#}"
    );
    assert_eq!(code, 1);
    assert_eq!(
        finding(&v, "device.assigned-twice", Some("0000:01:00.0"))["message"],
        "given to 2 domains: gpu-a (running), gpu-b (shut off)"
    );
    assert_eq!(
        finding(&v, "device.assigned-twice", Some("0000:01:00.1"))["message"],
        "no libvirt domain on this host is given it"
    );
    // why ends with the guest link.
    let t = tempfile::tempdir().unwrap();
    h.write(t.path()).unwrap();
    let o = passthru(t.path(), &["why", "01:00.0"]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("8. use by a guest"), "{text}");
    assert!(
        text.contains("Checking 0000:01:00.0 use by a guest"),
        "{text}"
    );
    assert!(
        text.ends_with(
            "0000:01:00.0 can go to a guest: no link is broken (weak links above have warnings).\n"
        ),
        "{text}"
    );
}

/// An executable stand-in for a boot tool (the executor runs what the root holds).
fn exe(h: &mut HostSpec, path: &str) {
    h.files.retain(|f| f.path != path);
    h.files.push(ExtraFile {
        path: path.into(),
        contents: "#!/bin/sh\nexit 0\n".into(),
        link: None,
        mode: Some(0o755),
    });
}

fn write_cmdline(root: &Path, cmdline: &str) {
    std::fs::write(root.join("proc/cmdline"), format!("{cmdline}\n")).unwrap();
}

#[test]
fn reboot_pending_after_kernel_args() {
    let mut h = healthy();
    let booted = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet intel_iommu=on";
    h.cmdline = Some(booted.into());
    file(
        &mut h,
        "etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=on\"\n",
    );
    exe(&mut h, "usr/sbin/update-grub");
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    h.write(&root).unwrap();
    let run = |args: &[&str]| -> (i32, Value) {
        let mut a = vec!["doctor", "--json"];
        a.extend_from_slice(args);
        let o = passthru(&root, &a);
        (
            o.status.code().unwrap_or(-1),
            serde_json::from_slice(&o.stdout).unwrap(),
        )
    };
    // Nothing asked yet: the configuration and the running kernel agree.
    let (_, v) = run(&[]);
    let f = finding(&v, "boot.reboot-pending", None);
    assert_eq!(f["severity"], "pass", "{f}");
    assert_eq!(
        f["message"],
        "the running kernel has the IOMMU and vfio arguments of /etc/default/grub"
    );

    let o = passthru(&root, &["kernel-args", "--pt", "--yes"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let id = std::fs::read_dir(root.join("var/lib/passthru/journal"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .into_string()
        .unwrap();
    let (code, v) = run(&[]);
    assert_eq!(
        problems(&v),
        vec![
            p("iommu.no-passthrough-mode", "info", None),
            p("boot.reboot-pending", "warn", None),
        ],
        "{v:#}"
    );
    assert_eq!(code, 1);
    let f = finding(&v, "boot.reboot-pending", None);
    assert_eq!(
        f["message"],
        format!("reboot pending: iommu=pt (asked by `passthru kernel-args --pt` (change set {id})) is in /etc/default/grub, not on the running kernel's command line (booted before the change)")
    );
    assert_eq!(f["fix"], "reboot");
    // The passthrough-mode advice no longer edits the file, it only applies it.
    assert_eq!(
        finding(&v, "iommu.no-passthrough-mode", None)["fix"],
        "update-grub\nreboot"
    );

    // After the reboot.
    write_cmdline(&root, &format!("{booted} iommu=pt"));
    let (code, v) = run(&[]);
    assert_eq!(problems(&v), vec![], "{v:#}");
    assert_eq!(code, 0);
    assert_eq!(
        finding(&v, "boot.reboot-pending", None)["message"],
        "the running kernel has what passthru was asked for: iommu=pt; none of iommu=nopt iommu=off"
    );

    // Someone takes iommu=pt out of GRUB again, and the host reboots.
    std::fs::write(
        root.join("etc/default/grub"),
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=on\"\n",
    )
    .unwrap();
    write_cmdline(&root, booted);
    let (code, v) = run(&[]);
    assert_eq!(code, 1);
    let f = finding(&v, "boot.reboot-pending", None);
    assert_eq!(
        f["message"],
        format!("iommu=pt (asked by `passthru kernel-args --pt` (change set {id})) is neither on the running kernel's command line nor in /etc/default/grub: the boot configuration was changed since")
    );
    assert_eq!(
        f["fix"],
        "sed -i 's/^GRUB_CMDLINE_LINUX=\"/&iommu=pt /' /etc/default/grub\nupdate-grub\nreboot\n# or let passthru make the same change: passthru kernel-args --add iommu=pt --yes"
    );

    // why shows it in the kernel link.
    let o = passthru(&root, &["why", "02:10.0", "--all"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("Checking for a pending reboot (kernel arguments) : WARN"),
        "{text}"
    );
}

#[test]
fn reboot_pending_from_the_host_file_and_from_the_boot_configuration() {
    // `[kernel]` of etc/passthru/host.toml: the Intel IOMMU argument and iommu=pt.
    let mut h = healthy();
    h.cmdline = Some("BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet".into());
    file(
        &mut h,
        "etc/passthru/host.toml",
        "[kernel]\niommu = true\npt = true\n",
    );
    let (code, v) = doctor(&h, &[]);
    assert_eq!(code, 1);
    let f = finding(&v, "boot.reboot-pending", None);
    assert_eq!(
        f["message"],
        "reboot pending: intel_iommu=on iommu=pt (asked by [kernel] in /etc/passthru/host.toml) is in /etc/default/grub, not on the running kernel's command line (booted before the change)"
    );
    assert_eq!(f["fix"], "reboot");

    // Nothing asked through passthru: GRUB against the running kernel, both ways.
    let mut h = healthy();
    h.cmdline = Some(
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet intel_iommu=on iommu=pt pcie_acs_override=downstream"
            .into(),
    );
    file(
        &mut h,
        "etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet splash\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt vfio-pci.ids=10de:1b80\"\n",
    );
    let (code, v) = doctor(&h, &[]);
    assert_eq!(code, 1);
    let f = finding(&v, "boot.reboot-pending", None);
    assert_eq!(
        f["message"],
        "reboot pending: /etc/default/grub gives the next boot vfio-pci.ids=10de:1b80, which the running kernel does not have; the next boot loses pcie_acs_override=downstream: the running kernel has it, /etc/default/grub does not"
    );
    assert_eq!(
        f["fix"],
        "# to keep pcie_acs_override=downstream (the running kernel has it), put it back:\nsed -i 's/^GRUB_CMDLINE_LINUX=\"/&pcie_acs_override=downstream /' /etc/default/grub\nupdate-grub\n# if no longer wanted, nothing to do: the next boot goes without it\nupdate-grub\nreboot"
    );
}

/// One way of owning the kernel command line: files and tools on top of `healthy()`.
struct BootSetup {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    links: &'static [(&'static str, &'static str)],
    tools: &'static [&'static str],
    /// The command that regenerates the boot configuration.
    regen: &'static str,
}

const RHEL9_ESP_STUB: &str = "search --no-floppy --fs-uuid --set=dev 1234-ABCD\nset prefix=($dev)/grub2\nexport $prefix\nconfigfile $prefix/grub.cfg\n";
const GRUB_CFG: &str = "### BEGIN /etc/grub.d/10_linux ###\nmenuentry 'Linux' {\n  linux /vmlinuz root=/dev/sda1 ro quiet\n}\n";
const RHEL_GRUB: &str = "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet\"\n";

const BOOT_SETUPS: &[BootSetup] = &[
    BootSetup {
        name: "Debian GRUB",
        files: &[("etc/default/grub", "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n"), ("boot/grub/grub.cfg", GRUB_CFG)],
        links: &[],
        tools: &["usr/sbin/update-grub"],
        regen: "update-grub",
    },
    BootSetup {
        name: "RHEL 7, BIOS (seed 000)",
        files: &[("etc/default/grub", RHEL_GRUB), ("boot/grub2/grub.cfg", GRUB_CFG)],
        links: &[("etc/sysconfig/grub", "../default/grub")],
        tools: &["usr/sbin/grub2-mkconfig"],
        regen: "grub2-mkconfig -o /boot/grub2/grub.cfg",
    },
    BootSetup {
        name: "RHEL 7, UEFI (seed 000)",
        files: &[("etc/default/grub", RHEL_GRUB), ("boot/efi/EFI/redhat/grub.cfg", GRUB_CFG), ("sys/firmware/efi/fw_platform_size", "64\n")],
        links: &[("etc/sysconfig/grub", "../default/grub")],
        tools: &["usr/sbin/grub2-mkconfig"],
        regen: "grub2-mkconfig -o /boot/efi/EFI/redhat/grub.cfg",
    },
    BootSetup {
        name: "UEFI with the ESP stub chaining to boot/grub2",
        files: &[("etc/default/grub", RHEL_GRUB), ("boot/grub2/grub.cfg", GRUB_CFG), ("boot/efi/EFI/redhat/grub.cfg", RHEL9_ESP_STUB), ("sys/firmware/efi/fw_platform_size", "64\n")],
        links: &[],
        tools: &["usr/sbin/grub2-mkconfig"],
        regen: "grub2-mkconfig -o /boot/grub2/grub.cfg",
    },
    BootSetup {
        name: "grub-mkconfig without update-grub",
        files: &[("etc/default/grub", "GRUB_CMDLINE_LINUX_DEFAULT=\"loglevel=3 quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n"), ("boot/grub/grub.cfg", GRUB_CFG)],
        links: &[],
        tools: &["usr/bin/grub-mkconfig"],
        regen: "grub-mkconfig -o /boot/grub/grub.cfg",
    },
    BootSetup {
        name: "grubby (RHEL 9, BLS entries)",
        files: &[("etc/default/grub", RHEL_GRUB), ("boot/grub2/grub.cfg", GRUB_CFG), ("boot/loader/entries/abc-6.1.0-18-amd64.conf", "title Linux\nversion 6.1.0-18-amd64\nlinux /vmlinuz-6.1.0-18-amd64\noptions root=/dev/mapper/rhel-root ro crashkernel=auto rhgb quiet\n")],
        links: &[],
        tools: &["usr/sbin/grubby", "usr/sbin/grub2-mkconfig"],
        regen: "grubby --update-kernel=ALL --args=iommu=pt",
    },
    BootSetup {
        name: "systemd-boot (kernel-install)",
        files: &[("etc/kernel/cmdline", "root=UUID=1234 ro quiet\n")],
        links: &[],
        tools: &["usr/bin/kernel-install", "usr/bin/bootctl"],
        regen: "kernel-install add 6.1.0-18-amd64 /lib/modules/6.1.0-18-amd64/vmlinuz",
    },
    BootSetup {
        name: "Proxmox (proxmox-boot-tool)",
        files: &[("etc/kernel/cmdline", "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n"), ("etc/default/grub", "GRUB_CMDLINE_LINUX=\"\"\n"), ("boot/grub/grub.cfg", GRUB_CFG)],
        links: &[],
        tools: &["usr/sbin/proxmox-boot-tool", "usr/sbin/update-grub"],
        regen: "proxmox-boot-tool refresh",
    },
];

/// The words of a command-line file: `GRUB_CMDLINE_LINUX*` values, or the file itself.
fn cmdline_words(text: &str) -> Vec<String> {
    let mut w: Vec<String> = if text.contains("GRUB_") {
        text.lines()
            .filter(|l| l.starts_with("GRUB_CMDLINE_LINUX"))
            .flat_map(|l| {
                l.split_once('=')
                    .unwrap()
                    .1
                    .trim_matches('"')
                    .split_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect()
    } else {
        text.split_whitespace().map(String::from).collect()
    };
    w.sort();
    w
}

#[test]
fn doctor_fixes_do_what_kernel_args_does_for_each_bootloader() {
    for s in BOOT_SETUPS {
        let mut h = healthy();
        h.cmdline = Some(
            "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet intel_iommu=on".into(),
        );
        h.files.retain(|f| {
            f.path != "etc/default/grub"
                && f.path != "usr/sbin/update-grub"
                && f.path != "usr/sbin/update-initramfs"
        });
        for (p, c) in s.files {
            file(&mut h, p, c);
        }
        for (p, l) in s.links {
            h.files.push(ExtraFile {
                path: p.to_string(),
                contents: String::new(),
                link: Some(l.to_string()),
                mode: None,
            });
        }
        for t in s.tools {
            exe(&mut h, t);
        }
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        h.write(&root).unwrap();

        // What `passthru kernel-args --pt` would run and write.
        let o = passthru(&root, &["kernel-args", "--pt", "--json"]);
        let plan: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}: {}", s.name, String::from_utf8_lossy(&o.stderr)));
        let steps = plan["plan"]["steps"].as_array().unwrap();
        let runs: Vec<String> = steps
            .iter()
            .filter(|st| st["action"]["kind"] == "run")
            .map(|st| {
                let a = &st["action"];
                let mut w = vec![a["program"].as_str().unwrap().to_string()];
                w.extend(
                    a["args"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_str().unwrap().to_string()),
                );
                w.join(" ")
            })
            .collect();
        assert_eq!(
            runs,
            vec![s.regen.to_string()],
            "{}: kernel-args runs",
            s.name
        );
        let written: Vec<(String, Vec<String>)> = steps
            .iter()
            .filter(|st| st["action"]["kind"] == "write_file")
            .map(|st| {
                (
                    st["action"]["path"].as_str().unwrap().to_string(),
                    cmdline_words(st["action"]["contents"]["text"].as_str().unwrap()),
                )
            })
            .collect();

        // What doctor tells the operator to paste for the same thing.
        let (_, v) = run_doctor(&root);
        let fix = finding(&v, "iommu.no-passthrough-mode", None)["fix"]
            .as_str()
            .unwrap()
            .to_string();
        let lines: Vec<&str> = fix.lines().collect();
        assert_eq!(lines.last(), Some(&"reboot"), "{}: {fix}", s.name);
        let regen_line = lines[lines.len() - 2].replace('"', "");
        assert_eq!(regen_line, s.regen, "{}: doctor's fix\n{fix}", s.name);
        // Doctor's edits, run on the root, give the file kernel-args would write.
        for l in lines.iter().filter(|l| l.starts_with("sed -i")) {
            let l = l.replace(" /etc/", &format!(" {}/etc/", root.display()));
            let st = Command::new("sh").arg("-c").arg(&l).status().unwrap();
            assert!(st.success(), "{}: {l}", s.name);
        }
        for (path, words) in &written {
            let now = std::fs::read_to_string(root.join(path)).unwrap();
            assert_eq!(
                &cmdline_words(&now),
                words,
                "{}: {path} after doctor's fix\n{fix}",
                s.name
            );
        }
    }
}

fn run_doctor(root: &Path) -> (i32, Value) {
    let o = passthru(root, &["doctor", "--json"]);
    (
        o.status.code().unwrap_or(-1),
        serde_json::from_slice(&o.stdout).unwrap(),
    )
}

#[test]
fn default_route_through_a_bridge_over_a_bond() {
    // br0 (default route) <- bond0 (bridge port) <- eno1 (bond slave, the I350 PF).
    let mut h = healthy();
    file(
        &mut h,
        "proc/net/route",
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\nbr0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\nbr0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n",
    );
    for (path, target) in [
        ("sys/class/net/br0/brif/bond0", "../../bond0/brport"),
        ("sys/class/net/br0/lower_bond0", "../bond0"),
        ("sys/class/net/bond0/lower_eno1", "../eno1"),
    ] {
        h.files.push(ExtraFile {
            path: path.into(),
            contents: String::new(),
            link: Some(target.into()),
            mode: None,
        });
    }
    file(&mut h, "sys/class/net/bond0/brport/state", "3\n");
    let (code, v) = doctor(&h, &["eno1"]);
    assert_eq!(code, 2);
    let f = finding(&v, "device.default-route", Some("0000:02:00.0"));
    assert_eq!(f["severity"], "fail");
    assert_eq!(
        f["message"],
        "eno1 (through br0) carries the host's default route"
    );
    assert!(f["fix"]
        .as_str()
        .unwrap()
        .ends_with("(a VF of eno1 instead of the PF)"));
    // The VFs have no interface on the host: nothing to say about them.
    let (_, v) = doctor(&h, &["02:10.0"]);
    assert!(!findings(&v)
        .iter()
        .any(|f| f["id"] == "device.default-route"));
}

#[test]
fn advice_that_waits_for_the_iommu_and_binding_a_pf_with_vfs() {
    // No IOMMU (an Intel host booted without intel_iommu=on): iommu=pt and interrupt
    // remapping wait for the kernel-disabled fix, which sets both arguments.
    let mut h = healthy();
    h.cmdline = Some("BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet".into());
    file(
        &mut h,
        "etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n",
    );
    for d in &mut h.devices {
        d.iommu_group = None;
        if let Some(s) = &mut d.sriov {
            s.num_vfs = 0;
        }
    }
    file(&mut h, "dev/vfio/vfio", "");
    let (code, v) = doctor(&h, &["01:00.0"]);
    assert_eq!(code, 2);
    assert_eq!(
        finding(&v, "iommu.kernel-disabled", None)["fix"],
        "sed -i 's/^GRUB_CMDLINE_LINUX=\"/&intel_iommu=on iommu=pt /' /etc/default/grub\nupdate-grub\nreboot"
    );
    let pt = finding(&v, "iommu.no-passthrough-mode", None);
    assert_eq!(pt["severity"], "info");
    assert_eq!(
        pt["message"],
        "iommu=pt is not set, which matters only once the kernel has an IOMMU enabled"
    );
    assert!(pt["fix"]
        .as_str()
        .unwrap()
        .starts_with("Turn the IOMMU on first"));
    let ir = finding(&v, "iommu.no-interrupt-remapping", None);
    assert_eq!(ir["severity"], "info");
    assert!(ir["fix"]
        .as_str()
        .unwrap()
        .starts_with("Turn the IOMMU on first"));

    // A PF named while its VFs exist: binding it to vfio-pci would remove them.
    let (_, v) = doctor(&healthy(), &["eno1"]);
    let f = finding(&v, "device.host-driver", Some("0000:02:00.0"));
    assert_eq!(f["message"], "bound to host driver igb, not vfio-pci");
    assert!(
        f["fix"].as_str().unwrap().starts_with(
            "# 0000:02:00.0 has 2 VFs enabled: unbinding igb removes them (and takes them from any guest using one).\n# To give guests VFs instead, check those: passthru doctor 0000:02:10.0 0000:02:10.4\nmodprobe vfio-pci\n"
        ),
        "{f}"
    );
}

#[test]
fn every_problem_on_every_scenario_has_a_fix() {
    // Through all the scenarios above: no WARN or FAIL finding without a fix.
    let mut hosts = vec![healthy()];
    let mut h = healthy();
    h.cmdline = Some("ro quiet intel_iommu=off".into());
    for d in &mut h.devices {
        d.iommu_group = None;
    }
    hosts.push(h);
    let mut h = healthy();
    file(
        &mut h,
        "sys/devices/virtual/iommu/dmar0/intel-iommu/ecap",
        "f050d2\n",
    );
    file(
        &mut h,
        "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
        "Y\n",
    );
    file(
        &mut h,
        "etc/modprobe.d/vfio.conf",
        "options vfio-pci ids=10de:1b81\nblacklist radeon\n",
    );
    file(
        &mut h,
        "etc/nova/nova.conf",
        "[pci]\ndevice_spec = {\"vendor_id\": \"8086\", \"product_id\": \"10ed\"}\n",
    );
    let pf = h.device_mut(bdf("0000:02:00.0")).unwrap();
    pf.netdevs = vec![NetdevSpec::no_carrier("eno1", "a0:36:9f:00:00:01")];
    hosts.push(h);
    for h in &hosts {
        for args in [&[][..], &["01:00.0", "eno1", "8086:1520"][..]] {
            let (_, v) = doctor(h, args);
            for f in findings(&v) {
                if f["severity"] == "warn" || f["severity"] == "fail" {
                    let fix = f["fix"].as_str().unwrap_or_else(|| panic!("no fix: {f}"));
                    assert!(!fix.trim().is_empty(), "{f}");
                }
            }
        }
    }
}

#[test]
fn every_argument_that_turns_the_iommu_off_goes() {
    // Off twice over, in both GRUB variables: doctor's fix must leave none, and give
    // the file `passthru kernel-args --iommu --pt` would write.
    let mut h = healthy();
    h.cmdline = Some(
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=/dev/sda1 ro quiet iommu=off intel_iommu=off intel_iommu=off".into(),
    );
    file(
        &mut h,
        "etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet iommu=off\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=off intel_iommu=off\"\n",
    );
    for d in &mut h.devices {
        d.iommu_group = None;
        if let Some(s) = &mut d.sriov {
            s.num_vfs = 0;
        }
    }
    exe(&mut h, "usr/sbin/update-grub");
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    h.write(&root).unwrap();
    let (code, v) = run_doctor(&root);
    assert_eq!(code, 2);
    let f = finding(&v, "iommu.kernel-disabled", None);
    assert_eq!(
        f["message"],
        "no IOMMU groups: the kernel command line turns the IOMMU off (intel_iommu=off iommu=off)"
    );
    let fix = f["fix"].as_str().unwrap();
    let o = passthru(&root, &["kernel-args", "--iommu", "--pt", "--json"]);
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let want = plan["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"]["kind"] == "write_file")
        .map(|s| cmdline_words(s["action"]["contents"]["text"].as_str().unwrap()))
        .unwrap();
    for l in fix.lines().filter(|l| l.starts_with("sed -i")) {
        let l = l.replace(" /etc/", &format!(" {}/etc/", root.display()));
        assert!(Command::new("sh")
            .arg("-c")
            .arg(&l)
            .status()
            .unwrap()
            .success());
    }
    let now = cmdline_words(&std::fs::read_to_string(root.join("etc/default/grub")).unwrap());
    assert!(!now.iter().any(|w| w.ends_with("=off")), "{now:?}\n{fix}");
    assert_eq!(now, want, "{fix}");
}

#[test]
fn nothing_meant_for_passthrough_reads_host_devices_configuration() {
    let mut h = healthy();
    h.device_mut(bdf("0000:01:00.0")).unwrap().driver = Some("nouveau".into());
    h.device_mut(bdf("0000:01:00.1")).unwrap().driver = Some("snd_hda_intel".into());
    h.device_mut(bdf("0000:02:00.0"))
        .unwrap()
        .sriov
        .as_mut()
        .unwrap()
        .num_vfs = 0;
    // vfio is loaded (nothing bound): its container exists.
    file(&mut h, "dev/vfio/vfio", "");
    let t = tempfile::tempdir().unwrap();
    h.write(t.path()).unwrap();
    let o = passthru(t.path(), &["doctor"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{text}");
    let heads: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("Summary"))
        .collect();
    assert_eq!(
        heads,
        [
            "Host",
            "Devices",
            "Configuration",
            "Other owners (what else sets VF counts and drivers at boot)"
        ],
        "{text}"
    );
    assert!(
        text.contains("\nDevices\n  7 PCI functions, 5 IOMMU groups (5 isolated), 1 SR-IOV PF with 0 VFs. No device is meant for passthrough"),
        "{text}"
    );
}
