//! Test support for passthru: kernel-faithful fake host trees and the kernel simulator.
//!
//! ```no_run
//! use passthru_testsupport::{scenarios, FakeHost};
//! let root = tempfile::tempdir().unwrap();
//! FakeHost::new(scenarios::i350()).write(root.path()).unwrap();
//! // root.path()/sys/bus/pci/devices/0000:07:10.7 now exists, bound to vfio-pci.
//! ```
#![deny(missing_docs)]

pub mod config_space;
pub mod fakehost;
pub mod peer;
pub mod scenarios;
pub mod sim;
pub mod spec;
pub mod sshd;

pub use fakehost::{FakeHost, FakeHostError, Function};
pub use scenarios::scenario;
pub use spec::{
    bdf, BarKind, BarSpec, Bdf, DeviceSpec, DriverSpec, ExtraFile, HostSpec, LinkSpec, NetdevSpec,
    NumaSpec, PcieSpec, PortType, SriovSpec, VfSpec,
};
