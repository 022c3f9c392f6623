//! VF creation and removal (drivers/pci/iov.c `sriov_enable`/`sriov_disable`,
//! `pci_iov_add_virtfn`): VFs appear as siblings of their PF at the addresses offset
//! and stride give, each with `physfn`, a `virtfnN` link on the PF, its own IOMMU
//! group (the lowest free number) when the PF has one, and a driver when autoprobe
//! allows.

use super::kernel::{Dev, KResult, Kernel, DEVICES, GROUPS};
use super::pci::{find_ext_cap, modalias, parse_hex, set_config_numvfs, vf_config_from_pf, Bdf};
use super::vfs::{join, rel_link, split_parent, Tree};
use std::collections::BTreeMap;

/// Attributes copied from the PF into each VF when present (value and mode).
const FROM_PF: &[&str] = &[
    "subsystem_vendor",
    "subsystem_device",
    "class",
    "revision",
    "numa_node",
    "local_cpus",
    "local_cpulist",
    "dma_mask_bits",
    "consistent_dma_mask_bits",
    "max_link_speed",
    "max_link_width",
    "reset_method",
    "power_state",
];

fn rd16(c: &[u8], off: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([
        *c.get(off)?,
        *c.get(off + 1)?,
    ])))
}

impl Kernel {
    fn mode_of(&self, path: &str, default: u32) -> u32 {
        self.fs
            .resolve(path, true)
            .and_then(|i| self.fs.node(i))
            .map(|n| n.mode)
            .unwrap_or(default)
    }

    /// Offset, stride and VF device id of a PF: its `sriov_*` files, else its
    /// config's SR-IOV capability.
    fn sriov_geometry(&self, pf: &Dev) -> Option<(u32, u32, u32)> {
        let num = |a: &str| {
            self.fs
                .read_str(&pf.attr(a))
                .and_then(|s| s.parse::<u32>().ok())
        };
        let cfg = self.fs.read(&pf.attr("config"));
        let cap = cfg.and_then(|c| find_ext_cap(c, 0x10).map(|(o, _)| (c, o)));
        let offset = num("sriov_offset").or_else(|| cap.and_then(|(c, o)| rd16(c, o + 0x14)))?;
        let stride = num("sriov_stride").or_else(|| cap.and_then(|(c, o)| rd16(c, o + 0x16)))?;
        let vf_dev = self
            .fs
            .read_str(&pf.attr("sriov_vf_device"))
            .and_then(|s| parse_hex(&s))
            .or_else(|| cap.and_then(|(c, o)| rd16(c, o + 0x1a)))
            .unwrap_or(pf.device);
        Some((offset, stride, vf_dev))
    }

    /// `sriov_enable` + the PF driver's part: creates `n` VFs and probes them.
    pub(crate) fn enable_vfs(&mut self, pf: &Dev, n: u32) -> KResult<()> {
        let Some((offset, stride, vf_dev)) = self.sriov_geometry(pf) else {
            self.note(format!("{}: no SR-IOV offset/stride known (EIO)", pf.bdf));
            return Err(libc::EIO);
        };
        if n > 1 && stride == 0 {
            return Err(libc::EIO);
        }
        let addrs: Vec<Bdf> = match (0..n).map(|i| pf.bdf.virtfn(offset, stride, i)).collect() {
            Some(v) => v,
            None => return Err(libc::ENOMEM),
        };
        // VFs past the bus range of the bridge above cannot be reached.
        let (parent, _) = split_parent(&pf.dir);
        let parent = parent.to_string();
        if let Some(sub) = self
            .fs
            .read_str(&join(&parent, "subordinate_bus_number"))
            .and_then(|s| s.parse::<u32>().ok())
        {
            if let Some(last) = addrs.last() {
                if u32::from(last.bus) > sub {
                    self.note(format!(
                        "{}: can't enable {n} VFs (bus {:02x} out of range of the bridge's {sub:02x}) (ENOMEM)",
                        pf.bdf, last.bus
                    ));
                    return Err(libc::ENOMEM);
                }
            }
        }
        if let Some(taken) = addrs.iter().find(|a| self.dev(a).is_some()) {
            self.note(format!(
                "{}: VF address {taken} already taken (EEXIST)",
                pf.bdf
            ));
            return Err(libc::EEXIST);
        }
        let mut made = Vec::new();
        for (i, a) in addrs.iter().enumerate() {
            made.push(self.create_vf(pf, &parent, i as u32, *a, vf_dev));
        }
        self.fs.update(&pf.attr("sriov_numvfs"), format!("{n}\n"));
        self.set_pf_config_numvfs(pf, n as u16);
        self.note(format!("{}: enabled {n} VFs", pf.bdf));
        let autoprobe = self.bus_autoprobe();
        for vf in made.into_iter().flatten() {
            self.autoload(&vf);
            if autoprobe {
                self.device_attach(&vf);
            }
        }
        Ok(())
    }

