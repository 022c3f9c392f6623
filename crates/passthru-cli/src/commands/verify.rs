//! `passthru verify GUEST...`: a libvirt guest really got its PCI devices.

use super::doctor;
use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::{bail, Context as _, Result};
use passthru::host::sources::libvirt as guests;
use passthru::libvirt::verify::{
    verify_domains, AliasSpec, Expectation, Finding, Severity, VerifyOptions, VerifyReport,
};
use passthru::libvirt::{AssignmentKind, Domain};
use passthru::nova::alias::parse_aliases;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `passthru verify`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "GUEST is a domain XML file (virsh dumpxml output), `-` for standard input, or a\ndomain name or id, read with `virsh --connect URI dumpxml NAME`.\n\nExamples:\n  passthru verify instance-00000001 --expect igbnic:1 --alias igbnic=8086:1520\n  passthru verify instance-00000001 --expect igbnic:1 --nova-conf /etc/nova/nova.conf\n  passthru verify --all --connect qemu:///system\n  virsh dumpxml 2 | passthru verify -\n  passthru --snapshot host.json verify guest.xml --json\n\nExit codes: 0 every check passed, 1 warnings, 2 failures, 3 usage or runtime error."
)]
pub struct Args {
    /// Domain XML file(s), `-` for standard input, or domain name(s) or ids.
    #[arg(value_name = "GUEST", required_unless_present = "all")]
    pub guests: Vec<String>,
    /// libvirt connection URI, as virsh takes it (qemu:///system, qemu+ssh://host/system,
    /// test:///abs/node.xml). Default: virsh's own (LIBVIRT_DEFAULT_URI, else
    /// qemu:///system as root).
    #[arg(long, short = 'c', value_name = "URI")]
    pub connect: Option<String>,
    /// Every domain of the connection (`virsh list --all`), and no device or IOMMU group
    /// given to two guests.
    #[arg(long)]
    pub all: bool,
    /// The guest must hold exactly COUNT devices of ALIAS, as a flavor's
    /// pci_passthrough:alias asks (repeatable; `a1:2,a2:1` also works).
    #[arg(long, value_name = "ALIAS:COUNT")]
    pub expect: Vec<String>,
    /// Define an alias (repeatable): `NAME=VENDOR:PRODUCT`, or a nova.conf [pci] alias
    /// line in nova's JSON (`{"name": "igbnic", "vendor_id": "8086", "product_id":
    /// "1520", "device_type": "type-VF"}`), read by nova's rules.
    #[arg(long, value_name = "NAME=VENDOR:PRODUCT|JSON")]
    pub alias: Vec<String>,
    /// nova.conf whose [pci] alias lines define the aliases (repeatable, in nova's
    /// --config-file order). Default with --expect and no alias given:
    /// etc/nova/nova.conf under --root, when it exists.
    #[arg(long = "nova-conf", value_name = "FILE")]
    pub nova_conf: Vec<PathBuf>,
    /// Print only findings that are not PASS (like doctor -q).
    #[arg(short, long)]
    pub quiet: bool,
}

/// The aliases `--expect` refers to: `NAME=VENDOR:PRODUCT` pairs, plus nova's own
/// reading of JSON alias lines and of nova.conf's `[pci] alias`.
fn aliases(ctx: &Ctx, args: &Args) -> Result<Vec<AliasSpec>> {
    let mut out = Vec::new();
    let mut json_lines = Vec::new();
    for a in &args.alias {
        if a.trim_start().starts_with('{') {
            json_lines.push(a.clone());
        } else {
            out.push(AliasSpec::parse(a).map_err(anyhow::Error::msg)?);
        }
    }
    let files = &args.nova_conf;
    // Without --nova-conf: the host's nova.conf (among its facts), read by nova::conf.
    let conf = if !files.is_empty() {
        Some(super::nova::conf_from(files)?)
    } else if args.alias.is_empty() && !args.expect.is_empty() {
        ctx.host()?
            .system
            .nova
            .as_ref()
            .map(passthru::nova::conf::NovaConf::from_facts)
            .transpose()?
    } else {
        None
    };
    let mut values: Vec<String> = Vec::new();
    let mut pci_in_placement = false;
    if let Some(conf) = conf {
        values.extend(conf.alias.iter().map(|v| v.value.clone()));
        pci_in_placement = conf.pci_in_placement;
    }
    values.extend(json_lines);
    if !values.is_empty() {
        let parsed = parse_aliases(&values, pci_in_placement).map_err(|e| {
            let which = e
                .index
                .and_then(|i| values.get(i))
                .map(|v| format!(" in alias {v}"))
                .unwrap_or_default();
            anyhow::anyhow!("nova would refuse the aliases{which}: {}", e.error)
        })?;
        out.extend(AliasSpec::from_nova(&parsed));
    }
    Ok(out)
}

