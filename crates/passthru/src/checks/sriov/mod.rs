//! SR-IOV checks: PFs whose VFs are meant for guests.

pub mod pf_carrier;
pub mod pf_driver;
pub mod vfs_missing;

use crate::checks::{nova_match, Context, Selection};
use crate::host::model::{Host, PciDevice};
use crate::host::sources::system::modprobe::option_values;

/// PFs with VFs enabled that matter here: targets that are PFs and the PFs of target
/// VFs; with an automatic selection, every PF with VFs enabled (enabling VFs is intent).
pub fn related_pfs<'h>(ctx: &Context<'h>) -> Vec<&'h PciDevice> {
    let h = ctx.host;
    let mut out: Vec<&PciDevice> = Vec::new();
    for d in &ctx.targets {
        if d.is_pf() {
            out.push(d);
        }
        if let Some(pf) = d.physfn.and_then(|a| h.device(&a)) {
            out.push(pf);
        }
    }
    if !matches!(ctx.selection, Selection::CommandLine) {
        out.extend(h.devices.iter().filter(|d| d.is_pf()));
    }
    out.retain(|d| d.sriov.as_ref().is_some_and(|s| s.num_vfs > 0));
    out.sort_by_key(|d| d.address);
    out.dedup_by_key(|d| d.address);
    out
}

/// What asks for a PF's VFs: nova device_spec entries matching its VF ids,
/// `vfio-pci ids=` naming its VF id, or `options DRIVER max_vfs=N` for its driver.
/// Each with where it is.
pub fn vf_requests(host: &Host, pf: &PciDevice) -> Vec<String> {
    let Some(s) = &pf.sriov else {
        return Vec::new();
    };
    let Some(vf_id) = s.vf_device_id else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // A would-be VF 0 where offset/stride put it, for address matching.
    let mut vf = pf.clone();
    vf.device_id = vf_id;
    vf.sriov = None;
    vf.netdevs.clear();
    vf.physfn = Some(pf.address);
    if let Some(a) = s.offset.and_then(|o| {
        crate::pci::PciAddress::from_routing_id(pf.address.domain, pf.address.routing_id() + o)
    }) {
        vf.address = a;
    }
    if let Some(nova) = &host.system.nova {
        let specs = nova_match::NovaSpecs::of(host);
        for (v, _) in &specs.values {
            let line = v.loc.line;
            if specs.value_matches(line, host, &vf) {
                out.push(format!("nova device_spec (/{}:{line})", nova.path));
            }
        }
    }
    let want = format!("{}:{}", pf.vendor_id, vf_id);
    for (d, ids) in option_values(&host.system.modprobe, "vfio_pci", "ids") {
        if ids
            .split(',')
            .any(|i| i.trim().to_ascii_lowercase().starts_with(&want))
        {
            out.push(format!("vfio-pci ids= (/{})", d.location()));
        }
    }
    if let Some(drv) = &pf.driver {
        for (d, n) in option_values(&host.system.modprobe, drv, "max_vfs") {
            if n.split(',')
                .any(|x| x.trim().parse::<u32>().is_ok_and(|v| v > 0))
            {
                out.push(format!("{drv} max_vfs={n} (/{})", d.location()));
            }
        }
    }
    out
}
