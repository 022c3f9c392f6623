//! `passthru nova ...`: what nova will make of this host.

use crate::context::Ctx;
use crate::output::{emit, print_json, Outcome};
use anyhow::{Context as _, Result};
use passthru::nova::check::{check, CheckInput, Fatal, Report, Severity};
use passthru::nova::conf::{parse_ini, ConfValue, IniFile, Loc, NovaConf};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// nova subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum NovaCommand {
    /// Which devices nova will expose with the host's (or a given) nova.conf, the
    /// pools it reports, what each alias can take, whether flavors fit, and every
    /// configuration problem with nova's own message.
    Check(CheckArgs),
}

/// Arguments of `passthru nova check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// nova.conf to read (repeatable, in nova's --config-file order). Default:
    /// etc/nova/nova.conf under --root (or /).
    #[arg(long = "config", value_name = "FILE")]
    pub config: Vec<PathBuf>,
    /// A [pci] device_spec value (JSON), as if one more line in [pci] (repeatable).
    #[arg(long = "device-spec", value_name = "JSON")]
    pub device_spec: Vec<String>,
    /// A [pci] alias value (JSON), as if one more line in [pci] (repeatable).
    #[arg(long = "alias", value_name = "JSON")]
    pub alias: Vec<String>,
    /// A flavor's pci_passthrough:alias value to judge, e.g. 'a1:2,a2:1' (repeatable).
    #[arg(long = "flavor", value_name = "ALIAS:COUNT,...")]
    pub flavor: Vec<String>,
    /// Which VFs a neutron port with vnic_type direct on this physical network could
    /// get here, and why not the others.
    #[arg(long, value_name = "NAME")]
    pub physnet: Option<String>,
    /// Treat [pci] report_in_placement as true (whatever nova.conf says).
    #[arg(long)]
    pub report_in_placement: bool,
    /// Treat [filter_scheduler] pci_in_placement as true (whatever nova.conf says).
    #[arg(long)]
    pub pci_in_placement: bool,
}

/// Runs a nova subcommand.
pub fn run(ctx: &Ctx, cmd: NovaCommand) -> Result<ExitCode> {
    match cmd {
        NovaCommand::Check(a) => run_check(ctx, a),
    }
}

/// Reads nova.conf files (with errors naming the file) and parses them.
pub fn read_conf_files(paths: &[PathBuf]) -> Result<Vec<IniFile>> {
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read nova configuration {}", p.display()))?;
        out.push(parse_ini(&p.display().to_string(), &text)?);
    }
    Ok(out)
}

fn cli_value(value: &str, option: &str, n: usize) -> ConfValue {
    ConfValue {
        value: value.to_string(),
        raw: value.to_string(),
        option: option.to_string(),
        loc: Loc {
            file: "command line".into(),
            line: n + 1,
        },
    }
}

