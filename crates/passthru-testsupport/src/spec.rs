//! The plain-data description of a fake host ([`HostSpec`]): what devices exist, where
//! they sit in the topology, which drivers hold them, IOMMU groups, NUMA nodes, netdevs
//! and any extra files. Serde (de)serialisable, so a scenario can live in a JSON or TOML
//! file; [`crate::FakeHost`] turns it into a kernel-faithful tree.
//!
//! SR-IOV VFs are not listed as devices: a PF's [`SriovSpec`] says how many are enabled
//! and where offset and stride put them, and per-VF details (driver, group, netdev) are
//! in [`SriovSpec::vfs`]. That keeps one source of truth for VF addresses.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A PCI function address (`dddd:bb:ss.f`). Serialised as that string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bdf {
    /// Domain (segment).
    pub domain: u32,
    /// Bus.
    pub bus: u8,
    /// Device (slot), 0..=0x1f.
    pub slot: u8,
    /// Function, 0..=7.
    pub function: u8,
}

impl Bdf {
    /// Builds an address. Panics on an out-of-range slot or function (test data only).
    pub const fn new(domain: u32, bus: u8, slot: u8, function: u8) -> Bdf {
        assert!(slot < 32 && function < 8, "slot/function out of range");
        Bdf {
            domain,
            bus,
            slot,
            function,
        }
    }

    /// The 16-bit routing id (bus << 8 | devfn).
    pub fn routing_id(&self) -> u16 {
        (self.bus as u16) << 8 | (self.slot as u16) << 3 | self.function as u16
    }

    /// The address with a routing id in the same domain.
    pub fn from_routing_id(domain: u32, rid: u16) -> Bdf {
        Bdf {
            domain,
            bus: (rid >> 8) as u8,
            slot: ((rid >> 3) & 0x1f) as u8,
            function: (rid & 7) as u8,
        }
    }

    /// Address of VF `index` of a PF with this address (SR-IOV 1.1 §3.3.10/11):
    /// routing id = PF routing id + offset + index * stride. `None` past bus 0xff.
    pub fn vf(&self, offset: u16, stride: u16, index: u32) -> Option<Bdf> {
        let rid = self.routing_id() as u32 + offset as u32 + index * stride as u32;
        u16::try_from(rid)
            .ok()
            .map(|r| Bdf::from_routing_id(self.domain, r))
    }

    /// `dddd:bb:ss` (a slot address, as in `sys/bus/pci/slots/N/address`).
    pub fn slot_address(&self) -> String {
        format!("{:04x}:{:02x}:{:02x}", self.domain, self.bus, self.slot)
    }
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }
}

/// Why a string is not a `dddd:bb:ss.f` / `bb:ss.f` address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a PCI address (expected dddd:bb:ss.f or bb:ss.f)")]
pub struct BdfError(pub String);

impl FromStr for Bdf {
    type Err = BdfError;
    fn from_str(s: &str) -> Result<Bdf, BdfError> {
        let err = || BdfError(s.to_string());
        let (head, func) = s.rsplit_once('.').ok_or_else(err)?;
        let parts: Vec<&str> = head.split(':').collect();
        let (dom, bus, slot) = match parts.as_slice() {
            [d, b, s] => (*d, *b, *s),
            [b, s] => ("0", *b, *s),
            _ => return Err(err()),
        };
        let domain = u32::from_str_radix(dom, 16).map_err(|_| err())?;
        let bus = u8::from_str_radix(bus, 16).map_err(|_| err())?;
        let slot = u8::from_str_radix(slot, 16).map_err(|_| err())?;
        let function = u8::from_str_radix(func, 16).map_err(|_| err())?;
        if slot > 0x1f || function > 7 {
            return Err(err());
        }
        Ok(Bdf {
            domain,
            bus,
            slot,
            function,
        })
    }
}

