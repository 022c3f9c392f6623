//! Planning driver changes: `passthru bind DEV... --vfio | --driver NAME | --host`.
//!
//! Each device moves with the kernel's own mechanism (Documentation/ABI/testing/
//! sysfs-bus-pci): write `driver_override`, unbind from the current driver, then ask
//! the bus to probe it (`drivers_probe`), so only the named driver can take it. The
//! override stays set, so a rescan or a driver reload does not hand the device back to
//! the host. vfio-pci assigns whole IOMMU groups: every endpoint of a group must go
//! together, or the guest fails later with "group N is not viable"; the planner
//! refuses a partial group and names the members left behind.

use crate::change::plan::{
    dev_attr, driver_attr, same_driver, Action, Command, Condition, DriverState, Expect, Plan,
    Precondition, UndoCommand, DRIVERS_PROBE,
};
use crate::change::{enforce, safety, ChangeError, Refusal};
use crate::checks::device::boot_vga::{drives_console, CONSOLE};
use crate::host::change_facts::ChangeFacts;
use crate::host::model::{Host, PciDevice};
use crate::inventory::groups::group_ownership;
use crate::pci::PciAddress;

/// Seconds `bind --host` waits for a host driver to take a device.
const HOST_PROBE_SECS: u64 = 5;

/// Where the devices go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindTarget {
    /// vfio-pci, for a guest.
    Vfio,
    /// Another named driver.
    Driver(String),
    /// Back to the driver the kernel picks by id (override cleared).
    Host,
}

impl BindTarget {
    /// The driver name a target forces, `None` for the host's choice.
    pub fn driver(&self) -> Option<&str> {
        match self {
            BindTarget::Vfio => Some("vfio-pci"),
            BindTarget::Driver(d) => Some(d),
            BindTarget::Host => None,
        }
    }

    fn is_vfio(&self) -> bool {
        self.driver().is_some_and(|d| same_driver(d, "vfio-pci"))
    }
}

/// A set of devices to move.
#[derive(Clone, Debug)]
pub struct BindRequest {
    /// The devices named.
    pub devices: Vec<PciAddress>,
    /// Where they go.
    pub target: BindTarget,
    /// Also move the other functions of the same devices that share their groups.
    pub with_group: bool,
    /// Override forceable refusals.
    pub force: bool,
    /// Seconds to wait for each bind.
    pub timeout_secs: u64,
}

