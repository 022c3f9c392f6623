//! The facts about one host: plain, serde-serialisable data.
//!
//! Every source (a root directory, a snapshot, `lspci` text, a remote host) produces a
//! [`Host`]; everything else in passthru reasons over it without touching the
//! filesystem. The snapshot file format is simply this value as JSON.

use crate::host::system::SystemFacts;
use crate::pci::{ClassCode, DeviceId, PciAddress, VendorId};
use serde::{Deserialize, Serialize};

/// Version of the snapshot / JSON shape. Bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

/// Where the facts came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A root directory holding `sys/`, `proc/`, `etc/` (the real `/` by default).
    #[default]
    Root,
    /// A snapshot file written by `passthru snapshot`.
    Snapshot,
    /// Text of `lspci -nnvvv` (facts lspci cannot show stay unknown).
    Lspci,
    /// A remote host read over SSH.
    Remote,
}

/// Provenance of a [`Host`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Kind of source.
    pub kind: SourceKind,
    /// The root, file or SSH target it was read from.
    pub location: String,
}

/// Everything passthru knows about a host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// Snapshot format version ([`FORMAT_VERSION`]).
    #[serde(default)]
    pub format_version: u32,
    /// Where these facts came from.
    #[serde(default)]
    pub source: SourceInfo,
    /// Host name, when known (`proc/sys/kernel/hostname`).
    #[serde(default)]
    pub hostname: Option<String>,
    /// Every PCI function, sorted by address.
    pub devices: Vec<PciDevice>,
    /// IOMMU groups, sorted by number. Empty when the IOMMU is off (or unknown).
    #[serde(default)]
    pub iommu_groups: Vec<IommuGroup>,
    /// NUMA nodes with their CPUs. Empty when the source does not say.
    #[serde(default)]
    pub numa_nodes: Vec<NumaNode>,
    /// The running kernel's command line (`proc/cmdline`).
    #[serde(default)]
    pub kernel_cmdline: Option<String>,
    /// Host-level facts used by the checks (CPU, firmware, modules, config files).
    #[serde(default)]
    pub system: SystemFacts,
    /// Problems met while reading that did not stop the scan (a device that vanished).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One PCI function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PciDevice {
    /// `dddd:bb:ss.f`.
    pub address: PciAddress,
    /// Vendor id (`vendor`).
    pub vendor_id: VendorId,
    /// Device id (`device`).
    pub device_id: DeviceId,
    /// Subsystem vendor id (`subsystem_vendor`), when present.
    #[serde(default)]
    pub subsystem_vendor_id: Option<VendorId>,
    /// Subsystem device id (`subsystem_device`), when present.
    #[serde(default)]
    pub subsystem_device_id: Option<DeviceId>,
    /// 24-bit class code (`class`).
    pub class: ClassCode,
    /// Revision (`revision`), when known.
    #[serde(default)]
    pub revision: Option<u8>,
    /// Names from pci.ids (or from lspci text).
    #[serde(default)]
    pub names: DeviceNames,
    /// Driver bound now (basename of the `driver` link), if any.
    pub driver: Option<String>,
    /// `driver_override`, when set (the kernel's `(null)` is `None`).
    #[serde(default)]
    pub driver_override: Option<String>,
    /// IOMMU group number, when the IOMMU is on.
    pub iommu_group: Option<u32>,
    /// NUMA node; the kernel's -1 is `None`.
    pub numa_node: Option<u32>,
    /// CPUs local to the device (`local_cpulist`), as the kernel prints the list.
    #[serde(default)]
    pub local_cpulist: Option<String>,
    /// PCIe link state and capability, for PCIe functions.
    #[serde(default)]
    pub link: Option<PcieLink>,
    /// Reset methods the kernel can use (`reset_method`), in its order. `None` when
    /// the file is absent (old kernels); an empty list when the device has none.
    #[serde(default)]
    pub reset_methods: Option<Vec<String>>,
    /// The upstream bridge (parent directory in sysfs), when it is a PCI function.
    #[serde(default)]
    pub parent: Option<PciAddress>,
    /// `boot_vga`: this GPU drives the host console.
    #[serde(default)]
    pub boot_vga: Option<bool>,
    /// Kernel module alias (`modalias`), for finding the default driver.
    #[serde(default)]
    pub modalias: Option<String>,
    /// Network interfaces this function carries (names only; details in `interfaces`).
    #[serde(default)]
    pub netdevs: Vec<String>,
    /// Network interface details.
    #[serde(default)]
    pub interfaces: Vec<Netdev>,
    /// SR-IOV capability (PFs only).
    #[serde(default)]
    pub sriov: Option<Sriov>,
    /// VFs of this PF (`virtfnN` links), in VF index order.
    #[serde(default)]
    pub virtfns: Vec<PciAddress>,
    /// The PF of this VF (`physfn` link).
    #[serde(default)]
    pub physfn: Option<PciAddress>,
    /// Index of this VF on its PF (the N of the PF's `virtfnN`).
    #[serde(default)]
    pub vf_index: Option<u32>,
    /// Ids the source could not read. lspci cuts a long title short
    /// (`... Thermal & RAS Registers [8086... (rev 02)`), so its text may lack the
    /// device id or both ids; those hold `ffff` (the value no device has) and are
    /// shown as `????`. `None` when both ids are known.
    #[serde(default)]
    pub unread_ids: Option<UnreadIds>,
}

