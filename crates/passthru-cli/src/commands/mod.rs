//! One file per command; each exports `Args` and `run`.

pub mod apply;
pub mod bind;
pub mod completions;
pub mod doctor;
pub mod fleet;
pub mod groups;
pub mod kernel_args;
pub mod ls;
pub mod nova;
pub mod render;
pub mod render_boot;
pub mod render_libvirt;
pub mod render_nova;
pub mod render_opennebula;
pub mod render_qemu_acl;
pub mod render_sriov;
pub mod report;
pub mod show;
pub mod snapshot;
pub mod topo;
pub mod undo;
pub mod verify;
pub mod vfs;
pub mod watch;
pub mod why;

use crate::cli::Command;
use crate::context::Ctx;
use std::process::ExitCode;

/// Runs a command.
pub fn run(ctx: &Ctx, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Ls(a) => ls::run(ctx, a),
        Command::Show(a) => show::run(ctx, a),
        Command::Groups(a) => groups::run(ctx, a),
        Command::Snapshot(a) => snapshot::run(ctx, a),
        Command::Topo(a) => topo::run(ctx, a),
        Command::Report(a) => report::run(ctx, a),
        Command::Doctor(a) => doctor::run(ctx, a),
        Command::Why(a) => why::run(ctx, a),
        Command::Nova(c) => nova::run(ctx, c),
        Command::Render(c) => render::run(ctx, c),
        Command::Verify(a) => verify::run(ctx, a),
        Command::Vfs(a) => vfs::run(ctx, a),
        Command::Bind(a) => bind::run(ctx, a),
        Command::KernelArgs(a) => kernel_args::run(ctx, a),
        Command::Apply(a) => apply::run(ctx, a),
        Command::Undo(a) => undo::run(ctx, a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => completions::run_man(a),
        Command::Fleet(c) => fleet::run(&ctx.global, c),
        Command::Watch(a) => watch::run(&ctx.global, a),
    }
}
