//! The `address` of a `device_spec`, as nova's `devspec` module parses and matches
//! it: a glob string (fields filled from the right, whole-field `*` only, lenient
//! hex, range limits), a dict of regexes (compiled by Python's `re`, matched
//! with `re.match`: anchored at the start only), or a full address from a
//! `devname`; plus the PF rule (a single address that is a PF in sysfs also
//! selects its VFs).

use super::error::NovaError;
use super::py::{text, PyRegex, PyValue};
use super::sysfs::SysfsView;
use serde::Serialize;

const ANY: &str = "*";
const REGEX_ANY: &str = ".*";

/// nova's `_set_pci_dev_info`: `*` stays; anything else goes through
/// `int(value, 16)`, is checked against `max` and re-printed `%0<width>x`.
pub(crate) fn hex_field(
    prop: &str,
    raw: &str,
    max: u64,
    width: usize,
) -> Result<String, NovaError> {
    if raw == ANY {
        return Ok(ANY.to_string());
    }
    // Fast path for plain hex (what libvirt's addresses always are); same result.
    if !raw.is_empty() && raw.len() <= 12 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        let v = u64::from_str_radix(raw, 16).unwrap_or(u64::MAX);
        if v > max {
            return Err(NovaError::invalid_spec(format!(
                "property {prop} ({raw}) is greater than the maximum allowable value ({max:X})."
            )));
        }
        return Ok(format!("{v:0width$x}"));
    }
    let v = text::parse_int(raw, 16).ok_or_else(|| {
        NovaError::invalid_spec(format!(
            "property {prop} ('{raw}') does not parse as a hex number."
        ))
    })?;
    if v.hex_greater_than(max) {
        return Err(NovaError::invalid_spec(format!(
            "property {prop} ({raw}) is greater than the maximum allowable value ({max:X})."
        )));
    }
    Ok(v.format_hex(width))
}

/// Four address fields as strings, the way nova keeps them (`*`, normalised hex,
/// or raw regex text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fields {
    /// Domain.
    pub domain: String,
    /// Bus.
    pub bus: String,
    /// Slot (device).
    pub slot: String,
    /// Function.
    pub func: String,
}

impl Fields {
    fn all(&self) -> [&str; 4] {
        [&self.domain, &self.bus, &self.slot, &self.func]
    }

    /// nova's `is_single_address`: every character of every field is a hex digit
    /// (an empty field counts as hex).
    pub fn is_single(&self) -> bool {
        self.all()
            .iter()
            .all(|f| f.chars().all(|c| c.is_ascii_hexdigit()))
    }
}

impl std::fmt::Display for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}.{}",
            self.domain, self.bus, self.slot, self.func
        )
    }
}

/// nova's `PhysicalPciAddress` from a `d:b:s.f` string (a device's address, its
/// `parent_addr`, or the address a `devname` resolves to).
pub fn physical_address(addr: &str) -> Result<Fields, NovaError> {
    let (dbs, func) = match addr.split_once('.') {
        Some((d, f)) => (d, f),
        None => (addr, ""),
    };
    let parts: Vec<&str> = dbs.split(':').collect();
    let [d, b, s] = parts.as_slice() else {
        return Err(NovaError::wrong_address(addr));
    };
    Ok(Fields {
        func: hex_field("func", func, 7, 1)?,
        domain: hex_field("domain", d, 0xffff, 4)?,
        bus: hex_field("bus", b, 0xff, 2)?,
        slot: hex_field("slot", s, 0x1f, 2)?,
    })
}

/// A compiled regex field.
#[derive(Clone, Debug)]
pub struct RegexField {
    /// The pattern text.
    pub pattern: String,
    regex: PyRegex,
    /// Precomputed answers for the common normalised values (`00`..`ff` style, at
    /// the field's width): matching then costs a lookup, as device fields repeat.
    table: Vec<bool>,
    width: usize,
}

impl RegexField {
    fn new(pattern: String, regex: PyRegex, width: usize, values: u32) -> Self {
        let table = (0..values)
            .map(|v| regex.is_match_start(&format!("{v:0width$x}")))
            .collect();
        RegexField {
            pattern,
            regex,
            table,
            width,
        }
    }

    /// `re.match(pattern, field)`.
    fn matches(&self, field: &str) -> bool {
        if field.len() == self.width
            && field
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            if let Some(hit) = u32::from_str_radix(field, 16)
                .ok()
                .and_then(|v| self.table.get(v as usize))
            {
                return *hit;
            }
        }
        self.regex.is_match_start(field)
    }
}

