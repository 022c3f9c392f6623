//! Merging rendered `[pci]` settings into an existing nova.conf: the one function
//! behind `passthru render nova --write` and the Ansible module `passthru_nova`.
//!
//! [`merge`] is pure (nova.conf text and host facts in, text out) and does, in order:
//!
//! 1. parses the file as oslo.config does ([`conf::parse_ini`]); a file nova cannot
//!    read is [`MergeError::Parse`];
//! 2. finds the values the request **owns**: every `alias` (any name nova reads it
//!    under) whose `"name"` is the requested alias, and every `device_spec` value
//!    that is one of the rendered values or selects, on its own, only devices of
//!    the request. A value that selects some requested devices *and* others is
//!    [`MergeError::Overlap`] (it would take them first: first match wins);
//! 3. moves values written under deprecated names (`[DEFAULT] pci_alias`,
//!    `[DEFAULT] pci_passthrough_whitelist`, `[pci] passthrough_whitelist`, taken
//!    from nova's registered options) to `[pci] alias` / `[pci] device_spec`,
//!    keeping nova's merged order (deprecated values first), each line as written
//!    but for its key;
//! 4. puts the rendered values where the first owned value was (or at the end of
//!    the last `[pci]` section, or a new one), drops the other owned values, and
//!    adds `PciPassthroughFilter` to `[filter_scheduler] enabled_filters` when asked;
//!    every other line and comment stays as it was, line endings included;
//! 5. reads the result with the same rules `nova check` applies
//!    ([`check::check`], [`check::Report::fatal`]): a result that would stop
//!    nova-compute, nova-api or nova-scheduler is [`MergeError::WouldNotLoad`], and
//!    each requested device must be taken by a rendered value
//!    ([`MergeError::NotSelected`]).
//!
//! Merging its own output again changes no byte ([`Merged::changed`] is false).

use super::check::{self, CheckInput, Fatal, PCI_FILTER};
use super::conf::{
    self, deprecated_name_of, normalize_group, parse_ini, Assignment, ConfError, NovaConf,
    DEFAULT_ENABLED_FILTERS,
};
use super::matching::NovaDevice;
use super::py::{self, text, PyValue};
use super::spec::{self, SpecContext};
use super::sysfs::SysfsView;
use crate::host::Host;
use serde::Serialize;

/// What to have in nova.conf.
#[derive(Clone, Debug, Default)]
pub struct MergeRequest {
    /// The alias name: every alias value with this name is replaced.
    pub alias_name: String,
    /// `[pci] alias` values, as written in the file (`$` doubled), e.g. from
    /// [`render`](super::render::render).
    pub alias: Vec<String>,
    /// `[pci] device_spec` values, as written in the file.
    pub device_spec: Vec<String>,
    /// The devices (`dddd:bb:ss.f`) the rendered specs select on this host: a
    /// device_spec value that selects only some of these is replaced.
    pub devices: Vec<String>,
    /// Add `PciPassthroughFilter` to `[filter_scheduler] enabled_filters`.
    pub add_filter: bool,
}

/// A value moved from a deprecated name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Moved {
    /// `[DEFAULT] pci_alias` as written.
    pub from: String,
    /// `[pci] alias`.
    pub to: String,
    /// Line (1-based) in the original file.
    pub line: usize,
}

/// A value the merge removed or replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Replaced {
    /// `[pci] device_spec` as written.
    pub option: String,
    /// Line (1-based) in the original file.
    pub line: usize,
    /// The value.
    pub value: String,
}

/// The merged file and what changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Merged {
    /// The new text.
    pub text: String,
    /// Whether it differs from the input.
    pub changed: bool,
    /// Values moved from deprecated names.
    pub moved: Vec<Moved>,
    /// Values replaced by the rendered ones.
    pub replaced: Vec<Replaced>,
    /// Whether `PciPassthroughFilter` was added to enabled_filters.
    pub added_filter: bool,
}

/// Why nothing can be written.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// nova cannot read the file as it is.
    #[error("{0} (fix the file first: nova cannot read it either)")]
    Parse(ConfError),
    /// An existing device_spec value selects some requested devices and others.
    #[error("{0}")]
    Overlap(Box<Overlap>),
    /// The merged file would stop a nova service.
    #[error("{file} would not load in nova after the merge, so nothing is written: {}", .fatal.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; "))]
    WouldNotLoad {
        /// The file.
        file: String,
        /// What would stop which service.
        fatal: Vec<Fatal>,
    },
    /// A requested device is not taken by a rendered value after the merge.
    #[error("{file}: after the merge nova would not give {device} to the new device_spec values ({why})")]
    NotSelected {
        /// The file.
        file: String,
        /// The device.
        device: String,
        /// What nova does with it instead.
        why: String,
    },
}

