//! "No valid host" explained per compute host (`passthru openstack boot`), on a fake
//! compute host read from its tree: the reasons, and that they are `nova check`'s own
//! verdicts (one rule, one place).

use passthru::host::sources::read_root;
use passthru::nova::check::{check, CheckInput};
use passthru::nova::conf::NovaConf;
use passthru::openstack::explain::{explain, ComputeHost, Holder};
use passthru::Host;
use passthru_testsupport::spec::{bdf, DeviceSpec, HostSpec};
use passthru_testsupport::FakeHost;

const FILTERS: &str = "[filter_scheduler]\nenabled_filters = ComputeFilter,PciPassthroughFilter\n";

/// Two GPUs [10de:1eb8] on NUMA nodes 0 and 1, on vfio-pci.
fn gpu_host() -> Host {
    let mut h = HostSpec::new()
        .numa_node(0, "0-3")
        .numa_node(1, "4-7")
        .driver("vfio-pci", Some("vfio_pci"));
    h.hostname = Some("cmp1".into());
    for (a, g, n) in [("0000:81:00.0", 81, 0), ("0000:c1:00.0", 82, 1)] {
        h = h.device(
            DeviceSpec::new(bdf(a), 0x10de, 0x1eb8, 0x030200)
                .driver("vfio-pci")
                .group(g)
                .numa(n),
        );
    }
    let dir = FakeHost::new(h).write_temp().unwrap();
    read_root(dir.path()).unwrap()
}

fn conf(extra: &str) -> NovaConf {
    let text = format!(
        "[pci]\ndevice_spec = {{\"vendor_id\": \"10de\", \"product_id\": \"1eb8\"}}\n\
         alias = {{\"name\": \"gpu\", \"vendor_id\": \"10de\", \"product_id\": \"1eb8\", \"device_type\": \"type-PCI\"{extra}}}\n\
         alias = {{\"name\": \"nic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}}\n{FILTERS}"
    );
    NovaConf::parse(&[("nova.conf", &text)]).unwrap()
}

fn compute<'a>(host: &'a Host, holders: &[(&str, &str)]) -> ComputeHost<'a> {
    ComputeHost {
        name: "cmp1".into(),
        state: Some("up".into()),
        status: Some(("enabled".into(), None)),
        facts: Some((host, conf(""))),
        facts_source: "test".into(),
        holders: holders
            .iter()
            .map(|(s, v)| Holder {
                server: s.to_string(),
                value: v.to_string(),
            })
            .collect(),
    }
}

#[test]
fn too_few_devices_is_nova_checks_own_verdict() {
    let host = gpu_host();
    let api = conf("");
    let ex = explain("gpu:3", &[], Some(&api), &[compute(&host, &[])]);
    let h = &ex.hosts[0];
    assert_eq!(h.can_take, Some(false));
    assert_eq!(h.reasons[0].id, "pci.short");
    let report = check(&CheckInput {
        host: &host,
        conf: &api,
        flavors: &["gpu:3".to_string()],
    });
    assert_eq!(h.reasons[0].message, report.flavors[0].reason);
    assert!(
        h.reasons[0].message.contains("wants 3"),
        "{}",
        h.reasons[0].message
    );
    assert!(ex.everywhere.is_empty(), "{:?}", ex.everywhere);
}

#[test]
fn no_device_for_the_alias() {
    let host = gpu_host();
    let ex = explain("nic:1", &[], Some(&conf("")), &[compute(&host, &[])]);
    assert_eq!(
        ex.hosts[0].reasons[0].id, "pci.no_device",
        "{:?}",
        ex.hosts[0]
    );
}

#[test]
fn servers_already_there_exhaust_the_pools() {
    let host = gpu_host();
    let api = conf("");
    let one = explain(
        "gpu:1",
        &[],
        Some(&api),
        &[compute(&host, &[("vm1", "gpu:1")])],
    );
    assert_eq!(one.hosts[0].can_take, Some(true), "{:?}", one.hosts[0]);
    let two = explain(
        "gpu:1",
        &[],
        Some(&api),
        &[compute(&host, &[("vm1", "gpu:1"), ("vm2", "gpu:1")])],
    );
    let r = &two.hosts[0].reasons[0];
    assert_eq!(r.id, "pci.exhausted");
    assert!(
        r.message.contains("vm1 (gpu:1)")
            && r.message.contains("vm2 (gpu:1)")
            && r.message.contains("0 free"),
        "{}",
        r.message
    );
    // A holder of another alias takes nothing from the GPU pools.
    let other = explain(
        "gpu:2",
        &[],
        Some(&api),
        &[compute(&host, &[("nicvm", "nic:1")])],
    );
    assert_eq!(other.hosts[0].can_take, Some(true), "{:?}", other.hosts[0]);
}

#[test]
fn service_state_missing_facts_and_filters() {
    let host = gpu_host();
    let mut down = compute(&host, &[]);
    down.state = Some("down".into());
    down.status = Some(("disabled".into(), Some("maintenance".into())));
    let mut unknown = compute(&host, &[]);
    unknown.name = "cmp2".into();
    unknown.facts = None;
    unknown.facts_source = "no --facts snapshot names cmp2".into();
    let api = NovaConf::parse(&[(
        "api.conf",
        "[pci]\nalias = {\"name\": \"gpu\", \"vendor_id\": \"10de\", \"product_id\": \"1eb8\"}\n",
    )])
    .unwrap();
    let ex = explain("gpu:1", &[], Some(&api), &[down, unknown]);
    let ids: Vec<&str> = ex.hosts[0].reasons.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["compute.down", "compute.disabled"]);
    assert!(ex.hosts[0].reasons[1].message.contains("maintenance"));
    assert_eq!(ex.hosts[1].can_take, None);
    assert_eq!(ex.hosts[1].reasons[0].id, "facts.unknown");
    assert_eq!(ex.everywhere[0].id, "filter.missing");
}

#[test]
fn alias_missing_on_the_api_node_and_numa_policy() {
    let host = gpu_host();
    let ex = explain("vgpu:1", &[], Some(&conf("")), &[compute(&host, &[])]);
    assert_eq!(ex.everywhere[0].id, "alias.api_node");
    assert!(ex.everywhere[0]
        .message
        .contains("PCI alias vgpu is not defined"));

    let api = conf(", \"numa_policy\": \"required\"");
    let extra = [("hw:numa_nodes".to_string(), "1".to_string())];
    let ex = explain("gpu:1", &extra, Some(&api), &[compute(&host, &[])]);
    let r = &ex.hosts[0].reasons[0];
    assert_eq!(r.id, "pci.numa");
    assert!(
        r.message.contains("hw:numa_nodes=1")
            && r.message.contains("required")
            && r.message.contains("0, 1"),
        "{}",
        r.message
    );
    // Without a guest NUMA topology there is nothing to say.
    let ex = explain("gpu:1", &[], Some(&api), &[compute(&host, &[])]);
    assert_eq!(ex.hosts[0].can_take, Some(true));
}

#[test]
fn without_the_api_nodes_conf_each_host_speaks_for_itself() {
    let host = gpu_host();
    let ex = explain("gpu:3", &[], None, &[compute(&host, &[])]);
    assert_eq!(ex.everywhere[0].id, "conf.api_node_unknown");
    assert!(
        !ex.everywhere.iter().any(|r| r.id == "filter.missing"),
        "{:?}",
        ex.everywhere
    );
    assert_eq!(ex.hosts[0].reasons[0].id, "pci.short");
}
