//! Writes a fake host tree: `passthru-fakehost write --scenario NAME DIR`,
//! `passthru-fakehost write --spec FILE.json|FILE.toml DIR`, or prints a scenario's
//! spec as JSON: `passthru-fakehost spec NAME`.

use passthru_testsupport::{scenario, FakeHost, HostSpec};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: passthru-fakehost write (--scenario NAME | --spec FILE) DIR\n       passthru-fakehost spec NAME\n       passthru-fakehost list\nscenarios: i350, two-socket, parametric:PxV (e.g. parametric:16x128)";

fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        // Asking for help is not an error: the usage on stdout, exit 0.
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some("list") => {
            for s in passthru_testsupport::scenarios::SCENARIOS {
                println!("{s}");
            }
            Ok(())
        }
        Some("spec") => {
            let name = args.get(1).ok_or(USAGE)?;
            let spec = scenario(name).map_err(|e| e.to_string())?;
            println!("{}", spec.to_json());
            Ok(())
        }
        Some("write") => {
            let (spec, dir) = match (args.get(1).map(String::as_str), args.get(2), args.get(3)) {
                (Some("--scenario"), Some(name), Some(dir)) => {
                    (scenario(name).map_err(|e| e.to_string())?, dir)
                }
                (Some("--spec"), Some(file), Some(dir)) => {
                    let text = std::fs::read_to_string(file)
                        .map_err(|e| format!("cannot read {file}: {e}"))?;
                    let spec = if file.ends_with(".toml") {
                        HostSpec::from_toml(&text).map_err(|e| format!("{file}: {e}"))?
                    } else {
                        HostSpec::from_json(&text).map_err(|e| format!("{file}: {e}"))?
                    };
                    (spec, dir)
                }
                _ => return Err(USAGE.to_string()),
            };
            FakeHost::new(spec)
                .write(&PathBuf::from(dir))
                .map_err(|e| e.to_string())
        }
        _ => Err(USAGE.to_string()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("passthru-fakehost: {e}");
            ExitCode::from(3)
        }
    }
}
