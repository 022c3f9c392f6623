//! Starting and stopping `passthru-sim` from tests: [`SimMount`] mounts a tree or
//! scenario in a fresh temporary directory, waits until it serves, and on drop
//! stops the simulator by pid (SIGTERM, then SIGKILL and a lazy unmount if it
//! does not go).

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running simulator mount; stopped and unmounted on drop.
pub struct SimMount {
    child: Option<Child>,
    mountpoint: PathBuf,
    stderr_path: PathBuf,
    tree: Option<tempfile::TempDir>,
    _dir: tempfile::TempDir,
}

/// Whether FUSE can be used here: `Err(reason)` when `/dev/fuse` cannot be opened.
pub fn fuse_usable() -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map(|_| ())
        .map_err(|e| format!("/dev/fuse is not usable ({e})"))
}

/// For tests: whether the simulator can run here. When it cannot, the test is skipped
/// with a message on stderr, unless `PASSTHRU_REQUIRE_FUSE=1` or the general peer rule
/// ([`crate::peer::required`]: `CI=true`) makes it fail instead of passing without
/// having run.
pub fn fuse_or_skip() -> bool {
    match fuse_usable() {
        Ok(()) => true,
        Err(why) if std::env::var_os("PASSTHRU_REQUIRE_FUSE").is_some_and(|v| v == "1") => {
            panic!("PASSTHRU_REQUIRE_FUSE=1 but {why}: the kernel simulator tests cannot run")
        }
        Err(why) => crate::peer::require("FUSE (/dev/fuse) for the kernel simulator", Err(why)),
    }
}

/// The `passthru-sim` binary: `$PASSTHRU_SIM`, else next to the running test's
/// target directory (`target/debug/passthru-sim`).
pub fn default_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PASSTHRU_SIM") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("passthru-sim")
}

impl SimMount {
    /// Mounts a tree directory with the default binary.
    pub fn tree(tree: &Path) -> io::Result<SimMount> {
        Self::start(&default_binary(), &["--tree".as_ref(), tree.as_os_str()])
    }

    /// Mounts a built-in scenario (or HostSpec file) with the default binary.
    pub fn scenario(name: &str) -> io::Result<SimMount> {
        Self::start(&default_binary(), &["--scenario".as_ref(), name.as_ref()])
    }

    /// Writes a spec's tree (with its simulator settings) to a temporary directory
    /// and mounts it with the default binary; the tree lives as long as the mount.
    pub fn spec(spec: &crate::spec::HostSpec) -> io::Result<SimMount> {
        Self::spec_with(&default_binary(), spec)
    }

    /// [`SimMount::spec`] with a given binary.
    pub fn spec_with(bin: &Path, spec: &crate::spec::HostSpec) -> io::Result<SimMount> {
        let tree = super::write_scenario_tree(spec).map_err(io::Error::other)?;
        let mut m = Self::start(bin, &["--tree".as_ref(), tree.path().as_os_str()])?;
        m.tree = Some(tree);
        Ok(m)
    }

    /// Starts `BIN mount ARGS... MOUNTPOINT` and waits (up to 20 s) until it serves.
    pub fn start(bin: &Path, args: &[&std::ffi::OsStr]) -> io::Result<SimMount> {
        let dir = tempfile::tempdir()?;
        let mountpoint = dir.path().join("mnt");
        std::fs::create_dir(&mountpoint)?;
        let stderr_path = dir.path().join("sim.stderr");
        let stderr = std::fs::File::create(&stderr_path)?;
        let child = Command::new(bin)
            .arg("mount")
            .args(args)
            .arg(&mountpoint)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot start {}: {e}", bin.display()))
            })?;
        let mut m = SimMount {
            child: Some(child),
            mountpoint,
            stderr_path,
            tree: None,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if m.mountpoint.join(".passthru-sim/status").exists() {
                return Ok(m);
            }
            if let Some(c) = m.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    m.child = None;
                    return Err(io::Error::other(format!(
                        "passthru-sim exited ({st}) before serving: {}",
                        m.stderr()
                    )));
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "passthru-sim did not serve within 20 s: {}",
                    m.stderr()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The mounted root (use it as a host root, or `ROOT/sys/bus/pci` for lspci).
    pub fn root(&self) -> &Path {
        &self.mountpoint
    }

    /// The tree directory behind the mount, when the harness wrote it.
    pub fn tree_dir(&self) -> Option<&Path> {
        self.tree.as_ref().map(tempfile::TempDir::path)
    }

    /// The simulator's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What the simulator printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends one control command (see `docs/simulator.md`).
    pub fn ctl(&self, command: &str) -> io::Result<()> {
        std::fs::write(
            self.mountpoint.join(".passthru-sim/ctl"),
            format!("{command}\n"),
        )
    }

    /// Simulated reboot.
    pub fn reboot(&self) -> io::Result<()> {
        self.ctl("reboot")
    }

    /// Fails the next `times` writes to `path` (relative to the root) with `errno`
    /// (a name like `EBUSY`).
    pub fn fault(&self, path: &str, errno: &str, times: u32) -> io::Result<()> {
        self.ctl(&format!("fault {path} {errno} {times}"))
    }

    /// The simulator's log of changes.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.mountpoint.join(".passthru-sim/log")).unwrap_or_default()
    }

    /// Stops the simulator and waits until the mount is gone.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mountpoint)
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for SimMount {
    fn drop(&mut self) {
        self.stop();
    }
}
