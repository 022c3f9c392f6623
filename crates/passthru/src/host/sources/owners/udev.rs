//! udev rules that write `sriov_numvfs` or `driver_override` (an `ATTR{...}=`
//! assignment, or a `RUN+=` shell line that echoes into sysfs): applied whenever the
//! device appears, every boot.

use super::{config_files, shell_writes, sysfs_write};
use crate::host::owners::{Claim, ClaimAction, OwnerKind, Target, When};
use crate::host::root::Root;
use crate::pci::PciAddress;

/// Where udev reads rules, highest precedence first.
pub const DIRS: &[&str] = &[
    "etc/udev/rules.d",
    "run/udev/rules.d",
    "usr/local/lib/udev/rules.d",
    "usr/lib/udev/rules.d",
    "lib/udev/rules.d",
];

/// Reads every rule that writes an SR-IOV or binding attribute.
pub fn read(root: &Root) -> Vec<Claim> {
    config_files(root, DIRS, &[".rules"])
        .iter()
        .filter(|(_, t)| {
            t.contains("sriov_numvfs")
                || t.contains("driver_override")
                || t.contains("/bind")
                || t.contains("new_id")
        })
        .flat_map(|(path, text)| parse(path, text))
        .collect()
}

fn tokens(rule: &str) -> Vec<(String, Option<String>, String, String)> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r#"([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)""#,
        )
        .expect("static regex")
    });
    re.captures_iter(rule)
        .map(|c| {
            (
                c[1].to_string(),
                c.get(2).map(|m| m.as_str().to_string()),
                c[3].to_string(),
                c[4].to_string(),
            )
        })
        .collect()
}

fn plain(v: &str) -> bool {
    !v.is_empty() && !v.contains(['*', '?', '[', '|'])
}

fn hex16(v: &str) -> Option<u16> {
    u16::from_str_radix(v.trim().trim_start_matches("0x"), 16).ok()
}

/// Parses one rules file.
pub fn parse(path: &str, text: &str) -> Vec<Claim> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        if let Some(cont) = raw.strip_suffix('\\') {
            logical.push_str(cont);
            continue;
        }
        logical.push_str(raw);
        let rule = std::mem::take(&mut logical);
        if rule.trim_start().starts_with('#') {
            continue;
        }
        out.extend(parse_rule(path, start, &rule));
    }
    out
}

