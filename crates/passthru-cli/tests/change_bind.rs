//! `passthru bind` end to end on the kernel simulator: a VF to vfio-pci and back, a
//! whole multi-function GPU group, refusal of a group with a foreign member, refusal
//! of the default-route NIC and of the SSH session's NIC; lspci agrees after each.

mod change_common;
use change_common::*;

#[test]
fn a_vf_goes_to_vfio_and_back_to_its_host_driver() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    let before = dump(root);
    let out = ok(&passthru(root, &["bind", "07:10.1", "--vfio"]));
    assert!(
        out.contains("write vfio-pci to sys/bus/pci/devices/0000:07:10.1/driver_override"),
        "{out}"
    );
    assert!(
        out.contains("write 0000:07:10.1 to sys/bus/pci/drivers/igbvf/unbind"),
        "{out}"
    );
    assert!(
        out.contains("write 0000:07:10.1 to sys/bus/pci/drivers_probe"),
        "{out}"
    );
    assert_same(&before, &dump(root), "the plan alone");
    let out = ok(&passthru(root, &["bind", "07:10.1", "--vfio", "-y"]));
    assert!(
        out.contains("Converged") && out.contains("0000:07:10.1 is on vfio-pci (IOMMU group 34)"),
        "{out}"
    );
    let devs = agree(root);
    assert_eq!(
        driver_of(&devs, "0000:07:10.1").as_deref(),
        Some("vfio-pci")
    );
    assert_eq!(devs["0000:07:10.1"]["driver_override"], "vfio-pci");
    assert!(
        root.join("dev/vfio/34").exists(),
        "the group's device node appeared"
    );
    // Its interface is gone with igbvf: the name no longer resolves, and says so.
    let err = fails(&passthru(root, &["bind", "enp7s16f1", "--vfio"]));
    assert!(err.contains("no device 'enp7s16f1'"), "{err}");
    // Again: nothing to do.
    let out = ok(&passthru(root, &["bind", "0000:07:10.1", "--vfio", "-y"]));
    assert!(out.contains("already bound to vfio-pci"), "{out}");
    // Back to the host: override cleared, igbvf probes it, its netdev returns.
    let out = ok(&passthru(root, &["bind", "07:10.1", "--host", "-y"]));
    assert!(
        out.contains("clear sys/bus/pci/devices/0000:07:10.1/driver_override"),
        "{out}"
    );
    let devs = agree(root);
    assert_eq!(driver_of(&devs, "0000:07:10.1").as_deref(), Some("igbvf"));
    assert!(devs["0000:07:10.1"]["driver_override"].is_null());
    assert_eq!(devs["0000:07:10.1"]["netdevs"][0], "enp7s16f1");
    assert_same(&before, &dump(root), "to vfio-pci and back");
}

#[test]
fn a_multifunction_gpu_moves_as_a_whole_group() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    let before = dump(root);
    // One function alone would leave group 50 not viable: refused, naming the other.
    let err = fails(&passthru(root, &["bind", "81:00.0", "--vfio", "-y"]));
    assert!(
        err.contains("IOMMU group 50 of 0000:81:00.0 also holds 0000:81:00.1 [10de:10f0]")
            && err.contains("(snd_hda_intel)"),
        "{err}"
    );
    assert!(err.contains("--group"), "{err}");
    assert_same(&before, &dump(root), "refused");
    // --group takes every function of the card.
    let out = ok(&passthru(
        root,
        &["bind", "81:00.0", "--group", "--vfio", "-y"],
    ));
    assert!(
        out.contains("bind 0000:81:00.0, 0000:81:00.1 to vfio-pci"),
        "{out}"
    );
    let devs = agree(root);
    assert_eq!(
        driver_of(&devs, "0000:81:00.0").as_deref(),
        Some("vfio-pci")
    );
    assert_eq!(
        driver_of(&devs, "0000:81:00.1").as_deref(),
        Some("vfio-pci")
    );
    assert_eq!(
        driver_of(&devs, "0000:00:03.0").as_deref(),
        Some("pcieport"),
        "the port stays"
    );
    assert!(
        root.join("dev/vfio/50").exists(),
        "the whole group is viable for vfio"
    );
    // Undo gives both functions back to their drivers, exactly.
    ok(&passthru(root, &["undo", "-y"]));
    agree(root);
    assert_same(&before, &dump(root), "undo of a group bind");
}

#[test]
fn a_group_shared_with_another_device_is_refused() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    let before = dump(root);
    for args in [
        &["bind", "82:00.0", "--vfio", "-y"][..],
        &["bind", "82:00.0", "--group", "--vfio", "-y"][..],
        &["bind", "10de:1b80", "--vfio", "-y"][..],
    ] {
        let err = fails(&passthru(root, args));
        assert!(
            err.contains("IOMMU group 51 of 0000:82:00.0 also holds 0000:83:00.0 [1000:0097]")
                && err.contains("(mpt3sas), a different device"),
            "{args:?}: {err}"
        );
    }
    assert_same(&before, &dump(root), "refused");
    let v = json(&passthru(root, &["--json", "bind", "82:00.0", "--vfio"]));
    assert_eq!(v["refused"][0]["device"], "0000:82:00.0");
    assert_eq!(v["refused"][0]["forceable"], true);
    agree(root);
}

