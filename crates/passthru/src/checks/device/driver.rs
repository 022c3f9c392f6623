//! `device.host-driver`: the device is on vfio-pci, and if not, whether its intent
//! (`driver_override`) contradicts the driver that holds it.

use crate::checks::device::bind_vfio_commands;
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Selection, Severity};
use crate::host::model::PciDevice;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "the device is bound to vfio-pci (not held by a host driver)",
    run: check,
};

/// Stable id.
pub const ID: &str = "device.host-driver";
const LABEL: &str = "driver";

fn one(ctx: &Context, d: &PciDevice) -> Finding {
    let addr = d.address.to_string();
    let f = |sev: Severity, msg: String| {
        Finding::new(ID, Section::Devices, sev, LABEL, msg).device(d.address)
    };
    if d.on_vfio() {
        return f(Severity::Pass, "bound to vfio-pci".into());
    }
    let ov = d.driver_override.as_deref();
    match (ov, d.driver.as_deref()) {
        (Some("vfio-pci"), Some(drv)) => f(
            Severity::Fail,
            format!("driver_override says vfio-pci but {drv} holds it"),
        )
        .why(format!(
            "the override only takes effect at the next probe: {drv} keeps the device, the host keeps using it, and vfio cannot open its group"
        ))
        .fix(format!(
            "modprobe vfio-pci\necho {addr} > /sys/bus/pci/devices/{addr}/driver/unbind\necho {addr} > /sys/bus/pci/drivers_probe"
        )),
        (Some("vfio-pci"), None) => f(
            Severity::Warn,
            "driver_override says vfio-pci but no driver is bound (vfio-pci not loaded, or never probed)".into(),
        )
        .why("until vfio-pci binds, the device's group cannot be opened by QEMU")
        .fix(format!("modprobe vfio-pci\necho {addr} > /sys/bus/pci/drivers_probe")),
        (Some(other), drv) => f(
            Severity::Warn,
            format!(
                "driver_override is '{other}' (bound: {})",
                drv.unwrap_or("none")
            ),
        )
        .why("an override other than vfio-pci keeps vfio-pci from binding at the next probe")
        .fix(bind_vfio_commands(&addr, drv.is_some())),
        (None, Some(drv)) => {
            // nova (and libvirt managed='yes') detach the host driver at guest start.
            let sev = if ctx.selection == Selection::NovaDeviceSpec {
                Severity::Info
            } else {
                Severity::Warn
            };
            let mut fix = bind_vfio_commands(&addr, true);
            // Unbinding a PF's driver disables SR-IOV: its VFs vanish, from guests too.
            if let Some(n) = d.sriov.as_ref().map(|s| s.num_vfs).filter(|n| *n > 0) {
                let vfs: Vec<String> = ctx
                    .host
                    .devices
                    .iter()
                    .filter(|v| v.physfn == Some(d.address))
                    .map(|v| v.address.to_string())
                    .collect();
                fix = format!(
                    "# {addr} has {n} VFs enabled: unbinding {drv} removes them (and takes them from any guest using one).\n# To give guests VFs instead, check those: passthru doctor {}\n{fix}",
                    vfs.join(" ")
                );
            }
            f(
                sev,
                format!("bound to host driver {drv}, not vfio-pci"),
            )
            .why(format!(
                "the host uses the device through {drv} now; libvirt managed='yes' detaches it at guest start, anything else (unmanaged hostdev, boot-time binding) needs vfio-pci"
            ))
            .fix(fix)
        }
        (None, None) => f(
            Severity::Info,
            "no driver bound (libvirt managed='yes' binds vfio-pci at guest start)".into(),
        )
        .fix(bind_vfio_commands(&addr, false)),
    }
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    ctx.targets.iter().map(|d| one(ctx, d)).collect()
}
