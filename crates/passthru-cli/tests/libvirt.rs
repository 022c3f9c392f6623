//! The libvirt, OpenNebula and qemu commands end to end, on fake trees the real
//! `lspci` reads and against libvirt's own tools: `verify` on the seed's guest (file,
//! domain name and `--all` through libvirt's test driver with a custom node file),
//! its broken variants, `render libvirt` / `show --format nodedev` output through
//! libvirt's schema and parser, and `ls --filter` against `lspci -d`.

use passthru_testsupport::{bdf, scenarios, FakeHost, HostSpec};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

fn seed_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../passthru/tests/fixtures/libvirt")
        .join(name)
}

fn seed_domain() -> String {
    std::fs::read_to_string(seed_file("seed-instance-00000001.xml")).unwrap()
}

fn tree(spec: HostSpec) -> TempDir {
    let t = tempfile::tempdir().unwrap();
    FakeHost::new(spec).write(t.path()).unwrap();
    t
}

fn passthru(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(root)
        .args(args)
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

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// The seed's domain with one substitution (which must apply).
fn variant(from: &str, to: &str) -> String {
    let s = seed_domain();
    assert!(s.contains(from), "{from}");
    s.replacen(from, to, 1)
}

fn verify_file(root: &Path, xml: &str, extra: &[&str]) -> Output {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "guest.xml", xml);
    let mut args = vec!["verify", f.as_str()];
    args.extend_from_slice(extra);
    passthru(root, &args)
}

/// The `Checking WHAT : SEVERITY (message)` line of a check in verify's text report:
/// its severity, its message, and the two lines after it.
fn check_line<'a>(report: &'a str, what: &str) -> (&'a str, &'a str, Vec<&'a str>) {
    let lines: Vec<&str> = report.lines().collect();
    let i = lines
        .iter()
        .position(|l| {
            l.trim_start()
                .strip_prefix("Checking ")
                .and_then(|r| r.strip_prefix(what))
                .is_some_and(|r| r.trim_start().starts_with(": "))
        })
        .unwrap_or_else(|| panic!("no `Checking {what}` line in:\n{report}"));
    let (_, rest) = lines[i].split_once(" : ").unwrap();
    let (sev, msg) = rest.split_once(' ').unwrap();
    let msg = msg
        .strip_prefix('(')
        .and_then(|m| m.strip_suffix(')'))
        .unwrap_or(msg);
    let after = lines[i + 1..].iter().take(2).copied().collect();
    (sev, msg, after)
}

fn failed_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["guests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["findings"].as_array().unwrap().clone())
        .chain(v["conflicts"].as_array().unwrap().clone())
        .filter(|f| f["severity"] == "fail")
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    ids.dedup();
    ids
}

