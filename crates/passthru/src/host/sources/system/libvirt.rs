//! libvirt QEMU domains on the host: persistent definitions (`etc/libvirt/qemu/*.xml`)
//! and running domains' status files (`run/libvirt/qemu/*.xml`, a `<domstatus>` that
//! wraps the live `<domain>`), parsed by [`crate::libvirt::domain`].

use crate::host::root::Root;
use crate::host::system::GuestDomain;
use crate::libvirt::domain::parse_domain;

const DEFINED: &str = "etc/libvirt/qemu";
const RUNNING: &str = "run/libvirt/qemu";

/// The `<domain>...</domain>` element of a file (a status file wraps it).
pub fn domain_element(xml: &str) -> Option<&str> {
    let start = xml.find("<domain ").or_else(|| xml.find("<domain>"))?;
    let end = xml.rfind("</domain>")? + "</domain>".len();
    (end > start).then(|| &xml[start..end])
}

fn read_dir(root: &Root, dir: &str, running: bool, out: &mut Vec<GuestDomain>) {
    let Ok(mut names) = root.list(dir) else {
        return;
    };
    names.sort();
    for n in names.into_iter().filter(|n| n.ends_with(".xml")) {
        let path = format!("{dir}/{n}");
        let Ok(text) = root.read_string(&path) else {
            continue;
        };
        let Some(el) = domain_element(&text) else {
            continue;
        };
        // A file libvirt would not read either is skipped; `passthru verify` reports it.
        let Ok(d) = parse_domain(el, &path) else {
            continue;
        };
        let devices = d.devices.iter().map(|a| a.address).collect();
        match out.iter_mut().find(|g| g.name == d.name) {
            Some(g) => {
                // The running definition is the one in force.
                g.running |= running;
                if running {
                    g.devices = devices;
                    g.file = path;
                }
            }
            None => out.push(GuestDomain {
                name: d.name,
                running,
                file: path,
                devices,
            }),
        }
    }
}

/// Reads the domains; `None` when the root has no libvirt QEMU directory at all.
pub fn read_domains(root: &Root) -> Option<Vec<GuestDomain>> {
    if !root.is_dir(DEFINED) && !root.is_dir(RUNNING) {
        return None;
    }
    let mut out = Vec::new();
    read_dir(root, DEFINED, false, &mut out);
    read_dir(root, RUNNING, true, &mut out);
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defined_and_running_domains() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join(DEFINED)).unwrap();
        std::fs::create_dir_all(r.join(RUNNING)).unwrap();
        let dom = |name: &str, slot: &str| {
            format!("<domain type='kvm'><name>{name}</name><devices><hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x07' slot='{slot}' function='0x7'/></source></hostdev></devices></domain>")
        };
        std::fs::write(r.join(DEFINED).join("a.xml"), dom("a", "0x10")).unwrap();
        std::fs::write(r.join(DEFINED).join("b.xml"), dom("b", "0x11")).unwrap();
        std::fs::write(
            r.join(RUNNING).join("a.xml"),
            format!(
                "<domstatus state='running' pid='42'>\n{}\n</domstatus>",
                dom("a", "0x10")
            ),
        )
        .unwrap();
        std::fs::write(r.join(DEFINED).join("broken.xml"), "<domain>").unwrap();
        let root = Root::open(r).unwrap();
        let d = read_domains(&root).unwrap();
        assert_eq!(d.len(), 2);
        assert!(d[0].running && !d[1].running);
        assert_eq!(d[0].file, "run/libvirt/qemu/a.xml");
        assert_eq!(d[0].devices[0].to_string(), "0000:07:10.7");
        let empty = tempfile::tempdir().unwrap();
        assert!(read_domains(&Root::open(empty.path()).unwrap()).is_none());
    }
}
