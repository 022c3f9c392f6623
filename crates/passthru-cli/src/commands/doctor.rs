//! `passthru doctor [DEV...]`: host readiness for passthrough, in virt-host-validate's
//! `Checking ... : PASS/WARN/FAIL` shape, grouped host / devices / configuration, each
//! non-pass line followed by why it matters and the fix. Exit 0 all pass, 1 warnings,
//! 2 failures.

use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::Result;
use passthru::checks::digest::{self, Entry};
use passthru::checks::{self, Context, Finding, Report, Section, Severity};
use passthru::host::resolve_all;
use passthru::Host;
use serde::Serialize;
use std::fmt::Write as _;
use std::process::ExitCode;

/// Arguments of `passthru doctor`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Devices meant for passthrough (address, pci_DDDD_BB_SS_F, netdev or
    /// vendor:device). Without any: devices matched by nova.conf device_spec, else
    /// those on vfio-pci or with a driver_override, else host checks and a summary.
    #[arg(value_name = "DEV")]
    pub devices: Vec<String>,
    /// Print only findings that are not PASS (like virt-host-validate -q).
    #[arg(short, long)]
    pub quiet: bool,
}

/// `doctor --json` (and the `passthru_doctor` module's result).
#[derive(Serialize)]
pub struct DoctorJson<'a> {
    selection: checks::Selection,
    devices: Vec<String>,
    findings: &'a [Finding],
    summary: Option<&'a str>,
    /// Findings per severity.
    pub counts: Counts,
}

impl<'a> DoctorJson<'a> {
    /// The JSON shape of a report.
    pub fn of(report: &'a Report) -> Self {
        DoctorJson {
            selection: report.selection,
            devices: report.devices.iter().map(|a| a.to_string()).collect(),
            findings: &report.findings,
            summary: report.summary.as_deref(),
            counts: counts(&report.findings),
        }
    }
}

/// Number of findings per severity.
#[derive(Serialize, Default, Debug, PartialEq, Eq)]
pub struct Counts {
    /// PASS findings.
    pub pass: usize,
    /// INFO findings.
    pub info: usize,
    /// WARN findings.
    pub warn: usize,
    /// FAIL findings.
    pub fail: usize,
}

fn counts(fs: &[Finding]) -> Counts {
    let mut c = Counts::default();
    for f in fs {
        match f.severity {
            Severity::Pass => c.pass += 1,
            Severity::Info => c.info += 1,
            Severity::Warn => c.warn += 1,
            Severity::Fail => c.fail += 1,
        }
    }
    c
}

