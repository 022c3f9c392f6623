//! One device block: the title line and the indented lines under it.

use super::splice::Line;
use crate::host::model::{PciDevice, PcieLink, Sriov, UnreadIds};
use crate::pci::{DeviceId, PciAddress, VendorId};
use regex::Regex;
use std::sync::LazyLock;

/// `[[domain:]bus:]dev.fn` at the start of a line, then the title.
static HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^([ \t]*)((?:[0-9A-Fa-f]{4,8}:)?[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])(?:[ \t]+(.*))?$",
    )
    .expect("static regex")
});
/// `lspci -nn` title: `Class name [cccc]: Vendor Device [vvvv:dddd] (rev xx) (prog-if xx [...])`.
static TITLE_NN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<class>.*?)\s*\[(?P<cc>[0-9A-Fa-f]{4})\]:\s*(?P<names>.*?)\s*\[(?P<v>[0-9A-Fa-f]{4}):(?P<d>[0-9A-Fa-f]{4})\](?P<tail>.*)$")
        .expect("static regex")
});
/// A `-nn` title lspci cut short: it formats `Vendor Device [vvvv:dddd]` into a fixed
/// buffer and ends an overlong one with `...` (pciutils lib/names.c `format_name`), so
/// the ids are partly or wholly lost: `Class [cccc]: Intel Corporation Xeon ... [8086... (rev 02)`.
/// The class, revision and prog-if are printed outside that buffer and stay whole.
static TITLE_CUT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<class>.*?)\s*\[(?P<cc>[0-9A-Fa-f]{4})\]:\s*(?P<names>.*?)\.\.\.(?P<tail>(?:\s*\(.*)?)$")
        .expect("static regex")
});
/// What is left of `[vvvv:dddd]` at the end of a cut title: `[8086`, `[8086:15`, `[80`.
static IDS_CUT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\s*\[(?P<v>[0-9A-Fa-f]{0,4})(?::[0-9A-Fa-f]{0,3})?$").expect("static regex")
});
/// `lspci -n` title: `cccc: vvvv:dddd (rev xx) (prog-if xx)`.
static TITLE_N: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?P<cc>[0-9A-Fa-f]{4}):\s*(?P<v>[0-9A-Fa-f]{4}):(?P<d>[0-9A-Fa-f]{4})(?P<tail>.*)$",
    )
    .expect("static regex")
});
static REV: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(rev ([0-9A-Fa-f]{1,2})\)").expect("static regex"));
static PROG_IF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\(prog-if ([0-9A-Fa-f]{1,2})(?:\s*\[[^\]]*\])?\)").expect("static regex")
});
/// `Subsystem: Name [ssss:ssss]` (`-nn`) or `Subsystem: ssss:ssss` (`-n`).
static SUBSYS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?P<names>.*?)\s*\[(?P<v>[0-9A-Fa-f]{4}):(?P<d>[0-9A-Fa-f]{4})\]|(?P<nv>[0-9A-Fa-f]{4}):(?P<nd>[0-9A-Fa-f]{4}))\s*$")
        .expect("static regex")
});
static SPEED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Speed\s+([0-9]+(?:\.[0-9]+)?)\s*G[Tb]/s").expect("static regex"));
static WIDTH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Width\s+x([0-9]+)").expect("static regex"));
static BUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"secondary=([0-9A-Fa-f]{2}),\s*subordinate=([0-9A-Fa-f]{2})").expect("static regex")
});

/// Columns of leading whitespace (tabs to the next multiple of 8, as a terminal shows them).
pub(super) fn indent(s: &str) -> usize {
    let mut col = 0;
    for c in s.chars() {
        match c {
            ' ' => col += 1,
            '\t' => col = (col / 8 + 1) * 8,
            _ => break,
        }
    }
    col
}

/// A title line: its indent, address text and the rest.
pub(super) struct Head<'a> {
    pub indent: usize,
    pub address: &'a str,
    pub title: &'a str,
}

/// Whether a line starts a device block.
pub(super) fn head(line: &str) -> Option<Head<'_>> {
    let c = HEAD.captures(line)?;
    Some(Head {
        indent: indent(line),
        address: c.get(2)?.as_str(),
        title: c.get(3).map_or("", |m| m.as_str()),
    })
}

