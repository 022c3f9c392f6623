//! Fleets end to end against real OpenSSH: several sshd on 127.0.0.2, 127.0.0.3, ...
//! (passthru-testsupport's harness), each host serving a fake root or a kernel
//! simulator mount through `--remote-root`. A changed host key, a stopped sshd and a
//! slow host are each their own row; the others succeed. Loopback only.

mod change_common;
use change_common::{host_spec_with_tools, mount};
use passthru_testsupport::sshd::{sshd_or_skip, HostOptions, SshFleet};
use passthru_testsupport::{scenarios, FakeHost};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_passthru");

fn run(fleet: &SshFleet, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--ssh-config")
        .arg(fleet.ssh_config())
        .args(args)
        .env_remove("PASSTHRU_ROOT")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

/// Puts this build's passthru on every host's PATH.
fn install(fleet: &SshFleet) {
    for h in fleet.hosts() {
        h.install("passthru", Path::new(BIN)).unwrap();
    }
}

#[test]
fn one_row_per_host_bad_hosts_are_their_own_rows() {
    if !sshd_or_skip() {
        return;
    }
    let root = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    let r = root.path().to_str().unwrap();
    let mut fleet = SshFleet::start(&[
        HostOptions::default(),
        HostOptions::default(),
        HostOptions::default(),
        HostOptions::delayed(40),
    ])
    .unwrap();
    install(&fleet);
    fleet.change_host_key(1).unwrap();
    fleet.host_mut(2).stop();
    let hosts = [
        "--host", "h1", "--host", "h2", "--host", "h3", "--host", "h4",
    ];
    let common = ["--remote-root", r, "--host-timeout", "12"];

    // doctor: one section per host, the summary line, the worst exit (3: unreachable).
    let o = run(&fleet, &[&hosts[..], &common[..], &["doctor"]].concat());
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("== h1 (") && t.contains("Summary:"), "{t}");
    assert!(
        t.contains("== h2 (unreachable) ==\n  h2: host key CHANGED"),
        "{t}"
    );
    assert!(
        t.contains("== h3 (unreachable) ==\n  h3: unreachable:")
            && t.contains("Connection refused"),
        "{t}"
    );
    assert!(
        t.contains("== h4 (unreachable) ==\n  h4: no answer within 12 s"),
        "{t}"
    );
    assert!(
        t.contains("4 hosts: 0 pass, 1 warn, 0 fail, 3 unreachable")
            || t.contains("4 hosts: 0 pass, 0 warn, 1 fail, 3 unreachable")
            || t.contains("4 hosts: 1 pass, 0 warn, 0 fail, 3 unreachable"),
        "{t}"
    );

    // --json: the documented shape; h1's result is exactly the single-host JSON.
    let o = run(
        &fleet,
        &[&hosts[..], &common[..], &["--json", "doctor"]].concat(),
    );
    let j = json(&o);
    let local = Command::new(BIN)
        .args(["--root", r, "--json", "doctor"])
        .output()
        .unwrap();
    let local_json: Value = serde_json::from_slice(&local.stdout).unwrap();
    assert_eq!(j["hosts"]["h1"]["ok"], true);
    assert_eq!(j["hosts"]["h1"]["result"], local_json);
    assert_eq!(j["hosts"]["h1"]["exit"], local.status.code().unwrap());
    assert_eq!(j["hosts"]["h2"]["failure"], "host_key");
    assert_eq!(j["hosts"]["h3"]["failure"], "unreachable");
    assert_eq!(j["hosts"]["h4"]["failure"], "timeout");
    assert_eq!(j["summary"]["hosts"], 4);
    assert_eq!(j["summary"]["unreachable"], 3);

    // ls: one table with a HOST column; the bad hosts are rows too.
    let o = run(
        &fleet,
        &[&hosts[..], &common[..], &["ls", "--sriov"]].concat(),
    );
    let t = text(&o);
    assert!(t.contains("\nHOST ADDRESS "), "{t}");
    assert_eq!(t.matches("\nh1   06:00.").count(), 4, "{t}");
    assert!(t.contains("\nh3   unreachable: h3: unreachable"), "{t}");
    assert!(
        t.contains("4 hosts: 1 pass, 0 warn, 0 fail, 3 unreachable"),
        "{t}"
    );
}

