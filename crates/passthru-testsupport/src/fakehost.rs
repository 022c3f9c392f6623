//! Writes a [`HostSpec`] as a kernel-faithful tree under a root directory: what
//! `sys/`, `proc/` and `dev/vfio/` look like on a real host with those devices, so
//! that both passthru and the real `lspci -A linux-sysfs` can read it.
//!
//! Faithful means: device directories nested under `sys/devices/pciDDDD:BB/` and their
//! bridges, relative symlinks computed the way kernfs computes them, attribute formats
//! of `drivers/pci/pci-sysfs.c` and `iov.c`, a binary `config` that agrees with the
//! attribute files, VFs where offset and stride put them (in the PF's parent
//! directory, as `pci_iov_add_virtfn()` does). See `shared/reference/sysfs-and-lspci.md`.

use crate::config_space::{speed_string, ConfigParams, ConfigSpace};
use crate::spec::{BarKind, BarSpec, Bdf, DeviceSpec, HostSpec, LinkSpec, PortType};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Errors from writing a fake host.
#[derive(Debug, thiserror::Error)]
pub enum FakeHostError {
    /// The spec is inconsistent (duplicate address, missing parent bridge, ...).
    #[error("bad host spec: {0}")]
    Spec(String),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No scenario by that name.
    #[error("unknown scenario '{0}' (known: i350, two-socket, parametric:PxV)")]
    UnknownScenario(String),
}

type Result<T> = std::result::Result<T, FakeHostError>;

/// A fake host: a spec, and the means to write it into a directory.
#[derive(Clone, Debug, Default)]
pub struct FakeHost {
    /// What the host has.
    pub spec: HostSpec,
}

/// One function after VF expansion.
#[derive(Clone, Debug)]
pub struct Function {
    /// Everything about it (VFs are synthesised from their PF).
    pub spec: DeviceSpec,
    /// For a VF: its PF and index.
    pub physfn: Option<(Bdf, u32)>,
    /// For a PF: its VFs in index order.
    pub virtfns: Vec<Bdf>,
    /// Directory relative to the root (`sys/devices/pci0000:00/0000:00:1c.0/0000:06:00.0`).
    pub dir: String,
}

/// The relative link text from directory `from_dir` to `target` (both relative to the
/// root), as kernfs computes it: climb from the link's directory until reaching an
/// ancestor of the target's parent, then descend.
pub fn kernfs_link(from_dir: &str, target: &str) -> String {
    let from: Vec<&str> = from_dir.split('/').filter(|c| !c.is_empty()).collect();
    let to: Vec<&str> = target.split('/').filter(|c| !c.is_empty()).collect();
    let parent = &to[..to.len().saturating_sub(1)];
    let common = from
        .iter()
        .zip(parent.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let mut s = "../".repeat(from.len() - common);
    s.push_str(&to[common..].join("/"));
    s
}

/// Formats a CPU list (`0-3,8`) as the kernel's `%*pb` mask over `nbits` CPUs.
pub fn cpumask(cpulist: &str, nbits: usize) -> String {
    let cpus = parse_cpulist(cpulist);
    let nbits = nbits.max(1);
    let chunks = nbits.div_ceil(32);
    let mut words = vec![0u32; chunks];
    for c in cpus {
        if c < nbits {
            words[c / 32] |= 1 << (c % 32);
        }
    }
    let first_digits = ((nbits - 1) % 32) / 4 + 1;
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate().rev() {
        if i == chunks - 1 {
            out.push(format!("{:0width$x}", w, width = first_digits));
        } else {
            out.push(format!("{w:08x}"));
        }
    }
    out.join(",")
}

/// Parses `0-3,8,10-11` into CPU numbers.
pub fn parse_cpulist(s: &str) -> Vec<usize> {
    let mut v = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    v.extend(a..=b);
                }
            }
            None => {
                if let Ok(a) = part.parse() {
                    v.push(a)
                }
            }
        }
    }
    v
}

/// Formats CPU numbers as a kernel list (`0-3,8`).
pub fn format_cpulist(cpus: &BTreeSet<usize>) -> String {
    let mut out = Vec::new();
    let mut it = cpus.iter().copied().peekable();
    while let Some(start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&(end + 1)) {
            end = it.next().unwrap_or(end);
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

/// The kernel resource flags (`IORESOURCE_*` | the BAR's low bits) of a BAR.
fn resource_flags(b: &BarSpec) -> u64 {
    match b.kind {
        BarKind::Io => 0x40101,
        BarKind::Mem32 => 0x40200 | if b.prefetchable { 0x2008 } else { 0 },
        BarKind::Mem64 => 0x140204 | if b.prefetchable { 0x2008 } else { 0 },
    }
}

fn res_line(start: u64, size: u64, flags: u64) -> String {
    if size == 0 {
        return "0x0000000000000000 0x0000000000000000 0x0000000000000000\n".to_string();
    }
    format!(
        "0x{start:016x} 0x{:016x} 0x{flags:016x}\n",
        start + size - 1
    )
}

struct Writer<'a> {
    root: &'a Path,
}

impl Writer<'_> {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    fn dir(&self, rel: &str) -> Result<()> {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).map_err(|source| FakeHostError::Io { path: p, source })
    }
    fn file_mode(&self, rel: &str, contents: &[u8], mode: u32) -> Result<()> {
        let p = self.path(rel);
        let r = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&p)
            .and_then(|mut f| f.write_all(contents));
        r.map_err(|source| FakeHostError::Io { path: p, source })
    }
    /// A read-only attribute (0444), text with a trailing newline as sysfs prints.
    fn ro(&self, rel: &str, text: &str) -> Result<()> {
        self.file_mode(rel, format!("{text}\n").as_bytes(), 0o444)
    }
    /// A read-write attribute (0644).
    fn rw(&self, rel: &str, text: &str) -> Result<()> {
        self.file_mode(rel, format!("{text}\n").as_bytes(), 0o644)
    }
    /// A write-only attribute (0200): `bind`, `unbind`, `remove`, ...
    fn wo(&self, rel: &str) -> Result<()> {
        self.file_mode(rel, b"", 0o200)
    }
    fn link(&self, rel: &str, target_rel: &str) -> Result<()> {
        let (dir, _) = rel.rsplit_once('/').unwrap_or(("", rel));
        self.raw_link(rel, &kernfs_link(dir, target_rel))
    }
    fn raw_link(&self, rel: &str, text: &str) -> Result<()> {
        let p = self.path(rel);
        let _ = std::fs::remove_file(&p);
        symlink(text, &p).map_err(|source| FakeHostError::Io { path: p, source })
    }
}

