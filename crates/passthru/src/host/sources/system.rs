//! Reads host-level facts ([`SystemFacts`](crate::host::system::SystemFacts)) from a root.

use crate::host::model::Host;
use crate::host::root::Root;

/// Fills `host.system` from the root. Never fails: what cannot be read stays unknown.
pub fn read_system(_root: &Root, _host: &mut Host) {}
