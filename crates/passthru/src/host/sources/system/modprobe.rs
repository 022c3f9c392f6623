//! `modprobe.d` files (modprobe.d(5)): blacklists, `options`, `softdep`, `install`.
//!
//! Read from the same directories as modprobe, in its precedence: a file in
//! `etc/modprobe.d` hides one of the same name in `run/`, `usr/local/lib/`, `usr/lib/`
//! or `lib/modprobe.d`; files are then taken in the order of their names.

use crate::host::root::Root;
use crate::host::system::{module_name, ModprobeDirective, ModprobeKind};

/// Directories modprobe reads, highest precedence first.
pub const MODPROBE_DIRS: &[&str] = &[
    "etc/modprobe.d",
    "run/modprobe.d",
    "usr/local/lib/modprobe.d",
    "usr/lib/modprobe.d",
    "lib/modprobe.d",
];

/// Reads every `*.conf` file modprobe would read.
pub fn read_modprobe(root: &Root) -> Vec<ModprobeDirective> {
    let mut chosen: std::collections::BTreeMap<String, String> = Default::default();
    let mut seen_dirs: Vec<std::path::PathBuf> = Vec::new();
    for dir in MODPROBE_DIRS {
        // `lib` is a link to `usr/lib` on merged-/usr systems: read it once.
        let real = root.resolve(dir).unwrap_or_else(|_| dir.into());
        if seen_dirs.contains(&real) {
            continue;
        }
        seen_dirs.push(real);
        let Ok(names) = root.list(dir) else { continue };
        for n in names.into_iter().filter(|n| n.ends_with(".conf")) {
            chosen
                .entry(n.clone())
                .or_insert_with(|| format!("{dir}/{n}"));
        }
    }
    chosen
        .values()
        .filter_map(|path| {
            root.read_string(path)
                .ok()
                .map(|t| parse_modprobe(&t, path))
        })
        .flatten()
        .collect()
}

/// Parses one modprobe.d file. Unknown commands (`alias`, `remove`) are skipped.
pub fn parse_modprobe(text: &str, file: &str) -> Vec<ModprobeDirective> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        if let Some(cont) = raw.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        if let Some(kind) = parse_line(&line) {
            out.push(ModprobeDirective {
                file: file.to_string(),
                line: start,
                kind,
            });
        }
    }
    out
}

fn parse_line(line: &str) -> Option<ModprobeKind> {
    let t = line.trim();
    if t.starts_with('#') || t.is_empty() {
        return None;
    }
    let mut words = t.split_whitespace();
    let cmd = words.next()?;
    let module = module_name(words.next()?);
    let rest: Vec<&str> = words.collect();
    Some(match cmd {
        "blacklist" => ModprobeKind::Blacklist { module },
        "options" => ModprobeKind::Options {
            module,
            params: rest.iter().map(|s| s.to_string()).collect(),
        },
        "install" => ModprobeKind::Install {
            module,
            command: rest.join(" "),
        },
        "softdep" => {
            let (mut pre, mut post) = (Vec::new(), Vec::new());
            let mut target: Option<&mut Vec<String>> = None;
            for w in rest {
                match w {
                    "pre:" => target = Some(&mut pre),
                    "post:" => target = Some(&mut post),
                    m => {
                        if let Some(t) = target.as_deref_mut() {
                            t.push(module_name(m));
                        }
                    }
                }
            }
            ModprobeKind::Softdep { module, pre, post }
        }
        _ => return None,
    })
}

/// The values of one parameter over every `options MODULE` directive
/// (`ids` of `vfio_pci` gives `["10de:1b80,10de:10f0"]`), with the directive.
pub fn option_values<'a>(
    directives: &'a [ModprobeDirective],
    module: &str,
    param: &str,
) -> Vec<(&'a ModprobeDirective, String)> {
    let m = module_name(module);
    directives
        .iter()
        .filter(|d| d.module() == m)
        .filter_map(|d| match &d.kind {
            ModprobeKind::Options { params, .. } => Some((d, params)),
            _ => None,
        })
        .flat_map(|(d, params)| {
            params.iter().filter_map(move |p| {
                let (k, v) = p.split_once('=').unwrap_or((p.as_str(), "1"));
                (k == param).then(|| (d, v.trim_matches('"').to_string()))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_with_continuations_and_comments() {
        let text = "# GPUs for guests\nblacklist nouveau\nblacklist lbm-nouveau\noptions vfio-pci ids=10de:11bf,10de:0e0a \\\n  disable_vga=1\nsoftdep nouveau pre: vfio-pci\ninstall bogus /bin/false\nalias foo bar\n";
        let d = parse_modprobe(text, "etc/modprobe.d/vfio.conf");
        assert_eq!(d.len(), 5);
        assert_eq!(d[0].location(), "etc/modprobe.d/vfio.conf:2");
        assert_eq!(
            d[1].kind,
            ModprobeKind::Blacklist {
                module: "lbm_nouveau".into()
            }
        );
        assert_eq!(d[2].line, 4);
        assert_eq!(
            d[2].kind,
            ModprobeKind::Options {
                module: "vfio_pci".into(),
                params: vec!["ids=10de:11bf,10de:0e0a".into(), "disable_vga=1".into()]
            }
        );
        assert_eq!(
            d[3].kind,
            ModprobeKind::Softdep {
                module: "nouveau".into(),
                pre: vec!["vfio_pci".into()],
                post: vec![]
            }
        );
        let ids = option_values(&d, "vfio_pci", "ids");
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0].1, "10de:11bf,10de:0e0a");
        assert_eq!(option_values(&d, "vfio-pci", "disable_vga")[0].1, "1");
    }
}
