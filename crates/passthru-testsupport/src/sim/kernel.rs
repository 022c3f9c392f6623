//! The kernel model: reacts to writes into `sys/` the way Linux's PCI core does
//! (drivers/pci/pci-driver.c, pci-sysfs.c, iov.c, drivers/base/bus.c and dd.c).
//!
//! The tree itself is the state: a device's driver is its `driver` link, its group
//! its `iommu_group` link, a PF's VFs its `virtfnN` links. What a tree cannot hold
//! lives here: dynamic ids (`new_id`), which driver is each device's default, netdevs
//! of unbound devices, removed devices waiting for a rescan, and the boot image a
//! reboot restores.

use super::config::{is_stub, SimConfig};
use super::pci::{kstrtobool, kstrtoul, parse_hex, scan_hex_fields, Bdf};
use super::vfs::{join, rel_link, split_parent, Tree, Vfs};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// An errno value (positive).
pub type Errno = i32;

/// Result of a simulated kernel operation.
pub type KResult<T> = Result<T, Errno>;

pub(crate) const DEVICES: &str = "sys/bus/pci/devices";
pub(crate) const DRIVERS: &str = "sys/bus/pci/drivers";
pub(crate) const GROUPS: &str = "sys/kernel/iommu_groups";
pub(crate) const ANY: u32 = 0xffff_ffff;
const LOG_CAP: usize = 20_000;

/// A PCI function as the model sees it.
#[derive(Clone, Debug)]
pub struct Dev {
    /// Address.
    pub bdf: Bdf,
    /// Canonical directory (`sys/devices/pci0000:00/.../0000:06:00.0`).
    pub dir: String,
    /// Vendor id.
    pub vendor: u32,
    /// Device id.
    pub device: u32,
    /// Subsystem vendor id (0 when absent).
    pub sub_vendor: u32,
    /// Subsystem device id (0 when absent).
    pub sub_device: u32,
    /// 24-bit class.
    pub class: u32,
}

impl Dev {
    /// `vvvv:dddd`.
    pub fn id(&self) -> String {
        format!("{:04x}:{:04x}", self.vendor, self.device)
    }

    /// Path of one of its attributes.
    pub fn attr(&self, name: &str) -> String {
        join(&self.dir, name)
    }
}

/// A `new_id` entry (`struct pci_device_id` without driver_data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynId {
    /// Vendor or [`ANY`].
    pub vendor: u32,
    /// Device or ANY.
    pub device: u32,
    /// Subsystem vendor or ANY.
    pub subvendor: u32,
    /// Subsystem device or ANY.
    pub subdevice: u32,
    /// Class.
    pub class: u32,
    /// Class mask.
    pub class_mask: u32,
}

impl DynId {
    fn matches(&self, vendor: u32, device: u32, sv: u32, sd: u32, class: u32) -> bool {
        (self.vendor == ANY || self.vendor == vendor)
            && (self.device == ANY || self.device == device)
            && (self.subvendor == ANY || self.subvendor == sv)
            && (self.subdevice == ANY || self.subdevice == sd)
            && ((self.class ^ class) & self.class_mask) == 0
    }
}

/// A device removed through its `remove` attribute, back on the next rescan.
#[derive(Clone, Debug)]
pub(crate) struct Removed {
    pub bdf: Bdf,
    pub dir: String,
    pub tree: Tree,
    pub group: Option<(u32, Option<Tree>)>,
}

/// What a reboot restores.
#[derive(Clone, Debug)]
pub(crate) struct BootImage {
    pub sys: Option<Tree>,
    pub dev: Option<Tree>,
    pub proc: Option<Tree>,
    pub net_stash: HashMap<Bdf, Tree>,
    pub group_floor: u32,
}

/// A pending injected fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Canonical path relative to the root, as resolved when the fault was armed.
    pub path: String,
    /// The path as asked (relative to the root). It is resolved again at each write,
    /// so a fault armed through a link that did not resolve yet (the
    /// `sys/bus/pci/devices/BDF` link of a VF not created yet) still hits its file.
    pub asked: String,
    /// errno to fail with.
    pub errno: Errno,
    /// Writes left to fail.
    pub remaining: u32,
}

