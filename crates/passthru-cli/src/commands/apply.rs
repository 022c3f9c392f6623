//! `passthru apply FILE`: converge the host to a host file (docs/host-file.md).

use crate::change::{change_facts, change_root, refused, ssh_connection, Change, ChangeArgs};
use crate::context::Ctx;
use anyhow::{Context as _, Result};
use passthru::change::apply::{plan_apply, ApplyOptions};
use passthru::change::hostfile;
use passthru::change::hostfile::Desired;
use passthru::change::persist::{DEFAULT_BINARY, HOST_FILE};
use passthru::change::plan::Plan;
use passthru::change::ChangeError;
use passthru::host::change_facts::ChangeFacts;
use passthru::Host;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `passthru apply`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The host file (TOML, docs/host-file.md) gives kernel arguments, VF counts per PF,
vfio-pci bindings, modprobe.d options and the initramfs. apply writes files first,
then VF counts and bindings, then runs the boot tools; a failure rolls everything
back. With persistence on (the default) it installs the file as
/etc/passthru/host.toml and passthru.service, which runs `passthru apply --boot` at
every boot before the network, libvirtd and nova-compute.

Examples:
  passthru apply host.toml            show the plan
  passthru apply host.toml -y         do it
  passthru apply --boot -y            runtime state from /etc/passthru/host.toml")]
pub struct Args {
    /// The host file (default with --boot: etc/passthru/host.toml under the root).
    #[arg(value_name = "FILE", required_unless_present = "boot")]
    pub file: Option<PathBuf>,
    /// Runtime state only (VF counts and bindings): what the boot unit runs.
    #[arg(long)]
    pub boot: bool,
    /// The passthru binary the boot unit runs (default: [persist] binary, or /usr/bin/passthru).
    #[arg(long, value_name = "PATH")]
    pub binary: Option<String>,
    /// Common change options.
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// A planned `apply`: the first round's plan, and what later rounds need (binding
/// the VFs the first round creates).
pub struct Planned {
    /// The first round.
    pub plan: Plan,
    desired: Desired,
    later: ApplyOptions,
    ssh: Option<String>,
}

impl Planned {
    /// Plans a later round from fresh facts.
    pub fn replan(&self, h: &Host, f: &ChangeFacts) -> Result<Plan, ChangeError> {
        plan_apply(h, f, &self.desired, &self.later, self.ssh.as_deref())
    }
}

/// Plans converging the root to `desired` (what `passthru apply` and the
/// `passthru_apply` module both run); `Err(ChangeError)` inside is a refusal.
pub fn plan(
    ctx: &Ctx,
    root: &Path,
    desired: Desired,
    boot: bool,
    binary: Option<String>,
    change: &ChangeArgs,
) -> Result<Result<Planned, ChangeError>> {
    let host = ctx.host()?;
    let facts = change_facts(root)?;
    let ssh = ssh_connection();
    let opts = ApplyOptions {
        boot,
        runtime_only: false,
        force: change.force,
        timeout_secs: change.timeout,
        binary: binary
            .or_else(|| desired.file.persist.as_ref().and_then(|p| p.binary.clone()))
            .unwrap_or_else(|| DEFAULT_BINARY.to_string()),
    };
    let mut plan = match plan_apply(host, &facts, &desired, &opts, ssh.as_deref()) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    // The boot unit runs this path at every boot: a binary that is not there (passthru
    // run from a build directory) would leave the host without its VFs after a reboot.
    if !boot && desired.persist() {
        let bin = root.join(opts.binary.trim_start_matches('/'));
        let runnable = std::fs::metadata(&bin)
            .map(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
            .unwrap_or(false);
        if !runnable {
            plan.warnings.push(format!(
                "the boot unit runs {}, which {} does not have (or cannot execute): install passthru there, or give its path with --binary (or [persist] binary)",
                opts.binary,
                if root == Path::new("/") { "this host".to_string() } else { root.display().to_string() }
            ));
        }
    }
    // Later rounds only bind the VFs the first one created.
    let later = ApplyOptions {
        runtime_only: true,
        ..opts
    };
    Ok(Ok(Planned {
        plan,
        desired,
        later,
        ssh,
    }))
}

/// Runs `passthru apply`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let root = change_root(ctx, "apply")?;
    let file = args.file.clone().unwrap_or_else(|| root.join(HOST_FILE));
    let bytes = std::fs::read(&file)
        .with_context(|| format!("cannot read the host file {}", file.display()))?;
    let desired = hostfile::parse(&bytes, &file)?;
    let mut planned = match plan(
        ctx,
        &root,
        desired,
        args.boot,
        args.binary.clone(),
        &args.change,
    )? {
        Ok(p) => p,
        Err(e) => return refused(ctx, "apply", e),
    };
    let first = std::mem::take(&mut planned.plan);
    Change {
        name: "apply",
        root,
        args: &args.change,
        undoes: None,
    }
    .run(ctx, first, &mut |h, f| planned.replan(h, f), &|_| {
        Vec::new()
    })
}
