//! `device.default-route`: the device does not carry the host's default route
//! (taking it from the host cuts the host off the network, often the SSH session).

use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::model::PciDevice;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "the device does not carry the default route",
    run: check,
};

/// Stable id.
pub const ID: &str = "device.default-route";
const LABEL: &str = "default route";

fn one(ctx: &Context, d: &PciDevice) -> Option<Finding> {
    if d.netdevs.is_empty() || !ctx.host.system.collected {
        return None;
    }
    let routes = &ctx.host.system.default_route_interfaces;
    let carrying: Vec<&String> = d.netdevs.iter().filter(|n| routes.contains(n)).collect();
    let f =
        |sev, msg: String| Finding::new(ID, Section::Devices, sev, LABEL, msg).device(d.address);
    Some(if carrying.is_empty() {
        f(
            Severity::Pass,
            format!("{} carries no default route", d.netdevs.join(", ")),
        )
    } else {
        let ifs: Vec<&str> = carrying.iter().map(|s| s.as_str()).collect();
        f(
            Severity::Fail,
            format!("{} carries the host's default route", ifs.join(", ")),
        )
        .why("unbinding it from its host driver takes the host off the network (and the SSH session with it)")
        .fix(format!(
            "Move the host's default route to another interface first (e.g. `ip route replace default via GW dev OTHER` and the same in the network configuration), or pass a different device (a VF of {} instead of the PF)",
            ifs.join(", ")
        ))
    })
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    ctx.targets.iter().filter_map(|d| one(ctx, d)).collect()
}
