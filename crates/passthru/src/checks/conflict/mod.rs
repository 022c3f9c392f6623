//! Other owners: what else sets a PF's VF count or binds a device to a driver at
//! boot, compared with what passthru's installed host file (or, without one, the
//! current state) wants. The claims come from the owners' files
//! ([`OwnerFacts`](crate::host::owners::OwnerFacts)) plus two that other sources
//! already read: modprobe.d `max_vfs=`/`num_vfs=` options and `vfio-pci ids=`
//! (modprobe.d and the next boot's command line, as `config.vfio-ids-absent` sees
//! them). `apply` asks the same questions before it changes anything.

pub mod driver;
pub mod vf_count;

use crate::change::hostfile::{self, Desired};
use crate::checks::config::vfio_ids::{id_matches, id_settings};
use crate::checks::Severity;
use crate::host::model::{Host, PciDevice};
use crate::host::owners::{Claim, ClaimAction, OwnerKind, Target, When};
use crate::pci::PciAddress;
use std::collections::{BTreeMap, BTreeSet};

/// Module parameters that set a VF count at module load, by driver: igb, ixgbe
/// (`max_vfs`), mlx4_core, bnx2x-family and qede-style drivers (`num_vfs`).
pub const VF_PARAMS: &[&str] = &["max_vfs", "num_vfs"];

/// Every claim: the owners' files, then modprobe.d options and `vfio-pci ids=`.
/// passthru's own modprobe file is not another owner.
pub fn claims(host: &Host) -> Vec<Claim> {
    let mut out = host.system.owners.claims.clone();
    let own = crate::change::persist::MODPROBE;
    for d in host.system.modprobe.iter().filter(|d| d.file != own) {
        let crate::host::system::ModprobeKind::Options { module, params } = &d.kind else {
            continue;
        };
        if module == "vfio_pci" {
            continue;
        }
        for p in params {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            if !VF_PARAMS.contains(&k) {
                continue;
            }
            // A list gives one count per port in probe order; the first stands for all.
            let Some(n) = v
                .trim_matches('"')
                .split(',')
                .next()
                .and_then(|n| n.trim().parse().ok())
            else {
                continue;
            };
            out.push(Claim {
                owner: OwnerKind::Modprobe,
                file: d.file.clone(),
                line: d.line,
                name: Some(format!("options {module} {p}")),
                target: vec![Target::Driver(module.clone())],
                action: ClaimAction::NumVfs(n),
                when: When::ModuleLoad,
                enabled: None,
            });
        }
    }
    let settings = id_settings(host);
    let next_boot_known = settings
        .iter()
        .any(|(_, f, line, _)| f.is_some() || *line > 0);
    for (place, file, line, ids) in settings {
        if file.as_deref() == Some(own) {
            continue;
        }
        // The running command line repeats the boot configuration's; take it only
        // when no file says what the next boot gets.
        let (owner, path, when) = match &file {
            Some(f) => (OwnerKind::Modprobe, f.clone(), When::ModuleLoad),
            None if place == "the kernel command line" => {
                if next_boot_known {
                    continue;
                }
                (
                    OwnerKind::KernelCmdline,
                    "proc/cmdline".to_string(),
                    When::Boot,
                )
            }
            None => (
                OwnerKind::KernelCmdline,
                place
                    .trim_start_matches('/')
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .to_string(),
                When::Boot,
            ),
        };
        for id in ids.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let mut w = id.split(':');
            let (Some(v), Some(d)) = (
                w.next().and_then(|v| u16::from_str_radix(v, 16).ok()),
                w.next().and_then(|d| u16::from_str_radix(d, 16).ok()),
            ) else {
                continue;
            };
            out.push(Claim {
                owner,
                file: path.clone(),
                line,
                name: Some(format!("vfio-pci ids={id}")),
                target: vec![Target::Ids(v, d)],
                action: ClaimAction::Driver("vfio-pci".into()),
                when,
                enabled: None,
            });
        }
    }
    out
}

