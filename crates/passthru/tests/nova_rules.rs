//! nova 34's PCI rules, one test per rule or trap of the rulebook
//! (`reference/nova-pci-semantics.md`), plus the behaviours nova's own unit tests
//! pin down (test_devspec.py, test_whitelist.py, test_request.py), rewritten
//! against passthru's API. The host is the seeds' I350 (fake sysfs facts) unless a
//! test builds its own.

use passthru::nova::alias::parse_aliases;
use passthru::nova::check::{check, CheckInput};
use passthru::nova::conf::NovaConf;
use passthru::nova::flavor::{api_check, boot_requests};
use passthru::nova::matching::{device_assignable, Assignment, NovaDevice};
use passthru::nova::pools::{build_pools, fit_requests};
use passthru::nova::py::PyValue;
use passthru::nova::spec::{parse_value, DeviceSpec, SpecContext};
use passthru::nova::sysfs::{SysfsPciDir, SysfsView};
use passthru::nova::NovaError;
use passthru_testsupport::{scenarios, FakeHost};

// ------------------------------------------------------------------ fixtures

/// The seeds' host as nova's sysfs reads see it: PFs 06:00.0-3 (8 VFs each, VF id
/// 1520), VFs 07:10.0-7, netdevs eno1-4 on the PFs and enp7s16 on a VF.
fn sysfs() -> SysfsView {
    let mut v = SysfsView::default();
    for f in 0..4 {
        v.pci.insert(
            format!("0000:06:00.{f}"),
            SysfsPciDir {
                sriov_totalvfs: Some("8\n".into()),
                sriov_vf_device: Some("1520\n".into()),
                vendor: Some("0x8086\n".into()),
                product: None,
            },
        );
        v.net_device_links
            .insert(format!("eno{}", f + 1), format!("../../../0000:06:00.{f}"));
    }
    for i in 0..8 {
        v.pci.insert(
            format!("0000:07:10.{i}"),
            SysfsPciDir {
                vendor: Some("0x8086\n".into()),
                ..Default::default()
            },
        );
    }
    v.net_device_links
        .insert("enp7s16".into(), "../../../0000:07:10.0".into());
    v.net_device_links
        .insert("eth0".into(), "../../../virtio0".into());
    v
}

fn ctx(s: &SysfsView) -> SpecContext<'_> {
    SpecContext {
        sysfs: s,
        report_in_placement: false,
    }
}

fn pf(f: u8) -> NovaDevice {
    NovaDevice {
        address: Some(format!("0000:06:00.{f}")),
        vendor_id: Some("8086".into()),
        product_id: Some("1521".into()),
        dev_type: "type-PF".into(),
        numa_node: Some(0),
        ..Default::default()
    }
}

fn vf(i: u8) -> NovaDevice {
    NovaDevice {
        address: Some(format!("0000:07:10.{i}")),
        vendor_id: Some("8086".into()),
        product_id: Some("1520".into()),
        dev_type: "type-VF".into(),
        parent_addr: Some(format!("0000:06:00.{}", i % 4)),
        numa_node: Some(0),
        ..Default::default()
    }
}

fn dev(addr: &str, vendor: &str, product: &str) -> NovaDevice {
    NovaDevice {
        address: Some(addr.into()),
        vendor_id: Some(vendor.into()),
        product_id: Some(product.into()),
        dev_type: "type-PCI".into(),
        ..Default::default()
    }
}

fn specs(values: &[&str]) -> Vec<DeviceSpec> {
    let s = sysfs();
    values
        .iter()
        .flat_map(|v| parse_value(v, ctx(&s)).unwrap_or_else(|e| panic!("{v}: {}", e.message)))
        .collect()
}

fn one(value: &str) -> DeviceSpec {
    let mut v = specs(&[value]);
    assert_eq!(v.len(), 1, "{value}");
    v.remove(0)
}

fn err(value: &str) -> NovaError {
    let s = sysfs();
    match parse_value(value, ctx(&s)) {
        Ok(_) => panic!("{value} should be rejected"),
        Err(e) => e,
    }
}

fn msg(value: &str) -> String {
    err(value).message
}

fn hits(spec: &DeviceSpec, d: &NovaDevice) -> bool {
    spec.matches(d).unwrap()
}

fn taken_by(values: &[&str], d: &NovaDevice) -> Assignment {
    let all = specs(values);
    let refs: Vec<&DeviceSpec> = all.iter().collect();
    device_assignable(&refs, d)
}

// ------------------------------------------------------------------ §3.1 entries

#[test]
fn entry_json_is_python_json() {
    assert_eq!(specs(&["[]"]).len(), 0);
    assert_eq!(specs(&["[{}, {\"vendor_id\": \"8086\"}]"]).len(), 2);
    assert_eq!(specs(&["  {\"vendor_id\": \"8086\"}\n"]).len(), 1);
    // NaN/Infinity accepted, last duplicate key wins.
    assert_eq!(
        one("{\"x\": NaN}").tag("x").map(PyValue::repr).as_deref(),
        Some("nan")
    );
    assert_eq!(
        one("{\"vendor_id\": \"8086\", \"vendor_id\": \"15b3\"}").vendor_id,
        "15b3"
    );
}

