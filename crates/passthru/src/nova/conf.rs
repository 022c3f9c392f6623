//! nova.conf as oslo.config reads it: the ini grammar (key ends at the first `=`
//! or `:`, one pair of matching quotes removed, continuation lines, no inline
//! comments), section names compared in lower case except `DEFAULT`, repeated
//! keys as multiple values, deprecated option names merged before the current
//! name, `$name` / `${name}` substitution with `$$` and `\$` escapes, and the
//! boolean and list conversions.
//!
//! Pure: it parses text handed to it, with the file name only for messages.

use super::conf_options::{DEPRECATED, OPTIONS};
use super::py::text;
use serde::Serialize;

/// The type of a registered option (enough to print its value the way oslo.config
/// substitutes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptKind {
    /// `StrOpt`.
    Str,
    /// `BoolOpt`.
    Bool,
    /// `ListOpt`.
    List,
    /// `MultiStrOpt`.
    Multi,
    /// Any other type.
    Other,
}

/// Where a value was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Loc {
    /// The file, as named to the parser.
    pub file: String,
    /// 1-based line of the key.
    pub line: usize,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A problem with nova.conf that stops nova from loading it (or an option), with
/// file, line and option.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfError {
    /// Where.
    pub loc: Loc,
    /// `[group] name`, when the problem is one option's.
    pub option: Option<String>,
    /// oslo.config's message.
    pub message: String,
}

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.option {
            Some(o) => write!(f, "{}: {o}: {}", self.loc, self.message),
            None => write!(f, "{}: {}", self.loc, self.message),
        }
    }
}

impl std::error::Error for ConfError {}

/// One `key = value` assignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The section as written (`PCI`, ` pci `, `DEFAULT`).
    pub section: String,
    /// The key as written (stripped).
    pub key: String,
    /// The value after quote removal and continuation joining.
    pub value: String,
    /// Where the key is.
    pub loc: Loc,
}

/// A parsed file: every assignment in order.
#[derive(Clone, Debug, Default)]
pub struct IniFile {
    /// The file name given.
    pub name: String,
    /// Sections in the order they first appear (as written).
    pub sections: Vec<(String, usize)>,
    /// Every assignment in order.
    pub assignments: Vec<Assignment>,
}

/// oslo.config's group-name normalisation: lower case, except `DEFAULT`.
pub fn normalize_group(name: &str) -> String {
    if name == "DEFAULT" {
        name.to_string()
    } else {
        name.to_lowercase()
    }
}

fn parse_error(file: &str, lineno: usize, msg: &str, line: &str) -> ConfError {
    ConfError {
        loc: Loc {
            file: file.to_string(),
            line: lineno,
        },
        option: None,
        message: format!(
            "Failed to parse {file}: at {file}:{lineno}, {msg}: {}",
            text::repr_str(line)
        ),
    }
}

