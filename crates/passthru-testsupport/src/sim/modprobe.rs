//! Module configuration the simulated boot and udev honour: `blacklist` lines and
//! `options vfio-pci ids=` / `softdep X pre: vfio-pci` in `etc/modprobe.d/*.conf`
//! (and `lib/`, `usr/lib/`, `run/modprobe.d`), `modprobe.blacklist=` and
//! `vfio-pci.ids=` on the kernel command line.
//!
//! * A device that appears (a new VF, a rescan) gets its default driver's module
//!   loaded, as udev does from the modalias, unless that module is blacklisted.
//! * At boot, a blacklisted driver binds nothing; a device whose id is in vfio-pci's
//!   `ids` goes to vfio-pci when vfio-pci gets there first: the ids come from the
//!   command line (vfio-pci built in or in the initramfs), or a `softdep` puts
//!   vfio-pci before the device's driver, or that driver is blacklisted. Otherwise the
//!   native driver has already claimed it, as on a real host.

use super::config::norm_id;
use super::kernel::{Dev, DynId, Kernel, ANY};
use std::collections::BTreeSet;

const DIRS: &[&str] = &[
    "etc/modprobe.d",
    "run/modprobe.d",
    "usr/lib/modprobe.d",
    "lib/modprobe.d",
];

/// What the module configuration says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ModprobeConf {
    /// Blacklisted modules (`_` form).
    pub blacklist: BTreeSet<String>,
    /// `vendor:device` ids given to vfio-pci in modprobe.d.
    pub vfio_ids_conf: BTreeSet<String>,
    /// `vendor:device` ids given to vfio-pci on the command line.
    pub vfio_ids_cmdline: BTreeSet<String>,
    /// Modules with `softdep MODULE pre: ... vfio-pci ...`.
    pub vfio_first: BTreeSet<String>,
}

fn module(name: &str) -> String {
    name.replace('-', "_")
}

fn ids(list: &str, into: &mut BTreeSet<String>) {
    for id in list.split(',') {
        // ids= entries are vendor:device[:subvendor:subdevice[:class:mask]].
        let mut parts = id.split(':');
        if let (Some(v), Some(d)) = (parts.next(), parts.next()) {
            if let Some(n) = norm_id(&format!("{v}:{d}")) {
                into.insert(n);
            }
        }
    }
}

