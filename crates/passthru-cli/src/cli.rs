//! The command line, defined once: clap derives `--help`, and the same definition
//! generates the man page and the shell completions (`passthru man`, `passthru completions`).

use crate::commands;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const ABOUT: &str =
    "PCI passthrough and SR-IOV for KVM hosts: discover, check, change, render, verify.";

const AFTER_HELP: &str = "\
Devices (DEV) can be named any way you have them: 0000:07:10.7, 07:10.7,
pci_0000_07_10_7 (libvirt), a network interface (eno1), or vendor:device
(8086:1520, every match).

Facts come from the real host by default (/). --root reads another root directory
(a fake tree, a mounted image, the kernel simulator), --snapshot a file written by
`passthru snapshot`, --lspci the text of `lspci -nnvvv`.

Exit codes: 0 all good, 1 warnings, 2 failures found, 3 usage or runtime error.";

/// passthru's command line.
#[derive(Parser, Debug)]
#[command(name = "passthru", version, about = ABOUT, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Where facts come from, and how to print them.
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Read the host from this root directory instead of / (it must hold sys/, and
    /// may hold proc/, etc/, usr/share/misc/pci.ids).
    #[arg(long, global = true, value_name = "DIR", env = "PASSTHRU_ROOT", conflicts_with_all = ["snapshot", "lspci"])]
    pub root: Option<PathBuf>,
    /// Read the host from a snapshot file written by `passthru snapshot`.
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "lspci")]
    pub snapshot: Option<PathBuf>,
    /// Read the host from `lspci -nnvvv` text (`-` for stdin); facts lspci does not
    /// show stay unknown.
    #[arg(long, global = true, value_name = "FILE")]
    pub lspci: Option<PathBuf>,
    /// Read the kernel log from this file (the text of `dmesg` or `journalctl -k`)
    /// instead of the live kernel's; only the IOMMU, interrupt remapping and vfio
    /// lines are kept. With the real `/` as root the live log is read by default.
    #[arg(long, global = true, value_name = "FILE")]
    pub kernel_log: Option<PathBuf>,
    /// Print JSON (the shapes are documented in docs/json.md).
    #[arg(long, global = true)]
    pub json: bool,
    /// Fleets: run on other hosts over SSH.
    #[command(flatten, next_help_heading = "Fleet (many hosts over SSH)")]
    pub fleet: crate::fleet::FleetArgs,
    /// Colour PASS green, WARN yellow, FAIL red: `auto` on a terminal unless NO_COLOR
    /// is set, `always`, or `never`. JSON is never coloured.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

/// When to colour the text output.
#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set (or TERM=dumb).
    #[default]
    Auto,
    /// Always, into pipes and files too.
    Always,
    /// Never.
    Never,
}

/// Every command.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every PCI function: ids, class, driver, IOMMU group, NUMA node, SR-IOV, netdev, link.
    Ls(commands::ls::Args),
    /// Everything about one device (DEV: address, pci_DDDD_BB_SS_F, netdev or vendor:device).
    Show(commands::show::Args),
    /// IOMMU groups, their members, and whether each is isolated (safe to assign whole).
    Groups(commands::groups::Args),
    /// Capture every fact passthru uses into one JSON file, to analyse elsewhere.
    Snapshot(commands::snapshot::Args),
    /// A picture of the PCI topology: NUMA nodes, ports, devices, VFs, IOMMU groups, verdicts.
    Topo(commands::topo::Args),
    /// One self-contained HTML page per host or fleet: summary, topology, findings, groups, nova, guests.
    Report(commands::report::Args),
    /// Host readiness for passthrough: every finding with an id, severity and the fix.
    Doctor(commands::doctor::Args),
    /// Why a device can (or cannot) go to a guest: the chain from firmware to guest.
    Why(commands::why::Args),
    /// OpenStack nova: what nova will expose with this host's nova.conf.
    #[command(subcommand)]
    Nova(commands::nova::NovaCommand),
    /// Render configuration: nova, libvirt, opennebula, qemu-acl, ...
    #[command(subcommand)]
    Render(commands::render::RenderCommand),
    /// Verify a libvirt guest really got its devices (domain name or XML file).
    Verify(commands::verify::Args),
    /// Set the number of SR-IOV VFs of a PF (shows a plan; changes nothing without --yes).
    Vfs(commands::vfs::Args),
    /// Bind devices to vfio-pci, another driver, or back to the host driver.
    Bind(commands::bind::Args),
    /// Put the IOMMU arguments on the kernel command line through the boot loader.
    KernelArgs(commands::kernel_args::Args),
    /// Converge the host to a desired state described in a TOML host file.
    Apply(commands::apply::Args),
    /// Roll back the last change set (or a given one), byte for byte.
    Undo(commands::undo::Args),
    /// Print the shell completion script for bash, zsh or fish.
    Completions(commands::completions::Args),
    /// Print the man page (roff), generated from this same command-line definition.
    Man(commands::completions::ManArgs),
    /// Fleets: `fleet diff`, the odd hosts out across --host / --hosts targets.
    #[command(subcommand)]
    Fleet(commands::fleet::FleetCommand),
    /// Follow a long command live (here or on --host), stop it on a --fail-on line.
    Watch(commands::watch::Args),
}