/// Splits text into lines as Python's `readlines()` does in text mode (universal
/// newlines: `\r\n`, `\r` and `\n`).
fn py_lines(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = t.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\n' => {
                out.push(&t[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&t[start..i]);
                if b.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < b.len() {
        out.push(&t[start..]);
    }
    out
}

/// Parses nova.conf text (oslo.config's `iniparser` plus `ConfigParser`).
pub fn parse_ini(file: &str, body: &str) -> Result<IniFile, ConfError> {
    let mut ini = IniFile {
        name: file.to_string(),
        ..Default::default()
    };
    let mut section: Option<String> = None;
    // The pending assignment: key, value lines, line of the key.
    let mut pending: Option<(String, Vec<String>, usize)> = None;
    let mut lineno = 0usize;

    fn flush(
        ini: &mut IniFile,
        section: &Option<String>,
        pending: &mut Option<(String, Vec<String>, usize)>,
        file: &str,
        lineno: usize,
    ) -> Result<(), ConfError> {
        if let Some((key, lines, at)) = pending.take() {
            let Some(sec) = section else {
                return Err(ConfError {
                    loc: Loc {
                        file: file.to_string(),
                        line: lineno,
                    },
                    option: None,
                    message: format!(
                        "Failed to parse {file}: at {file}:{lineno}, Section must be started before assignment: ''"
                    ),
                });
            };
            ini.assignments.push(Assignment {
                section: sec.clone(),
                key,
                value: lines.join("\n"),
                loc: Loc {
                    file: file.to_string(),
                    line: at,
                },
            });
        }
        Ok(())
    }

    for raw in py_lines(body) {
        lineno += 1;
        let line = text::rstrip(raw);
        if line.is_empty() {
            flush(&mut ini, &section, &mut pending, file, lineno)?;
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            match &mut pending {
                Some((_, lines, _)) => lines.push(text::lstrip(line).to_string()),
                None => {
                    return Err(parse_error(
                        file,
                        lineno,
                        "Unexpected continuation line",
                        line,
                    ))
                }
            }
            continue;
        }
        flush(&mut ini, &section, &mut pending, file, lineno)?;
        if line.starts_with('[') {
            if !line.ends_with(']') {
                return Err(parse_error(
                    file,
                    lineno,
                    "Invalid section (must end with ])",
                    line,
                ));
            }
            if line.chars().count() <= 2 {
                return Err(parse_error(file, lineno, "Empty section name", line));
            }
            let name = &line[1..line.len() - 1];
            if !ini.sections.iter().any(|(s, _)| s == name) {
                ini.sections.push((name.to_string(), lineno));
            }
            section = Some(name.to_string());
        } else if line.starts_with('#') || line.starts_with(';') {
            // a comment
        } else {
            let colon = line.find(':');
            let equal = line.find('=');
            let split = match (colon, equal) {
                (None, None) => {
                    return Err(parse_error(
                        file,
                        lineno,
                        "No ':' or '=' found in assignment",
                        line,
                    ))
                }
                (None, Some(e)) => e,
                (Some(c), None) => c,
                (Some(c), Some(e)) => c.min(e),
            };
            let key = text::strip(&line[..split]).to_string();
            let mut value = text::strip(&line[split + 1..]).to_string();
            let mut cs = value.chars();
            if let (Some(first), Some(last)) = (cs.next(), value.chars().last()) {
                if first == last && (first == '"' || first == '\'') {
                    // One character: the same quote is both ends, leaving "".
                    let inner: String = if value.chars().count() == 1 {
                        String::new()
                    } else {
                        let n = value.chars().count();
                        value.chars().skip(1).take(n - 2).collect()
                    };
                    value = inner;
                }
            }
            if key.is_empty() {
                return Err(parse_error(file, lineno, "Key cannot be empty", line));
            }
            pending = Some((key, vec![value], lineno));
        }
    }
    flush(&mut ini, &section, &mut pending, file, lineno)?;
    Ok(ini)
}

/// One value of an option as nova receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfValue {
    /// The value after substitution.
    pub value: String,
    /// The value as written (after quote removal).
    pub raw: String,
    /// `[group] name` it was written under (a deprecated name shows as such).
    pub option: String,
    /// Where.
    pub loc: Loc,
}

/// A note about nova.conf that does not stop nova but changes what it does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfNote {
    /// A stable id (`conf.deprecated_name`, `conf.ignored_option`, ...).
    pub id: String,
    /// Where.
    pub loc: Loc,
    /// What it means.
    pub message: String,
}

