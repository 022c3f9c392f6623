//! The SVG picture: a small, tested writer (the picture is rows of boxes, so a layout
//! engine would add a dependency and little else).
//!
//! Structure, which tests and scripts may rely on: `<g class="numa" data-numa="N">`
//! contains `<g class="bus">`, which contains one `<g class="group" data-group="G">`
//! per run of adjacent members of an IOMMU group (the dashed enclosure), which contains
//! `<g class="dev" data-addr="dddd:bb:ss.f" data-state="vfio|host-driver|no-driver|guest">`.
//! A doctor badge is `<g class="badge" data-severity="fail">` inside its device, and
//! every device and badge has a `<title>` (the hover text). Collapsed VFs are one
//! `<g class="vfs" data-pf="...">` whose `<title>` lists every VF address. Nothing is
//! fetched: no fonts (generic `monospace`), no scripts, no links.

use super::{
    group_runs, node_hover, node_line, rows, severity_colour, DepthRow, Node, Row, State, Topology,
};
use crate::checks::Severity;
use crate::libvirt::xml_escape as esc;
use std::fmt::Write as _;

const W: u32 = 1180;
const ROW: u32 = 24;
const BOX_H: u32 = 16;
const INDENT: u32 = 22;
const X0: u32 = 44;
/// Right edge of a device box; the group label and badge sit to its right.
const DEV_RIGHT: u32 = W - 200;
const GROUP_X: u32 = W - 190;
const BADGE_X: u32 = W - 96;

fn dev_x(depth: usize) -> u32 {
    X0 + depth as u32 * INDENT
}

/// The topology as a standalone SVG document.
pub fn render(t: &Topology) -> String {
    let mut body = String::new();
    let mut y = 10u32;
    let _ = writeln!(
        body,
        r#"<text class="title" x="12" y="{}" font-size="15" font-weight="bold">{}</text>"#,
        y + 14,
        esc(&t.title())
    );
    y += 26;
    legend(&mut body, y);
    y += 30;
    if t.numa.is_empty() {
        let _ = writeln!(
            body,
            r#"<text x="12" y="{}">no device to draw</text>"#,
            y + 14
        );
        y += ROW;
    }
    for numa in &t.numa {
        let top = y;
        let mut inner = String::new();
        y += ROW;
        for bus in &numa.buses {
            let btop = y;
            let mut b = String::new();
            y += ROW;
            let rs = rows(bus);
            links(&mut b, &rs, y);
            for (group, run) in group_runs(&rs) {
                y = group_run(&mut b, group, run, y);
            }
            let _ = writeln!(
                inner,
                r#"<g class="bus" data-bus="{name}"><rect class="bus-box" x="24" y="{btop}" width="{w}" height="{h}" rx="4"/><text x="30" y="{ty}" font-weight="bold">{name}</text>"#,
                name = esc(&bus.name),
                w = W - 36,
                h = y - btop + 4,
                ty = btop + 16
            );
            inner.push_str(&b);
            inner.push_str("</g>\n");
            y += 8;
        }
        let _ = writeln!(
            body,
            r#"<g class="numa" data-numa="{key}"><rect class="numa-box" x="8" y="{top}" width="{w}" height="{h}" rx="6"/><text x="14" y="{ty}" font-weight="bold" font-size="13">{title}</text>"#,
            key = numa.key(),
            w = W - 16,
            h = y - top + 4,
            ty = top + 17,
            title = esc(&numa.title())
        );
        body.push_str(&inner);
        body.push_str("</g>\n");
        y += 12;
    }
    let h = y + 10;
    let mut s = String::with_capacity(body.len() + 2048);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="topo" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="monospace" font-size="12">"#
    );
    let _ = writeln!(s, "<title>{}</title>", esc(&t.title()));
    s.push_str(STYLE);
    s.push_str(&body);
    s.push_str("</svg>\n");
    s
}

const STYLE: &str = "<style>\
.numa-box{fill:#fafafa;stroke:#555;stroke-width:1.5}\
.bus-box{fill:#fff;stroke:#999}\
.encl{fill:none;stroke:#7b1fa2;stroke-dasharray:4 3}\
.glabel{fill:#7b1fa2}\
.dev rect.box{stroke:#444}\
.vfs rect.box{fill:#fff;stroke:#444;stroke-dasharray:2 2}\
.links{fill:none;stroke:#888}\
.badge text{fill:#fff;font-weight:bold}\
</style>\n";

