//! Renders what a libvirt guest needs for a host PCI device: `<hostdev
//! mode='subsystem' type='pci'>` with `<driver name='vfio'/>` and the source address
//! in hex, or `<interface type='hostdev'>` for an SR-IOV VF with MAC and VLAN, after
//! checking the device can be assigned at all.

use crate::checks::device::boot_vga::{drives_console, CONSOLE};
use crate::host::model::{Host, PciDevice, SourceKind};
use crate::inventory::groups::group_ownership;
use crate::libvirt::{address_attrs, describe, xml_escape};
use crate::pci::PciAddress;
use serde::Serialize;
use std::fmt;

/// What to render.
#[derive(Clone, Debug)]
pub struct HostdevOptions {
    /// `managed='yes'` (libvirt detaches the device to vfio-pci at start and gives it
    /// back at stop). `false` renders `managed='no'` for a device bound beforehand.
    pub managed: bool,
    /// Render `<interface type='hostdev'>` (SR-IOV VFs only) instead of `<hostdev>`.
    pub interface: bool,
    /// MAC address libvirt sets on the VF (interfaces only).
    pub mac: Option<MacAddress>,
    /// VLAN tag libvirt sets on the VF (interfaces only).
    pub vlan: Option<u16>,
}

impl Default for HostdevOptions {
    fn default() -> Self {
        HostdevOptions {
            managed: true,
            interface: false,
            mac: None,
            vlan: None,
        }
    }
}

/// A unicast Ethernet MAC address, as libvirt accepts it in `<mac address>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacAddress(pub [u8; 6]);

impl MacAddress {
    /// Parses `52:54:00:6d:90:02`. Refuses what libvirt refuses: anything but six
    /// `:`-separated hex octets, and multicast addresses.
    pub fn parse(s: &str) -> Result<Self, RenderError> {
        let bad = |reason: &'static str| RenderError::BadMac {
            input: s.to_string(),
            reason,
        };
        let parts: Vec<&str> = s.trim().split(':').collect();
        if parts.len() != 6 {
            return Err(bad("expected six hex octets separated by ':'"));
        }
        let mut m = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad("expected six hex octets separated by ':'"));
            }
            m[i] = u8::from_str_radix(p, 16).map_err(|_| bad("not hex"))?;
        }
        if m[0] & 1 == 1 {
            return Err(bad(
                "a multicast address (the low bit of the first octet is set); libvirt wants unicast",
            ));
        }
        Ok(MacAddress(m))
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Why nothing was rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The device cannot go to a guest as asked.
    #[error("{device} cannot be assigned: {reason}; {fix}")]
    NotAssignable {
        /// The device.
        device: PciAddress,
        /// Why.
        reason: String,
        /// What to do instead.
        fix: String,
    },
    /// A MAC address libvirt would refuse.
    #[error("--mac '{input}': {reason}")]
    BadMac {
        /// What was given.
        input: String,
        /// Why.
        reason: &'static str,
    },
    /// A VLAN tag libvirt would refuse.
    #[error("--vlan {0}: a VLAN tag is 0 to 4095")]
    BadVlan(u32),
    /// `--mac`/`--vlan` without `--interface`.
    #[error("--mac and --vlan apply to <interface type='hostdev'>; add --interface")]
    NeedsInterface,
}

/// One rendered device.
#[derive(Clone, Debug, Serialize)]
pub struct RenderedDevice {
    /// Host address.
    pub address: PciAddress,
    /// libvirt node-device name (`pci_0000_07_10_7`).
    pub nodedev: String,
    /// `hostdev` or `interface`.
    pub element: &'static str,
    /// What the device is.
    pub description: String,
    /// The XML element, ready for `virsh attach-device` or `virsh edit`.
    pub xml: String,
    /// Things to know that do not stop the rendering.
    pub warnings: Vec<String>,
}

