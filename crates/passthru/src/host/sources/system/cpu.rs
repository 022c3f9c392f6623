//! `proc/cpuinfo`: CPU vendor and the flags that matter for virtualization.

use crate::host::root::Root;
use crate::host::system::{CpuFacts, CpuVendor};

/// Flags kept from `proc/cpuinfo` (the full list is long and says nothing more here).
pub const RELEVANT_FLAGS: &[&str] = &["vmx", "svm", "hypervisor", "x2apic", "sie"];

/// Reads the root's `proc/cpuinfo`.
pub fn read_cpu(root: &Root) -> CpuFacts {
    root.read_string("proc/cpuinfo")
        .map(|t| parse_cpuinfo(&t))
        .unwrap_or_default()
}

/// Parses `proc/cpuinfo` text; only the first processor's block is read (flags are
/// the same on every CPU of a host that virtualizes).
pub fn parse_cpuinfo(text: &str) -> CpuFacts {
    let mut cpu = CpuFacts::default();
    let mut seen_processor = false;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "processor" if seen_processor => break,
            "processor" => seen_processor = true,
            "vendor_id" if cpu.vendor_id.is_none() => {
                cpu.vendor_id = Some(value.to_string());
                cpu.vendor = match value {
                    "GenuineIntel" => CpuVendor::Intel,
                    "AuthenticAMD" | "HygonGenuine" => CpuVendor::Amd,
                    _ => CpuVendor::Other,
                };
            }
            "CPU implementer" if cpu.vendor_id.is_none() => {
                cpu.vendor_id = Some(value.to_string());
                cpu.vendor = CpuVendor::Arm;
            }
            "model name" | "cpu" if cpu.model_name.is_none() => {
                cpu.model_name = Some(value.to_string());
            }
            "flags" | "Features" | "features" if cpu.flags.is_empty() => {
                cpu.flags = value
                    .split_whitespace()
                    .filter(|f| RELEVANT_FLAGS.contains(f))
                    .map(str::to_string)
                    .collect();
            }
            _ => {}
        }
    }
    if cpu.vendor == CpuVendor::Unknown && cpu.model_name.is_some() {
        // POWER prints `cpu : POWER9`; no vendor line.
        cpu.vendor = CpuVendor::Other;
    }
    cpu
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intel_amd_arm_and_a_guest() {
        let intel = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6230\nflags\t\t: fpu vme vmx x2apic ept\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nflags\t\t: fpu\n";
        let c = parse_cpuinfo(intel);
        assert_eq!(c.vendor, CpuVendor::Intel);
        assert_eq!(c.flags, vec!["vmx", "x2apic"]);
        assert_eq!(c.model_name.as_deref(), Some("Intel(R) Xeon(R) Gold 6230"));

        let guest = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu hypervisor lm\n";
        let c = parse_cpuinfo(guest);
        assert_eq!(c.vendor, CpuVendor::Amd);
        assert!(c.has("hypervisor") && !c.has("svm"));

        let arm = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm\nCPU implementer\t: 0x41\n";
        let c = parse_cpuinfo(arm);
        assert_eq!(c.vendor, CpuVendor::Arm);
        assert!(c.flags.is_empty());
        assert_eq!(parse_cpuinfo("").vendor, CpuVendor::Unknown);
    }
}
