//! ls, show, groups and snapshot through the real binary, on fake hosts written by the
//! test-support builder (the seeds' I350 host and a two-socket compute node).

use passthru_testsupport::fakehost::FakeHost;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn passthru(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("COLUMNS", "80")
        .output()
        .expect("run passthru")
}

fn ok_stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&ok_stdout(o)).expect("valid JSON")
}

#[test]
fn ls_json_has_the_documented_keys_and_the_seed_facts() {
    let t = FakeHost::scenario("i350").unwrap().write_temp().unwrap();
    let v = json(&passthru(t.path(), &["ls", "--json"]));
    let devs = v["devices"].as_array().unwrap();
    for d in devs {
        for k in [
            "address",
            "vendor_id",
            "device_id",
            "class",
            "driver",
            "iommu_group",
            "numa_node",
            "physfn",
            "virtfns",
            "sriov",
            "netdevs",
        ] {
            assert!(d.get(k).is_some(), "{k} missing in {d}");
        }
    }
    let vf = devs
        .iter()
        .find(|d| d["address"] == "0000:07:10.7")
        .expect("07:10.7");
    assert_eq!(vf["vendor_id"], "8086");
    assert_eq!(vf["device_id"], "1520");
    assert_eq!(vf["class"], "020000");
    assert_eq!(vf["driver"], "vfio-pci");
    assert_eq!(vf["iommu_group"], 40);
    assert_eq!(vf["numa_node"], 0);
    assert_eq!(vf["physfn"], "0000:06:00.3");
    assert_eq!(vf["vf_index"], 1);
    let pf = devs
        .iter()
        .find(|d| d["address"] == "0000:06:00.3")
        .unwrap();
    assert_eq!(pf["sriov"]["total_vfs"], 8);
    assert_eq!(pf["sriov"]["offset"], 384);
    assert_eq!(pf["sriov"]["stride"], 4);
    assert_eq!(pf["sriov"]["vf_device_id"], "1520");
    assert!(pf["virtfns"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "0000:07:10.7"));
    assert_eq!(pf["netdevs"][0], "eno4");
}

#[test]
fn ls_lines_fit_80_columns_and_filters_select() {
    let t = FakeHost::scenario("two-socket")
        .unwrap()
        .write_temp()
        .unwrap();
    let all = ok_stdout(&passthru(t.path(), &["ls"]));
    for l in all.lines() {
        assert!(
            l.chars().count() <= 80,
            "too wide ({}): {l}",
            l.chars().count()
        );
    }
    let gpus = ok_stdout(&passthru(t.path(), &["ls", "--class", "gpu"]));
    // The BMC's VGA (ast) and the NVIDIA GPU, nothing else.
    assert_eq!(gpus.lines().count(), 3, "header + two GPUs:\n{gpus}");
    assert!(gpus.lines().skip(1).all(|l| l.contains(" gpu ")), "{gpus}");
    assert!(
        gpus.contains("d8:00.0") && gpus.contains("vfio-pci"),
        "{gpus}"
    );
    let vfs = json(&passthru(t.path(), &["ls", "--vfs", "--json"]));
    let vfs = vfs["devices"].as_array().unwrap();
    assert!(!vfs.is_empty());
    assert!(vfs.iter().all(|d| d["physfn"].is_string()));
    let pfs = json(&passthru(t.path(), &["ls", "--sriov", "--json"]));
    assert!(pfs["devices"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["sriov"].is_object()));
    let nodes: Vec<i64> = json(&passthru(t.path(), &["ls", "--json"]))["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["numa_node"].as_i64())
        .collect();
    assert!(
        nodes.contains(&0) && nodes.contains(&1),
        "two NUMA nodes: {nodes:?}"
    );
}

#[test]
fn tree_nests_each_vf_under_its_pf() {
    let t = FakeHost::scenario("i350").unwrap().write_temp().unwrap();
    let out = ok_stdout(&passthru(t.path(), &["ls", "--tree"]));
    let lines: Vec<&str> = out.lines().collect();
    let pf = lines
        .iter()
        .position(|l| l.starts_with("06:00.3"))
        .expect("PF line");
    assert!(
        lines[pf + 1].contains("07:10.3") && lines[pf + 1].trim_start().starts_with('└'),
        "{out}"
    );
    assert!(lines[pf + 2].contains("07:10.7"), "{out}");
}

#[test]
fn show_accepts_every_name_form() {
    let t = FakeHost::scenario("i350").unwrap().write_temp().unwrap();
    for dev in ["0000:07:10.7", "07:10.7", "pci_0000_07_10_7"] {
        let v = json(&passthru(t.path(), &["show", dev, "--json"]));
        assert_eq!(v["devices"][0]["address"], "0000:07:10.7", "{dev}");
    }
    let v = json(&passthru(t.path(), &["show", "eno4", "--json"]));
    assert_eq!(v["devices"][0]["address"], "0000:06:00.3");
    let v = json(&passthru(t.path(), &["show", "8086:1520", "--json"]));
    assert!(v["devices"].as_array().unwrap().len() >= 2, "every VF");
    let text = ok_stdout(&passthru(t.path(), &["show", "07:10.7"]));
    assert!(text.contains("VF 1 of PF 0000:06:00.3 (eno4)"), "{text}");
    assert!(text.contains("IOMMU group:     40 (isolated)"), "{text}");
    let o = passthru(t.path(), &["show", "eno9"]);
    assert_eq!(o.status.code(), Some(3));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("no device 'eno9'") && e.contains("eno"), "{e}");
}

