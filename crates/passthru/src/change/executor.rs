//! The executor: the only code in passthru that writes to a host.
//!
//! It performs a [`Plan`] against a root (the real `/`, a fake tree, the simulator):
//! re-checks the preconditions, records the devices' state, then for each step saves
//! what it is about to replace into the change set's journal
//! (`var/lib/passthru/journal/ID/`) before doing it, and the outcome after. When a
//! step fails it rolls back what the change set already did (files byte for byte, VF
//! counts, bindings, commands re-run) and says so. Afterwards it re-reads the host
//! and reports whether the plan's expectations hold (convergence).
//!
//! Commands (`update-grub`, `dracut`, `systemctl`...) run as they are on `/`. Under
//! another root they run only if the root holds the program (in `usr/sbin`,
//! `usr/bin`, `sbin`, `bin`, `usr/local/...`), with `PASSTHRU_ROOT=ROOT` in their
//! environment and the root as working directory, so a test double can act on the
//! tree; otherwise the step is skipped with a note.

use crate::change::errno::{explain, ErrnoContext, Explanation, WriteKind};
use crate::change::journal::{
    id_for, plan_undo, utc_timestamp, ChangeSet, DeviceState, JournalStep, Replaced,
    RollbackRecord, SavedFile, Status, StepStatus, TouchedNow, UndoOptions, JOURNAL_DIR,
};
use crate::change::plan::{
    describe_action, describe_condition, Action, Command, Condition, Contents, DriverState, Expect,
    FileDigest, Plan, Precondition,
};
use crate::change::ChangeError;
use crate::host::change_facts::ChangeFacts;
use crate::host::model::Host;
use crate::host::root::Root;
use crate::host::sources::change_facts::{read_change_facts, TOOL_DIRS};
use crate::host::sources::journal::{read_boot_id, read_change_sets};
use crate::host::sources::sysfs::{read_open_root, ReadOptions};
use crate::pci::PciAddress;
use serde::Serialize;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why the executor could not start or keep its journal.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The root cannot be opened.
    #[error("cannot open the root {path}: {source}")]
    Root {
        /// The root.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The journal cannot be written: nothing is changed without one.
    #[error("cannot write the journal {path}: {source} (nothing was changed)")]
    Journal {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Reading the host failed.
    #[error(transparent)]
    Read(#[from] crate::Error),
    /// Another passthru change is running on this root.
    #[error("another passthru change is running on this host (it holds {path}); nothing was changed, try again when it is done")]
    Busy {
        /// The lock file.
        path: PathBuf,
    },
}

/// The lock every change set holds, relative to the root.
pub const LOCK: &str = "var/lib/passthru/lock";

/// A failed step, explained.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// 1-based step number (in the round that failed).
    pub step: usize,
    /// The action, as text.
    pub action: String,
    /// What went wrong.
    pub message: String,
    /// The kernel's answer, decoded, for sysfs writes.
    pub explanation: Option<Explanation>,
}

/// One step's outcome, for reports.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    /// The action, as text.
    pub action: String,
    /// How far it got.
    pub status: StepStatus,
    /// A note.
    pub note: Option<String>,
}

/// One expectation checked after the change.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What must hold.
    pub expect: String,
    /// `true` holds, `false` does not, `null` could not be verified (its command was
    /// skipped under a fake root).
    pub ok: Option<bool>,
    /// What was found instead.
    pub detail: Option<String>,
}

/// Whether the host reached the plan's expectations.
#[derive(Clone, Debug, Serialize)]
pub struct Convergence {
    /// Every verifiable expectation holds.
    pub converged: bool,
    /// Each expectation.
    pub checks: Vec<Check>,
}

/// What an execution did.
#[derive(Clone, Debug, Serialize)]
pub struct ExecReport {
    /// The change set id.
    pub change_set: String,
    /// Its journal directory (under the root).
    pub journal: String,
    /// Its final state.
    pub status: Status,
    /// Every step of every round.
    pub steps: Vec<StepReport>,
    /// The failure, if a step failed (or planning a later round did).
    pub failure: Option<Failure>,
    /// The rollback, when one ran.
    pub rollback: Option<RollbackRecord>,
    /// Convergence, when every step ran.
    pub convergence: Option<Convergence>,
}

/// Plans a later round from fresh facts (bindings of VFs created by the previous one).
pub type Replanner<'a> = dyn FnMut(&Host, &ChangeFacts) -> Result<Plan, ChangeError> + 'a;

/// Receives progress lines.
pub type ProgressFn = Box<dyn FnMut(&str)>;

/// The writer of one root.
pub struct Executor {
    root: PathBuf,
    reader: Root,
    fake_root: bool,
    poll: Duration,
    timeout_secs: u64,
    progress: Option<ProgressFn>,
    lock: Option<std::fs::File>,
}

/// How long a wait for a binding tolerates the driver not being registered yet.
const DRIVER_GRACE: Duration = Duration::from_secs(2);

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn errno_of(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
}

impl Executor {
    /// Opens a root for changing. `timeout_secs` bounds the waits of rollbacks.
    pub fn open(root: &Path, timeout_secs: u64) -> Result<Executor, ExecError> {
        let reader = Root::open(root).map_err(|source| ExecError::Root {
            path: root.to_path_buf(),
            source,
        })?;
        let fake_root = std::fs::canonicalize(root)
            .map(|p| p != Path::new("/"))
            .unwrap_or(true);
        Ok(Executor {
            root: root.to_path_buf(),
            reader,
            fake_root,
            poll: Duration::from_millis(50),
            timeout_secs,
            progress: None,
            lock: None,
        })
    }

    /// Prints progress lines through this callback as steps run.
    pub fn on_progress(&mut self, f: ProgressFn) {
        self.progress = Some(f);
    }

    fn say(&mut self, s: &str) {
        if let Some(p) = self.progress.as_mut() {
            p(s);
        }
    }

    /// Whether the root is not `/` (commands then run only if the root holds them).
    pub fn is_fake_root(&self) -> bool {
        self.fake_root
    }

    /// Reads the host as it is now.
    pub fn read_host(&self) -> Result<Host, crate::Error> {
        read_open_root(
            &self.reader,
            &ReadOptions {
                names: false,
                system: false,
                ..ReadOptions::default()
            },
        )
    }

    /// Reads the change facts as they are now.
    pub fn read_facts(&self) -> ChangeFacts {
        read_change_facts(&self.reader)
    }

