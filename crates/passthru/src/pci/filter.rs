//! The `lspci -d` device filter, with lspci's own semantics (pciutils `lib/filter.c`):
//! `[vendor]:[device][:class[:prog-if]]`.
//!
//! - Fields are hexadecimal; an empty field or `*` matches anything.
//! - At least the vendor and device fields (and so one `:`) must be present.
//! - The class is the 16-bit base class and subclass (`0300`, `0200`); an `x` in it
//!   is a wildcard digit (`02xx` is every network controller), as in pciutils 3.8+.
//! - Several filters separated by commas match a device that any of them matches:
//!   the convention of OpenNebula's PCI probe (`FILTER = '8086::0300,::0106'`), which
//!   runs `lspci -d` once per filter. lspci itself takes one filter per `-d`. (The
//!   probe concatenates the runs, so a device two parts match is listed twice there;
//!   here it matches once.)

use crate::host::model::PciDevice;
use serde::{Serialize, Serializer};
use std::fmt;

/// pciutils refuses an expression of 64 bytes or more ("Expression too long").
const MAX_LEN: usize = 63;

/// Why an `lspci -d` filter is rejected. The messages are lspci's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid lspci -d filter '{input}': {reason} (syntax: [vendor]:[device][:class[:prog-if]], hex, empty or * for any; several separated by commas)")]
pub struct FilterError {
    /// The filter given (the one part of a comma list that failed).
    pub input: String,
    /// lspci's message (`Invalid vendor ID`, `At least two fields must be given`, ...).
    pub reason: &'static str,
}

/// One `[vendor]:[device][:class[:prog-if]]` filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IdFilter {
    /// Vendor id, or any.
    pub vendor: Option<u16>,
    /// Device id, or any.
    pub device: Option<u16>,
    /// Class (base class << 8 | subclass) and the mask of the digits that count.
    pub class: Option<(u32, u32)>,
    /// Programming interface, or any.
    pub prog_if: Option<u8>,
}

/// A comma-separated list of [`IdFilter`]s; a device matches when any part matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciFilter {
    /// The parts, in the order given.
    pub parts: Vec<IdFilter>,
}

/// Parses one field the way pciutils' `parse_hex_field` does: hex digits, and `x`
/// digits (only where a mask is wanted) that shift a zero into the value and out of
/// the mask. `bound` tracks the largest value the digits could mean, so too many
/// digits fail even when they are zeros.
fn hex_field(s: &str, with_mask: bool, max: u32) -> Option<(u32, u32)> {
    let (mut out, mut mask, mut bound) = (0u32, !0u32, 0u32);
    for c in s.chars() {
        if with_mask && (c == 'x' || c == 'X') {
            out = out.wrapping_shl(4);
            bound = bound.wrapping_shl(4) | 1;
            mask = mask.wrapping_shl(4);
        } else {
            let d = c.to_digit(16)?;
            out = out.wrapping_shl(4) | d;
            bound = bound.wrapping_shl(4) | d;
            mask = mask.wrapping_shl(4) | 0xf;
        }
        if bound > max {
            return None;
        }
    }
    Some((out, mask))
}

fn defined(f: Option<&str>) -> Option<&str> {
    f.filter(|s| !s.is_empty() && *s != "*")
}

impl IdFilter {
    /// Parses one filter (no commas).
    pub fn parse(s: &str) -> Result<Self, FilterError> {
        let err = |reason| FilterError {
            input: s.to_string(),
            reason,
        };
        if s.len() > MAX_LEN {
            return Err(err("Expression too long"));
        }
        let fields: Vec<&str> = s.split(':').collect();
        if fields.len() > 4 {
            return Err(err("Too many fields"));
        }
        if fields.len() < 2 {
            return Err(err("At least two fields must be given"));
        }
        let mut f = IdFilter::default();
        if let Some(v) = defined(fields.first().copied()) {
            let (v, _) = hex_field(v, false, 0xffff).ok_or_else(|| err("Invalid vendor ID"))?;
            f.vendor = Some(v as u16);
        }
        if let Some(v) = defined(fields.get(1).copied()) {
            let (v, _) = hex_field(v, false, 0xffff).ok_or_else(|| err("Invalid device ID"))?;
            f.device = Some(v as u16);
        }
        if let Some(v) = defined(fields.get(2).copied()) {
            f.class = Some(hex_field(v, true, 0xffff).ok_or_else(|| err("Invalid class code"))?);
        }
        if let Some(v) = defined(fields.get(3).copied()) {
            let (v, _) = hex_field(v, false, 0xff)
                .ok_or_else(|| err("Invalid programming interface code"))?;
            f.prog_if = Some(v as u8);
        }
        Ok(f)
    }