#[test]
fn uploads_itself_where_passthru_is_missing_and_reads_an_inventory() {
    if !sshd_or_skip() {
        return;
    }
    let root = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    let r = root.path().to_str().unwrap();
    let fleet = SshFleet::start_n(2).unwrap();
    // h1 has passthru installed; h2 has none: this binary is uploaded for the run.
    fleet.host(0).install("passthru", Path::new(BIN)).unwrap();
    let inv = fleet.dir().join("inventory.yml");
    std::fs::write(
        &inv,
        "all:\n  children:\n    compute:\n      hosts:\n        h1:\n        h2:\n    control:\n      hosts:\n        ctl:\n",
    )
    .unwrap();
    let o = run(
        &fleet,
        &[
            "--hosts",
            inv.to_str().unwrap(),
            "--limit",
            "compute",
            "--remote-root",
            r,
            "--json",
            "groups",
        ],
    );
    let j = json(&o);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for h in ["h1", "h2"] {
        assert_eq!(j["hosts"][h]["ok"], true, "{j}");
        assert_eq!(j["hosts"][h]["result"]["iommu_enabled"], true, "{j}");
    }
    assert!(j["hosts"].get("ctl").is_none(), "{j}");
    // Nothing left behind on the far side.
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("passthru."))
        .filter(|e| e.path().join("passthru").exists())
        .count();
    assert_eq!(leftovers, 0, "an uploaded binary was left behind");
}

