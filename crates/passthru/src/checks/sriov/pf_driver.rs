//! `sriov.pf-unbound`: the PF of enabled VFs has a driver (it runs the VFs' mailbox,
//! link and MAC/VLAN configuration).

use crate::checks::registry::Check;
use crate::checks::sriov::related_pfs;
use crate::checks::{Context, Finding, Section, Severity};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "the PF of enabled VFs has a driver",
    run: check,
};

/// Stable id.
pub const ID: &str = "sriov.pf-unbound";
const LABEL: &str = "PF driver";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    related_pfs(ctx)
        .into_iter()
        .map(|pf| {
            let n = pf.sriov.as_ref().map(|s| s.num_vfs).unwrap_or(0);
            let f = |sev, msg: String| Finding::new(ID, Section::Devices, sev, LABEL, msg).device(pf.address);
            match pf.driver.as_deref() {
                Some("vfio-pci") => f(Severity::Info, format!("PF is on vfio-pci with {n} VFs (user-space PF driver, e.g. DPDK)")),
                Some(drv) => f(Severity::Pass, format!("PF driver {drv}, {n} VFs")),
                None => f(Severity::Warn, format!("{n} VFs exist on a PF with no driver"))
                    .why("the PF driver relays the VFs' link state and applies MAC, VLAN, trust and spoof-check settings (`ip link set PF vf N ...`); without it VFs often have no link and libvirt cannot configure them")
                    .fix(format!("echo {} > /sys/bus/pci/drivers_probe", pf.address)),
            }
        })
        .collect()
}