/// Which ids of a device its source did not show (see [`PciDevice::unread_ids`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnreadIds {
    /// The vendor id is known, the device id is not.
    Device,
    /// Neither id is known.
    VendorAndDevice,
}

/// Human names of a device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceNames {
    /// Vendor name.
    pub vendor: Option<String>,
    /// Device name.
    pub device: Option<String>,
    /// Subsystem name.
    pub subsystem: Option<String>,
    /// Class name.
    pub class: Option<String>,
}

/// PCIe link speeds and widths, as the kernel prints them (`8.0 GT/s PCIe`, `x4`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PcieLink {
    /// `current_link_speed`.
    pub current_speed: Option<String>,
    /// `current_link_width` (lanes).
    pub current_width: Option<u32>,
    /// `max_link_speed`.
    pub max_speed: Option<String>,
    /// `max_link_width` (lanes).
    pub max_width: Option<u32>,
}

impl PcieLink {
    /// Whether the link trained below what the device can do (a degraded slot).
    pub fn degraded(&self) -> bool {
        let w =
            matches!((self.current_width, self.max_width), (Some(c), Some(m)) if c > 0 && c < m);
        let s = match (&self.current_speed, &self.max_speed) {
            (Some(c), Some(m)) => speed_gts(c)
                .zip(speed_gts(m))
                .is_some_and(|(c, m)| c > 0.0 && c < m),
            _ => false,
        };
        w || s
    }
}

/// Parses `8.0 GT/s PCIe` / `5 GT/s` / `5GT/s` into GT/s.
pub fn speed_gts(s: &str) -> Option<f64> {
    let t = s.trim();
    let num: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse().ok()
}

/// A network interface on a PCI function (`net/IFNAME/`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Netdev {
    /// Interface name.
    pub name: String,
    /// MAC address (`address`).
    pub mac: Option<String>,
    /// `operstate`: up, down, lowerlayerdown, unknown...
    pub operstate: Option<String>,
    /// `carrier`: `None` when unreadable (the interface is administratively down).
    pub carrier: Option<bool>,
    /// Link speed in Mb/s (`speed`), when known and not -1.
    #[serde(default)]
    pub speed_mbps: Option<u32>,
}

/// The SR-IOV capability of a PF.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sriov {
    /// `sriov_totalvfs`.
    pub total_vfs: u32,
    /// `sriov_numvfs`.
    pub num_vfs: u32,
    /// `sriov_offset` (routing-id distance from the PF to VF 0).
    pub offset: Option<u32>,
    /// `sriov_stride` (routing-id distance between VFs).
    pub stride: Option<u32>,
    /// `sriov_vf_device`: the device id VFs report.
    pub vf_device_id: Option<DeviceId>,
    /// `sriov_drivers_autoprobe`: whether new VFs get a host driver.
    #[serde(default)]
    pub drivers_autoprobe: Option<bool>,
}

/// An IOMMU group and its members.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IommuGroup {
    /// Group number.
    pub number: u32,
    /// Member functions, sorted.
    pub devices: Vec<PciAddress>,
    /// Domain type (`DMA`, `DMA-FQ`, `identity`), when known.
    #[serde(default)]
    pub kind: Option<String>,
}

