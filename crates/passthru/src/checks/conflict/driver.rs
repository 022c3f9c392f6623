//! `conflict.driver`: something other than passthru binds a device to a driver at
//! boot (driverctl, a udev rule or unit writing `driver_override`/`bind`/`new_id`,
//! `vfio-pci ids=` in modprobe.d or on the command line, the SR-IOV operator's
//! vfio-pci VF groups), and whether it agrees with the installed host file (or,
//! without one, with the driver the device has now).

use crate::checks::conflict::{claims, devices, fix, installed_wants, judge};
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::owners::ClaimAction;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Owners,
    summary: "no other owner binds a device to a different driver at boot",
    run: check,
};

/// Stable id.
pub const ID: &str = "conflict.driver";
const LABEL: &str = "other owners of the driver";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    if !h.system.owners.collected {
        return Vec::new();
    }
    let wants = installed_wants(h);
    let mut out = Vec::new();
    for c in claims(h)
        .iter()
        .filter(|c| matches!(c.action, ClaimAction::Driver(_)))
    {
        for d in devices(h, c) {
            // The host file speaks for the devices it binds; others stay unasked.
            let asked = wants.as_ref().and_then(|w| {
                w.vfio
                    .contains(&d.address)
                    .then(|| (w.source.as_str(), ClaimAction::Driver("vfio-pci".into())))
            });
            let j = judge(c, d, asked.as_ref().map(|(s, a)| (*s, a)));
            let mut f =
                Finding::new(ID, Section::Owners, j.severity, LABEL, j.message).device(d.address);
            if j.severity > Severity::Info {
                f = f
                    .why(if j.undoes {
                        "two owners bind the device at boot: whichever runs last wins, and a guest that expects vfio-pci fails to start (or the host loses the device)"
                    } else {
                        "a driver set with `passthru bind` is runtime state: this owner puts its own back at the next boot"
                    })
                    .fix(fix(c, d));
            }
            out.push(f);
        }
    }
    if out.is_empty() {
        out.push(Finding::new(
            ID,
            Section::Owners,
            Severity::Pass,
            LABEL,
            "nothing else binds drivers (driverctl, udev, vfio-pci ids, boot scripts, units, SR-IOV operator)",
        ));
    }
    out
}
