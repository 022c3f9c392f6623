//! `why DEV`: the causal chain for one device, firmware -> kernel IOMMU -> group ->
//! driver -> SR-IOV -> configuration -> use by a guest. Each link gathers the
//! findings of the checks that belong to it; the first link with a failure is where
//! the chain breaks.

use crate::checks::{registry, Context, Finding, Selection, Severity};
use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;
use serde::Serialize;

/// The links, in causal order: `(name, title, check ids)`.
pub const LINKS: &[(&str, &str, &[&str])] = &[
    (
        "firmware",
        "firmware: CPU virtualization and IOMMU table",
        &["cpu.no-virtualization", "iommu.no-firmware-table"],
    ),
    (
        "kernel",
        "kernel: IOMMU on, interrupts remapped, KVM",
        &[
            "iommu.kernel-disabled",
            "iommu.no-interrupt-remapping",
            "vfio.unsafe-interrupts",
            "vfio.noiommu-mode",
            "iommu.no-passthrough-mode",
            "boot.reboot-pending",
            "kvm.no-device",
        ],
    ),
    ("group", "IOMMU group", &["device.group-shared"]),
    (
        "driver",
        "driver: vfio-pci and the host's hold on the device",
        &[
            "vfio.modules-missing",
            "vfio.no-container",
            "device.host-driver",
            "device.vfio-node-missing",
            "device.default-route",
            "device.no-reset",
            "device.boot-vga",
        ],
    ),
    (
        "sriov",
        "SR-IOV: the PF and its VFs",
        &[
            "sriov.pf-unbound",
            "sriov.pf-no-carrier",
            "sriov.vfs-missing",
        ],
    ),
    (
        "configuration",
        "configuration: nova, qemu.conf, NUMA",
        &[
            "config.nova-fatal",
            "device.not-in-nova",
            "config.qemu-acl-missing-group",
            "device.numa-unknown",
        ],
    ),
    (
        "owners",
        "other owners of VF counts and drivers at boot",
        &["conflict.vf-count", "conflict.driver"],
    ),
    ("guest", "use by a guest", &["device.assigned-twice"]),
];

/// One link of the chain.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    /// Short name (`firmware`, `kernel`, `group`, `driver`, `sriov`, `configuration`, `guest`).
    pub link: &'static str,
    /// What the link is.
    pub title: &'static str,
    /// Worst severity of its findings (`None` when no check applies here).
    pub severity: Option<Severity>,
    /// Its findings.
    pub findings: Vec<Finding>,
}

/// The whole chain for a device.
#[derive(Clone, Debug, Serialize)]
pub struct Chain {
    /// The device.
    pub device: PciAddress,
    /// Every link, in order.
    pub links: Vec<Link>,
    /// The first link with a failure.
    pub broken: Option<&'static str>,
}

impl Chain {
    /// Worst severity over the links up to and including the broken one (or all).
    pub fn worst(&self, all: bool) -> Severity {
        self.shown(all)
            .iter()
            .filter_map(|l| l.severity)
            .max()
            .unwrap_or(Severity::Pass)
    }

    /// The links shown: up to the broken one, or all.
    pub fn shown(&self, all: bool) -> &[Link] {
        match (all, self.broken) {
            (false, Some(b)) => {
                let i = self
                    .links
                    .iter()
                    .position(|l| l.link == b)
                    .unwrap_or(self.links.len() - 1);
                &self.links[..=i]
            }
            _ => &self.links,
        }
    }
}

/// Builds the chain for one device.
pub fn chain(host: &Host, dev: &PciDevice) -> Chain {
    let ctx = Context::new(host, vec![dev], Selection::CommandLine);
    let pf = dev.physfn;
    let mut links: Vec<Link> = LINKS
        .iter()
        .map(|(link, title, ids)| {
            let findings: Vec<Finding> = ids
                .iter()
                .filter_map(|id| registry::find(id))
                .flat_map(|c| (c.run)(&ctx))
                // Keep host-level findings and those about this device or its PF.
                .filter(|f| f.device.is_none() || f.device == Some(dev.address) || f.device == pf)
                .collect();
            Link {
                link,
                title,
                severity: findings.iter().map(|f| f.severity).max(),
                findings,
            }
        })
        .collect();
    if let Some(guest) = links
        .iter_mut()
        .find(|l| l.link == "guest" && l.findings.is_empty())
    {
        guest.severity = Some(Severity::Info);
        guest.findings.push(
            Finding::new(
                crate::checks::device::guest_use::ID,
                crate::checks::Section::Devices,
                Severity::Info,
                "use by a guest",
                "no etc/libvirt/qemu or run/libvirt/qemu under this root: which guest uses the device is not known here",
            )
            .device(dev.address)
            .fix(format!(
                "for d in $(virsh list --all --name); do virsh dumpxml \"$d\" | grep -q \"bus='0x{:02x}' slot='0x{:02x}' function='0x{:x}'\" && echo \"$d\"; done",
                dev.address.bus, dev.address.slot, dev.address.function
            )),
        );
    }
    let broken = links
        .iter()
        .find(|l| l.severity == Some(Severity::Fail))
        .map(|l| l.link);
    Chain {
        device: dev.address,
        links,
        broken,
    }
}
