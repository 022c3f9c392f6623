//! The host file: the desired state of one host in TOML (docs/host-file.md).
//!
//! ```toml
//! [kernel]
//! iommu = true              # the CPU vendor's IOMMU argument
//! pt = true                 # iommu=pt
//!
//! [[sriov]]
//! pf = "eno1"               # address, netdev, or vendor:device (every matching PF)
//! vfs = 4
//!
//! [vfio]
//! devices = ["0000:81:00.0", "0000:81:00.1"]
//! ids = ["8086:1520"]       # every function with these ids, VFs created above too
//! classes = ["0302"]        # class (4 or 6 hex digits) or family (gpu, nvme, ...)
//! modprobe_ids = true       # also `options vfio-pci ids=` for `ids`
//! initramfs = true          # vfio modules in the initramfs
//!
//! [modprobe]
//! blacklist = ["nouveau"]
//! softdep = ["nouveau"]     # softdep nouveau pre: vfio-pci
//!
//! [persist]
//! enabled = true            # etc/passthru/host.toml + passthru.service at boot
//! ```

use crate::change::kernel_args::KernelArgsRequest;
use crate::pci::{ClassCode, ClassFamily, DeviceId, PciAddress, VendorId};
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFile {
    /// Kernel command line.
    #[serde(default)]
    pub kernel: Option<KernelSection>,
    /// VF counts.
    #[serde(default)]
    pub sriov: Vec<SriovEntry>,
    /// vfio-pci bindings.
    #[serde(default)]
    pub vfio: Option<VfioSection>,
    /// modprobe.d blacklists and softdeps.
    #[serde(default)]
    pub modprobe: Option<ModprobeSection>,
    /// Persistence across reboots.
    #[serde(default)]
    pub persist: Option<PersistSection>,
}

/// `[kernel]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelSection {
    /// The CPU vendor's IOMMU argument.
    #[serde(default)]
    pub iommu: bool,
    /// `iommu=pt`.
    #[serde(default)]
    pub pt: bool,
    /// Other arguments to add.
    #[serde(default)]
    pub add: Vec<String>,
    /// Arguments to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

impl KernelSection {
    /// As a kernel-args request.
    pub fn request(&self) -> KernelArgsRequest {
        KernelArgsRequest {
            iommu: self.iommu,
            pt: self.pt,
            add: self.add.clone(),
            remove: self.remove.clone(),
            force: false,
        }
    }
}

/// `[[sriov]]`: one PF selector and its VF count.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SriovEntry {
    /// Address, netdev, or vendor:device.
    pub pf: Spanned<String>,
    /// VF count.
    pub vfs: u32,
    /// `sriov_drivers_autoprobe`.
    #[serde(default)]
    pub drivers_autoprobe: Option<bool>,
}

/// `[vfio]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VfioSection {
    /// Addresses (or netdevs).
    #[serde(default)]
    pub devices: Vec<Spanned<String>>,
    /// vendor:device ids.
    #[serde(default)]
    pub ids: Vec<Spanned<String>>,
    /// Class codes or families.
    #[serde(default)]
    pub classes: Vec<Spanned<String>>,
    /// Every VF of these PFs (address, netdev, or vendor:device of the PF).
    #[serde(default)]
    pub vfs_of: Vec<Spanned<String>>,
    /// Take every function of a selected device that shares its IOMMU group.
    #[serde(default)]
    pub whole_devices: bool,
    /// Write `options vfio-pci ids=` for `ids` (vfio-pci claims them at boot).
    #[serde(default)]
    pub modprobe_ids: bool,
    /// vfio modules in the initramfs.
    #[serde(default)]
    pub initramfs: bool,
}

/// `[modprobe]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModprobeSection {
    /// Modules to blacklist.
    #[serde(default)]
    pub blacklist: Vec<String>,
    /// Modules that must load after vfio-pci (`softdep M pre: vfio-pci`).
    #[serde(default)]
    pub softdep: Vec<String>,
}

/// `[persist]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistSection {
    /// Install the file and the boot unit (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The passthru binary the unit runs (default `/usr/bin/passthru`).
    #[serde(default)]
    pub binary: Option<String>,
}

fn yes() -> bool {
    true
}

/// How a device is selected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// One address.
    Address(PciAddress),
    /// A network interface name.
    Netdev(String),
    /// Every function with these ids.
    Ids(VendorId, DeviceId),
    /// Every function of this class (`0300` matches base and subclass; 6 digits exact).
    Class(ClassCode, bool),
    /// Every function of this family.
    Family(ClassFamily),
    /// Every VF of a PF the inner selector matches.
    VfOf(Box<Selector>),
}