fn legend(s: &mut String, y: u32) {
    let _ = write!(s, r#"<g class="legend">"#);
    let mut x = 12u32;
    for st in State::ALL {
        let _ = write!(
            s,
            r##"<g class="legend-state" data-state="{c}"><rect x="{x}" y="{y}" width="14" height="14" fill="{f}" stroke="#444"/><text x="{tx}" y="{ty}">{l}</text></g>"##,
            c = st.class(),
            f = st.fill(),
            tx = x + 19,
            ty = y + 11,
            l = esc(st.legend())
        );
        x += 32 + 8 * st.legend().len() as u32;
    }
    let _ = write!(
        s,
        r#"<rect class="encl" x="{x}" y="{y}" width="30" height="14"/><text x="{tx}" y="{ty}">IOMMU group</text>"#,
        tx = x + 36,
        ty = y + 11
    );
    x += 36 + 7 * 13;
    for sev in [Severity::Pass, Severity::Warn, Severity::Fail] {
        badge_shape(s, x, y, sev);
        x += 48;
    }
    let _ = writeln!(
        s,
        r#"<text x="{x}" y="{ty}">doctor's verdict (hover for the finding)</text></g>"#,
        ty = y + 11
    );
}

fn badge_shape(s: &mut String, x: u32, y: u32, sev: Severity) {
    let _ = write!(
        s,
        r#"<rect x="{x}" y="{y}" width="40" height="14" rx="7" fill="{c}"/><text x="{tx}" y="{ty}" text-anchor="middle" font-size="10">{w}</text>"#,
        c = severity_colour(sev),
        tx = x + 20,
        ty = y + 11,
        w = sev.word()
    );
}

/// Tree lines from each row to its parent row (the nearest row above one level up).
fn links(s: &mut String, rs: &[DepthRow], y0: u32) {
    let mut d = String::new();
    for (i, r) in rs.iter().enumerate() {
        if r.depth == 0 {
            continue;
        }
        let Some(p) = rs[..i].iter().rposition(|q| q.depth + 1 == r.depth) else {
            continue;
        };
        let px = dev_x(r.depth - 1) + 8;
        let py = y0 + p as u32 * ROW + BOX_H;
        let cy = y0 + i as u32 * ROW + BOX_H / 2;
        let _ = write!(d, "M{px} {py}V{cy}H{}", dev_x(r.depth));
    }
    if !d.is_empty() {
        let _ = writeln!(s, r#"<path class="links" d="{d}"/>"#);
    }
}

fn group_run(s: &mut String, group: Option<u32>, run: &[DepthRow], mut y: u32) -> u32 {
    let min_x = run.iter().map(|r| dev_x(r.depth)).min().unwrap_or(X0);
    let top = y;
    let mut inner = String::new();
    for r in run {
        match r.row {
            Row::Device(n) => device(&mut inner, n, dev_x(r.depth), y),
            Row::Vfs(pf) => vfs(&mut inner, pf, dev_x(r.depth), y),
        }
        y += ROW;
    }
    match group {
        Some(g) => {
            let _ = write!(
                s,
                r#"<g class="group" data-group="{g}"><rect class="encl" x="{x}" y="{ry}" width="{w}" height="{h}" rx="3"/><text class="glabel" x="{GROUP_X}" y="{ty}">group {g}</text>"#,
                x = min_x - 4,
                ry = top - 3,
                w = W - 28 - min_x,
                h = y - top - ROW + BOX_H + 6,
                ty = top + 12
            );
            s.push_str(&inner);
            s.push_str("</g>\n");
        }
        None => s.push_str(&inner),
    }
    y
}

fn device(s: &mut String, n: &Node, x: u32, y: u32) {
    let _ = write!(
        s,
        r#"<g class="dev" data-addr="{a}" data-state="{st}"><title>{t}</title><rect class="box" x="{x}" y="{y}" width="{w}" height="{BOX_H}" rx="3" fill="{f}"/><text x="{tx}" y="{ty}">{l}</text>"#,
        a = n.address,
        st = n.state.class(),
        t = esc(&node_hover(n)),
        w = DEV_RIGHT.saturating_sub(x).max(120),
        f = n.state.fill(),
        tx = x + 5,
        ty = y + 12,
        l = esc(&node_line(n))
    );
    if let Some(b) = &n.badge {
        let _ = write!(
            s,
            r#"<g class="badge" data-severity="{c}"><title>{t}</title>"#,
            c = b.severity.word().to_lowercase(),
            t = esc(&b.hover())
        );
        badge_shape(s, BADGE_X, y + 1, b.severity);
        s.push_str("</g>");
    }
    s.push_str("</g>\n");
}

fn vfs(s: &mut String, pf: &Node, x: u32, y: u32) {
    let Some(v) = &pf.vf_summary else { return };
    let addrs: Vec<String> = pf
        .children
        .iter()
        .filter(|c| c.kind == super::Kind::Vf)
        .map(|c| c.address.to_string())
        .collect();
    let _ = write!(
        s,
        r#"<g class="vfs" data-pf="{a}"><title>{line} (VFs of {a}: {list})</title><rect class="box" x="{x}" y="{y}" width="{w}" height="{BOX_H}" rx="3"/><text x="{tx}" y="{ty}">{line}</text>"#,
        a = pf.address,
        line = esc(&v.line()),
        list = addrs.join(" "),
        w = DEV_RIGHT.saturating_sub(x).max(120),
        tx = x + 5,
        ty = y + 12,
    );
    if let Some(w) = v.worst {
        let _ = write!(
            s,
            r#"<g class="badge" data-severity="{c}"><title>worst verdict among these VFs: {word}</title>"#,
            c = w.word().to_lowercase(),
            word = w.word()
        );
        badge_shape(s, BADGE_X, y + 1, w);
        s.push_str("</g>");
    }
    s.push_str("</g>\n");
}
