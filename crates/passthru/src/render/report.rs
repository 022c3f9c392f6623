//! `passthru report --html`: one self-contained page per host or fleet, to hand over
//! in a ticket or a change review.
//!
//! The page is a pure function of what the other commands already decided: the facts
//! ([`Host`]), doctor's [`checks::Report`], the groups of [`inventory::groups`], `nova
//! check`'s report and `verify`'s, and for a fleet the odd ones out of the fleet diff.
//! Nothing here decides anything again. Inline CSS and JS only, and a
//! Content-Security-Policy that forbids every fetch.

use crate::checks::{self, Finding, Severity};
use crate::fleet::Difference;
use crate::host::model::Host;
use crate::inventory::groups::groups;
use crate::libvirt::verify::VerifyReport;
use crate::libvirt::xml_escape as esc;
use crate::nova::check::Report as NovaReport;
use crate::render::topo::{self, html as topo_html, TopoOptions};
use std::collections::HashMap;
use std::fmt::Write as _;

/// Everything the report shows about one host.
#[derive(Clone, Debug)]
pub struct HostSection<'a> {
    /// How the host was named (`--host` target, snapshot file, root directory).
    pub target: String,
    /// The facts.
    pub host: &'a Host,
    /// doctor's run over the host.
    pub doctor: &'a checks::Report,
    /// `nova check`'s report, when the host has a nova.conf.
    pub nova: Option<&'a NovaReport>,
    /// `verify`'s report over the host's libvirt guests, when libvirt is readable.
    pub guests: Option<&'a VerifyReport>,
    /// Why there is no guest verification, when there is none (shown instead).
    pub guests_note: Option<String>,
}

/// The page: one host, or a fleet: a host table with verdicts (and the targets that
/// could not be read, with why), the odd ones out of [`crate::fleet::diff`], then a
/// section per host.
pub fn render(
    hosts: &[HostSection],
    odd: &[Difference],
    unreachable: &[(String, String)],
) -> String {
    let title = match hosts {
        [one] => format!("passthru report: {}", host_name(one)),
        _ => format!(
            "passthru report: fleet of {} hosts",
            hosts.len() + unreachable.len()
        ),
    };
    let css = format!("{CSS}{}", topo_html::style());
    let mut s = topo_html::head(&title, &css);
    let _ = write!(s, "<body><header><h1>{}</h1>", esc(&title));
    s.push_str("<p class=\"muted\">Written by passthru. Sections: summary, topology, doctor's findings, IOMMU groups, nova, guests, devices. Click a device in the topology for its findings; type in a device table's box to filter it, click a column heading to sort.</p></header>\n");
    s.push_str("<div class=\"layout\"><main>\n");
    let fleet = hosts.len() + unreachable.len() > 1;
    if fleet {
        fleet_table(&mut s, hosts, unreachable);
        odd_ones(&mut s, odd);
    }
    for (i, h) in hosts.iter().enumerate() {
        host_section(&mut s, i, h, fleet);
    }
    s.push_str("</main><aside id=\"panel\" class=\"panel\"><p>Click a device in a topology for what it is and doctor's findings.</p></aside></div>\n");
    let _ = write!(
        s,
        "<script>{}{TABLE_JS}</script>\n</body></html>\n",
        topo_html::script()
    );
    s
}

fn host_name(h: &HostSection) -> String {
    h.host.hostname.clone().unwrap_or_else(|| h.target.clone())
}

