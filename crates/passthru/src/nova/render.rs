//! nova configuration rendered from a device selection: `[pci] device_spec` and
//! `alias` lines, `enabled_filters` with `PciPassthroughFilter`, and the flavor
//! command. [`merge`](super::merge) puts them into an existing nova.conf.
//!
//! Specs are as portable as the host allows: `vendor_id`/`product_id` when those
//! select exactly the chosen devices here, else the PF's interface name (`devname`,
//! as the third seed writes it), else (or with `pin_addresses`) this host's PCI
//! addresses. Rendered specs are checked with passthru's own nova matcher: on this
//! host they must select exactly the chosen devices.

use super::check::PCI_FILTER;
use super::conf::DEFAULT_ENABLED_FILTERS;
use super::matching::{device_assignable, Assignment, NovaDevice, TYPE_PCI, TYPE_PF, TYPE_VF};
use super::spec::{self, SpecContext};
use super::sysfs::SysfsView;
use crate::host::{Host, PciDevice};
use serde::Serialize;

/// What to render.
#[derive(Clone, Debug, Default)]
pub struct RenderRequest {
    /// The devices (already resolved).
    pub devices: Vec<crate::pci::PciAddress>,
    /// Alias name.
    pub alias: String,
    /// `physical_network` tag for the specs (SR-IOV ports through neutron).
    pub physnet: Option<String>,
    /// `device_type` for the alias (default: from the devices).
    pub device_type: Option<String>,
    /// `numa_policy` for the alias.
    pub numa_policy: Option<String>,
    /// Devices per server, for the flavor command.
    pub count: u32,
    /// Flavor name for the command.
    pub flavor: String,
    /// The filters enabled now (from nova.conf), when known.
    pub enabled_filters: Option<Vec<String>>,
    /// Select by this host's PCI addresses (PF address for all its VFs, else each
    /// device's), not by ids or interface names.
    pub pin_addresses: bool,
    /// Allow exposing an SR-IOV PF whose VFs are enabled (as type-PF).
    pub allow_pf: bool,
    /// `[pci] report_in_placement` is on (nova then refuses `devname`).
    pub report_in_placement: bool,
}

/// The rendered configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rendered {
    /// `[pci] device_spec` values.
    pub device_spec: Vec<String>,
    /// `[pci] alias` values.
    pub alias: Vec<String>,
    /// `[filter_scheduler] enabled_filters`.
    pub enabled_filters: Vec<String>,
    /// The flavor command.
    pub flavor_command: String,
    /// The flavor extra-spec value.
    pub flavor_value: String,
    /// Devices the specs select on this host (equal to the selection).
    pub selects: Vec<String>,
}