fn run_check(ctx: &Ctx, a: CheckArgs) -> Result<ExitCode> {
    let host = ctx.host()?;
    let files = a.config.clone();
    // Without --config: the nova.conf among the host's facts (the root's, a
    // snapshot's or a remote host's), read by the same nova::conf rules.
    let facts = if files.is_empty() {
        host.system.nova.as_ref()
    } else {
        None
    };
    if files.is_empty() && facts.is_none() && a.device_spec.is_empty() && a.alias.is_empty() {
        let where_ = ctx.root().join("etc/nova/nova.conf");
        anyhow::bail!(
            "no nova configuration: {} does not exist; pass --config FILE, or --device-spec JSON / --alias JSON",
            where_.display()
        );
    }
    let mut conf = match facts {
        Some(f) => NovaConf::from_facts(f)?,
        None => NovaConf::from_files(&read_conf_files(&files)?),
    };
    let shown: Vec<String> = match facts {
        Some(f) => vec![format!("/{}", f.path)],
        None => files.iter().map(|p| p.display().to_string()).collect(),
    };
    let n0 = conf.device_spec.len();
    for (i, v) in a.device_spec.iter().enumerate() {
        conf.device_spec.push(cli_value(v, "--device-spec", n0 + i));
    }
    let n0 = conf.alias.len();
    for (i, v) in a.alias.iter().enumerate() {
        conf.alias.push(cli_value(v, "--alias", n0 + i));
    }
    conf.report_in_placement |= a.report_in_placement;
    conf.pci_in_placement |= a.pci_in_placement;
    let report = check(&CheckInput {
        host,
        conf: &conf,
        flavors: &a.flavor,
    });
    let fatal = report.fatal();
    let outcome = match report.worst() {
        _ if !fatal.is_empty() => Outcome::Fail,
        Some(Severity::Error) => Outcome::Fail,
        Some(Severity::Warning) => Outcome::Warn,
        _ => Outcome::Ok,
    };
    let ports = a
        .physnet
        .as_deref()
        .map(|p| passthru::nova::ports::direct_ports(&report, p));
    if ctx.json() {
        print_json(&CheckJson {
            report: &report,
            fatal: &fatal,
            ports: ports.as_ref(),
        })?;
    } else {
        let mut text = human(&report, &fatal, &shown);
        if let Some(p) = &ports {
            let _ = writeln!(
                text,
                "\nvnic_type direct ports on physical network {}: {} VF(s) here",
                p.physnet,
                p.usable()
            );
            for v in &p.vfs {
                let _ = writeln!(
                    text,
                    "  {} {}: {}",
                    if v.usable { "yes" } else { "no " },
                    v.address,
                    v.reason
                );
            }
        }
        emit(&text)?;
    }
    Ok(match &ports {
        Some(p) if p.usable() == 0 => Outcome::Fail.into(),
        _ => outcome.into(),
    })
}

/// `nova check --json`: the report and what stops a nova service.
#[derive(serde::Serialize)]
struct CheckJson<'a> {
    #[serde(flatten)]
    report: &'a Report,
    fatal: &'a [Fatal],
    /// With --physnet: the VFs a direct port on it could get.
    #[serde(skip_serializing_if = "Option::is_none")]
    ports: Option<&'a passthru::nova::ports::DirectPorts>,
}