#[test]
fn entry_errors_are_novas() {
    for bad in [
        "",
        " ",
        "{'vendor_id': '8086'}",
        "{\"a\": 1,}",
        "{a: 1}",
        "{} x",
        "{\"vendor_id\": \"8086\"} # NICs",
    ] {
        assert_eq!(
            msg(bad),
            format!("Invalid [pci]device_spec config: Invalid entry: '{bad}'"),
            "{bad:?}"
        );
    }
    assert_eq!(
        msg("\"x\""),
        "Invalid [pci]device_spec config: Invalid entry: '\"x\"'; Expecting list or dict"
    );
    assert_eq!(
        msg("null"),
        "Invalid [pci]device_spec config: Invalid entry: 'null'; Expecting list or dict"
    );
    assert_eq!(
        msg("[{\"vendor_id\": \"8086\"}, [1, \"a\", true, null]]"),
        "Invalid [pci]device_spec config: Invalid entry: '[1, 'a', True, None]'; Expecting dict"
    );
    assert_eq!(err("[7]").exception, "PciConfigInvalidSpec");
}

#[test]
fn empty_dict_whitelists_every_device() {
    let s = one("{}");
    for d in [
        pf(0),
        vf(3),
        dev("0000:00:00.0", "8086", "2f00"),
        dev("0000:00:1c.0", "8086", "8d10"),
    ] {
        assert!(hits(&s, &d));
    }
}

// ------------------------------------------------------------------ §3.3 ids

#[test]
fn ids_star_and_lenient_hex() {
    assert_eq!(one("{\"vendor_id\": \" * \"}").vendor_id, "*");
    assert_eq!(
        msg("{\"product_id\": \" * \"}"),
        "Invalid [pci]device_spec config: property product_id (' * ') does not parse as a hex number."
    );
    for (raw, want) in [
        ("ABCD", "abcd"),
        ("86", "0086"),
        ("0x8086", "8086"),
        (" 8086 ", "8086"),
        ("+8086", "8086"),
        ("80_86", "8086"),
        ("８０８６", "8086"),
        ("-1", "-001"),
    ] {
        assert_eq!(
            one(&format!("{{\"vendor_id\": \"{raw}\"}}")).vendor_id,
            want,
            "{raw}"
        );
    }
    // A negative id never matches.
    assert!(!hits(&one("{\"vendor_id\": \"-1\"}"), &pf(0)));
    assert_eq!(
        msg("{\"vendor_id\": \"80*\"}"),
        "Invalid [pci]device_spec config: property vendor_id ('80*') does not parse as a hex number."
    );
    assert_eq!(
        msg("{\"vendor_id\": \"\"}"),
        "Invalid [pci]device_spec config: property vendor_id ('') does not parse as a hex number."
    );
}

#[test]
fn ids_greater_than_ffff() {
    // test_devspec: 80860 / 50570.
    assert_eq!(
        msg("{\"vendor_id\": \"80860\", \"product_id\": \"1520\"}"),
        "Invalid [pci]device_spec config: property vendor_id (80860) is greater than the maximum allowable value (FFFF)."
    );
    assert_eq!(
        msg("{\"vendor_id\": \"8086\", \"product_id\": \"50570\"}"),
        "Invalid [pci]device_spec config: property product_id (50570) is greater than the maximum allowable value (FFFF)."
    );
}

#[test]
fn non_string_ids_crash_nova() {
    let e = err("{\"vendor_id\": 8086}");
    assert_eq!(
        (e.exception.as_str(), e.message.as_str()),
        ("AttributeError", "'int' object has no attribute 'strip'")
    );
    assert!(e.is_crash());
    let e = err("{\"vendor_id\": null}");
    assert_eq!(e.message, "'NoneType' object has no attribute 'strip'");
    let e = err("{\"product_id\": 1520}");
    assert_eq!(
        (e.exception.as_str(), e.message.as_str()),
        (
            "TypeError",
            "int() can't convert non-string with explicit base"
        )
    );
}

#[test]
fn device_ids_are_compared_verbatim() {
    let s = one("{\"vendor_id\": \"abcd\"}");
    assert!(!hits(&s, &dev("0000:05:00.0", "ABCD", "0001")));
    assert!(hits(&s, &dev("0000:05:00.0", "abcd", "0001")));
    assert!(!hits(
        &one("{\"vendor_id\": \"0086\"}"),
        &dev("0000:05:00.0", "86", "0001")
    ));
}

#[test]
fn vendor_product_mismatch_does_not_match() {
    let s = one("{\"vendor_id\": \"8086\", \"product_id\": \"1520\"}");
    assert!(hits(&s, &vf(0)));
    assert!(!hits(&s, &pf(0)));
    assert!(!hits(&s, &dev("0000:05:00.0", "15b3", "1520")));
}

// ------------------------------------------------------------------ §3.4 address