impl FakeHost {
    /// A fake host from a spec.
    pub fn new(spec: HostSpec) -> FakeHost {
        FakeHost { spec }
    }

    /// A named scenario (see [`crate::scenarios::scenario`]).
    pub fn scenario(name: &str) -> Result<FakeHost> {
        crate::scenarios::scenario(name).map(FakeHost::new)
    }

    /// Writes the tree into a new temporary directory and returns it (removed on drop).
    /// The directory is on `/dev/shm` when that is a writable tmpfs (trees are tens of
    /// thousands of small files), else in the system temp dir.
    pub fn write_temp(&self) -> Result<tempfile::TempDir> {
        let b = {
            let mut b = tempfile::Builder::new();
            b.prefix("fakehost-");
            b
        };
        let t = b
            .tempdir_in("/dev/shm")
            .or_else(|_| b.tempdir())
            .map_err(|source| FakeHostError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        self.write(t.path())?;
        Ok(t)
    }

    /// Every function (VFs included) with its directory, in address order. Fails on
    /// an inconsistent spec.
    pub fn functions(&self) -> Result<Vec<Function>> {
        expand(&self.spec)
    }

    /// Writes the whole tree under `root` (created if needed).
    pub fn write(&self, root: &Path) -> Result<()> {
        let funcs = expand(&self.spec)?;
        let w = Writer { root };
        w.dir("")?;
        write_tree(&self.spec, &funcs, &w)
    }
}

impl HostSpec {
    /// Writes this host under `root` (same as `FakeHost::new(spec).write(root)`).
    pub fn write(&self, root: &Path) -> Result<()> {
        FakeHost::new(self.clone()).write(root)
    }
}

fn vf_spec(pf: &DeviceSpec, index: u32, addr: Bdf) -> DeviceSpec {
    let s = pf.sriov.as_ref().expect("caller checked sriov");
    let vf = s.vfs.get(index as usize).cloned().unwrap_or_default();
    let driver = match vf.driver {
        Some(d) if d.is_empty() => None,
        Some(d) => Some(d),
        None => s.vf_driver.clone(),
    };
    let link = pf
        .pcie
        .as_ref()
        .and_then(|p| p.link.as_ref())
        .map(|l| LinkSpec {
            max_speed: l.max_speed,
            max_width: l.max_width,
            speed: 0.0,
            width: 0,
        });
    let mut d = DeviceSpec::new(addr, pf.vendor, s.vf_device, pf.class).rev(pf.revision);
    d.subsystem_vendor = Some(pf.subsystem_vendor.unwrap_or(pf.vendor));
    d.subsystem_device = Some(s.vf_device);
    d.parent = pf.parent;
    d.enabled = Some(driver.is_some());
    d.driver = driver;
    d.driver_override = vf.driver_override;
    d.iommu_group = vf.iommu_group;
    d.numa_node = pf.numa_node;
    d.pcie = Some(crate::spec::PcieSpec {
        port_type: PortType::Endpoint,
        link,
        flr: true,
    });
    d.reset_method = Some("flr".to_string());
    d.bars = s
        .vf_bars
        .iter()
        .map(|b| BarSpec {
            address: b.address + b.size * index as u64,
            ..b.clone()
        })
        .collect();
    d.msix_vectors = if pf.msix_vectors > 0 { 3 } else { 0 };
    d.netdevs = vf.netdevs;
    d
}

fn expand(spec: &HostSpec) -> Result<Vec<Function>> {
    let mut funcs: BTreeMap<Bdf, Function> = BTreeMap::new();
    for d in &spec.devices {
        if funcs.contains_key(&d.address) {
            return Err(FakeHostError::Spec(format!(
                "{} is listed twice",
                d.address
            )));
        }
        funcs.insert(
            d.address,
            Function {
                spec: d.clone(),
                physfn: None,
                virtfns: Vec::new(),
                dir: String::new(),
            },
        );
    }
    for d in &spec.devices {
        let Some(s) = &d.sriov else { continue };
        if s.num_vfs > s.total_vfs {
            return Err(FakeHostError::Spec(format!(
                "{}: num_vfs {} > total_vfs {}",
                d.address, s.num_vfs, s.total_vfs
            )));
        }
        if s.num_vfs > 0 && (s.offset == 0 || (s.stride == 0 && s.num_vfs > 1)) {
            return Err(FakeHostError::Spec(format!(
                "{}: VF offset/stride must be non-zero",
                d.address
            )));
        }
        let mut vfs = Vec::new();
        for i in 0..s.num_vfs as u32 {
            let a = d.address.vf(s.offset, s.stride, i).ok_or_else(|| {
                FakeHostError::Spec(format!("{}: VF {i} is past bus ff", d.address))
            })?;
            if funcs.contains_key(&a) {
                return Err(FakeHostError::Spec(format!(
                    "{}: VF {i} lands on {a}, which already exists",
                    d.address
                )));
            }
            funcs.insert(
                a,
                Function {
                    spec: vf_spec(d, i, a),
                    physfn: Some((d.address, i)),
                    virtfns: Vec::new(),
                    dir: String::new(),
                },
            );
            vfs.push(a);
        }
        if let Some(f) = funcs.get_mut(&d.address) {
            f.virtfns = vfs;
        }
    }
    // Directories: parents first (a chain of bridges), VFs beside their PF.
    let addrs: Vec<Bdf> = funcs.keys().copied().collect();
    let mut dirs: HashMap<Bdf, String> = HashMap::new();
    fn dir_of(
        a: Bdf,
        funcs: &BTreeMap<Bdf, Function>,
        dirs: &mut HashMap<Bdf, String>,
        depth: usize,
    ) -> Result<String> {
        if let Some(d) = dirs.get(&a) {
            return Ok(d.clone());
        }
        if depth > 64 {
            return Err(FakeHostError::Spec(format!("{a}: parent chain loops")));
        }
        let f = &funcs[&a];
        let base = if let Some((pf, _)) = f.physfn {
            let pd = dir_of(pf, funcs, dirs, depth + 1)?;
            pd.rsplit_once('/')
                .map(|(p, _)| p.to_string())
                .unwrap_or(pd)
        } else {
            match f.spec.parent {
                None => format!("sys/devices/pci{:04x}:{:02x}", a.domain, a.bus),
                Some(p) => {
                    let Some(pf) = funcs.get(&p) else {
                        return Err(FakeHostError::Spec(format!(
                            "{a}: parent {p} is not in the spec"
                        )));
                    };
                    if !pf.spec.is_bridge() {
                        return Err(FakeHostError::Spec(format!(
                            "{a}: parent {p} is not a bridge (class {:06x})",
                            pf.spec.class
                        )));
                    }
                    dir_of(p, funcs, dirs, depth + 1)?
                }
            }
        };
        let d = format!("{base}/{a}");
        dirs.insert(a, d.clone());
        Ok(d)
    }
    for a in &addrs {
        dir_of(*a, &funcs, &mut dirs, 0)?;
    }
    let mut out: Vec<Function> = funcs.into_values().collect();
    for f in &mut out {
        f.dir = dirs[&f.spec.address].clone();
    }
    Ok(out)
}

/// Bus range (secondary, subordinate) of each bridge.
fn bridge_buses(funcs: &[Function]) -> HashMap<Bdf, (u8, u8)> {
    // A function's "upstream bridge" is its parent; VFs share the PF's.
    let mut children: HashMap<Bdf, Vec<usize>> = HashMap::new();
    for (i, f) in funcs.iter().enumerate() {
        if let Some(p) = f.spec.parent {
            children.entry(p).or_default().push(i);
        }
    }
    fn range(
        b: Bdf,
        funcs: &[Function],
        children: &HashMap<Bdf, Vec<usize>>,
        idx: &HashMap<Bdf, usize>,
        out: &mut HashMap<Bdf, (u8, u8)>,
    ) -> (u8, u8) {
        if let Some(r) = out.get(&b) {
            return *r;
        }
        let me = &funcs[idx[&b]].spec;
        let kids = children.get(&b).cloned().unwrap_or_default();
        let mut sec = me.secondary_bus;
        let mut sub = me.subordinate_bus.unwrap_or(0);
        for k in &kids {
            let c = &funcs[*k].spec;
            sec = Some(sec.map_or(c.address.bus, |s: u8| s.min(c.address.bus)));
            sub = sub.max(c.address.bus);
            if c.is_bridge() {
                let (_, s) = range(c.address, funcs, children, idx, out);
                sub = sub.max(s);
            }
        }
        let sec = sec.unwrap_or(0);
        let sub = me.subordinate_bus.unwrap_or(sub.max(sec));
        out.insert(b, (sec, sub));
        (sec, sub)
    }
    let idx: HashMap<Bdf, usize> = funcs
        .iter()
        .enumerate()
        .map(|(i, f)| (f.spec.address, i))
        .collect();
    let mut out = HashMap::new();
    for f in funcs.iter().filter(|f| f.spec.is_bridge()) {
        range(f.spec.address, funcs, &children, &idx, &mut out);
    }
    out
}

fn module_of(driver: &str, spec: &HostSpec) -> Option<String> {
    if let Some(d) = spec.drivers.iter().find(|d| d.name == driver) {
        if d.builtin {
            return None;
        }
        if let Some(m) = &d.module {
            return Some(m.clone());
        }
    }
    if driver == "pcieport" {
        return None;
    }
    Some(driver.replace('-', "_"))
}

struct Ctx<'a> {
    spec: &'a HostSpec,
    all_cpus: String,
    nbits: usize,
    buses: HashMap<Bdf, (u8, u8)>,
    node_cpus: HashMap<u32, String>,
    ifindex: HashMap<String, u32>,
    iommu_unit: String,
    has_iommu: bool,
}

