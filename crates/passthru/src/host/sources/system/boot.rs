//! Boot configuration: which tool owns the kernel command line, and the arguments the
//! next boot will get (`etc/default/grub` + `etc/default/grub.d/*.cfg`,
//! `etc/sysconfig/grub`, `etc/kernel/cmdline`).

use crate::change::kernel_args::is_grub_stub;
use crate::host::root::Root;
use crate::host::sources::change_facts::TOOL_DIRS;
use crate::host::system::{BootArgsFile, BootConfig, Bootloader, GrubCfg};

/// GRUB variables that hold kernel arguments.
pub const GRUB_VARS: &[&str] = &["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"];

/// Boot tools looked for, in `usr/sbin`, `sbin`, `usr/bin`, `bin`.
pub const BOOT_TOOLS: &[&str] = &[
    "grubby",
    "update-grub",
    "grub2-mkconfig",
    "grub-mkconfig",
    "kernel-install",
    "proxmox-boot-tool",
    "bootctl",
    "update-initramfs",
    "dracut",
    "mkinitcpio",
];

fn find_tools(root: &Root) -> Vec<String> {
    // The same places `passthru kernel-args` looks, so both pick the same tooling.
    BOOT_TOOLS
        .iter()
        .filter(|t| {
            TOOL_DIRS.iter().any(|d| {
                let p = format!("{d}/{t}");
                root.exists(&p) && !root.is_dir(&p)
            })
        })
        .map(|t| t.to_string())
        .collect()
}

/// `grub.cfg` files: `boot/grub2`, `boot/grub`, then `boot/efi/EFI/*` by name.
fn find_grub_cfgs(root: &Root) -> Vec<GrubCfg> {
    let mut paths: Vec<String> = ["boot/grub2/grub.cfg", "boot/grub/grub.cfg"]
        .iter()
        .map(|p| p.to_string())
        .collect();
    let mut vendors = root.list("boot/efi/EFI").unwrap_or_default();
    vendors.sort();
    paths.extend(
        vendors
            .into_iter()
            .map(|v| format!("boot/efi/EFI/{v}/grub.cfg")),
    );
    paths
        .into_iter()
        .filter_map(|path| {
            let text = root.read_string(&path).ok()?;
            Some(GrubCfg {
                stub: is_grub_stub(&text),
                path,
            })
        })
        .collect()
}

/// The `options` line of each Boot Loader Specification entry.
fn find_entries(root: &Root) -> Vec<BootArgsFile> {
    let mut out = Vec::new();
    for dir in [
        "boot/loader/entries",
        "boot/efi/loader/entries",
        "efi/loader/entries",
    ] {
        let mut names = root.list(dir).unwrap_or_default();
        names.sort();
        for n in names.iter().filter(|n| n.ends_with(".conf")) {
            let path = format!("{dir}/{n}");
            let Ok(text) = root.read_string(&path) else {
                continue;
            };
            if let Some((i, args)) = text.lines().enumerate().find_map(|(i, l)| {
                let o = l.trim_start().strip_prefix("options")?;
                (o.is_empty() || o.starts_with(char::is_whitespace)).then_some((i, o))
            }) {
                out.push(BootArgsFile {
                    path,
                    variable: "options".into(),
                    line: i + 1,
                    args: args.split_whitespace().collect::<Vec<_>>().join(" "),
                });
            }
        }
    }
    out
}

