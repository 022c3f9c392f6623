//! systemd-networkd: `.link` files whose `[Link] SR-IOVVirtualFunctions=` udev's
//! `net_setup_link` applies when the PF appears, and `.network` files whose
//! `[SR-IOV]` sections configure VFs when networkd configures the PF.

use super::config_files;
use crate::host::owners::{Claim, ClaimAction, OwnerKind, Target, When};
use crate::host::root::Root;
use crate::nova::conf::{parse_ini, IniFile};

/// Where networkd and udev read `.link` / `.network` files, highest precedence first.
pub const DIRS: &[&str] = &[
    "etc/systemd/network",
    "run/systemd/network",
    "usr/local/lib/systemd/network",
    "usr/lib/systemd/network",
    "lib/systemd/network",
];

/// Reads every `.link` and `.network` file with SR-IOV settings.
pub fn read(root: &Root) -> Vec<Claim> {
    config_files(root, DIRS, &[".link", ".network"])
        .iter()
        .flat_map(|(path, text)| parse(path, text))
        .collect()
}

/// The `[Match]` conditions that name a device (`OriginalName=`/`Name=`,
/// `MACAddress=`/`PermanentMACAddress=`, `Path=`, `Driver=`). A list of several
/// values or a glob in a name is left out (it names no one device).
fn match_targets(ini: &IniFile) -> Vec<Target> {
    let mut out = Vec::new();
    for a in ini.assignments.iter().filter(|a| a.section == "Match") {
        let v = a.value.trim();
        if v.is_empty() || v.contains(' ') {
            continue;
        }
        match a.key.as_str() {
            "OriginalName" | "Name" if !v.contains(['*', '?', '[']) => {
                out.push(Target::Interface(v.to_string()))
            }
            "MACAddress" | "PermanentMACAddress" => out.push(Target::Mac(v.to_lowercase())),
            "Path" => out.push(Target::PathGlob(v.to_string())),
            "Driver" => out.push(Target::Driver(v.to_string())),
            _ => {}
        }
    }
    out
}

/// Parses one `.link` or `.network` file (systemd's unit syntax; the keys read here
/// are plain `Key=value`, read alike by the INI reader).
pub fn parse(path: &str, text: &str) -> Vec<Claim> {
    let Ok(ini) = parse_ini(path, text) else {
        return Vec::new();
    };
    let target = match_targets(&ini);
    if target.is_empty() {
        return Vec::new();
    }
    let name = path.rsplit('/').next().map(str::to_string);
    let mut out = Vec::new();
    if path.ends_with(".link") {
        if let Some(a) = ini
            .assignments
            .iter()
            .rev()
            .find(|a| a.section == "Link" && a.key == "SR-IOVVirtualFunctions")
        {
            if let Ok(n) = a.value.trim().parse() {
                out.push(Claim {
                    owner: OwnerKind::Networkd,
                    file: path.to_string(),
                    line: a.loc.line,
                    name,
                    target,
                    action: ClaimAction::NumVfs(n),
                    when: When::DeviceAdd,
                    enabled: None,
                });
            }
        }
    } else {
        // Each [SR-IOV] section configures one VF; say which, once per file.
        let vfs: Vec<(usize, String)> = ini
            .assignments
            .iter()
            .filter(|a| a.section == "SR-IOV" && a.key == "VirtualFunction")
            .map(|a| (a.loc.line, a.value.trim().to_string()))
            .collect();
        if let Some((line, _)) = vfs.first() {
            out.push(Claim {
                owner: OwnerKind::Networkd,
                file: path.to_string(),
                line: *line,
                name,
                target,
                action: ClaimAction::VfAttributes(format!(
                    "[SR-IOV] of VF {}",
                    vfs.iter()
                        .map(|(_, v)| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                when: When::DeviceAdd,
                enabled: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_and_network_files() {
        let c = parse(
            "etc/systemd/network/25-eno2.link",
            "[Match]\nPath=pci-0000:02:00.1\n\n[Link]\nName=eno2\nSR-IOVVirtualFunctions=4\n",
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].action, ClaimAction::NumVfs(4));
        assert_eq!(
            c[0].target,
            vec![Target::PathGlob("pci-0000:02:00.1".into())]
        );
        assert_eq!(c[0].line, 6);
        let c = parse(
            "etc/systemd/network/25-eno2.network",
            "[Match]\nName=eno2\n\n[SR-IOV]\nVirtualFunction=0\nVLANId=5\n\n[SR-IOV]\nVirtualFunction=1\nTrust=true\n",
        );
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].action,
            ClaimAction::VfAttributes("[SR-IOV] of VF 0, 1".into())
        );
        assert!(parse(
            "x.link",
            "[Match]\nOriginalName=en*\n[Link]\nSR-IOVVirtualFunctions=2\n"
        )
        .is_empty());
    }
}