#[test]
fn the_default_route_and_ssh_session_nics_are_refused() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    let before = dump(root);
    // eno1 carries the default route (proc/net/route, as in the first seed).
    let err = fails(&passthru(root, &["bind", "eno1", "--vfio", "-y"]));
    assert!(
        err.contains("0000:06:00.0 is the network interface eno1, which carries the default route"),
        "{err}"
    );
    // eno2 is not routed by default, but this SSH session arrives on it.
    let ssh = [("SSH_CONNECTION", "192.168.5.77 50022 192.168.5.10 22")];
    let err = fails(&passthru_env(
        root,
        &["bind", "eno2", "--driver", "pci-stub", "-y"],
        &ssh,
    ));
    assert!(
        err.contains("eno2, which carries this SSH session (local address 192.168.5.10)"),
        "{err}"
    );
    assert_same(&before, &dump(root), "refused");
    // The same without the session, but eno2 still has VFs: refused for that.
    let err = fails(&passthru(root, &["bind", "eno2", "--vfio", "-y"]));
    assert!(err.contains("PF with 2 VFs"), "{err}");
    // --force from a console does it (eno3: no route, no session; VFs removed first).
    ok(&passthru(root, &["vfs", "eno3", "0", "-y"]));
    let out = ok(&passthru_env(root, &["bind", "eno3", "--vfio", "-y"], &ssh));
    assert!(out.contains("Converged"), "{out}");
    let devs = agree(root);
    assert_eq!(
        driver_of(&devs, "0000:06:00.2").as_deref(),
        Some("vfio-pci")
    );
    // Forced, the default-route PF goes too (its VFs with it): said, and done.
    let out = ok(&passthru(
        root,
        &["bind", "eno1", "--vfio", "-y", "--force"],
    ));
    assert!(
        out.contains("warning: --force: 0000:06:00.0 is the network interface eno1"),
        "{out}"
    );
    let devs = agree(root);
    assert_eq!(
        driver_of(&devs, "0000:06:00.0").as_deref(),
        Some("vfio-pci")
    );
}

#[test]
fn another_driver_by_name_and_a_driver_that_is_not_loaded() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    let before = dump(root);
    // pci-stub is not loaded, and this root has no modprobe: the plan loads it first,
    // the step is skipped under --root, the bind stops (the driver is not registered:
    // no use waiting out the 60 s) and everything is undone.
    let out = passthru(root, &["bind", "07:10.2", "--driver", "pci-stub", "-y"]);
    let all = fails(&out);
    assert!(all.contains("run modprobe pci_stub"), "{all}");
    assert!(
        all.contains("0000:07:10.2 cannot be bound to pci-stub: the driver is not loaded (no sys/bus/pci/drivers/pci-stub); load it (`modprobe pci_stub`)"),
        "{all}"
    );
    assert!(!all.contains("timed out"), "{all}");
    assert!(all.contains("Rolled back"), "{all}");
    assert_same(&before, &dump(root), "a bind to a driver that never came");
    // Loaded (the simulator's modprobe), the same command converges.
    m.ctl("modprobe pci-stub").unwrap();
    let out = ok(&passthru(
        root,
        &["bind", "07:10.2", "--driver", "pci-stub", "-y"],
    ));
    assert!(!out.contains("modprobe"), "{out}");
    let devs = agree(root);
    assert_eq!(
        driver_of(&devs, "0000:07:10.2").as_deref(),
        Some("pci-stub")
    );
    assert_eq!(devs["0000:07:10.2"]["driver_override"], "pci-stub");
}

#[test]
fn the_plan_says_whether_the_binding_outlives_a_reboot() {
    let Some(m) = mount(&host_spec()) else { return };
    let root = m.root();
    let out = ok(&passthru(root, &["bind", "07:10.2", "--vfio"]));
    assert!(
        out.contains("note: drivers and driver_override are runtime state: after a reboot 0000:07:10.2 goes back to its host driver; to keep it on vfio-pci, put `[vfio] devices = [\"0000:07:10.2\"]` with `[[sriov]] pf = \"eno3\" vfs = 2` (the VFs exist at boot only if the file creates them) in a host file"),
        "{out}"
    );
    // Issue 9 (15): the suggested lines, as a host file, are what apply accepts.
    let f = root.join("suggested.toml");
    std::fs::write(
        &f,
        "[[sriov]]\npf = \"eno3\"\nvfs = 2\n[vfio]\ndevices = [\"0000:07:10.2\"]\n",
    )
    .unwrap();
    ok(&passthru(root, &["apply", f.to_str().unwrap()]));
    std::fs::remove_file(&f).unwrap();
    // The installed host file selects eno4's VFs: giving 07:10.7 back lasts one boot.
    std::fs::create_dir_all(root.join("etc/passthru")).unwrap();
    std::fs::write(
        root.join("etc/passthru/host.toml"),
        "[[sriov]]\npf = \"eno4\"\nvfs = 2\n[vfio]\nvfs_of = [\"eno4\"]\n",
    )
    .unwrap();
    let out = ok(&passthru(root, &["bind", "07:10.3", "--vfio", "-y"]));
    assert!(
        !out.contains("runtime state"),
        "the host file keeps it: {out}"
    );
    let out = ok(&passthru(root, &["bind", "07:10.3", "--host"]));
    assert!(
        out.contains("warning: /etc/passthru/host.toml binds 0000:07:10.3 to vfio-pci: the boot unit takes it back at the next boot"),
        "{out}"
    );
}

