//! OpenStack nova's PCI passthrough configuration, decided exactly as nova 34 does.
//!
//! - [`conf`] reads nova.conf text the way oslo.config does.
//! - [`spec`], [`address`], [`tags`] parse `[pci] device_spec`; [`matching`] decides
//!   which device a spec takes (first match wins).
//! - [`alias`] parses `[pci] alias`; [`flavor`] checks `pci_passthrough:alias`.
//! - [`pools`] groups exposed devices as nova's PCI stats do and fits requests.
//! - [`check`] builds the `nova check` report; [`render`] writes nova.conf lines.
//!
//! Everything here is pure: host facts and file text go in, decisions come out.

pub mod py;
