//! `passthru report --html FILE`: one self-contained page for a host (or several) to
//! hand over in a ticket or a change review. The page is the library's
//! (`passthru::render::report`); this file gathers what the other commands decide —
//! doctor's findings, `nova check` with the host's nova.conf, `verify` over the
//! libvirt guests whose XML is readable — and writes the page.

use super::topo::write_output;
use crate::context::Ctx;
use crate::fleet::report::Outcome;
use anyhow::Result;
use passthru::checks::{self, Context, Severity};
use passthru::fleet::diff;
use passthru::host::model::SourceKind;
use passthru::host::sources;
use passthru::libvirt::verify::{verify_domains, VerifyOptions, VerifyReport};
use passthru::nova::check::{check, CheckInput, Report as NovaReport};
use passthru::nova::conf::NovaConf;
use passthru::render::report::{render, HostSection};
use passthru::Host;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `passthru report`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The page holds: a host summary, the topology (as `passthru topo`), doctor's findings
with their fixes, the IOMMU groups, `nova check` when the host has a nova.conf, `verify`
of the libvirt guests whose XML is readable under the root, and a device table you can
filter and sort. It loads nothing from the network and prints on paper whole.

Several hosts on one page: --host (many times) or --hosts FILE reads each over SSH, or
give snapshot files (`passthru snapshot -o FILE` on each host); the page starts with a
host table with verdicts and the odd ones out (as `passthru fleet diff`), then a
section per host.

Examples:
  passthru report --html host.html
  passthru --snapshot rhos-10.json report --html rhos-10.html
  passthru report --html fleet.html node1.json node2.json node3.json
  passthru --host root@node1 --host root@node2 report --html fleet.html

Exit codes: as doctor's (0 all pass, 1 warnings, 2 failures), for the worst host; 3 when
a host could not be read (the page still lists it).")]
pub struct Args {
    /// Write the page to this file (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub html: PathBuf,
    /// Snapshot files of hosts (one section each), with or instead of --host / --hosts;
    /// without any, the host that --root / --snapshot / --lspci name (default: this one).
    #[arg(value_name = "SNAPSHOT")]
    pub snapshots: Vec<PathBuf>,
}

/// One host's reports, owned, before they are borrowed into the page.
struct Gathered {
    target: String,
    host: Host,
    doctor: checks::Report,
    nova: Option<NovaReport>,
    guests: Option<VerifyReport>,
    guests_note: Option<String>,
}

/// Runs `passthru report`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    if ctx.json() {
        anyhow::bail!("report writes an HTML page; for JSON use `doctor --json`, `topo --json`, `nova check --json` and `verify --json`");
    }
    let mut all = Vec::new();
    for p in &args.snapshots {
        let host = sources::read_snapshot(p)?;
        all.push(gather(p.display().to_string(), host, None)?);
    }
    // --host / --hosts: every target's facts, read there once.
    let (read, results) = super::fleet::read_fleet(&ctx.global)?;
    let unreachable: Vec<(String, String)> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed { error, .. } => Some((r.target.name.clone(), error.clone())),
            Outcome::Done { .. } => None,
        })
        .collect();
    for (name, host) in read {
        all.push(gather(name, host, None)?);
    }
    if all.is_empty() && results.is_empty() {
        let host = ctx.checks_host()?.clone();
        let root = (host.source.kind == SourceKind::Root).then(|| ctx.root());
        let target = describe_source(ctx);
        all.push(gather(target, host, root.as_deref())?);
    }
    let sections: Vec<HostSection> = all
        .iter()
        .map(|g| HostSection {
            target: g.target.clone(),
            host: &g.host,
            doctor: &g.doctor,
            nova: g.nova.as_ref(),
            guests: g.guests.as_ref(),
            guests_note: g.guests_note.clone(),
        })
        .collect();
    // The fleet diff's odd ones out, from the same library function `fleet diff` calls.
    let odd = if all.len() > 1 {
        let facts: Vec<(String, Host)> = all
            .iter()
            .map(|g| (g.target.clone(), g.host.clone()))
            .collect();
        diff(&facts)
    } else {
        Vec::new()
    };
    let page = render(&sections, &odd, &unreachable);
    let out = (args.html.as_os_str() != "-").then_some(&args.html);
    write_output(out, &page, "report")?;
    if !unreachable.is_empty() {
        return Ok(ExitCode::from(3));
    }
    let worst = all
        .iter()
        .map(|g| g.doctor.worst())
        .max()
        .unwrap_or(Severity::Pass);
    Ok(ExitCode::from(worst.exit_code()))
}

fn describe_source(ctx: &Ctx) -> String {
    let g = &ctx.global;
    if let Some(p) = g.snapshot.as_ref().or(g.lspci.as_ref()) {
        return p.display().to_string();
    }
    ctx.root().display().to_string()
}

/// Runs doctor, nova check and verify over one host, each through its own library
/// entry point (the same calls `doctor`, `nova check` and `verify` make).
fn gather(target: String, host: Host, root: Option<&Path>) -> Result<Gathered> {
    let doctor = checks::run(&Context::doctor(&host, Vec::new()));
    // The nova.conf among the host's facts, read by the same rules as `nova check`.
    let nova = match &host.system.nova {
        Some(facts) => Some(check(&CheckInput {
            host: &host,
            conf: &NovaConf::from_facts(facts)?,
            flavors: &[],
        })),
        None => None,
    };
    let (guests, guests_note) = verify_guests(&host, root);
    Ok(Gathered {
        target,
        host,
        doctor,
        nova,
        guests,
        guests_note,
    })
}

/// `verify` over every libvirt domain whose XML is readable under the root. A snapshot
/// carries which devices each domain holds (doctor uses that), not the XML verify reads.
fn verify_guests(host: &Host, root: Option<&Path>) -> (Option<VerifyReport>, Option<String>) {
    let Some(domains) = &host.system.libvirt_domains else {
        return (
            None,
            Some("no libvirt domain configuration was found on this host".into()),
        );
    };
    let Some(root) = root else {
        return (
            None,
            Some(format!(
                "this source holds which devices its {} libvirt domain(s) are given (see doctor's device.assigned-twice), not their XML; run the report on the host to verify them",
                domains.len()
            )),
        );
    };
    let mut doms = Vec::new();
    let mut unread = Vec::new();
    for d in domains {
        match sources::libvirt::read_domain_file(&root.join(&d.file)) {
            Ok(x) => doms.push(x),
            Err(e) => unread.push(e.to_string()),
        }
    }
    if doms.is_empty() {
        let why = if unread.is_empty() {
            "libvirt has no domain on this host".to_string()
        } else {
            format!("no domain XML could be read: {}", unread.join("; "))
        };
        return (None, Some(why));
    }
    let note = (!unread.is_empty()).then(|| format!("not verified: {}", unread.join("; ")));
    (
        Some(verify_domains(host, &doms, &VerifyOptions::default())),
        note,
    )
}
