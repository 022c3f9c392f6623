//! `config.qemu-acl-missing-group`: when qemu.conf's `cgroup_device_acl` is
//! customised, it lists `/dev/vfio/vfio` and `/dev/vfio/N` for every group meant for
//! guests (the OpenNebula procedure's requirement).

use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Configuration,
    summary: "a customised qemu.conf cgroup_device_acl lists the vfio groups meant for guests",
    run: check,
};

/// Stable id.
pub const ID: &str = "config.qemu-acl-missing-group";
const LABEL: &str = "qemu.conf cgroup_device_acl";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    let Some(q) = &h.system.qemu_conf else {
        return Vec::new();
    };
    let place = format!("/{}:{}", q.path, q.cgroup_device_acl_line);
    let Some(acl) = &q.cgroup_device_acl else {
        return vec![Finding::new(
            ID,
            Section::Configuration,
            Severity::Pass,
            LABEL,
            "not customised (libvirt's default list, plus each assigned group)",
        )];
    };
    let mut groups: Vec<u32> = ctx.targets.iter().filter_map(|d| d.iommu_group).collect();
    groups.sort();
    groups.dedup();
    if groups.is_empty() {
        return vec![Finding::new(
            ID,
            Section::Configuration,
            Severity::Pass,
            LABEL,
            format!("customised at {place}; no IOMMU group meant for guests"),
        )];
    }
    let mut wanted = vec!["/dev/vfio/vfio".to_string()];
    wanted.extend(groups.iter().map(|g| format!("/dev/vfio/{g}")));
    let missing: Vec<&String> = wanted.iter().filter(|w| !acl.contains(w)).collect();
    if missing.is_empty() {
        return vec![Finding::new(
            ID,
            Section::Configuration,
            Severity::Pass,
            LABEL,
            format!("customised at {place} and lists {}", wanted.join(", ")),
        )];
    }
    let mut full: Vec<String> = acl.clone();
    full.extend(missing.iter().map(|m| m.to_string()));
    let list = full
        .iter()
        .map(|e| format!("    \"{e}\""))
        .collect::<Vec<_>>()
        .join(",\n");
    vec![Finding::new(
        ID,
        Section::Configuration,
        Severity::Warn,
        LABEL,
        format!(
            "customised at {place} without {}",
            missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ),
    )
    .why("with a customised ACL, QEMU's device cgroup allows only what it lists; guests that open these vfio groups outside libvirt's own hostdev handling (or older libvirt) get 'Operation not permitted'")
    .fix(format!(
        "In /{}, replace the cgroup_device_acl setting (line {}) with:\ncgroup_device_acl = [\n{list}\n]\nthen: systemctl restart libvirtd",
        q.path, q.cgroup_device_acl_line
    ))]
}
