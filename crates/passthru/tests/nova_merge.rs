//! `nova::merge`: rendered settings merged into real nova.conf files on the seeds'
//! I350 host (4 PFs 06:00.0-3, product 1521, each with 2 of 8 VFs enabled: VFs
//! 07:10.0-7, product 1520). Every merged file is read back with the rules
//! `nova check` applies, and merged again to prove nothing moves.

use passthru::host::Host;
use passthru::nova::check::{check, CheckInput};
use passthru::nova::conf::NovaConf;
use passthru::nova::merge::{merge, MergeError, MergeRequest};
use passthru::nova::render::{render, RenderRequest};
use passthru::pci::PciAddress;
use passthru_testsupport::{scenarios, FakeHost};

use passthru_testsupport::scenarios::I350_NOVA_CONF as SEED_CONF;

fn host() -> Host {
    let tree = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    passthru::host::sources::read_root(tree.path()).unwrap()
}

fn vfs() -> Vec<String> {
    (0..8).map(|i| format!("0000:07:10.{i}")).collect()
}

/// What `render nova --devices ... --alias igbnic` renders, as a merge request.
fn request(h: &Host, devices: &[String], physnet: Option<&str>) -> MergeRequest {
    let r = render(
        h,
        &RenderRequest {
            devices: devices
                .iter()
                .map(|d| PciAddress::parse(d).unwrap())
                .collect(),
            alias: "igbnic".into(),
            physnet: physnet.map(str::to_string),
            count: 1,
            flavor: "f".into(),
            ..Default::default()
        },
    )
    .unwrap();
    MergeRequest {
        alias_name: "igbnic".into(),
        alias: r.alias,
        device_spec: r.device_spec,
        devices: r.selects,
        add_filter: true,
    }
}

/// The merged file as `nova check` reads it: no fatal finding, and the devices nova exposes.
fn exposed(h: &Host, text: &str) -> Vec<String> {
    let conf = NovaConf::parse(&[("nova.conf", text)]).unwrap();
    let r = check(&CheckInput {
        host: h,
        conf: &conf,
        flavors: &["igbnic:1".to_string()],
    });
    assert!(r.fatal().is_empty(), "{:?}\n{text}", r.fatal());
    assert!(r.flavors[0].fits, "{}", r.flavors[0].reason);
    r.devices
        .iter()
        .filter(|d| d.exposed)
        .map(|d| d.address.clone())
        .collect()
}

#[test]
fn the_first_seeds_deprecated_names_move_to_pci_and_a_second_merge_changes_nothing() {
    let h = host();
    let req = request(&h, &vfs(), Some("physnet1"));
    let m = merge("/etc/nova/nova.conf", SEED_CONF, &h, &req).unwrap();
    assert!(m.changed);
    assert!(m.added_filter);
    // Both deprecated values were ours (same alias name, same devices): replaced.
    assert_eq!(m.replaced.len(), 2, "{m:?}");
    assert!(!m.text.contains("pci_alias"), "{}", m.text);
    assert!(!m.text.contains("pci_passthrough_whitelist"), "{}", m.text);
    // Every other line, comments included, is kept as it was.
    for l in SEED_CONF.lines().filter(|l| !l.starts_with("pci_")) {
        assert!(m.text.lines().any(|x| x == l), "lost {l:?}:\n{}", m.text);
    }
    assert!(m.text.contains("\n[pci]\ndevice_spec = "), "{}", m.text);
    assert_eq!(exposed(&h, &m.text), vfs());
    let again = merge("/etc/nova/nova.conf", &m.text, &h, &req).unwrap();
    assert!(!again.changed, "{}", again.text);
    assert_eq!(again.text, m.text);
}

#[test]
fn an_alias_of_the_same_name_is_replaced_not_duplicated() {
    // Issue 9, defect 1: appending a second igbnic with another device_type is
    // PciInvalidAlias, and nova-compute does not start.
    let h = host();
    let text = "[pci]\n# the NIC VFs\nalias = {\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}\nalias = {\"name\": \"gpu\", \"vendor_id\": \"10de\", \"product_id\": \"1db4\"}\n\n[filter_scheduler]\nenabled_filters = ComputeFilter,PciPassthroughFilter\n";
    let req = request(&h, &vfs(), None);
    let m = merge("nova.conf", text, &h, &req).unwrap();
    assert_eq!(m.text.matches("\"igbnic\"").count(), 1, "{}", m.text);
    assert!(m.text.contains("\"type-VF\""), "{}", m.text);
    assert!(m.text.contains("# the NIC VFs\n"), "{}", m.text);
    assert!(m.text.contains("\"gpu\""));
    assert!(!m.added_filter);
    assert_eq!(exposed(&h, &m.text), vfs());
    assert!(!merge("nova.conf", &m.text, &h, &req).unwrap().changed);
}

#[test]
fn a_spec_that_also_selects_other_devices_is_refused() {
    let h = host();
    // All eight VFs, but only the VFs of 06:00.0 are requested.
    let text = "[pci]\ndevice_spec = {\"vendor_id\": \"8086\", \"product_id\": \"1520\"}\n";
    let req = request(&h, &vfs()[..2], None);
    let e = merge("nova.conf", text, &h, &req).unwrap_err();
    let MergeError::Overlap(o) = &e else {
        panic!("{e:?}")
    };
    let (line, inside, outside) = (o.line, &o.inside, &o.outside);
    assert_eq!(line, 2);
    assert_eq!(inside.len(), 2);
    assert_eq!(outside.len(), 6);
    assert!(e.to_string().contains("nova.conf:2"), "{e}");
}

