//! Seams between commands (issue 9): where one command's verdict or output is another's
//! input, the commands must agree. Each test runs the real binary on one fake tree and
//! feeds one command's output to the next.

use passthru_testsupport::{bdf, DeviceSpec, HostSpec, LinkSpec, PortType};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn passthru(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("SSH_CONNECTION")
        .output()
        .expect("run passthru")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", out(o), err(o)))
}

/// The findings of a doctor/verify JSON report with this id (and device).
fn with_id<'a>(v: &'a Value, id: &str, dev: &str) -> Vec<&'a Value> {
    let mut all = Vec::new();
    collect(v, &mut all);
    all.into_iter()
        .filter(|f| f["id"] == id && f["device"].as_str() == Some(dev))
        .collect()
}

fn collect<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("id") && m.contains_key("severity") {
                out.push(v);
            }
            m.values().for_each(|x| collect(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
        _ => {}
    }
}

/// An Intel host with the IOMMU on and vfio-pci loaded: a GPU (01:00.0) on vfio-pci and
/// its HDMI audio function (01:00.1) on `audio_driver`, both in IOMMU group 1 behind a
/// root port.
fn gpu_host(audio_driver: &str) -> HostSpec {
    let mut h = HostSpec::new()
        .numa_node(0, "0-3")
        .cmdline("BOOT_IMAGE=/boot/vmlinuz root=/dev/sda1 ro intel_iommu=on iommu=pt")
        .driver("vfio-pci", None)
        .file(
            "proc/cpuinfo",
            "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vmx ept\n",
        )
        .file("dev/kvm", "")
        .file("dev/vfio/vfio", "")
        .file("dev/vfio/1", "")
        .file(
            "proc/modules",
            "vfio_pci 16384 0 - Live 0x0\nvfio_iommu_type1 45056 0 - Live 0x0\nvfio 61440 2 vfio_pci,vfio_iommu_type1, Live 0x0\nkvm_intel 380928 0 - Live 0x0\nkvm 1142784 1 kvm_intel, Live 0x0\n",
        );
    h.devices.push(
        DeviceSpec::new(bdf("0000:00:01.0"), 0x8086, 0x1901, 0x060400)
            .pcie(PortType::RootPort, Some(LinkSpec::full(8.0, 16)))
            .driver("pcieport")
            .group(1)
            .numa(0),
    );
    for (f, dev, class, drv) in [
        (0u8, 0x1b80u16, 0x030000u32, "vfio-pci"),
        (1, 0x10f0, 0x040300, audio_driver),
    ] {
        h.devices.push(
            DeviceSpec::new(bdf(&format!("0000:01:00.{f}")), 0x10de, dev, class)
                .parent(bdf("0000:00:01.0"))
                .driver(drv)
                .group(1)
                .numa(0)
                .pcie(PortType::Endpoint, Some(LinkSpec::full(8.0, 16)))
                .reset_method("flr"),
        );
    }
    h
}

fn domain(devices: &str) -> String {
    format!(
        "<domain type='kvm'><name>gpu-guest</name><memory>131072</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>{devices}</devices></domain>\n"
    )
}

const GPU_HOSTDEV: &str = "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>";

