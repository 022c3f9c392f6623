//! `passthru vfs` (being built; see the issue tracker).

use crate::context::Ctx;
use std::process::ExitCode;

/// Arguments of `passthru vfs`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Arguments, to be defined.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

/// Runs the command.
pub fn run(_ctx: &Ctx, _args: Args) -> anyhow::Result<ExitCode> {
    Err(super::not_yet("vfs"))
}
