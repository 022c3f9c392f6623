//! Reads the other owners of devices ([`OwnerFacts`]) from a root: one file per kind
//! of owner. Parsers are plain functions over text, tested on strings; the `read`
//! functions only list directories and fetch text through the [`Root`].
//!
//! What passthru installs itself (`etc/modprobe.d/passthru.conf`,
//! `passthru.service`) is not another owner and is skipped.

pub mod driverctl;
pub mod networkd;
pub mod networkmanager;
pub mod os_net_config;
pub mod scripts;
pub mod sriov_operator;
pub mod udev;

use crate::host::owners::{ClaimAction, OwnerFacts, Target};
use crate::host::root::Root;
use crate::pci::PciAddress;

/// Reads every owner. modprobe.d options and `vfio-pci.ids=` on the command line are
/// read by their own sources (system facts); the checks take them from there. Never
/// fails: unreadable files are skipped.
pub fn read_owners(root: &Root) -> OwnerFacts {
    let mut claims = Vec::new();
    claims.extend(networkmanager::read(root));
    claims.extend(networkd::read(root));
    claims.extend(driverctl::read(root));
    claims.extend(udev::read(root));
    claims.extend(scripts::read(root));
    claims.extend(os_net_config::read(root));
    claims.extend(sriov_operator::read(root));
    OwnerFacts {
        collected: true,
        claims,
        host_file: root.read_string(crate::change::persist::HOST_FILE).ok(),
    }
}

/// Files with one of `exts` in `dirs`, a name in an earlier directory hiding the same
/// name in a later one (systemd's and udev's rule), in name order: `(path, text)`.
pub fn config_files(root: &Root, dirs: &[&str], exts: &[&str]) -> Vec<(String, String)> {
    let mut chosen: std::collections::BTreeMap<String, String> = Default::default();
    for dir in dirs {
        let Ok(names) = root.list(dir) else { continue };
        for n in names
            .into_iter()
            .filter(|n| exts.is_empty() || exts.iter().any(|e| n.ends_with(e)))
        {
            chosen
                .entry(n.clone())
                .or_insert_with(|| format!("{dir}/{n}"));
        }
    }
    chosen
        .into_values()
        .filter_map(|p| root.read_string(&p).ok().map(|t| (p, t)))
        .collect()
}

/// The device directory a sysfs path names: `class/net/IF/device/...` gives the
/// interface, `bus/pci/devices/ADDR/...` or `devices/pci.../ADDR/...` the address.
fn device_of(parts: &[&str]) -> Option<Target> {
    match parts {
        ["class", "net", ifname, "device", ..] => Some(Target::Interface(ifname.to_string())),
        ["bus", "pci", "devices", addr, ..] => PciAddress::parse(addr).ok().map(Target::Address),
        ["devices", rest @ ..] => rest
            .iter()
            .rev()
            .find_map(|c| PciAddress::parse(c).ok().filter(|_| c.contains(':')))
            .map(Target::Address),
        _ => None,
    }
}

/// What writing `value` to a sysfs `path` does, when it is an SR-IOV or binding
/// attribute: `sriov_numvfs` (a VF count), `driver_override` (a driver), a driver's
/// `new_id` (every device with the ids) or `bind` (one device).
pub fn sysfs_write(path: &str, value: &str) -> Option<(Vec<Target>, ClaimAction)> {
    let p = path.trim().trim_start_matches('/');
    let p = p.strip_prefix("sys/").unwrap_or(p);
    let parts: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
    let attr = *parts.last()?;
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    match attr {
        "sriov_numvfs" => {
            let n = value.parse().ok()?;
            Some((vec![device_of(&parts)?], ClaimAction::NumVfs(n)))
        }
        "driver_override" if !value.is_empty() && value != "\\n" => Some((
            vec![device_of(&parts)?],
            ClaimAction::Driver(value.to_string()),
        )),
        "new_id" | "bind" => {
            let [.., "drivers", driver, _] = parts.as_slice() else {
                return None;
            };
            let target = if attr == "bind" {
                Target::Address(PciAddress::parse(value).ok()?)
            } else {
                let mut w = value.split_whitespace();
                let v = u16::from_str_radix(w.next()?, 16).ok()?;
                let d = u16::from_str_radix(w.next()?, 16).ok()?;
                Target::Ids(v, d)
            };
            Some((vec![target], ClaimAction::Driver(driver.to_string())))
        }
        _ => None,
    }
}

