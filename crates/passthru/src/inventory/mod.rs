//! Inventory views over host facts: groups, filters, the VF tree.

pub mod filter;
pub mod groups;

pub use groups::{groups, GroupView};
