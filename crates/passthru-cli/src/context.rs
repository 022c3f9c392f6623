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
}

impl Ctx {
    /// A context for the given options.
    pub fn new(global: GlobalArgs) -> Self {
        Ctx {
            global,
            host: OnceLock::new(),
            inventory: OnceLock::new(),
        }
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

    fn load(&self) -> Result<Host> {
        let mut host = self.load_source()?;
        if let Some(p) = &self.global.kernel_log {
            host.system.kernel_log = Some(sources::system::read_kernel_log_file(p)?);
        }
        Ok(host)
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
