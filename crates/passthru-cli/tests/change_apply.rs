//! `passthru apply` end to end on the kernel simulator, with test doubles of the boot
//! tools in the root: a whole host file applied and undone byte for byte; a fault in
//! the middle rolls everything back to exactly the tree before; a reboot then
//! `apply --boot` converges; the rendered unit passes `systemd-analyze verify`.

mod change_common;
use change_common::*;
use std::path::Path;

const HOST_FILE: &str = r#"# The seeds' compute node: IOMMU on, 4 VFs on eno2 for guests, the GPU for a guest.
[kernel]
iommu = true
pt = true

[[sriov]]
pf = "eno2"
vfs = 4

[vfio]
devices = ["0000:81:00.0"]
whole_devices = true
vfs_of = ["eno2"]
initramfs = true

[modprobe]
softdep = ["nouveau", "snd_hda_intel"]
"#;

/// The host with eno2's VFs at 0 (so every VF in a test is created by the
/// simulator, like any VF after a boot).
fn spec() -> passthru_testsupport::HostSpec {
    let mut s = host_spec_with_tools();
    let pf = s
        .device_mut(passthru_testsupport::bdf("0000:06:00.1"))
        .unwrap();
    let sr = pf.sriov.as_mut().unwrap();
    sr.num_vfs = 0;
    sr.vfs.clear();
    s
}

fn write_host_file(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("host.toml");
    std::fs::write(&p, HOST_FILE).unwrap();
    p
}

#[test]
fn a_host_file_applies_converges_and_undoes_byte_for_byte() {
    let Some(m) = mount(&spec()) else { return };
    let root = m.root();
    let tmp = tempfile::tempdir().unwrap();
    let file = write_host_file(tmp.path());
    let f = file.to_str().unwrap();
    let before = dump(root);
    let out = ok(&passthru(root, &["apply", f]));
    for needle in [
        "write etc/default/grub",
        "write etc/modprobe.d/passthru.conf",
        "write etc/dracut.conf.d/passthru.conf",
        "write etc/passthru/host.toml",
        "write etc/systemd/system/passthru.service",
        "write 4 to sys/bus/pci/devices/0000:06:00.1/sriov_numvfs",
        "write vfio-pci to sys/bus/pci/devices/0000:81:00.1/driver_override",
        "run grub2-mkconfig -o /boot/grub2/grub.cfg",
        "run dracut --force",
        "run systemctl enable passthru.service",
        "then: bind to vfio-pci the VFs of 0000:06:00.1",
        "note: kernel command line: add intel_iommu=on iommu=pt\n",
        "0000:07:10.1, 0000:07:10.5, 0000:07:11.1, 0000:07:11.5",
    ] {
        assert!(out.contains(needle), "plan lacks {needle:?}:\n{out}");
    }
    assert_same(&before, &dump(root), "the plan alone");
    // The unit's binary is not under this root: said, since a boot would fail.
    assert!(
        out.contains("warning: the boot unit runs /usr/bin/passthru, which"),
        "{out}"
    );
    let out = ok(&passthru(
        root,
        &["apply", f, "--binary", "/usr/bin/dracut"],
    ));
    assert!(!out.contains("the boot unit runs"), "{out}");

    let out = ok(&passthru(root, &["apply", f, "--yes"]));
    assert!(out.contains("Converged"), "{out}");
    assert!(out.contains("Reboot"), "{out}");
    let devs = agree(root);
    for a in [
        "0000:81:00.0",
        "0000:81:00.1",
        "0000:07:10.1",
        "0000:07:10.5",
        "0000:07:11.1",
        "0000:07:11.5",
    ] {
        assert_eq!(driver_of(&devs, a).as_deref(), Some("vfio-pci"), "{a}");
    }
    assert_eq!(
        driver_of(&devs, "0000:07:10.0").as_deref(),
        Some("igbvf"),
        "eno1's VFs untouched"
    );
    let grub = std::fs::read_to_string(root.join("etc/default/grub")).unwrap();
    assert!(grub.contains("GRUB_CMDLINE_LINUX=\"rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet intel_iommu=on iommu=pt\"\n"), "{grub}");
    let cfg = std::fs::read_to_string(root.join("boot/grub2/grub.cfg")).unwrap();
    assert!(
        cfg.contains("quiet intel_iommu=on iommu=pt\n"),
        "grub2-mkconfig ran: {cfg}"
    );
    let initramfs =
        std::fs::read_to_string(root.join("boot/initramfs-3.10.0-229.el7.x86_64.img")).unwrap();
    assert!(
        initramfs.contains("force_drivers+=\" vfio vfio_iommu_type1 vfio_pci \""),
        "{initramfs}"
    );
    assert!(
        initramfs.contains("softdep nouveau pre: vfio-pci"),
        "{initramfs}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/passthru/host.toml")).unwrap(),
        HOST_FILE
    );
    assert_eq!(
        std::fs::read_link(
            root.join("etc/systemd/system/multi-user.target.wants/passthru.service")
        )
        .unwrap(),
        Path::new("/etc/systemd/system/passthru.service")
    );
    // Applying again: nothing to do.
    let out = ok(&passthru(root, &["apply", f, "-y"]));
    assert!(out.contains("nothing to do"), "{out}");

    // Undo: byte for byte, generated files included (the tools run again).
    let list = json(&passthru(root, &["--json", "undo", "--list"]));
    let id = list["change_sets"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(list["change_sets"][0]["status"], "done");
    let out = ok(&passthru(root, &["undo", "--yes"]));
    assert!(out.contains(&format!("undo change set {id}")), "{out}");
    assert!(out.contains("Converged"), "{out}");
    agree(root);
    assert_same(&before, &dump(root), "undo of apply");
    let list = json(&passthru(root, &["--json", "undo", "--list"]));
    assert_eq!(list["change_sets"][1]["status"], "undone");
    assert_eq!(list["change_sets"][0]["undoes"], id.as_str());
    // Nothing left to undo by default; the undo itself can be undone (a redo).
    let err = fails(&passthru(root, &["undo", "-y"]));
    assert!(err.contains("nothing to undo"), "{err}");
}