/// An existing device_spec value that selects some requested devices and others:
/// nova gives each device to the first value that matches, so it would keep them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {option} = {value} selects {} of the requested devices and also {}, which were not requested; nova gives each device to the first value that matches, so this one would keep taking them. Add those devices to the selection, or narrow or remove that line", .inside.join(", "), .outside.join(", "))]
pub struct Overlap {
    /// The file.
    pub file: String,
    /// Its line.
    pub line: usize,
    /// `[pci] device_spec` as written.
    pub option: String,
    /// The value.
    pub value: String,
    /// Requested devices it selects.
    pub inside: Vec<String>,
    /// Other devices it selects.
    pub outside: Vec<String>,
}

/// Which `[pci]` list an assignment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    Spec,
    Alias,
}

impl List {
    fn key(self) -> &'static str {
        match self {
            List::Spec => "device_spec",
            List::Alias => "alias",
        }
    }
}

/// One `device_spec` / `alias` assignment, under any name nova reads it.
struct Entry<'a> {
    a: &'a Assignment,
    list: List,
    deprecated: bool,
    /// Lines (0-based, end exclusive) including continuation lines.
    span: (usize, usize),
    /// The value nova uses (after `$` substitution), when it has one.
    value: Option<String>,
}

/// A line of the file with its terminator.
#[derive(Clone, Debug)]
struct Line {
    body: String,
    nl: String,
}

/// Splits as oslo.config's reader does (universal newlines), keeping terminators.
fn split_lines(t: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let b = t.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        let nl_len = match b[i] {
            b'\n' => 1,
            b'\r' if b.get(i + 1) == Some(&b'\n') => 2,
            b'\r' => 1,
            _ => 0,
        };
        if nl_len > 0 {
            out.push(Line {
                body: t[start..i].to_string(),
                nl: t[i..i + nl_len].to_string(),
            });
            i += nl_len;
            start = i;
        } else {
            i += 1;
        }
    }
    if start < b.len() {
        out.push(Line {
            body: t[start..].to_string(),
            nl: String::new(),
        });
    }
    out
}

fn is_continuation(l: &str) -> bool {
    (l.starts_with(' ') || l.starts_with('\t')) && !text::rstrip(l).is_empty()
}

fn section_name(l: &str) -> Option<&str> {
    let t = text::rstrip(l);
    (t.starts_with('[') && t.ends_with(']') && t.len() > 2).then(|| &t[1..t.len() - 1])
}