impl Serialize for Bdf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Bdf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bdf, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Shorthand for `"0000:06:00.0".parse::<Bdf>().unwrap()` in scenarios and tests.
pub fn bdf(s: &str) -> Bdf {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

/// A whole fake host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostSpec {
    /// Host name (`proc/sys/kernel/hostname`), when set.
    pub hostname: Option<String>,
    /// Kernel command line (`proc/cmdline`), when set.
    pub cmdline: Option<String>,
    /// Kernel release (`proc/sys/kernel/osrelease`), when set.
    pub kernel_release: Option<String>,
    /// NUMA nodes. Empty: no `sys/devices/system/node` at all.
    pub numa_nodes: Vec<NumaSpec>,
    /// PCI functions (VFs come from their PF's [`SriovSpec`]).
    pub devices: Vec<DeviceSpec>,
    /// Drivers registered with no device bound (e.g. `vfio-pci` loaded, nothing bound).
    /// Drivers named by devices are created anyway.
    pub drivers: Vec<DriverSpec>,
    /// IOMMU group domain types (`DMA`, `DMA-FQ`, `identity`); groups not listed get
    /// [`HostSpec::default_group_type`]. Keys are written as strings (TOML needs that).
    #[serde(with = "string_keys")]
    pub iommu_group_types: BTreeMap<u32, String>,
    /// Type of groups not in `iommu_group_types` (default `DMA`).
    pub default_group_type: Option<String>,
    /// Name of the IOMMU unit under `sys/devices/virtual/iommu/` (default `dmar0`;
    /// AMD hosts use `ivhd0`). Written only when some device has a group.
    pub iommu_unit: Option<String>,
    /// Extra files and links anywhere in the root (etc/..., proc/..., sys/module/...).
    pub files: Vec<ExtraFile>,
}

/// A NUMA node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumaSpec {
    /// Node number.
    pub id: u32,
    /// CPUs as the kernel prints them (`0-15,32-47`).
    pub cpulist: String,
}

/// A driver, for drivers that have no device or need a non-default module.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverSpec {
    /// Driver name (`sys/bus/pci/drivers/NAME`).
    pub name: String,
    /// Module name; default: the driver name with `-` as `_` (`vfio-pci` -> `vfio_pci`).
    #[serde(default)]
    pub module: Option<String>,
    /// Built into the kernel: no `module` link and no `sys/module` entry (`pcieport`).
    #[serde(default)]
    pub builtin: bool,
}

/// An extra file (or symlink when `link` is set) written relative to the root.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraFile {
    /// Path relative to the root (`etc/nova/nova.conf`).
    pub path: String,
    /// Contents (ignored for links).
    #[serde(default)]
    pub contents: String,
    /// When set, `path` is a symlink with this target text.
    #[serde(default)]
    pub link: Option<String>,
    /// Permission bits (default 0644).
    #[serde(default)]
    pub mode: Option<u32>,
}

/// A base address register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarSpec {
    /// BAR index 0..=5 (a 64-bit BAR uses this and the next).
    pub index: u8,
    /// Kind of space.
    pub kind: BarKind,
    /// Bus address (the kernel's resource start).
    pub address: u64,
    /// Size in bytes (a power of two).
    pub size: u64,
    /// Prefetchable (memory BARs).
    #[serde(default)]
    pub prefetchable: bool,
}

/// What a BAR decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarKind {
    /// 32-bit memory.
    Mem32,
    /// 64-bit memory.
    Mem64,
    /// I/O ports.
    Io,
}

/// PCIe link capability and state. Speeds in GT/s as the kernel prints them
/// (`2.5`, `5.0`, `8.0`, `16.0`, `32.0`, `64.0`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Maximum speed (Link Capabilities), GT/s.
    pub max_speed: f32,
    /// Maximum width (lanes).
    pub max_width: u8,
    /// Negotiated speed (Link Status), GT/s; 0 means "Unknown" (link down, VFs).
    pub speed: f32,
    /// Negotiated width; 0 for VFs and links down.
    pub width: u8,
}

impl LinkSpec {
    /// A link trained at its maximum.
    pub fn full(speed: f32, width: u8) -> LinkSpec {
        LinkSpec {
            max_speed: speed,
            max_width: width,
            speed,
            width,
        }
    }
}

/// What kind of PCIe function (PCI Express Capabilities register, Device/Port Type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PortType {
    /// PCIe endpoint (type 0).
    #[default]
    Endpoint,
    /// Legacy endpoint (type 1).
    LegacyEndpoint,
    /// Root port (type 4), a bridge.
    RootPort,
    /// Switch upstream port (type 5), a bridge.
    UpstreamPort,
    /// Switch downstream port (type 6), a bridge.
    DownstreamPort,
    /// PCIe-to-PCI/PCI-X bridge (type 7), a bridge.
    PcieToPciBridge,
    /// Root-complex integrated endpoint (type 9).
    RootComplexIntegrated,
}

impl PortType {
    /// The 4-bit Device/Port Type code.
    pub fn code(self) -> u16 {
        match self {
            PortType::Endpoint => 0,
            PortType::LegacyEndpoint => 1,
            PortType::RootPort => 4,
            PortType::UpstreamPort => 5,
            PortType::DownstreamPort => 6,
            PortType::PcieToPciBridge => 7,
            PortType::RootComplexIntegrated => 9,
        }
    }
}

