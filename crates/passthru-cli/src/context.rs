//! The context every command runs in: where facts come from, loaded once.

use crate::cli::GlobalArgs;
use anyhow::Result;
use passthru::host::sources;
use passthru::host::sources::ReadOptions;
use passthru::Host;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Global options plus the host facts, read on first use.
pub struct Ctx {
    /// The global options.
    pub global: GlobalArgs,
    host: OnceLock<Host>,
    inventory: OnceLock<Host>,
    checks: OnceLock<Host>,
}

impl Ctx {
    /// A context for the given options.
    pub fn new(global: GlobalArgs) -> Self {
        Ctx {
            global,
            host: OnceLock::new(),
            inventory: OnceLock::new(),
            checks: OnceLock::new(),
        }
    }

    /// A context whose facts are already read (a remote host's snapshot in a fleet
    /// run): every command reasons over them exactly as over a local host.
    pub fn with_host(global: GlobalArgs, host: Host) -> Self {
        let c = Ctx::new(global);
        let _ = c.host.set(host);
        c
    }

    /// Whether to print JSON.
    pub fn json(&self) -> bool {
        self.global.json
    }

    /// The root directory commands read and (for change commands) write.
    pub fn root(&self) -> PathBuf {
        self.global
            .root
            .clone()
            .unwrap_or_else(|| PathBuf::from("/"))
    }

    /// The host facts, read from the chosen source on first use.
    pub fn host(&self) -> Result<&Host> {
        if let Some(h) = self.host.get() {
            return Ok(h);
        }
        let h = self.load()?;
        Ok(self.host.get_or_init(|| h))
    }

    /// The facts an inventory listing shows (`ls`, `groups`), read with the lighter
    /// [`ReadOptions::inventory`] profile from a root; a snapshot or lspci text is
    /// read whole as usual.
    pub fn inventory_host(&self) -> Result<&Host> {
        if self.global.snapshot.is_some() || self.global.lspci.is_some() {
            return self.host();
        }
        if let Some(h) = self.host.get().or_else(|| self.inventory.get()) {
            return Ok(h);
        }
        let root = self.root();
        let h = sources::read_root_with(&root, &ReadOptions::inventory())?;
        Ok(self.inventory.get_or_init(|| h))
    }

    /// The facts the readiness checks use (`doctor`, `why`), read with
    /// [`ReadOptions::checks`] from a root; a snapshot or lspci text is read whole.
    pub fn checks_host(&self) -> Result<&Host> {
        if self.global.snapshot.is_some() || self.global.lspci.is_some() {
            return self.host();
        }
        if let Some(h) = self.host.get().or_else(|| self.checks.get()) {
            return Ok(h);
        }
        let root = self.root();
        let mut h = sources::read_root_with(&root, &ReadOptions::checks())?;
        self.apply_kernel_log(&mut h)?;
        Ok(self.checks.get_or_init(|| h))
    }

    fn load(&self) -> Result<Host> {
        let mut host = self.load_source()?;
        self.apply_kernel_log(&mut host)?;
        Ok(host)
    }

    /// `--kernel-log FILE` replaces whatever kernel log the source had.
    fn apply_kernel_log(&self, host: &mut Host) -> Result<()> {
        if let Some(p) = &self.global.kernel_log {
            host.system.kernel_log = Some(sources::system::read_kernel_log_file(p)?);
        }
        Ok(())
    }

    fn load_source(&self) -> Result<Host> {
        if let Some(p) = &self.global.snapshot {
            return Ok(sources::read_snapshot(p)?);
        }
        if let Some(p) = &self.global.lspci {
            return load_lspci(p);
        }
        let root = self.root();
        Ok(sources::read_root(&root)?)
    }
}

/// Loads facts from lspci text (a file, or `-` for stdin).
fn load_lspci(p: &Path) -> Result<Host> {
    // lspci prints vendor and device names run together; this machine's pci.ids (when it
    // has one) tells where the vendor name ends. Facts never depend on it.
    let ids = passthru::host::Root::open("/")
        .ok()
        .and_then(|r| sources::sysfs::load_pci_ids(&r));
    Ok(sources::lspci_text::read_lspci_with(p, ids.as_ref())?)
}
