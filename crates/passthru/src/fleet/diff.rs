//! `passthru fleet diff`: for each fact that should agree on compute nodes of one
//! kind (CPU vendor and IOMMU state, kernel IOMMU arguments, VF count per PF model,
//! VF driver per VF model, devices on vfio-pci, vfio modules, nova device_spec and
//! alias, the qemu cgroup ACL), group the hosts by value and report the minority
//! with its value and the majority's.
//!
//! Facts about a device model are compared only among hosts that have that model.
//! A fact a host's source did not collect (an lspci-text host's modules) is left
//! out for that host rather than counted as a difference.

use crate::checks::host::reboot_pending::relevant;
use crate::host::model::Host;
use serde::Serialize;
use std::collections::BTreeMap;

/// One fact on which some hosts differ from the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Stable id of the fact (`sriov.num_vfs[8086:1521]`).
    pub fact: String,
    /// What it is, for people.
    pub label: String,
    /// The value most hosts have.
    pub majority: String,
    /// The hosts that have it.
    pub majority_hosts: Vec<String>,
    /// The others, each with its value.
    pub odd: Vec<OddHost>,
}

/// A host whose value differs from the majority's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OddHost {
    /// The host (as named in the run).
    pub host: String,
    /// Its value.
    pub value: String,
}

/// One fact's value on one host (`None`: not known or not applicable there).
type Extract = fn(&Host) -> Vec<(String, String, String)>;

/// Facts that are one value per host: `(id, label, value)`.
fn host_facts(h: &Host) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let s = &h.system;
    if s.collected {
        out.push((
            "cpu.vendor".into(),
            "CPU vendor".into(),
            format!("{:?}", s.cpu.vendor).to_lowercase(),
        ));
    }
    out.push((
        "iommu.state".into(),
        "IOMMU (groups present)".into(),
        if h.iommu_groups.is_empty() {
            "off"
        } else {
            "on"
        }
        .into(),
    ));
    if let Some(c) = &h.kernel_cmdline {
        let mut words: Vec<&str> = c.split_whitespace().filter(|w| relevant(w)).collect();
        words.sort_unstable();
        out.push((
            "kernel.iommu_args".into(),
            "IOMMU/vfio arguments on the running kernel's command line".into(),
            if words.is_empty() {
                "(none)".into()
            } else {
                words.join(" ")
            },
        ));
    }
    if let Some(loaded) = &s.modules.loaded {
        let mut v: Vec<&str> = loaded
            .iter()
            .chain(s.modules.builtin.iter())
            .map(String::as_str)
            .filter(|m| m.starts_with("vfio"))
            .collect();
        v.sort_unstable();
        v.dedup();
        out.push((
            "modules.vfio".into(),
            "vfio modules loaded or built in".into(),
            if v.is_empty() {
                "(none)".into()
            } else {
                v.join(" ")
            },
        ));
    }
    if s.collected {
        // nova.conf as nova reads it (the one parser, nova::conf): merged option
        // names, substitutions; a file nova cannot parse is a value of its own.
        let nova = s
            .nova
            .as_ref()
            .map(|f| crate::nova::conf::NovaConf::from_facts(f).map_err(|e| e.to_string()));
        let join =
            |pick: fn(&crate::nova::conf::NovaConf) -> &Vec<crate::nova::conf::ConfValue>| {
                match &nova {
                    None => "(no nova.conf)".to_string(),
                    Some(Err(e)) => format!("(unreadable: {e})"),
                    Some(Ok(c)) if pick(c).is_empty() => "(none)".to_string(),
                    Some(Ok(c)) => pick(c)
                        .iter()
                        .map(|v| norm_space(&v.value))
                        .collect::<Vec<_>>()
                        .join(" | "),
                }
            };
        out.push((
            "nova.device_spec".into(),
            "nova [pci] device_spec".into(),
            join(|c| &c.device_spec),
        ));
        out.push((
            "nova.alias".into(),
            "nova [pci] alias".into(),
            join(|c| &c.alias),
        ));
        out.push((
            "qemu.cgroup_device_acl".into(),
            "qemu.conf cgroup_device_acl".into(),
            match s.qemu_conf.as_ref() {
                None => "(no qemu.conf)".into(),
                Some(q) => match &q.cgroup_device_acl {
                    None => "(default)".into(),
                    Some(v) => v.join(" "),
                },
            },
        ));
    }
    out
}