/// Reads the guests named on the command line (files or domain names) and, with
/// `--all`, every domain of the connection.
fn load_guests(args: &Args) -> Result<Vec<Domain>> {
    let uri = args.connect.as_deref();
    let mut out = Vec::new();
    if args.all {
        out.extend(guests::all_domains(uri)?);
    }
    for g in &args.guests {
        let p = Path::new(g);
        if g == "-" {
            out.push(guests::read_domain_from(
                std::io::stdin().lock(),
                "<stdin>",
            )?);
        } else if p.is_file() {
            out.push(guests::read_domain_file(p)?);
        } else if g.ends_with(".xml") || g.contains('/') {
            bail!("{g}: no such file (GUEST is a domain XML file or a domain name)");
        } else if !out.iter().any(|d: &Domain| d.name == *g) {
            out.push(guests::dumpxml(uri, g)?);
        }
    }
    Ok(out)
}

/// Runs `passthru verify`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let mut opts = VerifyOptions::default();
    for e in &args.expect {
        opts.expect
            .extend(Expectation::parse_list(e).map_err(anyhow::Error::msg)?);
    }
    opts.aliases = aliases(ctx, &args)?;
    let doms = load_guests(&args)?;
    if doms.is_empty() {
        bail!(
            "no guest to verify: the connection{} has no domain",
            args.connect
                .as_deref()
                .map(|u| format!(" {u}"))
                .unwrap_or_default()
        );
    }
    let host = ctx.host().context("reading the host the guests run on")?;
    let report = verify_domains(host, &doms, &opts);
    if ctx.json() {
        print_json(&report)?;
    } else {
        emit(&text(&report, args.quiet))?;
    }
    Ok(ExitCode::from(report.verdict.exit_code()))
}

/// The readable report in doctor's shape: per guest, a header, its devices and one
/// `Checking ... : PASS/WARN/FAIL (message)` line per finding, with why and fix under
/// anything not PASS; then conflicts across guests, the counts and the verdict.
fn text(r: &VerifyReport, quiet: bool) -> String {
    let shown = |f: &&Finding| !quiet || f.severity != Severity::Pass;
    let width = r
        .findings()
        .filter(shown)
        .map(|f| doctor::label(f).chars().count())
        .max()
        .unwrap_or(0)
        .min(64);
    let mut s = String::new();
    for g in &r.guests {
        let mut head = format!("Guest {}", g.name);
        if let Some(n) = &g.nova_name {
            let _ = write!(head, " (nova {n}");
            if let Some(f) = &g.flavor {
                let _ = write!(head, ", flavor {f}");
            }
            head.push(')');
        }
        let _ = writeln!(
            s,
            "{head}: {}, vCPUs on host CPUs {}",
            if g.running { "running" } else { "shut off" },
            g.vcpu_cpus
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "any (not pinned)".into())
        );
        for d in &g.devices {
            let _ = writeln!(
                s,
                "  {} <{} managed='{}'>: {}",
                d.address,
                match d.kind {
                    AssignmentKind::Hostdev => "hostdev",
                    AssignmentKind::Interface => "interface type='hostdev'",
                },
                if d.managed { "yes" } else { "no" },
                d.description.as_deref().unwrap_or("not on this host")
            );
        }
        for f in g.findings.iter().filter(shown) {
            doctor::write_finding(&mut s, f, width, "  ");
        }
    }
    if r.conflicts.iter().any(|f| shown(&f)) {
        let _ = writeln!(s, "Across guests");
        for f in r.conflicts.iter().filter(shown) {
            doctor::write_finding(&mut s, f, width, "  ");
        }
    }
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        s,
        "Summary: {} passed, {} info, {}, {}",
        r.summary.pass,
        r.summary.info,
        plural(r.summary.warn, "warning"),
        plural(r.summary.fail, "failure")
    );
    let _ = writeln!(
        s,
        "Verdict: {}",
        crate::output::paint(r.verdict, r.verdict.word())
    );
    s
}
