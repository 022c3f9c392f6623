//! The HTML picture: the same tree as nested elements, so a browser can fold a PF's
//! VFs (`<details>`) and show a device's findings in a side panel on click.
//!
//! Structure, which the browser tests rely on: `<section class="numa" data-numa="N">`
//! contains `<div class="bus">`, which contains `<div class="grp" data-group="G">` per
//! run of adjacent members of an IOMMU group, which contains `<div class="dev"
//! data-addr="dddd:bb:ss.f" data-state="...">`. A badge is `<span class="badge"
//! data-severity="fail" title="finding">`. Collapsed VFs are `<details class="vfs">`
//! holding every VF's row. The page is self-contained: inline CSS and JS, and a
//! Content-Security-Policy that forbids every fetch.

use super::{group_runs, rows, DepthRow, Kind, Node, Row, State, Topology};
use crate::checks::Severity;
use crate::libvirt::xml_escape as esc;
use std::fmt::Write as _;

/// The policy every page carries: nothing may be loaded from anywhere (inline
/// styles and scripts only, images only as data: URLs).
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'";

/// CSS of the topology fragment (also used by the report): [`BASE_STYLE`] and the
/// state colours of [`State::fill`].
pub fn style() -> String {
    let mut s = String::from(BASE_STYLE);
    for st in State::ALL {
        let _ = write!(s, "[data-state={}]{{background:{}}}", st.class(), st.fill());
    }
    s
}

