//! Facts that need every block: vendor names, VF <-> PF links, upstream bridges.

use super::block::Parsed;
use crate::host::model::UnreadIds;
use crate::pci::{PciAddress, PciIds};
use std::collections::HashMap;

/// lspci's placeholder when pci.ids knows the vendor but not the device.
const UNNAMED: &str = "Device";

/// Splits `Vendor Device-name` texts into vendor and device names.
///
/// lspci prints both names run together, so the split point must be learned: from
/// `Vendor Device [vvvv:dddd]` lines (pci.ids knew the vendor only) anywhere in the same
/// text, or from a pci.ids database when the caller has one. Without either the whole
/// text stays the device name and the vendor name stays unknown.
pub(super) fn split_names(parsed: &mut [Parsed], ids: Option<&PciIds>) {
    let mut vendors: HashMap<u16, String> = HashMap::new();
    let mut learn = |vid: u16, raw: Option<&str>| {
        if let Some(v) = raw.and_then(|r| r.strip_suffix(UNNAMED)) {
            let v = v.trim_end();
            if !v.is_empty() {
                vendors.entry(vid).or_insert_with(|| v.to_string());
            }
        }
    };
    for p in parsed.iter() {
        learn(p.device.vendor_id.0, p.raw_names.as_deref());
        if let Some(sv) = p.device.subsystem_vendor_id {
            learn(sv.0, p.raw_subsystem.as_deref());
        }
    }
    let vendor_of = |vid: u16, raw: &str| -> Option<String> {
        let from_text = vendors.get(&vid).map(String::as_str);
        let from_ids = ids.and_then(|db| db.vendor(vid));
        [from_text, from_ids]
            .into_iter()
            .flatten()
            .find(|v| raw == *v || raw.starts_with(&format!("{v} ")))
            .map(str::to_string)
    };
    for p in parsed.iter_mut() {
        let d = &mut p.device;
        if let Some(raw) = p.raw_names.as_deref() {
            let vendor = vendor_of(d.vendor_id.0, raw);
            d.names.device = rest_after(raw, vendor.as_deref());
            d.names.vendor = vendor;
        }
        if let (Some(raw), Some(sv)) = (p.raw_subsystem.as_deref(), d.subsystem_vendor_id) {
            let vendor = vendor_of(sv.0, raw);
            d.names.subsystem = rest_after(raw, vendor.as_deref());
        }
    }
}

fn rest_after(raw: &str, vendor: Option<&str>) -> Option<String> {
    let rest = match vendor {
        Some(v) => raw[v.len()..].trim(),
        None => raw.trim(),
    };
    (!rest.is_empty() && rest != UNNAMED).then(|| rest.to_string())
}

/// Links VFs to their PFs by SR-IOV routing-id arithmetic: VF `i` of a PF sits at
/// routing id `PF + offset + i * stride` in the PF's domain. A device there is taken as
/// the VF only when its vendor is the PF's and its device id is the PF's `VF Device ID`,
/// so an unrelated function at that address is never claimed. Returns warnings.
pub(super) fn link_vfs(parsed: &mut [Parsed]) -> Vec<String> {
    let mut warnings = Vec::new();
    let at: HashMap<PciAddress, usize> = parsed
        .iter()
        .enumerate()
        .map(|(i, p)| (p.device.address, i))
        .collect();
    let mut links: Vec<(usize, usize, u32)> = Vec::new(); // (pf, vf, index)
    for (pi, p) in parsed.iter().enumerate() {
        let pf = &p.device;
        let Some(s) = &pf.sriov else { continue };
        let (Some(offset), Some(stride)) = (s.offset, s.stride) else {
            continue;
        };
        for index in 0..s.total_vfs {
            // Checked: the numbers come from the text. Past the bus range there is no VF.
            let rid = index
                .checked_mul(stride)
                .and_then(|x| x.checked_add(offset))
                .and_then(|x| x.checked_add(pf.address.routing_id()));
            let Some(addr) = rid.and_then(|r| PciAddress::from_routing_id(pf.address.domain, r))
            else {
                break;
            };
            if let Some(&vi) = at.get(&addr) {
                let vf = &parsed[vi].device;
                // A VF whose title lspci cut short fits on the ids the text kept.
                let ids_fit = match vf.unread_ids {
                    None => {
                        vf.vendor_id == pf.vendor_id
                            && !matches!(s.vf_device_id, Some(id) if id != vf.device_id)
                    }
                    Some(UnreadIds::Device) => vf.vendor_id == pf.vendor_id,
                    Some(UnreadIds::VendorAndDevice) => true,
                };
                if vi != pi && ids_fit {
                    links.push((pi, vi, index));
                }
            }
            if stride == 0 {
                break;
            }
        }
    }
    let vf_ids: Vec<_> = parsed
        .iter()
        .map(|p| {
            let sr = p.device.sriov.as_ref().and_then(|s| s.vf_device_id);
            // A PF's own cut title may lose its device id, never the capability's.
            let vendor_known = p.device.unread_ids != Some(UnreadIds::VendorAndDevice);
            (p.device.vendor_id, sr.filter(|_| vendor_known))
        })
        .collect();
    for (pi, vi, index) in links {
        let pf_addr = parsed[pi].device.address;
        let num = parsed[pi].device.sriov.as_ref().map_or(0, |s| s.num_vfs);
        let vf = &mut parsed[vi].device;
        if let Some(other) = vf.physfn {
            warnings.push(format!(
                "{}: could be a VF of {other} or of {pf_addr}; kept {other}",
                vf.address
            ));
            continue;
        }
        vf.physfn = Some(pf_addr);
        vf.vf_index = Some(index);
        // The PF's capability names the VF's ids: what a cut title lost is known again.
        if vf.unread_ids.is_some() {
            if let Some(id) = vf_ids[pi].1 {
                vf.vendor_id = vf_ids[pi].0;
                vf.device_id = id;
                vf.unread_ids = None;
            }
        }
        let vf_addr = vf.address;
        if index >= num {
            warnings.push(format!(
                "{vf_addr} is VF {index} of {pf_addr}, but that PF reports 'Number of VFs: {num}' (text from different moments?)"
            ));
        }
        parsed[pi].device.virtfns.push(vf_addr);
    }
    for p in parsed.iter_mut() {
        // Linked in index order above only per PF; make it explicit.
        p.device.virtfns.sort_by_key(|a| a.routing_id());
    }
    for p in parsed.iter() {
        if p.says_vf && p.device.physfn.is_none() {
            warnings.push(format!(
                "line {}: {} is a Virtual Function but no PF in this text accounts for it (PF block missing, or lspci ran without root); its PF stays unknown",
                p.line, p.device.address
            ));
        }
    }
    warnings
}

/// Sets each device's upstream bridge from the bridges' `Bus: secondary=, subordinate=`
/// numbers: the bridge with the innermost bus range holding the device's bus. VFs on a
/// bus with no bridge of its own land on the PF's port, as in sysfs.
pub(super) fn set_parents(parsed: &mut [Parsed]) {
    let bridges: Vec<(PciAddress, u8, u8)> = parsed
        .iter()
        .filter_map(|p| p.buses.map(|(s, e)| (p.device.address, s, e)))
        .filter(|&(_, s, e)| s > 0 && s <= e)
        .collect();
    for p in parsed.iter_mut() {
        let a = p.device.address;
        p.device.parent = bridges
            .iter()
            .filter(|(b, s, e)| *b != a && b.domain == a.domain && (*s..=*e).contains(&a.bus))
            .max_by_key(|(_, s, _)| *s)
            .map(|(b, ..)| *b);
    }
}
