//! Boot scripts and units that write sysfs: `rc.local` (the third seed's own advice),
//! sysfsutils' `sysfs.conf` / `sysfs.d`, and systemd services whose `ExecStart*`
//! lines echo into `sriov_numvfs`, `driver_override`, `new_id` or `bind`.
//! passthru's own `passthru.service` is not another owner.

use super::{config_files, shell_writes, sysfs_write};
use crate::host::owners::{Claim, OwnerKind, When};
use crate::host::root::Root;

/// rc.local locations.
pub const RC_LOCAL: &[&str] = &["etc/rc.local", "etc/rc.d/rc.local"];
/// Where systemd reads units, highest precedence first.
pub const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system",
    "run/systemd/system",
    "usr/local/lib/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

/// Reads rc.local, sysfsutils and systemd units.
pub fn read(root: &Root) -> Vec<Claim> {
    let mut out = Vec::new();
    let mut seen_rc = None;
    for p in RC_LOCAL {
        // etc/rc.local is often a link to etc/rc.d/rc.local: read it once.
        let real = root.resolve(p).ok();
        if real.is_some() && real == seen_rc {
            continue;
        }
        if let Ok(t) = root.read_string(p) {
            seen_rc = real;
            out.extend(parse_script(p, &t, OwnerKind::BootScript, None, None));
        }
    }
    if let Ok(t) = root.read_string("etc/sysfs.conf") {
        out.extend(parse_sysfs_conf("etc/sysfs.conf", &t));
    }
    for (p, t) in config_files(root, &["etc/sysfs.d"], &[".conf"]) {
        out.extend(parse_sysfs_conf(&p, &t));
    }
    let wants = enabled_units(root);
    for (p, t) in config_files(root, UNIT_DIRS, &[".service"]) {
        let name = p.rsplit('/').next().unwrap_or(&p).to_string();
        if name == crate::change::persist::UNIT_NAME {
            continue;
        }
        if !(t.contains("sriov_numvfs")
            || t.contains("driver_override")
            || t.contains("/sys/bus/pci/drivers/"))
        {
            continue;
        }
        let enabled = Some(wants.contains(&name));
        out.extend(parse_unit(&p, &t, &name, enabled));
    }
    out
}

/// Units linked into a `*.wants` directory under `etc/systemd/system` (enabled).
fn enabled_units(root: &Root) -> Vec<String> {
    let base = "etc/systemd/system";
    let Ok(dirs) = root.list(base) else {
        return Vec::new();
    };
    dirs.into_iter()
        .filter(|d| d.ends_with(".wants") || d.ends_with(".requires"))
        .flat_map(|d| root.list(&format!("{base}/{d}")).unwrap_or_default())
        .collect()
}

/// A shell script: every line that writes an SR-IOV or binding attribute.
pub fn parse_script(
    path: &str,
    text: &str,
    owner: OwnerKind,
    name: Option<String>,
    enabled: Option<bool>,
) -> Vec<Claim> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for (p, v) in shell_writes(line) {
            if let Some((target, action)) = sysfs_write(&p, &v) {
                out.push(Claim {
                    owner,
                    file: path.to_string(),
                    line: i + 1,
                    name: name.clone(),
                    target,
                    action,
                    when: When::Boot,
                    enabled,
                });
            }
        }
    }
    out
}

/// A systemd unit: its `ExecStart*` lines (backslash continuations joined).
pub fn parse_unit(path: &str, text: &str, name: &str, enabled: Option<bool>) -> Vec<Claim> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        if let Some(c) = raw.strip_suffix('\\') {
            logical.push_str(c);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        let l = std::mem::take(&mut logical);
        if !l.trim_start().starts_with("ExecStart") {
            continue;
        }
        for mut c in parse_script(
            path,
            &l,
            OwnerKind::SystemdUnit,
            Some(name.to_string()),
            enabled,
        ) {
            c.line = start;
            out.push(c);
        }
    }
    out
}

/// sysfsutils: `class/net/eno1/device/sriov_numvfs = 4` lines, applied at boot.
pub fn parse_sysfs_conf(path: &str, text: &str) -> Vec<Claim> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .filter_map(|(i, l)| {
            let (k, v) = l.split_once('=')?;
            let (target, action) = sysfs_write(k.trim(), v.trim())?;
            Some(Claim {
                owner: OwnerKind::BootScript,
                file: path.to_string(),
                line: i + 1,
                name: Some("sysfsutils".into()),
                target,
                action,
                when: When::Boot,
                enabled: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::owners::{ClaimAction, Target};

    #[test]
    fn rc_local_units_and_sysfs_conf() {
        let c = parse_script(
            "etc/rc.local",
            "#!/bin/sh -e\n# VFs\necho 4 > /sys/class/net/eno1/device/sriov_numvfs\nexit 0\n",
            OwnerKind::BootScript,
            None,
            None,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].line, 3);
        assert_eq!(c[0].action, ClaimAction::NumVfs(4));
        let c = parse_unit(
            "etc/systemd/system/sriov-vfs.service",
            "[Unit]\nDescription=VFs\n[Service]\nType=oneshot\nExecStart=/bin/sh -c \\\n  'echo 2 > /sys/class/net/eno2/device/sriov_numvfs'\n[Install]\nWantedBy=multi-user.target\n",
            "sriov-vfs.service",
            Some(true),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].line, 5);
        assert_eq!(c[0].target, vec![Target::Interface("eno2".into())]);
        let c = parse_sysfs_conf(
            "etc/sysfs.conf",
            "# x\nbus/pci/devices/0000:81:00.0/driver_override = vfio-pci\n",
        );
        assert_eq!(c[0].action, ClaimAction::Driver("vfio-pci".into()));
    }
}
