//! Why a server with a PCI flavor got "No valid host was found": nova's own
//! reasoning (`nova check`: device_spec, alias, pools, request fitting) run with the
//! flavor's `pci_passthrough:alias` on every compute host's facts, plus what the
//! compute API says about each host (service down or disabled, devices held by
//! servers already there). Pure: facts and configurations in, reasons out.

use crate::host::Host;
use crate::nova::alias::parse_aliases;
use crate::nova::check::{check, CheckInput, PCI_FILTER};
use crate::nova::conf::NovaConf;
use crate::nova::flavor::{self, FlavorVerdict, Request};
use crate::nova::pools::fit_requests;
use serde::Serialize;

/// A server already on a host, holding the devices its flavor asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// Server name (or id).
    pub server: String,
    /// Its flavor's `pci_passthrough:alias`.
    pub value: String,
}

/// One compute host as far as the explanation needs it.
#[derive(Clone, Debug)]
pub struct ComputeHost<'a> {
    /// nova's name for it.
    pub name: String,
    /// The compute service's state (`up` / `down`), when known.
    pub state: Option<String>,
    /// The service's status (`enabled` / `disabled`) and reason.
    pub status: Option<(String, Option<String>)>,
    /// Its facts and nova.conf (device_spec is read from here), when known.
    pub facts: Option<(&'a Host, NovaConf)>,
    /// Where the facts came from, or why there are none.
    pub facts_source: String,
    /// Servers on it with PCI flavors.
    pub holders: Vec<Holder>,
}

/// One reason, with a stable id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// `compute.down`, `compute.disabled`, `compute.does_not_start`, `pci.no_device`,
    /// `pci.short`, `pci.exhausted`, `pci.numa`, `facts.unknown`.
    pub id: String,
    /// In words, naming the pool or alias concerned.
    pub message: String,
}

/// The verdict on one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostVerdict {
    /// nova's host name.
    pub host: String,
    /// Where its facts came from.
    pub facts: String,
    /// `Some(false)` when it cannot take the server, `Some(true)` when passthru finds
    /// no reason, `None` when its facts are unknown.
    pub can_take: Option<bool>,
    /// Why not (empty when it can).
    pub reasons: Vec<Reason>,
}

/// The whole explanation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// The flavor's `pci_passthrough:alias`.
    pub value: String,
    /// nova's two readings of it (API validator, server create) with the API node's
    /// aliases.
    pub flavor: FlavorVerdict,
    /// Reasons that hold for every host (scheduler filters, the API node's aliases).
    pub everywhere: Vec<Reason>,
    /// Per host.
    pub hosts: Vec<HostVerdict>,
}

fn reason(id: &str, message: String) -> Reason {
    Reason {
        id: id.to_string(),
        message,
    }
}

