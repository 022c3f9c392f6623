//! The `nova check` report: which devices nova will expose on a host and why,
//! the pools it will report, what each alias can take, whether flavors fit, and
//! every configuration problem with nova's own message.

use super::alias::{self, Aliases};
use super::conf::{ConfError, ConfNote, Loc, NovaConf, REMOVED_FILTERS};
use super::error::NovaError;
use super::flavor::{self, FlavorVerdict};
use super::matching::{device_assignable, Assignment, NovaDevice, TYPE_PF, TYPE_VF};
use super::pools::{build_pools, fit_requests, spec_matches_pool, Pool, RequestFit};
use super::py::PyValue;
use super::spec::{self, DeviceSpec, SpecContext, SpecValue};
use super::sysfs::SysfsView;
use super::tags;
use crate::host::Host;
use serde::Serialize;

/// The filter nova's scheduler needs for PCI requests.
pub const PCI_FILTER: &str = "PciPassthroughFilter";

/// How bad a problem is (maps to exit codes 1 and 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; changes nothing.
    Info,
    /// Likely not what was meant.
    Warning,
    /// nova will fail or refuse.
    Error,
}

/// A configuration problem.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// Stable id.
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// What is wrong and what it causes.
    pub message: String,
    /// Where, when it comes from one line.
    pub loc: Option<Loc>,
}

/// A rejected option value, with nova's message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OptionError {
    /// `device_spec`, `alias`, or the oslo.config option that failed.
    pub option: String,
    /// Index of the value in nova's merged order (`None` for whole-option checks).
    pub index: Option<usize>,
    /// nova's (or oslo.config's) message.
    pub message: String,
    /// The Python exception class.
    pub exception: String,
    /// Whether nova reports this one (the first); nova stops there.
    pub first: bool,
    /// Where the value is written.
    pub loc: Option<Loc>,
}

/// One device and nova's decision on it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceVerdict {
    /// `dddd:bb:ss.f`.
    pub address: String,
    /// `vendor:product`.
    pub ids: String,
    /// `type-PCI`, `type-PF`, `type-VF`.
    pub dev_type: String,
    /// The PF, for VFs.
    pub parent_addr: Option<String>,
    /// NUMA node.
    pub numa_node: Option<u32>,
    /// Driver bound now.
    pub driver: Option<String>,
    /// Whether nova exposes it (false when nova-compute cannot start).
    pub exposed: bool,
    /// The first matching spec, counted in nova's flattened order.
    pub spec_index: Option<usize>,
    /// The device_spec value that spec came from.
    pub value_index: Option<usize>,
    /// The spec's tags (as nova stores them).
    #[serde(serialize_with = "tags_as_map")]
    pub tags: Vec<(String, PyValue)>,
    /// Why (not), in words.
    pub reason: String,
}

fn tags_as_map<S: serde::Serializer>(k: &[(String, PyValue)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(k.len()))?;
    for (key, v) in k {
        m.serialize_entry(key, v)?;
    }
    m.end()
}

/// A spec in nova's flattened order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpecSummary {
    /// Index in nova's flattened order.
    pub spec_index: usize,
    /// The option value it came from.
    pub value_index: usize,
    /// The spec as written.
    pub spec: PyValue,
    /// `glob`, `regex`, `physical`, or `devname` (unresolved).
    pub address_kind: String,
    /// The address fields as nova normalised them.
    pub address: Option<String>,
    /// PF mode (selects the PF and its VFs).
    pub pf_mode: bool,
    /// Devices it takes (first match wins).
    pub devices: Vec<String>,
}

/// An alias and what it can take here.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AliasSummary {
    /// Name.
    pub name: String,
    /// NUMA policy.
    pub numa_policy: String,
    /// Its specs (alternatives).
    pub specs: Vec<Vec<(String, String)>>,
    /// Pools any spec matches (PF pools only when a spec asks for type-PF).
    pub pools: Vec<usize>,
    /// Devices in those pools.
    pub devices: usize,
}

