//! The PCI vocabulary: addresses, ids, class families and names from pci.ids.

pub mod address;
pub mod classes;
pub mod filter;
pub mod ids;
pub mod names;

pub use address::{AddressError, PciAddress};
pub use filter::{FilterError, IdFilter, PciFilter};
pub use ids::{ClassCode, ClassFamily, DeviceId, IdError, VendorId};
pub use names::PciIds;
