//! Planning a VF count change: `passthru vfs PF N`.
//!
//! The kernel changes a non-zero `sriov_numvfs` only through 0 (EBUSY otherwise,
//! drivers/pci/iov.c), so a change from 2 to 4 is two writes; every current VF goes
//! away in between, which is why removing VFs held by a guest or set aside on
//! vfio-pci is refused without `--force`.

use crate::change::errno::{explain, ErrnoContext, WriteKind};
use crate::change::plan::{dev_attr, Action, Condition, DriverState, Expect, Plan, Precondition};
use crate::change::{enforce, safety, ChangeError, Refusal};
use crate::host::change_facts::ChangeFacts;
use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;

/// A VF count to reach.
#[derive(Clone, Debug)]
pub struct VfsRequest {
    /// The PF.
    pub pf: PciAddress,
    /// VFs wanted.
    pub count: u32,
    /// `sriov_drivers_autoprobe` wanted, if any.
    pub autoprobe: Option<bool>,
    /// Seconds to wait for VFs (and netdevs) to appear.
    pub timeout_secs: u64,
    /// Override forceable refusals.
    pub force: bool,
    /// At boot: wait for the PF's driver instead of refusing when it has none yet.
    pub boot: bool,
}

/// The PF a name designates, or why it is not one.
pub fn require_pf<'h>(host: &'h Host, addr: &PciAddress) -> Result<&'h PciDevice, ChangeError> {
    let d = host
        .device(addr)
        .ok_or_else(|| ChangeError::Invalid(format!("no device {addr} on this host")))?;
    if let Some(pf) = d.physfn {
        return Err(ChangeError::Invalid(format!(
            "{addr} is a VF (of PF {pf}); VF counts are set on the PF: `passthru vfs {pf} N`"
        )));
    }
    if d.sriov.is_none() {
        return Err(ChangeError::Invalid(format!(
            "{addr} ({}) is not an SR-IOV physical function: it has no sriov_totalvfs (`passthru ls --sriov` lists those that are)",
            d.label()
        )));
    }
    Ok(d)
}