/// A NUMA node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumaNode {
    /// Node number.
    pub id: u32,
    /// CPUs, as the kernel prints them (`0-15,32-47`).
    pub cpulist: String,
}

impl Host {
    /// The device at an address.
    pub fn device(&self, addr: &PciAddress) -> Option<&PciDevice> {
        self.devices
            .binary_search_by(|d| d.address.cmp(addr))
            .ok()
            .map(|i| &self.devices[i])
    }

    /// The IOMMU group with a number.
    pub fn group(&self, number: u32) -> Option<&IommuGroup> {
        self.iommu_groups.iter().find(|g| g.number == number)
    }

    /// Sorts devices and groups and derives what can be derived (groups from device
    /// group numbers when the source had no group directory, VF lists from physfn).
    /// Sources call this last.
    pub fn normalize(&mut self) {
        self.format_version = FORMAT_VERSION;
        self.devices.sort_by_key(|d| d.address);
        self.devices.dedup_by(|a, b| a.address == b.address);
        if self.iommu_groups.is_empty() {
            let mut groups: std::collections::BTreeMap<u32, Vec<PciAddress>> = Default::default();
            for d in &self.devices {
                if let Some(g) = d.iommu_group {
                    groups.entry(g).or_default().push(d.address);
                }
            }
            self.iommu_groups = groups
                .into_iter()
                .map(|(number, devices)| IommuGroup {
                    number,
                    devices,
                    kind: None,
                })
                .collect();
        }
        for g in &mut self.iommu_groups {
            g.devices.sort();
        }
        self.iommu_groups.sort_by_key(|g| g.number);
        self.numa_nodes.sort_by_key(|n| n.id);
    }
}

impl PciDevice {
    /// A device with just ids and class; everything else unknown. Used by sources and tests.
    pub fn new(address: PciAddress, vendor: u16, device: u16, class: u32) -> Self {
        PciDevice {
            address,
            vendor_id: VendorId(vendor),
            device_id: DeviceId(device),
            subsystem_vendor_id: None,
            subsystem_device_id: None,
            class: ClassCode(class),
            revision: None,
            names: DeviceNames::default(),
            driver: None,
            driver_override: None,
            iommu_group: None,
            numa_node: None,
            local_cpulist: None,
            link: None,
            reset_methods: None,
            parent: None,
            boot_vga: None,
            modalias: None,
            netdevs: Vec::new(),
            interfaces: Vec::new(),
            sriov: None,
            virtfns: Vec::new(),
            physfn: None,
            vf_index: None,
            unread_ids: None,
        }
    }

    /// Whether this is an SR-IOV virtual function.
    pub fn is_vf(&self) -> bool {
        self.physfn.is_some()
    }

    /// Whether this is an SR-IOV physical function.
    pub fn is_pf(&self) -> bool {
        self.sriov.is_some()
    }

    /// Whether this is a bridge (does not count against group isolation).
    pub fn is_bridge(&self) -> bool {
        self.class.is_bridge()
    }

    /// `vendor:device` in lower-case hex.
    pub fn id_pair(&self) -> String {
        match self.unread_ids {
            None => format!("{}:{}", self.vendor_id, self.device_id),
            Some(UnreadIds::Device) => format!("{}:????", self.vendor_id),
            Some(UnreadIds::VendorAndDevice) => "????:????".to_string(),
        }
    }

    /// A short human label: device name, or vendor name and ids.
    pub fn label(&self) -> String {
        match (&self.names.device, &self.names.vendor) {
            (Some(d), _) => d.clone(),
            (None, Some(v)) => format!("{v} Device {}", self.device_id),
            // Without pci.ids, the class says more than a repeat of the ids.
            (None, None) => crate::pci::classes::builtin_class_name(self.class.0)
                .map(str::to_string)
                .unwrap_or_else(|| format!("Device {}", self.id_pair())),
        }
    }

    /// The name of the class, or its code.
    pub fn class_label(&self) -> String {
        self.names
            .class
            .clone()
            .or_else(|| crate::pci::classes::builtin_class_name(self.class.0).map(str::to_string))
            .unwrap_or_else(|| format!("Class {:04x}", self.class.class16()))
    }

    /// Whether vfio-pci holds the device.
    pub fn on_vfio(&self) -> bool {
        self.driver.as_deref() == Some("vfio-pci")
    }
}
