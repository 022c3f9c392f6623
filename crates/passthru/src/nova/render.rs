//! nova configuration rendered from a device selection: `[pci] device_spec` and
//! `alias` lines, `enabled_filters` with `PciPassthroughFilter`, and the flavor
//! command; plus an in-place nova.conf edit that keeps every other line and
//! comment and changes nothing when run again.
//!
//! Rendered specs are checked with passthru's own nova matcher: on this host they
//! must select exactly the chosen devices.

use super::check::PCI_FILTER;
use super::conf::{self, parse_ini, ConfError, NovaConf, DEFAULT_ENABLED_FILTERS};
use super::matching::{device_assignable, Assignment, NovaDevice, TYPE_PCI, TYPE_PF, TYPE_VF};
use super::py;
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

    let tag = |mut f: Vec<(&str, String)>| {
        if let Some(p) = &req.physnet {
            f.push(("physical_network", p.clone()));
        }
        obj(&f)
    };
    let selected: Vec<String> = devs.iter().map(|d| d.address.to_string()).collect();

    // Preferred form: all current VFs of a PF, by the PF's address (PF mode keeps
    // working when the VF count changes) restricted to the VF product id.
    let mut specs: Vec<String> = Vec::new();
    let mut covered: Vec<String> = Vec::new();
    for pf in host
        .devices
        .iter()
        .filter(|p| p.sriov.as_ref().is_some_and(|s| s.total_vfs > 0))
    {
        let vfs: Vec<String> = pf.virtfns.iter().map(|v| v.to_string()).collect();
        if vfs.is_empty() || !vfs.iter().all(|v| selected.contains(v)) {
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
    let count = req.count.max(1);
    let flavor_value = format!("{}:{}", req.alias, count);
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

/// What `--write` adds to a nova.conf.
#[derive(Clone, Debug, Default)]
pub struct ConfEdit {
    /// device_spec values to have under `[pci]`.
    pub device_spec: Vec<String>,
    /// alias values to have under `[pci]`.
    pub alias: Vec<String>,
    /// Make sure `PciPassthroughFilter` is enabled.
    pub add_filter: bool,
}

/// Equal as nova would read them (JSON compared as values).
fn same_value(a: &str, b: &str) -> bool {
    match (py::loads(a), py::loads(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn section_of(line: &str) -> Option<String> {
    let t = py::text::rstrip(line);
    (t.starts_with('[') && t.ends_with(']') && t.len() > 2).then(|| t[1..t.len() - 1].to_string())
}

/// Applies an edit to nova.conf text, keeping every other line and comment.
/// Running it on its own output changes nothing.
pub fn edit_conf(file: &str, text: &str, edit: &ConfEdit) -> Result<String, ConfError> {
    let ini = parse_ini(file, text)?;
    let current = NovaConf::from_files(std::slice::from_ref(&ini));
    let have_spec: Vec<String> = current
        .device_spec
        .iter()
        .map(|v| v.value.clone())
        .collect();
    let have_alias: Vec<String> = current.alias.iter().map(|v| v.value.clone()).collect();
    let unescape = |s: &String| s.replace("$$", "$");
    let new_spec: Vec<&String> = edit
        .device_spec
        .iter()
        .filter(|s| !have_spec.iter().any(|h| same_value(h, &unescape(s))))
        .collect();
    let new_alias: Vec<&String> = edit
        .alias
        .iter()
        .filter(|s| !have_alias.iter().any(|h| same_value(h, &unescape(s))))
        .collect();

    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let ends_with_nl = text.is_empty() || text.ends_with('\n');

    // Filters: rewrite the last enabled_filters assignment (what nova reads), or add one.
    let mut add_fs_line: Option<String> = None;
    let mut changed = !new_spec.is_empty() || !new_alias.is_empty();
    if edit.add_filter && !current.enabled_filters.iter().any(|f| f == PCI_FILTER) {
        match ini.assignments.iter().rev().find(|a| {
            conf::normalize_group(&a.section) == "filter_scheduler" && a.key == "enabled_filters"
        }) {
            Some(a) => {
                let mut list = conf::parse_list(&a.value);
                list.push(PCI_FILTER.to_string());
                let start = a.loc.line - 1;
                // The assignment spans its continuation lines.
                let mut end = start + 1;
                while end < lines.len()
                    && (lines[end].starts_with(' ') || lines[end].starts_with('\t'))
                    && !py::text::rstrip(&lines[end]).is_empty()
                {
                    end += 1;
                }
                lines.splice(start..end, [format!("{} = {}", a.key, list.join(","))]);
                changed = true;
            }
            None => {
                let mut list: Vec<String> = DEFAULT_ENABLED_FILTERS
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                list.push(PCI_FILTER.to_string());
                add_fs_line = Some(format!("enabled_filters = {}", list.join(",")));
                changed = true;
            }
        }
    }

    let mut pci_lines: Vec<String> = Vec::new();
    pci_lines.extend(new_spec.iter().map(|v| format!("device_spec = {v}")));
    pci_lines.extend(new_alias.iter().map(|v| format!("alias = {v}")));
    insert_into_section(&mut lines, "pci", pci_lines);
    if let Some(l) = add_fs_line {
        insert_into_section(&mut lines, "filter_scheduler", vec![l]);
    }
    if !changed {
        return Ok(text.to_string());
    }
    let mut out = lines.join(nl);
    if ends_with_nl && !out.is_empty() {
        out.push_str(nl);
    }
    Ok(out)
}

/// Inserts lines at the end of the last section named `name` (before its trailing
/// blank lines), or appends the section.
fn insert_into_section(lines: &mut Vec<String>, name: &str, new: Vec<String>) {
    if new.is_empty() {
        return;
    }
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| section_of(l).is_some_and(|s| conf::normalize_group(&s) == name))
        .map(|(i, _)| i)
        .collect();
    match starts.last() {
        Some(&s) => {
            let mut end = lines
                .iter()
                .enumerate()
                .skip(s + 1)
                .find(|(_, l)| section_of(l).is_some())
                .map_or(lines.len(), |(i, _)| i);
            while end > s + 1 && py::text::strip(&lines[end - 1]).is_empty() {
                end -= 1;
            }
            // A value's continuation lines stay attached to it.
            let at = end;
            for (k, l) in new.into_iter().enumerate() {
                lines.insert(at + k, l);
            }
        }
        None => {
            if lines.last().is_some_and(|l| !py::text::strip(l).is_empty()) {
                lines.push(String::new());
            }
            lines.push(format!("[{name}]"));
            lines.extend(new);
        }
    }
}