/// A `*` / `?` glob over a whole string.
fn glob(pat: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether one condition holds for a device.
fn holds(host: &Host, t: &Target, d: &PciDevice) -> bool {
    match t {
        Target::Interface(n) => d.netdevs.iter().any(|x| x == n),
        Target::Mac(m) => d
            .interfaces
            .iter()
            .any(|i| i.mac.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(m))),
        Target::Address(a) => d.address == *a,
        Target::Ids(v, dev) => d.vendor_id.0 == *v && d.device_id.0 == *dev,
        Target::Driver(m) => d.driver.as_deref().is_some_and(|x| {
            crate::host::system::module_name(x) == crate::host::system::module_name(m)
        }),
        Target::PathGlob(g) => glob(g, &format!("pci-{}", d.address)),
        Target::VfsOf(pf, a, b) => {
            d.physfn == Some(*pf) && vf_index(host, d).is_some_and(|i| (*a..=*b).contains(&i))
        }
    }
}

/// A VF's index under its PF: the kernel's, or its place among the PF's VFs.
fn vf_index(host: &Host, d: &PciDevice) -> Option<u32> {
    if let Some(i) = d.vf_index {
        return Some(i);
    }
    let pf = host.device(&d.physfn?)?;
    pf.virtfns
        .iter()
        .position(|a| *a == d.address)
        .map(|i| i as u32)
}

/// The devices a claim is about: VF counts apply to PFs only.
pub fn devices<'h>(host: &'h Host, c: &Claim) -> Vec<&'h PciDevice> {
    host.devices
        .iter()
        .filter(|d| !matches!(c.action, ClaimAction::NumVfs(_)) || d.sriov.is_some())
        .filter(|d| c.target.iter().all(|t| holds(host, t, d)))
        .filter(|d| match &c.name {
            // `vfio-pci ids=` with subsystem ids: vfio-pci's own match.
            Some(n) if n.starts_with("vfio-pci ids=") => {
                id_matches(n.trim_start_matches("vfio-pci ids="), d) != Some(false)
            }
            _ => true,
        })
        .collect()
}

/// What passthru wants, per device: VF counts and vfio-pci bindings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wants {
    /// Where it is asked (`/etc/passthru/host.toml`, or the file being applied).
    pub source: String,
    /// VF count per PF.
    pub vfs: BTreeMap<PciAddress, u32>,
    /// Devices to be on vfio-pci.
    pub vfio: BTreeSet<PciAddress>,
}

/// What a host file asks of this host's devices.
pub fn wants(host: &Host, desired: &Desired, source: &str) -> Wants {
    let mut w = Wants {
        source: source.to_string(),
        ..Default::default()
    };
    for (sel, n, _) in &desired.sriov {
        for d in host
            .devices
            .iter()
            .filter(|d| d.sriov.is_some() && sel.matches(host, d))
        {
            w.vfs.insert(d.address, *n);
        }
    }
    for sel in &desired.vfio {
        for d in host.devices.iter().filter(|d| sel.matches(host, d)) {
            w.vfio.insert(d.address);
        }
    }
    w
}

/// What the installed host file asks (`None` without one, or when it does not parse:
/// `apply` reports that).
pub fn installed_wants(host: &Host) -> Option<Wants> {
    let text = host.system.owners.host_file.as_ref()?;
    let file = crate::change::persist::HOST_FILE;
    let d = hostfile::parse(text.as_bytes(), std::path::Path::new(file)).ok()?;
    Some(wants(host, &d, &format!("/{file}")))
}

/// How a device is named in messages: its interface, or its address.
pub fn name(d: &PciDevice) -> String {
    match d.netdevs.first() {
        Some(n) => format!("{n} ({})", d.address),
        None => d.address.to_string(),
    }
}

/// One claim judged against one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// How bad.
    pub severity: Severity,
    /// What it does, and how that compares.
    pub message: String,
    /// Whether it will undo what passthru asks, at the next boot.
    pub undoes: bool,
}

