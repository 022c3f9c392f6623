//! `[pci] device_spec`: nova's `Whitelist` and `PciDeviceSpec` parsing.
//!
//! Each option value is `json.loads`-ed; a dict is one spec, a list is several, and
//! anything else is rejected. Inside a spec, `vendor_id`, `product_id`, `address`
//! and `devname` are matchers and every other key is a tag. The checks run in
//! nova's order, so the same first error is reported.

use super::address::{hex_field, WhitelistAddress};
use super::error::NovaError;
use super::py::{self, PyValue};
use super::sysfs::SysfsView;
use super::tags;

/// What parsing depends on besides the text.
#[derive(Clone, Copy, Debug)]
pub struct SpecContext<'a> {
    /// The sysfs files nova reads (PF detection, devname, remote_managed checks).
    pub sysfs: &'a SysfsView,
    /// `[pci] report_in_placement` (needed by `one_time_use=true`).
    pub report_in_placement: bool,
}

/// One parsed `device_spec` entry (nova's `PciDeviceSpec`).
#[derive(Clone, Debug)]
pub struct DeviceSpec {
    /// The spec as written (a JSON object).
    pub raw: PyValue,
    /// `*` or 4+ lowercase hex digits (a negative value keeps its sign and never
    /// matches).
    pub vendor_id: String,
    /// `*` or normalised hex, like `vendor_id`.
    pub product_id: String,
    /// The interface name, when the spec selects by `devname` (Python `str()` of a
    /// non-string value).
    pub devname: Option<String>,
    /// The address matcher. `None` for a `devname` that does not exist (the spec
    /// then matches nothing).
    pub address: Option<WhitelistAddress>,
    /// Tags in the order written, after normalisation.
    pub tags: Vec<(String, PyValue)>,
    /// `remote_managed` read loosely.
    pub remote_managed: bool,
}

fn attribute_error(v: &PyValue, attr: &str) -> NovaError {
    NovaError::new(
        "AttributeError",
        format!("'{}' object has no attribute '{attr}'", v.type_name()),
    )
}

impl DeviceSpec {
    /// nova's `PciDeviceSpec(dict)`.
    pub fn parse(spec: &PyValue, ctx: SpecContext) -> Result<DeviceSpec, NovaError> {
        let PyValue::Dict(items) = spec else {
            return Err(NovaError::invalid_spec(format!(
                "Invalid entry: '{}'; Expecting dict",
                spec.to_py_str()
            )));
        };
        let mut tags: Vec<(String, PyValue)> = items.clone();
        let mut pop = |k: &str| {
            let i = tags.iter().position(|(key, _)| key == k)?;
            Some(tags.remove(i).1)
        };
        let vendor = pop("vendor_id").unwrap_or(PyValue::Str("*".into()));
        let product = pop("product_id").unwrap_or(PyValue::Str("*".into()));
        let devname = pop("devname");
        let address = pop("address");

        let vendor_raw = match &vendor {
            PyValue::Str(s) => py::text::strip(s).to_string(),
            other => return Err(attribute_error(other, "strip")),
        };
        let vendor_id = hex_field("vendor_id", &vendor_raw, 0xffff, 4)?;
        let product_id = match &product {
            PyValue::Str(s) => hex_field("product_id", s, 0xffff, 4)?,
            _ => {
                return Err(NovaError::new(
                    "TypeError",
                    "int() can't convert non-string with explicit base",
                ))
            }
        };

        let has_address = address.as_ref().is_some_and(PyValue::truthy);
        let devname_set = devname.as_ref().is_some_and(PyValue::truthy);
        if has_address && devname_set {
            return Err(NovaError::devname_and_address());
        }

        let (address, devname) = if devname_set {
            let name = devname.as_ref().map(PyValue::to_py_str).unwrap_or_default();
            let addr = match ctx.sysfs.function_by_ifname(&name) {
                Some((a, pf)) => Some(WhitelistAddress::from_devname(&a, pf, ctx.sysfs)?),
                None => None,
            };
            (addr, Some(name))
        } else {
            let value = match address {
                Some(v) if v.truthy() => v,
                _ => PyValue::Str("*:*:*.*".into()),
            };
            (
                Some(WhitelistAddress::from_config(&value, ctx.sysfs)?),
                None,
            )
        };

        let remote_managed = tags::loose_bool(tags::get(&tags, tags::REMOTE_MANAGED));
        for t in tags::STRICT_BOOL_TAGS {
            tags::normalize_strict(&mut tags, t)?;
        }
        if tags::get(&tags, "one_time_use") == Some(&PyValue::Str("true".into()))
            && !ctx.report_in_placement
        {
            return Err(NovaError::invalid_spec(
                "one_time_use=true requires pci.report_in_placement to be enabled",
            ));
        }

        let spec = DeviceSpec {
            raw: spec.clone(),
            vendor_id,
            product_id,
            devname,
            address,
            tags,
            remote_managed,
        };
        if spec.remote_managed {
            spec.check_remote_managed(ctx.sysfs)?;
        }
        Ok(spec)
    }

