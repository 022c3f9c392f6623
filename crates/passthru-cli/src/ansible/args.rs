//! A module's arguments: the JSON object of Ansible's argument file, read with the
//! types Ansible does not coerce (an ad-hoc `-a "vfs=4"` sends the string `"4"`, a
//! playbook's `vfs: 4` the number 4; both mean 4).

use serde_json::{Map, Value};
use std::path::Path;

/// A bad argument: the module fails with this as its `msg`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ArgError(pub String);

/// The parsed argument file.
#[derive(Debug)]
pub struct Args {
    module: String,
    map: Map<String, Value>,
    /// `_ansible_check_mode`: change nothing, report what would change.
    pub check_mode: bool,
    /// `_ansible_diff`: return `diff`.
    pub diff: bool,
}

/// Whether a key is one of Ansible's own (`_ansible_check_mode`...), not an option.
fn internal(key: &str) -> bool {
    key.starts_with("_ansible_")
}

impl Args {
    /// Reads the argument file Ansible wrote.
    pub fn read(module: &str, path: &Path) -> Result<Args, ArgError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ArgError(format!(
                "cannot read the argument file {}: {e}",
                path.display()
            ))
        })?;
        Args::parse(module, &text, path)
    }

    /// Parses the argument file's text.
    pub fn parse(module: &str, text: &str, path: &Path) -> Result<Args, ArgError> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            ArgError(format!(
                "the argument file {} is not JSON (line {}, column {}: {e}); {module} is run by Ansible, which writes one JSON object",
                path.display(),
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(map) = v else {
            return Err(ArgError(format!(
                "the argument file {} holds JSON that is not an object",
                path.display()
            )));
        };
        let mut a = Args {
            module: module.to_string(),
            map,
            check_mode: false,
            diff: false,
        };
        a.check_mode = a.bool_of("_ansible_check_mode")?.unwrap_or(false);
        a.diff = a.bool_of("_ansible_diff")?.unwrap_or(false);
        Ok(a)
    }

    /// Fails on any option the module does not have, naming those it has.
    pub fn only(&self, supported: &[&str]) -> Result<(), ArgError> {
        let unknown: Vec<&str> = self
            .map
            .keys()
            .map(String::as_str)
            .filter(|k| !internal(k) && !supported.contains(k))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let mut known = supported.to_vec();
        known.sort_unstable();
        Err(ArgError(format!(
            "Unsupported parameters for ({}) module: {}. Supported parameters include: {}.",
            self.module,
            unknown.join(", "),
            known.join(", ")
        )))
    }

    /// The options as given, without Ansible's own keys (for the journal).
    pub fn options(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.map.iter().filter(|(k, _)| !internal(k))
    }

    /// The raw value of an option (`null` counts as absent).
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn bad(&self, name: &str, want: &str, got: &Value) -> ArgError {
        ArgError(format!(
            "argument '{name}' is of type {} and we were unable to convert to {want}: {got}",
            type_name(got)
        ))
    }

    /// A string option; numbers and booleans are taken as their text.
    pub fn str(&self, name: &str) -> Result<Option<String>, ArgError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(v) => Err(self.bad(name, "str", v)),
        }
    }

    fn bool_of(&self, name: &str) -> Result<Option<bool>, ArgError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v @ Value::Number(n)) => match n.as_u64() {
                Some(1) => Ok(Some(true)),
                Some(0) => Ok(Some(false)),
                _ => Err(self.bad(name, "bool", v)),
            },
            // Ansible's own boolean words (module_utils.parsing.convert_bool).
            Some(v @ Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "yes" | "on" | "1" | "true" | "t" | "y" | "1.0" => Ok(Some(true)),
                "no" | "off" | "0" | "false" | "f" | "n" | "0.0" => Ok(Some(false)),
                _ => Err(self.bad(name, "bool", v)),
            },
            Some(v) => Err(self.bad(name, "bool", v)),
        }
    }

    /// A boolean option: `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`, as Ansible reads them.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ArgError> {
        self.bool_of(name)
    }

    /// A non-negative integer option: a number, or a string of digits.
    pub fn u32(&self, name: &str) -> Result<Option<u32>, ArgError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => n
                .as_u64()
                .and_then(|x| u32::try_from(x).ok())
                .map(Some)
                .ok_or_else(|| self.bad(name, "a non-negative int", v)),
            Some(v @ Value::String(s)) => s
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|_| self.bad(name, "a non-negative int", v)),
            Some(v) => Err(self.bad(name, "a non-negative int", v)),
        }
    }

    /// A list of strings: a JSON list, or one comma-separated string (ad-hoc `-a`).
    pub fn list(&self, name: &str) -> Result<Vec<String>, ArgError> {
        match self.raw(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(_) | Value::Bool(_) => Ok(i.to_string()),
                    other => Err(self.bad(name, "a list of str", other)),
                })
                .collect(),
            Some(v) => Err(self.bad(name, "list", v)),
        }
    }

    /// An option that must be given.
    pub fn required<T>(&self, name: &str, v: Option<T>) -> Result<T, ArgError> {
        v.ok_or_else(|| ArgError(format!("missing required arguments: {name}")))
    }

    /// An option limited to some words.
    pub fn choice(&self, name: &str, choices: &[&str], default: &str) -> Result<String, ArgError> {
        let v = self.str(name)?.unwrap_or_else(|| default.to_string());
        if choices.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(ArgError(format!(
                "value of {name} must be one of: {}, got: {v}",
                choices.join(", ")
            )))
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Args {
        Args::parse("passthru_vfs", text, Path::new("args")).unwrap()
    }

    #[test]
    fn strings_from_ad_hoc_runs_read_like_yaml_numbers_and_booleans() {
        let yaml = args(r#"{"vfs": 4, "force": true, "_ansible_check_mode": true}"#);
        let adhoc = args(r#"{"vfs": "4", "force": "yes", "_ansible_check_mode": false}"#);
        assert_eq!(yaml.u32("vfs").unwrap(), Some(4));
        assert_eq!(adhoc.u32("vfs").unwrap(), Some(4));
        assert_eq!(yaml.bool("force").unwrap(), Some(true));
        assert_eq!(adhoc.bool("force").unwrap(), Some(true));
        assert!(yaml.check_mode && !adhoc.check_mode);
        assert!(args(r#"{"vfs": "four"}"#)
            .u32("vfs")
            .unwrap_err()
            .0
            .contains("'vfs' is of type str"));
        assert!(args(r#"{"vfs": -1}"#).u32("vfs").is_err());
        assert!(args(r#"{"force": "maybe"}"#).bool("force").is_err());
    }

    #[test]
    fn unknown_options_are_named_with_the_supported_ones() {
        let a = args(r#"{"pf": "eno2", "vfz": 4, "_ansible_diff": true}"#);
        let e = a.only(&["pf", "vfs"]).unwrap_err().0;
        assert_eq!(
            e,
            "Unsupported parameters for (passthru_vfs) module: vfz. Supported parameters include: pf, vfs."
        );
        assert!(a.diff);
        assert!(args(r#"{"pf": "eno2"}"#).only(&["pf", "vfs"]).is_ok());
    }

    #[test]
    fn lists_come_as_lists_or_comma_separated_strings() {
        assert_eq!(
            args(r#"{"d": "07:10.0, 07:10.4"}"#).list("d").unwrap(),
            ["07:10.0", "07:10.4"]
        );
        assert_eq!(
            args(r#"{"d": ["07:10.0"]}"#).list("d").unwrap(),
            ["07:10.0"]
        );
        assert!(args(r#"{"d": {"a": 1}}"#).list("d").is_err());
    }

    #[test]
    fn a_broken_argument_file_is_one_clear_error() {
        let e = Args::parse("passthru_vfs", "{nope", Path::new("/tmp/x/args")).unwrap_err();
        assert!(e.0.contains("/tmp/x/args is not JSON (line 1"), "{e}");
    }
}