/// How a spec's address is written.
#[derive(Clone, Debug)]
pub enum AddressSpec {
    /// A glob string, normalised (`*` or hex per field).
    Glob(Fields),
    /// A dict of regexes (missing keys are `.*`).
    Regex {
        /// The raw strings (used as-is for the sysfs PF lookup).
        raw: Fields,
        /// Compiled domain, bus, slot, function.
        regexes: Box<[RegexField; 4]>,
    },
    /// A full address (from a `devname` that is a PF).
    Physical(Fields),
}

impl AddressSpec {
    /// Parses a glob string (nova's `PciAddressGlobSpec`).
    pub fn glob(addr: &str) -> Result<AddressSpec, NovaError> {
        let mut f = Fields {
            domain: ANY.into(),
            bus: ANY.into(),
            slot: ANY.into(),
            func: ANY.into(),
        };
        let (dbs, func) = match addr.split_once('.') {
            Some((d, f)) => (d, f),
            None => (addr, ""),
        };
        if !func.is_empty() {
            f.func = hex_field("func", text::strip(func), 7, 1)?;
        }
        if !dbs.is_empty() {
            let fields: Vec<&str> = dbs.split(':').collect();
            if fields.len() > 3 {
                return Err(NovaError::wrong_address(addr));
            }
            // Missing fields are the leftmost ones.
            let mut all: Vec<&str> = vec![ANY; 3 - fields.len()];
            all.extend(fields);
            let checked: Vec<&str> = all
                .iter()
                .map(|s| {
                    let t = text::strip(s);
                    if t.is_empty() {
                        ANY
                    } else {
                        t
                    }
                })
                .collect();
            f.domain = hex_field("domain", checked[0], 0xffff, 4)?;
            f.bus = hex_field("bus", checked[1], 0xff, 2)?;
            f.slot = hex_field("slot", checked[2], 0x1f, 2)?;
        }
        Ok(AddressSpec::Glob(f))
    }

    /// Parses a regex dict (nova's `PciAddressRegexSpec`).
    pub fn regex(dict: &PyValue) -> Result<AddressSpec, NovaError> {
        let get = |k: &str| {
            dict.get(k)
                .cloned()
                .unwrap_or(PyValue::Str(REGEX_ANY.into()))
        };
        let vals = [get("domain"), get("bus"), get("slot"), get("function")];
        let mut compiled = Vec::with_capacity(4);
        // (width, values precomputed) for domain, bus, slot, function.
        let shapes = [(4usize, 0x100u32), (2, 0x100), (2, 0x20), (1, 8)];
        for (v, (width, values)) in vals.iter().zip(shapes) {
            let pattern = match v {
                PyValue::Str(s) => s.clone(),
                PyValue::List(_) | PyValue::Dict(_) => {
                    return Err(NovaError::new(
                        "TypeError",
                        format!("unhashable type: '{}'", v.type_name()),
                    ))
                }
                _ => {
                    return Err(NovaError::new(
                        "TypeError",
                        "first argument must be string or compiled pattern",
                    ))
                }
            };
            let regex = PyRegex::compile(&pattern).map_err(|e| match e.crash {
                Some(exc) => NovaError::new(exc, e.message),
                None => NovaError::wrong_address(dict.to_py_str()),
            })?;
            compiled.push(RegexField::new(pattern, regex, width, values));
        }
        let raw = Fields {
            domain: compiled[0].pattern.clone(),
            bus: compiled[1].pattern.clone(),
            slot: compiled[2].pattern.clone(),
            func: compiled[3].pattern.clone(),
        };
        let arr: [RegexField; 4] = compiled
            .try_into()
            .map_err(|_| NovaError::wrong_address(dict.to_py_str()))?;
        Ok(AddressSpec::Regex {
            raw,
            regexes: Box::new(arr),
        })
    }

    /// The fields as nova keeps them.
    pub fn fields(&self) -> &Fields {
        match self {
            AddressSpec::Glob(f) | AddressSpec::Physical(f) => f,
            AddressSpec::Regex { raw, .. } => raw,
        }
    }

    /// Whether a (normalised) device address matches.
    pub fn matches(&self, dev: &Fields) -> bool {
        match self {
            AddressSpec::Glob(f) => f
                .all()
                .iter()
                .zip(dev.all())
                .all(|(s, d)| *s == ANY || *s == d),
            AddressSpec::Physical(f) => f.all() == dev.all(),
            AddressSpec::Regex { regexes, .. } => {
                regexes.iter().zip(dev.all()).all(|(r, d)| r.matches(d))
            }
        }
    }

