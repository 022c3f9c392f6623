//! `nova check` and `render nova` end to end on the seeds' I350 host (fake tree):
//! the seed's nova.conf explained, nova's messages for rejected values, exit
//! codes, and `render nova --write` keeping comments, journaled and idempotent.

use passthru_testsupport::{peer, scenarios, FakeHost};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use tempfile::TempDir;

use passthru_testsupport::scenarios::I350_NOVA_CONF as SEED_CONF;

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

// ---------------------------------------------------------------- issue 9's seams
// Each test feeds one command's output to the next: `render nova --write` -> `nova
// check` -> `doctor` -> `render --write` again -> `undo`; `nova check` / `doctor` /
// `why` agreeing on what stops nova; portable device_spec values; one nova.conf
// reader. The merged files are also loaded by nova 34's own code
// (`scripts/nova-diff/load_conf.py`).

/// Issue 9, defect 1: a `[pci]`-style file that already has the alias.
const PCI_CONF: &str = "\
[DEFAULT]
debug = true

[pci]
# the NIC VFs, for the igbnic flavors
alias = {\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}

[filter_scheduler]
enabled_filters = ComputeFilter,ImagePropertiesFilter
";

fn exposed(j: &Value) -> Vec<String> {
    j["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["exposed"] == true)
        .map(|d| d["address"].as_str().unwrap().to_string())
        .collect()
}

fn vfs() -> Vec<String> {
    (0..8).map(|i| format!("0000:07:10.{i}")).collect()
}

/// Doctor's findings with an id.
fn findings<'a>(doctor: &'a Value, id: &str) -> Vec<&'a Value> {
    doctor["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

/// `render nova --write` on a file, the round trip every nova.conf must survive:
/// plan only without --yes; merged file nova check and doctor accept; a second run
/// changes no byte; undo restores the original byte for byte.
fn write_round_trip(root: &Path, conf: &Path, write: &[&str], physnet: bool) -> String {
    let original = std::fs::read(conf).unwrap();
    let mut args = vec![
        "render",
        "nova",
        "--devices",
        "8086:1520",
        "--alias",
        "igbnic",
    ];
    if physnet {
        args.extend(["--physnet", "physnet1"]);
    }
    args.extend(write);
    // Without --yes: the plan, nothing written.
    let o = passthru(root, &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("--yes"), "{}", text(&o));
    assert_eq!(std::fs::read(conf).unwrap(), original);
    // With --yes: journaled, merged.
    let mut yes = args.clone();
    yes.push("--yes");
    let o = passthru(root, &yes);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("undo"), "{}", text(&o));
    let merged = std::fs::read_to_string(conf).unwrap();
    assert_ne!(merged.as_bytes(), original.as_slice());
    assert_eq!(
        merged.matches("\"igbnic\"").count(),
        1,
        "one igbnic alias:\n{merged}"
    );
    assert!(!merged.contains("pci_alias"), "{merged}");
    assert!(!merged.contains("pci_passthrough_whitelist"), "{merged}");
    // nova check reads what was written: nova starts, the VFs are exposed, the
    // flavor fits.
    let c = conf.to_str().unwrap();
    let o = passthru(
        root,
        &[
            "--json", "nova", "check", "--config", c, "--flavor", "igbnic:2",
        ],
    );
    let j = json(&o);
    assert_ne!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(j["fatal"], serde_json::json!([]), "{}", text(&o));
    assert_eq!(j["compute_starts"], true);
    assert_eq!(exposed(&j), vfs());
    assert_eq!(j["flavors"][0]["fits"], true, "{}", j["flavors"]);
    if physnet {
        assert!(j["devices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["exposed"] == true)
            .all(|d| d["tags"]["physical_network"] == "physnet1"));
    }
    // Again: nothing to do, no byte changed.
    let o = passthru(root, &yes);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("nothing to do"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(conf).unwrap(), merged);
    merged
}

fn undo_restores(root: &Path, conf: &Path, original: &str) {
    let o = passthru(root, &["undo", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(conf).unwrap(), original);
}

/// nova 34's own code loads the file: `[pci] device_spec` through its Whitelist,
/// `[pci] alias` through get_alias_from_config. Returns nova's device_spec values.
fn nova_loads(conf: &Path) -> Option<Value> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = repo.join("scripts/nova-diff/venv/bin/python");
    let probe = if python.exists() {
        Ok(())
    } else {
        Err(format!(
            "{} missing: run scripts/nova-diff/run.sh once to create nova's venv",
            python.display()
        ))
    };
    if !peer::require("nova 34 (scripts/nova-diff/venv)", probe) {
        return None;
    }
    let o = Command::new(&python)
        .args(["-W", "ignore"])
        .arg(repo.join("scripts/nova-diff/load_conf.py"))
        .arg(conf)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["error"], Value::Null, "nova does not load it: {j}");
    Some(j)
}

