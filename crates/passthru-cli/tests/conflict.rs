//! Other owners (`conflict.*`) through the real binary: the seeds' I350 host (four
//! PFs eno1-eno4 at 06:00.0-3 with 2 VFs each, 07:10.7 on vfio-pci) plus one kind of
//! other owner at a time. doctor names the owner, what it does and when; `why`
//! shows it; `apply` warns, and refuses without --force when the owner will undo the
//! host file at boot; a snapshot carries the claims.

use passthru_testsupport::{scenarios, HostSpec};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn passthru(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run passthru")
}

fn written(h: &HostSpec) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    h.write(t.path()).unwrap();
    t
}

/// `(id, severity, device, message)` of every conflict finding of `doctor --json`.
fn conflicts(root: &Path) -> Vec<(String, String, Option<String>, String)> {
    let o = passthru(root, &["doctor", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&o.stderr));
    });
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"].as_str().unwrap().starts_with("conflict."))
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["device"].as_str().map(str::to_string),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The only warning and failure conflict findings: exactly one per expected `(id, severity, device)`.
fn assert_found(
    got: &[(String, String, Option<String>, String)],
    want: &[(&str, &str, &str, &[&str])],
) {
    let problems: Vec<_> = got
        .iter()
        .filter(|f| f.1 == "warn" || f.1 == "fail")
        .collect();
    assert_eq!(problems.len(), want.len(), "{got:#?}");
    for (id, sev, dev, words) in want {
        let f = problems
            .iter()
            .find(|f| f.0 == *id && f.2.as_deref() == Some(*dev))
            .unwrap_or_else(|| panic!("no {id} for {dev} in {got:#?}"));
        assert_eq!(f.1, *sev, "{f:?}");
        for w in *words {
            assert!(f.3.contains(w), "'{w}' not in {}", f.3);
        }
    }
}

const ENO2: &str = "0000:06:00.1";

#[test]
fn no_other_owner_passes() {
    let t = written(&scenarios::i350());
    let got = conflicts(t.path());
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got.iter().all(|f| f.1 == "pass"));
}

