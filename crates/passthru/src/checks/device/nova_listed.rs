//! `device.not-in-nova`: on a nova compute host (nova.conf present), a device meant
//! for passthrough is matched by some `[pci] device_spec`, or nova will never offer it.

use crate::checks::nova_match::NovaSpecs;
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "on a nova host, the device is matched by a device_spec",
    run: check,
};

/// Stable id.
pub const ID: &str = "device.not-in-nova";
const LABEL: &str = "nova device_spec";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    let Some(nova) = &h.system.nova else {
        return Vec::new();
    };
    let specs = NovaSpecs::of(h);
    ctx.targets
        .iter()
        .map(|d| {
            match specs.first_match(h, d) {
                Some(line) => Finding::new(ID, Section::Devices, Severity::Pass, LABEL, format!("matched by /{}:{line}", nova.path)),
                None => Finding::new(ID, Section::Devices, Severity::Warn, LABEL, format!("no device_spec in /{} matches it: nova will not offer it to guests", nova.path))
                    .why("nova only offers devices its [pci] device_spec lists; flavors asking for this one fail with \"No valid host was found\"")
                    .fix(format!(
                        "Add to the [pci] section of /{}:\ndevice_spec = {{\"address\": \"{}\"}}\nthen: systemctl restart nova-compute",
                        nova.path, d.address
                    )),
            }
            .device(d.address)
        })
        .collect()
}
