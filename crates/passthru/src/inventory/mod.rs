//! Inventory views over host facts: groups, filters, the VF tree.

pub mod essentials;
pub mod filter;
pub mod groups;

pub use groups::{groups, GroupView};
