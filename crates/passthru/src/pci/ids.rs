//! Vendor, device and class identifiers, and the class families operators filter by.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why an id string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a valid {what}: expected {expected}")]
pub struct IdError {
    /// What was given.
    pub input: String,
    /// Which kind of id.
    pub what: &'static str,
    /// What would have been accepted.
    pub expected: &'static str,
}

fn parse_hex(input: &str, max_digits: usize) -> Option<u32> {
    let t = input.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() || t.len() > max_digits || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(t, 16).ok()
}

macro_rules! id16 {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A 16-bit PCI ", $what, ", printed as 4 lower-case hex digits.")]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub struct $name(pub u16);

        impl $name {
            #[doc = concat!("Parses a ", $what, " from hex (`8086`, `0x8086`).")]
            pub fn parse(s: &str) -> Result<Self, IdError> {
                parse_hex(s, 4)
                    .map(|v| $name(v as u16))
                    .ok_or_else(|| IdError {
                        input: s.to_string(),
                        what: $what,
                        expected: "1 to 4 hexadecimal digits, e.g. 8086",
                    })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:04x}", self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id16!(VendorId, "vendor id");
id16!(DeviceId, "device id");

/// A 24-bit PCI class code: base class, subclass, programming interface.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ClassCode(pub u32);

impl ClassCode {
    /// Parses 6 hex digits (`020000`, `0x020000`) as the kernel's `class` file holds them.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        parse_hex(s, 6).map(ClassCode).ok_or_else(|| IdError {
            input: s.to_string(),
            what: "class code",
            expected: "up to 6 hexadecimal digits, e.g. 020000",
        })
    }
    /// Base class (e.g. 0x02 network).
    pub fn base(self) -> u8 {
        (self.0 >> 16) as u8
    }
    /// Subclass (e.g. 0x00 Ethernet).
    pub fn sub(self) -> u8 {
        (self.0 >> 8) as u8
    }
    /// Programming interface.
    pub fn prog_if(self) -> u8 {
        self.0 as u8
    }
    /// Base class and subclass as lspci prints them in `[0200]`.
    pub fn class16(self) -> u16 {
        (self.0 >> 8) as u16
    }
    /// A PCI-to-PCI bridge (0604) or any bridge (base class 06).
    pub fn is_bridge(self) -> bool {
        self.base() == 0x06
    }
    /// The operator-facing family of this class.
    pub fn family(self) -> ClassFamily {
        ClassFamily::of(self)
    }
}

impl fmt::Display for ClassCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06x}", self.0)
    }
}

impl Serialize for ClassCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClassCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ClassCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Coarse device families, the words operators use (`ls --class gpu`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassFamily {
    /// Network controllers (base class 02).
    Net,
    /// Display controllers (base class 03).
    Gpu,
    /// NVMe controllers (0108).
    Nvme,
    /// Other mass storage (base class 01).
    Storage,
    /// Multimedia/audio (base class 04).
    Audio,
    /// USB controllers (0c03).
    Usb,
    /// Bridges (base class 06).
    Bridge,
    /// Processing accelerators (12) and encryption controllers (10), e.g. QAT.
    Accel,
    /// Anything else.
    Other,
}

impl ClassFamily {
    /// Every family name accepted on the command line.
    pub const NAMES: &'static [&'static str] = &[
        "net", "gpu", "nvme", "storage", "audio", "usb", "bridge", "accel", "other",
    ];

    /// The family of a class code.
    pub fn of(c: ClassCode) -> Self {
        match (c.base(), c.sub()) {
            (0x02, _) => ClassFamily::Net,
            (0x03, _) => ClassFamily::Gpu,
            (0x01, 0x08) => ClassFamily::Nvme,
            (0x01, _) => ClassFamily::Storage,
            (0x04, _) => ClassFamily::Audio,
            (0x0c, 0x03) => ClassFamily::Usb,
            (0x06, _) => ClassFamily::Bridge,
            (0x10, _) | (0x12, _) | (0x0b, 0x40) => ClassFamily::Accel,
            _ => ClassFamily::Other,
        }
    }

    /// Parses a family name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "net" | "network" | "nic" => ClassFamily::Net,
            "gpu" | "display" | "vga" => ClassFamily::Gpu,
            "nvme" => ClassFamily::Nvme,
            "storage" | "disk" => ClassFamily::Storage,
            "audio" | "multimedia" => ClassFamily::Audio,
            "usb" => ClassFamily::Usb,
            "bridge" => ClassFamily::Bridge,
            "accel" | "accelerator" | "crypto" => ClassFamily::Accel,
            "other" => ClassFamily::Other,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_print_as_lower_hex() {
        assert_eq!(VendorId::parse("8086").unwrap().to_string(), "8086");
        assert_eq!(VendorId::parse("0x8086").unwrap(), VendorId(0x8086));
        assert_eq!(DeviceId::parse("15B3").unwrap().to_string(), "15b3");
        assert!(VendorId::parse("18086").is_err());
        assert!(DeviceId::parse("zz").is_err());
        assert!(DeviceId::parse("").is_err());
        let c = ClassCode::parse("0x020000").unwrap();
        assert_eq!(c.to_string(), "020000");
        assert_eq!(c.class16(), 0x0200);
        assert_eq!(c.family(), ClassFamily::Net);
        assert_eq!(ClassCode(0x010802).family(), ClassFamily::Nvme);
        assert_eq!(ClassCode(0x030000).family(), ClassFamily::Gpu);
        assert_eq!(ClassCode(0x060400).family(), ClassFamily::Bridge);
    }
}
