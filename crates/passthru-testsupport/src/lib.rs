//! Test support for passthru: kernel-faithful fake host trees and the kernel simulator.
#![deny(missing_docs)]

pub mod sim;