    /// The remote_managed checks nova runs when the spec's address is a PF.
    fn check_remote_managed(&self, sysfs: &SysfsView) -> Result<(), NovaError> {
        let Some(addr) = &self.address else {
            return Err(NovaError::remote_managed_not_present());
        };
        if !addr.is_physical_function {
            return Ok(());
        }
        let pf_addr = addr.spec.py_str();
        let sysfs_err = |e: Option<String>| match e {
            None => NovaError::not_found_by_id(&pf_addr),
            Some(msg) => NovaError::new("ValueError", msg),
        };
        let vf_product = sysfs
            .vf_product_id_by_pf_addr(&pf_addr)
            .map_err(sysfs_err)?;
        let (pf_vendor, pf_product) = sysfs.pci_ids_by_pci_addr(&pf_addr).map_err(sysfs_err)?;
        let vendor_ok = self.vendor_id == "*" || self.vendor_id == pf_vendor;
        if self.product_id == vf_product && vendor_ok {
            Ok(())
        } else if (self.product_id == pf_product || self.product_id == "*") && vendor_ok {
            Err(NovaError::pf_remote_managed(pf_addr))
        } else {
            Err(NovaError::invalid_spec(format!(
                "the specified VF vendor ID {} and product ID {} do not match the expected VF IDs based on the corresponding PF identified by PCI address {}",
                self.vendor_id, self.product_id, pf_addr
            )))
        }
    }

    /// The tags nova copies into pools (all but `resource_class` and `traits`).
    pub fn pool_tags(&self) -> impl Iterator<Item = &(String, PyValue)> {
        self.tags
            .iter()
            .filter(|(k, _)| !tags::PLACEMENT_ONLY.contains(&k.as_str()))
    }

    /// A tag's value.
    pub fn tag(&self, key: &str) -> Option<&PyValue> {
        tags::get(&self.tags, key)
    }
}

/// One `device_spec` option value after parsing.
#[derive(Clone, Debug)]
pub struct SpecValue {
    /// The option value as nova received it (after oslo.config).
    pub text: String,
    /// Its specs, or nova's error for it.
    pub result: Result<Vec<DeviceSpec>, NovaError>,
}

/// nova's `Whitelist._parse_white_list_from_config` on one value.
pub fn parse_value(text: &str, ctx: SpecContext) -> Result<Vec<DeviceSpec>, NovaError> {
    let v = py::loads(text).map_err(|e| match e.exception {
        // nova catches ValueError (JSONDecodeError is one) but not RecursionError.
        "RecursionError" => NovaError::new(e.exception, e.to_string()),
        _ => NovaError::invalid_spec(format!("Invalid entry: '{text}'")),
    })?;
    let items = match v {
        PyValue::Dict(_) => vec![v],
        PyValue::List(items) => items,
        _ => {
            return Err(NovaError::invalid_spec(format!(
                "Invalid entry: '{text}'; Expecting list or dict"
            )))
        }
    };
    items.iter().map(|ds| DeviceSpec::parse(ds, ctx)).collect()
}

/// Every value of `device_spec` parsed on its own, in nova's merged order. nova
/// itself stops at the first bad value ([`first_error`]); keeping all of them lets
/// a report show every problem at once.
pub fn parse_values(values: &[String], ctx: SpecContext) -> Vec<SpecValue> {
    values
        .iter()
        .map(|t| SpecValue {
            text: t.clone(),
            result: parse_value(t, ctx),
        })
        .collect()
}

/// The error nova raises for the whole option (the first bad value), with its
/// value index.
pub fn first_error(values: &[SpecValue]) -> Option<(usize, &NovaError)> {
    values
        .iter()
        .enumerate()
        .find_map(|(i, v)| v.result.as_ref().err().map(|e| (i, e)))
}
