//! `device.assigned-twice`: which libvirt domain holds the device (the last link of
//! `why`), and whether more than one domain is given it (only one can start).

use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::model::PciDevice;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "at most one libvirt domain is given the device",
    run: check,
};

/// Stable id.
pub const ID: &str = "device.assigned-twice";
const LABEL: &str = "use by a guest";

fn one(ctx: &Context, d: &PciDevice) -> Option<Finding> {
    let domains = ctx.host.system.libvirt_domains.as_ref()?;
    let holders: Vec<String> = domains
        .iter()
        .filter(|g| g.devices.contains(&d.address))
        .map(|g| {
            format!(
                "{} ({})",
                g.name,
                if g.running { "running" } else { "shut off" }
            )
        })
        .collect();
    let f =
        |sev, msg: String| Finding::new(ID, Section::Devices, sev, LABEL, msg).device(d.address);
    Some(match holders.len() {
        0 => f(Severity::Pass, "no libvirt domain on this host is given it".into()),
        1 => f(Severity::Pass, format!("given to domain {}", holders[0])),
        _ => f(
            Severity::Warn,
            format!("given to {} domains: {}", holders.len(), holders.join(", ")),
        )
        .why("libvirt refuses to start a second domain with a device another one holds (\"PCI device ... is in use by driver QEMU, domain ...\")")
        .fix(format!(
            "Keep it in one domain: `virsh edit NAME` on the others and remove the <hostdev> with bus='0x{:02x}' slot='0x{:02x}' function='0x{:x}', or give them another device",
            d.address.bus, d.address.slot, d.address.function
        )),
    })
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    ctx.targets.iter().filter_map(|d| one(ctx, d)).collect()
}