/// Every `echo VALUE > /sys/PATH` (or `printf`, `tee`) in a line of shell: the
/// attribute writes it performs, with `%k`-style placeholders left in the path.
pub fn shell_writes(line: &str) -> Vec<(String, String)> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r#"(?:echo(?:\s+-[ne]+)?|printf)\s+(?:"([^"]*)"|'([^']*)'|([^"'\s;|&>]+))\s*(?:>>?|\|\s*(?:sudo\s+)?tee(?:\s+-a)?)\s*["']?(/sys/[^"'\s;|&)]+)"#,
        )
        .expect("static regex")
    });
    let code = line.split(" #").next().unwrap_or(line);
    if code.trim_start().starts_with('#') {
        return Vec::new();
    }
    re.captures_iter(code)
        .map(|c| {
            let value = c
                .get(1)
                .or(c.get(2))
                .or(c.get(3))
                .map_or("", |m| m.as_str());
            (c[4].to_string(), value.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_writes_in_shell() {
        let w = shell_writes("echo 4 > /sys/class/net/eno1/device/sriov_numvfs");
        assert_eq!(
            w,
            vec![(
                "/sys/class/net/eno1/device/sriov_numvfs".to_string(),
                "4".to_string()
            )]
        );
        assert_eq!(
            sysfs_write(&w[0].0, &w[0].1),
            Some((
                vec![Target::Interface("eno1".into())],
                ClaimAction::NumVfs(4)
            ))
        );
        let w = shell_writes(
            "/bin/sh -c 'echo vfio-pci > /sys/bus/pci/devices/0000:81:00.0/driver_override; echo 0000:81:00.0 > /sys/bus/pci/drivers/vfio-pci/bind'",
        );
        assert_eq!(w.len(), 2);
        let a = PciAddress::parse("0000:81:00.0").unwrap();
        assert_eq!(
            sysfs_write(&w[0].0, &w[0].1),
            Some((
                vec![Target::Address(a)],
                ClaimAction::Driver("vfio-pci".into())
            ))
        );
        assert_eq!(
            sysfs_write(&w[1].0, &w[1].1),
            Some((
                vec![Target::Address(a)],
                ClaimAction::Driver("vfio-pci".into())
            ))
        );
        let w = shell_writes("echo \"8086 1520\" | tee /sys/bus/pci/drivers/vfio-pci/new_id");
        assert_eq!(
            sysfs_write(&w[0].0, &w[0].1),
            Some((
                vec![Target::Ids(0x8086, 0x1520)],
                ClaimAction::Driver("vfio-pci".into())
            ))
        );
        let w = shell_writes("echo 8086 > /sys/bus/pci/drivers/vfio-pci/new_id");
        assert_eq!(sysfs_write(&w[0].0, &w[0].1), None, "one id is not a pair");
        assert_eq!(
            sysfs_write("/sys/bus/pci/drivers/vfio-pci/new_id", "8086 1520"),
            Some((
                vec![Target::Ids(0x8086, 0x1520)],
                ClaimAction::Driver("vfio-pci".into())
            ))
        );
        assert!(shell_writes("# echo 4 > /sys/class/net/eno1/device/sriov_numvfs").is_empty());
        assert_eq!(
            sysfs_write(
                "devices/pci0000:00/0000:00:02.0/0000:02:00.0/sriov_numvfs",
                "8"
            ),
            Some((
                vec![Target::Address(PciAddress::parse("0000:02:00.0").unwrap())],
                ClaimAction::NumVfs(8)
            ))
        );
    }
}