/// A flavor's verdicts and fit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlavorSummary {
    /// The extra-spec value.
    pub value: String,
    /// The API validator's message, `None` when it accepts.
    pub api_error: Option<String>,
    /// The boot-time error, `None` when requests build.
    pub boot_error: Option<NovaError>,
    /// Whether the two layers disagree.
    pub disagree: bool,
    /// Each request's fit on this host.
    pub requests: Vec<RequestFit>,
    /// Whether a server with this flavor can be scheduled here.
    pub fits: bool,
    /// Why (not), in words.
    pub reason: String,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// nova-compute starts with this configuration (device_spec and alias parse).
    pub compute_starts: bool,
    /// The device_spec values nova reads, in merged order.
    pub device_spec: Vec<super::conf::ConfValue>,
    /// The alias values nova reads, in merged order.
    pub alias: Vec<super::conf::ConfValue>,
    /// Flattened specs.
    pub specs: Vec<SpecSummary>,
    /// Every device.
    pub devices: Vec<DeviceVerdict>,
    /// Pools nova reports.
    pub pools: Vec<Pool>,
    /// Aliases.
    pub aliases: Vec<AliasSummary>,
    /// Flavors asked about.
    pub flavors: Vec<FlavorSummary>,
    /// `[pci] report_in_placement`.
    pub report_in_placement: bool,
    /// `[filter_scheduler] pci_in_placement`.
    pub pci_in_placement: bool,
    /// `[filter_scheduler] enabled_filters` as nova reads it.
    pub enabled_filters: Vec<String>,
    /// Rejected values with nova's messages.
    pub errors: Vec<OptionError>,
    /// Configuration problems.
    pub problems: Vec<Problem>,
    /// Notes about how nova reads the file.
    pub notes: Vec<ConfNote>,
}

impl Report {
    /// The worst severity found.
    pub fn worst(&self) -> Option<Severity> {
        let p = self.problems.iter().map(|p| p.severity).max();
        if self.errors.is_empty() {
            p
        } else {
            Some(Severity::Error)
        }
    }
}

/// A nova service a configuration can keep from starting (or working).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// `nova-compute` (device_spec, alias, Placement reporting).
    NovaCompute,
    /// `nova-api` (alias, pci_in_placement).
    NovaApi,
    /// `nova-scheduler` (enabled_filters, available_filters, pci_in_placement).
    NovaScheduler,
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Service::NovaCompute => "nova-compute",
            Service::NovaApi => "nova-api",
            Service::NovaScheduler => "nova-scheduler",
        })
    }
}

/// A finding that stops a nova service: what [`Report::fatal`] returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fatal {
    /// The services it stops.
    pub services: Vec<Service>,
    /// The problem id, or `option.<name>` for a rejected option value.
    pub id: String,
    /// nova's (or passthru's) message.
    pub message: String,
    /// Where, when one line.
    pub loc: Option<Loc>,
}

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who: Vec<String> = self.services.iter().map(|s| s.to_string()).collect();
        if let Some(l) = &self.loc {
            write!(f, "{l}: ")?;
        }
        write!(f, "{} does not start: {}", who.join(" and "), self.message)
    }
}

/// The services a rejected option stops (oslo.config's option name, or `device_spec`
/// / `alias` for values nova rejects).
fn services_of_option(option: &str) -> Vec<Service> {
    let o = option.rsplit(' ').next().unwrap_or(option);
    match super::conf::deprecated_name_of("pci", o)
        .map(|(_, n)| n)
        .or_else(|| super::conf::deprecated_name_of("DEFAULT", o).map(|(_, n)| n))
        .unwrap_or(o)
    {
        "alias" => vec![Service::NovaCompute, Service::NovaApi],
        "pci_in_placement" => vec![Service::NovaApi, Service::NovaScheduler],
        "enabled_filters" | "available_filters" => vec![Service::NovaScheduler],
        _ => vec![Service::NovaCompute],
    }
}

/// Problems that stop a service, with the services (`compute.does_not_start` and
/// `alias.invalid` summarise rejected values, which are reported one by one).
const FATAL_PROBLEMS: &[(&str, &[Service])] = &[
    ("placement.devname", &[Service::NovaCompute]),
    ("placement.one_time_use_vf", &[Service::NovaCompute]),
    ("spec.pf_and_vf", &[Service::NovaCompute]),
    ("device.match_crash", &[Service::NovaCompute]),
    ("filter.not_available", &[Service::NovaScheduler]),
    ("filter.removed", &[Service::NovaScheduler]),
];

