//! libvirt: domain XML read with a real parser, `<hostdev>` / `<interface
//! type='hostdev'>` rendering, node-device XML as libvirt shows it, and the pure
//! verification of a guest's devices against host facts.
//!
//! Nothing here runs `virsh` or reads files: `host::sources::libvirt` does.

pub mod cpuset;
pub mod domain;
pub mod hostdev;
pub mod nodedev;
pub mod verify;

pub use cpuset::CpuSet;
pub use domain::{parse_domain, AssignedDevice, AssignmentKind, Domain, DomainError};
pub use hostdev::{render_devices, HostdevOptions, MacAddress, RenderError, RenderedDevice};
pub use nodedev::nodedev_xml;
pub use verify::{verify_domain, verify_domains, Finding, Severity, VerifyOptions, VerifyReport};

use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;

/// libvirt's `<address>` attributes for a host PCI address, as libvirt formats them
/// (`domain='0x0000' bus='0x07' slot='0x10' function='0x7'`).
pub fn address_attrs(a: &PciAddress) -> String {
    format!(
        "domain='0x{:04x}' bus='0x{:02x}' slot='0x{:02x}' function='0x{:x}'",
        a.domain, a.bus, a.slot, a.function
    )
}

/// Escapes text for XML content and attribute values.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// One line saying what a device is: name, ids, and its SR-IOV and network role
/// (`I350 Ethernet Controller Virtual Function [8086:1520], VF 1 of 0000:06:00.3 (eno4)`).
pub fn describe(host: &Host, d: &PciDevice) -> String {
    let mut s = format!("{} [{}]", d.label(), d.id_pair());
    if let Some(pf) = d.physfn {
        let idx = d
            .vf_index
            .map(|i| format!("VF {i}"))
            .unwrap_or_else(|| "a VF".into());
        let pf_net = host
            .device(&pf)
            .filter(|p| !p.netdevs.is_empty())
            .map(|p| format!(" ({})", p.netdevs.join(", ")))
            .unwrap_or_default();
        s.push_str(&format!(", {idx} of {pf}{pf_net}"));
    } else if let Some(sr) = &d.sriov {
        s.push_str(&format!(
            ", SR-IOV PF with {}/{} VFs",
            sr.num_vfs, sr.total_vfs
        ));
    }
    if !d.netdevs.is_empty() {
        s.push_str(&format!(", netdev {}", d.netdevs.join(", ")));
    }
    s
}
