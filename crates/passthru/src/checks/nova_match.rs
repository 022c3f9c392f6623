//! "Matched by a nova device_spec", decided by [`crate::nova`] (nova 34's own rules:
//! first match wins, the PF rule, devname, address globs and regexes). The host's
//! nova.conf text is read by [`crate::nova::conf`] (the one reader); a value nova
//! would reject matches nothing.

use crate::host::model::{Host, PciDevice};
use crate::nova::conf::{ConfValue, NovaConf};
use crate::nova::matching::NovaDevice;
use crate::nova::spec::{self, DeviceSpec, SpecContext};
use crate::nova::sysfs::SysfsView;

/// The host's device_spec values, parsed once, in nova's merged order.
pub struct NovaSpecs {
    /// Each value as nova reads it (option, line, value after `$` substitution) and
    /// its specs; `None` when nova rejects the value.
    pub values: Vec<(ConfValue, Option<Vec<DeviceSpec>>)>,
}

impl NovaSpecs {
    /// Parses the host's nova.conf device_spec values (empty without nova.conf, or
    /// when oslo.config cannot read the file: `config.nova-fatal` says so).
    pub fn of(host: &Host) -> NovaSpecs {
        let Some(Ok(conf)) = host.system.nova.as_ref().map(NovaConf::from_facts) else {
            return NovaSpecs { values: Vec::new() };
        };
        let sysfs = SysfsView::from_host(host);
        let ctx = SpecContext {
            sysfs: &sysfs,
            report_in_placement: conf.report_in_placement,
        };
        NovaSpecs {
            values: conf
                .device_spec
                .into_iter()
                .map(|v| {
                    let specs = spec::parse_value(&v.value, ctx).ok();
                    (v, specs)
                })
                .collect(),
        }
    }

    /// The line of the first value with a spec that takes the device (nova's first
    /// match), if any.
    pub fn first_match(&self, host: &Host, d: &PciDevice) -> Option<usize> {
        let nd = NovaDevice::from_host(host, d);
        self.values.iter().find_map(|(v, specs)| {
            specs
                .as_ref()?
                .iter()
                .any(|s| s.matches(&nd).unwrap_or(false))
                .then_some(v.loc.line)
        })
    }

    /// Whether the value at a line takes the device.
    pub fn value_matches(&self, line: usize, host: &Host, d: &PciDevice) -> bool {
        let nd = NovaDevice::from_host(host, d);
        self.values.iter().any(|(v, specs)| {
            v.loc.line == line
                && specs
                    .as_ref()
                    .is_some_and(|s| s.iter().any(|x| x.matches(&nd).unwrap_or(false)))
        })
    }
}

/// Devices matched by any device_spec of the host's nova.conf (bridges never).
pub fn matched_devices(host: &Host) -> Vec<&PciDevice> {
    let specs = NovaSpecs::of(host);
    if specs.values.is_empty() {
        return Vec::new();
    }
    host.devices
        .iter()
        .filter(|d| !d.is_bridge())
        .filter(|d| specs.first_match(host, d).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::system::NovaConf as NovaConfFile;
    use crate::pci::PciAddress;

    #[test]
    fn nova_rules_through_the_adapter() {
        let mut pf = PciDevice::new(
            PciAddress::parse("06:00.3").unwrap(),
            0x8086,
            0x1521,
            0x020000,
        );
        pf.netdevs = vec!["eno4".into()];
        pf.sriov = Some(crate::host::model::Sriov {
            total_vfs: 8,
            num_vfs: 1,
            ..Default::default()
        });
        let mut vf = PciDevice::new(
            PciAddress::parse("07:10.7").unwrap(),
            0x8086,
            0x1520,
            0x020000,
        );
        vf.physfn = Some(pf.address);
        let mut h = Host {
            devices: vec![pf, vf],
            ..Host::default()
        };
        // Line 2 in a [PCI] section: oslo.config matches group names in any case.
        h.system.nova = Some(NovaConfFile {
            path: "etc/nova/nova.conf".into(),
            text: "[PCI]\ndevice_spec = {\"vendor_id\": \"8086\", \"product_id\": \"1520\"}\ndevice_spec = {\"address\": \"0000:06:00.3\", \"product_id\": \"1520\"}\ndevice_spec = {not json\n".into(),
        });
        h.normalize();
        let s = NovaSpecs::of(&h);
        let (pf, vf) = (&h.devices[0], &h.devices[1]);
        assert_eq!(s.first_match(&h, vf), Some(2));
        assert_eq!(s.first_match(&h, pf), None);
        assert!(
            s.value_matches(3, &h, vf),
            "a PF's full address selects its VFs"
        );
        assert!(s.values[2].1.is_none(), "nova rejects the bad value");
        assert_eq!(matched_devices(&h).len(), 1);
    }
}