/// Plans moving devices to a driver.
pub fn plan_bind(
    host: &Host,
    facts: &ChangeFacts,
    req: &BindRequest,
    ssh_connection: Option<&str>,
) -> Result<Plan, ChangeError> {
    let mut set: Vec<PciAddress> = req.devices.clone();
    set.sort();
    set.dedup();
    for a in &set {
        if host.device(a).is_none() {
            return Err(ChangeError::Invalid(format!("no device {a} on this host")));
        }
    }
    let target_name = req.target.driver().map(str::to_string);
    let mut refusals: Vec<Refusal> = Vec::new();
    if req.target.is_vfio() {
        group_refusals(host, &mut set, req.with_group, &mut refusals);
    }
    let mut plan = Plan::new(match &target_name {
        Some(d) => format!("bind {} to {d}", list(&set)),
        None => format!("give {} back to the host's drivers", list(&set)),
    });
    let leaving: Vec<PciAddress> = set
        .iter()
        .copied()
        .filter(|a| {
            host.device(a)
                .is_some_and(|d| d.driver.is_some() && !state_holds(&req.target, d))
        })
        .filter(|a| {
            // Going from vfio-pci to the host takes nothing from the host.
            host.device(a).is_some_and(|d| {
                !d.driver
                    .as_deref()
                    .is_some_and(|x| same_driver(x, "vfio-pci"))
            })
        })
        .collect();
    refusals.extend(safety::check_leaving_host(
        host,
        facts,
        &leaving,
        ssh_connection,
    ));
    if req.target == BindTarget::Host {
        refusals.extend(vfio_claims(host, &set));
    }
    if req.target.is_vfio() {
        for d in set.iter().filter_map(|a| host.device(a)) {
            if drives_console(d) && !state_holds(&req.target, d) {
                refusals.push(Refusal::forceable(
                    Some(d.address),
                    format!("{}: {CONSOLE}", d.address),
                    "move the host console to another GPU first (firmware setup), or --force from an SSH session".into(),
                ));
            }
        }
    }
    if !req.target.is_vfio() {
        for a in &set {
            let users = safety::users_of(host, facts, a);
            if !users.is_empty() && host.device(a).is_some_and(|d| !state_holds(&req.target, d)) {
                refusals.push(Refusal::forceable(
                    Some(*a),
                    format!("{a} is in use by {}", users.join(", ")),
                    "detach it from the guest or stop the guest first (--force to take it anyway)"
                        .into(),
                ));
            }
        }
    }
    enforce(refusals, req.force, &mut plan.warnings)?;

    if let Some(d) = &target_name {
        if !facts.has_driver(d)
            && !set
                .iter()
                .all(|a| host.device(a).is_some_and(|x| state_holds(&req.target, x)))
        {
            plan.step(
                Action::Run(Command {
                    program: "modprobe".into(),
                    args: vec![d.replace('-', "_")],
                    undo: UndoCommand::Nothing,
                }),
                format!("the {d} driver is not loaded (no sys/bus/pci/drivers/{d})"),
            );
        }
    }
    for a in &set {
        let Some(d) = host.device(a) else { continue };
        device_steps(&mut plan, d, &req.target, req.timeout_secs);
    }
    if plan.is_empty() {
        plan.notes.push(format!(
            "{} already {}",
            list(&set),
            match &target_name {
                Some(d) => format!("bound to {d}"),
                None => "with the host".into(),
            }
        ));
    }
    Ok(plan)
}

/// Refusals for devices that vfio-pci claims by id: giving one back to the host
/// clears its override and probes it again, and vfio-pci, matching its id, takes it
/// again (the wait would time out and the host never converge). The ids come from
/// `vfio-pci.ids=` on the running command line, `options vfio-pci ids=` in
/// modprobe.d, or a runtime `new_id` (a device on vfio-pci with no override).
fn vfio_claims(host: &Host, set: &[PciAddress]) -> Vec<Refusal> {
    use crate::checks::config::vfio_ids::{id_matches, id_settings};
    let settings: Vec<(String, String)> = id_settings(host)
        .into_iter()
        .filter(|(place, file, _, _)| file.is_some() || place == "the kernel command line")
        .map(|(place, _, _, ids)| (place, ids))
        .collect();
    let mut out = Vec::new();
    for d in set.iter().filter_map(|a| host.device(a)) {
        let on_vfio = d
            .driver
            .as_deref()
            .is_some_and(|x| same_driver(x, "vfio-pci"));
        let places: Vec<&str> = settings
            .iter()
            .filter(|(_, ids)| ids.split(',').any(|i| id_matches(i, d) == Some(true)))
            .map(|(p, _)| p.as_str())
            .collect();
        let remove_id = format!(
            "`echo '{} {}' > /sys/bus/pci/drivers/vfio-pci/remove_id`",
            d.vendor_id, d.device_id
        );
        let (by, fix) = if !places.is_empty() {
            (
                format!("vfio-pci claims {} by id (ids= in {})", d.id_pair(), places.join(", ")),
                format!("take the id out of {} (then rebuild the initramfs and reboot), and drop it from the running vfio-pci: {remove_id}; then run this again with --force", places.join(" and ")),
            )
        } else if on_vfio && d.driver_override.is_none() {
            (
                format!(
                    "{} is on vfio-pci without a driver_override, so vfio-pci claims {} by id (a runtime new_id, or ids= given when it loaded)",
                    d.address,
                    d.id_pair()
                ),
                format!("drop the id from vfio-pci: {remove_id} (and from whatever sets it at boot); then run this again with --force"),
            )
        } else {
            continue;
        };
        out.push(Refusal::forceable(
            Some(d.address),
            format!(
                "{by}: given back to the host, {} would be probed and taken by vfio-pci again",
                d.address
            ),
            fix,
        ));
    }
    out
}