fn write_tree(spec: &HostSpec, funcs: &[Function], w: &Writer) -> Result<()> {
    let mut cpus: BTreeSet<usize> = BTreeSet::new();
    for n in &spec.numa_nodes {
        cpus.extend(parse_cpulist(&n.cpulist));
    }
    if cpus.is_empty() {
        cpus.insert(0);
    }
    let nbits = cpus.iter().max().map_or(1, |m| m + 1);
    let mut ifindex = HashMap::new();
    let mut next = 2u32;
    for f in funcs {
        for n in &f.spec.netdevs {
            ifindex.insert(n.name.clone(), next);
            next += 1;
        }
    }
    let ctx = Ctx {
        spec,
        all_cpus: format_cpulist(&cpus),
        nbits,
        buses: bridge_buses(funcs),
        node_cpus: spec
            .numa_nodes
            .iter()
            .map(|n| (n.id, n.cpulist.clone()))
            .collect(),
        ifindex,
        iommu_unit: spec.iommu_unit.clone().unwrap_or_else(|| "dmar0".into()),
        has_iommu: funcs.iter().any(|f| f.spec.iommu_group.is_some()),
    };

    // sys/bus/pci skeleton.
    for d in [
        "sys/bus/pci/devices",
        "sys/bus/pci/drivers",
        "sys/bus/pci/slots",
        "sys/class/net",
        "sys/class/pci_bus",
        "sys/kernel",
        "sys/module",
        "proc",
    ] {
        w.dir(d)?;
    }
    w.rw("sys/bus/pci/drivers_autoprobe", "1")?;
    w.wo("sys/bus/pci/drivers_probe")?;
    w.wo("sys/bus/pci/rescan")?;
    w.wo("sys/bus/pci/uevent")?;
    w.rw("sys/bus/pci/resource_alignment", "")?;

    // Root buses.
    let mut roots: BTreeSet<String> = BTreeSet::new();
    for f in funcs {
        if let Some(r) = f.dir.split('/').nth(2) {
            roots.insert(r.to_string());
        }
    }
    for r in &roots {
        let dir = format!("sys/devices/{r}");
        w.dir(&format!("{dir}/power"))?;
        w.rw(&format!("{dir}/uevent"), "")?;
        let bus = r.trim_start_matches("pci");
        write_pci_bus(w, &ctx, &dir, bus, None)?;
    }

    // Functions, parents before children (address order is not enough: a bridge's
    // directory must exist before its children's), so create by directory depth.
    let mut order: Vec<&Function> = funcs.iter().collect();
    order.sort_by_key(|f| f.dir.matches('/').count());
    for f in &order {
        w.dir(&f.dir)?;
    }
    let by_addr: HashMap<Bdf, &Function> = funcs.iter().map(|f| (f.spec.address, f)).collect();
    for f in funcs {
        write_function(w, &ctx, f, &by_addr)?;
    }

    // VFs on a bus their PF is not on get a virtual bus (pci_add_new_bus) under the
    // PF's parent.
    let mut virt_buses: BTreeSet<(String, u32, u8)> = BTreeSet::new();
    for f in funcs {
        if let Some((pf, _)) = f.physfn {
            if pf.bus != f.spec.address.bus {
                let parent = f.dir.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                virt_buses.insert((parent.to_string(), pf.domain, f.spec.address.bus));
            }
        }
    }
    for (parent, dom, bus) in virt_buses {
        write_pci_bus(w, &ctx, &parent, &format!("{dom:04x}:{bus:02x}"), None)?;
    }

    write_drivers(w, spec, funcs)?;
    write_groups(w, &ctx, funcs)?;
    write_numa(w, &ctx)?;
    write_slots(w, funcs)?;

    // Loopback, as every host has it.
    w.dir("sys/devices/virtual/net/lo/statistics")?;
    w.ro("sys/devices/virtual/net/lo/address", "00:00:00:00:00:00")?;
    w.ro("sys/devices/virtual/net/lo/operstate", "unknown")?;
    w.ro("sys/devices/virtual/net/lo/ifindex", "1")?;
    w.ro("sys/devices/virtual/net/lo/type", "772")?;
    w.link("sys/class/net/lo", "sys/devices/virtual/net/lo")?;

    if let Some(c) = &spec.cmdline {
        w.ro("proc/cmdline", c)?;
    }
    if spec.hostname.is_some() || spec.kernel_release.is_some() {
        w.dir("proc/sys/kernel")?;
    }
    if let Some(h) = &spec.hostname {
        w.rw("proc/sys/kernel/hostname", h)?;
    }
    if let Some(r) = &spec.kernel_release {
        w.ro("proc/sys/kernel/osrelease", r)?;
    }

    for x in &spec.files {
        let rel = x.path.trim_start_matches('/');
        if let Some((d, _)) = rel.rsplit_once('/') {
            w.dir(d)?;
        }
        match &x.link {
            Some(t) => w.raw_link(rel, t)?,
            None => w.file_mode(rel, x.contents.as_bytes(), x.mode.unwrap_or(0o644))?,
        }
    }
    Ok(())
}

