//! A MINIMAL stand-in for nova's device_spec matching, used only to decide which
//! devices doctor treats as "meant for passthrough" and whether a spec matches
//! anything. It knows `vendor_id`, `product_id` (with `*`), `address` as a glob string
//! or a dict of regexes, `devname`, and that a spec naming a PF's full address or
//! devname also selects its VFs.
//!
//! TO BE REPLACED by `crate::nova` (nova 34's exact rules) once that lands on main.

use crate::host::model::{Host, PciDevice};
use serde_json::Value;

/// One parsed spec entry (a line may hold a list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MiniSpec {
    /// `vendor_id`, lower-case, `*` or absent for any.
    pub vendor: Option<String>,
    /// `product_id`.
    pub product: Option<String>,
    /// `address` string glob.
    pub address_glob: Option<String>,
    /// `address` dict of regexes: domain, bus, slot, function.
    pub address_regex: Option<[Option<String>; 4]>,
    /// `devname`.
    pub devname: Option<String>,
}

/// Parses one device_spec value (an object or a list of objects). `None` when the
/// text is not JSON of that shape.
pub fn parse_value(text: &str) -> Option<Vec<MiniSpec>> {
    let v: Value = serde_json::from_str(text).ok()?;
    let items = match v {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => return None,
    };
    items
        .iter()
        .map(|o| {
            let o = o.as_object()?;
            let s = |k: &str| {
                o.get(k)
                    .and_then(Value::as_str)
                    .map(|x| x.trim().to_ascii_lowercase())
            };
            let (address_glob, address_regex) = match o.get("address") {
                Some(Value::String(a)) => (Some(a.trim().to_ascii_lowercase()), None),
                Some(Value::Object(m)) => {
                    let g = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
                    (
                        None,
                        Some([g("domain"), g("bus"), g("slot"), g("function")]),
                    )
                }
                _ => (None, None),
            };
            Some(MiniSpec {
                vendor: s("vendor_id"),
                product: s("product_id"),
                address_glob,
                address_regex,
                devname: o.get("devname").and_then(Value::as_str).map(str::to_string),
            })
        })
        .collect()
}

fn id_matches(want: &Option<String>, have: u16) -> bool {
    match want.as_deref() {
        None | Some("*") | Some("") => true,
        Some(w) => u16::from_str_radix(w.trim_start_matches("0x"), 16).is_ok_and(|x| x == have),
    }
}

fn field_glob(want: &str, have: &str) -> bool {
    want.is_empty()
        || want == "*"
        || u32::from_str_radix(want, 16)
            .ok()
            .zip(u32::from_str_radix(have, 16).ok())
            .is_some_and(|(a, b)| a == b)
}

/// `[[[[domain]:]bus]:][slot][.[function]]`, fields filled from the right.
fn glob_matches(glob: &str, d: &PciDevice) -> bool {
    let a = d.address;
    let (left, func) = match glob.split_once('.') {
        Some((l, f)) => (l, f),
        None => (glob, "*"),
    };
    let parts: Vec<&str> = left.split(':').collect();
    let (dom, bus, slot) = match parts.as_slice() {
        [s] => ("*", "*", *s),
        [b, s] => ("*", *b, *s),
        [dm, b, s] => (*dm, *b, *s),
        _ => return false,
    };
    field_glob(dom, &format!("{:x}", a.domain))
        && field_glob(bus, &format!("{:x}", a.bus))
        && field_glob(slot, &format!("{:x}", a.slot))
        && field_glob(func, &format!("{:x}", a.function))
}

fn regex_matches(r: &[Option<String>; 4], d: &PciDevice) -> bool {
    let a = d.address;
    let have = [
        format!("{:04x}", a.domain),
        format!("{:02x}", a.bus),
        format!("{:02x}", a.slot),
        format!("{:x}", a.function),
    ];
    r.iter().zip(have.iter()).all(|(want, have)| match want {
        None => true,
        Some(w) => regex::Regex::new(&format!("^(?:{w})")).is_ok_and(|re| re.is_match(have)),
    })
}

/// Whether the spec's address/devname part names this device (or its PF, for the
/// PF rule).
fn place_matches(spec: &MiniSpec, host: &Host, d: &PciDevice) -> bool {
    let direct = |x: &PciDevice| {
        spec.address_glob
            .as_deref()
            .is_none_or(|g| glob_matches(g, x))
            && spec
                .address_regex
                .as_ref()
                .is_none_or(|r| regex_matches(r, x))
            && spec
                .devname
                .as_deref()
                .is_none_or(|n| x.netdevs.iter().any(|m| m == n))
    };
    if direct(d) {
        return true;
    }
    // A spec naming a PF (one full address or its devname) also selects its VFs.
    let names_one = spec.devname.is_some()
        || spec
            .address_glob
            .as_deref()
            .is_some_and(|g| !g.contains('*') && g.contains('.'));
    names_one && d.physfn.and_then(|pf| host.device(&pf)).is_some_and(direct)
}

/// Whether a spec matches a device.
pub fn matches(spec: &MiniSpec, host: &Host, d: &PciDevice) -> bool {
    id_matches(&spec.vendor, d.vendor_id.0)
        && id_matches(&spec.product, d.device_id.0)
        && place_matches(spec, host, d)
}

/// Devices matched by any device_spec line of the host's nova.conf (bridges never).
pub fn matched_devices(host: &Host) -> Vec<&PciDevice> {
    let Some(nova) = &host.system.nova else {
        return Vec::new();
    };
    let specs: Vec<MiniSpec> = nova
        .device_specs
        .iter()
        .filter_map(|v| parse_value(&v.value))
        .flatten()
        .collect();
    host.devices
        .iter()
        .filter(|d| !d.is_bridge())
        .filter(|d| specs.iter().any(|s| matches(s, host, d)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::PciAddress;

    #[test]
    fn vendor_product_address_and_pf_rule() {
        let mut pf = PciDevice::new(
            PciAddress::parse("06:00.3").unwrap(),
            0x8086,
            0x1521,
            0x020000,
        );
        pf.netdevs = vec!["eno4".into()];
        let mut vf = PciDevice::new(
            PciAddress::parse("07:10.7").unwrap(),
            0x8086,
            0x1520,
            0x020000,
        );
        vf.physfn = Some(pf.address);
        let mut h = Host {
            devices: vec![pf, vf],
            ..Host::default()
        };
        h.normalize();
        let (pf, vf) = (&h.devices[0], &h.devices[1]);
        let s = &parse_value(r#"{"vendor_id": "8086", "product_id": "1520"}"#).unwrap()[0];
        assert!(matches(s, &h, vf) && !matches(s, &h, pf));
        let s = &parse_value(r#"{"address": "*:07:10.*"}"#).unwrap()[0];
        assert!(matches(s, &h, vf) && !matches(s, &h, pf));
        let s = &parse_value(r#"[{"devname": "eno4", "product_id": "1520"}]"#).unwrap()[0];
        assert!(matches(s, &h, vf), "devname of the PF selects its VFs");
        let s = &parse_value(r#"{"address": {"bus": "0[67]", "function": "[0-3]"}}"#).unwrap()[0];
        assert!(matches(s, &h, pf) && !matches(s, &h, vf));
        assert!(parse_value("{not json").is_none());
    }
}
