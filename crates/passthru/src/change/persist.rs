//! What makes a host file survive a reboot: the file itself under `etc/passthru/`,
//! a systemd unit that runs `passthru apply --boot` early, `etc/modprobe.d` for
//! vfio-pci ids, blacklists and softdeps, and the vfio modules in the initramfs
//! (dracut or initramfs-tools).
//!
//! The unit is ordered like the SR-IOV operator's and os-net-config's (anchors §1.3,
//! §1.5): no default dependencies, after local file systems and udev, before
//! `network-pre.target` (so NetworkManager/networkd see the VFs), libvirtd and
//! nova-compute (so they never see a host without its VFs, a classic cause of "VFs
//! gone after reboot", anchors §3.2).

use crate::change::hostfile::Desired;
use crate::change::plan::{
    Action, Command, Contents, Expect, FileDigest, Plan, Precondition, UndoCommand,
};
use crate::host::change_facts::ChangeFacts;
use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;

/// The installed host file.
pub const HOST_FILE: &str = "etc/passthru/host.toml";
/// The boot unit.
pub const UNIT: &str = "etc/systemd/system/passthru.service";
/// The unit's name.
pub const UNIT_NAME: &str = "passthru.service";
/// Where `systemctl enable` links it.
pub const UNIT_WANTS: &str = "etc/systemd/system/multi-user.target.wants/passthru.service";
/// passthru's modprobe.d file.
pub const MODPROBE: &str = "etc/modprobe.d/passthru.conf";
/// passthru's dracut configuration.
pub const DRACUT: &str = "etc/dracut.conf.d/passthru.conf";
/// initramfs-tools' module list (shared with the admin; passthru edits its own block).
pub const INITRAMFS_MODULES: &str = "etc/initramfs-tools/modules";
/// The default binary the unit runs.
pub const DEFAULT_BINARY: &str = "/usr/bin/passthru";
/// vfio modules loaded early (vfio_virqfd is part of vfio since Linux 6.2, and
/// pulled in by dependency before that).
pub const VFIO_MODULES: &[&str] = &["vfio", "vfio_iommu_type1", "vfio_pci"];

const MARK_BEGIN: &str = "# BEGIN passthru: vfio modules for early binding";
const MARK_END: &str = "# END passthru";

/// The boot unit running `BINARY apply --boot --yes /etc/passthru/host.toml`.
pub fn render_unit(binary: &str) -> String {
    format!(
        "# Written by `passthru apply`; `passthru undo` removes it.
[Unit]
Description=passthru: SR-IOV VFs and vfio-pci bindings from /etc/passthru/host.toml
DefaultDependencies=no
After=local-fs.target systemd-modules-load.service systemd-udev-trigger.service
Wants=network-pre.target
Before=network-pre.target libvirtd.service virtqemud.service nova-compute.service openstack-nova-compute.service
Conflicts=shutdown.target
Before=shutdown.target
ConditionPathExists=/etc/passthru/host.toml

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={binary} apply --boot --yes /etc/passthru/host.toml

[Install]
WantedBy=multi-user.target
"
    )
}

/// passthru's modprobe.d file, or `None` when there is nothing to say.
pub fn render_modprobe(ids: &[String], blacklist: &[String], softdep: &[String]) -> Option<String> {
    if ids.is_empty() && blacklist.is_empty() && softdep.is_empty() {
        return None;
    }
    let mut s = String::from("# Written by `passthru apply` from /etc/passthru/host.toml; `passthru undo` restores the previous state.\n");
    if !ids.is_empty() {
        s.push_str(&format!("options vfio-pci ids={}\n", ids.join(",")));
    }
    for m in softdep {
        s.push_str(&format!("softdep {m} pre: vfio-pci\n"));
    }
    for m in blacklist {
        s.push_str(&format!("blacklist {m}\n"));
    }
    Some(s)
}