#[test]
fn falsy_address_is_wildcard() {
    for a in ["\"\"", "{}", "[]", "0", "null", "false", "0.0"] {
        let s = one(&format!("{{\"address\": {a}}}"));
        assert!(hits(&s, &vf(5)), "{a}");
        assert!(hits(&s, &pf(2)), "{a}");
    }
}

#[test]
fn other_address_types_are_format_errors() {
    assert_eq!(
        msg("{\"address\": 5}"),
        "The PCI address 5 has an incorrect format."
    );
    assert_eq!(
        msg("{\"address\": true}"),
        "The PCI address True has an incorrect format."
    );
    assert_eq!(
        msg("{\"address\": [\"0000:06:00.0\"]}"),
        "The PCI address ['0000:06:00.0'] has an incorrect format."
    );
    assert_eq!(
        err("{\"address\": 5}").exception,
        "PciDeviceWrongAddressFormat"
    );
}

#[test]
fn glob_fields_fill_from_the_right() {
    let s = one("{\"address\": \"1f\"}");
    assert!(hits(&s, &dev("0000:00:1f.2", "8086", "8d02")));
    assert!(!hits(&s, &dev("0000:1f:00.0", "8086", "8d02")));
    let s = one("{\"address\": \"07:\"}");
    assert!(hits(&s, &vf(4)) && !hits(&s, &pf(0)));
    let s = one("{\"address\": \"10.3\"}");
    assert!(hits(&s, &vf(3)) && !hits(&s, &vf(2)));
    // ":0a:00." and "*: *: *.6" (test_devspec).
    assert!(hits(&one("{\"address\": \":07:10.\"}"), &vf(7)));
    assert!(hits(&one("{\"address\": \"*: *: *.6\"}"), &vf(6)));
    assert!(!hits(&one("{\"address\": \"*: *: *.6\"}"), &vf(5)));
    assert!(hits(&one("{\"address\": \".5\"}"), &vf(5)));
    assert!(hits(&one("{\"address\": \"0:7:10.2\"}"), &vf(2)));
    assert!(hits(&one("{\"address\": \"0000:07:10.\"}"), &vf(1)));
}

#[test]
fn glob_errors() {
    assert_eq!(
        msg("{\"address\": \"0000:0a:00:1\"}"),
        "The PCI address 0000:0a:00:1 has an incorrect format."
    );
    assert_eq!(
        msg("{\"address\": \"0000:h4.12:6\"}"),
        "Invalid [pci]device_spec config: property func ('12:6') does not parse as a hex number."
    );
    assert_eq!(
        msg("{\"address\": \"07:10. \"}"),
        "Invalid [pci]device_spec config: property func ('') does not parse as a hex number."
    );
    // Two dots: the function part is "1.2".
    assert_eq!(
        msg("{\"address\": \"07:10.1.2\"}"),
        "Invalid [pci]device_spec config: property func ('1.2') does not parse as a hex number."
    );
    for (a, m) in [
        (
            "0000:0*:00.0",
            "property bus ('0*') does not parse as a hex number.",
        ),
        (
            "00.0-3",
            "property func ('0-3') does not parse as a hex number.",
        ),
        (
            "0000:07:10.8",
            "property func (8) is greater than the maximum allowable value (7).",
        ),
        (
            "10000:07:10.0",
            "property domain (10000) is greater than the maximum allowable value (FFFF).",
        ),
        (
            "0000:100:00.0",
            "property bus (100) is greater than the maximum allowable value (FF).",
        ),
        (
            "0000:07:20.0",
            "property slot (20) is greater than the maximum allowable value (1F).",
        ),
    ] {
        assert_eq!(
            msg(&format!("{{\"address\": \"{a}\"}}")),
            format!("Invalid [pci]device_spec config: {m}"),
            "{a}"
        );
    }
    // Function first, then domain, bus, slot: the first failure is reported.
    assert!(msg("{\"address\": \"zz:zz:zz.9\"}").contains("property func (9)"));
}

#[test]
fn regex_dict_anchored_at_start_only() {
    let s = one("{\"address\": {\"bus\": \"0\"}}");
    assert!(hits(&s, &pf(0)) && hits(&s, &vf(0)));
    assert!(hits(&s, &dev("0000:0a:00.0", "15b3", "1017")));
    assert!(!hits(&s, &dev("0000:10:00.0", "15b3", "1017")));
    let s = one("{\"address\": {\"bus\": \"07$$\"}}"
        .replace("$$", "$")
        .as_str());
    assert!(hits(&s, &vf(0)) && !hits(&s, &dev("0000:70:00.0", "1", "2")));
    // Class ranges and partial dicts (test_devspec).
    let s = one("{\"address\": {\"domain\": \".*\", \"bus\": \"07\", \"slot\": \"10\", \"function\": \"[0-2]\"}}");
    assert!(hits(&s, &vf(2)) && !hits(&s, &vf(3)));
    // Upper-case hex in a regex never matches the lower-case device fields.
    assert!(!hits(
        &one("{\"address\": {\"bus\": \"0A\"}}"),
        &dev("0000:0a:00.0", "1", "2")
    ));
    // Not range-checked.
    assert!(!hits(
        &one("{\"address\": {\"bus\": \"100\"}}"),
        &dev("0000:10:00.0", "1", "2")
    ));
    for bad in ["*", "[6[-7]", "(", "a**"] {
        assert_eq!(
            err(&format!("{{\"address\": {{\"bus\": \"{bad}\"}}}}")).exception,
            "PciDeviceWrongAddressFormat",
            "{bad}"
        );
    }
    assert_eq!(
        msg("{\"address\": {\"bus\": \"*\"}}"),
        "The PCI address {'bus': '*'} has an incorrect format."
    );
    // Python's grammar, not Rust's: `a{` is a literal brace, look-behind works.
    assert!(hits(
        &one("{\"address\": {\"slot\": \"(?<=1)0|1\"}}"),
        &vf(0)
    ));
    assert!(!hits(&one("{\"address\": {\"bus\": \"a{\"}}"), &vf(0)));
    assert_eq!(err("{\"address\": {\"bus\": 7}}").exception, "TypeError");
}

