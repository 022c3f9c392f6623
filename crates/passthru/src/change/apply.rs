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
use crate::change::ChangeError;
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
    // VF counts.
    let mut counts: BTreeMap<PciAddress, (u32, Option<bool>)> = BTreeMap::new();
    for (sel, n, autoprobe) in &desired.sriov {
        for pf in select_pfs(host, sel)? {
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
        let p = plan_vfs(
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
        )?;
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
                desired.vfio.iter().enumerate().any(|(i, s)| {
                    let m = s.matches(host, &fake);
                    if m {
                        matched[i] = true;
                    }
                    m
                })
            })
            .collect();
        if !predicted.is_empty() {
            plan.deferred.push(format!(
                "bind to vfio-pci the VFs of {pf} that the host file selects, once they exist (expected at {})",
                predicted.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if let Some((i, _)) = matched.iter().enumerate().find(|(_, m)| !**m) {
        return Err(ChangeError::Invalid(format!(
            "[vfio] {} matches no device on this host, now or after the VF changes",
            desired.vfio[i]
        )));
    }
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
            let req = k.request();
            if !req.is_empty() {
                boot.extend(plan_kernel_args(host, facts, &req)?);
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
    if plan.is_empty() && plan.deferred.is_empty() {
        plan.notes
            .push("the host already matches the host file".into());
    }
    Ok(plan)
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
    fn selectors_that_match_nothing_are_errors() {
        let d = parse(b"[vfio]\nids = [\"1234:5678\"]\n", Path::new("h.toml")).unwrap();
        let e = plan_apply(&host(), &facts(), &d, &opts(true), None).unwrap_err();
        assert!(e.to_string().contains("1234:5678 matches no device"), "{e}");
        let d = parse(
            b"[[sriov]]\npf = \"81:00.0\"\nvfs = 1\n",
            Path::new("h.toml"),
        )
        .unwrap();
        let e = plan_apply(&host(), &facts(), &d, &opts(true), None).unwrap_err();
        assert!(
            e.to_string().contains("not an SR-IOV physical function"),
            "{e}"
        );
    }
}