/// Whether a device is already where the target wants it (driver and override).
fn state_holds(target: &BindTarget, d: &PciDevice) -> bool {
    match target.driver() {
        Some(t) => {
            d.driver.as_deref().is_some_and(|x| same_driver(x, t))
                && d.driver_override
                    .as_deref()
                    .is_some_and(|x| same_driver(x, t))
        }
        None => {
            d.driver_override.is_none()
                && !d
                    .driver
                    .as_deref()
                    .is_some_and(|x| same_driver(x, "vfio-pci"))
                && d.driver.is_some()
        }
    }
}

/// Adds the other functions of the same devices (with `--group`) and refuses groups
/// that would not be viable for vfio: a member left on a host driver, by the one
/// ownership rule ([`group_ownership`]) that doctor, verify and render also ask, and
/// whether or not the named device is on vfio-pci already. Also refuses devices
/// without an IOMMU group.
fn group_refusals(
    host: &Host,
    set: &mut Vec<PciAddress>,
    with_group: bool,
    out: &mut Vec<Refusal>,
) {
    let named = set.clone();
    if with_group {
        // `--group` is a selection: every function of the named devices that shares
        // their group and is not on vfio-pci yet.
        for a in &named {
            let Some(d) = host.device(a) else { continue };
            let Some(g) = d.iommu_group.and_then(|n| host.group(n)) else {
                continue;
            };
            for m in &g.devices {
                if m.same_slot(a)
                    && !set.contains(m)
                    && host.device(m).is_some_and(|md| {
                        !md.is_bridge()
                            && !md
                                .driver
                                .as_deref()
                                .is_some_and(|x| same_driver(x, "vfio-pci"))
                    })
                {
                    set.push(*m);
                }
            }
        }
    }
    for a in &named {
        let Some(d) = host.device(a) else { continue };
        let Some(o) = group_ownership(host, d, set) else {
            if !state_holds(&BindTarget::Vfio, d) {
                out.push(Refusal::hard(
                    Some(*a),
                    format!("{a} has no IOMMU group: the IOMMU is off, and vfio-pci refuses such devices (EINVAL at probe)"),
                    "turn the IOMMU on: `passthru kernel-args --iommu`, enable VT-d/AMD-Vi in the firmware, reboot".into(),
                ));
            }
            continue;
        };
        for md in o.held_by_host {
            let m = md.address;
            let what = format!(
                "{m} [{}] {}{}",
                md.id_pair(),
                md.label(),
                md.driver
                    .as_ref()
                    .map(|x| format!(" ({x})"))
                    .unwrap_or_default()
            );
            let (msg, fix) = if m.same_slot(a) {
                (
                    format!("IOMMU group {} of {a} also holds {what}, another function of the same device, left on a host driver: vfio-pci takes a group whole", o.group),
                    "name it too, or add --group to take every function of the device".to_string(),
                )
            } else {
                (
                    format!("IOMMU group {} of {a} also holds {what}, a different device, left on a host driver: vfio-pci takes a group whole", o.group),
                    format!("name {m} too only if the host can spare it; otherwise move the card to a slot with its own group (or one behind an ACS-capable port)"),
                )
            };
            if !out.iter().any(|r| r.message == msg) {
                out.push(Refusal::forceable(Some(*a), msg, fix));
            }
        }
    }
    set.sort();
    set.dedup();
}

