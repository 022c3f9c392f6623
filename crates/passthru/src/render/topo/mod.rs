//! The topology picture of `passthru topo`: NUMA nodes -> PCI root buses -> root
//! ports and switches -> devices -> VFs, with IOMMU groups, the state of each device
//! and doctor's verdict on it.
//!
//! [`build`] turns facts and doctor's findings into a [`Topology`] (a pure tree); the
//! writers ([`text`], [`svg`], [`dot`], [`html`]) turn that tree into a picture. They
//! all read the same tree, so every format shows the same devices, groups and badges.

pub mod dot;
pub mod html;
pub mod svg;
pub mod text;

use crate::checks::{Finding, Severity};
use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A PF with more VFs than this has them drawn as one summary row by default.
pub const DEFAULT_COLLAPSE_OVER: usize = 16;

/// What to draw.
#[derive(Clone, Debug)]
pub struct TopoOptions {
    /// Only the part around these devices: their upstream chain, their VFs, and the
    /// members of their IOMMU groups.
    pub devices: Vec<PciAddress>,
    /// Only this NUMA node (`None`: every node).
    pub numa: Option<u32>,
    /// Collapse a PF's VFs into one row when it has more than this many.
    pub collapse_over: usize,
}

impl Default for TopoOptions {
    fn default() -> Self {
        TopoOptions {
            devices: Vec::new(),
            numa: None,
            collapse_over: DEFAULT_COLLAPSE_OVER,
        }
    }
}

/// Why a topology cannot be drawn as asked.
#[derive(Debug, thiserror::Error)]
pub enum TopoError {
    /// `--numa N` names a node the host does not have.
    #[error("the host has no NUMA node {asked} (it has: {known}); pick one of those with --numa")]
    NoSuchNode {
        /// The node asked for.
        asked: u32,
        /// The nodes the host has, as a list for the message.
        known: String,
    },
}

/// What a device is doing now; the colour it is drawn in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Bound to vfio-pci: ready for a guest.
    Vfio,
    /// Bound to a host driver.
    HostDriver,
    /// No driver bound.
    NoDriver,
    /// A running libvirt guest holds it.
    Guest,
}

impl State {
    /// Every state, in legend order.
    pub const ALL: [State; 4] = [
        State::Vfio,
        State::HostDriver,
        State::NoDriver,
        State::Guest,
    ];

    /// The stable class name (`vfio`, `host-driver`, `no-driver`, `guest`).
    pub fn class(self) -> &'static str {
        match self {
            State::Vfio => "vfio",
            State::HostDriver => "host-driver",
            State::NoDriver => "no-driver",
            State::Guest => "guest",
        }
    }

    /// The legend's words.
    pub fn legend(self) -> &'static str {
        match self {
            State::Vfio => "on vfio-pci",
            State::HostDriver => "on a host driver",
            State::NoDriver => "no driver",
            State::Guest => "a running guest holds it",
        }
    }

    /// Fill colour (light, so black text stays readable; distinct in greyscale too).
    pub fn fill(self) -> &'static str {
        match self {
            State::Vfio => "#c8f0c8",
            State::HostDriver => "#d6e4ff",
            State::NoDriver => "#eeeeee",
            State::Guest => "#ffd9a8",
        }
    }

    /// The state of a device: a running guest's hold wins over the driver.
    pub fn of(d: &PciDevice, held_by_running_guest: bool) -> State {
        if held_by_running_guest {
            State::Guest
        } else if d.on_vfio() {
            State::Vfio
        } else if d.driver.is_some() {
            State::HostDriver
        } else {
            State::NoDriver
        }
    }
}

/// Badge colour of a severity.
pub fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Pass => "#2e7d32",
        Severity::Info => "#546e7a",
        Severity::Warn => "#b26a00",
        Severity::Fail => "#c62828",
    }
}

/// One line of a badge: a doctor finding about the device.
#[derive(Clone, Debug, Serialize)]
pub struct BadgeLine {
    /// Check id.
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// What was checked.
    pub check: String,
    /// What was found.
    pub message: String,
    /// The fix, for findings that are not PASS.
    pub fix: Option<String>,
}

/// Doctor's verdict on one device: the worst of its findings.
#[derive(Clone, Debug, Serialize)]
pub struct Badge {
    /// Worst severity.
    pub severity: Severity,
    /// Every finding about the device, in doctor's order.
    pub findings: Vec<BadgeLine>,
}