/// The options nova's PCI passthrough depends on, as nova would read them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NovaConf {
    /// `[pci] device_spec` values in nova's merged order (deprecated names first).
    pub device_spec: Vec<ConfValue>,
    /// `[pci] alias` values in nova's merged order.
    pub alias: Vec<ConfValue>,
    /// `[pci] report_in_placement`.
    pub report_in_placement: bool,
    /// `[filter_scheduler] pci_in_placement`.
    pub pci_in_placement: bool,
    /// `[filter_scheduler] enabled_filters` (the default when not set).
    pub enabled_filters: Vec<String>,
    /// Whether `enabled_filters` was set in a file (and where).
    pub enabled_filters_loc: Option<Loc>,
    /// `[filter_scheduler] available_filters`.
    pub available_filters: Vec<String>,
    /// Errors that stop nova loading an option (bad boolean, unknown `$name`).
    pub errors: Vec<ConfError>,
    /// Things that silently change what nova does.
    pub notes: Vec<ConfNote>,
}

/// The default `[filter_scheduler] enabled_filters`.
pub const DEFAULT_ENABLED_FILTERS: [&str; 5] = [
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
];

/// Filters removed from nova (a stale name stops the scheduler).
pub const REMOVED_FILTERS: [(&str, &str); 5] = [
    ("AvailabilityZoneFilter", "28.0.0"),
    ("RetryFilter", "23.0.0"),
    ("RamFilter", "19.0.0"),
    ("CoreFilter", "19.0.0"),
    ("DiskFilter", "19.0.0"),
];

fn registered(group: &str, name: &str) -> Option<(OptKind, Option<&'static str>)> {
    OPTIONS
        .iter()
        .find(|(g, n, _, _)| *g == group && *n == name)
        .map(|(_, _, k, d)| (*k, *d))
}

/// The names oslo.config reads an option under: its own, then its deprecated names in
/// the order nova declares them (from nova's registered options, never hand-written).
pub fn option_names(group: &str, name: &str) -> Vec<(&'static str, &'static str)> {
    let own = OPTIONS
        .iter()
        .find(|(g, n, _, _)| *g == group && *n == name)
        .map(|(g, n, _, _)| (*g, *n));
    own.into_iter()
        .chain(
            DEPRECATED
                .iter()
                .filter(|(g, n, _, _)| *g == group && *n == name)
                .map(|(_, _, dg, dn)| (*dg, *dn)),
        )
        .collect()
}

/// The option a deprecated name stands for (`("DEFAULT", "pci_alias")` gives
/// `("pci", "alias")`), `None` for a current or unknown name. `group` is compared
/// after oslo.config's normalisation ([`normalize_group`]).
pub fn deprecated_name_of(group: &str, name: &str) -> Option<(&'static str, &'static str)> {
    let g = normalize_group(group);
    DEPRECATED
        .iter()
        .find(|(_, _, dg, dn)| *dg == g && *dn == name)
        .map(|(g, n, _, _)| (*g, *n))
}

/// Python's `str()` of a list of strings.
fn py_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| text::repr_str(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// Reads options out of parsed files (in the order given on nova's command line).
pub struct Reader<'a> {
    files: &'a [IniFile],
}

impl<'a> Reader<'a> {
    /// A reader over files given in order (later files override earlier ones).
    pub fn new(files: &'a [IniFile]) -> Self {
        Reader { files }
    }

