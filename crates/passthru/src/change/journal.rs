//! The journal of change sets, and undo.
//!
//! Every change set lives in `var/lib/passthru/journal/ID/`: `journal.json` (a
//! [`ChangeSet`]: each step with what it replaced, the devices' driver and VF state
//! before the first step) and `files/N`, the byte-for-byte copies of the files it
//! replaced or deleted. The executor writes it before and after each step, so even an
//! interrupted change set can be undone. [`plan_undo`] is a pure function from a
//! change set and the host as it is now to a plan that puts back the files (byte for
//! byte), the VF counts and the bindings; it is also how a failed change set is
//! rolled back.

use crate::change::bind::restore_steps;
use crate::change::plan::{
    dev_attr, Action, Command, Contents, Expect, FileDigest, Plan, Precondition, UndoCommand,
};
use crate::change::vfs::numvfs_steps;
use crate::change::{enforce, ChangeError, Refusal};
use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where change sets are kept, relative to the root.
pub const JOURNAL_DIR: &str = "var/lib/passthru/journal";

/// The state of a change set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Started and not finished (interrupted, if nothing runs now).
    InProgress,
    /// Found in progress by a later passthru holding the change lock: its process
    /// stopped midway (killed, crashed, power lost). Its steps say what it did;
    /// `passthru undo ID` puts that back.
    Interrupted,
    /// Every step done.
    Done,
    /// A step failed and everything done before it was undone.
    RolledBack,
    /// A step failed and the rollback did not complete: see `rollback`.
    RollbackIncomplete,
    /// Undone later by another change set (`undone_by`).
    Undone,
}

/// A device's driver and SR-IOV state, as recorded before a change set touched it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    /// The device.
    pub address: PciAddress,
    /// Driver bound.
    pub driver: Option<String>,
    /// `driver_override`.
    pub driver_override: Option<String>,
    /// `sriov_numvfs` (PFs).
    pub num_vfs: Option<u32>,
    /// `sriov_drivers_autoprobe` (PFs).
    pub drivers_autoprobe: Option<bool>,
}

impl DeviceState {
    /// The state of a device as read.
    pub fn of(d: &PciDevice) -> Self {
        DeviceState {
            address: d.address,
            driver: d.driver.clone(),
            driver_override: d.driver_override.clone(),
            num_vfs: d.sriov.as_ref().map(|s| s.num_vfs),
            drivers_autoprobe: d.sriov.as_ref().and_then(|s| s.drivers_autoprobe),
        }
    }
}

/// How far a step got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Started (if the change set is not running, it was interrupted here).
    Running,
    /// Done.
    Done,
    /// Not done on purpose (a command absent under a fake root); see `note`.
    Skipped,
    /// Failed; see `error`.
    Failed,
}

/// A file copied into the journal before being replaced or deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedFile {
    /// The copy, relative to the root (`var/lib/passthru/journal/ID/files/3`).
    pub backup: String,
    /// Digest of the bytes.
    pub digest: FileDigest,
    /// Permission bits.
    pub mode: u32,
}

/// What a step replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Replaced {
    /// Nothing (waits, commands).
    Nothing,
    /// A sysfs attribute's value before the write (`None`: write-only or unreadable).
    Attr {
        /// The value read before writing.
        previous: Option<String>,
    },
    /// A file.
    File {
        /// The file written or deleted (symlinks resolved).
        path: String,
        /// Its copy, or `None` when it did not exist.
        previous: Option<SavedFile>,
        /// What was written (`None` for a delete).
        written: Option<FileDigest>,
        /// Directories created for it, outermost first.
        created_dirs: Vec<String>,
    },
    /// A directory removed.
    Dir {
        /// The directory.
        path: String,
    },
}