impl Selector {
    /// Whether a device of a host matches.
    pub fn matches(
        &self,
        host: &crate::host::model::Host,
        d: &crate::host::model::PciDevice,
    ) -> bool {
        match self {
            Selector::VfOf(pf) => d
                .physfn
                .and_then(|a| host.device(&a))
                .is_some_and(|p| pf.matches(host, p)),
            Selector::Address(a) => d.address == *a,
            Selector::Netdev(n) => d.netdevs.iter().any(|x| x == n),
            Selector::Ids(v, dev) => d.vendor_id == *v && d.device_id == *dev,
            Selector::Class(c, full) => {
                if *full {
                    d.class == *c
                } else {
                    d.class.class16() == c.class16()
                }
            }
            Selector::Family(f) => d.class.family() == *f,
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Address(a) => write!(f, "{a}"),
            Selector::Netdev(n) => write!(f, "{n}"),
            Selector::Ids(v, d) => write!(f, "{v}:{d}"),
            Selector::Class(c, true) => write!(f, "class {c}"),
            Selector::Class(c, false) => write!(f, "class {:04x}", c.class16()),
            Selector::Family(x) => write!(f, "{x:?} devices"),
            Selector::VfOf(pf) => write!(f, "VFs of {pf}"),
        }
    }
}

/// A host file error, with file, line and column.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct HostFileError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A parsed and checked host file with its selectors.
#[derive(Clone, Debug)]
pub struct Desired {
    /// The file as parsed.
    pub file: HostFile,
    /// `[[sriov]]` selectors, parsed, with their counts and autoprobe.
    pub sriov: Vec<(Selector, u32, Option<bool>)>,
    /// `[vfio]` selectors.
    pub vfio: Vec<Selector>,
    /// `[vfio] ids` as pairs (for `options vfio-pci ids=`).
    pub vfio_ids: Vec<(VendorId, DeviceId)>,
    /// The file's bytes (installed as `etc/passthru/host.toml`).
    pub bytes: Vec<u8>,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// Parses and checks host file text; `file` names it in errors.
pub fn parse(bytes: &[u8], file: &Path) -> Result<Desired, HostFileError> {
    let name = file.display().to_string();
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col(&String::from_utf8_lossy(bytes), e.valid_up_to());
        HostFileError {
            file: name.clone(),
            line,
            column,
            message: "not UTF-8 text".into(),
        }
    })?;
    let hf: HostFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        HostFileError {
            file: name.clone(),
            line,
            column,
            message: format!(
                "{} (the format is in docs/host-file.md)",
                e.message().trim_end()
            ),
        }
    })?;
    let err = |s: &Spanned<String>, message: String| {
        let (line, column) = line_col(text, s.span().start);
        HostFileError {
            file: name.clone(),
            line,
            column,
            message,
        }
    };
    let mut sriov = Vec::new();
    for e in &hf.sriov {
        let sel = parse_device_selector(e.pf.get_ref())
            .map_err(|m| err(&e.pf, format!("[[sriov]] pf: {m}")))?;
        sriov.push((sel, e.vfs, e.drivers_autoprobe));
    }
    let mut vfio = Vec::new();
    let mut vfio_ids = Vec::new();
    if let Some(v) = &hf.vfio {
        for d in &v.devices {
            let sel = parse_device_selector(d.get_ref())
                .map_err(|m| err(d, format!("[vfio] devices: {m}")))?;
            if matches!(sel, Selector::Ids(..)) {
                return Err(err(
                    d,
                    format!(
                        "[vfio] devices: '{}' is a vendor:device pair; put it in `ids`",
                        d.get_ref()
                    ),
                ));
            }
            vfio.push(sel);
        }
        for i in &v.ids {
            match parse_device_selector(i.get_ref()) {
                Ok(Selector::Ids(a, b)) => {
                    vfio.push(Selector::Ids(a, b));
                    vfio_ids.push((a, b));
                }
                _ => {
                    return Err(err(
                        i,
                        format!(
                        "[vfio] ids: '{}' is not vendor:device (4 hex digits each, e.g. 10de:1b80)",
                        i.get_ref()
                    ),
                    ))
                }
            }
        }
        for c in &v.classes {
            let s = c.get_ref().trim();
            let sel = if let Some(f) = ClassFamily::parse(s) {
                Selector::Family(f)
            } else {
                let hex = s.strip_prefix("0x").unwrap_or(s);
                match (hex.len(), ClassCode::parse(hex)) {
                    (4, Ok(cc)) => Selector::Class(ClassCode(cc.0 << 8), false),
                    (6, Ok(cc)) => Selector::Class(cc, true),
                    _ => {
                        return Err(err(c, format!(
                            "[vfio] classes: '{s}' is neither a class code (0300, 030000) nor a family ({})",
                            ClassFamily::NAMES.join(", ")
                        )))
                    }
                }
            };
            vfio.push(sel);
        }
        for p in &v.vfs_of {
            let sel = parse_device_selector(p.get_ref())
                .map_err(|m| err(p, format!("[vfio] vfs_of: {m}")))?;
            vfio.push(Selector::VfOf(Box::new(sel)));
        }
        if v.modprobe_ids && vfio_ids.is_empty() {
            return Err(HostFileError {
                file: name.clone(),
                line: 1,
                column: 1,
                message: "[vfio] modprobe_ids = true needs vendor:device pairs in [vfio] ids"
                    .into(),
            });
        }
    }
    Ok(Desired {
        file: hf,
        sriov,
        vfio,
        vfio_ids,
        bytes: bytes.to_vec(),
    })
}

