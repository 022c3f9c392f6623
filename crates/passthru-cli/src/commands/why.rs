//! `passthru why DEV`: the chain firmware -> kernel IOMMU -> group -> driver -> SR-IOV
//! -> configuration -> guest for one device, stopping at the first broken link with
//! its fix (`--all` shows every link).

use crate::commands::doctor::write_finding;
use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::Result;
use passthru::checks::why::{chain, Chain};
use passthru::checks::{describe, Severity};
use passthru::host::resolve;
use serde::Serialize;
use std::fmt::Write as _;
use std::process::ExitCode;

/// Arguments of `passthru why`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The device (address, pci_DDDD_BB_SS_F, netdev, or vendor:device: each match).
    #[arg(value_name = "DEV")]
    pub device: String,
    /// Show the whole chain, not only up to the first broken link.
    #[arg(long)]
    pub all: bool,
}

#[derive(Serialize)]
struct WhyJson<'a> {
    chains: Vec<&'a Chain>,
}

fn verdict(sev: Option<Severity>) -> String {
    let word = match sev {
        None => "n/a",
        Some(Severity::Pass) => "ok",
        Some(Severity::Info) => "ok",
        Some(Severity::Warn) => "WEAK",
        Some(Severity::Fail) => "BROKEN",
    };
    sev.map_or_else(|| word.to_string(), |s| crate::output::paint(s, word))
}

/// Runs `passthru why`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let host = ctx.checks_host()?;
    let devs = resolve(host, &args.device)?;
    let chains: Vec<Chain> = devs.iter().map(|d| chain(host, d)).collect();
    let worst = chains
        .iter()
        .map(|c| c.worst(args.all))
        .max()
        .unwrap_or(Severity::Pass);
    if ctx.json() {
        print_json(&WhyJson {
            chains: chains.iter().collect(),
        })?;
        return Ok(ExitCode::from(worst.exit_code()));
    }
    let mut s = String::new();
    for (c, d) in chains.iter().zip(&devs) {
        let _ = writeln!(s, "Why {}", describe(d));
        let shown = c.shown(args.all);
        for (i, l) in shown.iter().enumerate() {
            let _ = writeln!(s, "  {}. {:<52} {}", i + 1, l.title, verdict(l.severity));
            let width = l
                .findings
                .iter()
                .map(|f| crate::commands::doctor::label(f).chars().count())
                .max()
                .unwrap_or(0)
                .min(60);
            for f in &l.findings {
                write_finding(&mut s, f, width, "       ");
            }
        }
        match c.broken {
            Some(b) => {
                let _ = writeln!(
                    s,
                    "{} cannot go to a guest: the chain breaks at '{b}'.{}",
                    c.device,
                    if args.all || shown.len() == c.links.len() {
                        ""
                    } else {
                        " (--all shows the rest of the chain)"
                    }
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "{} can go to a guest: no link is broken{}.",
                    c.device,
                    if c.worst(true) == Severity::Warn {
                        " (weak links above have warnings)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    emit(&s)?;
    Ok(ExitCode::from(worst.exit_code()))
}