/// Checks every device and renders one element each, or refuses with the first
/// device that cannot be assigned. `devices` are host devices already resolved.
pub fn render_devices(
    host: &Host,
    devices: &[&PciDevice],
    opts: &HostdevOptions,
) -> Result<Vec<RenderedDevice>, RenderError> {
    if (opts.mac.is_some() || opts.vlan.is_some()) && !opts.interface {
        return Err(RenderError::NeedsInterface);
    }
    if let Some(v) = opts.vlan {
        if v > 4095 {
            return Err(RenderError::BadVlan(u32::from(v)));
        }
    }
    if opts.mac.is_some() && opts.interface && devices.len() > 1 {
        return Err(RenderError::NotAssignable {
            device: devices[0].address,
            reason: "one --mac cannot go on several interfaces".into(),
            fix: "render one interface per command, each with its own --mac".into(),
        });
    }
    let together: Vec<PciAddress> = devices.iter().map(|d| d.address).collect();
    devices
        .iter()
        .map(|d| {
            let warnings = check_assignable(host, d, &together, opts)?;
            let xml = if opts.interface {
                interface_xml(d, opts)
            } else {
                hostdev_xml(d, opts.managed)
            };
            Ok(RenderedDevice {
                address: d.address,
                nodedev: d.address.nodedev_name(),
                element: if opts.interface {
                    "interface"
                } else {
                    "hostdev"
                },
                description: describe(host, d),
                xml,
                warnings,
            })
        })
        .collect()
}

/// Checks that every device can go to a guest, the devices being given together (so
/// they may share a group): each device's warnings, or the first refusal. The check
/// behind `render libvirt`, also used by the OpenNebula and qemu.conf renderers, so
/// none of them renders a device no guest can get.
pub fn check_all_assignable(
    host: &Host,
    devices: &[&PciDevice],
    opts: &HostdevOptions,
) -> Result<Vec<(PciAddress, Vec<String>)>, RenderError> {
    let together: Vec<PciAddress> = devices.iter().map(|d| d.address).collect();
    devices
        .iter()
        .map(|d| Ok((d.address, check_assignable(host, d, &together, opts)?)))
        .collect()
}

/// An SR-IOV PF with VFs enabled cannot go to a guest whole: its VFs would go with
/// it. `(reason, fix)` when that is the case: the one rule `render libvirt` (and
/// everything that checks assignability) and `render nova` (type-PF) apply.
pub fn pf_with_vfs(d: &PciDevice) -> Option<(String, String)> {
    let sr = d.sriov.as_ref()?;
    let enabled = sr.num_vfs.max(d.virtfns.len() as u32);
    if enabled == 0 {
        return None;
    }
    let first = d
        .virtfns
        .first()
        .map(|v| format!(" (e.g. {v})"))
        .unwrap_or_default();
    Some((
        format!("it is an SR-IOV PF with {enabled} VF(s) enabled, which would go with it"),
        format!(
            "assign a VF{first}, or set the VFs to 0 first (passthru vfs {} 0)",
            d.address
        ),
    ))
}

/// Whether a device can be given to a guest, with `together` the devices given in
/// the same breath (they may share a group). Returns warnings, or the refusal.
pub fn check_assignable(
    host: &Host,
    d: &PciDevice,
    together: &[PciAddress],
    opts: &HostdevOptions,
) -> Result<Vec<String>, RenderError> {
    let refuse = |reason: String, fix: String| RenderError::NotAssignable {
        device: d.address,
        reason,
        fix,
    };
    let mut warnings = Vec::new();
    if d.is_bridge() {
        return Err(refuse(
            format!("it is a bridge ({})", d.class_label()),
            "assign the endpoint devices behind it instead".into(),
        ));
    }
    if let Some((reason, fix)) = pf_with_vfs(d) {
        return Err(refuse(reason, fix));
    }
    if opts.interface {
        if d.class.base() != 0x02 {
            return Err(refuse(
                format!(
                    "<interface type='hostdev'> needs a network device, and this is a {}",
                    d.class_label()
                ),
                "render a plain <hostdev> (drop --interface)".into(),
            ));
        }
        if !d.is_vf() {
            return Err(refuse(
                "libvirt supports <interface type='hostdev'> on SR-IOV virtual functions only"
                    .into(),
                "give a VF of this NIC, or drop --interface for a plain <hostdev>".into(),
            ));
        }
    }
    match group_ownership(host, d, together) {
        None if host.source.kind == SourceKind::Lspci && host.iommu_groups.is_empty() => {
            warnings.push("the lspci text does not say the IOMMU group; check it with `passthru groups` on the host".into());
        }
        None => {
            return Err(refuse(
                "it has no IOMMU group: the IOMMU is off or unsupported, and vfio needs it".into(),
                "enable the IOMMU (passthru kernel-args) and reboot".into(),
            ));
        }
        Some(o) if !o.viable() => {
            return Err(refuse(
                format!(
                    "IOMMU group {} also holds {}, bound to a host driver; vfio takes a group only when no host driver holds any of it",
                    o.group,
                    held_list(&o.held_by_host)
                ),
                "assign those devices too (name them in the same command), or bind them to vfio-pci (passthru bind DEV --vfio)".into(),
            ));
        }
        Some(_) => {}
    }
    if !opts.managed && !d.on_vfio() {
        warnings.push(format!(
            "managed='no' but the device is bound to {}: bind it to vfio-pci before the guest starts (passthru bind {} --vfio), or drop --unmanaged",
            d.driver.as_deref().unwrap_or("no driver"),
            d.address
        ));
    }
    if drives_console(d) {
        warnings.push(CONSOLE.into());
    }
    Ok(warnings)
}

