//! PCI arithmetic the simulator needs: addresses and routing ids (where offset and
//! stride put VFs, drivers/pci/iov.c), config-space edits (the SR-IOV capability's
//! NumVFs and VF Enable, a VF's config derived from its PF's), and the strings the
//! kernel prints for a device (`modalias`, `uevent`).

use std::fmt;

/// A PCI function address `dddd:bb:ss.f`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    /// PCI domain (segment).
    pub domain: u32,
    /// Bus number.
    pub bus: u8,
    /// Device (slot) number, 0..32.
    pub slot: u8,
    /// Function number, 0..8.
    pub func: u8,
}

impl Bdf {
    /// Parses the kernel's full form `0000:06:00.0` (nothing shorter, like the kernel's
    /// `bus_find_device_by_name`).
    pub fn parse(s: &str) -> Option<Bdf> {
        let (dom, rest) = s.split_once(':')?;
        let (bus, rest) = rest.split_once(':')?;
        let (slot, func) = rest.split_once('.')?;
        if dom.len() != 4 || bus.len() != 2 || slot.len() != 2 || func.len() != 1 {
            return None;
        }
        let slot = u8::from_str_radix(slot, 16).ok()?;
        let func = u8::from_str_radix(func, 16).ok()?;
        if slot > 0x1f || func > 7 {
            return None;
        }
        Some(Bdf {
            domain: u32::from_str_radix(dom, 16).ok()?,
            bus: u8::from_str_radix(bus, 16).ok()?,
            slot,
            func,
        })
    }

    /// Bus number and devfn as one 16-bit routing id.
    pub fn routing_id(&self) -> u32 {
        (u32::from(self.bus) << 8) | (u32::from(self.slot) << 3) | u32::from(self.func)
    }

    /// The function with a routing id in the same domain (`None` past bus 255).
    pub fn from_routing_id(domain: u32, rid: u32) -> Option<Bdf> {
        if rid > 0xffff {
            return None;
        }
        Some(Bdf {
            domain,
            bus: (rid >> 8) as u8,
            slot: ((rid >> 3) & 0x1f) as u8,
            func: (rid & 7) as u8,
        })
    }

    /// Where VF `index` of this PF sits (`pci_iov_virtfn_bus`/`_devfn`).
    pub fn virtfn(&self, offset: u32, stride: u32, index: u32) -> Option<Bdf> {
        Bdf::from_routing_id(self.domain, self.routing_id() + offset + stride * index)
    }
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.func
        )
    }
}

/// Parses sysfs hex (`0x8086`, `8086`, `0x020000`).
pub fn parse_hex(s: &str) -> Option<u32> {
    let t = s.trim();
    u32::from_str_radix(t.strip_prefix("0x").unwrap_or(t), 16).ok()
}

/// The kernel's `kstrtou16(buf, 0, ..)`/`kstrtoul`: decimal, `0x` hex or `0` octal,
/// one trailing newline allowed, nothing else.
pub fn kstrtoul(s: &str) -> Option<u64> {
    let t = s.strip_suffix('\n').unwrap_or(s);
    if t.is_empty() || t.starts_with('+') && t.len() == 1 {
        return None;
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        u64::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse().ok()
    }
}

/// The kernel's `kstrtobool`: first character 1/y/Y/0/n/N, or on/off.
pub fn kstrtobool(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    match b.first()? {
        b'1' | b'y' | b'Y' => Some(true),
        b'0' | b'n' | b'N' => Some(false),
        b'o' | b'O' => match b.get(1)? {
            b'n' | b'N' => Some(true),
            b'f' | b'F' => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The C library's `sscanf("%x %x ...")` over whitespace-separated hex fields: parses
/// leading fields until one fails; returns what parsed.
pub fn scan_hex_fields(s: &str, max: usize) -> Vec<u64> {
    let mut out = Vec::new();
    for tok in s.split_whitespace().take(max) {
        let t = tok
            .strip_prefix("0x")
            .or_else(|| tok.strip_prefix("0X"))
            .unwrap_or(tok);
        let digits: String = t.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        match u64::from_str_radix(&digits, 16) {
            Ok(v) => out.push(v),
            Err(_) => break,
        }
        if digits.len() != t.len() {
            break;
        }
    }
    out
}

fn rd16(c: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*c.get(off)?, *c.get(off + 1)?]))
}

fn rd32(c: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *c.get(off)?,
        *c.get(off + 1)?,
        *c.get(off + 2)?,
        *c.get(off + 3)?,
    ]))
}

