//! Host-level facts beyond the PCI tree: CPU, firmware IOMMU tables, kernel modules,
//! device nodes, boot and service configuration. Filled by `sources::system`.

use serde::{Deserialize, Serialize};

/// Host-level facts used by the checks. Every field is optional or empty when the
/// source could not tell (a snapshot from `lspci` text knows none of them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemFacts {}