/// Runs `passthru doctor`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let host = ctx.checks_host()?;
    let named = resolve_all(host, &args.devices)?;
    let cctx = Context::doctor(host, named);
    let report = checks::run(&cctx);
    if ctx.json() {
        print_json(&DoctorJson::of(&report))?;
    } else {
        emit(&render(host, &report, args.quiet))?;
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// The `Checking ...` label of a finding (device findings name their device).
pub fn label(f: &Finding) -> String {
    match f.device {
        Some(d) if matches!(f.section, Section::Devices | Section::Owners) => {
            format!("Checking {d} {}", f.check)
        }
        _ => format!("Checking {}", f.check),
    }
}

/// Writes one finding: the result line, then why and fix for anything not PASS.
pub fn write_finding(s: &mut String, f: &Finding, width: usize, indent: &str) {
    let l = label(f);
    let _ = writeln!(
        s,
        "{indent}{l:<width$} : {} ({})",
        crate::output::paint(f.severity, f.severity.word()),
        f.message
    );
    if f.severity == Severity::Pass {
        return;
    }
    let pad = format!("{indent}    ");
    if let Some(w) = &f.why {
        let _ = writeln!(s, "{pad}why: {w}");
    }
    if let Some(fix) = &f.fix {
        let mut lines = fix.lines();
        if let Some(first) = lines.next() {
            let _ = writeln!(s, "{pad}fix: {first}");
        }
        for l in lines {
            let _ = writeln!(s, "{pad}     {l}");
        }
    }
}

/// How many address ranges a grouped finding names before "... N ranges in all".
const MAX_RANGES: usize = 3;

/// Writes digest entries: single findings as they are (under their device's line when
/// `headers`), a finding shared by many devices once under the count and ranges.
fn write_entries(s: &mut String, host: &Host, entries: &[Entry<'_>], width: usize, headers: bool) {
    let mut current = None;
    for e in entries {
        match e {
            Entry::One(f) => {
                if headers && f.device != current {
                    current = f.device;
                    if let Some(d) = f.device.and_then(|a| host.device(&a)) {
                        let _ = writeln!(s, "  {}", checks::describe(d));
                    }
                }
                write_finding(s, f, width, "  ");
            }
            Entry::Many(g) => {
                current = None;
                let _ = writeln!(s, "  {}:", g.describe(host, MAX_RANGES));
                write_finding(s, &g.finding, width, "  ");
                let f = &g.finding;
                let said = |t: &str| {
                    [Some(&f.message), f.why.as_ref(), f.fix.as_ref()]
                        .into_iter()
                        .flatten()
                        .any(|x| x.contains(t))
                };
                let mut legend = Vec::new();
                if said(digest::DEV) {
                    legend.push(format!("{} is each device's address", digest::DEV));
                }
                if said(digest::GROUP) {
                    legend.push(format!("{} its IOMMU group", digest::GROUP));
                }
                if said(digest::NETDEV) {
                    legend.push(format!("{} its network interface", digest::NETDEV));
                }
                if f.severity != Severity::Pass && !legend.is_empty() {
                    let _ = writeln!(s, "      ({}; --json lists each)", legend.join(", "));
                }
            }
        }
    }
}

/// The width of the `Checking ...` column over everything that will be printed.
fn label_width<'a>(fs: impl Iterator<Item = &'a Finding>) -> usize {
    fs.map(|f| label(f).chars().count())
        .max()
        .unwrap_or(0)
        .min(64)
}

/// The text report. Identical findings on many devices are said once with the count
/// and the address ranges ([`digest`]); `--json` keeps every finding.
pub fn render(host: &Host, r: &Report, quiet: bool) -> String {
    let shown: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| !quiet || f.severity != Severity::Pass)
        .collect();
    let section = |sec: Section| shown.iter().copied().filter(move |f| f.section == sec);
    // Target devices' findings in target order, then findings about other devices (a
    // target VF's PF, a PF whose VFs are requested).
    let mut targets: Vec<&Finding> = Vec::new();
    for a in &r.devices {
        targets.extend(section(Section::Devices).filter(|f| f.device == Some(*a)));
    }
    let others: Vec<&Finding> = section(Section::Devices)
        .filter(|f| f.device.is_none_or(|d| !r.devices.contains(&d)))
        .collect();
    let targets = digest::digest(host, &targets);
    let others = digest::digest(host, &others);
    // A module option or vfio-pci ids= reaches every VF of a kind: said once too.
    let owners = digest::digest(host, &section(Section::Owners).collect::<Vec<_>>());
    let entry_findings = |es: &'_ [Entry<'_>]| -> Vec<Finding> {
        es.iter()
            .map(|e| match e {
                Entry::One(f) => (*f).clone(),
                Entry::Many(g) => g.finding.clone(),
            })
            .collect()
    };
    let printed: Vec<Finding> = entry_findings(&targets)
        .into_iter()
        .chain(entry_findings(&others))
        .chain(entry_findings(&owners))
        .collect();
    let width = label_width(
        section(Section::Host)
            .chain(section(Section::Configuration))
            .chain(printed.iter()),
    );
    let mut s = String::new();
    if section(Section::Host).next().is_some() {
        let _ = writeln!(s, "Host");
        for f in section(Section::Host) {
            write_finding(&mut s, f, width, "  ");
        }
    }
    if !r.devices.is_empty() && (!quiet || !targets.is_empty()) {
        let _ = writeln!(s, "Devices ({})", r.selection.describe());
        if !quiet {
            // Devices with no finding at all still get their line.
            let with: std::collections::HashSet<_> =
                r.findings.iter().filter_map(|f| f.device).collect();
            for a in r.devices.iter().filter(|a| !with.contains(a)) {
                if let Some(d) = host.device(a) {
                    let _ = writeln!(s, "  {}", checks::describe(d));
                }
            }
        }
        write_entries(&mut s, host, &targets, width, true);
    }
    if !others.is_empty() {
        let _ = writeln!(s, "Related devices");
        write_entries(&mut s, host, &others, width, false);
    }
    // Nothing meant for passthrough: the overview stands where the devices would.
    if let Some(sum) = &r.summary {
        let _ = writeln!(s, "Devices\n  {sum}");
    }
    if section(Section::Configuration).next().is_some() {
        let _ = writeln!(s, "Configuration");
        for f in section(Section::Configuration) {
            write_finding(&mut s, f, width, "  ");
        }
    }
    if !owners.is_empty() {
        let _ = writeln!(
            s,
            "Other owners (what else sets VF counts and drivers at boot)"
        );
        write_entries(&mut s, host, &owners, width, false);
    }
    let _ = writeln!(s, "Summary: {}", summary_line(&counts(&r.findings)));
    s
}

/// `3 passed, 0 info, 1 warning, 0 failures`.
pub fn summary_line(c: &Counts) -> String {
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "{} passed, {} info, {}, {}",
        c.pass,
        c.info,
        plural(c.warn, "warning"),
        plural(c.fail, "failure")
    )
}
