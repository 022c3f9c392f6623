//! The OpenStack compute API: `passthru openstack flavor | boot | verify`.
//!
//! - [`config`] decides which cloud and how to authenticate, as the `openstack` CLI
//!   does (`OS_CLOUD` + clouds.yaml / secure.yaml, the `OS_*` variables).
//! - [`client`] holds a session: keystone v3 token and catalog, the compute endpoint,
//!   the negotiated microversion; blocking HTTP through `ureq`.
//! - [`compute`] is the typed compute API (flavors, extra specs, servers, services).
//! - [`explain`] says per compute host why a PCI flavor got "No valid host", with
//!   nova's own rules (`nova check`).
//!
//! Only [`config::load`] and [`client::Session`] reach outside (files, network); the
//! decisions are pure functions.

pub mod client;
pub mod compute;
pub mod config;
pub mod error;
pub mod explain;

pub use client::{Microversion, Session};
pub use error::OpenStackError;
