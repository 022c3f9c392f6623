//! Fleets: every command on many hosts over SSH (`--host`, `--hosts`).
//!
//! A remote host is one more source: reading commands fetch its facts once (the
//! remote `passthru snapshot`) and run the very same single-host command here over
//! them, in a thread per host, capturing what it prints. Commands that need live
//! remote things (`verify` asks the remote libvirt; the change commands change the
//! remote host) run the remote passthru with the same arguments and collect its
//! output. Either way each host gets a row or a section, and one summary line ends
//! the run; `--json` gives `{"hosts": {...}, "summary": {...}}` (docs/json.md).

pub mod args;
pub mod change;
pub mod progress;
pub mod reboot;
pub mod report;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::context::Ctx;
use crate::output::{capture, emit, print_json};
use anyhow::{bail, Result};
use clap::Parser;
use passthru::remote::{far, Inventory, RemoteError, SshOptions, Target};
use report::{HostResult, Outcome, Summary};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub use args::FleetArgs;

/// Everything a fleet run needs besides the command.
pub struct Fleet {
    /// The hosts, in the order given.
    pub targets: Vec<Target>,
    /// How to reach them.
    pub ssh: SshOptions,
    /// `--remote-root`.
    pub remote_root: Option<PathBuf>,
    /// This binary, uploaded where no passthru of the same version is installed.
    pub upload: Option<PathBuf>,
    /// The fleet options.
    pub args: FleetArgs,
    /// The global options.
    pub global: GlobalArgs,
    /// The whole command line.
    pub argv: Vec<String>,
}

/// The targets of `--host` and `--hosts [--limit]`, without duplicates.
pub fn targets(a: &FleetArgs) -> Result<Vec<Target>> {
    let mut out: Vec<Target> = Vec::new();
    for h in &a.hosts {
        out.push(Target::parse(h)?);
    }
    if let Some(f) = &a.hosts_file {
        let inv = Inventory::read(f)?;
        out.extend(match &a.limit {
            Some(l) => inv.limit(l)?,
            None => inv.targets()?,
        });
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| seen.insert(t.name.clone()));
    if out.is_empty() {
        bail!("no hosts to run on: the hosts file (or --limit) selected none");
    }
    Ok(out)
}

impl Fleet {
    /// Reads the fleet options.
    pub fn new(global: &GlobalArgs) -> Result<Fleet> {
        let args = global.fleet.clone();
        Ok(Fleet {
            targets: targets(&args)?,
            ssh: SshOptions {
                config_file: args.ssh_config.clone(),
                timeout: Duration::from_secs(args.host_timeout.max(1)),
            },
            remote_root: args.remote_root.clone(),
            upload: std::env::current_exe().ok(),
            global: global.clone(),
            argv: std::env::args().collect(),
            args,
        })
    }

    /// The single-host command line (fleet options removed).
    pub fn local_argv(&self) -> Vec<String> {
        args::strip(&self.argv, &[])
    }

    /// The arguments for the remote passthru (no program name; `drop` removed too).
    pub fn remote_args(&self, drop: &[&str]) -> Vec<String> {
        args::strip(&self.argv, drop).into_iter().skip(1).collect()
    }

    /// At most this many hosts at once.
    pub fn concurrency(&self, default: usize) -> usize {
        self.args.concurrency.map_or(default, |c| c as usize)
    }

    /// Reads one host's facts and runs the single-host command over them here.
    fn read_one(&self, target: &Target) -> HostResult {
        let outcome = match far::fetch_host(
            &self.ssh,
            target,
            self.remote_root.as_deref(),
            self.upload.as_deref(),
        ) {
            Err(e) => failed(e),
            Ok(host) => self.reason(host),
        };
        HostResult {
            target: target.clone(),
            outcome,
            reboot: None,
        }
    }

    /// The single-host command over already-read facts, its output captured.
    pub fn reason(&self, host: passthru::Host) -> Outcome {
        let cli = match Cli::try_parse_from(self.local_argv()) {
            Ok(c) => c,
            Err(e) => {
                return Outcome::Done {
                    exit: report::EXIT_UNREACHABLE,
                    stdout: Vec::new(),
                    stderr: e.to_string(),
                }
            }
        };
        let mut g = self.global.clone();
        g.fleet = FleetArgs::default();
        let ctx = Ctx::with_host(g, host);
        let (r, cap) = capture(|| crate::commands::run(&ctx, cli.command));
        match r {
            Ok(code) => Outcome::Done {
                exit: exit_value(code),
                stdout: cap.stdout,
                stderr: cap.stderr,
            },
            Err(e) => Outcome::Done {
                exit: report::EXIT_UNREACHABLE,
                stdout: cap.stdout,
                stderr: format!("{}passthru: error: {e:#}\n", cap.stderr),
            },
        }
    }

