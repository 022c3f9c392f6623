//! libvirt itself judges what passthru renders: every `<hostdev>` / `<interface
//! type='hostdev'>` passes libvirt's RelaxNG schema (through a wrapper that includes
//! domaincommon.rng) and libvirt's parser (`virsh -c test:///default define`), and
//! every node-device XML passes `virt-xml-validate ... nodedev` and libvirt's test
//! driver. Needs libvirt-clients and libxml2-utils (scripts/test.sh installs them).

use passthru::host::model::Host;
use passthru::host::sources::read_snapshot;
use passthru::libvirt::hostdev::{render_devices, HostdevOptions, MacAddress};
use passthru::libvirt::{nodedev_xml, parse_domain};
use passthru::pci::PciAddress;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCHEMAS: &str = "/usr/share/libvirt/schemas";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/libvirt")
        .join(name)
}

fn seed_host() -> Host {
    read_snapshot(&fixture("seed-host.json")).unwrap()
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {cmd}: {e}; scripts/test.sh installs libvirt-clients and libxml2-utils")
    })
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A RelaxNG grammar whose start is one `<hostdev>` or `<interface>`: libvirt ships
/// no schema for a bare device, and a whole domain's `<interleave>` hides the place
/// of an error.
fn fragment_schema(dir: &Path) -> PathBuf {
    let p = dir.join("device-fragment.rng");
    std::fs::write(
        &p,
        r#"<?xml version="1.0"?>
<grammar xmlns="http://relaxng.org/ns/structure/1.0" datatypeLibrary="http://www.w3.org/2001/XMLSchema-datatypes">
  <include href="domaincommon.rng"/>
  <start>
    <choice>
      <ref name="hostdev"/>
      <ref name="interface"/>
    </choice>
  </start>
</grammar>
"#,
    )
    .unwrap();
    p
}

fn validate_fragment(dir: &Path, xml: &str, name: &str) -> Output {
    let rng = fragment_schema(dir);
    let f = dir.join(name);
    std::fs::write(&f, xml).unwrap();
    run(
        "xmllint",
        &[
            "--noout",
            "--path",
            SCHEMAS,
            "--relaxng",
            rng.to_str().unwrap(),
            f.to_str().unwrap(),
        ],
    )
}

fn domain_with(name: &str, devices: &str) -> String {
    format!(
        "<domain type='kvm'>\n  <name>{name}</name>\n  <memory unit='KiB'>131072</memory>\n  <vcpu>1</vcpu>\n  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n  <devices>\n{devices}  </devices>\n</domain>\n"
    )
}

/// Defines and dumps a domain in one test-driver connection (state lives in the
/// connection, so it must be one virsh process).
fn define_and_dump(dir: &Path, name: &str, domain: &str) -> Output {
    let f = dir.join(format!("{name}.xml"));
    std::fs::write(&f, domain).unwrap();
    run(
        "virsh",
        &[
            "-c",
            "test:///default",
            &format!("define {}; dumpxml {name}", f.display()),
        ],
    )
}

/// The XML part of `define; dumpxml` output ("Domain 'x' defined from ..." comes first).
fn dumped(o: &Output) -> &str {
    let s = std::str::from_utf8(&o.stdout).unwrap();
    &s[s.find("<domain").unwrap_or(0)..]
}

fn dev<'h>(h: &'h Host, a: &str) -> &'h passthru::host::model::PciDevice {
    h.device(&PciAddress::parse(a).unwrap()).unwrap()
}

#[test]
fn rendered_hostdevs_pass_the_schema_and_the_parser() {
    if !passthru_testsupport::peer::require_programs(&["xmllint", "virsh"]) {
        return;
    }
    let h = seed_host();
    let t = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<&str>, HostdevOptions)> = vec![
        ("managed", vec!["07:10.7"], HostdevOptions::default()),
        (
            "unmanaged",
            vec!["07:10.7"],
            HostdevOptions {
                managed: false,
                ..HostdevOptions::default()
            },
        ),
        ("two", vec!["07:10.3", "07:10.7"], HostdevOptions::default()),
        (
            "gpu-group",
            vec!["03:00.0", "04:00.0"],
            HostdevOptions::default(),
        ),
        (
            "interface",
            vec!["07:10.3"],
            HostdevOptions {
                interface: true,
                mac: Some(MacAddress::parse("52:54:00:6d:90:02").unwrap()),
                vlan: Some(4095),
                ..HostdevOptions::default()
            },
        ),
        (
            "interface-bare",
            vec!["07:10.7"],
            HostdevOptions {
                interface: true,
                managed: false,
                ..HostdevOptions::default()
            },
        ),
    ];
    for (name, addrs, opts) in cases {
        let devs: Vec<_> = addrs.iter().map(|a| dev(&h, a)).collect();
        let rendered = render_devices(&h, &devs, &opts).unwrap();
        let mut all = String::new();
        for (i, r) in rendered.iter().enumerate() {
            let o = validate_fragment(t.path(), &r.xml, &format!("{name}-{i}.xml"));
            assert!(
                o.status.success(),
                "{name}: schema refused:\n{}\n{}",
                r.xml,
                text(&o)
            );
            all.push_str(&r.xml);
        }
        let dom = domain_with(&format!("pt-{name}"), &all);
        let o = define_and_dump(t.path(), &format!("pt-{name}"), &dom);
        assert!(
            o.status.success(),
            "{name}: libvirt refused:\n{dom}\n{}",
            text(&o)
        );
        // libvirt read back exactly the devices we wrote.
        let back = parse_domain(dumped(&o), "dumpxml").unwrap();
        let got: Vec<PciAddress> = back.devices.iter().map(|d| d.address).collect();
        let want: Vec<PciAddress> = devs.iter().map(|d| d.address).collect();
        assert_eq!(got, want, "{name}");
        assert!(
            back.devices.iter().all(|d| d.managed == opts.managed),
            "{name}"
        );
        if let Some(m) = &opts.mac {
            assert_eq!(back.devices[0].mac.as_deref(), Some(m.to_string().as_str()));
        }
        if let Some(v) = opts.vlan {
            assert_eq!(back.devices[0].vlans, vec![v]);
        }
    }
}

