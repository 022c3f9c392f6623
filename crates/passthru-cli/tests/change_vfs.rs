//! `passthru vfs` end to end on the kernel simulator: creation, change through 0,
//! ERANGE, no PF driver, errno decoding of real kernel answers, protection of VFs in
//! use; lspci agrees after each change.

mod change_common;
use change_common::*;

#[test]
fn plan_only_changes_nothing_then_yes_creates_vfs() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    let before = dump(root);
    let out = ok(&passthru(root, &["vfs", "eno2", "4"]));
    assert!(
        out.contains("Plan: set the VF count of 0000:06:00.1 (eno2) from 2 to 4"),
        "{out}"
    );
    assert!(out.contains("run again with --yes"));
    assert!(
        out.contains("note: the 2 current VFs are removed: what was set on them through the PF (`ip link set eno2 vf N mac|vlan|trust|spoofchk ...`)"),
        "{out}"
    );
    assert_same(&before, &dump(root), "a plan without --yes");
    // --json shows the same plan, and changes nothing either.
    let v = json(&passthru(root, &["--json", "vfs", "eno2", "4"]));
    assert_eq!(v["applied"], false);
    assert_eq!(v["plan"]["steps"][0]["action"]["kind"], "write_attr");
    assert_eq!(v["plan"]["steps"][0]["action"]["value"], "0");
    assert_same(&before, &dump(root), "a JSON plan");

    let out = ok(&passthru(root, &["vfs", "eno2", "4", "--yes"]));
    assert!(out.contains("Converged"), "{out}");
    assert!(out.contains("VF 3: 0000:07:11.5 igbvf"), "{out}");
    // Through 0: the simulator saw 0 then 4, never 4 on top of 2.
    let w = writes(&m.log(), "0000:06:00.1/sriov_numvfs");
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("\"0") && w[1].contains("\"4"), "{w:?}");
    let devs = agree(root);
    let pf = &devs["0000:06:00.1"];
    assert_eq!(pf["sriov"]["num_vfs"], 4);
    let vfs: Vec<&str> = pf["virtfns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        vfs,
        [
            "0000:07:10.1",
            "0000:07:10.5",
            "0000:07:11.1",
            "0000:07:11.5"
        ]
    );
    for vf in &vfs {
        assert_eq!(driver_of(&devs, vf).as_deref(), Some("igbvf"));
        assert!(
            !devs[*vf]["netdevs"].as_array().unwrap().is_empty(),
            "{vf} has its netdev"
        );
    }
    // Same count again: nothing to do, no change set.
    let jdir = root.join(JOURNAL).join("journal");
    let sets = std::fs::read_dir(&jdir).unwrap().count();
    let out = ok(&passthru(root, &["vfs", "06:00.1", "4", "-y"]));
    assert!(out.contains("already has 4 VFs"), "{out}");
    assert_eq!(std::fs::read_dir(&jdir).unwrap().count(), sets);
}

#[test]
fn creation_from_zero_and_json_result() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    ok(&passthru(root, &["vfs", "eno3", "0", "-y"]));
    let devs = agree(root);
    assert_eq!(devs["0000:06:00.2"]["sriov"]["num_vfs"], 0);
    assert!(!devs.contains_key("0000:07:10.2"));
    let v = json(&passthru(root, &["--json", "vfs", "eno3", "3", "-y"]));
    assert_eq!(v["applied"], true);
    assert_eq!(v["converged"], true);
    assert_eq!(v["result"]["status"], "done");
    assert!(v["result"]["change_set"].as_str().unwrap().len() >= 15);
    // From 0 there is a single write.
    let w = writes(&m.log(), "0000:06:00.2/sriov_numvfs");
    assert_eq!(w.len(), 2, "0 then 3: {w:?}");
    let devs = agree(root);
    assert_eq!(devs["0000:06:00.2"]["virtfns"].as_array().unwrap().len(), 3);
}