fn sev_badge(sev: Severity) -> String {
    let w = sev.word();
    format!("<span class=\"badge sev-{}\">{w}</span>", w.to_lowercase())
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn counts(fs: &[Finding]) -> [usize; 4] {
    let mut c = [0; 4];
    for f in fs {
        c[f.severity as usize] += 1;
    }
    c
}

fn fleet_table(s: &mut String, hosts: &[HostSection], unreachable: &[(String, String)]) {
    s.push_str("<section class=\"fleet\"><h2>Hosts</h2><table class=\"sortable\"><thead><tr><th>host</th><th>source</th><th>verdict</th><th>fail</th><th>warn</th><th>devices</th><th>VFs</th><th>on vfio-pci</th><th>IOMMU groups</th></tr></thead><tbody>\n");
    for (i, h) in hosts.iter().enumerate() {
        let c = counts(&h.doctor.findings);
        let _ = writeln!(
            s,
            "<tr data-host=\"{t}\"><td><a href=\"#h{i}\">{n}</a></td><td>{t}</td><td data-sort=\"{w}\">{b}</td><td>{f}</td><td>{wa}</td><td>{d}</td><td>{v}</td><td>{vf}</td><td>{g}</td></tr>",
            t = esc(&h.target),
            n = esc(&host_name(h)),
            w = h.doctor.worst() as u8,
            b = sev_badge(h.doctor.worst()),
            f = c[3],
            wa = c[2],
            d = h.host.devices.len(),
            v = h.host.devices.iter().filter(|d| d.is_vf()).count(),
            vf = h.host.devices.iter().filter(|d| d.on_vfio()).count(),
            g = h.host.iommu_groups.len(),
        );
    }
    for (t, why) in unreachable {
        let _ = writeln!(
            s,
            "<tr data-host=\"{t}\" class=\"unreachable\"><td>{t}</td><td>{t}</td><td data-sort=\"9\"><b>not read</b></td><td colspan=\"6\">{w}</td></tr>",
            t = esc(t),
            w = esc(why)
        );
    }
    s.push_str("</tbody></table></section>\n");
}

fn odd_ones(s: &mut String, odd: &[Difference]) {
    s.push_str("<section class=\"odd\"><h2>Odd ones out (fleet diff)</h2>");
    if odd.is_empty() {
        s.push_str("<p>No host differs from the others in what <code>passthru fleet diff</code> compares.</p></section>\n");
        return;
    }
    s.push_str("<table><thead><tr><th>fact</th><th>most hosts</th><th>odd hosts</th></tr></thead><tbody>\n");
    for d in odd {
        let hosts: Vec<String> = d
            .odd
            .iter()
            .map(|o| format!("<b>{}</b>: {}", esc(&o.host), esc(&o.value)))
            .collect();
        let _ = writeln!(
            s,
            "<tr data-fact=\"{f}\"><td>{l} <span class=\"muted\">({f})</span></td><td>{m} <span class=\"muted\">({n} hosts)</span></td><td>{o}</td></tr>",
            f = esc(&d.fact),
            l = esc(&d.label),
            m = esc(&d.majority),
            n = d.majority_hosts.len(),
            o = hosts.join("<br>")
        );
    }
    s.push_str("</tbody></table></section>\n");
}

fn host_section(s: &mut String, i: usize, h: &HostSection, fleet: bool) {
    let host = h.host;
    let _ = write!(
        s,
        "<section class=\"host\" id=\"h{i}\" data-target=\"{}\">",
        esc(&h.target)
    );
    if fleet {
        let _ = write!(s, "<h2>{}</h2>", esc(&host_name(h)));
    }
    summary(s, h);
    // The topology: the same tree and writer as `passthru topo --format html`.
    let picture = match topo::build(host, &h.doctor.findings, &TopoOptions::default()) {
        Ok(t) => topo_html::fragment(&t),
        Err(e) => format!("<p>{}</p>", esc(&e.to_string())),
    };
    let _ = writeln!(
        s,
        "<details class=\"sec\" open><summary><h3>Topology</h3></summary>{picture}</details>"
    );
    doctor(s, h);
    group_table(s, host);
    nova(s, h);
    guests(s, h);
    device_table(s, i, h);
    s.push_str("</section>\n");
}

fn summary(s: &mut String, h: &HostSection) {
    let host = h.host;
    let c = counts(&h.doctor.findings);
    let pfs = host.devices.iter().filter(|d| d.is_pf()).count();
    let vfs = host.devices.iter().filter(|d| d.is_vf()).count();
    let vfio = host.devices.iter().filter(|d| d.on_vfio()).count();
    let numa: Vec<String> = host
        .numa_nodes
        .iter()
        .map(|n| format!("{} (CPUs {})", n.id, n.cpulist))
        .collect();
    let rows: Vec<(&str, String)> = vec![
        ("host", host_name(h)),
        (
            "read from",
            format!("{:?} {}", host.source.kind, host.source.location).to_lowercase(),
        ),
        (
            "kernel",
            host.system
                .kernel_release
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        ),
        (
            "kernel command line",
            host.kernel_cmdline
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        ),
        (
            "CPU",
            host.system
                .cpu
                .model_name
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        ),
        (
            "IOMMU",
            if host.iommu_groups.is_empty() {
                "no IOMMU groups (off or unsupported)".into()
            } else {
                format!("{} groups", host.iommu_groups.len())
            },
        ),
        (
            "NUMA nodes",
            if numa.is_empty() {
                "unknown".into()
            } else {
                numa.join(", ")
            },
        ),
        (
            "PCI functions",
            format!(
                "{} ({pfs} SR-IOV PFs, {vfs} VFs, {vfio} on vfio-pci)",
                host.devices.len()
            ),
        ),
        (
            "doctor",
            format!(
                "{} · {} passed, {} info, {}, {} ({})",
                h.doctor.worst().word(),
                c[0],
                c[1],
                plural(c[2], "warning"),
                plural(c[3], "failure"),
                h.doctor.selection.describe()
            ),
        ),
    ];
    s.push_str("<div class=\"summary\"><h3>Summary</h3><table class=\"kv\">");
    for (k, v) in rows {
        let _ = write!(s, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    s.push_str("</table></div>\n");
}

fn finding_row(s: &mut String, f: &Finding, extra: Option<&str>) {
    let _ = write!(
        s,
        "<tr class=\"f sev-row-{l}\" data-id=\"{id}\"><td>{b}</td>{x}<td>{d}</td><td><b>{c}</b><br>{m}<span class=\"muted\"> ({id})</span>",
        l = f.severity.word().to_lowercase(),
        id = f.id,
        b = sev_badge(f.severity),
        x = extra.map(|e| format!("<td>{}</td>", esc(e))).unwrap_or_default(),
        d = f.device.map(|a| a.to_string()).unwrap_or_default(),
        c = esc(&f.check),
        m = esc(&f.message),
    );
    if let Some(w) = &f.why {
        let _ = write!(s, "<br><i>why:</i> {}", esc(w));
    }
    s.push_str("</td><td>");
    if let Some(fix) = &f.fix {
        let _ = write!(s, "<pre class=\"fix\">{}</pre>", esc(fix));
    }
    s.push_str("</td></tr>\n");
}

fn doctor(s: &mut String, h: &HostSection) {
    let (problems, passes): (Vec<&Finding>, Vec<&Finding>) = h
        .doctor
        .findings
        .iter()
        .partition(|f| f.severity > Severity::Info);
    let _ = write!(
        s,
        "<details class=\"sec doctor\" open><summary><h3>doctor: {} problem{}</h3></summary>",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    const HEAD: &str = "<table class=\"findings\"><thead><tr><th>verdict</th><th>device</th><th>finding</th><th>fix</th></tr></thead><tbody>\n";
    if problems.is_empty() {
        s.push_str("<p>No warning and no failure.</p>");
    } else {
        s.push_str(HEAD);
        for f in problems {
            finding_row(s, f, None);
        }
        s.push_str("</tbody></table>");
    }
    if let Some(sum) = &h.doctor.summary {
        let _ = write!(s, "<p>{}</p>", esc(sum));
    }
    let _ = write!(
        s,
        "<details class=\"passes\"><summary>{} passed or informational</summary>{HEAD}",
        passes.len()
    );
    // Passes are the bulk on a big host (one per check per device): one plain line each.
    for f in passes {
        let _ = writeln!(
            s,
            "<tr title=\"{id}\"><td>{w}</td><td>{d}</td><td><b>{c}</b>: {m}</td><td></td></tr>",
            id = f.id,
            w = f.severity.word(),
            d = f.device.map(|a| a.to_string()).unwrap_or_default(),
            c = esc(&f.check),
            m = esc(&f.message),
        );
    }
    s.push_str("</tbody></table></details></details>\n");
}

fn group_table(s: &mut String, host: &Host) {
    let gs = groups(host);
    let shared = gs.iter().filter(|g| !g.isolated).count();
    let _ = write!(
        s,
        "<details class=\"sec groups\"><summary><h3>IOMMU groups: {} ({shared} not isolated)</h3></summary>",
        gs.len()
    );
    if gs.is_empty() {
        s.push_str("<p>No IOMMU groups: the IOMMU is off or unsupported, so vfio cannot assign devices.</p></details>\n");
        return;
    }
    s.push_str("<table class=\"sortable\"><thead><tr><th>group</th><th>isolated</th><th>members</th></tr></thead><tbody>\n");
    for g in gs {
        let members: Vec<String> = g
            .members
            .iter()
            .map(|m| {
                format!(
                    "{} {} [{}] {}",
                    m.address,
                    esc(&m.label),
                    m.ids,
                    esc(m.driver.as_deref().unwrap_or("no driver"))
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "<tr data-group=\"{n}\"><td>{n}</td><td>{iso}</td><td>{}</td></tr>",
            members.join("<br>"),
            n = g.number,
            iso = if g.isolated { "yes" } else { "<b>no</b>" },
        );
    }
    s.push_str("</tbody></table></details>\n");
}

fn nova(s: &mut String, h: &HostSection) {
    let Some(r) = h.nova else {
        s.push_str("<details class=\"sec nova\"><summary><h3>nova: no nova.conf</h3></summary><p>This host has no nova configuration, so there is no nova check.</p></details>\n");
        return;
    };
    let exposed: Vec<_> = r
        .devices
        .iter()
        .filter(|d| d.spec_index.is_some())
        .collect();
    let _ = write!(
        s,
        "<details class=\"sec nova\" open><summary><h3>nova check: {}; {} device{} exposed, {} pool{}</h3></summary>",
        if r.compute_starts { "nova-compute starts" } else { "nova-compute does NOT start" },
        exposed.len(),
        if exposed.len() == 1 { "" } else { "s" },
        r.pools.len(),
        if r.pools.len() == 1 { "" } else { "s" }
    );
    if !r.errors.is_empty() || !r.problems.is_empty() {
        s.push_str(
            "<table><thead><tr><th>severity</th><th>problem</th><th>where</th></tr></thead><tbody>",
        );
        for e in &r.errors {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}: {} ({})</td><td>{}</td></tr>",
                sev_badge(Severity::Fail),
                esc(&e.option),
                esc(&e.message),
                esc(&e.exception),
                e.loc
                    .as_ref()
                    .map(|l| esc(&l.to_string()))
                    .unwrap_or_default()
            );
        }
        for p in &r.problems {
            let sev = match p.severity {
                crate::nova::check::Severity::Info => Severity::Info,
                crate::nova::check::Severity::Warning => Severity::Warn,
                crate::nova::check::Severity::Error => Severity::Fail,
            };
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{} <span class=\"muted\">({})</span></td><td>{}</td></tr>",
                sev_badge(sev),
                esc(&p.message),
                esc(&p.id),
                p.loc
                    .as_ref()
                    .map(|l| esc(&l.to_string()))
                    .unwrap_or_default()
            );
        }
        s.push_str("</tbody></table>");
    }
    if !exposed.is_empty() {
        s.push_str("<table class=\"sortable\"><thead><tr><th>device</th><th>ids</th><th>type</th><th>PF</th><th>NUMA</th><th>driver</th><th>spec</th></tr></thead><tbody>\n");
        for d in exposed {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>#{}</td></tr>",
                esc(&d.address),
                esc(&d.ids),
                esc(&d.dev_type),
                esc(d.parent_addr.as_deref().unwrap_or("")),
                d.numa_node.map(|n| n.to_string()).unwrap_or_default(),
                esc(d.driver.as_deref().unwrap_or("none")),
                d.spec_index.unwrap_or(0)
            );
        }
        s.push_str("</tbody></table>");
    }
    if !r.aliases.is_empty() {
        s.push_str("<p>Aliases: ");
        let a: Vec<String> = r
            .aliases
            .iter()
            .map(|a| {
                format!(
                    "<b>{}</b> ({} devices, numa_policy {})",
                    esc(&a.name),
                    a.devices,
                    esc(&a.numa_policy)
                )
            })
            .collect();
        s.push_str(&a.join("; "));
        s.push_str("</p>");
    }
    s.push_str("</details>\n");
}

fn guests(s: &mut String, h: &HostSection) {
    let Some(r) = h.guests else {
        let _ = writeln!(
            s,
            "<details class=\"sec guests\"><summary><h3>Guests: not verified</h3></summary><p>{}</p></details>",
            esc(h.guests_note.as_deref().unwrap_or("libvirt is not readable on this source"))
        );
        return;
    };
    let _ = write!(
        s,
        "<details class=\"sec guests\" open><summary><h3>Guests: {} verified, {}</h3></summary>",
        r.guests.len(),
        r.verdict.word()
    );
    s.push_str("<table><thead><tr><th>verdict</th><th>guest</th><th>device</th><th>finding</th><th>fix</th></tr></thead><tbody>\n");
    for f in r.findings() {
        finding_row(s, &f.finding, Some(&f.guest));
    }
    s.push_str("</tbody></table>");
    for g in &r.guests {
        let devs: Vec<String> = g
            .devices
            .iter()
            .map(|d| {
                format!(
                    "{} ({}, group {}, NUMA {})",
                    d.address,
                    d.host_driver.as_deref().unwrap_or("no driver"),
                    d.iommu_group.map_or("-".into(), |n| n.to_string()),
                    d.numa_node.map_or("-".into(), |n| n.to_string())
                )
            })
            .collect();
        let _ = write!(
            s,
            "<p><b>{}</b> ({}): {}</p>",
            esc(&g.name),
            if g.running { "running" } else { "shut off" },
            esc(&devs.join("; "))
        );
    }
    s.push_str("</details>\n");
}

fn device_table(s: &mut String, i: usize, h: &HostSection) {
    let host = h.host;
    let mut verdict: HashMap<_, Severity> = HashMap::new();
    for f in &h.doctor.findings {
        if let Some(a) = f.device {
            let e = verdict.entry(a).or_insert(Severity::Pass);
            *e = (*e).max(f.severity);
        }
    }
    let _ = write!(
        s,
        "<details class=\"sec devices\" open><summary><h3>Devices ({})</h3></summary><input type=\"search\" class=\"filter\" data-table=\"dev{i}\" placeholder=\"filter: address, name, driver, group...\" aria-label=\"filter the device table\"> <span class=\"count\" id=\"dev{i}-count\"></span>\n<table class=\"sortable devtable\" id=\"dev{i}\"><thead><tr><th>address</th><th>ids</th><th>device</th><th>class</th><th>driver</th><th data-type=\"num\">group</th><th data-type=\"num\">NUMA</th><th>SR-IOV</th><th>netdev</th><th>doctor</th></tr></thead><tbody>\n",
        host.devices.len()
    );
    for d in &host.devices {
        let sriov = match (&d.sriov, d.physfn) {
            (Some(x), _) => format!("PF {}/{}", x.num_vfs, x.total_vfs),
            (None, Some(pf)) => format!(
                "VF {} of {}",
                d.vf_index.map_or("?".into(), |n| n.to_string()),
                pf.short()
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "<tr><td>{a}</td><td>{ids}</td><td>{l}</td><td>{c}</td><td>{drv}</td><td>{g}</td><td>{n}</td><td>{sr}</td><td>{nd}</td><td>{v}</td></tr>",
            a = d.address,
            ids = d.id_pair(),
            l = esc(&d.label()),
            c = esc(&d.class_label()),
            drv = esc(d.driver.as_deref().unwrap_or("")),
            g = d.iommu_group.map(|g| g.to_string()).unwrap_or_default(),
            n = d.numa_node.map(|g| g.to_string()).unwrap_or_default(),
            sr = sriov,
            nd = esc(&d.netdevs.join(" ")),
            v = verdict.get(&d.address).map(|v| v.word()).unwrap_or(""),
        );
    }
    s.push_str("</tbody></table></details>\n");
}

const CSS: &str = r#"
body{margin:12px;font:14px/1.4 system-ui,sans-serif;color:#111}
.layout{display:grid;grid-template-columns:minmax(0,1fr) 320px;gap:12px;align-items:start}
h1{font-size:20px;margin:4px 0}h2{font-size:18px;border-bottom:2px solid #333;margin-top:18px}h3{display:inline;font-size:15px}
section.host{margin-bottom:24px}
details.sec{margin:10px 0;border-top:1px solid #ccc;padding-top:4px}
details.sec>summary{cursor:pointer}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th.asc::after{content:" \25B2"}table.sortable th.desc::after{content:" \25BC"}
table.kv th{width:170px}
pre.fix{margin:0;white-space:pre-wrap;font-size:12px;background:#f6f6f6;padding:2px 4px}
.muted{color:#555}
input.filter{font-size:14px;padding:3px 6px;width:320px}
.badge{display:inline-block;color:#fff;font-weight:bold;font-size:10px;border-radius:7px;padding:0 6px}
.sev-pass{background:#2e7d32}.sev-info{background:#546e7a}.sev-warn{background:#b26a00}.sev-fail{background:#c62828}
@media print{
 .layout{display:block}.panel,input.filter,.count{display:none}
 details>summary::marker{content:""}
 body{font-size:11px;margin:0}
 tr,.dev,pre{break-inside:avoid}
 section.host{break-before:page}section.host:first-of-type{break-before:auto}
 a{color:inherit;text-decoration:none}
}
"#;

/// Filtering and sorting of tables, in a few lines of plain JS (no library to fetch).
/// Print opens every `<details>` so the paper copy is whole.
const TABLE_JS: &str = r#"
document.querySelectorAll('input.filter').forEach(function(inp){
 var t=document.getElementById(inp.getAttribute('data-table')),c=document.getElementById(inp.getAttribute('data-table')+'-count');
 function run(){var q=inp.value.toLowerCase().trim(),n=0;t.tBodies[0].querySelectorAll('tr').forEach(function(r){var ok=!q||r.textContent.toLowerCase().indexOf(q)>=0;r.style.display=ok?'':'none';if(ok)n++;});if(c)c.textContent=n+' shown';}
 inp.addEventListener('input',run);run();
});
document.querySelectorAll('table.sortable').forEach(function(t){
 t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
  var asc=!th.classList.contains('asc'),num=th.getAttribute('data-type')==='num',b=t.tBodies[0],rs=Array.prototype.slice.call(b.rows);
  function key(r){var c=r.cells[i],v=c?(c.getAttribute('data-sort')||c.textContent):'';return num?(v===''?-1:parseFloat(v)):v.toLowerCase();}
  rs.sort(function(x,y){var a=key(x),bb=key(y);return (a<bb?-1:a>bb?1:0)*(asc?1:-1);});
  rs.forEach(function(r){b.appendChild(r);});
  t.querySelectorAll('th').forEach(function(o){o.classList.remove('asc','desc');});th.classList.add(asc?'asc':'desc');
 });});
});
window.addEventListener('beforeprint',function(){document.querySelectorAll('details').forEach(function(d){d.open=true;});});
"#;
