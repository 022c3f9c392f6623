//! PCI addresses in every form an operator has in hand.
//!
//! `0000:07:10.7`, `07:10.7` (domain 0), libvirt node-device names
//! `pci_0000_07_10_7`, and libvirt `<address domain= bus= slot= function=/>`
//! attributes (hex with `0x`, or decimal).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A PCI function address: domain, bus, device (slot) and function.
///
/// Ordered the way `lspci -D` sorts: domain, bus, slot, function.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PciAddress {
    /// PCI segment (domain). Usually 0; VMD and some ARM hosts use 0x10000 and up.
    pub domain: u32,
    /// Bus number, 0..=0xff.
    pub bus: u8,
    /// Device (slot) number, 0..=0x1f.
    pub slot: u8,
    /// Function number, 0..=7.
    pub function: u8,
}

/// Why a string is not a PCI address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The overall shape is wrong.
    #[error("'{input}' is not a PCI address; expected DDDD:BB:SS.F (e.g. 0000:07:10.7), BB:SS.F, or pci_DDDD_BB_SS_F")]
    Shape {
        /// What was given.
        input: String,
    },
    /// A field is not a number in the expected base.
    #[error("'{input}': {field} '{value}' is not a hexadecimal number")]
    NotHex {
        /// What was given.
        input: String,
        /// domain, bus, slot or function.
        field: &'static str,
        /// The offending text.
        value: String,
    },
    /// A field is out of range.
    #[error("'{input}': {field} {value:#x} is out of range (at most {max:#x})")]
    Range {
        /// What was given.
        input: String,
        /// domain, bus, slot or function.
        field: &'static str,
        /// The parsed value.
        value: u64,
        /// The largest allowed value.
        max: u64,
    },
}

impl PciAddress {
    /// Builds an address, checking ranges.
    pub fn new(domain: u32, bus: u8, slot: u8, function: u8) -> Result<Self, AddressError> {
        let a = PciAddress {
            domain,
            bus,
            slot,
            function,
        };
        check_range(&a.to_string(), "slot", slot as u64, 0x1f)?;
        check_range(&a.to_string(), "function", function as u64, 7)?;
        Ok(a)
    }

