//! Identical findings on many devices, said once: on a host with 16 PFs x 128 VFs the
//! same warning for 2048 VFs would fill 14 000 lines. A finding's *shape* is what it
//! says with the device's own address (and IOMMU group) taken out; devices whose
//! findings have the same shape are reported as one [`Entry::Many`] with the count and
//! the address ranges (`2048 VFs [8086:154c] (0000:3b:02.0-0000:3c:0f.7) on iavf`).
//! Pure presentation: the findings themselves (and `--json`) keep one per device.

use super::Finding;
use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;
use std::collections::HashMap;

/// What the placeholder in a many-device finding stands for.
pub const DEV: &str = "<DEV>";
/// The placeholder for each device's own IOMMU group number.
pub const GROUP: &str = "<GROUP>";
/// The placeholder for each device's own network interface.
pub const NETDEV: &str = "<NETDEV>";

/// Devices sharing a finding are grouped from this many on; fewer are listed one by one.
pub const MIN_GROUP: usize = 3;

/// One line of a digest: a finding as it is, or one finding shared by many devices.
#[derive(Debug)]
pub enum Entry<'a> {
    /// A finding shown as it is.
    One(&'a Finding),
    /// The same finding on many devices.
    Many(Group<'a>),
}

/// A finding shared by several devices.
#[derive(Debug)]
pub struct Group<'a> {
    /// The finding with each device's address (and group) replaced by [`DEV`] (and
    /// [`GROUP`]); `device` is `None`.
    pub finding: Finding,
    /// The devices, in report order.
    pub devices: Vec<PciAddress>,
    /// The originals, one per device.
    pub members: Vec<&'a Finding>,
}

/// The shape of a finding: everything it says, with its own device's names taken out.
fn shape(host: &Host, f: &Finding) -> Option<Finding> {
    let addr = f.device?;
    let dev = host.device(&addr);
    let group = dev.and_then(|d| d.iommu_group);
    let netdevs = dev.map(|d| d.netdevs.as_slice()).unwrap_or_default();
    let mut t = f.clone();
    t.device = None;
    let generic = |s: &str| -> String {
        let mut s = s
            .replace(&addr.to_string(), DEV)
            .replace(&addr.short(), DEV)
            .replace(
                &format!(
                    "pci_{:04x}_{:02x}_{:02x}_{:x}",
                    addr.domain, addr.bus, addr.slot, addr.function
                ),
                DEV,
            );
        if let Some(g) = group {
            for (from, to) in [
                (format!("IOMMU group {g}"), format!("IOMMU group {GROUP}")),
                (format!("/dev/vfio/{g}"), format!("/dev/vfio/{GROUP}")),
            ] {
                s = replace_word(&s, &from, &to);
            }
        }
        for n in netdevs {
            s = replace_name(&s, n, NETDEV);
        }
        s
    };
    t.check = generic(&t.check);
    t.message = generic(&t.message);
    t.why = t.why.as_deref().map(generic);
    t.fix = t.fix.as_deref().map(generic);
    Some(t)
}