/// `DIR/pci_bus/DDDD:BB/` and its class link.
fn write_pci_bus(w: &Writer, ctx: &Ctx, dir: &str, bus: &str, bridge: Option<&str>) -> Result<()> {
    let b = format!("{dir}/pci_bus/{bus}");
    w.dir(&format!("{b}/power"))?;
    w.ro(
        &format!("{b}/cpuaffinity"),
        &cpumask(&ctx.all_cpus, ctx.nbits),
    )?;
    w.ro(&format!("{b}/cpulistaffinity"), &ctx.all_cpus)?;
    w.wo(&format!("{b}/rescan"))?;
    w.rw(&format!("{b}/uevent"), "")?;
    w.link(&format!("{b}/subsystem"), "sys/class/pci_bus")?;
    if let Some(br) = bridge {
        w.link(&format!("{b}/device"), br)?;
    } else {
        w.link(&format!("{b}/device"), dir)?;
    }
    w.link(&format!("sys/class/pci_bus/{bus}"), &b)?;
    Ok(())
}

fn write_function(
    w: &Writer,
    ctx: &Ctx,
    f: &Function,
    by_addr: &HashMap<Bdf, &Function>,
) -> Result<()> {
    let d = &f.spec;
    let a = d.address;
    let dir = f.dir.as_str();
    let p = |n: &str| format!("{dir}/{n}");
    let is_vf = f.physfn.is_some();
    let bridge = d.is_bridge();
    let (sv, sd) = if bridge {
        (
            d.subsystem_vendor.unwrap_or(0),
            d.subsystem_device.unwrap_or(0),
        )
    } else {
        (
            d.subsystem_vendor.unwrap_or(d.vendor),
            d.subsystem_device.unwrap_or(d.device),
        )
    };
    w.ro(&p("vendor"), &format!("0x{:04x}", d.vendor))?;
    w.ro(&p("device"), &format!("0x{:04x}", d.device))?;
    w.ro(&p("class"), &format!("0x{:06x}", d.class))?;
    w.ro(&p("revision"), &format!("0x{:02x}", d.revision))?;
    w.ro(&p("subsystem_vendor"), &format!("0x{sv:04x}"))?;
    w.ro(&p("subsystem_device"), &format!("0x{sd:04x}"))?;
    let numa = d.numa_node.map_or("-1".to_string(), |n| n.to_string());
    w.rw(&p("numa_node"), &numa)?;
    let local = d
        .numa_node
        .and_then(|n| ctx.node_cpus.get(&n).cloned())
        .unwrap_or_else(|| ctx.all_cpus.clone());
    w.ro(&p("local_cpulist"), &local)?;
    w.ro(&p("local_cpus"), &cpumask(&local, ctx.nbits))?;
    w.ro(&p("irq"), &d.irq.to_string())?;
    let modalias = format!(
        "pci:v{:08X}d{:08X}sv{:08X}sd{:08X}bc{:02X}sc{:02X}i{:02X}",
        d.vendor,
        d.device,
        sv,
        sd,
        d.class >> 16,
        (d.class >> 8) & 0xff,
        d.class & 0xff
    );
    w.ro(&p("modalias"), &modalias)?;
    w.rw(
        &p("driver_override"),
        d.driver_override.as_deref().unwrap_or("(null)"),
    )?;
    let enabled = d.enabled.unwrap_or(d.driver.is_some());
    w.rw(&p("enable"), if enabled { "1" } else { "0" })?;
    w.ro(&p("power_state"), d.power_state.as_deref().unwrap_or("D0"))?;
    w.rw(&p("d3cold_allowed"), "1")?;
    w.rw(&p("msi_bus"), "1")?;
    w.rw(&p("broken_parity_status"), "0")?;
    w.ro(&p("dma_mask_bits"), if enabled { "64" } else { "32" })?;
    w.ro(
        &p("consistent_dma_mask_bits"),
        if enabled { "64" } else { "32" },
    )?;
    let ari = d.sriov.as_ref().is_some_and(|s| s.num_vfs > 0) as u8;
    w.ro(&p("ari_enabled"), &ari.to_string())?;
    w.wo(&p("remove"))?;
    w.wo(&p("rescan"))?;
    if let Some(m) = &d.reset_method {
        w.rw(&p("reset_method"), m)?;
        w.wo(&p("reset"))?;
    }
    if let Some(l) = &d.label {
        w.ro(&p("label"), l)?;
    }
    if let Some(b) = d.boot_vga {
        w.ro(&p("boot_vga"), if b { "1" } else { "0" })?;
    }
    let mut uevent = String::new();
    if let Some(drv) = &d.driver {
        uevent.push_str(&format!("DRIVER={drv}\n"));
    }
    uevent.push_str(&format!(
        "PCI_CLASS={:X}\nPCI_ID={:04X}:{:04X}\nPCI_SUBSYS_ID={sv:04X}:{sd:04X}\nPCI_SLOT_NAME={a}\nMODALIAS={modalias}",
        d.class, d.vendor, d.device
    ));
    w.rw(&p("uevent"), &uevent)?;

    // resource: 13 lines (BARs, ROM, IOV BARs), 17 for bridges (+ windows).
    let mut res = String::new();
    for i in 0..6u8 {
        match d.bars.iter().find(|b| b.index == i) {
            Some(b) => res.push_str(&res_line(b.address, b.size, resource_flags(b))),
            None => res.push_str(&res_line(0, 0, 0)),
        }
    }
    res.push_str(&res_line(0, 0, 0)); // ROM
    for i in 0..6u8 {
        let vb = d
            .sriov
            .as_ref()
            .and_then(|s| s.vf_bars.iter().find(|b| b.index == i).map(|b| (b, s)));
        match vb {
            Some((b, s)) => res.push_str(&res_line(
                b.address,
                b.size * s.total_vfs as u64,
                resource_flags(b),
            )),
            None => res.push_str(&res_line(0, 0, 0)),
        }
    }
    if bridge {
        for _ in 0..4 {
            res.push_str(&res_line(0, 0, 0));
        }
    }
    w.file_mode(&p("resource"), res.as_bytes(), 0o444)?;
    for b in &d.bars {
        w.file_mode(&p(&format!("resource{}", b.index)), b"", 0o600)?;
        if b.prefetchable {
            w.file_mode(&p(&format!("resource{}_wc", b.index)), b"", 0o600)?;
        }
    }

    // PCIe link attributes (pcie_dev_attrs), for functions with a link.
    if let Some(l) = d.pcie.as_ref().and_then(|x| x.link.as_ref()) {
        w.ro(&p("current_link_speed"), speed_string(l.speed))?;
        w.ro(&p("current_link_width"), &l.width.to_string())?;
        w.ro(&p("max_link_speed"), speed_string(l.max_speed))?;
        w.ro(&p("max_link_width"), &l.max_width.to_string())?;
    }

    // Config space.
    let bus_range = ctx.buses.get(&a).copied();
    let multifunction = !is_vf
        && by_addr.values().any(|o| {
            o.physfn.is_none()
                && o.spec.address != a
                && o.spec.address.domain == a.domain
                && o.spec.address.bus == a.bus
                && o.spec.address.slot == a.slot
        });
    let ari_next = if d.sriov.is_some() || is_vf {
        // Next function of the same device (PFs), 0 at the end.
        let next = if is_vf {
            0
        } else {
            (a.function + 1..8)
                .find(|fnum| {
                    by_addr.contains_key(&Bdf {
                        function: *fnum,
                        ..a
                    })
                })
                .unwrap_or(0)
        };
        Some(next)
    } else {
        None
    };
    let dsn = if !is_vf {
        d.netdevs.first().and_then(|n| mac_dsn(&n.mac))
    } else {
        None
    };
    let pcie = d
        .pcie
        .as_ref()
        .map(|x| (x.port_type, x.link.as_ref(), x.flr));
    let params = ConfigParams {
        // VFs read ffff at offset 0 (the kernel takes their ids from the PF).
        vendor: if is_vf { 0xffff } else { d.vendor },
        device: if is_vf { 0xffff } else { d.device },
        class: d.class,
        revision: d.revision,
        subsystem: (sv, sd),
        multifunction,
        bridge_buses: if bridge {
            let (s, b) = bus_range.unwrap_or((0, 0));
            Some((a.bus, s, b))
        } else {
            None
        },
        // VF BARs read 0 and VF Memory Space Enable is 0.
        enabled: enabled && !is_vf,
        int_pin: if is_vf { 0 } else { 1 },
        int_line: d.irq as u8,
        bars: if is_vf { &[] } else { &d.bars },
        pcie,
        msix_vectors: d.msix_vectors,
        msi: !is_vf,
        pm: !is_vf,
        ari_next,
        sriov: d.sriov.as_ref(),
        dsn,
        acs: matches!(
            pcie.map(|x| x.0),
            Some(PortType::RootPort) | Some(PortType::DownstreamPort)
        ) || (multifunction && d.pcie.is_some()),
    };
    let cfg = ConfigSpace::build(&params).into_bytes();
    w.file_mode(&p("config"), &cfg, 0o644)?;

    // Links.
    w.link(&p("subsystem"), "sys/bus/pci")?;
    w.link(&format!("sys/bus/pci/devices/{a}"), dir)?;
    if let Some(drv) = &d.driver {
        w.link(&p("driver"), &format!("sys/bus/pci/drivers/{drv}"))?;
    }
    if let Some(g) = d.iommu_group {
        w.link(&p("iommu_group"), &format!("sys/kernel/iommu_groups/{g}"))?;
        if ctx.has_iommu {
            w.link(
                &p("iommu"),
                &format!("sys/devices/virtual/iommu/{}", ctx.iommu_unit),
            )?;
        }
    }
    w.dir(&p("power"))?;
    w.rw(&p("power/control"), if is_vf { "auto" } else { "on" })?;
    w.ro(
        &p("power/runtime_status"),
        if enabled { "active" } else { "suspended" },
    )?;
    if d.msix_vectors > 0 && enabled {
        w.dir(&p("msi_irqs"))?;
        for i in 0..d.msix_vectors.min(8) as u32 {
            w.ro(&p(&format!("msi_irqs/{}", 100 + i)), "msix")?;
        }
    }

    // Bridges.
    if bridge {
        let (sec, sub) = bus_range.unwrap_or((0, 0));
        w.ro(&p("secondary_bus_number"), &sec.to_string())?;
        w.ro(&p("subordinate_bus_number"), &sub.to_string())?;
        write_pci_bus(
            w,
            ctx,
            dir,
            &format!("{:04x}:{sec:02x}", a.domain),
            Some(dir),
        )?;
    }

    // SR-IOV.
    if let Some(s) = &d.sriov {
        w.ro(
            &p("sriov_totalvfs"),
            &s.sysfs_total_vfs.unwrap_or(s.total_vfs).to_string(),
        )?;
        w.rw(&p("sriov_numvfs"), &s.num_vfs.to_string())?;
        w.ro(&p("sriov_offset"), &s.offset.to_string())?;
        w.ro(&p("sriov_stride"), &s.stride.to_string())?;
        w.ro(&p("sriov_vf_device"), &format!("{:x}", s.vf_device))?;
        w.rw(
            &p("sriov_drivers_autoprobe"),
            if s.drivers_autoprobe { "1" } else { "0" },
        )?;
        for (i, vf) in f.virtfns.iter().enumerate() {
            if let Some(v) = by_addr.get(vf) {
                w.link(&p(&format!("virtfn{i}")), &v.dir)?;
            }
        }
    }
    if let Some((pf, _)) = f.physfn {
        if let Some(pfn) = by_addr.get(&pf) {
            w.link(&p("physfn"), &pfn.dir)?;
        }
        w.wo(&p("sriov_vf_msix_count"))?;
    }

    // Network interfaces.
    for (port, n) in d.netdevs.iter().enumerate() {
        let nd = format!("{dir}/net/{}", n.name);
        let q = |x: &str| format!("{nd}/{x}");
        w.dir(&q("statistics"))?;
        w.dir(&q("power"))?;
        let idx = ctx.ifindex.get(&n.name).copied().unwrap_or(0);
        w.ro(&q("address"), &n.mac)?;
        w.ro(&q("addr_assign_type"), if is_vf { "3" } else { "0" })?;
        w.ro(&q("addr_len"), "6")?;
        w.ro(&q("broadcast"), "ff:ff:ff:ff:ff:ff")?;
        let up = n.operstate != "down" || n.carrier.is_some();
        if let Some(c) = n.carrier {
            w.rw(&q("carrier"), if c { "1" } else { "0" })?;
        }
        if let Some(sp) = n.speed {
            w.ro(&q("speed"), &sp.to_string())?;
            w.ro(&q("duplex"), if sp > 0 { "full" } else { "unknown" })?;
        }
        w.ro(&q("dev_id"), "0x0")?;
        w.ro(&q("dev_port"), &port.to_string())?;
        w.ro(&q("dormant"), "0")?;
        w.rw(&q("flags"), if up { "0x1003" } else { "0x1002" })?;
        w.rw(&q("ifalias"), "")?;
        w.ro(&q("ifindex"), &idx.to_string())?;
        w.ro(&q("iflink"), &idx.to_string())?;
        w.ro(&q("link_mode"), "0")?;
        w.rw(&q("mtu"), &n.mtu.unwrap_or(1500).to_string())?;
        w.ro(&q("name_assign_type"), "4")?;
        w.ro(&q("operstate"), &n.operstate)?;
        w.rw(&q("tx_queue_len"), "1000")?;
        w.ro(&q("type"), "1")?;
        w.rw(
            &q("uevent"),
            &format!("INTERFACE={}\nIFINDEX={idx}", n.name),
        )?;
        for s in [
            "rx_bytes",
            "tx_bytes",
            "rx_packets",
            "tx_packets",
            "rx_errors",
            "tx_errors",
            "rx_dropped",
            "tx_dropped",
        ] {
            w.ro(&q(&format!("statistics/{s}")), "0")?;
        }
        w.link(&q("device"), dir)?;
        w.link(&q("subsystem"), "sys/class/net")?;
        w.link(&format!("sys/class/net/{}", n.name), &nd)?;
    }
    Ok(())
}

