//! Names from the system's `pci.ids`, looked up the way lspci does.
//!
//! The database is searched under the host root (`usr/share/misc/pci.ids`, then
//! `usr/share/hwdata/pci.ids`); without one, ids still print and names stay unknown.

use std::collections::HashMap;

/// Where pci.ids lives, relative to a root, in lspci's order of preference.
pub const PCI_IDS_PATHS: &[&str] = &["usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids"];

/// A parsed pci.ids database.
#[derive(Default, Debug, Clone)]
pub struct PciIds {
    vendors: HashMap<u16, String>,
    devices: HashMap<(u16, u16), String>,
    subsystems: HashMap<(u16, u16, u16, u16), String>,
    classes: HashMap<u8, String>,
    subclasses: HashMap<(u8, u8), String>,
    prog_ifs: HashMap<(u8, u8, u8), String>,
}

fn hex4(s: &str) -> Option<u16> {
    if s.len() == 4 {
        u16::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

fn hex2(s: &str) -> Option<u8> {
    if s.len() == 2 {
        u8::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

impl PciIds {
    /// Parses the text of a pci.ids file. Unknown or malformed lines are skipped,
    /// as lspci does.
    pub fn parse(text: &str) -> Self {
        let mut db = PciIds::default();
        let mut vendor: Option<u16> = None;
        let mut device: Option<u16> = None;
        let mut class: Option<u8> = None;
        let mut subclass: Option<u8> = None;
        let mut in_class = false;
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let tabs = line.bytes().take_while(|&b| b == b'\t').count();
            let body = &line[tabs..];
            match tabs {
                0 => {
                    if let Some(rest) = body.strip_prefix("C ") {
                        in_class = true;
                        let (id, name) = rest.split_once("  ").unwrap_or((rest, ""));
                        class = hex2(id.trim());
                        if let Some(c) = class {
                            db.classes.insert(c, name.trim().to_string());
                        }
                    } else {
                        let (id, name) = body.split_once("  ").unwrap_or((body, ""));
                        vendor = hex4(id);
                        in_class = false;
                        if let Some(v) = vendor {
                            db.vendors.insert(v, name.trim().to_string());
                        }
                    }
                    device = None;
                    subclass = None;
                }
                1 => {
                    let (id, name) = body.split_once("  ").unwrap_or((body, ""));
                    if in_class {
                        subclass = hex2(id);
                        if let (Some(c), Some(s)) = (class, subclass) {
                            db.subclasses.insert((c, s), name.trim().to_string());
                        }
                    } else {
                        device = hex4(id);
                        if let (Some(v), Some(d)) = (vendor, device) {
                            db.devices.insert((v, d), name.trim().to_string());
                        }
                    }
                }
                2 => {
                    if in_class {
                        let (id, name) = body.split_once("  ").unwrap_or((body, ""));
                        if let (Some(c), Some(s), Some(p)) = (class, subclass, hex2(id)) {
                            db.prog_ifs.insert((c, s, p), name.trim().to_string());
                        }
                    } else if let (Some(v), Some(d)) = (vendor, device) {
                        let mut it = body.splitn(2, "  ");
                        let ids = it.next().unwrap_or("");
                        let name = it.next().unwrap_or("").trim();
                        let mut ids = ids.split_whitespace();
                        if let (Some(sv), Some(sd)) =
                            (ids.next().and_then(hex4), ids.next().and_then(hex4))
                        {
                            db.subsystems.insert((v, d, sv, sd), name.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        db
    }

    /// Vendor name.
    pub fn vendor(&self, v: u16) -> Option<&str> {
        self.vendors.get(&v).map(String::as_str)
    }
    /// Device name.
    pub fn device(&self, v: u16, d: u16) -> Option<&str> {
        self.devices.get(&(v, d)).map(String::as_str)
    }
    /// Subsystem name, falling back to lspci's rule: the subsystem's own device name
    /// when the subsystem ids equal the device ids.
    pub fn subsystem(&self, v: u16, d: u16, sv: u16, sd: u16) -> Option<&str> {
        self.subsystems
            .get(&(v, d, sv, sd))
            .map(String::as_str)
            .or_else(|| {
                if (sv, sd) == (v, d) {
                    self.device(v, d)
                } else {
                    None
                }
            })
    }
    /// Class name: the subclass name when known, else the base class name.
    pub fn class(&self, class: u32) -> Option<&str> {
        let (b, s) = ((class >> 16) as u8, (class >> 8) as u8);
        self.subclasses
            .get(&(b, s))
            .or_else(|| self.classes.get(&b))
            .map(String::as_str)
    }
    /// Programming-interface name.
    pub fn prog_if(&self, class: u32) -> Option<&str> {
        let (b, s, p) = ((class >> 16) as u8, (class >> 8) as u8, class as u8);
        self.prog_ifs.get(&(b, s, p)).map(String::as_str)
    }
    /// Number of vendors known (0 means an empty or missing database).
    pub fn vendor_count(&self) -> usize {
        self.vendors.len()
    }
}

/// A short name for narrow tables: the bracketed marketing name when pci.ids has one
/// ("Ethernet Controller Virtual Function" stays whole; "I350 Gigabit Network
/// Connection" stays whole), truncated to `max` characters with an ellipsis.
pub fn shorten(name: &str, max: usize) -> String {
    let n = name.trim();
    if n.chars().count() <= max {
        return n.to_string();
    }
    let mut s: String = n.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# comment\n8086  Intel Corporation\n\t1520  I350 Ethernet Controller Virtual Function\n\t1521  I350 Gigabit Network Connection\n\t\t8086 00a1  Ethernet Server Adapter I350-T4\n10de  NVIDIA Corporation\nC 02  Network controller\n\t00  Ethernet controller\nC 01  Mass storage controller\n\t08  Non-Volatile memory controller\n\t\t02  NVM Express\n";

    #[test]
    fn looks_up_vendor_device_subsystem_and_class() {
        let db = PciIds::parse(SAMPLE);
        assert_eq!(db.vendor(0x8086), Some("Intel Corporation"));
        assert_eq!(
            db.device(0x8086, 0x1521),
            Some("I350 Gigabit Network Connection")
        );
        assert_eq!(
            db.subsystem(0x8086, 0x1521, 0x8086, 0x00a1),
            Some("Ethernet Server Adapter I350-T4")
        );
        assert_eq!(
            db.subsystem(0x8086, 0x1521, 0x8086, 0x1521),
            Some("I350 Gigabit Network Connection")
        );
        assert_eq!(db.class(0x020000), Some("Ethernet controller"));
        assert_eq!(db.class(0x028000), Some("Network controller"));
        assert_eq!(db.prog_if(0x010802), Some("NVM Express"));
        assert_eq!(db.device(0x10de, 0x1), None);
        assert_eq!(PciIds::parse("").vendor_count(), 0);
    }
}
