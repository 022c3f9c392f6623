//! `passthru-sshd-fleet`: N real sshd on 127.0.0.2.. for benchmarks and manual
//! tries (the test harness `passthru_testsupport::sshd` as a program). Prints the
//! client's ssh_config path, serves until SIGTERM/SIGINT or `--lifetime` seconds,
//! then stops every sshd by pid.

use clap::Parser;
use passthru_testsupport::sshd::{HostOptions, SshFleet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

#[derive(Parser)]
#[command(
    name = "passthru-sshd-fleet",
    version,
    about = "N test sshd on 127.0.0.2.. (loopback only)"
)]
struct Cli {
    /// Number of hosts (h1 on 127.0.0.2, h2 on 127.0.0.3, ...).
    hosts: usize,
    /// Every session starts this many seconds late (a distant network).
    #[arg(long, default_value_t = 0)]
    delay: u64,
    /// Put a program on every host's PATH: NAME=PATH (repeatable).
    #[arg(long, value_name = "NAME=PATH")]
    install: Vec<String>,
    /// Write the ssh_config path to this file once every host listens.
    #[arg(long, value_name = "FILE")]
    ready: Option<PathBuf>,
    /// Stop by itself after this many seconds.
    #[arg(long, default_value_t = 3600)]
    lifetime: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = passthru_testsupport::sshd::sshd_usable() {
        eprintln!("passthru-sshd-fleet: {e}");
        return ExitCode::from(3);
    }
    let opts = vec![HostOptions::delayed(cli.delay); cli.hosts];
    let fleet = match SshFleet::start(&opts) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("passthru-sshd-fleet: {e}");
            return ExitCode::from(3);
        }
    };
    for spec in &cli.install {
        let Some((name, path)) = spec.split_once('=') else {
            eprintln!("passthru-sshd-fleet: --install {spec}: write NAME=PATH");
            return ExitCode::from(3);
        };
        for h in fleet.hosts() {
            if let Err(e) = h.install(name, std::path::Path::new(path)) {
                eprintln!("passthru-sshd-fleet: cannot install {name}: {e}");
                return ExitCode::from(3);
            }
        }
    }
    // SAFETY: installing a handler that only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    let cfg = fleet.ssh_config();
    println!("{}", cfg.display());
    if let Some(r) = &cli.ready {
        let _ = std::fs::write(r, format!("{}\n", cfg.display()));
    }
    let end = Instant::now() + Duration::from_secs(cli.lifetime);
    while !STOP.load(Ordering::SeqCst) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(fleet);
    ExitCode::SUCCESS
}