/// `proc/sys/kernel/random/boot_id`: a new random UUID at every boot, as on Linux.
pub const BOOT_ID: &str = "proc/sys/kernel/random/boot_id";

/// The simulated kernel and the tree it serves.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// The served tree.
    pub fs: Vfs,
    pub(crate) config: SimConfig,
    /// Default driver per device found bound at load time.
    pub(crate) learned_bdf: BTreeMap<Bdf, String>,
    /// Default driver per `vvvv:dddd` learned from devices bound at load time.
    pub(crate) learned_id: BTreeMap<String, String>,
    pub(crate) dynids: BTreeMap<String, Vec<DynId>>,
    /// `(driver, vendor, device)`: ids a stub driver (vfio-pci, pci-stub) held at
    /// load time for devices it had without an override, which only `ids=` at boot
    /// (or a `new_id`) does: given again at every boot, as dynamic ids.
    pub(crate) boot_ids: Vec<(String, u32, u32)>,
    /// A VF directory per PF, learned from VF 0 at load time.
    pub(crate) vf_templates: HashMap<Bdf, Tree>,
    /// `net/` of devices whose driver was unbound, restored when one binds again.
    pub(crate) net_stash: HashMap<Bdf, Tree>,
    pub(crate) removed: Vec<Removed>,
    pub(crate) boot: Option<Box<BootImage>>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) log: VecDeque<String>,
    pub(crate) seq: u64,
    pub(crate) boots: u32,
    /// New groups are numbered from here: every number up to the highest group of
    /// the boot image is taken by devices the boot found (as with the kernel's
    /// allocator, which numbers groups densely at boot).
    pub(crate) group_floor: u32,
}

/// The last component of a link target or path.
pub(crate) fn base(s: &str) -> &str {
    s.trim_end_matches('/').rsplit('/').next().unwrap_or(s)
}

/// The text of one sysfs write as the kernel's `sysfs_streq` sees it (one trailing
/// newline dropped).
pub(crate) fn one_line(data: &[u8]) -> String {
    let s = String::from_utf8_lossy(data);
    s.strip_suffix('\n').unwrap_or(&s).to_string()
}

impl Kernel {
    /// Builds the model over a loaded tree: learns default drivers and VF templates
    /// and records the boot image a reboot returns to.
    pub fn new(fs: Vfs, config: SimConfig) -> Kernel {
        let mut k = Kernel {
            fs,
            config,
            learned_bdf: BTreeMap::new(),
            learned_id: BTreeMap::new(),
            dynids: BTreeMap::new(),
            boot_ids: Vec::new(),
            vf_templates: HashMap::new(),
            net_stash: HashMap::new(),
            removed: Vec::new(),
            boot: None,
            faults: Vec::new(),
            log: VecDeque::new(),
            seq: 0,
            boots: 1,
            group_floor: 0,
        };
        k.learn();
        k.boot_dynids();
        if k.fs.is_dir("proc") && !k.fs.exists(BOOT_ID) {
            let id = k.new_boot_id();
            k.fs.write(BOOT_ID, id, 0o444);
        }
        let img = k.boot_image();
        k.group_floor = img.group_floor;
        k.boot = Some(Box::new(img));
        k
    }

    fn learn(&mut self) {
        for d in self.devices() {
            let is_vf = self.physfn(&d).is_some();
            if let Some(drv) = self.driver_of(&d) {
                if !is_stub(&drv) {
                    self.learned_bdf.insert(d.bdf, drv.clone());
                    self.learned_id.entry(d.id()).or_insert(drv);
                } else if self.override_of(&d).is_none() && !is_vf {
                    // On a stub driver without an override: ids= put it there, which
                    // is a dynamic id (remove_id drops it) given at every boot.
                    let id = (drv, d.vendor, d.device);
                    if !self.boot_ids.contains(&id) {
                        self.boot_ids.push(id);
                    }
                }
            }
            if let Some(t) = self
                .fs
                .canonical(&d.attr("virtfn0"))
                .and_then(|p| self.fs.snapshot_path(&p))
            {
                self.vf_templates.insert(d.bdf, t);
            }
        }
    }

