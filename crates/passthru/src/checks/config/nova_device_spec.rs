//! `config.nova-spec-unmatched`: every nova.conf device_spec entry matches a device
//! on this host, decided by nova's own rules ([`crate::nova`] through
//! [`nova_match`](crate::checks::nova_match)).

use crate::checks::nova_match::NovaSpecs;
use crate::checks::registry::Check;
use crate::checks::sriov::vf_requests;
use crate::checks::{Context, Finding, Section, Severity};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Configuration,
    summary: "every nova.conf device_spec matches a device",
    run: check,
};

/// Stable id.
pub const ID: &str = "config.nova-spec-unmatched";
const LABEL: &str = "nova device_spec";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    if h.system.nova.is_none() {
        return Vec::new();
    }
    let specs = NovaSpecs::of(h);
    let mut out = Vec::new();
    for (v, parsed) in &specs.values {
        let place = v.loc.to_string();
        let one_line = v.value.replace('\n', " ");
        if parsed.is_none() {
            // A value nova rejects stops nova-compute: config.nova-fatal says so,
            // with nova's message (one decision, `nova::check::Report::fatal`).
            continue;
        }
        let n = h
            .devices
            .iter()
            .filter(|d| !d.is_bridge() && specs.value_matches(v.loc.line, h, d))
            .count();
        if n > 0 {
            out.push(Finding::new(
                ID,
                Section::Configuration,
                Severity::Pass,
                LABEL,
                format!("{place} matches {n} device(s)"),
            ));
            continue;
        }
        // Name the PF whose missing VFs this spec is waiting for, when there is one.
        let waiting: Vec<String> = h
            .devices
            .iter()
            .filter(|pf| pf.sriov.as_ref().is_some_and(|s| s.num_vfs == 0))
            .filter(|pf| vf_requests(h, pf).iter().any(|r| r.contains(&place)))
            .map(|pf| pf.address.to_string())
            .collect();
        let (msg, fix) = if waiting.is_empty() {
            (
                format!("{place}: {one_line} matches no device on this host"),
                format!("Edit {place} so vendor_id/product_id/address name a device that `passthru ls` shows, then `systemctl restart nova-compute`"),
            )
        } else {
            (
                format!("{place}: {one_line} matches no device: it names the VFs of {}, which has sriov_numvfs 0", waiting.join(", ")),
                "Create the VFs (see sriov.vfs-missing), then `systemctl restart nova-compute`".to_string(),
            )
        };
        out.push(
            Finding::new(ID, Section::Configuration, Severity::Warn, LABEL, msg)
                .why("nova exposes nothing for this entry: flavors asking for it fail with \"No valid host was found\"")
                .fix(fix),
        );
    }
    out
}