/// A device serial number from a MAC (EUI-48 to EUI-64 with ff-ff in the middle, as
/// Intel NICs report it: `6c-ae-8b-ff-ff-61-07-4a`).
fn mac_dsn(mac: &str) -> Option<u64> {
    let b: Vec<u8> = mac
        .split(':')
        .filter_map(|x| u8::from_str_radix(x, 16).ok())
        .collect();
    if b.len() != 6 {
        return None;
    }
    let bytes = [b[0], b[1], b[2], 0xff, 0xff, b[3], b[4], b[5]];
    Some(u64::from_be_bytes(bytes))
}

fn write_drivers(w: &Writer, spec: &HostSpec, funcs: &[Function]) -> Result<()> {
    let mut drivers: BTreeMap<String, Vec<&Function>> = BTreeMap::new();
    for d in &spec.drivers {
        drivers.entry(d.name.clone()).or_default();
    }
    for f in funcs {
        if let Some(d) = &f.spec.driver {
            drivers.entry(d.clone()).or_default().push(f);
        }
    }
    let mut modules: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, devs) in &drivers {
        let dd = format!("sys/bus/pci/drivers/{name}");
        w.dir(&dd)?;
        for x in ["bind", "unbind", "new_id", "remove_id", "uevent"] {
            w.wo(&format!("{dd}/{x}"))?;
        }
        for f in devs {
            w.link(&format!("{dd}/{}", f.spec.address), &f.dir)?;
        }
        if let Some(m) = module_of(name, spec) {
            w.link(&format!("{dd}/module"), &format!("sys/module/{m}"))?;
            modules.entry(m).or_default().push(name.clone());
        }
    }
    if drivers.contains_key("vfio-pci") {
        // vfio-pci pulls in vfio and the type1 IOMMU backend.
        modules.entry("vfio".into()).or_default();
        modules.entry("vfio_iommu_type1".into()).or_default();
    }
    for (m, drvs) in &modules {
        let md = format!("sys/module/{m}");
        w.dir(&format!("{md}/holders"))?;
        w.dir(&format!("{md}/parameters"))?;
        w.ro(&format!("{md}/initstate"), "live")?;
        w.ro(&format!("{md}/refcnt"), "0")?;
        w.ro(&format!("{md}/taint"), "")?;
        w.wo(&format!("{md}/uevent"))?;
        if !drvs.is_empty() {
            w.dir(&format!("{md}/drivers"))?;
        }
        for d in drvs {
            w.link(
                &format!("{md}/drivers/pci:{d}"),
                &format!("sys/bus/pci/drivers/{d}"),
            )?;
        }
        if m == "vfio_iommu_type1" {
            w.rw(&format!("{md}/parameters/allow_unsafe_interrupts"), "N")?;
            w.rw(&format!("{md}/parameters/dma_entry_limit"), "65535")?;
        }
    }
    Ok(())
}

