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
pub mod modprobe;
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

/// Where a simulated host comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A tree directory on disk.
    Tree(std::path::PathBuf),
    /// A built-in scenario name (`i350`, `two-socket`, `parametric:PxV`) or a
    /// HostSpec file (`.toml` or `.json`).
    Scenario(String),
}

/// Reads a scenario name or HostSpec file.
pub fn scenario_spec(name_or_file: &str) -> Result<crate::spec::HostSpec, String> {
    let p = Path::new(name_or_file);
    if p.is_file() {
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {name_or_file}: {e}"))?;
        let spec = if name_or_file.ends_with(".toml") {
            crate::spec::HostSpec::from_toml(&text).map_err(|e| e.to_string())
        } else {
            crate::spec::HostSpec::from_json(&text).map_err(|e| e.to_string())
        };
        return spec.map_err(|e| format!("{name_or_file}: {e}"));
    }
    crate::scenarios::scenario(name_or_file).map_err(|e| {
        format!(
            "{e} (built-in: {}; or a HostSpec .toml/.json file)",
            crate::scenarios::SCENARIOS.join(", ")
        )
    })
}

/// Writes a spec's tree and its simulator settings into a new temporary directory.
pub fn write_scenario_tree(spec: &crate::spec::HostSpec) -> Result<tempfile::TempDir, String> {
    let dir = crate::FakeHost::new(spec.clone())
        .write_temp()
        .map_err(|e| e.to_string())?;
    config::from_spec(spec)
        .write_to_tree(dir.path())
        .map_err(|e| format!("cannot write {}: {e}", dir.path().display()))?;
    Ok(dir)
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
    ];
    // SAFETY: a getter without arguments.
    if unsafe { libc::geteuid() } == 0 {
        opts.push(MountOption::AllowOther);
    }
    // A bug that panics the serving thread must not leave a dead mount behind: say
    // what happened and stop the way SIGTERM does (unmount, exit).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        eprintln!("passthru-sim: internal error, unmounting");
        // SAFETY: signalling our own process.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGTERM);
        }
    }));
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
