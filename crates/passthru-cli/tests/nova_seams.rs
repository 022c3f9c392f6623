//! Issue 9's nova seams, each test feeding one command's output to the next on the
//! seeds' I350 host (fake tree: PFs 06:00.0-3 = eno1-4, product 1521, each with 2
//! of 8 VFs enabled; VFs 07:10.0-7, product 1520):
//! `render nova --write` -> `nova check` -> `doctor` -> `render --write` again ->
//! `undo`; `nova check` / `doctor` / `why` agreeing on what stops nova; portable
//! device_spec values; one nova.conf reader. The merged files are also loaded by
//! nova 34's own code (`scripts/nova-diff/load_conf.py`).

use passthru_testsupport::{peer, scenarios, FakeHost};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use tempfile::TempDir;

/// The first seed's nova.conf (deprecated `[DEFAULT]` names).
const SEED_CONF: &str = "\
[DEFAULT]
# from the seed: set on every compute and scheduler node
pci_alias={\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}
pci_passthrough_whitelist=[{\"vendor_id\": \"8086\", \"product_id\": \"1520\", \"physical_network\": \"physnet1\"}]
scheduler_available_filters=nova.scheduler.filters.pci_passthrough_filter.PciPassthroughFilter
scheduler_default_filters=RetryFilter,AvailabilityZoneFilter,RamFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,CoreFilter,PciPassthroughFilter
";

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