fn write_groups(w: &Writer, ctx: &Ctx, funcs: &[Function]) -> Result<()> {
    let mut groups: BTreeMap<u32, Vec<&Function>> = BTreeMap::new();
    for f in funcs {
        if let Some(g) = f.spec.iommu_group {
            groups.entry(g).or_default().push(f);
        }
    }
    if groups.is_empty() {
        return Ok(());
    }
    w.dir("sys/kernel/iommu_groups")?;
    let unit = format!("sys/devices/virtual/iommu/{}", ctx.iommu_unit);
    w.dir(&format!("{unit}/devices"))?;
    w.dir(&format!("{unit}/power"))?;
    w.rw(&format!("{unit}/uevent"), "")?;
    if ctx.iommu_unit.starts_with("dmar") {
        w.dir(&format!("{unit}/intel-iommu"))?;
        w.ro(&format!("{unit}/intel-iommu/version"), "1:0")?;
        w.ro(&format!("{unit}/intel-iommu/cap"), "d2008c40660462")?;
        w.ro(&format!("{unit}/intel-iommu/ecap"), "f050da")?;
    }
    w.dir("sys/class/iommu")?;
    w.link(&format!("sys/class/iommu/{}", ctx.iommu_unit), &unit)?;
    let mut vfio_groups = Vec::new();
    for (g, members) in &groups {
        let gd = format!("sys/kernel/iommu_groups/{g}");
        w.dir(&format!("{gd}/devices"))?;
        let ty = ctx
            .spec
            .iommu_group_types
            .get(g)
            .cloned()
            .or_else(|| ctx.spec.default_group_type.clone())
            .unwrap_or_else(|| "DMA".into());
        w.rw(&format!("{gd}/type"), &ty)?;
        w.ro(
            &format!("{gd}/reserved_regions"),
            "0x00000000fee00000 0x00000000feefffff msi",
        )?;
        for f in members {
            w.link(&format!("{gd}/devices/{}", f.spec.address), &f.dir)?;
            w.link(&format!("{unit}/devices/{}", f.spec.address), &f.dir)?;
        }
        if members
            .iter()
            .any(|f| f.spec.driver.as_deref() == Some("vfio-pci"))
        {
            vfio_groups.push(*g);
        }
    }
    if !vfio_groups.is_empty() {
        w.dir("dev/vfio")?;
        w.file_mode("dev/vfio/vfio", b"", 0o666)?;
        for g in vfio_groups {
            w.file_mode(&format!("dev/vfio/{g}"), b"", 0o600)?;
        }
    }
    Ok(())
}

