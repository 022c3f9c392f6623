//! NetworkManager connection profiles (keyfiles, `*.nmconnection`) with an `[sriov]`
//! setting: `total-vfs` is the VF count NetworkManager sets when it activates the
//! connection (and resets to 0 when it deactivates it), `vfs` configures each VF.

use super::config_files;
use crate::host::owners::{Claim, ClaimAction, OwnerKind, Target, When};
use crate::host::root::Root;
use crate::nova::conf::parse_ini;

/// Where NetworkManager reads keyfiles, highest precedence first.
pub const DIRS: &[&str] = &[
    "etc/NetworkManager/system-connections",
    "run/NetworkManager/system-connections",
    "usr/lib/NetworkManager/system-connections",
];

/// Reads every keyfile with an `[sriov]` setting.
pub fn read(root: &Root) -> Vec<Claim> {
    config_files(root, DIRS, &[".nmconnection"])
        .iter()
        .flat_map(|(path, text)| parse(path, text))
        .collect()
}

/// Parses one keyfile (GLib key-file syntax, which the oslo.config INI reader reads
/// the same for these keys).
pub fn parse(path: &str, text: &str) -> Vec<Claim> {
    let Ok(ini) = parse_ini(path, text) else {
        return Vec::new();
    };
    let get = |sec: &str, key: &str| {
        ini.assignments
            .iter()
            .rev()
            .find(|a| a.section == sec && a.key == key)
    };
    let Some(total) = get("sriov", "total-vfs") else {
        return Vec::new();
    };
    let Ok(n) = total.value.trim().parse::<u32>() else {
        return Vec::new();
    };
    let mut target = Vec::new();
    if let Some(i) = get("connection", "interface-name") {
        target.push(Target::Interface(i.value.trim().to_string()));
    }
    if let Some(m) = get("ethernet", "mac-address") {
        target.push(Target::Mac(m.value.trim().to_lowercase()));
    }
    if target.is_empty() {
        return Vec::new();
    }
    let id = get("connection", "id").map(|a| a.value.trim().to_string());
    let autoconnect = get("connection", "autoconnect")
        .map(|a| !matches!(a.value.trim(), "false" | "no" | "0"))
        .unwrap_or(true);
    let mut out = vec![Claim {
        owner: OwnerKind::NetworkManager,
        file: path.to_string(),
        line: total.loc.line,
        name: id.as_ref().map(|i| format!("connection '{i}'")),
        target: target.clone(),
        action: ClaimAction::NumVfs(n),
        when: When::Activation,
        enabled: Some(autoconnect),
    }];
    if let Some(v) = get("sriov", "vfs").filter(|v| !v.value.trim().is_empty()) {
        out.push(Claim {
            owner: OwnerKind::NetworkManager,
            file: path.to_string(),
            line: v.loc.line,
            name: id.map(|i| format!("connection '{i}'")),
            target,
            action: ClaimAction::VfAttributes(format!("vfs={}", v.value.trim())),
            when: When::Activation,
            enabled: Some(autoconnect),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_vfs_with_interface_and_mac() {
        let t = "[connection]\nid=sriov-eno1\ntype=ethernet\ninterface-name=eno1\nautoconnect=true\n\n[ethernet]\nmac-address=A0:36:9F:00:00:01\n\n[sriov]\ntotal-vfs=8\nvfs=0 mac=00:11:22:33:44:55 trust=true\nautoprobe-drivers=false\n";
        let c = parse("etc/NetworkManager/system-connections/eno1.nmconnection", t);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].action, ClaimAction::NumVfs(8));
        assert_eq!(c[0].line, 11);
        assert_eq!(
            c[0].target,
            vec![
                Target::Interface("eno1".into()),
                Target::Mac("a0:36:9f:00:00:01".into())
            ]
        );
        assert_eq!(c[0].enabled, Some(true));
        assert_eq!(c[0].name.as_deref(), Some("connection 'sriov-eno1'"));
        assert!(matches!(&c[1].action, ClaimAction::VfAttributes(v) if v.contains("trust=true")));
        assert!(parse("x", "[connection]\nid=a\ninterface-name=eno1\n").is_empty());
        let off = parse(
            "x",
            "[connection]\nid=a\ninterface-name=eno1\nautoconnect=false\n[sriov]\ntotal-vfs=2\n",
        );
        assert_eq!(off[0].enabled, Some(false));
    }
}
