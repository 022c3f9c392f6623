//! Names from the system's `pci.ids`, looked up the way lspci does.
//!
//! The database is searched under the host root (`usr/share/misc/pci.ids`, then
//! `usr/share/hwdata/pci.ids`); without one, ids still print and names stay unknown.

use std::collections::HashMap;

/// Where pci.ids lives, relative to a root, in lspci's order of preference.
pub const PCI_IDS_PATHS: &[&str] = &["usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids"];

/// A pci.ids database, indexed lazily: loading it only notes where each vendor's
/// block and the class section start (one pass over the top-level lines, no copies);
/// the first lookup in a vendor indexes that vendor's device lines. A host names a
/// handful of vendors, so this is a small fraction of parsing all ~40 000 entries.
#[derive(Default, Debug, Clone)]
pub struct PciIds {
    text: String,
    /// Vendor id -> its block (the vendor line and its tab lines).
    vendors: HashMap<u16, VendorBlock>,
    /// Class id -> byte range of its block (`C xx` line and its tab lines).
    classes: HashMap<u8, (usize, usize)>,
}

/// Where a vendor's lines are, and (built on first use) where each device line is.
#[derive(Default, Debug, Clone)]
struct VendorBlock {
    start: usize,
    end: usize,
    /// Device id -> offset of its line in the text.
    devices: std::sync::OnceLock<HashMap<u16, usize>>,
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

/// `ID  Name` (ids and name separated by two spaces, as pci.ids writes them).
fn id_and_name(body: &str) -> (&str, &str) {
    let (id, name) = body.split_once("  ").unwrap_or((body, ""));
    (id.trim(), name.trim())
}

/// The lines of a block with their tab depth and the text after the tabs.
fn lines_of(block: &str) -> impl Iterator<Item = (usize, &str)> {
    block.lines().filter_map(|line| {
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let tabs = line.bytes().take_while(|&b| b == b'\t').count();
        Some((tabs, &line[tabs..]))
    })
}

impl PciIds {
    /// Indexes the text of a pci.ids file. Unknown or malformed lines are skipped,
    /// as lspci does.
    pub fn parse(text: &str) -> Self {
        Self::from_string(text.to_string())
    }

    /// [`parse`](Self::parse), keeping the text it is given instead of a copy.
    pub fn from_string(text: String) -> Self {
        let mut db = PciIds::default();
        // The block being indexed: vendor or class, and where it starts.
        let mut open: Option<(Option<u16>, Option<u8>, usize)> = None;
        let mut close = |open: &mut Option<(Option<u16>, Option<u8>, usize)>, end: usize| {
            if let Some((v, c, start)) = open.take() {
                if let Some(v) = v {
                    db.vendors.entry(v).or_insert(VendorBlock {
                        start,
                        end,
                        devices: Default::default(),
                    });
                }
                if let Some(c) = c {
                    db.classes.entry(c).or_insert((start, end));
                }
            }
        };
        let mut pos = 0;
        for line in text.split_inclusive('\n') {
            let start = pos;
            pos += line.len();
            let first = line.as_bytes().first().copied();
            if matches!(
                first,
                None | Some(b'\t') | Some(b'#') | Some(b'\n') | Some(b'\r')
            ) {
                continue;
            }
            close(&mut open, start);
            let body = line.trim_end();
            open = match body.strip_prefix("C ") {
                Some(rest) => Some((None, hex2(id_and_name(rest).0), start)),
                None => Some((hex4(id_and_name(body).0), None, start)),
            };
        }
        close(&mut open, pos);
        db.text = text;
        db
    }

    fn vendor_block(&self, v: u16) -> Option<&str> {
        self.vendors.get(&v).map(|b| &self.text[b.start..b.end])
    }

    fn class_block(&self, c: u8) -> Option<&str> {
        self.classes.get(&c).map(|&(a, b)| &self.text[a..b])
    }

    /// Vendor name.
    pub fn vendor(&self, v: u16) -> Option<&str> {
        let (_, body) = lines_of(self.vendor_block(v)?).next()?;
        Some(id_and_name(body).1)
    }

    /// The device line's name and the block of its subsystem lines.
    fn device_entry(&self, v: u16, d: u16) -> Option<(&str, impl Iterator<Item = &str>)> {
        let vb = self.vendors.get(&v)?;
        let index = vb.devices.get_or_init(|| {
            let mut index = HashMap::new();
            let mut pos = vb.start;
            for line in self.text[vb.start..vb.end].split_inclusive('\n') {
                if let Some(body) = line.strip_prefix('\t').filter(|b| !b.starts_with('\t')) {
                    if let Some(id) = hex4(id_and_name(body).0) {
                        index.entry(id).or_insert(pos);
                    }
                }
                pos += line.len();
            }
            index
        });
        let at = *index.get(&d)?;
        let rest = &self.text[at..vb.end];
        let (line, rest) = rest.split_once('\n').unwrap_or((rest, ""));
        let name = id_and_name(line.trim_start_matches('\t')).1;
        let subs = lines_of(rest)
            .take_while(|(tabs, _)| *tabs >= 2)
            .filter(|(tabs, _)| *tabs == 2)
            .map(|(_, body)| body);
        Some((name, subs))
    }

    /// Device name.
    pub fn device(&self, v: u16, d: u16) -> Option<&str> {
        self.device_entry(v, d).map(|(name, _)| name)
    }

