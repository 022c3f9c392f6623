//! JSON-lines in, JSON-lines out: passthru's nova decisions for the differential
//! test (`scripts/nova-diff/diff.py`) and the benchmark. One case per input line:
//!
//! - `{"kind": "whitelist", "specs": [STR], "report_in_placement": BOOL,
//!   "sysfs": SysfsView, "devices": [NovaDevice]}`
//! - `{"kind": "alias", "values": [STR], "pci_in_placement": BOOL, "flavors": [STR]}`
//! - `{"kind": "conf", "name": STR, "text": STR}`
//! - `{"kind": "pools", "specs": [STR], "sysfs": ..., "devices": [...], "aliases": [STR],
//!   "flavors": [STR]}`
//! - `{"kind": "bench", "specs": [STR], "sysfs": ..., "devices": [...], "rounds": N}`
//!
//! Output shapes mirror what `diff.py` extracts from nova's own objects.

use passthru::nova::alias::parse_aliases;
use passthru::nova::conf::NovaConf;
use passthru::nova::flavor;
use passthru::nova::matching::{device_assignable, Assignment, NovaDevice};
use passthru::nova::pools::{build_pools, fit_requests};
use passthru::nova::py::PyValue;
use passthru::nova::spec::{self, DeviceSpec, SpecContext};
use passthru::nova::sysfs::SysfsView;
use passthru::nova::NovaError;
use serde_json::{json, Value};
use std::io::{BufRead, Write};

fn err_json(e: &NovaError) -> Value {
    json!({"exception": e.exception, "message": e.message})
}

fn spec_json(s: &DeviceSpec) -> Value {
    let addr = s.address.as_ref().map(|a| {
        let f = a.spec.fields();
        json!({
            "kind": a.spec.kind(),
            "fields": [f.domain, f.bus, f.slot, f.func],
            "is_pf": a.is_physical_function,
        })
    });
    json!({
        "vendor_id": s.vendor_id,
        "product_id": s.product_id,
        "tags": PyValue::Dict(s.tags.clone()).repr(),
        "devname": s.devname,
        "address": addr,
    })
}

fn whitelist(case: &Value) -> Value {
    let specs: Vec<String> = serde_json::from_value(case["specs"].clone()).unwrap_or_default();
    let sysfs: SysfsView = serde_json::from_value(case["sysfs"].clone()).unwrap_or_default();
    let devices: Vec<NovaDevice> =
        serde_json::from_value(case["devices"].clone()).unwrap_or_default();
    let ctx = SpecContext {
        sysfs: &sysfs,
        report_in_placement: case["report_in_placement"].as_bool().unwrap_or(false),
    };
    let mut flat = Vec::new();
    for t in &specs {
        match spec::parse_value(t, ctx) {
            Ok(v) => flat.extend(v),
            Err(e) => return json!({"error": err_json(&e)}),
        }
    }
    let refs: Vec<&DeviceSpec> = flat.iter().collect();
    let matches: Vec<Value> = devices
        .iter()
        .map(|d| match device_assignable(&refs, d) {
            Assignment::Spec(i) => json!(i),
            Assignment::None => Value::Null,
            Assignment::Error(e) => json!({"error": err_json(&e)}),
        })
        .collect();
    json!({
        "error": null,
        "specs": flat.iter().map(spec_json).collect::<Vec<_>>(),
        "matches": matches,
    })
}

fn alias(case: &Value) -> Value {
    let values: Vec<String> = serde_json::from_value(case["values"].clone()).unwrap_or_default();
    let flavors: Vec<String> = serde_json::from_value(case["flavors"].clone()).unwrap_or_default();
    let placement = case["pci_in_placement"].as_bool().unwrap_or(false);
    let parsed = parse_aliases(&values, placement);
    let aliases = match &parsed {
        Ok(a) => json!(a
            .aliases
            .iter()
            .map(|al| json!([
                al.name,
                al.numa_policy,
                al.specs
                    .iter()
                    .map(|s| s.fields.clone())
                    .collect::<Vec<_>>()
            ]))
            .collect::<Vec<_>>()),
        Err(_) => Value::Null,
    };
    let flavors: Vec<Value> = flavors
        .iter()
        .map(|f| {
            let v = flavor::judge(f, parsed.as_ref().map_err(|e| &e.error));
            json!({
                "api_error": v.api_error,
                "boot": match &v.boot {
                    Ok(reqs) => json!({"requests": reqs.iter().map(|r| json!([r.alias, r.count, r.numa_policy])).collect::<Vec<_>>()}),
                    Err(e) => json!({"error": err_json(e)}),
                },
            })
        })
        .collect();
    json!({
        "error": parsed.as_ref().err().map(|e| err_json(&e.error)),
        "aliases": aliases,
        "flavors": flavors,
    })
}