    fn set_pf_config_numvfs(&mut self, pf: &Dev, n: u16) {
        let p = pf.attr("config");
        if let Some(c) = self.fs.read(&p) {
            let mut c = c.to_vec();
            set_config_numvfs(&mut c, n);
            self.fs.update(&p, c);
        }
    }

    fn create_vf(
        &mut self,
        pf: &Dev,
        parent: &str,
        index: u32,
        bdf: Bdf,
        vf_dev: u32,
    ) -> Option<Dev> {
        let dir = join(parent, &bdf.to_string());
        let pf_text = |k: &Kernel, a: &str| k.fs.read(&pf.attr(a)).map(<[u8]>::to_vec);
        let mut files: BTreeMap<String, (Vec<u8>, u32)> = BTreeMap::new();
        for a in FROM_PF {
            if let Some(v) = pf_text(self, a) {
                let mode = self.mode_of(&pf.attr(a), 0o444);
                files.insert(a.to_string(), (v, mode));
            }
        }
        // What VF 0 had at load time wins over the PF's values (VFs often report
        // their own subsystem ids); per-VF attributes are computed below.
        let template = self.vf_templates.get(&pf.bdf).cloned();
        if let Some(Tree::Dir(_, entries)) = &template {
            for (name, t) in entries {
                if let Tree::File(mode, data, _) = t {
                    files.insert(name.clone(), (data.clone(), *mode));
                }
            }
        }
        let hex_of = |files: &BTreeMap<String, (Vec<u8>, u32)>, a: &str, def: u32| {
            files
                .get(a)
                .and_then(|(d, _)| parse_hex(&String::from_utf8_lossy(d)))
                .unwrap_or(def)
        };
        let (sub_v, sub_d) = (
            hex_of(&files, "subsystem_vendor", pf.sub_vendor),
            hex_of(&files, "subsystem_device", pf.sub_device),
        );
        let class = hex_of(&files, "class", pf.class);
        let vendor_text = pf_text(self, "vendor")
            .unwrap_or_else(|| format!("0x{:04x}\n", pf.vendor).into_bytes());
        files.insert("vendor".into(), (vendor_text, 0o444));
        files.insert(
            "device".into(),
            (format!("0x{vf_dev:04x}\n").into_bytes(), 0o444),
        );
        let config = match &template {
            Some(Tree::Dir(_, e)) => match e.get("config") {
                Some(Tree::File(_, d, _)) => Some(d.clone()),
                _ => None,
            },
            _ => None,
        }
        .or_else(|| self.fs.read(&pf.attr("config")).map(vf_config_from_pf));
        if let Some(c) = config {
            files.insert(
                "config".into(),
                (c, self.mode_of(&pf.attr("config"), 0o644)),
            );
        }
        files.insert("resource".into(), (self.vf_resource(pf, index), 0o444));
        files.insert("irq".into(), (b"0\n".to_vec(), 0o444));
        let alias = modalias(pf.vendor, vf_dev, sub_v, sub_d, class);
        files.insert(
            "modalias".into(),
            (format!("{alias}\n").into_bytes(), 0o444),
        );
        let uevent = format!(
            "PCI_CLASS={:X}\nPCI_ID={:04X}:{:04X}\nPCI_SUBSYS_ID={:04X}:{:04X}\nPCI_SLOT_NAME={bdf}\nMODALIAS={alias}\n",
            class, pf.vendor, vf_dev, sub_v, sub_d
        );
        files.insert("uevent".into(), (uevent.into_bytes(), 0o644));
        files.insert("driver_override".into(), (b"(null)\n".to_vec(), 0o644));
        files.insert("enable".into(), (b"0\n".to_vec(), 0o600));
        files.insert("msi_bus".into(), (b"1\n".to_vec(), 0o644));
        files.insert("broken_parity_status".into(), (b"0\n".to_vec(), 0o644));
        files.insert("d3cold_allowed".into(), (b"1\n".to_vec(), 0o644));
        files.insert("ari_enabled".into(), (b"0\n".to_vec(), 0o444));
        files.insert("remove".into(), (Vec::new(), 0o200));
        files.insert("rescan".into(), (Vec::new(), 0o200));
        if self.fs.exists(&pf.attr("reset")) {
            files.insert("reset".into(), (Vec::new(), 0o200));
        }
        if self.fs.exists(&pf.attr("current_link_speed")) {
            files.insert("current_link_speed".into(), (b"Unknown\n".to_vec(), 0o444));
            files.insert("current_link_width".into(), (b"0\n".to_vec(), 0o444));
        }
        if self.fs.exists(&pf.attr("sriov_vf_total_msix")) {
            files.insert("sriov_vf_msix_count".into(), (Vec::new(), 0o200));
        }
        for (name, (data, mode)) in files {
            self.fs.write(&join(&dir, &name), data, mode);
        }
        if let Some(p) = self.fs.snapshot_path(&pf.attr("power")) {
            if matches!(p, Tree::Dir(..)) {
                self.fs.graft_path(&join(&dir, "power"), p);
            }
        }
        // Links: same depth as the PF, so `subsystem` and `iommu` read the same.
        for l in ["subsystem", "iommu"] {
            if let Some(t) = self.fs.read_link(&pf.attr(l)) {
                self.fs.symlink(&join(&dir, l), &t);
            }
        }
        self.fs
            .symlink(&join(&dir, "physfn"), &rel_link(&dir, &pf.dir));
        self.fs.symlink(
            &pf.attr(&format!("virtfn{index}")),
            &rel_link(&pf.dir, &dir),
        );
        self.fs
            .symlink(&format!("{DEVICES}/{bdf}"), &rel_link(DEVICES, &dir));
        if let Some(iommu) = self.fs.canonical(&pf.attr("iommu")) {
            let devs = join(&iommu, "devices");
            if self.fs.is_dir(&devs) {
                self.fs
                    .symlink(&join(&devs, &bdf.to_string()), &rel_link(&devs, &dir));
            }
        }
        if let Some(pg) = self.group_of(pf) {
            let g = self.free_group();
            let gdir = format!("{GROUPS}/{g}");
            let gdevs = join(&gdir, "devices");
            self.fs.mkdir_p(&gdevs);
            self.fs
                .symlink(&join(&gdevs, &bdf.to_string()), &rel_link(&gdevs, &dir));
            let ty = self
                .fs
                .read(&format!("{GROUPS}/{pg}/type"))
                .map(<[u8]>::to_vec)
                .unwrap_or_else(|| b"DMA\n".to_vec());
            self.fs.write(&join(&gdir, "type"), ty, 0o644);
            let rr = self
                .fs
                .read(&format!("{GROUPS}/{pg}/reserved_regions"))
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            self.fs.write(&join(&gdir, "reserved_regions"), rr, 0o444);
            self.fs
                .symlink(&join(&dir, "iommu_group"), &rel_link(&dir, &gdir));
        }
        self.dev(&bdf)
    }