fn write_numa(w: &Writer, ctx: &Ctx) -> Result<()> {
    w.dir("sys/devices/system/cpu")?;
    for f in ["online", "possible", "present"] {
        w.ro(&format!("sys/devices/system/cpu/{f}"), &ctx.all_cpus)?;
    }
    let nodes = &ctx.spec.numa_nodes;
    if nodes.is_empty() {
        return Ok(());
    }
    let ids: BTreeSet<usize> = nodes.iter().map(|n| n.id as usize).collect();
    let list = format_cpulist(&ids);
    let base = "sys/devices/system/node";
    w.dir(base)?;
    for f in [
        "online",
        "possible",
        "has_cpu",
        "has_memory",
        "has_normal_memory",
    ] {
        w.ro(&format!("{base}/{f}"), &list)?;
    }
    for n in nodes {
        let nd = format!("{base}/node{}", n.id);
        w.dir(&format!("{nd}/hugepages/hugepages-2048kB"))?;
        w.dir(&format!("{nd}/hugepages/hugepages-1048576kB"))?;
        w.ro(&format!("{nd}/cpulist"), &n.cpulist)?;
        w.ro(&format!("{nd}/cpumap"), &cpumask(&n.cpulist, ctx.nbits))?;
        let dist: Vec<String> = nodes
            .iter()
            .map(|o| if o.id == n.id { "10" } else { "21" }.to_string())
            .collect();
        w.ro(&format!("{nd}/distance"), &dist.join(" "))?;
        for hp in ["hugepages-2048kB", "hugepages-1048576kB"] {
            for f in ["nr_hugepages", "free_hugepages", "surplus_hugepages"] {
                w.rw(&format!("{nd}/hugepages/{hp}/{f}"), "0")?;
            }
        }
        for c in parse_cpulist(&n.cpulist) {
            w.link(
                &format!("{nd}/cpu{c}"),
                &format!("sys/devices/system/cpu/cpu{c}"),
            )?;
        }
    }
    for c in parse_cpulist(&ctx.all_cpus) {
        let cd = format!("sys/devices/system/cpu/cpu{c}");
        w.dir(&cd)?;
        if let Some(n) = nodes
            .iter()
            .find(|n| parse_cpulist(&n.cpulist).contains(&c))
        {
            w.link(
                &format!("{cd}/node{}", n.id),
                &format!("{base}/node{}", n.id),
            )?;
        }
    }
    Ok(())
}