#[test]
fn above_totalvfs_is_refused_with_what_erange_means() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    let before = dump(root);
    let err = fails(&passthru(root, &["vfs", "eno2", "9", "-y"]));
    assert!(
        err.contains("9 is more VFs than 0000:06:00.1 supports (sriov_totalvfs is 8)"),
        "{err}"
    );
    assert!(
        err.contains("ERANGE") && err.contains("ask for at most 8 VFs"),
        "{err}"
    );
    assert!(err.contains("--force does not override this"));
    assert_same(&before, &dump(root), "a refused change");
    let v = json(&passthru(root, &["--json", "vfs", "eno2", "9"]));
    assert_eq!(v["refused"][0]["device"], "0000:06:00.1");
    assert_eq!(v["refused"][0]["forceable"], false);
}

#[test]
fn kernel_answers_are_decoded_and_nothing_is_left_changed() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    let before = dump(root);
    // The very first write fails: nothing was changed, and the errno is explained.
    m.fault("sys/bus/pci/devices/0000:06:00.1/sriov_numvfs", "EIO", 1)
        .unwrap();
    let err = fails(&passthru(root, &["vfs", "eno2", "4", "-y"]));
    assert!(err.contains("EIO") && err.contains("dmesg"), "{err}");
    assert!(err.contains("Nothing had been changed"), "{err}");
    assert_same(&before, &dump(root), "a failed first write");
    // From 0 the count is a single write; the kernel's ENOMEM means BAR space.
    ok(&passthru(root, &["vfs", "eno3", "0", "-y"]));
    let before = dump(root);
    m.fault("sys/bus/pci/devices/0000:06:00.2/sriov_numvfs", "ENOMEM", 1)
        .unwrap();
    let err = fails(&passthru(root, &["vfs", "eno3", "4", "-y"]));
    assert!(
        err.contains("ENOMEM") && err.contains("pci=realloc"),
        "{err}"
    );
    assert_same(&before, &dump(root), "ENOMEM");
    // ENOSPC: MSI-X vectors (ice on hosts with many CPUs).
    m.fault("sys/bus/pci/devices/0000:06:00.2/sriov_numvfs", "ENOSPC", 1)
        .unwrap();
    let err = fails(&passthru(root, &["vfs", "eno3", "4", "-y"]));
    assert!(err.contains("ENOSPC") && err.contains("MSI-X"), "{err}");
    // ERANGE from the kernel (a driver with a lower limit than sriov_totalvfs).
    m.fault("sys/bus/pci/devices/0000:06:00.2/sriov_numvfs", "ERANGE", 1)
        .unwrap();
    let err = fails(&passthru(root, &["vfs", "eno3", "8", "-y"]));
    assert!(
        err.contains("ERANGE") && err.contains("firmware setting may cap"),
        "{err}"
    );
    assert_same(&before, &dump(root), "after three refused writes");
    // EBUSY on the 0 itself: a driver that refuses to remove VFs a guest holds.
    m.fault("sys/bus/pci/devices/0000:06:00.1/sriov_numvfs", "EBUSY", 1)
        .unwrap();
    let err = fails(&passthru(root, &["vfs", "eno2", "0", "-y"]));
    assert!(
        err.contains("EBUSY") && err.contains("a guest or a process holds a VF"),
        "{err}"
    );
    agree(root);
}

#[test]
fn a_change_through_zero_that_fails_midway_puts_the_old_vfs_back() {
    // A PF with room for 64 VFs behind a port whose firmware reserved only bus 07:
    // the kernel creates nothing past it and fails the whole write with ENOMEM.
    let mut spec = host_spec();
    spec.device_mut(passthru_testsupport::bdf("0000:06:00.1"))
        .unwrap()
        .sriov
        .as_mut()
        .unwrap()
        .total_vfs = 64;
    spec.device_mut(passthru_testsupport::bdf("0000:00:1c.0"))
        .unwrap()
        .subordinate_bus = Some(7);
    let Some(m) = mount(&spec) else { return };
    let root = m.root();
    // VFs the simulator created (the boot image's VFs carry attributes, IRQs and
    // group numbers of their own that a re-created VF cannot have; on a real kernel
    // re-created VFs also get fresh group numbers and MACs).
    ok(&passthru(root, &["vfs", "eno2", "0", "-y"]));
    ok(&passthru(root, &["vfs", "eno2", "2", "-y"]));
    let before = dump(root);
    let err = fails(&passthru(
        root,
        &["vfs", "eno2", "40", "-y", "--timeout", "10"],
    ));
    // 0 went through (the 2 VFs were removed), then 40 failed.
    let w = writes(&m.log(), "0000:06:00.1/sriov_numvfs");
    assert!(w[2].contains("\"0") && w[3].contains("\"40"), "{w:?}");
    assert!(
        err.contains("Failed at step 3") && err.contains("ENOMEM"),
        "{err}"
    );
    assert!(err.contains("Rolled back"), "{err}");
    // The rollback created the 2 VFs again, on their driver, with their interfaces.
    assert_same(&before, &dump(root), "rolled back through 0");
    let devs = agree(root);
    assert_eq!(driver_of(&devs, "0000:07:10.5").as_deref(), Some("igbvf"));
    let out = ok(&passthru(root, &["undo", "--list"]));
    assert!(out.contains("rolled back"), "{out}");
}