    /// Parses any accepted textual form (`DDDD:BB:SS.F`, `BB:SS.F`, `pci_DDDD_BB_SS_F`).
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let input = s.trim();
        if let Some(rest) = input.strip_prefix("pci_") {
            let parts: Vec<&str> = rest.split('_').collect();
            if parts.len() != 4 {
                return Err(AddressError::Shape {
                    input: input.to_string(),
                });
            }
            return from_parts(input, Some(parts[0]), parts[1], parts[2], parts[3], 16);
        }
        let (head, func) = input.rsplit_once('.').ok_or_else(|| AddressError::Shape {
            input: input.to_string(),
        })?;
        let fields: Vec<&str> = head.split(':').collect();
        match fields.as_slice() {
            [bus, slot] => from_parts(input, None, bus, slot, func, 16),
            [dom, bus, slot] => from_parts(input, Some(dom), bus, slot, func, 16),
            _ => Err(AddressError::Shape {
                input: input.to_string(),
            }),
        }
    }

    /// Parses libvirt `<address>` attributes: each value hex with `0x` or decimal,
    /// as libvirt's own parser accepts them (the seeds' `virsh dumpxml` shows
    /// `bus='0x07'`; hand-written XML often has `bus='7'`).
    pub fn from_libvirt_attrs(
        domain: &str,
        bus: &str,
        slot: &str,
        function: &str,
    ) -> Result<Self, AddressError> {
        let input = format!("domain='{domain}' bus='{bus}' slot='{slot}' function='{function}'");
        let d = libvirt_num(&input, "domain", domain, 0xffff_ffff)?;
        let b = libvirt_num(&input, "bus", bus, 0xff)?;
        let s = libvirt_num(&input, "slot", slot, 0x1f)?;
        let f = libvirt_num(&input, "function", function, 7)?;
        Ok(PciAddress {
            domain: d as u32,
            bus: b as u8,
            slot: s as u8,
            function: f as u8,
        })
    }

    /// The libvirt node-device name, `pci_0000_07_10_7`.
    pub fn nodedev_name(&self) -> String {
        format!(
            "pci_{:04x}_{:02x}_{:02x}_{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }

    /// The short form lspci prints without `-D` (`07:10.7`); only unambiguous in domain 0.
    pub fn short(&self) -> String {
        format!("{:02x}:{:02x}.{:x}", self.bus, self.slot, self.function)
    }

    /// The same device's function 0 and slot (used to tell "functions of one device").
    pub fn same_slot(&self, other: &PciAddress) -> bool {
        self.domain == other.domain && self.bus == other.bus && self.slot == other.slot
    }

    /// Routing id (bus << 8 | devfn), used for SR-IOV offset/stride arithmetic.
    pub fn routing_id(&self) -> u32 {
        ((self.bus as u32) << 8) | ((self.slot as u32) << 3) | self.function as u32
    }

    /// The address with a given routing id in the same domain, if it fits on a bus.
    pub fn from_routing_id(domain: u32, rid: u32) -> Option<Self> {
        if rid > 0xffff {
            return None;
        }
        Some(PciAddress {
            domain,
            bus: (rid >> 8) as u8,
            slot: ((rid >> 3) & 0x1f) as u8,
            function: (rid & 7) as u8,
        })
    }
}

fn check_range(input: &str, field: &'static str, value: u64, max: u64) -> Result<(), AddressError> {
    if value > max {
        return Err(AddressError::Range {
            input: input.to_string(),
            field,
            value,
            max,
        });
    }
    Ok(())
}

fn hex_field(input: &str, field: &'static str, v: &str, max: u64) -> Result<u64, AddressError> {
    if v.is_empty() || v.len() > 8 || !v.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(AddressError::NotHex {
            input: input.to_string(),
            field,
            value: v.to_string(),
        });
    }
    let n = u64::from_str_radix(v, 16).map_err(|_| AddressError::NotHex {
        input: input.to_string(),
        field,
        value: v.to_string(),
    })?;
    check_range(input, field, n, max)?;
    Ok(n)
}

fn from_parts(
    input: &str,
    dom: Option<&str>,
    bus: &str,
    slot: &str,
    func: &str,
    _radix: u32,
) -> Result<PciAddress, AddressError> {
    let d = match dom {
        Some(d) => hex_field(input, "domain", d, 0xffff_ffff)?,
        None => 0,
    };
    let b = hex_field(input, "bus", bus, 0xff)?;
    let s = hex_field(input, "slot", slot, 0x1f)?;
    let f = hex_field(input, "function", func, 7)?;
    Ok(PciAddress {
        domain: d as u32,
        bus: b as u8,
        slot: s as u8,
        function: f as u8,
    })
}

/// A number as libvirt reads address attributes (`virStrToLong_uip`, base 0):
/// `0x` hex, a leading `0` octal (so `bus='010'` is bus 8), else decimal; leading
/// blanks are allowed (strtol) and trailing characters are not.
fn libvirt_num(input: &str, field: &'static str, v: &str, max: u64) -> Result<u64, AddressError> {
    let t = v.trim_start();
    let parsed = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (!h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit()))
            .then(|| u64::from_str_radix(h, 16).ok())
            .flatten()
    } else if t.len() > 1 && t.starts_with('0') {
        t.bytes()
            .all(|c| (b'0'..=b'7').contains(&c))
            .then(|| u64::from_str_radix(&t[1..], 8).ok())
            .flatten()
    } else {
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse::<u64>().ok())
            .flatten()
    };
    let n = parsed.ok_or_else(|| AddressError::NotHex {
        input: input.to_string(),
        field,
        value: v.to_string(),
    })?;
    check_range(input, field, n, max)?;
    Ok(n)
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }
}

