//! A libvirt domain's XML (`virsh dumpxml`), read with a real XML parser, keeping
//! what passthrough verification needs: PCI host devices (`<hostdev>` and
//! `<interface type='hostdev'>`), vCPU placement (`<vcpu cpuset>`, `<cputune>`),
//! `<numatune>`, and nova's metadata (instance name, flavor).

use crate::libvirt::cpuset::{CpuSet, CpuSetError};
use crate::pci::PciAddress;
use serde::Serialize;

/// The namespace prefix nova writes its metadata under (`.../nova/1.0`, `1.1`, ...).
const NOVA_NS_PREFIX: &str = "http://openstack.org/xmlns/libvirt/nova/";

/// Why a domain XML cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Not well-formed XML.
    #[error("{source_name}:{line}:{column}: not well-formed XML: {message}")]
    Xml {
        /// File name or `virsh dumpxml NAME`.
        source_name: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What the parser said.
        message: String,
    },
    /// Well-formed, but not a `<domain>`.
    #[error("{source_name}: the root element is <{found}>, not <domain> (give `virsh dumpxml NAME` output or a domain name)")]
    NotADomain {
        /// File name or `virsh dumpxml NAME`.
        source_name: String,
        /// The root element found.
        found: String,
    },
    /// A required element is missing.
    #[error("{source_name}:{line}: <{element}> has no <{missing}> (libvirt requires it)")]
    Missing {
        /// File name or `virsh dumpxml NAME`.
        source_name: String,
        /// 1-based line of the element.
        line: u32,
        /// The element lacking a child.
        element: &'static str,
        /// The missing child.
        missing: &'static str,
    },
    /// A PCI address attribute libvirt would refuse.
    #[error("{source_name}:{line}: <address {attribute}='{value}'>: {reason}")]
    Address {
        /// File name or `virsh dumpxml NAME`.
        source_name: String,
        /// 1-based line of the `<address>`.
        line: u32,
        /// The attribute (`domain`, `bus`, `slot`, `function`).
        attribute: &'static str,
        /// Its text.
        value: String,
        /// Why libvirt refuses it, in libvirt's terms.
        reason: String,
    },
    /// A CPU list libvirt would refuse.
    #[error("{source_name}:{line}: <{element}> {source}")]
    CpuSet {
        /// File name or `virsh dumpxml NAME`.
        source_name: String,
        /// 1-based line.
        line: u32,
        /// The element holding the list.
        element: &'static str,
        /// The list error.
        #[source]
        source: CpuSetError,
    },
    /// A number libvirt would refuse.
    #[error("{source_name}:{line}: <{element}> {attribute}='{value}' is not a number")]
    Number {
        /// File name or `virsh dumpxml NAME`.
        source_name: String,
        /// 1-based line.
        line: u32,
        /// The element.
        element: &'static str,
        /// The attribute (or `text`).
        attribute: &'static str,
        /// What it held.
        value: String,
    },
}

/// One domain, as far as passthrough is concerned.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Domain {
    /// `<name>`.
    pub name: String,
    /// `<uuid>`.
    pub uuid: Option<String>,
    /// The `id` attribute: present only while the domain runs.
    pub id: Option<i64>,
    /// The `type` attribute (`kvm`, `qemu`, `test`).
    pub domain_type: Option<String>,
    /// Number of vCPUs (`<vcpu>` text).
    pub vcpus: Option<u32>,
    /// `<vcpu placement>` (`static` or `auto`).
    pub vcpu_placement: Option<String>,
    /// `<vcpu cpuset>`: host CPUs every vCPU may run on unless pinned.
    pub vcpu_cpuset: Option<CpuSet>,
    /// `<cputune><vcpupin>`: per-vCPU pinning.
    pub vcpupins: Vec<VcpuPin>,
    /// `<cputune><emulatorpin cpuset>`.
    pub emulatorpin: Option<CpuSet>,
    /// `<numatune>`.
    pub numatune: Option<NumaTune>,
    /// nova's metadata, when nova made this domain.
    pub nova: Option<NovaMetadata>,
    /// PCI devices given to the guest.
    pub devices: Vec<AssignedDevice>,
    /// `<interface type='network'>` elements: possibly an SR-IOV pool
    /// (`<forward mode='hostdev'>`), whose VF is chosen only at start.
    pub network_interfaces: Vec<String>,
}