#[test]
fn no_pf_driver_is_refused_with_what_enoent_means() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    // Unbind the PF (the simulator removes its VFs, as igb's remove does).
    std::fs::write(root.join("sys/bus/pci/drivers/igb/unbind"), "0000:06:00.2").unwrap();
    let before = dump(root);
    let err = fails(&passthru(root, &["vfs", "06:00.2", "2", "-y"]));
    assert!(
        err.contains("has no driver bound") && err.contains("ENOENT"),
        "{err}"
    );
    assert!(err.contains("modprobe igb"), "{err}");
    assert_same(&before, &dump(root), "refused");
    // On vfio-pci (without enable_sriov) the PF has a driver, but one that cannot
    // create VFs: the kernel answers ENOENT too, and the reason is not "no driver".
    ok(&passthru(root, &["bind", "06:00.2", "--vfio", "-y"]));
    let err = fails(&passthru(root, &["vfs", "06:00.2", "2", "-y"]));
    assert!(
        err.contains("0000:06:00.2 is bound to vfio-pci, which creates VFs only when loaded with enable_sriov=1"),
        "{err}"
    );
    assert!(err.contains("passthru bind 0000:06:00.2 --host"), "{err}");
    ok(&passthru(root, &["undo", "-y"]));
    // The kernel's own ENOENT, if the driver goes away between plan and write, is
    // decoded the same way.
    let devs = agree(root);
    assert_eq!(driver_of(&devs, "0000:06:00.2"), None);
}

#[test]
fn vfs_on_vfio_or_held_by_a_guest_are_protected() {
    let mut spec = host_spec().file(
        "run/libvirt/qemu/web1.xml",
        "<domstatus state='running'><domain type='kvm'><name>web1</name><devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x07' slot='0x10' function='0x5'/></source></hostdev></devices></domain></domstatus>\n",
    );
    spec.hostname = Some("compute-1".into());
    let Some(m) = mount(&spec) else { return };
    let root = m.root();
    let before = dump(root);
    // eno4's VF 07:10.7 is on vfio-pci.
    let err = fails(&passthru(root, &["vfs", "eno4", "0", "-y"]));
    assert!(
        err.contains("VF 0000:07:10.7 is bound to vfio-pci"),
        "{err}"
    );
    // eno2's VF 07:10.5 is in a running guest.
    let err = fails(&passthru(root, &["vfs", "eno2", "4", "-y"]));
    assert!(
        err.contains("VF 0000:07:10.5 is in use by libvirt domain web1"),
        "{err}"
    );
    assert_same(&before, &dump(root), "refusals");
    // --force: done, and said.
    let out = ok(&passthru(root, &["vfs", "eno4", "0", "-y", "--force"]));
    assert!(out.contains("warning: --force: VF 0000:07:10.7"), "{out}");
    let devs = agree(root);
    assert_eq!(devs["0000:06:00.3"]["sriov"]["num_vfs"], 0);
}