#[test]
fn groups_report_isolation() {
    let t = FakeHost::scenario("two-socket")
        .unwrap()
        .write_temp()
        .unwrap();
    let v = json(&passthru(t.path(), &["groups", "--json"]));
    assert_eq!(v["iommu_enabled"], true);
    let gs = v["groups"].as_array().unwrap();
    let gpu = gs
        .iter()
        .find(|g| {
            g["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["address"] == "0000:d8:00.0")
        })
        .expect("GPU group");
    assert_eq!(gpu["isolated"], true, "GPU and its audio function: {gpu}");
    assert!(gpu["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["address"] == "0000:d8:00.1"));
}

#[test]
fn snapshot_round_trips_through_every_command() {
    let t = FakeHost::scenario("i350").unwrap().write_temp().unwrap();
    let snap = t.path().join("host.json");
    let o = passthru(t.path(), &["snapshot", "-o", snap.to_str().unwrap()]);
    assert!(o.status.success());
    // A snapshot holds every fact: what `ls --full` reads from the root.
    let from_root = json(&passthru(t.path(), &["ls", "--full", "--json"]));
    let from_snap = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .args(["--snapshot", snap.to_str().unwrap(), "ls", "--json"])
        .output()
        .unwrap();
    assert_eq!(json(&from_snap), from_root);
    let g = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .args(["--snapshot", snap.to_str().unwrap(), "groups", "--json"])
        .output()
        .unwrap();
    assert_eq!(json(&g), json(&passthru(t.path(), &["groups", "--json"])));
}

#[test]
fn ls_reads_less_than_show_but_the_same_inventory() {
    let t = FakeHost::scenario("i350").unwrap().write_temp().unwrap();
    let lean = json(&passthru(t.path(), &["ls", "--json"]));
    let full = json(&passthru(t.path(), &["ls", "--full", "--json"]));
    let (lean, full) = (
        lean["devices"].as_array().unwrap(),
        full["devices"].as_array().unwrap(),
    );
    assert_eq!(lean.len(), full.len());
    for (l, f) in lean.iter().zip(full) {
        for k in [
            "address",
            "vendor_id",
            "device_id",
            "class",
            "driver",
            "iommu_group",
            "numa_node",
            "physfn",
            "virtfns",
            "sriov",
            "netdevs",
            "vf_index",
            "parent",
        ] {
            assert_eq!(l[k], f[k], "{k} of {}", l["address"]);
        }
        if l["physfn"].is_null() {
            assert_eq!(l["link"]["current_speed"], f["link"]["current_speed"]);
        } else {
            // A VF has no link of its own: the listing does not read it.
            assert!(l["link"].is_null(), "{l}");
            assert_eq!(f["link"]["current_speed"], "Unknown", "{f}");
        }
    }
    // The full read has what the listing leaves out.
    assert!(full.iter().any(|d| d["reset_methods"].is_array()));
    assert!(lean.iter().all(|d| d["reset_methods"].is_null()));
    assert!(full.iter().all(|d| d["revision"].is_u64()));
    assert!(lean.iter().all(|d| d["revision"].is_null()));
}

#[test]
fn groups_name_a_shared_group_and_shared_lists_only_those() {
    use passthru_testsupport::spec::{bdf, DeviceSpec, HostSpec};
    // A GPU, its audio function and their root port in group 1 (isolated); a GPU and
    // a SAS HBA behind one upstream port in group 2 (not isolated).
    let spec = HostSpec::new()
        .device(DeviceSpec::new(bdf("0000:00:01.0"), 0x8086, 0x1901, 0x060400).group(1))
        .device(
            DeviceSpec::new(bdf("0000:01:00.0"), 0x10de, 0x1b80, 0x030000)
                .parent(bdf("0000:00:01.0"))
                .driver("vfio-pci")
                .group(1),
        )
        .device(
            DeviceSpec::new(bdf("0000:01:00.1"), 0x10de, 0x10f0, 0x040300)
                .parent(bdf("0000:00:01.0"))
                .group(1),
        )
        .device(DeviceSpec::new(bdf("0000:02:00.0"), 0x10de, 0x1b81, 0x030000).group(2))
        .device(
            DeviceSpec::new(bdf("0000:03:00.0"), 0x1000, 0x0097, 0x010700)
                .driver("mpt3sas")
                .group(2),
        );
    let t = FakeHost::new(spec).write_temp().unwrap();
    let v = json(&passthru(t.path(), &["groups", "--json"]));
    let gs = v["groups"].as_array().unwrap();
    assert_eq!(gs.len(), 2, "{v}");
    assert_eq!(gs[0]["isolated"], true, "{}", gs[0]);
    assert_eq!(gs[0]["endpoint_devices"], serde_json::json!(["0000:01:00"]));
    assert_eq!(gs[1]["isolated"], false, "{}", gs[1]);
    assert_eq!(
        gs[1]["endpoint_devices"],
        serde_json::json!(["0000:02:00", "0000:03:00"])
    );
    let text = ok_stdout(&passthru(t.path(), &["groups"]));
    assert!(text.contains("IOMMU group 1 (isolated)"), "{text}");
    assert!(
        text.contains("IOMMU group 2 (NOT isolated: 2 devices share it)")
            && text.contains("0000:03:00.0 [1000:0097]")
            && text.contains("(mpt3sas)"),
        "{text}"
    );
    let shared = ok_stdout(&passthru(t.path(), &["groups", "--shared"]));
    assert!(
        shared.contains("IOMMU group 2") && !shared.contains("IOMMU group 1 "),
        "{shared}"
    );
    // show gives the same verdict for one device.
    let gpu = ok_stdout(&passthru(t.path(), &["show", "02:00.0"]));
    assert!(
        gpu.contains(
            "IOMMU group:     2 (NOT isolated, NOT viable for vfio: 0000:03:00.0 on mpt3sas; with 0000:03:00.0)"
        ),
        "{gpu}"
    );
    // Nothing shared: --shared says so rather than printing nothing.
    let t = FakeHost::scenario("i350").unwrap().write_temp().unwrap();
    let none = ok_stdout(&passthru(t.path(), &["groups", "--shared"]));
    assert!(none.contains("Every IOMMU group is isolated"), "{none}");
}

#[test]
fn piped_ls_cuts_nothing_and_columns_narrows_it() {
    let t = FakeHost::scenario("two-socket")
        .unwrap()
        .write_temp()
        .unwrap();
    // stdout is a pipe here and COLUMNS unset: whole names, for grep and awk.
    let o = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(t.path())
        .arg("ls")
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    let wide = ok_stdout(&o);
    assert!(
        wide.contains("Non-Volatile memory controller") && !wide.contains('…'),
        "{wide}"
    );
    assert!(wide.lines().next().unwrap().ends_with("LINK"), "{wide}");
    let narrow = ok_stdout(&passthru(t.path(), &["ls"]));
    assert!(narrow.contains('…'), "{narrow}");
    assert!(narrow.lines().all(|l| l.chars().count() <= 80), "{narrow}");
}
