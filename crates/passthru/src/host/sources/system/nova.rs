//! `etc/nova/nova.conf`: the raw `device_spec` and `alias` values, read with the
//! oslo.config rules that decide what a value is (sections, `=` or `:` separator,
//! matching outer quotes stripped, indented continuation lines, repeated options).
//! What the values mean is the business of `crate::nova`.

use crate::host::root::Root;
use crate::host::system::{ConfValue, NovaConf};

/// Where nova.conf lives under the root.
pub const NOVA_CONF: &str = "etc/nova/nova.conf";

/// Reads nova.conf, `None` when absent.
pub fn read_nova_conf(root: &Root) -> Option<NovaConf> {
    let text = root.read_string(NOVA_CONF).ok()?;
    Some(parse_nova_conf(&text, NOVA_CONF))
}

/// One `(section, option, value, line)` per value in an oslo.config file.
pub fn parse_ini(text: &str) -> Vec<(String, String, String, usize)> {
    let mut out: Vec<(String, String, String, usize)> = Vec::new();
    let mut section = String::from("DEFAULT");
    let mut open = false;
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            open = false;
            continue;
        }
        if raw.starts_with(' ') || raw.starts_with('\t') {
            if open {
                if let Some(last) = out.last_mut() {
                    last.2.push('\n');
                    last.2.push_str(raw.trim());
                }
            }
            continue;
        }
        open = false;
        let t = raw.trim();
        if t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(s) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.trim().to_string();
            continue;
        }
        let cut = t.find(['=', ':']);
        let Some(cut) = cut else { continue };
        let key = t[..cut].trim().to_string();
        let mut value = t[cut + 1..].trim().to_string();
        let b = value.as_bytes();
        if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
            value = value[1..value.len() - 1].to_string();
        }
        out.push((section.clone(), key, value, i + 1));
        open = true;
    }
    out
}

/// Picks the PCI options out of nova.conf text.
pub fn parse_nova_conf(text: &str, path: &str) -> NovaConf {
    let mut conf = NovaConf {
        path: path.to_string(),
        ..NovaConf::default()
    };
    for (section, option, value, line) in parse_ini(text) {
        let v = ConfValue {
            line,
            option: option.clone(),
            value,
        };
        match (section.as_str(), option.as_str()) {
            ("pci", "device_spec" | "passthrough_whitelist")
            | ("DEFAULT", "pci_passthrough_whitelist") => conf.device_specs.push(v),
            ("pci", "alias") | ("DEFAULT", "pci_alias") => conf.aliases.push(v),
            ("libvirt", "connection_uri") => {
                conf.libvirt_connection_uri = Some(v.value).filter(|u| !u.trim().is_empty())
            }
            _ => {}
        }
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_spec_lines_raw() {
        let text = "[DEFAULT]\npci_passthrough_whitelist = {\"vendor_id\": \"8086\"}\n[pci]\ndevice_spec = {\"vendor_id\": \"8086\", \"product_id\": \"1520\",\n   \"physical_network\": \"physnet1\"}\n\n# device_spec = {}\nalias: '{\"name\": \"a\"}'\n";
        let c = parse_nova_conf(text, NOVA_CONF);
        assert_eq!(c.device_specs.len(), 2);
        assert_eq!(c.device_specs[1].line, 4);
        assert_eq!(
            c.device_specs[1].value,
            "{\"vendor_id\": \"8086\", \"product_id\": \"1520\",\n\"physical_network\": \"physnet1\"}"
        );
        assert_eq!(c.aliases[0].value, "{\"name\": \"a\"}");
    }
}