    fn abs(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    /// A root-relative path with every symlink resolved inside the root.
    fn real(&self, rel: &str) -> io::Result<String> {
        Ok(self.reader.resolve(rel)?.to_string_lossy().into_owned())
    }

    // ----- journal -----

    /// Takes the change lock (`var/lib/passthru/lock`, `flock`), once per executor:
    /// two change sets on one host never interleave.
    fn lock(&mut self) -> Result<(), ExecError> {
        if self.lock.is_some() {
            return Ok(());
        }
        let path = self.abs(LOCK);
        let jerr = |source| ExecError::Journal {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(jerr)?;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(jerr)?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock(2) on a descriptor we own.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r != 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => return Err(ExecError::Busy { path }),
                // A file system without locks (some FUSE servers): go on unlocked.
                Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) | Some(libc::ENOLCK) => {}
                _ => return Err(jerr(e)),
            }
        }
        self.lock = Some(f);
        Ok(())
    }

    /// Starts a change set: takes the lock, creates its journal directory and
    /// `journal.json`.
    pub fn begin(&mut self, command: &str, title: &str) -> Result<ChangeSet, ExecError> {
        self.lock()?;
        // With the lock held nothing else runs: a change set still in progress was
        // interrupted. Said so in its journal (undo --list, and `passthru undo` picks it).
        let (sets, _) = read_change_sets(&self.reader);
        for mut old in sets.into_iter().filter(|c| c.status == Status::InProgress) {
            old.status = Status::Interrupted;
            self.save(&old)?;
        }
        let created = utc_timestamp(now_unix());
        let base = id_for(&created);
        let jerr = |path: PathBuf| move |source| ExecError::Journal { path, source };
        let dir = self.abs(JOURNAL_DIR);
        std::fs::create_dir_all(&dir).map_err(jerr(dir.clone()))?;
        let mut id = base.clone();
        let mut n = 1;
        loop {
            match std::fs::create_dir(dir.join(&id)) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => {
                    n += 1;
                    id = format!("{base}-{n}");
                }
                Err(e) => {
                    return Err(ExecError::Journal {
                        path: dir.join(&id),
                        source: e,
                    })
                }
            }
        }
        let cs = ChangeSet {
            id,
            created,
            command: command.to_string(),
            title: title.to_string(),
            status: Status::InProgress,
            undoes: None,
            undone_by: None,
            devices_before: Vec::new(),
            steps: Vec::new(),
            rollback: None,
            boot_id: read_boot_id(&self.reader),
        };
        self.save(&cs)?;
        Ok(cs)
    }

    /// Writes a change set's `journal.json` (atomically).
    pub fn save(&self, cs: &ChangeSet) -> Result<(), ExecError> {
        let path = self.abs(&format!("{}/journal.json", cs.dir()));
        let text = serde_json::to_string_pretty(cs).unwrap_or_default() + "\n";
        replace_file(&path, text.as_bytes(), 0o644)
            .map_err(|source| ExecError::Journal { path, source })
    }

    /// [`Executor::save`] before a step changes the host: its failure is the step's.
    fn save_step(&self, cs: &ChangeSet) -> Result<(), StepErr> {
        self.save(cs).map_err(|e| StepErr {
            message: match e {
                ExecError::Journal { path, source } => format!(
                    "cannot write the journal {}: {source}; the change stops here",
                    path.display()
                ),
                e => e.to_string(),
            },
            errno: None,
        })
    }

    // ----- running plans -----

    /// Runs a plan and, while it leaves deferred work, plans and runs the next round
    /// with `replan`, all in one change set. On failure everything is rolled back.
    /// Then reports convergence. `cs` comes from [`Executor::begin`].
    pub fn execute(
        &mut self,
        cs: &mut ChangeSet,
        first: Plan,
        replan: &mut Replanner<'_>,
    ) -> ExecReport {
        let mut plan = first;
        let mut expect: Vec<Expect> = Vec::new();
        let mut failure = None;
        for round in 0..4 {
            if let Err(f) = self.run_round(cs, &plan, round == 0) {
                failure = Some(*f);
                break;
            }
            expect.extend(plan.expect.iter().cloned());
            if plan.deferred.is_empty() {
                break;
            }
            let next = self
                .read_host()
                .map_err(|e| e.to_string())
                .and_then(|h| replan(&h, &self.read_facts()).map_err(|e| e.to_string()));
            match next {
                Ok(p) if round == 3 && !p.deferred.is_empty() => {
                    failure = Some(Failure {
                        step: 0,
                        action: "plan the next round".into(),
                        message: format!("still waiting for: {}", p.deferred.join("; ")),
                        explanation: None,
                    });
                    break;
                }
                Ok(p) => {
                    if !p.is_empty() {
                        self.say(&format!("next: {}", p.title));
                    }
                    plan = p;
                }
                Err(message) => {
                    failure = Some(Failure {
                        step: 0,
                        action: "plan the next round from the new facts".into(),
                        message,
                        explanation: None,
                    });
                    break;
                }
            }
        }
        let mut report = ExecReport {
            change_set: cs.id.clone(),
            journal: cs.dir(),
            status: Status::Done,
            steps: Vec::new(),
            failure: None,
            rollback: None,
            convergence: None,
        };
        match failure {
            Some(f) => {
                let nothing_done = !cs.changed_anything();
                let rb = if nothing_done {
                    RollbackRecord {
                        complete: true,
                        steps: Vec::new(),
                        errors: Vec::new(),
                    }
                } else {
                    self.say("a step failed: rolling back what this change set did");
                    self.rollback(cs)
                };
                cs.status = if rb.complete {
                    Status::RolledBack
                } else {
                    Status::RollbackIncomplete
                };
                cs.rollback = Some(rb.clone());
                report.failure = Some(f);
                report.rollback = Some(rb);
            }
            None => {
                cs.status = Status::Done;
                report.convergence = Some(self.converged(cs, &expect));
            }
        }
        if let Err(e) = self.save(cs) {
            self.say(&format!(
                "warning: the journal does not say how this ended: {e}"
            ));
        }
        report.status = cs.status;
        report.steps = cs
            .steps
            .iter()
            .map(|s| StepReport {
                action: describe_action(&s.action),
                status: s.status,
                note: s.error.clone().or_else(|| s.note.clone()),
            })
            .collect();
        report
    }

    fn run_round(
        &mut self,
        cs: &mut ChangeSet,
        plan: &Plan,
        first: bool,
    ) -> Result<(), Box<Failure>> {
        let host = self.read_host().map_err(|e| {
            Box::new(Failure {
                step: 0,
                action: "read the host".into(),
                message: e.to_string(),
                explanation: None,
            })
        })?;
        if let Some(msg) = self.check_preconditions(&host, &plan.preconditions) {
            return Err(Box::new(Failure {
                step: 0,
                action: "check preconditions".into(),
                message: if first {
                    format!("the host changed since the plan was made: {msg}; nothing was changed, run the command again")
                } else {
                    format!("the host changed during the change set: {msg}")
                },
                explanation: None,
            }));
        }
        self.record_devices(cs, &host, plan);
        // A journal that cannot be written stops the change before it touches the host.
        self.save_step(cs).map_err(|e| {
            Box::new(Failure {
                step: 0,
                action: "write the journal".into(),
                message: e.message,
                explanation: None,
            })
        })?;
        let total = plan.steps.len();
        for (i, st) in plan.steps.iter().enumerate() {
            let text = describe_action(&st.action);
            self.say(&format!("[{}/{total}] {text}", i + 1));
            let ctx = errno_context(&host, &st.action, &plan.steps[..i]);
            cs.steps.push(JournalStep {
                action: st.action.clone(),
                why: st.why.clone(),
                status: StepStatus::Running,
                replaced: Replaced::Nothing,
                note: None,
                error: None,
            });
            let idx = cs.steps.len() - 1;
            let result = self.perform(cs, idx, &st.action);
            match result {
                Ok((status, note)) => {
                    cs.steps[idx].status = status;
                    if let Some(n) = &note {
                        self.say(&format!("      {n}"));
                    }
                    cs.steps[idx].note = note;
                    // Done but not journaled: stop here, and roll back what is known.
                    if let Err(e) = self.save_step(cs) {
                        self.say(&format!("      failed: {}", e.message));
                        return Err(Box::new(Failure {
                            step: i + 1,
                            action: text,
                            message: e.message,
                            explanation: None,
                        }));
                    }
                }
                Err(StepErr { message, errno }) => {
                    cs.steps[idx].status = StepStatus::Failed;
                    let explanation = errno.and_then(|e| match &st.action {
                        Action::WriteAttr { path, .. } => {
                            Some(explain(WriteKind::of_path(path), e, &ctx))
                        }
                        Action::WriteFile { .. } | Action::DeleteFile { .. } => {
                            Some(explain(WriteKind::Other, e, &ctx))
                        }
                        _ => None,
                    });
                    cs.steps[idx].error = Some(match &explanation {
                        Some(x) => format!("{message}: {}", x.cause),
                        None => message.clone(),
                    });
                    let _ = self.save(cs);
                    self.say(&format!("      failed: {message}"));
                    return Err(Box::new(Failure {
                        step: i + 1,
                        action: text,
                        message,
                        explanation,
                    }));
                }
            }
        }
        Ok(())
    }

    fn check_preconditions(&self, host: &Host, pre: &[Precondition]) -> Option<String> {
        for p in pre {
            match p {
                Precondition::AttrEquals { path, value } => {
                    let cur = self
                        .reader
                        .read_string(path)
                        .map(|s| s.trim().to_string())
                        .ok();
                    if cur.as_deref() != Some(value.as_str()) {
                        return Some(format!(
                            "{path} is {} (planned from {value})",
                            cur.unwrap_or_else(|| "unreadable".into())
                        ));
                    }
                }
                Precondition::Driver { device, driver } => {
                    let cur = host.device(device).map(|d| d.driver.clone());
                    match cur {
                        None => return Some(format!("{device} is gone")),
                        Some(c) if c != *driver => {
                            return Some(format!(
                                "{device} is now on {} (planned from {})",
                                c.as_deref().unwrap_or("no driver"),
                                driver.as_deref().unwrap_or("no driver")
                            ))
                        }
                        _ => {}
                    }
                }
                Precondition::File { path, state } => {
                    let cur = self.reader.read(path).ok().map(|b| FileDigest::of(&b));
                    if cur != *state {
                        return Some(format!("{path} changed"));
                    }
                }
                Precondition::Exists { path } => {
                    if !self.reader.exists(path) {
                        return Some(format!("{path} does not exist"));
                    }
                }
            }
        }
        None
    }

    /// Records the state of every device the plan touches (and the VFs of PFs whose
    /// count it changes), unless already recorded.
    fn record_devices(&self, cs: &mut ChangeSet, host: &Host, plan: &Plan) {
        let mut touched: Vec<PciAddress> = Vec::new();
        for s in &plan.steps {
            if let Action::WriteAttr { path, value } = &s.action {
                if let Some(rest) = path.strip_prefix("sys/bus/pci/devices/") {
                    if let Some((dev, attr)) = rest.split_once('/') {
                        if let Ok(a) = PciAddress::parse(dev) {
                            touched.push(a);
                            if attr.starts_with("sriov_") {
                                if let Some(d) = host.device(&a) {
                                    touched.extend(d.virtfns.iter().copied());
                                }
                            }
                        }
                    }
                } else if let Ok(a) = PciAddress::parse(value.trim()) {
                    touched.push(a);
                }
            }
        }
        for a in touched {
            if cs.devices_before.iter().any(|d| d.address == a) {
                continue;
            }
            if let Some(d) = host.device(&a) {
                cs.devices_before.push(DeviceState::of(d));
            }
        }
    }

    fn perform(
        &mut self,
        cs: &mut ChangeSet,
        idx: usize,
        action: &Action,
    ) -> Result<(StepStatus, Option<String>), StepErr> {
        match action {
            Action::WriteAttr { path, value } => {
                let write_only = matches!(
                    path.rsplit('/').next(),
                    Some(
                        "bind"
                            | "unbind"
                            | "drivers_probe"
                            | "new_id"
                            | "remove_id"
                            | "remove"
                            | "rescan"
                    )
                );
                let previous = if write_only {
                    None
                } else {
                    self.reader
                        .read_string(path)
                        .ok()
                        .map(|s| s.trim().to_string())
                };
                cs.steps[idx].replaced = Replaced::Attr { previous };
                self.save_step(cs)?;
                self.write_attr(path, value)?;
                Ok((StepStatus::Done, None))
            }
            Action::WriteFile {
                path,
                contents,
                mode,
            } => {
                let bytes = match contents {
                    Contents::Text(t) => t.as_bytes().to_vec(),
                    Contents::Backup(b) => self
                        .reader
                        .read(b)
                        .map_err(|e| StepErr::io(format!("cannot read the journal copy {b}"), e))?,
                };
                self.write_file(cs, idx, path, &bytes, *mode)?;
                Ok((StepStatus::Done, None))
            }
            Action::DeleteFile { path } => self.delete_file(cs, idx, path),
            Action::RemoveDir { path } => {
                cs.steps[idx].replaced = Replaced::Dir { path: path.clone() };
                match std::fs::remove_dir(self.abs(path)) {
                    Ok(()) => Ok((StepStatus::Done, None)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        Ok((StepStatus::Done, Some("already absent".into())))
                    }
                    Err(e)
                        if errno_of(&e) == Some(libc::ENOTEMPTY)
                            || errno_of(&e) == Some(libc::EEXIST) =>
                    {
                        Ok((
                            StepStatus::Skipped,
                            Some(format!("{path} is not empty: kept")),
                        ))
                    }
                    Err(e) => Err(StepErr::io(format!("cannot remove {path}"), e)),
                }
            }
            Action::Run(c) => {
                // A generated grub.cfg is journaled like a file passthru writes.
                let Some(out) = c.output_file() else {
                    return self.run_command(c);
                };
                let real = self.real(&out).unwrap_or(out);
                let previous = self.backup(cs, &real)?;
                cs.steps[idx].replaced = Replaced::File {
                    path: real.clone(),
                    previous: previous.clone(),
                    // Until it finishes, what it writes is unknown.
                    written: previous.as_ref().map(|p| p.digest),
                    created_dirs: Vec::new(),
                };
                self.save_step(cs)?;
                let res = self.run_command(c)?;
                let written = std::fs::read(self.abs(&real))
                    .ok()
                    .map(|b| FileDigest::of(&b));
                cs.steps[idx].replaced = Replaced::File {
                    path: real,
                    previous,
                    written,
                    created_dirs: Vec::new(),
                };
                Ok(res)
            }
            Action::Wait {
                condition,
                timeout_secs,
                required,
            } => {
                let start = Instant::now();
                let deadline = start + Duration::from_secs(*timeout_secs);
                loop {
                    // A driver that is not registered cannot bind anything: once
                    // `modprobe` has returned its directory exists, so after a short
                    // grace the wait stops instead of running out its timeout.
                    if let Condition::Driver {
                        driver: DriverState::Bound(d),
                        device,
                    } = condition
                    {
                        if start.elapsed() >= DRIVER_GRACE
                            && !self.reader.is_dir(&format!("sys/bus/pci/drivers/{d}"))
                        {
                            let msg = format!(
                                "{device} cannot be bound to {d}: the driver is not loaded (no sys/bus/pci/drivers/{d}); load it (`modprobe {}`) and try again",
                                d.replace('-', "_")
                            );
                            return if *required {
                                Err(StepErr {
                                    message: msg,
                                    errno: None,
                                })
                            } else {
                                Ok((StepStatus::Done, Some(format!("warning: {msg}"))))
                            };
                        }
                    }
                    match self.condition_holds(condition) {
                        Ok(true) => return Ok((StepStatus::Done, None)),
                        Ok(false) | Err(_) if Instant::now() < deadline => {
                            std::thread::sleep(self.poll)
                        }
                        Ok(false) | Err(_) => {
                            let msg = format!(
                                "timed out after {timeout_secs}s waiting until {}",
                                describe_condition(condition)
                            );
                            return if *required {
                                Err(StepErr {
                                    message: msg,
                                    errno: None,
                                })
                            } else {
                                Ok((StepStatus::Done, Some(format!("warning: {msg}"))))
                            };
                        }
                    }
                }
            }
        }
    }

    /// One `write()` of `value\n`, as `echo value > path` does.
    fn write_attr(&self, path: &str, value: &str) -> Result<(), StepErr> {
        let real = self
            .real(path)
            .map_err(|e| StepErr::io(format!("cannot resolve {path}"), e))?;
        let abs = self.abs(&real);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&abs)
            .map_err(|e| StepErr::io(format!("cannot open {path}"), e))?;
        let data = format!("{value}\n");
        match f.write(data.as_bytes()) {
            Ok(n) if n == data.len() => Ok(()),
            Ok(n) => Err(StepErr {
                message: format!("short write to {path} ({n} of {} bytes)", data.len()),
                errno: None,
            }),
            Err(e) => Err(StepErr::io(
                format!("writing '{value}' to {path} failed"),
                e,
            )),
        }
    }

    fn backup(&self, cs: &ChangeSet, real: &str) -> Result<Option<SavedFile>, StepErr> {
        let abs = self.abs(real);
        match std::fs::symlink_metadata(&abs) {
            Ok(m) if m.is_file() => {
                let bytes = std::fs::read(&abs)
                    .map_err(|e| StepErr::io(format!("cannot read {real}"), e))?;
                let n = cs.steps.len();
                let backup = format!("{}/files/{n}", cs.dir());
                let babs = self.abs(&backup);
                if let Some(parent) = babs.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StepErr::io(format!("cannot create {}", parent.display()), e)
                    })?;
                }
                replace_file(&babs, &bytes, 0o600).map_err(|e| {
                    StepErr::io(format!("cannot save a copy of {real} in the journal"), e)
                })?;
                Ok(Some(SavedFile {
                    backup,
                    digest: FileDigest::of(&bytes),
                    mode: m.permissions().mode() & 0o7777,
                }))
            }
            Ok(_) => Err(StepErr {
                message: format!("{real} is not a regular file"),
                errno: None,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StepErr::io(format!("cannot read {real}"), e)),
        }
    }

    fn write_file(
        &mut self,
        cs: &mut ChangeSet,
        idx: usize,
        path: &str,
        bytes: &[u8],
        mode: u32,
    ) -> Result<(), StepErr> {
        let real = self
            .real(path)
            .map_err(|e| StepErr::io(format!("cannot resolve {path}"), e))?;
        let previous = self.backup(cs, &real)?;
        let mode = previous.as_ref().map(|p| p.mode).unwrap_or(mode);
        // Directories to create, outermost first.
        let mut missing = Vec::new();
        let mut p = Path::new(&real).parent();
        while let Some(d) = p {
            if d.as_os_str().is_empty() || self.abs(&d.to_string_lossy()).exists() {
                break;
            }
            missing.push(d.to_string_lossy().into_owned());
            p = d.parent();
        }
        missing.reverse();
        cs.steps[idx].replaced = Replaced::File {
            path: real.clone(),
            previous: previous.clone(),
            written: Some(FileDigest::of(bytes)),
            created_dirs: missing.clone(),
        };
        self.save_step(cs)?;
        for d in &missing {
            std::fs::create_dir(self.abs(d))
                .map_err(|e| StepErr::io(format!("cannot create {d}"), e))?;
        }
        replace_file(&self.abs(&real), bytes, mode)
            .map_err(|e| StepErr::io(format!("cannot write {real}"), e))
    }

    fn delete_file(
        &mut self,
        cs: &mut ChangeSet,
        idx: usize,
        path: &str,
    ) -> Result<(StepStatus, Option<String>), StepErr> {
        let real = self
            .real(path)
            .map_err(|e| StepErr::io(format!("cannot resolve {path}"), e))?;
        let previous = self.backup(cs, &real)?;
        cs.steps[idx].replaced = Replaced::File {
            path: real.clone(),
            previous: previous.clone(),
            written: None,
            created_dirs: Vec::new(),
        };
        self.save_step(cs)?;
        if previous.is_none() {
            return Ok((StepStatus::Done, Some("already absent".into())));
        }
        std::fs::remove_file(self.abs(&real))
            .map_err(|e| StepErr::io(format!("cannot delete {real}"), e))?;
        Ok((StepStatus::Done, None))
    }

    fn find_in_root(&self, program: &str) -> Option<PathBuf> {
        TOOL_DIRS
            .iter()
            .map(|d| format!("{d}/{program}"))
            .find(|p| self.reader.exists(p) && !self.reader.is_dir(p))
            .and_then(|p| self.real(&p).ok())
            .map(|r| self.abs(&r))
    }

    fn run_command(&mut self, c: &Command) -> Result<(StepStatus, Option<String>), StepErr> {
        let mut cmd = if self.fake_root {
            match self.find_in_root(&c.program) {
                Some(p) => {
                    let mut cmd = std::process::Command::new(p);
                    cmd.env("PASSTHRU_ROOT", &self.root).current_dir(&self.root);
                    cmd
                }
                None => {
                    return Ok((
                        StepStatus::Skipped,
                        Some(format!(
                            "skipped: {} has no {} (under --root a command runs only if the root holds it; run `{}` on the real host)",
                            self.root.display(),
                            c.program,
                            c.line()
                        )),
                    ))
                }
            }
        } else {
            std::process::Command::new(&c.program)
        };
        cmd.args(&c.args).stdin(std::process::Stdio::null());
        let out = cmd
            .output()
            .map_err(|e| StepErr::io(format!("cannot run {}", c.program), e))?;
        let tail = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
            lines[lines.len().saturating_sub(3)..].join(" | ")
        };
        if out.status.success() {
            let t = tail(&out.stdout);
            Ok((StepStatus::Done, (!t.is_empty()).then_some(t)))
        } else {
            Err(StepErr {
                message: format!(
                    "`{}` failed ({}): {}",
                    c.line(),
                    out.status,
                    tail(if out.stderr.is_empty() {
                        &out.stdout
                    } else {
                        &out.stderr
                    })
                ),
                errno: None,
            })
        }
    }

    fn driver_of(&self, dev: &PciAddress) -> Option<String> {
        let t = self
            .reader
            .read_link(&format!("sys/bus/pci/devices/{dev}/driver"))
            .ok()?;
        let t = t.trim_end_matches('/');
        Some(t.rsplit('/').next().unwrap_or(t).to_string())
    }

    fn condition_holds(&self, c: &Condition) -> io::Result<bool> {
        match c {
            Condition::VfsPresent { pf, count } => {
                let base = format!("sys/bus/pci/devices/{pf}");
                let vfs: Vec<String> = self
                    .reader
                    .list(&base)?
                    .into_iter()
                    .filter(|n| {
                        n.strip_prefix("virtfn")
                            .is_some_and(|i| i.parse::<u32>().is_ok())
                    })
                    .collect();
                Ok(vfs.len() as u32 == *count
                    && vfs
                        .iter()
                        .all(|v| self.reader.is_dir(&format!("{base}/{v}"))))
            }
            Condition::VfNetdevs { pf } => {
                let base = format!("sys/bus/pci/devices/{pf}");
                for v in self.reader.list(&base)? {
                    if !v.starts_with("virtfn") {
                        continue;
                    }
                    let bound = self.reader.read_link(&format!("{base}/{v}/driver")).is_ok();
                    if bound
                        && self
                            .reader
                            .list(&format!("{base}/{v}/net"))
                            .map(|n| n.is_empty())
                            .unwrap_or(true)
                    {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Driver { device, driver } => {
                Ok(driver.holds(self.driver_of(device).as_deref()))
            }
        }
    }

    // ----- rollback, convergence -----

    /// The current digests of the files a change set touched.
    pub fn touched_now(&self, cs: &ChangeSet) -> TouchedNow {
        crate::host::sources::journal::touched_now(&self.reader, cs)
    }

    /// Puts back everything a (failed) change set did, from its journal.
    pub fn rollback(&mut self, cs: &mut ChangeSet) -> RollbackRecord {
        let mut rec = RollbackRecord::default();
        for round in 0..4 {
            let host = match self.read_host() {
                Ok(h) => h,
                Err(e) => {
                    rec.errors.push(format!("cannot read the host: {e}"));
                    break;
                }
            };
            let now = self.touched_now(cs);
            let plan = match plan_undo(
                cs,
                &host,
                &now,
                &UndoOptions {
                    force: true,
                    timeout_secs: self.timeout_secs,
                    commands: round == 0,
                    boot_id: None,
                },
            ) {
                Ok(p) => p,
                Err(e) => {
                    rec.errors.push(e.to_string());
                    break;
                }
            };
            // Rollback steps are journaled in the record only: the change set's own
            // backups stay the reference.
            let mut scratch = ChangeSet {
                id: cs.id.clone(),
                created: cs.created.clone(),
                command: String::new(),
                title: String::new(),
                status: Status::InProgress,
                undoes: None,
                undone_by: None,
                devices_before: Vec::new(),
                steps: Vec::new(),
                rollback: None,
                boot_id: None,
            };
            for st in &plan.steps {
                let text = describe_action(&st.action);
                self.say(&format!("  rollback: {text}"));
                scratch.steps.push(JournalStep {
                    action: st.action.clone(),
                    why: st.why.clone(),
                    status: StepStatus::Running,
                    replaced: Replaced::Nothing,
                    note: None,
                    error: None,
                });
                let idx = scratch.steps.len() - 1;
                match self.perform_unjournaled(&mut scratch, idx, &st.action) {
                    Ok((StepStatus::Skipped, note)) => rec
                        .steps
                        .push(format!("{text} (skipped: {})", note.unwrap_or_default())),
                    Ok(_) => rec.steps.push(text),
                    Err(e) => {
                        rec.errors.push(format!("{text}: {}", e.message));
                        self.say(&format!("  rollback step failed: {}", e.message));
                    }
                }
            }
            if plan.deferred.is_empty() {
                break;
            }
        }
        // Complete when nothing is left to undo (commands aside).
        let left = self.read_host().ok().and_then(|h| {
            plan_undo(
                cs,
                &h,
                &self.touched_now(cs),
                &UndoOptions {
                    force: true,
                    timeout_secs: self.timeout_secs,
                    commands: false,
                    boot_id: None,
                },
            )
            .ok()
        });
        let clean = left
            .as_ref()
            .is_some_and(|p| p.is_empty() && p.deferred.is_empty());
        if !clean {
            if let Some(p) = left {
                for s in &p.steps {
                    rec.errors
                        .push(format!("still to undo: {}", describe_action(&s.action)));
                }
            }
        }
        rec.complete = clean && rec.errors.is_empty();
        rec
    }

    /// Performs an action without touching any journal file (rollback).
    fn perform_unjournaled(
        &mut self,
        scratch: &mut ChangeSet,
        idx: usize,
        action: &Action,
    ) -> Result<(StepStatus, Option<String>), StepErr> {
        match action {
            Action::WriteFile {
                path,
                contents,
                mode,
            } => {
                let bytes = match contents {
                    Contents::Text(t) => t.as_bytes().to_vec(),
                    Contents::Backup(b) => self
                        .reader
                        .read(b)
                        .map_err(|e| StepErr::io(format!("cannot read the journal copy {b}"), e))?,
                };
                let real = self
                    .real(path)
                    .map_err(|e| StepErr::io(format!("cannot resolve {path}"), e))?;
                let abs = self.abs(&real);
                if let Some(parent) = abs.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StepErr::io(format!("cannot create {}", parent.display()), e)
                    })?;
                }
                replace_file(&abs, &bytes, *mode)
                    .map_err(|e| StepErr::io(format!("cannot write {real}"), e))?;
                if let Ok(m) = std::fs::metadata(&abs) {
                    if m.permissions().mode() & 0o7777 != *mode {
                        let _ =
                            std::fs::set_permissions(&abs, std::fs::Permissions::from_mode(*mode));
                    }
                }
                Ok((StepStatus::Done, None))
            }
            Action::DeleteFile { path } => {
                let real = self
                    .real(path)
                    .map_err(|e| StepErr::io(format!("cannot resolve {path}"), e))?;
                match std::fs::remove_file(self.abs(&real)) {
                    Ok(()) => Ok((StepStatus::Done, None)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((StepStatus::Done, None)),
                    Err(e) => Err(StepErr::io(format!("cannot delete {real}"), e)),
                }
            }
            // Rollback commands are not journaled (their outputs' copies would land
            // among the change set's own).
            Action::Run(c) => self.run_command(c),
            other => self.perform(scratch, idx, other),
        }
    }

    /// Re-reads the host and checks each expectation.
    pub fn converged(&self, cs: &ChangeSet, expect: &[Expect]) -> Convergence {
        let host = self.read_host().ok();
        let mut checks = Vec::new();
        for e in expect {
            let (ok, detail): (Option<bool>, Option<String>) = match e {
                Expect::NumVfs { pf, count } => {
                    match host.as_ref().and_then(|h| h.device(pf)) {
                        Some(d) => {
                            let n = d.sriov.as_ref().map(|s| s.num_vfs).unwrap_or(0);
                            let listed = d.virtfns.len() as u32;
                            let present = d
                                .virtfns
                                .iter()
                                .filter(|v| host.as_ref().is_some_and(|h| h.device(v).is_some()))
                                .count() as u32;
                            if n == *count && listed == *count && present == *count {
                                (Some(true), None)
                            } else {
                                (Some(false), Some(format!("sriov_numvfs {n}, {listed} virtfn links, {present} VF devices")))
                            }
                        }
                        None => (Some(false), Some(format!("{pf} not found"))),
                    }
                }
                Expect::Driver { device, driver } => {
                    let cur = host
                        .as_ref()
                        .and_then(|h| h.device(device))
                        .map(|d| d.driver.clone());
                    match cur {
                        Some(c) if driver.holds(c.as_deref()) => (Some(true), None),
                        Some(c) => (
                            Some(false),
                            Some(format!("driver is {}", c.as_deref().unwrap_or("none"))),
                        ),
                        None => (Some(false), Some(format!("{device} not found"))),
                    }
                }
                Expect::Override { device, value } => {
                    let cur = host
                        .as_ref()
                        .and_then(|h| h.device(device))
                        .map(|d| d.driver_override.clone());
                    match cur {
                        Some(c) if c == *value => (Some(true), None),
                        Some(c) => (
                            Some(false),
                            Some(format!(
                                "driver_override is {}",
                                c.as_deref().unwrap_or("(null)")
                            )),
                        ),
                        None => (Some(false), Some(format!("{device} not found"))),
                    }
                }
                Expect::File { path, state } => {
                    let cur = self.reader.read(path).ok().map(|b| FileDigest::of(&b));
                    if cur == *state {
                        (Some(true), None)
                    } else {
                        (
                            Some(false),
                            Some(match cur {
                                Some(_) => "contents differ".into(),
                                None => "absent".into(),
                            }),
                        )
                    }
                }
                Expect::Ran { command } => {
                    let step = cs
                        .steps
                        .iter()
                        .rev()
                        .find(|s| matches!(&s.action, Action::Run(c) if c.line() == *command));
                    match step.map(|s| s.status) {
                        Some(StepStatus::Done) => (Some(true), None),
                        Some(StepStatus::Skipped) => (None, Some("skipped under --root".into())),
                        _ => (Some(false), Some("did not run".into())),
                    }
                }
            };
            checks.push(Check {
                expect: e.describe(),
                ok,
                detail,
            });
        }
        Convergence {
            converged: checks.iter().all(|c| c.ok != Some(false)),
            checks,
        }
    }

    /// Checks expectations without a change set (commands count as not run).
    pub fn check(&self, expect: &[Expect]) -> Convergence {
        let cs = ChangeSet {
            id: String::new(),
            created: String::new(),
            command: String::new(),
            title: String::new(),
            status: Status::Done,
            undoes: None,
            undone_by: None,
            devices_before: Vec::new(),
            steps: Vec::new(),
            rollback: None,
            boot_id: None,
        };
        self.converged(&cs, expect)
    }

    /// Marks a change set as undone by another and saves it.
    pub fn mark_undone(&self, cs: &mut ChangeSet, by: &str) -> Result<(), ExecError> {
        cs.status = Status::Undone;
        cs.undone_by = Some(by.to_string());
        self.save(cs)
    }
}