#[test]
fn render_write_on_the_first_seeds_conf_loads_in_nova_twice_and_undo_restores_it() {
    let t = i350(Some(SEED_CONF));
    let conf = t.path().join("etc/nova/nova.conf");
    // --write without FILE: the root's etc/nova/nova.conf.
    let merged = write_round_trip(t.path(), &conf, &["--write"], true);
    assert!(merged.contains("\n[pci]\n"), "{merged}");
    // Doctor reads the same file from the root: nothing stops nova.
    let o = passthru(t.path(), &["--json", "doctor"]);
    let d = json(&o);
    assert!(
        findings(&d, "config.nova-fatal")
            .iter()
            .all(|f| f["severity"] != "fail"),
        "{}",
        text(&o)
    );
    if let Some(nova) = nova_loads(&conf) {
        let specs = nova["device_spec"].as_array().unwrap();
        assert!(!specs.is_empty());
        assert!(nova["alias"]["igbnic"].is_array(), "{nova}");
        // passthru's reading is nova's.
        let o = passthru(t.path(), &["--json", "nova", "check"]);
        let pj = json(&o);
        let values: Vec<&Value> = pj["device_spec"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| &v["value"])
            .collect();
        assert_eq!(values.len(), specs.len());
        for (p, n) in values.iter().zip(specs) {
            assert_eq!(*p, n);
        }
    }
    undo_restores(t.path(), &conf, SEED_CONF);
}

#[test]
fn render_write_on_a_pci_style_conf_replaces_the_alias_and_undo_restores_it() {
    let t = i350(Some(PCI_CONF));
    let conf = t.path().join("etc/nova/nova.conf");
    let c = conf.to_str().unwrap().to_string();
    let merged = write_round_trip(t.path(), &conf, &["--write", &c], false);
    for keep in ["debug = true", "# the NIC VFs, for the igbnic flavors"] {
        assert!(
            merged.lines().any(|l| l == keep),
            "lost {keep:?}:\n{merged}"
        );
    }
    assert!(merged.contains("\"device_type\": \"type-VF\""), "{merged}");
    assert!(
        merged
            .contains("enabled_filters = ComputeFilter,ImagePropertiesFilter,PciPassthroughFilter"),
        "{merged}"
    );
    nova_loads(&conf);
    undo_restores(t.path(), &conf, PCI_CONF);
}

