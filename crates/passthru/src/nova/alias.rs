//! `[pci] alias`: nova's `get_alias_from_config`.
//!
//! Each value is JSON checked against a strict schema (validated with
//! `jsonschema`, whose "best match" picks the reported error), then the name is
//! stripped, `device_type` becomes `dev_type`, `live_migratable` is normalised,
//! and lines with the same name are ORed (they must agree on NUMA policy and
//! device type). Two checks run over the result: one spec per alias with
//! `pci_in_placement`, and ids (or a resource class) on every spec.

use super::error::NovaError;
use super::py::{self, text, PyRegex, PyValue};
use serde::Serialize;

/// nova's NUMA affinity policies, in nova's order.
pub const NUMA_POLICIES: [&str; 4] = ["required", "legacy", "preferred", "socket"];
/// Device types an alias may ask for.
pub const ALIAS_DEVICE_TYPES: [&str; 3] = ["type-PCI", "type-PF", "type-VF"];
/// nova's `PCI_VENDOR_PATTERN`.
pub const ID_PATTERN: &str = r"^([\da-fA-F]{4})$";

/// One alias line after parsing: the request spec it contributes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AliasSpec {
    /// The spec's keys in nova's order (`vendor_id`, `product_id`, `dev_type`,
    /// `capability_type`, `live_migratable`, `resource_class`, `traits`).
    pub fields: Vec<(String, String)>,
    /// Index of the alias value it came from.
    pub value_index: usize,
}

impl AliasSpec {
    /// A key's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// An alias: a name, its NUMA policy and its alternatives.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alias {
    /// The name (stripped).
    pub name: String,
    /// `required`, `legacy`, `preferred` or `socket`.
    pub numa_policy: String,
    /// One spec per line with this name; any may satisfy a request.
    pub specs: Vec<AliasSpec>,
}

/// Every alias, in the order names first appear.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Aliases {
    /// The aliases.
    pub aliases: Vec<Alias>,
}

impl Aliases {
    /// Looks an alias up by name.
    pub fn get(&self, name: &str) -> Option<&Alias> {
        self.aliases.iter().find(|a| a.name == name)
    }
}

/// Why the alias option is rejected: nova's error and, when one line caused it,
/// that line's index.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AliasError {
    /// Index of the value, or `None` for the checks over all aliases.
    pub index: Option<usize>,
    /// nova's error.
    pub error: NovaError,
}

struct SchemaError {
    path: Option<&'static str>,
    message: String,
}

const PROPERTIES: [&str; 9] = [
    "name",
    "capability_type",
    "product_id",
    "vendor_id",
    "device_type",
    "numa_policy",
    "resource_class",
    "traits",
    "live_migratable",
];

