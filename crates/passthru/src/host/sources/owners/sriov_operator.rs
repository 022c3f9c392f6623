//! The Kubernetes SR-IOV network operator's config daemon (anchors §1.3): in systemd
//! mode `etc/sriov-operator/sriov-interface-config.yaml` (applied at boot by
//! `sriov-config.service`), in daemon mode the applied PF state it keeps in
//! `etc/sriov-operator/pci/ADDR` (JSON) and re-applies at every sync. Either sets the
//! PF's VF count and binds VF groups with `deviceType: vfio-pci` to vfio-pci.

use crate::host::owners::{Claim, ClaimAction, OwnerKind, Target, When};
use crate::host::root::Root;
use crate::pci::PciAddress;
use serde::Deserialize;

/// systemd mode's file.
pub const SYSTEMD_FILE: &str = "etc/sriov-operator/sriov-interface-config.yaml";
/// daemon mode's applied PF states.
pub const PCI_DIR: &str = "etc/sriov-operator/pci";

/// One interface of a SriovNetworkNodeState spec.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Interface {
    /// PF address.
    pub pci_address: String,
    /// VF count.
    pub num_vfs: Option<u32>,
    /// PF name.
    pub name: Option<String>,
    /// VF groups.
    pub vf_groups: Vec<VfGroup>,
    /// The operator neither creates nor deletes VFs.
    pub externally_managed: bool,
}

/// A VF group.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct VfGroup {
    /// `netdevice` or `vfio-pci`.
    pub device_type: Option<String>,
    /// `0-3`.
    pub vf_range: Option<String>,
    /// The device plugin's resource.
    pub resource_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Spec {
    interfaces: Vec<Interface>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SystemdConfig {
    spec: Spec,
}

/// Reads both modes' files.
pub fn read(root: &Root) -> Vec<Claim> {
    let mut out = Vec::new();
    if let Ok(t) = root.read_string(SYSTEMD_FILE) {
        if let Ok(c) = serde_yaml_ng::from_str::<SystemdConfig>(&t) {
            for i in &c.spec.interfaces {
                out.extend(claims(
                    SYSTEMD_FILE,
                    i,
                    When::Boot,
                    Some("sriov-config.service"),
                ));
            }
        }
    }
    let mut names = root.list(PCI_DIR).unwrap_or_default();
    names.sort();
    for n in names {
        let path = format!("{PCI_DIR}/{n}");
        let Ok(t) = root.read_string(&path) else {
            continue;
        };
        if let Ok(i) = serde_json::from_str::<Interface>(&t) {
            out.extend(claims(
                &path,
                &i,
                When::Daemon,
                Some("sriov-network-config-daemon"),
            ));
        }
    }
    out
}

/// The claims one interface entry makes.
pub fn claims(path: &str, i: &Interface, when: When, name: Option<&str>) -> Vec<Claim> {
    let Ok(pf) = PciAddress::parse(&i.pci_address) else {
        return Vec::new();
    };
    let claim = |target, action| Claim {
        owner: OwnerKind::SriovOperator,
        file: path.to_string(),
        line: 0,
        name: name.map(str::to_string),
        target,
        action,
        when,
        enabled: None,
    };
    let mut out = Vec::new();
    if let (Some(n), false) = (i.num_vfs, i.externally_managed) {
        out.push(claim(vec![Target::Address(pf)], ClaimAction::NumVfs(n)));
    }
    for g in &i.vf_groups {
        if g.device_type.as_deref() != Some("vfio-pci") {
            continue;
        }
        let Some((a, b)) = g.vf_range.as_deref().and_then(|r| {
            let (a, b) = r.split_once('-').unwrap_or((r, r));
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        }) else {
            continue;
        };
        out.push(claim(
            vec![Target::VfsOf(pf, a, b)],
            ClaimAction::Driver("vfio-pci".into()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_mode_file() {
        let t = "spec:\n  interfaces:\n  - pciAddress: \"0000:02:00.0\"\n    numVfs: 4\n    name: eno1\n    vfGroups:\n    - resourceName: intelnics\n      deviceType: vfio-pci\n      vfRange: 0-1\n      policyName: p\nunsupportedNics: false\n";
        let c: SystemdConfig = serde_yaml_ng::from_str(t).unwrap();
        let cl = claims(SYSTEMD_FILE, &c.spec.interfaces[0], When::Boot, None);
        let pf = PciAddress::parse("0000:02:00.0").unwrap();
        assert_eq!(cl[0].action, ClaimAction::NumVfs(4));
        assert_eq!(cl[1].target, vec![Target::VfsOf(pf, 0, 1)]);
        let j: Interface = serde_json::from_str(
            r#"{"pciAddress":"0000:02:00.0","numVfs":2,"externallyManaged":true}"#,
        )
        .unwrap();
        assert!(claims("x", &j, When::Daemon, None).is_empty());
    }
}