    /// Whether a device passes this filter.
    pub fn matches(&self, d: &PciDevice) -> bool {
        self.vendor.is_none_or(|v| v == d.vendor_id.0)
            && self.device.is_none_or(|v| v == d.device_id.0)
            && self
                .class
                .is_none_or(|(c, mask)| (c ^ u32::from(d.class.class16())) & mask == 0)
            && self.prog_if.is_none_or(|p| p == d.class.prog_if())
    }

    /// The exact filter for one device, in the form OpenNebula's probe filter uses
    /// (`vendor:device:class`, e.g. `8086:1520:0200`).
    pub fn exact(d: &PciDevice) -> Self {
        IdFilter {
            vendor: Some(d.vendor_id.0),
            device: Some(d.device_id.0),
            class: Some((u32::from(d.class.class16()), !0)),
            prog_if: None,
        }
    }
}

impl fmt::Display for IdFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v) = self.vendor {
            write!(f, "{v:04x}")?;
        }
        f.write_str(":")?;
        if let Some(d) = self.device {
            write!(f, "{d:04x}")?;
        }
        if self.class.is_some() || self.prog_if.is_some() {
            f.write_str(":")?;
            if let Some((c, mask)) = self.class {
                // Print 4 digits, an `x` where the mask says "any".
                for i in (0..4).rev() {
                    if (mask >> (i * 4)) & 0xf == 0 {
                        f.write_str("x")?;
                    } else {
                        write!(f, "{:x}", (c >> (i * 4)) & 0xf)?;
                    }
                }
            }
            if let Some(p) = self.prog_if {
                write!(f, ":{p:02x}")?;
            }
        }
        Ok(())
    }
}

impl PciFilter {
    /// Parses a comma-separated list of filters. Empty parts are refused (an empty
    /// filter string would match nothing in lspci and everything in OpenNebula).
    pub fn parse(s: &str) -> Result<Self, FilterError> {
        if s.trim().is_empty() {
            return Err(FilterError {
                input: s.to_string(),
                reason: "empty filter",
            });
        }
        let parts = s
            .split(',')
            .map(|p| {
                let p = p.trim();
                if p.is_empty() {
                    Err(FilterError {
                        input: s.to_string(),
                        reason: "empty filter between commas",
                    })
                } else {
                    IdFilter::parse(p)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PciFilter { parts })
    }

    /// Whether any part matches the device.
    pub fn matches(&self, d: &PciDevice) -> bool {
        self.parts.iter().any(|p| p.matches(d))
    }

    /// The smallest filter list that selects exactly the given devices' (vendor,
    /// device, class) types, in first-seen order without duplicates.
    pub fn exact_for<'a>(devices: impl IntoIterator<Item = &'a PciDevice>) -> Self {
        let mut parts: Vec<IdFilter> = Vec::new();
        for d in devices {
            let f = IdFilter::exact(d);
            if !parts.contains(&f) {
                parts.push(f);
            }
        }
        PciFilter { parts }
    }
}

impl fmt::Display for PciFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl Serialize for PciFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::PciAddress;

    fn dev(v: u16, d: u16, class: u32) -> PciDevice {
        PciDevice::new(PciAddress::parse("00:01.0").unwrap(), v, d, class)
    }