/// Plans the change of one PF's VF count.
pub fn plan_vfs(
    host: &Host,
    facts: &ChangeFacts,
    req: &VfsRequest,
    ssh_connection: Option<&str>,
) -> Result<Plan, ChangeError> {
    let pf = require_pf(host, &req.pf)?;
    let sriov = pf.sriov.clone().unwrap_or_default();
    let name = pf_name(pf);
    let mut plan = Plan::new(format!(
        "set the VF count of {name} from {} to {}",
        sriov.num_vfs, req.count
    ));
    let ctx = ErrnoContext {
        device: Some(pf.address.to_string()),
        value: Some(req.count.to_string()),
        total_vfs: Some(sriov.total_vfs),
        current_vfs: Some(sriov.num_vfs),
        driver: pf.driver.clone(),
    };
    let mut refusals: Vec<Refusal> = Vec::new();
    if req.count > sriov.total_vfs {
        let e = explain(WriteKind::NumVfs, libc::ERANGE, &ctx);
        refusals.push(Refusal::hard(
            Some(pf.address),
            format!("{} (the kernel would answer ERANGE)", e.cause),
            e.fix,
        ));
    }
    // Drivers without sriov_configure (iov.c answers ENOENT): stubs hold the PF for
    // a guest or a user-space driver; vfio-pci only with enable_sriov=1.
    if let Some(d) = pf.driver.as_deref() {
        let no_sriov = match d.replace('_', "-").as_str() {
            "vfio-pci" => facts.vfio_pci_enable_sriov != Some(true),
            "pci-stub" | "uio-pci-generic" | "igb-uio" => true,
            _ => false,
        };
        if no_sriov && req.count != sriov.num_vfs {
            let e = explain(WriteKind::NumVfs, libc::ENOENT, &ctx);
            refusals.push(Refusal::hard(
                Some(pf.address),
                format!("{} (the kernel would answer ENOENT)", e.cause),
                e.fix,
            ));
        }
    }
    let wait_for_driver = pf.driver.is_none() && req.boot && req.count != sriov.num_vfs;
    if pf.driver.is_none() && !wait_for_driver && req.count != sriov.num_vfs {
        let e = explain(WriteKind::NumVfs, libc::ENOENT, &ctx);
        refusals.push(Refusal::hard(
            Some(pf.address),
            format!("{} (the kernel would answer ENOENT)", e.cause),
            e.fix,
        ));
    }
    if sriov.num_vfs > 0 && req.count != sriov.num_vfs {
        refusals.extend(safety::check_vfs_removal(host, facts, pf, ssh_connection));
    }
    enforce(refusals, req.force, &mut plan.warnings)?;

    let autoprobe_change = req
        .autoprobe
        .filter(|a| sriov.drivers_autoprobe != Some(*a));
    if req.count == sriov.num_vfs && autoprobe_change.is_none() {
        plan.notes
            .push(format!("{name} already has {} VFs", req.count));
        plan.expect.push(Expect::NumVfs {
            pf: pf.address,
            count: req.count,
        });
        return Ok(plan);
    }
    let numvfs = dev_attr(&pf.address, "sriov_numvfs");
    plan.preconditions.push(Precondition::AttrEquals {
        path: numvfs.clone(),
        value: sriov.num_vfs.to_string(),
    });
    if wait_for_driver {
        plan.step(
            Action::Wait {
                condition: Condition::Driver {
                    device: pf.address,
                    driver: DriverState::Host,
                },
                timeout_secs: req.timeout_secs,
                required: true,
            },
            "at boot the PF's driver may still be loading; only it can create VFs",
        );
    } else {
        plan.preconditions.push(Precondition::Driver {
            device: pf.address,
            driver: pf.driver.clone(),
        });
    }
    if req.count != sriov.num_vfs
        && pf.netdevs.iter().any(|n| {
            safety::critical_interfaces(facts, ssh_connection)
                .iter()
                .any(|(i, _)| i == n)
        })
    {
        plan.warnings.push(format!(
            "{name} carries the host's own traffic; some PF drivers reset the link while VFs are created or removed"
        ));
    }
    // Autoprobe decides whether the VFs about to be created get a host driver.
    if let Some(a) = autoprobe_change {
        plan.step(
            Action::WriteAttr {
                path: dev_attr(&pf.address, "sriov_drivers_autoprobe"),
                value: if a { "1" } else { "0" }.into(),
            },
            if a {
                "new VFs get their host driver (igbvf, iavf...) when created"
            } else {
                "new VFs stay without a driver, ready for vfio-pci"
            },
        );
    }
    if req.count != sriov.num_vfs {
        numvfs_steps(&mut plan, pf, sriov.num_vfs, req.count, req.timeout_secs);
        if sriov.num_vfs > 0 && !req.boot {
            // The kernel keeps nothing of a removed VF: what was set on it goes too.
            let via = pf
                .netdevs
                .first()
                .map(|n| format!(" (`ip link set {n} vf N mac|vlan|trust|spoofchk ...`)"))
                .unwrap_or_default();
            plan.notes.push(format!(
                "the {} current VFs are removed: what was set on them through the PF{via} and on their own interfaces is lost, and VFs created again get new MAC addresses unless the PF driver assigns fixed ones",
                sriov.num_vfs
            ));
        }
    }
    plan.expect.push(Expect::NumVfs {
        pf: pf.address,
        count: req.count,
    });
    if let Some(i) = pf
        .interfaces
        .iter()
        .find(|i| i.operstate.as_deref() == Some("down"))
    {
        if req.count > 0 {
            plan.notes.push(format!(
                "{} is down: its VFs pass no traffic until it is up (`ip link set {} up`)",
                i.name, i.name
            ));
        }
    }
    Ok(plan)
}