/// passthru's dracut configuration: vfio forced into the initramfs.
pub fn render_dracut() -> String {
    format!(
        "# Written by `passthru apply`: vfio in the initramfs so vfio-pci binds before host drivers.\nforce_drivers+=\" {} \"\n",
        VFIO_MODULES.join(" ")
    )
}

/// initramfs-tools' `modules` with passthru's block present (`want`) or removed.
pub fn edit_initramfs_modules(existing: &str, want: bool) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for seg in existing.split_inclusive('\n') {
        let l = seg.trim_end();
        if l == MARK_BEGIN {
            skipping = true;
            continue;
        }
        if skipping {
            if l == MARK_END {
                skipping = false;
            }
            continue;
        }
        out.push_str(seg);
    }
    if want {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(MARK_BEGIN);
        out.push('\n');
        for m in VFIO_MODULES {
            out.push_str(m);
            out.push('\n');
        }
        out.push_str(MARK_END);
        out.push('\n');
    }
    out
}

/// Plans a file to hold `desired` (or to be absent with `None`): nothing when it
/// already does. Symlinked files are edited at their target. Returns whether a step
/// was added.
pub fn desire_file(
    plan: &mut Plan,
    facts: &ChangeFacts,
    path: &str,
    desired: Option<&str>,
    why: &str,
) -> bool {
    let current = facts.file(path);
    match (current, desired) {
        (None, None) => false,
        (Some(f), Some(d)) if f.text.as_bytes() == d.as_bytes() => false,
        (Some(f), None) => {
            plan.preconditions.push(Precondition::File {
                path: f.real_path.clone(),
                state: Some(f.digest),
            });
            plan.expect.push(Expect::File {
                path: f.real_path.clone(),
                state: None,
            });
            plan.step(
                Action::DeleteFile {
                    path: f.real_path.clone(),
                },
                why,
            );
            true
        }
        (cur, Some(d)) => {
            let real = cur
                .map(|f| f.real_path.clone())
                .unwrap_or_else(|| path.to_string());
            plan.preconditions.push(Precondition::File {
                path: real.clone(),
                state: cur.map(|f| f.digest),
            });
            plan.expect.push(Expect::File {
                path: real.clone(),
                state: Some(FileDigest::of(d.as_bytes())),
            });
            plan.step(
                Action::WriteFile {
                    path: real,
                    contents: Contents::Text(d.to_string()),
                    mode: 0o644,
                },
                why,
            );
            true
        }
    }
}

/// Which initramfs tooling the host uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initramfs {
    /// Debian/Ubuntu's initramfs-tools (`update-initramfs -u`).
    InitramfsTools,
    /// dracut (`dracut --force`).
    Dracut,
}

/// The initramfs tooling, from the tools and configuration directories present.
pub fn initramfs_tool(facts: &ChangeFacts) -> Option<Initramfs> {
    if facts.has_tool("update-initramfs") || (facts.initramfs_tools && !facts.has_tool("dracut")) {
        Some(Initramfs::InitramfsTools)
    } else if facts.has_tool("dracut") || facts.dracut_conf_d {
        Some(Initramfs::Dracut)
    } else {
        None
    }
}

/// Boot-time configuration wanted by a host file.
#[derive(Clone, Debug, Default)]
pub struct BootConfig {
    /// `vfio-pci ids=`.
    pub vfio_ids: Vec<String>,
    /// Blacklisted modules.
    pub blacklist: Vec<String>,
    /// Modules to load after vfio-pci.
    pub softdep: Vec<String>,
    /// vfio in the initramfs.
    pub initramfs: bool,
    /// Install the host file and the unit.
    pub persist: bool,
    /// The host file's bytes.
    pub host_file: Vec<u8>,
    /// The binary the unit runs.
    pub binary: String,
}

