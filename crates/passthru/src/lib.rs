//! passthru: PCI passthrough and SR-IOV for KVM hosts.
//!
//! Data flows one way: **sources -> facts -> findings / plans -> actions**.
//!
//! - [`host::sources`] read a host (a root directory, a snapshot, `lspci` text) into
//!   one [`host::Host`] value; nothing else touches the filesystem.
//! - [`pci`] is the vocabulary: addresses in every form, ids, class families, names.
//! - [`inventory`] holds pure views over facts (IOMMU groups, filters).
//! - [`change`] plans changes (VFs, bindings, kernel arguments, host files), and its
//!   executor is the only code that writes to a host; every change set is journaled
//!   and can be undone.
//! - [`checks`] are the readiness checks of `doctor` and the causal chain of `why`.
//! - [`libvirt`] reads domain XML, renders `<hostdev>` and node-device XML, and
//!   verifies guests against facts; [`render`] writes other tools' configuration.
//! - [`fleet`] reasons over many hosts' facts at once (the odd hosts out).
//! - [`remote`] reaches other hosts over SSH: a remote host is one more source.
#![deny(missing_docs)]

pub mod change;
pub mod checks;
pub mod error;
pub mod fleet;
pub mod host;
pub mod inventory;
pub mod libvirt;
pub mod nova;
pub mod pci;
pub mod remote;
pub mod render;

pub use error::{Error, Result};
pub use host::Host;
