//! driverctl's saved overrides: `etc/driverctl.d/pci-ADDR` holds the driver, and a
//! udev rule starts `driverctl@pci-ADDR.service` when the device appears, so the
//! override is applied early at every boot (anchors §1.6).

use crate::host::owners::{Claim, ClaimAction, OwnerKind, Target, When};
use crate::host::root::Root;
use crate::pci::PciAddress;

/// driverctl's directory.
pub const DIR: &str = "etc/driverctl.d";

/// Reads every saved PCI override.
pub fn read(root: &Root) -> Vec<Claim> {
    let Ok(mut names) = root.list(DIR) else {
        return Vec::new();
    };
    names.sort();
    names
        .into_iter()
        .filter_map(|n| {
            let text = root.read_string(&format!("{DIR}/{n}")).ok()?;
            parse(&n, &text)
        })
        .collect()
}

/// One override file: its name (`pci-0000:81:00.0`) and its text (the driver).
pub fn parse(name: &str, text: &str) -> Option<Claim> {
    let addr = PciAddress::parse(name.strip_prefix("pci-")?).ok()?;
    let driver = text.trim();
    if driver.is_empty() {
        return None;
    }
    Some(Claim {
        owner: OwnerKind::Driverctl,
        file: format!("{DIR}/{name}"),
        line: 0,
        name: Some(format!("driverctl@pci-{addr}.service")),
        target: vec![Target::Address(addr)],
        action: ClaimAction::Driver(driver.to_string()),
        when: When::DeviceAdd,
        enabled: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_files() {
        let c = parse("pci-0000:81:00.0", "vfio-pci\n").unwrap();
        assert_eq!(c.action, ClaimAction::Driver("vfio-pci".into()));
        assert_eq!(c.file, "etc/driverctl.d/pci-0000:81:00.0");
        assert!(parse("usb-1-1", "usbhid\n").is_none());
        assert!(parse("pci-0000:81:00.0", "\n").is_none());
    }
}