#[test]
fn the_plan_says_whether_the_count_outlives_a_reboot() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    // No host file: a runtime change, and how to keep it.
    let out = ok(&passthru(root, &["vfs", "eno2", "4"]));
    assert!(
        out.contains("note: VF counts are runtime state: after a reboot eno2 has no VFs again; to keep 4, put `[[sriov]] pf = \"eno2\" vfs = 4` in a host file"),
        "{out}"
    );
    // The installed host file asks for another count: the boot unit will undo this.
    std::fs::create_dir_all(root.join("etc/passthru")).unwrap();
    std::fs::write(
        root.join("etc/passthru/host.toml"),
        "[[sriov]]\npf = \"0000:06:00.1\"\nvfs = 2\n",
    )
    .unwrap();
    let out = ok(&passthru(root, &["vfs", "eno2", "4"]));
    assert!(
        out.contains("warning: /etc/passthru/host.toml asks for 2 VFs on eno2: the boot unit puts 2 back at the next boot"),
        "{out}"
    );
    let out = ok(&passthru(root, &["vfs", "eno2", "0"]));
    assert!(out.contains("puts 2 back"), "{out}");
    // A broken installed file is said: the boot unit would fail on it.
    std::fs::write(root.join("etc/passthru/host.toml"), "[[sriov]]\npf = 4\n").unwrap();
    let out = ok(&passthru(root, &["vfs", "eno2", "4"]));
    assert!(
        out.contains("warning: the installed host file does not parse, so the boot unit will fail: /etc/passthru/host.toml:"),
        "{out}"
    );
}

#[test]
fn an_interrupted_change_set_is_said_and_undone() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    // A change set whose process died after its last step (power lost before it
    // could write "done"): its journal still says in progress.
    let v = json(&passthru(root, &["--json", "vfs", "eno2", "4", "-y"]));
    let id = v["result"]["change_set"].as_str().unwrap().to_string();
    let jpath = root.join(format!("{JOURNAL}/journal/{id}/journal.json"));
    let text = std::fs::read_to_string(&jpath).unwrap();
    assert!(text.contains("\"status\": \"done\""), "{text}");
    std::fs::write(
        &jpath,
        text.replacen("\"status\": \"done\"", "\"status\": \"in_progress\"", 1),
    )
    .unwrap();
    // Every change command says so.
    let out = ok(&passthru(root, &["vfs", "eno3", "0"]));
    assert!(
        out.contains(&format!("warning: change set {id} (set the VF count of 0000:06:00.1 (eno2) from 2 to 4) is unfinished")),
        "{out}"
    );
    assert!(
        out.contains(&format!("`passthru undo {id}` puts back what it did")),
        "{out}"
    );
    // The next change set (holding the lock) marks it interrupted...
    ok(&passthru(root, &["vfs", "eno3", "0", "-y"]));
    ok(&passthru(root, &["undo", "-y"]));
    let list = json(&passthru(root, &["--json", "undo", "--list"]));
    let it = list["change_sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap();
    assert_eq!(it["status"], "interrupted");
    // ...and, once the eno3 change is undone, undo picks it by default.
    let out = ok(&passthru(root, &["undo", "-y"]));
    assert!(out.contains(&format!("undo change set {id}")), "{out}");
    assert!(!out.contains("is unfinished"), "{out}");
    let devs = agree(root);
    assert_eq!(devs["0000:06:00.1"]["sriov"]["num_vfs"], 2);
    let out = ok(&passthru(root, &["vfs", "eno3", "0"]));
    assert!(
        !out.contains("interrupted"),
        "undone: no more warning: {out}"
    );
    for vf in ["0000:07:10.1", "0000:07:10.5"] {
        assert_eq!(driver_of(&devs, vf).as_deref(), Some("igbvf"), "{vf}");
    }
}

/// Issue 9, defect 7: after a reboot ended a change set's runtime effects, `undo -y`
/// has nothing to do, and marks the set undone: the next `undo` does not pick it again.
#[test]
fn undo_after_a_reboot_marks_the_set_undone() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    let out = ok(&passthru(root, &["vfs", "eno2", "4", "--yes"]));
    assert!(out.contains("Converged"), "{out}");
    let v = json(&passthru(root, &["--json", "undo", "--list"]));
    let id = v["change_sets"][0]["id"].as_str().unwrap().to_string();
    m.reboot().unwrap();
    let out = ok(&passthru(root, &["undo", "-y"]));
    assert!(out.contains("nothing to do"), "{out}");
    let v = json(&passthru(root, &["--json", "undo", "--list"]));
    let set = v["change_sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap();
    assert_eq!(set["status"], "undone", "{v:#}");
    // The next undo finds nothing left to undo.
    let o = passthru(root, &["undo", "-y"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("nothing to undo"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