    // ----- queries -------------------------------------------------------------

    /// The device at an address.
    pub fn dev(&self, bdf: &Bdf) -> Option<Dev> {
        let dir = self.fs.canonical(&format!("{DEVICES}/{bdf}"))?;
        self.dev_at(*bdf, dir)
    }

    fn dev_at(&self, bdf: Bdf, dir: String) -> Option<Dev> {
        let hex = |a: &str| self.fs.read_str(&join(&dir, a)).and_then(|s| parse_hex(&s));
        Some(Dev {
            bdf,
            vendor: hex("vendor")?,
            device: hex("device")?,
            sub_vendor: hex("subsystem_vendor").unwrap_or(0),
            sub_device: hex("subsystem_device").unwrap_or(0),
            class: hex("class").unwrap_or(0) & 0xff_ffff,
            dir,
        })
    }

    /// The device whose directory is `dir` (canonical), if it is one.
    pub fn dev_by_dir(&self, dir: &str) -> Option<Dev> {
        let bdf = Bdf::parse(base(dir))?;
        let d = self.dev(&bdf)?;
        (d.dir == dir).then_some(d)
    }

    /// Every device listed in `sys/bus/pci/devices`, sorted by address.
    pub fn devices(&self) -> Vec<Dev> {
        let mut v: Vec<Bdf> = self
            .fs
            .list(DEVICES)
            .iter()
            .filter_map(|n| Bdf::parse(n))
            .collect();
        v.sort();
        v.iter().filter_map(|b| self.dev(b)).collect()
    }

    /// The driver bound to a device.
    pub fn driver_of(&self, d: &Dev) -> Option<String> {
        self.fs
            .read_link(&d.attr("driver"))
            .map(|t| base(&t).to_string())
    }

    /// A device's `driver_override`, `None` for `(null)`.
    pub fn override_of(&self, d: &Dev) -> Option<String> {
        self.fs
            .read_str(&d.attr("driver_override"))
            .filter(|s| !s.is_empty() && s != "(null)")
    }

    /// The PF of a VF.
    pub fn physfn(&self, d: &Dev) -> Option<Dev> {
        let dir = self.fs.canonical(&d.attr("physfn"))?;
        self.dev_by_dir(&dir)
    }

    /// A device's IOMMU group number.
    pub fn group_of(&self, d: &Dev) -> Option<u32> {
        self.fs
            .read_link(&d.attr("iommu_group"))
            .and_then(|t| base(&t).parse().ok())
    }

    /// A PF's VFs in index order, from its `virtfnN` links.
    pub fn vfs_of(&self, pf: &Dev) -> Vec<(u32, Dev)> {
        let Some(pi) = self.fs.resolve(&pf.dir, true) else {
            return Vec::new();
        };
        let mut v: Vec<(u32, Dev)> = self
            .fs
            .children(pi)
            .into_iter()
            .filter_map(|(n, _)| n.strip_prefix("virtfn")?.parse::<u32>().ok())
            .filter_map(|i| {
                let dir = self.fs.canonical(&pf.attr(&format!("virtfn{i}")))?;
                Some((i, self.dev_by_dir(&dir)?))
            })
            .collect();
        v.sort_by_key(|(i, _)| *i);
        v
    }

    /// Whether a driver is loaded (`sys/bus/pci/drivers/NAME` exists).
    pub fn driver_loaded(&self, name: &str) -> bool {
        self.fs.is_dir(&format!("{DRIVERS}/{name}"))
    }

    fn header_type(&self, d: &Dev) -> u8 {
        match self.fs.read(&d.attr("config")) {
            Some(c) if c.len() > 0x0e => c[0x0e] & 0x7f,
            _ => u8::from(d.class >> 8 == 0x0604),
        }
    }

    /// Whether a function is a bridge (type 1/2 header or bridge class).
    pub fn is_bridge(&self, d: &Dev) -> bool {
        self.header_type(d) != 0 || d.class >> 16 == 0x06
    }

