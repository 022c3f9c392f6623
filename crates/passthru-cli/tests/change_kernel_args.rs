//! `passthru kernel-args` end to end on the simulator: the first seed's BIOS and UEFI
//! grub paths (and the UEFI stub trap), grubby, systemd-boot, Debian's update-grub
//! absent under a fake root, CPU vendors; undo is byte for byte.

mod change_common;
use change_common::*;
use passthru_testsupport::{ExtraFile, HostSpec};

fn exe(h: &mut HostSpec, path: &str, text: &str) {
    h.files.push(ExtraFile {
        path: path.into(),
        contents: text.into(),
        link: None,
        mode: Some(0o755),
    });
}

#[test]
fn bios_host_edits_grub_regenerates_boot_grub2_and_undoes() {
    // A grub.cfg the generator would not write again byte for byte (an older
    // grub2-mkconfig's header): undo puts back these bytes, not a regeneration.
    let cfg = "### BEGIN /etc/grub.d/00_header (grub2-mkconfig 2.02~beta2)\nmenuentry 'Red Hat Enterprise Linux Server' {\n\tlinux16 /vmlinuz-3.10.0-229.el7.x86_64 root=/dev/mapper/rhel-root ro rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet\n}\n";
    let Some(m) = mount(&host_spec_with_tools().file("boot/grub2/grub.cfg", cfg)) else {
        return;
    };
    let root = m.root();
    let before = dump(root);
    let out = ok(&passthru(root, &["kernel-args", "--iommu", "--pt"]));
    assert!(
        out.contains("Plan: kernel command line: add intel_iommu=on iommu=pt\n"),
        "{out}"
    );
    assert!(
        out.contains("run grub2-mkconfig -o /boot/grub2/grub.cfg"),
        "{out}"
    );
    assert!(
        out.contains("regenerate /boot/grub2/grub.cfg, the grub.cfg this BIOS host boots from"),
        "{out}"
    );
    assert!(out.contains("a reboot is needed"), "{out}");
    // The plan shows the edit of etc/default/grub as a unified diff.
    assert!(
        out.contains("      --- a/etc/default/grub\n      +++ b/etc/default/grub\n"),
        "{out}"
    );
    assert!(
        out.contains("\n      -GRUB_CMDLINE_LINUX=\"rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet\"\n      +GRUB_CMDLINE_LINUX=\"rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet intel_iommu=on iommu=pt\"\n"),
        "{out}"
    );
    assert_same(&before, &dump(root), "plan only");
    let out = ok(&passthru(root, &["kernel-args", "--iommu", "--pt", "-y"]));
    assert!(out.contains("Converged"), "{out}");
    // Edited through etc/sysconfig/grub's link: the link is still a link.
    assert_eq!(
        std::fs::read_link(root.join("etc/sysconfig/grub"))
            .unwrap()
            .to_str(),
        Some("../default/grub")
    );
    let grub = std::fs::read_to_string(root.join("etc/default/grub")).unwrap();
    assert_eq!(
        grub,
        GRUB.replace("rhgb quiet\"", "rhgb quiet intel_iommu=on iommu=pt\"")
    );
    let cfg = std::fs::read_to_string(root.join("boot/grub2/grub.cfg")).unwrap();
    assert!(
        cfg.contains("rhgb quiet intel_iommu=on iommu=pt\n"),
        "{cfg}"
    );
    // Again: configured, reboot pending.
    let out = ok(&passthru(root, &["kernel-args", "--iommu", "--pt", "-y"]));
    assert!(
        out.contains("already has these arguments but the running kernel does not: reboot"),
        "{out}"
    );
    // undo's plan shows the way back as a diff too.
    let out = ok(&passthru(root, &["undo"]));
    assert!(
        out.contains("\n      -GRUB_CMDLINE_LINUX=\"rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet intel_iommu=on iommu=pt\"\n"),
        "{out}"
    );
    ok(&passthru(root, &["undo", "-y"]));
    assert_same(
        &before,
        &dump(root),
        "undo of kernel-args (grub.cfg put back byte for byte)",
    );
}

#[test]
fn uefi_host_regenerates_the_esp_grub_cfg_but_not_a_stub() {
    let mut spec = host_spec_with_tools()
        .file("sys/firmware/efi/fw_platform_size", "64\n")
        .file(
            "boot/efi/EFI/redhat/grub.cfg",
            "menuentry 'Red Hat Enterprise Linux Server' {\n\tlinuxefi /vmlinuz-3.10.0-229.el7.x86_64 ro quiet\n}\n",
        );
    spec.hostname = Some("uefi".into());
    let Some(m) = mount(&spec) else { return };
    let root = m.root();
    let bios_cfg = std::fs::read(root.join("boot/grub2/grub.cfg")).unwrap();
    let out = ok(&passthru(root, &["kernel-args", "--iommu", "-y"]));
    assert!(
        out.contains("run grub2-mkconfig -o /boot/efi/EFI/redhat/grub.cfg"),
        "{out}"
    );
    assert!(
        out.contains("the grub.cfg this UEFI host boots from"),
        "{out}"
    );
    let esp = std::fs::read_to_string(root.join("boot/efi/EFI/redhat/grub.cfg")).unwrap();
    assert!(esp.contains("quiet intel_iommu=on\n"), "{esp}");
    assert_eq!(
        std::fs::read(root.join("boot/grub2/grub.cfg")).unwrap(),
        bios_cfg,
        "the BIOS path is not what boots"
    );
    ok(&passthru(root, &["undo", "-y"]));

    // Newer RHEL/Fedora: the ESP holds a stub that chains to /boot/grub2/grub.cfg.
    let stub = "search --no-floppy --fs-uuid --set=dev 7e2b6a4c\nset prefix=($dev)/grub2\nexport $prefix\nconfigfile $prefix/grub.cfg\n";
    std::fs::write(root.join("boot/efi/EFI/redhat/grub.cfg"), stub).unwrap();
    let out = ok(&passthru(root, &["kernel-args", "--iommu", "-y"]));
    assert!(
        out.contains("run grub2-mkconfig -o /boot/grub2/grub.cfg"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("boot/efi/EFI/redhat/grub.cfg")).unwrap(),
        stub,
        "the stub survives"
    );
}

