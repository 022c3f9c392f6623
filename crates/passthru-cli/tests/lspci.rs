//! `--lspci FILE|-` through the real binary: facts from pasted `lspci -nnvvv` text, and
//! one clear error (exit 3, never a panic) for text that holds no device.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(rel)
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run passthru");
    if let Some(bytes) = stdin {
        // The binary may exit before reading everything; a broken pipe is fine then.
        let _ = child.stdin.take().expect("stdin").write_all(bytes);
    }
    child.wait_with_output().expect("wait for passthru")
}

fn json(o: &Output) -> Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("ls --json prints JSON")
}

fn device<'a>(v: &'a Value, addr: &str) -> &'a Value {
    v["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .find(|d| d["address"] == addr)
        .unwrap_or_else(|| panic!("no {addr}"))
}

#[test]
fn ls_json_from_the_seed_file() {
    let f = data("lspci/seed-000-i350-sriov.txt");
    let v = json(&run(
        &["--lspci", f.to_str().unwrap(), "ls", "--json"],
        None,
    ));
    assert_eq!(v["devices"].as_array().unwrap().len(), 9);
    let pf = device(&v, "0000:06:00.0");
    assert_eq!(
        (&pf["vendor_id"], &pf["device_id"], &pf["revision"]),
        (&Value::from("8086"), &Value::from("1521"), &Value::from(1))
    );
    assert_eq!(pf["driver"], "igb");
    let s = &pf["sriov"];
    assert_eq!(
        (
            &s["total_vfs"],
            &s["num_vfs"],
            &s["offset"],
            &s["stride"],
            &s["vf_device_id"]
        ),
        (
            &Value::from(8),
            &Value::from(1),
            &Value::from(384),
            &Value::from(4),
            &Value::from("1520")
        )
    );
    assert_eq!(
        pf["virtfns"],
        serde_json::json!(["0000:07:10.0", "0000:07:10.4"])
    );
    let vf = device(&v, "0000:07:10.4");
    assert_eq!(
        (&vf["physfn"], &vf["vf_index"]),
        (&Value::from("0000:06:00.0"), &Value::from(1))
    );
    assert_eq!(vf["device_id"], "1520");
    // Unknown to lspci: stays null, not invented.
    assert_eq!(pf["iommu_group"], Value::Null);
    assert_eq!(pf["driver_override"], Value::Null);
}

#[test]
fn ls_json_from_stdin_matches_the_library() {
    let f = data("lspci-corpus/desktop-gigabyte-x570-ryzen-pve-rtx2070-sata-vfio-pci.txt");
    let text = std::fs::read(&f).unwrap();
    let v = json(&run(&["--lspci", "-", "ls", "--json"], Some(&text)));
    let lib = passthru::host::sources::read_lspci(&f).unwrap();
    let got: Vec<(String, Value, Value)> = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["address"].as_str().unwrap().to_string(),
                d["driver"].clone(),
                d["iommu_group"].clone(),
            )
        })
        .collect();
    let want: Vec<(String, Value, Value)> = lib
        .devices
        .iter()
        .map(|d| {
            (
                d.address.to_string(),
                d.driver.clone().map_or(Value::Null, Value::from),
                d.iommu_group.map_or(Value::Null, Value::from),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert!(got.iter().filter(|(_, drv, _)| drv == "vfio-pci").count() > 0);

    // The filters work on lspci facts too.
    let o = run(
        &["--lspci", "-", "ls", "--driver", "vfio-pci", "--json"],
        Some(&text),
    );
    let vfio = json(&o)["devices"].as_array().unwrap().len();
    assert_eq!(vfio, lib.devices.iter().filter(|d| d.on_vfio()).count());
}

#[test]
fn non_root_capture_warns_on_stderr() {
    let f = data("lspci-corpus/laptop-framework13-amd-phoenix-nonroot-access-denied.txt");
    let o = run(&["--lspci", f.to_str().unwrap(), "ls"], None);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(e.contains("without root"), "{e}");
    assert!(e.contains("stderr message"), "{e}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("pcilib"));
}

fn assert_one_error(o: &Output, needles: &[&str]) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "exit code; stderr: {e}");
    assert!(!e.contains("panicked"), "panic: {e}");
    assert_eq!(
        e.lines()
            .filter(|l| l.starts_with("passthru: error:"))
            .count(),
        1,
        "one error: {e}"
    );
    for n in needles {
        assert!(e.contains(n), "stderr lacks {n:?}: {e}");
    }
    assert!(o.stdout.is_empty(), "nothing on stdout");
}

#[test]
fn text_without_devices_is_one_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let empty = t.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let garbage = t.path().join("garbage.bin");
    // Deterministic junk: NULs, invalid UTF-8, control bytes, no newline structure.
    let junk: Vec<u8> = (0u32..8192)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&garbage, &junk).unwrap();
    let prose = t.path().join("notes.txt");
    std::fs::write(
        &prose,
        "00:1f.0 ISA bridge: Intel Corporation C620 LPC (rev 09)\n",
    )
    .unwrap();
    for p in [&empty, &garbage, &prose] {
        let o = run(&["--lspci", p.to_str().unwrap(), "ls"], None);
        assert_one_error(
            &o,
            &[p.to_str().unwrap(), "no PCI device found", "lspci -nnvvv"],
        );
    }
    let o = run(&["--lspci", "-", "ls", "--json"], Some(b""));
    assert_one_error(&o, &["<stdin>", "no PCI device found"]);
    let o = run(&["--lspci", "-", "ls"], Some(&junk));
    assert_one_error(&o, &["<stdin>"]);
}

#[test]
fn unreadable_file_names_it() {
    let o = run(&["--lspci", "/nonexistent/lspci.txt", "ls"], None);
    assert_one_error(&o, &["/nonexistent/lspci.txt", "No such file"]);
    let t = tempfile::tempdir().unwrap();
    let d = t.path().to_str().unwrap();
    let o = run(&["--lspci", d, "groups"], None);
    assert_one_error(&o, &[d]);
}

#[test]
fn lspci_conflicts_with_root_and_snapshot() {
    let f = data("lspci/seed-000-i350-sriov.txt");
    let o = run(&["--lspci", f.to_str().unwrap(), "--root", "/", "ls"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
}

/// A device whose title lspci cut short (`... [8086... (rev 01)`) is listed by `ls`
/// with what the text carries, its unread device id shown as `????`, and `show`
/// finds it by address.
#[test]
fn ls_lists_a_device_whose_title_lspci_cut_short() {
    let text = "\
7f:0e.0 Performance counters [1101]: Intel Corporation Xeon E7 v4/Xeon E5 v4/Xeon E3 v4/Xeon D Power Control Unit Thermal & RAS Registers [8086... (rev 01)
\tKernel driver in use: hswep_uncore
\tNUMA node: 1
\tIOMMU group: 41

7f:0e.1 Performance counters [1101]: Intel Corporation Xeon E7 v4/Xeon E5 v4/Xeon D Power Control Unit [8086:6fe1] (rev 01)
\tIOMMU group: 41
";
    let o = run(&["--lspci", "-", "ls"], Some(text.as_bytes()));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with("7f:0e.0"))
        .unwrap_or_else(|| panic!("{out}"));
    for want in ["8086:????", "hswep_uncore", " 41 ", " 1 "] {
        assert!(line.contains(want), "{want}: {line}");
    }
    let v = json(&run(
        &["--lspci", "-", "show", "7f:0e.0", "--json"],
        Some(text.as_bytes()),
    ));
    assert_eq!(v["devices"][0]["unread_ids"], "device", "{v}");
}