    /// Values of `(group, name)` in one file, in order.
    fn values_in(
        file: &'a IniFile,
        group: &str,
        name: &str,
    ) -> impl Iterator<Item = &'a Assignment> {
        let group = group.to_string();
        let name = name.to_string();
        file.assignments
            .iter()
            .filter(move |a| normalize_group(&a.section) == group && a.key == name)
    }

    /// oslo.config's multi-valued lookup: for each file (latest first) and each
    /// name (current, then deprecated), values are prepended, so deprecated names
    /// and earlier files come first.
    fn multi(&self, names: &[(&str, &str)]) -> Vec<&'a Assignment> {
        let mut out: Vec<&Assignment> = Vec::new();
        for f in self.files.iter().rev() {
            for (g, n) in names {
                let vals: Vec<&Assignment> = Self::values_in(f, g, n).collect();
                if !vals.is_empty() {
                    let mut merged = vals;
                    merged.extend(out);
                    out = merged;
                }
            }
        }
        out
    }

    /// Single-valued lookup: the last value in the latest file that has one.
    fn single(&self, names: &[(&str, &str)]) -> Option<&'a Assignment> {
        for f in self.files.iter().rev() {
            for (g, n) in names {
                if let Some(a) = Self::values_in(f, g, n).last() {
                    return Some(a);
                }
            }
        }
        None
    }

    /// The file oslo.config names in a value error: the last file with a section
    /// written exactly as the normalised group name (`[PCI]` gives none, so '').
    fn detail(&self, a: &Assignment) -> String {
        let g = normalize_group(&a.section);
        self.files
            .iter()
            .rev()
            .find(|f| f.sections.iter().any(|(s, _)| *s == g))
            .map(|f| f.name.clone())
            .unwrap_or_default()
    }

    /// The value oslo.config substitutes for `$key` seen in group `group`.
    fn lookup(&self, group: &str, key: &str, depth: usize) -> Result<String, SubstError> {
        let (g, n) = match key.split_once('.') {
            // oslo looks the group up by its exact name.
            Some((g, n)) => (g.to_string(), n.to_string()),
            None => (group.to_string(), key.to_string()),
        };
        if key.contains('.') && !OPTIONS.iter().any(|(og, ..)| *og == g) {
            return Err(SubstError::plain(format!("no such group [{g}]")));
        }
        let found = registered(&g, &n).map(|r| (g.clone(), n.clone(), r));
        let found = match found {
            Some(f) => f,
            None => match registered("DEFAULT", key) {
                Some(r) => ("DEFAULT".to_string(), key.to_string(), r),
                None => {
                    return Err(SubstError::plain(format!(
                        "no such option {key} in group [DEFAULT]"
                    )))
                }
            },
        };
        let (g, n, (kind, default)) = found;
        if depth > 20 {
            return Err(SubstError::plain(format!("substitution of ${key} loops")));
        }
        match kind {
            OptKind::Multi => {
                let vals = self.multi(&[(&g, &n)]);
                if vals.is_empty() {
                    return default
                        .map(str::to_string)
                        .ok_or_else(|| SubstError::plain(host_dependent(&n)));
                }
                let mut subbed = Vec::new();
                for a in &vals {
                    subbed.push(
                        self.subst(&a.value, &g, depth + 1)
                            .map_err(|e| e.within(&n, &self.detail(a)))?,
                    );
                }
                Ok(py_list(&subbed))
            }
            _ => match self.single(&[(&g, &n)]) {
                None => match default {
                    Some(d) if kind == OptKind::Str => self.subst(d, &g, depth + 1),
                    Some(d) => Ok(d.to_string()),
                    None => Err(SubstError::plain(host_dependent(&n))),
                },
                Some(a) => {
                    let v = self
                        .subst(&a.value, &g, depth + 1)
                        .map_err(|e| e.within(&n, &self.detail(a)))?;
                    Ok(match kind {
                        OptKind::Bool => match parse_bool(&v) {
                            Some(true) => "True".into(),
                            Some(false) => "False".into(),
                            None => {
                                return Err(SubstError::value(format!(
                                    "{}Unexpected boolean value {}",
                                    value_error_prefix(&n, &self.detail(a)),
                                    text::repr_str(&v)
                                )))
                            }
                        },
                        OptKind::List => py_list(&parse_list(&v)),
                        _ => v,
                    })
                }
            },
        }
    }

    /// oslo.config's `string.Template.safe_substitute` with option values; the
    /// error is oslo.config's message.
    pub fn substitute(&self, value: &str, group: &str) -> Result<String, String> {
        self.subst(value, group, 0).map_err(|e| e.message)
    }

    fn subst(&self, value: &str, group: &str, depth: usize) -> Result<String, SubstError> {
        let value = value.replace("\\$", "$$");
        let chars: Vec<char> = value.chars().collect();
        let mut out = String::with_capacity(value.len());
        let mut i = 0;
        let id_start = |c: char| {
            c == '_' || c.is_ascii_alphabetic() || "\u{131}\u{17f}\u{212a}\u{130}".contains(c)
        };
        let id_cont = |c: char| id_start(c) || c == '.' || c.is_ascii_digit();
        while i < chars.len() {
            let c = chars[i];
            if c != '$' {
                out.push(c);
                i += 1;
                continue;
            }
            match chars.get(i + 1) {
                Some('$') => {
                    out.push('$');
                    i += 2;
                }
                Some(&n) if id_start(n) => {
                    let mut j = i + 1;
                    while j < chars.len() && id_cont(chars[j]) {
                        j += 1;
                    }
                    let key: String = chars[i + 1..j].iter().collect();
                    out.push_str(&self.lookup(group, &key, depth)?);
                    i = j;
                }
                Some('{') if chars.get(i + 2).is_some_and(|c| id_start(*c)) => {
                    let mut j = i + 2;
                    while j < chars.len() && id_cont(chars[j]) {
                        j += 1;
                    }
                    if chars.get(j) == Some(&'}') {
                        let key: String = chars[i + 2..j].iter().collect();
                        out.push_str(&self.lookup(group, &key, depth)?);
                        i = j + 1;
                    } else {
                        out.push('$');
                        i += 1;
                    }
                }
                _ => {
                    // `$` not followed by a name stays as it is.
                    out.push('$');
                    i += 1;
                }
            }
        }
        Ok(out)
    }
}

