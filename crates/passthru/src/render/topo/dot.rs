//! Graphviz DOT: NUMA nodes and IOMMU groups as clusters, root buses and functions
//! as nodes, edges from each function to what hangs below it. `dot -Tsvg` lays it out.

use super::{node_line, Kind, Node, Topology};
use std::fmt::Write as _;

/// Quotes a DOT string (`"` and `\` escaped; newlines as DOT's `\n`).
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn id(n: &Node) -> String {
    q(&n.address.to_string())
}

/// The topology as a DOT digraph.
pub fn render(t: &Topology) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "digraph topology {{");
    let _ = writeln!(
        s,
        "  graph [rankdir=LR, label={}, labelloc=t, fontname=monospace];",
        q(&t.title())
    );
    let _ = writeln!(
        s,
        "  node [shape=box, style=\"rounded,filled\", fontname=monospace, fontsize=10];"
    );
    let mut edges = String::new();
    for (ni, numa) in t.numa.iter().enumerate() {
        let _ = writeln!(s, "  subgraph cluster_numa_{ni} {{");
        let _ = writeln!(
            s,
            "    label={}; style=solid; color=\"#555555\";",
            q(&numa.title())
        );
        for bus in &numa.buses {
            let _ = writeln!(
                s,
                "    {} [shape=folder, fillcolor=\"#ffffff\"];",
                q(&bus.name)
            );
            // Every function of this NUMA section, grouped by IOMMU group.
            let mut by_group: std::collections::BTreeMap<Option<u32>, Vec<String>> =
                Default::default();
            for n in &bus.nodes {
                let _ = writeln!(edges, "  {} -> {};", q(&bus.name), id(n));
                walk(n, &mut by_group, &mut edges);
            }
            for (g, members) in by_group {
                match g {
                    Some(g) => {
                        let _ = writeln!(
                            s,
                            "    subgraph cluster_group_{g}_{ni} {{ label=\"group {g}\"; style=dashed; color=\"#7b1fa2\";"
                        );
                        for m in members {
                            let _ = writeln!(s, "      {m}");
                        }
                        let _ = writeln!(s, "    }}");
                    }
                    None => {
                        for m in members {
                            let _ = writeln!(s, "    {m}");
                        }
                    }
                }
            }
        }
        let _ = writeln!(s, "  }}");
    }
    s.push_str(&edges);
    let _ = writeln!(s, "}}");
    s
}

fn walk(
    n: &Node,
    by_group: &mut std::collections::BTreeMap<Option<u32>, Vec<String>>,
    edges: &mut String,
) {
    let mut label = node_line(n);
    if let Some(b) = &n.badge {
        label.push_str(&format!("\n[{}]", b.severity.word()));
    }
    let tooltip = super::node_hover(n);
    by_group.entry(n.group).or_default().push(format!(
        "{} [label={}, tooltip={}, fillcolor=\"{}\"{}];",
        id(n),
        q(&label),
        q(&tooltip),
        n.state.fill(),
        n.badge
            .as_ref()
            .map(|b| format!(
                ", color=\"{}\", penwidth=2",
                super::severity_colour(b.severity)
            ))
            .unwrap_or_default()
    ));
    for c in &n.children {
        if n.vf_summary.is_some() && c.kind == Kind::Vf {
            continue;
        }
        let _ = writeln!(edges, "  {} -> {};", id(n), id(c));
        walk(c, by_group, edges);
    }
    if let Some(v) = &n.vf_summary {
        let vid = q(&format!("{} VFs", n.address));
        by_group.entry(None).or_default().push(format!(
            "{vid} [label={}, shape=note, fillcolor=\"#ffffff\"];",
            q(&v.line())
        ));
        let _ = writeln!(edges, "  {} -> {vid};", id(n));
    }
}