fn py_list_repr(items: &[&str]) -> String {
    let parts: Vec<String> = items.iter().map(|s| text::repr_str(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// The errors `jsonschema` yields for one property, in its keyword order.
fn property_errors(prop: &'static str, v: &PyValue, out: &mut Vec<SchemaError>) {
    let mut push = |message: String| {
        out.push(SchemaError {
            path: Some(prop),
            message,
        })
    };
    let s = v.as_str();
    if s.is_none() {
        push(format!("{} is not of type 'string'", v.repr()));
    }
    let enum_of = |opts: &[&str], push: &mut dyn FnMut(String)| {
        if !s.is_some_and(|s| opts.contains(&s)) {
            push(format!("{} is not one of {}", v.repr(), py_list_repr(opts)));
        }
    };
    match prop {
        "name" => {
            if let Some(s) = s {
                let n = text::py_len(s);
                if n < 1 {
                    push(format!("{} should be non-empty", v.repr()));
                }
                if n > 256 {
                    push(format!("{} is too long", v.repr()));
                }
            }
        }
        "capability_type" => enum_of(&["pci"], &mut push),
        "device_type" => enum_of(&ALIAS_DEVICE_TYPES, &mut push),
        "numa_policy" => enum_of(&NUMA_POLICIES, &mut push),
        "product_id" | "vendor_id" => {
            if let Some(s) = s {
                let ok = PyRegex::compile(ID_PATTERN)
                    .map(|r| r.is_search_match(s))
                    .unwrap_or(false);
                if !ok {
                    push(format!(
                        "{} does not match {}",
                        v.repr(),
                        text::repr_str(ID_PATTERN)
                    ));
                }
            }
        }
        _ => {}
    }
}

/// `jsonschema.validate(spec, _ALIAS_SCHEMA)`: the best-matching error's message.
fn validate(v: &PyValue) -> Result<(), String> {
    let PyValue::Dict(items) = v else {
        return Err(format!("{} is not of type 'object'", v.repr()));
    };
    let mut errors: Vec<SchemaError> = Vec::new();
    let mut extras: Vec<&str> = items
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !PROPERTIES.contains(k))
        .collect();
    if !extras.is_empty() {
        extras.sort();
        let verb = if extras.len() == 1 { "was" } else { "were" };
        let names: Vec<String> = extras.iter().map(|e| text::repr_str(e)).collect();
        errors.push(SchemaError {
            path: None,
            message: format!(
                "Additional properties are not allowed ({} {verb} unexpected)",
                names.join(", ")
            ),
        });
    }
    for prop in PROPERTIES {
        if let Some(val) = v.get(prop) {
            property_errors(prop, val, &mut errors);
        }
    }
    if v.get("name").is_none() {
        errors.push(SchemaError {
            path: None,
            message: "'name' is a required property".into(),
        });
    }
    // best_match: shallow errors first, then the greatest path; ties keep the first.
    let mut best: Option<&SchemaError> = None;
    for e in &errors {
        let better = match best {
            None => true,
            Some(b) => match (b.path, e.path) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(bp), Some(ep)) => ep > bp,
            },
        };
        if better {
            best = Some(e);
        }
    }
    match best {
        Some(e) => Err(e.message.clone()),
        None => Ok(()),
    }
}

/// Parses one alias value into `(name, numa_policy, spec)`.
fn parse_one(text_value: &str, index: usize) -> Result<(String, String, AliasSpec), NovaError> {
    let v = py::loads(text_value).map_err(|e| NovaError::invalid_alias(e.to_string()))?;
    validate(&v).map_err(NovaError::invalid_alias)?;
    let PyValue::Dict(items) = v else {
        return Err(NovaError::invalid_alias("not an object"));
    };
    // The schema guarantees every value is a string.
    let mut fields: Vec<(String, String)> =
        items.into_iter().map(|(k, v)| (k, v.to_py_str())).collect();
    let mut pop = |k: &str| {
        let i = fields.iter().position(|(key, _)| key == k)?;
        Some(fields.remove(i).1)
    };
    let name = text::strip(&pop("name").unwrap_or_default()).to_string();
    let numa_policy = pop("numa_policy")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "legacy".to_string());
    let dev_type = pop("device_type").filter(|d| !d.is_empty());
    let live = pop("live_migratable");
    if let Some(d) = dev_type {
        fields.push(("dev_type".into(), d));
    }
    if let Some(l) = live {
        let b = text::bool_from_str(&l)
            .ok_or_else(|| NovaError::invalid_alias(text::bool_error_message(&l)))?;
        fields.push((
            "live_migratable".into(),
            if b { "true" } else { "false" }.into(),
        ));
    }
    Ok((
        name,
        numa_policy,
        AliasSpec {
            fields,
            value_index: index,
        },
    ))
}