#[test]
fn fleet_diff_finds_the_odd_hosts() {
    if !sshd_or_skip() {
        return;
    }
    // h1, h2: the seed host. h3: 4 VFs on one PF (set on the simulator, as the
    // kernel would). h4: booted without intel_iommu=on.
    let same = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    let no_iommu = FakeHost::new(scenarios::i350().cmdline(
        "BOOT_IMAGE=/vmlinuz-3.10.0-229.el7.x86_64 root=/dev/mapper/rhel-root ro rhgb quiet",
    ))
    .write_temp()
    .unwrap();
    let Some(sim) = mount(&scenarios::i350()) else {
        return;
    };
    let pf = sim
        .root()
        .join("sys/bus/pci/devices/0000:06:00.0/sriov_numvfs");
    std::fs::write(&pf, "0").unwrap();
    std::fs::write(&pf, "4").unwrap();
    let fleet = SshFleet::start_n(4).unwrap();
    install(&fleet);
    // Each host serves its own root (a link in its directory): --remote-root is one
    // path for a whole run, as / is on real hosts.
    let link = |i: usize, to: &Path| {
        let l = fleet.host(i).dir().join("root");
        std::os::unix::fs::symlink(to, &l).unwrap();
    };
    link(0, same.path());
    link(1, same.path());
    link(2, sim.root());
    link(3, no_iommu.path());
    let per_host = |i: usize| fleet.host(i).dir().join("root");
    // Each host's snapshot fetched over SSH, then compared as files (one output
    // feeds the other).
    let mut files = Vec::new();
    for i in 0..4 {
        // A remote snapshot through the fleet JSON: its result is the snapshot.
        let o = run(
            &fleet,
            &[
                "--host",
                &format!("h{}", i + 1),
                "--remote-root",
                per_host(i).to_str().unwrap(),
                "--json",
                "snapshot",
            ],
        );
        let j = json(&o);
        let snap = &j["hosts"][format!("h{}", i + 1)]["result"];
        let f = fleet.dir().join(format!("h{}.json", i + 1));
        std::fs::write(&f, serde_json::to_string(snap).unwrap()).unwrap();
        files.push(f);
    }
    let o = Command::new(BIN)
        .arg("fleet")
        .arg("diff")
        .args(&files)
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let h = |i: usize| files[i].display().to_string();
    assert!(
        t.contains(&format!(
            "sriov.num_vfs[8086:1521] (VFs enabled per 8086:1521 PF)\n  {:<20} 2,2,2,4\n",
            h(2)
        )),
        "{t}"
    );
    assert!(t.contains(&format!("kernel.iommu_args (IOMMU/vfio arguments on the running kernel's command line)\n  {:<20} (none)\n  majority: intel_iommu=on on 3 hosts", h(3))), "{t}");

    // Over SSH directly: two hosts that agree, then the odd one.
    let o = run(
        &fleet,
        &[
            "--host",
            "h1",
            "--host",
            "h2",
            "--remote-root",
            per_host(0).to_str().unwrap(),
            "fleet",
            "diff",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("All 2 hosts agree"), "{}", text(&o));
    let o = run(
        &fleet,
        &[
            "--host",
            "h1",
            "--host",
            "h2",
            "--remote-root",
            per_host(0).to_str().unwrap(),
            "--json",
            "fleet",
            "diff",
            files[3].to_str().unwrap(),
        ],
    );
    let j = json(&o);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let d = j["differences"].as_array().unwrap();
    let args = d.iter().find(|x| x["fact"] == "kernel.iommu_args").unwrap();
    assert_eq!(args["odd"][0]["host"], files[3].display().to_string());
    assert_eq!(args["majority_hosts"], serde_json::json!(["h1", "h2"]));
    drop(sim);
}

#[test]
fn watch_stops_on_a_fail_line_and_keeps_exit_codes() {
    if !sshd_or_skip() {
        return;
    }
    let fleet = SshFleet::start_n(1).unwrap();
    let log = fleet.dir().join("watch.log");
    // A command that would run for minutes fails early: stopped at once, exit 2.
    let script = "echo starting; echo step 1; echo 'ERROR: disk full'; sleep 300; echo never";
    let t0 = std::time::Instant::now();
    let o = run(
        &fleet,
        &[
            "--host",
            "h1",
            "watch",
            "--fail-on",
            "^ERROR",
            "--log",
            log.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("h1: step 1\nh1: ERROR: disk full\n"), "{t}");
    assert!(!t.contains("never"), "{t}");
    assert!(
        t.contains("stopped on a --fail-on line: ERROR: disk full"),
        "{t}"
    );
    assert!(t0.elapsed().as_secs() < 200, "not stopped early");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "h1: starting\nh1: step 1\nh1: ERROR: disk full\n"
    );
    // The remote process group is gone: no `sleep 300` of ours is left.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&ps.stdout).contains(script),
        "remote command still running"
    );
    // Without a fail line: the command's own exit code, here and there.
    let o = run(
        &fleet,
        &[
            "--host",
            "h1",
            "watch",
            "--fail-on",
            "^ERROR",
            "--",
            "sh",
            "-c",
            "echo fine; exit 5",
        ],
    );
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let o = Command::new(BIN)
        .args([
            "watch",
            "--fail-on",
            "^ERROR",
            "--",
            "sh",
            "-c",
            "echo fine; exit 4",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "fine\n");
    let o = Command::new(BIN)
        .args([
            "watch",
            "--fail-on",
            "boom",
            "--",
            "sh",
            "-c",
            "echo boom; sleep 300",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn kernel_args_with_reboot_waits_and_sees_the_new_command_line() {
    if !sshd_or_skip() {
        return;
    }
    let Some(sim) = mount(&host_spec_with_tools()) else {
        return;
    };
    let root = sim.root().to_str().unwrap().to_string();
    let fleet = SshFleet::start_n(1).unwrap();
    install(&fleet);
    // The stand-in `systemctl reboot` boots the simulator with what grub would pass
    // (etc/default/grub's GRUB_CMDLINE_LINUX), and takes sshd away for 2 s.
    fleet
        .host(0)
        .on_reboot(
            &format!(
                "R='{root}'\n. \"$R/etc/default/grub\"\n\
                 echo \"reboot cmdline=BOOT_IMAGE=/vmlinuz-3.10.0-229.el7.x86_64 root=/dev/mapper/rhel-root ro $GRUB_CMDLINE_LINUX\" > \"$R/.passthru-sim/ctl\""
            ),
            2,
        )
        .unwrap();
    let o = run(
        &fleet,
        &[
            "--host",
            "h1",
            "--remote-root",
            &root,
            "kernel-args",
            "--pt",
            "--yes",
            "--reboot",
            "--reboot-timeout",
            "60",
        ],
    );
    let t = text(&o);
    assert!(t.contains("Plans\n"), "{t}");
    assert!(t.contains("reboot: back after"), "{t}");
    assert!(t.contains("new kernel command line ACTIVE"), "{t}");
    assert!(t.contains("iommu=pt"), "{t}");
    assert_eq!(fleet.host(0).reboot_log(), "systemctl reboot\n");
    assert!(sim.log().contains("reboot"), "{}", sim.log());
    // Nothing left to reboot for: a second run does not reboot again.
    let o = run(
        &fleet,
        &[
            "--host",
            "h1",
            "--remote-root",
            &root,
            "--json",
            "kernel-args",
            "--pt",
            "--yes",
            "--reboot",
        ],
    );
    let j = json(&o);
    assert_eq!(j["hosts"]["h1"]["reboot"]["needed"], false, "{j}");
    assert_eq!(fleet.host(0).reboot_log(), "systemctl reboot\n");
}
