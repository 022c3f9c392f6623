//! `nova check` and `render nova` end to end on the seeds' I350 host (fake tree):
//! the seed's nova.conf explained, nova's messages for rejected values, exit
//! codes, and `render nova --write` keeping comments, journaled and idempotent.

use passthru_testsupport::{scenarios, FakeHost};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use tempfile::TempDir;

const SEED_CONF: &str = "\
[DEFAULT]
# from the seed: set on every compute and scheduler node
pci_alias={\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}
pci_passthrough_whitelist=[{\"vendor_id\": \"8086\", \"product_id\": \"1520\", \"physical_network\": \"physnet1\"}]
scheduler_available_filters=nova.scheduler.filters.pci_passthrough_filter.PciPassthroughFilter
scheduler_default_filters=RetryFilter,AvailabilityZoneFilter,RamFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,CoreFilter,PciPassthroughFilter
";

fn i350(conf: Option<&str>) -> TempDir {
    let t = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    if let Some(c) = conf {
        std::fs::create_dir_all(t.path().join("etc/nova")).unwrap();
        std::fs::write(t.path().join("etc/nova/nova.conf"), c).unwrap();
    }
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

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn check_explains_the_seed_setup() {
    let t = i350(Some(SEED_CONF));
    let o = passthru(
        t.path(),
        &["--json", "nova", "check", "--flavor", "igbnic:1"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o)); // warnings
    let j = json(&o);
    let exposed: Vec<&Value> = j["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["exposed"] == true)
        .collect();
    assert_eq!(exposed.len(), 8);
    for d in &exposed {
        assert_eq!(d["dev_type"], "type-VF");
        assert_eq!(d["spec_index"], 0);
        assert_eq!(d["tags"]["physical_network"], "physnet1");
        assert!(d["address"].as_str().unwrap().starts_with("0000:07:10."));
    }
    // The PFs are not exposed (their product id is 1521).
    let pf = j["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["address"] == "0000:06:00.0")
        .unwrap();
    assert_eq!(pf["exposed"], false);
    assert_eq!(pf["spec_index"], Value::Null);
    assert_eq!(j["aliases"][0]["name"], "igbnic");
    assert_eq!(j["aliases"][0]["devices"], 8);
    assert_eq!(j["flavors"][0]["fits"], true);
    assert_eq!(j["errors"].as_array().unwrap().len(), 0);
    // Pools split by PF (and by parent_ifname: 07:10.7 is on vfio-pci, no netdev).
    assert_eq!(j["pools"].as_array().unwrap().len(), 5);
    let ids: Vec<&str> = j["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"filter.missing"), "{ids:?}");
    assert!(ids.contains(&"conf.scheduler_default_filters_ignored"));
    // Human output names the devices and the verdict.
    let h = passthru(t.path(), &["nova", "check", "--flavor", "igbnic:1"]);
    let s = text(&h);
    assert!(
        s.contains("0000:07:10.3 [8086:1520] type-VF of PF 0000:06:00.3"),
        "{s}"
    );
    assert!(s.contains("Flavor pci_passthrough:alias=igbnic:1: fits this host"));
}

#[test]
fn flavor_that_does_not_fit_says_why() {
    let t = i350(Some(SEED_CONF));
    let o = passthru(
        t.path(),
        &["--json", "nova", "check", "--flavor", "igbnic:9"],
    );
    assert_eq!(o.status.code(), Some(2));
    let j = json(&o);
    assert_eq!(j["flavors"][0]["fits"], false);
    let reason = j["flavors"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("alias igbnic wants 9 8086:1520, device_spec exposes 8"),
        "{reason}"
    );
    // Both verdicts are reported when the API and boot parsers disagree.
    let o = passthru(
        t.path(),
        &["--json", "nova", "check", "--flavor", "igbnic : 1"],
    );
    let j = json(&o);
    assert!(j["flavors"][0]["api_error"]
        .as_str()
        .unwrap()
        .starts_with("Validation failed; 'igbnic : 1'"));
    assert_eq!(j["flavors"][0]["boot_error"], Value::Null);
    assert_eq!(j["flavors"][0]["disagree"], true);
}

#[test]
fn rejected_values_get_novas_messages() {
    let t = i350(None);
    let o = passthru(
        t.path(),
        &[
            "--json",
            "nova",
            "check",
            "--device-spec",
            "{\"vendor_id\": \"8086\", \"product_id\": \"1520\"}",
            "--device-spec",
            "{\"address\": \"0000:07:10.8\"}",
            "--device-spec",
            "{\"vendor_id\": \"8086\"} # NICs",
            "--alias",
            "{\"name\": \"a\", \"vendor_id\": \"8086\", \"product_id\": \"1520\", \"device_type\": \"vdpa\"}",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let j = json(&o);
    assert_eq!(j["compute_starts"], false);
    let errors = j["errors"].as_array().unwrap();
    let find = |opt: &str, idx: u64| {
        errors
            .iter()
            .find(|e| e["option"] == opt && e["index"] == idx)
            .unwrap_or_else(|| panic!("{opt} {idx}: {errors:?}"))
    };
    assert_eq!(
        find("device_spec", 1)["message"],
        "Invalid [pci]device_spec config: property func (8) is greater than the maximum allowable value (7)."
    );
    assert_eq!(find("device_spec", 1)["first"], true);
    assert_eq!(
        find("device_spec", 2)["message"],
        "Invalid [pci]device_spec config: Invalid entry: '{\"vendor_id\": \"8086\"} # NICs'"
    );
    assert_eq!(
        find("alias", 0)["message"],
        "Invalid PCI alias definition: 'vdpa' is not one of ['type-PCI', 'type-PF', 'type-VF']"
    );
    // Nothing is exposed when nova-compute cannot start, but the would-be match shows.
    let d = j["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["address"] == "0000:07:10.0")
        .unwrap();
    assert_eq!(d["exposed"], false);
    assert_eq!(d["spec_index"], 0);
}

#[test]
fn missing_or_broken_conf_is_a_clear_error() {
    let t = i350(None);
    let o = passthru(t.path(), &["nova", "check"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o).contains("etc/nova/nova.conf does not exist"),
        "{}",
        text(&o)
    );
    let t = i350(Some("[pci]\ndevice_spec = {}\n  \n[pci] # NICs\n"));
    let o = passthru(t.path(), &["nova", "check"]);
    assert_eq!(o.status.code(), Some(3));
    let s = text(&o);
    assert!(
        s.contains("nova.conf:4, Invalid section (must end with ])"),
        "{s}"
    );
}

const OPERATOR_CONF: &str = "\
[DEFAULT]
# Managed by hand. Keep this comment.
debug = true

[filter_scheduler]
# our filters
enabled_filters = ComputeFilter,ImagePropertiesFilter

[pci]
; old
";

#[test]
fn render_write_keeps_comments_and_is_idempotent() {
    let t = i350(Some(OPERATOR_CONF));
    let conf = t.path().join("etc/nova/nova.conf");
    let c = conf.to_str().unwrap();
    let args = [
        "render",
        "nova",
        "--devices",
        "0000:06:00.0",
        "--alias",
        "igbnic",
        "--physnet",
        "physnet1",
        "--allow-pf",
        "--write",
        c,
        "--yes",
    ];
    // The PF itself, given to guests whole (type-PF), with its VFs enabled: only
    // with --allow-pf.
    let o = passthru(t.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let after = std::fs::read_to_string(&conf).unwrap();
    for line in OPERATOR_CONF.lines() {
        if !line.starts_with("enabled_filters") {
            assert!(after.lines().any(|l| l == line), "lost {line:?}:\n{after}");
        }
    }
    assert!(after
        .contains("enabled_filters = ComputeFilter,ImagePropertiesFilter,PciPassthroughFilter"));
    assert!(after.contains("device_spec = {\"vendor_id\": \"8086\", \"product_id\": \"1521\", \"address\": \"0000:06:00.0\", \"physical_network\": \"physnet1\"}"), "{after}");
    assert!(after.contains("alias = {\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1521\", \"device_type\": \"type-PF\"}"));
    // Journaled (no backup files beside it): undo puts it back.
    let n = std::fs::read_dir(t.path().join("etc/nova"))
        .unwrap()
        .count();
    assert_eq!(n, 1);
    // Again: nothing changes.
    let o = passthru(t.path(), &args);
    assert!(text(&o).contains("nothing to do"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), after);
    // And nova check agrees with what was written.
    let o = passthru(
        t.path(),
        &["--json", "nova", "check", "--flavor", "igbnic:1"],
    );
    let j = json(&o);
    let exposed: Vec<&str> = j["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["exposed"] == true)
        .map(|d| d["address"].as_str().unwrap())
        .collect();
    // PF mode: the PF's address selects the PF and its VFs, but the product id
    // restricts it to the PF.
    assert_eq!(exposed, ["0000:06:00.0"]);
    assert_eq!(j["flavors"][0]["fits"], true, "{}", j["flavors"]);
    assert!(!j["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == "filter.missing"));
}

#[test]
fn render_all_vfs_of_a_pf_uses_the_pf_interface_name() {
    let t = i350(None);
    let o = passthru(
        t.path(),
        &[
            "--json",
            "render",
            "nova",
            "--devices",
            "0000:07:10.0,0000:07:10.4",
            "--alias",
            "vf",
            "--count",
            "2",
            "--flavor",
            "pci-pass",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j = json(&o);
    // Every VF of eno1 (06:00.0): by the PF's interface name, portable to hosts
    // built alike (--pin-addresses gives the PF's address).
    assert_eq!(
        j["device_spec"][0],
        "{\"devname\": \"eno1\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}"
    );
    assert_eq!(
        j["selects"],
        serde_json::json!(["0000:07:10.0", "0000:07:10.4"])
    );
    assert_eq!(
        j["flavor_command"],
        "openstack flavor set pci-pass --property pci_passthrough:alias=vf:2"
    );
    assert!(j["enabled_filters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "PciPassthroughFilter"));
    // Mixed device types under one alias are refused.
    let o = passthru(
        t.path(),
        &[
            "render",
            "nova",
            "--devices",
            "0000:06:00.0,0000:07:10.0",
            "--alias",
            "x",
        ],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("mixes device types"));
}

#[test]
fn snapshot_carries_device_spec_and_alias_in_novas_order() {
    // The deprecated name comes first whatever the order in the file: its tags win.
    let t = i350(Some(
        "[pci]\ndevice_spec = {\"vendor_id\": \"8086\", \"product_id\": \"1520\"}\n\
         alias = {\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}\n\
         [DEFAULT]\npci_passthrough_whitelist = {\"product_id\": \"1520\", \"physical_network\": \"physnet1\"}\n",
    ));
    let snap = t.path().join("host.json");
    let o = passthru(t.path(), &["snapshot", "-o", snap.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .args([
            "--snapshot",
            snap.to_str().unwrap(),
            "--json",
            "nova",
            "check",
            "--flavor",
            "igbnic:2",
        ])
        .output()
        .unwrap();
    let j = json(&o);
    assert_eq!(
        j["device_spec"][0]["option"],
        "[DEFAULT] pci_passthrough_whitelist"
    );
    let d = j["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["address"] == "0000:07:10.2")
        .unwrap();
    assert_eq!(d["value_index"], 0);
    assert_eq!(d["tags"]["physical_network"], "physnet1");
    assert_eq!(j["flavors"][0]["fits"], true);
}
