//! Other owners: what else on the host sets SR-IOV VF counts or binds drivers, read
//! from its files (NetworkManager, systemd-networkd, driverctl, udev rules, modprobe
//! options, `vfio-pci.ids`, rc.local and sysfsutils, systemd units, os-net-config,
//! the SR-IOV network operator). Filled by
//! [`sources::owners`](crate::host::sources::owners); judged by
//! [`checks::conflict`](crate::checks::conflict).
//!
//! A claim says which device(s) it is about the way its file says it (an interface
//! name, a MAC, an address, ids, a driver): matching it to devices is reasoning,
//! done by the checks on these facts.

use crate::pci::PciAddress;
use serde::{Deserialize, Serialize};

/// Every claim found, and the installed host file to compare them with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OwnerFacts {
    /// True when a root source looked for owners (false for `lspci` text and
    /// snapshots taken before these facts existed: then nothing below is known).
    pub collected: bool,
    /// Every claim, in the order the sources found them.
    pub claims: Vec<Claim>,
    /// `etc/passthru/host.toml` as installed (the boot unit applies it), raw text.
    pub host_file: Option<String>,
}

/// Who the other owner is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    /// A NetworkManager connection profile (`[sriov] total-vfs`).
    NetworkManager,
    /// systemd-networkd: a `.link` file (`SR-IOVVirtualFunctions=`) or a
    /// `.network` file's `[SR-IOV]` sections.
    Networkd,
    /// driverctl's saved override (`etc/driverctl.d/pci-ADDR`).
    Driverctl,
    /// A udev rule writing `sriov_numvfs` or `driver_override`.
    Udev,
    /// A modprobe.d `options` line (`max_vfs=`, `num_vfs=`, `vfio-pci ids=`).
    Modprobe,
    /// `vfio-pci.ids=` on the kernel command line of the next boot.
    KernelCmdline,
    /// A boot script: `rc.local`, or sysfsutils' `sysfs.conf`.
    BootScript,
    /// A systemd unit whose commands write sysfs.
    SystemdUnit,
    /// os-net-config (`sriov_pf`, `sriov_vf` with a driver), replayed at boot by
    /// `sriov_config.service`.
    OsNetConfig,
    /// The Kubernetes SR-IOV network operator's config daemon.
    SriovOperator,
}

impl OwnerKind {
    /// The owner's name as an operator knows it.
    pub fn name(self) -> &'static str {
        match self {
            OwnerKind::NetworkManager => "NetworkManager",
            OwnerKind::Networkd => "systemd-networkd",
            OwnerKind::Driverctl => "driverctl",
            OwnerKind::Udev => "a udev rule",
            OwnerKind::Modprobe => "modprobe.d",
            OwnerKind::KernelCmdline => "the kernel command line",
            OwnerKind::BootScript => "a boot script",
            OwnerKind::SystemdUnit => "a systemd unit",
            OwnerKind::OsNetConfig => "os-net-config",
            OwnerKind::SriovOperator => "the SR-IOV network operator",
        }
    }
}

/// One condition on the device a claim is about; a claim's conditions all hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "value")]
pub enum Target {
    /// The device's network interface has this name (`eno1`).
    Interface(String),
    /// The device's network interface has this MAC (lower case).
    Mac(String),
    /// The device's address.
    Address(PciAddress),
    /// The device's vendor and device ids.
    Ids(u16, u16),
    /// The device is driven by this driver (module parameters apply to every device
    /// the module drives).
    Driver(String),
    /// A pattern over `pci-DDDD:BB:SS.F` (networkd's `Path=`, `*` and `?`).
    PathGlob(String),
    /// VFs `first..=last` (by VF index) of the PF at an address.
    VfsOf(PciAddress, u32, u32),
}

/// What the owner does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "sets", content = "value")]
pub enum ClaimAction {
    /// Sets the PF's VF count.
    NumVfs(u32),
    /// Binds the device to a driver (`vfio-pci`, or `none` to keep every driver away).
    Driver(String),
    /// Configures VF attributes (MAC, VLAN, trust...) through the PF; says which.
    VfAttributes(String),
}

/// When the owner acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// Once per boot (a unit, rc.local, sysfsutils).
    Boot,
    /// When the device appears: every boot, and on `udevadm trigger`.
    DeviceAdd,
    /// When the driver module loads: every boot (and on a manual reload).
    ModuleLoad,
    /// When NetworkManager activates the connection (at boot with autoconnect, and
    /// on `nmcli connection up`); it sets 0 again when it deactivates it.
    Activation,
    /// At boot, and again whenever a daemon re-applies its desired state.
    Daemon,
}

impl When {
    /// In words, for messages.
    pub fn words(self) -> &'static str {
        match self {
            When::Boot => "at every boot",
            When::DeviceAdd => "whenever the device appears (every boot, `udevadm trigger`)",
            When::ModuleLoad => "whenever the driver module loads (every boot)",
            When::Activation => {
                "whenever NetworkManager activates the connection (at boot, `nmcli connection up`), and it sets 0 VFs again when the connection goes down"
            }
            When::Daemon => "at boot and at every sync of its config daemon",
        }
    }
}

/// One thing another owner does to a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// Who.
    pub owner: OwnerKind,
    /// The file it is written in, relative to the root.
    pub file: String,
    /// 1-based line (0 when the whole file is the claim, as driverctl's).
    pub line: usize,
    /// A name the owner knows it by: the connection id, the unit, the interface.
    pub name: Option<String>,
    /// Which device(s): every condition holds.
    pub target: Vec<Target>,
    /// What it does.
    pub action: ClaimAction,
    /// When.
    pub when: When,
    /// False when the file is there but will not act (a unit not enabled, a
    /// connection with `autoconnect=false`); `None` when not known.
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl Claim {
    /// `file:line` (or the file alone), with a leading `/`.
    pub fn location(&self) -> String {
        if self.line == 0 {
            format!("/{}", self.file)
        } else {
            format!("/{}:{}", self.file, self.line)
        }
    }

    /// The owner and where: `NetworkManager (connection 'sriov-eno1', /etc/...:7)`.
    pub fn who(&self) -> String {
        match &self.name {
            Some(n) => format!("{} ({n}, {})", self.owner.name(), self.location()),
            None => format!("{} ({})", self.owner.name(), self.location()),
        }
    }
}
