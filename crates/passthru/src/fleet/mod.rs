//! Reasoning over many hosts' facts at once (pure: no SSH, no filesystem).
//!
//! - [`diff`]: the odd hosts out, for each fact that should agree across compute
//!   nodes of one kind.

pub mod diff;

pub use diff::{diff, Difference, OddHost};
