//! The tree and its writers on fake host trees read by the real sysfs source.

use super::*;
use crate::checks::{Finding, Section, Severity};
use crate::host::sources::read_root;
use crate::host::system::GuestDomain;
use passthru_testsupport::{scenarios, FakeHost};

fn host(spec: passthru_testsupport::HostSpec) -> Host {
    let dir = FakeHost::new(spec).write_temp().expect("fake host");
    read_root(dir.path()).expect("read fake host")
}

fn a(s: &str) -> PciAddress {
    PciAddress::parse(s).unwrap()
}

fn fail_on(addr: &str) -> Finding {
    Finding::new(
        "device.group-shared",
        Section::Devices,
        Severity::Fail,
        "IOMMU group isolation",
        "shares group 40 with the SATA controller",
    )
    .device(a(addr))
    .fix("move the card to another slot")
}

/// The chain of addresses from the bus down to a device.
fn path_to(t: &Topology, target: PciAddress) -> Option<(Option<u32>, String, Vec<PciAddress>)> {
    fn find(n: &Node, target: PciAddress, path: &mut Vec<PciAddress>) -> bool {
        path.push(n.address);
        if n.address == target || n.children.iter().any(|c| find(c, target, path)) {
            return true;
        }
        path.pop();
        false
    }
    for numa in &t.numa {
        for b in &numa.buses {
            for n in &b.nodes {
                let mut p = Vec::new();
                if find(n, target, &mut p) {
                    return Some((numa.id, b.name.clone(), p));
                }
            }
        }
    }
    None
}

#[test]
fn seed_vf_sits_under_its_pf_root_port_and_numa_node_in_its_group() {
    let h = host(scenarios::i350());
    let t = build(&h, &[fail_on("07:10.7")], &TopoOptions::default()).unwrap();
    assert_eq!(t.device_count, h.devices.len(), "every function is drawn");
    let (numa, bus, path) = path_to(&t, a("07:10.7")).expect("07:10.7 drawn");
    assert_eq!(numa, Some(0));
    assert_eq!(bus, "pci0000:00");
    assert_eq!(path, vec![a("00:1c.0"), a("06:00.3"), a("07:10.7")]);
    let vf = t
        .nodes()
        .into_iter()
        .find(|n| n.address == a("07:10.7"))
        .unwrap();
    assert_eq!(vf.group, Some(40));
    assert_eq!(vf.kind, Kind::Vf);
    assert_eq!(vf.state, State::Vfio);
    let b = vf.badge.as_ref().expect("doctor's finding makes a badge");
    assert_eq!(b.severity, Severity::Fail);
    assert!(b.hover().contains("shares group 40") && b.hover().contains("fix: move the card"));
    // Devices doctor did not look at carry no badge.
    let ahci = t
        .nodes()
        .into_iter()
        .find(|n| n.address == a("00:1f.2"))
        .unwrap();
    assert!(ahci.badge.is_none());
    assert_eq!(ahci.state, State::HostDriver);
    assert_eq!(t.numa[0].cpulist.as_deref(), Some("0-11"));
}

#[test]
fn a_running_guest_wins_over_the_driver() {
    let mut h = host(scenarios::i350());
    h.system.libvirt_domains = Some(vec![GuestDomain {
        name: "instance-00000001".into(),
        running: true,
        file: "etc/libvirt/qemu/instance-00000001.xml".into(),
        devices: vec![a("07:10.7")],
    }]);
    let t = build(&h, &[], &TopoOptions::default()).unwrap();
    let vf = t
        .nodes()
        .into_iter()
        .find(|n| n.address == a("07:10.7"))
        .unwrap();
    assert_eq!(vf.state, State::Guest);
    assert_eq!(vf.guests, vec!["instance-00000001 (running)"]);
    h.system.libvirt_domains.as_mut().unwrap()[0].running = false;
    let t = build(&h, &[], &TopoOptions::default()).unwrap();
    let vf = t
        .nodes()
        .into_iter()
        .find(|n| n.address == a("07:10.7"))
        .unwrap();
    assert_eq!(vf.state, State::Vfio, "a shut-off domain holds nothing");
}

#[test]
fn many_vfs_fold_into_one_summary_row() {
    let h = host(scenarios::parametric(2, 20));
    let t = build(&h, &[], &TopoOptions::default()).unwrap();
    let pf = t
        .nodes()
        .into_iter()
        .find(|n| n.address == a("01:00.0"))
        .unwrap();
    let sum = pf.vf_summary.as_ref().expect("20 VFs > 16 fold");
    // Expected figures from the facts, not from the writer.
    let vfs: Vec<&PciDevice> = h
        .devices
        .iter()
        .filter(|d| d.physfn == Some(pf.address))
        .collect();
    let on_vfio = vfs.iter().filter(|d| d.on_vfio()).count();
    let lo = vfs.iter().filter_map(|d| d.iommu_group).min().unwrap();
    let hi = vfs.iter().filter_map(|d| d.iommu_group).max().unwrap();
    assert_eq!(
        sum.line(),
        format!(
            "20 VFs: {} iavf, {on_vfio} vfio-pci; groups {lo}-{hi}",
            20 - on_vfio
        )
    );
    // The VFs stay in the tree (HTML unfolds them); rows show one summary instead.
    assert_eq!(pf.children.len(), 20);
    let rs = rows(&t.numa[0].buses[0]);
    assert!(rs
        .iter()
        .any(|r| matches!(r.row, Row::Vfs(p) if p.address == pf.address)));
    assert!(!rs
        .iter()
        .any(|r| matches!(r.row, Row::Device(n) if n.kind == Kind::Vf)));
    // Unfolded on request.
    let t = build(
        &h,
        &[],
        &TopoOptions {
            collapse_over: 64,
            ..TopoOptions::default()
        },
    )
    .unwrap();
    assert!(t.nodes().iter().all(|n| n.vf_summary.is_none()));
    let text = text::render(&t);
    for d in &h.devices {
        assert!(
            text.contains(&d.address.to_string()),
            "{} in text",
            d.address
        );
    }
}