#[test]
fn a_result_nova_would_not_load_is_refused() {
    let h = host();
    // RamFilter was removed in nova 19: the scheduler does not start.
    let text = "[filter_scheduler]\nenabled_filters = RamFilter,ComputeFilter\n";
    let e = merge("nova.conf", text, &h, &request(&h, &vfs(), None)).unwrap_err();
    let MergeError::WouldNotLoad { fatal, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(fatal.iter().any(|f| f.id == "filter.removed"), "{fatal:?}");
    assert!(
        e.to_string().contains("nova-scheduler does not start"),
        "{e}"
    );
    // And a file nova cannot parse at all.
    let e = merge(
        "nova.conf",
        "[pci]\ndevice_spec\n",
        &h,
        &request(&h, &vfs(), None),
    )
    .unwrap_err();
    assert!(matches!(e, MergeError::Parse(_)), "{e:?}");
    assert!(e.to_string().contains("nova.conf:2"), "{e}");
}

#[test]
fn other_values_keep_novas_order_and_line_endings() {
    let h = host();
    // A [PCI] section (oslo matches it case-insensitively), a value for the PFs
    // that stays, and a deprecated value for another host's devices, moved before
    // it (nova reads deprecated names first), CRLF line endings.
    let text = "[DEFAULT]\r\npci_passthrough_whitelist = {\"vendor_id\": \"15b3\", \"product_id\": \"1018\"}\r\n[PCI]\r\ndevice_spec = {\"vendor_id\": \"8086\", \"product_id\": \"1521\",\r\n   \"physical_network\": \"pf\"}\r\nreport_in_placement = false\r\n";
    let req = request(&h, &vfs(), None);
    let m = merge("nova.conf", text, &h, &req).unwrap();
    assert_eq!(
        m.text.matches('\n').count(),
        m.text.matches("\r\n").count(),
        "{:?}",
        m.text
    );
    let conf = NovaConf::parse(&[("nova.conf", &m.text)]).unwrap();
    let values: Vec<&str> = conf.device_spec.iter().map(|v| v.value.as_str()).collect();
    assert_eq!(
        values[0],
        "{\"vendor_id\": \"15b3\", \"product_id\": \"1018\"}"
    );
    assert_eq!(
        values[1],
        "{\"vendor_id\": \"8086\", \"product_id\": \"1521\",\n\"physical_network\": \"pf\"}"
    );
    assert_eq!(values.len(), 2 + req.device_spec.len(), "{}", m.text);
    assert!(
        conf.device_spec
            .iter()
            .all(|v| v.option == "[PCI] device_spec"),
        "{:?}",
        conf.device_spec
    );
    assert_eq!(m.moved.len(), 1);
    let again = merge("nova.conf", &m.text, &h, &req).unwrap();
    assert!(!again.changed, "{:?}", again.text);
}

/// Lines nova.conf files are made of here: the seed's deprecated names, `[pci]`
/// values of ours and of other devices, other options, comments, blank lines.
const LINES: &[&str] = &[
    "[DEFAULT]",
    "[pci]",
    "[PCI]",
    "[filter_scheduler]",
    "# a comment",
    "",
    "debug = true",
    "pci_alias={\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}",
    "pci_alias={\"name\": \"gpu\", \"vendor_id\": \"10de\", \"product_id\": \"1db4\"}",
    "pci_passthrough_whitelist=[{\"vendor_id\": \"8086\", \"product_id\": \"1520\"}]",
    "pci_passthrough_whitelist={\"vendor_id\": \"15b3\"}",
    "passthrough_whitelist = {\"vendor_id\": \"8086\", \"product_id\": \"1521\"}",
    "device_spec = {\"vendor_id\": \"8086\", \"product_id\": \"1520\",",
    "   \"physical_network\": \"physnet1\"}",
    "device_spec = {\"address\": \"0000:00:1f.2\"}",
    "alias = {\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\", \"device_type\": \"type-VF\"}",
    "alias = {\"name\": \"other\", \"vendor_id\": \"8086\", \"product_id\": \"1521\"}",
    "enabled_filters = ComputeFilter,PciPassthroughFilter",
    "enabled_filters = ComputeFilter",
    "report_in_placement = false",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever the file, the merge never panics; when it writes, nova check finds
    /// nothing that stops nova and every VF is exposed (other values may expose other
    /// devices), and merging its own output
    /// again changes no byte.
    #[test]
    fn merging_is_checked_and_idempotent(
        picks in proptest::collection::vec(0..LINES.len(), 0..14),
        crlf in proptest::bool::ANY,
    ) {
        let h = host();
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut text = String::from("[DEFAULT]");
        for p in picks {
            text.push_str(nl);
            text.push_str(LINES[p]);
        }
        text.push_str(nl);
        let req = request(&h, &vfs(), None);
        if let Ok(m) = merge("nova.conf", &text, &h, &req) {
            let shown = exposed(&h, &m.text);
            proptest::prop_assert!(vfs().iter().all(|v| shown.contains(v)), "{:?}", shown);
            let again = merge("nova.conf", &m.text, &h, &req).unwrap();
            proptest::prop_assert!(!again.changed, "{:?}\n->\n{:?}", m.text, again.text);
        }
    }
}
