//! The SSH transport against real OpenSSH servers on loopback (the test harness's
//! sshd): commands run with every word quoted, failures are classified per host,
//! and passthru on the far side is the installed one of the same version or an
//! upload into a private temporary directory that is removed after.

use passthru::remote::far::{run_passthru, VERSION_LINE};
use passthru::remote::{Failure, SshOptions, Target};
use passthru_testsupport::sshd::{sshd_or_skip, SshFleet};
use std::time::Duration;

fn opts(fleet: &SshFleet) -> SshOptions {
    SshOptions {
        config_file: Some(fleet.ssh_config()),
        timeout: Duration::from_secs(30),
    }
}

/// A stand-in passthru (a shell script) that says its version, its directory's mode
/// and its arguments, one per line.
fn fake_passthru(dir: &std::path::Path, version: &str) -> std::path::PathBuf {
    let p = dir.join("fake-passthru");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo '{version}'; exit 0; fi\n\
             echo \"dir $(stat -c %a \"$(dirname \"$0\")\") $(dirname \"$0\")\"\nfor a in \"$@\"; do echo \"arg $a\"; done\nexit 1\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn installed_or_uploaded_passthru_gets_its_arguments_verbatim() {
    if !sshd_or_skip() {
        return;
    }
    let fleet = SshFleet::start_n(2).unwrap();
    let o = opts(&fleet);
    let same = fake_passthru(fleet.dir(), VERSION_LINE);
    let other_dir = fleet.dir().join("other");
    std::fs::create_dir(&other_dir).unwrap();
    let older = fake_passthru(&other_dir, "passthru 0.0.1");
    fleet.host(0).install("passthru", &same).unwrap();
    fleet.host(1).install("passthru", &older).unwrap();
    let args: Vec<String> = ["show", "it's $(id) `x`", "a b"].map(String::from).to_vec();

    // h1: the installed one of the same version runs.
    let t1 = Target::parse("h1").unwrap();
    let out = run_passthru(&o, &t1, &args, None).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status, Some(1), "{text}");
    assert!(
        text.contains(&format!("dir 755 {}", fleet.dir().display())),
        "{text}"
    );
    assert!(text.contains("arg it's $(id) `x`\narg a b\n"), "{text}");

    // h2 has another version: without an upload, an error naming it; with one, the
    // upload runs from a 0700 temporary directory that is gone afterwards.
    let t2 = Target::parse("h2").unwrap();
    let e = run_passthru(&o, &t2, &args, None).unwrap_err().to_string();
    assert!(e.contains("passthru 0.0.1") && e.contains("h2"), "{e}");
    let out = run_passthru(&o, &t2, &args, Some(&same)).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let dir = text
        .lines()
        .find_map(|l| l.strip_prefix("dir 700 "))
        .unwrap_or_else(|| panic!("not run from a 0700 directory: {text}"));
    assert!(dir.contains("passthru."), "{dir}");
    assert!(!std::path::Path::new(dir).exists(), "{dir} was left behind");
    assert!(text.contains("arg it's $(id) `x`\narg a b\n"), "{text}");
}

#[test]
fn changed_key_and_stopped_server_are_classified() {
    if !sshd_or_skip() {
        return;
    }
    let mut fleet = SshFleet::start_n(2).unwrap();
    let o = opts(&fleet);
    fleet.change_host_key(0).unwrap();
    fleet.host_mut(1).stop();
    let e = o.run(&Target::parse("h1").unwrap(), "true").unwrap_err();
    assert_eq!(e.failure(), Failure::HostKey, "{e}");
    assert!(e.to_string().contains("CHANGED"), "{e}");
    let e = o.run(&Target::parse("h2").unwrap(), "true").unwrap_err();
    assert_eq!(e.failure(), Failure::Unreachable, "{e}");
    assert!(e.to_string().contains("Connection refused"), "{e}");
}
