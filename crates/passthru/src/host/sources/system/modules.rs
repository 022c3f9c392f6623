//! Kernel modules (`proc/modules`, `sys/module`, `lib/modules/RELEASE`), vfio module
//! parameters and device nodes (`dev/kvm`, `dev/vfio/`).

use crate::host::root::Root;
use crate::host::system::{
    module_name, DevNodes, ModprobeDirective, ModprobeKind, ModuleFacts, VfioParams,
};

/// Modules whose state the checks ask about.
pub const RELEVANT_MODULES: &[&str] = &[
    "vfio",
    "vfio_pci",
    "vfio_pci_core",
    "vfio_iommu_type1",
    "iommufd",
    "kvm",
    "kvm_intel",
    "kvm_amd",
];

/// Where module trees live (`lib` is `usr/lib` on merged-/usr systems).
const MODULE_DIRS: &[&str] = &["lib/modules", "usr/lib/modules"];

/// Module name from a path in `modules.dep`/`modules.builtin`
/// (`kernel/drivers/vfio/pci/vfio-pci.ko.zst` gives `vfio_pci`).
pub fn module_from_path(path: &str) -> Option<String> {
    let base = path.trim().rsplit('/').next()?;
    let stem = base.split(".ko").next()?;
    (!stem.is_empty()).then(|| module_name(stem))
}

/// Names in `proc/modules` text.
pub fn parse_proc_modules(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(module_name)
        .collect()
}

/// Reads module facts. `release` picks `lib/modules/RELEASE`; `modprobe` says which
/// modules are blacklisted (their `modules.alias` lines are kept).
pub fn read_modules(
    root: &Root,
    release: Option<&str>,
    modprobe: &[ModprobeDirective],
) -> ModuleFacts {
    let mut loaded = root
        .read_string("proc/modules")
        .ok()
        .map(|t| parse_proc_modules(&t));
    // CONFIG_MODULES=n: no proc/modules, and sys/module lists only built-ins (proc/version tells a real procfs from a partial tree).
    let no_module_support =
        loaded.is_none() && root.exists("proc/version") && root.is_dir("sys/module");
    if no_module_support {
        loaded = Some(Vec::new());
    }
    let mut builtin: Vec<String> = RELEVANT_MODULES
        .iter()
        .filter(|m| {
            // Built-in modules with parameters have sys/module/M but no initstate.
            root.is_dir(&format!("sys/module/{m}"))
                && !root.exists(&format!("sys/module/{m}/initstate"))
        })
        .map(|m| m.to_string())
        .collect();
    let mut available = None;
    let mut blacklisted_aliases = None;
    if let Some(rel) = release {
        for dir in MODULE_DIRS {
            let base = format!("{dir}/{rel}");
            if !root.is_dir(&base) {
                continue;
            }
            if let Ok(t) = root.read_string(&format!("{base}/modules.builtin")) {
                for m in t.lines().filter_map(module_from_path) {
                    if RELEVANT_MODULES.contains(&m.as_str()) && !builtin.contains(&m) {
                        builtin.push(m);
                    }
                }
            }
            if let Ok(t) = root.read_string(&format!("{base}/modules.dep")) {
                let mut found: Vec<String> = t
                    .lines()
                    .filter_map(|l| l.split(':').next())
                    .filter_map(module_from_path)
                    .filter(|m| RELEVANT_MODULES.contains(&m.as_str()))
                    .collect();
                found.sort();
                found.dedup();
                available = Some(found);
            }
            let blacklisted: Vec<&str> = modprobe
                .iter()
                .filter(|d| matches!(d.kind, ModprobeKind::Blacklist { .. }))
                .map(|d| d.module())
                .collect();
            if !blacklisted.is_empty() {
                if let Ok(t) = root.read_string(&format!("{base}/modules.alias")) {
                    blacklisted_aliases = Some(parse_pci_aliases(&t, &blacklisted));
                }
            }
            break;
        }
    }
    builtin.sort();
    if no_module_support {
        available = Some(builtin.clone());
    }
    ModuleFacts {
        loaded,
        no_module_support,
        builtin,
        available,
        blacklisted_aliases,
    }
}

/// `alias pci:v...d...sv*sd*bc03sc*i* nouveau` lines for the given modules.
pub fn parse_pci_aliases(text: &str, modules: &[&str]) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "alias").then_some(())?;
            let pattern = w.next()?;
            let module = module_name(w.next()?);
            (pattern.starts_with("pci:") && modules.contains(&module.as_str()))
                .then(|| (pattern.to_string(), module))
        })
        .collect()
}

fn read_bool_param(root: &Root, rel: &str) -> Option<bool> {
    let t = root.read_string(rel).ok()?;
    match t.trim() {
        "Y" | "y" | "1" => Some(true),
        "N" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// vfio parameters that weaken isolation, from `sys/module/*/parameters`.
pub fn read_vfio_params(root: &Root) -> VfioParams {
    let type1 = read_bool_param(
        root,
        "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
    );
    // iommufd (the vfio container replacement) has its own copy of the switch.
    let iommufd = read_bool_param(
        root,
        "sys/module/iommufd/parameters/allow_unsafe_interrupts",
    );
    let allow_unsafe_interrupts = match (type1, iommufd) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(false) || b.unwrap_or(false)),
    };
    VfioParams {
        allow_unsafe_interrupts,
        enable_unsafe_noiommu_mode: read_bool_param(
            root,
            "sys/module/vfio/parameters/enable_unsafe_noiommu_mode",
        ),
    }
}

/// `dev/kvm` and the entries of `dev/vfio/`.
pub fn read_dev_nodes(root: &Root) -> DevNodes {
    DevNodes {
        dev_dir: root.is_dir("dev"),
        kvm: root.exists("dev/kvm"),
        vfio: root.list("dev/vfio").ok().map(|mut v| {
            v.sort();
            v
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_from_paths_and_proc() {
        assert_eq!(
            module_from_path("kernel/drivers/vfio/pci/vfio-pci.ko.zst").as_deref(),
            Some("vfio_pci")
        );
        assert_eq!(
            module_from_path("kernel/drivers/vfio/vfio.ko").as_deref(),
            Some("vfio")
        );
        assert_eq!(
            parse_proc_modules("vfio_pci 16384 0 - Live 0x0\nkvm_intel 1 0 - Live 0\n"),
            vec!["vfio_pci", "kvm_intel"]
        );
        let a = parse_pci_aliases(
            "alias pci:v000010DEd*sv*sd*bc03sc*i* nouveau\nalias usb:v1234* nouveau\nalias pci:v00008086d00001521sv*sd*bc*sc*i* igb\n",
            &["nouveau"],
        );
        assert_eq!(
            a,
            vec![(
                "pci:v000010DEd*sv*sd*bc03sc*i*".to_string(),
                "nouveau".to_string()
            )]
        );
    }
}
