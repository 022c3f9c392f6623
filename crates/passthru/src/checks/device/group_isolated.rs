//! `device.group-shared`: the device's IOMMU group is viable for vfio (no other member
//! held by a host driver, by the one ownership rule that verify, render and bind also
//! ask) and is this device's alone (its own other functions and bridges aside). A
//! guest must take a whole group, so every other member is named with what it is and
//! which driver holds it.

use crate::checks::registry::Check;
use crate::checks::{describe, Context, Finding, Section, Severity};
use crate::host::model::PciDevice;
use crate::inventory::groups::group_ownership;
use crate::pci::PciAddress;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Devices,
    summary: "the device's IOMMU group is viable for vfio and its alone",
    run: check,
};

/// Stable id.
pub const ID: &str = "device.group-shared";
const LABEL: &str = "IOMMU group isolation";
const WHY: &str = "vfio assigns whole IOMMU groups: every other device in the group must go to the same guest or be unbound from the host, or the guest cannot start";

fn one(ctx: &Context, d: &PciDevice) -> Finding {
    let h = ctx.host;
    let addr = d.address.to_string();
    let targets: Vec<PciAddress> = ctx.targets.iter().map(|t| t.address).collect();
    let Some(o) = group_ownership(h, d, &targets) else {
        let msg = if crate::checks::host::iommu_active(h) {
            "in no IOMMU group although the IOMMU is on (the kernel did not attach this device to an IOMMU)".to_string()
        } else {
            "in no IOMMU group: the kernel has no IOMMU enabled".to_string()
        };
        return Finding::new(ID, Section::Devices, Severity::Fail, LABEL, msg)
            .device(d.address)
            .why(WHY)
            .fix("Turn the IOMMU on first (see iommu.kernel-disabled above), then check again");
    };
    let group = o.group;
    if !o.viable() {
        let names: Vec<String> = o.held_by_host.iter().map(|m| describe(m)).collect();
        let (own, foreign): (Vec<&PciDevice>, Vec<&PciDevice>) = o
            .held_by_host
            .iter()
            .partition(|m| m.address.same_slot(&d.address));
        let mut fix = Vec::new();
        if !own.is_empty() {
            fix.push(format!(
                "Give the device's other functions to vfio-pci too: `passthru bind {addr} --group --vfio` (a guest takes them all)"
            ));
        }
        if !foreign.is_empty() {
            let others: Vec<String> = foreign.iter().map(|m| m.address.to_string()).collect();
            fix.push(format!(
                "Move {addr} to a slot whose upstream port isolates it (ACS; usually a CPU root port rather than a chipset slot), check with `passthru groups`;\n\
or, only if the host does not need {}, give it to the same guest (`passthru bind {} --vfio`).\n\
Do not use pcie_acs_override: it hides the sharing without isolating the devices",
                others.join(", "),
                others.join(" ")
            ));
        }
        return Finding::new(
            ID,
            Section::Devices,
            Severity::Fail,
            LABEL,
            format!(
                "shares IOMMU group {group} with {}, held by the host: vfio opens a group only when no host driver holds any of it",
                names.join("; ")
            ),
        )
        .device(d.address)
        .why(WHY)
        .fix(fix.join("\n"));
    }
    // Viable. Other devices (not functions of this one) still go to the same guest.
    let foreign = o.other_devices(d);
    if foreign.is_empty() {
        let own: Vec<String> = h
            .group(group)
            .map(|g| {
                g.devices
                    .iter()
                    .filter(|a| **a != d.address)
                    .map(|a| a.to_string())
                    .collect()
            })
            .unwrap_or_default();
        let msg = if own.is_empty() {
            format!("alone in IOMMU group {group}")
        } else {
            format!(
                "IOMMU group {group} holds only this device's functions and bridges ({})",
                own.join(", ")
            )
        };
        return Finding::new(ID, Section::Devices, Severity::Pass, LABEL, msg).device(d.address);
    }
    let names: Vec<String> = foreign.iter().map(|m| describe(m)).collect();
    let all_meant = foreign.iter().all(|m| ctx.is_target(&m.address));
    Finding::new(
        ID,
        Section::Devices,
        Severity::Warn,
        LABEL,
        format!(
            "shares IOMMU group {group} with {}, {}: they must all go to the same guest",
            names.join("; "),
            if all_meant {
                "also meant for passthrough"
            } else {
                "not on a host driver"
            }
        ),
    )
    .device(d.address)
    .why(WHY)
    .fix(format!(
        "Give every member of group {group} to one guest, or move the cards to slots with separate groups (`passthru groups`)"
    ))
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    ctx.targets.iter().map(|d| one(ctx, d)).collect()
}
