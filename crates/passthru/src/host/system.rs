//! Host-level facts beyond the PCI tree: CPU, firmware IOMMU tables, IOMMU units,
//! kernel modules and their parameters, device nodes, the kernel log, boot and service
//! configuration. Filled by [`sources::system`](crate::host::sources::system).
//!
//! Every struct defaults field by field (`#[serde(default)]`), so snapshots written
//! before a field existed still load; [`SystemFacts::collected`] tells a check whether
//! an empty value means "absent on the host" or "never read" (lspci text, old snapshots).

use serde::{Deserialize, Serialize};

/// Host-level facts used by the checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemFacts {
    /// True when a root source read these facts. False for `lspci` text and for
    /// snapshots older than these facts: then nothing below is known.
    pub collected: bool,
    /// Running kernel release (`proc/sys/kernel/osrelease`).
    pub kernel_release: Option<String>,
    /// The CPU (`proc/cpuinfo`).
    pub cpu: CpuFacts,
    /// IOMMU tables in the ACPI firmware (`sys/firmware/acpi/tables`).
    pub acpi: AcpiTables,
    /// IOMMU units the kernel drives (`sys/class/iommu`).
    pub iommu_units: Vec<IommuUnit>,
    /// Kernel modules.
    pub modules: ModuleFacts,
    /// vfio module parameters that weaken isolation.
    pub vfio_params: VfioParams,
    /// Device nodes under `dev/`.
    pub dev: DevNodes,
    /// Relevant lines of the kernel log, when one was available.
    pub kernel_log: Option<KernelLog>,
    /// Directives from `modprobe.d` files, in file order.
    pub modprobe: Vec<ModprobeDirective>,
    /// Boot configuration: bootloader and the kernel arguments it will pass next boot.
    pub boot: BootConfig,
    /// `etc/nova/nova.conf`, when present.
    pub nova: Option<NovaConf>,
    /// `etc/libvirt/qemu.conf`, when present.
    pub qemu_conf: Option<QemuConf>,
    /// Interfaces that carry a default route (`proc/net/route`, destination 0/0);
    /// `None` when neither `proc/net/route` nor `proc/net/ipv6_route` could be read
    /// (not known, which is not "no default route").
    pub default_route_interfaces: Option<Vec<String>>,
    /// Interfaces under those (bridge ports, bond slaves, a VLAN's parent, at any
    /// depth): taking one from the host cuts the default route just the same.
    pub default_route_lowers: Vec<RouteLower>,
    /// Kernel arguments passthru was asked to put on the command line: each
    /// `passthru kernel-args` change set that is done and not undone (oldest first),
    /// then the `[kernel]` section of `etc/passthru/host.toml`.
    pub kernel_args_asked: Vec<KernelArgsAsked>,
    /// libvirt QEMU domains defined (`etc/libvirt/qemu/*.xml`) or running
    /// (`run/libvirt/qemu/*.xml`) on the host, with the PCI devices they are given.
    /// `None` when the root has neither directory.
    pub libvirt_domains: Option<Vec<GuestDomain>>,
    /// Other owners of VF counts and drivers (NetworkManager, networkd, driverctl,
    /// udev, boot scripts and units, os-net-config, the SR-IOV operator) and the
    /// installed host file to compare them with.
    pub owners: crate::host::owners::OwnerFacts,
}

/// A libvirt domain and the host PCI devices it is given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GuestDomain {
    /// Domain name.
    pub name: String,
    /// Running now (a status file under `run/libvirt/qemu`).
    pub running: bool,
    /// The file it was read from, relative to the root.
    pub file: String,
    /// Host addresses of its `<hostdev>` / `<interface type='hostdev'>` devices.
    pub devices: Vec<crate::pci::PciAddress>,
}

/// CPU vendor, as far as passthrough is concerned (it picks the IOMMU and the fix).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuVendor {
    /// `GenuineIntel`: VT-x (`vmx`), VT-d (ACPI DMAR).
    Intel,
    /// `AuthenticAMD` / `HygonGenuine`: AMD-V (`svm`), AMD-Vi (ACPI IVRS).
    Amd,
    /// Arm64: SMMU (ACPI IORT).
    Arm,
    /// Something else (POWER, s390...).
    Other,
    /// Not known.
    #[default]
    Unknown,
}