/// nova's `get_alias_from_config` over the alias values (in merged order).
pub fn parse_aliases(values: &[String], pci_in_placement: bool) -> Result<Aliases, AliasError> {
    let mut out = Aliases::default();
    for (i, t) in values.iter().enumerate() {
        let fail = |error| AliasError {
            index: Some(i),
            error,
        };
        let (name, numa, spec) = parse_one(t, i).map_err(fail)?;
        match out.aliases.iter_mut().find(|a| a.name == name) {
            None => out.aliases.push(Alias {
                name,
                numa_policy: numa,
                specs: vec![spec],
            }),
            Some(a) => {
                if a.numa_policy != numa {
                    return Err(fail(NovaError::invalid_alias(format!(
                        "NUMA policy mismatch for alias '{name}'"
                    ))));
                }
                let first = a.specs[0].get("dev_type");
                let new = spec.get("dev_type");
                match (first, new) {
                    (Some(f), Some(n)) if f == n => {}
                    (Some(_), Some(_)) => {
                        return Err(fail(NovaError::invalid_alias(format!(
                            "Device type mismatch for alias '{name}'"
                        ))))
                    }
                    // nova indexes spec['dev_type'] and gets a KeyError.
                    _ => return Err(fail(NovaError::invalid_alias("'dev_type'"))),
                }
                a.specs.push(spec);
            }
        }
    }
    if pci_in_placement {
        let multi: Vec<&str> = out
            .aliases
            .iter()
            .filter(|a| a.specs.len() > 1)
            .map(|a| a.name.as_str())
            .collect();
        if !multi.is_empty() {
            return Err(AliasError {
                index: None,
                error: NovaError::invalid_alias_message(format!(
                    "The PCI alias(es) {} have multiple specs but [filter_scheduler]pci_in_placement is True. The PCI in Placement feature only supports one spec per alias. You can assign the same resource_class to multiple [pci]device_spec matchers to allow using different devices for the same alias.",
                    multi.join(",")
                )),
            });
        }
    }
    let mut missing: Vec<&str> = out
        .aliases
        .iter()
        .filter(|a| {
            a.specs.iter().any(|s| {
                let ids = s.get("vendor_id").is_some() && s.get("product_id").is_some();
                let rc = pci_in_placement && s.get("resource_class").is_some();
                !ids && !rc
            })
        })
        .map(|a| a.name.as_str())
        .collect();
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        let tail = if pci_in_placement {
            " or resource_class field set."
        } else {
            "."
        };
        return Err(AliasError {
            index: None,
            error: NovaError::invalid_alias_message(format!(
                "The PCI alias(es) {} does not have vendor_id and product_id fields set{tail}",
                missing.join(",")
            )),
        });
    }
    Ok(out)
}

