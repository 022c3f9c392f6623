//! `sriov.vfs-missing`: VFs that configuration asks for exist: a PF whose VFs are
//! requested (nova device_spec, vfio-pci ids=, max_vfs=) has `sriov_numvfs` > 0.

use crate::checks::registry::Check;
use crate::checks::sriov::vf_requests;
use crate::checks::{Context, Finding, Section, Severity};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "VFs that configuration asks for exist (sriov_numvfs > 0)",
    run: check,
};

/// Stable id.
pub const ID: &str = "sriov.vfs-missing";
const LABEL: &str = "VFs requested";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    let mut out = Vec::new();
    for pf in h.devices.iter().filter(|d| d.is_pf()) {
        let Some(s) = &pf.sriov else { continue };
        let requests = vf_requests(h, pf);
        if requests.is_empty() {
            continue;
        }
        let vf_id = s.vf_device_id.map(|v| v.to_string()).unwrap_or_default();
        let f = |sev, msg: String| {
            Finding::new(ID, Section::Devices, sev, LABEL, msg).device(pf.address)
        };
        if s.num_vfs > 0 {
            out.push(f(
                Severity::Pass,
                format!(
                    "{} of {} VFs enabled, asked for by {}",
                    s.num_vfs,
                    s.total_vfs,
                    requests.join(", ")
                ),
            ));
            continue;
        }
        let addr = pf.address;
        let mut fix = String::new();
        if pf.driver.is_none() {
            fix.push_str(&format!("echo {addr} > /sys/bus/pci/drivers_probe   # the PF needs its driver to create VFs\n"));
        }
        fix.push_str(&format!(
            "echo {} > /sys/bus/pci/devices/{addr}/sriov_numvfs\n# at every boot: passthru vfs {addr} {} (or a udev rule / systemd unit writing sriov_numvfs)",
            s.total_vfs, s.total_vfs
        ));
        out.push(
            f(
                Severity::Fail,
                format!(
                    "VFs [{}:{vf_id}] are asked for by {} but sriov_numvfs is 0 (of {} possible)",
                    pf.vendor_id,
                    requests.join(", "),
                    s.total_vfs
                ),
            )
            .why("no VF exists, so nothing matches what the configuration expects: nova reports no devices (\"No valid host was found\") and vfio-pci ids= binds nothing")
            .fix(fix),
        );
    }
    out
}
