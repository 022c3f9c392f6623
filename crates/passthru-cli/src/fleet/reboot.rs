//! Reboot and wait (smog's rebooter and pinger): reboot a host whose change needs
//! it, wait until it went down (its boot id changed) and answers SSH again, then run
//! doctor and say whether the new kernel command line is active.
//!
//! Whether a reboot is needed, and whether the new command line is active after it,
//! is the `boot.reboot-pending` check's decision, the same one `doctor` shows. The
//! reboot command is `--reboot-command` (default `systemctl reboot`), looked up on
//! the remote PATH, never by an absolute path.

use super::Fleet;
use passthru::checks::{self, host::reboot_pending, Context, Severity};
use passthru::remote::ssh::{quote_words, SshOptions};
use passthru::remote::{far, Target};
use serde::Serialize;
use std::time::{Duration, Instant};

/// What happened to one host's reboot.
#[derive(Debug, Default, Serialize)]
pub struct RebootReport {
    /// Whether the change needed a reboot (`boot.reboot-pending` did not pass).
    pub needed: bool,
    /// Whether the host was rebooted and came back.
    pub rebooted: bool,
    /// Seconds from the reboot command until the host answered with a new boot id.
    pub back_after_secs: Option<f64>,
    /// After the reboot: the running kernel has the arguments asked for.
    pub cmdline_active: Option<bool>,
    /// The running kernel's command line after the reboot.
    pub kernel_cmdline: Option<String>,
    /// doctor's exit code after the reboot.
    pub doctor_exit: Option<u8>,
    /// What went wrong (the host did not come back, the command failed).
    pub error: Option<String>,
}

impl RebootReport {
    /// The exit code this outcome counts as: 3 when the host did not come back,
    /// 2 when it came back without the new command line.
    pub fn exit(&self) -> u8 {
        if self.error.is_some() {
            3
        } else if self.cmdline_active == Some(false) {
            2
        } else {
            0
        }
    }

    /// One line for the text report.
    pub fn line(&self) -> String {
        if let Some(e) = &self.error {
            return format!("reboot: FAILED: {e}");
        }
        if !self.needed {
            return "reboot: not needed (the running kernel already has the arguments)".into();
        }
        format!(
            "reboot: back after {:.1} s; new kernel command line {} (doctor exit {}){}",
            self.back_after_secs.unwrap_or(0.0),
            if self.cmdline_active == Some(true) {
                "ACTIVE"
            } else {
                "NOT active"
            },
            self.doctor_exit.map_or("?".into(), |c| c.to_string()),
            self.kernel_cmdline
                .as_deref()
                .map_or(String::new(), |c| format!(": {}", c.trim()))
        )
    }
}

/// doctor over facts: its exit code and whether `boot.reboot-pending` passes.
fn doctor(host: &passthru::Host) -> (u8, bool) {
    let report = checks::run(&Context::doctor(host, Vec::new()));
    let pending = report
        .findings
        .iter()
        .any(|f| f.id == reboot_pending::ID && f.severity != Severity::Pass);
    (report.exit_code(), !pending)
}

/// Reboots `target` if its change needs it and waits for it.
pub fn reboot_and_wait(fleet: &Fleet, target: &Target) -> RebootReport {
    let mut r = RebootReport::default();
    let root = fleet.remote_root.as_deref();
    let up = fleet.upload.as_deref();
    let host = match far::fetch_host(&fleet.ssh, target, root, up) {
        Ok(h) => h,
        Err(e) => {
            r.error = Some(format!("cannot read the host before rebooting: {e}"));
            return r;
        }
    };
    if doctor(&host).1 {
        return r;
    }
    r.needed = true;
    let before = match far::boot_id(&fleet.ssh, target, root) {
        Ok(b) => b,
        Err(e) => {
            r.error = Some(format!("cannot read its boot id: {e}"));
            return r;
        }
    };
    let words: Vec<&str> = fleet.args.reboot_command.split_whitespace().collect();
    if words.is_empty() {
        r.error = Some("--reboot-command is empty".into());
        return r;
    }
    let short = SshOptions {
        timeout: Duration::from_secs(30),
        ..fleet.ssh.clone()
    };
    let started = Instant::now();
    match short.run(target, &format!("exec {}", quote_words(&words))) {
        // A reboot may end the session before the command returns.
        Ok(out) if out.status == Some(0) || out.status.is_none() => {}
        Err(_) => {}
        Ok(out) => {
            r.error = Some(format!(
                "`{}` failed there (exit {:?}): {}",
                fleet.args.reboot_command,
                out.status,
                far::last_error(&out.stderr)
            ));
            return r;
        }
    }
    let limit = Duration::from_secs(fleet.args.reboot_timeout);
    let poll = SshOptions {
        timeout: Duration::from_secs(10),
        ..fleet.ssh.clone()
    };
    loop {
        std::thread::sleep(Duration::from_secs(1));
        if let Ok(id) = far::boot_id(&poll, target, root) {
            if id != before {
                break;
            }
        }
        if started.elapsed() > limit {
            r.error = Some(format!(
                "did not come back with a new boot id within {} s (--reboot-timeout)",
                limit.as_secs()
            ));
            return r;
        }
    }
    r.back_after_secs = Some(started.elapsed().as_secs_f64());
    r.rebooted = true;
    match far::fetch_host(&fleet.ssh, target, root, up) {
        Ok(h) => {
            let (exit, active) = doctor(&h);
            r.doctor_exit = Some(exit);
            r.cmdline_active = Some(active);
            r.kernel_cmdline = h.kernel_cmdline.clone();
        }
        Err(e) => r.error = Some(format!("came back but cannot be read: {e}")),
    }
    r
}