// ------------------------------------------------------------------ §3.5 PF rule, devname

#[test]
fn pf_address_selects_its_vfs() {
    let s = one("{\"address\": \"0000:06:00.0\"}");
    assert!(s.address.as_ref().unwrap().is_physical_function);
    assert!(hits(&s, &pf(0)));
    assert!(hits(&s, &vf(0)) && hits(&s, &vf(4)));
    assert!(!hits(&s, &vf(1)));
    // With the VF product id: only the VFs.
    let s = one("{\"address\": \"0000:06:00.0\", \"product_id\": \"1520\"}");
    assert!(!hits(&s, &pf(0)) && hits(&s, &vf(0)));
    // A PF address still matches the exact device when parent_addr is absent.
    let mut lone = vf(0);
    lone.parent_addr = None;
    assert!(!hits(&one("{\"address\": \"0000:06:00.0\"}"), &lone));
    // All-hex regex dict (raw strings build the sysfs path).
    let s = one("{\"address\": {\"domain\": \"0000\", \"bus\": \"06\", \"slot\": \"00\", \"function\": \"0\"}}");
    assert!(s.address.as_ref().unwrap().is_physical_function && hits(&s, &vf(4)));
    let s = one("{\"address\": {\"domain\": \"0000\", \"bus\": \"6\", \"slot\": \"00\", \"function\": \"0\"}}");
    assert!(!s.address.as_ref().unwrap().is_physical_function && !hits(&s, &vf(4)));
}

#[test]
fn pf_mode_needs_a_single_address_and_sysfs() {
    assert!(
        !one("{\"address\": \"0000:06:00.*\"}")
            .address
            .unwrap()
            .is_physical_function
    );
    assert!(!hits(&one("{\"address\": \"*:06:00.0\"}"), &vf(0)));
    // No such PF in sysfs, or sriov_totalvfs 0 / unreadable: exact address only.
    for total in [None, Some("0\n"), Some("x\n")] {
        let mut s = sysfs();
        s.pci.get_mut("0000:06:00.0").unwrap().sriov_totalvfs = total.map(String::from);
        let spec = parse_value("{\"address\": \"0000:06:00.0\"}", ctx(&s))
            .unwrap()
            .remove(0);
        assert!(!spec.address.as_ref().unwrap().is_physical_function);
        assert!(spec.matches(&pf(0)).unwrap() && !spec.matches(&vf(0)).unwrap());
    }
}

#[test]
fn devname_rules() {
    assert_eq!(
        msg("{\"devname\": \"eno1\", \"address\": \"0000:06:00.0\"}"),
        "Invalid PCI Whitelist: The PCI whitelist can specify devname or address, but not both"
    );
    // Blank devname counts as absent.
    assert!(hits(
        &one("{\"devname\": \"\", \"address\": \"0000:07:10.1\"}"),
        &vf(1)
    ));
    assert!(hits(&one("{\"devname\": \"\"}"), &pf(3)));
    // A PF's netdev selects the PF and its VFs.
    let s = one("{\"devname\": \"eno1\"}");
    assert!(hits(&s, &pf(0)) && hits(&s, &vf(4)) && !hits(&s, &vf(1)));
    // A VF's netdev: that function only.
    let s = one("{\"devname\": \"enp7s16\"}");
    assert!(hits(&s, &vf(0)) && !hits(&s, &vf(4)));
    // Unknown netdev: matches nothing, no error.
    let s = one("{\"devname\": \"eth9\"}");
    assert!(s.address.is_none());
    assert!(!hits(&s, &pf(0)) && !hits(&s, &vf(0)));
    // A netdev that is not on a PCI function stops nova-compute.
    assert_eq!(
        msg("{\"devname\": \"eth0\"}"),
        "Invalid [pci]device_spec config: property slot ('virtio0') does not parse as a hex number."
    );
}

// ------------------------------------------------------------------ §3.6 tags