/// Plans modprobe.d, initramfs and persistence files, then the commands they need
/// (initramfs regeneration, `systemctl daemon-reload`, `enable`).
pub fn plan_boot_config(
    facts: &ChangeFacts,
    want: &BootConfig,
) -> Result<Plan, crate::change::ChangeError> {
    let mut plan = Plan::new("boot configuration");
    let modprobe = render_modprobe(&want.vfio_ids, &want.blacklist, &want.softdep);
    let modprobe_changed = desire_file(
        &mut plan,
        facts,
        MODPROBE,
        modprobe.as_deref(),
        "vfio-pci ids, softdeps and blacklists, read by modprobe and copied into the initramfs",
    );
    let tool = initramfs_tool(facts);
    let mut initramfs_changed = false;
    match tool {
        Some(Initramfs::Dracut) => {
            initramfs_changed = desire_file(
                &mut plan,
                facts,
                DRACUT,
                want.initramfs.then(render_dracut).as_deref(),
                "dracut puts the vfio modules in the initramfs",
            );
        }
        Some(Initramfs::InitramfsTools) => {
            let cur = facts.file(INITRAMFS_MODULES).map(|f| f.text.clone());
            if want.initramfs || cur.as_deref().is_some_and(|c| c.contains(MARK_BEGIN)) {
                let new = edit_initramfs_modules(cur.as_deref().unwrap_or(""), want.initramfs);
                initramfs_changed = desire_file(
                    &mut plan,
                    facts,
                    INITRAMFS_MODULES,
                    Some(&new),
                    "initramfs-tools loads the listed modules early",
                );
            }
        }
        None if want.initramfs => {
            return Err(crate::change::ChangeError::Invalid(
                "[vfio] initramfs = true, but neither dracut nor initramfs-tools is on this host (no dracut, update-initramfs, etc/dracut.conf.d or etc/initramfs-tools)".into(),
            ))
        }
        None => {}
    }
    let regen_initramfs =
        initramfs_changed || (modprobe_changed && (want.initramfs || facts.file(DRACUT).is_some()));
    let host_file = want
        .persist
        .then(|| String::from_utf8_lossy(&want.host_file).into_owned());
    desire_file(
        &mut plan,
        facts,
        HOST_FILE,
        host_file.as_deref(),
        "the desired state, read at every boot by passthru.service",
    );
    let unit = want.persist.then(|| render_unit(&want.binary));
    let unit_changed = desire_file(
        &mut plan,
        facts,
        UNIT,
        unit.as_deref(),
        "runs `passthru apply --boot` before the network, libvirtd and nova-compute",
    );
    if regen_initramfs {
        let cmd = match tool {
            Some(Initramfs::InitramfsTools) => Command::rerun("update-initramfs", &["-u"]),
            _ => Command::rerun("dracut", &["--force"]),
        };
        plan.expect.push(Expect::Ran {
            command: cmd.line(),
        });
        plan.step(
            Action::Run(cmd),
            "rebuild the initramfs with the new modules and modprobe options",
        );
        plan.reboot_required = true;
    }
    if modprobe_changed && !regen_initramfs {
        plan.notes.push(format!(
            "{MODPROBE} takes effect when the modules next load (at the latest, next boot)"
        ));
    }
    let enabled = facts.file(UNIT_WANTS).is_some();
    if unit_changed {
        plan.step(
            Action::Run(Command::rerun("systemctl", &["daemon-reload"])),
            "systemd reads the changed unit",
        );
    }
    if want.persist && !enabled {
        plan.step(
            Action::Run(Command {
                program: "systemctl".into(),
                args: vec!["enable".into(), UNIT_NAME.into()],
                undo: UndoCommand::Run {
                    program: "systemctl".into(),
                    args: vec!["disable".into(), UNIT_NAME.into()],
                },
            }),
            "start it at every boot",
        );
    } else if !want.persist && enabled {
        plan.step(
            Action::Run(Command {
                program: "systemctl".into(),
                args: vec!["disable".into(), UNIT_NAME.into()],
                undo: UndoCommand::Run {
                    program: "systemctl".into(),
                    args: vec!["enable".into(), UNIT_NAME.into()],
                },
            }),
            "the host file no longer asks for persistence",
        );
    }
    // Commands run last in a change set (see apply); move them after file writes.
    Ok(plan)
}