/// Appends the writes and waits that take a PF from `from` to `to` VFs (through 0).
pub fn numvfs_steps(plan: &mut Plan, pf: &PciDevice, from: u32, to: u32, timeout_secs: u64) {
    let numvfs = dev_attr(&pf.address, "sriov_numvfs");
    if from > 0 {
        plan.step(
            Action::WriteAttr {
                path: numvfs.clone(),
                value: "0".into(),
            },
            if to > 0 {
                format!("remove the {from} VFs first: the kernel changes a non-zero count only through 0")
            } else {
                format!("remove the {from} VFs")
            },
        );
        plan.step(
            Action::Wait {
                condition: Condition::VfsPresent {
                    pf: pf.address,
                    count: 0,
                },
                timeout_secs,
                required: true,
            },
            "",
        );
    }
    if to > 0 {
        plan.step(
            Action::WriteAttr {
                path: numvfs,
                value: to.to_string(),
            },
            format!("create {to} VFs"),
        );
        plan.step(
            Action::Wait {
                condition: Condition::VfsPresent {
                    pf: pf.address,
                    count: to,
                },
                timeout_secs,
                required: true,
            },
            "",
        );
        let autoprobe = pf
            .sriov
            .as_ref()
            .and_then(|s| s.drivers_autoprobe)
            .unwrap_or(true);
        if pf.class.base() == 0x02 && autoprobe {
            plan.step(
                Action::Wait {
                    condition: Condition::VfNetdevs { pf: pf.address },
                    timeout_secs,
                    required: false,
                },
                "VF drivers create network interfaces asynchronously",
            );
        }
    }
}

/// `0000:06:00.0 (eno1)`.
pub fn pf_name(d: &PciDevice) -> String {
    if d.netdevs.is_empty() {
        d.address.to_string()
    } else {
        format!("{} ({})", d.address, d.netdevs.join(","))
    }
}

