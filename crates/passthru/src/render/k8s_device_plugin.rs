//! The Kubernetes SR-IOV network device plugin's `resourceList` (its
//! `/etc/pcidp/config.json`, delivered as the `sriovdp-config` ConfigMap): one
//! resource whose selectors (`vendors`, `devices`, `drivers`, `pfNames` with `#` VF
//! ranges, `rootDevices`) pick exactly the given VFs. The plugin ANDs selectors, so
//! each is the union over the devices (anchors §1.4).

use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Why the renderer refused.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// Not a VF.
    #[error(
        "{0} is not an SR-IOV VF: the device plugin's pfNames and rootDevices select VFs of a PF"
    )]
    NotVf(PciAddress),
    /// Bad resource name.
    #[error("resource name '{0}' must be letters, digits and '_' only (the device plugin refuses others)")]
    BadName(String),
    /// Nothing given.
    #[error("no device given")]
    NoDevices,
}

/// The rendered ConfigMap.
#[derive(Clone, Debug, Serialize)]
pub struct DevicePluginConfig {
    /// The plugin's config (`{"resourceList": [...]}`).
    pub config: Value,
    /// The ConfigMap holding it as `config.json`.
    pub configmap: Value,
}

/// `0-3,5` for sorted indexes.
pub fn ranges(idx: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < idx.len() {
        let start = idx[i];
        let mut end = start;
        while i + 1 < idx.len() && idx[i + 1] == end + 1 {
            i += 1;
            end = idx[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// Renders one resource for VFs.
pub fn render(
    host: &Host,
    vfs: &[&PciDevice],
    resource_name: &str,
    resource_prefix: Option<&str>,
) -> Result<DevicePluginConfig, K8sError> {
    if vfs.is_empty() {
        return Err(K8sError::NoDevices);
    }
    if resource_name.is_empty()
        || !resource_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(K8sError::BadName(resource_name.to_string()));
    }
    let mut by_pf: BTreeMap<PciAddress, Vec<u32>> = BTreeMap::new();
    for v in vfs {
        let pf = v.physfn.ok_or(K8sError::NotVf(v.address))?;
        let i = v
            .vf_index
            .or_else(|| {
                host.device(&pf)
                    .and_then(|p| p.virtfns.iter().position(|a| *a == v.address))
                    .map(|i| i as u32)
            })
            .ok_or(K8sError::NotVf(v.address))?;
        by_pf.entry(pf).or_default().push(i);
    }
    let uniq = |it: Vec<String>| {
        let mut v = it;
        v.sort();
        v.dedup();
        v
    };
    let vendors = uniq(vfs.iter().map(|d| d.vendor_id.to_string()).collect());
    let devices = uniq(vfs.iter().map(|d| d.device_id.to_string()).collect());
    let drivers = uniq(vfs.iter().filter_map(|d| d.driver.clone()).collect());
    let mut pf_names = Vec::new();
    let mut root_devices = Vec::new();
    for (pf, idx) in &mut by_pf {
        idx.sort();
        idx.dedup();
        let r = ranges(idx);
        // pfNames when the PF has an interface; rootDevices always (a PF on vfio-pci or
        // renamed keeps its address).
        if let Some(n) = host.device(pf).and_then(|p| p.netdevs.first()) {
            pf_names.push(format!("{n}#{r}"));
        }
        root_devices.push(format!("{pf}#{r}"));
    }
    let mut selectors = serde_json::Map::new();
    selectors.insert("vendors".into(), json!(vendors));
    selectors.insert("devices".into(), json!(devices));
    // Only when every VF has a driver: the selector would drop the others.
    if vfs.iter().all(|d| d.driver.is_some()) {
        selectors.insert("drivers".into(), json!(drivers));
    }
    if pf_names.len() == by_pf.len() {
        selectors.insert("pfNames".into(), json!(pf_names));
    } else {
        selectors.insert("rootDevices".into(), json!(root_devices));
    }
    let mut resource = serde_json::Map::new();
    resource.insert("resourceName".into(), json!(resource_name));
    if let Some(p) = resource_prefix {
        resource.insert("resourcePrefix".into(), json!(p));
    }
    resource.insert("deviceType".into(), json!("netDevice"));
    resource.insert("selectors".into(), Value::Object(selectors));
    let config = json!({ "resourceList": [Value::Object(resource)] });
    let text = serde_json::to_string_pretty(&config).unwrap_or_default();
    let configmap = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": "sriovdp-config", "namespace": "kube-system" },
        "data": { "config.json": text }
    });
    Ok(DevicePluginConfig { config, configmap })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vf_ranges() {
        assert_eq!(ranges(&[0, 1, 2, 3, 5, 7, 8]), "0-3,5,7-8");
        assert_eq!(ranges(&[4]), "4");
    }
}