const BASE_STYLE: &str = r#"
.topo{font:13px/1.35 ui-monospace,monospace}
.topo .legend{display:flex;flex-wrap:wrap;gap:14px;margin:6px 0 10px}
.topo .sw{display:inline-block;width:12px;height:12px;border:1px solid #444;vertical-align:middle;margin-right:4px}
.topo section.numa{border:1.5px solid #555;border-radius:6px;padding:4px 8px 8px;margin:8px 0;background:#fafafa}
.topo section.numa>h3{margin:2px 0 4px;font-size:14px}
.topo .bus{border:1px solid #999;border-radius:4px;padding:2px 6px 6px;margin:4px 0;background:#fff}
.topo .bus>h4{margin:2px 0;font-size:13px}
.topo .grp{border:1px dashed #7b1fa2;border-radius:3px;padding:1px 3px;margin:2px 0 2px calc(var(--d,0)*18px);position:relative}
.topo .grp::before{content:"group " attr(data-group);position:absolute;right:4px;top:1px;color:#7b1fa2;font-size:11px}
.topo .dev,.topo .vfs>summary{margin-left:calc(var(--d,0)*18px);padding:1px 4px;border:1px solid #444;border-radius:3px;margin-top:1px;margin-bottom:1px;cursor:pointer;max-width:calc(100% - 90px - var(--d,0)*18px)}
.topo .vfs>summary{background:#fff;border-style:dotted}
.topo .dev.sel{outline:2px solid #000}
.topo .badge{display:inline-block;color:#fff;font-weight:bold;font-size:10px;border-radius:7px;padding:0 6px;margin-left:6px}
.topo .sev-pass{background:#2e7d32}.topo .sev-info{background:#546e7a}.topo .sev-warn{background:#b26a00}.topo .sev-fail{background:#c62828}
.topo .muted{color:#555}
.panel{position:sticky;top:8px;border:1px solid #999;border-radius:6px;padding:8px;background:#fffdf5;font:13px/1.4 system-ui,sans-serif;max-height:95vh;overflow:auto}
.panel pre{white-space:pre-wrap;background:#f4f4f4;padding:4px}
"#;

/// JS of the fragment: a click on a device shows what it is and its findings in the
/// side panel (`#panel`). The state words come from [`State::legend`].
pub fn script() -> String {
    let leg: Vec<String> = State::ALL
        .iter()
        .map(|s| format!("'{}':'{}'", s.class(), s.legend()))
        .collect();
    format!("var LEG={{{}}};{CLICK}", leg.join(","))
}

const CLICK: &str = r#"
document.addEventListener('click',function(e){
 var d=e.target.closest?e.target.closest('.topo .dev'):null; if(!d)return;
 var p=document.getElementById('panel'); if(!p)return;
 document.querySelectorAll('.topo .dev.sel').forEach(function(x){x.classList.remove('sel')});
 d.classList.add('sel');
 var fx=d.querySelector('.badge');
 p.innerHTML='';
 var h=document.createElement('h3');h.textContent=d.getAttribute('data-addr');p.appendChild(h);
 var g=d.closest('.grp'),nu=d.closest('section.numa'),row=d.cloneNode(true),f0=row.querySelector('.badge');if(f0)f0.remove();
 var i=document.createElement('pre');
 i.textContent=row.textContent.trim()+'\nstate: '+(LEG[d.getAttribute('data-state')]||'')+'\nIOMMU group: '+(g?g.getAttribute('data-group'):'none')+'\nNUMA node: '+(nu?nu.getAttribute('data-numa'):'unknown');
 p.appendChild(i);
 if(fx){var c=document.createElement('pre');c.className='fxp';c.textContent='doctor: '+fx.textContent+'\n'+fx.getAttribute('title');p.appendChild(c);}
 else{var n=document.createElement('p');n.textContent='doctor did not check this device (it is not meant for passthrough).';p.appendChild(n);}
});
"#;

/// The legend, as HTML.
fn legend(s: &mut String) {
    s.push_str(r#"<div class="legend">"#);
    for st in State::ALL {
        let _ = write!(
            s,
            r#"<span><span class="sw" data-state="{c}"></span>{l}</span>"#,
            c = st.class(),
            l = esc(st.legend())
        );
    }
    s.push_str(r#"<span><span class="sw" style="border:1px dashed #7b1fa2"></span>IOMMU group</span><span>"#);
    for sev in [Severity::Pass, Severity::Warn, Severity::Fail] {
        let _ = write!(
            s,
            r#"<span class="badge sev-{}">{}</span>"#,
            sev.word().to_lowercase(),
            sev.word()
        );
    }
    s.push_str(
        " doctor's verdict (hover: the finding; click a device: the side panel)</span></div>\n",
    );
}

/// The topology as an HTML fragment (`<div class="topo">`), for a page or a report.
pub fn fragment(t: &Topology) -> String {
    let mut s = String::with_capacity(256 * t.device_count + 1024);
    s.push_str(r#"<div class="topo">"#);
    legend(&mut s);
    if t.numa.is_empty() {
        s.push_str(r#"<p class="muted">no device to draw</p>"#);
    }
    for numa in &t.numa {
        let _ = write!(
            s,
            r#"<section class="numa" data-numa="{}"><h3>{}</h3>"#,
            numa.key(),
            esc(&numa.title())
        );
        for bus in &numa.buses {
            let _ = write!(
                s,
                r#"<div class="bus" data-bus="{n}"><h4>{n}</h4>"#,
                n = esc(&bus.name)
            );
            runs(&mut s, &rows(bus));
            s.push_str("</div>\n");
        }
        s.push_str("</section>\n");
    }
    s.push_str("</div>\n");
    s
}

/// `style="--d:N"` (indentation), left out at depth 0: thousands of VF rows add up.
fn depth_style(d: usize) -> String {
    if d == 0 {
        String::new()
    } else {
        format!(r#" style="--d:{d}""#)
    }
}

fn runs(s: &mut String, rs: &[DepthRow]) {
    for (group, run) in group_runs(rs) {
        let min = run.iter().map(|r| r.depth).min().unwrap_or(0);
        if let Some(g) = group {
            let _ = write!(
                s,
                r#"<div class="grp" data-group="{g}"{}>"#,
                depth_style(min)
            );
        }
        let base = if group.is_some() { min } else { 0 };
        for r in run {
            match r.row {
                Row::Device(n) => device(s, n, r.depth - base),
                Row::Vfs(pf) => vfs(s, pf, r.depth - base),
            }
        }
        if group.is_some() {
            s.push_str("</div>");
        }
    }
}

fn device(s: &mut String, n: &Node, depth: usize) {
    let _ = write!(
        s,
        r#"<div class="dev" data-addr="{a}" data-state="{st}"{ds} tabindex="0"><b>{a}</b> {label} [{ids}]"#,
        st = n.state.class(),
        ds = depth_style(depth),
        a = n.address,
        label = esc(&n.label),
        ids = n.ids,
    );
    if let Some(i) = n.vf_index {
        let _ = write!(s, " VF {i}");
    }
    if let Some((e, t)) = n.sriov {
        let _ = write!(s, " SR-IOV {e}/{t}");
    }
    let _ = write!(
        s,
        r#" <i>{}</i>"#,
        esc(n.driver.as_deref().unwrap_or("no driver"))
    );
    if !n.netdevs.is_empty() {
        let _ = write!(s, " ({})", esc(&n.netdevs.join(", ")));
    }
    if !n.guests.is_empty() {
        let _ = write!(s, " guest {}", esc(&n.guests.join(", ")));
    }
    if let Some(b) = &n.badge {
        let w = b.severity.word();
        let _ = write!(
            s,
            r#"<span class="badge sev-{l}" data-severity="{l}" title="{t}">{w}</span>"#,
            l = w.to_lowercase(),
            t = esc(&b.hover())
        );
    }
    s.push_str("</div>\n");
}

fn vfs(s: &mut String, pf: &Node, depth: usize) {
    let Some(v) = &pf.vf_summary else { return };
    let _ = write!(
        s,
        r#"<details class="vfs" data-pf="{a}"><summary{ds}>{line}"#,
        a = pf.address,
        ds = depth_style(depth),
        line = esc(&v.line())
    );
    if let Some(w) = v.worst {
        let _ = write!(
            s,
            r#"<span class="badge sev-{}" data-severity="{}" title="worst verdict among these VFs">{}</span>"#,
            w.word().to_lowercase(),
            w.word().to_lowercase(),
            w.word()
        );
    }
    s.push_str("</summary>\n");
    let mut inner: Vec<DepthRow> = Vec::new();
    fn walk<'a>(n: &'a Node, depth: usize, out: &mut Vec<DepthRow<'a>>) {
        out.push(DepthRow {
            depth,
            row: Row::Device(n),
        });
        for c in &n.children {
            walk(c, depth + 1, out);
        }
    }
    for c in pf.children.iter().filter(|c| c.kind == Kind::Vf) {
        walk(c, depth, &mut inner);
    }
    runs(s, &inner);
    s.push_str("</details>\n");
}

/// The page head shared by the topology page and the report: charset, viewport, the
/// no-fetch policy, a title, and the given CSS.
pub fn head(title: &str, css: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{css}</style></head>\n",
        esc(title)
    )
}

const PAGE_CSS: &str = r#"
body{margin:12px;font:14px/1.4 system-ui,sans-serif}
.layout{display:grid;grid-template-columns:minmax(0,1fr) 340px;gap:12px;align-items:start}
@media print{.layout{display:block}.panel{display:none}.topo details.vfs{display:block}}
"#;

/// The topology as a standalone HTML page with the side panel.
pub fn page(t: &Topology) -> String {
    let mut s = head(&t.title(), &format!("{PAGE_CSS}{}", style()));
    let _ = write!(
        s,
        "<body><h1>{}</h1>\n<div class=\"layout\"><main>{}</main><aside id=\"panel\" class=\"panel\"><p>Click a device for what it is and doctor's findings.</p></aside></div>\n<script>{}</script>\n</body></html>\n",
        esc(&t.title()),
        fragment(t),
        script()
    );
    s
}