/// What `proc/cpuinfo` says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuFacts {
    /// Vendor.
    pub vendor: CpuVendor,
    /// The raw `vendor_id` (or `CPU implementer`) value.
    pub vendor_id: Option<String>,
    /// `model name`, when given.
    pub model_name: Option<String>,
    /// Flags that matter here, among those of the first CPU: `vmx`, `svm`,
    /// `hypervisor` (this host is itself a guest), `x2apic`.
    pub flags: Vec<String>,
}

impl CpuFacts {
    /// Whether a flag is present.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// Names of the ACPI tables that describe an IOMMU.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AcpiTables {
    /// Whether `sys/firmware/acpi/tables` could be listed at all (non-ACPI machines,
    /// device-tree Arm boards, or a root without it: nothing below is known).
    pub readable: bool,
    /// Intel VT-d table.
    pub dmar: bool,
    /// AMD-Vi table.
    pub ivrs: bool,
    /// Arm SMMU table.
    pub iort: bool,
}

/// One IOMMU unit (`sys/class/iommu/NAME`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IommuUnit {
    /// `dmar0`, `ivhd0`, `smmu3.0x...`.
    pub name: String,
    /// Intel capability register (`intel-iommu/cap`), when this is a VT-d unit.
    pub intel_cap: Option<u64>,
    /// Intel extended capability register (`intel-iommu/ecap`).
    pub intel_ecap: Option<u64>,
    /// AMD extended feature register (`amd-iommu/features`), when this is an AMD-Vi unit.
    pub amd_features: Option<u64>,
}

/// Bit 3 of the VT-d extended capability register: interrupt remapping supported.
pub const INTEL_ECAP_IR: u64 = 1 << 3;

impl IommuUnit {
    /// Whether this unit supports interrupt remapping, when its registers say.
    pub fn interrupt_remapping(&self) -> Option<bool> {
        self.intel_ecap.map(|e| e & INTEL_ECAP_IR != 0)
    }
}

/// Kernel modules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModuleFacts {
    /// Modules loaded now (`proc/modules`), `None` when unknown. Empty on a kernel
    /// without loadable-module support.
    pub loaded: Option<Vec<String>>,
    /// The kernel has no loadable-module support (no `proc/modules` but a
    /// `sys/module`): only built-in modules exist.
    pub no_module_support: bool,
    /// Relevant modules built into the kernel (`sys/module/M` without `initstate`,
    /// or listed in `lib/modules/RELEASE/modules.builtin`).
    pub builtin: Vec<String>,
    /// Relevant modules installed for the running kernel
    /// (`lib/modules/RELEASE/modules.dep`), `None` when that file is absent.
    pub available: Option<Vec<String>>,
    /// `modules.alias` lines for modules that some `modprobe.d` blacklist names:
    /// `(pattern, module)`, to tell whether a blacklisted driver serves any device here.
    pub blacklisted_aliases: Option<Vec<(String, String)>>,
}

/// Normalises a module name the way the kernel does (`-` and `_` are the same).
pub fn module_name(s: &str) -> String {
    s.trim().replace('-', "_")
}

impl ModuleFacts {
    /// Whether a module is loaded or built in; `None` when the facts do not say.
    pub fn present(&self, name: &str) -> Option<bool> {
        let n = module_name(name);
        if self.builtin.iter().any(|b| module_name(b) == n) {
            return Some(true);
        }
        self.loaded
            .as_ref()
            .map(|l| l.iter().any(|m| module_name(m) == n))
    }

    /// Whether a module is installed for the running kernel; `None` when unknown.
    pub fn installed(&self, name: &str) -> Option<bool> {
        let n = module_name(name);
        if self.builtin.iter().any(|b| module_name(b) == n) {
            return Some(true);
        }
        self.available
            .as_ref()
            .map(|l| l.iter().any(|m| module_name(m) == n))
    }
}