struct StepErr {
    message: String,
    errno: Option<i32>,
}

impl StepErr {
    fn io(what: String, e: io::Error) -> Self {
        let errno = errno_of(&e);
        let message = match errno {
            Some(n) => format!("{what}: {} ({e})", crate::change::errno::errno_name(n)),
            None => format!("{what}: {e}"),
        };
        StepErr { message, errno }
    }
}

/// What the kernel's answer means needs the device, the value and the counts.
fn errno_context(
    host: &Host,
    action: &Action,
    earlier: &[crate::change::plan::Step],
) -> ErrnoContext {
    let Action::WriteAttr { path, value } = action else {
        return ErrnoContext::default();
    };
    let mut ctx = ErrnoContext {
        value: Some(value.clone()),
        ..Default::default()
    };
    let dev = path
        .strip_prefix("sys/bus/pci/devices/")
        .and_then(|r| r.split('/').next())
        .and_then(|d| PciAddress::parse(d).ok())
        .or_else(|| PciAddress::parse(value.trim()).ok());
    if let Some(a) = dev {
        ctx.device = Some(a.to_string());
        if let Some(d) = host.device(&a) {
            ctx.total_vfs = d.sriov.as_ref().map(|s| s.total_vfs);
            ctx.current_vfs = d.sriov.as_ref().map(|s| s.num_vfs);
            ctx.driver = d.driver.clone();
        }
        // For a bind or probe, the driver in question is the one named by the path or
        // by the override written just before.
        if let Some(drv) = path
            .strip_prefix("sys/bus/pci/drivers/")
            .and_then(|r| r.split('/').next())
        {
            ctx.driver = Some(drv.to_string());
        } else if path.ends_with("drivers_probe") {
            let ov = dev_override_written(earlier, &a);
            if ov.is_some() {
                ctx.driver = ov;
            }
        }
    }
    ctx
}

