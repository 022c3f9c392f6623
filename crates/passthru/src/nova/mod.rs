//! OpenStack nova's PCI passthrough configuration, decided exactly as nova 34 does.
//!
//! - [`conf`] reads nova.conf text the way oslo.config does.
//! - [`spec`], [`address`], [`tags`] parse `[pci] device_spec`; [`matching`] decides
//!   which spec takes a device (first match wins); [`sysfs`] holds the few sysfs
//!   reads nova makes while doing so.
//! - [`alias`] parses `[pci] alias`; [`flavor`] checks `pci_passthrough:alias`.
//! - [`pools`] groups exposed devices as nova's PCI stats do and fits requests.
//! - [`check`] builds the `nova check` report ([`check::Report::fatal`] decides what
//!   stops a nova service); [`render`] writes nova.conf lines; [`merge`] merges them
//!   into an existing nova.conf (`render nova --write`, the Ansible module).
//! - [`py`] reproduces the Python behaviour all of this runs through.
//!
//! Everything here is pure: host facts and file text go in, decisions come out.
//! The rulebook is `reference/nova-pci-semantics.md`; the differential test in
//! `scripts/nova-diff/` compares these decisions with nova's own code.

pub mod address;
pub mod alias;
pub mod check;
pub mod conf;
mod conf_options;
pub mod error;
pub mod flavor;
pub mod matching;
pub mod merge;
pub mod pools;
pub mod ports;
pub mod py;
pub mod render;
pub mod spec;
pub mod sysfs;
pub mod tags;

pub use error::NovaError;