impl Domain {
    /// Whether the domain runs (dumpxml of a running domain carries `id`).
    pub fn running(&self) -> bool {
        self.id.is_some_and(|i| i >= 0)
    }

    /// The nova instance name (`nova:name`), or the libvirt name.
    pub fn display_name(&self) -> String {
        match self.nova.as_ref().and_then(|n| n.name.as_deref()) {
            Some(n) if n != self.name => format!("{} ({n})", self.name),
            _ => self.name.clone(),
        }
    }
}

/// `<vcpupin vcpu='N' cpuset='...'/>`.
#[derive(Clone, Debug, Serialize)]
pub struct VcpuPin {
    /// Guest vCPU number.
    pub vcpu: u32,
    /// Host CPUs it may run on.
    pub cpuset: CpuSet,
}

/// `<numatune>`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NumaTune {
    /// `<memory mode>`: `strict` (libvirt's default), `preferred`, `interleave`, `restrictive`.
    pub mode: Option<String>,
    /// `<memory nodeset>`: host NUMA nodes for guest memory.
    pub nodeset: Option<CpuSet>,
    /// `<memory placement>` (`static` or `auto`).
    pub placement: Option<String>,
    /// `<memnode cellid mode nodeset>`: per guest-cell memory binding.
    pub memnodes: Vec<MemNode>,
}

/// `<memnode cellid='0' mode='strict' nodeset='0'/>`.
#[derive(Clone, Debug, Serialize)]
pub struct MemNode {
    /// Guest NUMA cell.
    pub cellid: u32,
    /// Mode.
    pub mode: Option<String>,
    /// Host NUMA nodes.
    pub nodeset: CpuSet,
}

/// What nova wrote in `<metadata><nova:instance>`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NovaMetadata {
    /// `nova:name`: the instance's name as users know it.
    pub name: Option<String>,
    /// `nova:flavor name`.
    pub flavor: Option<String>,
    /// `nova:flavor/nova:vcpus`.
    pub flavor_vcpus: Option<u32>,
    /// `nova:flavor/nova:memory` (MiB).
    pub flavor_memory_mib: Option<u64>,
    /// `nova:package version`.
    pub package: Option<String>,
    /// `nova:owner/nova:project` name.
    pub project: Option<String>,
}

/// Which element gave the device to the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentKind {
    /// `<hostdev mode='subsystem' type='pci'>`.
    Hostdev,
    /// `<interface type='hostdev'>` (an SR-IOV VF with MAC/VLAN set by libvirt).
    Interface,
}

/// A host PCI device given to the guest.
#[derive(Clone, Debug, Serialize)]
pub struct AssignedDevice {
    /// Element kind.
    pub kind: AssignmentKind,
    /// Host address (`<source><address>`).
    pub address: PciAddress,
    /// Whether some address attribute was absent (libvirt reads it as 0, so a bare
    /// `<source/>` means 0000:00:00.0, the host bridge).
    pub partial_address: bool,
    /// Source address attributes written with a leading 0 that libvirt reads as octal
    /// to another value than the decimal reading (`bus='010'` is bus 8), as
    /// `bus='010'`.
    pub octal_attributes: Vec<String>,
    /// `managed='yes'`: libvirt detaches the device to vfio-pci at start. The
    /// default is `no`.
    pub managed: bool,
    /// `<driver name>` (`vfio`, or the legacy `kvm`, `xen`).
    pub driver: Option<String>,
    /// `<alias name>` (running domains).
    pub alias: Option<String>,
    /// `<mac address>` (interfaces).
    pub mac: Option<String>,
    /// `<vlan><tag id>` values (interfaces).
    pub vlans: Vec<u16>,
    /// 1-based line of the element, for messages.
    pub line: u32,
}

struct Ctx<'a> {
    doc: &'a roxmltree::Document<'a>,
    source_name: &'a str,
}

