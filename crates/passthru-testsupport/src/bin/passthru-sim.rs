//! `passthru-sim`: the kernel simulator. Mounts a fake host tree over FUSE and
//! reacts to sysfs writes the way Linux does. See docs/simulator.md.

use clap::{Args, Parser, Subcommand};
use passthru_testsupport::sim::{self, control, SimConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "passthru-sim",
    version,
    about = "Simulated Linux PCI/SR-IOV host over FUSE"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Mount a host tree (or a scenario) and serve it until SIGTERM/SIGINT.
    Mount(MountArgs),
    /// Simulated reboot: VFs, overrides, bindings and removed devices return to their
    /// boot state; files outside sys/ proc/ dev/ are kept.
    Reboot {
        /// Where the simulator is mounted.
        mountpoint: PathBuf,
        /// Boot with this kernel command line (proc/cmdline); default: unchanged.
        #[arg(long)]
        cmdline: Option<String>,
    },
    /// Make the next N writes to a file fail with an errno.
    Fault {
        /// Where the simulator is mounted.
        mountpoint: PathBuf,
        /// File, relative to the mount (links are followed; it need not exist yet).
        path: String,
        /// errno name (EBUSY, ENOMEM, ...) or number.
        errno: String,
        /// How many writes fail (0 clears the fault).
        #[arg(long, default_value_t = 1)]
        times: u32,
    },
    /// Send raw control commands (see `cat MOUNTPOINT/.passthru-sim/ctl`).
    Ctl {
        /// Where the simulator is mounted.
        mountpoint: PathBuf,
        /// The command words, e.g. `modprobe vfio-pci`.
        #[arg(required = true, num_args = 1..)]
        command: Vec<String>,
    },
    /// Print the simulator's log of changes and kernel answers.
    Log {
        /// Where the simulator is mounted.
        mountpoint: PathBuf,
    },
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["tree", "scenario"])))]
struct MountArgs {
    /// A directory laid out like a host root (sys/ proc/ etc/ ...). It is read
    /// once and never written; all changes live in memory.
    #[arg(long)]
    tree: Option<PathBuf>,
    /// A built-in scenario (i350, two-socket, parametric:PxV) or a HostSpec file
    /// (.toml or .json), written to a temporary tree that is removed on exit.
    #[arg(long, value_name = "NAME|FILE")]
    scenario: Option<String>,
    /// Default driver for a device id, e.g. 8086:1520=igbvf (repeatable; wins over
    /// the tree's .passthru-sim/config.toml and the built-in table).
    #[arg(long = "driver", value_name = "VENDOR:DEVICE=DRIVER")]
    drivers: Vec<String>,
    /// Where to mount (an existing empty directory).
    mountpoint: PathBuf,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("passthru-sim: {msg}");
    ExitCode::from(3)
}

fn control(mountpoint: &Path, line: &str) -> ExitCode {
    let ctl = mountpoint.join(sim::fuse::CTL_DIR_NAME).join("ctl");
    if !ctl.exists() {
        return fail(format!(
            "no simulator is mounted at {}",
            mountpoint.display()
        ));
    }
    match std::fs::write(&ctl, format!("{line}\n")) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let name = e
                .raw_os_error()
                .map(control::errno_name)
                .unwrap_or_else(|| e.to_string());
            eprintln!(
                "passthru-sim: '{line}' refused ({name}); see {}",
                mountpoint.join(".passthru-sim/log").display()
            );
            ExitCode::from(2)
        }
    }
}

fn mount(a: MountArgs) -> ExitCode {
    let (tree, _temp) = match (&a.tree, &a.scenario) {
        (Some(t), _) => (t.clone(), None),
        (None, Some(s)) => {
            let spec = match sim::scenario_spec(s) {
                Ok(x) => x,
                Err(e) => return fail(e),
            };
            match sim::write_scenario_tree(&spec) {
                Ok(t) => (t.path().to_path_buf(), Some(t)),
                Err(e) => return fail(e),
            }
        }
        (None, None) => return fail("give --tree DIR or --scenario NAME|FILE"),
    };
    let mut config = match SimConfig::from_tree(&tree) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    for d in &a.drivers {
        if let Err(e) = config.add_driver_arg(d) {
            return fail(e);
        }
    }
    let kernel = match sim::load_tree(&tree, config) {
        Ok(k) => k,
        Err(e) => return fail(format!("cannot load {}: {e}", tree.display())),
    };
    let mp = a.mountpoint.clone();
    let what = match &a.scenario {
        Some(s) => format!("scenario {s}"),
        None => tree.display().to_string(),
    };
    match sim::serve(kernel, &a.mountpoint, move || {
        println!(
            "passthru-sim: serving {} at {} (pid {}); stop with SIGTERM or Ctrl-C",
            what,
            mp.display(),
            std::process::id()
        );
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("cannot mount at {}: {e}", a.mountpoint.display())),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Mount(a) => mount(a),
        Cmd::Reboot {
            mountpoint,
            cmdline,
        } => match cmdline {
            Some(c) => control(
                &mountpoint,
                &format!("reboot cmdline={}", c.replace('\n', " ")),
            ),
            None => control(&mountpoint, "reboot"),
        },
        Cmd::Fault {
            mountpoint,
            path,
            errno,
            times,
        } => {
            if control::parse_errno(&errno).is_none() {
                return fail(format!("'{errno}' is not an errno name or number"));
            }
            if path.split_whitespace().count() != 1 {
                return fail("PATH must not contain spaces");
            }
            control(&mountpoint, &format!("fault {path} {errno} {times}"))
        }
        Cmd::Ctl {
            mountpoint,
            command,
        } => control(&mountpoint, &command.join(" ")),
        Cmd::Log { mountpoint } => {
            match std::fs::read_to_string(mountpoint.join(".passthru-sim/log")) {
                Ok(t) => {
                    print!("{t}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("no simulator log at {}: {e}", mountpoint.display())),
            }
        }
    }
}