fn parse_rule(path: &str, line: usize, rule: &str) -> Vec<Claim> {
    let toks = tokens(rule);
    let subsystem = toks
        .iter()
        .find(|t| t.0 == "SUBSYSTEM" && t.2 == "==")
        .map(|t| t.3.clone());
    let mut target = Vec::new();
    let mut kernel: Option<String> = None;
    for (key, attr, op, v) in &toks {
        if op != "==" || !plain(v) {
            continue;
        }
        match (key.as_str(), attr.as_deref()) {
            ("KERNEL", _) | ("KERNELS", _) => {
                if let Ok(a) = PciAddress::parse(v).map_err(|_| ()).and_then(|a| {
                    if v.contains(':') {
                        Ok(a)
                    } else {
                        Err(())
                    }
                }) {
                    target.push(Target::Address(a));
                } else if key == "KERNEL" && subsystem.as_deref() != Some("pci") {
                    kernel = Some(v.clone());
                    target.push(Target::Interface(v.clone()));
                }
            }
            ("ATTR" | "ATTRS", Some("address")) => target.push(Target::Mac(v.to_lowercase())),
            ("DRIVER" | "DRIVERS", _) => target.push(Target::Driver(v.clone())),
            _ => {}
        }
    }
    let vendor = toks
        .iter()
        .find(|t| {
            matches!(t.0.as_str(), "ATTR" | "ATTRS")
                && t.1.as_deref() == Some("vendor")
                && t.2 == "=="
        })
        .and_then(|t| hex16(&t.3));
    let device = toks
        .iter()
        .find(|t| {
            matches!(t.0.as_str(), "ATTR" | "ATTRS")
                && t.1.as_deref() == Some("device")
                && t.2 == "=="
        })
        .and_then(|t| hex16(&t.3));
    if let (Some(v), Some(d)) = (vendor, device) {
        target.push(Target::Ids(v, d));
    }
    let mut actions: Vec<(Vec<Target>, ClaimAction)> = Vec::new();
    for (key, attr, op, v) in &toks {
        if key == "ATTR" && matches!(op.as_str(), "=" | ":=") {
            let attr = attr.as_deref().unwrap_or("");
            let a = attr.rsplit('/').next().unwrap_or(attr);
            match a {
                "sriov_numvfs" => {
                    if let Ok(n) = v.trim().parse() {
                        actions.push((Vec::new(), ClaimAction::NumVfs(n)));
                    }
                }
                "driver_override" if plain(v) => {
                    actions.push((Vec::new(), ClaimAction::Driver(v.clone())))
                }
                _ => {}
            }
        }
        if key == "RUN" {
            for (p, val) in shell_writes(v) {
                // `%k` / `$kernel` are the device the rule matched.
                let p = match &kernel {
                    Some(k) => p.replace("%k", k).replace("$kernel", k),
                    None => p,
                };
                if let Some((t, act)) = sysfs_write(&p, &val) {
                    let own: Vec<Target> = t
                        .into_iter()
                        .filter(|x| !matches!(x, Target::Interface(n) if n.contains(['%', '$'])))
                        .collect();
                    actions.push((own, act));
                }
            }
        }
    }
    actions
        .into_iter()
        .filter_map(|(own, action)| {
            let mut t = target.clone();
            for x in own {
                if !t.contains(&x) {
                    t.push(x);
                }
            }
            (!t.is_empty()).then(|| Claim {
                owner: OwnerKind::Udev,
                file: path.to_string(),
                line,
                name: None,
                target: t,
                action,
                when: When::DeviceAdd,
                enabled: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_and_run_rules() {
        let t = "# VFs for guests\nACTION==\"add\", SUBSYSTEM==\"net\", KERNEL==\"eno1\", ATTR{device/sriov_numvfs}=\"7\"\nACTION==\"add\", SUBSYSTEM==\"pci\", ATTR{vendor}==\"0x10de\", ATTR{device}==\"0x1b80\", ATTR{driver_override}=\"vfio-pci\"\nACTION==\"add\", SUBSYSTEM==\"net\", KERNEL==\"eno2\", \\\n  RUN+=\"/bin/sh -c 'echo 3 > /sys/class/net/%k/device/sriov_numvfs'\"\nSUBSYSTEM==\"net\", ACTION==\"add\", NAME=\"eth0\"\n";
        let c = parse("etc/udev/rules.d/70-sriov.rules", t);
        assert_eq!(c.len(), 3, "{c:#?}");
        assert_eq!(c[0].target, vec![Target::Interface("eno1".into())]);
        assert_eq!(c[0].action, ClaimAction::NumVfs(7));
        assert_eq!(c[0].line, 2);
        assert_eq!(c[1].target, vec![Target::Ids(0x10de, 0x1b80)]);
        assert_eq!(c[1].action, ClaimAction::Driver("vfio-pci".into()));
        assert_eq!(c[2].target, vec![Target::Interface("eno2".into())]);
        assert_eq!(c[2].action, ClaimAction::NumVfs(3));
        assert_eq!(c[2].line, 4);
        let c = parse(
            "x.rules",
            "ACTION==\"add\", KERNELS==\"0000:02:00.0\", RUN+=\"/usr/bin/echo 2 > /sys/bus/pci/devices/0000:02:00.0/sriov_numvfs\"\n",
        );
        assert_eq!(
            c[0].target,
            vec![Target::Address(PciAddress::parse("0000:02:00.0").unwrap())]
        );
    }
}
