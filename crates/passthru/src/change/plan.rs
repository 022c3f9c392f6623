//! Plans: what a change will do, as data.
//!
//! A planner (a pure function of host facts and a desired state) returns a [`Plan`]:
//! the [`Precondition`]s the executor re-checks right before it starts, the ordered
//! [`Step`]s (each one [`Action`] and why it is there), and the [`Expect`]ations the
//! host must meet afterwards for the change to have converged. Only the executor
//! performs actions. A plan renders as text for people and as JSON (`--json`).

use crate::pci::PciAddress;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Gives a file's bytes (path relative to the root), `None` when absent or unreadable.
pub type FileReader<'a> = dyn Fn(&str) -> Option<Vec<u8>> + 'a;

/// One thing the executor does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Write a value to a sysfs attribute in one `write()`, as `echo VALUE > PATH` does.
    /// An empty value writes a lone newline (clears `driver_override`).
    WriteAttr {
        /// Path relative to the root (`sys/bus/pci/devices/0000:06:00.0/sriov_numvfs`).
        path: String,
        /// The value, without the newline.
        value: String,
    },
    /// Create or replace a file (written to a temporary file, then renamed over it).
    WriteFile {
        /// Path relative to the root.
        path: String,
        /// The new contents.
        contents: Contents,
        /// Permission bits for a new file (an existing file keeps its own).
        mode: u32,
    },
    /// Delete a file (nothing to do when it is already absent).
    DeleteFile {
        /// Path relative to the root.
        path: String,
    },
    /// Remove a directory if it is empty (one a change set created; undo removes it).
    RemoveDir {
        /// Path relative to the root.
        path: String,
    },
    /// Run a command (boot loader, initramfs and service tools).
    Run(Command),
    /// Wait until a condition holds on the host, or a timeout passes.
    Wait {
        /// What to wait for.
        condition: Condition,
        /// Seconds before giving up.
        timeout_secs: u64,
        /// Whether a timeout fails the change set (and rolls it back) or only warns.
        required: bool,
    },
}

/// New contents of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Contents {
    /// Text given in the plan.
    Text(String),
    /// The bytes of a backup saved in a journal (used by undo and rollback), as a path
    /// relative to the root.
    Backup(String),
}

/// A command to run, with how to undo it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Program name (looked up in PATH on `/`, inside the root otherwise).
    pub program: String,
    /// Arguments.
    pub args: Vec<String>,
    /// What undoing it means.
    pub undo: UndoCommand,
}

/// How a command is undone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UndoCommand {
    /// Run the same command again once the files it reads are restored
    /// (`update-grub`, `dracut --force`).
    Rerun,
    /// Run this other command (`systemctl disable` undoes `systemctl enable`).
    Run {
        /// Program.
        program: String,
        /// Arguments.
        args: Vec<String>,
    },
    /// Nothing to undo.
    Nothing,
}

impl Command {
    /// A command that is undone by running it again after files are restored.
    pub fn rerun(program: &str, args: &[&str]) -> Self {
        Command {
            program: program.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
            undo: UndoCommand::Rerun,
        }
    }

    /// The file this command regenerates, when it is a small text file passthru can
    /// keep (relative to the root): the `grub.cfg` of `grub2-mkconfig -o`,
    /// `grub-mkconfig -o` and `update-grub`. The executor journals its bytes, so undo
    /// puts them back exactly rather than generating them again.
    pub fn output_file(&self) -> Option<String> {
        match self.program.as_str() {
            "grub2-mkconfig" | "grub-mkconfig" => {
                let i = self.args.iter().position(|a| a == "-o")?;
                let p = self.args.get(i + 1)?.trim_start_matches('/');
                (!p.is_empty()).then(|| p.to_string())
            }
            "update-grub" => Some("boot/grub/grub.cfg".into()),
            _ => None,
        }
    }

