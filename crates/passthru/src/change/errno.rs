//! What the kernel means by an errno on the writes passthru makes, and what to do.
//!
//! `echo 8 > sriov_numvfs` answering "Device or resource busy" is the most common
//! complaint of SR-IOV users (anchors §3.1). The meanings below come from the kernel's
//! drivers/pci/iov.c (`sriov_numvfs_store`, `sriov_enable`), pci-sysfs.c and
//! drivers/base/bus.c / dd.c (`bind_store`, `driver_override`, `drivers_probe`).

use serde::Serialize;

/// Which kind of write failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    /// `sriov_numvfs`.
    NumVfs,
    /// `driver_override`.
    DriverOverride,
    /// `drivers/X/bind`.
    Bind,
    /// `drivers/X/unbind`.
    Unbind,
    /// `drivers_probe`.
    DriversProbe,
    /// `drivers/X/new_id` / `remove_id`.
    NewId,
    /// `sriov_drivers_autoprobe`.
    Autoprobe,
    /// Any other attribute or a file.
    Other,
}

impl WriteKind {
    /// The kind of a write from the path written.
    pub fn of_path(path: &str) -> Self {
        let name = path.rsplit('/').next().unwrap_or(path);
        match name {
            "sriov_numvfs" => WriteKind::NumVfs,
            "driver_override" => WriteKind::DriverOverride,
            "bind" => WriteKind::Bind,
            "unbind" => WriteKind::Unbind,
            "drivers_probe" => WriteKind::DriversProbe,
            "new_id" | "remove_id" => WriteKind::NewId,
            "sriov_drivers_autoprobe" => WriteKind::Autoprobe,
            _ => WriteKind::Other,
        }
    }
}

/// What is known around the failed write, to make the explanation concrete.
#[derive(Clone, Debug, Default)]
pub struct ErrnoContext {
    /// The device written about (`0000:06:00.0`).
    pub device: Option<String>,
    /// The value written.
    pub value: Option<String>,
    /// The PF's `sriov_totalvfs`, for `sriov_numvfs`.
    pub total_vfs: Option<u32>,
    /// The count the PF had before, for `sriov_numvfs`.
    pub current_vfs: Option<u32>,
    /// The driver in question (target of a bind, or the PF's driver).
    pub driver: Option<String>,
}

/// An errno explained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// `EBUSY`.
    pub errno: String,
    /// What the kernel means by it here.
    pub cause: String,
    /// What to do.
    pub fix: String,
}

/// The symbolic name of an errno (`EBUSY`), or `errno N`.
pub fn errno_name(errno: i32) -> String {
    let n = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EAGAIN => "EAGAIN",
        _ => return format!("errno {errno}"),
    };
    n.to_string()
}

/// Parses a symbolic errno name (`EBUSY`, `ebusy`) or a number.
pub fn errno_from_name(name: &str) -> Option<i32> {
    let n = name.trim().to_ascii_uppercase();
    if let Ok(v) = n.parse::<i32>() {
        return Some(v);
    }
    (1..200).find(|e| errno_name(*e) == n)
}