/// vfio module parameters (`sys/module/*/parameters`), `None` when the module is not
/// loaded (or the facts do not say).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VfioParams {
    /// `vfio_iommu_type1.allow_unsafe_interrupts` (or iommufd's
    /// `allow_unsafe_interrupts`): devices go to guests without interrupt isolation.
    pub allow_unsafe_interrupts: Option<bool>,
    /// `vfio.enable_unsafe_noiommu_mode`: vfio without any IOMMU at all.
    pub enable_unsafe_noiommu_mode: Option<bool>,
}

/// Device nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DevNodes {
    /// The root has a `dev/` directory at all (a copied tree may not).
    pub dev_dir: bool,
    /// `dev/kvm` exists.
    pub kvm: bool,
    /// Entries of `dev/vfio/` (`vfio`, group numbers, `noiommu-N`, `devices`);
    /// `None` when `dev/vfio` does not exist.
    pub vfio: Option<Vec<String>>,
}

impl DevNodes {
    /// Whether `dev/vfio/NAME` exists.
    pub fn has_vfio(&self, name: &str) -> bool {
        self.vfio
            .as_ref()
            .is_some_and(|v| v.iter().any(|n| n == name))
    }
}

/// The lines of a kernel log that matter for passthrough (IOMMU, interrupt
/// remapping, vfio), without timestamps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KernelLog {
    /// Where it came from (`/dev/kmsg`, a file given with `--kernel-log`).
    pub source: String,
    /// The relevant lines, in order.
    pub lines: Vec<String>,
}

impl KernelLog {
    /// Whether any line contains `needle` (case-sensitive, as the kernel prints).
    pub fn has(&self, needle: &str) -> bool {
        self.lines.iter().any(|l| l.contains(needle))
    }

    /// The first line that contains `needle`.
    pub fn find(&self, needle: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|l| l.contains(needle))
            .map(String::as_str)
    }
}

/// One `modprobe.d` directive (see modprobe.d(5)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModprobeDirective {
    /// File, relative to the root (`etc/modprobe.d/vfio.conf`), or `proc/cmdline`
    /// for `modprobe.blacklist=` / `MOD.param=` on the kernel command line.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What it says.
    pub kind: ModprobeKind,
}

/// The directives passthru cares about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "directive")]
pub enum ModprobeKind {
    /// `blacklist MODULE`.
    Blacklist {
        /// Module name.
        module: String,
    },
    /// `options MODULE PARAMS...`.
    Options {
        /// Module name.
        module: String,
        /// `name=value` words (a bare `name` means `name=1`... modprobe passes it as is).
        params: Vec<String>,
    },
    /// `softdep MODULE pre: ... post: ...`.
    Softdep {
        /// Module name.
        module: String,
        /// Modules loaded first.
        pre: Vec<String>,
        /// Modules loaded after.
        post: Vec<String>,
    },
    /// `install MODULE COMMAND` (often `/bin/false` to forbid a module).
    Install {
        /// Module name.
        module: String,
        /// The command.
        command: String,
    },
}

impl ModprobeDirective {
    /// The module a directive is about.
    pub fn module(&self) -> &str {
        match &self.kind {
            ModprobeKind::Blacklist { module }
            | ModprobeKind::Options { module, .. }
            | ModprobeKind::Softdep { module, .. }
            | ModprobeKind::Install { module, .. } => module,
        }
    }

    /// `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The bootloader that owns the kernel command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bootloader {
    /// GRUB configured through `etc/default/grub`, regenerated with `update-grub`
    /// (Debian, Ubuntu).
    GrubUpdateGrub,
    /// GRUB with `grubby` (Fedora, RHEL and relatives; `etc/default/grub` or
    /// `etc/sysconfig/grub`).
    Grubby,
    /// GRUB with `grub2-mkconfig`/`grub-mkconfig` and no helper.
    GrubMkconfig,
    /// `etc/kernel/cmdline` read by `kernel-install` (systemd-boot, UKIs,
    /// proxmox-boot-tool).
    KernelInstall,
    /// Not known.
    #[default]
    Unknown,
}