#[test]
fn tag_normalisation() {
    for (v, want) in [
        ("yes", "true"),
        ("true", "true"),
        ("1", "true"),
        ("no", "false"),
        ("false", "false"),
        ("0", "false"),
        ("TrUe", "true"),
    ] {
        let s = one(&format!(
            "{{\"managed\": \"{v}\", \"live_migratable\": \"{v}\"}}"
        ));
        assert_eq!(s.tag("managed"), Some(&PyValue::Str(want.into())));
        assert_eq!(s.tag("live_migratable"), Some(&PyValue::Str(want.into())));
    }
    assert_eq!(
        one("{\"managed\": true}").tag("managed"),
        Some(&PyValue::Str("true".into()))
    );
    assert_eq!(
        one("{\"managed\": null}").tag("managed"),
        Some(&PyValue::None)
    );
    assert_eq!(one("{\"vendor_id\": \"8086\"}").tag("managed"), None);
    assert_eq!(
        msg("{\"managed\": \"maybe\"}"),
        "Invalid [pci]device_spec config: Cannot parse tag 'managed': Unrecognized value 'maybe', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
    );
    assert!(msg("{\"live_migratable\": 2}").contains("Unrecognized value '2'"));
    // Other tags keep their JSON type; unknown keys are tags too.
    let s = one("{\"physical_network\": \"PhysNet1\", \"trusted\": \"yes\", \"foo\": [1], \"remote_managed\": \"no\"}");
    assert_eq!(
        PyValue::Dict(s.tags.clone()).repr(),
        "{'physical_network': 'PhysNet1', 'trusted': 'yes', 'foo': [1], 'remote_managed': 'no'}"
    );
}

#[test]
fn one_time_use_needs_placement() {
    assert_eq!(
        msg("{\"one_time_use\": \"TrUe\"}"),
        "Invalid [pci]device_spec config: one_time_use=true requires pci.report_in_placement to be enabled"
    );
    let s = sysfs();
    let c = SpecContext {
        sysfs: &s,
        report_in_placement: true,
    };
    let spec = parse_value("{\"one_time_use\": \"TrUe\"}", c)
        .unwrap()
        .remove(0);
    assert_eq!(spec.tag("one_time_use"), Some(&PyValue::Str("true".into())));
    assert!(parse_value("{\"one_time_use\": \"no\"}", ctx(&s)).is_ok());
}

#[test]
fn remote_managed() {
    // Unknown devname.
    assert_eq!(
        err("{\"devname\": \"eth9\", \"remote_managed\": \"true\"}").exception,
        "PciDeviceRemoteManagedNotPresent"
    );
    // On real sysfs there is no `product` file: nova 34 fails looking for it.
    assert_eq!(
        msg("{\"devname\": \"eno1\", \"remote_managed\": \"true\", \"product_id\": \"1520\"}"),
        "PCI device 0000:06:00.0 not found"
    );
    // With a PF given by address, nova 34 uses an object repr as the path (bug).
    assert_eq!(
        msg("{\"address\": \"0000:06:00.0\", \"remote_managed\": \"true\", \"product_id\": \"1520\"}"),
        "PCI device <nova.pci.devspec.PciAddressGlobSpec object at 0x...> not found"
    );
    // The checks themselves, where `product` is readable (as nova's unit tests mock it).
    let mut s = sysfs();
    s.pci.get_mut("0000:06:00.0").unwrap().product = Some("0x1521\n".into());
    let p = |v: &str| parse_value(v, ctx(&s));
    assert!(p("{\"devname\": \"eno1\", \"remote_managed\": \"true\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}").is_ok());
    assert!(
        p("{\"devname\": \"eno1\", \"remote_managed\": \"true\", \"product_id\": \"1520\"}")
            .is_ok()
    );
    for ids in ["\"product_id\": \"1521\"", "\"vendor_id\": \"8086\"", ""] {
        let v = format!(
            "{{\"devname\": \"eno1\", \"remote_managed\": \"true\"{}{ids}}}",
            if ids.is_empty() { "" } else { ", " }
        );
        let e = p(&v).unwrap_err();
        assert_eq!(
            (e.exception.as_str(), e.message.as_str()),
            ("PciDeviceInvalidPFRemoteManaged", "0000:06:00.0"),
            "{v}"
        );
    }
    let e = p("{\"devname\": \"eno1\", \"remote_managed\": \"true\", \"vendor_id\": \"15b3\", \"product_id\": \"1520\"}").unwrap_err();
    assert_eq!(
        e.message,
        "Invalid [pci]device_spec config: the specified VF vendor ID 15b3 and product ID 1520 do not match the expected VF IDs based on the corresponding PF identified by PCI address 0000:06:00.0"
    );
    // A remote-managed spec takes only devices with a VPD serial number.
    let spec =
        one("{\"vendor_id\": \"8086\", \"product_id\": \"1520\", \"remote_managed\": \"yes\"}");
    let mut d = vf(1);
    assert!(!hits(&spec, &d));
    d.card_serial_number = Some(String::new());
    assert!(!hits(&spec, &d));
    d.card_serial_number = Some("MT2048X".into());
    assert!(hits(&spec, &d));
    // remote_managed=false or absent imposes nothing.
    assert!(hits(
        &one("{\"product_id\": \"1520\", \"remote_managed\": \"false\"}"),
        &vf(1)
    ));
}

// ------------------------------------------------------------------ §3.7 matching