impl Badge {
    /// The hover text: one line per finding, not-PASS ones with their fix.
    pub fn hover(&self) -> String {
        let mut s = String::new();
        for l in &self.findings {
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(&format!("{} {}: {}", l.severity.word(), l.check, l.message));
            if let Some(f) = &l.fix {
                s.push_str(&format!("\n  fix: {}", f.replace('\n', "\n       ")));
            }
        }
        s
    }
}

/// What a node of the tree is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A root port, switch port or other bridge.
    Bridge,
    /// An SR-IOV physical function.
    Pf,
    /// An SR-IOV virtual function.
    Vf,
    /// Any other endpoint.
    Device,
}

/// One PCI function in the tree.
#[derive(Clone, Debug, Serialize)]
pub struct Node {
    /// Address.
    pub address: PciAddress,
    /// What it is.
    pub kind: Kind,
    /// Human label (device name).
    pub label: String,
    /// `vendor:device`.
    pub ids: String,
    /// Class name.
    pub class: String,
    /// Driver bound now.
    pub driver: Option<String>,
    /// Network interfaces.
    pub netdevs: Vec<String>,
    /// IOMMU group.
    pub group: Option<u32>,
    /// NUMA node.
    pub numa: Option<u32>,
    /// VF index on its PF (VFs).
    pub vf_index: Option<u32>,
    /// `enabled/total` VFs (PFs).
    pub sriov: Option<(u32, u32)>,
    /// State (the colour).
    pub state: State,
    /// libvirt domains given the device (`name (running)`).
    pub guests: Vec<String>,
    /// Doctor's verdict, when doctor looked at the device.
    pub badge: Option<Badge>,
    /// Functions below it (VFs of a PF come last, in VF order).
    pub children: Vec<Node>,
    /// When the VFs are collapsed: their summary (the VFs stay in `children`).
    pub vf_summary: Option<VfSummary>,
}

/// A PF's VFs drawn as one row: `128 VFs: 16 vfio-pci, 112 iavf; groups 3-130`.
#[derive(Clone, Debug, Serialize)]
pub struct VfSummary {
    /// How many VFs.
    pub count: usize,
    /// Drivers with counts, most common first (`unbound` for none).
    pub drivers: Vec<(String, usize)>,
    /// The VFs' IOMMU groups, as ranges.
    pub groups: Vec<(u32, u32)>,
    /// The worst doctor verdict among the VFs.
    pub worst: Option<Severity>,
}