#[test]
fn a_fault_in_the_middle_of_apply_leaves_the_host_exactly_as_before() {
    let Some(m) = mount(&spec()) else { return };
    let root = m.root();
    let tmp = tempfile::tempdir().unwrap();
    let file = write_host_file(tmp.path());
    let before = dump(root);
    // The last VF's bind fails: by then files are written, the boot tools have run,
    // the GPU is on vfio-pci, 4 VFs exist and three are bound. The VF does not exist
    // yet: the simulator resolves its bus link when the write comes.
    m.fault(
        "sys/bus/pci/devices/0000:07:11.5/driver_override",
        "EBUSY",
        1,
    )
    .unwrap();
    let out = passthru(root, &["apply", file.to_str().unwrap(), "-y"]);
    let all = fails(&out);
    assert!(all.contains("Failed at step 13 (write vfio-pci to sys/bus/pci/devices/0000:07:11.5/driver_override)"), "{all}");
    assert!(all.contains("EBUSY: 0000:07:11.5 is busy"), "{all}");
    assert!(
        all.contains("Rolled back") && all.contains("the host is as it was before"),
        "{all}"
    );
    let log = m.log();
    assert!(
        writes(&log, "0000:07:10.5/driver_override")
            .iter()
            .any(|w| w.contains("vfio-pci")),
        "the middle was reached"
    );
    agree(root);
    assert_same(&before, &dump(root), "a fault in the middle of apply");
    // The journal says so.
    let list = json(&passthru(root, &["--json", "undo", "--list"]));
    assert_eq!(list["change_sets"][0]["status"], "rolled_back");
    // JSON output carries the failure, its decoding, and the rollback.
    m.fault(
        "sys/bus/pci/devices/0000:81:00.1/driver_override",
        "ENOMEM",
        1,
    )
    .unwrap();
    let v = json(&passthru(
        root,
        &["--json", "apply", file.to_str().unwrap(), "-y"],
    ));
    assert_eq!(v["applied"], false);
    assert_eq!(v["result"]["failure"]["explanation"]["errno"], "ENOMEM");
    assert_eq!(v["result"]["rollback"]["complete"], true);
    assert_same(&before, &dump(root), "a second fault");
}