impl Report {
    /// Every finding that stops nova-compute, nova-api or nova-scheduler. The one
    /// decision `nova check` (exit 2), `doctor`, `why` and `render nova --write`
    /// (which refuses to write such a file) share.
    pub fn fatal(&self) -> Vec<Fatal> {
        let mut out: Vec<Fatal> = self
            .errors
            .iter()
            .map(|e| Fatal {
                services: services_of_option(&e.option),
                id: format!(
                    "option.{}",
                    e.option.rsplit(' ').next().unwrap_or(&e.option)
                ),
                message: format!("{}: {}", e.exception, e.message),
                loc: e.loc.clone(),
            })
            .collect();
        for p in &self.problems {
            if p.severity != Severity::Error {
                continue;
            }
            if let Some((_, services)) = FATAL_PROBLEMS.iter().find(|(id, _)| *id == p.id) {
                out.push(Fatal {
                    services: services.to_vec(),
                    id: p.id.clone(),
                    message: p.message.clone(),
                    loc: p.loc.clone(),
                });
            }
        }
        out
    }
}

/// What the report is built from.
#[derive(Clone, Debug)]
pub struct CheckInput<'a> {
    /// Host facts.
    pub host: &'a Host,
    /// The options (from nova.conf or the command line).
    pub conf: &'a NovaConf,
    /// `pci_passthrough:alias` values to judge.
    pub flavors: &'a [String],
}

fn problem(id: &str, severity: Severity, message: String, loc: Option<Loc>) -> Problem {
    Problem {
        id: id.into(),
        severity,
        message,
        loc,
    }
}