/// What a block yields: the device and what the later passes need.
#[derive(Debug)]
pub(super) struct Parsed {
    /// The device, names still raw (see `raw_names`).
    pub device: PciDevice,
    /// 1-based line of the title.
    pub line: usize,
    /// The title's name text (`Intel Corporation I350 ...`), vendor not yet split off.
    pub raw_names: Option<String>,
    /// The `Subsystem:` name text, vendor not yet split off.
    pub raw_subsystem: Option<String>,
    /// `Capabilities: <access denied>` (lspci run without root).
    pub access_denied: bool,
    /// A bridge's secondary and subordinate bus numbers.
    pub buses: Option<(u8, u8)>,
    /// The title names a Virtual Function.
    pub says_vf: bool,
    /// Problems with lines inside an otherwise good block.
    pub warnings: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cap {
    Express,
    Sriov,
    Other,
}

#[derive(Default)]
struct SriovText {
    total: Option<u32>,
    number: Option<u32>,
    offset: Option<u32>,
    stride: Option<u32>,
    device: Option<DeviceId>,
}

/// Parses one block. `Err` is the warning to record when the title is unusable.
pub(super) fn parse(head: &Head<'_>, line: usize, body: &[&Line]) -> Result<Parsed, String> {
    let address = PciAddress::parse(head.address).map_err(|e| format!("line {line}: {e}"))?;
    let title = head.title.trim();
    let mut unread = None;
    let (class16, vendor, device, class_name, raw_names, tail) = if let Some(c) =
        TITLE_NN.captures(title)
    {
        (
            hex16(&c["cc"]),
            hex16(&c["v"]),
            hex16(&c["d"]),
            Some(c["class"].trim().to_string()),
            Some(c["names"].trim().to_string()),
            c.name("tail").map_or("", |m| m.as_str()),
        )
    } else if let Some(c) = TITLE_N.captures(title) {
        (
            hex16(&c["cc"]),
            hex16(&c["v"]),
            hex16(&c["d"]),
            None,
            None,
            c.name("tail").map_or("", |m| m.as_str()),
        )
    } else if let Some(c) = TITLE_CUT.captures(title) {
        // Keep the device with what the text carries; the vendor only when all four
        // digits survived. Unread ids hold ffff, which no device has.
        let names = &c["names"];
        let (vendor, names) = match IDS_CUT.captures(names) {
            Some(ids) => {
                let v = &ids["v"];
                let cut = ids.get(0).map_or(names.len(), |m| m.start());
                ((v.len() == 4).then(|| hex16(v)), &names[..cut])
            }
            None => (None, names),
        };
        unread = Some(if vendor.is_some() {
            UnreadIds::Device
        } else {
            UnreadIds::VendorAndDevice
        });
        (
            hex16(&c["cc"]),
            vendor.unwrap_or(0xffff),
            0xffff,
            Some(c["class"].trim().to_string()),
            Some(format!("{}...", names.trim())).filter(|n| n != "..."),
            c.name("tail").map_or("", |m| m.as_str()),
        )
    } else {
        return Err(format!(
                "line {line}: skipped device {address}: its title has no '[cccc]: ... [vvvv:dddd]' class and ids (run lspci with -nn): '{}'",
                clip(title)
            ));
    };
    let prog_if = PROG_IF
        .captures(tail)
        .and_then(|c| u8::from_str_radix(&c[1], 16).ok())
        .unwrap_or(0);
    let mut d = PciDevice::new(
        address,
        vendor,
        device,
        (u32::from(class16) << 8) | u32::from(prog_if),
    );
    d.unread_ids = unread;
    // lspci always knows the revision and prints `(rev xx)` only when it is not 0.
    d.revision = Some(
        REV.captures(tail)
            .and_then(|c| u8::from_str_radix(&c[1], 16).ok())
            .unwrap_or(0),
    );
    d.names.class = class_name.filter(|n| !n.is_empty() && !is_placeholder_class(n));
    let says_vf = raw_names
        .as_deref()
        .is_some_and(|n| n.to_ascii_lowercase().contains("virtual function"));
    let mut p = Parsed {
        device: d,
        line,
        raw_names,
        raw_subsystem: None,
        access_denied: false,
        buses: None,
        says_vf,
        warnings: Vec::new(),
    };
    body_lines(&mut p, body);
    Ok(p)
}

fn body_lines(p: &mut Parsed, body: &[&Line]) {
    let mut cap: Option<Cap> = None;
    let mut link = PcieLink::default();
    let mut sriov: Option<SriovText> = None;
    let d = &mut p.device;
    for l in body {
        let t = l.text.trim();
        // Capability context comes from the last `Capabilities:` line, not from indents:
        // pasted text often loses its tabs, and the keys below are unique to their place.
        if let Some(rest) = t.strip_prefix("Capabilities:") {
            if rest.contains("<access denied>") {
                p.access_denied = true;
                cap = None;
            } else if rest.contains("Single Root I/O Virtualization") {
                cap = Some(Cap::Sriov);
                sriov.get_or_insert_with(SriovText::default);
            } else if rest.contains("Express") {
                cap = Some(Cap::Express);
            } else {
                cap = Some(Cap::Other);
            }
            continue;
        }
        if let Some(v) = t.strip_prefix("Subsystem:") {
            if d.subsystem_vendor_id.is_none() {
                if let Some(c) = SUBSYS.captures(v.trim()) {
                    let (sv, sd) = match (c.name("v"), c.name("d")) {
                        (Some(sv), Some(sd)) => (sv.as_str(), sd.as_str()),
                        _ => (&c["nv"], &c["nd"]),
                    };
                    d.subsystem_vendor_id = Some(VendorId(hex16(sv)));
                    d.subsystem_device_id = Some(DeviceId(hex16(sd)));
                    p.raw_subsystem = c.name("names").map(|m| m.as_str().trim().to_string());
                }
            }
        } else if let Some(v) = t.strip_prefix("Kernel driver in use:") {
            let v = v.trim();
            if d.driver.is_none() && !v.is_empty() {
                d.driver = Some(v.to_string());
            }
        } else if let Some(v) = t.strip_prefix("IOMMU group:") {
            match v.trim().parse() {
                Ok(g) => d.iommu_group = d.iommu_group.or(Some(g)),
                Err(_) => p
                    .warnings
                    .push(format!("line {}: unreadable '{}'", l.number, clip(t))),
            }
        } else if let Some(v) = t.strip_prefix("NUMA node:") {
            // lspci omits the line for the kernel's -1; anything unparsable stays unknown.
            d.numa_node = d.numa_node.or(v.trim().parse().ok());
        } else if t.starts_with("Bus:") {
            if let Some(c) = BUS.captures(t) {
                p.buses = Some((hex8(&c[1]), hex8(&c[2])));
            }
        } else if cap == Some(Cap::Express) {
            if let Some(v) = t.strip_prefix("LnkCap:") {
                link.max_speed = link.max_speed.or_else(|| speed(v));
                link.max_width = link.max_width.or_else(|| width(v));
            } else if let Some(v) = t.strip_prefix("LnkSta:") {
                link.current_speed = link.current_speed.or_else(|| speed(v));
                link.current_width = link.current_width.or_else(|| width(v));
            }
        } else if cap == Some(Cap::Sriov) {
            if let Some(s) = sriov.as_mut() {
                sriov_fields(s, t);
            }
        }
    }
    if link != PcieLink::default() {
        d.link = Some(link);
    }
    if let Some(s) = sriov {
        match s.total {
            Some(total) => {
                d.sriov = Some(Sriov {
                    total_vfs: total,
                    num_vfs: s.number.unwrap_or(0),
                    offset: s.offset,
                    stride: s.stride,
                    vf_device_id: s.device,
                    drivers_autoprobe: None,
                });
                if s.number.is_none() {
                    p.warnings.push(format!(
                        "line {}: {}: SR-IOV capability without 'Number of VFs'; taken as 0",
                        p.line, d.address
                    ));
                }
            }
            None => p.warnings.push(format!(
                "line {}: {}: SR-IOV capability without 'Total VFs'; its SR-IOV facts stay unknown",
                p.line, d.address
            )),
        }
    }
}

/// `Initial VFs: 8, Total VFs: 8, Number of VFs: 1, ...` and
/// `VF offset: 384, stride: 4, Device ID: 1520`.
fn sriov_fields(s: &mut SriovText, t: &str) {
    for part in t.split(',') {
        let Some((k, v)) = part.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "Total VFs" => s.total = v.parse().ok(),
            "Number of VFs" => s.number = v.parse().ok(),
            "VF offset" => s.offset = v.parse().ok(),
            "stride" => s.stride = v.parse().ok(),
            "Device ID" => s.device = DeviceId::parse(v).ok(),
            _ => {}
        }
    }
}

