//! `vfio.unsafe-interrupts`: `allow_unsafe_interrupts` is off (a security check).
//! Looks at the live parameter and at what modprobe.d and the command line set for
//! the next load.

use crate::checks::args;
use crate::checks::host::unknown;
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::sources::system::modprobe::option_values;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Host,
    summary: "vfio does not allow unsafe interrupts",
    run: check,
};

/// Stable id.
pub const ID: &str = "vfio.unsafe-interrupts";
const LABEL: &str = "if vfio unsafe interrupts are off";

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "y" | "yes" | "on" | "true"
    )
}

/// Where a module parameter is set to true for the next load: `file:line` of
/// modprobe.d options, or the kernel command line.
pub fn configured_on(ctx: &Context, module: &str, param: &str) -> Vec<String> {
    let h = ctx.host;
    let mut out: Vec<String> = option_values(&h.system.modprobe, module, param)
        .into_iter()
        .filter(|(_, v)| truthy(v))
        .map(|(d, _)| format!("/{}", d.location()))
        .collect();
    if args::value(args::running(h), &format!("{module}.{param}")).is_some_and(|v| truthy(&v)) {
        out.push("the kernel command line".into());
    }
    out
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    if !h.system.collected {
        return vec![unknown(ID, LABEL)];
    }
    let live = h.system.vfio_params.allow_unsafe_interrupts;
    let configured = configured_on(ctx, "vfio_iommu_type1", "allow_unsafe_interrupts");
    if live != Some(true) && configured.is_empty() {
        let msg = match live {
            Some(false) => "allow_unsafe_interrupts=N",
            None if h.system.modules.present("vfio_iommu_type1") == Some(true) => {
                "vfio_iommu_type1 is loaded without the parameter; modprobe.d does not set it"
            }
            None if h.system.modules.present("vfio_iommu_type1") == Some(false) => {
                "not set: vfio_iommu_type1 is not loaded and modprobe.d does not set it"
            }
            _ => "not set: no such parameter under sys/module and none in modprobe.d",
        };
        return vec![Finding::new(ID, Section::Host, Severity::Pass, LABEL, msg)];
    }
    let mut msg = String::new();
    if live == Some(true) {
        msg.push_str("vfio_iommu_type1 allow_unsafe_interrupts=Y now");
    }
    if !configured.is_empty() {
        if !msg.is_empty() {
            msg.push_str("; ");
        }
        msg.push_str(&format!("set to 1 in {}", configured.join(", ")));
    }
    let mut fix: Vec<String> = Vec::new();
    for d in option_values(
        &h.system.modprobe,
        "vfio_iommu_type1",
        "allow_unsafe_interrupts",
    ) {
        if truthy(&d.1) {
            fix.push(format!(
                "sed -i '{}s/allow_unsafe_interrupts=[^ ]*//' /{}",
                d.0.line, d.0.file
            ));
        }
    }
    if live == Some(true) {
        fix.push("echo 0 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts".into());
    }
    if configured.iter().any(|c| c == "the kernel command line") {
        fix.push(crate::checks::fix::kernel_args(
            h,
            &[],
            &["vfio_iommu_type1.allow_unsafe_interrupts=1"],
        ));
    }
    vec![Finding::new(ID, Section::Host, Severity::Warn, LABEL, msg)
        .why("with unsafe interrupts allowed, a device given to a guest can raise interrupts the host never granted (MSI injection): the guest can attack the host. Needed only on platforms without interrupt remapping")
        .fix(fix.join("\n"))]
}