fn write_slots(w: &Writer, funcs: &[Function]) -> Result<()> {
    let mut seen = BTreeSet::new();
    for f in funcs {
        if let Some(n) = f.spec.slot {
            if seen.insert(n) {
                let sd = format!("sys/bus/pci/slots/{n}");
                w.dir(&sd)?;
                w.ro(&format!("{sd}/address"), &f.spec.address.slot_address())?;
                w.ro(&format!("{sd}/max_bus_speed"), "8.0 GT/s PCIe")?;
                w.ro(&format!("{sd}/cur_bus_speed"), "8.0 GT/s PCIe")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernfs_links_match_the_kernel() {
        assert_eq!(
            kernfs_link(
                "sys/bus/pci/devices",
                "sys/devices/pci0000:00/0000:00:1c.0/0000:06:00.0"
            ),
            "../../../devices/pci0000:00/0000:00:1c.0/0000:06:00.0"
        );
        let dev = "sys/devices/pci0000:00/0000:00:1c.0/0000:06:00.0";
        assert_eq!(
            kernfs_link(&format!("{dev}/net/eno1"), dev),
            "../../../0000:06:00.0"
        );
        assert_eq!(
            kernfs_link(dev, "sys/devices/pci0000:00/0000:00:1c.0/0000:07:10.3"),
            "../0000:07:10.3"
        );
        assert_eq!(
            kernfs_link(dev, "sys/bus/pci/drivers/igb"),
            "../../../../bus/pci/drivers/igb"
        );
        assert_eq!(
            kernfs_link(
                "sys/devices/pci0000:00/0000:00:02.0",
                "sys/bus/pci/drivers/virtio-pci"
            ),
            "../../../bus/pci/drivers/virtio-pci"
        );
    }

    #[test]
    fn cpumask_prints_like_the_kernel() {
        assert_eq!(cpumask("0-1", 2), "3");
        assert_eq!(cpumask("0-63", 64), "ffffffff,ffffffff");
        assert_eq!(cpumask("0-15,32-47", 64), "0000ffff,0000ffff");
        assert_eq!(cpumask("32-47", 48), "ffff,00000000");
        assert_eq!(cpumask("0", 12), "001");
    }

    #[test]
    fn cpulists_round_trip() {
        let s: BTreeSet<usize> = parse_cpulist("0-3,8,10-11").into_iter().collect();
        assert_eq!(format_cpulist(&s), "0-3,8,10-11");
    }
}
