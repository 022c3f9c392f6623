//! Shared by the change commands' end-to-end tests: the simulated host, running the
//! real `passthru` binary on it, full tree dumps, and the lspci judge.
#![allow(dead_code)]

use passthru_testsupport::sim::harness::fuse_or_skip;
use passthru_testsupport::sim::SimMount;
use passthru_testsupport::{bdf, scenarios, DeviceSpec, HostSpec, LinkSpec, PortType};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// The first seed's route table (`route -n`): default via 10.8.31.254 on eno1,
/// 10.8.0.0/19 on eno1, and a storage network 192.168.5.0/24 on eno2.
pub const ROUTE: &str =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eno1\t00000000\tFE1F080A\t0003\t0\t0\t0\t00000000\t0\t0\t0
eno1\t0000080A\t00000000\t0001\t0\t0\t0\t00E0FFFF\t0\t0\t0
eno2\t0005A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";

/// etc/default/grub of the first seed's RHEL host.
pub const GRUB: &str = "GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\nGRUB_DEFAULT=saved\nGRUB_DISABLE_SUBMENU=true\nGRUB_TERMINAL_OUTPUT=\"console\"\nGRUB_CMDLINE_LINUX=\"rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet\"\nGRUB_DISABLE_RECOVERY=\"true\"\n";

/// The seeds' host (quad-port I350, VFs, 07:10.7 on vfio-pci) plus what the change
/// commands look at: an Intel CPU, the seed's routes, RHEL's grub files, a GPU with
/// its audio function alone in IOMMU group 50, and a GPU that shares group 51 with a
/// SAS HBA behind root ports without ACS.
pub fn host_spec() -> HostSpec {
    let mut h = scenarios::i350()
        .file(
            "proc/cpuinfo",
            "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel name\t: Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz\nflags\t\t: fpu vmx ssse3\n",
        )
        .file("proc/net/route", ROUTE)
        .file("etc/default/grub", GRUB)
        .symlink("etc/sysconfig/grub", "../default/grub")
        .file(
            "boot/grub2/grub.cfg",
            "menuentry 'Red Hat Enterprise Linux Server' {\n\tlinux16 /vmlinuz-3.10.0-229.el7.x86_64 root=/dev/mapper/rhel-root ro rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet\n}\n",
        )
        .file("var/lib/misc/README", "host state lives here\n");
    let port = |a: &str, group: u32, sec: u8| {
        let mut p = DeviceSpec::new(bdf(a), 0x8086, 0x2f04, 0x060400)
            .pcie(PortType::RootPort, Some(LinkSpec::full(8.0, 16)))
            .driver("pcieport")
            .group(group)
            .numa(0);
        p.secondary_bus = Some(sec);
        p.subordinate_bus = Some(sec);
        p
    };
    let ep = |a: &str, v: u16, d: u16, class: u32, drv: &str, group: u32, parent: &str| {
        DeviceSpec::new(bdf(a), v, d, class)
            .parent(bdf(parent))
            .driver(drv)
            .group(group)
            .numa(0)
            .pcie(PortType::Endpoint, Some(LinkSpec::full(8.0, 16)))
    };
    h = h
        .device(port("0000:00:03.0", 50, 0x81))
        .device(ep(
            "0000:81:00.0",
            0x10de,
            0x1b80,
            0x030000,
            "nouveau",
            50,
            "0000:00:03.0",
        ))
        .device(ep(
            "0000:81:00.1",
            0x10de,
            0x10f0,
            0x040300,
            "snd_hda_intel",
            50,
            "0000:00:03.0",
        ))
        .device(port("0000:00:02.0", 51, 0x82))
        .device(port("0000:00:02.2", 51, 0x83))
        .device(ep(
            "0000:82:00.0",
            0x10de,
            0x1b80,
            0x030000,
            "nouveau",
            51,
            "0000:00:02.0",
        ))
        .device(ep(
            "0000:83:00.0",
            0x1000,
            0x0097,
            0x010700,
            "mpt3sas",
            51,
            "0000:00:02.2",
        ));
    h
}

/// Mounts a spec in the simulator, or `None` (test skipped, said on stderr) when
/// FUSE cannot be used here.
pub fn mount(spec: &HostSpec) -> Option<SimMount> {
    if !fuse_or_skip() {
        return None;
    }
    Some(SimMount::spec(spec).expect("passthru-sim mounts (cargo build -p passthru-testsupport)"))
}