/// lspci's `8GT/s` as the kernel's `current_link_speed` prints it (`8.0 GT/s PCIe`), so
/// facts from lspci text and from sysfs compare equal. A VF's zero link status reads
/// `Speed unknown` in lspci and `Unknown` in sysfs.
fn speed(v: &str) -> Option<String> {
    if v.contains("Speed unknown") {
        return Some("Unknown".to_string());
    }
    let n: f64 = SPEED.captures(v)?[1].parse().ok()?;
    Some(if n.fract() == 0.0 {
        format!("{n:.1} GT/s PCIe")
    } else {
        format!("{n} GT/s PCIe")
    })
}

fn width(v: &str) -> Option<u32> {
    WIDTH.captures(v)?[1].parse().ok()
}

fn is_placeholder_class(n: &str) -> bool {
    // lspci prints `Class [cccc]` / `Class cccc` when pci.ids has no name.
    n == "Class" || n.strip_prefix("Class ").is_some_and(|r| r.len() == 4)
}

// Callers pass only text a regex matched as hex digits.
fn hex16(s: &str) -> u16 {
    u16::from_str_radix(s, 16).unwrap_or(0)
}

fn hex8(s: &str) -> u8 {
    u8::from_str_radix(s, 16).unwrap_or(0)
}

/// A line shortened for a warning.
pub(super) fn clip(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(MAX).collect();
        c.push_str("...");
        c
    }
}