    /// A VF's `resource`: its BARs are slices of the PF's IOV resources (lines 7-12
    /// of the PF's file), one VF-sized window per index.
    fn vf_resource(&self, pf: &Dev, index: u32) -> Vec<u8> {
        let text = self.fs.read_str(&pf.attr("resource")).unwrap_or_default();
        let lines: Vec<Vec<u64>> = text
            .lines()
            .map(|l| {
                l.split_whitespace()
                    .filter_map(|t| u64::from_str_radix(t.trim_start_matches("0x"), 16).ok())
                    .collect()
            })
            .collect();
        let total = u64::from(
            self.fs
                .read_str(&pf.attr("sriov_totalvfs"))
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(0),
        );
        let mut out = String::new();
        for bar in 0..13usize {
            let (mut s, mut e, mut f) = (0u64, 0u64, 0u64);
            if bar < 6 && total > 0 {
                if let Some(l) = lines.get(7 + bar) {
                    if l.len() == 3 && l[1] > l[0] {
                        let size = (l[1] - l[0] + 1) / total;
                        if size > 0 {
                            s = l[0] + u64::from(index) * size;
                            e = s + size - 1;
                            f = l[2];
                        }
                    }
                }
            }
            out.push_str(&format!("0x{s:016x} 0x{e:016x} 0x{f:016x}\n"));
        }
        out.into_bytes()
    }