#[test]
fn first_match_wins_and_only_its_tags_apply() {
    let values = [
        "{\"vendor_id\": \"8086\", \"product_id\": \"1520\", \"physical_network\": \"physnet1\"}",
        "{\"address\": \"0000:07:10.*\", \"physical_network\": \"physnet2\", \"trusted\": \"true\"}",
    ];
    assert_eq!(taken_by(&values, &vf(3)), Assignment::Spec(0));
    let rev = [values[1], values[0]];
    assert_eq!(taken_by(&rev, &vf(3)), Assignment::Spec(0));
    let all = specs(&rev);
    assert_eq!(
        all[0].tag("physical_network"),
        Some(&PyValue::Str("physnet2".into()))
    );
    assert_eq!(taken_by(&values, &pf(0)), Assignment::None);
}

#[test]
fn dev_type_is_not_part_of_matching() {
    let mut d = vf(0);
    d.dev_type = "type-PF".into();
    assert!(hits(&one("{\"product_id\": \"1520\"}"), &d));
}

#[test]
fn device_side_errors() {
    // A 32-bit domain: PciConfigInvalidSpec (the tracker skips the device).
    match taken_by(&["{\"vendor_id\": \"15b3\"}"], &dev("10000:01:00.0", "8086", "0a54")) {
        Assignment::Error(e) => assert_eq!(
            e.message,
            "Invalid [pci]device_spec config: property domain (10000) is greater than the maximum allowable value (FFFF)."
        ),
        other => panic!("{other:?}"),
    }
    // Raised even though the ids already differ: nova evaluates every condition.
    match taken_by(
        &["{\"vendor_id\": \"15b3\"}"],
        &dev("07:00.0", "8086", "1520"),
    ) {
        Assignment::Error(e) => assert_eq!(e.exception, "PciDeviceWrongAddressFormat"),
        other => panic!("{other:?}"),
    }
    let mut no_product = vf(0);
    no_product.product_id = None;
    match taken_by(&["{}"], &no_product) {
        Assignment::Error(e) => assert_eq!(
            (e.exception.as_str(), e.message.as_str()),
            ("KeyError", "'product_id'")
        ),
        other => panic!("{other:?}"),
    }
    // A devname that does not exist stops nothing: no dict access at all.
    assert_eq!(
        taken_by(&["{\"devname\": \"eth9\"}"], &no_product),
        Assignment::None
    );
}

#[test]
fn whitelist_counts_and_empty() {
    // test_whitelist: one dict, a list, several lines.
    assert_eq!(specs(&["{\"product_id\": \"1520\"}"]).len(), 1);
    assert_eq!(
        specs(&["[{\"product_id\": \"1520\"}, {\"product_id\": \"1521\"}]"]).len(),
        2
    );
    assert_eq!(
        specs(&["{\"product_id\": \"1520\"}", "{\"product_id\": \"1521\"}"]).len(),
        2
    );
    assert_eq!(taken_by(&[], &vf(0)), Assignment::None);
}

// ------------------------------------------------------------------ §4 alias, §5 flavor

fn alias_err(lines: &[&str], placement: bool) -> String {
    let v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    parse_aliases(&v, placement).unwrap_err().error.message
}

#[test]
fn alias_rules_from_test_request() {
    let v: Vec<String> = NUMA
        .iter()
        .map(|p| format!("{{\"name\": \"a-{p}\", \"vendor_id\": \"8086\", \"product_id\": \"1520\", \"numa_policy\": \"{p}\"}}"))
        .collect();
    let a = parse_aliases(&v, false).unwrap();
    assert_eq!(a.aliases.len(), 4);
    assert_eq!(a.get("a-socket").unwrap().numa_policy, "socket");
    for (line, want) in [
        ("{\"name\": \"a\", \"vendor_id\": \"8086\", \"product_id\": \"1520\", \"device_type\": \"N\"}", "'N' is not one of ['type-PCI', 'type-PF', 'type-VF']"),
        ("{\"name\": \"a\", \"vendor_id\": \"8086\", \"product_id\": \"g111\"}", "'g111' does not match '^([\\\\da-fA-F]{4})$'"),
        ("{\"name\": \"a\", \"vendor_id\": \"8086\", \"product_id\": \"1520\", \"capability_type\": \"usb\"}", "'usb' is not one of ['pci']"),
        ("{\"name\": \"a\", \"vendor_id\": \"8086\", \"product_id\": \"1520\", \"physical_network\": \"p\"}", "Additional properties are not allowed ('physical_network' was unexpected)"),
        ("{\"name\": \"a\", \"vendor_id\": \"8086\", \"product_id\": \"1520\", \"device_type\": \"vdpa\"}", "'vdpa' is not one of ['type-PCI', 'type-PF', 'type-VF']"),
    ] {
        assert_eq!(alias_err(&[line], false), format!("Invalid PCI alias definition: {want}"));
    }
    // resource_class and traits with pci_in_placement.
    let v = vec![
        "{\"name\": \"a\", \"resource_class\": \"CUSTOM_GPU\", \"traits\": \"HW_GPU_API_VULKAN\"}"
            .to_string(),
    ];
    assert!(parse_aliases(&v, true).is_ok());
    assert!(parse_aliases(&v, false).is_err());
}

