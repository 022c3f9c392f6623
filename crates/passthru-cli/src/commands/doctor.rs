//! `passthru doctor [DEV...]`: host readiness for passthrough, in virt-host-validate's
//! `Checking ... : PASS/WARN/FAIL` shape, grouped host / devices / configuration, each
//! non-pass line followed by why it matters and the fix. Exit 0 all pass, 1 warnings,
//! 2 failures.

use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::Result;
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

#[derive(Serialize)]
struct DoctorJson<'a> {
    selection: checks::Selection,
    devices: Vec<String>,
    findings: &'a [Finding],
    summary: Option<&'a str>,
    counts: Counts,
}

/// Number of findings per severity.
#[derive(Serialize, Default, Debug, PartialEq, Eq)]
pub struct Counts {
    pass: usize,
    info: usize,
    warn: usize,
    fail: usize,
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
        print_json(&DoctorJson {
            selection: report.selection,
            devices: report.devices.iter().map(|a| a.to_string()).collect(),
            findings: &report.findings,
            summary: report.summary.as_deref(),
            counts: counts(&report.findings),
        })?;
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
        f.severity.word(),
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

/// The text report.
pub fn render(host: &Host, r: &Report, quiet: bool) -> String {
    let shown: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| !quiet || f.severity != Severity::Pass)
        .collect();
    let width = shown
        .iter()
        .map(|f| label(f).chars().count())
        .max()
        .unwrap_or(0)
        .min(64);
    let mut s = String::new();
    let section = |sec: Section| shown.iter().filter(move |f| f.section == sec);
    if section(Section::Host).next().is_some() {
        let _ = writeln!(s, "Host");
        for f in section(Section::Host) {
            write_finding(&mut s, f, width, "  ");
        }
    }
    let any_device_line = r
        .devices
        .iter()
        .any(|a| section(Section::Devices).any(|f| f.device == Some(*a)));
    if !r.devices.is_empty() && (!quiet || any_device_line) {
        let _ = writeln!(s, "Devices ({})", r.selection.describe());
        for a in &r.devices {
            let fs: Vec<&&Finding> = section(Section::Devices)
                .filter(|f| f.device == Some(*a))
                .collect();
            if quiet && fs.is_empty() {
                continue;
            }
            if let Some(d) = host.device(a) {
                let _ = writeln!(s, "  {}", checks::describe(d));
            }
            for f in fs {
                write_finding(&mut s, f, width, "  ");
            }
        }
    }
    // Device findings about devices that are not targets (a target VF's PF, a PF whose
    // VFs are requested).
    let others: Vec<&&Finding> = section(Section::Devices)
        .filter(|f| f.device.is_none_or(|d| !r.devices.contains(&d)))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(s, "Related devices");
        for f in others {
            write_finding(&mut s, f, width, "  ");
        }
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
    if section(Section::Owners).next().is_some() {
        let _ = writeln!(
            s,
            "Other owners (what else sets VF counts and drivers at boot)"
        );
        for f in section(Section::Owners) {
            write_finding(&mut s, f, width, "  ");
        }
    }
    let c = counts(&r.findings);
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        s,
        "Summary: {} passed, {} info, {}, {}",
        c.pass,
        c.info,
        plural(c.warn, "warning"),
        plural(c.fail, "failure")
    );
    s
}
