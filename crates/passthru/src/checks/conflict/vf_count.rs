//! `conflict.vf-count`: something other than passthru sets a PF's VF count at boot
//! (NetworkManager, networkd, udev, a module option, rc.local, sysfsutils, a unit,
//! os-net-config, the SR-IOV operator), and whether it agrees with the installed
//! host file (or, without one, with the count the PF has now).

use crate::checks::conflict::{claims, devices, fix, installed_wants, judge};
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::owners::ClaimAction;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Owners,
    summary: "no other owner sets a PF's VF count differently at boot",
    run: check,
};

/// Stable id.
pub const ID: &str = "conflict.vf-count";
const LABEL: &str = "other owners of the VF count";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    if !h.system.owners.collected {
        return Vec::new();
    }
    let wants = installed_wants(h);
    let mut out = Vec::new();
    for c in claims(h).iter().filter(|c| {
        matches!(
            c.action,
            ClaimAction::NumVfs(_) | ClaimAction::VfAttributes(_)
        )
    }) {
        for d in devices(h, c) {
            let asked = wants.as_ref().and_then(|w| {
                w.vfs
                    .get(&d.address)
                    .map(|n| (w.source.as_str(), ClaimAction::NumVfs(*n)))
            });
            let j = judge(c, d, asked.as_ref().map(|(s, a)| (*s, a)));
            let mut f =
                Finding::new(ID, Section::Owners, j.severity, LABEL, j.message).device(d.address);
            if j.severity > Severity::Info {
                f = f
                    .why(if j.undoes {
                        "two owners write sriov_numvfs at boot: whichever runs last wins, and the VFs (with the guests' devices on them) are destroyed and created again"
                    } else {
                        "passthru's VF count (`passthru vfs`, `apply`) is runtime state that this owner puts back; NetworkManager also sets 0 VFs when it deactivates the connection"
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
            "nothing else sets VF counts (NetworkManager, networkd, udev, modprobe, boot scripts, units, os-net-config, SR-IOV operator)",
        ));
    }
    out
}