impl FromStr for PciAddress {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PciAddress::parse(s)
    }
}

impl Serialize for PciAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PciAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PciAddress::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_to_the_same_address() {
        let want = PciAddress {
            domain: 0,
            bus: 7,
            slot: 0x10,
            function: 7,
        };
        for s in [
            "0000:07:10.7",
            "07:10.7",
            "pci_0000_07_10_7",
            " 0000:07:10.7\n",
            "0000:07:10.7".to_uppercase().as_str(),
        ] {
            assert_eq!(PciAddress::parse(s).unwrap(), want, "{s}");
        }
        assert_eq!(
            PciAddress::from_libvirt_attrs("0x0000", "0x07", "0x10", "0x7").unwrap(),
            want
        );
        assert_eq!(
            PciAddress::from_libvirt_attrs("0", "7", "16", "7").unwrap(),
            want
        );
        assert_eq!(want.to_string(), "0000:07:10.7");
        assert_eq!(want.nodedev_name(), "pci_0000_07_10_7");
        assert_eq!(want.short(), "07:10.7");
    }

    #[test]
    fn large_domains_print_in_full() {
        let a = PciAddress::parse("10000:e1:00.0").unwrap();
        assert_eq!(a.domain, 0x10000);
        assert_eq!(a.to_string(), "10000:e1:00.0");
    }

    #[test]
    fn rejects_out_of_range_and_bad_hex() {
        assert!(matches!(
            PciAddress::parse("00:20.0"),
            Err(AddressError::Range { field: "slot", .. })
        ));
        assert!(matches!(
            PciAddress::parse("00:1f.8"),
            Err(AddressError::Range {
                field: "function",
                ..
            })
        ));
        assert!(matches!(
            PciAddress::parse("100:00.0"),
            Err(AddressError::Range { field: "bus", .. })
        ));
        assert!(matches!(
            PciAddress::parse("0g:00.0"),
            Err(AddressError::NotHex { field: "bus", .. })
        ));
        assert!(matches!(
            PciAddress::parse("eno1"),
            Err(AddressError::Shape { .. })
        ));
        assert!(matches!(
            PciAddress::parse("pci_0000_07_10"),
            Err(AddressError::Shape { .. })
        ));
        assert!(PciAddress::from_libvirt_attrs("0", "256", "0", "0").is_err());
        assert!(PciAddress::from_libvirt_attrs("0", "0x07", "32", "0").is_err());
        assert!(PciAddress::from_libvirt_attrs("0", "seven", "0", "0").is_err());
        // libvirt reads a leading 0 as octal and refuses trailing characters.
        assert_eq!(
            PciAddress::from_libvirt_attrs("0", "010", "0", "0")
                .unwrap()
                .bus,
            8
        );
        assert!(PciAddress::from_libvirt_attrs("0", "08", "0", "0").is_err());
        assert!(PciAddress::from_libvirt_attrs("0", "7 ", "0", "0").is_err());
        assert!(PciAddress::from_libvirt_attrs("0", "0x", "0", "0").is_err());
        let msg = PciAddress::parse("00:20.0").unwrap_err().to_string();
        assert!(
            msg.contains("slot") && msg.contains("0x20") && msg.contains("0x1f"),
            "{msg}"
        );
    }

    #[test]
    fn routing_id_round_trips() {
        let pf = PciAddress::parse("06:00.3").unwrap();
        // I350 PF 3: offset 384, stride 4 -> VF 0 at 07:10.3 (seed).
        let vf0 = PciAddress::from_routing_id(0, pf.routing_id() + 384).unwrap();
        assert_eq!(vf0.to_string(), "0000:07:10.3");
        assert_eq!(
            PciAddress::from_routing_id(0, vf0.routing_id() + 4)
                .unwrap()
                .short(),
            "07:10.7"
        );
    }
}