/// Checks each value on its own, for a report that lists every bad line (nova
/// stops at the first).
pub fn check_each(values: &[String]) -> Vec<(usize, NovaError)> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, t)| parse_one(t, i).err().map(|e| (i, e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(lines: &[&str], placement: bool) -> String {
        let v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        parse_aliases(&v, placement).unwrap_err().error.message
    }

    fn ok(lines: &[&str]) -> Aliases {
        let v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        parse_aliases(&v, false).unwrap()
    }

    #[test]
    fn seed_alias() {
        let a = ok(&[r#"{"name": "igbnic", "vendor_id": "8086", "product_id": "1520"}"#]);
        assert_eq!(a.aliases[0].name, "igbnic");
        assert_eq!(a.aliases[0].numa_policy, "legacy");
        assert_eq!(a.aliases[0].specs[0].get("product_id"), Some("1520"));
    }

    #[test]
    fn schema_messages() {
        assert_eq!(
            err(
                &[
                    r#"{"name": "a", "vendor_id": "8086", "product_id": "1520", "device_type": "vdpa"}"#
                ],
                false
            ),
            "Invalid PCI alias definition: 'vdpa' is not one of ['type-PCI', 'type-PF', 'type-VF']"
        );
        assert_eq!(
            err(&[r#"{"name": "a", "foo": 1, "product_id": "g111"}"#], false),
            "Invalid PCI alias definition: Additional properties are not allowed ('foo' was unexpected)"
        );
        assert_eq!(
            err(&[r#"[{"name": "a"}]"#], false),
            "Invalid PCI alias definition: [{'name': 'a'}] is not of type 'object'"
        );
        assert_eq!(
            err(
                &[r#"{"name": "a", "vendor_id": "0xg111", "product_id": "g111"}"#],
                false
            ),
            "Invalid PCI alias definition: '0xg111' does not match '^([\\\\da-fA-F]{4})$'"
        );
        assert_eq!(
            err(
                &[r#"{"name": "", "vendor_id": "8086", "product_id": "1520"}"#],
                false
            ),
            "Invalid PCI alias definition: '' should be non-empty"
        );
        assert_eq!(
            err(&[r#"{"vendor_id": "8086"}"#], false),
            "Invalid PCI alias definition: 'name' is a required property"
        );
        assert_eq!(
            err(&["{'name': 'a'}"], false),
            "Invalid PCI alias definition: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
        );
        assert_eq!(
            err(&[r#"{"name": "a", "numa_policy": "derp"}"#], false),
            "Invalid PCI alias definition: 'derp' is not one of ['required', 'legacy', 'preferred', 'socket']"
        );
        assert_eq!(
            err(&[r#"{"name": "a", "vendor_id": "8086", "product_id": "1520", "live_migratable": "invalid"}"#], false),
            "Invalid PCI alias definition: Unrecognized value 'invalid', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
        );
    }

    #[test]
    fn same_name_lines() {
        let a = ok(&[
            r#"{"name": "n", "vendor_id": "8086", "product_id": "1520", "device_type": "type-VF"}"#,
            r#"{"name": " n ", "vendor_id": "8086", "product_id": "10ed", "device_type": "type-VF"}"#,
        ]);
        assert_eq!(a.aliases.len(), 1);
        assert_eq!(a.aliases[0].specs.len(), 2);
        assert_eq!(
            err(
                &[
                    r#"{"name": "n", "vendor_id": "8086", "product_id": "1520"}"#,
                    r#"{"name": "n", "vendor_id": "8086", "product_id": "10ed"}"#,
                ],
                false
            ),
            "Invalid PCI alias definition: 'dev_type'"
        );
        assert_eq!(
            err(
                &[
                    r#"{"name": "n", "vendor_id": "8086", "product_id": "1520", "device_type": "type-VF"}"#,
                    r#"{"name": "n", "vendor_id": "8086", "product_id": "10ed", "device_type": "type-PF"}"#,
                ],
                false
            ),
            "Invalid PCI alias definition: Device type mismatch for alias 'n'"
        );
        assert_eq!(
            err(
                &[
                    r#"{"name": "n", "vendor_id": "8086", "product_id": "1520", "numa_policy": "required"}"#,
                    r#"{"name": "n", "vendor_id": "8086", "product_id": "10ed"}"#,
                ],
                false
            ),
            "Invalid PCI alias definition: NUMA policy mismatch for alias 'n'"
        );
        assert!(err(&[
            r#"{"name": "n", "vendor_id": "8086", "product_id": "1520", "device_type": "type-VF"}"#,
            r#"{"name": "n", "vendor_id": "8086", "product_id": "10ed", "device_type": "type-VF"}"#,
        ], true).starts_with("The PCI alias(es) n have multiple specs"));
    }

    #[test]
    fn missing_ids() {
        assert_eq!(
            err(
                &[r#"{"name": "b"}"#, r#"{"name": "a", "vendor_id": "8086"}"#],
                false
            ),
            "The PCI alias(es) a,b does not have vendor_id and product_id fields set."
        );
        assert_eq!(
            err(&[r#"{"name": "b"}"#], true),
            "The PCI alias(es) b does not have vendor_id and product_id fields set or resource_class field set."
        );
        let v = vec![r#"{"name": "r", "resource_class": "CUSTOM_X"}"#.to_string()];
        assert!(parse_aliases(&v, true).is_ok());
    }

    #[test]
    fn trailing_newline_passes_the_id_pattern() {
        ok(&["{\"name\": \"a\", \"vendor_id\": \"8086\\n\", \"product_id\": \"1520\"}"]);
    }
}
