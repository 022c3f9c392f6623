//! Reboot: runtime state is forgotten (VFs gone, overrides and dynamic ids cleared,
//! removed devices back, every device on its default driver, autoprobe on), files a
//! tool wrote outside `sys/`, `proc/` and `dev/` stay, and the module configuration
//! in `etc/modprobe.d` and on the new command line takes effect (see [`modprobe`]).
//! The boot image is computed once, at load time, from the tree as given.
//!
//! [`modprobe`]: super::modprobe

use super::kernel::{BootImage, Kernel, BOOT_ID};
use super::vfs::ROOT;

impl Kernel {
    /// The state right after a boot of the tree as loaded.
    pub(crate) fn boot_image(&self) -> BootImage {
        let mut k = self.clone();
        k.boot = None;
        k.normalize_for_boot();
        BootImage {
            sys: k.fs.snapshot_path("sys"),
            dev: k.fs.snapshot_path("dev"),
            proc: k.fs.snapshot_path("proc"),
            group_floor: k.groups().last().map_or(0, |g| g + 1),
            net_stash: k.net_stash,
        }
    }

    fn normalize_for_boot(&mut self) {
        self.rescan();
        for d in self.devices() {
            let pf = !self.vfs_of(&d).is_empty() || self.fs.exists(&d.attr("sriov_numvfs"));
            if pf && self.dev(&d.bdf).is_some() {
                self.disable_vfs(&d);
            }
        }
        for d in self.devices() {
            if self.fs.exists(&d.attr("driver_override")) {
                self.fs.update(&d.attr("driver_override"), "(null)\n");
            }
            if self.fs.exists(&d.attr("sriov_drivers_autoprobe")) {
                self.fs.update(&d.attr("sriov_drivers_autoprobe"), "1\n");
            }
        }
        self.fs.update("sys/bus/pci/drivers_autoprobe", "1\n");
        self.dynids.clear();
        for d in self.devices() {
            let want = self.default_driver(&d).filter(|w| self.driver_loaded(w));
            let have = self.driver_of(&d);
            if have == want {
                continue;
            }
            if have.is_some() {
                self.release(&d);
            }
            if let Some(w) = want {
                self.attach(&d, &w);
            }
        }
        for g in self.groups() {
            self.update_vfio(g);
        }
        self.log.clear();
    }

    /// Reboots: restores `sys/`, `dev/` and `proc/` from the boot image (with a new
    /// `proc/cmdline` when given) and keeps everything else.
    pub fn reboot(&mut self, cmdline: Option<&str>) {
        let Some(img) = self.boot.clone() else { return };
        for (name, t) in [("sys", &img.sys), ("dev", &img.dev), ("proc", &img.proc)] {
            self.fs.remove(name);
            if let Some(t) = t {
                self.fs.graft(ROOT, name, t.clone());
            }
        }
        if self.fs.is_dir("proc") {
            let id = self.new_boot_id();
            self.fs.write(BOOT_ID, id, 0o444);
        }
        if let Some(c) = cmdline {
            let mut text = c.trim_end_matches('\n').to_string();
            text.push('\n');
            self.fs.write("proc/cmdline", text, 0o444);
        }
        self.net_stash = img.net_stash.clone();
        self.dynids.clear();
        self.removed.clear();
        self.boot_modules();
        self.boot_dynids();
        self.boots += 1;
        self.note(format!("reboot (boot #{})", self.boots));
    }

    /// A boot id (`proc/sys/kernel/random/boot_id`) unlike any other: the time, the
    /// process and the boot count, shaped as a version 4 UUID.
    pub(crate) fn new_boot_id(&self) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let pid = std::process::id();
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}\n",
            (nanos >> 32) as u32,
            (nanos >> 16) as u16,
            (self.boots + 1) & 0xfff,
            pid & 0xfff,
            (nanos as u64) & 0xffff_ffff_ffff
        )
    }

    /// Number of boots so far (1 after mounting).
    pub fn boots(&self) -> u32 {
        self.boots
    }
}
