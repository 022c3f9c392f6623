//! `etc/libvirt/qemu.conf`: `cgroup_device_acl`, when customised.

use crate::host::root::Root;
use crate::host::system::QemuConf;

/// Where qemu.conf lives under the root.
pub const QEMU_CONF: &str = "etc/libvirt/qemu.conf";

/// Reads qemu.conf, `None` when absent.
pub fn read_qemu_conf(root: &Root) -> Option<QemuConf> {
    let text = root.read_string(QEMU_CONF).ok()?;
    Some(parse_qemu_conf(&text, QEMU_CONF))
}

/// Drops a `#` comment that is not inside a quoted string.
fn strip_comment(line: &str) -> &str {
    let mut in_quote = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            '#' if !in_quote => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Parses the `cgroup_device_acl = [ "...", ... ]` setting (libvirt's config syntax:
/// the list may span lines; the last assignment wins).
pub fn parse_qemu_conf(text: &str, path: &str) -> QemuConf {
    let mut conf = QemuConf {
        path: path.to_string(),
        ..QemuConf::default()
    };
    let lines: Vec<&str> = text.lines().map(strip_comment).collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim();
        let start = i;
        i += 1;
        let Some(rest) = l.strip_prefix("cgroup_device_acl") else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let mut body = rest.to_string();
        while !body.contains(']') && i < lines.len() {
            body.push('\n');
            body.push_str(lines[i]);
            i += 1;
        }
        let inner = body
            .split_once('[')
            .map(|(_, r)| r.split(']').next().unwrap_or(r))
            .unwrap_or("");
        let entries: Vec<String> = inner
            .split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        conf.cgroup_device_acl = Some(entries);
        conf.cgroup_device_acl_line = start + 1;
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commented_default_and_custom_list() {
        let default = "#cgroup_device_acl = [\n#    \"/dev/null\", \"/dev/full\"\n#]\n";
        assert_eq!(parse_qemu_conf(default, QEMU_CONF).cgroup_device_acl, None);
        let custom = "user = \"root\"\ncgroup_device_acl = [\n    \"/dev/null\", \"/dev/full\", # defaults\n    \"/dev/vfio/vfio\",\n    \"/dev/vfio/45\"\n]\n";
        let c = parse_qemu_conf(custom, QEMU_CONF);
        assert_eq!(
            c.cgroup_device_acl.unwrap(),
            vec!["/dev/null", "/dev/full", "/dev/vfio/vfio", "/dev/vfio/45"]
        );
        assert_eq!(c.cgroup_device_acl_line, 2);
    }
}
