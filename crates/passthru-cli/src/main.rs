//! `passthru`: the thin command line over the `passthru` library.

mod ansible;
mod change;
mod cli;
mod commands;
mod context;
mod fleet;
mod output;

use clap::Parser;
use std::process::ExitCode;

/// Usage and runtime errors exit with 3 (0/1/2 are the check verdicts).
const EXIT_ERROR: u8 = 3;

fn main() -> ExitCode {
    // Started by Ansible as a module (under a module's name, or with its argument
    // file): print one JSON object, nothing else.
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let Some(inv) = ansible::detect(&argv) {
        return ansible::main(inv);
    }
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    output::init_color(cli.global.color, cli.global.json);
    let result = if fleet::active(&cli.global, &cli.command) {
        fleet::run(&cli.global, cli.command)
    } else {
        let ctx = context::Ctx::new(cli.global.clone());
        commands::run(&ctx, cli.command)
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            // Library errors already name their cause; print a cause only when it adds something.
            let mut said = e.to_string();
            eprintln!("passthru: error: {said}");
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !said.contains(&c) {
                    eprintln!("  caused by: {c}");
                    said.push_str(&c);
                }
            }
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