impl VfSummary {
    /// The row's text.
    pub fn line(&self) -> String {
        let drivers: Vec<String> = self
            .drivers
            .iter()
            .map(|(d, n)| format!("{n} {d}"))
            .collect();
        let mut s = format!(
            "{} VF{}: {}",
            self.count,
            if self.count == 1 { "" } else { "s" },
            drivers.join(", ")
        );
        if !self.groups.is_empty() {
            let g: Vec<String> = self
                .groups
                .iter()
                .map(|(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect();
            s.push_str(&format!(
                "; group{} {}",
                if self.groups.len() == 1 && self.groups[0].0 == self.groups[0].1 {
                    ""
                } else {
                    "s"
                },
                g.join(",")
            ));
        }
        s
    }
}

/// A PCI root bus (`pci0000:00`, what sysfs calls a host bridge's bus) and what
/// hangs below it.
#[derive(Clone, Debug, Serialize)]
pub struct Bus {
    /// `pci0000:00`.
    pub name: String,
    /// Top-level functions.
    pub nodes: Vec<Node>,
}

/// A NUMA node and its buses.
#[derive(Clone, Debug, Serialize)]
pub struct Numa {
    /// Node number; `None` for devices whose node the kernel does not know.
    pub id: Option<u32>,
    /// Its CPUs, as the kernel prints them.
    pub cpulist: Option<String>,
    /// Root buses with devices on this node.
    pub buses: Vec<Bus>,
}

impl Numa {
    /// The heading: `NUMA node 0 (CPUs 0-11)`.
    pub fn title(&self) -> String {
        match (self.id, &self.cpulist) {
            (Some(n), Some(c)) => format!("NUMA node {n} (CPUs {c})"),
            (Some(n), None) => format!("NUMA node {n}"),
            (None, _) => "NUMA node unknown".to_string(),
        }
    }

    /// The stable data value: the node number, or `unknown`.
    pub fn key(&self) -> String {
        self.id.map_or("unknown".to_string(), |n| n.to_string())
    }
}

/// The whole picture.
#[derive(Clone, Debug, Serialize)]
pub struct Topology {
    /// Host name, when known.
    pub hostname: Option<String>,
    /// NUMA nodes in order (unknown last).
    pub numa: Vec<Numa>,
    /// How many functions are drawn.
    pub device_count: usize,
    /// What was left out (`--device`, `--numa`), for the caption.
    pub scope: Option<String>,
}

impl Topology {
    /// Every node, depth first.
    pub fn nodes(&self) -> Vec<&Node> {
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a Node>) {
            out.push(n);
            for c in &n.children {
                walk(c, out);
            }
        }
        let mut out = Vec::new();
        for numa in &self.numa {
            for b in &numa.buses {
                for n in &b.nodes {
                    walk(n, &mut out);
                }
            }
        }
        out
    }

    /// The caption: host name and scope.
    pub fn title(&self) -> String {
        let mut s = format!(
            "{}: PCI topology",
            self.hostname.as_deref().unwrap_or("host")
        );
        if let Some(sc) = &self.scope {
            s.push_str(&format!(" ({sc})"));
        }
        s
    }
}

/// The tree parent of a device: a VF hangs below its PF, anything else below its
/// upstream bridge.
fn tree_parent(host: &Host, d: &PciDevice) -> Option<PciAddress> {
    d.physfn
        .or(d.parent)
        .filter(|p| *p != d.address && host.device(p).is_some())
}

/// Top-level functions by root bus (domain, bus number).
type BusMap = BTreeMap<(u32, u8), Vec<Node>>;

/// Builds the tree from facts and doctor's findings.
pub fn build(host: &Host, findings: &[Finding], opts: &TopoOptions) -> Result<Topology, TopoError> {
    if let Some(n) = opts.numa {
        let mut known: Vec<u32> = host.numa_nodes.iter().map(|x| x.id).collect();
        known.extend(host.devices.iter().filter_map(|d| d.numa_node));
        known.sort_unstable();
        known.dedup();
        if !known.contains(&n) {
            let list: Vec<String> = known.iter().map(u32::to_string).collect();
            return Err(TopoError::NoSuchNode {
                asked: n,
                known: if list.is_empty() {
                    "none known".into()
                } else {
                    list.join(", ")
                },
            });
        }
    }
    let mut by_device: HashMap<PciAddress, Vec<&Finding>> = HashMap::new();
    for f in findings {
        if let Some(a) = f.device {
            by_device.entry(a).or_default().push(f);
        }
    }
    let mut guests: HashMap<PciAddress, Vec<(String, bool)>> = HashMap::new();
    for g in host.system.libvirt_domains.iter().flatten() {
        for a in &g.devices {
            guests
                .entry(*a)
                .or_default()
                .push((g.name.clone(), g.running));
        }
    }
    let mut children: HashMap<PciAddress, Vec<&PciDevice>> = HashMap::new();
    let mut roots: Vec<&PciDevice> = Vec::new();
    for d in &host.devices {
        match tree_parent(host, d) {
            Some(p) => children.entry(p).or_default().push(d),
            None => roots.push(d),
        }
    }
    // VFs after the other children, in VF order.
    for v in children.values_mut() {
        v.sort_by_key(|d| (d.is_vf(), d.vf_index.unwrap_or(0), d.address));
    }
    let keep = scope_set(host, &children, &opts.devices);
    let b = Builder {
        children: &children,
        by_device: &by_device,
        guests: &guests,
        keep: keep.as_ref(),
        opts,
    };
    let mut numa: BTreeMap<Option<u32>, BusMap> = BTreeMap::new();
    for r in roots {
        let Some(node) = b.node(r) else { continue };
        let nid = subtree_numa(&node);
        if opts.numa.is_some() && nid != opts.numa {
            continue;
        }
        numa.entry(nid)
            .or_default()
            .entry((r.address.domain, r.address.bus))
            .or_default()
            .push(node);
    }
    // Every known node is drawn (even with nothing on it), unless one was asked for.
    for n in &host.numa_nodes {
        if opts.numa.is_none_or(|a| a == n.id) && keep.is_none() {
            numa.entry(Some(n.id)).or_default();
        }
    }
    let mut out: Vec<Numa> = numa
        .into_iter()
        .map(|(id, buses)| Numa {
            id,
            cpulist: id.and_then(|i| {
                host.numa_nodes
                    .iter()
                    .find(|n| n.id == i)
                    .map(|n| n.cpulist.clone())
            }),
            buses: buses
                .into_iter()
                .map(|((dom, bus), nodes)| Bus {
                    name: format!("pci{dom:04x}:{bus:02x}"),
                    nodes,
                })
                .collect(),
        })
        .collect();
    // BTreeMap puts None first; unknown reads better last.
    out.sort_by_key(|n| (n.id.is_none(), n.id));
    let mut scope = Vec::new();
    if !opts.devices.is_empty() {
        let d: Vec<String> = opts.devices.iter().map(|a| a.to_string()).collect();
        scope.push(format!("around {}", d.join(", ")));
    }
    if let Some(n) = opts.numa {
        scope.push(format!("NUMA node {n} only"));
    }
    let mut t = Topology {
        hostname: host.hostname.clone(),
        numa: out,
        device_count: 0,
        scope: (!scope.is_empty()).then(|| scope.join(", ")),
    };
    t.device_count = t.nodes().len();
    Ok(t)
}

/// The NUMA node a subtree is drawn under: its top function's, else the first known
/// below it.
fn subtree_numa(n: &Node) -> Option<u32> {
    n.numa.or_else(|| n.children.iter().find_map(subtree_numa))
}

/// With `--device`: the devices, everything below them, their upstream chain, and
/// the members of their IOMMU groups with theirs. `None` draws everything.
fn scope_set(
    host: &Host,
    children: &HashMap<PciAddress, Vec<&PciDevice>>,
    devices: &[PciAddress],
) -> Option<std::collections::HashSet<PciAddress>> {
    if devices.is_empty() {
        return None;
    }
    let mut keep = std::collections::HashSet::new();
    let add_up = |a: PciAddress, keep: &mut std::collections::HashSet<PciAddress>| {
        let mut cur = Some(a);
        // Bounded by the number of devices: a parent loop in bad facts cannot spin.
        for _ in 0..=host.devices.len() {
            let Some(c) = cur else { break };
            if !keep.insert(c) {
                break;
            }
            cur = host.device(&c).and_then(|d| tree_parent(host, d));
        }
    };
    for a in devices {
        add_up(*a, &mut keep);
        let mut stack = vec![*a];
        while let Some(c) = stack.pop() {
            for ch in children.get(&c).into_iter().flatten() {
                if keep.insert(ch.address) {
                    stack.push(ch.address);
                }
            }
        }
        if let Some(g) = host
            .device(a)
            .and_then(|d| d.iommu_group)
            .and_then(|n| host.group(n))
        {
            for m in &g.devices {
                add_up(*m, &mut keep);
            }
        }
    }
    Some(keep)
}

struct Builder<'a> {
    children: &'a HashMap<PciAddress, Vec<&'a PciDevice>>,
    by_device: &'a HashMap<PciAddress, Vec<&'a Finding>>,
    guests: &'a HashMap<PciAddress, Vec<(String, bool)>>,
    keep: Option<&'a std::collections::HashSet<PciAddress>>,
    opts: &'a TopoOptions,
}

