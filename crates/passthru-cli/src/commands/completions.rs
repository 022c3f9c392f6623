//! `passthru completions SHELL` and `passthru man`: shell completions and the man
//! page, generated from the one clap definition in `cli.rs` (clap_complete,
//! clap_mangen), so they can never disagree with `--help`.

use anyhow::Result;
use clap::CommandFactory;
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `passthru completions`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  passthru completions bash > /etc/bash_completion.d/passthru
  passthru completions zsh > \"${fpath[1]}/_passthru\"
  passthru completions fish > ~/.config/fish/completions/passthru.fish")]
pub struct Args {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `passthru man`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  passthru man > /usr/local/share/man/man1/passthru.1
  passthru man | man -l -
  passthru man doctor | man -l -        the page of one command (passthru-doctor(1))
  passthru man render nova | man -l -")]
pub struct ManArgs {
    /// A command (and subcommand) whose own page to print; without it, passthru(1),
    /// which lists every command.
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Writes the completion script for a shell on stdout.
pub fn run(args: Args) -> Result<ExitCode> {
    let mut cmd = crate::cli::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "passthru", &mut buf);
    write_out(&buf)
}

/// Writes the man page (roff, section 1) on stdout.
pub fn run_man(args: ManArgs) -> Result<ExitCode> {
    let mut cmd = crate::cli::Cli::command();
    // Built, so every command's page lists the global options (--root, --json, ...) too.
    cmd.build();
    let mut name = String::from("passthru");
    for word in &args.command {
        let Some(sub) = cmd.find_subcommand(word).cloned() else {
            let known: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
            anyhow::bail!(
                "`{name}` has no command '{word}'; pages exist for: {}",
                known.join(", ")
            );
        };
        name = format!("{name}-{word}");
        // The page is passthru-doctor(1), as git's are git-commit(1).
        cmd = sub.name(name.clone());
    }
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    write_out(&buf)
}

fn write_out(buf: &[u8]) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    out.write_all(buf)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
