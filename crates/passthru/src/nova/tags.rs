//! `device_spec` tags: every key that is not a matcher. nova keeps them with their
//! JSON type and normalises only three (`managed`, `live_migratable`,
//! `one_time_use`, to `"true"`/`"false"` with a strict parser); `remote_managed`
//! is read loosely but stored verbatim.

use super::error::NovaError;
use super::py::{text, PyValue};

/// Tags nova normalises with a strict boolean parser.
pub const STRICT_BOOL_TAGS: [&str; 3] = ["managed", "live_migratable", "one_time_use"];

/// The tag naming the neutron physical network.
pub const PHYSICAL_NETWORK: &str = "physical_network";
/// The SmartNIC/DPU tag.
pub const REMOTE_MANAGED: &str = "remote_managed";
/// Placement resource class and traits tags (ignored by pools).
pub const PLACEMENT_ONLY: [&str; 2] = ["resource_class", "traits"];

/// oslo's `bool_from_string(value)`: `bool` is itself, anything else is judged by
/// its Python `str()`. `None` means "not a recognised spelling".
pub fn bool_of(value: &PyValue) -> Option<bool> {
    match value {
        PyValue::Bool(b) => Some(*b),
        other => text::bool_from_str(&other.to_py_str()),
    }
}

/// Loose reading (`strict=False`): unrecognised is false.
pub fn loose_bool(value: Option<&PyValue>) -> bool {
    match value {
        None => false, // str(None) is "None": not a true spelling
        Some(v) => bool_of(v).unwrap_or(false),
    }
}

/// nova's `_normalize_device_spec_tag` for one tag, in place.
pub fn normalize_strict(tags: &mut [(String, PyValue)], tag: &str) -> Result<(), NovaError> {
    let Some(slot) = tags.iter_mut().find(|(k, _)| k == tag) else {
        return Ok(());
    };
    if slot.1 == PyValue::None {
        return Ok(());
    }
    match bool_of(&slot.1) {
        Some(b) => {
            slot.1 = PyValue::Str(if b { "true" } else { "false" }.into());
            Ok(())
        }
        None => Err(NovaError::invalid_spec(format!(
            "Cannot parse tag '{tag}': {}",
            text::bool_error_message(&slot.1.to_py_str())
        ))),
    }
}

/// Looks a tag up.
pub fn get<'a>(tags: &'a [(String, PyValue)], key: &str) -> Option<&'a PyValue> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: PyValue) -> Result<PyValue, String> {
        let mut t = vec![("managed".to_string(), v)];
        normalize_strict(&mut t, "managed").map_err(|e| e.message)?;
        Ok(t[0].1.clone())
    }

    #[test]
    fn strict_normalisation_table() {
        for (v, want) in [
            (PyValue::Str("yes".into()), "true"),
            (PyValue::Str(" TrUe ".into()), "true"),
            (PyValue::Str("1".into()), "true"),
            (PyValue::Int("1".into()), "true"),
            (PyValue::Bool(true), "true"),
            (PyValue::Str("no".into()), "false"),
            (PyValue::Str("off".into()), "false"),
            (PyValue::Int("0".into()), "false"),
            (PyValue::Bool(false), "false"),
        ] {
            assert_eq!(norm(v).unwrap(), PyValue::Str(want.into()));
        }
        assert_eq!(norm(PyValue::None).unwrap(), PyValue::None);
        assert_eq!(
            norm(PyValue::Str("".into())).unwrap_err(),
            "Invalid [pci]device_spec config: Cannot parse tag 'managed': Unrecognized value '', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
        );
        assert!(norm(PyValue::Int("2".into()))
            .unwrap_err()
            .contains("Unrecognized value '2'"));
        assert!(norm(PyValue::Float(1.0))
            .unwrap_err()
            .contains("Unrecognized value '1.0'"));
    }

    #[test]
    fn loose_remote_managed() {
        assert!(loose_bool(Some(&PyValue::Str("Yes".into()))));
        assert!(!loose_bool(Some(&PyValue::Str("maybe".into()))));
        assert!(!loose_bool(None));
    }
}