#[test]
fn the_fragment_wrapper_really_checks() {
    if !passthru_testsupport::peer::require_programs(&["xmllint", "virsh"]) {
        return;
    }
    // A wrapper that accepted anything would make the test above worthless.
    let t = tempfile::tempdir().unwrap();
    let bad = "<hostdev mode='subsystem' type='pci' managed='yes'>\n  <source>\n    <address domain='0x0000' bus='0x07' slot='0x10' function='0x8'/>\n  </source>\n</hostdev>\n";
    let o = validate_fragment(t.path(), bad, "bad.xml");
    assert!(!o.status.success());
    assert!(text(&o).contains("function"), "{}", text(&o));
    let o = define_and_dump(t.path(), "pt-bad", &domain_with("pt-bad", bad));
    assert!(!o.status.success());
    assert!(text(&o).contains("must be <= 7"), "{}", text(&o));
}

#[test]
fn node_device_xml_passes_the_schema_and_the_test_driver() {
    if !passthru_testsupport::peer::require_programs(&["xmllint", "virt-xml-validate", "virsh"]) {
        return;
    }
    let h = seed_host();
    let t = tempfile::tempdir().unwrap();
    let mut node = String::from("<node>\n<device><name>computer</name><capability type='system'><hardware><uuid>e2a3b6b4-6c1c-4b8e-9a57-3c7e3f6b7a10</uuid></hardware><firmware/></capability></device>\n");
    let mut files = Vec::new();
    for d in &h.devices {
        let xml = nodedev_xml(&h, d);
        let f = t.path().join(format!("{}.xml", d.address.nodedev_name()));
        std::fs::write(&f, &xml).unwrap();
        files.push(f.to_str().unwrap().to_string());
        node.push_str(&xml);
    }
    node.push_str("</node>\n");
    // virt-xml-validate FILE nodedev is xmllint with nodedev.rng: one run for all.
    let o = run("virt-xml-validate", &[&files[0], "nodedev"]);
    assert!(o.status.success(), "{}", text(&o));
    let mut args = vec![
        "--noout",
        "--relaxng",
        "/usr/share/libvirt/schemas/nodedev.rng",
    ];
    args.extend(files.iter().map(String::as_str));
    let o = run("xmllint", &args);
    assert!(o.status.success(), "{}", text(&o));
    let nf = t.path().join("node.xml");
    std::fs::write(&nf, &node).unwrap();
    // libvirt's own parser reads every device, and prints the VF back as we wrote it
    // (but for <driver>, which the test driver drops).
    let uri = format!("test://{}", nf.display());
    let o = run(
        "virsh",
        &["-c", &uri, "nodedev-dumpxml", "pci_0000_07_10_7"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let back = String::from_utf8_lossy(&o.stdout).to_string();
    let ours = nodedev_xml(&h, dev(&h, "07:10.7"));
    let without_driver = ours.replace("  <driver>\n    <name>vfio-pci</name>\n  </driver>\n", "");
    assert_eq!(back.trim(), without_driver.trim());
    let o = run(
        "virsh",
        &["-c", &uri, "nodedev-dumpxml", "pci_0000_06_00_3"],
    );
    assert!(
        text(&o).contains("<capability type='virt_functions' maxCount='8'>"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_seed_nodedev_still_validates_and_the_seed_domain_parses_through_libvirt() {
    if !passthru_testsupport::peer::require_programs(&["xmllint", "virt-xml-validate", "virsh"]) {
        return;
    }
    let o = run(
        "virt-xml-validate",
        &[
            fixture("seed-nodedev-pci_0000_07_10_7.xml")
                .to_str()
                .unwrap(),
            "nodedev",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    // libvirt rewrites the seed domain (new id, defaults); passthru reads its output.
    let t = tempfile::tempdir().unwrap();
    let seed = std::fs::read_to_string(fixture("seed-instance-00000001.xml")).unwrap();
    let o = define_and_dump(t.path(), "instance-00000001", &seed);
    assert!(o.status.success(), "{}", text(&o));
    let d = parse_domain(dumped(&o), "dumpxml").unwrap();
    assert_eq!(d.devices[0].address.to_string(), "0000:07:10.7");
    assert_eq!(d.nova.unwrap().flavor.as_deref(), Some("pci_small"));
}

/// libvirt's parser is the judge of a `<source><address>`: for every way of writing
/// it (hex, decimal, the seed's `function='0x01'`, a leading 0 that libvirt reads as
/// octal, blanks, signs, out of range, garbage), passthru reads the address libvirt
/// stores (its `dumpxml` after `define`), or refuses what libvirt refuses, naming the
/// attribute.
#[test]
fn source_addresses_are_read_as_libvirt_reads_them() {
    if !passthru_testsupport::peer::require_programs(&["virsh"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let cases = [
        "domain='0x0000' bus='0x07' slot='0x10' function='0x7'",
        "domain='0' bus='7' slot='16' function='7'",
        "bus='0x03' slot='0x10' function='0x01'",
        "domain='0x0000' bus='0x7' slot='0x10' function='7'",
        "domain='0' bus='010' slot='0' function='0'",
        "domain='0' bus='08' slot='0' function='0'",
        "domain='0' bus='0X07' slot='0X10' function='07'",
        "domain='0' bus=' 7' slot='16' function='7'",
        "domain='0' bus='7 ' slot='16' function='7'",
        "domain='0' bus='+7' slot='16' function='7'",
        "domain='0' bus='-1' slot='16' function='7'",
        "domain='0x10000' bus='7' slot='16' function='7'",
        "domain='0' bus='0x007' slot='16' function='7'",
        "domain='0' bus='0x' slot='16' function='7'",
        "domain='' bus='7' slot='16' function='7'",
        "domain='0' bus='255' slot='31' function='7'",
        "domain='0' bus='256' slot='0' function='0'",
        "domain='0' bus='0x1ff' slot='0' function='0'",
        "domain='0' bus='0' slot='0x20' function='0'",
        "domain='0' bus='0' slot='32' function='0'",
        "domain='0' bus='0' slot='0' function='8'",
        "domain='0' bus='0' slot='0' function='0x8'",
        "domain='0' bus='0xZZ' slot='0' function='0'",
        "domain='0' bus='0a' slot='0' function='0'",
        "domain='0' bus='seven' slot='0' function='0'",
        "domain='4294967295' bus='0' slot='0' function='0'",
        "domain='4294967296' bus='0' slot='0' function='0'",
        "",
    ];
    let mut checked = (0, 0);
    for (i, attrs) in cases.iter().enumerate() {
        let name = format!("addr{i}");
        let dom = domain_with(
            &name,
            &format!("    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <source>\n        <address {attrs}/>\n      </source>\n    </hostdev>\n"),
        );
        let ours = parse_domain(&dom, "case.xml");
        let o = define_and_dump(t.path(), &name, &dom);
        if o.status.success() && dumped(&o).contains("slot='0x00' function='0x8'") {
            // libvirt's quirk: an address whose domain, bus and slot are 0 counts as
            // "empty" and skips the range check, so function 8 passes the parser (and
            // fails at start). passthru refuses it.
            let e = ours.expect_err(attrs).to_string();
            assert!(e.contains("<address function="), "{attrs}: {e}");
            continue;
        }
        if o.status.success() {
            let theirs = parse_domain(dumped(&o), "dumpxml").unwrap();
            let ours =
                ours.unwrap_or_else(|e| panic!("{attrs}: libvirt accepts it, passthru says {e}"));
            assert_eq!(
                ours.devices[0].address,
                theirs.devices[0].address,
                "{attrs}: libvirt reads {}",
                dumped(&o)
            );
            checked.0 += 1;
        } else {
            let e = ours
                .map(|d| d.devices[0].address.to_string())
                .expect_err(&format!("{attrs}: libvirt refuses it: {}", text(&o)));
            // libvirt names the attribute; so does passthru.
            let theirs = text(&o);
            let attr = ["domain", "bus", "slot", "function"]
                .into_iter()
                .find(|a| theirs.contains(&format!("'{a}'")) || theirs.contains(&format!("{a}=")))
                .unwrap_or_else(|| panic!("{attrs}: which attribute? {theirs}"));
            assert!(
                e.to_string().contains(&format!("<address {attr}=")),
                "{attrs}: libvirt: {theirs}\npassthru: {e}"
            );
            checked.1 += 1;
        }
    }
    // Both sides of the line were exercised.
    assert!(checked.0 >= 10 && checked.1 >= 10, "{checked:?}");
    // What passthru reads as libvirt does, it warns about where the writer likely meant
    // decimal: bus='010' is bus 8.
    let d = parse_domain(
        &domain_with("o", "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='010' slot='07' function='0'/></source></hostdev>"),
        "o.xml",
    )
    .unwrap();
    assert_eq!(d.devices[0].address.to_string(), "0000:08:07.0");
    assert_eq!(d.devices[0].octal_attributes, vec!["bus='010'"]);
}