    /// The command line as one string, for people.
    pub fn line(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(shell_word)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quotes a word for display the way a shell would need it.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Something the executor waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// The PF lists exactly `count` VFs (`virtfnN` links) and each VF's directory exists.
    VfsPresent {
        /// The PF.
        pf: PciAddress,
        /// How many.
        count: u32,
    },
    /// Every VF of the PF that a driver holds has its network interface.
    VfNetdevs {
        /// The PF.
        pf: PciAddress,
    },
    /// The device is bound as given.
    Driver {
        /// The device.
        device: PciAddress,
        /// What must hold it.
        driver: DriverState,
    },
}

/// Which driver must hold a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "driver", rename_all = "snake_case")]
pub enum DriverState {
    /// Exactly this driver.
    Bound(String),
    /// Any driver except vfio-pci (back on the host).
    Host,
    /// Off vfio-pci: on a host driver, or on none when no loaded driver claims it
    /// (what `bind --host` can promise).
    Released,
    /// No driver at all.
    Unbound,
}

impl DriverState {
    /// Whether a device's current driver satisfies this.
    pub fn holds(&self, driver: Option<&str>) -> bool {
        match self {
            DriverState::Bound(d) => driver.is_some_and(|x| same_driver(x, d)),
            DriverState::Host => driver.is_some_and(|x| !same_driver(x, "vfio-pci")),
            DriverState::Released => !driver.is_some_and(|x| same_driver(x, "vfio-pci")),
            DriverState::Unbound => driver.is_none(),
        }
    }
}

impl std::fmt::Display for DriverState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverState::Bound(d) => write!(f, "bound to {d}"),
            DriverState::Host => write!(f, "bound to a host driver"),
            DriverState::Released => write!(f, "off vfio-pci"),
            DriverState::Unbound => write!(f, "unbound"),
        }
    }
}

/// Driver names compare with `-` and `_` as the same character, as module names do.
pub fn same_driver(a: &str, b: &str) -> bool {
    a.replace('_', "-") == b.replace('_', "-")
}

/// A fact the executor re-checks right before the first step: if the host moved
/// since the plan was made, nothing is done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Precondition {
    /// A sysfs attribute still holds this value (trimmed).
    AttrEquals {
        /// Path relative to the root.
        path: String,
        /// The value.
        value: String,
    },
    /// A device is still bound as seen.
    Driver {
        /// The device.
        device: PciAddress,
        /// The driver seen, `None` when unbound.
        driver: Option<String>,
    },
    /// A file is still as read: absent (`None`), or with this length and FNV-1a hash.
    File {
        /// Path relative to the root.
        path: String,
        /// Length and hash, or `None` for "absent".
        state: Option<FileDigest>,
    },
    /// A path exists (a driver directory, a device).
    Exists {
        /// Path relative to the root.
        path: String,
    },
}

/// Length and 64-bit FNV-1a hash of a file's bytes: enough to notice an edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Length in bytes.
    pub len: u64,
    /// FNV-1a 64 of the bytes, hex.
    #[serde(with = "hex64")]
    pub fnv1a: u64,
}

impl FileDigest {
    /// The digest of some bytes.
    pub fn of(bytes: &[u8]) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        FileDigest {
            len: bytes.len() as u64,
            fnv1a: h,
        }
    }
}

mod hex64 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{v:016x}"))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        u64::from_str_radix(&s, 16).map_err(serde::de::Error::custom)
    }
}

/// What must hold after the change for it to have converged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expect {
    /// The PF has this many VFs (`sriov_numvfs` and VF devices).
    NumVfs {
        /// The PF.
        pf: PciAddress,
        /// How many.
        count: u32,
    },
    /// The device is bound as given.
    Driver {
        /// The device.
        device: PciAddress,
        /// How.
        driver: DriverState,
    },
    /// The device's `driver_override` is this (`None`: cleared).
    Override {
        /// The device.
        device: PciAddress,
        /// The override.
        value: Option<String>,
    },
    /// A file holds exactly these bytes (`None`: absent).
    File {
        /// Path relative to the root.
        path: String,
        /// Digest of the expected contents, or `None` for "absent".
        state: Option<FileDigest>,
    },
    /// A command was run (or skipped under a fake root).
    Ran {
        /// The command line.
        command: String,
    },
}

impl Expect {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Expect::NumVfs { pf, count } => format!("{pf} has {count} VFs"),
            Expect::Driver { device, driver } => format!("{device} is {driver}"),
            Expect::Override { device, value } => match value {
                Some(v) => format!("{device} has driver_override {v}"),
                None => format!("{device} has no driver_override"),
            },
            Expect::File { path, state } => match state {
                Some(_) => format!("{path} holds the planned contents"),
                None => format!("{path} is absent"),
            },
            Expect::Ran { command } => format!("`{command}` ran"),
        }
    }
}