    #[test]
    fn the_seed_examples_mean_what_the_seed_says() {
        let vga_intel = dev(0x8086, 0x0412, 0x030000);
        let vga_nvidia = dev(0x10de, 0x11bf, 0x030000);
        let sata = dev(0x8086, 0x8c02, 0x010601);
        let vf = dev(0x8086, 0x1520, 0x020000);
        let all_vga = PciFilter::parse("::0300").unwrap();
        assert!(all_vga.matches(&vga_intel) && all_vga.matches(&vga_nvidia));
        assert!(!all_vga.matches(&sata) && !all_vga.matches(&vf));
        let nv = PciFilter::parse("10de::0300").unwrap();
        assert!(nv.matches(&vga_nvidia) && !nv.matches(&vga_intel));
        let k2 = PciFilter::parse("10de:11bf:0300").unwrap();
        assert!(k2.matches(&vga_nvidia));
        let two = PciFilter::parse("8086::0300,::0106").unwrap();
        assert!(two.matches(&vga_intel) && two.matches(&sata));
        assert!(!two.matches(&vga_nvidia) && !two.matches(&vf));
    }

    #[test]
    fn wildcards_masks_and_prog_if() {
        let vf = dev(0x8086, 0x1520, 0x020000);
        let nvme = dev(0x144d, 0xa808, 0x010802);
        for f in [
            ":",
            "*:*",
            "8086:",
            ":1520",
            "*:1520:0200",
            "8086:1520:02xx",
        ] {
            assert!(IdFilter::parse(f).unwrap().matches(&vf), "{f}");
        }
        assert!(IdFilter::parse("::01xx").unwrap().matches(&nvme));
        assert!(IdFilter::parse("::0108:02").unwrap().matches(&nvme));
        assert!(!IdFilter::parse("::0108:01").unwrap().matches(&nvme));
        // A short class means the low digits: `2` is class 0x0002, not 0x02xx.
        assert!(!IdFilter::parse("::2").unwrap().matches(&vf));
        assert!(IdFilter::parse("::x")
            .unwrap()
            .matches(&dev(1, 2, 0x000500)));
    }

    #[test]
    fn lspci_rejects_what_lspci_rejects() {
        let reason = |s: &str| IdFilter::parse(s).unwrap_err().reason;
        assert_eq!(reason("8086"), "At least two fields must be given");
        assert_eq!(reason("1:2:3:4:5"), "Too many fields");
        assert_eq!(reason("18086:"), "Invalid vendor ID");
        assert_eq!(reason("0x8086:"), "Invalid vendor ID");
        assert_eq!(reason(":zz"), "Invalid device ID");
        assert_eq!(reason("::10000"), "Invalid class code");
        // Leading zeros do not count against the bound, as in pciutils.
        assert_eq!(
            IdFilter::parse("::03000").unwrap().class,
            Some((0x3000, !0))
        );
        assert_eq!(reason("::0300:100"), "Invalid programming interface code");
        assert_eq!(
            reason(&format!("{}:", "0".repeat(70))),
            "Expression too long"
        );
        assert_eq!(
            PciFilter::parse("8086::0300,,::0106").unwrap_err().reason,
            "empty filter between commas"
        );
        assert_eq!(PciFilter::parse(" ").unwrap_err().reason, "empty filter");
        let e = PciFilter::parse("8086::0300,8086").unwrap_err().to_string();
        assert!(e.contains("'8086'") && e.contains("At least two"), "{e}");
    }

    #[test]
    fn prints_back_and_builds_exact_filters() {
        for s in [
            "8086:1520:0200",
            "::0300",
            "10de::0300,::0106",
            "8086::02xx:00",
            ":",
        ] {
            assert_eq!(PciFilter::parse(s).unwrap().to_string(), s);
        }
        let a = dev(0x8086, 0x1520, 0x020000);
        let b = dev(0x8086, 0x1520, 0x020000);
        let c = dev(0x10de, 0x11bf, 0x030000);
        let f = PciFilter::exact_for([&a, &b, &c]);
        assert_eq!(f.to_string(), "8086:1520:0200,10de:11bf:0300");
    }
}
