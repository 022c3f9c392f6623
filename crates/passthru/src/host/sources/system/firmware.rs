//! ACPI IOMMU tables (`sys/firmware/acpi/tables`) and IOMMU units (`sys/class/iommu`).

use crate::host::root::Root;
use crate::host::system::{AcpiTables, IommuUnit};

/// Which IOMMU tables the firmware publishes.
pub fn read_acpi_tables(root: &Root) -> AcpiTables {
    match root.list("sys/firmware/acpi/tables") {
        Ok(names) => {
            // Tables of one signature may be numbered (`SSDT1`); match the prefix.
            let has = |sig: &str| names.iter().any(|n| n.starts_with(sig));
            AcpiTables {
                readable: true,
                dmar: has("DMAR"),
                ivrs: has("IVRS"),
                iort: has("IORT"),
            }
        }
        Err(_) => AcpiTables::default(),
    }
}

/// Parses a register as sysfs prints it (`%llx`, with or without `0x`).
pub fn parse_register(s: &str) -> Option<u64> {
    let t = s.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    u64::from_str_radix(t, 16).ok()
}

/// Every IOMMU unit, with its capability registers when the driver exposes them.
pub fn read_iommu_units(root: &Root) -> Vec<IommuUnit> {
    let base = "sys/class/iommu";
    let Ok(mut names) = root.list(base) else {
        return Vec::new();
    };
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let reg = |rel: &str| {
                root.read_string(&format!("{base}/{name}/{rel}"))
                    .ok()
                    .and_then(|s| parse_register(&s))
            };
            IommuUnit {
                intel_cap: reg("intel-iommu/cap"),
                intel_ecap: reg("intel-iommu/ecap"),
                amd_features: reg("amd-iommu/features"),
                name,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_parse_with_or_without_prefix() {
        assert_eq!(parse_register("f050da\n"), Some(0xf050da));
        assert_eq!(parse_register("0x1e"), Some(0x1e));
        assert_eq!(parse_register("zz"), None);
        let u = IommuUnit {
            intel_ecap: parse_register("f050da"),
            ..Default::default()
        };
        assert_eq!(u.interrupt_remapping(), Some(true));
        let u = IommuUnit {
            intel_ecap: Some(0xf050d2),
            ..Default::default()
        };
        assert_eq!(u.interrupt_remapping(), Some(false));
    }
}