fn norm_space(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Facts per device model (compared among hosts that have the model).
fn model_facts(h: &Host) -> Vec<(String, String, String)> {
    let mut vfs: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut vf_drivers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut vfio: BTreeMap<String, usize> = BTreeMap::new();
    for d in &h.devices {
        let model = d.id_pair();
        if let Some(s) = &d.sriov {
            vfs.entry(model.clone()).or_default().push(s.num_vfs);
        }
        if d.physfn.is_some() {
            let drv = d.driver.clone().unwrap_or_else(|| "(none)".into());
            vf_drivers.entry(model.clone()).or_default().push(drv);
        }
        if d.driver.as_deref() == Some("vfio-pci") {
            *vfio.entry(model).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for (m, mut counts) in vfs {
        counts.sort_unstable();
        let v: Vec<String> = counts.iter().map(u32::to_string).collect();
        out.push((
            format!("sriov.num_vfs[{m}]"),
            format!("VFs enabled per {m} PF"),
            v.join(","),
        ));
    }
    for (m, mut drvs) in vf_drivers {
        drvs.sort();
        drvs.dedup();
        out.push((
            format!("sriov.vf_driver[{m}]"),
            format!("driver of the {m} VFs"),
            drvs.join(","),
        ));
    }
    let summary: Vec<String> = vfio.iter().map(|(m, n)| format!("{m} x{n}")).collect();
    out.push((
        "vfio.devices".into(),
        "devices on vfio-pci".into(),
        if summary.is_empty() {
            "(none)".into()
        } else {
            summary.join(", ")
        },
    ));
    out
}

const EXTRACTS: &[Extract] = &[host_facts, model_facts];

/// The odd hosts out across `hosts` (name, facts), fact by fact, in a stable order.
/// Empty when every fact agrees (or fewer than two hosts have it).
pub fn diff(hosts: &[(String, Host)]) -> Vec<Difference> {
    // fact id -> (label, host -> value), hosts in the order given.
    let mut facts: BTreeMap<String, (String, Vec<(String, String)>)> = BTreeMap::new();
    for (name, h) in hosts {
        for ex in EXTRACTS {
            for (id, label, value) in ex(h) {
                facts
                    .entry(id)
                    .or_insert_with(|| (label, Vec::new()))
                    .1
                    .push((name.clone(), value));
            }
        }
    }
    let mut out = Vec::new();
    for (id, (label, values)) in facts {
        if values.len() < 2 {
            continue;
        }
        // Group by value; the largest group is the majority (ties: the value seen first).
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (host, v) in &values {
            match groups.iter_mut().find(|(gv, _)| gv == v) {
                Some((_, hs)) => hs.push(host.clone()),
                None => groups.push((v.clone(), vec![host.clone()])),
            }
        }
        if groups.len() < 2 {
            continue;
        }
        let best = groups
            .iter()
            .enumerate()
            .max_by(|(ia, a), (ib, b)| a.1.len().cmp(&b.1.len()).then(ib.cmp(ia)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let (majority, majority_hosts) = groups.remove(best);
        let odd = values
            .iter()
            .filter(|(h, _)| !majority_hosts.contains(h))
            .map(|(h, v)| OddHost {
                host: h.clone(),
                value: v.clone(),
            })
            .collect();
        out.push(Difference {
            fact: id,
            label,
            majority,
            majority_hosts,
            odd,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::model::Sriov;

    fn host(cmdline: &str, vfs: Option<u32>) -> Host {
        let text = r#"{"devices": []}"#;
        let mut h: Host = serde_json::from_str(text).unwrap();
        h.kernel_cmdline = Some(cmdline.into());
        if let Some(n) = vfs {
            let mut d: crate::host::model::PciDevice = serde_json::from_value(serde_json::json!({
                "address": "0000:06:00.0", "vendor_id": "8086", "device_id": "1521",
                "class": "020000", "driver": "igb", "iommu_group": 1, "numa_node": 0
            }))
            .unwrap();
            let s: Sriov =
                serde_json::from_value(serde_json::json!({"total_vfs": 7, "num_vfs": n})).unwrap();
            d.sriov = Some(s);
            h.devices.push(d);
        }
        h
    }

    #[test]
    fn the_minority_is_named_with_the_majority_value() {
        let on = "ro intel_iommu=on iommu=pt";
        let hosts = vec![
            ("a".to_string(), host(on, Some(4))),
            ("b".to_string(), host(on, Some(4))),
            ("c".to_string(), host("ro iommu=pt", Some(4))),
            ("d".to_string(), host(on, Some(2))),
            ("e".to_string(), host(on, None)),
        ];
        let d = diff(&hosts);
        let args = d.iter().find(|x| x.fact == "kernel.iommu_args").unwrap();
        assert_eq!(args.majority, "intel_iommu=on iommu=pt");
        assert_eq!(args.majority_hosts, ["a", "b", "d", "e"]);
        assert_eq!(
            args.odd,
            [OddHost {
                host: "c".into(),
                value: "iommu=pt".into()
            }]
        );
        let vfs = d
            .iter()
            .find(|x| x.fact == "sriov.num_vfs[8086:1521]")
            .unwrap();
        // e has no such PF: not compared.
        assert_eq!(vfs.majority, "4");
        assert_eq!(
            vfs.odd,
            [OddHost {
                host: "d".into(),
                value: "2".into()
            }]
        );
        assert!(diff(&hosts[..2]).is_empty());
    }
}