/// A substitution failure: oslo's message, and whether it is a `ValueError`
/// (a bad value of a referenced option), which the reading option wraps again.
#[derive(Debug)]
struct SubstError {
    message: String,
    value_error: bool,
}

impl SubstError {
    fn plain(message: String) -> Self {
        SubstError {
            message,
            value_error: false,
        }
    }
    fn value(message: String) -> Self {
        SubstError {
            message,
            value_error: true,
        }
    }
    /// The error as the option being read reports it.
    fn within(self, name: &str, detail: &str) -> Self {
        if self.value_error {
            SubstError::value(format!(
                "{}{}",
                value_error_prefix(name, detail),
                self.message
            ))
        } else {
            self
        }
    }
}

/// oslo.config's `ConfigFileValueError` text up to the reason.
fn value_error_prefix(name: &str, detail: &str) -> String {
    format!(
        "Value for option {name} from LocationInfo(location=<Locations.user: (4, True)>, detail={}) is not valid: ",
        text::repr_str(detail)
    )
}

fn host_dependent(name: &str) -> String {
    format!("${name} is nova's default, which depends on the host nova runs on; passthru cannot substitute it")
}

/// oslo.config's `Boolean` type: `true/1/on/yes`, `false/0/off/no`, any case.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Some(true),
        "false" | "0" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// oslo.config's `List` type of strings.
pub fn parse_list(v: &str) -> Vec<String> {
    let s = text::strip(v).trim_end_matches(',');
    if s.is_empty() {
        return Vec::new();
    }
    s.split(',').map(|x| text::strip(x).to_string()).collect()
}

fn option_name(a: &Assignment) -> String {
    format!("[{}] {}", a.section, a.key)
}

/// Known option names in the groups passthru reads, for "did you mean" notes.
const WATCHED: [(&str, &str); 6] = [
    ("pci", "device_spec"),
    ("pci", "alias"),
    ("pci", "report_in_placement"),
    ("filter_scheduler", "enabled_filters"),
    ("filter_scheduler", "available_filters"),
    ("filter_scheduler", "pci_in_placement"),
];

