//! Binary PCI configuration space (the sysfs `config` file) that agrees with the
//! attribute files: header, capability chain (PM, MSI, MSI-X, PCI Express with link
//! capability/status), extended capabilities (AER, DSN, ARI, SR-IOV at 0x160, ACS).
//!
//! Layouts follow the PCI Local Bus 3.0, PCIe Base 4.0 and SR-IOV 1.1 specifications
//! (and the offsets pciutils' `lib/header.h` uses).

use crate::spec::{BarKind, BarSpec, LinkSpec, PortType, SriovSpec};

/// Capability ids.
pub mod cap {
    /// Power Management.
    pub const PM: u8 = 0x01;
    /// MSI.
    pub const MSI: u8 = 0x05;
    /// Subsystem vendor id (bridges).
    pub const SSVID: u8 = 0x0d;
    /// PCI Express.
    pub const EXP: u8 = 0x10;
    /// MSI-X.
    pub const MSIX: u8 = 0x11;
    /// Extended: Advanced Error Reporting.
    pub const EXT_AER: u16 = 0x0001;
    /// Extended: Device Serial Number.
    pub const EXT_DSN: u16 = 0x0003;
    /// Extended: Access Control Services.
    pub const EXT_ACS: u16 = 0x000d;
    /// Extended: Alternative Routing-ID Interpretation.
    pub const EXT_ARI: u16 = 0x000e;
    /// Extended: SR-IOV.
    pub const EXT_SRIOV: u16 = 0x0010;
}

/// Offset of the SR-IOV extended capability (as on the I350 of the seed).
pub const SRIOV_OFFSET: usize = 0x160;
/// Offset of the PCI Express capability.
pub const EXP_OFFSET: usize = 0xa0;

/// Everything the header and capabilities say about one function.
#[derive(Clone, Debug, Default)]
pub struct ConfigParams<'a> {
    /// Vendor id (VFs read 0xffff; the caller passes what the hardware returns).
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// 24-bit class.
    pub class: u32,
    /// Revision.
    pub revision: u8,
    /// Subsystem ids.
    pub subsystem: (u16, u16),
    /// Multi-function bit in the header type.
    pub multifunction: bool,
    /// Type-1 header with these (primary, secondary, subordinate) bus numbers.
    pub bridge_buses: Option<(u8, u8, u8)>,
    /// Memory and I/O decoding enabled, bus master.
    pub enabled: bool,
    /// Interrupt pin (1 = INTA) and line.
    pub int_pin: u8,
    /// Interrupt line.
    pub int_line: u8,
    /// BARs as the hardware decodes them (empty for VFs: their BARs read 0).
    pub bars: &'a [BarSpec],
    /// PCIe port type and link (None: conventional PCI, 256 bytes).
    pub pcie: Option<(PortType, Option<&'a LinkSpec>, bool)>,
    /// MSI-X vectors (0 = none).
    pub msix_vectors: u16,
    /// MSI capability present.
    pub msi: bool,
    /// Power management capability present.
    pub pm: bool,
    /// ARI capability (next function number).
    pub ari_next: Option<u8>,
    /// SR-IOV capability.
    pub sriov: Option<&'a SriovSpec>,
    /// Device serial number capability.
    pub dsn: Option<u64>,
    /// ACS capability (root ports, multifunction endpoints).
    pub acs: bool,
}

/// A config space being built.
#[derive(Clone, Debug)]
pub struct ConfigSpace {
    bytes: Vec<u8>,
}