/// Appends the steps that move one device to the target (nothing when it is there).
pub fn device_steps(plan: &mut Plan, d: &PciDevice, target: &BindTarget, timeout_secs: u64) {
    if state_holds(target, d) {
        return;
    }
    let a = d.address;
    let want = target.driver().map(str::to_string);
    plan.preconditions.push(Precondition::Driver {
        device: a,
        driver: d.driver.clone(),
    });
    let override_ok = match (&want, &d.driver_override) {
        (Some(w), Some(o)) => same_driver(w, o),
        (None, None) => true,
        _ => false,
    };
    if !override_ok {
        plan.step(
            Action::WriteAttr {
                path: dev_attr(&a, "driver_override"),
                value: want.clone().unwrap_or_default(),
            },
            match &want {
                Some(w) => format!("only {w} may bind {a} from now on"),
                None => format!("let the kernel pick {a}'s driver by its ids again"),
            },
        );
    }
    let on_target = match &want {
        Some(w) => d.driver.as_deref().is_some_and(|x| same_driver(x, w)),
        None => {
            d.driver.is_some()
                && !d
                    .driver
                    .as_deref()
                    .is_some_and(|x| same_driver(x, "vfio-pci"))
        }
    };
    if on_target {
        // Only the override was missing.
        plan.expect.push(Expect::Override {
            device: a,
            value: want,
        });
        return;
    }
    if let Some(cur) = &d.driver {
        plan.step(
            Action::WriteAttr {
                path: driver_attr(cur, "unbind"),
                value: a.to_string(),
            },
            format!("release {a} from {cur}"),
        );
    }
    plan.step(
        Action::WriteAttr {
            path: DRIVERS_PROBE.into(),
            value: a.to_string(),
        },
        match &want {
            Some(w) => format!("let {w} probe {a}"),
            None => format!("let the host driver probe {a}"),
        },
    );
    let (state, wait_secs, expect) = match &want {
        Some(w) => (
            DriverState::Bound(w.clone()),
            timeout_secs,
            DriverState::Bound(w.clone()),
        ),
        // drivers_probe binds synchronously: a host driver that has not taken the
        // device within a few seconds is not loaded (or does not match), and the
        // device stays unbound, which is still off vfio-pci.
        None => (
            DriverState::Host,
            timeout_secs.min(HOST_PROBE_SECS),
            DriverState::Released,
        ),
    };
    plan.step(
        Action::Wait {
            condition: Condition::Driver {
                device: a,
                driver: state,
            },
            timeout_secs: wait_secs,
            // A device with no host driver available simply stays unbound.
            required: want.is_some(),
        },
        "",
    );
    plan.expect.push(Expect::Driver {
        device: a,
        driver: expect,
    });
    plan.expect.push(Expect::Override {
        device: a,
        value: want,
    });
}

