//! `doctor` on a big host (16 PFs x 128 VFs): identical findings on many devices are
//! said once with the count and the address ranges, `-q` fits on a screen or two, and
//! `--json` still keeps every finding. The text's shared fix, with `<DEV>` filled in,
//! is each device's own fix from the JSON.

use passthru_testsupport::{scenarios, FakeHost};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn passthru(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run passthru")
}

/// The lines of a text finding's `fix:` block.
fn fix_lines<'a>(text: &'a [&'a str], from: usize) -> Vec<String> {
    let mut out = Vec::new();
    for l in &text[from..] {
        let t = l.trim_start();
        if let Some(f) = t.strip_prefix("fix: ") {
            out.push(f.to_string());
        } else if !out.is_empty() && l.starts_with("           ") {
            out.push(t.to_string());
        } else if !out.is_empty() {
            break;
        }
    }
    out
}

#[test]
fn doctor_on_16_pfs_by_128_vfs_says_each_finding_once() {
    let t = FakeHost::new(scenarios::parametric(16, 128))
        .write_temp()
        .unwrap();
    let root = t.path();
    let quiet = passthru(root, &["doctor", "-q", "8086:1889"]);
    let text = String::from_utf8(quiet.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() <= 100, "{} lines:\n{text}", lines.len());
    let o = passthru(root, &["doctor", "--json", "8086:1889"]);
    assert_eq!(o.status.code(), quiet.status.code(), "same verdict");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let fs = v["findings"].as_array().unwrap();
    // --json keeps one finding per device: every VF not on vfio-pci warns.
    let driver: Vec<&Value> = fs
        .iter()
        .filter(|f| f["severity"] == "warn" && f["check"] == "driver")
        .collect();
    assert_eq!(driver.len(), 2048 - 256, "every 8th VF is on vfio-pci");
    // The text says it once, with the count, ids, ranges and driver.
    let head = lines
        .iter()
        .position(|l| l.starts_with("  1792 VFs [8086:1889] (0000:01:10.0-0000:01:10.6, "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        lines[head].ends_with("... 256 ranges in all) on iavf:"),
        "{}",
        lines[head]
    );
    assert!(lines[head + 1].contains("Checking driver") && lines[head + 1].contains(": WARN ("));
    assert_eq!(text.matches("Checking driver").count(), 1, "{text}");
    // Filling in <DEV> gives each device's own fix.
    let shared = fix_lines(&lines, head + 1).join("\n");
    assert!(shared.contains("<DEV>"), "{shared}");
    for f in &driver {
        let dev = f["device"].as_str().unwrap();
        assert_eq!(shared.replace("<DEV>", dev), f["fix"].as_str().unwrap());
    }
    let summary = lines.last().unwrap();
    let c = &v["counts"];
    assert_eq!(
        *summary,
        format!(
            "Summary: {} passed, {} info, {} warnings, {} failure{}",
            c["pass"],
            c["info"],
            c["warn"],
            c["fail"],
            if c["fail"] == 1 { "" } else { "s" }
        )
    );
    // Without -q the passes are grouped too: a page, not 23 000 lines.
    let full = passthru(root, &["doctor", "8086:1889"]);
    let full = String::from_utf8(full.stdout).unwrap();
    assert!(full.lines().count() <= 200, "{full}");
    assert!(
        full.contains("  2048 VFs [8086:1889] (0000:01:10.0-0000:01:1f.7, 0000:02:10.0-0000:02:1f.7, 0000:03:10.0-0000:03:1f.7, ... 16 ranges in all):\n  Checking IOMMU group isolation"),
        "{full}"
    );
}