fn tags_text(tags: &[(String, passthru::nova::py::PyValue)]) -> String {
    tags.iter()
        .map(|(k, v)| format!("{k}={}", v.to_py_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn human(r: &Report, fatal: &[Fatal], names: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "nova configuration: {}",
        if names.is_empty() {
            "command line only".to_string()
        } else {
            names.join(", ")
        }
    );
    for (i, v) in r.device_spec.iter().enumerate() {
        let _ = writeln!(
            s,
            "  device_spec value {i} ({} at {}): {}",
            v.option, v.loc, v.value
        );
    }
    for (i, v) in r.alias.iter().enumerate() {
        let _ = writeln!(
            s,
            "  alias value {i} ({} at {}): {}",
            v.option, v.loc, v.value
        );
    }
    let _ = writeln!(
        s,
        "  report_in_placement={} pci_in_placement={} enabled_filters={}",
        r.report_in_placement,
        r.pci_in_placement,
        r.enabled_filters.join(",")
    );
    if !fatal.is_empty() {
        let _ = writeln!(s, "\nnova does NOT start with this configuration:");
        for f in fatal {
            let _ = writeln!(s, "  {f}");
        }
    }
    let exposed: Vec<_> = r
        .devices
        .iter()
        .filter(|d| d.spec_index.is_some())
        .collect();
    let _ = writeln!(
        s,
        "\nDevices nova {} ({} of {}):",
        if r.compute_starts {
            "exposes"
        } else {
            "would expose"
        },
        exposed.len(),
        r.devices.len()
    );
    for d in &exposed {
        let mut line = format!("  {} [{}] {}", d.address, d.ids, d.dev_type);
        if let Some(p) = &d.parent_addr {
            let _ = write!(line, " of PF {p}");
        }
        let _ = write!(
            line,
            ", NUMA {}, spec #{}",
            d.numa_node.map_or("-".to_string(), |n| n.to_string()),
            d.spec_index.unwrap_or(0)
        );
        if !d.tags.is_empty() {
            let _ = write!(line, ", {}", tags_text(&d.tags));
        }
        let _ = write!(line, ", driver {}", d.driver.as_deref().unwrap_or("none"));
        let _ = writeln!(s, "{line}");
    }
    let skipped: Vec<_> = r
        .devices
        .iter()
        .filter(|d| d.spec_index.is_none() && d.reason != "no device_spec matches")
        .collect();
    for d in skipped {
        let _ = writeln!(s, "  {} [{}]: {}", d.address, d.ids, d.reason);
    }
    if !r.pools.is_empty() {
        let _ = writeln!(s, "\nPools nova reports:");
        for (i, p) in r.pools.iter().enumerate() {
            let extra: Vec<String> = p
                .keys
                .iter()
                .filter(|(k, _)| {
                    !["vendor_id", "product_id", "dev_type", "numa_node"].contains(&k.as_str())
                })
                .map(|(k, v)| format!("{k}={}", v.to_py_str()))
                .collect();
            let _ = writeln!(
                s,
                "  #{i} {} {} NUMA {}: {} device(s) [{}]",
                p.ids(),
                p.get("dev_type").map(|v| v.to_py_str()).unwrap_or_default(),
                p.get("numa_node")
                    .map(|v| v.to_py_str())
                    .unwrap_or_default(),
                p.count(),
                extra.join(" ")
            );
        }
    }
    if !r.aliases.is_empty() {
        let _ = writeln!(s, "\nAliases:");
        for a in &r.aliases {
            let specs: Vec<String> = a
                .specs
                .iter()
                .map(|f| {
                    f.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            let _ = writeln!(
                s,
                "  {} (numa_policy {}): {} -> {} device(s) in pool(s) {:?}",
                a.name,
                a.numa_policy,
                specs.join(" | "),
                a.devices,
                a.pools
            );
        }
    }
    for f in &r.flavors {
        let _ = writeln!(
            s,
            "\nFlavor pci_passthrough:alias={}: {}",
            f.value,
            if f.fits {
                "fits this host"
            } else {
                "does NOT fit this host"
            }
        );
        let _ = writeln!(
            s,
            "  API check (microversion 2.86+): {}",
            f.api_error.as_deref().unwrap_or("accepted")
        );
        let _ = writeln!(
            s,
            "  at server create: {}",
            f.boot_error
                .as_ref()
                .map_or("requests built".to_string(), |e| format!(
                    "{}: {}",
                    e.exception, e.message
                ))
        );
        let _ = writeln!(s, "  {}", f.reason);
    }
    if !r.errors.is_empty() {
        let _ = writeln!(s, "\nRejected values (nova's messages):");
        for e in &r.errors {
            let at = e
                .loc
                .as_ref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            let idx = e.index.map(|i| format!(" value {i}")).unwrap_or_default();
            let first = if e.first {
                " [nova reports this one]"
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "  {}{idx}{at}{first}: {}: {}",
                e.option, e.exception, e.message
            );
        }
    }
    let shown: Vec<_> = r
        .problems
        .iter()
        .filter(|p| p.severity != Severity::Info)
        .collect();
    let infos = r.problems.len() - shown.len();
    if !shown.is_empty() || infos > 0 {
        let _ = writeln!(s, "\nProblems:");
    }
    for p in &r.problems {
        let sev = match p.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "note",
        };
        let at = p
            .loc
            .as_ref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        let _ = writeln!(s, "  {sev} {}{at}: {}", p.id, p.message);
    }
    s
}

/// Used by `render nova` to learn the enabled filters from nova.conf.
pub fn conf_from(paths: &[PathBuf]) -> Result<NovaConf> {
    Ok(NovaConf::from_files(&read_conf_files(paths)?))
}