/// A network interface on a function (`net/NAME/`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetdevSpec {
    /// Interface name.
    pub name: String,
    /// MAC address (`aa:bb:cc:dd:ee:ff`).
    pub mac: String,
    /// `operstate` (`up`, `down`, `lowerlayerdown`, ...).
    #[serde(default = "default_up")]
    pub operstate: String,
    /// `carrier`; `None` writes no file (reading fails on a real admin-down interface).
    #[serde(default)]
    pub carrier: Option<bool>,
    /// `speed` in Mb/s (-1 when no link); `None` writes no file.
    #[serde(default)]
    pub speed: Option<i32>,
    /// MTU (default 1500).
    #[serde(default)]
    pub mtu: Option<u32>,
}

fn default_up() -> String {
    "up".to_string()
}

impl NetdevSpec {
    /// An interface that is up with carrier at `speed` Mb/s.
    pub fn up(name: &str, mac: &str, speed: i32) -> NetdevSpec {
        NetdevSpec {
            name: name.to_string(),
            mac: mac.to_string(),
            operstate: "up".to_string(),
            carrier: Some(true),
            speed: Some(speed),
            mtu: None,
        }
    }

    /// An interface that is administratively up but has no carrier.
    pub fn no_carrier(name: &str, mac: &str) -> NetdevSpec {
        NetdevSpec {
            name: name.to_string(),
            mac: mac.to_string(),
            operstate: "down".to_string(),
            carrier: Some(false),
            speed: Some(-1),
            mtu: None,
        }
    }
}

/// The SR-IOV capability of a PF, and its enabled VFs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SriovSpec {
    /// TotalVFs (config) and `sriov_totalvfs`.
    pub total_vfs: u16,
    /// InitialVFs (config; default = total).
    #[serde(default)]
    pub initial_vfs: Option<u16>,
    /// NumVFs (config) and `sriov_numvfs`: this many VFs exist.
    pub num_vfs: u16,
    /// First VF Offset.
    pub offset: u16,
    /// VF Stride.
    pub stride: u16,
    /// VF Device ID.
    pub vf_device: u16,
    /// `sriov_drivers_autoprobe` (default true).
    #[serde(default = "default_true")]
    pub drivers_autoprobe: bool,
    /// `sriov_totalvfs` when the driver lowered it below the config value
    /// (`pci_sriov_set_totalvfs()`); `None` = same as `total_vfs`.
    #[serde(default)]
    pub sysfs_total_vfs: Option<u16>,
    /// Default driver of the VFs (`None`: unbound).
    #[serde(default)]
    pub vf_driver: Option<String>,
    /// VF BARs (index, kind, address of VF 0's BAR, per-VF size).
    #[serde(default)]
    pub vf_bars: Vec<BarSpec>,
    /// Per-VF details by index; VFs past the end of the list get defaults.
    #[serde(default)]
    pub vfs: Vec<VfSpec>,
}

fn default_true() -> bool {
    true
}

/// Details of one VF. Unset fields take the defaults the PF's spec implies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VfSpec {
    /// Driver, overriding [`SriovSpec::vf_driver`]; `Some("")` means unbound.
    pub driver: Option<String>,
    /// `driver_override`.
    pub driver_override: Option<String>,
    /// IOMMU group.
    pub iommu_group: Option<u32>,
    /// Network interfaces.
    pub netdevs: Vec<NetdevSpec>,
}