fn conf(case: &Value) -> Value {
    let name = case["name"].as_str().unwrap_or("nova.conf");
    let text = case["text"].as_str().unwrap_or("");
    match NovaConf::parse(&[(name, text)]) {
        Err(e) => json!({"error": {"exception": "ConfigFileParseError", "message": e.message}}),
        Ok(c) => {
            let vals = |v: &[passthru::nova::conf::ConfValue]| {
                v.iter().map(|x| x.value.clone()).collect::<Vec<_>>()
            };
            json!({
                "error": null,
                "device_spec": vals(&c.device_spec),
                "alias": vals(&c.alias),
                "report_in_placement": c.report_in_placement,
                "pci_in_placement": c.pci_in_placement,
                "enabled_filters": c.enabled_filters,
                "option_errors": c.errors.iter().map(|e| json!({"option": e.option, "message": e.message})).collect::<Vec<_>>(),
            })
        }
    }
}

/// Pools nova's PCI stats build from the exposed devices, and whether each flavor's
/// requests fit them.
fn pools(case: &Value) -> Value {
    let specs: Vec<String> = serde_json::from_value(case["specs"].clone()).unwrap_or_default();
    let sysfs: SysfsView = serde_json::from_value(case["sysfs"].clone()).unwrap_or_default();
    let devices: Vec<NovaDevice> =
        serde_json::from_value(case["devices"].clone()).unwrap_or_default();
    let values: Vec<String> = serde_json::from_value(case["aliases"].clone()).unwrap_or_default();
    let flavors: Vec<String> = serde_json::from_value(case["flavors"].clone()).unwrap_or_default();
    let ctx = SpecContext {
        sysfs: &sysfs,
        report_in_placement: false,
    };
    let flat: Vec<DeviceSpec> = specs
        .iter()
        .flat_map(|t| spec::parse_value(t, ctx).unwrap_or_default())
        .collect();
    let refs: Vec<&DeviceSpec> = flat.iter().collect();
    let pairs: Vec<(&NovaDevice, &DeviceSpec)> = devices
        .iter()
        .filter_map(|d| match device_assignable(&refs, d) {
            Assignment::Spec(i) => Some((d, refs[i])),
            _ => None,
        })
        .collect();
    let pools = build_pools(pairs);
    let aliases = parse_aliases(&values, false).unwrap_or_default();
    let fits: Vec<Value> = flavors
        .iter()
        .map(|f| match flavor::boot_requests(f, &aliases, None) {
            Ok(reqs) => json!(fit_requests(&pools, &reqs).iter().all(|r| r.fits)),
            Err(_) => Value::Null,
        })
        .collect();
    json!({
        "pools": pools.iter().map(|p| json!([PyValue::Dict(p.keys.clone()).repr(), p.devices])).collect::<Vec<_>>(),
        "fits": fits,
    })
}

/// Matches every device against the specs `rounds` times; reports the best round's
/// time of the matching alone (parsing excluded), as the Python side does.
fn bench(case: &Value) -> Value {
    let specs: Vec<String> = serde_json::from_value(case["specs"].clone()).unwrap_or_default();
    let sysfs: SysfsView = serde_json::from_value(case["sysfs"].clone()).unwrap_or_default();
    let devices: Vec<NovaDevice> =
        serde_json::from_value(case["devices"].clone()).unwrap_or_default();
    let rounds = case["rounds"].as_u64().unwrap_or(1).max(1);
    let ctx = SpecContext {
        sysfs: &sysfs,
        report_in_placement: false,
    };
    let flat: Vec<DeviceSpec> = specs
        .iter()
        .flat_map(|t| spec::parse_value(t, ctx).unwrap_or_default())
        .collect();
    let refs: Vec<&DeviceSpec> = flat.iter().collect();
    let mut matched = 0usize;
    let mut secs = f64::MAX;
    for _ in 0..rounds {
        let start = std::time::Instant::now();
        matched = devices
            .iter()
            .filter(|d| matches!(device_assignable(&refs, d), Assignment::Spec(_)))
            .count();
        secs = secs.min(start.elapsed().as_secs_f64());
    }
    json!({"seconds": secs, "matched": matched, "specs": flat.len(), "devices": devices.len()})
}

fn main() {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let case: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => json!({"kind": "invalid", "why": e.to_string()}),
        };
        let result = match case["kind"].as_str() {
            Some("whitelist") => whitelist(&case),
            Some("alias") => alias(&case),
            Some("conf") => conf(&case),
            Some("bench") => bench(&case),
            Some("pools") => pools(&case),
            _ => json!({"error": {"exception": "OracleError", "message": "unknown case kind"}}),
        };
        if writeln!(out, "{result}").is_err() {
            break;
        }
    }
}