impl Ctx<'_> {
    fn line(&self, n: roxmltree::Node) -> u32 {
        self.doc.text_pos_at(n.range().start).row
    }

    fn cpuset(
        &self,
        n: roxmltree::Node,
        element: &'static str,
        v: &str,
    ) -> Result<CpuSet, DomainError> {
        CpuSet::parse(v).map_err(|source| DomainError::CpuSet {
            source_name: self.source_name.to_string(),
            line: self.line(n),
            element,
            source,
        })
    }

    fn number<T: std::str::FromStr>(
        &self,
        n: roxmltree::Node,
        element: &'static str,
        attribute: &'static str,
        v: &str,
    ) -> Result<T, DomainError> {
        v.trim().parse().map_err(|_| DomainError::Number {
            source_name: self.source_name.to_string(),
            line: self.line(n),
            element,
            attribute,
            value: v.to_string(),
        })
    }
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn text(n: Option<roxmltree::Node>) -> Option<String> {
    n.and_then(|n| n.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Parses a domain's XML. `source_name` names the file (or `virsh dumpxml NAME`)
/// in error messages.
pub fn parse_domain(xml: &str, source_name: &str) -> Result<Domain, DomainError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| {
        let pos = e.pos();
        DomainError::Xml {
            source_name: source_name.to_string(),
            line: pos.row,
            column: pos.col,
            // roxmltree ends its message with the position, which the error leads with.
            message: e
                .to_string()
                .trim_end_matches(&format!(" at {}:{}", pos.row, pos.col))
                .to_string(),
        }
    })?;
    let cx = Ctx {
        doc: &doc,
        source_name,
    };
    let root = doc.root_element();
    if root.tag_name().name() != "domain" {
        return Err(DomainError::NotADomain {
            source_name: source_name.to_string(),
            found: root.tag_name().name().to_string(),
        });
    }
    let mut d = Domain {
        name: text(child(root, "name")).ok_or_else(|| DomainError::Missing {
            source_name: source_name.to_string(),
            line: cx.line(root),
            element: "domain",
            missing: "name",
        })?,
        uuid: text(child(root, "uuid")),
        domain_type: root.attribute("type").map(str::to_string),
        ..Domain::default()
    };
    if let Some(id) = root.attribute("id") {
        d.id = Some(cx.number(root, "domain", "id", id)?);
    }
    if let Some(v) = child(root, "vcpu") {
        if let Some(t) = text(Some(v)) {
            d.vcpus = Some(cx.number(v, "vcpu", "text", &t)?);
        }
        d.vcpu_placement = v.attribute("placement").map(str::to_string);
        if let Some(c) = v.attribute("cpuset") {
            d.vcpu_cpuset = Some(cx.cpuset(v, "vcpu", c)?);
        }
    }
    if let Some(ct) = child(root, "cputune") {
        for p in children(ct, "vcpupin") {
            let (Some(v), Some(c)) = (p.attribute("vcpu"), p.attribute("cpuset")) else {
                continue;
            };
            d.vcpupins.push(VcpuPin {
                vcpu: cx.number(p, "vcpupin", "vcpu", v)?,
                cpuset: cx.cpuset(p, "vcpupin", c)?,
            });
        }
        if let Some(e) = child(ct, "emulatorpin") {
            if let Some(c) = e.attribute("cpuset") {
                d.emulatorpin = Some(cx.cpuset(e, "emulatorpin", c)?);
            }
        }
    }
    if let Some(nt) = child(root, "numatune") {
        let mut t = NumaTune::default();
        if let Some(m) = child(nt, "memory") {
            t.mode = m.attribute("mode").map(str::to_string);
            t.placement = m.attribute("placement").map(str::to_string);
            if let Some(ns) = m.attribute("nodeset") {
                t.nodeset = Some(cx.cpuset(m, "numatune/memory", ns)?);
            }
        }
        for mn in children(nt, "memnode") {
            let (Some(c), Some(ns)) = (mn.attribute("cellid"), mn.attribute("nodeset")) else {
                continue;
            };
            t.memnodes.push(MemNode {
                cellid: cx.number(mn, "memnode", "cellid", c)?,
                mode: mn.attribute("mode").map(str::to_string),
                nodeset: cx.cpuset(mn, "memnode", ns)?,
            });
        }
        d.numatune = Some(t);
    }
    if let Some(md) = child(root, "metadata") {
        d.nova = md
            .children()
            .find(|c| {
                c.is_element()
                    && c.tag_name().name() == "instance"
                    && c.tag_name()
                        .namespace()
                        .is_some_and(|ns| ns.starts_with(NOVA_NS_PREFIX))
            })
            .map(|inst| parse_nova(&cx, inst))
            .transpose()?;
    }
    if let Some(devs) = child(root, "devices") {
        for n in devs.children().filter(|c| c.is_element()) {
            match n.tag_name().name() {
                "hostdev"
                    if n.attribute("mode").unwrap_or("subsystem") == "subsystem"
                        && n.attribute("type") == Some("pci") =>
                {
                    d.devices
                        .push(parse_assigned(&cx, n, AssignmentKind::Hostdev)?);
                }
                "interface" if n.attribute("type") == Some("hostdev") => {
                    d.devices
                        .push(parse_assigned(&cx, n, AssignmentKind::Interface)?);
                }
                "interface" if n.attribute("type") == Some("network") => {
                    let net = child(n, "source")
                        .and_then(|s| s.attribute("network"))
                        .unwrap_or("?");
                    d.network_interfaces.push(net.to_string());
                }
                _ => {}
            }
        }
    }
    Ok(d)
}