/// Issue 9, defect 4: a GPU on vfio-pci whose audio function is still on
/// snd_hda_intel. doctor, why, verify, render libvirt and bind ask the one ownership
/// rule, so all five say the group is not viable; once the audio function is on
/// vfio-pci too, all five say it is.
#[test]
fn one_group_one_verdict_across_doctor_why_verify_render_and_bind() {
    let t = tempfile::tempdir().unwrap();
    gpu_host("snd_hda_intel").write(t.path()).unwrap();
    let root = t.path();
    let gpu = "0000:01:00.0";

    // doctor: the GPU's group fails, naming the audio function and its driver.
    let o = passthru(root, &["doctor", "--json"]);
    let v = json(&o);
    let f = with_id(&v, "device.group-shared", gpu);
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["severity"], "fail", "{v:#}");
    let m = f[0]["message"].as_str().unwrap();
    assert!(
        m.contains("0000:01:00.1") && m.contains("snd_hda_intel"),
        "{m}"
    );
    assert!(
        f[0]["fix"]
            .as_str()
            .unwrap()
            .contains("passthru bind 0000:01:00.0 --group --vfio"),
        "{f:?}"
    );
    assert_eq!(o.status.code(), Some(2));

    // why: the chain breaks at the group.
    let o = passthru(root, &["why", gpu]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("the chain breaks at 'group'"),
        "{}",
        out(&o)
    );

    // verify: a guest with the GPU alone fails on the group.
    let d = tempfile::tempdir().unwrap();
    let xml = d.path().join("guest.xml");
    std::fs::write(&xml, domain(GPU_HOSTDEV)).unwrap();
    let o = passthru(root, &["verify", xml.to_str().unwrap(), "--json"]);
    let v = json(&o);
    let f = with_id(&v, "libvirt.device.group", gpu);
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["severity"], "fail", "{v:#}");
    assert!(
        f[0]["message"]
            .as_str()
            .unwrap()
            .contains("0000:01:00.1 (snd_hda_intel)"),
        "{f:?}"
    );
    assert_eq!(o.status.code(), Some(2));

    // render libvirt: refused, for the same member.
    let o = passthru(root, &["render", "libvirt", gpu]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        err(&o).contains("0000:01:00.1 (snd_hda_intel)") && out(&o).is_empty(),
        "{}",
        err(&o)
    );

    // bind: refused although the GPU itself is on vfio-pci already; --group takes
    // the audio function along.
    let o = passthru(root, &["bind", gpu, "--vfio"]);
    assert_eq!(o.status.code(), Some(3), "{}{}", out(&o), err(&o));
    assert!(
        err(&o).contains("also holds 0000:01:00.1") && err(&o).contains("snd_hda_intel"),
        "{}",
        err(&o)
    );
    let o = passthru(root, &["bind", gpu, "--group", "--vfio"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(
        out(&o).contains("write 0000:01:00.1 to sys/bus/pci/drivers/snd_hda_intel/unbind"),
        "{}",
        out(&o)
    );

    // Both functions rendered together, fed to verify: the group is the guest's.
    let o = passthru(root, &["render", "libvirt", gpu, "0000:01:00.1"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    std::fs::write(&xml, domain(&out(&o))).unwrap();
    let o = passthru(root, &["verify", xml.to_str().unwrap(), "--json"]);
    let v = json(&o);
    let f = with_id(&v, "libvirt.device.group", gpu);
    assert_eq!(f[0]["severity"], "pass", "{v:#}");

    // The audio function on vfio-pci: every command says the group is viable.
    let t = tempfile::tempdir().unwrap();
    gpu_host("vfio-pci").write(t.path()).unwrap();
    let root = t.path();
    let v = json(&passthru(root, &["doctor", "--json"]));
    assert_eq!(
        with_id(&v, "device.group-shared", gpu)[0]["severity"],
        "pass",
        "{v:#}"
    );
    let o = passthru(root, &["why", gpu, "--json"]);
    let v = json(&o);
    assert_eq!(
        with_id(&v, "device.group-shared", gpu)[0]["severity"],
        "pass",
        "{v:#}"
    );
    let o = passthru(root, &["render", "libvirt", gpu]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    std::fs::write(&xml, domain(&out(&o))).unwrap();
    let v = json(&passthru(
        root,
        &["verify", xml.to_str().unwrap(), "--json"],
    ));
    assert_eq!(
        with_id(&v, "libvirt.device.group", gpu)[0]["severity"],
        "pass",
        "{v:#}"
    );
    let o = passthru(root, &["bind", gpu, "--vfio"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    // (it only pins the GPU's driver_override; the audio function is left alone).
    assert!(!out(&o).contains("01:00.1"), "{}", out(&o));
}

fn exe(h: HostSpec, path: &str, text: &str) -> HostSpec {
    let mut h = h.file(path, text);
    if let Some(f) = h.files.iter_mut().find(|f| f.path == path) {
        f.mode = Some(0o755);
    }
    h
}

/// Issue 9, defect 6: kernel-args keeps one value per key and refuses, without
/// --force, the change that switches the IOMMU off; doctor, reading what kernel-args
/// wrote and asked, never sees `intel_iommu=on intel_iommu=off` on one line.
#[test]
fn kernel_args_output_read_by_doctor() {
    const GRUB: &str = "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt\"\n";
    let h = exe(
        gpu_host("vfio-pci")
            .file("etc/default/grub", GRUB)
            .file("proc/version", "Linux version 6.1.0-18-amd64 (debian)\n"),
        "usr/sbin/update-grub",
        "#!/bin/sh\nexit 0\n",
    );
    let t = tempfile::tempdir().unwrap();
    h.write(t.path()).unwrap();
    let root = t.path();
    let grub = || std::fs::read_to_string(root.join("etc/default/grub")).unwrap();
    let reboot = |root: &Path| {
        let v = json(&passthru(root, &["doctor", "--json"]));
        let mut all = Vec::new();
        collect(&v, &mut all);
        all.into_iter()
            .find(|f| f["id"] == "boot.reboot-pending")
            .cloned()
            .unwrap_or_else(|| panic!("no boot.reboot-pending in {v:#}"))
    };
    assert_eq!(reboot(root)["severity"], "pass");

    // One argument per --add.
    let o = passthru(root, &["kernel-args", "--add", "foo bar"]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(
        err(&o).contains("one kernel argument per --add")
            && err(&o).contains("--add foo --add bar"),
        "{}",
        err(&o)
    );
    // Switching the IOMMU off is refused without --force; nothing changes.
    let o = passthru(root, &["kernel-args", "--add", "intel_iommu=off", "-y"]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(
        err(&o).contains("puts intel_iommu=off on the command line"),
        "{}",
        err(&o)
    );
    assert_eq!(grub(), GRUB);
    assert_eq!(reboot(root)["severity"], "pass");

    // With --force: a replacement, shown as such and as a diff.
    let o = passthru(
        root,
        &["kernel-args", "--add", "intel_iommu=off", "--force"],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let plan = out(&o);
    assert!(
        plan.contains("Plan: kernel command line: replace intel_iommu=on with intel_iommu=off\n"),
        "{plan}"
    );
    assert!(
        plan.contains("      -GRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt\"\n      +GRUB_CMDLINE_LINUX=\"iommu=pt intel_iommu=off\"\n"),
        "{plan}"
    );
    let o = passthru(
        root,
        &["kernel-args", "--add", "intel_iommu=off", "--force", "-y"],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(
        grub().contains("GRUB_CMDLINE_LINUX=\"iommu=pt intel_iommu=off\"\n"),
        "{}",
        grub()
    );
    // doctor reads the request and the file: the reboot it announces has the IOMMU
    // off and nothing else (no contradictory pair on the line).
    let f = reboot(root);
    assert_eq!(f["severity"], "warn", "{f:#}");
    let m = f["message"].as_str().unwrap();
    assert!(m.contains("intel_iommu=off"), "{m}");
    assert!(!grub().contains("intel_iommu=on"), "{}", grub());

    // Undo puts the file back byte for byte; doctor passes again.
    let o = passthru(root, &["undo", "-y"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert_eq!(grub(), GRUB);
    assert_eq!(reboot(root)["severity"], "pass");
}

/// Issue 9, defect 10: the GPU driving the host console (sysfs boot_vga = 1). doctor
/// and why warn, bind refuses it without --force and warns with it, render warns, all
/// in the same words.
#[test]
fn the_boot_vga_gpu_is_warned_about_and_bind_refuses_it() {
    let mut h = gpu_host("snd_hda_intel");
    for d in h.devices.iter_mut() {
        if d.address == bdf("0000:01:00.0") {
            d.boot_vga = Some(true);
            d.driver = Some("nouveau".into());
        }
    }
    let t = tempfile::tempdir().unwrap();
    h.write(t.path()).unwrap();
    let root = t.path();
    let gpu = "0000:01:00.0";
    let v = json(&passthru(root, &["doctor", gpu, "--json"]));
    let f = with_id(&v, "device.boot-vga", gpu);
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["severity"], "warn");
    let words = f[0]["message"].as_str().unwrap().to_string();
    assert!(words.contains("drives the host console"), "{words}");
    let v = json(&passthru(root, &["why", gpu, "--all", "--json"]));
    assert_eq!(with_id(&v, "device.boot-vga", gpu)[0]["severity"], "warn");

    let o = passthru(root, &["bind", gpu, "--group", "--vfio"]);
    assert_eq!(o.status.code(), Some(3), "{}{}", out(&o), err(&o));
    assert!(err(&o).contains(&words), "{}", err(&o));
    let o = passthru(root, &["bind", gpu, "--group", "--vfio", "--force"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(
        out(&o).contains(&format!("warning: --force: {gpu}: {words}")),
        "{}",
        out(&o)
    );
    let o = passthru(root, &["render", "libvirt", gpu, "0000:01:00.1"]);
    assert!(err(&o).contains(&words), "{}", err(&o));
}

/// Issue 9, defect 11: a fact the root does not have is not known, never a pass. A
/// NIC named to doctor on a root without proc/net/route: "not known", INFO; with the
/// routing table, the real answer.
#[test]
fn a_missing_routing_table_is_not_known_not_a_pass() {
    use passthru_testsupport::NetdevSpec;
    let nic = |h: HostSpec| {
        let mut h = h;
        h.devices.push(
            DeviceSpec::new(bdf("0000:02:00.0"), 0x8086, 0x1521, 0x020000)
                .driver("igb")
                .group(2)
                .numa(0)
                .netdev(NetdevSpec::up("eno1", "a0:36:9f:00:00:01", 1000)),
        );
        h
    };
    let route = |root: &Path| {
        let v = json(&passthru(root, &["doctor", "02:00.0", "--json"]));
        let f = with_id(&v, "device.default-route", "0000:02:00.0");
        assert_eq!(f.len(), 1, "{v:#}");
        (
            f[0]["severity"].as_str().unwrap().to_string(),
            f[0]["message"].as_str().unwrap().to_string(),
        )
    };
    let t = tempfile::tempdir().unwrap();
    nic(gpu_host("vfio-pci")).write(t.path()).unwrap();
    let (sev, msg) = route(t.path());
    assert_eq!(sev, "info");
    assert!(
        msg.starts_with("not known: whether eno1 carries the default route"),
        "{msg}"
    );

    for (table, want) in [
        (
            "eno1\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n",
            "fail",
        ),
        (
            "eno2\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n",
            "pass",
        ),
    ] {
        let t = tempfile::tempdir().unwrap();
        nic(gpu_host("vfio-pci"))
            .file(
                "proc/net/route",
                &format!("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n{table}"),
            )
            .write(t.path())
            .unwrap();
        assert_eq!(route(t.path()).0, want, "{table}");
    }
}

/// Issue 9, defect 15: `snapshot -o -` writes to stdout (read back by --snapshot), and
/// `vfs PF 0x4` is 4, as the kernel's sriov_numvfs reads it.
#[test]
fn snapshot_to_stdout_and_vf_counts_as_the_kernel_reads_them() {
    let t = tempfile::tempdir().unwrap();
    passthru_testsupport::scenarios::i350()
        .write(t.path())
        .unwrap();
    let o = passthru(t.path(), &["snapshot", "-o", "-"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!t.path().join("-").exists(), "no file named '-'");
    let d = tempfile::tempdir().unwrap();
    let snap = d.path().join("host.json");
    std::fs::write(&snap, &o.stdout).unwrap();
    let a = passthru(t.path(), &["ls", "--json"]);
    let b = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .args(["--snapshot", snap.to_str().unwrap(), "ls", "--json"])
        .output()
        .unwrap();
    let key = |v: Value| -> Vec<(Value, Value)> {
        v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["address"].clone(), d["driver"].clone()))
            .collect()
    };
    let (a, b) = (key(json(&a)), key(json(&b)));
    assert_eq!(a.len(), 15);
    assert_eq!(a, b);

    let four = passthru(t.path(), &["vfs", "eno1", "4"]);
    assert_eq!(four.status.code(), Some(0), "{}", err(&four));
    for n in ["0x4", "04"] {
        let o = passthru(t.path(), &["vfs", "eno1", n]);
        assert_eq!(out(&o), out(&four), "{n}");
    }
    let o = passthru(t.path(), &["vfs", "eno1", "0xz"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(err(&o).contains("is not a VF count"), "{}", err(&o));
}
