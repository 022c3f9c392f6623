//! `config.vfio-ids-absent`: every id in `vfio-pci ids=` (modprobe.d, the running
//! command line, the next boot's) names a device present on the host.

use crate::checks::args;
use crate::checks::config::initramfs_cmd;
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::model::{Host, PciDevice};
use crate::host::sources::system::modprobe::option_values;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Configuration,
    summary: "vfio-pci ids= names only devices present on the host",
    run: check,
};

/// Stable id.
pub const ID: &str = "config.vfio-ids-absent";
const LABEL: &str = "vfio-pci ids=";

/// One `ids=` entry: `vendor:device[:subvendor:subdevice[:class[:class_mask]]]`,
/// hex, `ffffffff` meaning any (vfio-pci's own parsing).
pub fn id_matches(entry: &str, d: &PciDevice) -> Option<bool> {
    let f: Vec<&str> = entry.trim().split(':').collect();
    if f.len() < 2 {
        return None;
    }
    let num = |i: usize| -> Option<Option<u32>> {
        match f.get(i) {
            None => Some(None),
            Some(s) => {
                let v = u32::from_str_radix(s, 16).ok()?;
                Some((v != 0xffff_ffff).then_some(v))
            }
        }
    };
    let eq = |want: Option<u32>, have: Option<u32>| want.is_none_or(|w| have == Some(w));
    let class_ok = match (num(4)?, num(5)?) {
        (Some(c), m) => d.class.0 & m.unwrap_or(0xff_ffff) == c & m.unwrap_or(0xff_ffff),
        (None, _) => true,
    };
    Some(
        eq(num(0)?, Some(d.vendor_id.0 as u32))
            && eq(num(1)?, Some(d.device_id.0 as u32))
            && eq(num(2)?, d.subsystem_vendor_id.map(|v| v.0 as u32))
            && eq(num(3)?, d.subsystem_device_id.map(|v| v.0 as u32))
            && class_ok,
    )
}

/// Every `vfio-pci ids=` value with where it is set: `(where, file to edit or None, line, ids)`.
pub fn id_settings(host: &Host) -> Vec<(String, Option<String>, usize, String)> {
    let mut out: Vec<(String, Option<String>, usize, String)> =
        option_values(&host.system.modprobe, "vfio_pci", "ids")
            .into_iter()
            .map(|(d, v)| {
                (
                    format!("/{}", d.location()),
                    Some(d.file.clone()),
                    d.line,
                    v,
                )
            })
            .collect();
    if let Some(v) = args::value(args::running(host), "vfio_pci.ids") {
        out.push(("the kernel command line".into(), None, 0, v));
    }
    for f in &host.system.boot.files {
        if let Some(v) = args::value(&f.args, "vfio_pci.ids") {
            let line = if f.line == 0 {
                String::new()
            } else {
                format!(":{}", f.line)
            };
            out.push((format!("/{}{line}", f.path), None, f.line, v));
        }
    }
    out
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    let settings = id_settings(h);
    if settings.is_empty() {
        if !h.system.collected {
            return Vec::new();
        }
        return vec![Finding::new(
            ID,
            Section::Configuration,
            Severity::Pass,
            LABEL,
            "no vfio-pci ids= configured",
        )];
    }
    let mut out = Vec::new();
    for (place, file, line, ids) in settings {
        let absent: Vec<&str> = ids
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .filter(|i| !h.devices.iter().any(|d| id_matches(i, d) == Some(true)))
            .collect();
        if absent.is_empty() {
            out.push(Finding::new(
                ID,
                Section::Configuration,
                Severity::Pass,
                LABEL,
                format!("{place}: ids={ids} all present"),
            ));
            continue;
        }
        let fix = match &file {
            Some(f) => {
                let mut cmds: Vec<String> = absent
                    .iter()
                    .map(|a| format!("sed -i '{line}s/{a},\\?//; {line}s/,{a}\\b//' /{f}"))
                    .collect();
                cmds.push(initramfs_cmd(h).to_string());
                cmds.join("\n")
            }
            None => format!(
                "Remove {} from vfio-pci.ids= in the kernel command line ({place}) and reboot",
                absent.join(",")
            ),
        };
        out.push(
            Finding::new(
                ID,
                Section::Configuration,
                Severity::Warn,
                LABEL,
                format!("{place}: ids {} match no device on this host", absent.join(", ")),
            )
            .why("a stale or mistyped id binds nothing: the device meant for guests stays on its host driver (or the card moved and a different one has its place)")
            .fix(fix),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::PciAddress;

    #[test]
    fn vfio_pci_id_syntax() {
        let mut d = PciDevice::new(
            PciAddress::parse("81:00.0").unwrap(),
            0x10de,
            0x1b80,
            0x030000,
        );
        d.subsystem_vendor_id = Some(crate::pci::VendorId(0x1458));
        assert_eq!(id_matches("10de:1b80", &d), Some(true));
        assert_eq!(id_matches("10DE:1B80", &d), Some(true));
        assert_eq!(id_matches("10de:ffffffff", &d), Some(true));
        assert_eq!(id_matches("10de:1b81", &d), Some(false));
        assert_eq!(id_matches("10de:1b80:1458:ffffffff", &d), Some(true));
        assert_eq!(
            id_matches("ffffffff:ffffffff:ffffffff:ffffffff:030000:ff0000", &d),
            Some(true)
        );
        assert_eq!(
            id_matches("ffffffff:ffffffff:ffffffff:ffffffff:020000:ff0000", &d),
            Some(false)
        );
        assert_eq!(id_matches("zz", &d), None);
    }
}
