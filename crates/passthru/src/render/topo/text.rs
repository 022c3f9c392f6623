//! The terminal picture: a Unicode tree, one function per line, with its IOMMU group
//! and doctor's verdict.

use super::{node_line, Kind, Node, Topology};

/// The tree as text.
pub fn render(t: &Topology) -> String {
    let mut s = format!("{}\n", t.title());
    if t.numa.is_empty() {
        s.push_str("(no device to draw)\n");
    }
    for numa in &t.numa {
        s.push_str(&format!("{}\n", numa.title()));
        for (bi, bus) in numa.buses.iter().enumerate() {
            let last_bus = bi + 1 == numa.buses.len();
            s.push_str(&format!(
                "{}{}\n",
                if last_bus { "└─ " } else { "├─ " },
                bus.name
            ));
            let pre = if last_bus { "   " } else { "│  " };
            for (i, n) in bus.nodes.iter().enumerate() {
                node(&mut s, n, pre, i + 1 == bus.nodes.len());
            }
        }
    }
    s.push_str("Legend: state is the driver (vfio-pci, a host driver, no driver) or `guest NAME`;\n        [PASS]/[WARN]/[FAIL] is doctor's verdict on devices it checked.\n");
    s
}

fn node(s: &mut String, n: &Node, pre: &str, last: bool) {
    s.push_str(pre);
    s.push_str(if last { "└─ " } else { "├─ " });
    s.push_str(&node_line(n));
    if let Some(g) = n.group {
        s.push_str(&format!(" · group {g}"));
    }
    if let Some(b) = &n.badge {
        s.push_str(&format!(" [{}]", b.severity.word()));
    }
    s.push('\n');
    let pre = format!("{pre}{}", if last { "   " } else { "│  " });
    let shown: Vec<&Node> = n
        .children
        .iter()
        .filter(|c| n.vf_summary.is_none() || c.kind != Kind::Vf)
        .collect();
    let extra = usize::from(n.vf_summary.is_some());
    for (i, c) in shown.iter().enumerate() {
        node(s, c, &pre, i + 1 == shown.len() && extra == 0);
    }
    if let Some(v) = &n.vf_summary {
        s.push_str(&format!("{pre}└─ {}", v.line()));
        if let Some(w) = v.worst {
            s.push_str(&format!(" [worst {}]", w.word()));
        }
        s.push('\n');
    }
}
