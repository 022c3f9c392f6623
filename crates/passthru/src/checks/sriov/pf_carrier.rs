//! `sriov.pf-no-carrier`: a PF with VFs enabled has its link up with carrier (VFs
//! share the PF's port: no link on the PF, no link in any guest).

use crate::checks::registry::Check;
use crate::checks::sriov::related_pfs;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::model::PciDevice;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "a PF with VFs has link and carrier",
    run: check,
};

/// Stable id.
pub const ID: &str = "sriov.pf-no-carrier";
const LABEL: &str = "PF link";

/// How a PF's link stands for its VFs, one finding per interface: up with carrier
/// (pass), administratively down, or without carrier (warn). The one rule doctor and
/// `verify` (for a guest's VF) apply.
pub fn pf_link(pf: &PciDevice) -> Vec<Finding> {
    let n = pf.sriov.as_ref().map(|s| s.num_vfs).unwrap_or(0);
    let mut out = Vec::new();
    for i in &pf.interfaces {
        let f = |sev, msg: String| {
            Finding::new(ID, Section::Devices, sev, LABEL, msg).device(pf.address)
        };
        let state = i.operstate.as_deref().unwrap_or("unknown");
        let admin_down = i.carrier.is_none() || state == "down" && i.carrier != Some(true);
        out.push(if i.carrier == Some(true) && state != "down" {
            f(Severity::Pass, format!("{} is {state} with carrier, {n} VFs", i.name))
        } else if admin_down && i.carrier.is_none() {
            f(Severity::Warn, format!("{} is administratively down with {n} VFs enabled", i.name))
                .why("VFs share the PF's port: while the PF is down, every VF (and the guest using it) has no link")
                .fix(format!("ip link set dev {} up   # and set it up in the network configuration so it stays up", i.name))
        } else {
            f(Severity::Warn, format!("{} has no carrier (operstate {state}) with {n} VFs enabled", i.name))
                .why("VFs share the PF's port: with no carrier on the PF, every VF (and the guest using it) has no link")
                .fix(format!("Check the cable or transceiver and the switch port of {} (`ethtool {}` should say 'Link detected: yes')", i.name, i.name))
        });
    }
    out
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    related_pfs(ctx).into_iter().flat_map(pf_link).collect()
}
