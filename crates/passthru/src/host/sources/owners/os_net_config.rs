//! os-net-config's SR-IOV state: `var/lib/os-net-config/sriov_config.yaml`, replayed
//! at every boot by `sriov_config.service` (anchors §1.5). It writes a PF's
//! `sriov_numvfs` only when the count is 0 (so a different count stays until a reset);
//! VF drivers it sets go through driverctl, read as driverctl's own overrides.

use crate::host::owners::{Claim, ClaimAction, OwnerKind, Target, When};
use crate::host::root::Root;
use serde::Deserialize;

/// The file `sriov_config.service` replays.
pub const FILE: &str = "var/lib/os-net-config/sriov_config.yaml";
/// The unit.
pub const UNIT: &str = "sriov_config.service";

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    device_type: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    numvfs: Option<u32>,
}

/// Reads the replayed state.
pub fn read(root: &Root) -> Vec<Claim> {
    let Ok(t) = root.read_string(FILE) else {
        return Vec::new();
    };
    let enabled = root
        .list("etc/systemd/system")
        .map(|ds| {
            ds.iter()
                .filter(|d| d.ends_with(".wants"))
                .any(|d| root.exists(&format!("etc/systemd/system/{d}/{UNIT}")))
        })
        .ok();
    parse(FILE, &t, enabled)
}

/// Parses `sriov_config.yaml` (a YAML list of PF and VF entries).
pub fn parse(path: &str, text: &str, enabled: Option<bool>) -> Vec<Claim> {
    let Ok(entries) = serde_yaml_ng::from_str::<Vec<Entry>>(text) else {
        return Vec::new();
    };
    // Lines: the n-th `- ` item at column 0.
    let starts: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("- "))
        .map(|(i, _)| i + 1)
        .collect();
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.device_type.as_deref() == Some("pf"))
        .filter_map(|(i, e)| {
            Some(Claim {
                owner: OwnerKind::OsNetConfig,
                file: path.to_string(),
                line: starts.get(i).copied().unwrap_or(0),
                name: Some(UNIT.into()),
                target: vec![Target::Interface(e.name.clone()?)],
                action: ClaimAction::NumVfs(e.numvfs?),
                when: When::Boot,
                enabled,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pf_entries() {
        let t = "- device_type: pf\n  link_mode: legacy\n  name: p2p1\n  numvfs: 10\n  promisc: true\n- device_type: vf\n  device:\n    name: p2p1\n    vfid: 0\n  vlan_id: 111\n";
        let c = parse(FILE, t, Some(true));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].target, vec![Target::Interface("p2p1".into())]);
        assert_eq!(c[0].action, ClaimAction::NumVfs(10));
        assert_eq!(c[0].line, 1);
        assert!(parse(FILE, "{not a list", None).is_empty());
    }
}