/// One PCI function (not a VF; see [`SriovSpec`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    /// Address.
    pub address: Bdf,
    /// Upstream bridge; `None` = on a root bus (`sys/devices/pciDDDD:BB/`).
    #[serde(default)]
    pub parent: Option<Bdf>,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// 24-bit class code (class, subclass, prog-if).
    pub class: u32,
    /// Revision.
    #[serde(default)]
    pub revision: u8,
    /// Subsystem vendor id (default: vendor; 0 for bridges).
    #[serde(default)]
    pub subsystem_vendor: Option<u16>,
    /// Subsystem device id (default: device; 0 for bridges).
    #[serde(default)]
    pub subsystem_device: Option<u16>,
    /// Driver bound (`driver` link), if any.
    #[serde(default)]
    pub driver: Option<String>,
    /// `driver_override` (`None` prints `(null)`).
    #[serde(default)]
    pub driver_override: Option<String>,
    /// IOMMU group.
    #[serde(default)]
    pub iommu_group: Option<u32>,
    /// NUMA node (`None` prints -1).
    #[serde(default)]
    pub numa_node: Option<u32>,
    /// PCI Express: port type and link. `None` = conventional PCI (256-byte config).
    #[serde(default)]
    pub pcie: Option<PcieSpec>,
    /// `reset_method` contents (`None`: no file, as for devices without one).
    #[serde(default)]
    pub reset_method: Option<String>,
    /// BARs.
    #[serde(default)]
    pub bars: Vec<BarSpec>,
    /// Interrupt line (`irq`).
    #[serde(default)]
    pub irq: u32,
    /// MSI-X table size (0: no MSI-X capability).
    #[serde(default)]
    pub msix_vectors: u16,
    /// SR-IOV capability and VFs.
    #[serde(default)]
    pub sriov: Option<SriovSpec>,
    /// Network interfaces.
    #[serde(default)]
    pub netdevs: Vec<NetdevSpec>,
    /// `boot_vga` (GPUs only; `None` writes no file).
    #[serde(default)]
    pub boot_vga: Option<bool>,
    /// Physical slot number (`sys/bus/pci/slots/N/address`).
    #[serde(default)]
    pub slot: Option<u32>,
    /// `label` (firmware device name, e.g. `Onboard LAN 1`).
    #[serde(default)]
    pub label: Option<String>,
    /// Secondary bus of a bridge (default: lowest bus among its children).
    #[serde(default)]
    pub secondary_bus: Option<u8>,
    /// Subordinate bus of a bridge (default: highest bus below it, VFs included).
    #[serde(default)]
    pub subordinate_bus: Option<u8>,
    /// `enable` (default true when a driver is bound).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `power_state` (default `D0`).
    #[serde(default)]
    pub power_state: Option<String>,
}

/// PCI Express properties of a function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcieSpec {
    /// Device/port type.
    #[serde(default)]
    pub port_type: PortType,
    /// Link; `None` for root-complex integrated endpoints (no link).
    #[serde(default)]
    pub link: Option<LinkSpec>,
    /// Function Level Reset supported (DevCap FLReset+).
    #[serde(default = "default_true")]
    pub flr: bool,
}

impl DeviceSpec {
    /// A function with ids and class; everything else default (no driver, no group,
    /// conventional PCI).
    pub fn new(address: Bdf, vendor: u16, device: u16, class: u32) -> DeviceSpec {
        DeviceSpec {
            address,
            parent: None,
            vendor,
            device,
            class,
            revision: 0,
            subsystem_vendor: None,
            subsystem_device: None,
            driver: None,
            driver_override: None,
            iommu_group: None,
            numa_node: None,
            pcie: None,
            reset_method: None,
            bars: Vec::new(),
            irq: 0,
            msix_vectors: 0,
            sriov: None,
            netdevs: Vec::new(),
            boot_vga: None,
            slot: None,
            label: None,
            secondary_bus: None,
            subordinate_bus: None,
            enabled: None,
            power_state: None,
        }
    }

    /// Whether the class says PCI-to-PCI bridge (`0604xx`), i.e. a type-1 header.
    pub fn is_bridge(&self) -> bool {
        self.class >> 8 == 0x0604
    }

    /// Sets the upstream bridge.
    pub fn parent(mut self, p: Bdf) -> Self {
        self.parent = Some(p);
        self
    }
    /// Sets the revision.
    pub fn rev(mut self, r: u8) -> Self {
        self.revision = r;
        self
    }
    /// Sets the subsystem ids.
    pub fn subsystem(mut self, vendor: u16, device: u16) -> Self {
        self.subsystem_vendor = Some(vendor);
        self.subsystem_device = Some(device);
        self
    }
    /// Binds a driver.
    pub fn driver(mut self, d: &str) -> Self {
        self.driver = Some(d.to_string());
        self
    }
    /// Sets the IOMMU group.
    pub fn group(mut self, g: u32) -> Self {
        self.iommu_group = Some(g);
        self
    }
    /// Sets the NUMA node.
    pub fn numa(mut self, n: u32) -> Self {
        self.numa_node = Some(n);
        self
    }
    /// Makes it a PCIe function of a type with a link.
    pub fn pcie(mut self, port_type: PortType, link: Option<LinkSpec>) -> Self {
        self.pcie = Some(PcieSpec {
            port_type,
            link,
            flr: port_type == PortType::Endpoint,
        });
        self
    }
    /// Sets `reset_method`.
    pub fn reset_method(mut self, m: &str) -> Self {
        self.reset_method = Some(m.to_string());
        self
    }
    /// Adds a BAR.
    pub fn bar(mut self, index: u8, kind: BarKind, address: u64, size: u64, pf: bool) -> Self {
        self.bars.push(BarSpec {
            index,
            kind,
            address,
            size,
            prefetchable: pf,
        });
        self
    }
    /// Sets the legacy IRQ.
    pub fn irq(mut self, irq: u32) -> Self {
        self.irq = irq;
        self
    }
    /// Gives it an MSI-X capability with this many vectors.
    pub fn msix(mut self, n: u16) -> Self {
        self.msix_vectors = n;
        self
    }
    /// Gives it SR-IOV.
    pub fn sriov(mut self, s: SriovSpec) -> Self {
        self.sriov = Some(s);
        self
    }
    /// Adds a network interface.
    pub fn netdev(mut self, n: NetdevSpec) -> Self {
        self.netdevs.push(n);
        self
    }
    /// Sets the physical slot number.
    pub fn slot(mut self, n: u32) -> Self {
        self.slot = Some(n);
        self
    }
}