/// Appends the steps that put a device back to a recorded driver and override
/// (undo and rollback): through an override naming the old driver, so exactly that
/// driver takes it, then the old override (often none) is written back.
pub fn restore_steps(
    plan: &mut Plan,
    d: &PciDevice,
    driver: Option<&str>,
    driver_override: Option<&str>,
    timeout_secs: u64,
) {
    let a = d.address;
    let cur_driver = d.driver.as_deref();
    let cur_override = d.driver_override.as_deref();
    let same = |x: Option<&str>, y: Option<&str>| match (x, y) {
        (Some(x), Some(y)) => same_driver(x, y),
        (None, None) => true,
        _ => false,
    };
    if same(cur_driver, driver) && same(cur_override, driver_override) {
        return;
    }
    let mut override_now = cur_override.map(str::to_string);
    if !same(cur_driver, driver) {
        let pin = driver.or(driver_override).map(str::to_string);
        if !same(cur_override, pin.as_deref()) {
            plan.step(
                Action::WriteAttr {
                    path: dev_attr(&a, "driver_override"),
                    value: pin.clone().unwrap_or_default(),
                },
                match driver {
                    Some(x) => format!("only {x}, the driver {a} had before, may bind it"),
                    None => format!("{a} had no driver before"),
                },
            );
            override_now = pin;
        }
        if let Some(cur) = cur_driver {
            plan.step(
                Action::WriteAttr {
                    path: driver_attr(cur, "unbind"),
                    value: a.to_string(),
                },
                format!("release {a} from {cur}"),
            );
        }
        if let Some(x) = driver {
            plan.step(
                Action::WriteAttr {
                    path: DRIVERS_PROBE.into(),
                    value: a.to_string(),
                },
                format!("let {x} probe {a}"),
            );
            plan.step(
                Action::Wait {
                    condition: Condition::Driver {
                        device: a,
                        driver: DriverState::Bound(x.to_string()),
                    },
                    timeout_secs,
                    required: true,
                },
                "",
            );
        }
    }
    if !same(override_now.as_deref(), driver_override) {
        plan.step(
            Action::WriteAttr {
                path: dev_attr(&a, "driver_override"),
                value: driver_override.unwrap_or("").to_string(),
            },
            format!("put back {a}'s driver_override as it was"),
        );
    }
    plan.expect.push(Expect::Driver {
        device: a,
        driver: match driver {
            Some(x) => DriverState::Bound(x.to_string()),
            None => DriverState::Unbound,
        },
    });
    plan.expect.push(Expect::Override {
        device: a,
        value: driver_override.map(str::to_string),
    });
}