#[test]
fn giving_back_a_device_vfio_pci_claims_by_id_is_refused() {
    let spec = host_spec().file(
        "etc/modprobe.d/vfio.conf",
        "options vfio-pci ids=10de:1b80\n",
    );
    let Some(m) = mount(&spec) else { return };
    let root = m.root();
    let before = dump(root);
    // The seed's 07:10.7 sits on vfio-pci with no override: a new_id put it there, and
    // vfio-pci would take it again as soon as it is probed.
    let err = fails(&passthru(root, &["bind", "07:10.7", "--host", "-y"]));
    assert!(
        err.contains("0000:07:10.7 is on vfio-pci without a driver_override, so vfio-pci claims 8086:1520 by id"),
        "{err}"
    );
    assert!(
        err.contains("`echo '8086 1520' > /sys/bus/pci/drivers/vfio-pci/remove_id`"),
        "{err}"
    );
    // ids= in modprobe.d: the GPU, once on vfio-pci, cannot be given back by --host.
    ok(&passthru(
        root,
        &["bind", "81:00.0", "--group", "--vfio", "-y"],
    ));
    let mid = dump(root);
    let err = fails(&passthru(root, &["bind", "81:00.0", "--host", "-y"]));
    assert!(
        err.contains("vfio-pci claims 10de:1b80 by id (ids= in /etc/modprobe.d/vfio.conf:1)"),
        "{err}"
    );
    assert!(
        err.contains("take the id out of /etc/modprobe.d/vfio.conf:1"),
        "{err}"
    );
    assert_same(&mid, &dump(root), "refused");
    // --driver NAME sets an override, which vfio-pci's ids cannot beat: allowed.
    ok(&passthru(
        root,
        &["bind", "81:00.0", "81:00.1", "--driver", "nouveau"],
    ));
    ok(&passthru(root, &["undo", "-y"]));
    assert_same(&before, &dump(root), "undone");
}

#[test]
fn a_gpu_vfio_pci_holds_by_id_goes_back_once_the_id_is_dropped() {
    // The two-socket scenario boots its GPU (d8:00.0 and its audio d8:00.1, one group)
    // on vfio-pci with no override: vfio-pci holds their ids (ids= at boot).
    let Some(m) = mount(&passthru_testsupport::scenarios::two_socket()) else {
        return;
    };
    let root = m.root();
    let before = dump(root);
    let err = fails(&passthru(
        root,
        &["bind", "d8:00.0", "d8:00.1", "--host", "-y"],
    ));
    assert!(
        err.contains("0000:d8:00.0 is on vfio-pci without a driver_override, so vfio-pci claims 10de:24b0 by id"),
        "{err}"
    );
    assert_same(&before, &dump(root), "refused");
    // Following the fix: drop the ids from the running vfio-pci, then --force.
    for id in ["10de 24b0", "10de 228b"] {
        std::fs::write(root.join("sys/bus/pci/drivers/vfio-pci/remove_id"), id).unwrap();
    }
    let out = ok(&passthru(
        root,
        &["bind", "d8:00.0", "d8:00.1", "--host", "-y", "--force"],
    ));
    // No host driver for this GPU is loaded: off vfio-pci, on no driver, converged.
    assert!(out.contains("Converged"), "{out}");
    assert!(out.contains("0000:d8:00.0 is on no driver"), "{out}");
    let devs = agree(root);
    assert_eq!(driver_of(&devs, "0000:d8:00.0"), None);
    assert_eq!(driver_of(&devs, "0000:d8:00.1"), None);
    assert!(!root.join("dev/vfio/90").exists(), "the group left vfio");
    // Undo puts both back on vfio-pci, without an override, as they were (this tree
    // had no var/: the journal's parents are new).
    ok(&passthru(root, &["undo", "-y"]));
    agree(root);
    let mut after = dump(root);
    after.remove("var");
    after.remove("var/lib");
    assert_same(&before, &after, "undone");
    // Dropped until the next boot (remove_id finds nothing: ENODEV), which gives
    // vfio-pci its ids again.
    let e = std::fs::write(
        root.join("sys/bus/pci/drivers/vfio-pci/remove_id"),
        "10de 24b0",
    );
    assert_eq!(e.unwrap_err().raw_os_error(), Some(19), "ENODEV");
    m.reboot().unwrap();
    let devs = agree(root);
    assert_eq!(
        driver_of(&devs, "0000:d8:00.0").as_deref(),
        Some("vfio-pci")
    );
    std::fs::write(
        root.join("sys/bus/pci/drivers/vfio-pci/remove_id"),
        "10de 24b0",
    )
    .unwrap();
}