/// Says in a `vfs` plan whether the new count outlives the next boot: VF counts are
/// runtime state, and "VFs gone after reboot" is the classic surprise (anchors §3.2).
/// `installed` is the host file under `etc/passthru/`, which the boot unit applies.
pub fn after_reboot_vfs(
    host: &Host,
    installed: Option<&Desired>,
    pf: &PciDevice,
    count: u32,
    plan: &mut Plan,
) {
    if plan.is_empty() {
        return;
    }
    let name = pf
        .netdevs
        .first()
        .cloned()
        .unwrap_or_else(|| pf.address.to_string());
    let asked = installed.and_then(|d| {
        d.sriov
            .iter()
            .find(|(sel, _, _)| sel.matches(host, pf))
            .map(|(_, n, _)| *n)
    });
    match asked {
        Some(n) if n == count => plan.notes.push(format!(
            "/{HOST_FILE} also asks for {n} VFs on {name}: the boot unit creates them at every boot"
        )),
        Some(n) => plan.warnings.push(format!(
            "/{HOST_FILE} asks for {n} VFs on {name}: the boot unit puts {n} back at the next boot; to keep {count}, change it there and run `passthru apply /{HOST_FILE}`"
        )),
        None if count == 0 => {}
        None => plan.notes.push(format!(
            "VF counts are runtime state: after a reboot {name} has no VFs again; to keep {count}, put `[[sriov]] pf = \"{name}\" vfs = {count}` in a host file and `passthru apply` it (docs/host-file.md)"
        )),
    }
}

