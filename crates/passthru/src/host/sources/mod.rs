//! Sources: the only code that reads a host. Each produces a [`Host`](crate::host::Host).

pub mod change_facts;
pub mod journal;
pub mod libvirt;
pub mod lspci_text;
pub mod owners;
pub mod snapshot;
pub mod sysfs;
pub mod system;

pub use lspci_text::{parse_lspci, read_lspci};
pub use snapshot::read_snapshot;
pub use sysfs::{read_root, read_root_with, Detail, ReadOptions};