/// Runs the real binary on a root, outside any SSH session.
pub fn passthru(root: &Path, args: &[&str]) -> Output {
    passthru_env(root, args, &[])
}

/// Runs the real binary on a root with extra environment.
pub fn passthru_env(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_passthru"));
    c.arg("--root")
        .arg(root)
        .args(args)
        .env_remove("SSH_CONNECTION");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("runs passthru")
}

/// stdout, asserting exit 0.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stdout + stderr, asserting exit 3.
pub fn fails(o: &Output) -> String {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(3), "expected exit 3:\n{all}");
    all
}

/// stdout as JSON.
pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The journal and nothing else may differ after a rolled-back or undone change.
pub const JOURNAL: &str = "var/lib/passthru";

/// Every entry under a root: files with their bytes (or the error reading them
/// gives) and mode, symlinks with their targets, directories with their mode. The
/// journal is left out.
pub fn dump(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            let r = if rel.is_empty() {
                n.clone()
            } else {
                format!("{rel}/{n}")
            };
            if r == JOURNAL || r.starts_with(&format!("{JOURNAL}/")) {
                continue;
            }
            let p = root.join(&r);
            let m = std::fs::symlink_metadata(&p).unwrap();
            let mode = m.permissions().mode() & 0o7777;
            let v = if m.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                stack.push(r.clone());
                format!("dir {mode:o}")
            } else {
                match std::fs::read(&p) {
                    Ok(b) => format!(
                        "file {mode:o} {}",
                        String::from_utf8_lossy(&b).escape_debug()
                    ),
                    Err(e) => format!("file {mode:o} unreadable: {e}"),
                }
            };
            out.insert(r, v);
        }
    }
    out
}