#[test]
fn networkmanager_connection_sets_the_vf_count() {
    let h = scenarios::i350().file(
        "etc/NetworkManager/system-connections/eno2.nmconnection",
        "[connection]\nid=storage\ntype=ethernet\ninterface-name=eno2\n\n[sriov]\ntotal-vfs=4\n",
    );
    let t = written(&h);
    assert_found(
        &conflicts(t.path()),
        &[(
            "conflict.vf-count",
            "warn",
            ENO2,
            &[
                "NetworkManager (connection 'storage', /etc/NetworkManager/system-connections/eno2.nmconnection:7)",
                "sets 4 VFs on eno2 (0000:06:00.1)",
                "activates the connection",
                "it has 2 VFs now",
            ],
        )],
    );
    // With a host file installed that asks for 2, NetworkManager undoes it: FAIL.
    let h = h.file(
        "etc/passthru/host.toml",
        "[[sriov]]\npf = \"eno2\"\nvfs = 2\n",
    );
    let t = written(&h);
    assert_found(
        &conflicts(t.path()),
        &[(
            "conflict.vf-count",
            "fail",
            ENO2,
            &["but /etc/passthru/host.toml asks for 2 VFs", "undoes"],
        )],
    );
    // doctor's text report has the section, the fix names nmcli.
    let o = passthru(t.path(), &["doctor"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("Other owners (what else sets VF counts and drivers at boot)"),
        "{text}"
    );
    assert!(
        text.contains("nmcli connection modify 'storage' remove sriov"),
        "{text}"
    );
    assert_eq!(o.status.code(), Some(2));
    // `why` shows the owner for the PF and for its VFs.
    let o = passthru(t.path(), &["why", "07:10.1", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let link = v["chains"][0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["link"] == "owners")
        .unwrap_or_else(|| panic!("no owners link in {v:#}"));
    assert_eq!(link["severity"], "fail");
    assert!(link["findings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("NetworkManager"));
}

#[test]
fn apply_refuses_when_another_owner_undoes_the_file_at_boot() {
    let h = scenarios::i350().file(
        "etc/NetworkManager/system-connections/eno2.nmconnection",
        "[connection]\nid=storage\ninterface-name=eno2\n\n[sriov]\ntotal-vfs=4\n",
    );
    let t = written(&h);
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("host.toml");
    std::fs::write(&f, "[[sriov]]\npf = \"eno2\"\nvfs = 2\n").unwrap();
    let o = passthru(t.path(), &["apply", f.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        err.contains("NetworkManager (connection 'storage'")
            && err.contains("but the host file asks for 2 VFs"),
        "{err}"
    );
    // --force: the plan goes ahead, and says so.
    let o = passthru(t.path(), &["apply", f.to_str().unwrap(), "--force"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("--force: NetworkManager (connection 'storage'"),
        "{out}"
    );
    // Asking for the same count as NetworkManager: a warning, no refusal.
    std::fs::write(&f, "[[sriov]]\npf = \"eno2\"\nvfs = 4\n").unwrap();
    let o = passthru(t.path(), &["apply", f.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("the same as the host file asks, so two owners set it"),
        "{out}"
    );
}

#[test]
fn networkd_link_file() {
    let h = scenarios::i350().file(
        "etc/systemd/network/25-eno3.link",
        "[Match]\nPath=pci-0000:06:00.2\n\n[Link]\nSR-IOVVirtualFunctions=2\n",
    );
    let t = written(&h);
    let got = conflicts(t.path());
    let f = got.iter().find(|f| f.0 == "conflict.vf-count").unwrap();
    // The same count as now: who keeps it so, not a problem.
    assert_eq!(f.1, "info", "{f:?}");
    assert_eq!(f.2.as_deref(), Some("0000:06:00.2"));
    assert!(f.3.contains("systemd-networkd (25-eno3.link, /etc/systemd/network/25-eno3.link:5) sets 2 VFs on eno3"), "{}", f.3);
    assert!(f.3.contains("whenever the device appears"), "{}", f.3);
}

#[test]
fn driverctl_override_binds_back_at_boot() {
    let h = scenarios::i350().file("etc/driverctl.d/pci-0000:07:10.7", "igbvf\n");
    let t = written(&h);
    assert_found(
        &conflicts(t.path()),
        &[(
            "conflict.driver",
            "warn",
            "0000:07:10.7",
            &[
                "driverctl (driverctl@pci-0000:07:10.7.service",
                "binds 0000:07:10.7 to igbvf",
                "it has vfio-pci now",
            ],
        )],
    );
    // A host file that binds it to vfio-pci: refused, driverctl undoes it.
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("host.toml");
    std::fs::write(
        &f,
        "[[sriov]]\npf = \"eno4\"\nvfs = 2\n[vfio]\ndevices = [\"07:10.7\"]\n",
    )
    .unwrap();
    let o = passthru(t.path(), &["apply", f.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("binds 0000:07:10.7 to igbvf") && err.contains("asks for vfio-pci"),
        "{err}"
    );
    assert!(
        err.contains("driverctl unset-override 0000:07:10.7"),
        "{err}"
    );
}

#[test]
fn udev_rule_writes_sriov_numvfs() {
    let h = scenarios::i350().file(
        "etc/udev/rules.d/70-sriov.rules",
        "ACTION==\"add\", SUBSYSTEM==\"net\", KERNEL==\"eno1\", ATTR{device/sriov_numvfs}=\"7\"\n",
    );
    let t = written(&h);
    assert_found(
        &conflicts(t.path()),
        &[(
            "conflict.vf-count",
            "warn",
            "0000:06:00.0",
            &["a udev rule (/etc/udev/rules.d/70-sriov.rules:1) sets 7 VFs on eno1"],
        )],
    );
}

#[test]
fn modprobe_max_vfs_applies_to_every_pf_of_the_driver() {
    let h = scenarios::i350().file("etc/modprobe.d/igb.conf", "options igb max_vfs=7\n");
    let t = written(&h);
    let got = conflicts(t.path());
    let warned: Vec<_> = got.iter().filter(|f| f.1 == "warn").collect();
    assert_eq!(warned.len(), 4, "{got:#?}");
    assert!(
        warned[0]
            .3
            .contains("modprobe.d (options igb max_vfs=7, /etc/modprobe.d/igb.conf:1) sets 7 VFs"),
        "{}",
        warned[0].3
    );
    assert!(
        warned[0].3.contains("driver module loads"),
        "{}",
        warned[0].3
    );
}

#[test]
fn vfio_pci_ids_on_the_next_boots_command_line() {
    let h = scenarios::i350().file(
        "etc/default/grub",
        "GRUB_CMDLINE_LINUX=\"rhgb quiet intel_iommu=on vfio-pci.ids=8086:1520\"\n",
    );
    let t = written(&h);
    let got = conflicts(t.path());
    let drv: Vec<_> = got.iter().filter(|f| f.0 == "conflict.driver").collect();
    // Every I350 VF: 7 on igbvf now (warn), 07:10.7 already on vfio-pci (info).
    assert_eq!(drv.len(), 8, "{got:#?}");
    assert_eq!(drv.iter().filter(|f| f.1 == "warn").count(), 7);
    let f = drv
        .iter()
        .find(|f| f.2.as_deref() == Some("0000:07:10.7"))
        .unwrap();
    assert_eq!(f.1, "info");
    assert!(
        f.3.contains("the kernel command line (vfio-pci ids=8086:1520, /etc/default/grub:1)"),
        "{}",
        f.3
    );
}

#[test]
fn rc_local_and_systemd_units_write_sysfs() {
    let h = scenarios::i350()
        .file("etc/rc.local", "#!/bin/sh\necho 8 > /sys/class/net/eno3/device/sriov_numvfs\nexit 0\n")
        .file(
            "etc/systemd/system/vfs-eno4.service",
            "[Unit]\nDescription=VFs\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo 6 > /sys/bus/pci/devices/0000:06:00.3/sriov_numvfs'\n[Install]\nWantedBy=multi-user.target\n",
        )
        .symlink(
            "etc/systemd/system/multi-user.target.wants/vfs-eno4.service",
            "../vfs-eno4.service",
        )
        .file(
            "etc/systemd/system/vfs-eno1.service",
            "[Service]\nExecStart=/bin/sh -c 'echo 5 > /sys/class/net/eno1/device/sriov_numvfs'\n",
        );
    let t = written(&h);
    let got = conflicts(t.path());
    assert_found(
        &got,
        &[
            ("conflict.vf-count", "warn", "0000:06:00.2", &["a boot script (/etc/rc.local:2) sets 8 VFs on eno3", "at every boot"]),
            ("conflict.vf-count", "warn", "0000:06:00.3", &["a systemd unit (vfs-eno4.service, /etc/systemd/system/vfs-eno4.service:5) sets 6 VFs on eno4"]),
        ],
    );
    // Not enabled: said, not a warning.
    let off = got
        .iter()
        .find(|f| f.2.as_deref() == Some("0000:06:00.0"))
        .unwrap();
    assert_eq!(off.1, "info");
    assert!(off.3.contains("is disabled"), "{}", off.3);
}

#[test]
fn os_net_config_replays_sriov_pf() {
    let h = scenarios::i350().file(
        "var/lib/os-net-config/sriov_config.yaml",
        "- device_type: pf\n  name: eno1\n  numvfs: 4\n  link_mode: legacy\n",
    );
    let t = written(&h);
    assert_found(
        &conflicts(t.path()),
        &[(
            "conflict.vf-count",
            "warn",
            "0000:06:00.0",
            &["os-net-config (sriov_config.service, /var/lib/os-net-config/sriov_config.yaml:1) sets 4 VFs on eno1"],
        )],
    );
}

#[test]
fn sriov_operator_config_daemon() {
    let h = scenarios::i350().file(
        "etc/sriov-operator/sriov-interface-config.yaml",
        "spec:\n  interfaces:\n  - pciAddress: \"0000:06:00.3\"\n    numVfs: 2\n    name: eno4\n    vfGroups:\n    - resourceName: intel_vfio\n      deviceType: vfio-pci\n      vfRange: 0-1\n",
    ).file(
        "etc/sriov-operator/pci/0000:06:00.0",
        r#"{"pciAddress":"0000:06:00.0","numVfs":3,"name":"eno1"}"#,
    );
    let t = written(&h);
    let got = conflicts(t.path());
    assert_found(
        &got,
        &[
            // VF 0 of eno4 is on igbvf now; VF 1 (07:10.7) already on vfio-pci.
            (
                "conflict.driver",
                "warn",
                "0000:07:10.3",
                &[
                    "the SR-IOV network operator (sriov-config.service",
                    "binds enp7s16f3 (0000:07:10.3) to vfio-pci",
                ],
            ),
            (
                "conflict.vf-count",
                "warn",
                "0000:06:00.0",
                &[
                    "sriov-network-config-daemon",
                    "sets 3 VFs on eno1",
                    "at every sync of its config daemon",
                ],
            ),
        ],
    );
}

#[test]
fn a_snapshot_carries_the_owners_and_an_old_one_still_loads() {
    let h = scenarios::i350().file("etc/driverctl.d/pci-0000:07:10.7", "igbvf\n");
    let t = written(&h);
    let o = passthru(t.path(), &["snapshot"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let snap = t.path().join("snap.json");
    std::fs::write(&snap, &o.stdout).unwrap();
    let run = |p: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_passthru"))
            .arg("--snapshot")
            .arg(p)
            .args(["doctor", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    let v = run(&snap);
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "warn")
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(ids.contains(&"conflict.driver"), "{ids:?}");
    // Without the owners field (a snapshot from before it existed): loads, no claim.
    let mut old: Value = serde_json::from_slice(&o.stdout).unwrap();
    old["system"].as_object_mut().unwrap().remove("owners");
    std::fs::write(&snap, serde_json::to_vec(&old).unwrap()).unwrap();
    let v = run(&snap);
    assert!(!v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"].as_str().unwrap().starts_with("conflict.")));
}