fn dev_override_written(earlier: &[crate::change::plan::Step], a: &PciAddress) -> Option<String> {
    let want = crate::change::plan::dev_attr(a, "driver_override");
    earlier.iter().rev().find_map(|s| match &s.action {
        Action::WriteAttr { path, value } if *path == want && !value.is_empty() => {
            Some(value.clone())
        }
        _ => None,
    })
}

/// Replaces a file atomically (a temporary file in the same directory, renamed over
/// it); where rename is not supported, writes in place.
fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.passthru-tmp"));
    let attempt = (|| -> io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        let _ = f.sync_all();
        std::fs::rename(&tmp, path)
    })();
    match attempt {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            if matches!(
                errno_of(&e),
                Some(libc::ENOSYS) | Some(libc::EXDEV) | Some(libc::EPERM) | Some(libc::EOPNOTSUPP)
            ) {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(mode)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(path)?;
                f.write_all(bytes)
            } else {
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::plan::{Contents, UndoCommand};
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("sys/bus/pci/devices")).unwrap();
        std::fs::create_dir_all(r.join("etc/default")).unwrap();
        std::fs::create_dir_all(r.join("etc/sysconfig")).unwrap();
        // Every host has var/lib; the journal lives under it.
        std::fs::create_dir_all(r.join("var/lib")).unwrap();
        std::fs::write(
            r.join("etc/default/grub"),
            b"GRUB_CMDLINE_LINUX=\"quiet\"\n\xff raw byte\n",
        )
        .unwrap();
        std::fs::set_permissions(
            r.join("etc/default/grub"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        symlink("../default/grub", r.join("etc/sysconfig/grub")).unwrap();
        t
    }

    /// Every file under a directory with its bytes and mode, links with targets.
    fn dump(dir: &Path) -> Vec<(String, Vec<u8>, u32)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                if rel.starts_with("var/lib/passthru") {
                    continue;
                }
                let m = std::fs::symlink_metadata(&p).unwrap();
                if m.file_type().is_symlink() {
                    out.push((
                        rel,
                        std::fs::read_link(&p)
                            .unwrap()
                            .to_string_lossy()
                            .as_bytes()
                            .to_vec(),
                        0,
                    ));
                } else if m.is_dir() {
                    out.push((rel, Vec::new(), m.permissions().mode()));
                    stack.push(p);
                } else {
                    out.push((rel, std::fs::read(&p).unwrap(), m.permissions().mode()));
                }
            }
        }
        out.sort();
        out
    }

    fn write(path: &str, text: &str) -> Action {
        Action::WriteFile {
            path: path.into(),
            contents: Contents::Text(text.into()),
            mode: 0o644,
        }
    }

    fn plan(actions: Vec<Action>) -> Plan {
        let mut p = Plan::new("test");
        for a in actions {
            p.step(a, "");
        }
        p
    }

    fn no_replan() -> impl FnMut(&Host, &ChangeFacts) -> Result<Plan, ChangeError> {
        |_: &Host, _: &ChangeFacts| Ok(Plan::default())
    }

    #[test]
    fn a_failing_step_rolls_back_files_byte_for_byte() {
        let t = tree();
        let before = dump(t.path());
        let mut ex = Executor::open(t.path(), 5).unwrap();
        let mut cs = ex.begin("passthru test", "test").unwrap();
        let p = plan(vec![
            // Written through the link: the target changes, the link stays.
            write(
                "etc/sysconfig/grub",
                "GRUB_CMDLINE_LINUX=\"quiet intel_iommu=on\"\n",
            ),
            write("etc/passthru/deep/host.toml", "x = 1\n"),
            Action::DeleteFile {
                path: "etc/default/grub".into(),
            },
            Action::WriteAttr {
                path: "sys/bus/pci/devices/0000:06:00.0/sriov_numvfs".into(),
                value: "4".into(),
            },
        ]);
        let r = ex.execute(&mut cs, p, &mut no_replan());
        assert_eq!(r.status, Status::RolledBack, "{r:#?}");
        let f = r.failure.unwrap();
        assert_eq!(f.step, 4);
        assert!(f.message.contains("ENOENT"), "{}", f.message);
        assert!(r.rollback.as_ref().unwrap().complete);
        assert_eq!(dump(t.path()), before, "the tree is exactly as before");
        // The journal says what happened.
        let (sets, _) =
            crate::host::sources::journal::read_change_sets(&Root::open(t.path()).unwrap());
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].status, Status::RolledBack);
        let Replaced::File { path, previous, .. } = &sets[0].steps[0].replaced else {
            panic!()
        };
        assert_eq!(path, "etc/default/grub");
        assert_eq!(previous.as_ref().unwrap().mode, 0o600);
    }

    #[test]
    fn undo_of_a_done_change_set_is_byte_identical() {
        let t = tree();
        let before = dump(t.path());
        let mut ex = Executor::open(t.path(), 5).unwrap();
        let mut cs = ex.begin("passthru test", "test").unwrap();
        let p = plan(vec![
            write(
                "etc/default/grub",
                "GRUB_CMDLINE_LINUX=\"quiet intel_iommu=on\"\n",
            ),
            write(
                "etc/modprobe.d/passthru.conf",
                "options vfio-pci ids=8086:1520\n",
            ),
        ]);
        let r = ex.execute(&mut cs, p, &mut no_replan());
        assert_eq!(r.status, Status::Done);
        assert!(r.convergence.as_ref().unwrap().converged);
        assert_eq!(
            std::fs::metadata(t.path().join("etc/default/grub"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600,
            "mode kept"
        );
        assert_ne!(dump(t.path()), before);
        let host = ex.read_host().unwrap();
        let undo = plan_undo(
            &cs,
            &host,
            &ex.touched_now(&cs),
            &UndoOptions {
                force: false,
                timeout_secs: 5,
                commands: true,
                boot_id: None,
            },
        )
        .unwrap();
        let mut ucs = ex.begin("passthru undo", &undo.title).unwrap();
        ucs.undoes = Some(cs.id.clone());
        let r = ex.execute(&mut ucs, undo, &mut no_replan());
        assert_eq!(r.status, Status::Done, "{r:#?}");
        assert!(r.convergence.unwrap().converged);
        assert_eq!(dump(t.path()), before, "undo is byte-identical");
        assert_ne!(
            cs.id, ucs.id,
            "a second change set in the same second gets its own id"
        );
    }

    #[test]
    fn commands_under_a_fake_root_run_only_if_present() {
        let t = tree();
        let mut ex = Executor::open(t.path(), 5).unwrap();
        let mut cs = ex.begin("passthru test", "test").unwrap();
        let c = Command {
            program: "update-grub".into(),
            args: vec![],
            undo: UndoCommand::Rerun,
        };
        let r = ex.execute(
            &mut cs,
            plan(vec![Action::Run(c.clone())]),
            &mut no_replan(),
        );
        assert_eq!(r.steps[0].status, StepStatus::Skipped);
        assert!(r.steps[0]
            .note
            .as_ref()
            .unwrap()
            .contains("has no update-grub"));
        // A test double in the root runs, with PASSTHRU_ROOT set.
        std::fs::create_dir_all(t.path().join("usr/sbin")).unwrap();
        std::fs::create_dir_all(t.path().join("boot/grub")).unwrap();
        let script = t.path().join("usr/sbin/update-grub");
        std::fs::write(
            &script,
            "#!/bin/sh\necho generated > \"$PASSTHRU_ROOT/boot/grub/grub.cfg\"\necho done\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cs = ex.begin("passthru test", "test").unwrap();
        let r = ex.execute(&mut cs, plan(vec![Action::Run(c)]), &mut no_replan());
        assert_eq!(r.steps[0].status, StepStatus::Done, "{r:#?}");
        assert_eq!(
            std::fs::read_to_string(t.path().join("boot/grub/grub.cfg")).unwrap(),
            "generated\n"
        );
        // A failing command fails the step.
        std::fs::write(
            &script,
            "#!/bin/sh\necho 'grub-probe: error: cannot find a device' >&2\nexit 1\n",
        )
        .unwrap();
        let mut cs = ex.begin("passthru test", "test").unwrap();
        let r = ex.execute(
            &mut cs,
            plan(vec![
                write("etc/x", "1"),
                Action::Run(Command::rerun("update-grub", &[])),
            ]),
            &mut no_replan(),
        );
        assert_eq!(r.status, Status::RolledBack);
        assert!(r.failure.unwrap().message.contains("cannot find a device"));
        assert!(!t.path().join("etc/x").exists());
    }

    #[test]
    fn a_journal_that_cannot_be_written_stops_the_change_before_the_host() {
        let t = tree();
        let before = dump(t.path());
        let mut ex = Executor::open(t.path(), 5).unwrap();
        let mut cs = ex.begin("passthru test", "test").unwrap();
        // journal.json can no longer be replaced: a directory stands in its way.
        let j = t.path().join(cs.dir()).join("journal.json");
        std::fs::remove_file(&j).unwrap();
        std::fs::create_dir_all(j.join("in-the-way")).unwrap();
        let p = plan(vec![
            write(
                "etc/default/grub",
                "GRUB_CMDLINE_LINUX=\"intel_iommu=on\"\n",
            ),
            Action::WriteAttr {
                path: "etc/passthru-attr".into(),
                value: "1".into(),
            },
        ]);
        let r = ex.execute(&mut cs, p, &mut no_replan());
        let f = r.failure.expect("the change fails");
        assert_eq!(f.action, "write the journal", "{f:?}");
        assert!(
            f.message.contains("cannot write the journal"),
            "{}",
            f.message
        );
        assert_eq!(dump(t.path()), before, "nothing on the host was touched");
    }

    #[test]
    fn a_stale_plan_changes_nothing() {
        let t = tree();
        let before = dump(t.path());
        let mut ex = Executor::open(t.path(), 5).unwrap();
        let mut cs = ex.begin("passthru test", "test").unwrap();
        let mut p = plan(vec![write("etc/default/grub", "new\n")]);
        p.preconditions.push(Precondition::File {
            path: "etc/default/grub".into(),
            state: Some(FileDigest::of(b"something else")),
        });
        let r = ex.execute(&mut cs, p, &mut no_replan());
        assert_eq!(r.status, Status::RolledBack);
        assert!(r
            .failure
            .unwrap()
            .message
            .contains("changed since the plan was made"));
        assert_eq!(dump(t.path()), before);
    }

    #[test]
    fn a_second_change_on_the_same_root_waits_its_turn() {
        let t = tree();
        let mut a = Executor::open(t.path(), 5).unwrap();
        let _cs = a.begin("passthru one", "one").unwrap();
        let mut b = Executor::open(t.path(), 5).unwrap();
        let e = b.begin("passthru two", "two").unwrap_err();
        assert!(matches!(e, ExecError::Busy { .. }), "{e}");
        assert!(e.to_string().contains("another passthru change is running"));
        drop(a);
        assert!(
            b.begin("passthru two", "two").is_ok(),
            "free once the first is done"
        );
    }

    #[test]
    fn sysfs_style_writes_record_the_previous_value() {
        let t = tree();
        let dev = t.path().join("sys/devices/pci0000:00/0000:06:00.0");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("sriov_numvfs"), "12\n").unwrap();
        symlink(
            "../../../devices/pci0000:00/0000:06:00.0",
            t.path().join("sys/bus/pci/devices/0000:06:00.0"),
        )
        .unwrap();
        let mut ex = Executor::open(t.path(), 5).unwrap();
        let mut cs = ex.begin("passthru test", "test").unwrap();
        let p = plan(vec![Action::WriteAttr {
            path: "sys/bus/pci/devices/0000:06:00.0/sriov_numvfs".into(),
            value: "4".into(),
        }]);
        let r = ex.execute(&mut cs, p, &mut no_replan());
        assert_eq!(r.status, Status::Done);
        assert_eq!(
            std::fs::read_to_string(dev.join("sriov_numvfs")).unwrap(),
            "4\n",
            "truncated like echo"
        );
        assert_eq!(
            cs.steps[0].replaced,
            Replaced::Attr {
                previous: Some("12".into())
            }
        );
    }
}
