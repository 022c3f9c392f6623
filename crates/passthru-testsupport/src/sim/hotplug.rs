//! `remove` and `rescan` (drivers/pci/pci-sysfs.c `remove_store`, `rescan_store`):
//! a removed function (with everything below it, and its VFs) leaves the bus; a
//! rescan brings back every removed function whose parent is there, in a fresh IOMMU
//! group when its old number was taken, and probes it.

use super::kernel::{Dev, Kernel, Removed, DEVICES, GROUPS};
use super::vfs::{join, rel_link, split_parent, Tree};

impl Kernel {
    /// Removes a device and every device below it.
    pub(crate) fn remove_device(&mut self, d: &Dev) {
        let prefix = format!("{}/", d.dir);
        let mut below: Vec<Dev> = self
            .devices()
            .into_iter()
            .filter(|x| x.dir.starts_with(&prefix))
            .collect();
        // Deepest first.
        below.sort_by_key(|x| std::cmp::Reverse(x.dir.len()));
        for x in below {
            if self.dev(&x.bdf).is_some() {
                self.remove_one(&x);
            }
        }
        self.remove_one(d);
    }

    fn remove_one(&mut self, d: &Dev) {
        if !self.vfs_of(d).is_empty() {
            self.disable_vfs(d);
        }
        let is_vf = self.physfn(d).is_some();
        if is_vf {
            // A VF removed on its own does not come back with a rescan.
            let pf = self.physfn(d);
            self.release(d);
            if let Some(pf) = pf {
                for (i, v) in self.vfs_of(&pf) {
                    if v.bdf == d.bdf {
                        self.fs.remove(&pf.attr(&format!("virtfn{i}")));
                    }
                }
            }
            self.unregister(d);
            self.note(format!("{}: removed", d.bdf));
            return;
        }
        self.release(d);
        let group = self.group_of(d).map(|g| {
            let gdir = format!("{GROUPS}/{g}");
            let mut t = self.fs.snapshot_path(&gdir);
            if let Some(Tree::Dir(_, e)) = &mut t {
                e.remove("devices");
            }
            (g, t)
        });
        if let Some(tree) = self.fs.snapshot_path(&d.dir) {
            self.removed.push(Removed {
                bdf: d.bdf,
                dir: d.dir.clone(),
                tree,
                group,
            });
        }
        self.unregister(d);
        self.note(format!("{}: removed", d.bdf));
    }

    /// Brings back removed devices whose parent exists, then probes them.
    pub(crate) fn rescan(&mut self) {
        let mut pending = std::mem::take(&mut self.removed);
        pending.sort_by_key(|r| r.dir.len());
        let mut back = Vec::new();
        let mut keep = Vec::new();
        for r in pending {
            let (parent, _) = split_parent(&r.dir);
            if !self.fs.is_dir(parent) || self.dev(&r.bdf).is_some() {
                keep.push(r);
                continue;
            }
            self.fs.graft_path(&r.dir, r.tree.clone());
            self.fs
                .symlink(&format!("{DEVICES}/{}", r.bdf), &rel_link(DEVICES, &r.dir));
            if let Some((g, gt)) = &r.group {
                let free = !self.fs.exists(&format!("{GROUPS}/{g}"));
                let g = if free { *g } else { self.free_group() };
                let gdir = format!("{GROUPS}/{g}");
                if let Some(t) = gt.clone() {
                    if free {
                        self.fs.graft_path(&gdir, t);
                    }
                }
                let gdevs = join(&gdir, "devices");
                self.fs.mkdir_p(&gdevs);
                self.fs
                    .symlink(&join(&gdevs, &r.bdf.to_string()), &rel_link(&gdevs, &r.dir));
                self.fs
                    .symlink(&join(&r.dir, "iommu_group"), &rel_link(&r.dir, &gdir));
            }
            if let Some(iommu) = self.fs.canonical(&join(&r.dir, "iommu")) {
                let devs = join(&iommu, "devices");
                if self.fs.is_dir(&devs) {
                    self.fs
                        .symlink(&join(&devs, &r.bdf.to_string()), &rel_link(&devs, &r.dir));
                }
            }
            self.note(format!("{}: added by rescan", r.bdf));
            back.push(r.bdf);
        }
        self.removed = keep;
        for b in back {
            if let Some(d) = self.dev(&b) {
                self.autoload(&d);
                if self.bus_autoprobe() {
                    self.device_attach(&d);
                }
            }
        }
    }
}