/// Reads the boot configuration.
pub fn read_boot(root: &Root) -> BootConfig {
    let grub_defaults: Vec<String> = ["etc/default/grub", "etc/sysconfig/grub"]
        .iter()
        .filter(|p| root.exists(p))
        .map(|p| p.to_string())
        .collect();
    let mut grub_files: Vec<String> = Vec::new();
    if root.exists("etc/default/grub") {
        grub_files.push("etc/default/grub".into());
    }
    if let Ok(mut names) = root.list("etc/default/grub.d") {
        names.sort();
        grub_files.extend(
            names
                .into_iter()
                .filter(|n| n.ends_with(".cfg"))
                .map(|n| format!("etc/default/grub.d/{n}")),
        );
    }
    // RHEL's etc/sysconfig/grub is usually a link to ../default/grub: read it once.
    if root.exists("etc/sysconfig/grub")
        && root.resolve("etc/sysconfig/grub").ok().as_deref()
            != Some(std::path::Path::new("etc/default/grub"))
    {
        grub_files.push("etc/sysconfig/grub".into());
    }
    let mut vars = GrubVars::default();
    for f in &grub_files {
        if let Ok(t) = root.read_string(f) {
            vars.apply(&t, f);
        }
    }
    let mut files: Vec<BootArgsFile> = vars.0;
    let kernel_cmdline = root.read_string("etc/kernel/cmdline").ok();
    if let Some(t) = &kernel_cmdline {
        files.push(BootArgsFile {
            path: "etc/kernel/cmdline".into(),
            variable: String::new(),
            line: 0,
            args: t.split_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    let tools = find_tools(root);
    let grub_cfgs = find_grub_cfgs(root);
    let has = |t: &str| tools.iter().any(|x| x == t);
    // The order of `passthru kernel-args` (change::kernel_args::boot_method).
    let bootloader = if has("grubby") {
        Bootloader::Grubby
    } else if kernel_cmdline.is_some()
        && (has("proxmox-boot-tool") || grub_cfgs.is_empty() || grub_defaults.is_empty())
    {
        Bootloader::KernelInstall
    } else if !grub_defaults.is_empty() {
        if has("update-grub") {
            Bootloader::GrubUpdateGrub
        } else {
            Bootloader::GrubMkconfig
        }
    } else if kernel_cmdline.is_some() {
        Bootloader::KernelInstall
    } else {
        Bootloader::Unknown
    };
    BootConfig {
        bootloader,
        files,
        tools,
        efi: root.is_dir("sys/firmware/efi"),
        grub_defaults,
        grub_cfgs,
        entries: find_entries(root),
    }
}

/// The last assignment of each GRUB command-line variable over the files read so far.
#[derive(Default)]
struct GrubVars(Vec<BootArgsFile>);

impl GrubVars {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|f| f.variable == name)
            .map(|f| f.args.as_str())
            .unwrap_or("")
    }

    fn apply(&mut self, text: &str, path: &str) {
        for (name, value, line) in parse_assignments(text) {
            if !GRUB_VARS.contains(&name.as_str()) {
                continue;
            }
            let args = expand(&value, |v| self.get(v).to_string());
            let args = args.split_whitespace().collect::<Vec<_>>().join(" ");
            let entry = BootArgsFile {
                path: path.to_string(),
                variable: name.clone(),
                line,
                args,
            };
            match self.0.iter_mut().find(|f| f.variable == name) {
                Some(f) => *f = entry,
                None => self.0.push(entry),
            }
        }
    }
}

/// A raw shell value: `"..."` (expanded later), `'...'` (literal, marked with a
/// leading `\0` so expansion leaves it alone), or a bare word.
type RawValue = String;

/// `NAME=value` assignments of a shell-style file, with 1-based line numbers. Quoted
/// values may span lines.
pub fn parse_assignments(text: &str) -> Vec<(String, RawValue, usize)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let l = lines[i].trim_start();
        i += 1;
        let l = l.strip_prefix("export ").unwrap_or(l);
        if l.starts_with('#') {
            continue;
        }
        let Some((name, rest)) = l.split_once('=') else {
            continue;
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let mut value = String::new();
        let mut chars: Vec<char> = rest.chars().collect();
        let mut j = 0;
        let mut quote: Option<char> = None;
        loop {
            if j >= chars.len() {
                match quote {
                    Some(_) if i < lines.len() => {
                        value.push(' ');
                        chars = lines[i].chars().collect();
                        i += 1;
                        j = 0;
                        continue;
                    }
                    _ => break,
                }
            }
            let c = chars[j];
            j += 1;
            match (quote, c) {
                (None, '"') | (None, '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '#') | (None, ' ') | (None, '\t') | (None, ';') => break,
                (Some('\''), '$') => value.push('\u{0}'),
                (_, '\\') if j < chars.len() => {
                    value.push(chars[j]);
                    j += 1;
                }
                (_, c) => value.push(c),
            }
        }
        out.push((name.to_string(), value, start + 1));
    }
    out
}

/// Expands `$NAME` and `${NAME}` (a `\0` marks a literal `$` from single quotes).
fn expand(value: &str, lookup: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\u{0}' => {
                out.push('$');
                i += 1;
            }
            '$' => {
                i += 1;
                let braced = chars.get(i) == Some(&'{');
                if braced {
                    i += 1;
                }
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                if braced && chars.get(i) == Some(&'}') {
                    i += 1;
                }
                if name.is_empty() {
                    out.push('$');
                } else {
                    out.push_str(&lookup(&name));
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grub_assignments_quotes_and_expansion() {
        let text = "# comment\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"rd.lvm.lv=rhel/swap crashkernel=auto rhgb quiet intel_iommu=on\"\nexport GRUB_CMDLINE_LINUX_DEFAULT='quiet splash'\n";
        let a = parse_assignments(text);
        assert_eq!(a.len(), 3);
        assert_eq!(a[1].0, "GRUB_CMDLINE_LINUX");
        assert_eq!(a[1].2, 3);
        let mut v = GrubVars::default();
        v.apply(text, "etc/default/grub");
        v.apply(
            "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT iommu=pt\"\n",
            "etc/default/grub.d/iommu.cfg",
        );
        assert_eq!(v.get("GRUB_CMDLINE_LINUX_DEFAULT"), "quiet splash iommu=pt");
        assert!(v.get("GRUB_CMDLINE_LINUX").ends_with("intel_iommu=on"));
        let f =
            v.0.iter()
                .find(|f| f.variable == "GRUB_CMDLINE_LINUX_DEFAULT")
                .unwrap();
        assert_eq!(f.path, "etc/default/grub.d/iommu.cfg");
        assert_eq!(f.line, 1);
    }

    #[test]
    fn multi_line_quoted_value() {
        let a = parse_assignments("GRUB_CMDLINE_LINUX=\"a\nb\"\nX=1\n");
        assert_eq!(a[0].1, "a b");
        assert_eq!(a[1].2, 3);
    }
}