/// One file that sets the kernel command line of the next boot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BootArgsFile {
    /// Path relative to the root.
    pub path: String,
    /// The variable (`GRUB_CMDLINE_LINUX_DEFAULT`), or empty for `etc/kernel/cmdline`.
    pub variable: String,
    /// 1-based line of the assignment (0 when the whole file is the command line).
    pub line: usize,
    /// The arguments, unquoted.
    pub args: String,
}

/// Boot configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BootConfig {
    /// Which bootloader tooling owns the command line.
    pub bootloader: Bootloader,
    /// Files that set next boot's kernel arguments.
    pub files: Vec<BootArgsFile>,
    /// Boot tools found under the root (`grubby`, `update-grub`, `grub2-mkconfig`,
    /// `grub-mkconfig`, `kernel-install`, `proxmox-boot-tool`, `bootctl`, and the
    /// initramfs builders `update-initramfs`, `dracut`, `mkinitcpio`).
    pub tools: Vec<String>,
    /// Booted through UEFI (`sys/firmware/efi` exists): `grub.cfg` is then the one on
    /// the ESP unless that is a stub.
    pub efi: bool,
    /// GRUB default files that exist (`etc/default/grub`, `etc/sysconfig/grub`).
    pub grub_defaults: Vec<String>,
    /// `grub.cfg` files that exist (`boot/grub2/grub.cfg`, `boot/grub/grub.cfg`,
    /// `boot/efi/EFI/*/grub.cfg`).
    pub grub_cfgs: Vec<GrubCfg>,
    /// Boot Loader Specification entries (`boot/loader/entries/*.conf`) and their
    /// `options` line: what grubby edits, and what the next boot gets on hosts that
    /// use it.
    pub entries: Vec<BootArgsFile>,
}

/// One `grub.cfg`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GrubCfg {
    /// Path relative to the root.
    pub path: String,
    /// Only a stub that chains to another `grub.cfg` (`configfile`), as newer
    /// distributions put on the ESP: regenerating it changes nothing.
    pub stub: bool,
}

impl BootConfig {
    /// Whether a boot tool was found.
    pub fn has_tool(&self, name: &str) -> bool {
        self.tools.iter().any(|t| t == name)
    }
}

impl BootConfig {
    /// Every argument the next boot will get from the configuration (all files).
    pub fn next_boot_args(&self) -> Vec<&str> {
        self.files
            .iter()
            .flat_map(|f| f.args.split_whitespace())
            .collect()
    }
}

/// `etc/nova/nova.conf` as read: its text. What it says is decided by
/// [`crate::nova::conf`] alone (oslo.config's rules), never here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NovaConf {
    /// Path relative to the root.
    pub path: String,
    /// The file's text (lossily decoded).
    pub text: String,
}

/// `etc/libvirt/qemu.conf`, the parts doctor reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QemuConf {
    /// Path relative to the root.
    pub path: String,
    /// `cgroup_device_acl` when set (uncommented): the customised list. `None` means
    /// libvirt's built-in default list is in force.
    pub cgroup_device_acl: Option<Vec<String>>,
    /// Line of the `cgroup_device_acl` assignment.
    pub cgroup_device_acl_line: usize,
}

/// Kernel arguments passthru was asked for, and where that is recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KernelArgsAsked {
    /// Where it is recorded, relative to the root (`var/lib/passthru/journal/ID`,
    /// `etc/passthru/host.toml`).
    pub source: String,
    /// What asked: the change set's command as the operator would retype it
    /// (`passthru kernel-args --iommu --pt`), or `[kernel]` for the host file.
    pub command: String,
    /// When (change sets), UTC.
    pub when: Option<String>,
    /// Arguments to be on the command line.
    pub add: Vec<String>,
    /// Arguments not to be on it (`key` means every `key=...`).
    pub remove: Vec<String>,
}

/// An interface stacked under one that carries the default route.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteLower {
    /// The lower interface (`eno1`).
    pub interface: String,
    /// The default-route interface above it (`br0`).
    pub via: String,
}