#[test]
fn nova_check_fails_and_doctor_and_why_show_the_same_fatal_findings() {
    // What the old `--write` produced: a second igbnic with another device_type
    // (nova: PciInvalidAlias, nova-api and nova-compute do not start).
    let bad = format!(
        "{PCI_CONF}\n[pci]\nalias = {{\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\", \"device_type\": \"type-VF\"}}\n"
    );
    let t = i350(Some(&bad));
    let o = passthru(t.path(), &["--json", "nova", "check"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let fatal: Vec<String> = json(&o)["fatal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert!(!fatal.is_empty());
    assert!(
        fatal.iter().any(|m| m.contains("PciInvalidAlias")),
        "{fatal:?}"
    );
    let o = passthru(t.path(), &["nova", "check"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // doctor: the same findings, failing.
    let o = passthru(t.path(), &["--json", "doctor"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let d = json(&o);
    let doc: Vec<&Value> = findings(&d, "config.nova-fatal");
    assert_eq!(doc.len(), fatal.len(), "{}", text(&o));
    for (f, m) in doc.iter().zip(&fatal) {
        assert_eq!(f["severity"], "fail");
        assert!(
            f["message"].as_str().unwrap().contains(m.as_str()),
            "{f} vs {m}"
        );
    }
    // why on a VF: the configuration link breaks on the same findings.
    let o = passthru(t.path(), &["--json", "why", "07:10.0", "--all"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let w = json(&o);
    let link = w["chains"][0]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["link"] == "configuration")
        .unwrap();
    let why: Vec<&Value> = link["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "config.nova-fatal")
        .collect();
    assert_eq!(why.len(), doc.len());
    for (a, b) in why.iter().zip(&doc) {
        assert_eq!(a["message"], b["message"]);
    }
    // And render --write refuses to add to a file nova does not load.
    let o = passthru(
        t.path(),
        &[
            "render",
            "nova",
            "--devices",
            "8086:1520",
            "--alias",
            "other",
            "--write",
            "--yes",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("would not load"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(t.path().join("etc/nova/nova.conf")).unwrap(),
        bad
    );
}

fn render_json(root: &Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["--json", "render", "nova", "--alias", "a"];
    args.extend(extra);
    let o = passthru(root, &args);
    let j = if o.status.success() {
        json(&o)
    } else {
        Value::Null
    };
    (o.status.code(), j, text(&o))
}

#[test]
fn render_is_portable_by_default_and_pins_addresses_on_request() {
    let t = i350(None);
    // Every VF: vendor and product select exactly them.
    let (code, j, out) = render_json(t.path(), &["--devices", "8086:1520"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        j["device_spec"],
        serde_json::json!(["{\"vendor_id\": \"8086\", \"product_id\": \"1520\"}"])
    );
    assert_eq!(j["selects"], serde_json::json!(vfs()));
    // The VFs of one PF: its interface name, as the third seed writes it.
    let (code, j, out) = render_json(t.path(), &["--devices", "07:10.0,07:10.4"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        j["device_spec"],
        serde_json::json!([
            "{\"devname\": \"eno1\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}"
        ]),
        "{out}"
    );
    // --pin-addresses: today's behaviour (this host's PF address).
    let (code, j, out) = render_json(
        t.path(),
        &["--devices", "07:10.0,07:10.4", "--pin-addresses"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        j["device_spec"],
        serde_json::json!([
            "{\"vendor_id\": \"8086\", \"product_id\": \"1520\", \"address\": \"0000:06:00.0\"}"
        ])
    );
    // One VF of a PF: nothing portable selects exactly it.
    let (code, j, out) = render_json(t.path(), &["--devices", "07:10.0"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        j["device_spec"],
        serde_json::json!([
            "{\"vendor_id\": \"8086\", \"product_id\": \"1520\", \"address\": \"0000:07:10.0\"}"
        ])
    );
    // A PF with VFs enabled is not exposed as type-PF without --allow-pf, with the
    // words render libvirt refuses it with.
    let (code, _, out) = render_json(t.path(), &["--devices", "06:00.0"]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("SR-IOV PF with 2 VF(s) enabled"), "{out}");
    assert!(out.contains("--allow-pf"), "{out}");
    let (code, j, out) = render_json(t.path(), &["--devices", "06:00.0", "--allow-pf"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(j["alias"][0].as_str().unwrap().contains("type-PF"));
    // What render prints, nova check accepts and exposes exactly.
    let (_, j, _) = render_json(t.path(), &["--devices", "07:10.0,07:10.4"]);
    let o = passthru(
        t.path(),
        &[
            "--json",
            "nova",
            "check",
            "--device-spec",
            j["device_spec"][0].as_str().unwrap(),
            "--alias",
            j["alias"][0].as_str().unwrap(),
        ],
    );
    let c = json(&o);
    assert_eq!(
        exposed(&c),
        ["0000:07:10.0", "0000:07:10.4"],
        "{}",
        text(&o)
    );
    assert_eq!(c["fatal"], serde_json::json!([]));
}

#[test]
fn render_nova_refuses_count_zero() {
    let t = i350(None);
    let o = passthru(
        t.path(),
        &[
            "render",
            "nova",
            "--devices",
            "8086:1520",
            "--alias",
            "a",
            "--count",
            "0",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("--count"), "{}", text(&o));
}

#[test]
fn a_pci_section_in_capitals_is_read_by_doctor_as_by_nova_check() {
    // oslo.config matches group names case-insensitively: [PCI] is [pci].
    let t = i350(Some(
        "[PCI]\ndevice_spec = {\"vendor_id\": \"8086\", \"product_id\": \"1520\"}\n",
    ));
    let o = passthru(t.path(), &["--json", "nova", "check"]);
    assert_eq!(exposed(&json(&o)), vfs());
    let o = passthru(t.path(), &["--json", "doctor", "07:10.3"]);
    let d = json(&o);
    let f = findings(&d, "config.nova-spec-unmatched");
    assert_eq!(f.len(), 1, "{}", text(&o));
    assert_eq!(f[0]["severity"], "pass", "{}", text(&o));
    assert!(f[0]["message"]
        .as_str()
        .unwrap()
        .contains("matches 8 device(s)"));
    let n = findings(&d, "device.not-in-nova");
    assert_eq!(n[0]["severity"], "pass", "{}", text(&o));
}