/// Builds the report.
pub fn check(input: &CheckInput) -> Report {
    let host = input.host;
    let conf = input.conf;
    let sysfs = SysfsView::from_host(host);
    let ctx = SpecContext {
        sysfs: &sysfs,
        report_in_placement: conf.report_in_placement,
    };
    let spec_texts: Vec<String> = conf.device_spec.iter().map(|v| v.value.clone()).collect();
    let values: Vec<SpecValue> = spec::parse_values(&spec_texts, ctx);
    let mut errors = Vec::new();
    let mut problems = Vec::new();
    let first_spec_err = spec::first_error(&values).map(|(i, _)| i);
    let mut conf_blocks = false;
    for e in &conf.errors {
        let opt = e.option.clone().unwrap_or_default();
        if opt.contains("device_spec")
            || opt.contains("whitelist")
            || opt.contains("alias")
            || opt.contains("report_in_placement")
        {
            conf_blocks = true;
        }
        errors.push(conf_error(e));
    }
    for (i, v) in values.iter().enumerate() {
        if let Err(e) = &v.result {
            errors.push(OptionError {
                option: "device_spec".into(),
                index: Some(i),
                message: e.message.clone(),
                exception: e.exception.clone(),
                first: Some(i) == first_spec_err,
                loc: conf.device_spec.get(i).map(|c| c.loc.clone()),
            });
        }
    }

    // Flattened specs with their value index.
    let mut flat: Vec<(usize, &DeviceSpec)> = Vec::new();
    for (vi, v) in values.iter().enumerate() {
        if let Ok(specs) = &v.result {
            for s in specs {
                flat.push((vi, s));
            }
        }
    }
    let spec_refs: Vec<&DeviceSpec> = flat.iter().map(|(_, s)| *s).collect();

    // Aliases.
    let alias_texts: Vec<String> = conf.alias.iter().map(|v| v.value.clone()).collect();
    let aliases = alias::parse_aliases(&alias_texts, conf.pci_in_placement);
    match &aliases {
        Ok(_) => {}
        Err(ae) => {
            // Report every bad line, marking the one nova stops at.
            let each = alias::check_each(&alias_texts);
            let mut seen_first = false;
            for (i, e) in &each {
                let first = ae.index == Some(*i);
                seen_first |= first;
                errors.push(OptionError {
                    option: "alias".into(),
                    index: Some(*i),
                    message: e.message.clone(),
                    exception: e.exception.clone(),
                    first,
                    loc: conf.alias.get(*i).map(|c| c.loc.clone()),
                });
            }
            if !seen_first {
                errors.push(OptionError {
                    option: "alias".into(),
                    index: ae.index,
                    message: ae.error.message.clone(),
                    exception: ae.error.exception.clone(),
                    first: true,
                    loc: ae
                        .index
                        .and_then(|i| conf.alias.get(i))
                        .map(|c| c.loc.clone()),
                });
            }
        }
    }
    let compute_starts = first_spec_err.is_none() && aliases.is_ok() && !conf_blocks;

    // Devices.
    let nova_devs = NovaDevice::all_from_host(host);
    let mut devices = Vec::new();
    let mut exposed_pairs: Vec<(&NovaDevice, &DeviceSpec)> = Vec::new();
    let mut taken: Vec<Vec<String>> = vec![Vec::new(); flat.len()];
    for (d, nd) in host.devices.iter().zip(&nova_devs) {
        let a = device_assignable(&spec_refs, nd);
        let (exposed, spec_index, tags_, reason) = match &a {
            Assignment::Spec(i) => {
                taken[*i].push(d.address.to_string());
                exposed_pairs.push((nd, flat[*i].1));
                let why = if compute_starts {
                    format!("matches device_spec #{i}")
                } else {
                    format!("would match device_spec #{i}, but nova-compute does not start with this configuration")
                };
                (compute_starts, Some(*i), flat[*i].1.tags.clone(), why)
            }
            Assignment::None => (
                false,
                None,
                Vec::new(),
                "no device_spec matches".to_string(),
            ),
            Assignment::Error(e) if e.exception == "PciConfigInvalidSpec" => {
                let m = e.message.replace("Invalid [pci]device_spec config:", "The");
                problems.push(problem(
                    "device.skipped",
                    Severity::Warning,
                    format!("nova skips {}: {m}", d.address),
                    None,
                ));
                (false, None, Vec::new(), format!("nova skips it: {m}"))
            }
            Assignment::Error(e) => {
                problems.push(problem(
                    "device.match_crash",
                    Severity::Error,
                    format!(
                        "matching {} raises {}: {} (the PCI tracker's periodic update fails)",
                        d.address, e.exception, e.message
                    ),
                    None,
                ));
                (
                    false,
                    None,
                    Vec::new(),
                    format!("matching raises {}", e.exception),
                )
            }
        };
        devices.push(DeviceVerdict {
            address: d.address.to_string(),
            ids: d.id_pair(),
            dev_type: nd.dev_type.clone(),
            parent_addr: nd.parent_addr.clone(),
            numa_node: d.numa_node,
            driver: d.driver.clone(),
            exposed,
            spec_index,
            value_index: spec_index.map(|i| flat[i].0),
            tags: tags_,
            reason,
        });
    }

    let pools = if compute_starts {
        build_pools(exposed_pairs.iter().copied())
    } else {
        Vec::new()
    };
    // Pools as they would be if nova started: used to explain aliases anyway.
    let would_pools = build_pools(exposed_pairs.iter().copied());

    let specs: Vec<SpecSummary> = flat
        .iter()
        .enumerate()
        .map(|(i, (vi, s))| SpecSummary {
            spec_index: i,
            value_index: *vi,
            spec: s.raw.clone(),
            address_kind: s
                .address
                .as_ref()
                .map_or("devname".to_string(), |a| a.spec.kind().to_string()),
            address: s.address.as_ref().map(|a| a.spec.fields().to_string()),
            pf_mode: s.address.as_ref().is_some_and(|a| a.is_physical_function),
            devices: taken[i].clone(),
        })
        .collect();

    spec_problems(&flat, &taken, host, conf, &mut problems);
    device_problems(&exposed_pairs, conf, &mut problems);
    filter_problems(conf, &mut problems);
    unmanaged_problems(host, &devices, &mut problems);

    let alias_summaries: Vec<AliasSummary> = match &aliases {
        Ok(a) => a
            .aliases
            .iter()
            .map(|al| {
                let asks_pf = al.specs.iter().any(|s| s.get("dev_type") == Some(TYPE_PF));
                let idx: Vec<usize> = would_pools
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| al.specs.iter().any(|s| spec_matches_pool(&s.fields, p)))
                    .filter(|(_, p)| {
                        asks_pf || p.get("dev_type") != Some(&PyValue::Str(TYPE_PF.into()))
                    })
                    .map(|(i, _)| i)
                    .collect();
                let n = idx.iter().map(|i| would_pools[*i].count()).sum();
                if n == 0 {
                    problems.push(problem(
                        "alias.unsatisfiable",
                        Severity::Warning,
                        format!(
                            "alias {} ({}) matches no device nova exposes on this host{}",
                            al.name,
                            describe_alias(al),
                            near_miss(al, &would_pools, host)
                        ),
                        al.specs
                            .first()
                            .and_then(|s| conf.alias.get(s.value_index))
                            .map(|c| c.loc.clone()),
                    ));
                }
                AliasSummary {
                    name: al.name.clone(),
                    numa_policy: al.numa_policy.clone(),
                    specs: al.specs.iter().map(|s| s.fields.clone()).collect(),
                    pools: idx,
                    devices: n,
                }
            })
            .collect(),
        Err(_) => Vec::new(),
    };

    let flavors: Vec<FlavorSummary> = input
        .flavors
        .iter()
        .map(|f| flavor_summary(f, &aliases, &pools, compute_starts, &mut problems))
        .collect();

    for n in &conf.notes {
        let sev = match n.id.as_str() {
            "conf.scheduler_default_filters_ignored"
            | "conf.section_default_case"
            | "conf.section_spaces"
            | "conf.unknown_option"
            | "conf.inline_comment" => Severity::Warning,
            _ => Severity::Info,
        };
        problems.push(problem(&n.id, sev, n.message.clone(), Some(n.loc.clone())));
    }
    if first_spec_err.is_some() {
        problems.push(problem(
            "compute.does_not_start",
            Severity::Error,
            "nova-compute does not start: [pci] device_spec is invalid (nova reports the first bad value, marked first in errors)".into(),
            None,
        ));
    }
    if aliases.is_err() {
        problems.push(problem(
            "alias.invalid",
            Severity::Error,
            "[pci] alias is invalid: nova-api and nova-compute refuse to start, and every flavor with pci_passthrough:alias fails".into(),
            None,
        ));
    }

    Report {
        compute_starts,
        device_spec: conf.device_spec.clone(),
        alias: conf.alias.clone(),
        specs,
        devices,
        pools,
        aliases: alias_summaries,
        flavors,
        report_in_placement: conf.report_in_placement,
        pci_in_placement: conf.pci_in_placement,
        enabled_filters: conf.enabled_filters.clone(),
        errors,
        problems,
        notes: conf.notes.clone(),
    }
}