impl NovaConf {
    /// Reads the PCI-related options from parsed files, in command-line order.
    pub fn from_files(files: &[IniFile]) -> NovaConf {
        let r = Reader::new(files);
        let mut conf = NovaConf::default();
        let subst_multi = |names: &[(&str, &str)], conf: &mut NovaConf| -> Vec<ConfValue> {
            let mut out = Vec::new();
            for a in r.multi(names) {
                match r
                    .subst(&a.value, "pci", 0)
                    .map_err(|e| e.within(names[0].1, &r.detail(a)).message)
                {
                    Ok(v) => out.push(ConfValue {
                        value: v,
                        raw: a.value.clone(),
                        option: option_name(a),
                        loc: a.loc.clone(),
                    }),
                    Err(m) => conf.errors.push(ConfError {
                        loc: a.loc.clone(),
                        option: Some(option_name(a)),
                        message: m,
                    }),
                }
            }
            out
        };
        conf.device_spec = subst_multi(&option_names("pci", "device_spec"), &mut conf);
        conf.alias = subst_multi(&option_names("pci", "alias"), &mut conf);

        let read_bool = |group: &str, name: &str, conf: &mut NovaConf| -> bool {
            let Some(a) = r.single(&[(group, name)]) else {
                return false;
            };
            match r
                .subst(&a.value, group, 0)
                .map_err(|e| e.within(name, &r.detail(a)).message)
            {
                Ok(v) => match parse_bool(&v) {
                    Some(b) => b,
                    None => {
                        conf.errors.push(ConfError {
                            loc: a.loc.clone(),
                            option: Some(option_name(a)),
                            message: format!(
                                "{}Unexpected boolean value {}",
                                value_error_prefix(name, &r.detail(a)),
                                text::repr_str(&v)
                            ),
                        });
                        false
                    }
                },
                Err(m) => {
                    conf.errors.push(ConfError {
                        loc: a.loc.clone(),
                        option: Some(option_name(a)),
                        message: m,
                    });
                    false
                }
            }
        };
        conf.report_in_placement = read_bool("pci", "report_in_placement", &mut conf);
        conf.pci_in_placement = read_bool("filter_scheduler", "pci_in_placement", &mut conf);

        conf.enabled_filters = DEFAULT_ENABLED_FILTERS
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Some(a) = r.single(&[("filter_scheduler", "enabled_filters")]) {
            conf.enabled_filters_loc = Some(a.loc.clone());
            match r
                .subst(&a.value, "filter_scheduler", 0)
                .map_err(|e| e.within("enabled_filters", &r.detail(a)).message)
            {
                Ok(v) => conf.enabled_filters = parse_list(&v),
                Err(m) => conf.errors.push(ConfError {
                    loc: a.loc.clone(),
                    option: Some(option_name(a)),
                    message: m,
                }),
            }
        }
        let avail = r.multi(&[("filter_scheduler", "available_filters")]);
        conf.available_filters = if avail.is_empty() {
            vec!["nova.scheduler.filters.all_filters".to_string()]
        } else {
            avail.iter().map(|a| a.value.clone()).collect()
        };
        conf.notes = notes(files);
        conf
    }

    /// Reads the nova.conf text among a host's facts (named `/PATH` in messages).
    pub fn from_facts(f: &crate::host::system::NovaConf) -> Result<NovaConf, ConfError> {
        NovaConf::parse(&[(&format!("/{}", f.path), &f.text)])
    }

    /// Parses files given as `(name, text)` and reads them.
    pub fn parse(files: &[(&str, &str)]) -> Result<NovaConf, ConfError> {
        let parsed: Result<Vec<IniFile>, ConfError> =
            files.iter().map(|(n, t)| parse_ini(n, t)).collect();
        Ok(NovaConf::from_files(&parsed?))
    }
}