/// Equal as nova would read them (JSON compared as values).
fn same_value(a: &str, b: &str) -> bool {
    match (py::loads(a), py::loads(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The alias names a value defines (a dict, or a list of dicts).
fn alias_names(v: &str) -> Vec<String> {
    let one = |d: &PyValue| match d.get("name") {
        Some(PyValue::Str(s)) => Some(s.clone()),
        _ => None,
    };
    match py::loads(v) {
        Ok(PyValue::List(items)) => items.iter().filter_map(one).collect(),
        Ok(d) => one(&d).into_iter().collect(),
        Err(_) => Vec::new(),
    }
}

/// The devices a device_spec value selects on the host on its own.
fn selects(host: &Host, value: &str) -> Option<Vec<String>> {
    let sysfs = SysfsView::from_host(host);
    let ctx = SpecContext {
        sysfs: &sysfs,
        report_in_placement: false,
    };
    let specs = spec::parse_value(value, ctx).ok()?;
    Some(
        host.devices
            .iter()
            .filter(|d| {
                let nd = NovaDevice::from_host(host, d);
                specs.iter().any(|s| s.matches(&nd).unwrap_or(false))
            })
            .map(|d| d.address.to_string())
            .collect(),
    )
}

/// Merges rendered nova settings into nova.conf text (see the module documentation).
/// `file` names the file in messages; `host` is the compute host the file is for.
pub fn merge(
    file: &str,
    text_in: &str,
    host: &Host,
    req: &MergeRequest,
) -> Result<Merged, MergeError> {
    let ini = parse_ini(file, text_in).map_err(MergeError::Parse)?;
    let current = NovaConf::from_files(std::slice::from_ref(&ini));
    let lines = split_lines(text_in);
    let nl = if text_in.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let unescape = |s: &str| s.replace("$$", "$");

    // Every device_spec / alias assignment, under any name.
    let mut entries: Vec<Entry> = Vec::new();
    for a in &ini.assignments {
        let g = normalize_group(&a.section);
        let (target, deprecated) = match deprecated_name_of(&a.section, &a.key) {
            Some(t) => (t, true),
            None => match (g.as_str(), a.key.as_str()) {
                ("pci", "device_spec") => (("pci", "device_spec"), false),
                ("pci", "alias") => (("pci", "alias"), false),
                _ => continue,
            },
        };
        let list = match target {
            ("pci", "device_spec") => List::Spec,
            ("pci", "alias") => List::Alias,
            _ => continue,
        };
        let start = a.loc.line - 1;
        let mut end = start + 1;
        while end < lines.len() && is_continuation(&lines[end].body) {
            end += 1;
        }
        let pool = match list {
            List::Spec => &current.device_spec,
            List::Alias => &current.alias,
        };
        let value = pool
            .iter()
            .find(|v| v.loc.line == a.loc.line)
            .map(|v| v.value.clone());
        entries.push(Entry {
            a,
            list,
            deprecated,
            span: (start, end),
            value,
        });
    }

    // Ownership.
    let wanted: Vec<&str> = req.devices.iter().map(String::as_str).collect();
    let mut owned = vec![false; entries.len()];
    let mut replaced = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(v) = &e.value else { continue };
        let own = match e.list {
            List::Alias => alias_names(v).contains(&req.alias_name),
            List::Spec => {
                if req.device_spec.iter().any(|r| same_value(&unescape(r), v)) {
                    true
                } else {
                    let sel = selects(host, v).unwrap_or_default();
                    let inside: Vec<String> = sel
                        .iter()
                        .filter(|d| wanted.contains(&d.as_str()))
                        .cloned()
                        .collect();
                    if !inside.is_empty() && inside.len() < sel.len() {
                        return Err(MergeError::Overlap(Box::new(Overlap {
                            file: file.to_string(),
                            line: e.a.loc.line,
                            option: format!("[{}] {}", e.a.section, e.a.key),
                            value: e.a.value.replace('\n', " "),
                            inside,
                            outside: sel
                                .into_iter()
                                .filter(|d| !wanted.contains(&d.as_str()))
                                .collect(),
                        })));
                    }
                    !sel.is_empty() && inside.len() == sel.len()
                }
            }
        };
        if own {
            owned[i] = true;
            replaced.push(Replaced {
                option: format!("[{}] {}", e.a.section, e.a.key),
                line: e.a.loc.line,
                value: e.a.value.clone(),
            });
        }
    }

    // Edits by line: what goes before each line, and which lines go.
    let n = lines.len();
    let mut before: Vec<Vec<String>> = vec![Vec::new(); n + 1];
    let mut deleted = vec![false; n];
    let mut moved = Vec::new();

    // The end of the last section with a given name (before its trailing blank
    // lines), or `None` when there is none.
    let section_tail = |name: &str| -> Option<usize> {
        let s = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| section_name(&l.body).is_some_and(|s| normalize_group(s) == name))
            .map(|(i, _)| i)
            .next_back()?;
        let mut end = lines
            .iter()
            .enumerate()
            .skip(s + 1)
            .find(|(_, l)| section_name(&l.body).is_some())
            .map_or(n, |(i, _)| i);
        while end > s + 1 && text::strip(&lines[end - 1].body).is_empty() {
            end -= 1;
        }
        Some(end)
    };
    // Lines for a new section at the end of the file.
    let mut appended: Vec<(String, Vec<String>)> = Vec::new();
    let mut at_tail = |section: &str, new: Vec<String>, before: &mut Vec<Vec<String>>| {
        if new.is_empty() {
            return;
        }
        match section_tail(section) {
            Some(at) => before[at].extend(new),
            None => match appended.iter_mut().find(|(s, _)| s == section) {
                Some((_, v)) => v.extend(new),
                None => appended.push((section.to_string(), new)),
            },
        }
    };

    for list in [List::Spec, List::Alias] {
        let rendered: &[String] = match list {
            List::Spec => &req.device_spec,
            List::Alias => &req.alias,
        };
        let new_lines: Vec<String> = rendered
            .iter()
            .map(|v| format!("{} = {v}", list.key()))
            .collect();
        // nova's merged order: the values of the deprecated names first (in the
        // order oslo.config merges them), then the current name's, in file order.
        let names = conf::option_names("pci", list.key());
        let mut order: Vec<usize> = Vec::new();
        for (g, k) in names.iter().rev() {
            for (i, e) in entries.iter().enumerate() {
                if e.list == list && normalize_group(&e.a.section) == *g && e.a.key == *k {
                    order.push(i);
                }
            }
        }
        // Runs of new or moved lines, each placed before the next kept value.
        let mut run: Vec<String> = Vec::new();
        // Where the last run goes when no kept value follows: where the first of its
        // owned values under the current name was (so a second merge puts its
        // lines back in the same place), else the end of the last [pci] section.
        let mut anchor: Option<usize> = None;
        let mut placed_new = false;
        for &i in &order {
            let e = &entries[i];
            if owned[i] {
                deleted[e.span.0..e.span.1].fill(true);
                if !e.deprecated && anchor.is_none() {
                    anchor = Some(e.span.0);
                }
                if !placed_new {
                    run.extend(new_lines.iter().cloned());
                    placed_new = true;
                }
            } else if e.deprecated {
                deleted[e.span.0..e.span.1].fill(true);
                let first = &lines[e.span.0].body;
                let key_end = first
                    .find(e.a.key.as_str())
                    .map_or(0, |p| p + e.a.key.len());
                run.push(format!("{}{}", list.key(), &first[key_end..]));
                run.extend(lines[e.span.0 + 1..e.span.1].iter().map(|l| l.body.clone()));
                moved.push(Moved {
                    from: format!("[{}] {}", e.a.section, e.a.key),
                    to: format!("[pci] {}", list.key()),
                    line: e.a.loc.line,
                });
            } else {
                before[e.span.0].append(&mut run);
                anchor = None;
            }
        }
        if !placed_new {
            run.extend(new_lines);
        }
        match anchor {
            Some(at) => before[at].append(&mut run),
            None => at_tail("pci", run, &mut before),
        }
    }

    // PciPassthroughFilter in the enabled_filters nova reads.
    let mut added_filter = false;
    if req.add_filter && !current.enabled_filters.iter().any(|f| f == PCI_FILTER) {
        added_filter = true;
        match ini.assignments.iter().rev().find(|a| {
            normalize_group(&a.section) == "filter_scheduler" && a.key == "enabled_filters"
        }) {
            Some(a) => {
                let start = a.loc.line - 1;
                let mut end = start + 1;
                while end < n && is_continuation(&lines[end].body) {
                    end += 1;
                }
                deleted[start..end].fill(true);
                let mut list = current.enabled_filters.clone();
                list.push(PCI_FILTER.to_string());
                // A value that spans lines keeps its continuation lines indented.
                let value = list.join(",").replace('\n', &format!("{nl}    "));
                before[start].push(format!("{} = {value}", a.key));
            }
            None => {
                let mut list: Vec<String> = DEFAULT_ENABLED_FILTERS
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                list.push(PCI_FILTER.to_string());
                at_tail(
                    "filter_scheduler",
                    vec![format!("enabled_filters = {}", list.join(","))],
                    &mut before,
                );
            }
        }
    }

    // Assemble: kept lines keep their own terminators.
    let mut out = String::new();
    let push_new = |out: &mut String, l: &str| {
        if !out.is_empty() && !out.ends_with('\n') && !out.ends_with('\r') {
            out.push_str(nl);
        }
        out.push_str(l);
        out.push_str(nl);
    };
    for i in 0..=n {
        for l in &before[i] {
            push_new(&mut out, l);
        }
        if i < n && !deleted[i] {
            out.push_str(&lines[i].body);
            out.push_str(&lines[i].nl);
        }
    }
    for (section, new) in appended {
        let last_blank = out
            .trim_end_matches(['\n', '\r'])
            .rsplit(['\n', '\r'])
            .next()
            .is_none_or(|l| text::strip(l).is_empty());
        if !out.is_empty() && !last_blank {
            push_new(&mut out, "");
        }
        push_new(&mut out, &format!("[{section}]"));
        for l in new {
            push_new(&mut out, &l);
        }
    }

    // The result must load in nova and give the requested devices to the new values.
    let merged_conf = NovaConf::parse(&[(file, &out)]).map_err(MergeError::Parse)?;
    let report = check::check(&CheckInput {
        host,
        conf: &merged_conf,
        flavors: &[],
    });
    let fatal = report.fatal();
    if !fatal.is_empty() {
        return Err(MergeError::WouldNotLoad {
            file: file.to_string(),
            fatal,
        });
    }
    for d in &req.devices {
        let v = report.devices.iter().find(|v| v.address == *d);
        let ok = v.is_some_and(|v| {
            v.exposed
                && v.value_index.is_some_and(|i| {
                    merged_conf.device_spec.get(i).is_some_and(|c| {
                        req.device_spec
                            .iter()
                            .any(|r| same_value(&unescape(r), &c.value))
                    })
                })
        });
        if !ok {
            return Err(MergeError::NotSelected {
                file: file.to_string(),
                device: d.clone(),
                why: v.map_or("it is not on this host".to_string(), |v| v.reason.clone()),
            });
        }
    }
    Ok(Merged {
        changed: out != text_in,
        text: out,
        moved,
        replaced,
        added_filter,
    })
}
