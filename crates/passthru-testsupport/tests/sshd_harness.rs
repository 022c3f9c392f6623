//! The sshd harness against the real OpenSSH client: logins work with the test's keys
//! and known_hosts, each host has its own PATH, reboot commands are stand-ins, a
//! changed host key and a stopped sshd are refused, a delayed host is late.

use passthru_testsupport::sshd::{sshd_or_skip, HostOptions, SshFleet};
use std::time::Instant;

#[test]
fn hosts_answer_with_their_own_path_and_refuse_reboots() {
    if !sshd_or_skip() {
        return;
    }
    let mut fleet = SshFleet::start_n(2).unwrap();
    for (i, h) in fleet.hosts().iter().enumerate() {
        let out = fleet
            .ssh(i)
            .args(["echo", "$PATH", "$SSH_CONNECTION"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.starts_with(&h.bin_dir().display().to_string()),
            "{text}"
        );
        assert!(
            text.contains(&format!("{} {}", h.addr(), h.port())),
            "{text}"
        );
    }
    // A reboot command reaches only the stand-in, which refuses without a hook.
    let out = fleet.ssh(0).args(["systemctl", "reboot"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stand-in systemctl"));
    assert_eq!(fleet.host(0).reboot_log(), "systemctl reboot\n");

    // A changed host key is refused, never accepted.
    fleet.change_host_key(1).unwrap();
    let out = fleet.ssh(1).arg("true").output().unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("IDENTIFICATION HAS CHANGED"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A stopped sshd refuses connections.
    fleet.host_mut(0).stop();
    let out = fleet.ssh(0).arg("true").output().unwrap();
    assert_eq!(out.status.code(), Some(255));
}

#[test]
fn reboot_hook_restarts_sshd_and_delay_is_applied() {
    if !sshd_or_skip() {
        return;
    }
    let mut fleet = SshFleet::start(&[HostOptions::delayed(1)]).unwrap();
    let t = Instant::now();
    let out = fleet.ssh(0).arg("echo late").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "late\n");
    assert!(
        t.elapsed().as_millis() >= 1000,
        "the delay wrapper did not sleep"
    );
    let marker = fleet.dir().join("rebooted");
    let h = fleet.host(0);
    h.on_reboot(&format!("touch '{}'", marker.display()), 1)
        .unwrap();
    let before = h.pid().unwrap();
    let out = fleet.ssh(0).args(["reboot"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The hook ran, sshd went away and came back with another pid.
    let h = fleet.host_mut(0);
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while h.pid().is_none_or(|p| p == before) && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    h.wait_listening(std::time::Duration::from_secs(20))
        .unwrap();
    assert!(marker.exists());
    assert_ne!(h.pid(), Some(before));
    let out = fleet.ssh(0).arg("echo back").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "back\n");
}
