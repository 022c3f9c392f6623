//! Network interfaces of NIC functions: a network driver creates `net/IFNAME` when it
//! binds and removes it when it unbinds. An interface that existed once comes back
//! unchanged (name, MAC); a new one (a VF's) is named the way udev would
//! (`enpXsY[fZ]` on hosts with predictable names, else `ethN`) and starts administratively down (its `carrier`, `speed` and
//! `duplex` fail with EINVAL as on a real kernel).

use super::kernel::{Dev, Kernel};
use super::vfs::{join, rel_link};
use std::collections::BTreeMap;

const CLASS_NET: &str = "sys/class/net";

impl Kernel {
    /// Brings up a bound NIC's netdevs.
    pub(crate) fn net_up(&mut self, d: &Dev) {
        let net = d.attr("net");
        if !self.fs.is_dir(&net) {
            match self.net_stash.remove(&d.bdf) {
                Some(t) => {
                    self.fs.graft_path(&net, t);
                }
                None => self.net_synth(d),
            }
        }
        for ifname in self.fs.list(&net) {
            let target = join(&net, &ifname);
            self.fs.symlink(
                &format!("{CLASS_NET}/{ifname}"),
                &rel_link(CLASS_NET, &target),
            );
        }
    }

    /// Takes a NIC's netdevs away (kept for when a driver binds again).
    pub(crate) fn net_down(&mut self, d: &Dev) {
        let net = d.attr("net");
        let Some(t) = self.fs.snapshot_path(&net) else {
            return;
        };
        for ifname in self.fs.list(&net) {
            let l = format!("{CLASS_NET}/{ifname}");
            if self
                .fs
                .canonical(&l)
                .is_some_and(|c| c == join(&net, &ifname))
            {
                self.fs.remove(&l);
            }
        }
        self.fs.remove(&net);
        self.net_stash.insert(d.bdf, t);
    }

    fn net_name(&self, d: &Dev) -> String {
        let existing = self.fs.list(CLASS_NET);
        if existing.iter().any(|n| n.starts_with("en")) {
            // udev's path name: enp<bus>s<slot>[f<function>] (P<domain> first when
            // the domain is not 0).
            let b = d.bdf;
            let dom = if b.domain != 0 {
                format!("P{}", b.domain)
            } else {
                String::new()
            };
            let func = if b.func != 0 {
                format!("f{}", b.func)
            } else {
                String::new()
            };
            let name = format!("en{dom}p{}s{}{func}", b.bus, b.slot);
            if !existing.contains(&name) && name.len() <= 15 {
                return name;
            }
        }
        (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !existing.contains(n))
            .unwrap_or_else(|| "eth0".into())
    }

    fn net_synth(&mut self, d: &Dev) {
        let name = self.net_name(d);
        let ifindex = self
            .fs
            .list(CLASS_NET)
            .iter()
            .filter_map(|n| {
                self.fs
                    .read_str(&format!("{CLASS_NET}/{n}/ifindex"))
                    .and_then(|s| s.parse::<u32>().ok())
            })
            .max()
            .unwrap_or(1)
            + 1;
        let b = d.bdf;
        let mac = format!(
            "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b.domain & 0xff,
            b.bus,
            b.slot,
            b.func,
            ifindex & 0xff
        );
        let ndir = join(&d.attr("net"), &name);
        let mut files: BTreeMap<&str, String> = BTreeMap::new();
        files.insert("address", format!("{mac}\n"));
        files.insert("addr_assign_type", "1\n".into());
        files.insert("addr_len", "6\n".into());
        files.insert("broadcast", "ff:ff:ff:ff:ff:ff\n".into());
        files.insert("dev_id", "0x0\n".into());
        files.insert("dev_port", "0\n".into());
        files.insert("flags", "0x1002\n".into());
        files.insert("ifindex", format!("{ifindex}\n"));
        files.insert("iflink", format!("{ifindex}\n"));
        files.insert("mtu", "1500\n".into());
        files.insert("operstate", "down\n".into());
        files.insert("tx_queue_len", "1000\n".into());
        files.insert("type", "1\n".into());
        files.insert("uevent", format!("INTERFACE={name}\nIFINDEX={ifindex}\n"));
        for (f, v) in files {
            self.fs.write(&join(&ndir, f), v, 0o444);
        }
        for f in ["carrier", "speed", "duplex"] {
            let ino = self.fs.write(&join(&ndir, f), Vec::new(), 0o444);
            if let Some(n) = self.fs.node_mut(ino) {
                n.read_errno = Some(libc::EINVAL);
            }
        }
        // device -> ../../../BDF (from net/IFNAME/ up to the device's parent).
        self.fs
            .symlink(&join(&ndir, "device"), &format!("../../../{}", d.bdf));
        self.fs
            .symlink(&join(&ndir, "subsystem"), &rel_link(&ndir, CLASS_NET));
        self.note(format!("{}: netdev {name} created", d.bdf));
    }
}
