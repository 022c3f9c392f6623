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

/// Runs passthru as an unprivileged user (root reads anything, so a permission test
/// as root would prove nothing): `nobody` through setpriv when we are root, else as
/// is. `None` when neither is possible.
fn as_user(args: &[&str]) -> Option<Output> {
    use std::os::unix::fs::MetadataExt;
    let bin = env!("CARGO_BIN_EXE_passthru");
    let root = std::fs::metadata("/proc/self").ok()?.uid() == 0;
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            bin,
        ]);
        c
    } else {
        Command::new(bin)
    };
    let o = cmd.args(args).output().ok()?;
    // setpriv missing or refused: nothing to learn here.
    (o.status.code() != Some(127) && !String::from_utf8_lossy(&o.stderr).contains("setpriv:"))
        .then_some(o)
}

#[test]
fn an_unreadable_root_or_device_is_named_never_a_panic() {
    use passthru_testsupport::fakehost::FakeHost;
    use std::os::unix::fs::PermissionsExt;
    let t = FakeHost::scenario("i350").unwrap().write_temp().unwrap();
    let r = t.path();
    let mode = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode(r, 0o755);
    let root = r.to_str().unwrap();
    let Some(o) = as_user(&["--root", root, "ls"]) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));

    // The whole root unreadable.
    mode(r, 0o000);
    let o = as_user(&["--root", root, "ls", "--json"]).unwrap();
    mode(r, 0o755);
    assert_clean_error(&o, &[root, "Permission denied"]);

    // The bus directory unreadable: named.
    let bus = r.join("sys/bus/pci/devices");
    mode(&bus, 0o000);
    let o = as_user(&["--root", root, "groups"]).unwrap();
    mode(&bus, 0o755);
    assert_clean_error(&o, &["sys/bus/pci/devices", "Permission denied"]);

    // One device unreadable: skipped with a warning naming it, the rest listed.
    let dev = std::fs::canonicalize(bus.join("0000:06:00.0")).unwrap();
    mode(&dev, 0o000);
    let o = as_user(&["--root", root, "ls", "--json"]).unwrap();
    let s = as_user(&["--root", root, "show", "06:00.0"]).unwrap();
    mode(&dev, 0o755);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("warning: 0000:06:00.0") && e.contains("Permission denied"),
        "{e}"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = v["devices"].as_array().unwrap().len();
    assert_eq!(n, 14, "every device but the unreadable one");
    // Asking for it: the warning says why it is missing.
    assert_clean_error(&s, &["no device '06:00.0'", "warning: 0000:06:00.0"]);
}