impl Kernel {
    /// Reads the module configuration from the tree.
    pub fn modprobe_conf(&self) -> ModprobeConf {
        let mut c = ModprobeConf::default();
        for dir in DIRS {
            let mut files = self.fs.list(dir);
            files.sort();
            for f in files.into_iter().filter(|f| f.ends_with(".conf")) {
                let Some(text) = self.fs.read(&format!("{dir}/{f}")) else {
                    continue;
                };
                for line in String::from_utf8_lossy(text).lines() {
                    let words: Vec<&str> = line
                        .split('#')
                        .next()
                        .unwrap_or("")
                        .split_whitespace()
                        .collect();
                    match words.as_slice() {
                        ["blacklist", m, ..] => {
                            c.blacklist.insert(module(m));
                        }
                        ["options", m, rest @ ..] if module(m) == "vfio_pci" => {
                            for o in rest {
                                if let Some(l) = o.strip_prefix("ids=") {
                                    ids(l, &mut c.vfio_ids_conf);
                                }
                            }
                        }
                        ["softdep", m, rest @ ..] => {
                            let pre: Vec<&&str> = rest
                                .iter()
                                .skip_while(|w| **w != "pre:")
                                .skip(1)
                                .take_while(|w| **w != "post:")
                                .collect();
                            if pre.iter().any(|w| module(w) == "vfio_pci") {
                                c.vfio_first.insert(module(m));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        let cmdline = self.fs.read_str("proc/cmdline").unwrap_or_default();
        for w in cmdline.split_whitespace() {
            if let Some(l) = w.strip_prefix("modprobe.blacklist=") {
                c.blacklist.extend(l.split(',').map(module));
            } else if let Some(l) = w
                .strip_prefix("vfio-pci.ids=")
                .or_else(|| w.strip_prefix("vfio_pci.ids="))
            {
                ids(l, &mut c.vfio_ids_cmdline);
            }
        }
        c
    }

    /// udev's modalias autoload for a device that just appeared.
    /// The dynamic ids a boot gives: vfio-pci's `ids=` (command line, and modprobe.d
    /// once vfio-pci is loaded) and the ids learned from the tree ([`Kernel::boot_ids`]).
    /// `remove_id` drops them until the next boot.
    pub(crate) fn boot_dynids(&mut self) {
        let c = self.modprobe_conf();
        let mut want: Vec<(String, u32, u32)> = self.boot_ids.clone();
        let vfio_loaded = self.driver_loaded("vfio-pci");
        for id in c
            .vfio_ids_cmdline
            .iter()
            .chain(c.vfio_ids_conf.iter().filter(|_| vfio_loaded))
        {
            if let Some((v, d)) = id.split_once(':') {
                if let (Ok(v), Ok(d)) = (u32::from_str_radix(v, 16), u32::from_str_radix(d, 16)) {
                    want.push(("vfio-pci".into(), v, d));
                }
            }
        }
        for (drv, v, d) in want {
            let ids = self.dynids.entry(drv).or_default();
            if !ids.iter().any(|i| i.vendor == v && i.device == d) {
                ids.push(DynId {
                    vendor: v,
                    device: d,
                    subvendor: ANY,
                    subdevice: ANY,
                    class: 0,
                    class_mask: 0,
                });
            }
        }
    }

    pub(crate) fn autoload(&mut self, d: &Dev) {
        let Some(drv) = self.default_driver(d) else {
            return;
        };
        if self.driver_loaded(&drv) {
            return;
        }
        if self.modprobe_conf().blacklist.contains(&module(&drv)) {
            self.note(format!("{}: {drv} is blacklisted, not loaded", d.bdf));
            return;
        }
        self.register_driver(&drv);
        self.note(format!("{}: loaded {drv} (modalias)", d.bdf));
    }

    /// Applies the module configuration to a freshly booted tree.
    pub(crate) fn boot_modules(&mut self) {
        let c = self.modprobe_conf();
        if c == ModprobeConf::default() && self.boot_ids.is_empty() {
            return;
        }
        for d in self.devices() {
            let have = self.driver_of(&d);
            let id = d.id();
            let learned = self
                .boot_ids
                .iter()
                .find(|(_, v, dv)| *v == d.vendor && *dv == d.device)
                .map(|(drv, _, _)| drv.clone());
            let wants_vfio = c.vfio_ids_cmdline.contains(&id)
                || (c.vfio_ids_conf.contains(&id)
                    && have.as_ref().is_none_or(|h| {
                        c.vfio_first.contains(&module(h)) || c.blacklist.contains(&module(h))
                    }));
            let stub = if wants_vfio {
                Some("vfio-pci".to_string())
            } else {
                learned
            };
            if let Some(stub) = stub {
                if have.as_deref() != Some(stub.as_str()) && !self.is_bridge(&d) {
                    if have.is_some() {
                        self.release(&d);
                    }
                    if !self.driver_loaded(&stub) {
                        self.register_driver(&stub);
                    }
                    let _ = self.probe_with(&d, &stub);
                    continue;
                }
            }
            if let Some(h) = have {
                if c.blacklist.contains(&module(&h)) {
                    self.release(&d);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::config::SimConfig;
    use crate::sim::vfs::Vfs;

    #[test]
    fn reads_blacklists_ids_and_softdeps() {
        let mut v = Vfs::new();
        v.write("sys/bus/pci/devices/.keep", "", 0o644);
        v.write(
            "etc/modprobe.d/vfio.conf",
            "# passthru\noptions vfio-pci ids=10de:1e87,10DE:10f8:1458:3fc1 disable_vga=1\nsoftdep nouveau pre: vfio-pci\nblacklist snd-hda-intel\n",
            0o644,
        );
        v.write(
            "proc/cmdline",
            "ro modprobe.blacklist=igbvf vfio-pci.ids=8086:1520\n",
            0o444,
        );
        let k = Kernel::new(v, SimConfig::default());
        let c = k.modprobe_conf();
        assert!(c.vfio_ids_conf.contains("10de:1e87"));
        assert!(c.vfio_ids_conf.contains("10de:10f8"));
        assert!(c.vfio_first.contains("nouveau"));
        assert!(c.blacklist.contains("snd_hda_intel"));
        assert!(c.blacklist.contains("igbvf"));
        assert!(c.vfio_ids_cmdline.contains("8086:1520"));
    }
}
