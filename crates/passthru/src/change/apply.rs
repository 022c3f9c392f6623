//! Planning `passthru apply FILE`: the whole desired state of a host at once.
//!
//! One change set, in an order that keeps a failure cheap to undo: files first
//! (kernel command line, modprobe.d, initramfs configuration, the host file and its
//! unit), then runtime state (VF counts, then bindings), then commands (boot loader,
//! initramfs, systemd), which are slow and only re-run on rollback if they ran.
//! Bindings of VFs that do not exist yet cannot be planned against facts; they are
//! listed as deferred, and the command plans them again once the VFs exist, in the
//! same change set. `--boot` plans runtime state only (the boot unit's job).

use crate::change::bind::{plan_bind, BindRequest, BindTarget};
use crate::change::hostfile::{Desired, Selector};
use crate::change::kernel_args::plan_kernel_args;
use crate::change::persist::{plan_boot_config, BootConfig};
use crate::change::plan::{Action, Plan};
use crate::change::vfs::{plan_vfs, predicted_vfs, require_pf, VfsRequest};
use crate::change::{enforce, ChangeError, Refusal};
use crate::host::change_facts::ChangeFacts;
use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;
use std::collections::BTreeMap;

/// Options of an apply.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// At boot: runtime state only, and wait for PF drivers still loading.
    pub boot: bool,
    /// Runtime state only (VF counts and bindings): `--boot`, and the later rounds
    /// of an apply.
    pub runtime_only: bool,
    /// Override forceable refusals.
    pub force: bool,
    /// Seconds to wait for VFs and binds.
    pub timeout_secs: u64,
    /// The binary the boot unit runs.
    pub binary: String,
}

/// The PFs a `[[sriov]]` selector designates.
fn select_pfs<'h>(host: &'h Host, sel: &Selector) -> Result<Vec<&'h PciDevice>, ChangeError> {
    let found: Vec<&PciDevice> = host
        .devices
        .iter()
        .filter(|d| sel.matches(host, d))
        .collect();
    if found.is_empty() {
        return Err(ChangeError::Invalid(format!(
            "[[sriov]] pf = \"{sel}\" matches no device on this host (`passthru ls --sriov` lists the PFs)"
        )));
    }
    let mut pfs = Vec::new();
    for d in found {
        match require_pf(host, &d.address) {
            Ok(pf) => pfs.push(pf),
            // vendor:device selects every PF with those ids; VFs sharing them are skipped.
            Err(_) if matches!(sel, Selector::Ids(..)) && d.is_vf() => {}
            Err(e) => return Err(e),
        }
    }
    if pfs.is_empty() {
        return Err(ChangeError::Invalid(format!(
            "[[sriov]] pf = \"{sel}\" matches no SR-IOV PF"
        )));
    }
    Ok(pfs)
}