/// Asserts two dumps are equal, listing the differences.
pub fn assert_same(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    what: &str,
) {
    let mut diffs = Vec::new();
    for (k, v) in before {
        match after.get(k) {
            None => diffs.push(format!("gone: {k}")),
            Some(w) if w != v => {
                diffs.push(format!("changed: {k}\n   was {v:.200}\n   now {w:.200}"))
            }
            _ => {}
        }
    }
    for k in after.keys() {
        if !before.contains_key(k) {
            diffs.push(format!("new: {k}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} differences:\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// One function as the real lspci shows it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ls {
    /// vendor:device.
    pub ids: String,
    /// Kernel driver in use.
    pub driver: Option<String>,
    /// IOMMU group.
    pub group: Option<u64>,
    /// Number of VFs from the SR-IOV capability.
    pub num_vfs: Option<u64>,
}

/// The real lspci's view of a root.
pub fn lspci(root: &Path) -> BTreeMap<String, Ls> {
    let out = Command::new("lspci")
        .args(["-A", "linux-sysfs", "-O"])
        .arg(format!("sysfs.path={}", root.join("sys/bus/pci").display()))
        .args(["-O", "hwdb.disable=1", "-nnvvv", "-D"])
        .output()
        .expect("lspci (pciutils) is installed: scripts/test.sh installs it");
    assert!(
        out.status.success(),
        "lspci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut map: BTreeMap<String, Ls> = BTreeMap::new();
    let mut cur = String::new();
    for line in text.lines() {
        if !line.is_empty() && !line.starts_with(char::is_whitespace) {
            cur = line.split_whitespace().next().unwrap().to_string();
            let title = line
                .split(" (rev")
                .next()
                .unwrap()
                .split(" (prog-if")
                .next()
                .unwrap();
            let open = title.rfind('[').unwrap();
            map.insert(
                cur.clone(),
                Ls {
                    ids: title[open + 1..open + 10].to_string(),
                    ..Ls::default()
                },
            );
            continue;
        }
        let Some(e) = map.get_mut(&cur) else { continue };
        let t = line.trim();
        if let Some(d) = t.strip_prefix("Kernel driver in use: ") {
            e.driver = Some(d.to_string());
        } else if let Some(g) = t.strip_prefix("IOMMU group: ") {
            e.group = g.parse().ok();
        } else if let Some(x) = t.split("Number of VFs: ").nth(1) {
            e.num_vfs = x.split(',').next().and_then(|n| n.trim().parse().ok());
        }
    }
    map
}

/// Real lspci on the root and passthru's facts agree device by device (ids,
/// driver, IOMMU group, VF counts). Returns passthru's devices by address.
pub fn agree(root: &Path) -> BTreeMap<String, Value> {
    let ls = lspci(root);
    // `snapshot` holds every fact (`ls --json` leaves driver_override out).
    let v = json(&passthru(root, &["snapshot"]));
    let ours: BTreeMap<String, Value> = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["address"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        ls.keys().collect::<Vec<_>>(),
        "passthru and lspci list the same functions"
    );
    for (a, d) in &ours {
        let l = &ls[a];
        assert_eq!(
            format!(
                "{}:{}",
                d["vendor_id"].as_str().unwrap(),
                d["device_id"].as_str().unwrap()
            ),
            l.ids,
            "{a} ids"
        );
        assert_eq!(
            d["driver"].as_str().map(str::to_string),
            l.driver,
            "{a} driver"
        );
        assert_eq!(d["iommu_group"].as_u64(), l.group, "{a} IOMMU group");
        if let Some(s) = d["sriov"].as_object() {
            assert_eq!(s["num_vfs"].as_u64(), l.num_vfs, "{a} VF count");
            assert_eq!(
                d["virtfns"].as_array().unwrap().len() as u64,
                l.num_vfs.unwrap(),
                "{a} VFs listed"
            );
        }
    }
    ours
}

/// A device's driver as passthru reads it.
pub fn driver_of(devs: &BTreeMap<String, Value>, addr: &str) -> Option<String> {
    devs.get(addr).unwrap_or_else(|| panic!("{addr} exists"))["driver"]
        .as_str()
        .map(str::to_string)
}

/// The writes the simulator saw to paths containing `needle`, with its answers.
pub fn writes(log: &str, needle: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(" write ") && l.contains(needle))
        .map(|l| l.split_once(' ').map(|x| x.1).unwrap_or(l).to_string())
        .collect()
}

/// Test doubles of the boot tools, run by passthru under the simulated root (with
/// `PASSTHRU_ROOT` set): deterministic, so a regenerated file can be compared byte
/// for byte.
pub const GRUB2_MKCONFIG: &str = r#"#!/bin/sh
# Test double of grub2-mkconfig: one entry carrying GRUB_CMDLINE_LINUX, to the -o file.
[ "$1" = "-o" ] || { echo "usage: grub2-mkconfig -o FILE" >&2; exit 1; }
. "$PASSTHRU_ROOT/etc/default/grub" 2>/dev/null
printf "menuentry 'Red Hat Enterprise Linux Server' {\n\tlinux16 /vmlinuz-3.10.0-229.el7.x86_64 root=/dev/mapper/rhel-root ro %s\n}\n" "$GRUB_CMDLINE_LINUX" > "$PASSTHRU_ROOT$2"
"#;

/// dracut double: the "initramfs" lists the dracut and modprobe configuration it
/// would carry.
pub const DRACUT: &str = r#"#!/bin/sh
# Test double of dracut --force.
[ "$1" = "--force" ] || exit 1
cat "$PASSTHRU_ROOT"/etc/dracut.conf.d/*.conf "$PASSTHRU_ROOT"/etc/modprobe.d/*.conf > "$PASSTHRU_ROOT/boot/initramfs-3.10.0-229.el7.x86_64.img" 2>/dev/null
exit 0
"#;

/// systemctl double: enable/disable manage the multi-user.target.wants link.
pub const SYSTEMCTL: &str = r#"#!/bin/sh
# Test double of systemctl.
w="$PASSTHRU_ROOT/etc/systemd/system/multi-user.target.wants"
case "$1" in
  daemon-reload) ;;
  enable) ln -s "/etc/systemd/system/$2" "$w/$2" ;;
  disable) rm -f "$w/$2" ;;
  *) echo "systemctl double: $*" >&2; exit 1 ;;
esac
"#;

/// [`host_spec`] with the boot tools (test doubles) in the root, a generated
/// grub.cfg and initramfs they reproduce exactly, and systemd's wants directory.
pub fn host_spec_with_tools() -> HostSpec {
    let mut h = host_spec()
        .file("boot/initramfs-3.10.0-229.el7.x86_64.img", "")
        .symlink(
            "etc/systemd/system/multi-user.target.wants/sshd.service",
            "/usr/lib/systemd/system/sshd.service",
        );
    for (path, text) in [
        ("usr/sbin/grub2-mkconfig", GRUB2_MKCONFIG),
        ("usr/bin/dracut", DRACUT),
        ("usr/bin/systemctl", SYSTEMCTL),
    ] {
        h.files.push(passthru_testsupport::ExtraFile {
            path: path.into(),
            contents: text.into(),
            link: None,
            mode: Some(0o755),
        });
    }
    h
}