#[test]
fn the_seed_guest_passes_on_the_seed_host() {
    let t = tree(scenarios::i350().file(
        "usr/share/misc/pci.ids",
        "8086  Intel Corporation\n\t1520  I350 Ethernet Controller Virtual Function\n\t1521  I350 Gigabit Network Connection\n",
    ));
    let o = verify_file(
        t.path(),
        &seed_domain(),
        &["--expect", "igbnic:1", "--alias", "igbnic=8086:1520"],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let s = out(&o);
    for want in [
        "Guest instance-00000001 (nova pci-test, flavor pci_small): running",
        "0000:07:10.7 <hostdev managed='yes'>: I350 Ethernet Controller Virtual Function [8086:1520], VF 1 of 0000:06:00.3 (eno4)",
        "Summary: 5 passed, 0 info, 0 warnings, 0 failures\nVerdict: PASS\n",
    ] {
        assert!(s.contains(want), "{want:?} missing:\n{s}");
    }
    // doctor's shape: `Checking WHAT : SEVERITY (message)`.
    for (check, sev, msg) in [
        (
            "0000:07:10.7 exists on the host",
            "PASS",
            "present: bound to vfio-pci, IOMMU group 40, NUMA node 0",
        ),
        (
            "0000:07:10.7 driver (vfio-pci or managed)",
            "PASS",
            "bound to vfio-pci while the guest runs",
        ),
        (
            "0000:07:10.7 IOMMU group ownership",
            "PASS",
            "IOMMU group 40 holds only this device",
        ),
        (
            "0000:07:10.7 NUMA node vs vCPUs",
            "PASS",
            "the host has a single NUMA node",
        ),
        (
            "for the devices the flavor asks for",
            "PASS",
            "flavor pci_small asks for igbnic:1, and the guest has 1",
        ),
    ] {
        let (got_sev, got_msg, _) = check_line(&s, check);
        assert_eq!(got_sev, sev, "{check}:\n{s}");
        assert!(got_msg.starts_with(msg), "{check}: {got_msg}");
    }
    let o = verify_file(t.path(), &seed_domain(), &["--json"]);
    let v = json(&o);
    assert_eq!(v["verdict"], "pass");
    let d = &v["guests"][0]["devices"][0];
    assert_eq!(d["address"], "0000:07:10.7");
    assert_eq!(d["host_driver"], "vfio-pci");
    assert_eq!(d["iommu_group"], 40);
    assert_eq!(d["numa_node"], 0);
    assert_eq!(v["guests"][0]["flavor"], "pci_small");
}

/// The seed's guest with its hostdev address in decimal (as some tools write it)
/// verifies as the hex one does: from a file, from standard input (`virsh dumpxml 2 |
/// passthru verify -`), and after libvirt's own parser has read it (the test driver
/// stores it and prints it back in hex).
#[test]
fn both_address_forms_verify_alike_from_a_file_stdin_and_libvirt() {
    if !passthru_testsupport::peer::require_programs(&["virsh"]) {
        return;
    }
    let t = tree(scenarios::i350());
    let dec = variant(
        "domain='0x0000' bus='0x07' slot='0x10' function='0x7'",
        "domain='0' bus='7' slot='16' function='7'",
    );
    let o = verify_file(t.path(), &dec, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert_eq!(
        json(&o)["guests"][0]["devices"][0]["address"],
        "0000:07:10.7"
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(t.path())
        .args(["verify", "-", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dec.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert_eq!(
        json(&o)["guests"][0]["devices"][0]["address"],
        "0000:07:10.7"
    );

    let d = tempfile::tempdir().unwrap();
    let node = format!(
        "<node>\n<device><name>computer</name><capability type='system'><hardware><uuid>e2a3b6b4-6c1c-4b8e-9a57-3c7e3f6b7a10</uuid></hardware><firmware/></capability></device>\n{dec}</node>\n"
    );
    let nf = write(d.path(), "node.xml", &node);
    let uri = format!("test://{nf}");
    let o = passthru(
        t.path(),
        &["verify", "instance-00000001", "-c", &uri, "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert_eq!(
        json(&o)["guests"][0]["devices"][0]["address"],
        "0000:07:10.7"
    );
    // Malformed on standard input: one error naming it and the line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(t.path())
        .args(["verify", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"<domain>\n<name>x</name>\n<devices>\n</domain>\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(err(&o).lines().count(), 1, "{}", err(&o));
    assert!(
        err(&o).starts_with("passthru: error: <stdin>:4:"),
        "{}",
        err(&o)
    );
}

#[test]
fn broken_variants_fail_with_the_reason() {
    // The device is absent.
    let t = tree(scenarios::i350());
    let o = verify_file(
        t.path(),
        &variant(
            "slot='0x10' function='0x7'/>\n      </source>",
            "slot='0x11' function='0x7'/>\n      </source>",
        ),
        &["--json"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(failed_ids(&json(&o)), vec!["libvirt.device.present"]);

    // Bound to igbvf: the running guest does not hold it; shut off and unmanaged, it
    // will not start.
    let mut spec = scenarios::i350();
    spec.device_mut(bdf("0000:06:00.3"))
        .unwrap()
        .sriov
        .as_mut()
        .unwrap()
        .vfs[1]
        .driver = Some("igbvf".into());
    let t = tree(spec);
    let o = verify_file(t.path(), &seed_domain(), &["--json"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(failed_ids(&json(&o)), vec!["libvirt.device.driver"]);
    let off = variant("<domain type='kvm' id='2'>", "<domain type='kvm'>")
        .replace("managed='yes'", "managed='no'");
    let o = verify_file(t.path(), &off, &[]);
    assert_eq!(o.status.code(), Some(2));
    let report = out(&o);
    let (sev, msg, after) = check_line(&report, "0000:07:10.7 driver (vfio-pci or managed)");
    assert_eq!(sev, "FAIL", "{report}");
    assert!(msg.contains("managed='no' and bound to igbvf"), "{msg}");
    // Under a FAIL: why it matters, then the fix.
    assert!(after[0].trim_start().starts_with("why: "), "{after:?}");
    assert!(
        after[1].trim_start().starts_with("fix: ")
            && after[1].contains("virsh nodedev-detach pci_0000_07_10_7 --driver vfio"),
        "{after:?}"
    );
    assert!(out(&o).ends_with("Verdict: FAIL\n"), "{}", out(&o));
    // Shut off but managed: libvirt binds it at start.
    let o = verify_file(
        t.path(),
        &variant("<domain type='kvm' id='2'>", "<domain type='kvm'>"),
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));

    // vCPUs pinned on the other node (the seeds' host with a second node).
    let t = tree(scenarios::i350().numa_node(1, "12-23"));
    let o = verify_file(t.path(), &seed_domain(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = verify_file(
        t.path(),
        &variant("cpuset='0-11'", "cpuset='12-23'"),
        &["--json"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(failed_ids(&json(&o)), vec!["libvirt.device.numa-cpu"]);
    let o = verify_file(t.path(), &variant("cpuset='0-11'", "cpuset='6-17'"), &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "spanning both nodes warns: {}",
        out(&o)
    );

    // The VF shares its group with a VF the host keeps (igbvf).
    let mut spec = scenarios::i350();
    spec.device_mut(bdf("0000:06:00.2"))
        .unwrap()
        .sriov
        .as_mut()
        .unwrap()
        .vfs[1]
        .iommu_group = Some(40);
    let t = tree(spec);
    let o = verify_file(t.path(), &seed_domain(), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        out(&o).contains("IOMMU group 40 also holds 0000:07:10.6 (igbvf)"),
        "{}",
        out(&o)
    );

    // A flavor asking for two.
    let t = tree(scenarios::i350());
    let o = verify_file(
        t.path(),
        &seed_domain(),
        &["--expect", "igbnic:2", "--alias", "igbnic=8086:1520"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        out(&o).contains("asks for igbnic:2, but the guest has 1"),
        "{}",
        out(&o)
    );
}

/// A test-driver node file: the host's PCI devices as node devices (passthru's own
/// XML), the seed's running guest, and `others`.
fn node_file(dir: &Path, root: &Path, others: &[String]) -> String {
    let mut node = String::from("<node>\n<device><name>computer</name><capability type='system'><hardware><uuid>e2a3b6b4-6c1c-4b8e-9a57-3c7e3f6b7a10</uuid></hardware><firmware/></capability></device>\n");
    let o = passthru(
        root,
        &["show", "8086:1520", "06:00.3", "--format", "nodedev"],
    );
    assert!(o.status.success(), "{}", err(&o));
    node.push_str(&out(&o));
    node.push_str(&seed_domain());
    for d in others {
        node.push_str(d);
    }
    node.push_str("</node>\n");
    write(dir, "node.xml", &node)
}

fn shut_off(name: &str, xml: &str) -> String {
    let uuid = format!(
        "573bb201-10db-4c48-87f9-{:0>12}",
        name.len() * 1000 + name.bytes().map(usize::from).sum::<usize>()
    );
    xml.replacen("<domain type='kvm' id='2'>", "<domain type='kvm'>", 1)
        .replace("instance-00000001", name)
        .replace("573bb201-10db-4c48-87f9-c08985bd7d0f", &uuid)
        .replacen(
            "<metadata>",
            "<test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5</test:runstate><metadata>",
            1,
        )
}

#[test]
fn through_libvirts_test_driver() {
    if !passthru_testsupport::peer::require_programs(&["virsh"]) {
        return;
    }
    let t = tree(scenarios::i350());
    let d = tempfile::tempdir().unwrap();
    let second = shut_off("instance-00000002", &seed_domain());
    let other_vf = shut_off("instance-00000003", &seed_domain()).replace(
        "slot='0x10' function='0x7'/>\n      </source>",
        "slot='0x10' function='0x3'/>\n      </source>",
    );
    let nf = node_file(d.path(), t.path(), &[second, other_vf.clone()]);
    let uri = format!("test://{nf}");
    // The domain by name, read with virsh dumpxml.
    let o = passthru(
        t.path(),
        &["verify", "instance-00000001", "--connect", &uri],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    // Every domain: the same VF in two guests.
    let o = passthru(t.path(), &["verify", "--all", "--connect", &uri, "--json"]);
    assert_eq!(o.status.code(), Some(2), "{}{}", out(&o), err(&o));
    let v = json(&o);
    assert_eq!(v["guests"].as_array().unwrap().len(), 3);
    assert_eq!(failed_ids(&v), vec!["libvirt.conflict.device"]);
    let msg = v["conflicts"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("0000:07:10.7 is given to 2 guests") && msg.contains("instance-00000002"),
        "{msg}"
    );
    // Without the duplicate, --all passes.
    let nf = node_file(d.path(), t.path(), &[other_vf]);
    let o = passthru(
        t.path(),
        &["verify", "--all", "--connect", &format!("test://{nf}")],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    // An unknown domain: exit 3, one line naming it, the connection and its domains.
    let o = passthru(
        t.path(),
        &["verify", "nope", "--connect", &format!("test://{nf}")],
    );
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(
        err(&o),
        format!("passthru: error: no domain 'nope' on test://{nf}: its domains are instance-00000001, instance-00000003 (GUEST is a domain name or a domain XML file)\n")
    );
    // A connection that does not open: virsh's own words.
    let o = passthru(
        t.path(),
        &[
            "verify",
            "nope",
            "--connect",
            "test:///nonexistent/node.xml",
        ],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(
        err(&o).contains("failed to connect to the hypervisor"),
        "{}",
        err(&o)
    );
}

/// The issue's "done when", end to end through libvirt: from "this VF" (render
/// libvirt, by libvirt's node-device name) to a guest libvirt stores, to a verdict on
/// that guest by name (verify through the test driver).
#[test]
fn from_this_vf_to_a_verdict_through_libvirt() {
    if !passthru_testsupport::peer::require_programs(&["virsh"]) {
        return;
    }
    let t = tree(scenarios::i350());
    let d = tempfile::tempdir().unwrap();
    let hostdev = passthru(t.path(), &["render", "libvirt", "pci_0000_07_10_7"]);
    assert_eq!(hostdev.status.code(), Some(0), "{}", err(&hostdev));
    let iface = passthru(
        t.path(),
        &[
            "render",
            "libvirt",
            "pci_0000_07_10_3",
            "--interface",
            "--mac",
            "52:54:00:6d:90:02",
            "--vlan",
            "42",
        ],
    );
    assert_eq!(iface.status.code(), Some(0), "{}", err(&iface));
    let nodedevs = passthru(t.path(), &["show", "8086:1520", "--format", "nodedev"]);
    let dom = |name: &str, uuid: &str, state: &str, devices: &str| {
        format!("<domain type='kvm'><name>{name}</name><uuid>{uuid}</uuid>{state}<memory>131072</memory><vcpu cpuset='0-11'>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>{devices}</devices></domain>\n")
    };
    let node = format!(
        "<node>\n<device><name>computer</name><capability type='system'><hardware><uuid>e2a3b6b4-6c1c-4b8e-9a57-3c7e3f6b7a10</uuid></hardware><firmware/></capability></device>\n{}{}{}</node>\n",
        out(&nodedevs),
        dom("vf-guest", "0e6d3b8e-3f7c-4d43-9d3a-6c1f6f2b9a01", "", &out(&hostdev)),
        dom(
            "iface-guest",
            "0e6d3b8e-3f7c-4d43-9d3a-6c1f6f2b9a02",
            "<test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5</test:runstate>",
            &out(&iface)
        ),
    );
    let uri = format!("test://{}", write(d.path(), "node.xml", &node));
    // libvirt parsed and kept both elements.
    let o = Command::new("virsh")
        .args(["-c", &uri, "dumpxml iface-guest; dumpxml vf-guest"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
    let dumped = out(&o);
    assert!(
        dumped.contains("<tag id='42'/>")
            && dumped.contains("bus='0x07' slot='0x10' function='0x7'"),
        "{dumped}"
    );
    // The running guest holds its VF (vfio-pci, its own group); the shut-off one gets
    // its igbvf VF at start (managed).
    // 07:10.3's PF (eno4) has no carrier: verify warns as doctor does (issue 9).
    let o = passthru(t.path(), &["verify", "vf-guest", "iface-guest", "-c", &uri]);
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
    let report = out(&o);
    assert!(report.contains("Guest vf-guest: running"), "{report}");
    assert!(
        report.contains("0000:07:10.3 <interface type='hostdev' managed='yes'>"),
        "{report}"
    );
    let (sev, msg, _) = check_line(&report, "0000:07:10.3 driver (vfio-pci or managed)");
    assert_eq!(
        (sev, msg),
        (
            "PASS",
            "managed='yes': libvirt binds it to vfio-pci at start (now: igbvf)"
        )
    );
    let (sev, msg, _) = check_line(&report, "0000:07:10.3 PF link (the VF's port)");
    assert_eq!(
        (sev, msg),
        (
            "WARN",
            "its PF 0000:06:00.3: eno4 has no carrier (operstate down) with 2 VFs enabled"
        )
    );
    let v = json(&passthru(t.path(), &["doctor", "07:10.3", "--json"]));
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "sriov.pf-no-carrier" && f["device"] == "0000:06:00.3")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(f["severity"], "warn");
    assert!(msg.ends_with(f["message"].as_str().unwrap()), "{f}");
    // Both at once through --all, and no device given twice.
    let o = passthru(t.path(), &["verify", "--all", "-c", &uri, "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", out(&o), err(&o));
}

fn fragment_schema(dir: &Path) -> String {
    write(
        dir,
        "fragment.rng",
        "<grammar xmlns='http://relaxng.org/ns/structure/1.0' datatypeLibrary='http://www.w3.org/2001/XMLSchema-datatypes'><include href='domaincommon.rng'/><start><choice><ref name='hostdev'/><ref name='interface'/></choice></start></grammar>",
    )
}

#[test]
fn render_libvirt_output_is_what_libvirt_accepts() {
    if !passthru_testsupport::peer::require_programs(&["xmllint", "virsh"]) {
        return;
    }
    let t = tree(scenarios::i350());
    let d = tempfile::tempdir().unwrap();
    let rng = fragment_schema(d.path());
    for args in [
        vec!["pci_0000_07_10_7"],
        vec!["07:10.7", "--unmanaged"],
        vec![
            "07:10.3",
            "--interface",
            "--mac",
            "52:54:00:6d:90:02",
            "--vlan",
            "42",
        ],
    ] {
        let mut a = vec!["render", "libvirt"];
        a.extend_from_slice(&args);
        let o = passthru(t.path(), &a);
        // 07:10.3 is on igbvf: managed, so no warning either way.
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", err(&o));
        let f = write(d.path(), "frag.xml", &out(&o));
        let v = Command::new("xmllint")
            .args([
                "--noout",
                "--path",
                "/usr/share/libvirt/schemas",
                "--relaxng",
                &rng,
                &f,
            ])
            .output()
            .unwrap();
        assert!(
            v.status.success(),
            "{args:?}: {}\n{}",
            out(&o),
            String::from_utf8_lossy(&v.stderr)
        );
        let dom = format!(
            "<domain type='kvm'><name>pt</name><memory>131072</memory><os><type>hvm</type></os><devices>{}</devices></domain>",
            out(&o)
        );
        let df = write(d.path(), "dom.xml", &dom);
        let v = Command::new("virsh")
            .args(["-c", "test:///default", &format!("define {df}; dumpxml pt")])
            .output()
            .unwrap();
        assert!(
            v.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&v.stderr)
        );
        assert!(String::from_utf8_lossy(&v.stdout).contains("bus='0x07' slot='0x10'"));
    }
    // Refusals: a PF with VFs (exit 2, the reason), an unknown device (exit 3, the closest names).
    let o = passthru(t.path(), &["render", "libvirt", "eno4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("SR-IOV PF with 2 VF(s) enabled") && out(&o).is_empty(),
        "{}",
        err(&o)
    );
    let o = passthru(t.path(), &["render", "libvirt", "07:10.7", "--json"]);
    assert_eq!(json(&o)["devices"][0]["nodedev"], "pci_0000_07_10_7");
    let o = passthru(t.path(), &["render", "libvirt", "eno4", "--json"]);
    assert_eq!(json(&o)["refused"]["device"], "0000:06:00.3");
    let o = passthru(t.path(), &["render", "libvirt", "07:11.0"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(err(&o).contains("no device '07:11.0'"), "{}", err(&o));
    let o = passthru(
        t.path(),
        &[
            "render",
            "libvirt",
            "07:10.3",
            "--interface",
            "--mac",
            "01:00:5e:00:00:01",
        ],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(err(&o).contains("multicast"), "{}", err(&o));
    let o = passthru(t.path(), &["render", "libvirt", "07:10.7", "--vlan", "5"]);
    assert_eq!(o.status.code(), Some(3), "--vlan needs --interface");
    let o = passthru(t.path(), &["render", "libvirt", "07:10.6", "--unmanaged"]);
    assert_eq!(o.status.code(), Some(1), "unmanaged on igbvf warns");
    assert!(err(&o).contains("bound to igbvf"), "{}", err(&o));
}

#[test]
fn node_device_xml_of_every_device_validates_and_matches_the_seed() {
    if !passthru_testsupport::peer::require_programs(&["xmllint", "virt-xml-validate"]) {
        return;
    }
    for spec in [scenarios::i350(), scenarios::two_socket()] {
        let t = tree(spec);
        let d = tempfile::tempdir().unwrap();
        let o = passthru(t.path(), &["ls", "--json"]);
        let addrs: Vec<String> = json(&o)["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["address"].as_str().unwrap().to_string())
            .collect();
        let mut args = vec!["show", "--format", "nodedev", "--json"];
        args.extend(addrs.iter().map(String::as_str));
        let v = json(&passthru(t.path(), &args));
        // virt-xml-validate is `xmllint --relaxng nodedev.rng`; one xmllint for all files.
        let files: Vec<String> = v["nodedevs"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, n)| write(d.path(), &format!("n{i}.xml"), n["xml"].as_str().unwrap()))
            .collect();
        assert_eq!(files.len(), addrs.len());
        let r = Command::new("xmllint")
            .args([
                "--noout",
                "--relaxng",
                "/usr/share/libvirt/schemas/nodedev.rng",
            ])
            .args(&files)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let r = Command::new("virt-xml-validate")
            .args([&files[0], "nodedev"])
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    // The seed's VF, read from a sysfs tree, shows what virsh showed in the seed
    // (plus libvirt 9's <class>; minus the link port, which only config space holds).
    let t = tree(scenarios::i350().file(
        "usr/share/misc/pci.ids",
        "8086  Intel Corporation\n\t1520  I350 Ethernet Controller Virtual Function\n",
    ));
    let o = passthru(
        t.path(),
        &["show", "pci_0000_07_10_7", "--format", "nodedev"],
    );
    let seed = std::fs::read_to_string(seed_file("seed-nodedev-pci_0000_07_10_7.xml")).unwrap();
    let want = seed.replace(" port='0'", "").replace(
        "  <capability type='pci'>\n",
        "  <capability type='pci'>\n    <class>0x020000</class>\n",
    );
    assert_eq!(out(&o).trim(), want.trim());
}

fn lspci_d(root: &Path, spec: &str) -> Result<BTreeSet<String>, String> {
    // OpenNebula runs lspci once per comma-separated part.
    let mut all = BTreeSet::new();
    for part in spec.split(',') {
        let o = Command::new("lspci")
            .args(["-A", "linux-sysfs", "-O"])
            .arg(format!("sysfs.path={}", root.join("sys/bus/pci").display()))
            .args(["-O", "hwdb.disable=1", "-D", "-n", "-d", part])
            .output()
            .expect("lspci (pciutils)");
        if !o.status.success() {
            return Err(err(&o));
        }
        all.extend(
            out(&o)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_string),
        );
    }
    Ok(all)
}

#[test]
fn ls_filter_agrees_with_lspci_d() {
    if !passthru_testsupport::peer::require_programs(&["lspci"]) {
        return;
    }
    // The whole filter grammar is checked against lspci in the library's
    // tests/lspci_filter.rs; here the flag end to end, and its errors.
    let t = tree(scenarios::two_socket());
    for f in ["8086::0200", "::02xx", "10de::0300,::0106", "15b3:"] {
        let want = lspci_d(t.path(), f).unwrap_or_else(|e| panic!("lspci -d {f}: {e}"));
        let o = passthru(t.path(), &["ls", "--json", "--filter", f]);
        assert!(o.status.success(), "{f}: {}", err(&o));
        let got: BTreeSet<String> = json(&o)["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["address"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "--filter {f}");
    }
    // What lspci refuses, passthru refuses too (exit 3, lspci's reason).
    for bad in ["8086", "18086:", "::10000", "1:2:3:4:5"] {
        let l = lspci_d(t.path(), bad).expect_err(bad);
        let o = passthru(t.path(), &["ls", "--filter", bad]);
        assert_eq!(o.status.code(), Some(3), "{bad}");
        let reason = l.trim().rsplit(": ").next().unwrap().to_string();
        assert!(
            err(&o).contains(&reason),
            "{bad}: lspci says {l:?}, passthru {}",
            err(&o)
        );
    }
}

#[test]
fn opennebula_and_qemu_acl() {
    if !passthru_testsupport::peer::require_programs(&["lspci"]) {
        return;
    }
    let t = tree(scenarios::i350());
    let o = passthru(t.path(), &["render", "opennebula", "07:10.7", "07:10.3"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let s = out(&o);
    assert!(s.contains("FILTER = '8086:1520:0200'\n"), "{s}");
    assert_eq!(
        s.matches("PCI = [ VENDOR = \"8086\", DEVICE = \"1520\", CLASS = \"0200\" ]")
            .count(),
        2,
        "{s}"
    );
    // The probe filter, given to lspci, finds the devices' type: all 8 VFs of the tree.
    let v = json(&passthru(
        t.path(),
        &["render", "opennebula", "07:10.7", "--json"],
    ));
    let filter = v["filter"].as_str().unwrap();
    assert_eq!(lspci_d(t.path(), filter).unwrap().len(), 8);
    let o = passthru(
        t.path(),
        &["render", "opennebula", "07:10.7", "--by", "address"],
    );
    assert!(out(&o).contains("PCI = [ SHORT_ADDRESS = \"07:10.7\" ]"));

    let o = passthru(t.path(), &["render", "qemu-acl", "07:10.7", "enp7s16"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let s = out(&o);
    assert!(
        s.contains("    \"/dev/vfio/vfio\",\n    \"/dev/vfio/33\",\n    \"/dev/vfio/40\"\n]\n"),
        "{s}"
    );
    assert!(s.starts_with("# /etc/libvirt/qemu.conf"), "{s}");
    let v = json(&passthru(
        t.path(),
        &["render", "qemu-acl", "pci_0000_07_10_7", "--json"],
    ));
    assert_eq!(v["groups"]["40"][0], "0000:07:10.7");

    // Neither renders a device no guest can get, and both say why, as render libvirt
    // does: a PF whose VFs are enabled, a bridge, a device whose group the host holds.
    let mut spec = scenarios::i350();
    spec.device_mut(bdf("0000:06:00.2"))
        .unwrap()
        .sriov
        .as_mut()
        .unwrap()
        .vfs[1]
        .iommu_group = Some(40);
    let t = tree(spec);
    for (dev, reason) in [
        ("eno1", "SR-IOV PF with 2 VF(s) enabled"),
        ("00:1c.0", "it is a bridge"),
        ("07:10.7", "IOMMU group 40 also holds 0000:07:10.6 (igbvf)"),
    ] {
        for what in ["opennebula", "qemu-acl"] {
            let o = passthru(t.path(), &["render", what, dev]);
            assert_eq!(o.status.code(), Some(2), "{what} {dev}: {}", out(&o));
            assert!(out(&o).is_empty(), "{what} {dev}: {}", out(&o));
            assert!(
                err(&o).contains("cannot be assigned") && err(&o).contains(reason),
                "{what} {dev}: {}",
                err(&o)
            );
            let v = json(&passthru(t.path(), &["render", what, dev, "--json"]));
            assert!(
                v["refused"]["reason"].as_str().unwrap().contains(reason),
                "{v}"
            );
        }
    }
    // Named together, the shared group goes whole.
    let o = passthru(t.path(), &["render", "qemu-acl", "07:10.7", "07:10.6"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("IOMMU group of 0000:07:10.6, 0000:07:10.7"));
}

/// qemu.conf as libvirt's own augeas lens for it (libvirtd_qemu.aug, shipped with
/// libvirt's QEMU driver) reads it: no parse error, and `cgroup_device_acl` holds
/// exactly the paths passthru says, in order. Needs augtool (augeas-tools).
#[test]
fn qemu_acl_parses_with_libvirts_qemu_conf_lens() {
    if !passthru_testsupport::peer::require_programs(&["augtool"]) {
        return;
    }
    for (spec, devs) in [
        (scenarios::i350(), vec!["07:10.7", "pci_0000_07_10_3"]),
        (
            scenarios::two_socket(),
            vec!["d8:00.0", "d8:00.1", "18:02.3"],
        ),
    ] {
        let t = tree(spec);
        let mut args = vec!["render", "qemu-acl"];
        args.extend_from_slice(&devs);
        let text = passthru(t.path(), &args);
        assert_eq!(text.status.code(), Some(0), "{}", err(&text));
        args.push("--json");
        let v = json(&passthru(t.path(), &args));
        let want: Vec<String> = v["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        assert!(want.contains(&"/dev/vfio/vfio".to_string()), "{want:?}");
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc/libvirt")).unwrap();
        std::fs::write(root.path().join("etc/libvirt/qemu.conf"), out(&text)).unwrap();
        let o = Command::new("augtool")
            .arg("-r")
            .arg(root.path())
            .args([
                "--noautoload",
                "-t",
                "Libvirtd_qemu incl /etc/libvirt/qemu.conf",
                "print /augeas//error\nprint /files/etc/libvirt/qemu.conf/cgroup_device_acl",
            ])
            .output()
            .expect("augtool (augeas-tools) must be installed: scripts/test.sh installs it");
        let printed = out(&o);
        assert!(
            o.status.success() && !printed.contains("/augeas/"),
            "{printed}{}",
            err(&o)
        );
        let got: Vec<String> = printed
            .lines()
            .filter_map(|l| l.split_once(" = "))
            .map(|(_, v)| v.trim_matches('"').to_string())
            .collect();
        assert_eq!(got, want, "{}", out(&text));
    }
}

#[test]
fn expectations_take_nova_aliases() {
    // The seed's nova.conf alias, found under the root by default.
    let t = tree(scenarios::i350().file(
        "etc/nova/nova.conf",
        "[pci]\nalias = {\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\", \"device_type\": \"type-VF\"}\n",
    ));
    let o = verify_file(t.path(), &seed_domain(), &["--expect", "igbnic:1"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains("[8086:1520 type-VF]"), "{}", out(&o));
    // A JSON alias line on the command line, read by nova's rules; a type-PF alias
    // does not take the VF.
    let pf = r#"{"name": "igbnic", "vendor_id": "8086", "product_id": "1520", "device_type": "type-PF"}"#;
    let o = verify_file(
        t.path(),
        &seed_domain(),
        &["--expect", "igbnic:1", "--alias", pf],
    );
    assert_eq!(o.status.code(), Some(2), "{}{}", out(&o), err(&o));
    // What nova refuses, passthru refuses with nova's message.
    let bad = r#"{"name": "igbnic", "vendor_id": "8086", "product_id": "1520", "device_type": "type-XX"}"#;
    let o = verify_file(
        t.path(),
        &seed_domain(),
        &["--expect", "igbnic:1", "--alias", bad],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(err(&o).contains("'type-XX' is not one of"), "{}", err(&o));
    let d = tempfile::tempdir().unwrap();
    let conf = write(
        d.path(),
        "nova.conf",
        "[pci]\nalias = {\"name\": \"gpu\", \"vendor_id\": \"10de\", \"product_id\": \"1b80\"}\n",
    );
    let o = verify_file(
        t.path(),
        &seed_domain(),
        &["--expect", "gpu:0,igbnic:1", "--nova-conf", &conf],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "igbnic is not in this nova.conf: {}",
        out(&o)
    );
    assert!(
        out(&o).contains("no alias 'igbnic' is defined (known: gpu)"),
        "{}",
        out(&o)
    );
}

#[test]
fn bad_guest_input_is_one_clear_error() {
    let t = tree(scenarios::i350());
    let o = verify_file(
        t.path(),
        "<domain type='kvm'>\n  <name>x</name>\n  <devices></device>\n</domain>\n",
        &[],
    );
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(err(&o).lines().count(), 1, "one error: {}", err(&o));
    assert!(
        err(&o).contains(
            "guest.xml:3:12: not well-formed XML: expected 'devices' tag, not 'device'\n"
        ),
        "{}",
        err(&o)
    );
    let o = verify_file(t.path(), "<network><name>x</name></network>", &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(err(&o).contains("root element is <network>"), "{}", err(&o));
    let o = verify_file(
        t.path(),
        &variant("bus='0x07' slot='0x10'", "bus='0x07' slot='0x20'"),
        &[],
    );
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(err(&o).lines().count(), 1, "one error: {}", err(&o));
    assert!(
        err(&o).contains(
            "guest.xml:122: <address slot='0x20'>: out of range; libvirt allows at most 0x1f"
        ),
        "{}",
        err(&o)
    );
    let o = passthru(t.path(), &["verify", "/nonexistent/guest.xml"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        err(&o).contains("/nonexistent/guest.xml: no such file"),
        "{}",
        err(&o)
    );
    let o = passthru(t.path(), &["verify", "x.xml", "--expect", "igbnic"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        err(&o).contains("expected ALIAS:COUNT") && !err(&o).contains("panicked"),
        "{}",
        err(&o)
    );
}
