//! The fleet options every command takes (`--host`, `--hosts`, ...).

use clap::Args;
use std::path::PathBuf;

/// Reaching many hosts over SSH.
#[derive(Args, Debug, Clone, Default)]
pub struct FleetArgs {
    /// Run on this host over SSH (repeatable; before the command, since `bind
    /// --host` means the host driver): anything ssh accepts (host, user@host, an
    /// ssh_config alias) or host:port. Facts are read there once (passthru
    /// snapshot) and reasoned about here.
    #[arg(long = "host", value_name = "TARGET", conflicts_with_all = ["root", "snapshot", "lspci"])]
    pub hosts: Vec<String>,
    /// Run on every host of FILE: one target per line (# comments), or an Ansible
    /// inventory (INI or YAML).
    #[arg(long = "hosts", global = true, value_name = "FILE", conflicts_with_all = ["root", "snapshot", "lspci"])]
    pub hosts_file: Option<PathBuf>,
    /// Only these inventory groups or hosts (Ansible's --limit: a,b  a:&b  a:!b  web*).
    #[arg(long, global = true, value_name = "PATTERN", requires = "hosts_file")]
    pub limit: Option<String>,
    /// Hosts worked on at once [default: 16 for reading, 1 for changes].
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: Option<u32>,
    /// ssh_config file for every connection (ssh -F FILE).
    #[arg(long, global = true, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Seconds one host may take (connecting included) before it is that host's
    /// error. (Named apart from the change commands' --timeout, which waits for VFs.)
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 120)]
    pub host_timeout: u64,
    /// Read and change this root on the remote hosts instead of / (tests, images).
    #[arg(long, global = true, value_name = "DIR")]
    pub remote_root: Option<PathBuf>,
    /// Changes: stop starting new hosts after N hosts failed.
    #[arg(long, global = true, value_name = "N")]
    pub max_fail: Option<usize>,
    /// kernel-args / apply with --yes: reboot each host whose change needs it, wait
    /// until it is back (its boot id changed, SSH answers), then run doctor.
    #[arg(long, global = true)]
    pub reboot: bool,
    /// Seconds to wait for a rebooting host to come back.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 600)]
    pub reboot_timeout: u64,
    /// The command that reboots a host, looked up on the remote PATH.
    #[arg(
        long,
        global = true,
        value_name = "COMMAND",
        default_value = "systemctl reboot"
    )]
    pub reboot_command: String,
}

/// Options that take a value (removed, with it, from the command line handed on).
pub const WITH_VALUE: &[&str] = &[
    "--host",
    "--hosts",
    "--limit",
    "--concurrency",
    "--ssh-config",
    "--host-timeout",
    "--remote-root",
    "--max-fail",
    "--reboot-timeout",
    "--reboot-command",
];

/// Flags without a value.
pub const FLAGS: &[&str] = &["--reboot"];

/// Global options of the single-host command line that take a value (to find where
/// the command starts).
const GLOBAL_WITH_VALUE: &[&str] = &["--root", "--snapshot", "--lspci", "--kernel-log"];

impl FleetArgs {
    /// Whether any host was named: the command runs as a fleet.
    pub fn active(&self) -> bool {
        !self.hosts.is_empty() || self.hosts_file.is_some()
    }
}

/// The command line without the fleet options (and without `drop`), as the
/// single-host command takes it. Everything after `--` is kept as is.
/// `--host` is a fleet option only before the command (`bind --host` is another).
pub fn strip(argv: &[String], drop: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = argv.iter();
    if let Some(prog) = it.next() {
        out.push(prog.clone());
    }
    let mut in_command = false;
    while let Some(a) = it.next() {
        if a == "--" {
            out.push(a.clone());
            out.extend(it.cloned());
            break;
        }
        let name = a.split_once('=').map_or(a.as_str(), |(n, _)| n);
        if name == "--host" && in_command {
            out.push(a.clone());
            continue;
        }
        if !a.starts_with('-') {
            in_command = true;
        }
        if GLOBAL_WITH_VALUE.contains(&name) && !a.contains('=') {
            out.push(a.clone());
            if let Some(v) = it.next() {
                out.push(v.clone());
            }
            continue;
        }
        if WITH_VALUE.contains(&name) {
            if !a.contains('=') {
                it.next();
            }
            continue;
        }
        if FLAGS.contains(&a.as_str()) || drop.contains(&a.as_str()) {
            continue;
        }
        out.push(a.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_options_are_stripped_with_their_values() {
        let argv: Vec<String> = [
            "passthru",
            "--host",
            "h1",
            "--host=h2",
            "doctor",
            "--json",
            "--remote-root",
            "/r",
            "--reboot",
            "-y",
            "--",
            "--host",
            "x",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            strip(&argv, &["-y"]),
            ["passthru", "doctor", "--json", "--", "--host", "x"]
        );
    }
}