#[test]
fn device_and_numa_scopes_draw_only_their_part() {
    let h = host(scenarios::i350());
    let t = build(
        &h,
        &[],
        &TopoOptions {
            devices: vec![a("07:10.7")],
            ..TopoOptions::default()
        },
    )
    .unwrap();
    let drawn: Vec<PciAddress> = t.nodes().iter().map(|n| n.address).collect();
    assert_eq!(drawn, vec![a("00:1c.0"), a("06:00.3"), a("07:10.7")]);
    assert!(t.title().contains("around 0000:07:10.7"));

    let two = host(scenarios::two_socket());
    let t = build(
        &two,
        &[],
        &TopoOptions {
            numa: Some(1),
            ..TopoOptions::default()
        },
    )
    .unwrap();
    assert_eq!(t.numa.len(), 1);
    assert!(t.nodes().iter().all(|n| n.numa == Some(1)));
    let expected = two
        .devices
        .iter()
        .filter(|d| d.numa_node == Some(1))
        .count();
    assert_eq!(t.device_count, expected);
    let e = build(
        &two,
        &[],
        &TopoOptions {
            numa: Some(7),
            ..TopoOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the host has no NUMA node 7 (it has: 0, 1); pick one of those with --numa"
    );
}

#[test]
fn svg_is_xml_with_every_device_nested_in_its_group_and_node() {
    let h = host(scenarios::i350());
    let t = build(&h, &[fail_on("07:10.7")], &TopoOptions::default()).unwrap();
    let svg = svg::render(&t);
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let devs: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("dev"))
        .collect();
    for d in &h.devices {
        assert!(
            devs.iter()
                .any(|n| n.attribute("data-addr") == Some(&d.address.to_string())),
            "{} in the SVG",
            d.address
        );
    }
    let vf = devs
        .iter()
        .find(|n| n.attribute("data-addr") == Some("0000:07:10.7"))
        .unwrap();
    let up = |class: &str, attr: &str| {
        vf.ancestors()
            .find(|n| n.attribute("class") == Some(class))
            .and_then(|n| n.attribute(attr))
            .map(str::to_string)
    };
    assert_eq!(up("group", "data-group").as_deref(), Some("40"));
    assert_eq!(up("numa", "data-numa").as_deref(), Some("0"));
    assert_eq!(vf.attribute("data-state"), Some("vfio"));
    let badge = vf
        .descendants()
        .find(|n| n.attribute("class") == Some("badge"))
        .expect("badge");
    assert_eq!(badge.attribute("data-severity"), Some("fail"));
    let title = badge
        .children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(title.contains("shares group 40"), "{title}");
    // Every device has hover text; the legend names every state.
    assert!(devs
        .iter()
        .all(|n| n.children().any(|c| c.has_tag_name("title"))));
    for st in State::ALL {
        assert!(svg.contains(st.legend()));
    }
    // Nothing to fetch: the only URL is the SVG namespace.
    assert_eq!(svg.matches("http").count(), 1);
    assert!(!svg.contains("<script") && !svg.contains("href"));
}

#[test]
fn folded_vfs_are_still_named_in_the_svg() {
    let h = host(scenarios::parametric(1, 20));
    let t = build(&h, &[], &TopoOptions::default()).unwrap();
    let svg = svg::render(&t);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let vfs = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("vfs"))
        .expect("a folded row");
    let title = vfs
        .children()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap();
    for d in h.devices.iter().filter(|d| d.is_vf()) {
        assert!(title.contains(&d.address.to_string()));
    }
}

#[test]
fn html_nests_every_device_and_unfolds_vfs() {
    let h = host(scenarios::parametric(1, 20));
    let t = build(&h, &[], &TopoOptions::default()).unwrap();
    let page = html::page(&t);
    for d in &h.devices {
        assert!(
            page.contains(&format!("data-addr=\"{}\"", d.address)),
            "{}",
            d.address
        );
    }
    assert_eq!(page.matches("<details class=\"vfs\"").count(), 1);
    assert!(page.contains(html::CSP));
    assert!(!page.contains("http://") && !page.contains("https://"));
}

#[test]
fn dot_quotes_every_device_and_clusters_groups() {
    let h = host(scenarios::two_socket());
    let t = build(&h, &[], &TopoOptions::default()).unwrap();
    let d = dot::render(&t);
    for dev in &h.devices {
        assert!(d.contains(&format!("\"{}\" [label=", dev.address)));
    }
    // The GPU and its audio function share group 90: one cluster holds both.
    let c = d.find("cluster_group_90_").expect("group 90 cluster");
    let end = c + d[c..].find('}').unwrap();
    assert!(d[c..end].contains("0000:d8:00.0") && d[c..end].contains("0000:d8:00.1"));
    assert_eq!(d.matches('{').count(), d.matches('}').count());
}
