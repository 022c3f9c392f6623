//! Changes on many hosts: every host's plan first, then with `--yes` host by host
//! (`--concurrency`, 1 by default; `--max-fail N` stops starting new hosts after N
//! failures), each host journaled on that host by its own passthru. The guards
//! that refuse to cut off the SSH session apply there: the remote passthru sees its
//! own `SSH_CONNECTION`. With `--reboot`, each host whose change needs a reboot is
//! rebooted and waited for ([`reboot`]).

use super::report::{self, Outcome, Summary};
use super::{reboot, Fleet};
use crate::cli::Command;
use crate::output::{emit, print_json};
use anyhow::{bail, Result};
use std::process::ExitCode;

fn yes(cmd: &Command) -> bool {
    match cmd {
        Command::Vfs(a) => a.change.yes,
        Command::Bind(a) => a.change.yes,
        Command::KernelArgs(a) => a.change.yes,
        Command::Apply(a) => a.change.yes,
        Command::Undo(a) => a.change.yes,
        _ => false,
    }
}

/// Runs a change command on every host.
pub fn run(fleet: &Fleet, cmd: &Command) -> Result<ExitCode> {
    let apply = yes(cmd);
    if fleet.args.reboot && !apply {
        bail!("--reboot reboots after the change is made: add --yes (without it passthru only shows each host's plan)");
    }
    let json = fleet.global.json;
    let plan_args = fleet.remote_args(&["--yes", "-y"]);
    if !apply || !json {
        // Every host's plan first (nothing is changed without --yes).
        let (plans, skipped) = fleet.each(fleet.concurrency(16), None, "planning", &|t| {
            fleet.remote_one(t, &plan_args)
        });
        if !apply {
            return super::finish(fleet, cmd, &plans, skipped);
        }
        emit(&format!(
            "Plans\n\n{}{}\n\nApplying (--concurrency {}{})\n\n",
            report::sections(&plans),
            Summary::of(&plans, skipped).line(),
            fleet.concurrency(1),
            fleet
                .args
                .max_fail
                .map_or(String::new(), |m| format!(", --max-fail {m}")),
        ))?;
    }
    let args = fleet.remote_args(&[]);
    let (mut results, skipped) = fleet.each(
        fleet.concurrency(1),
        fleet.args.max_fail,
        "changing",
        &|t| {
            let mut r = fleet.remote_one(t, &args);
            if fleet.args.reboot && r.exit() < 2 {
                let rb = reboot::reboot_and_wait(fleet, t);
                r.reboot = Some(rb);
            }
            r
        },
    );
    for r in &mut results {
        if let (Some(rb), Outcome::Done { exit, .. }) = (&r.reboot, &mut r.outcome) {
            *exit = (*exit).max(rb.exit());
        }
    }
    let summary = Summary::of(&results, skipped);
    if json {
        print_json(&report::json(&results, &summary))?;
    } else {
        emit(&format!(
            "{}{}\n",
            report::sections(&results),
            summary.line()
        ))?;
    }
    Ok(ExitCode::from(report::worst(&results)))
}