/// One step of a change set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalStep {
    /// What was done.
    pub action: Action,
    /// Why.
    pub why: String,
    /// How far it got.
    pub status: StepStatus,
    /// What it replaced.
    pub replaced: Replaced,
    /// A note (why it was skipped, what a command printed).
    #[serde(default)]
    pub note: Option<String>,
    /// The error, when it failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// What a rollback did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackRecord {
    /// Whether the host is back where it was.
    pub complete: bool,
    /// The steps the rollback ran, as text.
    pub steps: Vec<String>,
    /// What went wrong during the rollback.
    pub errors: Vec<String>,
}

/// One change set: `journal.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSet {
    /// Its id (the directory name): `20261121-071659`, with `-2`... on collisions.
    pub id: String,
    /// When it started, UTC (`2026-11-21T07:16:59Z`).
    pub created: String,
    /// The command line that made it.
    pub command: String,
    /// What it does.
    pub title: String,
    /// Its state.
    pub status: Status,
    /// The change set this one undoes, if it is an undo.
    #[serde(default)]
    pub undoes: Option<String>,
    /// The change set that undid this one.
    #[serde(default)]
    pub undone_by: Option<String>,
    /// Devices as they were before the first step that touched them.
    pub devices_before: Vec<DeviceState>,
    /// The steps.
    pub steps: Vec<JournalStep>,
    /// What the rollback did, if a step failed.
    #[serde(default)]
    pub rollback: Option<RollbackRecord>,
    /// The boot it was made in (`proc/sys/kernel/random/boot_id`): runtime state
    /// (VF counts, bindings) of an earlier boot is not put back by undo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

impl ChangeSet {
    /// Whether it may have left the host partly changed: interrupted (or still in
    /// progress), or its rollback did not complete; and not undone since.
    pub fn unfinished(&self) -> bool {
        matches!(
            self.status,
            Status::InProgress | Status::Interrupted | Status::RollbackIncomplete
        ) && self.undone_by.is_none()
    }

    /// The directory of this change set, relative to the root.
    pub fn dir(&self) -> String {
        format!("{JOURNAL_DIR}/{}", self.id)
    }

    /// Whether anything in it changed the host (a done or failed step that writes).
    pub fn changed_anything(&self) -> bool {
        self.steps.iter().any(|s| {
            matches!(
                s.status,
                StepStatus::Done | StepStatus::Failed | StepStatus::Running
            ) && !matches!(s.action, Action::Wait { .. })
        })
    }
}

/// A file a change set touched: its state before the first step that touched it,
/// and what the last one wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TouchedFile {
    /// The file (symlinks resolved).
    pub path: String,
    /// Its copy from before, `None` when it did not exist.
    pub previous: Option<SavedFile>,
    /// What was written last (`None`: deleted).
    pub written: Option<FileDigest>,
    /// Directories created for it, outermost first.
    pub created_dirs: Vec<String>,
}

/// The files a change set touched, in the order it first touched them.
pub fn touched_files(cs: &ChangeSet) -> Vec<TouchedFile> {
    let mut out: Vec<TouchedFile> = Vec::new();
    for s in &cs.steps {
        if s.status == StepStatus::Skipped {
            continue;
        }
        if let Replaced::File {
            path,
            previous,
            written,
            created_dirs,
        } = &s.replaced
        {
            match out.iter_mut().find(|t| t.path == *path) {
                Some(t) => {
                    t.written = *written;
                    t.created_dirs.extend(created_dirs.iter().cloned());
                }
                None => out.push(TouchedFile {
                    path: path.clone(),
                    previous: previous.clone(),
                    written: *written,
                    created_dirs: created_dirs.clone(),
                }),
            }
        }
    }
    out
}

/// What undo needs to know about the files a change set touched, as they are now.
#[derive(Clone, Debug, Default)]
pub struct TouchedNow {
    /// Current digest of each touched file (`None`: absent).
    pub files: BTreeMap<String, Option<FileDigest>>,
}