fn notes(files: &[IniFile]) -> Vec<ConfNote> {
    let mut out = Vec::new();
    let mut note = |id: &str, loc: &Loc, message: String| {
        out.push(ConfNote {
            id: id.to_string(),
            loc: loc.clone(),
            message,
        })
    };
    for f in files {
        for (s, line) in &f.sections {
            let norm = normalize_group(s);
            let loc = Loc {
                file: f.name.clone(),
                line: *line,
            };
            let trimmed = text::strip(s).to_lowercase();
            if norm != "DEFAULT" && trimmed == "default" {
                note("conf.section_default_case", &loc, format!(
                    "section [{s}] is not [DEFAULT]: oslo.config matches DEFAULT case-sensitively, so nothing in it is read"
                ));
            } else if norm != trimmed && (trimmed == "pci" || trimmed == "filter_scheduler") {
                note("conf.section_spaces", &loc, format!(
                    "section [{s}] has spaces inside the brackets, so it is not [{trimmed}] and nothing in it is read"
                ));
            }
        }
        for a in &f.assignments {
            let g = normalize_group(&a.section);
            let msg = match (deprecated_name_of(&a.section, &a.key), g.as_str(), a.key.as_str()) {
                (Some(("pci", "device_spec")), _, _) => Some((
                    "conf.deprecated_name",
                    format!("[{}] {} is a deprecated name of [pci] device_spec; its values are used before every [pci] device_spec value, whatever the order in the file (first match wins)", a.section, a.key),
                )),
                (Some(("pci", "alias")), _, _) => Some((
                    "conf.deprecated_name",
                    format!("[{}] {} is a deprecated name of [pci] alias; its values come first", a.section, a.key),
                )),
                (_, "DEFAULT", "scheduler_default_filters") => Some((
                    "conf.scheduler_default_filters_ignored",
                    "[DEFAULT] scheduler_default_filters was removed in nova 24.0.0 (Xena) and is ignored: set [filter_scheduler] enabled_filters".to_string(),
                )),
                (_, "DEFAULT", "scheduler_available_filters") => Some((
                    "conf.scheduler_available_filters_ignored",
                    "[DEFAULT] scheduler_available_filters was removed and is ignored: the option is [filter_scheduler] available_filters (its default already includes PciPassthroughFilter)".to_string(),
                )),
                _ => None,
            };
            if let Some((id, m)) = msg {
                note(id, &a.loc, m);
                continue;
            }
            if (g == "pci" || g == "filter_scheduler") && registered(&g, &a.key).is_none() {
                let near = WATCHED
                    .iter()
                    .filter(|(wg, _)| *wg == g)
                    .map(|(_, n)| *n)
                    .find(|n| strsim::damerau_levenshtein(n, &a.key) <= 2);
                let hint = near
                    .map(|n| format!("; did you mean {n}?"))
                    .unwrap_or_default();
                note(
                    "conf.unknown_option",
                    &a.loc,
                    format!(
                        "[{}] {} is not a nova option and is ignored{hint}",
                        a.section, a.key
                    ),
                );
            }
            if a.value.contains('#')
                && (a.key.contains("device_spec")
                    || a.key.contains("alias")
                    || a.key.contains("whitelist"))
            {
                note(
                    "conf.inline_comment",
                    &a.loc,
                    format!(
                        "[{}] {}: '#' is part of the value (oslo.config has no inline comments)",
                        a.section, a.key
                    ),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(t: &str) -> NovaConf {
        NovaConf::parse(&[("nova.conf", t)]).unwrap()
    }

    fn values(v: &[ConfValue]) -> Vec<&str> {
        v.iter().map(|c| c.value.as_str()).collect()
    }

    #[test]
    fn deprecated_names_merge_first() {
        let c = conf(
            "[pci]\ndevice_spec = {\"a\": 1}\npassthrough_whitelist = {\"b\": 2}\n[DEFAULT]\npci_passthrough_whitelist = {\"c\": 3}\n[pci]\ndevice_spec: {\"d\": 4}\n",
        );
        assert_eq!(
            values(&c.device_spec),
            ["{\"c\": 3}", "{\"b\": 2}", "{\"a\": 1}", "{\"d\": 4}"]
        );
        assert_eq!(
            c.device_spec[0].option,
            "[DEFAULT] pci_passthrough_whitelist"
        );
        assert_eq!(c.device_spec[0].loc.line, 5);
        assert!(c.notes.iter().any(|n| n.id == "conf.deprecated_name"));
    }

    #[test]
    fn quotes_continuations_and_comments() {
        let c = conf("[PCI]\nalias = '{\"name\": \"a\"}'\nalias = \"{\"x\"}\"\nalias = {\"a\":\n   1}\n\nalias = {} # nic\n");
        assert_eq!(
            values(&c.alias),
            ["{\"name\": \"a\"}", "{\"x\"}", "{\"a\":\n1}", "{} # nic"]
        );
        assert!(c.notes.iter().any(|n| n.id == "conf.inline_comment"));
    }

    #[test]
    fn dollar_substitution() {
        let c = conf("[pci]\ndevice_spec = {\"address\": {\"bus\": \"0a$$\"}} $\ndevice_spec = a\\$b ${pci.report_in_placement}x\n");
        assert_eq!(
            c.device_spec[0].value,
            "{\"address\": {\"bus\": \"0a$\"}} $"
        );
        assert_eq!(c.device_spec[1].value, "a$b Falsex");
        let host = conf("[pci]\ndevice_spec = $state_path\n");
        assert!(host.errors[0].message.contains("depends on the host"));
        let bad = conf("[pci]\ndevice_spec = {\"bus\": \"$bus\"}\n");
        assert!(bad.device_spec.is_empty());
        assert_eq!(
            bad.errors[0].message,
            "no such option bus in group [DEFAULT]"
        );
        assert_eq!(bad.errors[0].loc.line, 2);
        let sub = conf("[pci]\nreport_in_placement = yes\ndevice_spec = $report_in_placement\n");
        assert_eq!(sub.device_spec[0].value, "True");
    }

    #[test]
    fn booleans_and_filters() {
        let c = conf("[pci]\nreport_in_placement = On\n[filter_scheduler]\nenabled_filters = A, B ,PciPassthroughFilter,\npci_in_placement = t\n");
        assert!(c.report_in_placement);
        assert_eq!(c.enabled_filters, ["A", "B", "PciPassthroughFilter"]);
        assert!(!c.pci_in_placement);
        assert_eq!(
            c.errors[0].message,
            "Value for option pci_in_placement from LocationInfo(location=<Locations.user: (4, True)>, detail='nova.conf') is not valid: Unexpected boolean value 't'"
        );
        let d = conf("[DEFAULT]\nscheduler_default_filters = PciPassthroughFilter\n");
        assert_eq!(d.enabled_filters, DEFAULT_ENABLED_FILTERS);
        assert!(d
            .notes
            .iter()
            .any(|n| n.id == "conf.scheduler_default_filters_ignored"));
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let e = NovaConf::parse(&[("/etc/nova/nova.conf", "[pci]\ndevice_spec\n")]).unwrap_err();
        assert_eq!(e.loc.line, 2);
        assert_eq!(
            e.message,
            "Failed to parse /etc/nova/nova.conf: at /etc/nova/nova.conf:2, No ':' or '=' found in assignment: 'device_spec'"
        );
        let e = NovaConf::parse(&[("n", "a = 1\n")]).unwrap_err();
        assert!(e
            .message
            .contains("Section must be started before assignment"));
        let e = NovaConf::parse(&[("n", "[pci] # x\n")]).unwrap_err();
        assert!(e.message.contains("Invalid section (must end with ])"));
        let e = NovaConf::parse(&[("n", "  x\n")]).unwrap_err();
        assert!(e.message.contains("Unexpected continuation line"));
    }

    #[test]
    fn default_section_is_case_sensitive() {
        let c = conf("[default]\npci_passthrough_whitelist = {}\n");
        assert!(c.device_spec.is_empty());
        assert!(c.notes.iter().any(|n| n.id == "conf.section_default_case"));
    }
}