/// Addresses the VFs of a PF will have with `count` VFs (offset and stride).
pub fn predicted_vfs(pf: &PciDevice, count: u32) -> Vec<PciAddress> {
    let Some(s) = &pf.sriov else {
        return Vec::new();
    };
    let (Some(off), Some(stride)) = (s.offset, s.stride) else {
        return Vec::new();
    };
    (0..count)
        .filter_map(|i| {
            PciAddress::from_routing_id(
                pf.address.domain,
                pf.address.routing_id() + off + i * stride,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::plan::describe_action;
    use crate::host::model::Sriov;

    fn host(num: u32, driver: Option<&str>) -> Host {
        let mut pf = PciDevice::new(
            PciAddress::parse("06:00.0").unwrap(),
            0x8086,
            0x1521,
            0x020000,
        );
        pf.driver = driver.map(str::to_string);
        pf.netdevs = vec!["eno1".into()];
        pf.sriov = Some(Sriov {
            total_vfs: 8,
            num_vfs: num,
            offset: Some(384),
            stride: Some(4),
            drivers_autoprobe: Some(true),
            ..Default::default()
        });
        let mut devices = vec![];
        for (i, a) in predicted_vfs(&pf, num).into_iter().enumerate() {
            let mut vf = PciDevice::new(a, 0x8086, 0x1520, 0x020000);
            vf.physfn = Some(pf.address);
            vf.vf_index = Some(i as u32);
            vf.driver = Some("igbvf".into());
            pf.virtfns.push(a);
            devices.push(vf);
        }
        devices.push(pf);
        let mut h = Host {
            devices,
            ..Host::default()
        };
        h.normalize();
        h
    }

    fn req(count: u32) -> VfsRequest {
        VfsRequest {
            pf: PciAddress::parse("06:00.0").unwrap(),
            count,
            autoprobe: None,
            timeout_secs: 30,
            force: false,
            boot: false,
        }
    }

    fn actions(p: &Plan) -> Vec<String> {
        p.steps.iter().map(|s| describe_action(&s.action)).collect()
    }

    #[test]
    fn creation_from_zero_is_one_write_then_waits() {
        let p = plan_vfs(
            &host(0, Some("igb")),
            &ChangeFacts::default(),
            &req(4),
            None,
        )
        .unwrap();
        let a = actions(&p);
        assert_eq!(
            a[0],
            "write 4 to sys/bus/pci/devices/0000:06:00.0/sriov_numvfs"
        );
        assert!(a[1].contains("shows 4 VFs"));
        assert!(a[2].contains("network interface"));
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn a_change_goes_through_zero_and_same_count_is_nothing() {
        let p = plan_vfs(
            &host(2, Some("igb")),
            &ChangeFacts::default(),
            &req(4),
            None,
        )
        .unwrap();
        let a = actions(&p);
        assert_eq!(
            a[0],
            "write 0 to sys/bus/pci/devices/0000:06:00.0/sriov_numvfs"
        );
        assert!(a[1].contains("shows 0 VFs"));
        assert_eq!(
            a[2],
            "write 4 to sys/bus/pci/devices/0000:06:00.0/sriov_numvfs"
        );
        let p = plan_vfs(
            &host(2, Some("igb")),
            &ChangeFacts::default(),
            &req(2),
            None,
        )
        .unwrap();
        assert!(p.is_empty());
        assert!(p.notes[0].contains("already has 2 VFs"));
    }

    #[test]
    fn above_total_and_no_driver_are_refused_with_the_errno_meaning() {
        let e = plan_vfs(
            &host(0, Some("igb")),
            &ChangeFacts::default(),
            &req(9),
            None,
        )
        .unwrap_err();
        let ChangeError::Refused(r) = e else { panic!() };
        assert!(r[0].message.contains("ERANGE") && r[0].fix.contains("at most 8"));
        let mut rq = req(9);
        rq.force = true;
        assert!(
            plan_vfs(&host(0, Some("igb")), &ChangeFacts::default(), &rq, None).is_err(),
            "not forceable"
        );
        let e = plan_vfs(&host(0, None), &ChangeFacts::default(), &req(2), None).unwrap_err();
        assert!(e.to_string().contains("no driver bound"), "{e}");
        // At boot the plan waits for the driver instead.
        let mut rq = req(2);
        rq.boot = true;
        let p = plan_vfs(&host(0, None), &ChangeFacts::default(), &rq, None).unwrap();
        assert!(actions(&p)[0].contains("bound to a host driver"));
    }

    #[test]
    fn a_pf_on_a_driver_without_sriov_configure_is_refused() {
        let e = plan_vfs(
            &host(0, Some("vfio-pci")),
            &ChangeFacts::default(),
            &req(2),
            None,
        )
        .unwrap_err();
        let ChangeError::Refused(r) = e else { panic!() };
        assert!(
            r[0].message.contains(
                "is bound to vfio-pci, which creates VFs only when loaded with enable_sriov=1"
            ) && r[0].message.contains("ENOENT"),
            "{r:?}"
        );
        assert!(!r[0].forceable);
        let e = plan_vfs(
            &host(0, Some("pci-stub")),
            &ChangeFacts::default(),
            &req(2),
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("bound to pci-stub, which cannot enable SR-IOV"),
            "{e}"
        );
        // vfio-pci loaded with enable_sriov=1 creates VFs.
        let facts = ChangeFacts {
            vfio_pci_enable_sriov: Some(true),
            ..Default::default()
        };
        assert!(plan_vfs(&host(0, Some("vfio-pci")), &facts, &req(2), None).is_ok());
    }

    #[test]
    fn a_vf_that_is_not_a_pf_is_explained() {
        let h = host(2, Some("igb"));
        let vf = h.devices.iter().find(|d| d.is_vf()).unwrap().address;
        let mut r = req(1);
        r.pf = vf;
        let e = plan_vfs(&h, &ChangeFacts::default(), &r, None).unwrap_err();
        assert!(e.to_string().contains("is a VF (of PF 0000:06:00.0)"));
    }

    #[test]
    fn predicted_addresses_follow_offset_and_stride() {
        let h = host(0, Some("igb"));
        let pf = h.device(&PciAddress::parse("06:00.0").unwrap()).unwrap();
        let v: Vec<String> = predicted_vfs(pf, 3).iter().map(|a| a.short()).collect();
        assert_eq!(v, vec!["07:10.0", "07:10.4", "07:11.0"]);
    }
}
