//! The `lspci -d` filter agrees with lspci itself: for each filter, the devices
//! `PciFilter` selects from facts read off a fake tree are exactly those the real
//! `lspci -d` lists from the same tree (comma lists run once per part, as
//! OpenNebula's probe does), and what lspci refuses, `PciFilter` refuses with
//! lspci's reason.

use passthru::host::sources::read_root;
use passthru::pci::PciFilter;
use passthru_testsupport::{scenarios, FakeHost, HostSpec};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn lspci_d(root: &Path, spec: &str) -> Result<BTreeSet<String>, String> {
    let mut all = BTreeSet::new();
    for part in spec.split(',') {
        let o = Command::new("lspci")
            .args(["-A", "linux-sysfs", "-O"])
            .arg(format!("sysfs.path={}", root.join("sys/bus/pci").display()))
            .args(["-O", "hwdb.disable=1", "-D", "-n", "-d", part])
            .output()
            .expect("lspci (pciutils) must be installed: scripts/test.sh installs it");
        if !o.status.success() {
            return Err(String::from_utf8_lossy(&o.stderr).into_owned());
        }
        all.extend(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_string),
        );
    }
    Ok(all)
}

const FILTERS: &[&str] = &[
    "8086:1520",
    "8086:1520:0200",
    "8086::0200",
    "::0200",
    "::02xx",
    "::0xxx",
    "::x2xx",
    ":1521",
    "*:*",
    ":",
    "*::*",
    "::0604",
    "::0106:01",
    "::0106:02",
    "::0108:02",
    "8086::0300,::0106",
    "10de::0300",
    "10de:1db4,10de:10f2",
    "15b3::",
    "15B3:1017",
    "::0108",
    "::01xx",
    "::0c03",
    "8086:154c:0200:00",
    "::03000",
    "::3",
    "::0300:00",
    "1a03:",
    ":2000",
    "0:0",
    "ffff:ffff",
    // Empty trailing fields are wildcards too.
    "8086:1520:",
    "::",
    "8086:::",
    "::0200:",
    ":::00",
    "*:*:*:*",
    "8086:*:02xx:*",
    // The same device type twice, and a part that matches nothing.
    "8086:1520,8086:1520",
    "ffff:ffff,::0604",
];

const BAD: &[&str] = &[
    "8086",
    "18086:",
    "0x8086:",
    ":zz",
    "::10000",
    "::0300:100",
    "1:2:3:4:5",
    ":g",
];

fn check(name: &str, spec: HostSpec) {
    let t = tempfile::tempdir().unwrap();
    FakeHost::new(spec).write(t.path()).unwrap();
    let host = read_root(t.path()).unwrap();
    for f in FILTERS {
        let want = lspci_d(t.path(), f).unwrap_or_else(|e| panic!("lspci -d {f}: {e}"));
        let filter = PciFilter::parse(f).unwrap();
        let got: BTreeSet<String> = host
            .devices
            .iter()
            .filter(|d| filter.matches(d))
            .map(|d| d.address.to_string())
            .collect();
        assert_eq!(got, want, "{name}: -d {f}");
    }
    for bad in BAD {
        let l = lspci_d(t.path(), bad).expect_err(bad);
        let ours = PciFilter::parse(bad).expect_err(bad);
        assert!(
            l.contains(ours.reason),
            "{name}: -d {bad}: lspci says {l:?}, passthru {ours}"
        );
    }
}

#[test]
fn agrees_on_the_seeds_host() {
    if !passthru_testsupport::peer::require_programs(&["lspci"]) {
        return;
    }
    check("i350", scenarios::i350());
}

#[test]
fn agrees_on_a_two_socket_host() {
    if !passthru_testsupport::peer::require_programs(&["lspci"]) {
        return;
    }
    check("two-socket", scenarios::two_socket());
}