#[test]
fn after_a_reboot_apply_boot_converges_to_the_host_file() {
    let Some(m) = mount(&spec()) else { return };
    let root = m.root();
    let tmp = tempfile::tempdir().unwrap();
    let file = write_host_file(tmp.path());
    // eno2 has 2 VFs (made at runtime) when the host file is applied.
    ok(&passthru(root, &["vfs", "eno2", "2", "-y"]));
    let files_before = files_only(&dump(root));
    ok(&passthru(root, &["apply", file.to_str().unwrap(), "-y"]));
    let applied = agree(root);
    // Reboot with the command line grub now carries: VFs and bindings are gone,
    // files stay.
    let cfg = std::fs::read_to_string(root.join("boot/grub2/grub.cfg")).unwrap();
    let line = cfg
        .lines()
        .find(|l| l.trim_start().starts_with("linux16"))
        .unwrap()
        .trim();
    let cmdline = format!("BOOT_IMAGE={}", line.trim_start_matches("linux16 "));
    m.ctl(&format!("reboot cmdline={cmdline}")).unwrap();
    let booted = agree(root);
    assert_eq!(booted["0000:06:00.1"]["sriov"]["num_vfs"], 0);
    assert_eq!(
        driver_of(&booted, "0000:81:00.0").as_deref(),
        Some("nouveau")
    );
    // What the boot unit runs: the installed file, runtime state only.
    let out = ok(&passthru(root, &["apply", "--boot", "--yes"]));
    assert!(out.contains("apply the host file's runtime state"), "{out}");
    assert!(
        !out.contains("etc/default/grub"),
        "--boot touches no file: {out}"
    );
    assert!(out.contains("Converged"), "{out}");
    let after = agree(root);
    // Everything the host file governs is as after apply (eno1's VFs, which it does
    // not mention, stay gone as on any reboot).
    for a in [
        "0000:81:00.0",
        "0000:81:00.1",
        "0000:07:10.1",
        "0000:07:10.5",
        "0000:07:11.1",
        "0000:07:11.5",
    ] {
        assert_eq!(
            driver_of(&after, a),
            driver_of(&applied, a),
            "{a} as after apply"
        );
        assert_eq!(after[a]["driver_override"], "vfio-pci", "{a}");
    }
    assert_eq!(after["0000:06:00.1"]["sriov"]["num_vfs"], 4);
    // Again: nothing to do, nothing journaled; the kernel arguments are in effect.
    let sets = std::fs::read_dir(root.join(JOURNAL).join("journal"))
        .unwrap()
        .count();
    let out = ok(&passthru(root, &["apply", "--boot", "-y"]));
    assert!(out.contains("nothing to do"), "{out}");
    assert_eq!(
        std::fs::read_dir(root.join(JOURNAL).join("journal"))
            .unwrap()
            .count(),
        sets
    );
    let out = ok(&passthru(root, &["kernel-args", "--iommu", "--pt"]));
    assert!(
        out.contains("the running kernel and the boot configuration already have these arguments"),
        "{out}"
    );

    // Undo across the reboot: first the boot's own change set (VFs and drivers back
    // to what the boot gave), then the apply: its files come back byte for byte, and
    // the runtime state of the earlier boot (eno2's VF count then) is not replayed.
    ok(&passthru(root, &["undo", "-y"]));
    let undone = agree(root);
    assert_eq!(undone["0000:06:00.1"]["sriov"]["num_vfs"], 0);
    assert_eq!(
        driver_of(&undone, "0000:81:00.0").as_deref(),
        Some("nouveau")
    );
    m.ctl("clear-log").unwrap();
    let out = ok(&passthru(root, &["undo", "-y"]));
    assert!(
        out.contains("note: the host has booted since change set"),
        "{out}"
    );
    assert!(
        writes(&m.log(), " sys/").is_empty(),
        "no sysfs write: {}",
        m.log()
    );
    assert_same(
        &files_before,
        &files_only(&dump(root)),
        "files after undoing an apply made before a reboot",
    );
}