    /// `glob`, `regex` or `physical`.
    pub fn kind(&self) -> &'static str {
        match self {
            AddressSpec::Glob(_) => "glob",
            AddressSpec::Regex { .. } => "regex",
            AddressSpec::Physical(_) => "physical",
        }
    }

    /// Python's `str()` of nova's address-spec object: only the physical form has a
    /// `__str__`; the others print as a default object repr (nova 34 uses that as a
    /// sysfs path in the remote_managed PF check).
    pub fn py_str(&self) -> String {
        match self {
            AddressSpec::Physical(f) => f.to_string(),
            AddressSpec::Glob(_) => "<nova.pci.devspec.PciAddressGlobSpec object at 0x...>".into(),
            AddressSpec::Regex { .. } => {
                "<nova.pci.devspec.PciAddressRegexSpec object at 0x...>".into()
            }
        }
    }
}

/// nova's `WhitelistPciAddress`: an address spec and whether it is in PF mode.
#[derive(Clone, Debug)]
pub struct WhitelistAddress {
    /// The address spec.
    pub spec: AddressSpec,
    /// PF mode: a single address that sysfs says is a PF; it then also matches
    /// devices whose `parent_addr` is that address.
    pub is_physical_function: bool,
}

impl WhitelistAddress {
    /// From a spec's `address` value (a truthy string or dict; anything else is a
    /// format error).
    pub fn from_config(value: &PyValue, sysfs: &SysfsView) -> Result<Self, NovaError> {
        let spec = match value {
            PyValue::Str(s) => AddressSpec::glob(s)?,
            PyValue::Dict(_) => AddressSpec::regex(value)?,
            other => return Err(NovaError::wrong_address(other.to_py_str())),
        };
        Ok(Self::checked(spec, sysfs))
    }

    /// From the address a `devname` resolves to.
    pub fn from_devname(addr: &str, pf: bool, sysfs: &SysfsView) -> Result<Self, NovaError> {
        if pf {
            return Ok(WhitelistAddress {
                spec: AddressSpec::Physical(physical_address(addr)?),
                is_physical_function: true,
            });
        }
        Ok(Self::checked(AddressSpec::glob(addr)?, sysfs))
    }

    fn checked(spec: AddressSpec, sysfs: &SysfsView) -> Self {
        let f = spec.fields();
        let pf = f.is_single() && sysfs.is_physical_function(&f.domain, &f.bus, &f.slot, &f.func);
        WhitelistAddress {
            spec,
            is_physical_function: pf,
        }
    }

    /// nova's `WhitelistPciAddress.match(address, parent_addr)`.
    pub fn matches(&self, address: &str, parent_addr: Option<&str>) -> Result<bool, NovaError> {
        self.matches_device(&DeviceAddress::new(address, parent_addr))
    }

    /// The same, with the device's addresses parsed once for all specs.
    pub fn matches_device(&self, dev: &DeviceAddress) -> Result<bool, NovaError> {
        if self.is_physical_function {
            if let Some(parent) = dev.parent()? {
                if self.spec.matches(parent) {
                    return Ok(true);
                }
            }
        }
        Ok(self.spec.matches(dev.address()?))
    }
}

/// A device's `address` and `parent_addr`, parsed by nova's rules on first use.
/// nova re-parses them for every spec; parsing is pure, so once is the same.
#[derive(Debug)]
pub struct DeviceAddress<'a> {
    address: &'a str,
    parent: Option<&'a str>,
    parsed: std::cell::OnceCell<Result<Fields, NovaError>>,
    parsed_parent: std::cell::OnceCell<Result<Fields, NovaError>>,
}

impl<'a> DeviceAddress<'a> {
    /// A device's address and its (possibly absent or empty) `parent_addr`.
    pub fn new(address: &'a str, parent: Option<&'a str>) -> Self {
        DeviceAddress {
            address,
            parent: parent.filter(|p| !p.is_empty()),
            parsed: std::cell::OnceCell::new(),
            parsed_parent: std::cell::OnceCell::new(),
        }
    }