    fn attr_u32(&self, d: &Dev, name: &str) -> Option<u32> {
        self.fs.read_str(&d.attr(name)).and_then(|s| s.parse().ok())
    }

    /// The driver the kernel binds a device to by default.
    pub fn default_driver(&self, d: &Dev) -> Option<String> {
        let id = d.id();
        self.learned_bdf
            .get(&d.bdf)
            .cloned()
            .or_else(|| self.config.drivers.get(&id).cloned())
            .or_else(|| self.learned_id.get(&id).cloned())
            .or_else(|| self.config.declared(&id))
    }

    /// Whether a driver's static id table (as modelled) holds an id.
    fn static_match(&self, driver: &str, bdf: Option<Bdf>, id: &str) -> bool {
        if self.config.drivers.get(id).map(String::as_str) == Some(driver) {
            return true;
        }
        if let Some(b) = bdf {
            if self.learned_bdf.get(&b).map(String::as_str) == Some(driver) {
                return true;
            }
        }
        if is_stub(driver) {
            return false;
        }
        self.learned_id.get(id).map(String::as_str) == Some(driver)
            || self.config.declared(id).as_deref() == Some(driver)
    }

    fn dynid_match(&self, driver: &str, d: &Dev) -> bool {
        self.dynids.get(driver).is_some_and(|ids| {
            ids.iter()
                .any(|i| i.matches(d.vendor, d.device, d.sub_vendor, d.sub_device, d.class))
        })
    }

    /// `pci_match_device`: override first, then dynamic ids, then the static table,
    /// and an override naming the driver always matches.
    pub fn matches(&self, driver: &str, d: &Dev) -> bool {
        let ov = self.override_of(d);
        if let Some(o) = &ov {
            if o != driver {
                return false;
            }
        }
        self.dynid_match(driver, d)
            || self.static_match(driver, Some(d.bdf), &d.id())
            || ov.is_some()
    }

    /// `pci_device_can_probe`: a VF is probed only when its PF's
    /// `sriov_drivers_autoprobe` is 1 or it has an override.
    fn can_probe(&self, d: &Dev) -> bool {
        match self.physfn(d) {
            Some(pf) => {
                self.fs
                    .read_str(&pf.attr("sriov_drivers_autoprobe"))
                    .as_deref()
                    != Some("0")
                    || self.override_of(d).is_some()
            }
            None => true,
        }
    }

    pub(crate) fn bus_autoprobe(&self) -> bool {
        self.fs.read_str("sys/bus/pci/drivers_autoprobe").as_deref() != Some("0")
    }

    // ----- binding -------------------------------------------------------------

    /// A driver's probe of a device (the device is unbound): the checks of
    /// `pci_device_probe` and vfio-pci's own, then the links.
    pub(crate) fn probe_with(&mut self, d: &Dev, driver: &str) -> KResult<()> {
        if !self.can_probe(d) {
            return Err(libc::ENODEV);
        }
        if driver == "vfio-pci" {
            if self.header_type(d) != 0 {
                self.note(format!(
                    "vfio-pci {}: probe failed: not a normal header (EINVAL)",
                    d.bdf
                ));
                return Err(libc::EINVAL);
            }
            let noiommu = self
                .fs
                .read_str("sys/module/vfio/parameters/enable_unsafe_noiommu_mode")
                .is_some_and(|s| s == "Y" || s == "1");
            if self.group_of(d).is_none() && !noiommu {
                self.note(format!(
                    "vfio-pci {}: probe failed: no IOMMU group (EINVAL)",
                    d.bdf
                ));
                return Err(libc::EINVAL);
            }
        }
        self.attach(d, driver);
        Ok(())
    }

