//! What passthru itself was asked to put on the kernel command line: the journal's
//! `passthru kernel-args` change sets (`var/lib/passthru/journal`) and the `[kernel]`
//! section of the host file (`etc/passthru/host.toml`), so doctor can tell a reboot
//! is pending.

use crate::change::hostfile;
use crate::change::journal::Status;
use crate::change::kernel_args::{desired_args, KernelArgsRequest};
use crate::host::root::Root;
use crate::host::sources::journal::read_change_sets;
use crate::host::system::{CpuVendor, KernelArgsAsked};
use std::path::Path;

/// Splits a journal's command line back into words (the executor writes each word
/// as `change::plan::shell_word` does: plain, or in single quotes with `'\''`).
pub fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// What a `passthru kernel-args` command line asked: the request, and the command as
/// the operator would retype it (`passthru kernel-args --iommu --pt`, without the
/// binary's path, the root or `--yes`). `None` for any other command.
pub fn parse_command(line: &str) -> Option<(KernelArgsRequest, String)> {
    let words = split_words(line);
    let start = words.iter().position(|w| w == "kernel-args")?;
    let mut req = KernelArgsRequest::default();
    let mut shown = vec!["passthru".to_string(), "kernel-args".to_string()];
    let mut it = words[start + 1..].iter();
    while let Some(w) = it.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        match flag {
            "--iommu" => req.iommu = true,
            "--pt" => req.pt = true,
            "--add" | "--remove" => {
                let Some(v) = inline.or_else(|| it.next().cloned()) else {
                    continue;
                };
                if flag == "--add" {
                    req.add.push(v.clone());
                } else {
                    req.remove.push(v.clone());
                }
                shown.push(format!("{flag} {}", crate::change::plan::shell_word(&v)));
                continue;
            }
            // Global options with a value: how it was run, not what was asked.
            "--root" | "--snapshot" | "--lspci" | "--kernel-log" | "--timeout" => {
                if inline.is_none() {
                    it.next();
                }
                continue;
            }
            _ => continue,
        }
        shown.push(flag.to_string());
    }
    Some((req, shown.join(" ")))
}

/// Reads every request, oldest first. Unreadable journals or host files are skipped
/// (`passthru undo --list` and `passthru apply` report them).
pub fn read_kernel_args_asked(root: &Root, vendor: CpuVendor) -> Vec<KernelArgsAsked> {
    let mut out = Vec::new();
    let (sets, _) = read_change_sets(root);
    for cs in sets {
        if cs.status != Status::Done || cs.undone_by.is_some() || cs.undoes.is_some() {
            continue;
        }
        let Some((req, shown)) = parse_command(&cs.command) else {
            continue;
        };
        let Ok(a) = desired_args(vendor, &req) else {
            continue;
        };
        if a.add.is_empty() && a.remove.is_empty() {
            continue;
        }
        out.push(KernelArgsAsked {
            source: cs.dir(),
            command: shown,
            when: Some(cs.created.clone()),
            add: a.add,
            remove: a.remove,
        });
    }
    let file = crate::change::persist::HOST_FILE;
    if let Ok(bytes) = root.read(file) {
        if let Ok(d) = hostfile::parse(&bytes, Path::new(file)) {
            if let Some(k) = &d.file.kernel {
                if let Ok(a) = desired_args(vendor, &k.request()) {
                    if !a.add.is_empty() || !a.remove.is_empty() {
                        out.push(KernelArgsAsked {
                            source: file.to_string(),
                            command: "[kernel]".into(),
                            when: None,
                            add: a.add,
                            remove: a.remove,
                        });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_command_lines() {
        let line = crate::change::plan::shell_word("/usr/local/bin/passthru")
            + " --root /srv/host kernel-args --iommu --pt --add "
            + &crate::change::plan::shell_word("pci=realloc,nocrs")
            + " --remove=rhgb --add 'video=efifb:off vfio-pci.ids=10de:1b80' -y";
        let (req, shown) = parse_command(&line).unwrap();
        assert!(req.iommu && req.pt);
        assert_eq!(
            req.add,
            vec![
                "pci=realloc,nocrs",
                "video=efifb:off vfio-pci.ids=10de:1b80"
            ]
        );
        assert_eq!(req.remove, vec!["rhgb"]);
        assert_eq!(
            shown,
            "passthru kernel-args --iommu --pt --add pci=realloc,nocrs --remove rhgb --add 'video=efifb:off vfio-pci.ids=10de:1b80'"
        );
        assert_eq!(split_words("a 'b c' 'it'\\''s'"), vec!["a", "b c", "it's"]);
        assert!(parse_command("passthru bind 0000:01:00.0 --vfio").is_none());
    }
}