/// One step: an action and why it is there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What to do.
    pub action: Action,
    /// Why, for people.
    pub why: String,
}

/// A plan: preconditions, ordered steps, expectations and notes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// One line: what this change does.
    pub title: String,
    /// Re-checked right before the first step.
    pub preconditions: Vec<Precondition>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// What must hold afterwards.
    pub expect: Vec<Expect>,
    /// Facts the user should know (nothing to do, a reboot is needed...).
    pub notes: Vec<String>,
    /// Risks accepted with `--force`, and other warnings.
    pub warnings: Vec<String>,
    /// Whether the change only takes effect after a reboot.
    pub reboot_required: bool,
    /// Work that can only be planned once this plan has run (bindings of VFs that do
    /// not exist yet); the command plans it again from fresh facts.
    pub deferred: Vec<String>,
    /// Parts of the desired state left out, and why (at boot, a host file entry that
    /// matches nothing is skipped so the rest still applies). A change that skipped
    /// something exits 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

impl Plan {
    /// A plan with a title and nothing else.
    pub fn new(title: impl Into<String>) -> Self {
        Plan {
            title: title.into(),
            ..Plan::default()
        }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Appends a step.
    pub fn step(&mut self, action: Action, why: impl Into<String>) {
        self.steps.push(Step {
            action,
            why: why.into(),
        });
    }

    /// Appends another plan's parts after this one's (titles joined with `; `).
    pub fn extend(&mut self, other: Plan) {
        if !other.title.is_empty() {
            if self.title.is_empty() {
                self.title = other.title;
            } else if !other.is_empty() || !other.deferred.is_empty() {
                self.title = format!("{}; {}", self.title, other.title);
            }
        }
        for p in other.preconditions {
            if !self.preconditions.contains(&p) {
                self.preconditions.push(p);
            }
        }
        self.steps.extend(other.steps);
        self.expect.extend(other.expect);
        self.notes.extend(other.notes);
        self.warnings.extend(other.warnings);
        self.reboot_required |= other.reboot_required;
        self.deferred.extend(other.deferred);
        self.skipped.extend(other.skipped);
    }

    /// The plan as text for people, numbered steps with their reasons.
    pub fn render_text(&self) -> String {
        self.render(None)
    }

    /// The plan as text, each step that edits a file followed by the unified diff of
    /// that file. `current` gives a file's bytes now (path relative to the root; `None`
    /// when absent); steps that edit the same file twice diff against the step before.
    /// A file `current` cannot give (no reader, not text) shows no diff.
    pub fn render_text_with(&self, current: &FileReader<'_>) -> String {
        self.render(Some(current))
    }

    fn render(&self, current: Option<&FileReader<'_>>) -> String {
        // What each file holds after the steps so far: later steps diff against it.
        let mut seen: std::collections::HashMap<String, Option<String>> = Default::default();
        let mut s = String::new();
        let _ = writeln!(s, "Plan: {}", self.title);
        for w in &self.warnings {
            let _ = writeln!(s, "  warning: {w}");
        }
        for k in &self.skipped {
            let _ = writeln!(s, "  skipped: {k}");
        }
        if self.steps.is_empty() {
            let _ = writeln!(s, "  nothing to do: the host is already as asked");
        }
        for (i, st) in self.steps.iter().enumerate() {
            let _ = writeln!(s, "  {:>2}. {}", i + 1, describe_action(&st.action));
            if !st.why.is_empty() {
                let _ = writeln!(s, "      {}", st.why);
            }
            if let Some(d) = current.and_then(|c| step_diff(&st.action, c, &mut seen)) {
                for l in d.lines() {
                    let _ = writeln!(s, "      {l}");
                }
            }
        }
        for d in &self.deferred {
            let _ = writeln!(s, "  then: {d}");
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        if self.reboot_required {
            let _ = writeln!(s, "  a reboot is needed for this to take effect");
        }
        s
    }
}

/// The unified diff a file step makes, given what files hold now; updates `seen` with
/// the file's contents after the step. `None` for steps that edit no file, and for
/// files whose contents are not known or not text.
fn step_diff(
    a: &Action,
    current: &FileReader<'_>,
    seen: &mut std::collections::HashMap<String, Option<String>>,
) -> Option<String> {
    let text = |b: Vec<u8>| String::from_utf8(b).ok();
    let (path, new) = match a {
        Action::WriteFile { path, contents, .. } => {
            let new = match contents {
                Contents::Text(t) => t.clone(),
                Contents::Backup(b) => text(current(b)?)?,
            };
            (path, Some(new))
        }
        Action::DeleteFile { path } => (path, None),
        _ => return None,
    };
    let old = match seen.get(path) {
        Some(o) => o.clone(),
        None => match current(path) {
            Some(b) => Some(text(b)?),
            None => None,
        },
    };
    seen.insert(path.clone(), new.clone());
    unified_diff(path, old.as_deref(), new.as_deref())
}

/// The unified diff (`diff -u` style, 3 lines of context) between a file's old and new
/// contents (`None`: absent); `None` when they are the same.
pub fn unified_diff(path: &str, old: Option<&str>, new: Option<&str>) -> Option<String> {
    if old == new {
        return None;
    }
    let (a, b) = (old.unwrap_or(""), new.unwrap_or(""));
    let from = if old.is_some() {
        format!("a/{path}")
    } else {
        "/dev/null".to_string()
    };
    let to = if new.is_some() {
        format!("b/{path}")
    } else {
        "/dev/null".to_string()
    };
    let d = similar::TextDiff::from_lines(a, b);
    let mut u = d.unified_diff();
    let s = u.context_radius(3).header(&from, &to).to_string();
    (!s.is_empty()).then_some(s)
}

/// One line describing an action.
pub fn describe_action(a: &Action) -> String {
    match a {
        Action::WriteAttr { path, value } => {
            if value.is_empty() {
                format!("clear {path}")
            } else {
                format!("write {value} to {path}")
            }
        }
        Action::WriteFile { path, contents, .. } => match contents {
            Contents::Text(t) => format!("write {path} ({} bytes)", t.len()),
            Contents::Backup(b) => format!("restore {path} from {b}"),
        },
        Action::DeleteFile { path } => format!("delete {path}"),
        Action::RemoveDir { path } => format!("remove the directory {path} if empty"),
        Action::Run(c) => format!("run {}", c.line()),
        Action::Wait {
            condition,
            timeout_secs,
            ..
        } => format!(
            "wait up to {timeout_secs}s until {}",
            describe_condition(condition)
        ),
    }
}

/// One line describing a condition.
pub fn describe_condition(c: &Condition) -> String {
    match c {
        Condition::VfsPresent { pf, count } => format!("{pf} shows {count} VFs"),
        Condition::VfNetdevs { pf } => format!("every bound VF of {pf} has its network interface"),
        Condition::Driver { device, driver } => format!("{device} is {driver}"),
    }
}

/// Path of a device's attribute.
pub fn dev_attr(dev: &PciAddress, attr: &str) -> String {
    format!("sys/bus/pci/devices/{dev}/{attr}")
}

/// Path of a driver's control file (`bind`, `unbind`, `new_id`).
pub fn driver_attr(driver: &str, attr: &str) -> String {
    format!("sys/bus/pci/drivers/{driver}/{attr}")
}

/// `sys/bus/pci/drivers_probe`.
pub const DRIVERS_PROBE: &str = "sys/bus/pci/drivers_probe";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_render_and_round_trip_as_json() {
        let pf = PciAddress::parse("0000:06:00.0").unwrap();
        let mut p = Plan::new("set VFs");
        p.step(
            Action::WriteAttr {
                path: dev_attr(&pf, "sriov_numvfs"),
                value: "4".into(),
            },
            "create 4 VFs",
        );
        p.step(
            Action::Run(Command::rerun(
                "grub2-mkconfig",
                &["-o", "/boot/grub2/grub.cfg"],
            )),
            "",
        );
        p.step(
            Action::Wait {
                condition: Condition::VfsPresent { pf, count: 4 },
                timeout_secs: 60,
                required: true,
            },
            "",
        );
        p.reboot_required = true;
        let t = p.render_text();
        assert!(t.contains(" 1. write 4 to sys/bus/pci/devices/0000:06:00.0/sriov_numvfs"));
        assert!(t.contains("run grub2-mkconfig -o /boot/grub2/grub.cfg"));
        assert!(t.contains("wait up to 60s until 0000:06:00.0 shows 4 VFs"));
        assert!(t.contains("reboot is needed"));
        let j = serde_json::to_string(&p).unwrap();
        assert!(j.contains(r#""kind":"write_attr""#), "{j}");
        let back: Plan = serde_json::from_str(&j).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn file_steps_show_their_unified_diff_against_the_file_before() {
        let mut p = Plan::new("edit");
        let w = |path: &str, t: &str| Action::WriteFile {
            path: path.into(),
            contents: Contents::Text(t.into()),
            mode: 0o644,
        };
        p.step(
            w("etc/default/grub", "A=1\nB=\"quiet intel_iommu=on\"\nC=3\n"),
            "",
        );
        p.step(w("etc/new.conf", "x\n"), "");
        p.step(w("etc/new.conf", "y\n"), "");
        p.step(
            Action::DeleteFile {
                path: "etc/gone".into(),
            },
            "",
        );
        p.step(
            Action::WriteFile {
                path: "etc/default/grub".into(),
                contents: Contents::Backup("var/backup/grub".into()),
                mode: 0o644,
            },
            "",
        );
        let files = |path: &str| -> Option<Vec<u8>> {
            match path {
                "etc/default/grub" => Some(b"A=1\nB=\"quiet\"\nC=3\n".to_vec()),
                "etc/gone" => Some(b"old\n".to_vec()),
                "var/backup/grub" => Some(b"A=1\n".to_vec()),
                _ => None,
            }
        };
        let t = p.render_text_with(&files);
        assert!(
            t.contains("      --- a/etc/default/grub\n      +++ b/etc/default/grub\n"),
            "{t}"
        );
        assert!(
            t.contains("      -B=\"quiet\"\n      +B=\"quiet intel_iommu=on\"\n"),
            "{t}"
        );
        assert!(t.contains("       C=3\n"), "{t}");
        // A new file diffs against nothing; its second write against the first.
        assert!(
            t.contains("      --- /dev/null\n      +++ b/etc/new.conf"),
            "{t}"
        );
        assert!(t.contains("      -x\n      +y\n"), "{t}");
        assert!(
            t.contains("      --- a/etc/gone\n      +++ /dev/null"),
            "{t}"
        );
        // The restore diffs the backup against the file as step 1 left it.
        assert!(
            t.contains("      -B=\"quiet intel_iommu=on\"\n      -C=3\n"),
            "{t}"
        );
        // Without a reader, no diff.
        assert!(!p.render_text().contains("+++"));
        assert_eq!(unified_diff("f", Some("a\n"), Some("a\n")), None);
    }

    #[test]
    fn digests_tell_contents_apart_and_print_as_hex() {
        let a = FileDigest::of(b"GRUB_CMDLINE_LINUX=\"quiet\"\n");
        let b = FileDigest::of(b"GRUB_CMDLINE_LINUX=\"quiet intel_iommu=on\"\n");
        assert_ne!(a, b);
        assert_eq!(FileDigest::of(b"").fnv1a, 0xcbf2_9ce4_8422_2325);
        let j = serde_json::to_string(&a).unwrap();
        assert!(j.contains(&format!("{:016x}", a.fnv1a)));
        assert_eq!(serde_json::from_str::<FileDigest>(&j).unwrap(), a);
    }

    #[test]
    fn driver_states_compare_module_style() {
        assert!(DriverState::Bound("vfio-pci".into()).holds(Some("vfio_pci")));
        assert!(DriverState::Host.holds(Some("igbvf")));
        assert!(!DriverState::Host.holds(Some("vfio-pci")));
        assert!(!DriverState::Host.holds(None));
        assert!(DriverState::Released.holds(None));
        assert!(DriverState::Released.holds(Some("nouveau")));
        assert!(!DriverState::Released.holds(Some("vfio_pci")));
        assert!(DriverState::Unbound.holds(None));
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("--args=intel_iommu=on"), "--args=intel_iommu=on");
    }
}