/// Judges what a claim does to a device, against what passthru asks (`asked`, from
/// the installed host file or the file being applied) and the current state.
pub fn judge(c: &Claim, d: &PciDevice, asked: Option<(&str, &ClaimAction)>) -> Judgement {
    let who = c.who();
    let when = c.when.words();
    let off = c.enabled == Some(false);
    let (what, now) = match &c.action {
        ClaimAction::NumVfs(n) => (
            format!("sets {n} VFs on {}", name(d)),
            ClaimAction::NumVfs(d.sriov.as_ref().map_or(0, |s| s.num_vfs)),
        ),
        ClaimAction::Driver(drv) => (
            format!("binds {} to {drv}", name(d)),
            ClaimAction::Driver(
                d.driver_override
                    .clone()
                    .or_else(|| d.driver.clone())
                    .unwrap_or_else(|| "no driver".into()),
            ),
        ),
        ClaimAction::VfAttributes(a) => (
            format!("configures the VFs of {} ({a})", name(d)),
            c.action.clone(),
        ),
    };
    let value = |a: &ClaimAction| match a {
        ClaimAction::NumVfs(n) => format!("{n} VFs"),
        ClaimAction::Driver(x) => x.clone(),
        ClaimAction::VfAttributes(x) => x.clone(),
    };
    if off {
        return Judgement {
            severity: Severity::Info,
            message: format!(
                "{who} {what}, but is disabled (it does not act at boot unless enabled)"
            ),
            undoes: false,
        };
    }
    if matches!(c.action, ClaimAction::VfAttributes(_)) {
        return Judgement {
            severity: Severity::Info,
            message: format!("{who} {what} {when}: VF MACs, VLANs and trust are its to set; passthru sets counts and drivers"),
            undoes: false,
        };
    }
    match asked {
        Some((src, want)) if *want == c.action => Judgement {
            severity: if c.when == When::Activation { Severity::Warn } else { Severity::Info },
            message: format!("{who} {what} {when}: the same as {src} asks, so two owners set it"),
            undoes: false,
        },
        Some((src, want)) => Judgement {
            severity: Severity::Fail,
            message: format!(
                "{who} {what} {when}, but {src} asks for {}: the other owner undoes passthru's setting at boot",
                value(want)
            ),
            undoes: true,
        },
        None if now == c.action => Judgement {
            severity: if c.when == When::Activation { Severity::Warn } else { Severity::Info },
            message: format!("{who} {what} {when}, as it is now: this owner, not passthru, keeps it so"),
            undoes: false,
        },
        None => Judgement {
            severity: Severity::Warn,
            message: format!(
                "{who} {what} {when}; it has {} now, so the next boot changes it",
                value(&now)
            ),
            undoes: false,
        },
    }
}

/// How to stop an owner from doing this (or to make it agree).
pub fn fix(c: &Claim, d: &PciDevice) -> String {
    let loc = c.location();
    match c.owner {
        OwnerKind::NetworkManager => format!(
            "let passthru own it: nmcli connection modify '{}' remove sriov   (or edit {loc})\nor let NetworkManager own it: drop {} from the host file",
            c.name
                .as_deref()
                .and_then(|n| n.strip_prefix("connection '"))
                .map(|n| n.trim_end_matches('\''))
                .unwrap_or("ID"),
            name(d)
        ),
        OwnerKind::Networkd => format!(
            "remove the setting at {loc}, then: udevadm control --reload; networkctl reload"
        ),
        OwnerKind::Driverctl => format!("driverctl unset-override {}", d.address),
        OwnerKind::Udev => format!("remove the rule at {loc}, then: udevadm control --reload"),
        OwnerKind::Modprobe => format!(
            "remove {} at {loc}, then rebuild the initramfs",
            c.name.as_deref().unwrap_or("the option")
        ),
        OwnerKind::KernelCmdline => format!(
            "remove {} from the kernel command line ({loc}) and regenerate the boot configuration",
            c.name.as_deref().unwrap_or("the argument").replace(' ', ".")
        ),
        OwnerKind::BootScript => format!("delete line {loc}"),
        OwnerKind::SystemdUnit => format!(
            "systemctl disable {}   (or remove the write at {loc})",
            c.name.as_deref().unwrap_or("UNIT")
        ),
        OwnerKind::OsNetConfig => format!(
            "change numvfs for {} in os-net-config's network_config and run os-net-config again (it rewrites {loc}), or drop the PF from the host file",
            name(d)
        ),
        OwnerKind::SriovOperator => format!(
            "change the SriovNetworkNodePolicy that selects {} (kubectl get sriovnetworknodepolicies -A), or leave the PF to the operator and drop it from the host file",
            name(d)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("pci-0000:02:00.*", "pci-0000:02:00.1"));
        assert!(glob("pci-0000:02:00.1", "pci-0000:02:00.1"));
        assert!(!glob("pci-0000:02:00.1", "pci-0000:02:00.0"));
        assert!(glob("*", "x"));
        assert!(glob("pci-?000:*", "pci-0000:81:00.0"));
    }
}
