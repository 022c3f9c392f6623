//! `passthru nova ...`: what nova will make of this host.

use crate::context::Ctx;
use std::process::ExitCode;

/// nova subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum NovaCommand {
    /// Which devices nova will expose with the host's (or a given) nova.conf.
    Check(CheckArgs),
}

/// Arguments of `passthru nova check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Arguments, to be defined.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

/// Runs a nova subcommand.
pub fn run(_ctx: &Ctx, cmd: NovaCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NovaCommand::Check(_) => Err(super::not_yet("nova check")),
    }
}
