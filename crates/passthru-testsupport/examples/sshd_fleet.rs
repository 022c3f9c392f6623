//! N loopback test hosts for benchmarks (scripts/bench-ansible.sh): one sshd each on
//! 127.0.0.2, 127.0.0.3, ... (the test harness, `passthru_testsupport::sshd`), each
//! serving its own fake root of the seeds' I350 host (`PASSTHRU_ROOT` in its sessions).
//!
//!   sshd_fleet N DIR      writes DIR/inventory.ini and DIR/ready, then serves until
//!                         DIR/stop exists (or an hour passes); stops every sshd on exit
use passthru_testsupport::fakehost::FakeHost;
use passthru_testsupport::sshd::{HostOptions, SshFleet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: sshd_fleet N DIR";
    let n: usize = args.next().ok_or(usage)?.parse()?;
    let dir = PathBuf::from(args.next().ok_or(usage)?);
    std::fs::create_dir_all(&dir)?;
    let mut hosts = Vec::new();
    for i in 1..=n {
        let root = dir.join(format!("roots/h{i}"));
        FakeHost::scenario("i350")?.write(&root)?;
        hosts.push(HostOptions {
            env: vec![("PASSTHRU_ROOT".into(), root.display().to_string())],
            ..HostOptions::default()
        });
    }
    let fleet = SshFleet::start(&hosts)?;
    let mut inv = String::from("[bench]\n");
    for a in fleet.aliases() {
        inv.push_str(&a);
        inv.push('\n');
    }
    // The harness's ForceCommand wrapper does not pass sftp/scp: copy through the shell.
    inv.push_str(&format!(
        "\n[bench:vars]\nansible_ssh_common_args='-F {}'\nansible_ssh_transfer_method=piped\nansible_python_interpreter=/usr/bin/python3\n",
        fleet.ssh_config().display()
    ));
    std::fs::write(dir.join("inventory.ini"), inv)?;
    std::fs::write(dir.join("ready"), "")?;
    let start = Instant::now();
    while !dir.join("stop").exists() && start.elapsed() < Duration::from_secs(3600) {
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(fleet);
    Ok(())
}