/// The entries of a dump outside `sys/`, `proc/` and `dev/` (what a reboot keeps).
fn files_only(
    d: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    d.iter()
        .filter(|(k, _)| {
            !["sys", "proc", "dev"]
                .iter()
                .any(|t| *k == t || k.starts_with(&format!("{t}/")))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn the_rendered_unit_passes_systemd_analyze_verify() {
    if !passthru_testsupport::peer::require_programs(&["systemd-analyze"]) {
        return;
    }
    let Some(m) = mount(&spec()) else { return };
    let root = m.root();
    let tmp = tempfile::tempdir().unwrap();
    let file = write_host_file(tmp.path());
    ok(&passthru(root, &["apply", file.to_str().unwrap(), "-y"]));
    let unit = std::fs::read_to_string(root.join("etc/systemd/system/passthru.service")).unwrap();
    let verify = |unit: &str| -> (bool, String) {
        let sys = tempfile::tempdir().unwrap();
        let r = sys.path();
        std::fs::create_dir_all(r.join("etc/systemd/system")).unwrap();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        std::fs::create_dir_all(r.join("etc/passthru")).unwrap();
        std::fs::write(r.join("etc/systemd/system/passthru.service"), unit).unwrap();
        std::fs::write(r.join("etc/passthru/host.toml"), HOST_FILE).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_passthru"), r.join("usr/bin/passthru")).unwrap();
        let o = std::process::Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", r.display()))
            .arg("/etc/systemd/system/passthru.service")
            .output()
            .expect("systemd-analyze is installed (scripts/test.sh installs systemd)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // verify exits 0 on many warnings: any line about our unit is a failure.
        (
            o.status.success() && !text.contains("passthru.service"),
            text,
        )
    };
    let (good, text) = verify(&unit);
    assert!(good, "systemd-analyze verify:\n{text}\n{unit}");
    // The check has teeth: a mistyped directive is caught.
    let (bad, text) = verify(&unit.replace("Type=oneshot", "Type=oneshoot"));
    assert!(!bad, "a broken unit must not pass:\n{text}");
    // And it runs what the documentation says, ordered as promised.
    assert!(unit.contains("ExecStart=/usr/bin/passthru apply --boot --yes /etc/passthru/host.toml"));
    assert!(unit.contains(
        "Before=network-pre.target libvirtd.service virtqemud.service nova-compute.service"
    ));
}

#[test]
fn bad_host_files_name_the_line_and_change_nothing() {
    let Some(m) = mount(&spec()) else { return };
    let root = m.root();
    let before = dump(root);
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.toml");
    std::fs::write(
        &p,
        "[[sriov]]\npf = \"eno2\"\nvfs = 4\n\n[vfio]\nids = [\"8086:15200\"]\n",
    )
    .unwrap();
    let err = fails(&passthru(root, &["apply", p.to_str().unwrap(), "-y"]));
    assert!(
        err.contains("bad.toml:6:8: [vfio] ids: '8086:15200' is not vendor:device"),
        "{err}"
    );
    std::fs::write(&p, "[[sriov]]\npf = \"eno9\"\nvfs = 4\n").unwrap();
    let err = fails(&passthru(root, &["apply", p.to_str().unwrap(), "-y"]));
    assert!(err.contains("pf = \"eno9\" matches no device"), "{err}");
    std::fs::write(&p, "[sriov]\npf = 1\n").unwrap();
    let err = fails(&passthru(root, &["apply", p.to_str().unwrap()]));
    assert!(err.contains("bad.toml:1:1"), "{err}");
    assert_same(&before, &dump(root), "bad files");
}

#[test]
fn entries_that_would_not_survive_a_reboot_are_refused_and_skipped_at_boot() {
    let Some(m) = mount(&spec()) else { return };
    let root = m.root();
    let before = dump(root);
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("h.toml");
    // 07:10.3 is a VF of eno4, whose count the file does not set: a reboot removes
    // it, and the boot unit would fail. Refused before anything changes, with the fix.
    std::fs::write(&p, "[vfio]\ndevices = [\"07:10.3\"]\n").unwrap();
    let err = fails(&passthru(root, &["apply", p.to_str().unwrap(), "-y"]));
    assert!(
        err.contains("[vfio] 0000:07:10.3 selects 0000:07:10.3, a VF of 0000:06:00.3 (eno4), but the host file does not set eno4's VF count"),
        "{err}"
    );
    assert!(err.contains("add [[sriov]] pf = \"eno4\" vfs = 2"), "{err}");
    // An interface name: gone once the device is on vfio-pci.
    std::fs::write(
        &p,
        "[[sriov]]\npf = \"eno4\"\nvfs = 2\n[vfio]\ndevices = [\"enp7s16f3\"]\n",
    )
    .unwrap();
    let err = fails(&passthru(
        root,
        &["apply", p.to_str().unwrap(), "-y", "--force"],
    ));
    assert!(
        err.contains("'enp7s16f3' is the interface of 0000:07:10.3")
            && err.contains("devices = [\"0000:07:10.3\"]"),
        "{err}"
    );
    assert_same(&before, &dump(root), "refused host files");

    // At boot, an entry that matches nothing (a NIC renamed, a card pulled) is
    // skipped and said; the rest of the host still gets its VFs and bindings; exit 1.
    std::fs::create_dir_all(root.join("etc/passthru")).unwrap();
    std::fs::write(
        root.join("etc/passthru/host.toml"),
        "[[sriov]]\npf = \"eno9\"\nvfs = 2\n[[sriov]]\npf = \"eno2\"\nvfs = 4\n[vfio]\ndevices = [\"0000:85:00.0\"]\nvfs_of = [\"eno2\"]\n",
    )
    .unwrap();
    let out = passthru(root, &["apply", "--boot", "-y"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "skipped: [[sriov]] pf = \"eno9\": [[sriov]] pf = \"eno9\" matches no device"
        ),
        "{text}"
    );
    assert!(
        text.contains("skipped: [vfio] 0000:85:00.0: [vfio] 0000:85:00.0 matches no device"),
        "{text}"
    );
    assert!(text.contains("Converged"), "{text}");
    assert!(text.contains("Skipped 2 part(s)"), "{text}");
    let devs = agree(root);
    assert_eq!(devs["0000:06:00.1"]["sriov"]["num_vfs"], 4);
    assert_eq!(
        driver_of(&devs, "0000:07:11.5").as_deref(),
        Some("vfio-pci")
    );
    let v = json(&passthru(root, &["--json", "apply", "--boot", "-y"]));
    assert_eq!(v["skipped"].as_array().unwrap().len(), 2, "{v}");
}

#[test]
fn every_key_of_the_host_file_applies_and_undoes() {
    let Some(m) = mount(&spec()) else { return };
    let root = m.root();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("every.toml");
    std::fs::write(
        &p,
        r#"[kernel]
iommu = true
pt = true
add = ["pci=realloc"]
remove = ["rhgb"]

[[sriov]]
pf = "8086:1521"          # every I350 port: eno2 goes from 0 to 2, the others have 2
vfs = 2

[vfio]
devices = ["0000:81:00.0"]
whole_devices = true
classes = ["audio"]
ids = ["8086:1520"]
vfs_of = ["eno2"]
modprobe_ids = true
initramfs = true

[modprobe]
blacklist = ["nouveau"]
softdep = ["snd_hda_intel"]

[persist]
enabled = true
binary = "/usr/local/bin/passthru"
"#,
    )
    .unwrap();
    let f = p.to_str().unwrap();
    let before = dump(root);
    let out = ok(&passthru(root, &["apply", f, "-y"]));
    assert!(out.contains("Converged"), "{out}");
    assert!(
        out.contains(
            "note: kernel command line: add intel_iommu=on iommu=pt pci=realloc, remove rhgb"
        ),
        "{out}"
    );
    let devs = agree(root);
    for (a, d) in &devs {
        if d["vendor_id"] == "8086" && d["device_id"] == "1520" {
            assert_eq!(driver_of(&devs, a).as_deref(), Some("vfio-pci"), "{a}");
        }
    }
    assert_eq!(devs["0000:06:00.1"]["sriov"]["num_vfs"], 2);
    for a in ["0000:81:00.0", "0000:81:00.1"] {
        assert_eq!(driver_of(&devs, a).as_deref(), Some("vfio-pci"), "{a}");
    }
    assert_eq!(
        std::fs::read_to_string(root.join("etc/modprobe.d/passthru.conf")).unwrap(),
        "# Written by `passthru apply` from /etc/passthru/host.toml; `passthru undo` restores the previous state.\noptions vfio-pci ids=8086:1520\nsoftdep snd_hda_intel pre: vfio-pci\nblacklist nouveau\n"
    );
    let grub = std::fs::read_to_string(root.join("etc/default/grub")).unwrap();
    assert!(
        grub.contains("GRUB_CMDLINE_LINUX=\"rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root quiet intel_iommu=on iommu=pt pci=realloc\"\n"),
        "{grub}"
    );
    let unit = std::fs::read_to_string(root.join("etc/systemd/system/passthru.service")).unwrap();
    assert!(
        unit.contains(
            "ExecStart=/usr/local/bin/passthru apply --boot --yes /etc/passthru/host.toml"
        ),
        "{unit}"
    );
    // Idempotent, then undone byte for byte.
    let out = ok(&passthru(root, &["apply", f, "-y"]));
    assert!(out.contains("nothing to do"), "{out}");
    ok(&passthru(root, &["undo", "-y"]));
    agree(root);
    assert_same(&before, &dump(root), "undo of a host file with every key");
}
