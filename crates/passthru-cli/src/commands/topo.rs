//! `passthru topo`: a picture of the host's PCI topology (NUMA nodes, root buses,
//! ports, devices, VFs, IOMMU groups, doctor's verdicts), as SVG, HTML, DOT or a
//! Unicode tree. The drawing is the library's (`passthru::render::topo`); this file
//! reads the host, runs doctor and writes the result.

use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::{Context as _, Result};
use passthru::checks::{self, Context};
use passthru::host::resolve_all;
use passthru::render::topo::{self, TopoOptions, DEFAULT_COLLAPSE_OVER};
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats of `passthru topo`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A Unicode tree for the terminal.
    Text,
    /// A standalone SVG picture (hover a device or badge for details).
    Svg,
    /// A standalone HTML page: folding VFs, a side panel with doctor's findings.
    Html,
    /// Graphviz DOT (`dot -Tpng`).
    Dot,
}

/// Arguments of `passthru topo`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Colours: green on vfio-pci, blue on a host driver, grey no driver, orange a running
guest holds it. Dashed enclosures are IOMMU groups (what goes to a guest together).
Badges are doctor's verdict (PASS/WARN/FAIL) on the devices doctor checks; hover one
(SVG) or click the device (HTML) for the finding and its fix.

Examples:
  passthru topo                                  # a tree in the terminal
  passthru topo --format svg -o topo.svg
  passthru topo --format html -o topo.html --numa 0
  passthru topo --device 07:10.7                 # only what is around one VF
  passthru --snapshot host1.json topo --format dot | dot -Tpng > topo.png

--json prints the tree the pictures are drawn from (docs/json.md).")]
pub struct Args {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Draw only the part around this device: its upstream ports, its VFs, and its
    /// IOMMU group's members (repeatable; any name `show` takes).
    #[arg(long, value_name = "DEV")]
    pub device: Vec<String>,
    /// Draw only this NUMA node.
    #[arg(long, value_name = "N")]
    pub numa: Option<u32>,
    /// Fold a PF's VFs into one row when it has more than N (0 folds every PF's VFs).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_COLLAPSE_OVER)]
    pub collapse_over: usize,
}

/// Runs `passthru topo`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let host = ctx.checks_host()?;
    let devices = resolve_all(host, &args.device)?
        .into_iter()
        .map(|d| d.address)
        .collect();
    // doctor's own selection and checks: the badges are exactly doctor's verdicts.
    let report = checks::run(&Context::doctor(host, Vec::new()));
    let t = topo::build(
        host,
        &report.findings,
        &TopoOptions {
            devices,
            numa: args.numa,
            collapse_over: args.collapse_over,
        },
    )?;
    if ctx.json() {
        print_json(&t)?;
        return Ok(ExitCode::SUCCESS);
    }
    let text = match args.format {
        Format::Text => topo::text::render(&t),
        Format::Svg => topo::svg::render(&t),
        Format::Html => topo::html::page(&t),
        Format::Dot => topo::dot::render(&t),
    };
    write_output(args.output.as_ref(), &text, "topology")?;
    Ok(ExitCode::SUCCESS)
}

/// Writes a picture or page to a file (saying so on stderr) or to standard output.
pub fn write_output(path: Option<&PathBuf>, text: &str, what: &str) -> Result<()> {
    match path {
        Some(p) => {
            std::fs::write(p, text)
                .with_context(|| format!("cannot write the {what} to {}", p.display()))?;
            eprintln!("passthru: wrote the {what} to {}", p.display());
            Ok(())
        }
        None => emit(text),
    }
}
