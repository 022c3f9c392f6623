//! The flavor extra spec `pci_passthrough:alias`, judged twice as nova does:
//! by the API validator when the extra spec is set (microversion 2.86+), and by
//! the request builder when a server is created. The two disagree in both
//! directions (`a1 : 2` fails the API but boots; `a1,a2:1` passes the API and
//! fails at boot), so both verdicts are reported.

use super::alias::{AliasSpec, Aliases};
use super::error::NovaError;
use super::py::{text, PyRegex};
use serde::Serialize;

/// The API validator's pattern (matched with `re.fullmatch`).
pub const API_PATTERN: &str = r"[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*";

/// One PCI request a flavor creates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Request {
    /// The alias name (stripped).
    pub alias: String,
    /// How many devices (`int()` of the count; may be 0 or negative).
    pub count: i64,
    /// The alias's specs (alternatives).
    pub specs: Vec<AliasSpec>,
    /// NUMA policy: the flavor/image override, else the alias's.
    pub numa_policy: String,
}

/// Both verdicts on one extra-spec value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlavorVerdict {
    /// The value.
    pub value: String,
    /// `None` when the API accepts it, else the API's message.
    pub api_error: Option<String>,
    /// The requests a server create builds, or the error it raises.
    pub boot: Result<Vec<Request>, NovaError>,
}

impl FlavorVerdict {
    /// Whether the two layers disagree.
    pub fn disagree(&self) -> bool {
        self.api_error.is_none() != self.boot.is_ok()
    }
}

/// The API's check of the extra-spec value.
pub fn api_check(value: &str) -> Option<String> {
    let ok = PyRegex::compile(API_PATTERN)
        .map(|r| r.is_full_match(value))
        .unwrap_or(false);
    (!ok).then(|| format!("Validation failed; '{value}' is not of the format '{API_PATTERN}'."))
}

/// nova's `_translate_alias_to_requests`.
pub fn boot_requests(
    value: &str,
    aliases: &Aliases,
    affinity_policy: Option<&str>,
) -> Result<Vec<Request>, NovaError> {
    let parts: Vec<Vec<&str>> = value.split(',').map(|p| p.split(':').collect()).collect();
    let mut out = Vec::new();
    for p in parts {
        let (name, count) = match p.as_slice() {
            [n, c] => (*n, *c),
            [_] => {
                return Err(NovaError::new(
                    "ValueError",
                    format!("not enough values to unpack (expected 2, got {})", p.len()),
                ))
            }
            _ => {
                return Err(NovaError::new(
                    "ValueError",
                    "too many values to unpack (expected 2)",
                ))
            }
        };
        let name = text::strip(name);
        let alias = aliases
            .get(name)
            .ok_or_else(|| NovaError::alias_not_defined(name))?;
        let n = text::parse_int(count, 10).ok_or_else(|| {
            NovaError::new(
                "ValueError",
                format!(
                    "invalid literal for int() with base 10: {}",
                    text::repr_str(count)
                ),
            )
        })?;
        out.push(Request {
            alias: name.to_string(),
            count: n.to_i64().unwrap_or(i64::MAX),
            specs: alias.specs.clone(),
            numa_policy: affinity_policy.unwrap_or(&alias.numa_policy).to_string(),
        });
    }
    Ok(out)
}

/// Both verdicts. `aliases` is `Err` when the alias option itself is invalid: nova
/// raises that error at boot before reading the flavor.
pub fn judge(value: &str, aliases: Result<&Aliases, &NovaError>) -> FlavorVerdict {
    FlavorVerdict {
        value: value.to_string(),
        api_error: api_check(value),
        boot: match aliases {
            Ok(a) => boot_requests(value, a, None),
            Err(e) => Err(e.clone()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nova::alias::parse_aliases;

    fn aliases() -> Aliases {
        let v: Vec<String> = [
            r#"{"name": "a1", "vendor_id": "8086", "product_id": "1520"}"#,
            r#"{"name": "a2", "vendor_id": "8086", "product_id": "1521", "numa_policy": "required"}"#,
            r#"{"name": "QuickAssist", "vendor_id": "8086", "product_id": "0443"}"#,
            r#"{"name": "IntelNIC", "vendor_id": "8086", "product_id": "1520"}"#,
            r#"{"name": "Cirrus Logic", "vendor_id": "1013", "product_id": "00b8"}"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        parse_aliases(&v, false).unwrap()
    }

    #[test]
    fn api_and_boot_disagree() {
        let a = aliases();
        let v = judge("a1 : 2", Ok(&a));
        assert!(v.api_error.is_some() && v.boot.is_ok() && v.disagree());
        let v = judge("a1,a2:1", Ok(&a));
        assert!(v.api_error.is_none());
        assert_eq!(
            v.boot.unwrap_err().message,
            "not enough values to unpack (expected 2, got 1)"
        );
        let v = judge("a1:2,,a2:1", Ok(&a));
        assert!(v.api_error.is_none() && v.boot.is_err());
        let v = judge("a1:0", Ok(&a));
        assert!(v.api_error.is_none());
        assert_eq!(v.boot.unwrap()[0].count, 0);
        assert_eq!(
            judge("a1:x", Ok(&a)).boot.unwrap_err().message,
            "invalid literal for int() with base 10: 'x'"
        );
        assert_eq!(
            judge("A1:1", Ok(&a)).boot.unwrap_err().message,
            "PCI alias A1 is not defined"
        );
        assert_eq!(
            api_check("a1 : 2").unwrap(),
            "Validation failed; 'a1 : 2' is not of the format '[^:]+:\\d+(?:\\s*,\\s*[^:]+:\\d+)*'."
        );
    }

    #[test]
    fn nova_request_tests() {
        let a = aliases();
        let r = boot_requests("QuickAssist : 3, IntelNIC: 1", &a, None).unwrap();
        assert_eq!((r[0].count, r[1].count), (3, 1));
        let r = boot_requests(" Cirrus Logic : 4", &a, None).unwrap();
        assert_eq!(r[0].alias, "Cirrus Logic");
        let r = boot_requests("a2:1", &a, Some("preferred")).unwrap();
        assert_eq!(r[0].numa_policy, "preferred");
        assert_eq!(
            boot_requests("a2:1", &a, None).unwrap()[0].numa_policy,
            "required"
        );
        assert_eq!(
            boot_requests("a1:1,zz:1", &a, None).unwrap_err().exception,
            "PciRequestAliasNotDefined"
        );
        assert_eq!(
            boot_requests("a1:1:2", &a, None).unwrap_err().message,
            "too many values to unpack (expected 2)"
        );
        assert_eq!(boot_requests("a1:٣", &a, None).unwrap()[0].count, 3);
    }
}
