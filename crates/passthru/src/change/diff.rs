//! What a plan would change, as before/after text: every file it writes or deletes,
//! and every runtime value (VF counts, drivers, `driver_override`) it sets.
//!
//! A pure function of a [`Plan`], the host facts it was made from, and a
//! [`FileReader`] giving files' bytes now (the same reader the plan printer diffs
//! against). Ansible's `--diff` shows it (the modules); it is the same plan the
//! executor runs, so what the diff shows is what the change does. Where
//! [`Plan::render_text_with`] shows each step's edit, this is the net effect per file.

use crate::change::plan::{Action, Contents, Expect, FileReader, Plan};
use crate::host::model::Host;
use serde::Serialize;
use std::fmt::Write as _;

/// The header of the runtime part of a diff.
pub const RUNTIME: &str = "runtime (sysfs)";

/// One changed thing: a file, or the host's runtime state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    /// The file, relative to the root, or [`RUNTIME`].
    pub path: String,
    /// Its contents now (empty when absent).
    pub before: String,
    /// Its contents after the plan ran (empty when deleted).
    pub after: String,
}

/// Every file the plan writes or deletes and, as one [`RUNTIME`] entry, every runtime
/// value it sets, in plan order. `current` gives a file's bytes now (relative to the
/// root); a file restored from a journal (undo) diffs against its backup's bytes.
pub fn plan_diff(plan: &Plan, host: &Host, current: &FileReader<'_>) -> Vec<FileDiff> {
    let mut out: Vec<FileDiff> = Vec::new();
    let text = |path: &str| -> String {
        current(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    for step in &plan.steps {
        let (path, after) = match &step.action {
            Action::WriteFile { path, contents, .. } => (
                path,
                match contents {
                    Contents::Text(t) => t.clone(),
                    Contents::Backup(b) => text(b),
                },
            ),
            Action::DeleteFile { path } => (path, String::new()),
            _ => continue,
        };
        // A file written twice in one plan: the diff shows where it ends up.
        if let Some(d) = out.iter_mut().find(|d| d.path == *path) {
            d.after = after;
        } else {
            out.push(FileDiff {
                path: path.clone(),
                before: text(path),
                after,
            });
        }
    }
    out.retain(|d| d.before != d.after);
    let (before, after) = runtime(plan, host);
    if before != after {
        out.push(FileDiff {
            path: RUNTIME.to_string(),
            before,
            after,
        });
    }
    out
}

/// The runtime values the plan's expectations set, one `device key = value` line each,
/// as they are now and as they will be; work planned only once VFs exist follows.
fn runtime(plan: &Plan, host: &Host) -> (String, String) {
    let (mut before, mut after) = (String::new(), String::new());
    let mut line = |dev: &str, key: &str, b: String, a: String| {
        let _ = writeln!(before, "{dev} {key} = {b}");
        let _ = writeln!(after, "{dev} {key} = {a}");
    };
    let none = || "(none)".to_string();
    for e in &plan.expect {
        match e {
            Expect::NumVfs { pf, count } => {
                let now = host
                    .device(pf)
                    .and_then(|d| d.sriov.as_ref())
                    .map(|s| s.num_vfs);
                if now != Some(*count) {
                    line(
                        &pf.to_string(),
                        "sriov_numvfs",
                        now.map(|n| n.to_string()).unwrap_or_else(none),
                        count.to_string(),
                    );
                }
            }
            Expect::Driver { device, driver } => {
                let now = host.device(device).and_then(|d| d.driver.clone());
                if !driver.holds(now.as_deref()) {
                    line(
                        &device.to_string(),
                        "driver",
                        now.unwrap_or_else(none),
                        driver.to_string(),
                    );
                }
            }
            Expect::Override { device, value } => {
                let now = host.device(device).and_then(|d| d.driver_override.clone());
                if now != *value {
                    line(
                        &device.to_string(),
                        "driver_override",
                        now.unwrap_or_else(none),
                        value.clone().unwrap_or_else(none),
                    );
                }
            }
            Expect::File { .. } | Expect::Ran { .. } => {}
        }
    }
    for d in &plan.deferred {
        let _ = writeln!(after, "then: {d}");
    }
    (before, after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::plan::DriverState;
    use crate::host::model::{PciDevice, Sriov};
    use crate::pci::PciAddress;

    fn host() -> Host {
        let pf = PciAddress::parse("0000:06:00.0").unwrap();
        let mut d = PciDevice::new(pf, 0x8086, 0x1521, 0x020000);
        d.driver = Some("igb".into());
        d.sriov = Some(Sriov {
            total_vfs: 7,
            num_vfs: 2,
            ..Sriov::default()
        });
        Host {
            devices: vec![d],
            ..Host::default()
        }
    }

    #[test]
    fn files_and_runtime_values_show_before_and_after() {
        let pf = PciAddress::parse("0000:06:00.0").unwrap();
        let files = |p: &str| -> Option<Vec<u8>> {
            (p == "etc/default/grub").then(|| b"GRUB_CMDLINE_LINUX=\"\"\n".to_vec())
        };
        let mut p = Plan::new("t");
        p.step(
            Action::WriteFile {
                path: "etc/default/grub".into(),
                contents: Contents::Text("GRUB_CMDLINE_LINUX=\"intel_iommu=on\"\n".into()),
                mode: 0o644,
            },
            "",
        );
        p.step(
            Action::WriteFile {
                path: "etc/modprobe.d/passthru.conf".into(),
                contents: Contents::Text("softdep nouveau pre: vfio-pci\n".into()),
                mode: 0o644,
            },
            "",
        );
        p.expect.push(Expect::NumVfs { pf, count: 4 });
        p.expect.push(Expect::Driver {
            device: pf,
            driver: DriverState::Bound("igb".into()),
        });
        p.deferred.push("bind the new VFs to vfio-pci".into());
        let d = plan_diff(&p, &host(), &files);
        assert_eq!(d.len(), 3, "{d:?}");
        assert_eq!(d[0].path, "etc/default/grub");
        assert_eq!(d[0].before, "GRUB_CMDLINE_LINUX=\"\"\n");
        assert!(d[0].after.contains("intel_iommu=on"));
        assert_eq!(d[1].before, "", "a new file was absent");
        assert_eq!(d[2].path, RUNTIME);
        assert_eq!(d[2].before, "0000:06:00.0 sriov_numvfs = 2\n");
        assert_eq!(
            d[2].after, "0000:06:00.0 sriov_numvfs = 4\nthen: bind the new VFs to vfio-pci\n",
            "the driver already holds: not a change"
        );
    }

    #[test]
    fn a_plan_that_changes_nothing_has_no_diff() {
        let pf = PciAddress::parse("0000:06:00.0").unwrap();
        let mut p = Plan::new("t");
        p.expect.push(Expect::NumVfs { pf, count: 2 });
        assert!(plan_diff(&p, &host(), &|_| None).is_empty());
    }
}