/// Why rendering failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// Nothing selected.
    #[error("no devices selected")]
    Empty,
    /// A device is not on the host.
    #[error("device {0} is not on this host")]
    Unknown(String),
    /// Mixed device types under one alias.
    #[error("the selection mixes device types ({0}); nova requires one device_type per alias name: select fewer devices or pass --device-type")]
    MixedTypes(String),
    /// A bad option value.
    #[error("{0}")]
    Invalid(String),
    /// A PF with VFs enabled, which would be exposed whole (type-PF).
    #[error("{device}: {reason}; fix: {fix}, or pass --allow-pf to expose the PF whole (type-PF) anyway")]
    PfWithVfs {
        /// The PF.
        device: String,
        /// Why (the words `render libvirt` refuses it with).
        reason: String,
        /// What to do.
        fix: String,
    },
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn obj(fields: &[(&str, String)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {}", json_str(k), json_str(v)))
        .collect();
    // oslo.config substitutes `$`; `$$` is a literal dollar.
    format!("{{{}}}", parts.join(", ")).replace('$', "$$")
}

fn dev_type(host: &Host, d: &PciDevice) -> String {
    NovaDevice::from_host(host, d).dev_type
}

/// Renders the configuration for a selection on a host.
pub fn render(host: &Host, req: &RenderRequest) -> Result<Rendered, RenderError> {
    if req.devices.is_empty() {
        return Err(RenderError::Empty);
    }
    let mut devs: Vec<&PciDevice> = Vec::new();
    for a in &req.devices {
        let d = host
            .device(a)
            .ok_or_else(|| RenderError::Unknown(a.to_string()))?;
        if !devs.iter().any(|x| x.address == d.address) {
            devs.push(d);
        }
    }
    devs.sort_by_key(|d| d.address);
    if req.count == 0 {
        return Err(RenderError::Invalid(
            "--count 0 asks for no device: give 1 or more devices per server".into(),
        ));
    }
    if let Some(t) = &req.device_type {
        if ![TYPE_PCI, TYPE_PF, TYPE_VF].contains(&t.as_str()) {
            return Err(RenderError::Invalid(format!(
                "--device-type must be type-PCI, type-PF or type-VF (nova rejects '{t}' in an alias)"
            )));
        }
    }
    if let Some(p) = &req.numa_policy {
        if !super::alias::NUMA_POLICIES.contains(&p.as_str()) {
            return Err(RenderError::Invalid(format!(
                "--numa-policy must be one of required, legacy, preferred, socket (not '{p}')"
            )));
        }
    }
    if req.alias.is_empty() || req.alias.contains(':') || req.alias.contains(',') {
        return Err(RenderError::Invalid(format!(
            "alias name '{}' cannot be used in pci_passthrough:alias (it must be non-empty and have no ':' or ',')",
            req.alias
        )));
    }
    let types: Vec<String> = {
        let mut t: Vec<String> = devs.iter().map(|d| dev_type(host, d)).collect();
        t.sort();
        t.dedup();
        t
    };
    if types.len() > 1 && req.device_type.is_none() {
        return Err(RenderError::MixedTypes(types.join(", ")));
    }
    if !req.allow_pf {
        // The rule render libvirt refuses such a PF with.
        for d in &devs {
            if let Some((reason, fix)) = crate::libvirt::hostdev::pf_with_vfs(d) {
                return Err(RenderError::PfWithVfs {
                    device: d.address.to_string(),
                    reason,
                    fix,
                });
            }
        }
    }

    let tag = |mut f: Vec<(&str, String)>| {
        if let Some(p) = &req.physnet {
            f.push(("physical_network", p.clone()));
        }
        obj(&f)
    };
    let selected: Vec<String> = devs.iter().map(|d| d.address.to_string()).collect();

    let mut specs: Vec<String> = Vec::new();
    let mut covered: Vec<String> = Vec::new();
    if !req.pin_addresses {
        portable_specs(host, req, &devs, &tag, &mut specs, &mut covered)?;
    }
    // All current VFs of a PF, by the PF's address (PF mode keeps working when the
    // VF count changes) restricted to the VF product id.
    for pf in host
        .devices
        .iter()
        .filter(|p| p.sriov.as_ref().is_some_and(|s| s.total_vfs > 0))
    {
        let vfs: Vec<String> = pf.virtfns.iter().map(|v| v.to_string()).collect();
        if vfs.is_empty()
            || !vfs
                .iter()
                .all(|v| selected.contains(v) && !covered.contains(v))
        {
            continue;
        }
        let ids: Vec<String> = pf
            .virtfns
            .iter()
            .filter_map(|v| host.device(v))
            .map(|v| v.id_pair())
            .collect();
        let Some(first) = ids.first() else { continue };
        if ids.iter().any(|i| i != first) {
            continue;
        }
        let Some((vendor, product)) = first.split_once(':') else {
            continue;
        };
        specs.push(tag(vec![
            ("vendor_id", vendor.to_string()),
            ("product_id", product.to_string()),
            ("address", pf.address.to_string()),
        ]));
        covered.extend(vfs);
    }
    for d in &devs {
        let a = d.address.to_string();
        if covered.contains(&a) {
            continue;
        }
        specs.push(tag(vec![
            ("vendor_id", d.vendor_id.to_string()),
            ("product_id", d.device_id.to_string()),
            ("address", a),
        ]));
    }

    // Self-check: the specs select exactly the selection on this host.
    let selects = selection_of(host, &specs)?;
    if selects != selected {
        // Fall back to one spec per device, which cannot over-select.
        specs = devs
            .iter()
            .map(|d| {
                tag(vec![
                    ("vendor_id", d.vendor_id.to_string()),
                    ("product_id", d.device_id.to_string()),
                    ("address", d.address.to_string()),
                ])
            })
            .collect();
    }
    let selects = selection_of(host, &specs)?;

    let dtype = req.device_type.clone().unwrap_or_else(|| types[0].clone());
    let mut id_pairs: Vec<String> = devs.iter().map(|d| d.id_pair()).collect();
    id_pairs.sort();
    id_pairs.dedup();
    let alias: Vec<String> = id_pairs
        .iter()
        .filter_map(|p| p.split_once(':'))
        .map(|(v, p)| {
            let mut f = vec![
                ("name", req.alias.clone()),
                ("vendor_id", v.to_string()),
                ("product_id", p.to_string()),
                ("device_type", dtype.clone()),
            ];
            if let Some(n) = &req.numa_policy {
                f.push(("numa_policy", n.clone()));
            }
            obj(&f)
        })
        .collect();
    // nova must accept what we render.
    super::alias::parse_aliases(&alias, false).map_err(|e| {
        RenderError::Invalid(format!("rendered alias rejected: {}", e.error.message))
    })?;

    let mut filters = req.enabled_filters.clone().unwrap_or_else(|| {
        DEFAULT_ENABLED_FILTERS
            .iter()
            .map(|s| s.to_string())
            .collect()
    });
    if !filters.iter().any(|f| f == PCI_FILTER) {
        filters.push(PCI_FILTER.to_string());
    }
    let flavor_value = format!("{}:{}", req.alias, req.count);
    let flavor_command = format!(
        "openstack flavor set {} --property pci_passthrough:alias={}",
        shell_quote(&req.flavor),
        shell_quote(&flavor_value)
    );
    Ok(Rendered {
        device_spec: specs,
        alias,
        enabled_filters: filters,
        flavor_command,
        flavor_value,
        selects,
    })
}

/// Builds a spec value from its fields (adding the request's tags).
type Tagger<'a> = dyn Fn(Vec<(&str, String)>) -> String + 'a;

/// The portable specs: per vendor:product pair, the ids alone when they select
/// exactly the chosen devices with those ids; else, for VFs, the PF's interface name
/// with the ids when that selects exactly the chosen VFs of that PF.
fn portable_specs(
    host: &Host,
    req: &RenderRequest,
    devs: &[&PciDevice],
    tag: &Tagger<'_>,
    specs: &mut Vec<String>,
    covered: &mut Vec<String>,
) -> Result<(), RenderError> {
    let mut pairs: Vec<(String, String)> = devs
        .iter()
        .map(|d| (d.vendor_id.to_string(), d.device_id.to_string()))
        .collect();
    pairs.sort();
    pairs.dedup();
    for (vendor, product) in pairs {
        let group: Vec<String> = devs
            .iter()
            .filter(|d| d.vendor_id.to_string() == vendor && d.device_id.to_string() == product)
            .map(|d| d.address.to_string())
            .collect();
        let ids = tag(vec![
            ("vendor_id", vendor.clone()),
            ("product_id", product.clone()),
        ]);
        if same_set(&selection_of(host, std::slice::from_ref(&ids))?, &group) {
            specs.push(ids);
            covered.extend(group);
            continue;
        }
        if req.report_in_placement {
            continue;
        }
        // VFs of one PF, all of them with these ids: the PF's interface name.
        let mut pfs: Vec<&PciDevice> = group
            .iter()
            .filter_map(|a| devs.iter().find(|d| d.address.to_string() == *a))
            .filter_map(|d| d.physfn.and_then(|p| host.device(&p)))
            .collect();
        pfs.sort_by_key(|p| p.address);
        pfs.dedup_by_key(|p| p.address);
        for pf in pfs {
            let Some(netdev) = pf.netdevs.first() else {
                continue;
            };
            let want: Vec<String> = pf
                .virtfns
                .iter()
                .filter_map(|v| host.device(v))
                .filter(|v| v.vendor_id.to_string() == vendor && v.device_id.to_string() == product)
                .map(|v| v.address.to_string())
                .collect();
            if want.is_empty() || !want.iter().all(|a| group.contains(a)) {
                continue;
            }
            let by_name = tag(vec![
                ("devname", netdev.clone()),
                ("vendor_id", vendor.clone()),
                ("product_id", product.clone()),
            ]);
            if same_set(&selection_of(host, std::slice::from_ref(&by_name))?, &want) {
                specs.push(by_name);
                covered.extend(want);
            }
        }
    }
    Ok(())
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:,/=@%+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The devices a set of rendered spec values selects on a host.
fn selection_of(host: &Host, specs: &[String]) -> Result<Vec<String>, RenderError> {
    let sysfs = SysfsView::from_host(host);
    let ctx = SpecContext {
        sysfs: &sysfs,
        report_in_placement: false,
    };
    let mut flat = Vec::new();
    for s in specs {
        // Rendered values go through oslo.config's `$$` unescaping first.
        let v = s.replace("$$", "$");
        flat.extend(
            spec::parse_value(&v, ctx).map_err(|e| {
                RenderError::Invalid(format!("rendered spec rejected: {}", e.message))
            })?,
        );
    }
    let refs: Vec<&spec::DeviceSpec> = flat.iter().collect();
    Ok(host
        .devices
        .iter()
        .filter(|d| {
            matches!(
                device_assignable(&refs, &NovaDevice::from_host(host, d)),
                Assignment::Spec(_)
            )
        })
        .map(|d| d.address.to_string())
        .collect())
}

/// The nova.conf lines, for printing.
pub fn conf_snippet(r: &Rendered) -> String {
    let mut s = String::from("[pci]\n");
    for v in &r.device_spec {
        s.push_str(&format!("device_spec = {v}\n"));
    }
    for v in &r.alias {
        s.push_str(&format!("alias = {v}\n"));
    }
    s.push_str(&format!(
        "\n[filter_scheduler]\nenabled_filters = {}\n",
        r.enabled_filters.join(",")
    ));
    s
}