/// Says in a `bind` plan whether the new drivers outlive the next boot (overrides
/// and bindings are runtime state), and warns when the installed host file will bind
/// a device back to vfio-pci.
pub fn after_reboot_bind(
    host: &Host,
    installed: Option<&Desired>,
    devices: &[PciAddress],
    to_vfio: bool,
    plan: &mut Plan,
) {
    if plan.is_empty() {
        return;
    }
    let selected =
        |d: &PciDevice| installed.is_some_and(|f| f.vfio.iter().any(|sel| sel.matches(host, d)));
    let mut lost = Vec::new();
    for d in devices.iter().filter_map(|a| host.device(a)) {
        match (to_vfio, selected(d)) {
            (true, true) => {}
            (false, true) => plan.warnings.push(format!(
                "/{HOST_FILE} binds {} to vfio-pci: the boot unit takes it back at the next boot; to keep this, remove it there and run `passthru apply /{HOST_FILE}`",
                d.address
            )),
            (_, false) => lost.push(d.address.to_string()),
        }
    }
    if lost.is_empty() {
        return;
    }
    let one = lost.len() == 1;
    if to_vfio {
        // A VF exists after a reboot only if the file sets its PF's count: apply
        // refuses a VF address without it, so the suggestion carries that line too.
        let mut sriov: Vec<String> = Vec::new();
        for d in lost
            .iter()
            .filter_map(|a| PciAddress::parse(a).ok().and_then(|a| host.device(&a)))
        {
            let Some(pf) = d.physfn.and_then(|p| host.device(&p)) else {
                continue;
            };
            let name = pf
                .netdevs
                .first()
                .cloned()
                .unwrap_or_else(|| pf.address.to_string());
            let n = pf.sriov.as_ref().map_or(0, |s| s.num_vfs);
            let line = format!("[[sriov]] pf = \"{name}\" vfs = {n}");
            if !sriov.contains(&line) {
                sriov.push(line);
            }
        }
        let with_pf = if sriov.is_empty() {
            String::new()
        } else {
            format!(
                " with `{}` (the VFs exist at boot only if the file creates them)",
                sriov.join("`, `")
            )
        };
        plan.notes.push(format!(
            "drivers and driver_override are runtime state: after a reboot {} {} back to {} host driver; to keep {} on vfio-pci, put `[vfio] devices = [\"{}\"]`{with_pf} in a host file and `passthru apply` it (docs/host-file.md)",
            lost.join(", "),
            if one { "goes" } else { "go" },
            if one { "its" } else { "their" },
            if one { "it" } else { "them" },
            lost.join("\", \"")
        ));
    } else {
        plan.notes.push(format!(
            "drivers and driver_override are runtime state: after a reboot {} {} the driver the boot gives {}",
            lost.join(", "),
            if one { "gets" } else { "get" },
            if one { "it" } else { "them" },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::plan::describe_action;

    #[test]
    fn modprobe_and_initramfs_renderings() {
        let m = render_modprobe(
            &["10de:1b80".into(), "10de:10f0".into()],
            &["nouveau".into()],
            &["nouveau".into()],
        )
        .unwrap();
        assert!(m.contains("options vfio-pci ids=10de:1b80,10de:10f0\n"));
        assert!(m.contains("softdep nouveau pre: vfio-pci\n") && m.contains("blacklist nouveau\n"));
        assert!(render_modprobe(&[], &[], &[]).is_none());
        let base = "# /etc/initramfs-tools/modules\nraid1\n";
        let with = edit_initramfs_modules(base, true);
        assert_eq!(
            with,
            format!("{base}{MARK_BEGIN}\nvfio\nvfio_iommu_type1\nvfio_pci\n{MARK_END}\n")
        );
        assert_eq!(edit_initramfs_modules(&with, true), with, "idempotent");
        assert_eq!(
            edit_initramfs_modules(&with, false),
            base,
            "removal restores the admin's file"
        );
        assert!(render_dracut().contains("force_drivers+=\" vfio vfio_iommu_type1 vfio_pci \""));
    }

    #[test]
    fn boot_config_plans_files_then_commands() {
        let facts = ChangeFacts {
            tools: vec!["dracut".into(), "systemctl".into()],
            ..Default::default()
        };
        let want = BootConfig {
            vfio_ids: vec!["8086:1520".into()],
            initramfs: true,
            persist: true,
            host_file: b"[[sriov]]\npf = \"eno1\"\nvfs = 2\n".to_vec(),
            binary: DEFAULT_BINARY.into(),
            ..Default::default()
        };
        let p = plan_boot_config(&facts, &want).unwrap();
        let a: Vec<String> = p.steps.iter().map(|s| describe_action(&s.action)).collect();
        assert!(a[0].starts_with("write etc/modprobe.d/passthru.conf"));
        assert!(a[1].starts_with("write etc/dracut.conf.d/passthru.conf"));
        assert!(a[2].starts_with("write etc/passthru/host.toml"));
        assert!(a[3].starts_with("write etc/systemd/system/passthru.service"));
        assert_eq!(
            &a[4..],
            [
                "run dracut --force",
                "run systemctl daemon-reload",
                "run systemctl enable passthru.service"
            ]
        );
        assert!(p.reboot_required);
    }

    #[test]
    fn the_unit_orders_before_network_libvirt_and_nova() {
        let u = render_unit("/usr/bin/passthru");
        // Monolithic libvirtd and the modular daemons (virtqemud, the default since
        // libvirt 9 on Fedora/RHEL 9) both start guests: both wait for the VFs.
        assert!(u.contains(
            "Before=network-pre.target libvirtd.service virtqemud.service nova-compute.service"
        ));
        assert!(u.contains("DefaultDependencies=no"));
        assert!(
            u.contains("ExecStart=/usr/bin/passthru apply --boot --yes /etc/passthru/host.toml")
        );
    }
}