    /// `sriov_disable`: removes every VF of a PF (unbinding them first).
    pub(crate) fn disable_vfs(&mut self, pf: &Dev) {
        let vfs = self.vfs_of(pf);
        for (i, vf) in vfs.iter().rev() {
            self.remove_vf(pf, *i, vf);
        }
        // Any stale virtfn links (a VF removed on its own).
        let stale: Vec<String> = self
            .fs
            .list(&pf.dir)
            .into_iter()
            .filter(|n| n.starts_with("virtfn"))
            .collect();
        for n in stale {
            self.fs.remove(&pf.attr(&n));
        }
        self.fs.update(&pf.attr("sriov_numvfs"), "0\n");
        self.set_pf_config_numvfs(pf, 0);
        if !vfs.is_empty() {
            self.note(format!("{}: disabled {} VFs", pf.bdf, vfs.len()));
        }
    }

    fn remove_vf(&mut self, pf: &Dev, index: u32, vf: &Dev) {
        self.release(vf);
        self.unregister(vf);
        self.fs.remove(&pf.attr(&format!("virtfn{index}")));
        self.net_stash.remove(&vf.bdf);
    }

    /// Takes a device out of the bus, its group and the IOMMU's list, and drops its
    /// directory (the caller released its driver).
    pub(crate) fn unregister(&mut self, d: &Dev) {
        if let Some(g) = self.group_of(d) {
            let gdir = format!("{GROUPS}/{g}");
            self.fs.remove(&format!("{gdir}/devices/{}", d.bdf));
            if self.fs.list(&join(&gdir, "devices")).is_empty() {
                self.fs.remove(&gdir);
                self.fs.remove(&format!("dev/vfio/{g}"));
            } else {
                self.update_vfio(g);
            }
        }
        if let Some(iommu) = self.fs.canonical(&d.attr("iommu")) {
            self.fs.remove(&format!("{iommu}/devices/{}", d.bdf));
        }
        self.fs.remove(&format!("{DEVICES}/{}", d.bdf));
        // Class links of netdevs still there (a stub driver kept none, normally).
        for ifname in self.fs.list(&d.attr("net")) {
            let l = format!("sys/class/net/{ifname}");
            if self
                .fs
                .read_link(&l)
                .is_some_and(|t| t.contains(&d.bdf.to_string()))
            {
                self.fs.remove(&l);
            }
        }
        self.fs.remove(&d.dir);
    }
}