fn conf_error(e: &ConfError) -> OptionError {
    OptionError {
        option: e.option.clone().unwrap_or_else(|| "nova.conf".into()),
        index: None,
        message: e.message.clone(),
        exception: "ConfigFileValueError".into(),
        first: true,
        loc: Some(e.loc.clone()),
    }
}

fn describe_alias(al: &super::alias::Alias) -> String {
    al.specs
        .iter()
        .map(|s| {
            let ids = format!(
                "{}:{}",
                s.get("vendor_id").unwrap_or("*"),
                s.get("product_id").unwrap_or("*")
            );
            match s.get("dev_type") {
                Some(t) => format!("{t} {ids}"),
                None => ids,
            }
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Why no pool fits an alias, when a pool comes close.
fn near_miss(al: &super::alias::Alias, pools: &[Pool], host: &Host) -> String {
    for s in &al.specs {
        for p in pools {
            let same = |key: &str| match s.get(key) {
                None => true,
                Some(v) => {
                    Some(v.to_lowercase())
                        == p.get(key).and_then(PyValue::as_str).map(str::to_lowercase)
                }
            };
            let ids_ok = same("vendor_id") && same("product_id");
            if !ids_ok {
                continue;
            }
            if let Some(t) = s.get("dev_type") {
                if p.get("dev_type").and_then(PyValue::as_str) != Some(t) {
                    return format!(
                        "; the {} devices exposed are {}, not {t}",
                        p.ids(),
                        p.get("dev_type")
                            .map(PyValue::to_py_str)
                            .unwrap_or_default()
                    );
                }
            }
            if p.get("dev_type") == Some(&PyValue::Str(TYPE_PF.into()))
                && s.get("dev_type") != Some(TYPE_PF)
            {
                return format!(
                    "; {} is exposed as a PF, and nova only gives PFs to aliases with \"device_type\": \"type-PF\"",
                    p.ids()
                );
            }
            if let Some(k) = s.fields.iter().find(|(k, v)| {
                ![
                    "vendor_id",
                    "product_id",
                    "dev_type",
                    "resource_class",
                    "traits",
                ]
                .contains(&k.as_str())
                    && p.get(k).map(|x| x.to_py_str().to_lowercase()) != Some(v.to_lowercase())
            }) {
                return format!(
                    "; the {} pool has no {} = {} (nova compares every key of the alias with the pool)",
                    p.ids(),
                    k.0,
                    k.1
                );
            }
        }
    }
    // Devices with the ids exist, but no device_spec exposes them.
    let present: Vec<String> = host
        .devices
        .iter()
        .filter(|d| {
            al.specs.iter().any(|s| {
                s.get("vendor_id")
                    .is_some_and(|v| v.eq_ignore_ascii_case(&d.vendor_id.to_string()))
                    && s.get("product_id")
                        .is_some_and(|p| p.eq_ignore_ascii_case(&d.device_id.to_string()))
            })
        })
        .map(|d| d.address.to_string())
        .collect();
    if !present.is_empty() {
        return format!(
            "; devices with these ids are on this host ({}) but no device_spec exposes them",
            present.join(", ")
        );
    }
    String::new()
}

fn flavor_summary(
    value: &str,
    aliases: &Result<Aliases, alias::AliasError>,
    pools: &[Pool],
    compute_starts: bool,
    problems: &mut Vec<Problem>,
) -> FlavorSummary {
    let v: FlavorVerdict = flavor::judge(value, aliases.as_ref().map_err(|e| &e.error));
    let disagree = v.disagree();
    if disagree {
        let msg = match (&v.api_error, &v.boot) {
            (Some(api), Ok(_)) => format!(
                "flavor value '{value}': the API rejects it ({api}) but nova would boot with it"
            ),
            (None, Err(e)) => format!(
                "flavor value '{value}': the API accepts it, but every server create fails: {}: {}",
                e.exception, e.message
            ),
            _ => String::new(),
        };
        problems.push(problem(
            "flavor.layers_disagree",
            Severity::Warning,
            msg,
            None,
        ));
    }
    let (requests, fits, reason, boot_error) = match &v.boot {
        Err(e) => {
            problems.push(problem(
                "flavor.boot_fails",
                Severity::Error,
                format!("flavor value '{value}' fails at boot: {}", e.message),
                None,
            ));
            (
                Vec::new(),
                false,
                format!("server create fails: {}", e.message),
                Some(e.clone()),
            )
        }
        Ok(reqs) => {
            let fit = fit_requests(pools, reqs);
            let fits = compute_starts && fit.iter().all(|f| f.fits);
            let reason = if !compute_starts {
                "nova-compute does not start with this configuration, so it reports no devices"
                    .to_string()
            } else if fits {
                fit.iter()
                    .map(|f| {
                        format!(
                            "{} x{} from {} device(s)",
                            f.alias,
                            f.count,
                            f.steps.last().map_or(0, |s| s.devices_left)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                fit.iter()
                    .zip(reqs)
                    .find(|(f, _)| !f.fits)
                    .map(|(f, r)| explain_misfit(f, r, pools))
                    .unwrap_or_default()
            };
            if !fits {
                problems.push(problem(
                    "flavor.does_not_fit",
                    Severity::Error,
                    format!("flavor value '{value}' does not fit this host: {reason} (nova says only \"No valid host was found\")"),
                    None,
                ));
            }
            (fit, fits, reason, None)
        }
    };
    FlavorSummary {
        value: value.to_string(),
        api_error: v.api_error.clone(),
        boot_error,
        disagree,
        requests,
        fits,
        reason,
    }
}

fn explain_misfit(f: &RequestFit, r: &super::flavor::Request, pools: &[Pool]) -> String {
    let want = r
        .specs
        .iter()
        .map(|s| {
            let ids = format!(
                "{}:{}",
                s.get("vendor_id").unwrap_or("*"),
                s.get("product_id").unwrap_or("*")
            );
            match s.get("dev_type") {
                Some(t) => format!("{t} {ids}"),
                None => ids,
            }
        })
        .collect::<Vec<_>>()
        .join(" or ");
    let have = f.steps.first().map_or(0, |s| s.devices_left);
    let mut out = format!(
        "alias {} wants {} {want}, device_spec exposes {have} matching",
        f.alias, f.count
    );
    if pools.is_empty() {
        out.push_str(" (no device is exposed at all)");
    }
    let mut prev = have;
    for s in f.steps.iter().skip(1) {
        if s.devices_left < prev {
            let why = match s.step {
                "unrequested_pf" => {
                    "PFs are kept only for aliases with \"device_type\": \"type-PF\""
                }
                "unrequested_vdpa" => "vDPA devices are kept only when requested",
                "unrequested_remote_managed" => {
                    "remote-managed devices are kept only for requests that ask for them"
                }
                "live_migratable" => "the alias's live_migratable does not match the devices' tag",
                _ => "",
            };
            out.push_str(&format!("; {} dropped: {why}", prev - s.devices_left));
        }
        prev = s.devices_left;
    }
    out
}

fn spec_problems(
    flat: &[(usize, &DeviceSpec)],
    taken: &[Vec<String>],
    host: &Host,
    conf: &NovaConf,
    problems: &mut Vec<Problem>,
) {
    let nova_devs = NovaDevice::all_from_host(host);
    for (i, (vi, s)) in flat.iter().enumerate() {
        let loc = conf.device_spec.get(*vi).map(|c| c.loc.clone());
        if taken[i].is_empty() {
            // Matches devices on its own, but earlier specs took them all.
            let own: Vec<&str> = nova_devs
                .iter()
                .filter(|d| s.matches(d).unwrap_or(false))
                .filter_map(|d| d.address.as_deref())
                .collect();
            if !own.is_empty() {
                let earlier: Vec<String> = taken[..i]
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.iter().any(|a| own.contains(&a.as_str())))
                    .map(|(j, _)| format!("#{j}"))
                    .collect();
                problems.push(problem(
                    "spec.shadowed",
                    Severity::Warning,
                    format!(
                        "device_spec #{i} {} takes no device: the {} device(s) it matches are taken by earlier spec {} (first match wins, so its tags never apply)",
                        s.raw.repr(),
                        own.len(),
                        earlier.join(", ")
                    ),
                    loc,
                ));
                continue;
            }
            let mut msg = format!(
                "device_spec #{i} {} matches no device on this host",
                s.raw.repr()
            );
            if let Some(name) = &s.devname {
                if s.address.is_none() {
                    msg.push_str(&format!(
                        " (there is no network interface '{name}'; nova does not complain)"
                    ));
                }
            }
            // A VF id whose PF has no VFs enabled.
            for pf in host.devices.iter().filter(|d| d.sriov.is_some()) {
                let Some(sr) = &pf.sriov else { continue };
                let vf_id = sr.vf_device_id.map(|x| x.to_string());
                let vendor_ok = s.vendor_id == "*" || s.vendor_id == pf.vendor_id.to_string();
                let by_id = vendor_ok && vf_id.as_deref() == Some(s.product_id.as_str());
                let by_pf = s.address.as_ref().is_some_and(|a| {
                    a.is_physical_function && a.spec.fields().to_string() == pf.address.to_string()
                });
                if (by_id || by_pf) && sr.num_vfs == 0 {
                    msg.push_str(&format!(
                        "; its VFs would come from PF {} which has 0 of {} VFs enabled (sriov_numvfs = 0)",
                        pf.address, sr.total_vfs
                    ));
                }
            }
            problems.push(problem("spec.matches_nothing", Severity::Warning, msg, loc));
            continue;
        }
        if s.raw == PyValue::Dict(Vec::new())
            || s.vendor_id == "*"
                && s.product_id == "*"
                && s.address
                    .as_ref()
                    .is_some_and(|a| a.spec.fields().to_string() == "*:*:*.*")
        {
            problems.push(problem(
                "spec.matches_everything",
                Severity::Warning,
                format!("device_spec #{i} {} whitelists every PCI device ({} here), bridges and the host's own NICs and GPUs included", s.raw.repr(), taken[i].len()),
                loc.clone(),
            ));
        }
        for (k, v) in &s.tags {
            let bad_bool = |v: &PyValue| !matches!(v, PyValue::Str(x) if x.eq_ignore_ascii_case("true") || x.eq_ignore_ascii_case("false"));
            if (k == "trusted" || k == tags::REMOTE_MANAGED) && bad_bool(v) {
                problems.push(problem(
                    "spec.tag_never_matches_ports",
                    Severity::Warning,
                    format!("device_spec #{i}: {k} = {} is compared as a string with \"true\"/\"false\" by neutron port requests, so these devices never match a port", v.repr()),
                    loc.clone(),
                ));
            }
        }
        if conf.report_in_placement && s.devname.is_some() {
            problems.push(problem(
                "placement.devname",
                Severity::Error,
                format!("device_spec #{i} uses devname, which [pci] report_in_placement does not support (nova-compute fails with PlacementPciException)"),
                loc.clone(),
            ));
        }
    }
}

fn device_problems(
    exposed: &[(&NovaDevice, &DeviceSpec)],
    conf: &NovaConf,
    problems: &mut Vec<Problem>,
) {
    let addrs: Vec<&str> = exposed
        .iter()
        .filter_map(|(d, _)| d.address.as_deref())
        .collect();
    for (d, s) in exposed {
        if d.dev_type != TYPE_VF {
            continue;
        }
        let Some(p) = d.parent_addr.as_deref() else {
            continue;
        };
        if addrs.contains(&p) {
            let sev =
                if conf.report_in_placement && !tags::loose_bool(s.tag(tags::PHYSICAL_NETWORK)) {
                    Severity::Error
                } else {
                    Severity::Info
                };
            let why = if sev == Severity::Error {
                "with report_in_placement nova-compute fails (PlacementPciDependentDeviceException)"
            } else {
                "giving the PF to a guest makes all its VFs unavailable, and the other way round"
            };
            problems.push(problem(
                "spec.pf_and_vf",
                sev,
                format!(
                    "PF {p} and its VF {} are both exposed: {why}",
                    d.address.as_deref().unwrap_or("?")
                ),
                None,
            ));
        }
        if conf.report_in_placement && s.tag("one_time_use").is_some() {
            problems.push(problem(
                "placement.one_time_use_vf",
                Severity::Error,
                format!("VF {} has a one_time_use tag, which Placement allows only on type-PCI and type-PF devices", d.address.as_deref().unwrap_or("?")),
                None,
            ));
        }
    }
}

/// `managed: "false"` devices nova will not detach: they must already be on vfio-pci.
fn unmanaged_problems(host: &Host, devices: &[DeviceVerdict], problems: &mut Vec<Problem>) {
    let mut bound: Vec<String> = Vec::new();
    for d in devices.iter().filter(|d| d.exposed) {
        let unmanaged = d
            .tags
            .iter()
            .any(|(k, v)| k == "managed" && *v == PyValue::Str("false".into()));
        let on_vfio = host
            .devices
            .iter()
            .find(|x| x.address.to_string() == d.address)
            .is_some_and(|x| x.on_vfio());
        if unmanaged && !on_vfio {
            bound.push(format!(
                "{} ({})",
                d.address,
                d.driver.as_deref().unwrap_or("no driver")
            ));
        }
    }
    if !bound.is_empty() {
        problems.push(problem(
            "spec.unmanaged_not_on_vfio",
            Severity::Warning,
            format!(
                "tagged managed=false, so nova does not ask libvirt to detach them, but not on vfio-pci: {}; bind them to vfio-pci first or guests fail to start",
                bound.join(", ")
            ),
            None,
        ));
    }
}

fn filter_problems(conf: &NovaConf, problems: &mut Vec<Problem>) {
    let available = conf.available_filters.iter().any(|f| {
        f == "nova.scheduler.filters.all_filters" || f.ends_with(&format!(".{PCI_FILTER}"))
    });
    if conf.enabled_filters.iter().any(|f| f == PCI_FILTER) && !available {
        problems.push(problem(
            "filter.not_available",
            Severity::Error,
            format!("{PCI_FILTER} is enabled but [filter_scheduler] available_filters ({}) does not provide it: nova-scheduler fails to start", conf.available_filters.join(", ")),
            conf.enabled_filters_loc.clone(),
        ));
    }
    if !conf.enabled_filters.iter().any(|f| f == PCI_FILTER) {
        let where_ = match &conf.enabled_filters_loc {
            Some(l) => format!("[filter_scheduler] enabled_filters at {l}"),
            None => "[filter_scheduler] enabled_filters (not set, so nova's default)".to_string(),
        };
        problems.push(problem(
            "filter.missing",
            Severity::Warning,
            format!("{PCI_FILTER} is not in {where_}: the scheduler ignores PCI requests and places servers on hosts without the devices (this matters on scheduler nodes)"),
            conf.enabled_filters_loc.clone(),
        ));
    }
    for f in &conf.enabled_filters {
        if let Some((_, v)) = REMOVED_FILTERS.iter().find(|(n, _)| n == f) {
            problems.push(problem(
                "filter.removed",
                Severity::Error,
                format!(
                    "{f} in enabled_filters was removed in nova {v}: nova-scheduler fails to start"
                ),
                conf.enabled_filters_loc.clone(),
            ));
        }
    }
}