impl SriovSpec {
    /// An SR-IOV capability with `num_vfs` of `total_vfs` enabled, VFs unbound.
    pub fn new(total_vfs: u16, num_vfs: u16, offset: u16, stride: u16, vf_device: u16) -> Self {
        SriovSpec {
            total_vfs,
            initial_vfs: None,
            num_vfs,
            offset,
            stride,
            vf_device,
            drivers_autoprobe: true,
            sysfs_total_vfs: None,
            vf_driver: None,
            vf_bars: Vec::new(),
            vfs: Vec::new(),
        }
    }
    /// Sets the VFs' default driver.
    pub fn vf_driver(mut self, d: &str) -> Self {
        self.vf_driver = Some(d.to_string());
        self
    }
    /// Sets details of VF `index` (the list grows with defaults as needed).
    pub fn vf(mut self, index: usize, vf: VfSpec) -> Self {
        if self.vfs.len() <= index {
            self.vfs.resize(index + 1, VfSpec::default());
        }
        self.vfs[index] = vf;
        self
    }
}

impl HostSpec {
    /// An empty host.
    pub fn new() -> HostSpec {
        HostSpec::default()
    }
    /// Adds a NUMA node.
    pub fn numa_node(mut self, id: u32, cpulist: &str) -> Self {
        self.numa_nodes.push(NumaSpec {
            id,
            cpulist: cpulist.to_string(),
        });
        self
    }
    /// Sets the kernel command line.
    pub fn cmdline(mut self, c: &str) -> Self {
        self.cmdline = Some(c.to_string());
        self
    }
    /// Adds a device.
    pub fn device(mut self, d: DeviceSpec) -> Self {
        self.devices.push(d);
        self
    }
    /// Adds an extra file with contents.
    pub fn file(mut self, path: &str, contents: &str) -> Self {
        self.files.push(ExtraFile {
            path: path.to_string(),
            contents: contents.to_string(),
            link: None,
            mode: None,
        });
        self
    }
    /// Adds an extra symlink.
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.files.push(ExtraFile {
            path: path.to_string(),
            contents: String::new(),
            link: Some(target.to_string()),
            mode: None,
        });
        self
    }
    /// Registers a driver with no device (or a non-default module name).
    pub fn driver(mut self, name: &str, module: Option<&str>) -> Self {
        self.drivers.push(DriverSpec {
            name: name.to_string(),
            module: module.map(str::to_string),
            builtin: false,
        });
        self
    }
    /// The device with an address (not VFs).
    pub fn device_mut(&mut self, a: Bdf) -> Option<&mut DeviceSpec> {
        self.devices.iter_mut().find(|d| d.address == a)
    }
    /// Parses a spec from JSON.
    pub fn from_json(text: &str) -> Result<HostSpec, serde_json::Error> {
        serde_json::from_str(text)
    }
    /// Parses a spec from TOML.
    pub fn from_toml(text: &str) -> Result<HostSpec, toml::de::Error> {
        toml::from_str(text)
    }
    /// The spec as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// (De)serialises a `u32`-keyed map with string keys, as TOML requires.
mod string_keys {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(m: &BTreeMap<u32, String>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k.to_string(), v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<u32, String>, D::Error> {
        let m = BTreeMap::<String, String>::deserialize(d)?;
        m.into_iter()
            .map(|(k, v)| {
                k.parse::<u32>().map(|k| (k, v)).map_err(|_| {
                    serde::de::Error::custom(format!("IOMMU group '{k}' is not a number"))
                })
            })
            .collect()
    }
}