/// The group members a host driver holds, as `ADDRESS (DRIVER)`, for messages.
pub(crate) fn held_list(held: &[&PciDevice]) -> String {
    held.iter()
        .map(|m| {
            format!(
                "{} ({})",
                m.address,
                m.driver.as_deref().unwrap_or("no driver")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn comment(d: &PciDevice) -> String {
    // `--` may not appear inside an XML comment.
    format!(
        "<!-- {} {} [{}] -->\n",
        d.address,
        d.label().replace("--", "- -"),
        d.id_pair()
    )
}

/// The `<hostdev>` element for a device (no comment line).
pub fn hostdev_element(address: &PciAddress, managed: bool) -> String {
    format!(
        "<hostdev mode='subsystem' type='pci' managed='{}'>\n  <driver name='vfio'/>\n  <source>\n    <address {}/>\n  </source>\n</hostdev>\n",
        if managed { "yes" } else { "no" },
        address_attrs(address)
    )
}

/// The `<hostdev>` element with a comment naming the device.
pub fn hostdev_xml(d: &PciDevice, managed: bool) -> String {
    format!("{}{}", comment(d), hostdev_element(&d.address, managed))
}

/// The `<interface type='hostdev'>` element with a comment naming the device.
pub fn interface_xml(d: &PciDevice, opts: &HostdevOptions) -> String {
    let mut s = comment(d);
    s.push_str(&format!(
        "<interface type='hostdev' managed='{}'>\n",
        if opts.managed { "yes" } else { "no" }
    ));
    if let Some(m) = &opts.mac {
        s.push_str(&format!(
            "  <mac address='{}'/>\n",
            xml_escape(&m.to_string())
        ));
    }
    s.push_str("  <driver name='vfio'/>\n  <source>\n");
    s.push_str(&format!(
        "    <address type='pci' {}/>\n  </source>\n",
        address_attrs(&d.address)
    ));
    if let Some(v) = opts.vlan {
        s.push_str(&format!("  <vlan>\n    <tag id='{v}'/>\n  </vlan>\n"));
    }
    s.push_str("</interface>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::libvirt::verify::tests::seed_host;

    fn dev<'h>(h: &'h Host, a: &str) -> &'h PciDevice {
        h.device(&PciAddress::parse(a).unwrap()).unwrap()
    }

    #[test]
    fn the_seed_vf_renders_as_the_seed_shows_it() {
        let h = seed_host();
        let r = render_devices(&h, &[dev(&h, "07:10.7")], &HostdevOptions::default()).unwrap();
        assert_eq!(r.len(), 1);
        assert!(r[0].xml.contains(
            "<hostdev mode='subsystem' type='pci' managed='yes'>\n  <driver name='vfio'/>\n  <source>\n    <address domain='0x0000' bus='0x07' slot='0x10' function='0x7'/>"
        ), "{}", r[0].xml);
        assert_eq!(r[0].nodedev, "pci_0000_07_10_7");
        assert!(
            r[0].description.contains("VF 1 of 0000:06:00.3 (eno4)"),
            "{}",
            r[0].description
        );
        assert!(r[0].warnings.is_empty());
    }

    #[test]
    fn interface_with_mac_and_vlan() {
        let h = seed_host();
        let opts = HostdevOptions {
            interface: true,
            mac: Some(MacAddress::parse("52:54:00:6D:90:02").unwrap()),
            vlan: Some(42),
            ..HostdevOptions::default()
        };
        let r = render_devices(&h, &[dev(&h, "07:10.3")], &opts).unwrap();
        let x = &r[0].xml;
        assert!(
            x.contains("<interface type='hostdev' managed='yes'>"),
            "{x}"
        );
        assert!(x.contains("<mac address='52:54:00:6d:90:02'/>"), "{x}");
        assert!(
            x.contains(
                "<address type='pci' domain='0x0000' bus='0x07' slot='0x10' function='0x3'/>"
            ),
            "{x}"
        );
        assert!(x.contains("<tag id='42'/>"), "{x}");
    }

    #[test]
    fn refusals_say_why() {
        let h = seed_host();
        let o = HostdevOptions::default();
        let e = render_devices(&h, &[dev(&h, "06:00.3")], &o)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SR-IOV PF with 2 VF(s)") && e.contains("e.g. 0000:07:10.3"),
            "{e}"
        );
        let e = render_devices(&h, &[dev(&h, "00:1c.0")], &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bridge"), "{e}");
        let e = render_devices(
            &h,
            &[dev(&h, "06:00.0")],
            &HostdevOptions {
                interface: true,
                ..o.clone()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("virtual functions only"), "{e}");
        // 03:00.0 shares group 20 with the SATA controller at 03:00.1? no: with 04:00.0 (ahci).
        let e = render_devices(&h, &[dev(&h, "03:00.0")], &o)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("IOMMU group 20 also holds 0000:04:00.0 (ahci)"),
            "{e}"
        );
        // Named together, the group goes whole.
        assert!(render_devices(&h, &[dev(&h, "03:00.0"), dev(&h, "04:00.0")], &o).is_ok());
        assert!(matches!(
            render_devices(
                &h,
                &[dev(&h, "07:10.7")],
                &HostdevOptions {
                    vlan: Some(5),
                    ..o.clone()
                }
            ),
            Err(RenderError::NeedsInterface)
        ));
        assert!(render_devices(
            &h,
            &[dev(&h, "07:10.7")],
            &HostdevOptions {
                interface: true,
                vlan: Some(5000),
                ..o.clone()
            }
        )
        .is_err());
        let mut noiommu = h.clone();
        for d in &mut noiommu.devices {
            d.iommu_group = None;
        }
        noiommu.iommu_groups.clear();
        let e = render_devices(&noiommu, &[dev(&noiommu, "07:10.7")], &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no IOMMU group"), "{e}");
    }

    #[test]
    fn unmanaged_warns_when_not_on_vfio() {
        let h = seed_host();
        let o = HostdevOptions {
            managed: false,
            ..HostdevOptions::default()
        };
        let r = render_devices(&h, &[dev(&h, "07:10.7")], &o).unwrap();
        assert!(r[0].xml.contains("managed='no'") && r[0].warnings.is_empty());
        let r = render_devices(&h, &[dev(&h, "07:10.3")], &o).unwrap();
        assert!(
            r[0].warnings[0].contains("bound to igbvf"),
            "{:?}",
            r[0].warnings
        );
    }

    #[test]
    fn macs_like_libvirt() {
        assert!(MacAddress::parse("52:54:00:6d:90").is_err());
        assert!(MacAddress::parse("01:00:5e:00:00:01").is_err());
        assert!(MacAddress::parse("52:54:00:6d:90:zz").is_err());
        assert_eq!(
            MacAddress::parse("fa:16:3e:0b:65:fc").unwrap().to_string(),
            "fa:16:3e:0b:65:fc"
        );
    }
}