/// Replaces `from` where it is not followed by another digit (group 1 is not group 10).
fn replace_word(s: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(from) {
        let after = &rest[i + from.len()..];
        out.push_str(&rest[..i]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Replaces `name` where it stands as a whole word (`eth1` in `eth10` stays).
fn replace_name(s: &str, name: &str, to: &str) -> String {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut prev: Option<char> = None;
    while let Some(i) = rest.find(name) {
        let before = rest[..i]
            .chars()
            .next_back()
            .or(if i == 0 { prev } else { None });
        let after = rest[i + name.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(word) || after.is_some_and(word) {
            out.push_str(name);
        } else {
            out.push_str(to);
        }
        prev = name.chars().next_back();
        rest = &rest[i + name.len()..];
    }
    out.push_str(rest);
    out
}

/// Groups device findings that have the same shape on at least [`MIN_GROUP`] devices;
/// a group stands where its first member was. Findings without a device stay as they are.
pub fn digest<'a>(host: &Host, findings: &[&'a Finding]) -> Vec<Entry<'a>> {
    let shapes: Vec<Option<Finding>> = findings.iter().map(|f| shape(host, f)).collect();
    // Shape -> indexes of the findings that have it. A device counts once per shape.
    let mut by_shape: HashMap<&Finding, Vec<usize>> = HashMap::new();
    for (i, s) in shapes.iter().enumerate() {
        if let Some(s) = s {
            by_shape.entry(s).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    let mut done = vec![false; findings.len()];
    for i in 0..findings.len() {
        if done[i] {
            continue;
        }
        let members = shapes[i]
            .as_ref()
            .and_then(|s| by_shape.get(s))
            .filter(|m| m.len() >= MIN_GROUP);
        match members {
            Some(m) => {
                for &j in m {
                    done[j] = true;
                }
                let shape = shapes[i].clone().expect("grouped findings have a shape");
                out.push(Entry::Many(Group {
                    finding: shape,
                    devices: m.iter().filter_map(|&j| findings[j].device).collect(),
                    members: m.iter().map(|&j| findings[j]).collect(),
                }));
            }
            None => {
                done[i] = true;
                out.push(Entry::One(findings[i]));
            }
        }
    }
    out
}

impl Group<'_> {
    /// `1792 VFs [8086:1889] (0000:01:10.0-0000:01:1f.6, ... 16 ranges) on iavf`: the
    /// count, what they are, their ids and driver when all share them, and the address
    /// ranges (runs with no other device of the host between them), the first few.
    pub fn describe(&self, host: &Host, max_ranges: usize) -> String {
        let devs: Vec<&PciDevice> = self.devices.iter().filter_map(|a| host.device(a)).collect();
        let n = self.devices.len();
        let kind = if !devs.is_empty() && devs.iter().all(|d| d.is_vf()) {
            "VFs"
        } else if !devs.is_empty() && devs.iter().all(|d| d.is_pf()) {
            "PFs"
        } else {
            "devices"
        };
        let mut s = format!("{n} {kind}");
        let same = |f: &dyn Fn(&PciDevice) -> String| -> Option<String> {
            let first = f(devs.first()?);
            devs.iter().all(|d| f(d) == first).then_some(first)
        };
        if let Some(ids) = same(&|d| d.id_pair()) {
            s.push_str(&format!(" [{ids}]"));
        }
        let ranges = ranges(host, &self.devices);
        let mut shown: Vec<String> = ranges
            .iter()
            .take(max_ranges)
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        if ranges.len() > max_ranges {
            shown.push(format!("... {} ranges in all", ranges.len()));
        }
        s.push_str(&format!(" ({})", shown.join(", ")));
        match same(&|d| d.driver.clone().unwrap_or_default()) {
            Some(d) if d.is_empty() => s.push_str(" without a driver"),
            Some(d) => s.push_str(&format!(" on {d}")),
            None => {}
        }
        s
    }
}

/// The devices as runs of the host's device order: consecutive members with no other
/// device of the host between them form one `(first, last)` range.
pub fn ranges(host: &Host, devices: &[PciAddress]) -> Vec<(PciAddress, PciAddress)> {
    let pos: HashMap<PciAddress, usize> = host
        .devices
        .iter()
        .enumerate()
        .map(|(i, d)| (d.address, i))
        .collect();
    let mut idx: Vec<(usize, PciAddress)> = devices
        .iter()
        .map(|a| (pos.get(a).copied().unwrap_or(usize::MAX), *a))
        .collect();
    idx.sort();
    idx.dedup();
    let mut out: Vec<(PciAddress, PciAddress, usize)> = Vec::new();
    for (i, a) in idx {
        match out.last_mut() {
            Some((_, last, at)) if i != usize::MAX && *at + 1 == i => {
                *last = a;
                *at = i;
            }
            _ => out.push((a, a, i)),
        }
    }
    out.into_iter().map(|(a, b, _)| (a, b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Section, Severity};

    fn host(n: u8) -> Host {
        let mut h = Host::default();
        let pf = PciAddress::parse("3b:00.0").unwrap();
        let mut p = PciDevice::new(pf, 0x8086, 0x1572, 0x020000);
        p.driver = Some("i40e".into());
        h.devices.push(p);
        for i in 0..n {
            let a = PciAddress::from_routing_id(0, pf.routing_id() + 16 + u32::from(i)).unwrap();
            let mut d = PciDevice::new(a, 0x8086, 0x154c, 0x020000);
            d.physfn = Some(pf);
            d.driver = Some("iavf".into());
            d.iommu_group = Some(100 + u32::from(i));
            h.devices.push(d);
        }
        h
    }

    fn warn(d: &PciDevice) -> Finding {
        let a = d.address;
        let g = d.iommu_group.unwrap_or(0);
        let mut f = Finding::new(
            "device.driver",
            Section::Devices,
            Severity::Warn,
            "driver",
            format!("bound to iavf, not vfio-pci (IOMMU group {g})"),
        )
        .device(a);
        f.fix = Some(format!(
            "echo vfio-pci > /sys/bus/pci/devices/{a}/driver_override"
        ));
        f
    }

    #[test]
    fn same_finding_on_many_devices_is_one_entry_with_ranges() {
        let h = host(20);
        let mut fs: Vec<Finding> = h.devices[1..].iter().map(warn).collect();
        // One VF differs (its message says more): listed on its own.
        fs[5].message.push_str(" and busy");
        let refs: Vec<&Finding> = fs.iter().collect();
        let d = digest(&h, &refs);
        assert_eq!(d.len(), 2, "{d:?}");
        let Entry::Many(g) = &d[0] else {
            panic!("{d:?}")
        };
        assert_eq!(g.devices.len(), 19);
        assert_eq!(
            g.finding.fix.as_deref(),
            Some("echo vfio-pci > /sys/bus/pci/devices/<DEV>/driver_override")
        );
        assert_eq!(
            g.finding.message,
            "bound to iavf, not vfio-pci (IOMMU group <GROUP>)"
        );
        assert!(matches!(d[1], Entry::One(f) if f.message.ends_with("busy")));
        // 3b:02.0-3b:02.4, then (3b:02.5 differs) 3b:02.6-3b:04.3.
        assert_eq!(
            g.describe(&h, 3),
            "19 VFs [8086:154c] (0000:3b:02.0-0000:3b:02.4, 0000:3b:02.6-0000:3b:04.3) on iavf"
        );
        assert_eq!(
            g.describe(&h, 1),
            "19 VFs [8086:154c] (0000:3b:02.0-0000:3b:02.4, ... 2 ranges in all) on iavf"
        );
    }

    #[test]
    fn few_devices_and_deviceless_findings_stay_as_they_are() {
        let h = host(2);
        let fs: Vec<Finding> = h.devices[1..].iter().map(warn).collect();
        let host_wide = Finding::new("kvm", Section::Host, Severity::Fail, "kvm", "no kvm");
        let mut refs: Vec<&Finding> = fs.iter().collect();
        refs.push(&host_wide);
        let d = digest(&h, &refs);
        assert_eq!(d.len(), 3);
        assert!(d.iter().all(|e| matches!(e, Entry::One(_))));
    }

    #[test]
    fn netdev_names_are_replaced_only_whole() {
        assert_eq!(
            replace_name("eth1 carries it; eth10 does not; (eth1)", "eth1", NETDEV),
            "<NETDEV> carries it; eth10 does not; (<NETDEV>)"
        );
        assert_eq!(replace_name("eth1eth1", "eth1", NETDEV), "eth1eth1");
    }

    #[test]
    fn group_numbers_are_replaced_only_whole() {
        assert_eq!(
            replace_word(
                "IOMMU group 1, IOMMU group 10",
                "IOMMU group 1",
                "IOMMU group <GROUP>"
            ),
            "IOMMU group <GROUP>, IOMMU group 10"
        );
    }
}