fn parse_nova(cx: &Ctx, inst: roxmltree::Node) -> Result<NovaMetadata, DomainError> {
    let mut m = NovaMetadata {
        name: text(child(inst, "name")),
        package: child(inst, "package")
            .and_then(|p| p.attribute("version"))
            .map(str::to_string),
        project: text(child(inst, "owner").and_then(|o| child(o, "project"))),
        ..NovaMetadata::default()
    };
    if let Some(f) = child(inst, "flavor") {
        m.flavor = f.attribute("name").map(str::to_string);
        if let Some(v) = child(f, "vcpus") {
            if let Some(t) = text(Some(v)) {
                m.flavor_vcpus = Some(cx.number(v, "nova:vcpus", "text", &t)?);
            }
        }
        if let Some(v) = child(f, "memory") {
            if let Some(t) = text(Some(v)) {
                m.flavor_memory_mib = Some(cx.number(v, "nova:memory", "text", &t)?);
            }
        }
    }
    Ok(m)
}

/// How libvirt reads a number attribute (`virStrToLong_uip`: C's `strtoul` with base
/// 0, the whole text consumed): leading blanks and a `+` are allowed, `0x`/`0X` starts
/// hexadecimal, a leading `0` octal, anything else is decimal; nothing may follow the
/// digits. `None` where libvirt says "Expected non-negative integer value".
pub fn libvirt_uint(v: &str) -> Option<u64> {
    let t = v.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let t = t.strip_prefix('+').unwrap_or(t);
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // libvirt stores an unsigned int: more is an error too.
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|n| *n <= u64::from(u32::MAX))
}

/// A `<source><address>`'s host PCI address exactly as libvirt reads it
/// (`virPCIDeviceAddressParseXML`): each attribute by [`libvirt_uint`], a missing one
/// as 0, then bus at most 0xff, slot 0x1f, function 7 (the domain may be any unsigned
/// int). Errors name the attribute and say why, in libvirt's terms.
pub fn read_source_address<'v>(
    attr: impl Fn(&str) -> Option<&'v str>,
) -> Result<PciAddress, (&'static str, String)> {
    let mut n = [0u32; 4];
    for (i, (name, max)) in [
        ("domain", u64::from(u32::MAX)),
        ("bus", 0xff),
        ("slot", 0x1f),
        ("function", 7),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(v) = attr(name) else { continue };
        let x = libvirt_uint(v).ok_or((
            name,
            "not a number libvirt reads: decimal (7) or hexadecimal with 0x (0x07); a leading 0 means octal".to_string(),
        ))?;
        if x > max {
            return Err((
                name,
                format!("out of range; libvirt allows at most {max:#x}"),
            ));
        }
        n[i] = x as u32;
    }
    Ok(PciAddress {
        domain: n[0],
        bus: n[1] as u8,
        slot: n[2] as u8,
        function: n[3] as u8,
    })
}

