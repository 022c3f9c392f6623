//! `device.no-reset`: the kernel can reset the device (`reset_method`), so its state
//! does not leak from one guest (or the host) to the next.

use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::model::PciDevice;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "the device has a reset method",
    run: check,
};

/// Stable id.
pub const ID: &str = "device.no-reset";
const LABEL: &str = "reset method";

fn one(ctx: &Context, d: &PciDevice) -> Option<Finding> {
    let methods = d.reset_methods.as_ref()?;
    let f =
        |sev, msg: String| Finding::new(ID, Section::Devices, sev, LABEL, msg).device(d.address);
    if methods.is_empty() {
        return Some(
            f(Severity::Warn, "no reset method (reset_method is empty)".into())
                .why("without a reset, vfio cannot clear the device between uses: state from the host or a previous guest leaks, and many devices then fail to initialise in the next guest")
                .fix("No software fix on this device: pick a device with FLR (`passthru show DEV` lists reset methods), or give the guest every device on its bus so a bus reset is possible"),
        );
    }
    // A secondary bus reset also resets everything else on the same bus.
    if methods.iter().all(|m| m == "bus") {
        let others: Vec<String> = ctx
            .host
            .devices
            .iter()
            .filter(|o| {
                o.address.domain == d.address.domain
                    && o.address.bus == d.address.bus
                    && !o.address.same_slot(&d.address)
            })
            .map(|o| o.address.to_string())
            .collect();
        if !others.is_empty() {
            return Some(
                f(
                    Severity::Warn,
                    format!(
                        "only a bus reset, which would also reset {} on the same bus",
                        others.join(", ")
                    ),
                )
                .why("vfio can use a bus reset only when every device on the bus is owned by the same user; otherwise the device is never reset")
                .fix(format!("Give {} to the same guest, or move the card to a slot of its own", others.join(", "))),
            );
        }
    }
    Some(f(
        Severity::Pass,
        format!("reset by {}", methods.join(", ")),
    ))
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    ctx.targets.iter().filter_map(|d| one(ctx, d)).collect()
}