#[test]
fn grubby_hosts_go_through_grubby_and_undo_runs_the_inverse() {
    let mut spec = host_spec();
    exe(
        &mut spec,
        "usr/sbin/grubby",
        "#!/bin/sh\n# Test double of grubby: appends its arguments to a log.\necho \"$*\" >> \"$PASSTHRU_ROOT/var/log/grubby.log\"\n",
    );
    let spec = spec
        .file("var/log/grubby.log", "")
        .file(
            "boot/loader/entries/6a9857a3-3.10.0-229.el7.x86_64.conf",
            "title Red Hat Enterprise Linux\nversion 3.10.0-229.el7.x86_64\nlinux /vmlinuz-3.10.0-229.el7.x86_64\noptions root=/dev/mapper/rhel-root ro iommu=off quiet\n",
        );
    let Some(m) = mount(&spec) else { return };
    let root = m.root();
    let out = ok(&passthru(root, &["kernel-args", "--iommu", "-y"]));
    assert!(
        out.contains(
            "run grubby --update-kernel=ALL --args=intel_iommu=on --remove-args=iommu=off"
        ),
        "{out}"
    );
    ok(&passthru(root, &["undo", "-y"]));
    let log = std::fs::read_to_string(root.join("var/log/grubby.log")).unwrap();
    assert_eq!(
        log,
        "--update-kernel=ALL --args=intel_iommu=on --remove-args=iommu=off\n--update-kernel=ALL --remove-args=intel_iommu=on --args=iommu=off\n"
    );
}

#[test]
fn systemd_boot_and_debian_without_tools_under_a_fake_root() {
    // systemd-boot (Proxmox-style): etc/kernel/cmdline, no grub.
    let mut spec =
        scenario_without_grub().file("etc/kernel/cmdline", "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n");
    spec.hostname = Some("pve".into());
    let Some(m) = mount(&spec) else { return };
    let root = m.root();
    let out = ok(&passthru(root, &["kernel-args", "--iommu", "--pt", "-y"]));
    assert_eq!(
        std::fs::read_to_string(root.join("etc/kernel/cmdline")).unwrap(),
        "root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on iommu=pt\n"
    );
    assert!(
        out.contains("regenerate the boot entries"),
        "no kernel-install here: {out}"
    );
    drop(m);

    // Debian: etc/default/grub and update-grub, which this root does not hold.
    let spec = scenario_without_grub().file(
        "etc/default/grub",
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n",
    );
    let Some(m) = mount(&spec) else { return };
    let root = m.root();
    let v = json(&passthru(root, &["--json", "kernel-args", "--iommu", "-y"]));
    assert_eq!(v["applied"], true);
    assert_eq!(
        v["converged"], true,
        "a skipped command is not verified, not a failure"
    );
    let steps = v["result"]["steps"].as_array().unwrap();
    let run = steps
        .iter()
        .find(|s| s["action"] == "run update-grub")
        .unwrap();
    assert_eq!(run["status"], "skipped");
    assert!(run["note"].as_str().unwrap().contains("has no update-grub"));
    assert_eq!(
        std::fs::read_to_string(root.join("etc/default/grub")).unwrap(),
        "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=on\"\n"
    );
}

/// The i350 host with an Intel CPU and no boot loader files.
fn scenario_without_grub() -> HostSpec {
    passthru_testsupport::scenarios::i350().file(
        "proc/cpuinfo",
        "processor\t: 0\nvendor_id\t: GenuineIntel\n",
    )
}

#[test]
fn cpu_vendors_pick_the_argument() {
    let spec = passthru_testsupport::scenarios::i350()
        .file(
            "proc/cpuinfo",
            "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7302\n",
        )
        .file(
            "etc/default/grub",
            "GRUB_CMDLINE_LINUX=\"quiet amd_iommu=off\"\n",
        );
    let Some(m) = mount(&spec) else { return };
    let root = m.root();
    let out = ok(&passthru(root, &["kernel-args", "--iommu", "--pt"]));
    assert!(
        out.contains("kernel command line: add iommu=pt, remove amd_iommu=off\n"),
        "{out}"
    );
    assert!(out.contains("AMD-Vi is on by default"), "{out}");
    drop(m);
    // No cpuinfo: which argument is unknown; --add still works.
    let spec = passthru_testsupport::scenarios::i350()
        .file("etc/default/grub", "GRUB_CMDLINE_LINUX=\"quiet\"\n");
    let Some(m) = mount(&spec) else { return };
    let root = m.root();
    let err = fails(&passthru(root, &["kernel-args", "--iommu"]));
    assert!(
        err.contains("cannot tell the CPU vendor") && err.contains("--add"),
        "{err}"
    );
    let out = ok(&passthru(
        root,
        &["kernel-args", "--add", "pci=realloc", "-y"],
    ));
    assert!(out.contains("Converged"), "{out}");
    assert_eq!(
        std::fs::read_to_string(root.join("etc/default/grub")).unwrap(),
        "GRUB_CMDLINE_LINUX=\"quiet pci=realloc\"\n"
    );
}