impl ConfigSpace {
    fn w8(&mut self, off: usize, v: u8) {
        self.bytes[off] = v;
    }
    fn w16(&mut self, off: usize, v: u16) {
        self.bytes[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn w32(&mut self, off: usize, v: u32) {
        self.bytes[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// The bytes (256, or 4096 for PCIe).
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Builds the config space of a function.
    pub fn build(p: &ConfigParams) -> ConfigSpace {
        let size = if p.pcie.is_some() { 4096 } else { 256 };
        let mut c = ConfigSpace {
            bytes: vec![0u8; size],
        };
        c.w16(0x00, p.vendor);
        c.w16(0x02, p.device);
        let command: u16 = if p.enabled {
            // I/O + Mem + BusMaster, SERR; DisINTx when MSI(-X) is used.
            let io = p.bars.iter().any(|b| b.kind == BarKind::Io) as u16;
            let mem =
                (p.bars.iter().any(|b| b.kind != BarKind::Io) || p.bridge_buses.is_some()) as u16;
            io | mem << 1 | 1 << 2 | if p.msix_vectors > 0 { 1 << 10 } else { 0 }
        } else {
            0
        };
        c.w16(0x04, command);
        c.w8(0x08, p.revision);
        c.w8(0x09, p.class as u8);
        c.w8(0x0a, (p.class >> 8) as u8);
        c.w8(0x0b, (p.class >> 16) as u8);
        c.w8(0x0c, 0x10); // cache line 64 bytes
        let htype = if p.bridge_buses.is_some() { 1 } else { 0 };
        c.w8(0x0e, htype | if p.multifunction { 0x80 } else { 0 });
        let nbars = if p.bridge_buses.is_some() { 2 } else { 6 };
        for b in p.bars.iter().filter(|b| (b.index as usize) < nbars) {
            let off = 0x10 + 4 * b.index as usize;
            match b.kind {
                BarKind::Io => c.w32(off, (b.address as u32 & !0x3) | 0x1),
                BarKind::Mem32 => c.w32(
                    off,
                    (b.address as u32 & !0xf) | if b.prefetchable { 0x8 } else { 0 },
                ),
                BarKind::Mem64 => {
                    c.w32(
                        off,
                        (b.address as u32 & !0xf) | 0x4 | if b.prefetchable { 0x8 } else { 0 },
                    );
                    if off + 4 < 0x10 + 4 * nbars {
                        c.w32(off + 4, (b.address >> 32) as u32);
                    }
                }
            }
        }
        if let Some((pri, sec, sub)) = p.bridge_buses {
            c.w8(0x18, pri);
            c.w8(0x19, sec);
            c.w8(0x1a, sub);
            // Empty I/O and memory windows (base > limit) keep lspci quiet and correct.
            c.w8(0x1c, 0xf0);
            c.w8(0x1d, 0x00);
            c.w16(0x20, 0xfff0);
            c.w16(0x22, 0x0000);
            c.w16(0x24, 0xfff1);
            c.w16(0x26, 0x0001);
            c.w16(0x3e, 0x0002); // SERR# enable
        } else {
            c.w16(0x2c, p.subsystem.0);
            c.w16(0x2e, p.subsystem.1);
        }
        c.w8(0x3c, p.int_line);
        c.w8(0x3d, p.int_pin);

        // Standard capabilities, chained in ascending order.
        let mut caps: Vec<(usize, u8)> = Vec::new();
        if p.pm {
            caps.push((0x40, cap::PM));
        }
        if p.msi {
            caps.push((0x50, cap::MSI));
        }
        if p.msix_vectors > 0 {
            caps.push((0x70, cap::MSIX));
        }
        if p.bridge_buses.is_some() && p.subsystem != (0, 0) {
            caps.push((0x90, cap::SSVID));
        }
        if p.pcie.is_some() {
            caps.push((EXP_OFFSET, cap::EXP));
        }
        if let Some((first, _)) = caps.first() {
            c.w8(0x34, *first as u8);
            c.w16(0x06, 0x0010); // Status: capability list
        }
        for (i, (off, id)) in caps.iter().enumerate() {
            let next = caps.get(i + 1).map(|(o, _)| *o as u8).unwrap_or(0);
            c.w8(*off, *id);
            c.w8(*off + 1, next);
            match *id {
                cap::PM => {
                    // Version 3, D3hot/D3cold PME; PMCSR: D0, NoSoftRst+.
                    c.w16(*off + 2, 0xc803);
                    c.w16(*off + 4, 0x0008);
                }
                cap::MSI => {
                    // 64-bit, per-vector masking, 1 vector.
                    c.w16(*off + 2, 0x0180);
                }
                cap::MSIX => {
                    let enable = if p.enabled { 0x8000 } else { 0 };
                    c.w16(*off + 2, enable | (p.msix_vectors - 1).min(0x7ff));
                    c.w32(*off + 4, 3); // table in BAR 3 at 0
                    c.w32(*off + 8, 0x2000 | 3); // PBA in BAR 3 at 0x2000
                }
                cap::SSVID => {
                    c.w16(*off + 4, p.subsystem.0);
                    c.w16(*off + 6, p.subsystem.1);
                }
                cap::EXP => {
                    if let Some((pt, link, flr)) = p.pcie {
                        c.write_exp(*off, pt, link, flr);
                    }
                }
                _ => {}
            }
        }

        // Extended capabilities from 0x100, each 0x10-aligned slot as on the I350.
        if p.pcie.is_some() {
            let mut ext: Vec<(usize, u16, u8)> = vec![(0x100, cap::EXT_AER, 2)];
            if p.dsn.is_some() {
                ext.push((0x140, cap::EXT_DSN, 1));
            }
            if p.ari_next.is_some() {
                ext.push((0x150, cap::EXT_ARI, 1));
            }
            if p.sriov.is_some() {
                ext.push((SRIOV_OFFSET, cap::EXT_SRIOV, 1));
            }
            if p.acs {
                ext.push((0x1d0, cap::EXT_ACS, 1));
            }
            for (i, (off, id, ver)) in ext.iter().enumerate() {
                let next = ext.get(i + 1).map(|(o, ..)| *o as u32).unwrap_or(0);
                c.w32(*off, *id as u32 | (*ver as u32) << 16 | next << 20);
                match *id {
                    cap::EXT_AER => {
                        c.w32(*off + 0x08, 0x0010_0000); // UEMsk: UnsupReq
                        c.w32(*off + 0x0c, 0x0006_2030); // UESvrt defaults
                        c.w32(*off + 0x14, 0x0000_2000); // CEMsk: NonFatalErr
                        c.w32(*off + 0x18, 0x0000_00a0); // AERCap: GenCap+ ChkCap+
                    }
                    cap::EXT_DSN => {
                        let s = p.dsn.unwrap_or(0);
                        c.w32(*off + 4, s as u32);
                        c.w32(*off + 8, (s >> 32) as u32);
                    }
                    cap::EXT_ARI => {
                        c.w16(*off + 4, (p.ari_next.unwrap_or(0) as u16) << 8);
                    }
                    cap::EXT_SRIOV => {
                        if let Some(s) = p.sriov {
                            c.write_sriov(*off, s);
                        }
                    }
                    cap::EXT_ACS => {
                        // Source validation, request/completion redirect, upstream forwarding.
                        let acs = if p.bridge_buses.is_some() { 0x001f } else { 0 };
                        c.w16(*off + 4, acs);
                        c.w16(*off + 6, acs);
                    }
                    _ => {}
                }
            }
        }
        c
    }

    fn write_exp(&mut self, off: usize, pt: PortType, link: Option<&LinkSpec>, flr: bool) {
        let slot = matches!(pt, PortType::RootPort | PortType::DownstreamPort);
        // Capabilities register: version 2, port type, slot implemented.
        self.w16(
            off + 2,
            0x0002 | pt.code() << 4 | if slot { 0x0100 } else { 0 },
        );
        // DevCap: MaxPayload 512, L0s <512ns, L1 <64us, RBE, FLR.
        let mut devcap: u32 = 0x2 | 0x3 << 6 | 0x6 << 9 | 1 << 15;
        if flr {
            devcap |= 1 << 28;
        }
        self.w32(off + 4, devcap);
        // DevCtl: error reporting on, RlxdOrd, NoSnoop, MaxPayload 128, MaxReadReq 512.
        self.w16(off + 8, 0x000f | 1 << 4 | 1 << 11 | 0x2 << 12);
        if let Some(l) = link {
            let max = speed_code(l.max_speed);
            // LnkCap: speed, width, ASPM L0s L1, exit latencies, port number 0.
            let mut lnkcap = max as u32 | (l.max_width as u32) << 4 | 0x3 << 10 | 0x3 << 12;
            lnkcap |= 0x6 << 15;
            if slot {
                lnkcap |= 1 << 20; // DLActive reporting
            }
            self.w32(off + 0x0c, lnkcap);
            self.w16(off + 0x10, 0x0040); // LnkCtl: CommClk
            let sta_speed = speed_code(l.speed);
            let mut lnksta = sta_speed | (l.width as u16) << 4;
            if l.width > 0 {
                lnksta |= 1 << 12; // SlotClk
                if slot {
                    lnksta |= 1 << 13; // DLActive
                }
            }
            self.w16(off + 0x12, lnksta);
            // LnkCap2: supported speeds vector up to max (the kernel's max_link_speed
            // comes from here when non-zero).
            let vector: u32 = (1..=max as u32).fold(0, |v, s| v | 1 << s);
            self.w32(off + 0x2c, vector);
            self.w16(off + 0x30, max); // LnkCtl2: target speed
        }
        if slot {
            // SltCap: physical slot 0, hot-plug not supported; SltSta: presence detect.
            self.w16(off + 0x1a, 0x0040);
        }
        // DevCap2: completion timeout ranges ABCD, TimeoutDis, LTR.
        self.w32(off + 0x24, 0xf | 1 << 4 | 1 << 11);
    }

    fn write_sriov(&mut self, off: usize, s: &SriovSpec) {
        self.w32(off + 0x04, 0); // IOVCap
        let ctl: u16 = if s.num_vfs > 0 { 0x0001 | 0x0008 } else { 0 }; // VF Enable, VF MSE
        self.w16(off + 0x08, ctl);
        self.w16(off + 0x0c, s.initial_vfs.unwrap_or(s.total_vfs));
        self.w16(off + 0x0e, s.total_vfs);
        self.w16(off + 0x10, s.num_vfs);
        self.w16(off + 0x14, s.offset);
        self.w16(off + 0x16, s.stride);
        self.w16(off + 0x1a, s.vf_device);
        self.w32(off + 0x1c, 0x553); // supported page sizes 4K..
        self.w32(off + 0x20, 0x1); // system page size 4K
        for b in &s.vf_bars {
            let o = off + 0x24 + 4 * b.index as usize;
            if b.index > 5 {
                continue;
            }
            match b.kind {
                BarKind::Io => self.w32(o, (b.address as u32 & !0x3) | 1),
                BarKind::Mem32 => self.w32(
                    o,
                    (b.address as u32 & !0xf) | if b.prefetchable { 0x8 } else { 0 },
                ),
                BarKind::Mem64 => {
                    self.w32(
                        o,
                        (b.address as u32 & !0xf) | 0x4 | if b.prefetchable { 0x8 } else { 0 },
                    );
                    if b.index < 5 {
                        self.w32(o + 4, (b.address >> 32) as u32);
                    }
                }
            }
        }
    }
}

/// The Link Speed code for GT/s (1 = 2.5, 2 = 5, 3 = 8, 4 = 16, 5 = 32, 6 = 64); 0 unknown.
pub fn speed_code(gts: f32) -> u16 {
    match gts {
        x if (x - 2.5).abs() < 0.01 => 1,
        x if (x - 5.0).abs() < 0.01 => 2,
        x if (x - 8.0).abs() < 0.01 => 3,
        x if (x - 16.0).abs() < 0.01 => 4,
        x if (x - 32.0).abs() < 0.01 => 5,
        x if (x - 64.0).abs() < 0.01 => 6,
        _ => 0,
    }
}

/// How the kernel prints a speed in `current_link_speed` / `max_link_speed`
/// (`pci_speed_string()`): `5.0 GT/s PCIe`, or `Unknown`.
pub fn speed_string(gts: f32) -> &'static str {
    match speed_code(gts) {
        1 => "2.5 GT/s PCIe",
        2 => "5.0 GT/s PCIe",
        3 => "8.0 GT/s PCIe",
        4 => "16.0 GT/s PCIe",
        5 => "32.0 GT/s PCIe",
        6 => "64.0 GT/s PCIe",
        _ => "Unknown",
    }
}

/// Reads the SR-IOV fields back from a config space (for tests and cross-checks):
/// (total, num, offset, stride, vf device).
pub fn read_sriov(config: &[u8]) -> Option<(u16, u16, u16, u16, u16)> {
    let r16 = |o: usize| u16::from_le_bytes([config[o], config[o + 1]]);
    let mut off = 0x100usize;
    let mut hops = 0;
    while off >= 0x100 && off + 0x40 <= config.len() && hops < 64 {
        let h = u32::from_le_bytes([
            config[off],
            config[off + 1],
            config[off + 2],
            config[off + 3],
        ]);
        if h & 0xffff == cap::EXT_SRIOV as u32 {
            return Some((
                r16(off + 0x0e),
                r16(off + 0x10),
                r16(off + 0x14),
                r16(off + 0x16),
                r16(off + 0x1a),
            ));
        }
        off = (h >> 20) as usize;
        hops += 1;
    }
    None
}
