//! The kernel simulator behind `passthru-sim`: a FUSE filesystem that serves a fake
//! host tree and reacts to writes under `sys/` the way Linux does (VFs appear on
//! `sriov_numvfs`, drivers bind and unbind, IOMMU groups and `/dev/vfio` follow),
//! forgets runtime state on a simulated reboot, and fails chosen writes on demand.
//! See `docs/simulator.md` for the user's view.
//!
//! Layout: [`vfs`] holds the tree in memory; [`kernel`] (with [`sriov`], [`netdev`],
//! [`hotplug`], [`boot`]) is the kernel model; [`control`] the hidden control files;
//! [`fuse`] serves it all; [`harness`] starts and stops the binary for tests.

pub mod boot;
pub mod config;
pub mod control;
pub mod fuse;
pub mod harness;
pub mod hotplug;
pub mod kernel;
pub mod netdev;
pub mod pci;
pub mod sriov;
pub mod vfs;

pub use config::SimConfig;
pub use harness::SimMount;
pub use kernel::Kernel;

use std::io;
use std::path::Path;

/// Loads a tree directory into a kernel model (the tree on disk is never written).
pub fn load_tree(dir: &Path, config: SimConfig) -> io::Result<Kernel> {
    if !dir.join("sys/bus/pci/devices").is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} is not a host tree: it has no sys/bus/pci/devices",
                dir.display()
            ),
        ));
    }
    let fs = vfs::Vfs::load(dir, &[fuse::CTL_DIR_NAME])?;
    Ok(Kernel::new(fs, config))
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc signal-set calls on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn unmount(mountpoint: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(mountpoint.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: umount2 with a valid C string.
    unsafe {
        if libc::umount2(c.as_ptr(), 0) != 0 {
            // Busy (a shell sits in it): detach now, the kernel finishes later.
            libc::umount2(c.as_ptr(), libc::MNT_DETACH);
        }
    }
}

/// Mounts the model at `mountpoint` and serves it until SIGTERM, SIGINT or SIGHUP,
/// then unmounts. `on_ready` runs once the mount is live.
pub fn serve(kernel: Kernel, mountpoint: &Path, on_ready: impl FnOnce()) -> io::Result<()> {
    use fuser::MountOption;
    let set = block_signals();
    let mut opts = vec![
        MountOption::FSName("passthru-sim".into()),
        MountOption::Subtype("passthru-sim".into()),
        MountOption::DefaultPermissions,
    ];
    // SAFETY: a getter without arguments.
    if unsafe { libc::geteuid() } == 0 {
        opts.push(MountOption::AllowOther);
    }
    let session = fuser::Session::new(fuse::SimFs::new(kernel), mountpoint, &opts)?;
    let bg = session.spawn()?;
    on_ready();
    let mut sig: libc::c_int = 0;
    // SAFETY: sigwait on the set blocked above.
    unsafe {
        libc::sigwait(&set, &mut sig);
    }
    unmount(mountpoint);
    // The session thread ends when the kernel drops the connection; do not wait
    // on it (a lazily detached mount may keep it alive until its users go).
    std::mem::forget(bg);
    Ok(())
}
