//! `passthru fleet diff`: the odd hosts out across a fleet.

use crate::cli::GlobalArgs;
use crate::fleet::report::{HostResult, Outcome, Summary};
use crate::fleet::{failed, Fleet};
use crate::output::{emit, print_json};
use anyhow::{bail, Result};
use passthru::fleet::{diff, Difference};
use passthru::remote::far;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Fleet commands.
#[derive(clap::Subcommand, Debug)]
pub enum FleetCommand {
    /// The odd hosts out: for each fact that should agree on compute nodes of one
    /// kind (CPU vendor, IOMMU state, kernel IOMMU arguments, VF count per PF model,
    /// VF driver, devices on vfio-pci, vfio modules, nova device_spec/alias, qemu
    /// cgroup ACL), the hosts that differ from the majority. Exit 1 when any does.
    #[command(
        after_help = "Examples:\n  passthru --hosts inventory.ini --limit compute fleet diff\n  passthru fleet diff node1.json node2.json node3.json   (snapshot files)"
    )]
    Diff(DiffArgs),
}

/// Arguments of `passthru fleet diff`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// Snapshot files (`passthru snapshot -o FILE`) to compare, with or instead of
    /// --host / --hosts.
    #[arg(value_name = "SNAPSHOT")]
    pub snapshots: Vec<PathBuf>,
}

/// Runs a fleet command.
pub fn run(global: &GlobalArgs, cmd: FleetCommand) -> Result<ExitCode> {
    match cmd {
        FleetCommand::Diff(a) => run_diff(global, a),
    }
}

#[derive(Serialize)]
struct DiffJson<'a> {
    differences: &'a [Difference],
    hosts: serde_json::Value,
    summary: &'a Summary,
}

/// Hosts with the names they were given.
pub type NamedHosts = Vec<(String, passthru::Host)>;

/// The facts of every --host / --hosts target, read there once (a snapshot) over
/// SSH, in parallel: the hosts read, and every target's outcome (the unreachable
/// ones `Failed`). Empty when no target is given. `fleet diff` and `report` read a
/// fleet here.
pub fn read_fleet(global: &GlobalArgs) -> Result<(NamedHosts, Vec<HostResult>)> {
    let mut facts = Vec::new();
    if !global.fleet.active() {
        return Ok((facts, Vec::new()));
    }
    let fleet = Fleet::new(global)?;
    let (rs, _) = fleet.each(fleet.concurrency(16), None, "reading", &|t| {
        let outcome = match far::fetch_host(
            &fleet.ssh,
            t,
            fleet.remote_root.as_deref(),
            fleet.upload.as_deref(),
        ) {
            Ok(h) => {
                let text = passthru::host::sources::snapshot::to_json(&h);
                Outcome::Done {
                    exit: 0,
                    stdout: text.into_bytes(),
                    stderr: String::new(),
                }
            }
            Err(e) => failed(e),
        };
        HostResult {
            target: t.clone(),
            outcome,
            reboot: None,
        }
    });
    for r in &rs {
        if let Outcome::Done { stdout, .. } = &r.outcome {
            let h = passthru::host::sources::snapshot::from_json(
                &String::from_utf8_lossy(stdout),
                std::path::Path::new(&r.target.name),
            )?;
            facts.push((r.target.name.clone(), h));
        }
    }
    Ok((facts, rs))
}

fn run_diff(global: &GlobalArgs, args: DiffArgs) -> Result<ExitCode> {
    let mut facts: Vec<(String, passthru::Host)> = Vec::new();
    for p in &args.snapshots {
        facts.push((
            p.display().to_string(),
            passthru::host::sources::read_snapshot(p)?,
        ));
    }
    let (read, results) = read_fleet(global)?;
    facts.extend(read);
    if facts.len() + results.len() < 2 {
        bail!("fleet diff compares hosts: give at least two (--host, --hosts or snapshot files)");
    }
    let diffs = diff(&facts);
    // The hosts read from files count as passes of the run.
    let summary = {
        let mut s = Summary::of(&results, 0);
        s.hosts += args.snapshots.len();
        s.pass += args.snapshots.len();
        s
    };
    let unreachable = results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed { .. }));
    if global.json {
        let mut hosts = serde_json::Map::new();
        for (name, _) in &facts {
            hosts.insert(name.clone(), serde_json::json!({"ok": true}));
        }
        for r in &results {
            if let Outcome::Failed { failure, error } = &r.outcome {
                hosts.insert(
                    r.target.name.clone(),
                    serde_json::json!({"ok": false, "failure": failure, "error": error}),
                );
            }
        }
        print_json(&DiffJson {
            differences: &diffs,
            hosts: serde_json::Value::Object(hosts),
            summary: &summary,
        })?;
    } else {
        emit(&render(&diffs, &results, facts.len(), &summary))?;
    }
    let code = if unreachable {
        3
    } else if diffs.is_empty() {
        0
    } else {
        1
    };
    Ok(ExitCode::from(code))
}

/// The text report: each differing fact, its odd hosts and the majority.
pub fn render(
    diffs: &[Difference],
    results: &[HostResult],
    read: usize,
    summary: &Summary,
) -> String {
    let mut s = String::new();
    if diffs.is_empty() {
        let _ = writeln!(s, "All {read} hosts agree on every fact compared.");
    }
    for d in diffs {
        let _ = writeln!(s, "{} ({})", d.fact, d.label);
        for o in &d.odd {
            let _ = writeln!(s, "  {:<20} {}", o.host, o.value);
        }
        let _ = writeln!(
            s,
            "  majority: {} on {} host{} ({})",
            d.majority,
            d.majority_hosts.len(),
            if d.majority_hosts.len() == 1 { "" } else { "s" },
            d.majority_hosts.join(", ")
        );
    }
    for r in results {
        if let Outcome::Failed { error, .. } = &r.outcome {
            let _ = writeln!(s, "not compared: {error}");
        }
    }
    let _ = writeln!(
        s,
        "{}; {} fact{} differ",
        summary.line(),
        diffs.len(),
        if diffs.len() == 1 { "" } else { "s" }
    );
    s
}
