//! docs/json.md is the contract for `--json`: every key it documents for devices,
//! groups and snapshots is in the real output, and every key the output has is
//! documented. Both directions, so neither can drift.

use passthru_testsupport::fakehost::FakeHost;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn docs() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The body of a `## Title` section (without its title line), up to the next `## `.
fn section<'a>(doc: &'a str, title: &str) -> &'a str {
    let start = doc
        .find(&format!("\n## {title}"))
        .unwrap_or_else(|| panic!("docs/json.md has no section '{title}'"));
    let rest = &doc[start + 1..];
    let rest = &rest[rest.find('\n').map_or(rest.len(), |i| i + 1)..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    &rest[..end]
}

/// Key names quoted in a piece of markdown: `key` or "key" (lower-case identifiers
/// only, so `0000:07:10.7` or `DMA-FQ` are not taken for keys).
fn quoted_keys(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for quote in ['`', '"'] {
        let parts: Vec<&str> = text.split(quote).collect();
        for (i, p) in parts.iter().enumerate() {
            if i % 2 == 1 && !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                out.insert(p.to_string());
            }
        }
    }
    out
}

/// The DEVICE table: top-level keys (first column) and, per object or list key,
/// the keys its meaning column names.
fn device_table(doc: &str) -> (BTreeSet<String>, Vec<(String, BTreeSet<String>)>) {
    let sec = section(doc, "Devices");
    let mut top = BTreeSet::new();
    let mut nested = Vec::new();
    for row in sec.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (keys, ty, meaning) = (cells[1], cells[2], cells[3]);
        let keys = quoted_keys(keys);
        if (ty.starts_with("object") || ty == "list") && keys.len() == 1 {
            let k = keys.iter().next().unwrap().clone();
            nested.push((k, quoted_keys(meaning)));
        }
        top.extend(keys);
    }
    assert!(top.len() > 20, "the DEVICE table was not found: {top:?}");
    (top, nested)
}

fn passthru(root: &Path, args: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run passthru");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON")
}

fn keys_of(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The keys of every object under `key` (an object, or a list of objects).
fn nested_keys(devices: &[Value], key: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for d in devices {
        match &d[key] {
            Value::Object(_) => out.extend(keys_of(&d[key])),
            Value::Array(items) => items.iter().for_each(|i| out.extend(keys_of(i))),
            _ => {}
        }
    }
    out
}

#[test]
fn every_documented_device_key_is_in_ls_full_json_and_nothing_else() {
    let (doc_top, doc_nested) = device_table(&docs());
    let t = FakeHost::scenario("i350").unwrap().write_temp().unwrap();
    for args in [
        &["ls", "--full", "--json"][..],
        &["ls", "--json"],
        &["show", "8086:1521", "--json"],
    ] {
        let v = passthru(t.path(), args);
        let devices = v["devices"].as_array().expect("devices list");
        assert_eq!(keys_of(&v), BTreeSet::from(["devices".to_string()]));
        for d in devices {
            assert_eq!(keys_of(d), doc_top, "{args:?}: keys of {}", d["address"]);
        }
        if args[1] != "--full" && args[0] == "ls" {
            continue; // the lean listing leaves `interfaces` empty and VF links null
        }
        for (key, documented) in &doc_nested {
            if documented.is_empty() {
                continue; // a list of plain values (netdevs, virtfns)
            }
            let found = nested_keys(devices, key);
            assert!(
                !found.is_empty(),
                "{args:?}: no device has a non-empty {key}"
            );
            assert_eq!(&found, documented, "{args:?}: keys of `{key}`");
        }
    }
}

#[test]
fn groups_and_snapshot_shapes_match_the_docs() {
    let doc = docs();
    let t = FakeHost::scenario("two-socket")
        .unwrap()
        .write_temp()
        .unwrap();

    // groups: every key at every level, against the one-line shape in the docs.
    let documented = quoted_keys(
        section(&doc, "IOMMU groups")
            .lines()
            .find(|l| l.contains("iommu_enabled"))
            .expect("groups shape line"),
    );
    let v = passthru(t.path(), &["groups", "--json"]);
    let mut found = keys_of(&v);
    for g in v["groups"].as_array().unwrap() {
        found.extend(keys_of(g));
        for m in g["members"].as_array().unwrap() {
            found.extend(keys_of(m));
        }
    }
    assert_eq!(found, documented, "groups --json keys");

    // snapshot: top-level keys, and those of source, iommu_groups and numa_nodes.
    let shape = section(&doc, "Snapshots");
    let documented = quoted_keys(shape);
    let v = passthru(t.path(), &["snapshot"]);
    let mut found = keys_of(&v);
    found.extend(keys_of(&v["source"]));
    found.extend(keys_of(&v["iommu_groups"][0]));
    found.extend(keys_of(&v["numa_nodes"][0]));
    // Device keys are the DEVICE table's (checked above); `system` is its own section.
    assert_eq!(found, documented, "snapshot keys");
    assert!(
        v["iommu_groups"][0]["kind"].is_string(),
        "{}",
        v["iommu_groups"][0]
    );
}