/// Plans converging the host to a host file.
pub fn plan_apply(
    host: &Host,
    facts: &ChangeFacts,
    desired: &Desired,
    opts: &ApplyOptions,
    ssh_connection: Option<&str>,
) -> Result<Plan, ChangeError> {
    let runtime_only = opts.boot || opts.runtime_only;
    let mut plan = Plan::new(if runtime_only {
        "apply the host file's runtime state (VF counts, vfio bindings)"
    } else {
        "apply the host file"
    });
    // At boot an entry that cannot be planned (a NIC gone or renamed, a VF count the
    // firmware no longer allows) is skipped and said, so the rest of the host still
    // gets its VFs and bindings; anywhere else it is an error.
    let mut skipped: Vec<String> = Vec::new();
    let mut skip = |what: String, e: ChangeError| -> Result<(), ChangeError> {
        if opts.boot {
            skipped.push(format!("{what}: {e}"));
            Ok(())
        } else {
            Err(e)
        }
    };
    // VF counts.
    let mut counts: BTreeMap<PciAddress, (u32, Option<bool>)> = BTreeMap::new();
    for (sel, n, autoprobe) in &desired.sriov {
        let pfs = match select_pfs(host, sel) {
            Ok(p) => p,
            Err(e) => {
                skip(format!("[[sriov]] pf = \"{sel}\""), e)?;
                continue;
            }
        };
        for pf in pfs {
            if let Some((m, _)) = counts.get(&pf.address) {
                if m != n {
                    return Err(ChangeError::Invalid(format!(
                        "{} is selected twice in [[sriov]] with different counts ({m} and {n})",
                        pf.address
                    )));
                }
            }
            counts.insert(pf.address, (*n, *autoprobe));
        }
    }
    let mut runtime = Plan::default();
    let mut changing: Vec<PciAddress> = Vec::new();
    for (pf, (n, autoprobe)) in &counts {
        let p = match plan_vfs(
            host,
            facts,
            &VfsRequest {
                pf: *pf,
                count: *n,
                autoprobe: *autoprobe,
                timeout_secs: opts.timeout_secs,
                force: opts.force,
                boot: opts.boot,
            },
            ssh_connection,
        ) {
            Ok(p) => p,
            Err(e) => {
                skip(format!("{n} VFs on {pf}"), e)?;
                continue;
            }
        };
        if p.steps.iter().any(|s| matches!(&s.action, Action::WriteAttr { path, .. } if path.ends_with("/sriov_numvfs"))) {
            changing.push(*pf);
        }
        runtime.extend(p);
    }
    // vfio bindings: what exists now, and what will exist once VF counts change.
    let mut bind_now: Vec<PciAddress> = Vec::new();
    let mut matched: Vec<bool> = vec![false; desired.vfio.len()];
    for d in &host.devices {
        let hits: Vec<usize> = desired
            .vfio
            .iter()
            .enumerate()
            .filter(|(_, s)| s.matches(host, d))
            .map(|(i, _)| i)
            .collect();
        if hits.is_empty() {
            continue;
        }
        for i in &hits {
            matched[*i] = true;
        }
        // These VFs disappear when their PF's count changes.
        if d.physfn.is_some_and(|pf| changing.contains(&pf)) {
            continue;
        }
        bind_now.push(d.address);
    }
    for pf in &changing {
        let Some(pfd) = host.device(pf) else { continue };
        let n = counts.get(pf).map(|c| c.0).unwrap_or(0);
        let vf_device = pfd.sriov.as_ref().and_then(|s| s.vf_device_id);
        let predicted: Vec<PciAddress> = predicted_vfs(pfd, n)
            .into_iter()
            .filter(|a| {
                let mut fake = PciDevice::new(
                    *a,
                    pfd.vendor_id.0,
                    vf_device.map(|d| d.0).unwrap_or(0),
                    pfd.class.0,
                );
                fake.physfn = Some(*pf);
                // Every selector is asked (no short cut): each that selects the VF
                // counts as matching something.
                let mut any = false;
                for (i, s) in desired.vfio.iter().enumerate() {
                    if s.matches(host, &fake) {
                        matched[i] = true;
                        any = true;
                    }
                }
                any
            })
            .collect();
        if !predicted.is_empty() {
            plan.deferred.push(format!(
                "bind to vfio-pci the VFs of {pf} that the host file selects, once they exist (expected at {})",
                predicted.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for (i, _) in matched.iter().enumerate().filter(|(_, m)| !**m) {
        let sel = &desired.vfio[i];
        let hint = if matches!(sel, Selector::Netdev(_)) {
            " (an interface name goes away when its device leaves its network driver: name devices by address)"
        } else {
            ""
        };
        skip(
            format!("[vfio] {sel}"),
            ChangeError::Invalid(format!(
                "[vfio] {sel} matches no device on this host, now or after the VF changes{hint}"
            )),
        )?;
    }
    if !opts.boot && !opts.runtime_only {
        let mut refusals = lasting_selection_refusals(host, desired, &counts);
        refusals.retain(|r| desired.persist() || !r.forceable);
        refusals.extend(owner_conflicts(host, desired, &mut plan.warnings));
        enforce(refusals, opts.force, &mut plan.warnings)?;
    }
    let bind_now = if opts.boot {
        bindable_at_boot(
            host,
            facts,
            bind_now,
            desired,
            opts,
            ssh_connection,
            &mut skipped,
        )
    } else {
        bind_now
    };
    if !bind_now.is_empty() {
        let p = plan_bind(
            host,
            facts,
            &BindRequest {
                devices: bind_now,
                target: BindTarget::Vfio,
                with_group: desired.file.vfio.as_ref().is_some_and(|v| v.whole_devices),
                force: opts.force,
                timeout_secs: opts.timeout_secs,
            },
            ssh_connection,
        )?;
        runtime.extend(p);
    }
    let mut files = Plan::default();
    let mut commands = Plan::default();
    if !runtime_only {
        let mut boot = Plan::default();
        if let Some(k) = &desired.file.kernel {
            let mut req = k.request();
            req.force = opts.force;
            if !req.is_empty() {
                let k = plan_kernel_args(host, facts, &req)?;
                // The file's title replaces the parts' titles: keep what the command
                // line change is, which the file-write step alone does not say.
                if !k.is_empty() {
                    boot.notes.push(k.title.clone());
                }
                boot.extend(k);
            }
        }
        let vfio = desired.file.vfio.clone().unwrap_or_default();
        let modprobe = desired.file.modprobe.clone().unwrap_or_default();
        boot.extend(plan_boot_config(
            facts,
            &BootConfig {
                vfio_ids: if vfio.modprobe_ids {
                    desired
                        .vfio_ids
                        .iter()
                        .map(|(v, d)| format!("{v}:{d}"))
                        .collect()
                } else {
                    Vec::new()
                },
                blacklist: modprobe.blacklist,
                softdep: modprobe.softdep,
                initramfs: vfio.initramfs,
                persist: desired.persist(),
                host_file: desired.bytes.clone(),
                binary: opts.binary.clone(),
            },
        )?);
        // Split: file writes first, commands last.
        for s in boot.steps.drain(..) {
            if matches!(s.action, Action::Run(_)) {
                commands.steps.push(s);
            } else {
                files.steps.push(s);
            }
        }
        files.preconditions = boot.preconditions;
        files.expect = boot.expect;
        files.notes = boot.notes;
        files.warnings = boot.warnings;
        files.reboot_required = boot.reboot_required;
    }
    // One title for the whole file; the parts' titles would only repeat the steps.
    let title = std::mem::take(&mut plan.title);
    plan.extend(files);
    plan.extend(runtime);
    plan.extend(commands);
    plan.title = title;
    plan.skipped.extend(skipped);
    if plan.is_empty() && plan.deferred.is_empty() && plan.skipped.is_empty() {
        plan.notes
            .push("the host already matches the host file".into());
    }
    Ok(plan)
}

/// Refusals for `[vfio]` entries that select what will not be there after a reboot:
/// an interface name (it disappears as soon as its device is on vfio-pci, so the next
/// apply and the boot unit cannot find it), and VFs of a PF whose count the file does
/// not set (a boot creates no VFs, so the boot unit would have nothing to bind).
fn lasting_selection_refusals(
    host: &Host,
    desired: &Desired,
    counts: &BTreeMap<PciAddress, (u32, Option<bool>)>,
) -> Vec<Refusal> {
    let mut out = Vec::new();
    for sel in &desired.vfio {
        if let Selector::Netdev(n) = sel {
            if let Some(d) = host.devices.iter().find(|d| sel.matches(host, d)) {
                out.push(Refusal::hard(
                    Some(d.address),
                    format!("[vfio] devices: '{n}' is the interface of {}; the name goes away once {} leaves its network driver for vfio-pci, so a later apply and the boot unit could not find it", d.address, d.address),
                    format!("name it by address: devices = [\"{}\"]", d.address),
                ));
            }
        }
        if !matches!(
            sel,
            Selector::Address(_) | Selector::Netdev(_) | Selector::VfOf(_)
        ) {
            continue;
        }
        for d in host.devices.iter().filter(|d| sel.matches(host, d)) {
            let Some(pf) = d.physfn else { continue };
            if counts.contains_key(&pf) {
                continue;
            }
            let Some(pfd) = host.device(&pf) else {
                continue;
            };
            let name = pfd
                .netdevs
                .first()
                .cloned()
                .unwrap_or_else(|| pf.to_string());
            let n = pfd.sriov.as_ref().map(|s| s.num_vfs).unwrap_or(0);
            let msg = format!(
                "[vfio] {sel} selects {}, a VF of {pf} ({name}), but the host file does not set {name}'s VF count: after a reboot the VF does not exist and the boot unit cannot bind it",
                d.address
            );
            if out.iter().any(|r: &Refusal| r.message == msg) {
                continue;
            }
            out.push(Refusal::forceable(
                Some(d.address),
                msg,
                format!("add [[sriov]] pf = \"{name}\" vfs = {n} to the host file (--force if something else creates the VFs at boot)"),
            ));
        }
    }
    out
}

/// Other owners of what the host file sets (`conflict.*`, the same judgement doctor
/// makes): one that will undo it at boot is a refusal (`--force` overrides, as when
/// passthru is meant to win the race or the owner is about to be removed); one that
/// sets the same is a warning, since two owners now hold it.
fn owner_conflicts(host: &Host, desired: &Desired, warnings: &mut Vec<String>) -> Vec<Refusal> {
    use crate::checks::conflict::{claims, devices, fix, judge, wants};
    use crate::host::owners::ClaimAction;
    let w = wants(host, desired, "the host file");
    let mut out = Vec::new();
    for c in claims(host) {
        for d in devices(host, &c) {
            let asked = match &c.action {
                ClaimAction::NumVfs(_) => w.vfs.get(&d.address).map(|n| ClaimAction::NumVfs(*n)),
                ClaimAction::Driver(_) if w.vfio.contains(&d.address) => {
                    Some(ClaimAction::Driver("vfio-pci".into()))
                }
                _ => None,
            };
            let Some(asked) = asked else { continue };
            let j = judge(&c, d, Some((w.source.as_str(), &asked)));
            if j.undoes {
                out.push(Refusal::forceable(Some(d.address), j.message, fix(&c, d)));
            } else {
                warnings.push(j.message);
            }
        }
    }
    out
}

/// At boot, the devices to bind that can be: a device the safety rules refuse (it
/// became the default-route NIC...) is skipped and said, not the whole boot's work.
fn bindable_at_boot(
    host: &Host,
    facts: &ChangeFacts,
    mut devices: Vec<PciAddress>,
    desired: &Desired,
    opts: &ApplyOptions,
    ssh_connection: Option<&str>,
    skipped: &mut Vec<String>,
) -> Vec<PciAddress> {
    // Each round drops the devices refused by name; a refusal naming none drops all.
    for _ in 0..8 {
        if devices.is_empty() {
            break;
        }
        let req = BindRequest {
            devices: devices.clone(),
            target: BindTarget::Vfio,
            with_group: desired.file.vfio.as_ref().is_some_and(|v| v.whole_devices),
            force: opts.force,
            timeout_secs: opts.timeout_secs,
        };
        match plan_bind(host, facts, &req, ssh_connection) {
            Ok(_) => return devices,
            Err(ChangeError::Refused(rs)) => {
                let named: Vec<PciAddress> = rs.iter().filter_map(|r| r.device).collect();
                for r in &rs {
                    skipped.push(format!(
                        "binding {}: {}",
                        r.device
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| "the [vfio] devices".into()),
                        r.message
                    ));
                }
                if named.is_empty() || rs.iter().any(|r| r.device.is_none()) {
                    return Vec::new();
                }
                devices.retain(|d| !named.contains(d));
            }
            Err(e) => {
                skipped.push(format!("the [vfio] bindings: {e}"));
                return Vec::new();
            }
        }
    }
    devices
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::hostfile::parse;
    use crate::change::plan::describe_action;
    use crate::host::model::Sriov;
    use std::path::Path;

    fn host() -> Host {
        let mut devices = Vec::new();
        for f in 0..2u8 {
            let mut pf = PciDevice::new(
                PciAddress::new(0, 6, 0, f).unwrap(),
                0x8086,
                0x1521,
                0x020000,
            );
            pf.driver = Some("igb".into());
            pf.netdevs = vec![format!("eno{}", f + 1)];
            pf.iommu_group = Some(29 + f as u32);
            pf.sriov = Some(Sriov {
                total_vfs: 8,
                num_vfs: 0,
                offset: Some(384),
                stride: Some(4),
                vf_device_id: Some(crate::pci::DeviceId(0x1520)),
                drivers_autoprobe: Some(true),
            });
            devices.push(pf);
        }
        let mut gpu = PciDevice::new(
            PciAddress::parse("81:00.0").unwrap(),
            0x10de,
            0x1b80,
            0x030000,
        );
        gpu.driver = Some("nouveau".into());
        gpu.iommu_group = Some(50);
        let mut audio = PciDevice::new(
            PciAddress::parse("81:00.1").unwrap(),
            0x10de,
            0x10f0,
            0x040300,
        );
        audio.driver = Some("snd_hda_intel".into());
        audio.iommu_group = Some(50);
        devices.extend([gpu, audio]);
        let mut h = Host {
            devices,
            kernel_cmdline: Some("ro quiet".into()),
            ..Host::default()
        };
        h.normalize();
        h
    }

    fn facts() -> ChangeFacts {
        ChangeFacts {
            cpu_vendor: crate::host::system::CpuVendor::Intel,
            tools: vec!["update-grub".into(), "update-initramfs".into()],
            pci_drivers: vec!["vfio-pci".into()],
            files: [(
                "etc/default/grub".to_string(),
                crate::host::change_facts::FileFact {
                    real_path: "etc/default/grub".into(),
                    text: "GRUB_CMDLINE_LINUX=\"\"\n".into(),
                    digest: crate::change::plan::FileDigest::of(b"GRUB_CMDLINE_LINUX=\"\"\n"),
                },
            )]
            .into(),
            ..Default::default()
        }
    }

    fn opts(boot: bool) -> ApplyOptions {
        ApplyOptions {
            boot,
            runtime_only: false,
            force: false,
            timeout_secs: 10,
            binary: "/usr/bin/passthru".into(),
        }
    }

    const FILE: &[u8] = br#"
[kernel]
iommu = true
[[sriov]]
pf = "8086:1521"
vfs = 2
[vfio]
devices = ["81:00.0"]
ids = ["8086:1520"]
whole_devices = true
initramfs = true
modprobe_ids = true
"#;

    #[test]
    fn files_then_runtime_then_commands_with_vf_bindings_deferred() {
        let d = parse(FILE, Path::new("h.toml")).unwrap();
        let p = plan_apply(&host(), &facts(), &d, &opts(false), None).unwrap();
        let a: Vec<String> = p.steps.iter().map(|s| describe_action(&s.action)).collect();
        let pos = |needle: &str| {
            a.iter()
                .position(|x| x.contains(needle))
                .unwrap_or_else(|| panic!("{needle} in {a:#?}"))
        };
        assert!(
            pos("write etc/default/grub")
                < pos("write 2 to sys/bus/pci/devices/0000:06:00.0/sriov_numvfs")
        );
        assert!(pos("write etc/systemd/system/passthru.service") < pos("sriov_numvfs"));
        assert!(
            pos("write 2 to sys/bus/pci/devices/0000:06:00.1/sriov_numvfs")
                < pos("0000:81:00.0/driver_override")
        );
        assert!(pos("0000:81:00.1/driver_override") < pos("run update-grub"));
        assert!(pos("run update-grub") < pos("run update-initramfs -u"));
        assert!(
            p.notes
                .contains(&"kernel command line: add intel_iommu=on".to_string()),
            "{:?}",
            p.notes
        );
        assert_eq!(p.deferred.len(), 2);
        assert!(
            p.deferred[0].contains("0000:07:10.0, 0000:07:10.4"),
            "{:?}",
            p.deferred
        );
        // --boot: runtime only.
        let p = plan_apply(&host(), &facts(), &d, &opts(true), None).unwrap();
        assert!(p
            .steps
            .iter()
            .all(|s| matches!(s.action, Action::WriteAttr { .. } | Action::Wait { .. })));
    }

    #[test]
    fn selectors_that_match_nothing_are_errors_but_skipped_at_boot() {
        let d = parse(b"[vfio]\nids = [\"1234:5678\"]\n", Path::new("h.toml")).unwrap();
        let e = plan_apply(&host(), &facts(), &d, &opts(false), None).unwrap_err();
        assert!(e.to_string().contains("1234:5678 matches no device"), "{e}");
        let d = parse(
            b"[[sriov]]\npf = \"81:00.0\"\nvfs = 1\n",
            Path::new("h.toml"),
        )
        .unwrap();
        let e = plan_apply(&host(), &facts(), &d, &opts(false), None).unwrap_err();
        assert!(
            e.to_string().contains("not an SR-IOV physical function"),
            "{e}"
        );
        // At boot: a NIC gone or renamed skips its entry, and the rest still applies.
        let d = parse(
            b"[[sriov]]\npf = \"eno9\"\nvfs = 2\n[[sriov]]\npf = \"eno1\"\nvfs = 2\n[vfio]\ndevices = [\"0000:05:00.0\", \"81:00.0\"]\nwhole_devices = true\n",
            Path::new("h.toml"),
        )
        .unwrap();
        let p = plan_apply(&host(), &facts(), &d, &opts(true), None).unwrap();
        assert_eq!(p.skipped.len(), 2, "{:?}", p.skipped);
        assert!(
            p.skipped[0].starts_with("[[sriov]] pf = \"eno9\": "),
            "{:?}",
            p.skipped
        );
        assert!(
            p.skipped[1].contains("0000:05:00.0 matches no device"),
            "{:?}",
            p.skipped
        );
        let a: Vec<String> = p.steps.iter().map(|s| describe_action(&s.action)).collect();
        assert!(
            a.contains(&"write 2 to sys/bus/pci/devices/0000:06:00.0/sriov_numvfs".to_string()),
            "{a:#?}"
        );
        assert!(
            a.contains(
                &"write vfio-pci to sys/bus/pci/devices/0000:81:00.1/driver_override".to_string()
            ),
            "{a:#?}"
        );
        assert!(p
            .render_text()
            .contains("  skipped: [[sriov]] pf = \"eno9\""));
    }

    #[test]
    fn every_selector_of_a_vf_still_to_be_created_counts_as_matching() {
        // ids and vfs_of both select eno1's future VFs: neither is "matching nothing".
        let d = parse(
            b"[[sriov]]\npf = \"eno1\"\nvfs = 2\n[vfio]\nids = [\"8086:1520\"]\nvfs_of = [\"eno1\"]\n",
            Path::new("h.toml"),
        )
        .unwrap();
        let p = plan_apply(&host(), &facts(), &d, &opts(false), None).unwrap();
        assert_eq!(p.deferred.len(), 1, "{:?}", p.deferred);
    }

    #[test]
    fn vfio_entries_that_would_not_survive_a_reboot_are_refused() {
        // eno1 has 2 VFs that the host file does not create.
        let mut h = host();
        h.devices[0].sriov.as_mut().unwrap().num_vfs = 2;
        for (i, a) in ["07:10.0", "07:10.4"].iter().enumerate() {
            let mut vf = PciDevice::new(PciAddress::parse(a).unwrap(), 0x8086, 0x1520, 0x020000);
            vf.physfn = Some(h.devices[0].address);
            vf.driver = Some("igbvf".into());
            vf.netdevs = vec![format!("enp7s16f{}", i * 4)];
            vf.iommu_group = Some(40 + i as u32);
            h.devices.push(vf);
        }
        h.iommu_groups.clear();
        h.normalize();
        let refused = |text: &[u8], force: bool| -> Vec<Refusal> {
            let d = parse(text, Path::new("h.toml")).unwrap();
            let o = ApplyOptions {
                force,
                ..opts(false)
            };
            match plan_apply(&h, &facts(), &d, &o, None) {
                Err(ChangeError::Refused(r)) => r,
                Ok(_) => Vec::new(),
                Err(e) => panic!("{e}"),
            }
        };
        let r = refused(b"[vfio]\ndevices = [\"07:10.4\"]\n", false);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].message.contains("0000:07:10.4, a VF of 0000:06:00.0 (eno1), but the host file does not set eno1's VF count"), "{r:?}");
        assert!(
            r[0].fix.contains("[[sriov]] pf = \"eno1\" vfs = 2"),
            "{r:?}"
        );
        assert!(r[0].forceable);
        assert_eq!(refused(b"[vfio]\nvfs_of = [\"eno1\"]\n", false).len(), 2);
        // Setting the count, forcing, or not persisting: accepted.
        let r = refused(
            b"[[sriov]]\npf = \"eno1\"\nvfs = 2\n[vfio]\nvfs_of = [\"eno1\"]\n",
            false,
        );
        assert!(r.is_empty(), "{r:?}");
        assert!(refused(b"[vfio]\nvfs_of = [\"eno1\"]\n", true).is_empty());
        assert!(refused(
            b"[vfio]\nvfs_of = [\"eno1\"]\n[persist]\nenabled = false\n",
            false
        )
        .is_empty());
        // ids select whatever exists at boot: not refused.
        assert!(refused(b"[vfio]\nids = [\"8086:1520\"]\n", false).is_empty());
        // An interface name in [vfio] devices: refused even with --force.
        let r = refused(
            b"[[sriov]]\npf = \"eno1\"\nvfs = 2\n[vfio]\ndevices = [\"enp7s16f4\"]\n",
            true,
        );
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(
            r[0].message
                .contains("'enp7s16f4' is the interface of 0000:07:10.4"),
            "{r:?}"
        );
        assert_eq!(r[0].fix, "name it by address: devices = [\"0000:07:10.4\"]");
    }
}