fn list(set: &[PciAddress]) -> String {
    set.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::plan::describe_action;
    use crate::host::change_facts::{NetworkFacts, Route4};
    use std::net::Ipv4Addr;

    fn dev(a: &str, v: u16, d: u16, class: u32, group: u32, driver: &str) -> PciDevice {
        let mut x = PciDevice::new(PciAddress::parse(a).unwrap(), v, d, class);
        x.iommu_group = Some(group);
        x.driver = Some(driver.into());
        x
    }

    fn host() -> Host {
        let mut nic = dev("06:00.0", 0x8086, 0x1521, 0x020000, 29, "igb");
        nic.netdevs = vec!["eno1".into()];
        let mut h = Host {
            devices: vec![
                dev("00:01.0", 0x8086, 0x1901, 0x060400, 1, "pcieport"),
                dev("01:00.0", 0x10de, 0x1b80, 0x030000, 1, "nouveau"),
                dev("01:00.1", 0x10de, 0x10f0, 0x040300, 1, "snd_hda_intel"),
                dev("02:00.0", 0x10de, 0x1b80, 0x030000, 2, "nouveau"),
                dev("03:00.0", 0x1000, 0x0097, 0x010700, 2, "mpt3sas"),
                nic,
            ],
            ..Host::default()
        };
        h.normalize();
        h
    }

    fn req(devs: &[&str], target: BindTarget) -> BindRequest {
        BindRequest {
            devices: devs.iter().map(|d| PciAddress::parse(d).unwrap()).collect(),
            target,
            with_group: false,
            force: false,
            timeout_secs: 10,
        }
    }

    fn facts() -> ChangeFacts {
        ChangeFacts {
            pci_drivers: vec!["vfio-pci".into(), "igb".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_whole_gpu_group_moves_function_by_function() {
        let p = plan_bind(
            &host(),
            &facts(),
            &req(&["01:00.0", "01:00.1"], BindTarget::Vfio),
            None,
        )
        .unwrap();
        let a: Vec<String> = p.steps.iter().map(|s| describe_action(&s.action)).collect();
        assert_eq!(
            a[0],
            "write vfio-pci to sys/bus/pci/devices/0000:01:00.0/driver_override"
        );
        assert_eq!(
            a[1],
            "write 0000:01:00.0 to sys/bus/pci/drivers/nouveau/unbind"
        );
        assert_eq!(a[2], "write 0000:01:00.0 to sys/bus/pci/drivers_probe");
        assert!(a[3].contains("0000:01:00.0 is bound to vfio-pci"));
        assert_eq!(
            a[5],
            "write 0000:01:00.1 to sys/bus/pci/drivers/snd_hda_intel/unbind"
        );
        assert_eq!(a.len(), 8);
    }

    #[test]
    fn a_partial_group_is_refused_and_names_what_is_left() {
        let e = plan_bind(
            &host(),
            &facts(),
            &req(&["01:00.0"], BindTarget::Vfio),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("0000:01:00.1"), "{e}");
        let mut r = req(&["01:00.0"], BindTarget::Vfio);
        r.with_group = true;
        let p = plan_bind(&host(), &facts(), &r, None).unwrap();
        assert!(p.title.contains("0000:01:00.1"));
        // A foreign member is never pulled in by --group.
        let mut r = req(&["02:00.0"], BindTarget::Vfio);
        r.with_group = true;
        let e = plan_bind(&host(), &facts(), &r, None).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("0000:03:00.0") && s.contains("mpt3sas") && s.contains("a different device"),
            "{s}"
        );
    }

    #[test]
    fn default_route_nic_is_refused_unless_forced() {
        let mut f = facts();
        f.network = NetworkFacts {
            routes4: vec![Route4 {
                iface: "eno1".into(),
                dest: Ipv4Addr::UNSPECIFIED,
                mask: Ipv4Addr::UNSPECIFIED,
                gateway: Ipv4Addr::new(10, 8, 31, 254),
            }],
            ..Default::default()
        };
        let e = plan_bind(&host(), &f, &req(&["06:00.0"], BindTarget::Vfio), None).unwrap_err();
        assert!(e.to_string().contains("default route"), "{e}");
        let mut r = req(&["06:00.0"], BindTarget::Vfio);
        r.force = true;
        let p = plan_bind(&host(), &f, &r, None).unwrap();
        assert!(p.warnings[0].contains("--force"));
    }

    #[test]
    fn host_clears_the_override_and_missing_drivers_get_loaded() {
        let mut h = host();
        let gpu = PciAddress::parse("02:00.0").unwrap();
        let i = h.devices.iter().position(|d| d.address == gpu).unwrap();
        h.devices[i].driver = Some("vfio-pci".into());
        h.devices[i].driver_override = Some("vfio-pci".into());
        let p = plan_bind(&h, &facts(), &req(&["02:00.0"], BindTarget::Host), None).unwrap();
        let a: Vec<String> = p.steps.iter().map(|s| describe_action(&s.action)).collect();
        assert_eq!(
            a[0],
            "clear sys/bus/pci/devices/0000:02:00.0/driver_override"
        );
        assert_eq!(
            a[1],
            "write 0000:02:00.0 to sys/bus/pci/drivers/vfio-pci/unbind"
        );
        let p = plan_bind(
            &host(),
            &ChangeFacts::default(),
            &req(&["01:00.0", "01:00.1"], BindTarget::Vfio),
            None,
        )
        .unwrap();
        assert_eq!(describe_action(&p.steps[0].action), "run modprobe vfio_pci");
        // Already there, but its group shares with mpt3sas on the host: the group is
        // not viable, so bind says so as doctor and verify do.
        let e = plan_bind(
            &h,
            &facts(),
            &req(&["02:00.0"], BindTarget::Driver("vfio-pci".into())),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("0000:03:00.0"), "{e}");
        let h2 = {
            let mut h2 = h.clone();
            let i = h2
                .devices
                .iter()
                .position(|d| d.address == PciAddress::parse("03:00.0").unwrap())
                .unwrap();
            h2.devices[i].driver = None;
            h2
        };
        let p = plan_bind(
            &h2,
            &facts(),
            &req(&["02:00.0"], BindTarget::Driver("vfio-pci".into())),
            None,
        )
        .unwrap();
        assert!(p.is_empty() && p.notes[0].contains("already bound to vfio-pci"));
    }
}
