//! Host facts and the sources that read them.

pub mod change_facts;
pub mod model;
pub mod owners;
pub mod resolve;
pub mod root;
pub mod sources;
pub mod system;

pub use model::{Host, IommuGroup, Netdev, NumaNode, PciDevice, PcieLink, Sriov};
pub use resolve::{resolve, resolve_all, DeviceQuery};
pub use root::Root;