/// Parses an address, netdev name, or vendor:device.
pub fn parse_device_selector(s: &str) -> Result<Selector, String> {
    use crate::host::resolve::DeviceQuery;
    let t = s.trim();
    if t.is_empty() {
        return Err("empty device name".into());
    }
    Ok(match DeviceQuery::parse(t) {
        DeviceQuery::Address { address, .. } => Selector::Address(address),
        DeviceQuery::Ids(v, d) => Selector::Ids(v, d),
        DeviceQuery::Netdev(n) => {
            if n.contains(':') || n.contains(' ') || n.contains('/') || n.len() > 15 {
                return Err(format!(
                    "'{n}' is not a PCI address (0000:06:00.0), vendor:device (8086:1521) or interface name (eno1)"
                ));
            }
            Selector::Netdev(n)
        }
    })
}

impl Desired {
    /// Whether persistence is on.
    pub fn persist(&self) -> bool {
        !matches!(&self.file.persist, Some(p) if !p.enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses() {
        let t = br#"
[kernel]
iommu = true
pt = true

[[sriov]]
pf = "eno1"
vfs = 4

[[sriov]]
pf = "8086:1521"
vfs = 2
drivers_autoprobe = false

[vfio]
devices = ["0000:81:00.0", "81:00.1"]
ids = ["8086:1520"]
classes = ["0302", "gpu", "030000"]
modprobe_ids = true
initramfs = true

[modprobe]
blacklist = ["nouveau"]
softdep = ["nouveau"]
"#;
        let d = parse(t, Path::new("host.toml")).unwrap();
        assert_eq!(d.sriov.len(), 2);
        assert_eq!(d.sriov[0].0, Selector::Netdev("eno1".into()));
        assert_eq!(d.sriov[1].2, Some(false));
        assert_eq!(d.vfio.len(), 6);
        assert_eq!(d.vfio_ids, vec![(VendorId(0x8086), DeviceId(0x1520))]);
        assert!(d.persist());
        assert!(d.file.kernel.unwrap().pt);
        let mut gpu = crate::host::model::PciDevice::new(
            PciAddress::parse("81:00.0").unwrap(),
            0x10de,
            0x1b80,
            0x030200,
        );
        let h = crate::host::model::Host::default();
        assert!(d.vfio[3].matches(&h, &gpu), "0302 matches 030200");
        gpu.class = ClassCode(0x030000);
        assert!(
            !d.vfio[3].matches(&h, &gpu)
                && d.vfio[4].matches(&h, &gpu)
                && d.vfio[5].matches(&h, &gpu)
        );
    }

    #[test]
    fn errors_name_file_line_and_fix() {
        let e = parse(b"[kernel]\niommu = true\nbogus = 1\n", Path::new("h.toml")).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("h.toml:3:1: unknown field `bogus`"), "{s}");
        assert!(s.contains("docs/host-file.md"));
        let e = parse(
            b"[[sriov]]\npf = \"06:00.0\"\nvfs = \"four\"\n",
            Path::new("h.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("h.toml:3:"), "{e}");
        let e = parse(b"[vfio]\nids = [\"10de:1b8\"]\n", Path::new("h.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("h.toml:2:8: [vfio] ids: '10de:1b8'"),
            "{e}"
        );
        let e = parse(b"[vfio]\nclasses = [\"vga2\"]\n", Path::new("h.toml")).unwrap_err();
        assert!(e.to_string().contains("neither a class code"), "{e}");
        let e = parse(
            b"[[sriov]]\npf = \"06:00.0 eno1\"\nvfs = 1\n",
            Path::new("h.toml"),
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("h.toml:2:6: [[sriov]] pf:"),
            "{e}"
        );
        let e = parse(b"[kernel\n", Path::new("h.toml")).unwrap_err();
        assert!(e.to_string().starts_with("h.toml:1:"), "{e}");
    }
}