fn parse_assigned(
    cx: &Ctx,
    n: roxmltree::Node,
    kind: AssignmentKind,
) -> Result<AssignedDevice, DomainError> {
    let element = match kind {
        AssignmentKind::Hostdev => "hostdev",
        AssignmentKind::Interface => "interface",
    };
    let src = child(n, "source").ok_or_else(|| DomainError::Missing {
        source_name: cx.source_name.to_string(),
        line: cx.line(n),
        element,
        missing: "source",
    })?;
    let addr_node = child(src, "address");
    let attr = |name: &str| addr_node.and_then(|a| a.attribute(name));
    let partial = ["domain", "bus", "slot", "function"]
        .iter()
        .any(|a| attr(a).is_none());
    let address =
        read_source_address(attr).map_err(|(attribute, reason)| DomainError::Address {
            source_name: cx.source_name.to_string(),
            line: cx.line(addr_node.unwrap_or(src)),
            attribute,
            value: attr(attribute).unwrap_or("").to_string(),
            reason,
        })?;
    // A leading 0 makes libvirt read octal: bus='010' is bus 8, not 10.
    let octal: Vec<String> = ["domain", "bus", "slot", "function"]
        .iter()
        .filter_map(|a| {
            let v = attr(a)?;
            let oct = libvirt_uint(v)?;
            let dec: u64 = v.trim().trim_start_matches('+').parse().ok()?;
            (oct != dec).then(|| format!("{a}='{v}'"))
        })
        .collect();
    let mut vlans = Vec::new();
    if let Some(v) = child(n, "vlan") {
        for t in children(v, "tag") {
            if let Some(id) = t.attribute("id") {
                vlans.push(cx.number(t, "vlan/tag", "id", id)?);
            }
        }
    }
    Ok(AssignedDevice {
        kind,
        address,
        partial_address: partial,
        octal_attributes: octal,
        managed: n.attribute("managed") == Some("yes"),
        driver: child(n, "driver")
            .and_then(|d| d.attribute("name"))
            .map(str::to_string),
        alias: child(n, "alias")
            .and_then(|a| a.attribute("name"))
            .map(str::to_string),
        mac: child(n, "mac")
            .and_then(|m| m.attribute("address"))
            .map(str::to_string),
        vlans,
        line: cx.line(n),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The domain of the first seed (`virsh dumpxml 2` of instance-00000001), verbatim
    /// except for indentation.
    pub(crate) const SEED_DOMAIN: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/libvirt/seed-instance-00000001.xml"
    ));

    #[test]
    fn the_seed_domain_parses() {
        let d = parse_domain(SEED_DOMAIN, "seed").unwrap();
        assert_eq!(d.name, "instance-00000001");
        assert_eq!(d.id, Some(2));
        assert!(d.running());
        assert_eq!(
            d.uuid.as_deref(),
            Some("573bb201-10db-4c48-87f9-c08985bd7d0f")
        );
        assert_eq!(d.vcpus, Some(1));
        assert_eq!(d.vcpu_cpuset.as_ref().unwrap().to_string(), "0-11");
        assert!(d.vcpupins.is_empty());
        let nova = d.nova.as_ref().unwrap();
        assert_eq!(nova.name.as_deref(), Some("pci-test"));
        assert_eq!(nova.flavor.as_deref(), Some("pci_small"));
        assert_eq!(nova.flavor_vcpus, Some(1));
        assert_eq!(nova.flavor_memory_mib, Some(512));
        assert_eq!(d.display_name(), "instance-00000001 (pci-test)");
        assert_eq!(d.devices.len(), 1);
        let h = &d.devices[0];
        assert_eq!(h.kind, AssignmentKind::Hostdev);
        assert_eq!(h.address.to_string(), "0000:07:10.7");
        assert!(h.managed && !h.partial_address);
        assert_eq!(h.driver.as_deref(), Some("vfio"));
        assert_eq!(h.alias.as_deref(), Some("hostdev0"));
    }

    #[test]
    fn decimal_and_hex_addresses_interfaces_and_tuning() {
        let xml = r#"<domain type='kvm'>
  <name>vm1</name>
  <vcpu placement='static' cpuset='0-3'>2</vcpu>
  <cputune><vcpupin vcpu='0' cpuset='12'/><vcpupin vcpu='1' cpuset='13-14,^14'/><emulatorpin cpuset='1'/></cputune>
  <numatune><memory mode='strict' nodeset='1'/><memnode cellid='0' mode='strict' nodeset='1'/></numatune>
  <devices>
    <hostdev mode='subsystem' type='pci'>
      <source><address domain='0' bus='7' slot='16' function='7'/></source>
    </hostdev>
    <interface type='hostdev' managed='yes'>
      <mac address='52:54:00:6d:90:02'/>
      <source><address type='pci' domain='0x0000' bus='0x07' slot='0x10' function='0x3'/></source>
      <vlan><tag id='42'/></vlan>
    </interface>
    <interface type='network'><source network='sriov-pool'/></interface>
    <hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>
    <hostdev mode='subsystem' type='pci' managed='yes'><source><address bus='0x81'/></source></hostdev>
  </devices>
</domain>"#;
        let d = parse_domain(xml, "t.xml").unwrap();
        assert!(!d.running());
        assert_eq!(d.devices.len(), 3, "the USB hostdev is not a PCI device");
        assert_eq!(d.devices[0].address.to_string(), "0000:07:10.7");
        assert!(!d.devices[0].managed, "managed defaults to no");
        assert_eq!(d.devices[1].kind, AssignmentKind::Interface);
        assert_eq!(d.devices[1].address.to_string(), "0000:07:10.3");
        assert_eq!(d.devices[1].vlans, vec![42]);
        assert_eq!(d.devices[1].mac.as_deref(), Some("52:54:00:6d:90:02"));
        assert_eq!(d.devices[2].address.to_string(), "0000:81:00.0");
        assert!(d.devices[2].partial_address);
        assert_eq!(d.devices[2].line, 17);
        assert_eq!(d.network_interfaces, vec!["sriov-pool"]);
        assert_eq!(d.vcpupins[1].cpuset.to_string(), "13");
        assert_eq!(d.emulatorpin.as_ref().unwrap().to_string(), "1");
        let nt = d.numatune.unwrap();
        assert_eq!(nt.mode.as_deref(), Some("strict"));
        assert_eq!(nt.nodeset.unwrap().to_string(), "1");
        assert_eq!(nt.memnodes[0].nodeset.to_string(), "1");
    }

    #[test]
    fn numbers_as_libvirt_reads_them() {
        for (v, want) in [
            ("7", Some(7)),
            ("0x07", Some(7)),
            ("0X1f", Some(31)),
            ("010", Some(8)),
            ("07", Some(7)),
            ("0", Some(0)),
            (" +7", Some(7)),
            ("08", None),
            ("0x", None),
            ("7 ", None),
            ("-1", None),
            ("", None),
            ("0a", None),
            ("4294967295", Some(4_294_967_295)),
            ("4294967296", None),
        ] {
            assert_eq!(libvirt_uint(v), want, "{v:?}");
        }
    }

    #[test]
    fn bad_input_names_the_place() {
        let e = parse_domain("<domain><name>x</name>", "a.xml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("a.xml:1:"), "{e}");
        let e = parse_domain("<network/>", "b.xml").unwrap_err().to_string();
        assert!(e.contains("<network>") && e.contains("not <domain>"), "{e}");
        let xml = "<domain>\n<name>x</name>\n<devices>\n<hostdev mode='subsystem' type='pci'>\n<source><address domain='0' bus='0x07' slot='0x20' function='0'/></source></hostdev></devices></domain>";
        let e = parse_domain(xml, "c.xml").unwrap_err().to_string();
        assert_eq!(
            e,
            "c.xml:5: <address slot='0x20'>: out of range; libvirt allows at most 0x1f"
        );
        // libvirt reads hex only with 0x: bus='0a' is refused, and the message says so.
        let e = parse_domain(
            &xml.replace("bus='0x07' slot='0x20'", "bus='0a' slot='1'"),
            "c.xml",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "c.xml:5: <address bus='0a'>: not a number libvirt reads: decimal (7) or hexadecimal with 0x (0x07); a leading 0 means octal"
        );
        // One message, the position once.
        let e = parse_domain(
            "<domain>\n<name>x</name>\n<devices></device>\n</domain>",
            "m.xml",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "m.xml:3:10: not well-formed XML: expected 'devices' tag, not 'device'"
        );
        let xml = "<domain><name>x</name><devices><hostdev mode='subsystem' type='pci'/></devices></domain>";
        let e = parse_domain(xml, "d.xml").unwrap_err().to_string();
        assert!(e.contains("<hostdev> has no <source>"), "{e}");
        let xml = "<domain><name>x</name><vcpu cpuset='5-3'>1</vcpu></domain>";
        let e = parse_domain(xml, "e.xml").unwrap_err().to_string();
        assert!(e.contains("<vcpu>") && e.contains("5-3"), "{e}");
        let xml = "<domain><name>x</name><devices><interface type='hostdev'><source><address type='pci' bus='0xZZ'/></source></interface></devices></domain>";
        assert!(parse_domain(xml, "f.xml").is_err());
    }
}