impl Builder<'_> {
    fn node(&self, d: &PciDevice) -> Option<Node> {
        if self.keep.is_some_and(|k| !k.contains(&d.address)) {
            return None;
        }
        let held = self.guests.get(&d.address);
        let running = held.is_some_and(|v| v.iter().any(|(_, r)| *r));
        let badge = self.by_device.get(&d.address).map(|fs| Badge {
            severity: fs
                .iter()
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Pass),
            findings: fs
                .iter()
                .map(|f| BadgeLine {
                    id: f.id,
                    severity: f.severity,
                    check: f.check.clone(),
                    message: f.message.clone(),
                    fix: f.fix.clone(),
                })
                .collect(),
        });
        let children: Vec<Node> = self
            .children
            .get(&d.address)
            .into_iter()
            .flatten()
            .filter_map(|c| self.node(c))
            .collect();
        let vfs: Vec<&Node> = children.iter().filter(|c| c.kind == Kind::Vf).collect();
        let vf_summary = (vfs.len() > self.opts.collapse_over).then(|| summarise(&vfs));
        Some(Node {
            address: d.address,
            kind: if d.is_vf() {
                Kind::Vf
            } else if d.is_pf() {
                Kind::Pf
            } else if d.is_bridge() {
                Kind::Bridge
            } else {
                Kind::Device
            },
            label: d.label(),
            ids: d.id_pair(),
            class: d.class_label(),
            driver: d.driver.clone(),
            netdevs: d.netdevs.clone(),
            group: d.iommu_group,
            numa: d.numa_node,
            vf_index: d.vf_index,
            sriov: d.sriov.as_ref().map(|s| (s.num_vfs, s.total_vfs)),
            state: State::of(d, running),
            guests: held
                .into_iter()
                .flatten()
                .map(|(n, r)| format!("{n} ({})", if *r { "running" } else { "shut off" }))
                .collect(),
            badge,
            children,
            vf_summary,
        })
    }
}

