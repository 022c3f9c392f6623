//! Turns any device name an operator has in hand into devices of a host:
//! `0000:07:10.7`, `07:10.7`, `pci_0000_07_10_7`, a netdev (`eno1`), or
//! `vendor:device` (`8086:1520`, every match).

use crate::error::{Error, Result};
use crate::host::model::{Host, PciDevice};
use crate::pci::{DeviceId, PciAddress, VendorId};

/// What a device name means, before looking at a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceQuery {
    /// One address (a short address means domain 0, or a unique match in another domain).
    Address {
        /// The parsed address.
        address: PciAddress,
        /// Whether the domain was given.
        with_domain: bool,
    },
    /// Every function with these ids.
    Ids(VendorId, DeviceId),
    /// A network interface name.
    Netdev(String),
}

impl DeviceQuery {
    /// Classifies a device name. Never fails: anything that is not an address or an
    /// id pair is taken as an interface name.
    pub fn parse(s: &str) -> Self {
        let t = s.trim();
        if let Ok(a) = PciAddress::parse(t) {
            let with_domain = t.starts_with("pci_") || t.matches(':').count() == 2;
            return DeviceQuery::Address {
                address: a,
                with_domain,
            };
        }
        if let Some((v, d)) = t.split_once(':') {
            if !t.contains('.') && v.len() == 4 && d.len() == 4 {
                if let (Ok(v), Ok(d)) = (VendorId::parse(v), DeviceId::parse(d)) {
                    return DeviceQuery::Ids(v, d);
                }
            }
        }
        DeviceQuery::Netdev(t.to_string())
    }
}

/// Resolves a device name to the matching devices (at least one) or an error that
/// lists the closest names that exist.
pub fn resolve<'h>(host: &'h Host, query: &str) -> Result<Vec<&'h PciDevice>> {
    let found: Vec<&PciDevice> = match DeviceQuery::parse(query) {
        DeviceQuery::Address {
            address,
            with_domain,
        } => match host.device(&address) {
            Some(d) => vec![d],
            None if !with_domain => {
                let others: Vec<&PciDevice> = host
                    .devices
                    .iter()
                    .filter(|d| {
                        d.address.bus == address.bus
                            && d.address.slot == address.slot
                            && d.address.function == address.function
                    })
                    .collect();
                if others.len() == 1 {
                    others
                } else {
                    Vec::new()
                }
            }
            None => Vec::new(),
        },
        DeviceQuery::Ids(v, d) => host
            .devices
            .iter()
            .filter(|x| x.vendor_id == v && x.device_id == d)
            .collect(),
        DeviceQuery::Netdev(name) => host
            .devices
            .iter()
            .filter(|x| x.netdevs.contains(&name))
            .collect(),
    };
    if found.is_empty() {
        return Err(Error::UnknownDevice {
            query: query.trim().to_string(),
            reason: malformed(query),
            suggestions: suggestions(host, query),
        });
    }
    Ok(found)
}

/// Why a name that looks like an address or an id pair is not one (`07:10.9`:
/// function 9 is out of range), so the operator sees the typo, not only "no device".
fn malformed(query: &str) -> Option<String> {
    let q = query.trim();
    if q.starts_with("pci_") || (q.contains(':') && q.contains('.')) {
        return PciAddress::parse(q).err().map(|e| e.to_string());
    }
    // Interface names never hold ':', so `vvvv:dddd` is meant as ids.
    let (v, d) = q.split_once(':')?;
    VendorId::parse(v)
        .err()
        .map(|e| e.to_string())
        .or_else(|| DeviceId::parse(d).err().map(|e| e.to_string()))
}

/// Resolves many names; the result is sorted and free of duplicates.
pub fn resolve_all<'h>(host: &'h Host, queries: &[String]) -> Result<Vec<&'h PciDevice>> {
    let mut out: Vec<&PciDevice> = Vec::new();
    for q in queries {
        out.extend(resolve(host, q)?);
    }
    out.sort_by_key(|d| d.address);
    out.dedup_by_key(|d| d.address);
    Ok(out)
}

/// The three names on the host closest to `query`.
pub fn suggestions(host: &Host, query: &str) -> Vec<String> {
    let q = query.trim().to_ascii_lowercase();
    let mut names: Vec<String> = Vec::new();
    for d in &host.devices {
        names.push(d.address.to_string());
        names.extend(d.netdevs.iter().cloned());
        names.push(d.id_pair());
    }
    names.sort();
    names.dedup();
    let mut scored: Vec<(f64, String)> = names
        .into_iter()
        .map(|n| {
            // Compare against the full and the short address, so `07:10.9` finds `0000:07:10.7`.
            let short = n.strip_prefix("0000:").unwrap_or(&n).to_string();
            let s = strsim::jaro_winkler(&q, &n).max(strsim::jaro_winkler(&q, &short));
            (s, n)
        })
        .filter(|(s, _)| *s > 0.7)
        .collect();
    scored.sort_by(|a, b| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.1.cmp(&b.1))
    });
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        let mut pf = PciDevice::new(
            PciAddress::parse("06:00.3").unwrap(),
            0x8086,
            0x1521,
            0x020000,
        );
        pf.netdevs = vec!["eno4".into()];
        let vf = PciDevice::new(
            PciAddress::parse("07:10.7").unwrap(),
            0x8086,
            0x1520,
            0x020000,
        );
        let vf2 = PciDevice::new(
            PciAddress::parse("07:10.3").unwrap(),
            0x8086,
            0x1520,
            0x020000,
        );
        let mut h = Host {
            devices: vec![pf, vf, vf2],
            ..Host::default()
        };
        h.normalize();
        h
    }

    #[test]
    fn every_name_form_resolves() {
        let h = host();
        for q in ["0000:07:10.7", "07:10.7", "pci_0000_07_10_7"] {
            let r = resolve(&h, q).unwrap();
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].address.to_string(), "0000:07:10.7");
        }
        assert_eq!(resolve(&h, "eno4").unwrap()[0].address.short(), "06:00.3");
        assert_eq!(resolve(&h, "8086:1520").unwrap().len(), 2);
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let h = host();
        let e = resolve(&h, "eno5").unwrap_err().to_string();
        assert!(e.contains("no device 'eno5'") && e.contains("eno4"), "{e}");
        let e = resolve(&h, "07:10.6").unwrap_err().to_string();
        assert!(e.contains("0000:07:10.7"), "{e}");
        assert!(resolve(&h, "8086:1572").is_err());
    }

    #[test]
    fn a_malformed_name_says_what_is_wrong_with_it() {
        let h = host();
        let e = resolve(&h, "07:10.9").unwrap_err().to_string();
        assert!(
            e.contains("function 0x9 is out of range (at most 0x7)") && e.contains("0000:07:10.7"),
            "{e}"
        );
        let e = resolve(&h, "07:20.0").unwrap_err().to_string();
        assert!(
            e.contains("slot 0x20 is out of range (at most 0x1f)"),
            "{e}"
        );
        let e = resolve(&h, "pci_0000_07_10").unwrap_err().to_string();
        assert!(e.contains("expected DDDD:BB:SS.F"), "{e}");
        let e = resolve(&h, "8086:15z0").unwrap_err().to_string();
        assert!(e.contains("'15z0'"), "{e}");
        // A plain unknown interface name gets no such reason, only suggestions.
        let e = resolve(&h, "eno5").unwrap_err().to_string();
        assert!(!e.contains("not a"), "{e}");
    }
}