/// Explains an errno returned by a write of `kind`.
pub fn explain(kind: WriteKind, errno: i32, ctx: &ErrnoContext) -> Explanation {
    let dev = ctx.device.as_deref().unwrap_or("the device");
    let value = ctx.value.as_deref().unwrap_or("the value");
    let drv = ctx.driver.as_deref().unwrap_or("its driver");
    let (cause, fix): (String, String) = match (kind, errno) {
        (WriteKind::NumVfs, libc::EBUSY) => (
            format!(
                "the kernel refuses to change a non-zero VF count directly{}, or the PF driver cannot remove VFs that are still in use",
                ctx.current_vfs
                    .filter(|c| *c > 0)
                    .map(|c| format!(" ({dev} has {c})"))
                    .unwrap_or_default()
            ),
            "write 0 first, then the new count (passthru vfs does this); if it still fails, a guest or a process holds a VF: stop it or detach the VF".into(),
        ),
        (WriteKind::NumVfs, libc::ERANGE) => (
            format!(
                "{value} is more VFs than {dev} supports (sriov_totalvfs is {})",
                ctx.total_vfs
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "lower".into())
            ),
            format!(
                "ask for at most {} VFs; a firmware setting may cap the count (Mellanox: mstconfig set NUM_OF_VFS; check SR-IOV in the BIOS/UEFI setup)",
                ctx.total_vfs
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "sriov_totalvfs".into())
            ),
        ),
        (WriteKind::NumVfs, libc::ENOENT) if ctx.driver.as_deref().is_some_and(|d| d.replace('_', "-") == "vfio-pci") => (
            format!("{dev} is bound to vfio-pci, which creates VFs only when loaded with enable_sriov=1 (sys/module/vfio_pci/parameters/enable_sriov), for a PF that a guest or user-space driver runs"),
            format!("give {dev} back to its own driver (`passthru bind {dev} --host`) to create VFs the host manages; or load vfio-pci with `enable_sriov=1` if the PF stays with vfio-pci"),
        ),
        (WriteKind::NumVfs, libc::ENOENT) if ctx.driver.is_some() => (
            format!("{dev} is bound to {drv}, which cannot enable SR-IOV (it has no sriov_configure)"),
            format!("give {dev} back to its own driver (`passthru bind {dev} --host`), then try again"),
        ),
        (WriteKind::NumVfs, libc::ENOENT) => (
            format!("{dev} has no driver bound, and only the PF's driver can enable SR-IOV"),
            format!("load and bind the PF driver (e.g. `modprobe igb`, or `passthru bind {dev} --host`), then try again"),
        ),
        (WriteKind::NumVfs, libc::ENOMEM) => (
            "the kernel could not find memory (MMIO) space for the VFs' BARs: the firmware reserved too little behind the PF's bridge".into(),
            "add pci=realloc to the kernel command line (`passthru kernel-args --add pci=realloc`) and reboot, or enable SR-IOV / \"memory mapped I/O above 4G\" in the BIOS/UEFI setup".into(),
        ),
        (WriteKind::NumVfs, libc::ENOSPC) => (
            "the PF ran out of resources for that many VFs, typically MSI-X interrupt vectors (ice/irdma on hosts with many CPUs) or queues".into(),
            "ask for fewer VFs, or lower the PF's queue count (`ethtool -L IFACE combined N`) before creating VFs".into(),
        ),
        (WriteKind::NumVfs, libc::EINVAL) => (
            format!("the driver rejected {value} VFs for {dev} (not a number, or a count the device cannot use in its current mode)"),
            "check the count and the kernel log (`dmesg | tail`); some drivers need the PF link up or a firmware mode first".into(),
        ),
        (WriteKind::NumVfs, libc::EOPNOTSUPP) | (WriteKind::NumVfs, libc::ENOSYS) => (
            format!("{drv} does not support enabling SR-IOV through sysfs"),
            "use the driver's module parameter (e.g. max_vfs) or a newer driver".into(),
        ),
        (WriteKind::NumVfs, libc::EPERM) | (WriteKind::NumVfs, libc::EACCES) => (
            "the kernel does not allow this write (not root, kernel lockdown, or SR-IOV disabled in firmware)".into(),
            "run as root; enable SR-IOV in the BIOS/UEFI setup and the device firmware".into(),
        ),
        (WriteKind::NumVfs, libc::EIO) => (
            format!("{drv} failed to set up the VFs (a firmware or driver error)"),
            "read the kernel log (`dmesg | tail`), update the NIC firmware/driver".into(),
        ),
        (WriteKind::Bind, libc::ENODEV) | (WriteKind::DriversProbe, libc::ENODEV) => (
            format!("{drv} does not match {dev}: its id table lacks the device, or driver_override names another driver"),
            format!("set driver_override to {drv} first (passthru bind does), or add the id with new_id"),
        ),
        (WriteKind::Bind, libc::EBUSY) => (
            format!("{dev} is already bound to a driver"),
            "unbind it first (passthru bind does)".into(),
        ),
        (WriteKind::Bind, libc::ENOENT) | (WriteKind::Unbind, libc::ENOENT) => (
            format!("the driver {drv} is not loaded (no sys/bus/pci/drivers/{drv})"),
            format!("load it: `modprobe {drv}`"),
        ),
        (WriteKind::Bind, libc::EINVAL) | (WriteKind::DriversProbe, libc::EINVAL) => (
            format!("{drv}'s probe of {dev} failed with EINVAL; for vfio-pci this means the device has no IOMMU group (the IOMMU is off)"),
            "turn the IOMMU on (`passthru kernel-args --iommu`, VT-d/AMD-Vi in the BIOS) and reboot".into(),
        ),
        (WriteKind::Unbind, libc::ENODEV) => (
            format!("{dev} is not bound to {drv} (it moved, or was unbound meanwhile)"),
            "re-read the host (`passthru show DEV`) and try again".into(),
        ),
        (WriteKind::DriverOverride, libc::EINVAL) => (
            format!("the kernel rejected '{value}' as a driver name (too long, or the device is gone)"),
            "check the driver name".into(),
        ),
        (WriteKind::DriverOverride, libc::ENOMEM) => (
            "the kernel could not allocate the override string".into(),
            "try again; check the kernel log".into(),
        ),
        (WriteKind::NewId, libc::EEXIST) => (
            "the id is already in the driver's dynamic id table".into(),
            "nothing to do for the id; bind the device".into(),
        ),
        (_, libc::ENOMEM) => (
            "the kernel ran out of memory for this operation".into(),
            "check the kernel log (`dmesg | tail`)".into(),
        ),
        (_, libc::ENOSPC) => (
            "the kernel or the file system ran out of space or resources".into(),
            "free space (file writes) or resources, and check the kernel log".into(),
        ),
        (_, libc::EROFS) => (
            "the file system is read-only".into(),
            "remount it read-write, or give a writable --root".into(),
        ),
        (_, libc::EACCES) | (_, libc::EPERM) => (
            "permission denied".into(),
            "run passthru as root".into(),
        ),
        (_, libc::ENOENT) => (
            "the path does not exist (a device or driver went away, or the root is not a host root)".into(),
            "re-read the host and check the device and driver names".into(),
        ),
        (_, libc::EBUSY) => (
            format!("{dev} is busy"),
            "find what holds it (a guest, a process) and stop it".into(),
        ),
        (_, e) => (
            format!("the kernel answered {}", errno_name(e)),
            "read the kernel log (`dmesg | tail`)".into(),
        ),
    };
    Explanation {
        errno: errno_name(errno),
        cause,
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numvfs_errors_say_what_they_mean_here() {
        let ctx = ErrnoContext {
            device: Some("0000:06:00.0".into()),
            value: Some("9".into()),
            total_vfs: Some(8),
            current_vfs: Some(2),
            driver: Some("igb".into()),
        };
        let e = explain(WriteKind::NumVfs, libc::ERANGE, &ctx);
        assert_eq!(e.errno, "ERANGE");
        assert!(e.cause.contains("sriov_totalvfs is 8"), "{}", e.cause);
        assert!(e.fix.contains("at most 8"));
        let e = explain(WriteKind::NumVfs, libc::EBUSY, &ctx);
        assert!(e.cause.contains("has 2") && e.fix.contains("write 0 first"));
        let e = explain(WriteKind::NumVfs, libc::ENOENT, &ctx);
        // A bound driver without sriov_configure (the context binds igb here).
        assert!(e.cause.contains("cannot enable SR-IOV"), "{}", e.cause);
        let e = explain(WriteKind::NumVfs, libc::ENOMEM, &ctx);
        assert!(e.fix.contains("pci=realloc"));
        let e = explain(WriteKind::NumVfs, libc::ENOSPC, &ctx);
        assert!(e.cause.contains("MSI-X"));
        let e = explain(WriteKind::NumVfs, libc::EINVAL, &ctx);
        assert!(e.cause.contains("rejected 9"));
    }

    #[test]
    fn bind_errors_and_names() {
        let ctx = ErrnoContext {
            device: Some("0000:01:00.0".into()),
            driver: Some("vfio-pci".into()),
            ..Default::default()
        };
        assert!(explain(WriteKind::Bind, libc::ENODEV, &ctx)
            .fix
            .contains("driver_override"));
        assert!(explain(WriteKind::Bind, libc::ENOENT, &ctx)
            .fix
            .contains("modprobe vfio-pci"));
        assert!(explain(WriteKind::DriversProbe, libc::EINVAL, &ctx)
            .cause
            .contains("IOMMU"));
        assert_eq!(
            WriteKind::of_path("sys/bus/pci/drivers/igb/unbind"),
            WriteKind::Unbind
        );
        assert_eq!(errno_from_name("ebusy"), Some(libc::EBUSY));
        assert_eq!(errno_from_name("ERANGE"), Some(libc::ERANGE));
        assert_eq!(errno_name(9999), "errno 9999");
    }
}
