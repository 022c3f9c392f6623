//! `passthru snapshot`: every fact in one JSON file, to analyse elsewhere with
//! `passthru --snapshot FILE ...`.

use crate::context::Ctx;
use crate::output::emit;
use anyhow::{Context as _, Result};
use passthru::host::sources::snapshot::to_json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `passthru snapshot`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  passthru snapshot -o host1.json && passthru --snapshot host1.json doctor"
)]
pub struct Args {
    /// Write to this file instead of stdout (`-` is stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `passthru snapshot`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let host = ctx.host()?;
    let mut text = to_json(host);
    text.push('\n');
    // `-o -` is stdout, as `--lspci -` reads stdin.
    match args.output.filter(|p| p.as_os_str() != "-") {
        Some(p) => {
            std::fs::write(&p, text)
                .with_context(|| format!("cannot write snapshot to {}", p.display()))?;
            eprintln!(
                "passthru: wrote {} devices to {}",
                host.devices.len(),
                p.display()
            );
        }
        None => emit(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}
