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
    let s = &ctx.host.system;
    let f =
        |sev, msg: String| Finding::new(ID, Section::Devices, sev, LABEL, msg).device(d.address);
    let Some(routes) = &s.default_route_interfaces else {
        return Some(f(
            Severity::Info,
            format!(
                "not known: whether {} carries the default route (this root has no proc/net/route or proc/net/ipv6_route)",
                d.netdevs.join(", ")
            ),
        ));
    };
    // Its own interface carries the route, or sits under one that does (a bridge
    // port, a bond slave, a VLAN's parent).
    let carrying: Vec<String> = d
        .netdevs
        .iter()
        .filter_map(|n| {
            if routes.contains(n) {
                return Some(n.clone());
            }
            s.default_route_lowers
                .iter()
                .find(|l| l.interface == *n)
                .map(|l| format!("{n} (through {})", l.via))
        })
        .collect();
    Some(if carrying.is_empty() {
        f(
            Severity::Pass,
            format!("{} carries no default route", d.netdevs.join(", ")),
        )
    } else {
        let ifs: Vec<&str> = carrying.iter().map(|s| s.as_str()).collect();
        let own: Vec<&str> = d.netdevs.iter().map(|s| s.as_str()).collect();
        f(
            Severity::Fail,
            format!("{} carries the host's default route", ifs.join(", ")),
        )
        .why("unbinding it from its host driver takes the host off the network (and the SSH session with it)")
        .fix(format!(
            "Move the host's default route to another interface first (e.g. `ip route replace default via GW dev OTHER` and the same in the network configuration), or pass a different device (a VF of {} instead of the PF)",
            own.join(", ")
        ))
    })
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    ctx.targets.iter().filter_map(|d| one(ctx, d)).collect()
}