/// Flavor extra specs that give the guest a NUMA topology.
fn numa_specs(extra_specs: &[(String, String)]) -> Vec<String> {
    extra_specs
        .iter()
        .filter(|(k, v)| {
            k == "hw:numa_nodes"
                || k == "hw:mem_page_size"
                || (k == "hw:cpu_policy" && v == "dedicated")
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// Explains a "No valid host" for a flavor value on the given hosts. `api_conf` is
/// the API / scheduler node's nova.conf (aliases and filters); when it is unknown,
/// each host's own aliases stand in and the filters are not judged. `extra_specs` are
/// the flavor's other extra specs (for NUMA).
pub fn explain(
    value: &str,
    extra_specs: &[(String, String)],
    api_conf: Option<&NovaConf>,
    hosts: &[ComputeHost],
) -> Explanation {
    let Some(api_conf) = api_conf else {
        return explain_without_api_node(value, extra_specs, hosts);
    };
    let alias_texts: Vec<String> = api_conf.alias.iter().map(|v| v.value.clone()).collect();
    let aliases = parse_aliases(&alias_texts, api_conf.pci_in_placement);
    let verdict = flavor::judge(value, aliases.as_ref().map_err(|e| &e.error));
    let mut everywhere = Vec::new();
    if let Err(e) = &verdict.boot {
        everywhere.push(reason(
            "alias.api_node",
            format!(
                "with the API node's nova.conf, server create fails: {}: {} (passthru's view of that nova.conf differs from the running nova-api's if nova accepted the server)",
                e.exception, e.message
            ),
        ));
    }
    if !api_conf.enabled_filters.iter().any(|f| f == PCI_FILTER) {
        everywhere.push(reason(
            "filter.missing",
            format!(
                "{PCI_FILTER} is not in the scheduler's [filter_scheduler] enabled_filters: hosts are chosen without looking at PCI devices, and the compute host's claim fails instead (nova then retries and gives up with No valid host)"
            ),
        ));
    }
    let numa = numa_specs(extra_specs);
    let requests: Vec<Request> = verdict.boot.clone().unwrap_or_default();
    let hosts = hosts
        .iter()
        .map(|h| host_verdict(h, value, api_conf, &requests, &numa, &aliases))
        .collect();
    Explanation {
        value: value.to_string(),
        flavor: verdict,
        everywhere,
        hosts,
    }
}

/// Each host judged with its own nova.conf's aliases (the API node's is unknown).
fn explain_without_api_node(
    value: &str,
    extra_specs: &[(String, String)],
    hosts: &[ComputeHost],
) -> Explanation {
    let mut out: Option<Explanation> = None;
    let mut verdicts = Vec::new();
    for h in hosts {
        let own = h.facts.as_ref().map(|(_, c)| {
            let mut c = c.clone();
            // Filters are the scheduler's: unknown here, so not judged.
            c.enabled_filters = vec![PCI_FILTER.to_string()];
            c
        });
        let ex = explain(
            value,
            extra_specs,
            Some(&own.unwrap_or_default()),
            std::slice::from_ref(h),
        );
        verdicts.extend(ex.hosts.clone());
        if out.is_none() && h.facts.is_some() {
            out = Some(ex);
        }
    }
    let mut ex = out.unwrap_or_else(|| {
        let none = NovaConf {
            enabled_filters: vec![PCI_FILTER.to_string()],
            ..NovaConf::default()
        };
        explain(value, extra_specs, Some(&none), &[])
    });
    ex.hosts = verdicts;
    ex.everywhere.retain(|r| r.id != "alias.api_node");
    ex.everywhere.insert(
        0,
        reason(
            "conf.api_node_unknown",
            "the API / scheduler node's nova.conf was not given (--nova-conf): each compute host's own aliases stand in for it, and the scheduler's filters are not judged".into(),
        ),
    );
    ex
}

fn host_verdict(
    h: &ComputeHost,
    value: &str,
    api_conf: &NovaConf,
    requests: &[Request],
    numa: &[String],
    aliases: &Result<crate::nova::alias::Aliases, crate::nova::alias::AliasError>,
) -> HostVerdict {
    let mut reasons = Vec::new();
    if h.state.as_deref() == Some("down") {
        reasons.push(reason(
            "compute.down",
            "its nova-compute service is down (ComputeFilter skips it)".into(),
        ));
    }
    if let Some((status, why)) = &h.status {
        if status == "disabled" {
            reasons.push(reason(
                "compute.disabled",
                format!(
                    "its nova-compute service is disabled{} (ComputeFilter skips it)",
                    why.as_ref().map(|w| format!(": {w}")).unwrap_or_default()
                ),
            ));
        }
    }
    let Some((host, compute_conf)) = &h.facts else {
        reasons.push(reason(
            "facts.unknown",
            format!("no facts for this host ({})", h.facts_source),
        ));
        let known_no = reasons.iter().any(|r| r.id.starts_with("compute."));
        return HostVerdict {
            host: h.name.clone(),
            facts: h.facts_source.clone(),
            can_take: known_no.then_some(false),
            reasons,
        };
    };
    // The compute host's device_spec with the API node's aliases and filters: the
    // API builds the requests, the compute host's devices fill them.
    let mut conf = compute_conf.clone();
    conf.alias = api_conf.alias.clone();
    conf.pci_in_placement = api_conf.pci_in_placement;
    conf.enabled_filters = api_conf.enabled_filters.clone();
    let flavors = [value.to_string()];
    let report = check(&CheckInput {
        host,
        conf: &conf,
        flavors: &flavors,
    });
    if !report.compute_starts {
        let first = report
            .errors
            .iter()
            .find(|e| e.first)
            .map(|e| format!(": {} {}", e.option, e.message))
            .unwrap_or_default();
        reasons.push(reason(
            "compute.does_not_start",
            format!(
                "nova-compute does not start with its nova.conf, so it reports no devices{first}"
            ),
        ));
    }
    if let Some(f) = report.flavors.first() {
        if report.compute_starts && f.boot_error.is_none() && !f.fits {
            let none = f
                .requests
                .iter()
                .any(|r| !r.fits && r.steps.first().is_some_and(|s| s.devices_left == 0));
            reasons.push(reason(
                if none { "pci.no_device" } else { "pci.short" },
                f.reason.clone(),
            ));
        } else if report.compute_starts && f.fits && !h.holders.is_empty() {
            if let Some(r) = exhausted(h, requests, &report.pools, aliases) {
                reasons.push(r);
            }
        }
    }
    if reasons.is_empty() && !numa.is_empty() {
        let strict: Vec<&Request> = requests
            .iter()
            .filter(|r| r.numa_policy == "legacy" || r.numa_policy == "required")
            .collect();
        if !strict.is_empty() {
            let nodes: std::collections::BTreeSet<String> = report
                .pools
                .iter()
                .filter_map(|p| p.get("numa_node").map(|v| v.to_py_str()))
                .collect();
            reasons.push(reason(
                "pci.numa",
                format!(
                    "the flavor gives the guest a NUMA topology ({}) and alias {} has numa_policy {}: nova takes only devices on the NUMA node(s) of the guest's cells, and this host's devices are on node(s) {}; if no cell fits there (CPUs, memory), the host is refused",
                    numa.join(", "),
                    strict[0].alias,
                    strict[0].numa_policy,
                    nodes.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    HostVerdict {
        host: h.name.clone(),
        facts: h.facts_source.clone(),
        can_take: Some(reasons.is_empty()),
        reasons,
    }
}

/// Whether the devices left after the servers already on the host are too few:
/// nova's fitting of their requests first, then this one's, on the host's pools.
fn exhausted(
    h: &ComputeHost,
    requests: &[Request],
    pools: &[crate::nova::pools::Pool],
    aliases: &Result<crate::nova::alias::Aliases, crate::nova::alias::AliasError>,
) -> Option<Reason> {
    let Ok(aliases) = aliases else { return None };
    let mut held: Vec<Request> = Vec::new();
    let mut holders = Vec::new();
    for hd in &h.holders {
        if let Ok(r) = flavor::boot_requests(&hd.value, aliases, None) {
            held.extend(r);
            holders.push(format!("{} ({})", hd.server, hd.value));
        }
    }
    let n_held = held.len();
    let mut all = held;
    all.extend(requests.iter().cloned());
    let fit = fit_requests(pools, &all);
    let short = fit[n_held..].iter().find(|f| !f.fits)?;
    let matches = |p: &crate::nova::pools::Pool| {
        requests
            .iter()
            .filter(|r| r.alias == short.alias)
            .flat_map(|r| r.specs.iter())
            .any(|s| crate::nova::pools::spec_matches_pool(&s.fields, p))
    };
    let total: usize = pools.iter().filter(|p| matches(p)).map(|p| p.count()).sum();
    let pool_names: Vec<String> = pools
        .iter()
        .enumerate()
        .filter(|(_, p)| matches(p))
        .map(|(i, p)| {
            format!(
                "#{i} {} {} NUMA {}",
                p.ids(),
                p.get("dev_type").map(|v| v.to_py_str()).unwrap_or_default(),
                p.get("numa_node")
                    .map(|v| v.to_py_str())
                    .unwrap_or_default()
            )
        })
        .collect();
    let free = short.steps.last().map_or(0, |s| s.devices_left);
    Some(reason(
        "pci.exhausted",
        format!(
            "pool exhausted: alias {} wants {}, pool(s) {} have {total} device(s), {} free after the servers already there: {}",
            short.alias,
            short.count,
            pool_names.join(", "),
            free,
            holders.join(", ")
        ),
    ))
}