    /// Subsystem name, falling back to lspci's rule: the subsystem's own device name
    /// when the subsystem ids equal the device ids.
    pub fn subsystem(&self, v: u16, d: u16, sv: u16, sd: u16) -> Option<&str> {
        let (dev_name, mut subs) = self.device_entry(v, d)?;
        let found = subs.find_map(|body| {
            let (ids, name) = body.split_once("  ").unwrap_or((body, ""));
            let mut ids = ids.split_whitespace();
            let want = (ids.next().and_then(hex4), ids.next().and_then(hex4));
            (want == (Some(sv), Some(sd))).then_some(name.trim())
        });
        found.or(((sv, sd) == (v, d)).then_some(dev_name))
    }

    /// The subclass line of a class (and the lines after it).
    fn subclass_entry(&self, class: u32) -> Option<(&str, impl Iterator<Item = (usize, &str)>)> {
        let (b, s) = ((class >> 16) as u8, (class >> 8) as u8);
        let mut it = lines_of(self.class_block(b)?).skip(1);
        let name = it.by_ref().find_map(|(tabs, body)| {
            let (id, name) = id_and_name(body);
            (tabs == 1 && hex2(id) == Some(s)).then_some(name)
        })?;
        Some((name, it.take_while(|(tabs, _)| *tabs >= 2)))
    }

    /// Class name: the subclass name when known, else the base class name.
    pub fn class(&self, class: u32) -> Option<&str> {
        self.subclass_entry(class)
            .map(|(name, _)| name)
            .or_else(|| {
                let (_, body) = lines_of(self.class_block((class >> 16) as u8)?).next()?;
                Some(id_and_name(body.strip_prefix("C ")?).1)
            })
    }

    /// Programming-interface name.
    pub fn prog_if(&self, class: u32) -> Option<&str> {
        let p = class as u8;
        self.subclass_entry(class)?.1.find_map(|(tabs, body)| {
            let (id, name) = id_and_name(body);
            (tabs == 2 && hex2(id) == Some(p)).then_some(name)
        })
    }

    /// Number of vendors known (0 means an empty or missing database).
    pub fn vendor_count(&self) -> usize {
        self.vendors.len()
    }
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
        assert_eq!(db.vendor(0x10de), Some("NVIDIA Corporation"));
        assert_eq!(db.subsystem(0x8086, 0x1520, 0x8086, 0x00a1), None);
        assert_eq!(db.prog_if(0x010801), None);
        assert_eq!(db.class(0x018000), Some("Mass storage controller"));
        assert_eq!(db.class(0x030000), None);
        assert_eq!(PciIds::parse("").vendor_count(), 0);
        assert_eq!(db.vendor_count(), 2);
    }

    #[test]
    fn a_device_id_in_a_subsystem_line_or_another_vendor_is_not_a_device() {
        // `1521` appears as a subsystem device under 1520 and as a device of 10de:
        // neither may answer for 8086:1521.
        let db = PciIds::parse(
            "8086  Intel Corporation\n\t1520  VF\n\t\t8086 1521  Not a device\n10de  NVIDIA\n\t1521  Other vendor's\n",
        );
        assert_eq!(db.device(0x8086, 0x1521), None);
        assert_eq!(db.device(0x10de, 0x1521), Some("Other vendor's"));
        assert_eq!(
            db.subsystem(0x8086, 0x1520, 0x8086, 0x1521),
            Some("Not a device")
        );
        // A truncated or garbled file answers what it can and never panics.
        let db = PciIds::parse("8086  Intel\n\t15\n\tzzzz  x\n\t\t\n C 02\nC zz  y\n\t00  z");
        assert_eq!(db.vendor(0x8086), Some("Intel"));
        assert_eq!(db.device(0x8086, 0x15), None);
        assert_eq!(db.class(0x020000), None);
    }

    /// Every entry of a whole database (the machine's own when it has one) answers
    /// the same through the lazy index as through a plain line-by-line parse.
    #[test]
    fn the_lazy_index_answers_like_a_full_parse() {
        let text = std::fs::read_to_string("/usr/share/misc/pci.ids")
            .or_else(|_| std::fs::read_to_string("/usr/share/hwdata/pci.ids"))
            .unwrap_or_else(|_| SAMPLE.to_string());
        let db = PciIds::parse(&text);
        let (mut v, mut d, mut checked) = (None::<u16>, None::<u16>, 0);
        let mut class: Option<u8> = None;
        let mut first = std::collections::HashSet::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let tabs = line.bytes().take_while(|&b| b == b'\t').count();
            let (id, name) = id_and_name(&line[tabs..]);
            match tabs {
                0 if line.starts_with("C ") => {
                    (v, class) = (None, hex2(id_and_name(&line[2..]).0));
                }
                0 => {
                    (v, class) = (hex4(id), None);
                    if let Some(v) = v.filter(|v| first.insert((*v, None))) {
                        assert_eq!(db.vendor(v), Some(name), "{line}");
                    }
                }
                1 if class.is_some() => {
                    let c =
                        (u32::from(class.unwrap()) << 16) | u32::from(hex2(id).unwrap_or(0)) << 8;
                    if hex2(id).is_some() {
                        assert_eq!(db.class(c), Some(name), "{line}");
                    }
                }
                1 => {
                    d = hex4(id);
                    if let (Some(v), Some(d)) = (v, d) {
                        if first.insert((v, Some(d))) {
                            assert_eq!(db.device(v, d), Some(name), "{line}");
                            checked += 1;
                        }
                    }
                }
                2 if class.is_none() => {
                    let mut ids = id.split_whitespace().map(hex4);
                    if let (Some(v), Some(d), Some(Some(sv)), Some(Some(sd))) =
                        (v, d, ids.next(), ids.next())
                    {
                        let got = db.subsystem(v, d, sv, sd);
                        assert!(got.is_some(), "{line}");
                    }
                }
                _ => {}
            }
        }
        assert!(checked > 0);
    }
}
