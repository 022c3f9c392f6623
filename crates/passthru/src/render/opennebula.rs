//! OpenNebula: the KVM monitor probe's PCI filter (in `lspci -d` syntax,
//! `vendor:device:class`, as the seed's `pci.rb` shows) and the VM template's
//! `PCI = [ ... ]` lines that ask for the devices.

use crate::host::model::PciDevice;
use crate::pci::{PciAddress, PciFilter};
use crate::render::RenderError;
use serde::Serialize;

/// How the VM template names a device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateBy {
    /// `VENDOR`, `DEVICE`, `CLASS`: any free device of that type (what the seed's
    /// OpenNebula understands; survives address changes).
    #[default]
    Ids,
    /// `SHORT_ADDRESS = "07:10.7"`: exactly this device (newer OpenNebula).
    Address,
}

/// The rendered OpenNebula configuration.
#[derive(Clone, Debug, Serialize)]
pub struct OpenNebula {
    /// The probe filter (`8086:1520:0200`), one part per device type.
    pub filter: PciFilter,
    /// One `PCI = [ ... ]` line per device.
    pub template_lines: Vec<String>,
    /// The devices, in order.
    pub devices: Vec<PciAddress>,
}

impl OpenNebula {
    /// The text to paste: the probe filter for both probe layouts, then the template.
    pub fn text(&self) -> String {
        let types = self.filter.parts.len();
        let mut s = format!(
            "# OpenNebula KVM monitor probe filter (lspci -d syntax): {types} device type(s), {} device(s)\n",
            self.devices.len()
        );
        s.push_str(
            "# in /var/lib/one/remotes/im/kvm-probes.d/pci.rb (older releases, as in the seed):\n",
        );
        s.push_str(&format!("FILTER = '{}'\n", self.filter));
        s.push_str("# or in /var/lib/one/remotes/etc/im/kvm-probes.d/pci.conf (newer releases):\n");
        s.push_str(&format!(":filter: '{}'\n", self.filter));
        s.push_str("# then `onehost sync --force` so the hosts run the new probe.\n\n");
        s.push_str("# VM template: one line per device the VM gets\n");
        for l in &self.template_lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

/// Renders the filter and template lines for devices.
pub fn render(devices: &[&PciDevice], by: TemplateBy) -> Result<OpenNebula, RenderError> {
    if devices.is_empty() {
        return Err(RenderError::NoDevices);
    }
    let template_lines = devices
        .iter()
        .map(|d| match by {
            TemplateBy::Ids => format!(
                "PCI = [ VENDOR = \"{}\", DEVICE = \"{}\", CLASS = \"{:04x}\" ]",
                d.vendor_id,
                d.device_id,
                d.class.class16()
            ),
            TemplateBy::Address => format!("PCI = [ SHORT_ADDRESS = \"{}\" ]", d.address.short()),
        })
        .collect();
    Ok(OpenNebula {
        filter: PciFilter::exact_for(devices.iter().copied()),
        template_lines,
        devices: devices.iter().map(|d| d.address).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_vfs_give_one_filter_and_two_lines() {
        let a = PciDevice::new(
            PciAddress::parse("07:10.3").unwrap(),
            0x8086,
            0x1520,
            0x020000,
        );
        let b = PciDevice::new(
            PciAddress::parse("07:10.7").unwrap(),
            0x8086,
            0x1520,
            0x020000,
        );
        let g = PciDevice::new(
            PciAddress::parse("81:00.0").unwrap(),
            0x10de,
            0x11bf,
            0x030000,
        );
        let r = render(&[&a, &b, &g], TemplateBy::Ids).unwrap();
        assert_eq!(r.filter.to_string(), "8086:1520:0200,10de:11bf:0300");
        assert_eq!(
            r.template_lines[0],
            "PCI = [ VENDOR = \"8086\", DEVICE = \"1520\", CLASS = \"0200\" ]"
        );
        assert_eq!(r.template_lines.len(), 3);
        let t = r.text();
        assert!(
            t.contains("FILTER = '8086:1520:0200,10de:11bf:0300'\n"),
            "{t}"
        );
        assert!(
            t.contains(":filter: '8086:1520:0200,10de:11bf:0300'\n"),
            "{t}"
        );
        // The filter selects exactly these devices' types.
        assert!(r.filter.matches(&a) && r.filter.matches(&g));
        let r = render(&[&b], TemplateBy::Address).unwrap();
        assert_eq!(
            r.template_lines,
            vec!["PCI = [ SHORT_ADDRESS = \"07:10.7\" ]"]
        );
        assert!(render(&[], TemplateBy::Ids).is_err());
    }
}