    /// Runs the same passthru command on the far side and collects its output.
    pub fn remote_one(&self, target: &Target, args: &[String]) -> HostResult {
        let outcome = match far::run_rooted(
            &self.ssh,
            target,
            self.remote_root.as_deref(),
            args,
            self.upload.as_deref(),
        ) {
            Err(e) => failed(e),
            Ok(out) => Outcome::Done {
                exit: out
                    .status
                    .map_or(report::EXIT_UNREACHABLE, |c| c.clamp(0, 255) as u8),
                stdout: out.stdout,
                stderr: out.stderr,
            },
        };
        HostResult {
            target: target.clone(),
            outcome,
            reboot: None,
        }
    }

    /// Runs `job` on every host (at most `concurrency` at once) with progress.
    pub fn each(
        &self,
        concurrency: usize,
        max_fail: Option<usize>,
        what: &str,
        job: &(dyn Fn(&Target) -> HostResult + Sync),
    ) -> (Vec<HostResult>, usize) {
        let bar = progress::Progress::new(&self.targets, what, !self.global.json);
        let pool = passthru::remote::pool::Pool {
            concurrency,
            max_fail,
        };
        let slots = pool.run(
            &self.targets,
            |_, t| {
                let r = job(t);
                let f = r.failed();
                (r, f)
            },
            &bar,
        );
        bar.finish();
        let skipped = slots.iter().filter(|s| s.is_none()).count();
        (slots.into_iter().flatten().collect(), skipped)
    }
}

/// A host that could not be reached (or whose passthru could not run).
pub fn failed(e: RemoteError) -> Outcome {
    Outcome::Failed {
        failure: e.failure(),
        error: e.to_string(),
    }
}

/// The number inside an ExitCode (std keeps it opaque; the codes are 0..=255).
pub fn exit_value(code: ExitCode) -> u8 {
    (0..=255u8)
        .find(|n| ExitCode::from(*n) == code)
        .unwrap_or(report::EXIT_UNREACHABLE)
}

/// How a command runs on a fleet.
enum Kind {
    /// Facts read remotely once, reasoned about here.
    Read,
    /// The remote passthru runs it (live remote state).
    Remote,
    /// Changes: every plan first, then host by host with --yes.
    Change,
    /// Not a fleet command.
    Local(&'static str),
}

fn kind(cmd: &Command) -> Kind {
    match cmd {
        Command::Verify(_) => Kind::Remote,
        Command::Vfs(_)
        | Command::Bind(_)
        | Command::KernelArgs(_)
        | Command::Apply(_)
        | Command::Undo(_) => Kind::Change,
        Command::Completions(_) => Kind::Local("completions"),
        Command::Man(_) => Kind::Local("man"),
        Command::Fleet(_) => Kind::Local("fleet"),
        Command::Watch(_) => Kind::Local("watch"),
        _ => Kind::Read,
    }
}

/// Whether this command line is a fleet run.
pub fn active(global: &GlobalArgs, cmd: &Command) -> bool {
    // report reads every host itself and writes one page for the fleet.
    global.fleet.active()
        && !matches!(
            cmd,
            Command::Fleet(_) | Command::Watch(_) | Command::Report(_)
        )
}

/// Runs a command on every host.
pub fn run(global: &GlobalArgs, cmd: Command) -> Result<ExitCode> {
    let fleet = Fleet::new(global)?;
    let k = kind(&cmd);
    let reboot_ok = matches!(cmd, Command::KernelArgs(_) | Command::Apply(_));
    if fleet.args.reboot && !reboot_ok {
        bail!("--reboot goes with `kernel-args ... --yes` or `apply ... --yes` (the changes that need a reboot)");
    }
    let (results, skipped) = match k {
        Kind::Local(name) => bail!("`passthru {name}` runs here, not on --host targets"),
        Kind::Read => fleet.each(fleet.concurrency(16), None, "reading", &|t| {
            fleet.read_one(t)
        }),
        Kind::Remote => {
            let a = fleet.remote_args(&[]);
            fleet.each(fleet.concurrency(16), None, "running", &|t| {
                fleet.remote_one(t, &a)
            })
        }
        Kind::Change => return change::run(&fleet, &cmd),
    };
    finish(&fleet, &cmd, &results, skipped)
}

/// Prints the results (merged table, sections, or JSON) and the summary line.
pub fn finish(
    fleet: &Fleet,
    cmd: &Command,
    results: &[HostResult],
    skipped: usize,
) -> Result<ExitCode> {
    let summary = Summary::of(results, skipped);
    if fleet.global.json {
        print_json(&report::json(results, &summary))?;
    } else {
        let body = if matches!(cmd, Command::Ls(_)) {
            report::merged_table(results)
        } else {
            report::sections(results)
        };
        emit(&format!("{body}{}\n", summary.line()))?;
    }
    Ok(ExitCode::from(report::worst(results)))
}