fn summarise(vfs: &[&Node]) -> VfSummary {
    let mut drivers: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: Vec<u32> = Vec::new();
    for v in vfs {
        *drivers
            .entry(v.driver.clone().unwrap_or_else(|| "unbound".into()))
            .or_default() += 1;
        groups.extend(v.group);
    }
    groups.sort_unstable();
    groups.dedup();
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for g in groups {
        match ranges.last_mut() {
            Some((_, hi)) if *hi + 1 == g => *hi = g,
            _ => ranges.push((g, g)),
        }
    }
    let mut drivers: Vec<(String, usize)> = drivers.into_iter().collect();
    drivers.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    VfSummary {
        count: vfs.len(),
        drivers,
        groups: ranges,
        worst: vfs
            .iter()
            .filter_map(|v| v.badge.as_ref())
            .map(|b| b.severity)
            .max(),
    }
}

/// A row of a drawing: one function at a depth, or a collapsed VF summary.
#[derive(Clone, Copy, Debug)]
pub enum Row<'a> {
    /// A function.
    Device(&'a Node),
    /// A PF's collapsed VFs (the PF).
    Vfs(&'a Node),
}

impl<'a> Row<'a> {
    /// The IOMMU group the row is enclosed in (a collapsed row has none of its own).
    pub fn group(&self) -> Option<u32> {
        match self {
            Row::Device(n) => n.group,
            Row::Vfs(_) => None,
        }
    }
}

/// A row with its depth below the bus.
#[derive(Clone, Copy, Debug)]
pub struct DepthRow<'a> {
    /// Depth (0: on the root bus).
    pub depth: usize,
    /// The row.
    pub row: Row<'a>,
}

/// The rows of a bus, depth first; a PF with collapsed VFs gives one summary row
/// instead of its VFs (other children still get their own rows).
pub fn rows(bus: &Bus) -> Vec<DepthRow<'_>> {
    fn walk<'a>(n: &'a Node, depth: usize, out: &mut Vec<DepthRow<'a>>) {
        out.push(DepthRow {
            depth,
            row: Row::Device(n),
        });
        let collapsed = n.vf_summary.is_some();
        for c in &n.children {
            if !(collapsed && c.kind == Kind::Vf) {
                walk(c, depth + 1, out);
            }
        }
        if collapsed {
            out.push(DepthRow {
                depth: depth + 1,
                row: Row::Vfs(n),
            });
        }
    }
    let mut out = Vec::new();
    for n in &bus.nodes {
        walk(n, 0, &mut out);
    }
    out
}

/// Splits rows into runs of consecutive rows in the same IOMMU group: each run is
/// drawn inside one enclosure (a group whose members are not adjacent gets one
/// enclosure per run, each labelled with the group).
pub fn group_runs<'r, 'a>(rows: &'r [DepthRow<'a>]) -> Vec<(Option<u32>, &'r [DepthRow<'a>])> {
    let mut out: Vec<(Option<u32>, &'r [DepthRow<'a>])> = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        if i == rows.len() || rows[i].row.group() != rows[start].row.group() {
            out.push((rows[start].row.group(), &rows[start..i]));
            start = i;
        }
    }
    out
}

/// The one-line description of a function used by every writer:
/// `0000:07:10.7 I350 Ethernet Controller Virtual Function [8086:1520] vfio-pci`.
pub fn node_line(n: &Node) -> String {
    let mut s = format!("{} {} [{}]", n.address, n.label, n.ids);
    if let Some(i) = n.vf_index {
        s.push_str(&format!(" VF {i}"));
    }
    if let Some((e, t)) = n.sriov {
        s.push_str(&format!(" SR-IOV {e}/{t} VFs"));
    }
    s.push_str(&format!(" {}", n.driver.as_deref().unwrap_or("no driver")));
    if !n.netdevs.is_empty() {
        s.push_str(&format!(" ({})", n.netdevs.join(", ")));
    }
    if !n.guests.is_empty() {
        s.push_str(&format!(" guest {}", n.guests.join(", ")));
    }
    s
}

/// The tooltip of a function: what it is, its state, group, node and findings.
pub fn node_hover(n: &Node) -> String {
    let mut s = format!(
        "{}\n{}; {}; IOMMU group {}; NUMA node {}",
        node_line(n),
        n.class,
        n.state.legend(),
        n.group.map_or("none".into(), |g| g.to_string()),
        n.numa.map_or("unknown".into(), |g| g.to_string())
    );
    if let Some(b) = &n.badge {
        s.push_str(&format!("\ndoctor: {}\n{}", b.severity.word(), b.hover()));
    }
    s
}

#[cfg(test)]
mod tests;