fn wr16(c: &mut [u8], off: usize, v: u16) {
    if off + 2 <= c.len() {
        c[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }
}

fn wr32(c: &mut [u8], off: usize, v: u32) {
    if off + 4 <= c.len() {
        c[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
}

/// Offset of a standard capability (`0x10` = PCI Express), if the config lists it.
pub fn find_cap(c: &[u8], id: u8) -> Option<usize> {
    let status = rd16(c, 0x06)?;
    if status & 0x10 == 0 {
        return None;
    }
    let mut ptr = usize::from(*c.get(0x34)? & 0xfc);
    for _ in 0..48 {
        if ptr < 0x40 {
            return None;
        }
        if *c.get(ptr)? == id {
            return Some(ptr);
        }
        ptr = usize::from(*c.get(ptr + 1)? & 0xfc);
    }
    None
}

/// Offset of an extended capability (`0x10` = SR-IOV) and of the one pointing to it
/// (`None` when it is the first, at 0x100).
pub fn find_ext_cap(c: &[u8], id: u16) -> Option<(usize, Option<usize>)> {
    let mut ptr = 0x100usize;
    let mut prev = None;
    for _ in 0..512 {
        let h = rd32(c, ptr)?;
        if h == 0 || h == 0xffff_ffff {
            return None;
        }
        if (h & 0xffff) as u16 == id {
            return Some((ptr, prev));
        }
        let next = (h >> 20) as usize & 0xffc;
        if next < 0x100 {
            return None;
        }
        prev = Some(ptr);
        ptr = next;
    }
    None
}

const EXT_SRIOV: u16 = 0x0010;

/// Sets the SR-IOV capability's NumVFs, VF Enable and VF MSE the way the kernel
/// leaves them after `sriov_numvfs` (a no-op when the config has no SR-IOV block).
pub fn set_config_numvfs(c: &mut [u8], n: u16) {
    if let Some((off, _)) = find_ext_cap(c, EXT_SRIOV) {
        let ctl = rd16(c, off + 0x08).unwrap_or(0);
        let ctl = if n > 0 { ctl | 0x0009 } else { ctl & !0x0009 };
        wr16(c, off + 0x08, ctl);
        wr16(c, off + 0x10, n);
    }
}

/// A VF's config space derived from its PF's: ids read `ffff` (SR-IOV spec; the
/// kernel takes VF ids from the PF), BARs and ROM read 0, Memory/IO Space Enable and
/// INTx pin are 0, the PCIe link status is 0 ("Speed unknown, Width x0"), and the
/// SR-IOV capability is gone (VFs have none).
pub fn vf_config_from_pf(pf: &[u8]) -> Vec<u8> {
    let mut c = pf.to_vec();
    if c.len() < 0x40 {
        c.resize(0x40, 0);
    }
    wr32(&mut c, 0x00, 0xffff_ffff);
    let cmd = rd16(&c, 0x04).unwrap_or(0) & !0x0003;
    wr16(&mut c, 0x04, cmd);
    c[0x0e] &= 0x7f;
    for off in (0x10..0x28).step_by(4) {
        wr32(&mut c, off, 0);
    }
    wr32(&mut c, 0x30, 0);
    c[0x3c] = 0;
    c[0x3d] = 0;
    if let Some(e) = find_cap(&c, 0x10) {
        wr16(&mut c, e + 0x12, 0);
    }
    if let Some((off, prev)) = find_ext_cap(&c, EXT_SRIOV) {
        let h = rd32(&c, off).unwrap_or(0);
        let next = h >> 20;
        match prev {
            Some(p) => {
                let ph = rd32(&c, p).unwrap_or(0);
                wr32(&mut c, p, (ph & 0x000f_ffff) | (next << 20));
                let end = (off + 0x40).min(c.len());
                c[off..end].fill(0);
            }
            // First in the chain: leave a null capability that points on.
            None => {
                let end = (off + 0x40).min(c.len());
                c[off..end].fill(0);
                wr32(&mut c, off, next << 20);
            }
        }
    }
    c
}

/// The kernel's `modalias` for a device.
pub fn modalias(vendor: u32, device: u32, sub_vendor: u32, sub_device: u32, class: u32) -> String {
    format!(
        "pci:v{vendor:08X}d{device:08X}sv{sub_vendor:08X}sd{sub_device:08X}bc{:02X}sc{:02X}i{:02X}",
        (class >> 16) & 0xff,
        (class >> 8) & 0xff,
        class & 0xff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vf_addresses_follow_offset_and_stride() {
        let pf = Bdf::parse("0000:06:00.0").unwrap();
        // I350: offset 0x180, stride 4 -> 07:10.0, 07:10.4, 07:11.0 ...
        assert_eq!(pf.virtfn(0x180, 4, 0).unwrap().to_string(), "0000:07:10.0");
        assert_eq!(pf.virtfn(0x180, 4, 1).unwrap().to_string(), "0000:07:10.4");
        assert_eq!(pf.virtfn(0x180, 4, 2).unwrap().to_string(), "0000:07:11.0");
        let pf1 = Bdf::parse("0000:06:00.1").unwrap();
        assert_eq!(pf1.virtfn(0x180, 4, 0).unwrap().to_string(), "0000:07:10.1");
        // 82599: offset 128, stride 2 on the same bus.
        let x = Bdf::parse("0000:03:00.0").unwrap();
        assert_eq!(x.virtfn(128, 2, 3).unwrap().to_string(), "0000:03:10.6");
        assert!(Bdf::parse("06:00.0").is_none());
        assert!(Bdf::parse("0000:06:20.0").is_none());
    }

    #[test]
    fn kernel_number_parsing() {
        assert_eq!(kstrtoul("4\n"), Some(4));
        assert_eq!(kstrtoul("0x10"), Some(16));
        assert_eq!(kstrtoul("010"), Some(8));
        assert_eq!(kstrtoul("0"), Some(0));
        assert_eq!(kstrtoul(" 4"), None);
        assert_eq!(kstrtoul("4\n\n"), None);
        assert_eq!(kstrtoul("-1"), None);
        assert_eq!(kstrtoul(""), None);
        assert_eq!(kstrtobool("on\n"), Some(true));
        assert_eq!(kstrtobool("0"), Some(false));
        assert_eq!(scan_hex_fields("8086 1520\n", 7), vec![0x8086, 0x1520]);
        assert_eq!(scan_hex_fields("8086 zz 1", 7), vec![0x8086]);
        assert_eq!(scan_hex_fields("10de", 7), vec![0x10de]);
    }

    fn config_with_sriov() -> Vec<u8> {
        let mut c = vec![0u8; 4096];
        wr32(&mut c, 0, 0x1521_8086);
        wr16(&mut c, 0x04, 0x0407);
        wr16(&mut c, 0x06, 0x0010);
        c[0x34] = 0x40;
        c[0x3d] = 1;
        wr32(&mut c, 0x10, 0xfe00_0000);
        // PCIe cap at 0x40 with link status 0x1081.
        c[0x40] = 0x10;
        c[0x41] = 0;
        wr16(&mut c, 0x52, 0x1081);
        // AER at 0x100 -> SR-IOV at 0x160 -> ARI at 0x1a0.
        wr32(&mut c, 0x100, 0x0001 | (1 << 16) | (0x160 << 20));
        wr32(&mut c, 0x160, 0x0010 | (1 << 16) | (0x1a0 << 20));
        wr16(&mut c, 0x160 + 0x0e, 8);
        wr32(&mut c, 0x1a0, 0x000e | (1 << 16));
        c
    }

    #[test]
    fn numvfs_lands_in_the_sriov_capability() {
        let mut c = config_with_sriov();
        set_config_numvfs(&mut c, 4);
        assert_eq!(rd16(&c, 0x170), Some(4));
        assert_eq!(rd16(&c, 0x168).unwrap() & 9, 9);
        set_config_numvfs(&mut c, 0);
        assert_eq!(rd16(&c, 0x170), Some(0));
        assert_eq!(rd16(&c, 0x168).unwrap() & 9, 0);
    }

    #[test]
    fn vf_config_is_the_pf_one_without_ids_bars_or_sriov() {
        let vf = vf_config_from_pf(&config_with_sriov());
        assert_eq!(rd32(&vf, 0), Some(0xffff_ffff));
        assert_eq!(rd32(&vf, 0x10), Some(0));
        assert_eq!(rd16(&vf, 0x04).unwrap() & 3, 0);
        assert_eq!(vf[0x3d], 0);
        assert_eq!(rd16(&vf, 0x52), Some(0));
        assert!(find_ext_cap(&vf, 0x10).is_none());
        assert_eq!(find_ext_cap(&vf, 0x000e).map(|x| x.0), Some(0x1a0));
        assert_eq!(find_ext_cap(&vf, 0x0001).map(|x| x.0), Some(0x100));
    }

    #[test]
    fn modalias_is_upper_hex() {
        assert_eq!(
            modalias(0x8086, 0x1520, 0x8086, 0x0001, 0x020000),
            "pci:v00008086d00001520sv00008086sd00000001bc02sc00i00"
        );
    }
}
