//! `iommu.no-firmware-table`: the firmware describes an IOMMU (ACPI DMAR on Intel,
//! IVRS on AMD, IORT on Arm), as virt-host-validate's "device assignment IOMMU
//! support" check, but as a failure: without it no device can be assigned.

use crate::checks::fix::firmware_iommu_setting;
use crate::checks::host::{guest_note, iommu_active, unknown};
use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::host::system::CpuVendor;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Host,
    summary: "firmware publishes an IOMMU table (DMAR/IVRS/IORT)",
    run: check,
};

/// Stable id.
pub const ID: &str = "iommu.no-firmware-table";
const LABEL: &str = "for device assignment IOMMU support";

/// The ACPI table a vendor's IOMMU is described by.
pub fn table_for(vendor: CpuVendor) -> Option<&'static str> {
    match vendor {
        CpuVendor::Intel => Some("DMAR"),
        CpuVendor::Amd => Some("IVRS"),
        CpuVendor::Arm => Some("IORT"),
        _ => None,
    }
}

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    let s = &h.system;
    if !s.collected {
        if !h.iommu_groups.is_empty() {
            return vec![Finding::new(
                ID,
                Section::Host,
                Severity::Pass,
                LABEL,
                "IOMMU groups exist, so the firmware has an IOMMU",
            )];
        }
        return vec![unknown(ID, LABEL)];
    }
    let a = &s.acpi;
    let present: Vec<&str> = [("DMAR", a.dmar), ("IVRS", a.ivrs), ("IORT", a.iort)]
        .into_iter()
        .filter(|(_, p)| *p)
        .map(|(n, _)| n)
        .collect();
    let wanted = table_for(s.cpu.vendor);
    let ok = match wanted {
        Some(t) => present.contains(&t),
        None => !present.is_empty(),
    };
    if ok || iommu_active(h) {
        let what = if present.is_empty() {
            "the kernel registered IOMMU units".to_string()
        } else {
            format!("ACPI {} table present", present.join(", "))
        };
        return vec![Finding::new(ID, Section::Host, Severity::Pass, LABEL, what)];
    }
    if !a.readable {
        return vec![Finding::new(
            ID,
            Section::Host,
            Severity::Info,
            LABEL,
            "no ACPI tables under sys/firmware/acpi/tables (a device-tree platform?); cannot tell from firmware",
        )];
    }
    let table = wanted.unwrap_or("DMAR/IVRS/IORT");
    let guest = s.cpu.has("hypervisor");
    let message = format!(
        "no ACPI {table} table: the firmware exposes no IOMMU, so no device can be assigned to a guest.{}",
        guest_note(h)
    );
    let fix = if guest {
        match s.cpu.vendor {
            CpuVendor::Intel => "Give this VM a virtual IOMMU on the outer hypervisor (QEMU: -device intel-iommu,intremap=on with a q35 machine and kernel-irqchip=split; libvirt: <iommu model='intel'><driver intremap='on'/></iommu>), or run on bare metal".to_string(),
            _ => "Give this VM a virtual IOMMU on the outer hypervisor (QEMU: -device amd-iommu or -device virtio-iommu; libvirt: <iommu model='amd'/> or <iommu model='virtio'/>), or run on bare metal".to_string(),
        }
    } else {
        format!(
            "Enable {} in the firmware (BIOS/UEFI) setup, then power-cycle the host",
            firmware_iommu_setting(s.cpu.vendor)
        )
    };
    vec![Finding::new(ID, Section::Host, Severity::Fail, LABEL, message)
        .why("the IOMMU confines a device's DMA to its guest's memory; vfio refuses to assign devices without it")
        .fix(fix)]
}