/// Options of an undo.
#[derive(Clone, Debug)]
pub struct UndoOptions {
    /// Overwrite files edited since the change set.
    pub force: bool,
    /// Seconds to wait for VFs and binds.
    pub timeout_secs: u64,
    /// Include the commands to re-run (first round only).
    pub commands: bool,
    /// The running boot's id: when the change set was made in another boot, its
    /// runtime changes ended with that boot and only its files are put back.
    pub boot_id: Option<String>,
}

/// Plans putting the host back as it was before a change set: files byte for byte,
/// then VF counts, then bindings, then the commands that read the files again.
/// Bindings of VFs that come back with their PF's count are deferred: plan again
/// once they exist.
pub fn plan_undo(
    cs: &ChangeSet,
    host: &Host,
    now: &TouchedNow,
    opts: &UndoOptions,
) -> Result<Plan, ChangeError> {
    let mut plan = Plan::new(format!("undo change set {} ({})", cs.id, cs.title));
    let mut refusals: Vec<Refusal> = Vec::new();
    let files = touched_files(cs);
    // Files a command generated (grub.cfg): put back byte for byte while they hold
    // what the command wrote; regenerated by the command when something rewrote them
    // since (a kernel update adds its entry: the old bytes would drop it).
    let outputs: Vec<&str> = cs
        .steps
        .iter()
        .filter(|s| matches!(&s.action, Action::Run(c) if c.output_file().is_some()))
        .filter_map(|s| match &s.replaced {
            Replaced::File { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    let mut kept_outputs: Vec<String> = Vec::new();
    let mut file_restored = false;
    for TouchedFile {
        path,
        previous,
        written,
        created_dirs: dirs,
    } in files.iter().rev()
    {
        let cur = now.files.get(path).copied().flatten();
        let before = previous.as_ref().map(|p| p.digest);
        let output = outputs.contains(&path.as_str());
        if output && cur != before && cur != *written {
            continue;
        }
        if output {
            kept_outputs.push(path.clone());
        }
        if cur == before {
            continue;
        }
        if cur != *written {
            refusals.push(Refusal::forceable(
                None,
                format!(
                    "{path} changed after change set {} wrote it; undo would lose those edits",
                    cs.id
                ),
                format!(
                    "look at {path} (its earlier copy is in {}/files/), then --force",
                    cs.dir()
                ),
            ));
        }
        plan.preconditions.push(Precondition::File {
            path: path.clone(),
            state: cur,
        });
        match previous {
            Some(saved) => {
                plan.step(
                    Action::WriteFile {
                        path: path.clone(),
                        contents: Contents::Backup(saved.backup.clone()),
                        mode: saved.mode,
                    },
                    format!("put back {path} byte for byte"),
                );
                plan.expect.push(Expect::File {
                    path: path.clone(),
                    state: Some(saved.digest),
                });
            }
            None => {
                plan.step(
                    Action::DeleteFile { path: path.clone() },
                    format!("{path} did not exist before"),
                );
                plan.expect.push(Expect::File {
                    path: path.clone(),
                    state: None,
                });
            }
        }
        file_restored = true;
        for d in dirs.iter().rev() {
            plan.step(
                Action::RemoveDir { path: d.clone() },
                format!("{d} did not exist before"),
            );
        }
    }
    enforce(refusals, opts.force, &mut plan.warnings)?;

    // Devices: the first recorded state of each, unless the host has booted since:
    // a boot already reset VF counts, overrides and bindings, and writing back the
    // state of a past boot would be a change of its own.
    let rebooted = matches!((&cs.boot_id, &opts.boot_id), (Some(then), Some(now)) if then != now);
    if rebooted && !cs.devices_before.is_empty() {
        plan.notes.push(format!(
            "the host has booted since change set {}: its runtime changes (VF counts, drivers) ended with that boot and are not put back; its files are",
            cs.id
        ));
    }
    let mut before: Vec<&DeviceState> = Vec::new();
    for d in cs.devices_before.iter().filter(|_| !rebooted) {
        if !before.iter().any(|b| b.address == d.address) {
            before.push(d);
        }
    }
    let mut vf_changes: Vec<PciAddress> = Vec::new();
    for b in &before {
        let Some(n) = b.num_vfs else { continue };
        let Some(pf) = host.device(&b.address) else {
            plan.warnings.push(format!(
                "{} is gone: its {n} VFs cannot be restored",
                b.address
            ));
            continue;
        };
        let cur = pf.sriov.as_ref().map(|s| s.num_vfs).unwrap_or(0);
        if let Some(a) = b.drivers_autoprobe {
            if pf.sriov.as_ref().and_then(|s| s.drivers_autoprobe) != Some(a) {
                plan.step(
                    Action::WriteAttr {
                        path: dev_attr(&pf.address, "sriov_drivers_autoprobe"),
                        value: if a { "1" } else { "0" }.into(),
                    },
                    "put back sriov_drivers_autoprobe",
                );
            }
        }
        if cur != n {
            // Put back the PF's driver first if the change set took it.
            if pf.driver.is_none() && b.driver.is_some() {
                restore_steps(
                    &mut plan,
                    pf,
                    b.driver.as_deref(),
                    b.driver_override.as_deref(),
                    opts.timeout_secs,
                );
            }
            numvfs_steps(&mut plan, pf, cur, n, opts.timeout_secs);
            plan.expect.push(Expect::NumVfs {
                pf: pf.address,
                count: n,
            });
            vf_changes.push(pf.address);
        }
    }
    let mut deferred = Vec::new();
    for b in &before {
        match host.device(&b.address) {
            Some(d) if d.physfn.is_some_and(|pf| vf_changes.contains(&pf)) => {
                deferred.push(b.address);
            }
            Some(d) => {
                restore_steps(
                    &mut plan,
                    d,
                    b.driver.as_deref(),
                    b.driver_override.as_deref(),
                    opts.timeout_secs,
                );
            }
            None => {
                let recreated = cs
                    .devices_before
                    .iter()
                    .any(|p| p.num_vfs.is_some() && vf_changes.contains(&p.address));
                if recreated {
                    deferred.push(b.address);
                } else if b.driver.is_some() || b.driver_override.is_some() {
                    // A VF the change set created and removed again, or a device gone.
                    if !cs.devices_before.iter().any(|p| p.num_vfs.is_some()) {
                        plan.warnings.push(format!(
                            "{} is gone: its binding cannot be restored",
                            b.address
                        ));
                    }
                }
            }
        }
    }
    if !deferred.is_empty() {
        plan.deferred.push(format!(
            "put back the bindings of {} once their PF's VFs exist again",
            deferred
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if opts.commands {
        for s in cs.steps.iter().rev() {
            if s.status != StepStatus::Done {
                continue;
            }
            let Action::Run(c) = &s.action else { continue };
            // Its output was journaled and is put back byte for byte above.
            if matches!(c.undo, UndoCommand::Rerun)
                && matches!(&s.replaced, Replaced::File { path, .. } if kept_outputs.contains(path))
            {
                continue;
            }
            let cmd = match &c.undo {
                UndoCommand::Nothing => continue,
                UndoCommand::Rerun if !file_restored && !files.is_empty() => continue,
                UndoCommand::Rerun => c.clone(),
                UndoCommand::Run { program, args } => Command {
                    program: program.clone(),
                    args: args.clone(),
                    undo: UndoCommand::Run {
                        program: c.program.clone(),
                        args: c.args.clone(),
                    },
                },
            };
            plan.expect.push(Expect::Ran {
                command: cmd.line(),
            });
            plan.step(Action::Run(cmd), format!("undo `{}`", c.line()));
        }
    }
    if plan.is_empty() && plan.deferred.is_empty() {
        plan.notes
            .push("the host is already as it was before this change set".into());
    }
    Ok(plan)
}

/// The change set `passthru undo` picks by default: the newest one that is done or
/// was interrupted, is not itself an undo, and is not undone yet.
pub fn default_undo_target(sets: &[ChangeSet]) -> Option<&ChangeSet> {
    sets.iter()
        .filter(|c| {
            matches!(c.status, Status::Done | Status::Interrupted)
                && c.undoes.is_none()
                && c.undone_by.is_none()
        })
        .max_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)))
}

/// Formats a Unix time as `YYYY-MM-DDTHH:MM:SSZ` (UTC, proleptic Gregorian).
pub fn utc_timestamp(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    // Howard Hinnant's days-from-civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// The id for a change set created at a timestamp: `20261121-071659`.
pub fn id_for(timestamp: &str) -> String {
    let digits: String = timestamp.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() >= 14 {
        format!("{}-{}", &digits[..8], &digits[8..14])
    } else {
        digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::plan::describe_action;
    use crate::host::model::Sriov;

    #[test]
    fn timestamps_and_ids() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_795_245_419), "2026-11-21T07:16:59Z");
        assert_eq!(id_for("2026-11-21T07:16:59Z"), "20261121-071659");
    }

    fn pf(num: u32) -> PciDevice {
        let mut pf = PciDevice::new(
            PciAddress::parse("06:00.0").unwrap(),
            0x8086,
            0x1521,
            0x020000,
        );
        pf.driver = Some("igb".into());
        pf.sriov = Some(Sriov {
            total_vfs: 8,
            num_vfs: num,
            offset: Some(384),
            stride: Some(4),
            drivers_autoprobe: Some(true),
            ..Default::default()
        });
        pf
    }

    fn cs() -> ChangeSet {
        ChangeSet {
            id: "20261121-071659".into(),
            created: "2026-11-21T07:16:59Z".into(),
            command: "passthru apply h.toml".into(),
            title: "apply".into(),
            status: Status::Done,
            undoes: None,
            undone_by: None,
            devices_before: vec![DeviceState::of(&pf(2)), {
                let mut s = DeviceState::of(&pf(0));
                s.address = PciAddress::parse("81:00.0").unwrap();
                s.driver = Some("nouveau".into());
                s.num_vfs = None;
                s.drivers_autoprobe = None;
                s
            }],
            steps: vec![
                JournalStep {
                    action: Action::WriteFile {
                        path: "etc/default/grub".into(),
                        contents: Contents::Text("new".into()),
                        mode: 0o644,
                    },
                    why: String::new(),
                    status: StepStatus::Done,
                    replaced: Replaced::File {
                        path: "etc/default/grub".into(),
                        previous: Some(SavedFile {
                            backup: "var/lib/passthru/journal/20261121-071659/files/0".into(),
                            digest: FileDigest::of(b"old"),
                            mode: 0o644,
                        }),
                        written: Some(FileDigest::of(b"new")),
                        created_dirs: vec![],
                    },
                    note: None,
                    error: None,
                },
                JournalStep {
                    action: Action::WriteFile {
                        path: "etc/passthru/host.toml".into(),
                        contents: Contents::Text("x".into()),
                        mode: 0o644,
                    },
                    why: String::new(),
                    status: StepStatus::Done,
                    replaced: Replaced::File {
                        path: "etc/passthru/host.toml".into(),
                        previous: None,
                        written: Some(FileDigest::of(b"x")),
                        created_dirs: vec!["etc/passthru".into()],
                    },
                    note: None,
                    error: None,
                },
                JournalStep {
                    action: Action::Run(Command::rerun("update-grub", &[])),
                    why: String::new(),
                    status: StepStatus::Done,
                    replaced: Replaced::Nothing,
                    note: None,
                    error: None,
                },
            ],
            rollback: None,
            boot_id: None,
        }
    }

    #[test]
    fn undo_restores_files_then_vfs_then_bindings_then_reruns() {
        let mut gpu = PciDevice::new(
            PciAddress::parse("81:00.0").unwrap(),
            0x10de,
            0x1b80,
            0x030000,
        );
        gpu.driver = Some("vfio-pci".into());
        gpu.driver_override = Some("vfio-pci".into());
        let mut host = Host {
            devices: vec![pf(4), gpu],
            ..Host::default()
        };
        host.normalize();
        let now = TouchedNow {
            files: [
                ("etc/default/grub".to_string(), Some(FileDigest::of(b"new"))),
                (
                    "etc/passthru/host.toml".to_string(),
                    Some(FileDigest::of(b"x")),
                ),
            ]
            .into(),
        };
        let opts = UndoOptions {
            force: false,
            timeout_secs: 5,
            commands: true,
            boot_id: None,
        };
        let p = plan_undo(&cs(), &host, &now, &opts).unwrap();
        let a: Vec<String> = p.steps.iter().map(|s| describe_action(&s.action)).collect();
        assert_eq!(a[0], "delete etc/passthru/host.toml");
        assert_eq!(a[1], "remove the directory etc/passthru if empty");
        assert_eq!(
            a[2],
            "restore etc/default/grub from var/lib/passthru/journal/20261121-071659/files/0"
        );
        assert_eq!(
            a[3],
            "write 0 to sys/bus/pci/devices/0000:06:00.0/sriov_numvfs"
        );
        assert!(a
            .iter()
            .any(|x| x == "write 2 to sys/bus/pci/devices/0000:06:00.0/sriov_numvfs"));
        assert!(a
            .iter()
            .any(|x| x == "write nouveau to sys/bus/pci/devices/0000:81:00.0/driver_override"));
        assert!(a
            .iter()
            .any(|x| x == "clear sys/bus/pci/devices/0000:81:00.0/driver_override"));
        assert_eq!(a.last().unwrap(), "run update-grub");
        // An edit made after the change set is protected.
        let mut now2 = now.clone();
        now2.files
            .insert("etc/default/grub".into(), Some(FileDigest::of(b"edited")));
        let e = plan_undo(&cs(), &host, &now2, &opts).unwrap_err();
        assert!(e.to_string().contains("changed after change set"), "{e}");
        assert!(plan_undo(
            &cs(),
            &host,
            &now2,
            &UndoOptions {
                force: true,
                ..opts.clone()
            }
        )
        .is_ok());
    }

    #[test]
    fn after_a_reboot_only_files_are_put_back() {
        // The host booted since: eno1 is back at 0 VFs and the GPU on nouveau with no
        // override; the change set's own "before" (2 VFs) belongs to the past boot.
        let mut gpu = PciDevice::new(
            PciAddress::parse("81:00.0").unwrap(),
            0x10de,
            0x1b80,
            0x030000,
        );
        gpu.driver = Some("vfio-pci".into());
        let mut host = Host {
            devices: vec![pf(0), gpu],
            ..Host::default()
        };
        host.normalize();
        let now = TouchedNow {
            files: [
                ("etc/default/grub".to_string(), Some(FileDigest::of(b"new"))),
                (
                    "etc/passthru/host.toml".to_string(),
                    Some(FileDigest::of(b"x")),
                ),
            ]
            .into(),
        };
        let mut c = cs();
        c.boot_id = Some("6f1c-boot-1".into());
        let opts = |boot: Option<&str>| UndoOptions {
            force: false,
            timeout_secs: 5,
            commands: true,
            boot_id: boot.map(str::to_string),
        };
        let actions = |p: &Plan| -> Vec<String> {
            p.steps.iter().map(|s| describe_action(&s.action)).collect()
        };
        let p = plan_undo(&c, &host, &now, &opts(Some("9a2e-boot-2"))).unwrap();
        let a = actions(&p);
        assert!(a.iter().all(|x| !x.contains("sys/bus/pci")), "{a:#?}");
        assert_eq!(
            a.first().map(String::as_str),
            Some("delete etc/passthru/host.toml")
        );
        assert_eq!(a.last().map(String::as_str), Some("run update-grub"));
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("has booted since change set 20261121-071659")),
            "{:?}",
            p.notes
        );
        // Same boot, or a boot id unknown on either side: the runtime state is put back.
        for (then, now_id) in [
            (Some("6f1c-boot-1"), Some("6f1c-boot-1")),
            (None, Some("x")),
            (Some("x"), None),
        ] {
            c.boot_id = then.map(str::to_string);
            let a = actions(&plan_undo(&c, &host, &now, &opts(now_id)).unwrap());
            assert!(
                a.iter()
                    .any(|x| x == "write 2 to sys/bus/pci/devices/0000:06:00.0/sriov_numvfs"),
                "{then:?} {now_id:?}: {a:#?}"
            );
        }
    }

    #[test]
    fn a_generated_grub_cfg_comes_back_byte_for_byte_unless_rewritten_since() {
        let mut c = cs();
        c.devices_before.clear();
        let gen = Command::rerun("grub2-mkconfig", &["-o", "/boot/grub2/grub.cfg"]);
        assert_eq!(gen.output_file().as_deref(), Some("boot/grub2/grub.cfg"));
        c.steps[2] = JournalStep {
            action: Action::Run(gen),
            why: String::new(),
            status: StepStatus::Done,
            replaced: Replaced::File {
                path: "boot/grub2/grub.cfg".into(),
                previous: Some(SavedFile {
                    backup: "var/lib/passthru/journal/20261121-071659/files/2".into(),
                    digest: FileDigest::of(b"cfg before"),
                    mode: 0o600,
                }),
                written: Some(FileDigest::of(b"cfg generated")),
                created_dirs: vec![],
            },
            note: None,
            error: None,
        };
        let host = Host::default();
        let now = |cfg: &[u8]| TouchedNow {
            files: [
                ("etc/default/grub".to_string(), Some(FileDigest::of(b"new"))),
                (
                    "etc/passthru/host.toml".to_string(),
                    Some(FileDigest::of(b"x")),
                ),
                ("boot/grub2/grub.cfg".to_string(), Some(FileDigest::of(cfg))),
            ]
            .into(),
        };
        let opts = UndoOptions {
            force: false,
            timeout_secs: 5,
            commands: true,
            boot_id: None,
        };
        let a = |p: Plan| -> Vec<String> {
            p.steps.iter().map(|s| describe_action(&s.action)).collect()
        };
        // Still what grub2-mkconfig wrote: its old bytes come back, no regeneration.
        let steps = a(plan_undo(&c, &host, &now(b"cfg generated"), &opts).unwrap());
        assert!(steps.contains(&"restore boot/grub2/grub.cfg from var/lib/passthru/journal/20261121-071659/files/2".to_string()), "{steps:#?}");
        assert!(!steps.iter().any(|s| s.starts_with("run ")), "{steps:#?}");
        // Rewritten since (a kernel update): not refused, not overwritten, regenerated
        // from the restored etc/default/grub.
        let steps = a(plan_undo(&c, &host, &now(b"cfg with a new kernel"), &opts).unwrap());
        assert!(
            !steps.iter().any(|s| s.contains("boot/grub2/grub.cfg from")),
            "{steps:#?}"
        );
        assert_eq!(
            steps.last().map(String::as_str),
            Some("run grub2-mkconfig -o /boot/grub2/grub.cfg")
        );
    }

    #[test]
    fn the_default_target_is_the_newest_plain_done_set() {
        let mut a = cs();
        let mut b = cs();
        b.id = "20261121-080000".into();
        b.created = "2026-11-21T08:00:00Z".into();
        b.undoes = Some(a.id.clone());
        a.undone_by = None;
        let mut c = cs();
        c.id = "20261120-000000".into();
        c.created = "2026-11-20T00:00:00Z".into();
        let sets = vec![a.clone(), b, c];
        assert_eq!(default_undo_target(&sets).unwrap().id, a.id);
    }
}