    /// Makes the links of a bound device (no checks).
    pub(crate) fn attach(&mut self, d: &Dev, driver: &str) {
        let ddir = format!("{DRIVERS}/{driver}");
        self.fs.symlink(&d.attr("driver"), &rel_link(&d.dir, &ddir));
        self.fs
            .symlink(&join(&ddir, &d.bdf.to_string()), &rel_link(&ddir, &d.dir));
        self.set_uevent_driver(d, Some(driver));
        if d.class >> 16 == 0x02 && !is_stub(driver) {
            self.net_up(d);
        }
        if let Some(g) = self.group_of(d) {
            self.update_vfio(g);
        }
    }

    /// `device_release_driver`: the driver's remove (a PF's VFs go with it), then
    /// the links.
    pub(crate) fn release(&mut self, d: &Dev) {
        let Some(driver) = self.driver_of(d) else {
            return;
        };
        if !self.vfs_of(d).is_empty() {
            self.disable_vfs(d);
        }
        self.net_down(d);
        self.fs.remove(&d.attr("driver"));
        self.fs.remove(&format!("{DRIVERS}/{driver}/{}", d.bdf));
        self.set_uevent_driver(d, None);
        if let Some(g) = self.group_of(d) {
            self.update_vfio(g);
        }
    }

    fn set_uevent_driver(&mut self, d: &Dev, driver: Option<&str>) {
        let p = d.attr("uevent");
        let Some(old) = self.fs.read(&p) else { return };
        let text = String::from_utf8_lossy(old).into_owned();
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with("DRIVER="))
            .map(str::to_string)
            .collect();
        if let Some(dr) = driver {
            lines.insert(0, format!("DRIVER={dr}"));
        }
        let mut out = lines.join("\n");
        out.push('\n');
        self.fs.update(&p, out);
    }

    /// `device_attach`: the override's driver, else the default driver, else a
    /// driver with a matching dynamic id. Probe failures try the next one.
    pub(crate) fn device_attach(&mut self, d: &Dev) -> bool {
        if self.driver_of(d).is_some() {
            return true;
        }
        if !self.can_probe(d) {
            return false;
        }
        let mut candidates: Vec<String> = Vec::new();
        if let Some(o) = self.override_of(d) {
            candidates.push(o);
        } else {
            candidates.extend(self.default_driver(d));
            candidates.extend(
                self.dynids
                    .keys()
                    .filter(|k| self.dynid_match(k, d))
                    .cloned(),
            );
        }
        for c in candidates {
            if self.driver_loaded(&c) && self.matches(&c, d) && self.probe_with(d, &c).is_ok() {
                return true;
            }
        }
        false
    }

    /// `driver_attach`: a driver tries every unbound device it matches.
    pub(crate) fn driver_attach(&mut self, driver: &str) {
        for d in self.devices() {
            if self.driver_of(&d).is_none() && self.matches(driver, &d) {
                let _ = self.probe_with(&d, driver);
            }
        }
    }

    /// Recomputes `dev/vfio/N` for a group: present when at least one member is on
    /// vfio-pci and every endpoint member is on vfio-pci, pci-stub or no driver.
    pub(crate) fn update_vfio(&mut self, group: u32) {
        let members: Vec<Dev> = self
            .fs
            .list(&format!("{GROUPS}/{group}/devices"))
            .iter()
            .filter_map(|n| Bdf::parse(n))
            .filter_map(|b| self.dev(&b))
            .collect();
        let mut any_vfio = false;
        let mut viable = true;
        for m in &members {
            match self.driver_of(m).as_deref() {
                Some("vfio-pci") => any_vfio = true,
                None | Some("pci-stub") => {}
                Some(_) if self.is_bridge(m) => {}
                Some(_) => viable = false,
            }
        }
        let node = format!("dev/vfio/{group}");
        if any_vfio && viable {
            if !self.fs.exists(&node) {
                self.fs.write(&node, Vec::new(), 0o600);
            }
            if !self.fs.exists("dev/vfio/vfio") {
                self.fs.write("dev/vfio/vfio", Vec::new(), 0o666);
            }
        } else {
            self.fs.remove(&node);
        }
    }

    // ----- attribute stores ----------------------------------------------------

    /// Whether a canonical path is an attribute the model handles (rather than a
    /// plain writable file).
    pub fn store(&mut self, path: &str, data: &[u8]) -> KResult<()> {
        let (dir, name) = split_parent(path);
        if path == "sys/bus/pci/drivers_probe" {
            return self.drivers_probe_store(data);
        }
        if path == "sys/bus/pci/rescan" {
            return self.rescan_store(data);
        }
        if path == "sys/bus/pci/drivers_autoprobe" {
            let v = kstrtobool(&String::from_utf8_lossy(data)).ok_or(libc::EINVAL)?;
            self.fs.update(path, if v { "1\n" } else { "0\n" });
            return Ok(());
        }
        let (ddir, drv) = split_parent(dir);
        if ddir == DRIVERS {
            let drv = drv.to_string();
            match name {
                "bind" => return self.bind_store(&drv, data),
                "unbind" => return self.unbind_store(&drv, data),
                "new_id" => return self.new_id_store(&drv, data),
                "remove_id" => return self.remove_id_store(&drv, data),
                _ => {}
            }
        }
        if let Some(d) = self.dev_by_dir(dir) {
            match name {
                "sriov_numvfs" => return self.sriov_numvfs_store(&d, data),
                "sriov_drivers_autoprobe" => {
                    let v = kstrtobool(&String::from_utf8_lossy(data)).ok_or(libc::EINVAL)?;
                    self.fs.update(path, if v { "1\n" } else { "0\n" });
                    return Ok(());
                }
                "driver_override" => return self.driver_override_store(&d, data),
                "remove" => return self.remove_store(&d, data),
                "rescan" => return self.rescan_store(data),
                "reset" => {
                    let v = kstrtoul(&String::from_utf8_lossy(data)).ok_or(libc::EINVAL)?;
                    if v != 1 {
                        return Err(libc::EINVAL);
                    }
                    let methods = self.fs.read_str(&d.attr("reset_method"));
                    return if methods.is_some_and(|m| m.is_empty()) {
                        Err(libc::ENOTTY)
                    } else {
                        Ok(())
                    };
                }
                "sriov_vf_msix_count" => return Ok(()),
                _ => {}
            }
        }
        if name == "uevent" {
            // A synthetic uevent: the kernel emits it and the file does not change.
            let action = one_line(data);
            let word = action.split_whitespace().next().unwrap_or("");
            return match word {
                "add" | "remove" | "change" | "move" | "online" | "offline" | "bind" | "unbind" => {
                    Ok(())
                }
                _ => Err(libc::EINVAL),
            };
        }
        // Any other writable attribute keeps what was written.
        let writable = self
            .fs
            .resolve(path, true)
            .and_then(|i| self.fs.node(i))
            .is_some_and(|n| n.mode & 0o222 != 0);
        if !writable {
            return Err(libc::EACCES);
        }
        self.fs.update(path, data.to_vec());
        Ok(())
    }

    fn bdf_arg(data: &[u8]) -> Option<Bdf> {
        Bdf::parse(&one_line(data))
    }

    fn bind_store(&mut self, driver: &str, data: &[u8]) -> KResult<()> {
        let d = Self::bdf_arg(data)
            .and_then(|b| self.dev(&b))
            .ok_or(libc::ENODEV)?;
        if !self.matches(driver, &d) {
            return Err(libc::ENODEV);
        }
        if self.driver_of(&d).is_some() {
            return Err(libc::EBUSY);
        }
        self.probe_with(&d, driver)
    }

    fn unbind_store(&mut self, driver: &str, data: &[u8]) -> KResult<()> {
        let d = Self::bdf_arg(data)
            .and_then(|b| self.dev(&b))
            .ok_or(libc::ENODEV)?;
        if self.driver_of(&d).as_deref() != Some(driver) {
            return Err(libc::ENODEV);
        }
        self.release(&d);
        Ok(())
    }

    fn parse_id(data: &[u8], max: usize) -> KResult<(DynId, usize)> {
        let f = scan_hex_fields(&String::from_utf8_lossy(data), max);
        if f.len() < 2 {
            return Err(libc::EINVAL);
        }
        let g = |i: usize, def: u32| f.get(i).map(|v| *v as u32).unwrap_or(def);
        Ok((
            DynId {
                vendor: g(0, ANY),
                device: g(1, ANY),
                subvendor: g(2, ANY),
                subdevice: g(3, ANY),
                class: g(4, 0),
                class_mask: g(5, 0),
            },
            f.len(),
        ))
    }

    fn new_id_store(&mut self, driver: &str, data: &[u8]) -> KResult<()> {
        let (id, fields) = Self::parse_id(data, 7)?;
        if fields != 7 {
            // The kernel probes a fake device with these ids: already matched -> EEXIST.
            let idstr = format!("{:04x}:{:04x}", id.vendor & 0xffff, id.device & 0xffff);
            let dyn_hit = self.dynids.get(driver).is_some_and(|ids| {
                ids.iter()
                    .any(|i| i.matches(id.vendor, id.device, id.subvendor, id.subdevice, id.class))
            });
            if dyn_hit || self.static_match(driver, None, &idstr) {
                return Err(libc::EEXIST);
            }
        }
        self.dynids.entry(driver.to_string()).or_default().push(id);
        self.driver_attach(driver);
        Ok(())
    }

    fn remove_id_store(&mut self, driver: &str, data: &[u8]) -> KResult<()> {
        let (want, _) = Self::parse_id(data, 6)?;
        let ids = self.dynids.entry(driver.to_string()).or_default();
        let pos = ids.iter().position(|i| {
            i.vendor == want.vendor
                && i.device == want.device
                && (want.subvendor == ANY || i.subvendor == want.subvendor)
                && (want.subdevice == ANY || i.subdevice == want.subdevice)
                && ((i.class ^ want.class) & want.class_mask) == 0
        });
        match pos {
            Some(p) => {
                ids.remove(p);
                Ok(())
            }
            None => Err(libc::ENODEV),
        }
    }

    fn driver_override_store(&mut self, d: &Dev, data: &[u8]) -> KResult<()> {
        if data.len() >= 4095 {
            return Err(libc::EINVAL);
        }
        let s = String::from_utf8_lossy(data);
        let v = s.split('\n').next().unwrap_or("");
        let text = if v.is_empty() {
            "(null)\n".to_string()
        } else {
            format!("{v}\n")
        };
        self.fs.update(&d.attr("driver_override"), text);
        Ok(())
    }

    fn drivers_probe_store(&mut self, data: &[u8]) -> KResult<()> {
        let d = Self::bdf_arg(data)
            .and_then(|b| self.dev(&b))
            .ok_or(libc::ENODEV)?;
        self.device_attach(&d);
        Ok(())
    }

    fn sriov_numvfs_store(&mut self, pf: &Dev, data: &[u8]) -> KResult<()> {
        let n = kstrtoul(&String::from_utf8_lossy(data))
            .filter(|n| *n <= 0xffff)
            .ok_or(libc::EINVAL)? as u32;
        let total = self.attr_u32(pf, "sriov_totalvfs").unwrap_or(0);
        if n > total {
            self.note(format!(
                "{}: {n} VFs requested, TotalVFs is {total} (ERANGE)",
                pf.bdf
            ));
            return Err(libc::ERANGE);
        }
        let cur = self.vfs_of(pf).len() as u32;
        let cur = cur.max(self.attr_u32(pf, "sriov_numvfs").unwrap_or(0));
        if n == cur {
            return Ok(());
        }
        let Some(driver) = self.driver_of(pf) else {
            self.note(format!(
                "{}: no driver bound to device; cannot configure SR-IOV (ENOENT)",
                pf.bdf
            ));
            return Err(libc::ENOENT);
        };
        if !self.supports_sriov(&driver) {
            self.note(format!(
                "{}: driver {driver} does not support SR-IOV configuration via sysfs (ENOENT)",
                pf.bdf
            ));
            return Err(libc::ENOENT);
        }
        if n == 0 {
            self.disable_vfs(pf);
            return Ok(());
        }
        if cur != 0 {
            self.note(format!(
                "{}: {cur} VFs already enabled. Disable before enabling {n} VFs (EBUSY)",
                pf.bdf
            ));
            return Err(libc::EBUSY);
        }
        self.enable_vfs(pf, n)
    }

    fn supports_sriov(&self, driver: &str) -> bool {
        match driver {
            "pci-stub" | "uio_pci_generic" | "igb_uio" => false,
            "vfio-pci" => self
                .fs
                .read_str("sys/module/vfio_pci/parameters/enable_sriov")
                .is_some_and(|s| s == "Y" || s == "1"),
            _ => true,
        }
    }

    fn remove_store(&mut self, d: &Dev, data: &[u8]) -> KResult<()> {
        let v = kstrtoul(&String::from_utf8_lossy(data)).ok_or(libc::EINVAL)?;
        if v != 0 {
            self.remove_device(d);
        }
        Ok(())
    }

    fn rescan_store(&mut self, data: &[u8]) -> KResult<()> {
        let v = kstrtoul(&String::from_utf8_lossy(data)).ok_or(libc::EINVAL)?;
        if v != 0 {
            self.rescan();
        }
        Ok(())
    }

    // ----- modules -------------------------------------------------------------

    /// `modprobe NAME`: registers a driver (its directory) and lets it claim the
    /// unbound devices it matches.
    pub fn load_driver(&mut self, name: &str) {
        self.register_driver(name);
        self.driver_attach(name);
    }

    /// Creates a driver's directory (and its module's), claiming nothing.
    pub(crate) fn register_driver(&mut self, name: &str) {
        let ddir = format!("{DRIVERS}/{name}");
        if !self.fs.is_dir(&ddir) {
            for f in ["bind", "unbind", "new_id", "remove_id"] {
                self.fs.write(&join(&ddir, f), Vec::new(), 0o200);
            }
            self.fs.write(&join(&ddir, "uevent"), Vec::new(), 0o200);
            let module = name.replace('-', "_");
            let mdir = format!("sys/module/{module}");
            if !self.fs.is_dir(&mdir) {
                self.fs.write(&join(&mdir, "initstate"), "live\n", 0o444);
                self.fs.write(&join(&mdir, "refcnt"), "0\n", 0o444);
            }
            self.fs
                .symlink(&join(&ddir, "module"), &rel_link(&ddir, &mdir));
            self.fs.symlink(
                &join(&mdir, &format!("drivers/pci:{name}")),
                &rel_link(&join(&mdir, "drivers"), &ddir),
            );
        }
    }

    /// `rmmod NAME`: unbinds every device from a driver and unregisters it.
    pub fn unload_driver(&mut self, name: &str) -> KResult<()> {
        let ddir = format!("{DRIVERS}/{name}");
        if !self.fs.is_dir(&ddir) {
            return Err(libc::ENOENT);
        }
        for d in self.devices() {
            if self.driver_of(&d).as_deref() == Some(name) {
                self.release(&d);
            }
        }
        self.dynids.remove(name);
        self.fs.remove(&ddir);
        let module = name.replace('-', "_");
        self.fs
            .remove(&format!("sys/module/{module}/drivers/pci:{name}"));
        Ok(())
    }

    // ----- log -----------------------------------------------------------------

    /// Appends to the simulator log (`.passthru-sim/log`).
    pub(crate) fn note(&mut self, line: String) {
        self.seq += 1;
        if self.log.len() >= LOG_CAP {
            self.log.pop_front();
        }
        self.log.push_back(format!("{} {line}", self.seq));
    }

    /// The log as text.
    pub fn log_text(&self) -> String {
        let mut s = String::new();
        for l in &self.log {
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// Clears the log.
    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    /// Group numbers in use.
    pub(crate) fn groups(&self) -> BTreeSet<u32> {
        self.fs
            .list(GROUPS)
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect()
    }

    /// Lowest IOMMU group number not in use above the boot's groups.
    pub(crate) fn free_group(&self) -> u32 {
        let used = self.groups();
        (self.group_floor..)
            .find(|n| !used.contains(n))
            .unwrap_or(self.group_floor)
    }
}