const NUMA: [&str; 4] = ["required", "legacy", "preferred", "socket"];

#[test]
fn alias_name_stripped_after_validation() {
    let v =
        vec!["{\"name\": \" \", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}".to_string()];
    let a = parse_aliases(&v, false).unwrap();
    assert_eq!(a.aliases[0].name, "");
    // Reachable at boot (":1" strips to ""), not through the API.
    assert!(boot_requests(":1", &a, None).is_ok());
    assert!(api_check(":1").is_some());
}

#[test]
fn flavor_parsers_disagree() {
    let v = vec![
        "{\"name\": \"a1\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}".to_string(),
        "{\"name\": \"a2\", \"vendor_id\": \"8086\", \"product_id\": \"1521\", \"device_type\": \"type-PF\"}".to_string(),
    ];
    let a = parse_aliases(&v, false).unwrap();
    assert!(api_check("a1 : 2").is_some() && boot_requests("a1 : 2", &a, None).is_ok());
    assert!(api_check("a1,a2:1").is_none() && boot_requests("a1,a2:1", &a, None).is_err());
    assert!(api_check("a1:2,,a2:1").is_none() && boot_requests("a1:2,,a2:1", &a, None).is_err());
    assert!(api_check("a1:٣").is_none());
    assert_eq!(boot_requests("a1:٣", &a, None).unwrap()[0].count, 3);
}

// ------------------------------------------------------------------ §6 pools and fitting

fn exposed(values: &[&str], devs: &[NovaDevice]) -> Vec<passthru::nova::pools::Pool> {
    let all = specs(values);
    let refs: Vec<&DeviceSpec> = all.iter().collect();
    let pairs: Vec<(&NovaDevice, &DeviceSpec)> = devs
        .iter()
        .filter_map(|d| match device_assignable(&refs, d) {
            Assignment::Spec(i) => Some((d, refs[i])),
            _ => None,
        })
        .collect();
    build_pools(pairs)
}

fn requests(aliases: &[&str], flavor: &str) -> Vec<passthru::nova::flavor::Request> {
    let v: Vec<String> = aliases.iter().map(|s| s.to_string()).collect();
    boot_requests(flavor, &parse_aliases(&v, false).unwrap(), None).unwrap()
}

#[test]
fn pools_and_implicit_exclusions() {
    let devs: Vec<NovaDevice> = (0..4).map(pf).chain((0..8).map(vf)).collect();
    let pools = exposed(
        &["{\"vendor_id\": \"8086\", \"physical_network\": \"physnet1\"}"],
        &devs,
    );
    // Pools split by PF address; VFs get remote_managed "false".
    assert_eq!(pools.len(), 8);
    assert!(pools
        .iter()
        .all(|p| p.get("remote_managed") == Some(&PyValue::Str("false".into()))));
    // An alias without physical_network can take VFs tagged for neutron.
    let vf_alias = "{\"name\": \"v\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}";
    assert!(fit_requests(&pools, &requests(&[vf_alias], "v:8"))[0].fits);
    assert!(!fit_requests(&pools, &requests(&[vf_alias], "v:9"))[0].fits);
    // PFs only for aliases that ask for type-PF.
    let pf_any = "{\"name\": \"p\", \"vendor_id\": \"8086\", \"product_id\": \"1521\"}";
    assert!(!fit_requests(&pools, &requests(&[pf_any], "p:1"))[0].fits);
    let pf_typed = "{\"name\": \"p\", \"vendor_id\": \"8086\", \"product_id\": \"1521\", \"device_type\": \"type-PF\"}";
    assert!(fit_requests(&pools, &requests(&[pf_typed], "p:4"))[0].fits);
    // Ids and tags compare case-insensitively between alias and pool.
    let ed = exposed(
        &["{\"product_id\": \"10ed\"}"],
        &[dev("0000:05:00.0", "8086", "10ed")],
    );
    let upper = "{\"name\": \"u\", \"vendor_id\": \"8086\", \"product_id\": \"10ED\"}";
    assert!(fit_requests(&ed, &requests(&[upper], "u:1"))[0].fits);
    // Requests consume devices one after another.
    let two = fit_requests(&pools, &requests(&[vf_alias], "v:5,v:4"));
    assert!(two[0].fits && !two[1].fits);
}

#[test]
fn count_zero_still_needs_a_pool() {
    let pools = exposed(&["{\"vendor_id\": \"15b3\"}"], &[vf(0)]);
    assert!(pools.is_empty());
    let r = requests(
        &["{\"name\": \"a\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}"],
        "a:0",
    );
    assert!(!fit_requests(&pools, &r)[0].fits);
}

