//! Bad input gets one clear error naming the file, line or device, and exit code 3;
//! never a panic.

use std::process::{Command, Output};

fn passthru(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passthru"))
        .args(args)
        .output()
        .expect("run passthru")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_clean_error(o: &Output, needles: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(3), "exit code; stderr: {e}");
    assert!(!e.contains("panicked"), "panic: {e}");
    for n in needles {
        assert!(e.contains(n), "stderr lacks {n:?}: {e}");
    }
}

#[test]
fn missing_root_names_the_directory() {
    let o = passthru(&["--root", "/nonexistent/passthru-root", "ls"]);
    assert_clean_error(&o, &["/nonexistent/passthru-root", "No such file"]);
}

#[test]
fn a_root_without_sysfs_says_what_it_needs() {
    let t = tempfile::tempdir().unwrap();
    let o = passthru(&["--root", t.path().to_str().unwrap(), "ls"]);
    assert_clean_error(&o, &["sys/bus/pci/devices", "--root"]);
}

#[test]
fn malformed_snapshot_names_file_line_and_column() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("snap.json");
    std::fs::write(
        &p,
        "{\n  \"devices\": [\n    {\"address\": \"0000:zz:00.0\"}\n  ]\n}\n",
    )
    .unwrap();
    let o = passthru(&["--snapshot", p.to_str().unwrap(), "ls"]);
    assert_clean_error(
        &o,
        &[
            "snap.json:3:",
            "not a passthru snapshot",
            "passthru snapshot -o",
        ],
    );
    std::fs::write(&p, "not json at all").unwrap();
    let o = passthru(&["--snapshot", p.to_str().unwrap(), "groups"]);
    assert_clean_error(&o, &["snap.json:1:"]);
    let o = passthru(&["--snapshot", "/nonexistent/snap.json", "ls"]);
    assert_clean_error(&o, &["/nonexistent/snap.json"]);
}

#[test]
fn snapshot_from_a_newer_passthru_is_refused_plainly() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("snap.json");
    std::fs::write(&p, r#"{"format_version": 99, "devices": []}"#).unwrap();
    let o = passthru(&["--snapshot", p.to_str().unwrap(), "ls"]);
    assert_clean_error(&o, &["format 99", "upgrade"]);
}

#[test]
fn bad_filter_values_list_what_is_accepted() {
    let o = passthru(&["--root", "/", "ls", "--class", "toaster"]);
    assert_clean_error(&o, &["toaster", "net, gpu, nvme"]);
    let o = passthru(&["--root", "/", "ls", "--vendor", "80x6"]);
    assert_clean_error(&o, &["80x6", "hexadecimal"]);
}

#[test]
fn usage_errors_exit_3_and_help_exits_0() {
    let o = passthru(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(3));
    let o = passthru(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("pci_0000_07_10_7") && out.contains("Exit codes"),
        "{out}"
    );
}
