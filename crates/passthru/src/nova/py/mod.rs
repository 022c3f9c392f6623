//! The pieces of Python that nova's PCI decisions run through, reproduced exactly:
//! `json.loads` and `repr()`, `int(x, 16)`, `str.strip()`, oslo's
//! `bool_from_string`, and the `re` module's grammar and matching.
//!
//! nova never validates its inputs beyond what these functions accept, so their
//! leniency *is* nova's grammar.

pub mod json;
pub mod re;
mod tables;
pub mod text;

pub use json::{loads, JsonError, PyValue};
pub use re::{PyRegex, ReError};