#[test]
fn remote_managed_and_live_migratable_filters() {
    let mut d = vf(0);
    d.card_serial_number = Some("SN".into());
    let pools = exposed(
        &["{\"product_id\": \"1520\", \"remote_managed\": \"true\"}"],
        &[d.clone()],
    );
    let plain = "{\"name\": \"v\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}";
    assert!(!fit_requests(&pools, &requests(&[plain], "v:1"))[0].fits);
    // live_migratable: every spec "true" keeps only pools tagged "true"; untagged pools go.
    let lm_alias = "{\"name\": \"l\", \"vendor_id\": \"8086\", \"product_id\": \"1520\", \"live_migratable\": \"yes\"}";
    let untagged = exposed(&["{\"product_id\": \"1520\"}"], &[vf(1)]);
    assert!(!fit_requests(&untagged, &requests(&[lm_alias], "l:1"))[0].fits);
    let tagged = exposed(
        &["{\"product_id\": \"1520\", \"live_migratable\": \"on\"}"],
        &[vf(1)],
    );
    assert!(fit_requests(&tagged, &requests(&[lm_alias], "l:1"))[0].fits);
}

// ------------------------------------------------------------------ the seeds' set-up, end to end

#[test]
fn seed_setup_on_the_seed_host() {
    let tree = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    let host = passthru::host::sources::read_root(tree.path()).unwrap();
    let conf = NovaConf::parse(&[(
        "/etc/nova/nova.conf",
        "[DEFAULT]\n\
         pci_alias={\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}\n\
         pci_passthrough_whitelist=[{\"vendor_id\": \"8086\", \"product_id\": \"1520\", \"physical_network\": \"physnet1\"}]\n\
         scheduler_default_filters=RetryFilter,AvailabilityZoneFilter,RamFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,CoreFilter,PciPassthroughFilter\n",
    )])
    .unwrap();
    let flavors = vec!["igbnic:1".to_string(), "igbnic:9".to_string()];
    let r = check(&CheckInput {
        host: &host,
        conf: &conf,
        flavors: &flavors,
    });
    assert!(r.compute_starts);
    let exposed: Vec<&str> = r
        .devices
        .iter()
        .filter(|d| d.exposed)
        .map(|d| d.address.as_str())
        .collect();
    assert_eq!(
        exposed,
        (0..8)
            .map(|i| format!("0000:07:10.{i}"))
            .collect::<Vec<_>>()
    );
    assert!(r
        .devices
        .iter()
        .filter(|d| d.exposed)
        .all(|d| d.dev_type == "type-VF"
            && d.spec_index == Some(0)
            && d.tags
                == vec![(
                    "physical_network".to_string(),
                    PyValue::Str("physnet1".into())
                )]));
    assert_eq!(r.aliases[0].name, "igbnic");
    assert_eq!(r.aliases[0].devices, 8);
    assert!(r.flavors[0].fits);
    assert!(!r.flavors[1].fits);
    assert!(r.flavors[1]
        .reason
        .contains("alias igbnic wants 9 8086:1520, device_spec exposes 8"));
    // The scheduler line in the seed is ignored by nova 34: the filter is missing.
    let ids: Vec<&str> = r.problems.iter().map(|p| p.id.as_str()).collect();
    assert!(ids.contains(&"filter.missing"));
    assert!(ids.contains(&"conf.scheduler_default_filters_ignored"));
    assert!(ids.contains(&"conf.deprecated_name"));
}

#[test]
fn check_reports_configuration_problems() {
    let tree = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    let host = passthru::host::sources::read_root(tree.path()).unwrap();
    let conf = NovaConf::parse(&[(
        "nova.conf",
        "[pci]\n\
         device_spec = {\"address\": \"0000:07:10.*\", \"managed\": \"no\"}\n\
         device_spec = {\"vendor_id\": \"8086\", \"product_id\": \"1520\", \"physical_network\": \"physnet1\"}\n\
         device_spec = {\"vendor_id\": \"15b3\"}\n\
         alias = {\"name\": \"pf\", \"vendor_id\": \"8086\", \"product_id\": \"1521\"}\n\
         [filter_scheduler]\n\
         enabled_filters = PciPassthroughFilter,AvailabilityZoneFilter\n\
         available_filters = nova.scheduler.filters.compute_filter.ComputeFilter\n",
    )])
    .unwrap();
    let r = check(&CheckInput {
        host: &host,
        conf: &conf,
        flavors: &[],
    });
    let by_id = |id: &str| {
        r.problems
            .iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("{id}: {:?}", r.problems))
    };
    assert!(by_id("spec.shadowed")
        .message
        .contains("taken by earlier spec #0"));
    assert_eq!(by_id("spec.shadowed").loc.as_ref().unwrap().line, 3);
    assert!(by_id("spec.matches_nothing")
        .message
        .contains("device_spec #2"));
    // 07:10.7 is on vfio-pci already; the other seven are not.
    let m = &by_id("spec.unmanaged_not_on_vfio").message;
    assert!(m.contains("0000:07:10.0 (igbvf)") && !m.contains("07:10.7"));
    assert!(by_id("filter.not_available")
        .message
        .contains("available_filters"));
    assert!(by_id("filter.removed")
        .message
        .contains("AvailabilityZoneFilter"));
    assert!(by_id("alias.unsatisfiable")
        .message
        .contains("devices with these ids are on this host (0000:06:00.0"));
}