    fn address(&self) -> Result<&Fields, NovaError> {
        self.parsed
            .get_or_init(|| physical_address(self.address))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn parent(&self) -> Result<Option<&Fields>, NovaError> {
        let Some(p) = self.parent else {
            return Ok(None);
        };
        self.parsed_parent
            .get_or_init(|| physical_address(p))
            .as_ref()
            .map(Some)
            .map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob_msg(s: &str) -> String {
        AddressSpec::glob(s).unwrap_err().message
    }

    fn glob(s: &str) -> String {
        AddressSpec::glob(s).unwrap().fields().to_string()
    }

    #[test]
    fn glob_fields_fill_from_the_right() {
        assert_eq!(glob("0a:00.1"), "*:0a:00.1");
        assert_eq!(glob("00.1"), "*:*:00.1");
        assert_eq!(glob("1f"), "*:*:1f.*");
        assert_eq!(glob("0a:"), "*:0a:*.*");
        assert_eq!(glob(":0a:00."), "*:0a:00.*");
        assert_eq!(glob(".5"), "*:*:*.5");
        assert_eq!(glob("*: *: *.6"), "*:*:*.6");
        assert_eq!(glob("0:a:0.1"), "0000:0a:00.1");
        assert_eq!(glob("0X0:0xA:0_0.1"), "0000:0a:00.1");
    }

    #[test]
    fn glob_errors_are_novas() {
        assert_eq!(
            glob_msg("0000:0a:00:1"),
            "The PCI address 0000:0a:00:1 has an incorrect format."
        );
        assert_eq!(
            glob_msg("0000:h4.12:6"),
            "Invalid [pci]device_spec config: property func ('12:6') does not parse as a hex number."
        );
        assert_eq!(
            glob_msg("x. "),
            "Invalid [pci]device_spec config: property func ('') does not parse as a hex number."
        );
        assert_eq!(
            glob_msg("0:100:0.0"),
            "Invalid [pci]device_spec config: property bus (100) is greater than the maximum allowable value (FF)."
        );
        assert_eq!(
            glob_msg("0:0:20.0"),
            "Invalid [pci]device_spec config: property slot (20) is greater than the maximum allowable value (1F)."
        );
        assert_eq!(
            glob_msg("10000:0:0.0"),
            "Invalid [pci]device_spec config: property domain (10000) is greater than the maximum allowable value (FFFF)."
        );
        assert_eq!(
            glob_msg("0*:00.0"),
            "Invalid [pci]device_spec config: property bus ('0*') does not parse as a hex number."
        );
        assert_eq!(
            glob_msg("00.0-3"),
            "Invalid [pci]device_spec config: property func ('0-3') does not parse as a hex number."
        );
        // Function is checked before domain, bus, slot.
        assert!(glob_msg("zz:00.9").contains("property func (9)"));
    }

    #[test]
    fn regex_is_anchored_at_start_only() {
        let d = crate::nova::py::loads(r#"{"bus": "0", "function": "[0-2]"}"#).unwrap();
        let r = AddressSpec::regex(&d).unwrap();
        let dev = |s| physical_address(s).unwrap();
        assert!(r.matches(&dev("0000:07:00.1")));
        assert!(r.matches(&dev("0000:0a:00.2")));
        assert!(!r.matches(&dev("0000:10:00.1")));
        assert!(!r.matches(&dev("0000:07:00.3")));
        let up = crate::nova::py::loads(r#"{"bus": "0A"}"#).unwrap();
        assert!(!AddressSpec::regex(&up)
            .unwrap()
            .matches(&dev("0000:0a:00.0")));
        for bad in [r#"{"bus": "*"}"#, r#"{"bus": "[6[-7]"}"#] {
            let v = crate::nova::py::loads(bad).unwrap();
            assert_eq!(
                AddressSpec::regex(&v).unwrap_err().exception,
                "PciDeviceWrongAddressFormat"
            );
        }
        let v = crate::nova::py::loads(r#"{"bus": 7}"#).unwrap();
        assert_eq!(AddressSpec::regex(&v).unwrap_err().exception, "TypeError");
    }

    #[test]
    fn device_address_parse() {
        assert_eq!(
            physical_address("10000:01:00.0").unwrap_err().message,
            "Invalid [pci]device_spec config: property domain (10000) is greater than the maximum allowable value (FFFF)."
        );
        assert_eq!(
            physical_address("07:00.0").unwrap_err().exception,
            "PciDeviceWrongAddressFormat"
        );
        assert_eq!(
            physical_address("0:7:0.1").unwrap().to_string(),
            "0000:07:00.1"
        );
    }
}
