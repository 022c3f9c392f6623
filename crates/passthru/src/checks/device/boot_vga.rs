//! `device.boot-vga`: a GPU meant for passthrough is not the boot VGA device (the one
//! the firmware initialised and the host console runs on, sysfs `boot_vga`). The rule
//! [`drives_console`] and its words [`CONSOLE`] are shared with `bind` (which refuses
//! it without --force) and `render libvirt` (which warns).

use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::model::PciDevice;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "a GPU for passthrough is not the one driving the host console",
    run: check,
};

/// Stable id.
pub const ID: &str = "device.boot-vga";
const LABEL: &str = "host console (boot VGA)";

/// What taking the boot VGA device from the host means, in one sentence.
pub const CONSOLE: &str = "this GPU drives the host console (boot_vga): given to vfio-pci, the host loses its display and console login, and the VGA state the firmware left often keeps the guest from initialising it";

/// Whether the device is the boot VGA device (sysfs `boot_vga` is 1).
pub fn drives_console(d: &PciDevice) -> bool {
    d.boot_vga == Some(true)
}

fn one(d: &PciDevice) -> Option<Finding> {
    let boot = d.boot_vga?;
    let f =
        |sev, msg: String| Finding::new(ID, Section::Devices, sev, LABEL, msg).device(d.address);
    Some(if boot {
        f(Severity::Warn, CONSOLE.to_string())
            .why("the host console and early boot messages go to the boot VGA device; once vfio-pci takes it, a host without another display is reachable only over the network")
            .fix("Put the host console on another GPU (or the onboard BMC/VGA) in the firmware setup and move the cards so another one is primary; otherwise keep SSH access and pass video=efifb:off (or disable the framebuffer driver) before binding it")
    } else {
        f(
            Severity::Pass,
            "not the boot VGA device: the host console is elsewhere".into(),
        )
    })
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    ctx.targets.iter().filter_map(|d| one(d)).collect()
}
